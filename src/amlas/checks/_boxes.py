"""Boxes of object detection: ground truth and detections over a set of images, as arrays.

A :class:`Boxes` holds ``k`` axis-aligned boxes as columns: the image each lies in (an index
``0..n_images-1``), its class code (an index into a class list the caller holds), its
corners ``xyxy`` = (x1, y1, x2, y2) in one unit, a score (detections only), a crowd flag
(ground truth only: a COCO ``iscrowd`` region, where detections are neither right nor
wrong) and any per-object columns (``attributes``: distance, occlusion...). Keeping boxes
as columns, not objects, is what lets matching and average precision run on a million
boxes in numpy.

Formats convert to and from corners (:func:`to_xyxy`, :func:`from_xyxy`): ``xywh`` (COCO:
top-left corner, width, height), ``xyxy``, and ``cxcywh`` (YOLO: centre, width, height).
Units convert between pixels and coordinates normalised by the image's width and height
(:func:`to_pixels`, :func:`to_normalised`); x is scaled by the width and y by the height,
so the same call serves every format.

What makes boxes unusable is listed by :mod:`amlas.checks._box_problems`.

:func:`pair_iou` is the intersection over union of aligned pairs of boxes, computed as
pycocotools' ``maskUtils.iou`` does for boxes (``bbIou``): an empty intersection (width or
height <= 0) is IoU 0, and against a crowd region the union is the detection's own area.
pycocotools works from (x, y, w, h); from corners the result is bit for bit the same
whenever the corners were exact sums ``x + w`` (integer or binary-fraction pixel
coordinates); otherwise it can differ in the last bit, which changes a match only for an
IoU within one rounding error of the threshold or of a competing IoU.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from amlas.errors import ValueProblem

__all__ = [
    "BOXES_INVALID",
    "BOX_FORMATS",
    "DETECTIONS_DUPLICATED",
    "BoxFormat",
    "Boxes",
    "from_xyxy",
    "pair_iou",
    "to_normalised",
    "to_pixels",
    "to_xyxy",
]

BoxFormat = Literal["xywh", "xyxy", "cxcywh"]
BOX_FORMATS: tuple[BoxFormat, ...] = ("xywh", "xyxy", "cxcywh")

BOXES_INVALID = "R094"
"""Code of boxes that cannot be used (index out of range, non-finite, negative size)."""
DETECTIONS_DUPLICATED = "R095"
"""Code of detections listed twice (same image, class, corners and score)."""


@dataclass(frozen=True, eq=False)
class Boxes:
    """``k`` boxes over ``n_images`` images, one row per box. Arrays are converted to the
    dtypes below on construction; lengths must agree (a :class:`ValueProblem` says which
    does not). Values are checked by :func:`box_problems`, not here."""

    image: NDArray[np.int64]
    """Index of the image each box lies in, ``0..n_images-1``."""
    cls: NDArray[np.int64]
    """Class code of each box: an index into the caller's class list."""
    xyxy: NDArray[np.float64]
    """Corners (x1, y1, x2, y2), shape ``(k, 4)``, all in one unit."""
    n_images: int
    """Images in the set, including those without any box (they count as units)."""
    score: NDArray[np.float64] | None = None
    """Confidence of each detection (any finite real); None for ground truth."""
    crowd: NDArray[np.bool_] = field(default=None)  # type: ignore[arg-type]
    """Ground truth only: a crowd / ignore region (COCO ``iscrowd``). All False if omitted."""
    attributes: Mapping[str, NDArray[Any]] = field(default_factory=dict)
    """Per-box columns (e.g. ``distance_m``, ``occlusion``), each of length ``k``."""

    def __post_init__(self) -> None:
        image = _integers("image", self.image)
        k = len(image)
        xyxy = np.asarray(self.xyxy, dtype=np.float64)
        if xyxy.shape == (0,):
            xyxy = xyxy.reshape(0, 4)
        if xyxy.ndim != 2 or xyxy.shape[1] != 4:
            raise ValueProblem(
                f"boxes of shape {xyxy.shape}; expected (k, 4) corners x1, y1, x2, y2",
                code=BOXES_INVALID,
                value=xyxy.shape,
            )
        crowd = np.zeros(k, bool) if self.crowd is None else np.asarray(self.crowd, np.bool_)
        score = None if self.score is None else np.asarray(self.score, dtype=np.float64)
        columns: dict[str, NDArray[Any]] = {
            "cls": _integers("cls", self.cls),
            "xyxy": xyxy,
            "crowd": crowd,
            **({} if score is None else {"score": score}),
            **{f"attributes[{name!r}]": np.asarray(v) for name, v in self.attributes.items()},
        }
        for name, column in columns.items():
            if column.ndim < 1 or len(column) != k:
                raise ValueProblem(
                    f"{name} has {column.shape[0] if column.ndim else 'no'} rows and image "
                    f"has {k}; every column of boxes needs one value per box",
                    code=BOXES_INVALID,
                    value=column.shape,
                )
        n_images = self.n_images
        if isinstance(n_images, bool) or not isinstance(n_images, int | np.integer) or n_images < 0:
            raise ValueProblem(
                f"n_images={self.n_images!r}; expected a count >= 0",
                code=BOXES_INVALID,
                value=self.n_images,
            )
        object.__setattr__(self, "image", image)
        object.__setattr__(self, "cls", columns["cls"])
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "score", score)
        object.__setattr__(self, "crowd", crowd)
        object.__setattr__(self, "n_images", int(self.n_images))
        attributes = {name: np.asarray(v) for name, v in self.attributes.items()}
        object.__setattr__(self, "attributes", attributes)

    def __len__(self) -> int:
        return len(self.image)

    def take(self, rows: ArrayLike) -> Boxes:
        """The boxes at ``rows`` (indices or a boolean mask), over the same images."""
        index = np.asarray(rows)
        return Boxes(
            image=self.image[index],
            cls=self.cls[index],
            xyxy=self.xyxy[index],
            n_images=self.n_images,
            score=None if self.score is None else self.score[index],
            crowd=self.crowd[index],
            attributes={name: v[index] for name, v in self.attributes.items()},
        )

    @classmethod
    def from_values(
        cls,
        values: ArrayLike,
        *,
        image: ArrayLike,
        classes: ArrayLike,
        n_images: int,
        box_format: BoxFormat = "xyxy",
        score: ArrayLike | None = None,
        crowd: ArrayLike | None = None,
        attributes: Mapping[str, ArrayLike] | None = None,
    ) -> Boxes:
        """Boxes from four coordinates per row in ``box_format`` (see :func:`to_xyxy`)."""
        return cls(
            image=np.asarray(image),
            cls=np.asarray(classes),
            xyxy=to_xyxy(values, box_format),
            n_images=n_images,
            score=None if score is None else np.asarray(score, dtype=np.float64),
            crowd=None if crowd is None else np.asarray(crowd, dtype=np.bool_),  # type: ignore[arg-type]
            attributes={name: np.asarray(v) for name, v in (attributes or {}).items()},
        )


