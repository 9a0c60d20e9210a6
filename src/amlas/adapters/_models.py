"""Load a model file behind the :class:`~amlas.adapters.Model` protocol.

The format ([V] ``format``) names a plug-in of the entry-point group ``amlas.models``
(:class:`~amlas.adapters.ModelFormat`); built in, each in its own module:

``sklearn_joblib``, ``skops``
    scikit-learn style estimators (:mod:`amlas.adapters._sklearn`).
``onnx``
    onnxruntime on the CPU (:mod:`amlas.adapters._onnx`).
``torch``
    A :class:`torch.nn.Module` (the ``torch`` extra; :mod:`amlas.adapters._torch`).
``python_callable``
    ``"module:function"`` returning the model (:mod:`amlas.adapters._callable`).

Conventions shared by every adapter: ``classes`` is ``class_order`` when given, else
the model's own (``classes_`` as text, integral floats without ``.0``). When both
exist they must hold the same names; probabilities are reordered into ``class_order``.
``predict`` returns class names (``str_``): the model's own ``predict`` where it has
one, else the argmax of the probabilities (ONNX models with probabilities always use
the argmax, so labels and probabilities agree). ``predict_proba`` returns float64 of
shape ``(n, len(classes))`` or raises :class:`ModelError`; so does any failure inside
the model. :func:`load_model` holds every loaded model to that contract
(:class:`GuardedModel`), whatever plug-in loaded it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from amlas.adapters._model import Model, ModelError, ModelFormat, ModelOptions
from amlas.errors import UsageError
from amlas.plugins import PluginError, registry

_T = TypeVar("_T")

__all__ = [
    "MODELS_GROUP",
    "GuardedModel",
    "check_distribution",
    "load_model",
    "model_format",
    "model_formats",
    "predict_batched",
]

MODELS_GROUP = "amlas.models"


def model_formats() -> tuple[str, ...]:
    """The names of the installed model formats (imports none of them)."""
    return registry(MODELS_GROUP).names()


def model_format(name: str) -> ModelFormat:
    """The model format plug-in registered as ``name``; :class:`ModelError` otherwise."""
    try:
        found: ModelFormat = registry(MODELS_GROUP).get(name)
    except PluginError as error:
        raise ModelError(str(error)) from error
    return found


def load_model(
    path: Path | None,
    format: str,
    *,
    callable: str | None = None,
    class_order: Sequence[str] = (),
    search_path: Path | None = None,
    outputs: Literal["logits", "probabilities"] = "logits",
    timeout_s: float | None = None,
) -> Model:
    """Load the model at ``path`` with the plug-in registered as ``format`` (``path`` is
    unused for ``python_callable``, which names ``callable`` as ``"module:function"``
    importable from ``search_path``).

    ``class_order`` names the probability columns; required when the model does not
    name its classes. ``outputs`` applies to torch modules (logits or probabilities).
    ``timeout_s`` bounds loading and each prediction call (see :class:`GuardedModel`).
    Raises :class:`ModelError` on any failure.
    """
    order = tuple(str(c) for c in class_order)
    if len(set(order)) != len(order):
        raise ModelError(f"class_order {list(order)} names a class twice; expected unique names")
    plugin = model_format(format)
    options = ModelOptions(
        callable=callable, class_order=order, search_path=search_path, outputs=outputs
    )
    source = f"{format} model {callable!r}" if callable else f"{format} model {str(path)!r}"
    model = _guarded_call(source, "loading", timeout_s, lambda: plugin.load(path, options))
    return GuardedModel(model, timeout_s=timeout_s)


# --- the guard every loaded model passes through --------------------------------------

PROBABILITY_TOLERANCE = 1e-3
"""How far a probability may stray below 0, above 1, or a row's sum from 1 (float32
models and softmax round-off stay far inside it; logits or scores do not)."""


class _TimedOut(BaseException):
    """Raised by the alarm inside a model call; never escapes :func:`_guarded_call`."""


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (SIGALRM; main thread of a POSIX process
    only: elsewhere, for ``None``, and while the caller has a real-time timer of its own
    running, which is left alone, no limit). Code stuck inside a C extension that never
    returns to Python is interrupted only when it does."""
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0.0
    )
    if not usable:
        yield
        return
    assert seconds is not None
    armed = [True]

    def alarm(signum: int, frame: Any) -> None:
        if armed[0]:  # a late alarm, after the block ended, is ignored
            raise _TimedOut

    previous = signal.signal(signal.SIGALRM, alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            armed[0] = False
            signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)


