"""The metric catalogue: what an ML safety requirement [H] may measure.

Each metric knows its range, which direction is better and which tasks it fits, so the
project checks can catch a threshold outside the range (Q001), a comparison against the
metric's direction (Q003) or a metric that does not fit the task (Q012) before any data
is touched.

Metrics are plug-ins (entry-point group ``amlas.metrics``, :mod:`amlas.checks.metrics`):
:data:`METRICS` maps every installed metric's name to its :class:`MetricSpec`, read from
the registry on use. :data:`BUILTIN_SPECS` are the specs of the metrics amlas ships.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from amlas.plugins import PluginError, registry

__all__ = [
    "BUILTIN_SPECS",
    "CLASSIFICATION",
    "DETECTION",
    "METRICS",
    "REGRESSION",
    "MetricSpec",
    "metric_names",
]

CLASSIFICATION = frozenset({"binary_classification", "multiclass_classification"})
DETECTION = frozenset({"object_detection"})
REGRESSION = frozenset({"regression"})
_ALL_TASKS = frozenset(
    {"binary_classification", "multiclass_classification", "regression", "object_detection"}
)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    description: str
    lower: float
    upper: float
    higher_is_better: bool
    per_class: bool
    tasks: frozenset[str]

    @property
    def comparison(self) -> str:
        """The comparison a threshold on this metric is held to."""
        return "at_least" if self.higher_is_better else "at_most"

    def range_text(self) -> str:
        upper = "inf" if math.isinf(self.upper) else f"{self.upper:g}"
        return f"[{self.lower:g}, {upper}]"


def _m(
    name: str,
    description: str,
    *,
    higher: bool,
    per_class: bool = False,
    upper: float = 1.0,
    tasks: frozenset[str] = CLASSIFICATION,
) -> MetricSpec:
    return MetricSpec(name, description, 0.0, upper, higher, per_class, tasks)


BUILTIN_SPECS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        _m(
            "recall",
            "true positive rate for `class` (sensitivity); for a detector, the share of "
            "ground-truth objects of `class` matched by a detection",
            higher=True,
            per_class=True,
            tasks=CLASSIFICATION | DETECTION,
        ),
        _m(
            "fnr",
            "false negative rate for `class` (miss rate); for a detector, the share of "
            "ground-truth objects of `class` no detection matches",
            higher=False,
            per_class=True,
            tasks=CLASSIFICATION | DETECTION,
        ),
        _m("fpr", "false positive rate for `class`", higher=False, per_class=True),
        _m("specificity", "true negative rate for `class`", higher=True, per_class=True),
        _m(
            "precision",
            "positive predictive value for `class`; for a detector, the share of its "
            "detections of `class` that match an object",
            higher=True,
            per_class=True,
            tasks=CLASSIFICATION | DETECTION,
        ),
        _m("npv", "negative predictive value for `class`", higher=True, per_class=True),
        _m("f1", "harmonic mean of precision and recall for `class`", higher=True, per_class=True),
        _m("accuracy", "fraction of samples classified correctly", higher=True),
        _m("balanced_accuracy", "mean recall over all classes", higher=True),
        _m(
            "false_positives_per_sample",
            "false positives for `class` divided by the number of samples",
            higher=False,
            per_class=True,
            upper=math.inf,
        ),
        _m(
            "image_recall",
            "share of images in which every ground-truth object of `class` is matched",
            higher=True,
            per_class=True,
            tasks=DETECTION,
        ),
        _m(
            "false_positives_per_image",
            "detections of `class` matching no object, per image (a count rate)",
            higher=False,
            per_class=True,
            upper=math.inf,
            tasks=DETECTION,
        ),
        _m(
            "image_false_positive_rate",
            "share of images with at least one detection of `class` matching no object",
            higher=False,
            per_class=True,
            tasks=DETECTION,
        ),
        _m(
            "average_precision",
            "COCO average precision of `class` (mean over the IoU thresholds of `matching`)",
            higher=True,
            per_class=True,
            tasks=DETECTION,
        ),
        _m("expected_calibration_error", "gap between confidence and accuracy", higher=False),
        _m(
            "robust_accuracy",
            "fraction of samples still classified correctly under the perturbation",
            higher=True,
        ),
        _m(
            "prediction_stability",
            "fraction of samples whose prediction is unchanged under the perturbation (for a "
            "detector: of the objects found on the clean images, those still found)",
            higher=True,
            tasks=CLASSIFICATION | DETECTION,
        ),
        _m(
            "verified_robustness",
            "fraction of samples proven robust by formal verification",
            higher=True,
        ),
        _m(
            "fault_tolerance_rate",
            "fraction of seeded fault campaigns whose accuracy loss stays within the tolerance",
            higher=True,
        ),
        _m(
            "mean_absolute_error",
            "mean absolute error in the target's unit",
            higher=False,
            upper=math.inf,
            tasks=REGRESSION,
        ),
        _m(
            "root_mean_squared_error",
            "root mean squared error in the target's unit",
            higher=False,
            upper=math.inf,
            tasks=REGRESSION,
        ),
        _m(
            "absolute_error_quantile",
            "the `quantile` (e.g. 0.95) of the absolute error, in the target's unit",
            higher=False,
            upper=math.inf,
            tasks=REGRESSION,
        ),
        _m(
            "within_tolerance_rate",
            "fraction of predictions within the requirement's `tolerance` (for a detector: "
            "of matched objects localised within it; for a measurement imported from "
            "elsewhere, such as a frame time, of the measurements within it)",
            higher=True,
            tasks=_ALL_TASKS,
        ),
        _m(
            "sequence_window_rate",
            "share of sequences in which every `window` of consecutive frames holds at most "
            "its allowed failures",
            higher=True,
            tasks=_ALL_TASKS,
        ),
    )
}


def metric_names() -> tuple[str, ...]:
    """Every installed metric's name, sorted (no plug-in is imported)."""
    return registry("amlas.metrics").names()


class _InstalledMetrics(Mapping[str, MetricSpec]):
    """Name -> spec of every installed metric that loads (a plug-in that fails to load
    is left out here; ``amlas plugins`` and the run report it)."""

    def __getitem__(self, name: str) -> MetricSpec:
        if name not in metric_names():
            raise KeyError(name)
        try:
            spec = registry("amlas.metrics").get(name).spec
        except PluginError:
            raise KeyError(name) from None
        if not isinstance(spec, MetricSpec):
            raise KeyError(name)
        return spec

    def __iter__(self) -> Iterator[str]:
        return iter(n for n in metric_names() if n in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or name not in metric_names():
            return False
        try:
            self[name]
        except KeyError:
            return False
        return True


METRICS: Mapping[str, MetricSpec] = _InstalledMetrics()
"""Every installed metric: name -> :class:`MetricSpec` (loaded from the registry on use)."""
