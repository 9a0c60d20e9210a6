"""COCO average precision from :func:`~amlas.checks._matching.match`, and its bootstrap.

:func:`average_precision` computes what ``COCOeval.accumulate`` and ``summarize`` compute
for the area range "all" at the ``max_detections`` of the matching: per class, the kept
detections that are not ignored are put in COCO's order (score, highest first; equal scores
by image, then by their order within the image), cumulative true and false positives give
recall ``tp / positives`` and precision ``tp / (tp + fp + eps)`` (``eps`` is
``np.spacing(1)``, as COCO adds), precision is made non-increasing from the right, and read
at the 101 recall thresholds ``np.linspace(0, 1, 101)`` (the first detection reaching each;
0 beyond the highest recall reached). AP is the mean of those values over recall
thresholds, classes with at least one positive (a class without positives has no AP and is
left out, as COCO's -1 entries are) and the IoU thresholds of the matchings given (one
matching per threshold: AP@[.5:.95] is ten). NaN when no class has a positive.

Only the precision at true positives is needed: precision falls at every false positive, so
its running maximum from the right is reached at a true positive, and recall rises only
there. The computation therefore keeps, per class, the true positives in order and the
number of false positives before each.

**Weights.** A bootstrap resample of images is a vector of multiplicities: image ``i``
appears ``w[i]`` times. With integer ``weights`` (one row, or ``(B, n_images)`` for ``B``
resamples at once) every count becomes a weighted cumulative sum over the same order, so
no resample is re-matched or re-sorted: matching is per image, so a copy of an image has
the same matches. The positions where recall crosses each threshold are found with one
``searchsorted`` over all rows (each row offset into its own range of integers). The
result equals COCO AP on the data set holding each image ``w[i]`` times, with the copies of
a detection next to each other; COCO, given such a data set, would interleave the copies of
two equally-scored detections of one image (a1 b1 a2 b2, not a1 a2 b1 b2), which can move a
precision value read inside a run of equal scores. So the two agree exactly (tested) when
no two detections of one image and class share a score, and otherwise differ slightly
(1.7e-5 in AP50 on 1,000 generated images whose scores take 40 values). Rows are processed
in chunks so that no intermediate array exceeds :data:`BLOCK` values.

:func:`bootstrap_ap` is the seeded percentile bootstrap over images (the unit of analysis:
matching is per image, objects in one image are not independent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from amlas.checks._boxes import Boxes
from amlas.checks._matching import Matches
from amlas.errors import ValueProblem

__all__ = [
    "BLOCK",
    "RECALL_THRESHOLDS",
    "BootstrapAP",
    "average_precision",
    "bootstrap_ap",
    "precision_at_recall",
]

RECALL_THRESHOLDS = np.linspace(0.0, 1.0, 101)
"""COCO's recall thresholds (``np.linspace``, as COCO builds them, not ``np.arange``)."""

BLOCK = 1 << 22
"""Most values in one intermediate array (rows of weights times detections of a class)."""

_EPS = np.spacing(1)


@dataclass(frozen=True)
class _Run:
    """One class at one IoU threshold: its true positives in COCO's order."""

    tp_image: NDArray[np.int64]
    fp_image: NDArray[np.int64]
    """Images of the false positives, in COCO's order."""
    fp_before: NDArray[np.int64]
    """For each true positive, how many false positives precede it."""
    pos_image: NDArray[np.int64]
    pos_count: NDArray[np.int64]
    """Images holding positives of the class, and how many each holds."""