def _integers(name: str, values: ArrayLike) -> NDArray[np.int64]:
    array = np.asarray(values)
    if array.ndim != 1 or not (array.size == 0 or np.issubdtype(array.dtype, np.integer)):
        raise ValueProblem(
            f"{name} holds {array.dtype} values of shape {array.shape}; expected one integer "
            "per box",
            code=BOXES_INVALID,
            value=str(array.dtype),
        )
    return array.astype(np.int64, copy=False)


def _four(values: ArrayLike) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.shape == (0,):
        array = array.reshape(0, 4)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueProblem(
            f"box coordinates of shape {array.shape}; expected (k, 4)",
            code=BOXES_INVALID,
            value=array.shape,
        )
    return array


def _format(box_format: str) -> BoxFormat:
    if box_format not in BOX_FORMATS:
        raise ValueProblem(
            f"box_format={box_format!r}; expected one of {', '.join(BOX_FORMATS)}",
            code="R002",
            value=box_format,
        )
    return box_format


def to_xyxy(values: ArrayLike, box_format: BoxFormat) -> NDArray[np.float64]:
    """Corners (x1, y1, x2, y2) of ``(k, 4)`` boxes given in ``box_format``: ``xywh``
    (x2 = x + w, as pycocotools computes it), ``xyxy`` (a copy) or ``cxcywh``
    (x1 = cx - w / 2, x2 = cx + w / 2). A negative width stays negative (x2 < x1) for
    :func:`box_problems` to report."""
    box = _four(values)
    kind = _format(box_format)
    if kind == "xyxy":
        return box.copy()
    if kind == "xywh":
        return np.concatenate([box[:, :2], box[:, :2] + box[:, 2:]], axis=1)
    half = box[:, 2:] / 2
    return np.concatenate([box[:, :2] - half, box[:, :2] + half], axis=1)


