"""Detections matched to ground truth exactly as COCO does, vectorised over images.

:func:`match` reproduces pycocotools' ``COCOeval.evaluateImg`` at one IoU threshold
(:func:`match_thresholds` at several, sharing the work that does not depend on it) with the
area range "all", one image and class at a time (one image at a time with
``class_agnostic``, COCO's ``useCats=0``):

1. detections are kept when their class is evaluated and ``score >= score_threshold``;
   per image and class they are ordered by score, highest first, equal scores in the order
   of their rows (COCO's stable mergesort; with ``class_agnostic``, equal scores in class
   order, then rows, as COCO concatenates its per-class lists), and only the first
   ``max_detections`` are kept (COCO's ``maxDets``);
2. ground truths are ordered with the crowd regions last (stably: rows, or class then rows
   with ``class_agnostic``);
3. each kept detection in turn takes, among the ground truths not yet taken whose IoU with
   it is at least ``min(iou_threshold, 1 - 1e-10)``, the one of highest IoU, equal IoUs
   going to the later one in the order of 2 (COCO replaces its best so far on ``>=``); only
   when no ordinary ground truth qualifies does it fall back to a crowd region, by the
   same rule, measured as intersection over the detection's own area. Crowd regions are
   never used up.

A detection matched to an ordinary ground truth is a true positive, one matched to a crowd
region is ignored (neither true nor false positive), every other kept detection is a false
positive; an ordinary evaluated ground truth left unmatched is a false negative. COCO's
other ignore rule, by area (boxes above 1e10 square units), is not applied.

The greedy rule is sequential only within an image and class, so instead of a loop over
images the matching loops over detection *rank*: round ``r`` settles the ``r``-th detection
of every image and class at once. IoU is computed only for pairs in the same image and
class, found by sorting both sides on that key, in blocks of at most :data:`BLOCK` pairs,
and only pairs at or above the threshold are kept; memory grows with those pairs, never
with the square of the boxes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.checks._box_problems import require_valid
from amlas.checks._boxes import Boxes, pair_iou
from amlas.errors import ValueProblem

__all__ = ["BLOCK", "ImageCounts", "Matches", "image_counts", "match", "match_thresholds"]

BLOCK = 1 << 22
"""Most candidate (detection, ground truth) pairs whose IoU is computed at once."""

_CEILING = 1 - 1e-10  # COCO matches at min(t, 1 - 1e-10), so an IoU of 1 - 1e-11 passes 1.0


@dataclass(frozen=True, eq=False)
class Matches:
    """The outcome of :func:`match`: arrays aligned with ``gt`` and ``dt`` rows."""

    gt: Boxes
    dt: Boxes
    iou_threshold: float
    score_threshold: float | None
    max_detections: int | None
    class_agnostic: bool
    classes: NDArray[np.int64] | None
    """The classes evaluated (ascending), None for every class."""
    gt_evaluated: NDArray[np.bool_]
    """The ground truth's class is evaluated."""
    gt_ignored: NDArray[np.bool_]
    """A crowd region: never a miss, absorbs detections (``gt.crowd``)."""
    gt_matched: NDArray[np.bool_]
    """Found by a detection (for a crowd region: at least one detection fell on it)."""
    gt_detection: NDArray[np.int64]
    """Row in ``dt`` of the detection that found it (a crowd region: the last of them, as
    COCO's ``gtMatches`` records), -1 if none."""
    gt_iou: NDArray[np.float64]
    """IoU with that detection (crowd: intersection over the detection's area), NaN if none."""
    dt_kept: NDArray[np.bool_]
    """Evaluated class, score at least the threshold, within ``max_detections``."""
    dt_tp: NDArray[np.bool_]
    dt_fp: NDArray[np.bool_]
    dt_ignored: NDArray[np.bool_]
    """Kept, and matched to a crowd region: neither true nor false positive."""
    dt_gt: NDArray[np.int64]
    """Row in ``gt`` of the ground truth it matched, -1 if none."""
    dt_iou: NDArray[np.float64]
    """IoU with that ground truth, NaN if none."""
    dt_rank: NDArray[np.int64]
    """Position in its image's (and class's) score order among the detections passing the
    class and score filters, from 0; -1 for the others. Kept means rank < max_detections."""

    @property
    def gt_missed(self) -> NDArray[np.bool_]:
        """False negatives: evaluated, not a crowd region, not matched."""
        missed: NDArray[np.bool_] = self.gt_evaluated & ~self.gt_ignored & ~self.gt_matched
        return missed


