"""What makes detection boxes unusable, listed by kind with every row concerned.

:func:`box_problems` returns one :class:`BoxProblem` per kind of problem, with the 0-based
rows of the arrays it concerns (the caller that read the boxes from a file maps rows to
lines) and a message quoting the first :data:`SHOWN` of them: an image index out of
``0..n_images-1`` or a class code out of ``0..n_classes-1``, non-finite coordinates, a
negative width or height, a non-finite score (any finite score is fine, also outside
[0, 1]), a detection flagged as a crowd region, a detection given twice (same image,
class, corners and score: a duplicated output, which would count twice). A box of zero
width or height is allowed but reported as a warning: its intersection with anything is
empty (COCO computes IoU 0), so a zero-size ground truth can never be found and always
counts as missed. :func:`require_valid` raises one :class:`~amlas.errors.ValueProblem`
naming every error (warnings are not raised); matching calls it on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from amlas.checks._boxes import BOXES_INVALID, DETECTIONS_DUPLICATED, Boxes
from amlas.errors import ValueProblem

__all__ = ["SHOWN", "BoxProblem", "box_problems", "require_valid"]

SHOWN = 5
"""Rows quoted by a problem's message; the rest are counted."""


@dataclass(frozen=True)
class BoxProblem:
    """One kind of problem found in a set of boxes, with every row it concerns."""

    kind: str
    """``image``, ``class``, ``coordinates``, ``size``, ``score``, ``crowd`` (a detection
    flagged as a crowd region), ``duplicate`` or ``zero_size``."""
    severity: Literal["error", "warning"]
    code: str
    rows: NDArray[np.int64]
    """0-based rows of the boxes concerned, ascending."""
    message: str
    """One line: what is wrong, how many rows, the first :data:`SHOWN` rows and values."""


def _listed(rows: NDArray[np.int64], values: list[str]) -> str:
    shown = ", ".join(f"row {r} {v}" for r, v in zip(rows[:SHOWN], values, strict=False))
    more = f" and {len(rows) - SHOWN} more" if len(rows) > SHOWN else ""
    return f"{len(rows)} row(s): {shown}{more}"


def _box_text(box: NDArray[np.float64]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in box) + ")"


def box_problems(
    boxes: Boxes, *, what: str = "boxes", n_classes: int | None = None
) -> list[BoxProblem]:
    """Every problem of ``boxes`` (called ``what`` in messages), errors first: image index
    out of ``0..n_images-1``, class code negative (or ``>= n_classes`` when given: the
    length of the caller's class list), non-finite coordinates, negative width or height,
    non-finite score, a detection flagged as crowd, detections given twice; then the
    warning of boxes of zero width or height. Empty when the boxes are usable."""
    problems: list[BoxProblem] = []

    def add(
        kind: str,
        mask: NDArray[np.bool_],
        text: str,
        values: list[str] | None = None,
        *,
        severity: Literal["error", "warning"] = "error",
        code: str = BOXES_INVALID,
    ) -> None:
        rows = np.flatnonzero(mask).astype(np.int64)
        if len(rows):
            shown = (
                values if values is not None else [_box_text(boxes.xyxy[r]) for r in rows[:SHOWN]]
            )
            message = f"{what}: {text} in {_listed(rows, shown)}"
            problems.append(BoxProblem(kind, severity, code, rows, message))

    image_bad = (boxes.image < 0) | (boxes.image >= boxes.n_images)
    add(
        "image",
        image_bad,
        f"image index outside 0..{boxes.n_images - 1}",
        [f"image {boxes.image[r]}" for r in np.flatnonzero(image_bad)[:SHOWN]],
    )
    class_bad = boxes.cls < 0
    if n_classes is not None:
        class_bad |= boxes.cls >= n_classes
    add(
        "class",
        class_bad,
        "negative class code" if n_classes is None else f"class code outside 0..{n_classes - 1}",
        [f"class {boxes.cls[r]}" for r in np.flatnonzero(class_bad)[:SHOWN]],
    )
    finite = np.asarray(np.isfinite(boxes.xyxy).all(axis=1), dtype=np.bool_)
    add("coordinates", ~finite, "non-finite coordinates")
    width, height = boxes.xyxy[:, 2] - boxes.xyxy[:, 0], boxes.xyxy[:, 3] - boxes.xyxy[:, 1]
    negative = finite & ((width < 0) | (height < 0))
    add("size", negative, "negative width or height (x2 < x1 or y2 < y1)")
    if boxes.score is not None:
        score_bad = ~np.isfinite(boxes.score)
        add(
            "score",
            score_bad,
            "non-finite score",
            [f"score {boxes.score[r]}" for r in np.flatnonzero(score_bad)[:SHOWN]],
        )
        add("crowd", boxes.crowd, "detection marked as a crowd region (only ground truth is)")
        add(
            "duplicate",
            _repeated(boxes),
            "detection given twice (same image, class, box and score as an earlier row)",
            code=DETECTIONS_DUPLICATED,
        )
    zero = finite & ~negative & ((width == 0) | (height == 0))
    add(
        "zero_size",
        zero,
        "box of zero width or height (IoU 0 with every box: never matched)",
        severity="warning",
    )
    return problems


def _repeated(boxes: Boxes) -> NDArray[np.bool_]:
    """Rows equal, in image, class, corners and score, to an earlier row.

    Rows are hashed to one 64-bit number each; only rows sharing a hash (duplicates, and
    the rare collision) are then sorted on every column, so the answer is exact and a
    million rows cost one sort of integers."""
    assert boxes.score is not None
    repeated = np.zeros(len(boxes), bool)
    if len(boxes) < 2:
        return repeated
    # +0.0 folds -0.0 into 0.0, so equal numbers have equal bits
    values = (np.column_stack([boxes.xyxy, boxes.score]) + 0.0).view(np.int64)
    rows = np.column_stack([boxes.image, boxes.cls, values]).view(np.uint64)
    digest = np.zeros(len(boxes), np.uint64)
    for column in rows.T:  # FNV-style mixing; overflow wraps, as intended
        digest = (digest ^ column) * np.uint64(0x100000001B3)
        digest ^= digest >> np.uint64(29)
    order = np.argsort(digest, kind="stable")
    same = digest[order][1:] == digest[order][:-1]
    suspects = np.sort(order[np.r_[same, False] | np.r_[False, same]])
    if len(suspects) == 0:
        return repeated
    columns = rows[suspects]
    ranked = suspects[np.lexsort((suspects, *columns.T[::-1]))]
    sorted_rows = rows[ranked]
    again = (sorted_rows[1:] == sorted_rows[:-1]).all(axis=1)
    repeated[ranked[1:][again]] = True
    return repeated


def require_valid(
    boxes: Boxes, *, what: str = "boxes", n_classes: int | None = None, path: object = None
) -> None:
    """Raise :class:`~amlas.errors.ValueProblem` when :func:`box_problems` finds an error;
    its message names every kind of error found (warnings are not raised). ``path`` locates
    the diagnostic (the file the boxes came from)."""
    found = box_problems(boxes, what=what, n_classes=n_classes)
    errors = [p for p in found if p.severity == "error"]
    if errors:
        first = errors[0]
        message = "; ".join(
            [first.message] + [p.message.removeprefix(f"{what}: ") for p in errors[1:]]
        )
        raise ValueProblem(
            message,
            code=first.code,
            path=path,
            value=first.rows[:SHOWN].tolist(),
            expected="finite boxes with x1 <= x2, y1 <= y2, listed once, in known images "
            "and classes",
        )
