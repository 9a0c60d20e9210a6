"""The ``python_detector`` model format: an object detector behind the project's own
loader, so that amlas can run it on data (stage 5 on sealed [P], corruptions of its
inputs) as it runs a classifier.

[V] ``callable: module:function`` is imported from the project root and called with the
model file's path (``location``); it returns an object with

- ``classes``: the class names, in the order of the class indices it returns;
- ``detect(images) -> (image, cls, xyxy, score)``: for a batch of ``n`` images (the
  dataset's per-sample arrays, e.g. ``(n, h, w, c)``), one row per detection: the index
  of its image in the batch (0..n-1), its class index, its box ``(x1, y1, x2, y2)`` in
  pixels and its score.

Every call is held to that contract (:func:`detect_batched`): lengths agree, indices in
range, boxes and scores finite, no box of negative size; a detector that breaks it stops
the run with a message naming it (R021).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters._callable import import_callable
from amlas.adapters._model import Model, ModelError, ModelOptions, require_file
from amlas.adapters._outputs import one_line

__all__ = ["FORMAT", "Detections", "DetectorFormat", "detect_batched"]


@dataclass(frozen=True)
class Detections:
    """A detector's output over a batch (or a whole dataset) of images."""

    image: NDArray[np.int64]
    cls: NDArray[np.int64]
    xyxy: NDArray[np.float64]
    score: NDArray[np.float64]


class _Detector:
    """A loaded detector, as a :class:`~amlas.adapters.Model` without probabilities."""

    has_proba = False

    def __init__(self, inner: Any, source: str) -> None:
        self.inner = inner
        self._source = source
        self.classes = tuple(str(c) for c in inner.classes)

    def predict_proba(self, x: NDArray[np.generic]) -> NDArray[np.float64]:
        raise ModelError(f"{self._source}: a detector outputs boxes, not class probabilities")

    def predict(self, x: NDArray[np.generic]) -> NDArray[np.str_]:
        raise ModelError(f"{self._source}: a detector outputs boxes, not one class per sample")

    def detect(self, x: NDArray[np.generic]) -> Detections:
        try:
            raw = self.inner.detect(x)
        except Exception as exc:
            raise ModelError(f"{self._source}: detect raised {one_line(exc)}") from exc
        return _checked(raw, len(x), len(self.classes), self._source)


def _checked(raw: Any, n: int, classes: int, source: str) -> Detections:
    def fail(what: str) -> ModelError:
        return ModelError(
            f"{source}: detect returned {what}; expected (image, class, xyxy, score) arrays "
            "with one row per detection",
            code="R021",
        )

    if not isinstance(raw, tuple | list) or len(raw) != 4:
        raise fail(f"a {type(raw).__name__}")
    try:
        image = np.asarray(raw[0], dtype=np.int64).reshape(-1)
        cls = np.asarray(raw[1], dtype=np.int64).reshape(-1)
        xyxy = np.asarray(raw[2], dtype=np.float64).reshape(-1, 4)
        score = np.asarray(raw[3], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise fail(f"values that are not numbers ({one_line(exc)})") from None
    k = len(image)
    if not len(cls) == len(xyxy) == len(score) == k:
        raise fail(f"arrays of lengths {[k, len(cls), len(xyxy), len(score)]}")
    if k and (image.min() < 0 or image.max() >= n):
        raise fail(f"an image index outside 0..{n - 1}")
    if k and (cls.min() < 0 or cls.max() >= classes):
        raise fail(f"a class index outside 0..{classes - 1}")
    if not (np.isfinite(xyxy).all() and np.isfinite(score).all()):
        raise fail("a NaN or infinite box or score")
    if ((xyxy[:, 2] < xyxy[:, 0]) | (xyxy[:, 3] < xyxy[:, 1])).any():
        raise fail("a box of negative width or height")
    return Detections(image, cls, xyxy, score)


def detect_batched(
    model: Model,
    x: NDArray[np.generic],
    *,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> Detections:
    """Run a detector over ``x`` in batches; image indices refer to ``x``."""
    detect = getattr(model, "detect", None)
    if detect is None:
        raise ModelError(
            f"{type(model).__name__}: not a detector (no 'detect'); [V] format "
            "python_detector loads one"
        )
    parts = []
    for start in range(0, len(x), batch_size):
        found: Detections = detect(x[start : start + batch_size])
        parts.append((found, start))
        if progress is not None:
            progress(min(batch_size, len(x) - start))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Detections(empty, empty, np.zeros((0, 4)), np.zeros(0))
    return Detections(
        np.concatenate([p.image + start for p, start in parts]),
        np.concatenate([p.cls for p, _ in parts]),
        np.concatenate([p.xyxy for p, _ in parts]),
        np.concatenate([p.score for p, _ in parts]),
    )


class DetectorFormat:
    """``format: python_detector``: the project's own detector loader."""

    name = "python_detector"
    differentiable = False
    distributions: tuple[str, ...] = ()  # the loader's code and the weights are cited by hash

    def load(self, path: Path | None, options: ModelOptions) -> Model:
        source = f"python_detector {options.callable!r}"
        weights = require_file(path, self.name)
        loader = import_callable(options.callable, options.search_path, source)
        saved = list(sys.path)
        if options.search_path is not None:
            sys.path.insert(0, str(options.search_path))
        try:
            inner = loader(weights)
        except Exception as exc:
            raise ModelError(f"{source}: raised {one_line(exc)}") from exc
        finally:
            sys.path[:] = saved
        if not callable(getattr(inner, "detect", None)) or not hasattr(inner, "classes"):
            raise ModelError(
                f"{source}: returned a {type(inner).__name__}; expected a detector with "
                "'classes' and 'detect(images)'"
            )
        return _Detector(inner, source)


FORMAT = DetectorFormat()
