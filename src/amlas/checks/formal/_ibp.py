"""Interval bound propagation (IBP): sound, incomplete bounds on a network's logits.

For a box of inputs ``[lower, upper]`` every layer maps a box to a box that contains the
images of all its points: an affine layer ``W x + b`` with ``W`` split into its positive
part ``W+`` and negative part ``W-`` gives ``[W+ l + W- u + b, W+ u + W- l + b]``; ReLU is
monotone. Everything runs in float64, vectorised over samples (in chunks, to bound
memory). The bounds hold for the float64 network up to rounding in the last bits (far
below 1e-9 for small networks).

:func:`margin_bounds` bounds the decision margins ``(z_c + o_c) - (z_j + o_j)`` directly:
the layers after the last ReLU are linear, so they are composed into one matrix and the
margin's own row ``W_c - W_j`` is bounded over the box of the last hidden layer. That is
never looser than subtracting the logits' intervals and usually much tighter (for a
network without ReLU it is exact).

Written by hand in numpy: auto_LiRPA, the usual library for this, is broken on PyPI with
the pinned torch, and interval arithmetic needs no more than this.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from amlas.checks.formal._errors import FormalError
from amlas.checks.formal._layers import Array, Layer, Linear, Relu, dense
from amlas.checks.formal._network import Network

__all__ = ["interval_bounds", "margin_bounds"]

# Entries per chunk of samples (a chunk's activations) and for composing the last layers.
_CHUNK_ENTRIES = 1_000_000
_COMPOSE_LIMIT = 20_000_000


def _propagate(layers: tuple[Layer, ...], lo: Array, hi: Array) -> tuple[Array, Array]:
    for layer in layers:
        lo, hi = layer.bounds(lo, hi)
    return lo, hi


def _box(network: Network, lower: object, upper: object) -> tuple[Array, Array]:
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    expected = f"(n, {', '.join(map(str, network.input_shape))})"
    for name, value in (("lower", lo), ("upper", hi)):
        if value.ndim == 0 or value.shape[1:] != network.input_shape:
            raise FormalError(f"{name} has shape {value.shape}; expected {expected}")
        if not np.all(np.isfinite(value)):
            raise FormalError(f"{name} holds NaN or infinite values")
    if lo.shape != hi.shape:
        raise FormalError(f"lower {lo.shape} and upper {hi.shape} differ in shape")
    if np.any(lo > hi):
        first = np.argwhere(lo > hi)[0]
        raise FormalError(
            f"lower > upper at index {tuple(int(i) for i in first)}: "
            f"{lo[tuple(first)]} > {hi[tuple(first)]}"
        )
    return lo, hi


def _chunk(network: Network) -> int:
    widest = max(
        [math.prod(network.input_shape)] + [math.prod(la.out_shape) for la in network.layers]
    )
    return max(1, _CHUNK_ENTRIES // widest)


def interval_bounds(network: Network, lower: Array, upper: Array) -> tuple[Array, Array]:
    """Elementwise bounds ``(lo, hi)``, each ``(n, outputs)``, on the logits of every
    input in the box ``lower <= x <= upper`` (both ``(n, *input_shape)``)."""
    lo, hi = _box(network, lower, upper)
    out_lo = np.empty((len(lo), network.outputs))
    out_hi = np.empty((len(lo), network.outputs))
    step = _chunk(network)
    for start in range(0, len(lo), step):
        part = slice(start, start + step)
        a, b = _propagate(network.layers, lo[part], hi[part])
        out_lo[part] = a.reshape(len(a), -1)
        out_hi[part] = b.reshape(len(b), -1)
    return out_lo, out_hi


def _split(network: Network) -> tuple[tuple[Layer, ...], tuple[Linear, ...], tuple[int, ...]]:
    """The layers up to the last ReLU, the linear tail, and the tail's input shape."""
    last = max((i for i, la in enumerate(network.layers) if isinstance(la, Relu)), default=-1)
    hidden = network.layers[: last + 1]
    tail = tuple(la for la in network.layers[last + 1 :] if not isinstance(la, Relu))
    shape = hidden[-1].out_shape if hidden else network.input_shape
    return hidden, tail, shape


def margin_bounds(
    network: Network,
    lower: Array,
    upper: Array,
    decisions: NDArray[np.int64],
    offsets: Array | None = None,
) -> Array:
    """Lower bounds ``(n, outputs)`` on ``(z_c + o_c) - (z_j + o_j)`` over the box, with
    ``c = decisions[i]``; ``+inf`` at ``j = c``. All positive proves the decision."""
    lo, hi = _box(network, lower, upper)
    k = network.outputs
    o = np.zeros(k) if offsets is None else np.asarray(offsets, dtype=np.float64)
    c_all = np.asarray(decisions, dtype=np.int64)
    hidden, tail, shape = _split(network)
    size = math.prod(shape)
    widest = max([size] + [math.prod(la.out_shape) for la in tail])
    composite = dense(tail, shape) if size * widest <= _COMPOSE_LIMIT else None
    out = np.empty((len(lo), k))
    step = _chunk(network)
    for start in range(0, len(lo), step):
        part = slice(start, start + step)
        h_lo, h_hi = _propagate(hidden, lo[part], hi[part])
        c = c_all[part]
        view = out[part]
        if composite is None:
            z_lo, z_hi = _propagate(tail, h_lo, h_hi)
            z_lo, z_hi = z_lo.reshape(len(c), k), z_hi.reshape(len(c), k)
            view[:] = (z_lo[np.arange(len(c)), c] + o[c])[:, None] - (z_hi + o)
            continue
        weight, bias = composite
        h_lo, h_hi = h_lo.reshape(len(c), -1), h_hi.reshape(len(c), -1)
        for cls in np.unique(c):
            rows = np.flatnonzero(c == cls)
            diff = weight[cls][None, :] - weight
            const = (bias[cls] + o[cls]) - (bias + o)
            view[rows] = (
                h_lo[rows] @ np.maximum(diff, 0.0).T + h_hi[rows] @ np.minimum(diff, 0.0).T + const
            )
    out[np.arange(len(lo)), c_all] = np.inf
    return out
