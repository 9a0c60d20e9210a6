"""Regression metrics as plug-ins (entry-point group ``amlas.metrics``).

The truth is the dataset's ``label_column`` read as numbers; the predictions are a
regressor's values (a [V] predictions file with ``value_column``). The unit of analysis
is the sample, stated in every record (``resolved.unit``).

- ``mean_absolute_error`` and ``root_mean_squared_error``: seeded percentile bootstrap
  bounds per slice (Bonferroni across slices); not claimed below
  :data:`~amlas.checks._metrics.MIN_BOOTSTRAP_SAMPLES` samples.
- ``absolute_error_quantile``: the requirement's ``quantile`` (e.g. 0.95) of the
  absolute error, distribution-free: the exact order-statistic upper bound (binomial),
  equivalent to the exact test that the share of errors at or below the threshold is at
  least the quantile; Holm across slices.
- ``within_tolerance_rate``: the share of samples whose absolute error is at most the
  requirement's ``tolerance`` (in its unit), exact Clopper-Pearson per slice with Holm
  across slices. For a detector the same metric bounds the share of matched objects
  localised within the tolerance (:mod:`amlas.checks.detection`).

A sample whose truth or prediction is missing or not finite is never dropped silently:
the record names it and the verdict is inconclusive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters import Model
from amlas.checks._datasets import Dataset
from amlas.checks._intervals import Comparison
from amlas.checks._metrics import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    MAX_LISTED_IDS,
    Predictions,
    RequirementResult,
    confidence_of,
    evaluate_indicator,
    judge_bootstrap,
    slice_result,
    state_plan,
)
from amlas.checks._quantiles import decide_quantiles
from amlas.checks.metrics import MetricContext, outside_proportion
from amlas.project.artefacts import MLSafetyRequirement
from amlas.project.metrics import BUILTIN_SPECS, MetricSpec

__all__ = [
    "ABSOLUTE_ERROR_QUANTILE",
    "MEAN_ABSOLUTE_ERROR",
    "ROOT_MEAN_SQUARED_ERROR",
    "RegressionMetric",
    "truth_values",
]

_SHOWN = 5


def truth_values(dataset: Dataset) -> NDArray[np.float64]:
    """The target value of every sample (the dataset's ``label_column`` as numbers)."""
    column = dataset.document.label_column
    if column is None:
        return np.full(len(dataset), math.nan)
    return dataset.table.numeric([column])[:, 0]


def regression_setup(
    requirement: MLSafetyRequirement,
    dataset: Dataset,
    predictions: Predictions,
    metric: str,
    comparison: Comparison,
) -> tuple[dict[str, Any], list[str], NDArray[np.float64], NDArray[np.bool_]]:
    """What a regression record states, the problems that forbid a verdict, the absolute
    errors, and which samples have a usable one."""
    plan = dataset.plan_of(requirement)
    resolved: dict[str, Any] = {
        "metric": metric,
        "comparison": comparison,
        "confidence": confidence_of(requirement),
        "unit": "samples",
        "predictions": predictions.source,
    }
    problems = state_plan(resolved, plan)
    truth = truth_values(dataset)
    values = predictions.values
    if values is None:
        problems.append(
            "no predicted values: a regression metric needs a regressor's predictions "
            "([V] predictions with 'value_column')"
        )
        values = np.full(len(dataset), math.nan)
    error = np.abs(values - truth)
    usable = np.isfinite(error)
    in_scope = plan.codes >= 0
    for what, bad in (
        ("a missing or non-finite target value", ~np.isfinite(truth)),
        ("a missing or non-finite prediction", ~np.isfinite(values)),
    ):
        bad = bad & in_scope
        if bad.any():
            ids = ", ".join(str(x) for x in dataset.ids[bad][:_SHOWN])
            problems.append(f"{int(bad.sum())} sample(s) have {what} (e.g. {ids})")
    return resolved, problems, error, usable


@dataclass(frozen=True)
class RegressionMetric:
    """A regression metric (see the module docs)."""

    spec: MetricSpec
    distributions: tuple[str, ...] = ()

    def check_name(self, requirement: MLSafetyRequirement) -> str:
        return f"metric.{self.spec.name}"

    def unavailable(
        self, requirement: MLSafetyRequirement, *, model_format: str, tabular: bool
    ) -> str | None:
        if self.spec.name == "absolute_error_quantile" and requirement.quantile is None:
            return "absolute_error_quantile needs a 'quantile' (e.g. 0.95)"
        if self.spec.name == "within_tolerance_rate" and requirement.tolerance is None:
            return "within_tolerance_rate needs a 'tolerance' (value, unit and measure)"
        if self.spec.name == "within_tolerance_rate":
            return outside_proportion(requirement)
        return None

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
        name = self.spec.name
        if name == "within_tolerance_rate" and predictions.boxes is not None:
            from amlas.checks.detection import localisation_result

            located: RequirementResult = localisation_result(requirement, dataset, predictions)
            return located
        comparison: Comparison = requirement.comparison or self.spec.comparison  # type: ignore[assignment]
        resolved, problems, error, usable = regression_setup(
            requirement, dataset, predictions, name, comparison
        )
        plan = dataset.plan_of(requirement)
        assert requirement.threshold is not None
        if name == "within_tolerance_rate":
            tolerance = requirement.tolerance
            assert tolerance is not None
            resolved["tolerance"] = tolerance.model_dump(mode="json")
            return evaluate_indicator(
                requirement,
                dataset,
                None,
                usable,
                usable & (error <= tolerance.value),
                check=self.check_name(requirement),
                resolved=resolved,
                problems=problems,
            )
        if name == "absolute_error_quantile":
            return self._quantile(requirement, dataset, resolved, problems, error, usable)
        squared = name == "root_mean_squared_error"

        def statistic(idx: NDArray[np.int64]) -> float:
            chosen = error[idx]
            if not len(chosen):
                return math.nan
            return float(np.sqrt(np.mean(chosen**2))) if squared else float(np.mean(chosen))

        resolved.update(
            method="bootstrap",
            seed=BOOTSTRAP_SEED,
            resamples=BOOTSTRAP_RESAMPLES,
            family="Bonferroni across slices",
        )
        slices = judge_bootstrap(
            statistic,
            plan,
            usable,
            threshold=requirement.threshold,
            comparison=comparison,
            confidence=resolved["confidence"],
            proportion=False,
        )
        return RequirementResult(
            requirement,
            dataset.letter,
            self.check_name(requirement),
            "bootstrap",
            slices,
            resolved,
            problems,
        )

    def _quantile(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        resolved: dict[str, Any],
        problems: list[str],
        error: NDArray[np.float64],
        usable: NDArray[np.bool_],
    ) -> RequirementResult:
        assert requirement.quantile is not None
        assert requirement.threshold is not None
        plan = dataset.plan_of(requirement)
        comparison: Comparison = resolved["comparison"]
        members = [np.flatnonzero((plan.codes == i) & usable) for i in range(len(plan.names))]
        decisions = decide_quantiles(
            [error[m] for m in members],
            q=requirement.quantile,
            threshold=requirement.threshold,
            comparison=comparison,
            confidence=resolved["confidence"],
        )
        resolved.update(
            quantile=requirement.quantile,
            method="order statistic (exact binomial)",
            family="Holm" if len(plan.names) > 1 else "none",
        )
        slices = []
        for name, cell, decision, chosen in zip(
            plan.names, plan.cells, decisions, members, strict=True
        ):
            beyond = chosen[error[chosen] > requirement.threshold]
            slices.append(
                slice_result(
                    name,
                    cell,
                    decision,
                    len(beyond),
                    [str(x) for x in dataset.ids[beyond[:MAX_LISTED_IDS]]],
                    {"quantile": decision.quantile, "rank": decision.rank},
                )
            )
        return RequirementResult(
            requirement,
            dataset.letter,
            self.check_name(requirement),
            "order statistic",
            slices,
            resolved,
            problems,
        )


MEAN_ABSOLUTE_ERROR = RegressionMetric(BUILTIN_SPECS["mean_absolute_error"])
ROOT_MEAN_SQUARED_ERROR = RegressionMetric(BUILTIN_SPECS["root_mean_squared_error"])
ABSOLUTE_ERROR_QUANTILE = RegressionMetric(BUILTIN_SPECS["absolute_error_quantile"])
WITHIN_TOLERANCE_RATE = RegressionMetric(BUILTIN_SPECS["within_tolerance_rate"])
