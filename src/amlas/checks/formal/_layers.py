"""The layers of a piecewise-linear network, in float64, one sample per leading row.

Every layer maps a batch ``(n, *in_shape)`` to ``(n, *out_shape)``:

- :class:`Affine`: ``y = W @ flatten(x) + b``, reshaped to ``out_shape`` (Gemm, MatMul,
  and whatever linear layers :func:`fuse` folded into it);
- :class:`Conv`: a 1-D or 2-D convolution kept as a convolution (channels first, ONNX
  semantics: padding, strides, dilations, groups), plus a per-channel bias;
- :class:`Scale`: ``y = x * scale + shift`` elementwise with broadcasting (Add, Sub, Mul,
  Div by constants, BatchNormalization);
- :class:`Permute` and :class:`Reshape`: per-sample transposes and reshapes;
- :class:`Relu`.

All but :class:`Relu` are affine. Each affine layer has ``apply`` (with its bias),
``linear`` (without it: the homogeneous part, used to push whole matrices through a
chain of layers), ``bounds`` (sound elementwise interval bounds, weights split into
their positive part ``W+`` and negative part ``W-``) and ``vjp`` (the transpose of
``linear``, for gradients).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

__all__ = [
    "Affine",
    "Array",
    "Conv",
    "Layer",
    "Linear",
    "Permute",
    "Relu",
    "Reshape",
    "Scale",
    "dense",
    "fuse",
    "push",
]

Array = NDArray[np.float64]
Shape = tuple[int, ...]

# Fusing two layers into one dense matrix is skipped beyond this many entries.
_FUSE_LIMIT = 4_000_000


def _size(shape: Shape) -> int:
    return math.prod(shape)


def _pos(w: Array) -> Array:
    return np.maximum(w, 0.0)


def _neg(w: Array) -> Array:
    return np.minimum(w, 0.0)


@dataclass(frozen=True, eq=False)
class Affine:
    """``y = weight @ flatten(x) + bias``, reshaped to ``out_shape``."""

    weight: Array
    """``(outputs, inputs)``."""
    bias: Array
    """``(outputs,)``."""
    in_shape: Shape
    out_shape: Shape
    kind: ClassVar[str] = "affine"

    def apply(self, x: Array) -> Array:
        return self.linear(x) + self.bias.reshape(self.out_shape)

    def linear(self, x: Array) -> Array:
        return (x.reshape(len(x), -1) @ self.weight.T).reshape((len(x), *self.out_shape))

    def bounds(self, lo: Array, hi: Array) -> tuple[Array, Array]:
        lo2, hi2 = lo.reshape(len(lo), -1), hi.reshape(len(hi), -1)
        wp, wn = _pos(self.weight).T, _neg(self.weight).T
        shape = (len(lo), *self.out_shape)
        return (
            (lo2 @ wp + hi2 @ wn + self.bias).reshape(shape),
            (hi2 @ wp + lo2 @ wn + self.bias).reshape(shape),
        )

    def vjp(self, g: Array) -> Array:
        return (g.reshape(len(g), -1) @ self.weight).reshape((len(g), *self.in_shape))

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "inputs": _size(self.in_shape), "outputs": self.weight.shape[0]}


@dataclass(frozen=True, eq=False)
class Conv:
    """A convolution over channels-first samples ``(C, H, W)`` or ``(C, L)``.

    One-dimensional convolutions are stored as two-dimensional ones of height 1.
    """

    weight: Array
    """``(M, C / group, kh, kw)``."""
    bias: Array
    """``(M,)``."""
    strides: tuple[int, int]
    pads: tuple[int, int, int, int]
    """Top, left, bottom, right."""
    dilations: tuple[int, int]
    group: int
    in_shape: Shape
    out_shape: Shape
    kind: ClassVar[str] = "conv"

    def _as2d(self, x: Array) -> Array:
        return x.reshape(len(x), self.in_shape[0], -1, self.in_shape[-1])

    def apply(self, x: Array) -> Array:
        return self.linear(x) + self.bias.reshape((-1,) + (1,) * (len(self.out_shape) - 1))

    def linear(self, x: Array) -> Array:
        return self._conv(x, self.weight)

    def _conv(self, x: Array, weight: Array) -> Array:
        out = _conv2d(self._as2d(x), weight, self.strides, self.pads, self.dilations, self.group)
        return out.reshape((len(x), *self.out_shape))

    def bounds(self, lo: Array, hi: Array) -> tuple[Array, Array]:
        wp, wn = _pos(self.weight), _neg(self.weight)
        bias = self.bias.reshape((-1,) + (1,) * (len(self.out_shape) - 1))
        return (
            self._conv(lo, wp) + self._conv(hi, wn) + bias,
            self._conv(hi, wp) + self._conv(lo, wn) + bias,
        )

    def vjp(self, g: Array) -> Array:
        g4 = g.reshape(len(g), self.out_shape[0], -1, self.out_shape[-1])
        height = 1 if len(self.in_shape) == 2 else self.in_shape[1]
        grad = _conv2d_vjp(
            g4,
            self.weight,
            (height, self.in_shape[-1]),
            self.strides,
            self.pads,
            self.dilations,
            self.group,
        )
        return grad.reshape((len(g), *self.in_shape))

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "in_shape": list(self.in_shape),
            "out_shape": list(self.out_shape),
            "kernel": list(self.weight.shape[2:]),
            "strides": list(self.strides),
            "group": self.group,
        }


@dataclass(frozen=True, eq=False)
class Scale:
    """``y = x * scale + shift`` elementwise; both broadcast to the sample shape."""

    scale: Array
    shift: Array
    in_shape: Shape
    kind: ClassVar[str] = "scale"

    @property
    def out_shape(self) -> Shape:
        return self.in_shape

    def apply(self, x: Array) -> Array:
        return x * self.scale + self.shift

    def linear(self, x: Array) -> Array:
        return x * self.scale

    def bounds(self, lo: Array, hi: Array) -> tuple[Array, Array]:
        a, b = lo * self.scale, hi * self.scale
        return np.minimum(a, b) + self.shift, np.maximum(a, b) + self.shift

    def vjp(self, g: Array) -> Array:
        return g * self.scale

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "shape": list(self.in_shape)}


@dataclass(frozen=True, eq=False)
class Permute:
    """A per-sample transpose: output axis ``i`` is input axis ``axes[i]``."""

    axes: Shape
    in_shape: Shape

    kind: ClassVar[str] = "permute"

    @property
    def out_shape(self) -> Shape:
        return tuple(self.in_shape[a] for a in self.axes)

    def apply(self, x: Array) -> Array:
        return self.linear(x)

    def linear(self, x: Array) -> Array:
        return x.transpose((0, *(a + 1 for a in self.axes)))

    def bounds(self, lo: Array, hi: Array) -> tuple[Array, Array]:
        return self.linear(lo), self.linear(hi)

    def vjp(self, g: Array) -> Array:
        inverse = np.argsort(self.axes)
        return g.transpose((0, *(int(a) + 1 for a in inverse)))

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "axes": list(self.axes), "in_shape": list(self.in_shape)}


@dataclass(frozen=True, eq=False)
class Reshape:
    """A per-sample reshape (row-major order, as ONNX)."""

    in_shape: Shape
    out_shape: Shape
    kind: ClassVar[str] = "reshape"

    def apply(self, x: Array) -> Array:
        return x.reshape((len(x), *self.out_shape))

    def linear(self, x: Array) -> Array:
        return self.apply(x)

    def bounds(self, lo: Array, hi: Array) -> tuple[Array, Array]:
        return self.apply(lo), self.apply(hi)

    def vjp(self, g: Array) -> Array:
        return g.reshape((len(g), *self.in_shape))

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "in_shape": list(self.in_shape),
            "out_shape": list(self.out_shape),
        }


@dataclass(frozen=True, eq=False)
class Relu:
    """``y = max(x, 0)`` elementwise."""

    in_shape: Shape
    kind: ClassVar[str] = "relu"

    @property
    def out_shape(self) -> Shape:
        return self.in_shape

    def apply(self, x: Array) -> Array:
        return np.maximum(x, 0.0)

    def bounds(self, lo: Array, hi: Array) -> tuple[Array, Array]:
        return np.maximum(lo, 0.0), np.maximum(hi, 0.0)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "units": _size(self.in_shape)}


Linear = Affine | Conv | Scale | Permute | Reshape
Layer = Linear | Relu


def _conv2d(
    x: Array,
    w: Array,
    strides: tuple[int, int],
    pads: tuple[int, int, int, int],
    dilations: tuple[int, int],
    group: int,
) -> Array:
    """ONNX Conv without bias: ``x (n, C, H, W)``, ``w (M, C / group, kh, kw)``."""
    top, left, bottom, right = pads
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    m, cg, kh, kw = w.shape
    extent = ((kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1)
    windows = sliding_window_view(padded, extent, axis=(2, 3))
    windows = windows[:, :, :: strides[0], :: strides[1], :: dilations[0], :: dilations[1]]
    mg = m // group
    parts = [
        np.tensordot(
            windows[:, g * cg : (g + 1) * cg], w[g * mg : (g + 1) * mg], axes=([1, 4, 5], [1, 2, 3])
        )
        for g in range(group)
    ]
    out = parts[0] if group == 1 else np.concatenate(parts, axis=3)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def _conv2d_vjp(
    g: Array,
    w: Array,
    in_hw: tuple[int, int],
    strides: tuple[int, int],
    pads: tuple[int, int, int, int],
    dilations: tuple[int, int],
    group: int,
) -> Array:
    """The transpose of :func:`_conv2d` applied to ``g (n, M, OH, OW)``."""
    top, left, bottom, right = pads
    m, cg, kh, kw = w.shape
    n, _, oh, ow = g.shape
    padded = np.zeros((n, cg * group, in_hw[0] + top + bottom, in_hw[1] + left + right))
    mg = m // group
    sh, sw = strides
    for grp in range(group):
        cols = np.tensordot(g[:, grp * mg : (grp + 1) * mg], w[grp * mg : (grp + 1) * mg], (1, 0))
        cols = np.ascontiguousarray(cols.transpose(0, 3, 4, 5, 1, 2))  # (n, cg, kh, kw, OH, OW)
        for k in range(kh):
            for col in range(kw):
                r0, c0 = k * dilations[0], col * dilations[1]
                padded[
                    :,
                    grp * cg : (grp + 1) * cg,
                    r0 : r0 + sh * (oh - 1) + 1 : sh,
                    c0 : c0 + sw * (ow - 1) + 1 : sw,
                ] += cols[:, :, k, col]
    return padded[:, :, top : top + in_hw[0], left : left + in_hw[1]]


def push(layers: Sequence[Linear], matrix: Array, in_shape: Shape) -> Array:
    """``matrix (rows, size(in_shape))`` with each row pushed through the homogeneous
    (bias-free) part of ``layers``: the composite linear map applied row by row."""
    batch = matrix.reshape((len(matrix), *in_shape))
    for layer in layers:
        batch = layer.linear(batch)
    return batch.reshape(len(matrix), -1)


def dense(layers: Sequence[Linear], in_shape: Shape) -> tuple[Array, Array]:
    """The composite of affine ``layers`` as one dense map ``(W, b)`` on flattened samples."""
    size = _size(in_shape)
    weight = push(layers, np.eye(size), in_shape).T
    bias = np.zeros((1, *in_shape))
    for layer in layers:
        bias = layer.apply(bias)
    return np.ascontiguousarray(weight), bias.reshape(-1)


def _per_channel(values: Array) -> bool:
    return all(d == 1 for d in values.shape[1:])


def _merge(first: Layer, second: Layer) -> Layer | None:
    """One layer equal to ``second(first(x))``, or ``None`` when not worth it (or not
    possible without losing exactness)."""
    if isinstance(first, Relu) or isinstance(second, Relu):
        return None
    if isinstance(first, Scale) and isinstance(second, Scale):
        return Scale(
            first.scale * second.scale, first.shift * second.scale + second.shift, first.in_shape
        )
    if isinstance(first, Conv) and isinstance(second, Scale):
        if not (_per_channel(second.scale) and _per_channel(second.shift)):
            return None
        scale = np.broadcast_to(second.scale, (first.out_shape[0], *second.scale.shape[1:]))
        shift = np.broadcast_to(second.shift, scale.shape)
        factor = scale.reshape(-1)
        return Conv(
            first.weight * factor[:, None, None, None],
            first.bias * factor + shift.reshape(-1),
            first.strides,
            first.pads,
            first.dilations,
            first.group,
            first.in_shape,
            first.out_shape,
        )
    if isinstance(second, Affine) and not isinstance(first, Conv | Affine):
        if _size(first.in_shape) * (_size(first.out_shape) + second.weight.shape[0]) > _FUSE_LIMIT:
            return None
        weight, bias = dense([first, second], first.in_shape)
        return Affine(weight, bias, first.in_shape, second.out_shape)
    if isinstance(first, Affine) and not isinstance(second, Conv):
        rows = first.weight.shape[1]
        if rows * (_size(second.in_shape) + _size(second.out_shape)) > _FUSE_LIMIT:
            return None
        weight, bias = dense([first, second], first.in_shape)
        return Affine(weight, bias, first.in_shape, second.out_shape)
    return None


def fuse(layers: Sequence[Layer]) -> tuple[Layer, ...]:
    """``layers`` with adjacent affine layers merged where that is exact and small:
    consecutive scales, a per-channel scale (BatchNormalization) into the convolution
    before it, and scales, transposes, reshapes and affine layers into a neighbouring
    :class:`Affine`. Interval bounds through one merged affine layer are never looser
    than through its parts."""
    out: list[Layer] = []
    for layer in layers:
        out.append(layer)
        while len(out) >= 2:
            merged = _merge(out[-2], out[-1])
            if merged is None:
                break
            out[-2:] = [merged]
    return tuple(out)
