"""Detection metrics as plug-ins (entry-point group ``amlas.metrics``).

Detections are matched to ground-truth objects as COCO does
(:func:`amlas.checks._matching.match`: per image and class, detections in descending
score take the unmatched object of highest IoU at or above the threshold; crowd regions
absorb detections without counting them) with the requirement's ``matching`` or, when
it has none, [D]'s. Each metric states its unit of analysis in the record
(``resolved.unit``) and is judged on an honest bound:

``recall`` / ``fnr``
    Unit: ground-truth objects of ``class`` (crowd regions excluded). The share matched
    (missed), exact Clopper-Pearson per slice, Holm across slices. Slices may use an
    object's own attributes (``objects.odd_columns``: a pedestrian's distance) as well as
    its image's ODD values.
``precision``
    Unit: kept detections of ``class`` (those on crowd regions excluded). The share that
    match an object; slices by the detection's image.
``image_recall``
    Unit: (image, slice) pairs holding at least one object of ``class``: the share in
    which every such object is matched ("every relevant object in the image found").
``false_positives_per_image``
    A count rate: unmatched detections of ``class`` per image, exact Poisson (Garwood)
    bound with Holm across slices, and Fisher's dispersion test on the per-image counts:
    where false positives cluster in images beyond what a Poisson model allows, the
    slice is inconclusive rather than judged on a bound that would be too narrow.
``image_false_positive_rate``
    Unit: images. The share with at least one false positive, exact Clopper-Pearson.
``within_tolerance_rate`` (for detectors)
    Unit: matched objects of ``class``. The share whose localisation error (the
    ``tolerance.measure``: ``centre_distance`` or ``max_edge_distance``, in the boxes'
    unit) is at most ``tolerance.value``; exact.
``recall`` / ``fnr`` with a ``perturbation``, ``prediction_stability``
    Under an image corruption of stage 5 (noise, blur, brightness, contrast, rotation,
    occlusion; a detector amlas runs itself): an object counts as found only when a
    detection matches it on every corrupted copy; ``prediction_stability`` is the share of
    the objects found on the clean images that are still found.
``average_precision``
    COCO AP (101 recall points; the mean over ``matching.iou_thresholds`` when given),
    with a seeded percentile bootstrap over images for its bound (Bonferroni across
    slices); slices by image.

False positives have no object, so a slice over a dimension only the objects carry
(a pedestrian's distance) holds no image: image-level metrics sliced that way are
inconclusive, never judged on an empty population.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters import Model, detect_batched
from amlas.checks._boxes import Boxes
from amlas.checks._datasets import Dataset
from amlas.checks._detection_ap import average_precision
from amlas.checks._images import IMAGE_PERTURBATIONS, perturb_images
from amlas.checks._intervals import Comparison
from amlas.checks._matching import Matches, match
from amlas.checks._metrics import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    MAX_LISTED_IDS,
    Predictions,
    RequirementResult,
    SliceResult,
    cluster_checked,
    confidence_of,
    evaluate_indicator,
    judge_bootstrap,
    state_plan,
)
from amlas.checks._rates import decide_rates, dispersion_test
from amlas.checks._robustness import perturbation_seed
from amlas.checks._slices import SlicePlan
from amlas.checks.metrics import FNR as _FNR
from amlas.checks.metrics import PRECISION as _PRECISION
from amlas.checks.metrics import PREDICTION_STABILITY as _PREDICTION_STABILITY
from amlas.checks.metrics import RECALL as _RECALL
from amlas.checks.metrics import MetricContext, _Builtin, outside_proportion
from amlas.project.artefacts import MLSafetyRequirement
from amlas.project.artefacts.outputs import Matching
from amlas.project.metrics import BUILTIN_SPECS, MetricSpec

__all__ = [
    "AVERAGE_PRECISION",
    "FALSE_POSITIVES_PER_IMAGE",
    "FNR",
    "IMAGE_FALSE_POSITIVE_RATE",
    "IMAGE_RECALL",
    "PRECISION",
    "PREDICTION_STABILITY",
    "RECALL",
    "DetectionMetric",
    "detection_matches",
    "localisation_result",
]


def _matching(requirement: MLSafetyRequirement, dataset: Dataset) -> Matching:
    """[D]'s matching, with what the requirement's own ``matching`` states in its place
    (a requirement that sets only ``iou_threshold`` keeps [D]'s score threshold)."""
    component = dataset.component_matching or Matching()
    own = requirement.matching
    if own is None:
        return component
    return component.model_copy(update={name: getattr(own, name) for name in own.model_fields_set})


def _class_code(requirement: MLSafetyRequirement, classes: list[str]) -> int | None:
    """The class a detection metric is computed for: the requirement's ``class``, else
    the only class."""
    if requirement.class_ is not None:
        return classes.index(requirement.class_) if requirement.class_ in classes else None
    return 0 if len(classes) == 1 else None


def detection_matches(
    dataset: Dataset,
    predictions: Predictions,
    matching: Matching,
    cls: int,
    *,
    iou_threshold: float | None = None,
) -> Matches:
    """The matching of ``predictions``' detections of class ``cls`` to the dataset's
    objects, computed once per setting."""
    truth, boxes = dataset.truth, predictions.boxes
    assert truth is not None
    assert boxes is not None
    iou = matching.iou_threshold if iou_threshold is None else iou_threshold
    key = f"matches:{predictions.source}:{matching.model_dump_json()}:{cls}:{iou}"
    if key not in dataset._memo:
        dataset._memo[key] = match(
            truth.boxes,
            boxes,
            iou_threshold=iou,
            score_threshold=matching.score_threshold,
            classes=None if matching.class_agnostic else [cls],
            max_detections=matching.max_detections,
            class_agnostic=matching.class_agnostic,
        )
    found: Matches = dataset._memo[key]
    return found


def relevant_objects(matches: Matches, cls: int) -> NDArray[np.bool_]:
    """The objects of class ``cls`` a miss counts against: not crowd regions (with
    class-agnostic matching, the other classes' objects are matched but not counted)."""
    found: NDArray[np.bool_] = matches.gt_evaluated & ~matches.gt_ignored & (matches.gt.cls == cls)
    return found


def counted_detections(matches: Matches, cls: int) -> NDArray[np.bool_]:
    """The detections of class ``cls`` the component reports (kept) that are true or
    false positives (not absorbed by a crowd region)."""
    kept: NDArray[np.bool_] = matches.dt_kept & ~matches.dt_ignored & (matches.dt.cls == cls)
    return kept


def false_positives_per_image(matches: Matches, cls: int) -> NDArray[np.int64]:
    """Unmatched detections of class ``cls`` in every image."""
    wrong = counted_detections(matches, cls) & matches.dt_fp
    return np.bincount(matches.dt.image[wrong], minlength=matches.gt.n_images).astype(np.int64)


def _sequence_of(dataset: Dataset, image: NDArray[np.int64]) -> NDArray[np.int64] | None:
    """The sequence (as a number) of the image of every unit, when the dataset declares
    sequences: their units are not independent (see ``evaluate_indicator``)."""
    if dataset.sequences is None:
        return None
    codes: NDArray[np.int64] = np.unique(dataset.sequences[0], return_inverse=True)[1]
    return codes[image]


def _state_plan(resolved: dict[str, Any], plan: SlicePlan, problems: list[str]) -> SlicePlan:
    """Record the slices of a detection metric, the units its plan leaves out and its
    precondition; a precondition that cannot choose the plan's units joins ``problems``."""
    problems.extend(state_plan(resolved, plan))
    return plan


_UNITS = {"pixel": {"pixel", "pixels", "px"}, "normalised": {"normalised", "normalized"}}


def _object_ids(dataset: Dataset) -> NDArray[np.str_]:
    """``<sample id>#<n>``: the n-th object (from 1) of its image, for listing misses."""
    truth = dataset.truth
    assert truth is not None
    image = truth.boxes.image
    order = np.argsort(image, kind="stable")
    rank = np.empty(len(image), dtype=np.int64)
    starts = np.searchsorted(image[order], image[order])
    rank[order] = np.arange(len(image)) - starts + 1
    return np.char.add(np.char.add(dataset.ids[image], "#"), rank.astype(np.str_))


def _setup(
    requirement: MLSafetyRequirement,
    dataset: Dataset,
    predictions: Predictions,
    spec: MetricSpec,
    unit: str,
) -> tuple[dict[str, Any], list[str], Matching]:
    matching = _matching(requirement, dataset)
    comparison: Comparison = requirement.comparison or spec.comparison  # type: ignore[assignment]
    resolved: dict[str, Any] = {
        "metric": spec.name,
        "comparison": comparison,
        "confidence": confidence_of(requirement),
        "class": requirement.class_,
        "unit": unit,
        "matching": matching.model_dump(mode="json"),
        "predictions": predictions.source,
    }
    problems = []
    if dataset.truth is None:
        problems.append(f"[{dataset.letter}] declares no ground-truth 'objects'")
    if predictions.boxes is None:
        problems.append("no detections: the predictions hold no boxes")
    return resolved, problems, matching


def _inconclusive(
    requirement: MLSafetyRequirement,
    dataset: Dataset,
    check: str,
    resolved: dict[str, Any],
    problems: list[str],
) -> RequirementResult:
    assert requirement.threshold is not None
    comparison: Comparison = resolved["comparison"]
    slice_result = SliceResult(
        "all", {}, "inconclusive", None, -math.inf, math.inf, math.nan,
        requirement.threshold, comparison, "; ".join(problems), 0,
    )  # fmt: skip
    return RequirementResult(
        requirement, dataset.letter, check, "none", [slice_result], resolved, problems
    )


def _image_plan(requirement: MLSafetyRequirement, dataset: Dataset) -> SlicePlan:
    return dataset.plan_of(requirement)


def _object_plan(requirement: MLSafetyRequirement, dataset: Dataset) -> SlicePlan:
    return dataset.object_plan(requirement)


def localisation_result(
    requirement: MLSafetyRequirement, dataset: Dataset, predictions: Predictions
) -> RequirementResult:
    """``within_tolerance_rate`` of a detector: matched objects localised within the
    requirement's tolerance (see the module docs)."""
    spec = BUILTIN_SPECS["within_tolerance_rate"]
    resolved, problems, matching = _setup(
        requirement, dataset, predictions, spec, "matched ground-truth objects"
    )
    check = "metric.within_tolerance_rate"
    cls = _class_code(requirement, dataset.class_names)
    if cls is None:
        problems.append("name the 'class' the requirement is about")
    if problems or requirement.tolerance is None:
        return _inconclusive(requirement, dataset, check, resolved, problems or ["no tolerance"])
    assert cls is not None
    tolerance = requirement.tolerance
    resolved["tolerance"] = tolerance.model_dump(mode="json")
    ground = dataset.truth
    assert ground is not None
    if tolerance.unit.strip().lower() not in _UNITS.get(ground.unit, {ground.unit}):
        problems.append(
            f"the tolerance is in {tolerance.unit!r} and the boxes in {ground.unit!r} units; "
            "state the tolerance in the boxes' unit"
        )
    matches = detection_matches(dataset, predictions, matching, cls)
    truth, boxes = matches.gt, matches.dt
    assert boxes is not None
    matched = relevant_objects(matches, cls) & matches.gt_matched
    partner = np.where(matched, matches.gt_detection, 0)
    gt_xyxy, dt_xyxy = truth.xyxy, boxes.xyxy[partner] if len(boxes.xyxy) else truth.xyxy
    if tolerance.measure == "max_edge_distance":
        error = np.abs(gt_xyxy - dt_xyxy).max(axis=1)
    else:
        if tolerance.measure != "centre_distance":
            problems.append(
                f"tolerance measure {tolerance.measure!r} is for regressors; a detector's "
                "is centre_distance or max_edge_distance"
            )
        centre = (gt_xyxy[:, :2] + gt_xyxy[:, 2:]) / 2 - (dt_xyxy[:, :2] + dt_xyxy[:, 2:]) / 2
        error = np.hypot(centre[:, 0], centre[:, 1])
    return _judge_objects(
        requirement,
        dataset,
        matches,
        matched,
        matched & (error <= tolerance.value),
        check,
        resolved,
        problems,
    )


def _judge_objects(
    requirement: MLSafetyRequirement,
    dataset: Dataset,
    matches: Matches,
    trial: NDArray[np.bool_],
    success: NDArray[np.bool_],
    check: str,
    resolved: dict[str, Any],
    problems: list[str],
) -> RequirementResult:
    """A proportion over the dataset's ground-truth objects: each object in its own slice,
    named by its image, clustered by its image's sequence."""
    return evaluate_indicator(
        requirement,
        dataset,
        None,
        trial,
        success,
        check=check,
        resolved=resolved,
        problems=problems,
        plan=_state_plan(resolved, _object_plan(requirement, dataset), problems),
        ids=_object_ids(dataset),
        clusters=_sequence_of(dataset, matches.gt.image),
    )


def _rate_slices(
    requirement: MLSafetyRequirement,
    dataset: Dataset,
    fp_per_image: NDArray[np.int64],
    comparison: Comparison,
    confidence: float,
) -> list[SliceResult]:
    assert requirement.threshold is not None
    plan = _image_plan(requirement, dataset)
    counts, tests, members = [], [], []
    for index in range(len(plan.names)):
        images = np.flatnonzero(plan.codes == index)
        per_image = fp_per_image[images]
        counts.append((int(per_image.sum()), float(len(images))))
        tests.append(dispersion_test(per_image) if len(images) else None)
        members.append(images[per_image > 0])
    decisions = decide_rates(
        counts,
        threshold=requirement.threshold,
        comparison=comparison,
        confidence=confidence,
        dispersion=tests,
    )
    clustered: list[dict[str, Any]] = [{} for _ in decisions]
    sequences = _sequence_of(dataset, np.arange(len(dataset)))
    if sequences is not None:
        # false positives of one sequence cluster too: the Poisson verdict stands only
        # where a bootstrap over whole sequences agrees
        decisions, clustered = cluster_checked(
            decisions,
            plan.codes,
            fp_per_image.astype(np.float64),
            np.ones(len(dataset)),
            sequences,
            comparison,
            confidence,
        )
    out = []
    for name, cell, decision, test, offending, more in zip(
        plan.names, plan.cells, decisions, tests, members, clustered, strict=True
    ):
        extra: dict[str, Any] = {
            "events": decision.events,
            "exposure": decision.exposure,
            "exposure_unit": "images",
            "assumption": decision.assumption,
        }
        if test is not None:
            extra["dispersion"] = {
                "index": test.index if math.isfinite(test.index) else None,
                "statistic": test.statistic if math.isfinite(test.statistic) else None,
                "df": test.df,
                "p_value": test.p_value,
            }
        if decision.additional_exposure is not None:
            extra["additional_exposure"] = decision.additional_exposure
        extra.update(more)
        out.append(
            SliceResult(
                slice=name,
                cell=cell,
                verdict=decision.verdict,
                estimate=decision.estimate,
                lower=decision.interval.lower,
                upper=decision.interval.upper,
                bound=decision.bound,
                threshold=decision.threshold,
                comparison=comparison,
                reason=decision.reason,
                trials=int(decision.exposure),
                p_pass=decision.p_pass,
                p_fail=decision.p_fail,
                failing_count=len(offending),
                failing_ids=[str(x) for x in dataset.ids[offending[:MAX_LISTED_IDS]]],
                extra=extra,
            )
        )
    return out


@dataclass(frozen=True)
class DetectionMetric:
    """A metric of an object detector (see the module docs); for a classifier's
    predictions, ``fallback`` (the classification metric of the same name) judges."""

    spec: MetricSpec
    distributions: tuple[str, ...] = ()
    fallback: _Builtin | None = None

    def check_name(self, requirement: MLSafetyRequirement) -> str:
        if self.fallback is not None:
            return self.fallback.check_name(requirement)
        return f"metric.{self.spec.name}"

    def unavailable(
        self, requirement: MLSafetyRequirement, *, model_format: str, tabular: bool
    ) -> str | None:
        if self.fallback is not None:
            return self.fallback.unavailable(
                requirement, model_format=model_format, tabular=tabular
            )
        return outside_proportion(requirement) if self.spec.upper == 1.0 else None

    def unavailable_with(
        self, requirement: MLSafetyRequirement, model: Model | None, dataset: Dataset
    ) -> str | None:
        if dataset.truth is None:
            if self.fallback is not None:
                return self.fallback.unavailable_with(requirement, model, dataset)
            return f"[{dataset.letter}] declares no ground-truth 'objects' to match"
        if _class_code(requirement, dataset.class_names) is None:
            return (
                f"{self.spec.name} of a detector of several classes needs the requirement's 'class'"
            )
        perturbation = requirement.perturbation
        if perturbation is not None or self.spec.name == "prediction_stability":
            if perturbation is None:
                return f"{self.spec.name} needs a 'perturbation' to apply"
            if perturbation.kind not in IMAGE_PERTURBATIONS:
                return (
                    f"a detector's robustness is tested under image corruptions "
                    f"({', '.join(sorted(IMAGE_PERTURBATIONS))}), not {perturbation.kind!r}"
                )
            if model is None:
                return "corrupted images need a detector amlas can run ([V] python_detector)"
        return None

    def streams(self, requirement: MLSafetyRequirement) -> bool:
        """A classifier's proportion streams (through ``fallback``); a detector's
        matching needs each image's objects and detections together, and is not
        tallied here (a dataset with ``objects`` is read whole)."""
        return self.fallback is not None and self.fallback.streams(requirement)

    def tally(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        context: MetricContext,
    ) -> Any:
        assert self.fallback is not None
        assert predictions.boxes is None
        return self.fallback.tally(requirement, dataset, predictions, context)

    def judge(
        self, requirement: MLSafetyRequirement, tally: Any, letter: str, context: MetricContext
    ) -> RequirementResult:
        assert self.fallback is not None
        return self.fallback.judge(requirement, tally, letter, context)

    def evaluate(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        context: MetricContext,
    ) -> RequirementResult:
        if predictions.boxes is None and self.fallback is not None:
            return self.fallback.evaluate(requirement, dataset, predictions, context)
        name = self.spec.name
        units = {
            "recall": "ground-truth objects",
            "fnr": "ground-truth objects",
            "precision": "detections",
            "image_recall": "images with an object of the class, per slice",
            "false_positives_per_image": "images (false positives per image)",
            "image_false_positive_rate": "images",
            "average_precision": "images (COCO AP over the images; see resampling_unit)",
            "prediction_stability": "ground-truth objects found on the clean images",
        }
        resolved, problems, matching = _setup(
            requirement, dataset, predictions, self.spec, units[name]
        )
        check = self.check_name(requirement)
        cls = _class_code(requirement, dataset.class_names)
        if cls is None:
            problems.append("name the 'class' the requirement is about")
        if problems:
            return _inconclusive(requirement, dataset, check, resolved, problems)
        assert cls is not None
        resolved["class"] = dataset.class_names[cls]
        matches = detection_matches(dataset, predictions, matching, cls)
        comparison: Comparison = resolved["comparison"]
        if requirement.perturbation is not None or name == "prediction_stability":
            return self._perturbed(
                requirement, dataset, matching, cls, matches, context, check, resolved, problems
            )
        if name in ("recall", "fnr"):
            relevant = relevant_objects(matches, cls)
            found = relevant & matches.gt_matched
            return _judge_objects(
                requirement,
                dataset,
                matches,
                relevant,
                found if name == "recall" else relevant & ~found,
                check,
                resolved,
                problems,
            )
        if name == "precision":
            return self._precision(requirement, dataset, matches, cls, check, resolved, problems)
        if name == "image_recall":
            return self._image_recall(requirement, dataset, matches, cls, check, resolved, problems)
        fp_per_image = false_positives_per_image(matches, cls)
        if name == "false_positives_per_image":
            _state_plan(resolved, _image_plan(requirement, dataset), problems)
            resolved.update(method="garwood", family="Holm")
            slices = _rate_slices(
                requirement, dataset, fp_per_image, comparison, resolved["confidence"]
            )
            return RequirementResult(
                requirement, dataset.letter, check, "garwood", slices, resolved, problems
            )
        if name == "image_false_positive_rate":
            _state_plan(resolved, _image_plan(requirement, dataset), problems)
            everyone = np.ones(len(dataset), dtype=bool)
            return evaluate_indicator(
                requirement,
                dataset,
                None,
                everyone,
                fp_per_image > 0,
                check=check,
                resolved=resolved,
                problems=problems,
            )
        return self._average_precision(
            requirement, dataset, predictions, matching, cls, check, resolved, problems
        )

    def _perturbed(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        matching: Matching,
        cls: int,
        matches: Matches,
        context: MetricContext,
        check: str,
        resolved: dict[str, Any],
        problems: list[str],
    ) -> RequirementResult:
        """Objects found under the requirement's image corruption: an object counts as
        found only when a detection matches it on every perturbed copy (both directions,
        where there are two). ``prediction_stability`` counts, of the objects found on the
        clean images, those still found; ``recall``/``fnr`` count every object."""
        perturbation = requirement.perturbation
        assert perturbation is not None
        images = np.asarray(dataset.inputs)
        if images.dtype == np.uint8:
            value_range = (0.0, 255.0)
        else:
            value_range = (float(images.min()), float(images.max()))
        copies, described = perturb_images(
            images, perturbation, seed=perturbation_seed(requirement.id), value_range=value_range
        )
        model = context.model()
        advance = context.task(f"perturb {requirement.id} [{dataset.letter}]", None)
        truth = dataset.truth
        assert truth is not None
        found = np.ones(len(truth.boxes), dtype=bool)
        for copy in copies:
            detected = detect_batched(
                model, copy, batch_size=min(context.batch_size, 256), progress=advance
            )
            boxes = Boxes(
                image=detected.image,
                cls=detected.cls,
                xyxy=detected.xyxy,
                n_images=len(dataset),
                score=detected.score,
            )
            again = match(
                truth.boxes,
                boxes,
                iou_threshold=matching.iou_threshold,
                score_threshold=matching.score_threshold,
                classes=None if matching.class_agnostic else [cls],
                max_detections=matching.max_detections,
                class_agnostic=matching.class_agnostic,
            )
            found &= again.gt_matched
        resolved["perturbation"] = described
        relevant = relevant_objects(matches, cls)
        if self.spec.name == "prediction_stability":
            trial = relevant & matches.gt_matched
            success = trial & found
        else:
            trial = relevant
            success = relevant & found if self.spec.name == "recall" else relevant & ~found
        return _judge_objects(
            requirement, dataset, matches, trial, success, check, resolved, problems
        )

    def _precision(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        matches: Matches,
        cls: int,
        check: str,
        resolved: dict[str, Any],
        problems: list[str],
    ) -> RequirementResult:
        boxes: Boxes = matches.dt
        counted = counted_detections(matches, cls)
        plan = _state_plan(resolved, _image_plan(requirement, dataset), problems)
        detection_plan = SlicePlan(plan.names, plan.cells, plan.codes[boxes.image], 0, 0)
        numbers = np.arange(1, len(boxes) + 1).astype(np.str_)
        ids = np.char.add(np.char.add(dataset.ids[boxes.image], "#detection-"), numbers)
        return evaluate_indicator(
            requirement,
            dataset,
            None,
            counted,
            counted & matches.dt_tp,
            check=check,
            resolved=resolved,
            problems=problems,
            plan=detection_plan,
            ids=ids,
            clusters=_sequence_of(dataset, boxes.image),
        )

    def _image_recall(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        matches: Matches,
        cls: int,
        check: str,
        resolved: dict[str, Any],
        problems: list[str],
    ) -> RequirementResult:
        plan = _state_plan(resolved, _object_plan(requirement, dataset), problems)
        relevant = relevant_objects(matches, cls) & (plan.codes >= 0)
        slices = len(plan.names)
        image = matches.gt.image[relevant]
        code = plan.codes[relevant]
        pair = image * max(slices, 1) + code
        unique, inverse = np.unique(pair, return_inverse=True)
        missed = np.bincount(inverse, weights=~matches.gt_matched[relevant], minlength=len(unique))
        pair_plan = SlicePlan(plan.names, plan.cells, unique % max(slices, 1), 0, 0)
        ids = dataset.ids[unique // max(slices, 1)]
        everyone = np.ones(len(unique), dtype=bool)
        return evaluate_indicator(
            requirement,
            dataset,
            None,
            everyone,
            missed == 0,
            check=check,
            resolved=resolved,
            problems=problems,
            plan=pair_plan,
            ids=ids,
            clusters=_sequence_of(dataset, unique // max(slices, 1)),
        )

    def _average_precision(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        matching: Matching,
        cls: int,
        check: str,
        resolved: dict[str, Any],
        problems: list[str],
    ) -> RequirementResult:
        assert requirement.threshold is not None
        thresholds = matching.iou_thresholds or [matching.iou_threshold]
        runs = [
            detection_matches(dataset, predictions, matching, cls, iou_threshold=t)
            for t in thresholds
        ]
        n = len(dataset)
        resolved.update(
            method="bootstrap",
            seed=BOOTSTRAP_SEED,
            resamples=BOOTSTRAP_RESAMPLES,
            family="Bonferroni across slices",
            iou_thresholds=list(thresholds),
            recall_points=101,
        )

        plan = _state_plan(resolved, _image_plan(requirement, dataset), problems)
        if dataset.sequences is not None and len(plan.names) == 1:
            # frames of one sequence are not independent: whole sequences are resampled
            # (a cluster bootstrap), each sequence weighing its in-scope frames
            sequence = dataset.sequences[0]
            _, owner = np.unique(sequence, return_inverse=True)
            in_scope = plan.codes >= 0
            frames = np.flatnonzero(in_scope)
            order = np.argsort(owner[frames], kind="stable")
            by_sequence = np.split(frames[order], np.flatnonzero(np.diff(owner[frames][order])) + 1)
            resolved["resampling_unit"] = "sequences (a cluster bootstrap)"

            def statistic(idx: NDArray[np.int64]) -> float:
                counts = np.bincount(idx, minlength=len(by_sequence))
                weights = np.zeros(n, dtype=np.int64)
                for chosen in np.flatnonzero(counts):
                    weights[by_sequence[chosen]] += counts[chosen]
                return float(average_precision(runs, weights=weights))

            units = SlicePlan(plan.names, plan.cells, np.zeros(len(by_sequence), np.int64), 0, 0)
            slices = judge_bootstrap(
                statistic,
                units,
                np.ones(len(by_sequence), dtype=bool),
                threshold=requirement.threshold,
                comparison=resolved["comparison"],
                confidence=resolved["confidence"],
                proportion=False,
            )
        else:
            resolved["resampling_unit"] = "images"

            def statistic(idx: NDArray[np.int64]) -> float:
                weights = np.bincount(idx, minlength=n)
                return float(average_precision(runs, weights=weights))

            slices = judge_bootstrap(
                statistic,
                plan,
                np.ones(n, dtype=bool),
                threshold=requirement.threshold,
                comparison=resolved["comparison"],
                confidence=resolved["confidence"],
                proportion=False,
            )
            if dataset.sequences is not None:  # no bound over images stands for sequences
                slices = [
                    replace(
                        part,
                        verdict="inconclusive",
                        reason=f"{part.reason}; but frames of one sequence are not "
                        "independent and AP over several slices is not resampled by "
                        "sequence: no verdict is claimed",
                    )
                    if part.verdict != "inconclusive"
                    else part
                    for part in slices
                ]
        return RequirementResult(
            requirement, dataset.letter, check, "bootstrap", slices, resolved, problems
        )


def _metric(name: str, fallback: _Builtin | None = None) -> DetectionMetric:
    return DetectionMetric(BUILTIN_SPECS[name], fallback=fallback)


RECALL = _metric("recall", _RECALL)
FNR = _metric("fnr", _FNR)
PRECISION = _metric("precision", _PRECISION)
IMAGE_RECALL = _metric("image_recall")
FALSE_POSITIVES_PER_IMAGE = _metric("false_positives_per_image")
IMAGE_FALSE_POSITIVE_RATE = _metric("image_false_positive_rate")
AVERAGE_PRECISION = _metric("average_precision")
PREDICTION_STABILITY = _metric("prediction_stability", _PREDICTION_STABILITY)
