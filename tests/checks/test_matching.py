"""COCO matching and AP: amlas against pycocotools and faster-coco-eval on the same boxes.

The references run on 1,000 seeded images (:mod:`detection_data`) with crowd regions,
repeated ground truths, near-duplicate detections and tied scores; every detection's match
must agree exactly, not just the totals. A port of ``COCOeval.evaluateImg`` checks small
Hypothesis-drawn cases on an integer grid, where equal IoUs and equal scores abound.
"""

from __future__ import annotations

import contextlib
import functools
import io
from typing import Any

import numpy as np
import pytest
from detection_data import generate, to_coco
from hypothesis import given, settings
from hypothesis import strategies as st

from amlas.checks import _detection_ap, _matching
from amlas.checks._boxes import Boxes
from amlas.checks._detection_ap import (
    RECALL_THRESHOLDS,
    average_precision,
    bootstrap_ap,
    precision_at_recall,
)
from amlas.checks._matching import Matches, image_counts, match, match_thresholds
from amlas.errors import ValueProblem

N_IMAGES = 1000
COCO_THRESHOLDS = np.linspace(0.5, 0.95, 10)  # as COCO's Params builds them
BIG = 10_000  # a maxDets that keeps every detection


@functools.cache
def data() -> tuple[Boxes, Boxes]:
    return generate(N_IMAGES, seed=20240601)


# -- the references ----------------------------------------------------------------------


def _selected(dt: Boxes, score_threshold: float | None) -> np.ndarray:
    assert dt.score is not None
    if score_threshold is None:
        return np.arange(len(dt))
    return np.flatnonzero(dt.score >= score_threshold)


@functools.cache
def pycocotools_run(
    agnostic: bool, max_det: int, classes: tuple[int, ...] | None, score_threshold: float | None
) -> tuple[Any, np.ndarray]:
    """pycocotools' COCOeval (evaluate + accumulate) at IoU 0.5 and 0.75, area "all"; and
    the rows of ``dt`` it was given (those passing the score threshold)."""
    cocoeval = pytest.importorskip("pycocotools.cocoeval")
    coco = pytest.importorskip("pycocotools.coco")
    gt, dt = data()
    rows = _selected(dt, score_threshold)
    truth, results = to_coco(gt, dt.take(rows))
    with contextlib.redirect_stdout(io.StringIO()):
        ground = coco.COCO()
        ground.dataset = truth
        ground.createIndex()
        evaluation = cocoeval.COCOeval(ground, ground.loadRes(results), "bbox")
        p = evaluation.params
        p.areaRng, p.areaRngLbl, p.maxDets = [[0, 1e10]], ["all"], [max_det]
        p.iouThrs = np.array([0.5, 0.75])
        p.useCats = 0 if agnostic else 1
        if classes is not None:
            p.catIds = [c + 1 for c in classes]
        evaluation.evaluate()
        evaluation.accumulate()
    return evaluation, rows


