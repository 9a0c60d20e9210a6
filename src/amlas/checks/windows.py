"""Temporal requirements over windows of consecutive frames, as a metric plug-in
(``sequence_window_rate``, entry-point group ``amlas.metrics``).

"At most m failing frames in any window of k consecutive frames" is judged per
sequence: the windows of one sequence overlap and are not independent trials, so the
unit of analysis is the sequence (a drive, a clip), and the metric is the share of
sequences none of whose windows fails, on the exact Clopper-Pearson bound over
sequences with Holm across slices. The record also states the share of failing windows
with a cluster-bootstrap bound over sequences (whole sequences resampled), as the
alternative view; it never decides.

What makes a frame fail is the requirement's ``window.failure``: a relevant object
missed (a detector, at the requirement's matching, for its ``class``), a wrong class or
the requirement's class missed (a classifier), an error beyond the ``tolerance`` (a
regressor). A window belongs to a slice only when all its frames do; windows that
cross slices are counted and reported, and judged in none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
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
    plan_problems,
    slice_result,
)
from amlas.checks._sequences import (
    SequenceWindows,
    cluster_bootstrap_window_rate,
    decide_sequences,
    window_failures,
)
from amlas.checks._slices import SlicePlan
from amlas.checks.metrics import MetricContext, outside_proportion
from amlas.project.artefacts import MLSafetyRequirement
from amlas.project.metrics import BUILTIN_SPECS, MetricSpec

__all__ = ["SEQUENCE_WINDOW_RATE", "WindowMetric", "frame_failures"]


def frame_failures(
    requirement: MLSafetyRequirement, dataset: Dataset, predictions: Predictions
) -> tuple[NDArray[np.bool_], str]:
    """Whether each frame (sample) fails, and what failing means, by ``window.failure``."""
    window = requirement.window
    assert window is not None
    failure = window.failure
    if failure == "missed_object":
        from amlas.checks.detection import (
            _class_code,
            _matching,
            detection_matches,
            relevant_objects,
        )

        cls = _class_code(requirement, dataset.class_names)
        if cls is None or dataset.truth is None or predictions.boxes is None:
            raise ValueError("missed_object needs a detector's objects, boxes and class")
        matches = detection_matches(dataset, predictions, _matching(requirement, dataset), cls)
        lost = relevant_objects(matches, cls) & ~matches.gt_matched
        missed = np.bincount(matches.gt.image[lost], minlength=len(dataset)) > 0
        return missed, f"a frame with an object of class {dataset.class_names[cls]!r} missed"
    if failure == "out_of_tolerance":
        from amlas.checks.regression import truth_values

        tolerance = requirement.tolerance
        if tolerance is None or predictions.values is None:
            raise ValueError("out_of_tolerance needs a regressor's values and a tolerance")
        error = np.abs(predictions.values - truth_values(dataset))
        # a frame with no usable error fails: it is not evidence of a good frame
        return ~(error <= tolerance.value), (
            f"a frame whose absolute error exceeds {tolerance.value:g} {tolerance.unit}"
        )
    wrong = predictions.labels != dataset.labels
    if failure == "missed_class":
        name = requirement.class_
        if name is None:
            raise ValueError("missed_class needs the requirement's 'class'")
        return dataset.label_is(name) & ~predictions.predicted_is(name), (
            f"a frame of class {name!r} not predicted as {name!r}"
        )
    return wrong | predictions.invalid, "a frame classified wrongly"


def _object_slices(
    requirement: MLSafetyRequirement, dataset: Dataset, predictions: Predictions
) -> tuple[SlicePlan, list[tuple[NDArray[np.bool_], NDArray[np.bool_]]]] | None:
    """For a detector (frames fail by a missed object): the object plan (an object's own
    band where the objects carry a dimension, its frame's otherwise), and per slice which
    frames hold a relevant object in it and which of those miss one. Frames without one
    are in no window of the slice, so a sequence with nothing to find is no trial."""
    window = requirement.window
    if window is None or window.failure != "missed_object" or dataset.truth is None:
        return None
    from amlas.checks.detection import (
        _class_code,
        _matching,
        _object_plan,
        detection_matches,
        relevant_objects,
    )

    cls = _class_code(requirement, dataset.class_names)
    if cls is None or predictions.boxes is None:
        raise ValueError("missed_object needs a detector's objects, boxes and class")
    matches = detection_matches(dataset, predictions, _matching(requirement, dataset), cls)
    plan = _object_plan(requirement, dataset)
    relevant = relevant_objects(matches, cls)
    image = matches.gt.image
    n = len(dataset)
    out = []
    for index in range(len(plan.names)):
        inside = relevant & (plan.codes == index)
        present = np.bincount(image[inside], minlength=n) > 0
        missed = np.bincount(image[inside & ~matches.gt_matched], minlength=n) > 0
        out.append((present, missed))
    return plan, out


def _joined(parts: list[SequenceWindows]) -> SequenceWindows:
    """One :class:`SequenceWindows` per slice (each computed as slice 0) as one."""
    first = parts[0]

    def stack(name: str) -> NDArray[np.int64]:
        return np.concatenate([getattr(p, name) for p in parts]).astype(np.int64)

    return replace(
        first,
        sequences=stack("sequences"),
        passing=stack("passing"),
        windows=stack("windows"),
        windows_failing=stack("windows_failing"),
        windows_excluded=stack("windows_excluded"),
        failing_ids=tuple(p.failing_ids[0] for p in parts),
        crossing=sum(p.crossing for p in parts),
        outside=sum(p.outside for p in parts),
    )


@dataclass(frozen=True)
class WindowMetric:
    """``sequence_window_rate`` (see the module docs)."""

    spec: MetricSpec
    distributions: tuple[str, ...] = ()

    def check_name(self, requirement: MLSafetyRequirement) -> str:
        return f"metric.{self.spec.name}"

    def unavailable(
        self, requirement: MLSafetyRequirement, *, model_format: str, tabular: bool
    ) -> str | None:
        window = requirement.window
        if window is None:
            return "sequence_window_rate needs a 'window' (frames, max_failures, failure)"
        if window.failure == "out_of_tolerance" and requirement.tolerance is None:
            return "an out_of_tolerance window needs the requirement's 'tolerance'"
        if window.failure == "missed_class" and requirement.class_ is None:
            return "a missed_class window needs the requirement's 'class'"
        return outside_proportion(requirement)

    def unavailable_with(
        self, requirement: MLSafetyRequirement, model: Model | None, dataset: Dataset
    ) -> str | None:
        if dataset.sequences is None:
            return (
                f"[{dataset.letter}] declares no 'sequence_column' and 'frame_column': "
                "windows of frames need sequences"
            )
        window = requirement.window
        if window is not None and window.failure == "missed_object" and dataset.truth is None:
            return f"[{dataset.letter}] declares no ground-truth 'objects' to miss"
        return None

    def evaluate(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        context: MetricContext,
    ) -> RequirementResult:
        window = requirement.window
        assert window is not None
        assert dataset.sequences is not None
        assert requirement.threshold is not None
        comparison: Comparison = requirement.comparison or self.spec.comparison  # type: ignore[assignment]
        confidence = confidence_of(requirement)
        plan = dataset.plan_of(requirement)
        failed, meaning = frame_failures(requirement, dataset, predictions)
        sequence, frame = dataset.sequences
        by_object = _object_slices(requirement, dataset, predictions)
        if by_object is not None:
            # a frame is in slice s when it holds an object of the class in s (its own band
            # for a dimension only objects carry, a pedestrian's distance), and fails there
            # when one of those is missed
            plan, per_slice = by_object
            parts = [
                window_failures(
                    sequence,
                    frame,
                    missed,
                    frames=window.frames,
                    max_failures=window.max_failures,
                    slice_codes=np.where(present, 0, -1),
                    slices=1,
                )
                for present, missed in per_slice
            ]
            windows = _joined(parts)
        else:
            codes = plan.codes
            if window.failure == "missed_class" and requirement.class_ is not None:
                # only frames of the class can miss it: the others are in no window
                codes = np.where(dataset.label_is(requirement.class_), codes, -1)
            windows = window_failures(
                sequence,
                frame,
                failed,
                frames=window.frames,
                max_failures=window.max_failures,
                slice_codes=codes,
                slices=len(plan.names),
            )
        decisions = decide_sequences(
            windows, threshold=requirement.threshold, comparison=comparison, confidence=confidence
        )
        resolved: dict[str, Any] = {
            "metric": self.spec.name,
            "comparison": comparison,
            "confidence": confidence,
            "class": requirement.class_,
            "unit": "sequences",
            "judged": "per sequence: the share of sequences with no failing window, exact "
            "Clopper-Pearson over sequences (overlapping windows are never counted as "
            "independent trials)",
            "window": window.model_dump(mode="json"),
            "frame_failure": meaning,
            "predictions": predictions.source,
            "slices": plan.names,
            "method": "clopper-pearson",
            "family": "Holm" if len(plan.names) > 1 else "none",
            "windows_crossing_slices": windows.crossing,
            "windows_outside_scope": windows.outside,
            "short_sequences": windows.short_sequences,
            "frame_gaps": windows.gaps,
            "windows_over_gaps": windows.windows_over_gaps,
        }
        problems = plan_problems(plan)
        if plan.precondition is not None:
            resolved["precondition"] = dict(plan.precondition)
        slices = []
        for index, (name, cell, decision) in enumerate(
            zip(plan.names, plan.cells, decisions, strict=True)
        ):
            alternative = cluster_bootstrap_window_rate(
                windows,
                slice_code=index,
                confidence=confidence,
                sided="upper",
                seed=BOOTSTRAP_SEED + index,
                resamples=BOOTSTRAP_RESAMPLES,
            )
            failing = windows.failing_ids[index]
            slices.append(
                slice_result(
                    name,
                    cell,
                    decision,
                    len(failing),
                    [str(x) for x in failing[:MAX_LISTED_IDS]],
                    {
                        "windows": int(windows.windows[index]),
                        "windows_failing": int(windows.windows_failing[index]),
                        "windows_excluded": int(windows.windows_excluded[index]),
                        "failing_window_share": {
                            "estimate": alternative.estimate,
                            "upper": None
                            if not math.isfinite(alternative.bound)
                            else alternative.bound,
                            "method": "cluster bootstrap over sequences",
                            "degenerate": alternative.degenerate,
                            "note": alternative.reason,
                        },
                    },
                )
            )
        return RequirementResult(
            requirement, dataset.letter, self.check_name(requirement), "clopper-pearson",
            slices, resolved, problems,
        )  # fmt: skip


SEQUENCE_WINDOW_RATE = WindowMetric(BUILTIN_SPECS["sequence_window_rate"])
