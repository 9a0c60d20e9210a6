"""A feed-forward piecewise-linear network read from an ONNX file.

:func:`load_network` reads the graph with the ``onnx`` package (not onnxruntime) into a
chain of float64 layers (:mod:`._layers`, :mod:`._onnx`). It accepts what
``torch.onnx.export`` writes for small MLPs and CNNs: Gemm, MatMul (with a constant right
operand), Add / Sub / Mul / Div with one constant operand, Relu, Flatten (axis 1), Reshape
(batch axis kept), Transpose (batch axis kept), Conv (1-D or 2-D), BatchNormalization
(inference), Identity, Constant, and a trailing Softmax, in one chain from the single input
to the single output; constant sub-expressions are folded, including the shape arithmetic
of ``x.view(x.size(0), -1)`` (Shape, Gather, Unsqueeze, Squeeze, Slice, Concat, Cast).
Anything else raises :class:`FormalError` naming the node, its op_type and the supported
list. Adjacent affine layers are then fused (:func:`._layers.fuse`).

The trailing Softmax is dropped: a decision is the argmax of the logits (plus offsets),
which softmax does not change. :attr:`Network.logits_name` names the pre-softmax tensor,
the output a complete verifier must be pointed at.

:meth:`Network.forward` evaluates the layers in float64. The deployed model runs in
float32 (onnxruntime or torch); the two agree to rounding (about 1e-6 relative), and
proofs are about the float64 network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amlas.checks.formal._errors import FORMAL_HINT, FormalError
from amlas.checks.formal._layers import Array, Layer, Relu, fuse
from amlas.checks.formal._onnx import SUPPORTED_OPS, read_chain

__all__ = ["SUPPORTED_OPS", "Network", "load_network"]

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Network:
    """A feed-forward piecewise-linear network: a chain of float64 layers."""

    input_shape: Shape
    """Shape of one sample, as the ONNX input without its batch axis, e.g. ``(16, 16, 3)``."""
    outputs: int
    """Number of logits."""
    layers: tuple[Layer, ...]
    """The chain (see :mod:`amlas.checks.formal._layers`), adjacent affine layers fused."""
    source: str
    """The ONNX file's name, for messages."""
    input_name: str = "x"
    """Name of the ONNX graph input."""
    logits_name: str = "logits"
    """Name of the ONNX tensor holding the logits (before a dropped Softmax)."""
    dropped_softmax: bool = False
    """Whether the graph ended with a Softmax that was dropped."""

    def forward(self, x: Array) -> Array:
        """The logits ``(n, outputs)`` in float64 for inputs ``(n, *input_shape)``."""
        batch = np.asarray(x, dtype=np.float64)
        if batch.shape[1:] != self.input_shape:
            raise FormalError(
                f"{self.source}: inputs of shape {batch.shape} do not match the network's "
                f"input (n, {', '.join(map(str, self.input_shape))})"
            )
        for layer in self.layers:
            batch = layer.apply(batch)
        return batch.reshape(len(batch), self.outputs)

    @property
    def relus(self) -> int:
        """Number of ReLU units."""
        return sum(math.prod(layer.in_shape) for layer in self.layers if isinstance(layer, Relu))

    def summary(self) -> dict[str, Any]:
        """JSON-ready: input shape, outputs, the layers with their sizes, ReLU count."""
        return {
            "source": self.source,
            "input_shape": list(self.input_shape),
            "outputs": self.outputs,
            "layers": [layer.describe() for layer in self.layers],
            "relus": self.relus,
            "dropped_softmax": self.dropped_softmax,
        }


def load_network(path: Path | str) -> Network:
    """Read the ONNX file at ``path`` (see the module doc for what it may contain)."""
    path = Path(path)
    try:
        import onnx
    except ImportError as exc:
        raise FormalError(
            f"{path}: reading ONNX needs the onnx package; {FORMAL_HINT}", code="R001"
        ) from exc
    if not path.is_file():
        raise FormalError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError, OSError, ... for a bad file
        raise FormalError(f"{path}: not a readable ONNX model ({exc})") from exc
    chain = read_chain(model.graph, path.name, onnx)
    return Network(
        input_shape=chain.input_shape,
        outputs=chain.outputs,
        layers=fuse(chain.layers),
        source=path.name,
        input_name=chain.input_name,
        logits_name=chain.logits_name,
        dropped_softmax=chain.dropped_softmax,
    )