@dataclass(frozen=True)
class ImageCounts:
    """Per-image counts of one matching, each an array of length ``n_images``."""

    tp: NDArray[np.int64]
    fp: NDArray[np.int64]
    fn: NDArray[np.int64]
    positives: NDArray[np.int64]
    """Evaluated ground truths that are not crowd regions (tp + fn)."""
    ignored: NDArray[np.int64]
    """Kept detections that fell on a crowd region."""


def image_counts(matches: Matches) -> ImageCounts:
    """True positives, false positives, misses, positives and ignored detections per
    image (``np.bincount`` over the image index)."""
    n = matches.gt.n_images

    def per_image(boxes: Boxes, mask: NDArray[np.bool_]) -> NDArray[np.int64]:
        return np.bincount(boxes.image[mask], minlength=n).astype(np.int64)

    positives = matches.gt_evaluated & ~matches.gt_ignored
    return ImageCounts(
        tp=per_image(matches.dt, matches.dt_tp),
        fp=per_image(matches.dt, matches.dt_fp),
        fn=per_image(matches.gt, matches.gt_missed),
        positives=per_image(matches.gt, positives),
        ignored=per_image(matches.dt, matches.dt_ignored),
    )


def _settings(
    iou_threshold: float,
    score_threshold: float | None,
    classes: Sequence[int] | None,
    max_detections: int | None,
) -> NDArray[np.int64] | None:
    def refuse(name: str, value: object, expected: str) -> ValueProblem:
        return ValueProblem(
            f"{name}={value!r}; expected {expected}", code="R002", value=value, expected=None
        )

    if not (isinstance(iou_threshold, int | float) and 0 < iou_threshold <= 1):
        raise refuse("iou_threshold", iou_threshold, "a number in (0, 1], such as 0.5")
    if score_threshold is not None and not (
        isinstance(score_threshold, int | float) and math.isfinite(score_threshold)
    ):
        raise refuse("score_threshold", score_threshold, "a finite number or None")
    if max_detections is not None and not (
        isinstance(max_detections, int | np.integer) and max_detections >= 1
    ):
        raise refuse("max_detections", max_detections, "a whole number >= 1 or None")
    if classes is None:
        return None
    codes = np.asarray(classes)
    if codes.ndim != 1 or codes.size == 0 or not np.issubdtype(codes.dtype, np.integer):
        raise refuse("classes", classes, "a non-empty list of class codes, or None")
    if (codes < 0).any():
        raise refuse("classes", classes, "class codes >= 0")
    return np.unique(codes.astype(np.int64))


