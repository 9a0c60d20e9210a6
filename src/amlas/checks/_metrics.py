"""Evaluate an ML safety requirement [H] on one dataset, slice by slice.

Proportions (recall, FNR, FPR, specificity, precision, NPV, accuracy, false positives per
sample, robust accuracy, prediction stability) are counted per slice with one vectorised
pass each and decided on the exact Clopper-Pearson bound, with Holm's correction across
the slices of one requirement (:func:`~amlas.checks.decide_slices`). Statistics with no
exact method (F1, balanced accuracy, expected calibration error) use a seeded percentile
bootstrap per slice, at a Bonferroni-adjusted level across slices.

Predictions are made once per dataset (:func:`predict`): with a decision threshold in [V]
a binary classifier predicts the positive class when its probability reaches the
threshold; otherwise the most probable class wins.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from amlas.adapters import Model, predict_batched
from amlas.checks._boxes import Boxes
from amlas.checks._datasets import Dataset, text_equals
from amlas.checks._intervals import (
    Comparison,
    Decision,
    Verdict,
    bootstrap_interval,
    decide_slices,
    required_samples,
)
from amlas.checks._preconditions import worst_slice_index
from amlas.checks._slices import SlicePlan
from amlas.errors import ValueProblem
from amlas.project import METRICS
from amlas.project.artefacts import MLSafetyRequirement

__all__ = [
    "BOOTSTRAP_METRICS",
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "ECE_BINS",
    "MAX_LISTED_IDS",
    "PROPORTIONS",
    "Indicator",
    "Predictions",
    "RequirementResult",
    "SliceResult",
    "across_statement",
    "base_resolved",
    "bootstrap_slices",
    "class_indicator",
    "cluster_checked",
    "confidence_of",
    "decide_codes",
    "decide_labels",
    "decision_offsets",
    "evaluate_indicator",
    "finite_rows",
    "judge_bootstrap",
    "overall_verdict",
    "plan_problems",
    "predict",
    "prepare",
    "proportion_indicator",
    "slice_result",
    "state_plan",
]


class _Judged(Protocol):
    @property
    def verdict(self) -> Verdict: ...

    @property
    def reason(self) -> str: ...

    @property
    def threshold(self) -> float: ...


D = TypeVar("D", bound=_Judged)
"""A decision of one slice (a proportion's or a rate's)."""

MAX_LISTED_IDS = 50
"""Failing sample ids listed per slice in a result (the count is always exact)."""

BOOTSTRAP_SEED = 20210201
BOOTSTRAP_RESAMPLES = 2000
ECE_BINS = 10


@dataclass(frozen=True)
class Predictions:
    """The model's outputs on one dataset, computed once and shared by every check."""

    labels: NDArray[np.str_]
    """Predicted class of every sample."""
    proba: NDArray[np.float64] | None
    """Class probabilities in ``classes`` order, when the model gives them."""
    classes: tuple[str, ...]
    positive: str | None
    """The class a decision threshold applies to (binary classifiers)."""
    threshold: float | None
    invalid: NDArray[np.bool_]
    """Samples whose prediction is unusable (NaN or infinite probabilities or values)."""
    values: NDArray[np.float64] | None = None
    """A regressor's predicted value of every sample."""
    boxes: Boxes | None = None
    """A detector's detections over the dataset's images (every score: a requirement's
    matching applies its score threshold)."""
    source: str = "model"
    """Where the predictions come from: 'model' (amlas ran it) or the predictions file."""
    sha256: str | None = None
    """The SHA-256 of the predictions file read (None when amlas ran the model)."""
    codes: NDArray[np.integer[Any]] | None = None
    """The index in ``classes`` of every sample's predicted class, where the decision
    gave it (:func:`predict`): ``labels[i] == classes[codes[i]]``. Comparing a class as
    an integer is what lets the metrics of a million samples cost little beside the
    inference; without it the text of ``labels`` is compared."""
    _memo: dict[str, NDArray[np.bool_]] = field(default_factory=dict, repr=False, compare=False)

    def foreign(self, classes: list[str]) -> NDArray[np.bool_]:
        """Samples predicted as none of ``classes``, computed once per class list."""
        key = "\x00foreign:" + "\x00".join(classes)
        if key not in self._memo:
            if self.codes is not None and set(self.classes) <= set(classes):
                # every prediction is one of self.classes, all of them declared
                self._memo[key] = np.zeros(len(self.labels), dtype=bool)
                return self._memo[key]
            known = np.zeros(len(self.labels), dtype=bool)
            for name in classes:
                known |= self.predicted_is(name)
            self._memo[key] = ~known
        return self._memo[key]

    def predicted_is(self, name: str) -> NDArray[np.bool_]:
        """``labels == name``, computed once per class (from ``codes`` where known)."""
        if name not in self._memo:
            if self.codes is None:
                self._memo[name] = text_equals(self.labels, name)
            else:
                same = np.zeros(len(self.codes), dtype=bool)
                for index, known in enumerate(self.classes):
                    if known == name:
                        same |= self.codes == index
                self._memo[name] = same
        return self._memo[name]

    def same_as_labels(self, dataset: Dataset) -> NDArray[np.bool_]:
        """``labels == dataset.labels`` (accuracy's success), from the predicted classes'
        codes and the dataset's masks of those classes where the codes are known: a
        predicted class is one of ``classes``, so a label equals it exactly when it is
        that class."""
        if self.codes is None or len(self.codes) != len(dataset.labels):
            same: NDArray[np.bool_] = np.asarray(self.labels == dataset.labels, dtype=bool)
            return same
        equal = np.zeros(len(self.codes), dtype=bool)
        for index, name in enumerate(self.classes):
            equal |= dataset.label_is(name) & (self.codes == index)
        return equal


