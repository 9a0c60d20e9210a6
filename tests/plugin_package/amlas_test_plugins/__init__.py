"""Four plug-ins written against amlas's public API only.

- ``error_rate`` (``amlas.metrics``): the share of samples classified wrongly, judged on
  its exact upper bound (lower is better), through ``amlas.checks.evaluate_indicator``.
- ``threshold_rule`` (``amlas.models``): a one-feature rule read from a JSON file
  ``{"column": 7, "threshold": 0.05, "scale": 0.01, "above": "malignant",
  "below": "benign"}``; P(above) is the logistic of (x - threshold) / scale.
- ``scratch://NAME`` (``amlas.stores``): a store kept in this process, like
  ``memory://`` but under its own scheme and names.
- ``feature_range`` (``amlas.data_rules``): the share of samples whose ``column`` lies
  outside ``[low, high]`` is at most ``max_outside_fraction``, judged on its exact upper
  bound (relevance: the data stays inside the range the component was specified for).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from amlas.adapters import Model, ModelError, ModelOptions
from amlas.checks import (
    CheckOutcome,
    Dataset,
    Predictions,
    RequirementResult,
    decide_proportion,
    evaluate_indicator,
)
from amlas.checks.metrics import MetricContext
from amlas.evidence import EvidenceStore, MemoryStore, StoreError
from amlas.project import CLASSIFICATION, MetricSpec, Project
from amlas.project.artefacts import MLSafetyRequirement

__all__ = ["ERROR_RATE", "FEATURE_RANGE", "SCRATCH", "THRESHOLD_RULE"]


# -- the metric -------------------------------------------------------------------------------


ERROR_RATE_SPEC = MetricSpec(
    "error_rate", "fraction of samples classified wrongly", 0.0, 1.0, False, False, CLASSIFICATION
)


@dataclass(frozen=True)
class ErrorRate:
    spec: MetricSpec = ERROR_RATE_SPEC
    distributions: tuple[str, ...] = ("amlas-test-plugins",)

    def check_name(self, requirement: MLSafetyRequirement) -> str:
        return "metric.error_rate"

    def unavailable(
        self, requirement: MLSafetyRequirement, *, model_format: str, tabular: bool
    ) -> str | None:
        threshold = requirement.threshold
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            return f"threshold {threshold:g} lies outside [0, 1], the range of a proportion"
        return None

    def unavailable_with(
        self, requirement: MLSafetyRequirement, model: Model, dataset: Dataset
    ) -> str | None:
        return None

    def evaluate(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        context: MetricContext,
    ) -> RequirementResult:
        trial = np.ones(len(dataset), dtype=bool)
        wrong = predictions.labels != dataset.labels
        return evaluate_indicator(
            requirement,
            dataset,
            predictions,
            trial,
            wrong,
            check=self.check_name(requirement),
            resolved={
                "metric": "error_rate",
                "comparison": requirement.comparison or "at_most",
                "confidence": requirement.effective_confidence,
                "slices": dataset.plan_of(requirement).names,
                "counting": "every sample whose predicted class differs from its label",
            },
            problems=[],
        )


ERROR_RATE = ErrorRate()


# -- the model format ---------------------------------------------------------------------------


class ThresholdModel:
    has_proba = True

    def __init__(
        self, column: int, threshold: float, scale: float, classes: tuple[str, str]
    ) -> None:
        self.column, self.threshold, self.scale = column, threshold, scale
        self.classes = classes  # (below, above)

    def predict_proba(self, x: NDArray[np.generic]) -> NDArray[np.float64]:
        values = np.asarray(x, dtype=np.float64)[:, self.column]
        above = 1.0 / (1.0 + np.exp(-(values - self.threshold) / self.scale))
        return np.column_stack([1.0 - above, above])

    def predict(self, x: NDArray[np.generic]) -> NDArray[np.str_]:
        proba = self.predict_proba(x)
        return np.asarray(self.classes, dtype=np.str_)[np.argmax(proba, axis=1)]


@dataclass(frozen=True)
class ThresholdRule:
    name: str = "threshold_rule"
    differentiable: bool = False
    distributions: tuple[str, ...] = ("amlas-test-plugins",)

    def load(self, path: Path | None, options: ModelOptions) -> Model:
        if path is None or not path.is_file():
            raise ModelError(f"{path}: a threshold_rule model is a JSON file; none is there")
        try:
            rule = json.loads(path.read_text(encoding="utf-8"))
            column, threshold = int(rule["column"]), float(rule["threshold"])
            scale = float(rule.get("scale", 1.0))
            below, above = str(rule["below"]), str(rule["above"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(
                f"{path}: expected {{column, threshold, scale, below, above}}: {exc}"
            ) from None
        if not (math.isfinite(threshold) and math.isfinite(scale) and scale > 0):
            raise ModelError(f"{path}: threshold and scale must be finite, scale above 0")
        classes = (below, above)
        if options.class_order and tuple(options.class_order) != classes:
            raise ModelError(
                f"{path}: class_order {list(options.class_order)} is not [below, above] "
                f"{list(classes)}"
            )
        return ThresholdModel(column, threshold, scale, classes)


THRESHOLD_RULE = ThresholdRule()


# -- the store ---------------------------------------------------------------------------------


class ScratchBackend:
    schemes: tuple[str, ...] = ("scratch",)
    usage = "'scratch://NAME' (amlas-test-plugins: kept in this process)"

    def handles(self, scheme: str) -> bool:
        return scheme == "scratch"

    def open(self, uri: str, *, root: Path) -> EvidenceStore:
        name = uri.partition("://")[2]
        if not name.isidentifier():
            raise StoreError(f"store uri={uri!r}: a scratch store is named by an identifier")
        return MemoryStore(f"scratch-{name}", uri=uri)


SCRATCH = ScratchBackend()


# -- the data rule ------------------------------------------------------------------------------


class FeatureRangeParameters(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    check: Literal["feature_range"]
    column: str = Field(min_length=1)
    low: float
    high: float
    max_outside_fraction: float = Field(ge=0.0, le=1.0)
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)


@dataclass(frozen=True)
class FeatureRange:
    name: str = "feature_range"
    category: str = "relevance"
    parameters: type[BaseModel] = FeatureRangeParameters
    reads_environment: bool = False
    distributions: tuple[str, ...] = ("amlas-test-plugins",)

    def run(
        self,
        project: Project,
        subject: str,
        rule: Any,
        dataset: Dataset,
        parameters: dict[str, Any],
    ) -> CheckOutcome:
        values = np.asarray(dataset.table.column(rule.column), dtype=np.float64)
        outside = ~((values >= rule.low) & (values <= rule.high))
        decision = decide_proportion(
            int(outside.sum()),
            len(values),
            threshold=rule.max_outside_fraction,
            comparison="at_most",
            confidence=rule.confidence,
        )
        summary = (
            f"{subject} on [{dataset.letter}]: {int(outside.sum())} of {len(values)} samples "
            f"have {rule.column} outside [{rule.low:g}, {rule.high:g}]; {decision.reason}"
        )
        return CheckOutcome(
            subject,
            "data.feature_range",
            dataset.letter,
            decision.verdict,
            summary,
            parameters,
            {"bound": decision.bound, "confidence": rule.confidence, "method": "clopper-pearson"},
            [{"outside": int(outside.sum()), "samples": len(values), "bound": decision.bound}],
        )


FEATURE_RANGE = FeatureRange()
