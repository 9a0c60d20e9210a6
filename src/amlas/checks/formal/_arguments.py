"""The arguments of the formal leg, checked: every refusal names the value and what was
expected (a :class:`FormalError`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from amlas.checks.formal._errors import FormalError
from amlas.checks.formal._network import Network
from amlas.checks.formal._region import Norm
from amlas.diagnostics import did_you_mean

__all__ = ["METHODS", "NORMS", "Method", "Options", "options", "samples"]

Method = Literal["auto", "complete", "bound_propagation"]
NORMS = ("linf", "l2")
METHODS = ("auto", "complete", "bound_propagation")


@dataclass(frozen=True)
class Options:
    """The checked options of one verification (see :func:`verify_local_robustness`)."""

    epsilon: float
    norm: Norm
    value_range: tuple[float, float] | None
    mask: NDArray[np.bool_]
    offsets: NDArray[np.float64]
    method: Method
    timeout_s: float


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        hint = did_you_mean(str(value), allowed)
        raise FormalError(
            f"{name}={value!r} is not one of {', '.join(allowed)}" + (f"; {hint}" if hint else "")
        )


def _positive(name: str, value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise FormalError(f"{name}={value!r} is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise FormalError(f"{name}={value!r} must be a finite number > 0")
    return number


def options(
    network: Network,
    *,
    epsilon: float,
    norm: str,
    value_range: tuple[float, float] | None,
    mask: object,
    offsets: object,
    method: str,
    timeout_s: float,
) -> Options:
    if network.outputs < 2:
        raise FormalError(
            f"{network.source}: the network has one output; local robustness needs one logit "
            "per class (write a binary classifier as two logits and its threshold as offsets)"
        )
    _choice("norm", norm, NORMS)
    _choice("method", method, METHODS)
    eps = _positive("epsilon", epsilon)
    timeout = _positive("timeout_s", timeout_s)
    bounds = None
    if value_range is not None:
        try:
            low, high = (float(v) for v in value_range)
        except (TypeError, ValueError):
            raise FormalError(f"value_range={value_range!r} must be a pair (low, high)") from None
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise FormalError(f"value_range={value_range!r} must be finite with low < high")
        bounds = (low, high)
    if mask is None:
        allowed = np.ones(network.input_shape, dtype=bool)
    else:
        given = np.asarray(mask)
        if given.dtype != np.bool_:
            raise FormalError(f"mask has dtype {given.dtype}; expected a bool array")
        try:
            allowed = np.broadcast_to(given, network.input_shape).copy()
        except ValueError:
            raise FormalError(
                f"mask of shape {given.shape} does not fit the input shape {network.input_shape}"
            ) from None
    shift = np.zeros(network.outputs) if offsets is None else np.asarray(offsets, dtype=np.float64)
    if shift.shape != (network.outputs,) or not np.all(np.isfinite(shift)):
        raise FormalError(
            f"offsets of shape {shift.shape} must be {network.outputs} finite numbers, "
            "one per logit"
        )
    return Options(eps, norm, bounds, allowed, shift, method, timeout)  # type: ignore[arg-type]


def samples(
    network: Network, inputs: object, decisions: object, value_range: tuple[float, float] | None
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    given = np.asarray(inputs)
    expected = f"(n, {', '.join(map(str, network.input_shape))})"
    if given.dtype.kind not in "biuf":
        raise FormalError(f"inputs have dtype {given.dtype}; expected numbers of shape {expected}")
    if given.ndim == 0 or given.shape[1:] != network.input_shape:
        raise FormalError(f"inputs have shape {given.shape}; {network.source} expects {expected}")
    x = given.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise FormalError("inputs hold NaN or infinite values")
    if value_range is not None:
        outside = np.flatnonzero(
            np.any((x < value_range[0]) | (x > value_range[1]), axis=tuple(range(1, x.ndim)))
        )
        if len(outside):
            i = int(outside[0])
            raise FormalError(
                f"sample {i} has values in [{x[i].min():g}, {x[i].max():g}], outside "
                f"value_range={value_range}"
            )
    labels = np.asarray(decisions)
    if labels.shape != (len(x),):
        raise FormalError(
            f"decisions have shape {labels.shape}; expected ({len(x)},), one per input"
        )
    if labels.dtype.kind not in "biu" and not (
        labels.dtype.kind == "f"
        and np.all(np.isfinite(labels))
        and np.all(labels == np.round(labels))
    ):
        raise FormalError(f"decisions have dtype {labels.dtype}; expected class indices")
    c = labels.astype(np.int64)
    bad = np.flatnonzero((c < 0) | (c >= network.outputs))
    if len(bad):
        raise FormalError(
            f"decisions[{int(bad[0])}]={int(c[bad[0]])} is not a class index "
            f"0..{network.outputs - 1}"
        )
    return x, c