def _runs(matches: Matches) -> tuple[NDArray[np.int64], list[_Run]]:
    """The evaluated classes with a positive (or ``[-1]`` for class-agnostic) and a run each."""
    gt, dt = matches.gt, matches.dt
    positive = matches.gt_evaluated & ~matches.gt_ignored
    counted = matches.dt_kept & ~matches.dt_ignored
    assert dt.score is not None
    if matches.class_agnostic:
        classes = np.array([-1], np.int64) if positive.any() else np.zeros(0, np.int64)
        gt_class, dt_class = np.full(len(gt), -1), np.full(len(dt), -1)
    else:
        classes = np.unique(gt.cls[positive])
        gt_class, dt_class = gt.cls, dt.cls
    rows = np.flatnonzero(counted)
    rows = rows[np.lexsort((matches.dt_rank[rows], dt.image[rows], -dt.score[rows]))]
    rows = rows[np.argsort(dt_class[rows], kind="stable")]
    starts = np.searchsorted(dt_class[rows], classes, side="left")
    ends = np.searchsorted(dt_class[rows], classes, side="right")
    # positives per (class, image), found once and cut by class
    pairs, per_pair = np.unique(
        np.column_stack([gt_class[positive], gt.image[positive]]), axis=0, return_counts=True
    )
    cuts = np.searchsorted(pairs[:, 0], classes, side="left")
    cut_ends = np.searchsorted(pairs[:, 0], classes, side="right")
    runs = []
    for a, b, p, q in zip(starts, ends, cuts, cut_ends, strict=True):
        seq = rows[a:b]
        tp = matches.dt_tp[seq]
        images, counts = pairs[p:q, 1], per_pair[p:q]
        runs.append(
            _Run(
                tp_image=dt.image[seq[tp]],
                fp_image=dt.image[seq[~tp]],
                fp_before=np.flatnonzero(tp) - np.arange(int(tp.sum())),
                pos_image=images,
                pos_count=counts.astype(np.int64),
            )
        )
    return classes, runs


def _needed(positives: NDArray[np.float64]) -> NDArray[np.float64]:
    """The fewest true positives whose recall, computed as COCO does (``tp / positives``
    in floating point), reaches each recall threshold: ``(rows, 101)``. ``ceil(r * P)``,
    moved by one where its rounding disagrees with the division's (``0.07 * 100`` is
    ``7.000000000000001``, yet ``7 / 100 >= 0.07``)."""
    p = np.where(positives > 0, positives, 1.0)[:, None]
    need = np.ceil(RECALL_THRESHOLDS * p)
    need = np.where((need >= 1) & ((need - 1) / p >= RECALL_THRESHOLDS), need - 1, need)
    need = np.where(need / p < RECALL_THRESHOLDS, need + 1, need)
    return need


def _precision(run: _Run, wt: NDArray[np.float64]) -> NDArray[np.float64]:
    """Interpolated precision at the recall thresholds, ``(rows, 101)``, of one run under
    image weights ``wt`` (``(n_images, rows)``: one column per weighting, whole numbers as
    floats); NaN rows where the weighted class has no positive."""
    rows, n_tp = wt.shape[1], len(run.tp_image)
    positives = run.pos_count.astype(np.float64) @ wt[run.pos_image]
    nothing = np.full((rows, len(RECALL_THRESHOLDS)), np.nan)
    if n_tp == 0:
        return np.where(positives[:, None] > 0, 0.0, nothing)
    # gather whole rows of weights (fast), then sum along contiguous memory (fast)
    tp = np.cumsum(np.ascontiguousarray(wt[run.tp_image].T), axis=1)
    fp = np.zeros_like(tp)
    seen = run.fp_before > 0
    if seen.any():
        fp_all = np.cumsum(np.ascontiguousarray(wt[run.fp_image].T), axis=1)
        fp[:, seen] = fp_all[:, run.fp_before[seen] - 1]
    precision = tp / (fp + tp + _EPS)
    envelope = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    need = _needed(positives)
    # first true positive where the cumulative count reaches `need`, every row at once:
    # row b is shifted by b * span so that all rows make one ascending array
    span = float(tp[:, -1].max()) + 2.0
    offset = np.arange(rows, dtype=np.float64)[:, None] * span
    at = np.searchsorted((tp + offset).ravel(), (need + offset).ravel(), side="left")
    at = at.reshape(rows, -1) - np.arange(rows)[:, None] * n_tp
    picked = np.take_along_axis(envelope, np.minimum(at, n_tp - 1), axis=1)
    return np.where(positives[:, None] > 0, np.where(at < n_tp, picked, 0.0), nothing)