def decision_offsets(predictions: Predictions) -> NDArray[np.float64] | None:
    """Offsets added to the logits so that their argmax is the deployed decision: a
    decision threshold ``t`` on the positive class of a binary classifier decides it when
    ``z_pos - z_neg >= logit(t)``."""
    if predictions.positive is None or predictions.threshold is None:
        return None
    if len(predictions.classes) != 2:
        return None
    t = min(max(predictions.threshold, 1e-12), 1 - 1e-12)
    offsets = np.zeros(2, dtype=np.float64)
    offsets[predictions.classes.index(predictions.positive)] = -math.log(t / (1 - t))
    return offsets


def decide_codes(
    proba: NDArray[np.float64],
    classes: tuple[str, ...],
    *,
    positive: str | None,
    threshold: float | None,
) -> NDArray[np.integer[Any]]:
    """The index in ``classes`` of every sample's decided class (see
    :func:`decide_labels`), without building its text."""
    if positive is not None and threshold is not None and len(classes) == 2:
        pos = classes.index(positive)
        chosen = (proba[:, pos] >= threshold).view(np.int8)
        decided: NDArray[np.integer[Any]] = chosen if pos == 1 else 1 - chosen
        return decided
    best: NDArray[np.integer[Any]] = np.argmax(np.nan_to_num(proba, nan=-1.0), axis=1)
    return best


def decide_labels(
    proba: NDArray[np.float64],
    classes: tuple[str, ...],
    *,
    positive: str | None,
    threshold: float | None,
) -> NDArray[np.str_]:
    """Class decisions from probabilities: the threshold rule for binary classifiers
    with a decision threshold, the most probable class otherwise."""
    names = np.array(classes, dtype=np.str_)
    codes = decide_codes(proba, classes, positive=positive, threshold=threshold)
    decided: NDArray[np.str_] = names.take(codes)
    return decided