def from_xyxy(xyxy: ArrayLike, box_format: BoxFormat) -> NDArray[np.float64]:
    """The inverse of :func:`to_xyxy`: ``(k, 4)`` corners written in ``box_format``."""
    box = _four(xyxy)
    kind = _format(box_format)
    if kind == "xyxy":
        return box.copy()
    size = box[:, 2:] - box[:, :2]
    if kind == "xywh":
        return np.concatenate([box[:, :2], size], axis=1)
    return np.concatenate([(box[:, :2] + box[:, 2:]) / 2, size], axis=1)


def _scale(width: ArrayLike, height: ArrayLike, k: int) -> NDArray[np.float64]:
    w = np.broadcast_to(np.asarray(width, dtype=np.float64), (k,))
    h = np.broadcast_to(np.asarray(height, dtype=np.float64), (k,))
    bad = ~(np.isfinite(w) & np.isfinite(h) & (w > 0) & (h > 0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueProblem(
            f"image size {float(w[row])!r} x {float(h[row])!r} at row {row} "
            f"({int(bad.sum())} row(s) in all); expected a finite width and height > 0 for "
            "every box",
            code=BOXES_INVALID,
            value=(float(w[row]), float(h[row])),
        )
    return np.stack([w, h, w, h], axis=1)


def to_pixels(values: ArrayLike, width: ArrayLike, height: ArrayLike) -> NDArray[np.float64]:
    """Boxes normalised by their image's size (0..1) in pixels: x and widths times the
    image ``width``, y and heights times its ``height`` (one per box, or one for all).
    Any of the three formats, which it keeps."""
    box = _four(values)
    return box * _scale(width, height, len(box))


def to_normalised(values: ArrayLike, width: ArrayLike, height: ArrayLike) -> NDArray[np.float64]:
    """The inverse of :func:`to_pixels`: pixel boxes divided by their image's size."""
    box = _four(values)
    return box / _scale(width, height, len(box))


def pair_iou(
    dt: NDArray[np.float64], gt: NDArray[np.float64], crowd: NDArray[np.bool_] | None = None
) -> NDArray[np.float64]:
    """IoU of the aligned pairs ``dt[i]``, ``gt[i]`` (corners, ``(k, 4)`` each), as
    pycocotools' ``bbIou``: intersection over union, 0 when the intersection has no width
    or height, and intersection over the detection's area where ``crowd[i]`` (a detection
    inside a crowd region is wholly covered). Symmetric in the two boxes unless crowd."""
    w = np.minimum(dt[:, 2], gt[:, 2]) - np.maximum(dt[:, 0], gt[:, 0])
    h = np.minimum(dt[:, 3], gt[:, 3]) - np.maximum(dt[:, 1], gt[:, 1])
    overlap = (w > 0) & (h > 0)
    inter = np.where(overlap, w * h, 0.0)
    dt_area = (dt[:, 2] - dt[:, 0]) * (dt[:, 3] - dt[:, 1])
    union = dt_area + (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1]) - inter
    if crowd is not None:
        union = np.where(crowd, dt_area, union)
    out = np.zeros(len(w))
    np.divide(inter, union, out=out, where=overlap)
    return out