def _guarded_call(source: str, what: str, timeout_s: float | None, fn: Callable[[], _T]) -> _T:
    """``fn()`` with the model's own ways of ending the process turned into a
    :class:`ModelError`: ``sys.exit`` (SystemExit) and running past ``timeout_s``."""
    try:
        with _time_limit(timeout_s):
            return fn()
    except _TimedOut:
        raise ModelError(
            f"{source}: the model did not finish {what} within {timeout_s:g} s (timeout_s in [V]); "
            "expected it to answer in time (raise timeout_s for a slow model)",
            code="R025",
        ) from None
    except SystemExit as exc:
        raise ModelError(
            f"{source}: the model called sys.exit({exc.code!r}) while {what}; a model must return "
            "its answer or raise an exception, never end the process",
            code="R024",
        ) from None


def check_distribution(proba: NDArray[np.float64], classes: tuple[str, ...], source: str) -> None:
    """Every finite row of ``proba`` is a probability distribution over ``classes``;
    :class:`ModelError` naming the first sample that is not. Rows holding NaN or infinity
    are left to the checks, which report them as invalid predictions."""
    if proba.size == 0:
        return
    finite = np.isfinite(proba).all(axis=1)
    rows = proba[finite]
    low = rows < -PROBABILITY_TOLERANCE
    high = rows > 1.0 + PROBABILITY_TOLERANCE
    off = np.abs(rows.sum(axis=1) - 1.0) > PROBABILITY_TOLERANCE
    bad = low.any(axis=1) | high.any(axis=1) | off
    if not bad.any():
        return
    index = int(np.flatnonzero(finite)[np.argmax(bad)])
    row = proba[index]
    values = ", ".join(f"{c}={v:.6g}" for c, v in zip(classes, row.tolist(), strict=True))
    if low.any():
        why = "negative values"
    elif high.any():
        why = "values above 1"
    else:
        why = "rows that do not sum to 1"
    raise ModelError(
        f"{source}: predict_proba returned {why} for {int(bad.sum())} of {len(proba)} "
        f"samples, e.g. sample {index + 1}: [{values}] (sum {float(row.sum()):.6g}); "
        "expected class probabilities in [0, 1] summing to 1 per sample (a torch model "
        "that returns logits or scores takes 'outputs: logits' in [V])",
        code="R022",
    )


class GuardedModel:
    """Any loaded model, held to the :class:`Model` contract at every call: probabilities
    are distributions, and the model neither ends the process nor runs past its limit."""

    def __init__(self, model: Model, *, timeout_s: float | None = None) -> None:
        self.inner = model
        self.classes = model.classes
        self.has_proba = model.has_proba
        self.timeout_s = timeout_s
        self._source = str(getattr(model, "_source", type(model).__name__))

    def __getattr__(self, name: str) -> Any:  # export_onnx, estimators, ...
        if name.startswith("__") or name == "inner":  # copy/pickle probe before __init__
            raise AttributeError(name)
        return getattr(self.inner, name)

    def predict_proba(self, x: NDArray[np.generic]) -> NDArray[np.float64]:
        out = _guarded_call(
            self._source,
            "predicting probabilities",
            self.timeout_s,
            lambda: self.inner.predict_proba(x),
        )
        check_distribution(out, self.classes, self._source)
        return out

    def predict(self, x: NDArray[np.generic]) -> NDArray[np.str_]:
        return _guarded_call(
            self._source, "predicting labels", self.timeout_s, lambda: self.inner.predict(x)
        )

    def detect(self, x: NDArray[np.generic]) -> Any:
        """A detector's boxes (``python_detector``), within the time limit."""
        detect = getattr(self.inner, "detect", None)
        if detect is None:
            raise AttributeError("detect")
        return _guarded_call(self._source, "detecting", self.timeout_s, lambda: detect(x))


def predict_batched(
    model: Model,
    x: NDArray[np.generic],
    *,
    batch_size: int = 65536,
    proba: bool = True,
    progress: Callable[[int], None] | None = None,
) -> NDArray[Any]:
    """``model.predict_proba(x)`` (or ``predict`` when ``proba`` is false) computed on
    consecutive slices of ``batch_size`` samples, so memory stays bounded on large data.

    ``progress`` is called after each batch with the number of samples in that batch.
    """
    if batch_size < 1:
        raise UsageError(f"batch_size={batch_size!r}; expected a positive number of samples")
    if proba and not model.has_proba:
        raise ModelError(
            "the model gives no probabilities (has_proba is false); expected a model with "
            "predict_proba, or call with proba=False for labels",
            code="R021",
        )
    n = len(x)
    if n == 0:
        if proba:
            return np.zeros((0, len(model.classes)), dtype=np.float64)
        return np.zeros(0, dtype=np.str_)
    predict = model.predict_proba if proba else model.predict
    parts: list[NDArray[Any]] = []
    for start in range(0, n, batch_size):
        batch = x[start : start + batch_size]
        parts.append(predict(batch))
        if progress is not None:
            progress(len(batch))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