def pycocotools_outcome(
    evaluation: Any, rows: np.ndarray, t: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per detection row: matched gt row (-1 none, -2 not kept), ignored; per gt row: the
    detection row recorded in gtMatches (-1 none), from COCO's evalImgs at threshold t."""
    gt, dt = data()
    dt_gt = np.full(len(dt), -2)
    ignored = np.zeros(len(dt), bool)
    gt_detection = np.full(len(gt), -1)
    for e in evaluation.evalImgs:
        if e is None:
            continue
        picked = rows[np.asarray(e["dtIds"], int) - 1]
        dt_gt[picked] = np.asarray(e["dtMatches"][t], int) - 1
        ignored[picked] = np.asarray(e["dtIgnore"][t], bool)
        found = np.asarray(e["gtMatches"][t], int)
        gt_detection[np.asarray(e["gtIds"], int) - 1] = np.where(found > 0, rows[found - 1], -1)
    return dt_gt, ignored, gt_detection


@functools.cache
def faster_run(thresholds: tuple[float, ...], agnostic: bool, max_det: int = BIG) -> Any:
    fce = pytest.importorskip("faster_coco_eval")
    gt, dt = data()
    truth, results = to_coco(gt, dt)
    ground = fce.COCO(truth)
    evaluation = fce.COCOeval_faster(
        ground,
        ground.loadRes(results),
        "bbox",
        print_function=lambda *_: None,
        extra_calc=True,
        ranges={},  # area range "all" only
    )
    evaluation.params.maxDets = [max_det]
    evaluation.params.iouThrs = np.array(thresholds)
    evaluation.params.useCats = 0 if agnostic else 1
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    return evaluation


# -- matching ------------------------------------------------------------------------------

CONFIGS = {
    "per class": {},
    "class-agnostic": {"class_agnostic": True},
    "score threshold and 3 per image and class": {"score_threshold": 0.5, "max_detections": 3},
    "classes 0 and 2": {"classes": (0, 2)},
    "class-agnostic, 5 per image": {"class_agnostic": True, "max_detections": 5},
}


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize(("t", "threshold"), [(0, 0.5), (1, 0.75)])
def test_every_match_agrees_with_pycocotools(config: str, t: int, threshold: float) -> None:
    options: dict[str, Any] = CONFIGS[config]
    gt, dt = data()
    evaluation, rows = pycocotools_run(
        options.get("class_agnostic", False),
        options.get("max_detections") or BIG,
        options.get("classes"),
        options.get("score_threshold"),
    )
    dt_gt, ignored, gt_detection = pycocotools_outcome(evaluation, rows, t)
    m = match(gt, dt, iou_threshold=threshold, **options)

    np.testing.assert_array_equal(m.dt_kept, dt_gt != -2)
    np.testing.assert_array_equal(m.dt_gt, np.where(dt_gt == -2, -1, dt_gt))
    np.testing.assert_array_equal(m.dt_ignored, ignored & m.dt_kept)
    np.testing.assert_array_equal(m.dt_tp, (dt_gt >= 0) & ~ignored)
    np.testing.assert_array_equal(m.dt_fp, (dt_gt == -1) & ~ignored)
    np.testing.assert_array_equal(m.gt_detection, gt_detection)
    counts = image_counts(m)
    positive = m.gt_evaluated & ~gt.crowd
    found = np.zeros(len(gt), bool)
    found[dt_gt[dt_gt >= 0]] = True
    np.testing.assert_array_equal(
        counts.fn, np.bincount(gt.image[positive & ~found], minlength=N_IMAGES)
    )
    np.testing.assert_array_equal(counts.tp + counts.fn, counts.positives)
    assert counts.tp.sum() == int(m.dt_tp.sum()) > 0
    assert counts.fp.sum() == int(m.dt_fp.sum()) > 0
    assert np.isnan(m.dt_iou[m.dt_gt < 0]).all()
    assert (m.dt_iou[m.dt_gt >= 0] >= threshold).all()


def test_the_data_exercise_every_rule_of_coco() -> None:
    """The agreement above means something only if the data reach each rule: IoU ties
    between identical ground truths, detections absorbed by crowd regions (several on one
    region), score ties within an image and class, and the detection cap."""
    gt, dt = data()
    assert dt.score is not None
    m = match(gt, dt, iou_threshold=0.5)
    rows = np.column_stack([gt.image, gt.cls, gt.xyxy])
    _, inverse, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    twin = counts[inverse.ravel()] > 1  # an identical ground truth exists: IoUs tie
    assert (m.dt_tp & twin[np.maximum(m.dt_gt, 0)]).sum() > 20
    assert m.dt_ignored.sum() > 50
    assert np.bincount(m.dt_gt[m.dt_ignored]).max() > 1
    tied = np.unique(np.column_stack([dt.image, dt.cls, dt.score]), axis=0).shape[0] < len(dt)
    assert tied
    assert (match(gt, dt, iou_threshold=0.5, max_detections=3).dt_kept < m.dt_kept).any()


@pytest.mark.parametrize("agnostic", [False, True], ids=["per class", "class-agnostic"])
@pytest.mark.parametrize("threshold", [0.5, 0.75])
def test_every_match_agrees_with_faster_coco_eval(agnostic: bool, threshold: float) -> None:
    gt, dt = data()
    evaluation = faster_run((threshold,), agnostic)
    expected = np.full(len(dt), -1)
    for pair in evaluation.eval["matched"]:
        d, g = map(int, pair.split("_"))
        expected[d - 1] = g - 1
    m = match(gt, dt, iou_threshold=threshold, class_agnostic=agnostic)
    np.testing.assert_array_equal(m.dt_gt, expected)


def test_matching_at_several_thresholds_is_matching_at_each() -> None:
    gt, dt = data()
    options: dict[str, Any] = {"max_detections": 4, "score_threshold": 0.2, "classes": [1, 3]}
    together = match_thresholds(gt, dt, iou_thresholds=[0.75, 0.5, 0.9], **options)
    for m in together:
        alone = match(gt, dt, iou_threshold=m.iou_threshold, **options)
        for name in ("dt_gt", "dt_iou", "dt_kept", "dt_tp", "dt_fp", "gt_detection", "gt_iou"):
            np.testing.assert_array_equal(getattr(m, name), getattr(alone, name), err_msg=name)
    assert [m.iou_threshold for m in together] == [0.75, 0.5, 0.9]
    assert together[1].dt_tp.sum() > together[0].dt_tp.sum() > together[2].dt_tp.sum()
    with pytest.raises(ValueProblem, match="no IoU threshold"):
        match_thresholds(gt, dt, iou_thresholds=[])


def test_candidate_pairs_in_small_blocks_give_the_same_matches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gt, dt = data()
    whole = match(gt, dt, iou_threshold=0.5, class_agnostic=True)
    monkeypatch.setattr(_matching, "BLOCK", 50)
    blocks = match(gt, dt, iou_threshold=0.5, class_agnostic=True)
    np.testing.assert_array_equal(whole.dt_gt, blocks.dt_gt)
    np.testing.assert_array_equal(whole.gt_detection, blocks.gt_detection)
    np.testing.assert_array_equal(whole.dt_iou, blocks.dt_iou)


# -- average precision ---------------------------------------------------------------------


@pytest.mark.parametrize("agnostic", [False, True], ids=["per class", "class-agnostic"])
def test_ap_agrees_with_faster_coco_eval(agnostic: bool) -> None:
    gt, dt = data()
    evaluation = faster_run(tuple(COCO_THRESHOLDS), agnostic)
    matches = match_thresholds(gt, dt, iou_thresholds=COCO_THRESHOLDS, class_agnostic=agnostic)
    assert average_precision(matches) == pytest.approx(evaluation.stats[0], abs=1e-12)
    assert average_precision(matches[0]) == pytest.approx(evaluation.stats[1], abs=1e-12)
    assert average_precision(matches[5]) == pytest.approx(evaluation.stats[2], abs=1e-12)
    classes, precision = precision_at_recall(matches)
    reference = evaluation.eval["precision"][:, :, :, 0, 0].transpose(0, 2, 1)
    # faster-coco-eval's C++ reads a precision of 1/(1 + eps) as 1.0: one unit in the last
    # place; pycocotools (below) agrees with amlas to the bit
    np.testing.assert_allclose(
        precision, reference[:, classes if not agnostic else [0]], atol=3e-16
    )


@pytest.mark.parametrize(
    "config", ["per class", "class-agnostic", "score threshold and 3 per image and class"]
)
def test_precision_agrees_with_pycocotools_to_the_bit(config: str) -> None:
    options: dict[str, Any] = CONFIGS[config]
    gt, dt = data()
    evaluation, _ = pycocotools_run(
        options.get("class_agnostic", False),
        options.get("max_detections") or BIG,
        None,
        options.get("score_threshold"),
    )
    matches = [match(gt, dt, iou_threshold=t, **options) for t in (0.5, 0.75)]
    classes, precision = precision_at_recall(matches)
    reference = evaluation.eval["precision"][:, :, :, 0, 0]  # (T, R, K)
    present = reference[:, :, classes if classes[0] >= 0 else [0]].transpose(0, 2, 1)
    np.testing.assert_array_equal(precision, present)
    assert average_precision(matches) == np.mean(reference[reference > -1])


def _copies(boxes: Boxes, weights: np.ndarray) -> Boxes:
    """The boxes of a data set holding image i ``weights[i]`` times, the copies of an image
    next to each other, each copy's boxes in their original order."""
    reps = weights[boxes.image]
    rows = np.repeat(np.arange(len(boxes)), reps)
    copy = np.arange(len(rows)) - np.repeat(np.cumsum(reps) - reps, reps)
    image = (np.cumsum(weights) - weights)[boxes.image[rows]] + copy
    order = np.lexsort((rows, image))
    return Boxes(
        image=image[order],
        cls=boxes.cls[rows[order]],
        xyxy=boxes.xyxy[rows[order]],
        n_images=int(weights.sum()),
        score=None if boxes.score is None else boxes.score[rows[order]],
        crowd=boxes.crowd[rows[order]],
    )


def test_weighted_ap_is_coco_ap_on_the_resampled_images() -> None:
    fce = pytest.importorskip("faster_coco_eval")
    n = 300
    gt, dt = generate(n, seed=7, tied_scores=False)
    rng = np.random.default_rng(3)
    weights = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(2)])
    matches = match(gt, dt, iou_threshold=0.5)
    weighted = average_precision(matches, weights=weights)
    for row, ap in zip(weights, weighted, strict=True):
        truth, results = to_coco(_copies(gt, row), _copies(dt, row))
        ground = fce.COCO(truth)
        evaluation = fce.COCOeval_faster(
            ground, ground.loadRes(results), "bbox", print_function=lambda *_: None, ranges={}
        )
        evaluation.params.maxDets, evaluation.params.iouThrs = [BIG], np.array([0.5])
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
        assert ap == pytest.approx(evaluation.stats[0], abs=1e-12)
    assert len(set(weighted.tolist())) == 2


