"""Conventions every model adapter shares: class names, the probability array's shape,
argmax labels, and the model's own errors as :class:`ModelError`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters._model import ModelError

__all__ = ["argmax", "call", "check_proba", "class_names", "one_line", "resolve_classes"]


def one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def class_names(values: Any) -> NDArray[np.str_]:
    """Labels as text; integral floats lose their ``.0`` so ``1.0`` reads as ``"1"``, value
    by value as a dataset's labels read (``Table.text``): ``[1.0, 2.5]`` is ``"1"``,
    ``"2.5"``."""
    array = np.asarray(values)
    if array.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(array) & (np.trunc(array) == array) & (np.abs(array) < 2.0**63)
        out = array.astype(np.str_)
        out[whole] = array[whole].astype(np.int64).astype(np.str_)
        return out
    if array.dtype.kind == "S":
        return np.char.decode(array, "utf-8")
    return array.astype(np.str_)


def resolve_classes(
    own: Sequence[str] | None, order: tuple[str, ...], source: str
) -> tuple[tuple[str, ...], NDArray[np.intp] | None]:
    """The classes to expose and the column permutation from the model's own order."""
    if own is None:
        if not order:
            raise ModelError(
                f"{source}: the model does not name its classes; set class_order in [V]"
            )
        return order, None
    own = tuple(own)
    if not order:
        return own, None
    if len(own) != len(order) or set(own) != set(order):
        raise ModelError(
            f"{source}: class_order {list(order)} does not match the model's classes "
            f"{list(own)}; expected the same names (in any order)"
        )
    if own == order:
        return order, None
    return order, np.array([own.index(name) for name in order], dtype=np.intp)


def check_proba(values: Any, n: int, classes: tuple[str, ...], source: str) -> NDArray[np.float64]:
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelError(
            f"{source}: predict_proba returned values that are not numbers ({one_line(exc)})",
            code="R021",
        ) from None
    if out.shape != (n, len(classes)):
        raise ModelError(
            f"{source}: predict_proba returned shape {out.shape}; expected "
            f"({n}, {len(classes)}) for {n} samples and classes {list(classes)}",
            code="R021",
        )
    return out


def argmax(proba: NDArray[np.float64], classes: tuple[str, ...]) -> NDArray[np.str_]:
    names: NDArray[np.str_] = np.asarray(classes, dtype=np.str_)[np.argmax(proba, axis=1)]
    return names


def call(source: str, what: str, fn: Callable[[Any], Any], x: Any) -> Any:
    try:
        return fn(x)
    except ModelError:
        raise
    except Exception as exc:  # the model's own error, e.g. a wrong number of features
        raise ModelError(f"{source}: {what} failed: {one_line(exc)}", code="R023") from exc
