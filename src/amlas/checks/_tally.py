"""A proportion requirement judged from counts that add up: the same verdicts on a dataset
read whole or in chunks.

A proportion's verdict per slice depends only on its counts (trials and successes per
slice, then the exact bounds and Holm's correction across slices), so a dataset read in
chunks is judged by tallying each chunk (:func:`tally_proportion`), adding the tallies in
order (:meth:`ProportionTally.merge`) and judging the sum once (:func:`judge_proportion`).
Everything else a record states adds up too: the units left out (outside the ODD, without
a band, excluded by a precondition), the units counted against the requirement (their
number, and the first :data:`MAX_LISTED_IDS` ids in dataset order), the samples whose
prediction or label forbids a verdict. :func:`evaluate_requirement` judges a whole dataset
through the same two functions, so the two ways cannot drift apart: a one-chunk tally is
the whole dataset.

Not tallied (judged whole, see :func:`streams`): units that are not independent (the
frames of a sequence: a bootstrap over whole sequences checks the bound), decisions under
a perturbation (a perturbation may draw over the whole set), and metrics that are not a
proportion (bootstrap metrics resample the whole set).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.checks._datasets import Dataset
from amlas.checks._intervals import Comparison, decide_slices
from amlas.checks._metrics import (
    BOOTSTRAP_METRICS,
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    ECE_BINS,
    MAX_LISTED_IDS,
    PROPORTIONS,
    Indicator,
    Predictions,
    RequirementResult,
    base_resolved,
    bootstrap_slices,
    class_indicator,
    evaluate_indicator,
    plan_problems,
    prepare,
    proportion_indicator,
    slice_result,
)
from amlas.checks._slices import SlicePlan
from amlas.project.artefacts import MLSafetyRequirement

__all__ = [
    "ProportionTally",
    "evaluate_requirement",
    "judge_proportion",
    "streams",
    "tally_proportion",
]

_PERTURBED = frozenset({"robust_accuracy", "prediction_stability"})
_ADDED = ("kept", "excluded", "missing")
"""The counts of a precondition statement, which add up over chunks."""


def streams(requirement: MLSafetyRequirement) -> bool:
    """Whether ``requirement`` is judged from tallies that add up over chunks (its dataset
    must also have no sequences: the caller checks)."""
    return requirement.metric in PROPORTIONS and requirement.metric not in _PERTURBED


@dataclass
class _Listed:
    """Units of one kind: how many, the first ids in dataset order, and (for labels and
    predictions outside the classes) the distinct values seen."""

    count: int = 0
    ids: list[str] = field(default_factory=list)
    values: set[str] = field(default_factory=set)

    def add(self, ids: NDArray[np.str_], mask: NDArray[np.bool_], values: Any = None) -> None:
        chosen = np.flatnonzero(mask)
        if not len(chosen):
            return
        self.count += len(chosen)
        room = MAX_LISTED_IDS - len(self.ids)
        if room > 0:
            self.ids.extend(str(x) for x in ids[chosen[:room]])
        if values is not None:
            self.values.update(str(v) for v in np.unique(values[chosen]).tolist())

    def merge(self, other: _Listed) -> None:
        self.count += other.count
        self.ids.extend(other.ids[: max(0, MAX_LISTED_IDS - len(self.ids))])
        self.values |= other.values


@dataclass
class ProportionTally:
    """What a proportion requirement needs of one dataset, or of chunks of it read in
    order (see the module docs)."""

    requirement: str
    resolved: dict[str, Any]
    """What every record of the requirement states that does not add up (metric,
    comparison, confidence, class, slices), as :func:`prepare` builds it."""
    names: list[str]
    cells: list[dict[str, str]]
    trials: NDArray[np.int64]
    successes: NDArray[np.int64]
    against: list[_Listed]
    """Per slice: the units counted against the requirement (misses for 'at least'
    metrics, offending units for 'at most' ones)."""
    outside_odd: int
    unbanded: int
    precondition: dict[str, Any] | None
    stated_problems: list[str]
    """Problems the plan states (a precondition that cannot choose these units)."""
    invalid: _Listed = field(default_factory=_Listed)
    foreign: _Listed = field(default_factory=_Listed)
    unknown: _Listed = field(default_factory=_Listed)
    classes: list[str] = field(default_factory=list)
    samples: int = 0

    def merge(self, other: ProportionTally) -> ProportionTally:
        """Add ``other`` (the next chunk) to this tally, in place; returns self."""
        if other.names != self.names or other.resolved != self.resolved:
            raise ValueError(f"{self.requirement}: tallies of different plans cannot be added")
        self.trials = self.trials + other.trials
        self.successes = self.successes + other.successes
        for mine, theirs in zip(self.against, other.against, strict=True):
            mine.merge(theirs)
        self.outside_odd += other.outside_odd
        self.unbanded += other.unbanded
        if self.precondition is not None and other.precondition is not None:
            for name in _ADDED:
                if name in self.precondition:
                    self.precondition[name] += other.precondition[name]
        self.invalid.merge(other.invalid)
        self.foreign.merge(other.foreign)
        self.unknown.merge(other.unknown)
        self.samples += other.samples
        return self

    @property
    def listed_ids(self) -> set[str]:
        """Every sample id this tally names (they stay sealed with sealed data)."""
        out: set[str] = set()
        for part in (*self.against, self.invalid, self.foreign, self.unknown):
            out.update(part.ids)
        return out


def tally_proportion(
    requirement: MLSafetyRequirement,
    dataset: Dataset,
    predictions: Predictions,
    *,
    classes: list[str],
) -> ProportionTally:
    """The counts of ``requirement``'s proportion on ``dataset`` (a whole dataset or one
    chunk of it), from precomputed predictions."""
    metric = requirement.metric
    assert metric is not None
    assert streams(requirement)
    plan = dataset.plan_of(requirement)
    resolved = base_resolved(requirement, predictions)  # as prepare() states it
    comparison: Comparison = resolved["comparison"]
    if metric == "accuracy":
        outcomes = _outcomes(dataset, predictions, plan, None)
    else:
        assert resolved["class"] is not None
        outcomes = _outcomes(dataset, predictions, plan, resolved["class"])
    # (trial, success) of each of the 8 outcomes; unusable predictions leave the
    # denominator
    cell = np.arange(_OUTCOMES)
    first, second = (cell & 2).astype(bool), (cell & 1).astype(bool)
    if metric == "accuracy":
        trial_of, success_of = np.ones(_OUTCOMES, dtype=bool), first
    else:
        trial_of, success_of = class_indicator(metric, first, second)
    trial_of = trial_of & ~(cell & 4).astype(bool)
    success_of = trial_of & success_of
    slices = len(plan.names)
    table = outcomes.counts
    # the units against the requirement (in scope, counted, a miss or an offence)
    against_of = trial_of & (~success_of if comparison == "at_least" else success_of)
    listed = _against(dataset, outcomes, against_of, slices)
    against = []
    for count, ids in zip((table @ against_of).tolist(), listed, strict=True):
        part = _Listed()
        part.count = int(count)
        part.ids = list(ids)
        against.append(part)
    tally = ProportionTally(
        requirement=requirement.id,
        resolved=resolved,
        names=list(plan.names),
        cells=[dict(c) for c in plan.cells],
        trials=(table @ trial_of).astype(np.int64),
        successes=(table @ success_of).astype(np.int64),
        against=against,
        outside_odd=int(plan.outside_odd),
        unbanded=int(plan.unbanded),
        precondition=dict(plan.precondition) if plan.precondition is not None else None,
        stated_problems=plan_problems(plan),
        classes=list(classes),
        samples=len(dataset),
    )
    # the samples whose prediction or label forbids a verdict: looked for in scope only
    # where there are any at all (usually none)
    problems: list[tuple[_Listed, NDArray[np.bool_], NDArray[np.str_] | None]] = [
        (tally.invalid, predictions.invalid, None)
    ]
    if classes:
        problems += [
            (tally.foreign, predictions.foreign(classes), predictions.labels),
            (tally.unknown, dataset.unknown_labels(classes), dataset.labels),
        ]
    for part, mask, values in problems:
        if len(mask) == len(plan.codes) and mask.any():
            part.add(dataset.ids, mask & (plan.codes >= 0), values)
    return tally


_OUTCOMES = 8
"""The outcomes of a unit a proportion is counted from: bit 2, its prediction is
unusable; bit 1, its label is the class (accuracy: its prediction is its label); bit 0,
it is predicted as the class."""


@dataclass(frozen=True)
class _Outcomes:
    """Every unit's slice and outcome as one small integer, ``(slice + 1) * 8 +
    outcome`` (out-of-scope units, code -1, in group 0), and the number of units of every
    slice and outcome: every proportion of one class (or accuracy) is a sum of these
    counts, so the requirements judged on one plan share one pass over the samples."""

    key: NDArray[np.signedinteger[Any]]
    counts: NDArray[np.int64]
    """Per slice (group 0 left out), per outcome."""
    listed: dict[bytes, list[list[str]]] = field(default_factory=dict)
    """The ids listed per slice, per set of outcomes against a requirement."""


def _outcomes(
    dataset: Dataset, predictions: Predictions, plan: SlicePlan, cls: str | None
) -> _Outcomes:
    """The :class:`_Outcomes` of ``cls`` (None: accuracy's prediction equal to label)
    under ``plan``, computed once per plan, predictions and class."""
    memo = f"outcomes:{id(plan)}:{id(predictions)}:{cls!r}"
    # held by identity (a copy of the dataset shares its memo) and the predictions
    # weakly: a dataset outlives the predictions of a perturbation or another model
    held = dataset._memo.get(memo)
    if (
        held is not None
        and held[0] is plan
        and held[1] is dataset.ids
        and held[2] is dataset.labels
        and held[3]() is predictions
    ):
        found: _Outcomes = held[4]
        return found
    slices = len(plan.names)
    # built in the narrowest integers that hold it: this is most of a tally's time on a
    # million rows
    narrow = np.int16 if _OUTCOMES * (slices + 1) < np.iinfo(np.int16).max else np.int64
    key: NDArray[np.signedinteger[Any]] = (plan.codes + 1).astype(narrow, copy=False)
    key *= _OUTCOMES
    if cls is None:
        key += predictions.same_as_labels(dataset).view(np.int8) * np.int8(2)
    else:
        key += dataset.label_is(cls).view(np.int8) * np.int8(2)
        key += predictions.predicted_is(cls).view(np.int8)
    invalid = predictions.invalid
    if len(invalid) == len(key) and invalid.any():
        key += invalid.view(np.int8) * np.int8(4)
    counts = np.bincount(key, minlength=_OUTCOMES * (slices + 1))
    found = _Outcomes(key, counts.reshape(-1, _OUTCOMES)[1:].astype(np.int64))
    dataset._memo[memo] = (plan, dataset.ids, dataset.labels, weakref.ref(predictions), found)
    return found


def _against(
    dataset: Dataset, outcomes: _Outcomes, against_of: NDArray[np.bool_], slices: int
) -> list[list[str]]:
    """Per slice, the ids of the first :data:`MAX_LISTED_IDS` units (in dataset order)
    whose outcome ``against_of`` marks, computed once per set of outcomes."""
    memo = against_of.tobytes()
    if memo in outcomes.listed:
        return outcomes.listed[memo]
    marked = np.zeros(_OUTCOMES * (slices + 1), dtype=bool)
    marked[_OUTCOMES:] = np.tile(against_of, slices)
    # the first units of every slice lie in a prefix of the samples: read no further
    # than one that holds as many of each slice as are listed (or all there are),
    # growing it fourfold (the reads add up to at most a third more than the last)
    wanted = np.minimum(outcomes.counts @ against_of, MAX_LISTED_IDS)
    total = len(outcomes.key)
    length = min(total, 64 * MAX_LISTED_IDS * max(slices, 1))
    while True:
        prefix = outcomes.key[:length]
        units = np.flatnonzero(marked[prefix])
        head = prefix[units] // _OUTCOMES - 1
        if length == total or (np.bincount(head, minlength=slices) >= wanted).all():
            break
        length = min(total, 4 * length)
    order = np.argsort(head, kind="stable")  # each slice's units in dataset order
    bounds = np.searchsorted(head[order], np.arange(slices + 1))
    listed = [
        [str(x) for x in dataset.ids[units[order[bounds[i] : bounds[i] + wanted[i]]]].tolist()]
        for i in range(slices)
    ]
    outcomes.listed[memo] = listed
    return listed


def _problems(tally: ProportionTally) -> list[str]:
    """The data problems that forbid a verdict, as :func:`prepare` words them."""
    out = []
    if tally.invalid.count:
        out.append(
            f"{tally.invalid.count} sample(s) have NaN or infinite predictions "
            f"(e.g. {', '.join(tally.invalid.ids[:5])})"
        )
    for part, what in ((tally.foreign, "prediction(s)"), (tally.unknown, "label(s)")):
        if part.count:
            values = sorted(part.values)[:5]
            out.append(
                f"{part.count} {what} outside the declared classes {tally.classes}: "
                f"{', '.join(repr(v) for v in values)} (e.g. {', '.join(part.ids[:5])})"
            )
    return out


def judge_proportion(
    requirement: MLSafetyRequirement, tally: ProportionTally, letter: str
) -> RequirementResult:
    """Judge ``requirement`` on the dataset ``letter`` from its (added-up) tally: exact
    Clopper-Pearson bounds per slice, Holm's correction across slices."""
    assert requirement.threshold is not None
    resolved = dict(tally.resolved)
    resolved.update(
        slices=list(tally.names),
        excluded_outside_odd=tally.outside_odd,
        excluded_without_band=tally.unbanded,
    )
    if tally.precondition is not None:
        resolved["precondition"] = dict(tally.precondition)
    problems = [*tally.stated_problems, *_problems(tally)]
    decisions = decide_slices(
        list(zip(tally.successes.tolist(), tally.trials.tolist(), strict=True)),
        threshold=requirement.threshold,
        comparison=resolved["comparison"],
        confidence=resolved["confidence"],
    )
    resolved.update(method="clopper-pearson", family="Holm" if len(tally.names) > 1 else "none")
    slices = [
        slice_result(name, cell, decision, part.count, list(part.ids))
        for name, cell, decision, part in zip(
            tally.names, tally.cells, decisions, tally.against, strict=True
        )
    ]
    check = (
        f"robustness.{requirement.metric}"
        if requirement.kind == "robustness"
        else f"metric.{requirement.metric}"
    )
    return RequirementResult(
        requirement,
        letter,
        check,
        "clopper-pearson",
        slices,
        resolved,
        problems,
        listed_ids=frozenset(tally.listed_ids),
    )


def evaluate_requirement(
    requirement: MLSafetyRequirement,
    dataset: Dataset,
    predictions: Predictions,
    *,
    classes: list[str],
    perturbed: NDArray[np.str_] | None = None,
    perturbation: dict[str, Any] | None = None,
) -> RequirementResult:
    """Judge ``requirement`` on ``dataset`` from precomputed predictions: a proportion
    of independent samples through its tally (the way a dataset read in chunks is judged),
    anything else on the whole dataset.

    ``perturbed`` holds the predictions under the requirement's perturbation (robust
    accuracy and prediction stability); ``classes`` are the declared classes of [D],
    against which labels are checked.
    """
    metric = requirement.metric
    assert metric is not None
    assert requirement.threshold is not None
    if streams(requirement) and dataset.sequences is None:
        tally = tally_proportion(requirement, dataset, predictions, classes=classes)
        return judge_proportion(requirement, tally, dataset.letter)
    resolved, problems = prepare(requirement, dataset, predictions, classes=classes)
    comparison: Comparison = resolved["comparison"]
    confidence: float = resolved["confidence"]
    n = len(dataset)
    plan = dataset.plan_of(requirement)
    cls = resolved["class"]

    truth, pred = dataset.labels, predictions.labels
    if metric in ("robust_accuracy", "prediction_stability"):
        if perturbed is None:
            raise ValueError(f"{requirement.id}: {metric} needs perturbed predictions")
        resolved["perturbation"] = perturbation or {}
        trial = np.ones(n, dtype=bool)
        success = perturbed == (truth if metric == "robust_accuracy" else pred)
        indicator: Indicator = (trial, success)
    elif metric in PROPORTIONS:
        indicator = proportion_indicator(metric, dataset, predictions, cls)
    elif metric in BOOTSTRAP_METRICS:
        resolved.update(
            method="bootstrap",
            seed=BOOTSTRAP_SEED,
            resamples=BOOTSTRAP_RESAMPLES,
            family="Bonferroni across slices",
        )
        if metric == "expected_calibration_error":
            resolved["bins"] = ECE_BINS
        slices = bootstrap_slices(
            metric,
            requirement.threshold,
            comparison,
            confidence,
            plan,
            dataset,
            predictions,
            cls,
            classes,
        )
        check = f"metric.{metric}"
        return RequirementResult(
            requirement, dataset.letter, check, "bootstrap", slices, resolved, problems
        )
    else:
        raise ValueError(f"{requirement.id}: metric {metric!r} cannot be computed from data")

    check = f"robustness.{metric}" if requirement.kind == "robustness" else f"metric.{metric}"
    trial, success = indicator
    return evaluate_indicator(
        requirement,
        dataset,
        predictions,
        trial,
        success,
        check=check,
        resolved=resolved,
        problems=problems,
    )
