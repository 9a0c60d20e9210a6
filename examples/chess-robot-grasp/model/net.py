"""The grasp-safety classifier: ``GraspNet`` and ``load()`` (the ``callable`` of [V]).

``GraspNet`` takes a batch of gripper-camera images as float32, NHWC, values 0..255
(shape (n, 16, 16, 3)), scales them by 1/255 inside ``forward`` and returns one logit per
class in the order ``hand, piece, empty`` (``class_order`` in [V]).

It is a plain feed-forward ReLU network, Flatten -> Linear(768, 32) -> ReLU ->
Linear(32, 3), so that it exports to ONNX with only Mul, Flatten, Gemm and Relu nodes,
which the formal verifier (Marabou) accepts. Flatten keeps the NHWC order: input feature
``(row * 16 + column) * 3 + channel``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

__all__ = ["CLASS_ORDER", "GraspNet", "load"]

CLASS_ORDER = ("hand", "piece", "empty")
WEIGHTS = Path(__file__).with_name("grasp-net.pt")


class GraspNet(nn.Module):
    """Flatten -> Linear(768, hidden) -> ReLU -> Linear(hidden, 3), on inputs / 255."""

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.hidden = nn.Linear(16 * 16 * 3, hidden)
        self.relu = nn.ReLU()
        self.out = nn.Linear(hidden, len(CLASS_ORDER))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * (1.0 / 255.0)
        logits: torch.Tensor = self.out(self.relu(self.hidden(self.flatten(x))))
        return logits


def load(path: str | Path | None = None) -> GraspNet:
    """The trained network in eval mode, its weights read from ``path`` (default: the
    ``grasp-net.pt`` next to this file) with ``torch.load(..., weights_only=True)``."""
    net = GraspNet()
    state = torch.load(Path(path) if path is not None else WEIGHTS, weights_only=True)
    net.load_state_dict(state)
    net.eval()
    return net