def _ranks(keys: NDArray[np.int64]) -> NDArray[np.int64]:
    """Position of each element within its run of equal ``keys`` (keys sorted)."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n, dtype=np.int64) - np.repeat(starts, lengths)


def match(
    gt: Boxes,
    dt: Boxes,
    *,
    iou_threshold: float,
    score_threshold: float | None = None,
    classes: Sequence[int] | None = None,
    max_detections: int | None = None,
    class_agnostic: bool = False,
) -> Matches:
    """Match detections ``dt`` (with scores) to ground truth ``gt`` over the same images,
    as COCO does at ``iou_threshold`` (see the module's description).

    ``classes`` restricts both sides to those class codes (None: all); ``score_threshold``
    drops detections scoring below it before anything else; ``max_detections`` keeps the
    best-scoring that many per image and class (per image with ``class_agnostic``), None
    for all. Raises :class:`~amlas.errors.ValueProblem` for unusable boxes or settings.
    """
    (matches,) = match_thresholds(
        gt,
        dt,
        iou_thresholds=[iou_threshold],
        score_threshold=score_threshold,
        classes=classes,
        max_detections=max_detections,
        class_agnostic=class_agnostic,
    )
    return matches


def match_thresholds(
    gt: Boxes,
    dt: Boxes,
    *,
    iou_thresholds: Sequence[float],
    score_threshold: float | None = None,
    classes: Sequence[int] | None = None,
    max_detections: int | None = None,
    class_agnostic: bool = False,
) -> list[Matches]:
    """:func:`match` at each of ``iou_thresholds`` (COCO's ten, ``np.linspace(0.5, 0.95,
    10)``, for AP@[.5:.95]). The boxes are checked, ordered and paired once, at the lowest
    threshold; only the greedy assignment runs per threshold."""
    if len(iou_thresholds) == 0:
        raise ValueProblem("no IoU threshold given", code="R002", expected="one or more")
    evaluated = None
    for threshold in iou_thresholds:
        evaluated = _settings(threshold, score_threshold, classes, max_detections)
    if dt.score is None:
        raise ValueProblem(
            "detections have no scores; matching orders each image's detections by score",
            code="R002",
            expected="a score per detection",
        )
    if gt.n_images != dt.n_images:
        raise ValueProblem(
            f"ground truth covers {gt.n_images} images and detections {dt.n_images}; "
            "both must index the same images",
            code="R002",
            value=(gt.n_images, dt.n_images),
        )
    require_valid(gt, what="ground truth")
    require_valid(dt, what="detections")
    score = dt.score
    gt_on = np.ones(len(gt), bool) if evaluated is None else np.isin(gt.cls, evaluated)
    dt_on = np.ones(len(dt), bool) if evaluated is None else np.isin(dt.cls, evaluated)
    if score_threshold is not None:
        dt_on &= score >= score_threshold
    n_cls = int(max(gt.cls.max(initial=0), dt.cls.max(initial=0))) + 1
    gt_key = gt.image if class_agnostic else gt.image * n_cls + gt.cls
    dt_key = dt.image if class_agnostic else dt.image * n_cls + dt.cls

    # detections in COCO's order, ranked within their image (and class)
    d = np.flatnonzero(dt_on)  # ascending: lexsort is stable, so rows break the last ties
    keys = (-score[d], dt_key[d])
    d = d[np.lexsort((dt.cls[d], *keys) if class_agnostic else keys)]
    rank = _ranks(dt_key[d])
    dt_rank = np.full(len(dt), -1, np.int64)
    dt_rank[d] = rank
    if max_detections is not None:
        d, rank = d[rank < max_detections], rank[rank < max_detections]
    dt_kept = np.zeros(len(dt), bool)
    dt_kept[d] = True

    # ground truth in COCO's order: crowd regions last within each image (and class)
    g = np.flatnonzero(gt_on)
    order = (gt.crowd[g], gt_key[g])
    g = g[np.lexsort((gt.cls[g], *order) if class_agnostic else order)]

    lowest = min(iou_thresholds)
    pd, pg, piou = _candidates(gt, dt, g, d, gt_key[g], dt_key[d], lowest)
    out = []
    for threshold in iou_thresholds:
        keep = piou >= min(threshold, _CEILING)
        chosen = _greedy(pd[keep], pg[keep], piou[keep], gt.crowd[g], rank, len(g))
        on = np.flatnonzero(chosen >= 0)  # positions in d of the detections that matched
        pair = chosen[on]
        gt_rows, iou = g[pg[keep][pair]], piou[keep][pair]
        common = {
            "gt": gt,
            "dt": dt,
            "iou_threshold": float(threshold),
            "score_threshold": None if score_threshold is None else float(score_threshold),
            "max_detections": None if max_detections is None else int(max_detections),
            "class_agnostic": bool(class_agnostic),
            "classes": evaluated,
            "gt_evaluated": gt_on,
            "dt_kept": dt_kept,
            "dt_rank": dt_rank,
        }
        out.append(_outcome(common, d[on], rank[on], gt_rows, iou))
    return out


def _outcome(
    common: dict[str, Any],
    dt_rows: NDArray[np.int64],
    dt_rank: NDArray[np.int64],
    gt_rows: NDArray[np.int64],
    iou: NDArray[np.float64],
) -> Matches:
    """The :class:`Matches` of the matched pairs ``(dt_rows[i], gt_rows[i])``."""
    gt: Boxes = common["gt"]
    dt: Boxes = common["dt"]
    crowd = gt.crowd[gt_rows]
    dt_gt = np.full(len(dt), -1, np.int64)
    dt_gt[dt_rows] = gt_rows
    dt_iou = np.full(len(dt), np.nan)
    dt_iou[dt_rows] = iou
    dt_tp = np.zeros(len(dt), bool)
    dt_tp[dt_rows[~crowd]] = True
    dt_ignored = np.zeros(len(dt), bool)
    dt_ignored[dt_rows[crowd]] = True
    # a crowd region records the last detection it absorbed (the highest rank)
    last = np.lexsort((dt_rank, gt_rows))
    last = last[np.r_[gt_rows[last][1:] != gt_rows[last][:-1], True][: len(last)]]
    gt_detection = np.full(len(gt), -1, np.int64)
    gt_detection[gt_rows[last]] = dt_rows[last]
    gt_iou = np.full(len(gt), np.nan)
    gt_iou[gt_rows[last]] = iou[last]
    return Matches(
        **common,
        gt_ignored=gt.crowd.copy(),
        gt_matched=gt_detection >= 0,
        gt_detection=gt_detection,
        gt_iou=gt_iou,
        dt_tp=dt_tp,
        dt_fp=common["dt_kept"] & ~dt_tp & ~dt_ignored,
        dt_ignored=dt_ignored,
        dt_gt=dt_gt,
        dt_iou=dt_iou,
    )


def _candidates(
    gt: Boxes,
    dt: Boxes,
    g: NDArray[np.int64],
    d: NDArray[np.int64],
    gk: NDArray[np.int64],
    dk: NDArray[np.int64],
    iou_threshold: float,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Pairs (position in ``d``, position in ``g``, IoU) in the same group with IoU at
    least the threshold, built from the sorted keys block by block."""
    lo = np.searchsorted(gk, dk, side="left")
    count = np.searchsorted(gk, dk, side="right") - lo
    ends = np.cumsum(count)
    threshold = min(iou_threshold, _CEILING)  # pairs below it can never match
    found: list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]] = []
    a = 0
    while a < len(d):
        # the most detections from a whose pairs fit in one block (at least one)
        b = max(int(np.searchsorted(ends, (ends[a - 1] if a else 0) + BLOCK, "right")), a + 1)
        c = count[a:b]
        total = int(c.sum())
        if total:
            di = np.repeat(np.arange(a, b, dtype=np.int64), c)
            offset = np.repeat(np.cumsum(c) - c, c)
            gi = np.repeat(lo[a:b], c) + np.arange(total, dtype=np.int64) - offset
            iou = pair_iou(dt.xyxy[d[di]], gt.xyxy[g[gi]], gt.crowd[g[gi]])
            ok = iou >= threshold
            found.append((di[ok], gi[ok], iou[ok]))
        a = b
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    pd, pg, piou = (np.concatenate(parts) for parts in zip(*found, strict=True))
    return pd, pg, piou