def _weights(weights: ArrayLike | None, n_images: int) -> tuple[NDArray[np.int64], bool]:
    if weights is None:
        return np.ones((1, n_images), np.int64), True
    w = np.asarray(weights)
    single = w.ndim == 1
    if w.ndim not in (1, 2) or w.shape[-1] != n_images:
        raise ValueProblem(
            f"weights of shape {w.shape}; expected ({n_images},) or (resamples, {n_images}): "
            "one multiplicity per image",
            code="R002",
            value=w.shape,
        )
    if not (np.issubdtype(w.dtype, np.integer) or w.dtype == np.bool_) or (w < 0).any():
        raise ValueProblem(
            "weights must be whole numbers >= 0 (how many times each image is drawn)",
            code="R002",
            value=str(w.dtype),
        )
    return np.atleast_2d(w).astype(np.int64), single


def _prepared(matches: Matches | Sequence[Matches]) -> list[tuple[NDArray[np.int64], list[_Run]]]:
    many = [matches] if isinstance(matches, Matches) else list(matches)
    if not many:
        raise ValueProblem("no matchings given; expected one per IoU threshold", code="R002")
    first = many[0]
    for other in many[1:]:
        same = (
            _same(other.gt, first.gt)
            and _same(other.dt, first.dt)
            and other.class_agnostic == first.class_agnostic
            and other.max_detections == first.max_detections
            and other.score_threshold == first.score_threshold
            and np.array_equal(
                np.asarray(other.classes if other.classes is not None else []),
                np.asarray(first.classes if first.classes is not None else []),
            )
        )
        if not same:
            raise ValueProblem(
                "matchings differ in more than their IoU threshold (boxes, classes, score "
                "threshold, max_detections or class_agnostic); AP averages one matching "
                "per threshold of the same boxes",
                code="R002",
            )
    return [_runs(m) for m in many]


def _same(a: Boxes, b: Boxes) -> bool:
    if a is b:
        return True
    return (
        a.n_images == b.n_images
        and np.array_equal(a.image, b.image)
        and np.array_equal(a.cls, b.cls)
        and np.array_equal(a.xyxy, b.xyxy, equal_nan=True)
        and np.array_equal(a.crowd, b.crowd)
        and (
            a.score is b.score
            or (
                a.score is not None
                and b.score is not None
                and np.array_equal(a.score, b.score, equal_nan=True)
            )
        )
    )


