"""What `amlas` costs over faster-coco-eval for matching detections and COCO AP.

Generates seeded detection data: ``--images`` images (default 100,000) with 5-15 ground
truths each (about 10, in 10 classes, 5% crowd regions) and detections made of 0-2
jittered copies of each ground truth (some with a wrong class), 0-3 spurious boxes per
image and scores rounded to 1e-4 (so some tie). Coordinates are multiples of 1/4 pixel,
so both sides compute identical IoUs. Two things are timed on the same boxes, IoU 0.5, area
"all", at most 100 detections per image and class:

- faster-coco-eval alone: ``COCOeval_faster.evaluate()`` + ``accumulate()`` (bbox, one
  IoU threshold, no area ranges besides "all", maxDets [100]); building its COCO objects
  (``COCO(dict)``, ``loadRes(array)``) is not timed;
- `amlas`: ``match`` (which also validates the boxes), per-image TP/FP/FN counts
  (``image_counts``) and ``average_precision``; building ``Boxes`` from the arrays is not
  timed.

With ``--coco-thresholds`` both sides do the ten IoU thresholds 0.5:0.95 instead (AP as
COCO's first figure; amlas through ``match_thresholds``).

Prints both times (median of ``--repeat`` runs, interleaved), the ratio amlas /
faster-coco-eval (target: at most 1.5) and whether the two agree: the same AP, the same
number of matched detections (at the first threshold). Prints figures and ratios; asserts
nothing (machines are noisy).

    .venv/bin/python benchmarks/detection_throughput.py [--images N] [--repeat R]
        [--coco-thresholds]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import numpy as np
from numpy.typing import NDArray

from amlas.checks._boxes import Boxes
from amlas.checks._detection_ap import average_precision
from amlas.checks._matching import ImageCounts, image_counts, match_thresholds

TARGET_RATIO = 1.5
SEED = 20240901
CLASSES = 10
GRID = 4.0
MAX_DETECTIONS = 100

T = TypeVar("T")
P = ParamSpec("P")


def _boxes(rng: np.random.Generator, k: int) -> NDArray[np.float64]:
    corner = rng.integers(0, [640 * GRID, 480 * GRID], (k, 2)) / GRID
    size = rng.integers(4 * GRID, 160 * GRID, (k, 2)) / GRID
    return np.c_[corner, corner + size]


def generate(n: int, seed: int) -> tuple[Boxes, Boxes]:
    rng = np.random.default_rng(seed)
    image = np.repeat(np.arange(n), rng.integers(5, 16, n))
    k = len(image)
    cls = rng.integers(0, CLASSES, k)
    xyxy = _boxes(rng, k)
    crowd = rng.random(k) < 0.05
    gt = Boxes(image=image, cls=cls, xyxy=xyxy, n_images=n, crowd=crowd)
    source = np.repeat(np.arange(k), rng.choice([0, 1, 1, 1, 2], k))
    size = np.tile(xyxy[source, 2:] - xyxy[source, :2], 2)
    jittered = xyxy[source] + np.round(rng.normal(0, 0.07, size.shape) * size * GRID) / GRID
    jittered[:, 2:] = np.maximum(jittered[:, 2:], jittered[:, :2] + 1)
    wrong = rng.random(len(source)) < 0.05
    dt_cls = np.where(wrong, rng.integers(0, CLASSES, len(source)), cls[source])
    spurious = np.repeat(np.arange(n), rng.integers(0, 4, n))
    dt_image = np.r_[image[source], spurious]
    order = np.argsort(dt_image, kind="stable")
    score = np.round(rng.random(len(dt_image)), 4)
    score[: len(source)] = np.round(0.4 + 0.6 * rng.random(len(source)), 4)  # real ones higher
    dt = Boxes(
        image=dt_image[order],
        cls=np.r_[dt_cls, rng.integers(0, CLASSES, len(spurious))][order],
        xyxy=np.r_[jittered, _boxes(rng, len(spurious))][order],
        n_images=n,
        score=score[order],
    )
    # a real detector lists a box once; drop exact repeats (amlas refuses them)
    rows = np.column_stack([dt.image, dt.cls, dt.xyxy, dt.score])
    _, first = np.unique(rows, axis=0, return_index=True)
    return gt, dt.take(np.sort(first))


def coco_objects(gt: Boxes, dt: Boxes) -> tuple[Any, Any]:
    from faster_coco_eval import COCO

    wh = gt.xyxy[:, 2:] - gt.xyxy[:, :2]
    annotations = [
        {
            "id": j + 1,
            "image_id": int(i) + 1,
            "category_id": int(c) + 1,
            "bbox": [float(x), float(y), float(w), float(h)],
            "area": float(w * h),
            "iscrowd": int(z),
        }
        for j, (i, c, x, y, w, h, z) in enumerate(
            zip(
                gt.image,
                gt.cls,
                gt.xyxy[:, 0],
                gt.xyxy[:, 1],
                wh[:, 0],
                wh[:, 1],
                gt.crowd,
                strict=True,
            )
        )
    ]
    truth = COCO(
        {
            "images": [{"id": i + 1, "width": 800, "height": 640} for i in range(gt.n_images)],
            "categories": [{"id": c + 1, "name": f"c{c}"} for c in range(CLASSES)],
            "annotations": annotations,
        }
    )
    assert dt.score is not None
    size = dt.xyxy[:, 2:] - dt.xyxy[:, :2]
    array = np.c_[dt.image + 1, dt.xyxy[:, :2], size, dt.score, dt.cls + 1]
    return truth, truth.loadRes(array)


def timed(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> tuple[float, T]:
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def spread(seconds: list[float]) -> str:
    text = f"{statistics.median(seconds):.2f} s"
    if len(seconds) > 1:
        text += f", {min(seconds):.2f} .. {max(seconds):.2f}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100_000, help="images (default 100,000)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per timing (median)")
    parser.add_argument(
        "--coco-thresholds", action="store_true", help="IoU 0.5:0.95 (ten) instead of 0.5"
    )
    args = parser.parse_args()
    n, repeat = args.images, max(1, args.repeat)
    thresholds = np.linspace(0.5, 0.95, 10) if args.coco_thresholds else np.array([0.5])
    if n < 1:
        parser.error("--images must be at least 1")

    import faster_coco_eval
    from faster_coco_eval import COCOeval_faster

    # it warns that area ranges without small/medium/large do not span 0..1e10: intended
    logging.getLogger("faster_coco_eval").setLevel(logging.ERROR)

    gt, dt = generate(n, SEED)
    truth, results = coco_objects(gt, dt)

    def faster() -> Any:
        evaluation = COCOeval_faster(
            truth, results, "bbox", print_function=lambda *_: None, ranges={}
        )
        evaluation.params.iouThrs = thresholds
        evaluation.params.maxDets = [MAX_DETECTIONS]
        evaluation.evaluate()
        evaluation.accumulate()
        return evaluation

    def through_amlas() -> tuple[ImageCounts, float]:
        matches = match_thresholds(
            gt, dt, iou_thresholds=list(thresholds), max_detections=MAX_DETECTIONS
        )
        return image_counts(matches[0]), average_precision(matches)

    if n <= 20_000:  # warm-up: lazy imports and allocator; at full size one run is plenty
        faster()
        through_amlas()
    faster_s: list[float] = []
    amlas_s: list[float] = []
    evaluation: Any = None
    amlas_out: tuple[ImageCounts, float] | None = None
    for _ in range(repeat):  # interleaved, so drifting machine load hits both alike
        seconds, evaluation = timed(faster)
        faster_s.append(seconds)
        seconds, amlas_out = timed(through_amlas)
        amlas_s.append(seconds)
    assert amlas_out is not None
    counts, ap = amlas_out
    precision = evaluation.eval["precision"][:, :, :, 0, 0]
    coco_ap = float(np.mean(precision[precision > -1]))
    # "matched" pools the pairs of every threshold: comparable with one threshold only
    coco_matched = (
        str(
            sum(
                1
                for pair in evaluation.eval["matched"]
                if not gt.crowd[int(pair.split("_")[1]) - 1]
            )
        )
        if len(thresholds) == 1
        else "(pooled over thresholds)"
    )

    ratio = statistics.median(amlas_s) / statistics.median(faster_s)
    print(
        f"images: {n}, ground truths {len(gt)} ({int(gt.crowd.sum())} crowd), detections "
        f"{len(dt)}, {CLASSES} classes; IoU {thresholds[0]:g}:{thresholds[-1]:g} "
        f"({len(thresholds)}), area all, maxDets {MAX_DETECTIONS}; "
        f"faster-coco-eval {faster_coco_eval.__version__}, runs {repeat}"
    )
    print(f"faster-coco-eval evaluate + accumulate:        {spread(faster_s)}")
    print(f"amlas match + image counts + AP:               {spread(amlas_s)}")
    print(f"time amlas / faster-coco-eval: {ratio:.2f}  (target <= {TARGET_RATIO})")
    print(
        f"AP: amlas {ap:.12f}, faster-coco-eval {coco_ap:.12f} (difference {ap - coco_ap:.1e}); "
        f"true positives at IoU {thresholds[0]:g}: amlas {int(counts.tp.sum())}, "
        f"faster-coco-eval {coco_matched}; "
        f"false positives {int(counts.fp.sum())}, misses {int(counts.fn.sum())}"
    )


if __name__ == "__main__":
    main()