def test_weights_of_zero_and_one_select_images_exactly() -> None:
    gt, dt = data()
    matches = [match(gt, dt, iou_threshold=t) for t in (0.5, 0.75)]
    chosen = np.random.default_rng(1).random(N_IMAGES) < 0.5
    selected = average_precision(matches, weights=chosen.astype(int))
    keep_gt, keep_dt = chosen[gt.image], chosen[dt.image]
    subset = [match(gt.take(keep_gt), dt.take(keep_dt), iou_threshold=t) for t in (0.5, 0.75)]
    assert selected == average_precision(subset)
    ones = average_precision(matches, weights=np.ones((3, N_IMAGES), int))
    assert ones.tolist() == [average_precision(matches)] * 3


def test_recall_crossings_follow_cocos_float_division() -> None:
    """COCO reads precision where ``searchsorted(tp / positives, r, 'left')`` lands; the
    count amlas computes instead must be the same for every number of positives; ceil(r P)
    alone is wrong both ways (one too many at P = 25, r = 0.28; one too few at P = 20,
    r = 0.95, whose linspace value lies just above 19 / 20)."""
    positives = np.arange(1, 3001, dtype=np.float64)
    expected = np.stack(
        [np.searchsorted(np.arange(p + 1) / p, RECALL_THRESHOLDS) for p in positives]
    )
    np.testing.assert_array_equal(_detection_ap._needed(positives), expected)