def _greedy(
    pd: NDArray[np.int64],
    pg: NDArray[np.int64],
    piou: NDArray[np.float64],
    crowd: NDArray[np.bool_],
    rank: NDArray[np.int64],
    n_gt: int,
) -> NDArray[np.int64]:
    """For each position in ``d``, the index of its chosen pair, or -1.

    Pairs are sorted by (rank, detection, ordinary before crowd, IoU, ground-truth order),
    so each detection's best still-free pair is the last eligible one of its run; round
    ``r`` settles every detection of rank ``r`` (at most one per image and class, so none
    compete within a round)."""
    chosen = np.full(len(rank), -1, np.int64)
    if len(pd) == 0:
        return chosen
    regular = ~crowd[pg]
    # pairs arrive sorted by (detection, ground-truth order); the stable sort keeps that
    # order among equal IoUs, so one key of (rank, detection) and two more suffice
    order = np.lexsort((piou, regular, rank[pd] * len(rank) + pd))
    pd, pg, regular = pd[order], pg[order], regular[order]
    taken = np.zeros(n_gt, bool)
    by_rank = rank[pd]
    starts = np.flatnonzero(np.r_[True, by_rank[1:] != by_rank[:-1]])
    for s, e in zip(starts, np.r_[starts[1:], len(pd)], strict=True):
        run = pd[s:e]
        first = np.flatnonzero(np.r_[True, run[1:] != run[:-1]])
        free = ~regular[s:e] | ~taken[pg[s:e]]
        best = np.maximum.reduceat(np.where(free, np.arange(e - s), -1), first)
        ok = best >= first
        pick = best[ok] + s
        chosen[pd[pick]] = order[pick]
        ordinary = pick[regular[pick]]
        taken[pg[ordinary]] = True
    return chosen
