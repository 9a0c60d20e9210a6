"""The pedestrian detector [V] of the pedestrian-aeb example: ``PedestrianNet``, its decoder
and ``load()``.

``PedestrianNet`` is a small fully convolutional network in the style of CenterNet (Zhou,
Wang and Krähenbühl, "Objects as Points", 2019). It takes a batch of forward-camera images
as float32, NCHW, values 0..255 (shape (n, 1, 56, 96)), and returns three maps at stride 4
(14 x 24 cells):

- ``heatmap`` (n, 1, 14, 24): a logit per cell that a pedestrian's centre lies in it;
- ``size`` (n, 2, 14, 24): the natural logarithm of the box width and height in pixels;
- ``offset`` (n, 2, 14, 24): where the centre of the pedestrian whose peak is this cell
  lies, relative to the cell's top-left corner, in cells (x and y; about 0..1 at the centre
  cell, and trained on the neighbouring cells too, so that a peak one cell off still gives
  the right box).

:class:`PedestrianDetector` turns those maps into boxes: the sigmoid of the heatmap, a 3x3
max-pool that keeps only local peaks (the "NMS" of CenterNet), every peak whose score is at
least ``score_floor``, and for each the box centred at ``(cell + offset) * 4`` with the
regressed width and height, clipped to the image. Boxes are in pixels, ``x0, y0, x1, y1``
with the origin at the top-left corner of the image. Scores are in [0, 1]. No score
threshold is applied beyond the floor: the operating threshold is the requirement's
(``matching.score_threshold`` in [D]) and is applied by whoever evaluates the detections.

Only torch is needed (no torchvision); the decoder runs in eval mode under
``torch.no_grad`` and is deterministic on the CPU for a given batch size. A different
``batch_size`` can change the last float32 digits of boxes and scores (by about 1e-5 on
the build machine: the convolutions are computed in a different order), never which peaks
are found.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

__all__ = [
    "CLASSES",
    "INPUT_SHAPE",
    "STRIDE",
    "Detections",
    "PedestrianDetector",
    "PedestrianNet",
    "load",
]

CLASSES = ("pedestrian",)
INPUT_SHAPE = (56, 96, 1)  # height, width, channels of one image
STRIDE = 4
WEIGHTS = Path(__file__).resolve().parent / "model" / "detector.pt"

Detections = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]
"""``(image_index (k,), class_index (k,), xyxy (k, 4) pixels, score (k,))``."""


def _block(c_in: int, c_out: int, *, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class PedestrianNet(nn.Module):
    """Conv(1->16, /2) -> Conv(16->32, /2) -> Conv(32->32) -> Conv(32->32, dilation 2) ->
    Conv(32->32, dilation 4) -> three 1x1 heads; receptive field 63 pixels, enough for a
    pedestrian 5 m ahead (about 50 pixels tall)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _block(1, width // 2, stride=2),
            _block(width // 2, width, stride=2),
            _block(width, width),
            _block(width, width, dilation=2),
            _block(width, width, dilation=4),
        )
        self.heatmap = nn.Conv2d(width, 1, 1)
        self.size = nn.Conv2d(width, 2, 1)
        self.offset = nn.Conv2d(width, 2, 1)
        bias = self.heatmap.bias
        assert bias is not None
        with torch.no_grad():  # start with few centres (CenterNet's prior of 0.01)
            bias.fill_(-4.6)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f = self.features(x * (1.0 / 255.0) - 0.5)
        return self.heatmap(f), self.size(f), self.offset(f)


class PedestrianDetector:
    """Boxes from :class:`PedestrianNet`: ``detect(images)`` on uint8 images
    ``(n, 56, 96, 1)``; ``module`` is the network, for gradient-based analyses."""

    classes: tuple[str, ...] = CLASSES

    def __init__(
        self, module: PedestrianNet, *, score_floor: float = 0.05, max_detections: int = 30
    ) -> None:
        self.module = module
        self.score_floor = score_floor
        self.max_detections = max_detections
        module.eval()

    def maps(self, images: NDArray[np.uint8]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The network's three maps for a batch of images (see the module doc)."""
        array = np.asarray(images)
        if array.ndim != 4 or tuple(array.shape[1:]) != INPUT_SHAPE:
            raise ValueError(
                f"images has shape {array.shape}; expected (n, {', '.join(map(str, INPUT_SHAPE))})"
            )
        x = torch.from_numpy(np.ascontiguousarray(array.transpose(0, 3, 1, 2), dtype=np.float32))
        self.module.eval()
        with torch.no_grad():
            heat, size, offset = self.module(x)
        return heat, size, offset

    def detect(self, images: NDArray[np.uint8], *, batch_size: int = 256) -> Detections:
        """Every local peak of the heatmap scoring at least ``score_floor`` (at most
        ``max_detections`` per image, the highest first), as boxes in pixels."""
        parts: list[Detections] = []
        for start in range(0, len(images), batch_size):
            heat, size, offset = self.maps(images[start : start + batch_size])
            parts.append(self._decode(heat, size, offset, start))
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty.copy(), np.zeros((0, 4)), np.zeros(0)
        index, cls, boxes, scores = (np.concatenate(p) for p in zip(*parts, strict=True))
        return index, cls, boxes, scores

    def _decode(
        self, heat: torch.Tensor, size: torch.Tensor, offset: torch.Tensor, first: int
    ) -> Detections:
        score = torch.sigmoid(heat)[:, 0]
        peaks = score == nn.functional.max_pool2d(score[:, None], 3, 1, 1)[:, 0]
        score = torch.where(peaks, score, torch.zeros_like(score))
        n, _, cols = score.shape
        flat = score.reshape(n, -1)
        k = min(self.max_detections, flat.shape[1])
        top, where = torch.topk(flat, k, dim=1)  # sorted, ties by index: deterministic
        keep = top >= self.score_floor
        image = torch.arange(n)[:, None].expand(n, k)[keep]
        cell = where[keep]
        r, c = cell // cols, cell % cols
        ox, oy = offset[image, 0, r, c], offset[image, 1, r, c]
        w, h = torch.exp(size[image, 0, r, c]), torch.exp(size[image, 1, r, c])
        cx, cy = (c.double() + ox.double()) * STRIDE, (r.double() + oy.double()) * STRIDE
        height, width = INPUT_SHAPE[0], INPUT_SHAPE[1]
        boxes = torch.stack(
            (
                (cx - w.double() / 2).clamp(0, width),
                (cy - h.double() / 2).clamp(0, height),
                (cx + w.double() / 2).clamp(0, width),
                (cy + h.double() / 2).clamp(0, height),
            ),
            dim=1,
        )
        return (
            (image + first).numpy().astype(np.int64),
            np.zeros(len(cell), dtype=np.int64),
            boxes.numpy().astype(np.float64),
            top[keep].double().numpy(),
        )


def load(path: str | Path | None = None) -> PedestrianDetector:
    """The trained detector in eval mode, its weights read from ``path`` (default:
    ``model/detector.pt`` beside this file) with ``torch.load(..., weights_only=True)``."""
    net = PedestrianNet()
    state = torch.load(Path(path) if path is not None else WEIGHTS, weights_only=True)
    net.load_state_dict(state)
    return PedestrianDetector(net)
