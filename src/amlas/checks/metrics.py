"""Metrics as plug-ins: what an [H] requirement may measure, and how it is judged on data.

A metric is an object in the entry-point group ``amlas.metrics`` (see :mod:`amlas.plugins`)
with the :class:`Metric` protocol. The built-ins below are registered through amlas's own
``pyproject.toml``, exactly as a third party registers one::

    [project.entry-points."amlas.metrics"]
    top2_accuracy = "my_package.metrics:TOP2_ACCURACY"

The project check reads ``spec`` (range, direction, per-class, the tasks it fits: rules
Q001, Q003, Q012 and the [H] schema); the plan reads :meth:`Metric.check_name` and
:meth:`Metric.unavailable` before any data is read; the run calls
:meth:`Metric.evaluate` with the dataset, the model's predictions and a
:class:`MetricContext`. A metric judges a proportion most easily with
:func:`~amlas.checks.evaluate_indicator` (exact Clopper-Pearson bounds per slice, Holm
across slices), which is how the built-in proportions are judged.

``amlas.testing.check_metric`` runs the conformance suite on a metric.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from amlas.adapters import Model, torch_module
from amlas.adapters import model_format as get_model_format
from amlas.checks._datasets import Dataset
from amlas.checks._metrics import (
    BOOTSTRAP_METRICS,
    PROPORTIONS,
    Predictions,
    RequirementResult,
)
from amlas.checks._tally import (
    ProportionTally,
    evaluate_requirement,
    judge_proportion,
    streams,
    tally_proportion,
)
from amlas.checks._verify import fault_result
from amlas.checks.perturbations import perturbation_unfit
from amlas.plugins import PluginError, registry, wrong_kind
from amlas.project.artefacts import MLSafetyRequirement
from amlas.project.metrics import BUILTIN_SPECS, MetricSpec

__all__ = [
    "GROUP",
    "ChunkedMetric",
    "Metric",
    "MetricContext",
    "Tally",
    "get_metric",
    "outside_proportion",
    "result_problems",
]

GROUP = "amlas.metrics"


@dataclass(frozen=True)
class MetricContext:
    """What the run offers a metric besides the data and the predictions."""

    classes: list[str]
    """The classes declared in [D] (labels are checked against them)."""
    model: Callable[[], Model]
    """The loaded model (loaded on first call)."""
    batch_size: int
    task: Callable[[str, int | None], Callable[[int], None]]
    """Start a progress bar: (description, total or None) -> advance(done)."""
    perturbed: Callable[[], tuple[NDArray[np.str_], dict[str, Any]]]
    """The decision on every sample under the requirement's perturbation, and what was
    done (computed on call: perturbing costs model calls)."""


@runtime_checkable
class Metric(Protocol):
    """A metric plug-in (see the module docs)."""

    spec: MetricSpec
    """Name, description, range, direction, per-class, and the tasks it fits."""
    distributions: tuple[str, ...]
    """Distributions whose versions a record of this metric cites (besides amlas, numpy,
    scipy and the model format's)."""

    def check_name(self, requirement: MLSafetyRequirement) -> str:
        """The check a record of ``requirement`` names, e.g. ``metric.recall``."""
        ...

    def unavailable(
        self, requirement: MLSafetyRequirement, *, model_format: str, tabular: bool
    ) -> str | None:
        """Why ``requirement`` cannot be judged on data for a model of ``model_format``
        taking ``tabular`` inputs, from the artefacts alone; None when it can."""
        ...

    def unavailable_with(
        self, requirement: MLSafetyRequirement, model: Model | None, dataset: Dataset
    ) -> str | None:
        """Why it cannot, now that the model is loaded and the data read; None when it
        can. ``model`` is None when [V] gives predictions made elsewhere and no model
        amlas can run."""
        ...

    def evaluate(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        context: MetricContext,
    ) -> RequirementResult:
        """Judge ``requirement`` on ``dataset``, slice by slice, on confidence bounds."""
        ...


class Tally(Protocol):
    """What a :class:`ChunkedMetric` keeps of one chunk: counts that add up."""

    def merge(self, other: Any) -> Any:
        """Add ``other`` (the tally of the next chunk) to this one; returns the sum."""
        ...

    @property
    def listed_ids(self) -> set[str]:
        """Every sample id the tally names (kept sealed with sealed data)."""
        ...


@runtime_checkable
class ChunkedMetric(Metric, Protocol):
    """A metric that can also judge a dataset read in chunks (optional; see
    :mod:`amlas.checks._tally` for why the answer is the same): ``amlas run`` then never
    holds the dataset whole. ``streams`` says whether it can for ``requirement`` (a
    metric may stream some requirements and not others); ``tally`` counts one chunk;
    ``judge`` decides from the sum of the chunks' tallies, added in file order."""

    def streams(self, requirement: MLSafetyRequirement) -> bool: ...

    def tally(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        context: MetricContext,
    ) -> Tally: ...

    def judge(
        self, requirement: MLSafetyRequirement, tally: Any, letter: str, context: MetricContext
    ) -> RequirementResult: ...


def outside_proportion(requirement: MLSafetyRequirement) -> str | None:
    """Why the requirement's threshold cannot bound a proportion (it lies outside [0, 1]),
    or None."""
    threshold = requirement.threshold
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        return f"threshold {threshold:g} lies outside [0, 1], the range of a proportion"
    return None


def _differentiable(model_format: str) -> bool:
    """Whether models of ``model_format`` give gradients (the format plug-in says)."""
    try:
        return bool(get_model_format(model_format).differentiable)
    except PluginError:
        return False


# -- the built-ins --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Builtin:
    spec: MetricSpec
    distributions: tuple[str, ...] = ()

    def check_name(self, requirement: MLSafetyRequirement) -> str:
        name = self.spec.name
        return f"robustness.{name}" if requirement.kind == "robustness" else f"metric.{name}"

    def unavailable(
        self, requirement: MLSafetyRequirement, *, model_format: str, tabular: bool
    ) -> str | None:
        return outside_proportion(requirement) if self.spec.name in PROPORTIONS else None

    def unavailable_with(
        self, requirement: MLSafetyRequirement, model: Model | None, dataset: Dataset
    ) -> str | None:
        return None

    def evaluate(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        context: MetricContext,
    ) -> RequirementResult:
        return evaluate_requirement(requirement, dataset, predictions, classes=context.classes)

    def streams(self, requirement: MLSafetyRequirement) -> bool:
        return streams(requirement)

    def tally(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        context: MetricContext,
    ) -> ProportionTally:
        return tally_proportion(requirement, dataset, predictions, classes=context.classes)

    def judge(
        self, requirement: MLSafetyRequirement, tally: Any, letter: str, context: MetricContext
    ) -> RequirementResult:
        return judge_proportion(requirement, tally, letter)


@dataclass(frozen=True)
class _Bootstrap(_Builtin):
    """A metric that is not a proportion of samples: a seeded bootstrap bounds it."""

    def check_name(self, requirement: MLSafetyRequirement) -> str:
        return f"metric.{self.spec.name}"

    def unavailable(
        self, requirement: MLSafetyRequirement, *, model_format: str, tabular: bool
    ) -> str | None:
        return None

    def unavailable_with(
        self, requirement: MLSafetyRequirement, model: Model | None, dataset: Dataset
    ) -> str | None:
        if self.spec.name == "expected_calibration_error" and model and not model.has_proba:
            return "calibration needs a model that outputs probabilities"
        return None


@dataclass(frozen=True)
class _Perturbed(_Builtin):
    """A proportion over the samples' decisions under the requirement's perturbation."""

    def unavailable(
        self, requirement: MLSafetyRequirement, *, model_format: str, tabular: bool
    ) -> str | None:
        perturbation = requirement.perturbation
        if perturbation is None:
            return f"{self.spec.name} needs a 'perturbation' to apply"
        unfit = perturbation_unfit(
            perturbation.kind, tabular=tabular, differentiable=_differentiable(model_format)
        )
        return unfit or super().unavailable(requirement, model_format=model_format, tabular=tabular)

    def unavailable_with(
        self, requirement: MLSafetyRequirement, model: Model | None, dataset: Dataset
    ) -> str | None:
        perturbation = requirement.perturbation
        if perturbation is None:
            return f"{self.spec.name} needs a 'perturbation' to apply"
        return perturbation_unfit(
            perturbation.kind,
            tabular=bool(dataset.features),
            differentiable=model is not None and torch_module(model) is not None,
        )

    def evaluate(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        context: MetricContext,
    ) -> RequirementResult:
        perturbed, described = context.perturbed()
        return evaluate_requirement(
            requirement,
            dataset,
            predictions,
            classes=context.classes,
            perturbed=perturbed,
            perturbation=described,
        )


@dataclass(frozen=True)
class _Faults(_Builtin):
    """Seeded fault campaigns in a torch model; the proportion of campaigns tolerated."""

    def check_name(self, requirement: MLSafetyRequirement) -> str:
        return "faults.fault_tolerance_rate"

    def unavailable(
        self, requirement: MLSafetyRequirement, *, model_format: str, tabular: bool
    ) -> str | None:
        if requirement.faults is None:
            return "fault_tolerance_rate needs a 'faults' model to inject"
        if model_format != "torch":
            return "fault injection needs a torch model (format: torch)"
        return super().unavailable(requirement, model_format=model_format, tabular=tabular)

    def unavailable_with(
        self, requirement: MLSafetyRequirement, model: Model | None, dataset: Dataset
    ) -> str | None:
        if requirement.faults is None:
            return "fault_tolerance_rate needs a 'faults' model to inject"
        if torch_module(model) is None:
            return "fault injection needs a torch model (format: torch)"
        return None

    def evaluate(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        context: MetricContext,
    ) -> RequirementResult:
        faults = requirement.faults
        assert faults is not None
        return fault_result(
            requirement,
            dataset,
            predictions,
            torch_module(context.model()),  # type: ignore[arg-type]
            classes=context.classes,
            batch_size=context.batch_size,
            progress=context.task(
                f"fault campaigns {requirement.id} [{dataset.letter}]", faults.campaigns
            ),
        )


@dataclass(frozen=True)
class _Formal(_Builtin):
    """Judged by the formal leg alone (the requirement's ``property``), never on data."""

    formal_only: ClassVar[bool] = True

    def unavailable(
        self, requirement: MLSafetyRequirement, *, model_format: str, tabular: bool
    ) -> str | None:
        return "judged by the formal leg of the requirement ('property'), not on data"


@dataclass(frozen=True)
class _NotYet(_Builtin):
    """Declared in the catalogue, not yet computed from data."""

    def unavailable(
        self, requirement: MLSafetyRequirement, *, model_format: str, tabular: bool
    ) -> str | None:
        return f"the metric {self.spec.name!r} cannot yet be computed by amlas run"


def _builtin(name: str) -> _Builtin:
    spec = BUILTIN_SPECS[name]
    if name == "fault_tolerance_rate":
        return _Faults(spec, ("torch",))
    if name == "verified_robustness":
        return _Formal(spec)
    if name in ("robust_accuracy", "prediction_stability"):
        return _Perturbed(spec)
    if name in BOOTSTRAP_METRICS:
        return _Bootstrap(spec)
    if name in PROPORTIONS:
        return _Builtin(spec)
    return _NotYet(spec)


RECALL = _builtin("recall")
FNR = _builtin("fnr")
FPR = _builtin("fpr")
SPECIFICITY = _builtin("specificity")
PRECISION = _builtin("precision")
NPV = _builtin("npv")
F1 = _builtin("f1")
ACCURACY = _builtin("accuracy")
BALANCED_ACCURACY = _builtin("balanced_accuracy")
FALSE_POSITIVES_PER_SAMPLE = _builtin("false_positives_per_sample")
EXPECTED_CALIBRATION_ERROR = _builtin("expected_calibration_error")
ROBUST_ACCURACY = _builtin("robust_accuracy")
PREDICTION_STABILITY = _builtin("prediction_stability")
VERIFIED_ROBUSTNESS = _builtin("verified_robustness")
FAULT_TOLERANCE_RATE = _builtin("fault_tolerance_rate")


_METRICS_SEEN: dict[int, object] = {}
"""Objects already found to be metrics, by ``id`` (each kept, so that its id is not
reused): ``isinstance`` against a runtime-checkable protocol looks up every member, and
the plan asks for the metric of every requirement several times."""


def get_metric(name: str) -> Metric:
    """The metric plug-in registered as ``name`` (:class:`~amlas.plugins.PluginError`
    with a suggestion for an unknown one, or S009 when the object registered is no
    metric)."""
    found = registry(GROUP).get(name)
    if found is not None and _METRICS_SEEN.get(id(found)) is found:
        return found  # type: ignore[return-value]  # found to be a Metric before
    if not isinstance(found, Metric):
        raise wrong_kind(
            GROUP,
            name,
            found,
            "spec, distributions, check_name, unavailable, unavailable_with and evaluate "
            "(amlas.checks.metrics.Metric)",
        )
    _METRICS_SEEN[id(found)] = found
    return found


def result_problems(
    metric: Metric, requirement: MLSafetyRequirement, result: RequirementResult
) -> list[str]:
    """What is wrong with a metric plug-in's ``result`` for ``requirement``, by what the
    requirement says rather than by what the result says of itself: the check it names,
    the confidence level it states (the requirement's ``effective_confidence``), each slice
    judged against the requirement's threshold in the metric's direction, and no pass
    without a finite bound that meets the threshold. Empty when it keeps the
    contract; the run records any problem and the verdict becomes inconclusive."""
    out = []
    named = metric.check_name(requirement)
    if result.check != named:
        out.append(f"the metric's result names check {result.check!r}, not {named!r}")
    level, stated = requirement.effective_confidence, result.resolved.get("confidence")
    if stated is not None and level is not None and stated != level:
        # e.g. a plug-in that read 'confidence' itself where the project's default applies
        out.append(f"the metric's result is judged at confidence {stated}, not {level}")
    if not result.slices:
        out.append("the metric's result has no slice")
    comparison = requirement.comparison or metric.spec.comparison
    for part in result.slices:
        where = f"slice {part.slice!r}"
        if part.threshold != requirement.threshold:
            out.append(f"{where} is judged against {part.threshold}, not {requirement.threshold}")
        if part.comparison != comparison:
            out.append(f"{where} is judged {part.comparison}, not {comparison}")
        if part.verdict == "pass":
            bound, threshold = part.bound, requirement.threshold
            met = False
            if bound is not None and math.isfinite(bound) and threshold is not None:
                met = bound >= threshold if comparison == "at_least" else bound <= threshold
            if not met:
                out.append(f"{where} passes on bound {bound}, which does not meet {threshold}")
    return out
