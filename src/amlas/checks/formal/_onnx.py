"""The ONNX graph of a piecewise-linear network, read into a chain of layers.

The graph is walked in node order (ONNX stores nodes topologically sorted), following the
one tensor that comes from the input: every node on that chain must take it as its only
non-constant operand (first, except for Add / Sub / Mul / Div), so branches and skip
connections are refused. Nodes whose inputs are all constants are evaluated with numpy,
including the shape arithmetic ``x.view(x.size(0), -1)`` exports: ``Shape`` of the chain's
tensor gives its shape with the batch size as the placeholder 0, which Reshape reads as
"keep this axis". Every refusal names the node, its op_type and why.

Per op type (``n`` the batch axis, which must stay in front and untouched):

- Gemm ``alpha * x @ B' + beta * C`` (no transA) and MatMul ``x @ W`` on vectors: Affine;
- Add / Sub / Mul / Div with one constant operand that broadcasts per sample: Scale
  (Div only by a nonzero constant);
- Conv (1-D or 2-D; pads, auto_pad, strides, dilations, groups): Conv;
- BatchNormalization (inference): Scale per channel;
- Relu; Flatten (axis 1) and Reshape: Reshape; Transpose keeping axis 0: Permute;
- Identity, Constant; Softmax only as the last node, on the class axis: dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from amlas.checks.formal._errors import FormalError
from amlas.checks.formal._layers import (
    Affine,
    Array,
    Conv,
    Layer,
    Permute,
    Relu,
    Reshape,
    Scale,
)

__all__ = ["SUPPORTED_OPS", "Chain", "read_chain"]

SUPPORTED_OPS = (
    "Add",
    "BatchNormalization",
    "Cast",
    "Concat",
    "Constant",
    "Conv",
    "Div",
    "Flatten",
    "Gather",
    "Gemm",
    "Identity",
    "MatMul",
    "Mul",
    "Relu",
    "Reshape",
    "Shape",
    "Slice",
    "Softmax",
    "Squeeze",
    "Sub",
    "Transpose",
    "Unsqueeze",
)
# Ops evaluated with numpy when all their inputs are constants.
# Shape arithmetic (``x.view(x.size(0), -1)`` exports Shape, Gather, Unsqueeze, Concat).
_SHAPE_OPS = ("Cast", "Concat", "Gather", "Shape", "Slice", "Squeeze", "Unsqueeze")
_FOLDABLE = ("Add", "Div", "Identity", "Mul", "Reshape", "Sub", "Transpose", *_SHAPE_OPS)
_ARITHMETIC = ("Add", "Div", "Mul", "Sub")

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Chain:
    """What the graph holds: the layers from the input to the logits, before fusing."""

    input_shape: Shape
    outputs: int
    layers: tuple[Layer, ...]
    input_name: str
    logits_name: str
    dropped_softmax: bool


def read_chain(graph: Any, source: str, onnx: Any) -> Chain:
    """The chain of layers in an ONNX ``graph`` (``onnx`` is the imported package)."""
    return _Reader(graph, source, onnx).read()


class _Reader:
    """Walks the graph's nodes in order (ONNX stores them topologically sorted)."""

    def __init__(self, graph: Any, source: str, onnx: Any) -> None:
        self.graph = graph
        self.source = source
        self.onnx = onnx
        self.consts: dict[str, Any] = {
            init.name: onnx.numpy_helper.to_array(init) for init in graph.initializer
        }
        self.layers: list[Layer] = []
        self.current = ""
        self.shape: Shape = ()
        self.logits = ""

    def fail(self, node: Any, why: str) -> FormalError:
        name = node.name or (node.output[0] if node.output else "?")
        return FormalError(f"{self.source}: node {name!r} ({node.op_type}) {why}")

    def read(self) -> Chain:
        inputs = [i for i in self.graph.input if i.name not in self.consts]
        if len(inputs) != 1:
            names = ", ".join(repr(i.name) for i in inputs)
            raise FormalError(
                f"{self.source}: the graph has {len(inputs)} inputs ({names}); "
                "formal verification needs exactly one"
            )
        if len(self.graph.output) != 1:
            raise FormalError(
                f"{self.source}: the graph has {len(self.graph.output)} outputs; "
                "formal verification needs exactly one (the logits or their softmax)"
            )
        self.current = inputs[0].name
        self.shape = self._input_shape(inputs[0])
        input_shape = self.shape
        for node in self.graph.node:
            self._node(node)
        output = self.graph.output[0].name
        if self.current != output:
            raise FormalError(
                f"{self.source}: the graph output {output!r} is not computed from the input "
                f"{inputs[0].name!r} by one chain of supported nodes"
            )
        if len(self.shape) != 1 or self.shape[0] < 1:
            raise FormalError(
                f"{self.source}: the output has per-sample shape {self.shape}; "
                "expected a vector of logits (n, classes)"
            )
        return Chain(
            input_shape=input_shape,
            outputs=self.shape[0],
            layers=tuple(self.layers),
            input_name=inputs[0].name,
            logits_name=self.logits or output,
            dropped_softmax=bool(self.logits),
        )

    def _input_shape(self, value: Any) -> Shape:
        dims = list(value.type.tensor_type.shape.dim)
        if len(dims) < 2:
            raise FormalError(
                f"{self.source}: input {value.name!r} has rank {len(dims)}; expected a batch "
                "axis followed by the sample's axes"
            )
        shape = []
        for axis, dim in enumerate(dims[1:], start=1):
            if not dim.HasField("dim_value") or dim.dim_value < 1:
                raise FormalError(
                    f"{self.source}: axis {axis} of input {value.name!r} has no fixed size "
                    f"({dim.dim_param or 'unknown'}); only the batch axis may vary"
                )
            shape.append(int(dim.dim_value))
        return tuple(shape)

    def _attrs(self, node: Any) -> dict[str, Any]:
        return {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}

    def _node(self, node: Any) -> None:
        op = node.op_type
        if op == "Constant":
            self.consts[node.output[0]] = self._constant(node)
            return
        names = [name for name in node.input if name]
        live = [name for name in names if name not in self.consts]
        if not live:
            self._fold(node, names)
            return
        if self.logits:
            raise self.fail(node, "follows the Softmax; Softmax is supported only as the last node")
        if op not in SUPPORTED_OPS:
            raise self.fail(
                node, f"is not supported; supported op_types: {', '.join(SUPPORTED_OPS)}"
            )
        if op == "Shape" and live == [self.current]:
            self._shape(node)
            return
        if live != [self.current] or (op not in _ARITHMETIC and names[0] != self.current):
            raise self.fail(
                node,
                f"takes {', '.join(map(repr, names))}; only a single chain of layers is supported "
                f"(no branches or skip connections) with the tensor {self.current!r} as the "
                "first operand",
            )
        getattr(self, f"_op_{op.lower()}")(node, names)
        self.current = node.output[0]

    def _shape(self, node: Any) -> None:
        """The shape of the current tensor, its batch size a placeholder 0: Reshape reads
        0 as "keep this axis", which is what a shape computed from the batch size means."""
        attrs = self._attrs(node)
        full = np.array([0, *self.shape], dtype=np.int64)
        start, end = attrs.get("start", 0), attrs.get("end", len(full))
        self.consts[node.output[0]] = full[start:end]

    def _constant(self, node: Any) -> Any:
        attrs = self._attrs(node)
        if "value" in attrs:
            return self.onnx.numpy_helper.to_array(attrs["value"])
        for key in ("value_float", "value_floats", "value_int", "value_ints"):
            if key in attrs:
                return np.asarray(attrs[key])
        raise self.fail(node, f"holds a kind of constant this reader cannot use ({sorted(attrs)})")

    def _fold(self, node: Any, names: list[str]) -> None:
        op = node.op_type
        if op not in _FOLDABLE:
            raise self.fail(
                node, f"is not supported; supported op_types: {', '.join(SUPPORTED_OPS)}"
            )
        values = [np.asarray(self.consts[name]) for name in names]
        attrs = self._attrs(node)
        if op in _SHAPE_OPS:
            result = self._fold_shape(node, values, attrs)
        elif op == "Identity":
            result = values[0]
        elif op == "Reshape":
            result = values[0].reshape([int(v) for v in values[1].ravel()])
        elif op == "Transpose":
            result = values[0].transpose(attrs.get("perm"))
        else:
            result = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](
                *values
            )
        self.consts[node.output[0]] = result

    def _fold_shape(self, node: Any, values: list[Any], attrs: dict[str, Any]) -> Any:
        op, data = node.op_type, values[0]
        if op == "Cast":
            return data.astype(self.onnx.helper.tensor_dtype_to_np_dtype(attrs["to"]))
        if op == "Concat":
            return np.concatenate(values, axis=attrs.get("axis", 0))
        if op == "Gather":
            return np.take(data, values[1].astype(np.int64), axis=attrs.get("axis", 0))
        if op == "Slice":
            starts, ends = values[1], values[2]
            axes = values[3] if len(values) > 3 else range(len(starts))
            steps = values[4] if len(values) > 4 else [1] * len(starts)
            index = [slice(None)] * data.ndim
            for a, s, e, t in zip(axes, starts, ends, steps, strict=True):
                index[int(a)] = slice(int(s), int(e), int(t))
            return data[tuple(index)]
        axes = [int(a) for a in (values[1] if len(values) > 1 else attrs.get("axes", []))]
        if op == "Unsqueeze":
            rank = data.ndim + len(axes)
            return np.expand_dims(data, tuple(sorted(a % rank for a in axes)))
        if op == "Squeeze":
            return np.squeeze(data, axis=tuple(axes) if axes else None)
        raise self.fail(node, "cannot be evaluated on constants")

    def _weights(self, node: Any, name: str) -> Array:
        value = np.asarray(self.consts[name], dtype=np.float64)
        if not np.all(np.isfinite(value)):
            raise self.fail(node, f"has non-finite values in {name!r}")
        return value

    def _per_sample(self, node: Any, value: Array) -> Array:
        """A constant operand broadcast against (batch, *shape), without its batch axis."""
        rank = len(self.shape) + 1
        if value.ndim > rank or (value.ndim == rank and value.shape[0] != 1):
            raise self.fail(
                node,
                f"has a constant of shape {value.shape} that does not broadcast per sample "
                f"against (n, {', '.join(map(str, self.shape))})",
            )
        if value.ndim == rank:
            value = value[0]
        value = value.reshape((1,) * (len(self.shape) - value.ndim) + value.shape)
        try:
            fits = np.broadcast_shapes(value.shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise self.fail(
                node, f"has a constant of shape {value.shape} that does not fit {self.shape}"
            )
        return value

    def _add(self, layer: Layer) -> None:
        self.layers.append(layer)
        self.shape = layer.out_shape

    # --- the supported op_types, called by _node ----------------------------------------

    def _op_identity(self, node: Any, names: list[str]) -> None:
        return

    def _op_relu(self, node: Any, names: list[str]) -> None:
        self._add(Relu(self.shape))

    def _op_softmax(self, node: Any, names: list[str]) -> None:
        axis = self._attrs(node).get("axis", -1)
        if len(self.shape) != 1 or axis not in (1, -1):
            raise self.fail(node, f"must act on the class axis of (n, classes); axis={axis}")
        self.logits = self.current

    def _op_flatten(self, node: Any, names: list[str]) -> None:
        axis = self._attrs(node).get("axis", 1)
        if axis < 0:
            axis += len(self.shape) + 1
        if axis != 1:
            raise self.fail(node, f"with axis={axis} mixes the batch axis with sample axes")
        self._add(Reshape(self.shape, (math.prod(self.shape),)))

    def _op_reshape(self, node: Any, names: list[str]) -> None:
        attrs = self._attrs(node)
        raw = self.consts[names[1]] if len(names) > 1 else attrs.get("shape", [])
        target = [int(v) for v in np.asarray(raw).ravel()]
        keep_zero = bool(attrs.get("allowzero", 0))
        full = (0, *self.shape)
        rest = list(target[1:])
        for i, v in enumerate(rest, start=1):
            if v == 0 and not keep_zero:
                if i >= len(full):
                    raise self.fail(node, f"copies axis {i} the input does not have")
                rest[i - 1] = full[i]
        size = math.prod(self.shape)
        if rest.count(-1) == 1:
            known = math.prod(v for v in rest if v != -1)
            if known == 0 or size % known:
                raise self.fail(node, f"cannot reshape {self.shape} per sample to {target}")
            rest[rest.index(-1)] = size // known
        if not target or -1 in rest or math.prod(rest) != size:
            raise self.fail(
                node,
                f"reshapes (n, {', '.join(map(str, self.shape))}) to {target}, which mixes "
                "the batch axis with sample axes",
            )
        self._add(Reshape(self.shape, tuple(rest)))

    def _op_transpose(self, node: Any, names: list[str]) -> None:
        perm = self._attrs(node).get("perm") or list(range(len(self.shape), -1, -1))
        if perm[0] != 0:
            raise self.fail(node, f"with perm={list(perm)} moves the batch axis")
        self._add(Permute(tuple(int(p) - 1 for p in perm[1:]), self.shape))

    def _arith(self, node: Any, names: list[str]) -> None:
        op = node.op_type
        first_is_const = names[0] in self.consts
        value = self._per_sample(node, self._weights(node, names[0 if first_is_const else 1]))
        one, zero = np.ones_like(value), np.zeros_like(value)
        if op == "Add":
            layer = Scale(one, value, self.shape)
        elif op == "Sub":
            layer = (
                Scale(-one, value, self.shape) if first_is_const else Scale(one, -value, self.shape)
            )
        elif op == "Mul":
            layer = Scale(value, zero, self.shape)
        elif first_is_const:
            raise self.fail(node, "divides by the tensor, which is not piecewise linear")
        elif np.any(value == 0.0):
            raise self.fail(node, "divides by zero")
        else:
            layer = Scale(1.0 / value, zero, self.shape)
        self._add(layer)

    _op_add = _op_sub = _op_mul = _op_div = _arith

    def _vector_input(self, node: Any) -> int:
        if len(self.shape) != 1:
            raise self.fail(
                node, f"needs a vector per sample, got shape {self.shape}; flatten first"
            )
        return self.shape[0]

    def _op_matmul(self, node: Any, names: list[str]) -> None:
        if names[0] in self.consts:
            raise self.fail(node, "multiplies a constant by the tensor; only x @ W is supported")
        size = self._vector_input(node)
        weight = self._weights(node, names[1])
        if weight.ndim != 2 or weight.shape[0] != size:
            raise self.fail(node, f"has a weight of shape {weight.shape} for inputs of {size}")
        self._add(
            Affine(weight.T.copy(), np.zeros(weight.shape[1]), self.shape, (weight.shape[1],))
        )

    def _op_gemm(self, node: Any, names: list[str]) -> None:
        attrs = self._attrs(node)
        if names[0] != self.current or attrs.get("transA", 0):
            raise self.fail(node, "must take the tensor as its first operand, not transposed")
        size = self._vector_input(node)
        b = self._weights(node, names[1])
        b = b.T if attrs.get("transB", 0) else b
        if b.ndim != 2 or b.shape[0] != size:
            raise self.fail(node, f"has a weight of shape {b.shape} for inputs of {size}")
        outputs = b.shape[1]
        bias = np.zeros(outputs)
        if len(names) > 2:
            c = self._weights(node, names[2])
            try:
                bias = np.broadcast_to(c, (1, outputs))[0] * float(attrs.get("beta", 1.0))
            except ValueError:
                raise self.fail(
                    node, f"has a bias of shape {c.shape} for {outputs} outputs"
                ) from None
        weight = float(attrs.get("alpha", 1.0)) * b.T
        self._add(Affine(np.ascontiguousarray(weight), bias.copy(), self.shape, (outputs,)))

    def _op_conv(self, node: Any, names: list[str]) -> None:
        attrs = self._attrs(node)
        weight = self._weights(node, names[1])
        spatial = weight.ndim - 2
        if spatial not in (1, 2) or len(self.shape) != spatial + 1:
            raise self.fail(
                node,
                f"has a {spatial}-D kernel for samples {self.shape}; 1-D and 2-D are supported",
            )
        group = int(attrs.get("group", 1))
        channels = self.shape[0]
        if weight.shape[1] * group != channels or weight.shape[0] % group:
            raise self.fail(node, f"has a kernel {weight.shape} for {channels} input channels")
        bias = self._weights(node, names[2]) if len(names) > 2 else np.zeros(weight.shape[0])
        kernel = list(weight.shape[2:])
        strides = [int(s) for s in attrs.get("strides", [1] * spatial)]
        dilations = [int(d) for d in attrs.get("dilations", [1] * spatial)]
        sizes = list(self.shape[1:])
        pads = self._pads(node, attrs, sizes, kernel, strides, dilations)
        out = []
        for i in range(spatial):
            extent = (kernel[i] - 1) * dilations[i] + 1
            length = (sizes[i] + pads[i] + pads[i + spatial] - extent) // strides[i] + 1
            if length < 1:
                raise self.fail(node, f"leaves no output along spatial axis {i}")
            out.append(length)
        if spatial == 1:
            weight = weight[:, :, None, :]
            strides, dilations = [1, *strides], [1, *dilations]
            pads = [0, pads[0], 0, pads[1]]
        layer = Conv(
            np.ascontiguousarray(weight),
            bias.reshape(-1).copy(),
            (strides[0], strides[1]),
            (pads[0], pads[1], pads[2], pads[3]),
            (dilations[0], dilations[1]),
            group,
            self.shape,
            (weight.shape[0], *out),
        )
        self._add(layer)

    def _pads(
        self,
        node: Any,
        attrs: dict[str, Any],
        sizes: list[int],
        kernel: list[int],
        strides: list[int],
        dilations: list[int],
    ) -> list[int]:
        mode = attrs.get("auto_pad", b"NOTSET")
        mode = mode.decode() if isinstance(mode, bytes) else str(mode)
        if mode == "NOTSET":
            return [int(p) for p in attrs.get("pads", [0] * 2 * len(sizes))]
        if mode == "VALID":
            return [0] * 2 * len(sizes)
        if mode not in ("SAME_UPPER", "SAME_LOWER"):
            raise self.fail(node, f"has auto_pad={mode!r}")
        begin, end = [], []
        for size, k, s, d in zip(sizes, kernel, strides, dilations, strict=True):
            total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small = total // 2
            begin.append(small if mode == "SAME_UPPER" else total - small)
            end.append(total - begin[-1])
        return begin + end

    def _op_batchnormalization(self, node: Any, names: list[str]) -> None:
        attrs = self._attrs(node)
        if attrs.get("training_mode", 0):
            raise self.fail(node, "is in training mode; export the model in eval() mode")
        scale, shift, mean, var = (self._weights(node, n) for n in names[1:5])
        factor = scale / np.sqrt(var + float(attrs.get("epsilon", 1e-5)))
        shape = (-1,) + (1,) * (len(self.shape) - 1)
        self._add(
            Scale(
                factor.reshape(shape),
                (shift - mean * factor).reshape(shape),
                self.shape,
            )
        )
