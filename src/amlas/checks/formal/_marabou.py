"""Complete verification queries answered by Marabou (maraboupy 2.0).

One query asks whether some input in a box makes class ``j`` reach class ``c``::

    exists x: lower <= x <= upper and z_j(x) + o_j >= z_c(x) + o_c

encoded as the input variables' bounds plus one linear inequality
``z_c - z_j <= o_j - o_c`` (minus a margin ``delta`` when asking for a point that flips
the decision strictly). Marabou answers ``sat`` with a point, ``unsat``, ``TIMEOUT``, or
``UNKNOWN`` / ``ERROR`` / ``QUIT_REQUESTED``.

Which network Marabou solves:

1. the ONNX file itself, read by ``Marabou.read_onnx`` up to the logits (before a trailing
   Softmax, through ``outputNames``);
2. when maraboupy's parser cannot read the graph (maraboupy 2.0 has no Div, and its Mul
   and Sub take only scalar or same-shape constants, so ``x / 255`` inside a model's
   forward already defeats it), the layers amlas read (:mod:`._network`), written as
   Marabou equations: the affine layers between two ReLU layers composed into one matrix,
   one equation per neuron, one ReLU constraint per unit.

Either encoding is checked once before use: Marabou evaluates it at the first queried
sample with the inputs fixed, and its logits must match :meth:`Network.forward` there.
The network object is never changed: each query starts from a fresh ``InputQuery``
(``getInputQuery()``) and sets its bounds and inequality on that, so nothing carries over
from one query to the next.

Marabou's time limit is whole seconds (``timeoutInSeconds``, 0 meaning none), so a limit
``t`` becomes ``max(1, ceil(t))``. Verbosity is 0; maraboupy's import-time warning about
tensorflow is suppressed.
"""

from __future__ import annotations

import importlib.metadata
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.checks.formal._errors import FORMAL_HINT, FormalError
from amlas.checks.formal._layers import Linear, Relu, Reshape, dense
from amlas.checks.formal._network import Network

__all__ = ["Answer", "Solver", "import_marabou", "marabou_version"]

# Entries of one composed matrix in the amlas encoding.
_ENCODE_LIMIT = 20_000_000


def import_marabou() -> tuple[Any, Any]:
    """maraboupy's ``Marabou`` and ``MarabouCore`` modules, or a FormalError."""
    try:
        with warnings.catch_warnings():
            # maraboupy warns at import that its tensorflow parser is unavailable.
            warnings.simplefilter("ignore")
            from maraboupy import Marabou, MarabouCore
    except ImportError as exc:
        raise FormalError(
            f"complete verification (Marabou) needs maraboupy; {FORMAL_HINT}", code="R001"
        ) from exc
    return Marabou, MarabouCore


def marabou_version() -> str | None:
    """The installed maraboupy version, or ``None``."""
    try:
        return importlib.metadata.version("maraboupy")
    except importlib.metadata.PackageNotFoundError:
        return None


def _solve(core: Any, query: Any, options: Any) -> tuple[str, dict[int, float], Any]:
    """One call into Marabou (a seam for tests)."""
    code, values, stats = core.solve(query, options, "")
    return str(code), dict(values), stats


@dataclass(frozen=True)
class _Encoding:
    network: Any
    """A maraboupy network (``MarabouNetworkONNX`` or a built ``MarabouNetwork``)."""
    inputs: NDArray[np.int64]
    outputs: NDArray[np.int64]
    how: str


@dataclass(frozen=True)
class Answer:
    """Marabou's answer to one query."""

    code: str
    """``sat``, ``unsat``, ``TIMEOUT``, ``UNKNOWN``, ``ERROR``, ``QUIT_REQUESTED``."""
    point: NDArray[np.float64] | None
    """The input Marabou returned (``sat`` only), in the network's input shape."""
    seconds: float


def _read_onnx(marabou: Any, path: Path, network: Network) -> _Encoding:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = marabou.read_onnx(str(path), outputNames=[network.logits_name])
    inputs = np.asarray(net.inputVars[0], dtype=np.int64).ravel()
    outputs = np.asarray(net.outputVars[0], dtype=np.int64).ravel()
    if inputs.size != math.prod(network.input_shape) or outputs.size != network.outputs:
        raise FormalError(
            f"maraboupy read {inputs.size} inputs and {outputs.size} outputs; "
            f"expected {math.prod(network.input_shape)} and {network.outputs}",
            code="R040",
        )
    return _Encoding(
        net, inputs, outputs, f"the ONNX file, read by maraboupy up to {network.logits_name!r}"
    )


def _equations(
    net: Any, layers: list[Linear], shape: tuple[int, ...], given: NDArray[np.int64]
) -> NDArray[np.int64]:
    """New variables equal to ``layers`` applied to the variables ``given``."""
    if not layers:
        return given
    if given.size * math.prod(layers[-1].out_shape) > _ENCODE_LIMIT:
        raise FormalError(
            f"a {given.size}-input block is too large to write as Marabou equations", code="R040"
        )
    weight, bias = dense(layers, shape)
    made = np.array([net.getNewVariable() for _ in range(len(weight))], dtype=np.int64)
    for row, var, b in zip(weight, made, bias, strict=True):
        used = np.flatnonzero(row)
        net.addEquality(
            [*(int(v) for v in given[used]), int(var)],
            [*(float(w) for w in row[used]), -1.0],
            -float(b),
        )
    return made


