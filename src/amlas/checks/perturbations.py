"""Perturbations as plug-ins: what an [H] robustness requirement does to the inputs.

A perturbation is an object in the entry-point group ``amlas.perturbations`` (see
:mod:`amlas.plugins`) with the :class:`PerturbationKind` protocol, registered under the
name an [H] item writes as ``perturbation: {kind: NAME, magnitude: ..., ...}``. The
built-ins below are registered through amlas's own ``pyproject.toml``, exactly as a third
party registers one::

    [project.entry-points."amlas.perturbations"]
    fog = "my_package.weather:FOG"

``tabular`` and ``images`` say which inputs it applies to, ``needs_gradients`` that it
needs a differentiable (torch) model: the plan and the run say why a requirement cannot
be judged from these alone (:func:`perturbation_unfit`). ``decisions`` returns the
deployed decision on every sample under the perturbation and what was done (for the
record); a random or geometric perturbation counts a sample as stable only when every
copy it makes leaves the decision as it was (:func:`amlas.checks.stable_predictions`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from amlas.adapters import Model, torch_module
from amlas.checks._datasets import Dataset
from amlas.checks._metrics import Predictions, decision_offsets
from amlas.checks._robustness import perturb, stable_predictions
from amlas.plugins import PluginError, registry, wrong_kind
from amlas.project.artefacts import MLSafetyRequirement

__all__ = ["GROUP", "PerturbationKind", "get_perturbation", "perturbation_unfit"]

GROUP = "amlas.perturbations"

Decide = Callable[[NDArray[Any]], NDArray[np.str_]]
Progress = Callable[[int], None]


@runtime_checkable
class PerturbationKind(Protocol):
    """A perturbation plug-in (see the module docs)."""

    name: str
    tabular: bool
    images: bool
    needs_gradients: bool
    distributions: tuple[str, ...]

    def decisions(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        model: Model,
        *,
        decide: Decide,
        value_range: tuple[float, float] | None,
        batch_size: int,
        seed: int,
        progress: Progress,
    ) -> tuple[NDArray[np.str_], dict[str, Any]]:
        """The decision on every sample under ``requirement.perturbation``, and what was
        done. ``decide`` maps a batch of (perturbed) inputs to the deployed decisions."""
        ...


def _default_range(inputs: NDArray[Any]) -> tuple[float, float]:
    """8-bit images range over [0, 255]; other arrays over the values they hold."""
    if inputs.dtype == np.uint8:
        return (0.0, 255.0)
    return (float(np.min(inputs)), float(np.max(inputs)))


@dataclass(frozen=True)
class _Copies:
    """Random or geometric copies of every sample (both directions where there are two)."""

    name: str
    tabular: bool
    images: bool
    needs_gradients: bool = False
    distributions: tuple[str, ...] = ()

    def decisions(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        model: Model,
        *,
        decide: Decide,
        value_range: tuple[float, float] | None,
        batch_size: int,
        seed: int,
        progress: Progress,
    ) -> tuple[NDArray[np.str_], dict[str, Any]]:
        perturbation = requirement.perturbation
        assert perturbation is not None
        copies: Sequence[NDArray[Any]]
        if dataset.features:
            inputs = np.asarray(dataset.inputs, dtype=np.float64)
            copies, described = perturb(inputs, dataset.features, perturbation, seed=seed)
        else:
            from amlas.checks._images import perturb_images

            if value_range is None:
                value_range = _default_range(np.asarray(dataset.inputs))
            copies, described = perturb_images(
                np.asarray(dataset.inputs), perturbation, seed=seed, value_range=value_range
            )
        return stable_predictions(decide, copies, predictions.labels), described


@dataclass(frozen=True)
class _Attack:
    """A gradient attack through the Adversarial Robustness Toolbox: a change away from the
    true label (robust accuracy) or from the model's own decision (prediction stability)."""

    name: str
    tabular: bool = True
    images: bool = True
    needs_gradients: bool = True
    distributions: tuple[str, ...] = ("adversarial-robustness-toolbox",)

    def decisions(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        model: Model,
        *,
        decide: Decide,
        value_range: tuple[float, float] | None,
        batch_size: int,
        seed: int,
        progress: Progress,
    ) -> tuple[NDArray[np.str_], dict[str, Any]]:
        from amlas.checks._adversarial import adversarial_predictions

        perturbation = requirement.perturbation
        assert perturbation is not None
        wrapped = torch_module(model)
        assert wrapped is not None
        names = list(predictions.classes)
        source = dataset.labels if requirement.metric == "robust_accuracy" else predictions.labels
        # a label the model does not know cannot be attacked away from: its own decision is
        targets = np.array(
            [
                names.index(str(t)) if str(t) in names else names.index(str(p))
                for t, p in zip(source, predictions.labels, strict=True)
            ],
            dtype=np.int64,
        )
        decided, described = adversarial_predictions(
            wrapped.logits_module(),
            np.asarray(dataset.inputs),
            targets,
            perturbation,
            classes=len(names),
            value_range=value_range,
            seed=seed,
            batch_size=min(batch_size, 1024),
            offsets=decision_offsets(predictions),
            progress=progress,
        )
        labels: NDArray[np.str_] = np.asarray(names, dtype=np.str_)[np.asarray(decided)]
        return labels, described


GAUSSIAN_NOISE = _Copies("gaussian_noise", tabular=True, images=True)
MEASUREMENT_NOISE = _Copies("measurement_noise", tabular=True, images=False)
SCALING = _Copies("scaling", tabular=True, images=False)
BLUR = _Copies("blur", tabular=False, images=True)
BRIGHTNESS = _Copies("brightness", tabular=False, images=True)
CONTRAST = _Copies("contrast", tabular=False, images=True)
ROTATION = _Copies("rotation", tabular=False, images=True)
OCCLUSION = _Copies("occlusion", tabular=False, images=True)
FGSM = _Attack("fgsm")
PGD = _Attack("pgd")


def get_perturbation(name: str) -> PerturbationKind:
    """The perturbation plug-in registered as ``name`` (:class:`~amlas.plugins.PluginError`
    with a suggestion for an unknown one, or S009 when the object registered is no
    perturbation)."""
    found = registry(GROUP).get(name)
    if not isinstance(found, PerturbationKind):
        raise wrong_kind(
            GROUP,
            name,
            found,
            "name, tabular, images, needs_gradients, distributions and decisions "
            "(amlas.checks.perturbations.PerturbationKind)",
        )
    return found


def perturbation_unfit(kind: str, *, tabular: bool, differentiable: bool) -> str | None:
    """Why perturbation ``kind`` cannot be applied to a model with these inputs, if so:
    noise and scaling of features need a table, image corruptions need array inputs,
    gradient attacks need a differentiable (torch) model."""
    try:
        plugin = get_perturbation(kind)
    except PluginError as exc:
        return str(exc)
    if plugin.needs_gradients:
        if differentiable:
            return None
        return f"the {kind} attack needs gradients: a torch model (format: torch)"
    if tabular:
        if plugin.tabular:
            return None
        if plugin.images:
            return f"perturbation {kind!r} applies to image inputs; this model takes a table"
    elif plugin.images:
        return None
    return f"perturbation {kind!r} does not apply to this model's inputs"
