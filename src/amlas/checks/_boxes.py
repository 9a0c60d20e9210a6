"""PLACEHOLDER until the matching branch lands (replaced by issue14-matching's module)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = ["Boxes", "to_xyxy"]


@dataclass(frozen=True)
class Boxes:
    image: NDArray[np.int64]
    cls: NDArray[np.int64]
    xyxy: NDArray[np.float64]
    score: NDArray[np.float64] | None
    crowd: NDArray[np.bool_]
    attributes: dict[str, NDArray[np.generic]] = field(default_factory=dict)
    n_images: int = 0


def to_xyxy(
    values: NDArray[np.float64], box_format: Literal["xywh", "xyxy", "cxcywh"]
) -> NDArray[np.float64]:
    v = np.asarray(values, dtype=np.float64).reshape(-1, 4)
    if box_format == "xyxy":
        return v.copy()
    if box_format == "xywh":
        return np.column_stack([v[:, 0], v[:, 1], v[:, 0] + v[:, 2], v[:, 1] + v[:, 3]])
    return np.column_stack(
        [v[:, 0] - v[:, 2] / 2, v[:, 1] - v[:, 3] / 2, v[:, 0] + v[:, 2] / 2, v[:, 1] + v[:, 3] / 2]
    )