def test_weighted_rows_in_small_chunks_give_the_same_ap(monkeypatch: pytest.MonkeyPatch) -> None:
    gt, dt = data()
    matches = match(gt, dt, iou_threshold=0.5, class_agnostic=True)
    weights = np.random.default_rng(2).integers(0, 3, (5, N_IMAGES))
    whole = average_precision(matches, weights=weights)
    booted = bootstrap_ap(matches, resamples=30, seed=5)
    monkeypatch.setattr(_detection_ap, "BLOCK", 10)
    np.testing.assert_array_equal(average_precision(matches, weights=weights), whole)
    assert bootstrap_ap(matches, resamples=30, seed=5) == booted  # the draws do not depend on it


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    gt, dt = data()
    matches = match(gt, dt, iou_threshold=0.5)
    result = bootstrap_ap(matches, resamples=200, seed=11, confidence=0.9)
    assert result == bootstrap_ap(matches, resamples=200, seed=11, confidence=0.9)
    assert result != bootstrap_ap(matches, resamples=200, seed=12, confidence=0.9)
    assert result.estimate == average_precision(matches)
    assert 0 < result.lower < result.estimate < result.upper < 1
    wider = bootstrap_ap(matches, resamples=200, seed=11, confidence=0.99)
    assert wider.lower < result.lower
    assert wider.upper > result.upper
    _, lower, upper = result
    assert upper - lower < 0.1  # 1,000 images pin AP50 to a few points


