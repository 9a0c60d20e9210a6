"""Seeded detection data for the matching tests, and the same data as COCO dictionaries.

Ground truth: 0-15 boxes per image in several classes, about 6% crowd regions (larger),
about 4% repeated exactly (two identical ground truths: equal IoUs, where COCO's tie rule
decides). Detections: 0-3 jittered copies of each ground truth (near-duplicates on one
object), about 10% with a wrong class, detections falling on crowd regions, 0-4 spurious
boxes per image, and scores on a grid of 40 values (many exact ties, within and across
images). Coordinates are multiples of 1/4 pixel, so corners, widths and areas are exact in
binary floating point and amlas and pycocotools compute bit-identical IoUs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from amlas.checks._boxes import Boxes

GRID = 4.0


def _sizes(rng: np.random.Generator, k: int) -> np.ndarray:
    x = rng.integers(0, 600 * GRID, k) / GRID
    y = rng.integers(0, 400 * GRID, k) / GRID
    w = rng.integers(4 * GRID, 150 * GRID, k) / GRID
    h = rng.integers(4 * GRID, 150 * GRID, k) / GRID
    return np.column_stack([x, y, x + w, y + h])


def generate(
    n_images: int, seed: int, *, n_classes: int = 4, tied_scores: bool = True
) -> tuple[Boxes, Boxes]:
    """Ground truth and detections over ``n_images`` images; with ``tied_scores=False``
    the scores are continuous (no two equal)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 16, n_images)
    k = int(counts.sum())
    image = np.repeat(np.arange(n_images), counts)
    cls = rng.integers(0, n_classes, k)
    xyxy = _sizes(rng, k)
    crowd = rng.random(k) < 0.06
    xyxy[crowd, 2:] += xyxy[crowd, 2:] - xyxy[crowd, :2]  # crowd regions twice the size
    twice = rng.random(k) < 0.04
    image, cls = np.r_[image, image[twice]], np.r_[cls, cls[twice]]
    xyxy, crowd = np.r_[xyxy, xyxy[twice]], np.r_[crowd, crowd[twice]]
    gt = Boxes(image=image, cls=cls, xyxy=xyxy, n_images=n_images, crowd=crowd)

    source = np.repeat(np.arange(len(gt)), rng.choice([0, 1, 1, 1, 2, 3], len(gt)))
    size = np.tile(xyxy[source, 2:] - xyxy[source, :2], 2)
    jittered = xyxy[source] + np.round(rng.normal(0, 0.08, size.shape) * size * GRID) / GRID
    jittered[:, 2:] = np.maximum(jittered[:, 2:], jittered[:, :2] + 1)
    wrong = rng.random(len(source)) < 0.1
    dt_cls = np.where(wrong, rng.integers(0, n_classes, len(source)), cls[source])
    spurious = np.repeat(np.arange(n_images), rng.integers(0, 5, n_images))
    dt_image = np.r_[image[source], spurious]
    dt_cls = np.r_[dt_cls, rng.integers(0, n_classes, len(spurious))]
    dt_xyxy = np.r_[jittered, _sizes(rng, len(spurious))]
    n_dt = len(dt_image)
    score = rng.integers(0, 40, n_dt) / 40 if tied_scores else rng.random(n_dt)
    # exact duplicates are refused by matching: keep the first of each
    rows = np.column_stack([dt_image, dt_cls, dt_xyxy, score])
    _, first = np.unique(rows, axis=0, return_index=True)
    keep = np.zeros(len(rows), bool)
    keep[first] = True
    order = rng.permutation(np.flatnonzero(keep))
    dt = Boxes(
        image=dt_image[order],
        cls=dt_cls[order],
        xyxy=dt_xyxy[order],
        n_images=n_images,
        score=score[order],
    )
    return gt, dt


def _xywh(box: np.ndarray) -> list[float]:
    return [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]


def to_coco(gt: Boxes, dt: Boxes, n_classes: int = 4) -> tuple[dict[str, Any], list[Any]]:
    """A COCO ground-truth dictionary and result list: image ``i`` has id ``i + 1``,
    class ``c`` category id ``c + 1``, row ``j`` annotation id ``j + 1`` (so COCO's
    concatenation order is amlas' class and row order)."""
    images = [{"id": i + 1, "width": 1000, "height": 1000} for i in range(gt.n_images)]
    categories = [{"id": c + 1, "name": f"c{c}"} for c in range(n_classes)]
    annotations = [
        {
            "id": j + 1,
            "image_id": int(gt.image[j]) + 1,
            "category_id": int(gt.cls[j]) + 1,
            "bbox": _xywh(gt.xyxy[j]),
            "area": float((gt.xyxy[j, 2] - gt.xyxy[j, 0]) * (gt.xyxy[j, 3] - gt.xyxy[j, 1])),
            "iscrowd": int(gt.crowd[j]),
        }
        for j in range(len(gt))
    ]
    assert dt.score is not None
    results = [
        {
            "image_id": int(dt.image[j]) + 1,
            "category_id": int(dt.cls[j]) + 1,
            "bbox": _xywh(dt.xyxy[j]),
            "score": float(dt.score[j]),
        }
        for j in range(len(dt))
    ]
    return {"images": images, "categories": categories, "annotations": annotations}, results