def _chunks(runs: list[tuple[NDArray[np.int64], list[_Run]]], n_images: int) -> int:
    widest = max([n_images, *(len(r.tp_image) + len(r.fp_image) for _, rs in runs for r in rs)])
    return max(1, BLOCK // max(widest, 1))


def precision_at_recall(
    matches: Matches | Sequence[Matches], *, weights: ArrayLike | None = None
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The classes with a positive (ascending; ``[-1]`` when class-agnostic) and COCO's
    interpolated precision at :data:`RECALL_THRESHOLDS` for each: shape ``(T, K, 101)``
    for ``T`` matchings (IoU thresholds), or ``(B, T, K, 101)`` for ``(B, n_images)``
    weights. NaN for a class with no positive in a weighted resample. (COCO's
    ``eval['precision'][t, :, k, 0, -1]`` holds the same numbers, with -1 for NaN.)"""
    runs = _prepared(matches)
    first = matches if isinstance(matches, Matches) else matches[0]
    w, single = _weights(weights, first.gt.n_images)
    wt = np.ascontiguousarray(w.T, dtype=np.float64)
    out = np.stack(
        [
            np.stack([_precision(run, wt) for run in rs], axis=1)
            if rs
            else np.zeros((len(w), 0, len(RECALL_THRESHOLDS)))
            for _, rs in runs
        ],
        axis=1,
    )
    return runs[0][0], (out[0] if weights is None or single else out)


@overload
def average_precision(matches: Matches | Sequence[Matches], *, weights: None = None) -> float: ...
@overload
def average_precision(
    matches: Matches | Sequence[Matches], *, weights: ArrayLike
) -> float | NDArray[np.float64]: ...
def average_precision(
    matches: Matches | Sequence[Matches], *, weights: ArrayLike | None = None
) -> float | NDArray[np.float64]:
    """COCO AP over the matchings given (one per IoU threshold), see the module's
    description. ``weights``: None or one multiplicity per image gives a float; a
    ``(B, n_images)`` array gives the AP of each of the ``B`` weightings."""
    runs = _prepared(matches)
    first = matches if isinstance(matches, Matches) else matches[0]
    w, single = _weights(weights, first.gt.n_images)
    result = _ap(runs, w)
    return float(result[0]) if weights is None or single else result


def _ap(
    runs: list[tuple[NDArray[np.int64], list[_Run]]], w: NDArray[np.int64]
) -> NDArray[np.float64]:
    """AP of each row of ``w`` (``(B, n_images)``), in chunks of rows."""
    step = _chunks(runs, w.shape[1])
    parts = [
        _ap_columns(runs, np.ascontiguousarray(w[a : a + step].T, dtype=np.float64))
        for a in range(0, len(w), step)
    ]
    return np.concatenate(parts)


def _ap_columns(
    runs: list[tuple[NDArray[np.int64], list[_Run]]], wt: NDArray[np.float64]
) -> NDArray[np.float64]:
    """AP of each column of ``wt`` (``(n_images, rows)``): the mean over thresholds, recall
    points and classes with a positive, summed in COCO's order (threshold, recall point,
    class), so that one column gives COCO's figure to the last bit or two."""
    rows = wt.shape[1]
    curves = np.stack(
        [
            np.stack([_precision(run, wt) for run in rs], axis=2)
            if rs
            else np.zeros((rows, len(RECALL_THRESHOLDS), 0))
            for _, rs in runs
        ],
        axis=1,
    )  # (rows, T, R, K)
    flat = curves.reshape(rows, -1)
    present = ~np.isnan(flat)
    count = present.sum(axis=1)
    total = np.where(present, flat, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean: NDArray[np.float64] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return mean


class BootstrapAP(NamedTuple):
    """AP on the data and its percentile bootstrap interval over images."""

    estimate: float
    lower: float
    upper: float


def bootstrap_ap(
    matches: Matches | Sequence[Matches],
    *,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapAP:
    """AP and its two-sided percentile bootstrap interval at ``confidence``: ``resamples``
    draws of ``n_images`` images with replacement (``numpy.random.default_rng(seed)``, so
    the same seed gives the same interval), each scored as a weighted AP without
    re-matching. Resamples in which no class has a positive have no AP and are left out.
    With fewer than two images, or no AP at all, the interval is the whole range [0, 1]."""
    if not 0 < confidence < 1:
        raise ValueProblem(
            f"confidence={confidence!r}; expected a level in (0, 1) such as 0.95",
            code="R002",
            value=confidence,
        )
    if not (isinstance(resamples, int) and resamples >= 1):
        raise ValueProblem(
            f"resamples={resamples!r}; expected a whole number >= 1", code="R002", value=resamples
        )
    runs = _prepared(matches)
    first = matches if isinstance(matches, Matches) else matches[0]
    n = first.gt.n_images
    estimate = float(_ap(runs, np.ones((1, n), np.int64))[0])
    if n < 2 or np.isnan(estimate):
        return BootstrapAP(estimate, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    step = _chunks(runs, n)
    values = []
    for a in range(0, resamples, step):
        rows = min(step, resamples - a)
        drawn = rng.integers(0, n, size=(rows, n)) * rows + np.arange(rows)[:, None]
        wt = np.bincount(drawn.ravel(), minlength=n * rows).reshape(n, rows)
        values.append(_ap_columns(runs, wt.astype(np.float64)))
    ap = np.concatenate(values)
    ap = ap[~np.isnan(ap)]
    if len(ap) == 0:
        return BootstrapAP(estimate, 0.0, 1.0)
    tail = (1 - confidence) / 2
    lower, upper = np.quantile(ap, [tail, 1 - tail])
    return BootstrapAP(estimate, float(lower), float(upper))