def test_ap_of_a_class_with_no_detection_is_zero_and_no_positive_no_ap() -> None:
    gt = Boxes(image=[0, 1], cls=[0, 1], xyxy=[[0, 0, 10, 10]] * 2, n_images=2)
    dt = Boxes(image=[0], cls=[0], xyxy=[[0, 0, 10, 10]], n_images=2, score=[0.9])
    classes, precision = precision_at_recall(match(gt, dt, iou_threshold=0.5))
    assert classes.tolist() == [0, 1]
    assert (precision[0, 0] == 1.0 / (1.0 + np.spacing(1))).all()
    assert (precision[0, 1] == 0).all()
    assert average_precision(match(gt, dt, iou_threshold=0.5)) == pytest.approx(0.5)
    crowd_only = Boxes(image=[0], cls=[0], xyxy=[[0, 0, 10, 10]], n_images=2, crowd=[True])
    assert np.isnan(average_precision(match(crowd_only, dt, iou_threshold=0.5)))
    none = bootstrap_ap(match(crowd_only, dt, iou_threshold=0.5))
    assert np.isnan(none.estimate)
    assert (none.lower, none.upper) == (0.0, 1.0)
    assert len(RECALL_THRESHOLDS) == 101


# -- a port of COCOeval.evaluateImg, for small drawn cases ---------------------------------


def coco_port(
    gt: Boxes, dt: Boxes, threshold: float, agnostic: bool, max_det: int
) -> tuple[list[int], list[int]]:
    """pycocotools' evaluateImg, loop for loop, on rows: per detection the matched gt
    row (-1 none, -2 not kept), per gt the detection row recorded (-1 none)."""
    assert dt.score is not None
    dt_gt, gt_det = [-2] * len(dt), [-1] * len(gt)

    def bb(box: np.ndarray) -> list[float]:
        return [box[0], box[1], box[2] - box[0], box[3] - box[1]]

    groups = {(int(i), -1 if agnostic else int(c)) for i, c in zip(dt.image, dt.cls, strict=True)}
    for image, cls in sorted(groups):

        def rows(b: Boxes, image: int = image, cls: int = cls) -> list[int]:
            found = [j for j in range(len(b)) if b.image[j] == image and cls in (-1, b.cls[j])]
            return sorted(found, key=lambda j: int(b.cls[j])) if agnostic else found

        g = rows(gt)
        g = [g[i] for i in np.argsort([int(gt.crowd[j]) for j in g], kind="mergesort")]
        d = rows(dt)
        d = [d[i] for i in np.argsort([-dt.score[j] for j in d], kind="mergesort")][:max_det]
        taken = [False] * len(g)
        for j in d:
            dt_gt[j] = -1
            best, m = min(threshold, 1 - 1e-10), -1
            for k, row in enumerate(g):
                if taken[k] and not gt.crowd[row]:
                    continue
                if m > -1 and not gt.crowd[g[m]] and gt.crowd[row]:
                    break
                D, G = bb(dt.xyxy[j]), bb(gt.xyxy[row])  # as in bbIou
                w = min(D[2] + D[0], G[2] + G[0]) - max(D[0], G[0])
                h = min(D[3] + D[1], G[3] + G[1]) - max(D[1], G[1])
                iou = 0.0
                if w > 0 and h > 0:
                    union = D[2] * D[3] if gt.crowd[row] else D[2] * D[3] + G[2] * G[3] - w * h
                    iou = w * h / union
                if iou < best:
                    continue
                best, m = iou, k
            if m > -1:
                taken[m] = True
                dt_gt[j], gt_det[g[m]] = g[m], j
    return dt_gt, gt_det