def finite_rows(values: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Rows of a 2-D array whose every value is finite, one column at a time: a
    reduction along short rows (``np.isfinite(values).all(axis=1)``) costs ten times
    as much on a million rows of two classes."""
    finite = np.ones(len(values), dtype=bool)
    for j in range(values.shape[1]):
        finite &= np.isfinite(values[:, j])
    return finite


def predict(
    model: Model,
    inputs: NDArray[np.generic],
    *,
    positive: str | None,
    threshold: float | None,
    batch_size: int = 65536,
    progress: Callable[[int], None] | None = None,
) -> Predictions:
    """Run the model once over a dataset, in vectorised batches."""
    if model.has_proba:
        proba = predict_batched(model, inputs, batch_size=batch_size, progress=progress)
        proba = np.asarray(proba, dtype=np.float64)
        invalid = ~finite_rows(proba)
        codes = decide_codes(proba, model.classes, positive=positive, threshold=threshold)
        labels = np.array(model.classes, dtype=np.str_).take(codes)
        return Predictions(labels, proba, model.classes, positive, threshold, invalid, codes=codes)
    labels = np.asarray(
        predict_batched(model, inputs, batch_size=batch_size, proba=False, progress=progress)
    ).astype(np.str_)
    invalid = np.zeros(len(labels), dtype=bool)
    return Predictions(labels, None, model.classes, None, None, invalid)


# -- per-sample indicators -------------------------------------------------------------------

Indicator = tuple[NDArray[np.bool_], NDArray[np.bool_]]
"""(trial, success) per sample: the sample counts in the denominator / the numerator."""


def proportion_indicator(
    metric: str, dataset: Dataset, predictions: Predictions, cls: str | None
) -> Indicator:
    if metric == "accuracy":
        return np.ones(len(dataset), dtype=bool), predictions.same_as_labels(dataset)
    assert cls is not None
    return class_indicator(metric, dataset.label_is(cls), predictions.predicted_is(cls))


def class_indicator(
    metric: str, is_true: NDArray[np.bool_], is_pred: NDArray[np.bool_]
) -> Indicator:
    """(trial, success) of a proportion about one class (every one but accuracy), from
    whether each unit's label is the class and whether it is predicted as it. The one
    definition of these metrics: a tally applies it to the four outcomes instead of every
    sample (:mod:`._tally`)."""
    table: dict[str, Callable[[], Indicator]] = {
        "recall": lambda: (is_true, is_pred),
        "fnr": lambda: (is_true, ~is_pred),
        "fpr": lambda: (~is_true, is_pred),
        "specificity": lambda: (~is_true, ~is_pred),
        "precision": lambda: (is_pred, is_true),
        "npv": lambda: (~is_pred, ~is_true),
        "false_positives_per_sample": lambda: (
            np.ones(len(is_true), dtype=bool),
            is_pred & ~is_true,
        ),
    }
    return table[metric]()


PROPORTIONS = frozenset(
    {
        "recall",
        "fnr",
        "fpr",
        "specificity",
        "precision",
        "npv",
        "accuracy",
        "false_positives_per_sample",
        "robust_accuracy",
        "prediction_stability",
    }
)
BOOTSTRAP_METRICS = frozenset({"f1", "balanced_accuracy", "expected_calibration_error"})


def _f1(truth: NDArray[np.str_], pred: NDArray[np.str_], cls: str) -> float:
    tp = float(np.sum((truth == cls) & (pred == cls)))
    fp = float(np.sum((truth != cls) & (pred == cls)))
    fn = float(np.sum((truth == cls) & (pred != cls)))
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan


def _balanced_accuracy(
    truth: NDArray[np.str_], pred: NDArray[np.str_], classes: list[str]
) -> float:
    recalls = [float(np.mean(pred[truth == c] == c)) for c in classes if np.any(truth == c)]
    return float(np.mean(recalls)) if recalls else math.nan


def _ece(confidence: NDArray[np.float64], correct: NDArray[np.bool_]) -> float:
    """Top-label expected calibration error over equal-width bins."""
    if len(confidence) == 0:
        return math.nan
    bins = np.minimum((confidence * ECE_BINS).astype(np.int64), ECE_BINS - 1)
    gap = np.bincount(bins, weights=confidence - correct, minlength=ECE_BINS)
    return float(np.abs(gap).sum() / len(confidence))


# -- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SliceResult:
    """The verdict for one slice of one requirement, with everything to review it."""

    slice: str
    cell: dict[str, str]
    verdict: Verdict
    estimate: float | None
    lower: float
    upper: float
    bound: float
    threshold: float
    comparison: Comparison
    reason: str
    trials: int
    successes: int | None = None
    additional_samples: int | None = None
    p_pass: float | None = None
    p_fail: float | None = None
    failing_count: int = 0
    failing_ids: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    """What else a metric states about the slice (a count rate's events and exposure,
    the dispersion test its bound rests on, ...), recorded as is."""

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "slice": self.slice,
            "cell": dict(self.cell),
            "verdict": self.verdict,
            "estimate": _finite(self.estimate),
            "lower": _finite(self.lower),
            "upper": _finite(self.upper),
            "bound": _finite(self.bound),
            "threshold": self.threshold,
            "comparison": self.comparison,
            "samples": self.trials,
            "reason": self.reason,
            "failing_count": self.failing_count,
            "failing_ids": list(self.failing_ids),
        }
        if self.successes is not None:
            out["successes"] = self.successes
        if self.additional_samples is not None:
            out["additional_samples"] = self.additional_samples
        if self.p_pass is not None:
            out["p_pass"] = self.p_pass
            out["p_fail"] = self.p_fail
        out.update(self.extra)
        return out


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True)
class RequirementResult:
    """All slices of one requirement on one dataset."""

    requirement: MLSafetyRequirement
    dataset: str
    check: str
    method: str
    slices: list[SliceResult]
    resolved: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    """Reasons the data cannot support a verdict (NaN predictions, unknown labels, ...)."""
    listed_ids: frozenset[str] | None = None
    """Every sample id the result can name, where the metric knows them (a tallied
    proportion); None: any id of the dataset may appear."""

    @property
    def verdict(self) -> Verdict:
        if self.problems:
            return "inconclusive"
        return overall_verdict([s.verdict for s in self.slices])

    @property
    def summary(self) -> str:
        counts = {v: sum(s.verdict == v for s in self.slices) for v in ("pass", "fail")}
        text = (
            f"{self.requirement.id} on [{self.dataset}]: {self.verdict}; "
            f"{counts['pass']}/{len(self.slices)} slices pass"
        )
        if counts["fail"]:
            text += f", {counts['fail']} fail"
        if self.problems:
            text += "; " + "; ".join(self.problems)
        return text


def overall_verdict(verdicts: list[Verdict]) -> Verdict:
    """A requirement holds only where every slice passes; any failure fails it."""
    if not verdicts:
        return "inconclusive"
    if "fail" in verdicts:
        return "fail"
    if "inconclusive" in verdicts:
        return "inconclusive"
    return "pass"


def _listed(ids: NDArray[np.str_], mask: NDArray[np.bool_]) -> tuple[int, list[str]]:
    chosen = ids[mask]
    return len(chosen), [str(x) for x in chosen[:MAX_LISTED_IDS]]


def prepare(
    requirement: MLSafetyRequirement,
    dataset: Dataset,
    predictions: Predictions,
    *,
    classes: list[str],
) -> tuple[dict[str, Any], list[str]]:
    """What every evaluation of ``requirement`` records (metric, comparison, confidence,
    class, slices, exclusions) and the data problems that forbid a verdict."""
    plan = dataset.plan_of(requirement)
    resolved = base_resolved(requirement, predictions)
    problems = state_plan(resolved, plan)
    return resolved, problems + _data_problems(dataset, predictions, plan, classes)


def base_resolved(requirement: MLSafetyRequirement, predictions: Predictions) -> dict[str, Any]:
    """What every record of a requirement's metric states first: the metric, the
    comparison (the metric's direction unless stated), the confidence, the class and the
    decision the predictions were made with."""
    metric = requirement.metric
    assert metric is not None
    spec = METRICS[metric]
    comparison: Comparison = requirement.comparison or (
        "at_least" if spec.higher_is_better else "at_most"
    )
    return {
        "metric": metric,
        "comparison": comparison,
        "confidence": confidence_of(requirement),
        "class": requirement.class_ or predictions.positive,
        "positive_class": predictions.positive,
        "decision_threshold": predictions.threshold,
    }


def confidence_of(requirement: MLSafetyRequirement) -> float:
    """The level ``requirement`` is decided at (``effective_confidence``: its own, else
    the project's default); a coded problem (Q020) when neither states one, never a
    level made up here."""
    level = requirement.effective_confidence
    if level is None:
        raise ValueProblem(
            f"{requirement.id}: no confidence level: the requirement states none and the "
            "project sets no 'defaults: {confidence: ...}'",
            code="Q020",
            path="[H]",
        )
    return level


def state_plan(resolved: dict[str, Any], plan: SlicePlan) -> list[str]:
    """Write into ``resolved`` what every record states of its slices (their names, the
    units left out, the precondition with what it kept) and return the problems the plan
    brings (see :func:`plan_problems`)."""
    resolved.update(
        slices=plan.names,
        excluded_outside_odd=plan.outside_odd,
        excluded_without_band=plan.unbanded,
    )
    if plan.precondition is not None:
        resolved["precondition"] = dict(plan.precondition)
    return plan_problems(plan)


def plan_problems(plan: SlicePlan) -> list[str]:
    """Why a plan allows no verdict: a precondition that cannot choose these units (an
    attribute of a detector's objects for a metric over its images)."""
    reason = (plan.precondition or {}).get("not_applicable")
    return [str(reason)] if reason else []


def across_statement(result: RequirementResult) -> dict[str, Any] | None:
    """For a requirement with ``across`` (robustness across the operating domain): the
    dimensions, the number of bands, the family-wise correction the result applied, and
    the worst band, which decides (its verdict, estimate and bound). None without
    ``across`` or without slices."""
    requirement = result.requirement
    if not requirement.across or not result.slices:
        return None
    at_least = result.slices[0].comparison == "at_least"
    index = worst_slice_index(
        [s.verdict for s in result.slices], [s.bound for s in result.slices], at_least
    )
    worst = result.slices[index]
    return {
        "dimensions": list(requirement.across),
        "bands": len(result.slices),
        "correction": result.resolved.get("family", "none"),
        "decided_by": "the worst band: the requirement holds only where every band passes",
        "worst_band": {
            "slice": worst.slice,
            "cell": dict(worst.cell),
            "verdict": worst.verdict,
            "estimate": _finite(worst.estimate),
            "bound": _finite(worst.bound),
            "samples": worst.trials,
        },
    }


def evaluate_indicator(
    requirement: MLSafetyRequirement,
    dataset: Dataset,
    predictions: Predictions | None,
    trial: NDArray[np.bool_],
    success: NDArray[np.bool_],
    *,
    check: str,
    resolved: dict[str, Any],
    problems: list[str],
    plan: SlicePlan | None = None,
    ids: NDArray[np.str_] | None = None,
    clusters: NDArray[np.int64] | None = None,
) -> RequirementResult:
    """Judge a proportion given per unit of analysis (by default the samples) as (counts
    in the denominator, counts in the numerator), slice by slice with exact bounds and
    Holm's correction. Samples with unusable predictions leave the denominator. For
    another unit (a detector's ground-truth objects, its detections) ``plan`` gives each
    unit's slice and ``ids`` names the units in the result."""
    assert requirement.threshold is not None
    comparison: Comparison = resolved["comparison"]
    confidence: float = resolved["confidence"]
    if plan is None:
        plan = dataset.plan_of(requirement)
    if ids is None:
        ids = dataset.ids
    if (
        predictions is not None
        and len(predictions.invalid) == len(trial)
        and (predictions.invalid.any())
    ):
        trial = trial & ~predictions.invalid
    # one bincount over (slice + 1, trial, success) gives every count of every slice,
    # with out-of-scope samples (code -1) in the first, discarded, group
    key = (plan.codes + 1) * 4 + trial * 2 + success
    table = np.bincount(key, minlength=4 * (len(plan.names) + 1)).reshape(-1, 4)[1:]
    trials, successes = table[:, 2] + table[:, 3], table[:, 3]
    counted = trial & (plan.codes >= 0)
    decisions = decide_slices(
        list(zip(successes.tolist(), trials.tolist(), strict=True)),
        threshold=requirement.threshold,
        comparison=comparison,
        confidence=confidence,
    )
    resolved.update(method="clopper-pearson", family="Holm" if len(plan.names) > 1 else "none")
    if clusters is None and ids is dataset.ids and dataset.sequences is not None:
        clusters = np.unique(dataset.sequences[0], return_inverse=True)[1]
    extras: list[dict[str, Any]] = [{} for _ in plan.names]
    if clusters is not None:
        # units of one sequence are not independent trials: a verdict stands only where a
        # bootstrap over whole sequences agrees with the exact bound
        decisions, extras = cluster_checked(
            decisions,
            plan.codes,
            (trial & success).astype(np.float64),
            trial.astype(np.float64),
            clusters,
            comparison,
            confidence,
        )
        resolved["clusters"] = (
            "sequences: a verdict stands only where a percentile bootstrap over whole "
            "sequences (seeded, Bonferroni across slices) agrees with the exact bound"
        )
    # the samples that count against the requirement: misses for 'at least' metrics,
    # offending samples for 'at most' ones
    against = np.flatnonzero(counted & (~success if comparison == "at_least" else success))
    against_slice = plan.codes[against]
    slices = []
    for index, (name, cell, decision) in enumerate(
        zip(plan.names, plan.cells, decisions, strict=True)
    ):
        members = against[against_slice == index]
        listed = [str(x) for x in ids[members[:MAX_LISTED_IDS]]]
        slices.append(slice_result(name, cell, decision, len(members), listed, extras[index]))
    return RequirementResult(
        requirement, dataset.letter, check, "clopper-pearson", slices, resolved, problems
    )


CLUSTER_RESAMPLES = 2000


def cluster_checked(
    decisions: Sequence[D],
    codes: NDArray[np.int64],
    numerator: NDArray[np.float64],
    denominator: NDArray[np.float64],
    clusters: NDArray[np.int64],
    comparison: Comparison,
    confidence: float,
) -> tuple[list[D], list[dict[str, Any]]]:
    """Each slice's exact decision (of a share or a rate: ``numerator`` over
    ``denominator`` per unit), kept only where a percentile bootstrap over whole clusters
    (sequences) reaches the same verdict; otherwise inconclusive, saying why."""
    m = max(len(decisions), 1)
    level = 1.0 - (1.0 - confidence) / m
    n_clusters = int(clusters.max()) + 1 if len(clusters) else 0
    out: list[D] = []
    extras: list[dict[str, Any]] = []
    for index, decision in enumerate(decisions):
        mask = (denominator > 0) & (codes == index)
        trials = np.bincount(clusters[mask], weights=denominator[mask], minlength=n_clusters)
        hits = np.bincount(clusters[mask], weights=numerator[mask], minlength=n_clusters)
        present = trials > 0
        trials, hits = trials[present], hits[present]
        k = len(trials)
        if k < 2 or decision.verdict == "inconclusive":
            extra: dict[str, Any] = {"sequences": k}
            if k < 2 and decision.verdict != "inconclusive":
                decision = replace(  # type: ignore[type-var]
                    decision,
                    verdict="inconclusive",
                    reason=f"{decision.reason}; but the units come from {k} sequence(s), "
                    "too few to bound a share whose units are not independent",
                )
            out.append(decision)
            extras.append(extra)
            continue
        rng = np.random.default_rng(BOOTSTRAP_SEED + index)
        ratios = []
        for start in range(0, CLUSTER_RESAMPLES, 200):
            weights = rng.multinomial(
                k, np.full(k, 1.0 / k), size=min(200, CLUSTER_RESAMPLES - start)
            )
            ratios.append((weights @ hits) / np.maximum(weights @ trials, 1))
        share = np.concatenate(ratios)
        low, high = float(np.quantile(share, 1 - level)), float(np.quantile(share, level))
        bound, favourable = (low, high) if comparison == "at_least" else (high, low)
        threshold = decision.threshold
        above = comparison == "at_least"
        bound_meets = bound >= threshold if above else bound <= threshold
        favourable_meets = favourable >= threshold if above else favourable <= threshold
        agrees = (decision.verdict == "pass" and bound_meets) or (
            decision.verdict == "fail" and not favourable_meets
        )
        if not agrees:
            decision = replace(  # type: ignore[type-var]
                decision,
                verdict="inconclusive",
                reason=f"{decision.reason}, but over whole sequences (bootstrap over {k}, "
                f"bound {bound:.4f} at {level:.2%}) it cannot be decided: the units of a "
                "sequence are not independent",
            )
        out.append(decision)
        extras.append(
            {"sequences": k, "sequence_bootstrap": {"lower": low, "upper": high, "level": level}}
        )
    return out, extras


def slice_result(
    name: str,
    cell: dict[str, str],
    decision: Decision,
    failing_count: int,
    failing_ids: list[str],
    extra: dict[str, Any] | None = None,
) -> SliceResult:
    """The result of one slice judged by an exact decision (a proportion, a quantile, a
    share of sequences), with the units that count against it."""
    return SliceResult(
        slice=name,
        cell=cell,
        verdict=decision.verdict,
        estimate=decision.estimate,
        lower=decision.interval.lower,
        upper=decision.interval.upper,
        bound=decision.bound,
        threshold=decision.threshold,
        comparison=decision.comparison,
        reason=decision.reason,
        trials=decision.trials,
        successes=decision.successes,
        additional_samples=decision.additional_samples,
        p_pass=decision.p_pass,
        p_fail=decision.p_fail,
        failing_count=failing_count,
        failing_ids=failing_ids,
        extra=dict(extra or {}),
    )


def _data_problems(
    dataset: Dataset, predictions: Predictions, plan: SlicePlan, classes: list[str]
) -> list[str]:
    """Conditions under which no verdict may be claimed, each naming samples."""
    problems = []
    in_scope = plan.codes >= 0
    bad = in_scope & predictions.invalid
    if bad.any():
        count, listed = _listed(dataset.ids, bad)
        problems.append(
            f"{count} sample(s) have NaN or infinite predictions (e.g. {', '.join(listed[:5])})"
        )
    if classes:
        foreign = in_scope & predictions.foreign(classes)
        if foreign.any():
            count, listed = _listed(dataset.ids, foreign)
            values = sorted({str(v) for v in predictions.labels[foreign]})[:5]
            problems.append(
                f"{count} prediction(s) outside the declared classes {classes}: "
                f"{', '.join(repr(v) for v in values)} (e.g. {', '.join(listed[:5])})"
            )
        unknown = in_scope & dataset.unknown_labels(classes)
        if unknown.any():
            count, listed = _listed(dataset.ids, unknown)
            values = sorted({str(v) for v in dataset.labels[unknown]})[:5]
            problems.append(
                f"{count} label(s) outside the declared classes {classes}: "
                f"{', '.join(repr(v) for v in values)} (e.g. {', '.join(listed[:5])})"
            )
    return problems


def bootstrap_slices(
    metric: str,
    threshold: float,
    comparison: Comparison,
    confidence: float,
    plan: SlicePlan,
    dataset: Dataset,
    predictions: Predictions,
    cls: str | None,
    classes: list[str],
) -> list[SliceResult]:
    truth, pred = dataset.labels, predictions.labels
    valid = ~predictions.invalid
    statistic: Callable[[NDArray[np.int64]], float]
    if metric == "expected_calibration_error":
        if predictions.proba is None:
            raise ValueProblem(
                "expected_calibration_error needs a model with probabilities",
                code="R021",
                path="[V]",
            )
        # the stated probability of the class actually decided (which a decision
        # threshold can make differ from the most probable class)
        decided = np.zeros(len(pred), dtype=np.int64)
        for i, name in enumerate(predictions.classes):
            decided[predictions.predicted_is(name)] = i
        top = np.nan_to_num(predictions.proba[np.arange(len(pred)), decided])
        correct = pred == truth

        def statistic(idx: NDArray[np.int64]) -> float:
            return _ece(top[idx], correct[idx])

    elif metric == "f1":
        assert cls is not None
        positive_class = cls

        def statistic(idx: NDArray[np.int64]) -> float:
            return _f1(truth[idx], pred[idx], positive_class)

    else:

        def statistic(idx: NDArray[np.int64]) -> float:
            return _balanced_accuracy(truth[idx], pred[idx], classes)

    return judge_bootstrap(
        statistic, plan, valid, threshold=threshold, comparison=comparison, confidence=confidence
    )


MIN_BOOTSTRAP_SAMPLES = 20
"""Below this many samples a bootstrap bound of a statistic that is not a proportion (a
mean error, say) is not claimed: the resamples are too few to describe its spread."""


def judge_bootstrap(
    statistic: Callable[[NDArray[np.int64]], float],
    plan: SlicePlan,
    valid: NDArray[np.bool_],
    *,
    threshold: float,
    comparison: Comparison,
    confidence: float,
    proportion: bool = True,
) -> list[SliceResult]:
    """Judge ``statistic`` (of the sample indices it is given) slice by slice on a seeded
    percentile bootstrap bound, at a Bonferroni-adjusted level across the slices. A slice
    smaller than the exact-binomial floor of a proportion, or than
    :data:`MIN_BOOTSTRAP_SAMPLES` for any other statistic, stays inconclusive."""
    m = len(plan.names)
    level = 1.0 - (1.0 - confidence) / m  # Bonferroni: no exact Holm for bootstrap bounds
    sign = ">=" if comparison == "at_least" else "<="
    results = []
    for index, (name, cell) in enumerate(zip(plan.names, plan.cells, strict=True)):
        members = np.flatnonzero((plan.codes == index) & valid)
        estimate = statistic(members) if len(members) else math.nan
        # a percentile bootstrap on a handful of samples is degenerate (every resample
        # agrees); below the exact-binomial floor for this threshold nothing is claimed
        if proportion:
            floor = required_samples(threshold, comparison=comparison, confidence=level) or 2
        else:
            floor = MIN_BOOTSTRAP_SAMPLES
        if len(members) < max(2, floor) or not math.isfinite(estimate):
            reason = (
                f"too few samples ({len(members)}) for a bootstrap bound; at least "
                f"{max(2, floor)} are needed before a bound at {level:.2%} can decide"
            )
            results.append(
                SliceResult(
                    name,
                    cell,
                    "inconclusive",
                    None,
                    -math.inf,
                    math.inf,
                    math.nan,
                    threshold,
                    comparison,
                    reason,
                    len(members),
                )
            )
            continue
        # the two ends of a two-sided interval at 2L-1 are the one-sided bounds at L
        interval = bootstrap_interval(
            members,
            lambda idx: statistic(np.asarray(idx, dtype=np.int64)),
            confidence=2 * level - 1,
            seed=BOOTSTRAP_SEED + index,
            resamples=BOOTSTRAP_RESAMPLES,
        )
        lower, upper = interval.lower, interval.upper
        bound = lower if comparison == "at_least" else upper
        favourable = upper if comparison == "at_least" else lower

        def meets(value: float) -> bool:
            return value >= threshold if comparison == "at_least" else value <= threshold

        if not (math.isfinite(lower) and math.isfinite(upper)) or lower == upper:
            verdict: Verdict = "inconclusive"
            reason = (
                "the bootstrap interval is degenerate (undefined in some resamples, or every "
                "resample agrees): no bound can be claimed"
            )
        elif meets(bound):
            verdict = "pass"
            reason = f"the {level:.2%} bootstrap bound {bound:.4f} {sign} {threshold:g}"
        elif not meets(favourable):
            verdict = "fail"
            reason = (
                f"even the favourable {level:.2%} bootstrap bound {favourable:.4f} "
                f"misses {threshold:g}"
            )
        else:
            verdict = "inconclusive"
            reason = (
                f"the {level:.2%} bootstrap bound {bound:.4f} cannot decide {sign} {threshold:g}"
            )
        results.append(
            SliceResult(
                name,
                cell,
                verdict,
                estimate,
                lower,
                upper,
                bound,
                threshold,
                comparison,
                reason,
                len(members),
            )
        )
    return results