def _encode_layers(marabou_network: Any, network: Network) -> _Encoding:
    net = marabou_network()
    inputs = np.array(
        [net.getNewVariable() for _ in range(math.prod(network.input_shape))], dtype=np.int64
    )
    current, shape = inputs, network.input_shape
    pending: list[Linear] = []
    for layer in network.layers:
        if not isinstance(layer, Relu):
            pending.append(layer)
            continue
        before = _equations(net, pending, shape, current)
        after = np.array([net.getNewVariable() for _ in before], dtype=np.int64)
        for b, a in zip(before, after, strict=True):
            net.addRelu(int(b), int(a))
        current, shape, pending = after, layer.out_shape, []
    outputs = _equations(net, pending, shape, current)
    if outputs is inputs:  # an identity network still needs output variables of its own
        outputs = _equations(net, [Reshape(shape, shape)], shape, current)
    net.inputVars = [inputs.reshape(network.input_shape)]
    net.outputVars = [outputs.reshape(1, -1)]
    return _Encoding(net, inputs, outputs, "the layers amlas read, written as Marabou equations")


class Solver:
    """Marabou queries on one network, with an encoding chosen and checked on first use."""

    def __init__(self, network: Network, path: Path, *, timeout_s: float) -> None:
        self.network = network
        self.path = path
        self.marabou, self.core = import_marabou()
        self.timeout = max(1, math.ceil(timeout_s))
        self._encoding: _Encoding | None = None
        self.problem: str | None = None
        """Why no encoding could be used (set by :meth:`prepare`)."""

    @property
    def how(self) -> str:
        return self._encoding.how if self._encoding else "none"

    def prepare(self, x0: NDArray[np.float64]) -> bool:
        """Choose the encoding (see the module doc), checked at ``x0``; False when none works."""
        if self._encoding is not None or self.problem is not None:
            return self._encoding is not None
        problems = []
        for make in (self._from_file, self._from_layers):
            try:
                encoding = make()
                mismatch = self._check(encoding, x0)
            except Exception as exc:  # maraboupy raises bare RuntimeError, NotImplementedError, ...
                problems.append(f"{type(exc).__name__}: {exc}")
                continue
            if mismatch is None:
                self._encoding = encoding
                return True
            problems.append(f"{encoding.how}: {mismatch}")
        self.problem = "; ".join(problems)
        return False

    def _from_file(self) -> _Encoding:
        return _read_onnx(self.marabou, self.path, self.network)

    def _from_layers(self) -> _Encoding:
        from maraboupy.MarabouNetwork import MarabouNetwork

        return _encode_layers(MarabouNetwork, self.network)

    def _check(self, encoding: _Encoding, x0: NDArray[np.float64]) -> str | None:
        flat = x0.ravel()
        answer, values = self._run(encoding, flat, flat, None)
        if answer.code != "sat":
            return f"evaluating the sample gave {answer.code!r}"
        got = np.array([values[int(v)] for v in encoding.outputs])
        want = self.network.forward(x0[None])[0]
        tolerance = 1e-6 * (1.0 + float(np.max(np.abs(want))))
        if not np.allclose(got, want, rtol=0.0, atol=tolerance):
            return f"its logits {got.tolist()} differ from the network's {want.tolist()}"
        return None

    def query(
        self,
        lower: NDArray[np.float64],
        upper: NDArray[np.float64],
        c: int,
        j: int,
        offsets: NDArray[np.float64],
        delta: float = 0.0,
    ) -> Answer:
        """Is there x in [lower, upper] with z_j + o_j >= z_c + o_c + delta? (After prepare.)"""
        assert self._encoding is not None, "prepare() first"
        answer, _ = self._run(
            self._encoding,
            lower.ravel(),
            upper.ravel(),
            (c, j, float(offsets[j] - offsets[c] - delta)),
        )
        return answer

    def _run(
        self,
        encoding: _Encoding,
        lower: NDArray[np.float64],
        upper: NDArray[np.float64],
        inequality: tuple[int, int, float] | None,
    ) -> tuple[Answer, dict[int, float]]:
        start = time.perf_counter()
        query = encoding.network.getInputQuery()
        for var, lo, hi in zip(encoding.inputs, lower, upper, strict=True):
            query.setLowerBound(int(var), float(lo))
            query.setUpperBound(int(var), float(hi))
        if inequality is not None:
            c, j, scalar = inequality
            equation = self.core.Equation(self.core.Equation.LE)
            equation.addAddend(1.0, int(encoding.outputs[c]))
            equation.addAddend(-1.0, int(encoding.outputs[j]))
            equation.setScalar(scalar)
            query.addEquation(equation)
        options = self.marabou.createOptions(verbosity=0, timeoutInSeconds=self.timeout)
        code, values, stats = _solve(self.core, query, options)
        if code != "sat" and stats is not None and stats.hasTimedOut():
            code = "TIMEOUT"
        point = None
        if code == "sat":
            point = np.array([values[int(v)] for v in encoding.inputs], dtype=np.float64)
            point = point.reshape(self.network.input_shape)
        return Answer(code, point, time.perf_counter() - start), values