@st.composite
def scenes(draw: st.DrawFn) -> tuple[Boxes, Boxes]:
    n_images = draw(st.integers(1, 3))
    coordinate = st.integers(0, 6)

    def box() -> st.SearchStrategy[list[int]]:
        return st.tuples(coordinate, coordinate, st.integers(1, 4), st.integers(1, 4)).map(
            lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]]
        )

    def boxes(score: bool) -> Boxes:
        k = draw(st.integers(0, 8))
        return Boxes(
            image=draw(st.lists(st.integers(0, n_images - 1), min_size=k, max_size=k)),
            cls=draw(st.lists(st.integers(0, 1), min_size=k, max_size=k)),
            xyxy=np.array(draw(st.lists(box(), min_size=k, max_size=k)), float).reshape(-1, 4),
            n_images=n_images,
            score=draw(st.lists(st.sampled_from([0.2, 0.5, 0.9]), min_size=k, max_size=k))
            if score
            else None,
            crowd=None
            if score
            else draw(st.lists(st.sampled_from([False, False, True]), min_size=k, max_size=k)),
        )

    gt, dt = boxes(False), boxes(True)
    return gt, dt.take(~_repeats(dt))


def _repeats(dt: Boxes) -> np.ndarray:
    assert dt.score is not None
    rows = np.column_stack([dt.image, dt.cls, dt.xyxy, dt.score])
    return np.array(
        [any((rows[i] == rows[j]).all() for j in range(i)) for i in range(len(rows))], bool
    )


@settings(max_examples=200, deadline=None)
@given(
    scenes(),
    st.sampled_from([0.1, 0.3, 0.5, 1.0]),
    st.booleans(),
    st.sampled_from([1, 2, 100]),
)
def test_matching_equals_a_port_of_coco_on_drawn_cases(
    scene: tuple[Boxes, Boxes], threshold: float, agnostic: bool, max_det: int
) -> None:
    gt, dt = scene
    dt_gt, gt_det = coco_port(gt, dt, threshold, agnostic, max_det)
    m = match(gt, dt, iou_threshold=threshold, class_agnostic=agnostic, max_detections=max_det)
    assert m.dt_gt.tolist() == [max(v, -1) for v in dt_gt]
    assert m.dt_kept.tolist() == [v != -2 for v in dt_gt]
    assert m.gt_detection.tolist() == gt_det


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_matching_does_not_depend_on_the_order_of_rows(seed: int, agnostic: bool) -> None:
    """Without ties (continuous scores and coordinates) the matching of each box is the
    same whatever order the rows come in."""
    rng = np.random.default_rng(seed)
    k_gt, k_dt, n = int(rng.integers(0, 30)), int(rng.integers(0, 40)), 3

    def boxes(k: int, score: bool) -> Boxes:
        corner = rng.random((k, 2)) * 10
        return Boxes(
            image=rng.integers(0, n, k),
            cls=rng.integers(0, 2, k),
            xyxy=np.c_[corner, corner + 0.5 + rng.random((k, 2)) * 5],
            n_images=n,
            score=rng.random(k) if score else None,
            crowd=None if score else rng.random(k) < 0.2,
        )

    gt, dt = boxes(k_gt, False), boxes(k_dt, True)
    m = match(gt, dt, iou_threshold=0.3, class_agnostic=agnostic)
    pg, pd = rng.permutation(k_gt), rng.permutation(k_dt)
    shuffled = match(gt.take(pg), dt.take(pd), iou_threshold=0.3, class_agnostic=agnostic)
    back = np.where(shuffled.dt_gt >= 0, np.r_[pg, -1][shuffled.dt_gt], -1)
    np.testing.assert_array_equal(back, m.dt_gt[pd])
    np.testing.assert_array_equal(shuffled.dt_tp, m.dt_tp[pd])
    np.testing.assert_array_equal(shuffled.gt_matched, m.gt_matched[pg])


