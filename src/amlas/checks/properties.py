"""Formal properties as plug-ins: what the formal leg of an [H] requirement proves (G5.4).

A property is an object in the entry-point group ``amlas.properties`` (see
:mod:`amlas.plugins`) with the :class:`PropertyKind` protocol, registered under the name
an [H] item writes as ``property: {kind: NAME, ...}``. The built-ins below are registered
through amlas's own ``pyproject.toml``, exactly as a third party registers one.

``unavailable`` says, from the artefacts alone, why the property cannot be verified for
a model of a given format (the plan asks before anything is read); ``unavailable_with``
asks again with the model loaded; ``verify`` proves the property per sample and judges
the proportion proven on its exact bound (a query that times out counts as not proven,
never as proven). ``output_bounds`` and ``monotonicity`` are declared property kinds that
amlas does not verify yet: their plug-ins say so, and the claim stays without evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from amlas.adapters import Model, torch_module
from amlas.checks._datasets import Dataset
from amlas.checks._metrics import Predictions, RequirementResult
from amlas.checks._verify import formal_result
from amlas.errors import UsageError
from amlas.plugins import registry, wrong_kind
from amlas.project.artefacts import MLSafetyRequirement

__all__ = ["GROUP", "PropertyKind", "get_property"]

GROUP = "amlas.properties"


@runtime_checkable
class PropertyKind(Protocol):
    """A formal-property plug-in (see the module docs)."""

    name: str
    distributions: tuple[str, ...]

    def unavailable(self, requirement: MLSafetyRequirement, *, model_format: str) -> str | None:
        """Why the property cannot be verified for a model of ``model_format``, or None."""
        ...

    def unavailable_with(self, requirement: MLSafetyRequirement, model: Model) -> str | None:
        """Why not, now that the model is loaded; None when it can."""
        ...

    def verify(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        model: Model,
        *,
        classes: list[str],
        features_mask: NDArray[np.bool_] | None,
        value_range: tuple[float, float] | None,
        progress: object,
    ) -> RequirementResult:
        """Prove the property on samples of ``dataset`` and judge the proportion proven."""
        ...


@dataclass(frozen=True)
class _LocalRobustness:
    """No input within ``epsilon`` (in ``norm``) of a sample changes its decision: interval
    bound propagation first, Marabou for what it cannot prove (:mod:`amlas.checks.formal`)."""

    name: str = "local_robustness"
    distributions: tuple[str, ...] = ("maraboupy", "onnx", "onnxruntime")
    networks: frozenset[str] = frozenset({"torch", "onnx"})

    def unavailable(self, requirement: MLSafetyRequirement, *, model_format: str) -> str | None:
        if model_format not in self.networks:
            return "formal verification needs a network: a torch or ONNX model"
        return None

    def unavailable_with(self, requirement: MLSafetyRequirement, model: Model) -> str | None:
        if torch_module(model) is None and getattr(model, "onnx_path", None) is None:
            return "formal verification needs a network: a torch or ONNX model"
        return None

    def verify(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        model: Model,
        *,
        classes: list[str],
        features_mask: NDArray[np.bool_] | None,
        value_range: tuple[float, float] | None,
        progress: object,
    ) -> RequirementResult:
        return formal_result(
            requirement,
            dataset,
            predictions,
            model,
            classes=classes,
            features_mask=features_mask,
            value_range=value_range,
            progress=progress,  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class _NotYet:
    """A property kind [H] may declare that amlas does not verify yet."""

    name: str
    distributions: tuple[str, ...] = ()

    def unavailable(self, requirement: MLSafetyRequirement, *, model_format: str) -> str | None:
        return f"formal property kind {self.name!r} is not available (local_robustness is)"

    def unavailable_with(self, requirement: MLSafetyRequirement, model: Model) -> str | None:
        return self.unavailable(requirement, model_format="")

    def verify(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        model: Model,
        *,
        classes: list[str],
        features_mask: NDArray[np.bool_] | None,
        value_range: tuple[float, float] | None,
        progress: object,
    ) -> RequirementResult:
        raise UsageError(self.unavailable(requirement, model_format=""))


LOCAL_ROBUSTNESS = _LocalRobustness()
OUTPUT_BOUNDS = _NotYet("output_bounds")
MONOTONICITY = _NotYet("monotonicity")


def get_property(name: str) -> PropertyKind:
    """The property plug-in registered as ``name`` (:class:`~amlas.plugins.PluginError`
    with a suggestion for an unknown one, or S009 when the object registered is no
    property)."""
    found = registry(GROUP).get(name)
    if not isinstance(found, PropertyKind):
        raise wrong_kind(
            GROUP,
            name,
            found,
            "name, distributions, unavailable, unavailable_with and verify "
            "(amlas.checks.properties.PropertyKind)",
        )
    return found