# -- settings and inputs it refuses ------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"iou_threshold": 0.0}, "iou_threshold=0.0"),
        ({"iou_threshold": 1.5}, "iou_threshold=1.5"),
        ({"iou_threshold": 0.5, "score_threshold": float("nan")}, "score_threshold=nan"),
        ({"iou_threshold": 0.5, "max_detections": 0}, "max_detections=0"),
        ({"iou_threshold": 0.5, "classes": []}, "classes=[]"),
        ({"iou_threshold": 0.5, "classes": [-1]}, "classes=[-1]"),
    ],
)
def test_unusable_settings_are_named(options: dict[str, Any], named: str) -> None:
    gt = Boxes(image=[0], cls=[0], xyxy=[[0, 0, 1, 1]], n_images=1)
    dt = Boxes(image=[0], cls=[0], xyxy=[[0, 0, 1, 1]], n_images=1, score=[1.0])
    with pytest.raises(ValueProblem, match=named.replace("[", r"\[").replace("]", r"\]")) as e:
        match(gt, dt, **options)
    assert e.value.diagnostic.code == "R002"


def test_unusable_boxes_are_refused_with_their_rows() -> None:
    gt = Boxes(image=[0, 0], cls=[0, 0], xyxy=[[0, 0, 1, 1], [0, 0, 1, 1]], n_images=1)
    dt = Boxes(
        image=[0, 0, 5], cls=[0, 0, 0], xyxy=[[0, 0, 1, 1]] * 3, n_images=1, score=[1, 1, 0.5]
    )
    named = (
        r"detections: image index outside 0..0 in 1 row\(s\): row 2 image 5; "
        r"detection given twice .* in 1 row\(s\): row 1 \(0, 0, 1, 1\)"
    )
    with pytest.raises(ValueProblem, match=named) as e:
        match(gt, dt, iou_threshold=0.5)
    assert e.value.diagnostic.code == "R094"
    unscored = Boxes(image=[0], cls=[0], xyxy=[[0, 0, 1, 1]], n_images=1)
    with pytest.raises(ValueProblem, match="no scores"):
        match(gt, unscored, iou_threshold=0.5)
    other = Boxes(image=[0], cls=[0], xyxy=[[0, 0, 1, 1]], n_images=2, score=[1])
    with pytest.raises(ValueProblem, match="1 images and detections 2"):
        match(gt, other, iou_threshold=0.5)


def test_ap_refuses_mixed_matchings_and_bad_weights() -> None:
    gt, dt = data()
    a = match(gt, dt, iou_threshold=0.5)
    b = match(gt, dt, iou_threshold=0.75, class_agnostic=True)
    with pytest.raises(ValueProblem, match="differ in more than their IoU threshold"):
        average_precision([a, b])
    with pytest.raises(ValueProblem, match=r"weights of shape \(3,\)"):
        average_precision(a, weights=[1, 1, 1])
    with pytest.raises(ValueProblem, match="whole numbers >= 0"):
        average_precision(a, weights=np.full(N_IMAGES, 0.5))
    with pytest.raises(ValueProblem, match=r"confidence=1\.5"):
        bootstrap_ap(a, confidence=1.5)
    assert isinstance(a, Matches)
