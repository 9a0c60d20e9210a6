"""Load a model file behind the :class:`~amlas.adapters.Model` protocol.

Formats:

``sklearn_joblib``
    :func:`joblib.load` (a pickle: only load files you trust).
``skops``
    :func:`skops.io.load` with no extra trusted types. A file that holds types skops
    does not trust by default is refused with their names, never loaded.
``onnx``
    An :class:`onnxruntime.InferenceSession` on the CPU. The input is the model's first
    input (``X`` is cast to its element type, float32 for ``tensor(float)``); the
    probabilities are the float output of shape ``(n, k)``, preferring one whose name
    starts with ``prob``, or a sequence of maps (sklearn-onnx's ZipMap) turned into an
    ``(n, k)`` array in class order. A model with only a label output has
    ``has_proba = False``.
``torch``
    A :class:`torch.nn.Module` (the ``torch`` extra): a torch.export program (``.pt2``),
    or ``callable`` returning the module; see :mod:`amlas.adapters._torch`.
``python_callable``
    ``"module:function"`` imported with the project root first on ``sys.path`` and
    called with no arguments; it returns an object with ``predict_proba`` and/or
    ``predict`` (e.g. a scikit-learn estimator), or a plain callable taking ``X`` and
    returning probabilities.

Conventions shared by every adapter: ``classes`` is ``class_order`` when given, else
the model's own (``classes_`` as text, integral floats without ``.0``). When both
exist they must hold the same names; probabilities are reordered into ``class_order``.
``predict`` returns class names (``str_``): the model's own ``predict`` where it has
one, else the argmax of the probabilities (ONNX models with probabilities always use
the argmax, so labels and probabilities agree). ``predict_proba`` returns float64 of
shape ``(n, len(classes))`` or raises :class:`ModelError`; so does any failure inside
the model.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
from numpy.typing import NDArray

from amlas.adapters._model import Model
from amlas.errors import ProblemError, UsageError, install_hint

_T = TypeVar("_T")

__all__ = [
    "GuardedModel",
    "ModelError",
    "ModelFormat",
    "call_loader",
    "import_callable",
    "load_model",
    "predict_batched",
]

ModelFormat = Literal["sklearn_joblib", "skops", "onnx", "torch", "python_callable"]

_FORMATS: tuple[str, ...] = ("sklearn_joblib", "skops", "onnx", "torch", "python_callable")
_SKLEARN_HINT = install_hint("sklearn")
_ONNX_HINT = install_hint("onnx")
_SKOPS_DOCS = "https://skops.readthedocs.io/en/stable/persistence.html"


class ModelError(ProblemError):
    """A model cannot be loaded, or its outputs do not fit the declared classes."""

    code = "R020"


def load_model(
    path: Path | None,
    format: ModelFormat,
    *,
    callable: str | None = None,
    class_order: Sequence[str] = (),
    search_path: Path | None = None,
    outputs: Literal["logits", "probabilities"] = "logits",
    timeout_s: float | None = None,
) -> Model:
    """Load the model at ``path`` (unused for ``python_callable``, which names
    ``callable`` as ``"module:function"`` importable from ``search_path``).

    ``class_order`` names the probability columns; required when the model does not
    name its classes. ``outputs`` applies to torch modules (logits or probabilities).
    ``timeout_s`` bounds loading and each prediction call (see :class:`GuardedModel`).
    Raises :class:`ModelError` on any failure.
    """
    order = tuple(str(c) for c in class_order)
    if len(set(order)) != len(order):
        raise ModelError(f"class_order {list(order)} names a class twice; expected unique names")
    source = f"{format} model {callable!r}" if callable else f"{format} model {str(path)!r}"
    model = _guarded_call(
        source,
        "loading",
        timeout_s,
        lambda: _load(path, format, callable, order, search_path, outputs),
    )
    return GuardedModel(model, timeout_s=timeout_s)


def _load(
    path: Path | None,
    format: ModelFormat,
    callable: str | None,
    order: tuple[str, ...],
    search_path: Path | None,
    outputs: Literal["logits", "probabilities"],
) -> Model:
    if format == "torch":
        from amlas.adapters._torch import load_torch_model

        return load_torch_model(
            path, callable=callable, class_order=order, outputs=outputs, search_path=search_path
        )
    if format == "python_callable":
        return _load_callable(callable, order, search_path)
    if format not in _FORMATS:
        raise ModelError(f"unknown model format {format!r}; expected one of {', '.join(_FORMATS)}")
    if path is None:
        raise ModelError(f"a {format} model needs a file path")
    if not path.exists():
        raise ModelError(f"{path}: model file not found")
    if not path.is_file():
        raise ModelError(f"{path}: expected a model file, found a folder")
    if format == "onnx":
        return _OnnxModel(path, order)
    estimator = _load_joblib(path) if format == "sklearn_joblib" else _load_skops(path)
    return _EstimatorModel(estimator, order, str(path))


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


# --- shared helpers --------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _class_names(values: Any) -> NDArray[np.str_]:
    """Labels as text; integral floats lose their ``.0`` so ``1.0`` reads as ``"1"``."""
    array = np.asarray(values)
    if array.dtype.kind == "f" and np.all(np.isfinite(array)):
        as_int = array.astype(np.int64)
        if np.array_equal(as_int, array):
            return as_int.astype(np.str_)
    if array.dtype.kind == "S":
        return np.char.decode(array, "utf-8")
    return array.astype(np.str_)


def _resolve_classes(
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


def _check_proba(values: Any, n: int, classes: tuple[str, ...], source: str) -> NDArray[np.float64]:
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ModelError(
            f"{source}: predict_proba returned values that are not numbers ({_one_line(exc)})",
            code="R021",
        ) from None
    if out.shape != (n, len(classes)):
        raise ModelError(
            f"{source}: predict_proba returned shape {out.shape}; expected "
            f"({n}, {len(classes)}) for {n} samples and classes {list(classes)}",
            code="R021",
        )
    return out


def _argmax(proba: NDArray[np.float64], classes: tuple[str, ...]) -> NDArray[np.str_]:
    names: NDArray[np.str_] = np.asarray(classes, dtype=np.str_)[np.argmax(proba, axis=1)]
    return names


def _call(source: str, what: str, fn: Callable[[Any], Any], x: Any) -> Any:
    try:
        return fn(x)
    except ModelError:
        raise
    except Exception as exc:  # the model's own error, e.g. a wrong number of features
        raise ModelError(f"{source}: {what} failed: {_one_line(exc)}", code="R023") from exc


# --- scikit-learn style estimators -------------------------------------------------------


def _load_joblib(path: Path) -> Any:
    try:
        import joblib
    except ImportError:
        raise ModelError(
            f"{path}: loading a joblib model needs joblib; {_SKLEARN_HINT}", code="R001"
        ) from None
    try:
        return joblib.load(path)
    except ModuleNotFoundError as exc:
        raise ModelError(
            f"{path}: the model needs a package that is not installed ({_one_line(exc)}); "
            f"{_SKLEARN_HINT}",
            code="R001",
        ) from None
    except Exception as exc:  # unpickling raises anything the pickled objects raise
        raise ModelError(f"{path}: cannot load with joblib: {_one_line(exc)}") from None


def _load_skops(path: Path) -> Any:
    try:
        import skops.io as sio
    except ImportError:
        raise ModelError(
            f"{path}: loading a skops model needs skops; {_SKLEARN_HINT}", code="R001"
        ) from None
    try:
        untrusted = list(sio.get_untrusted_types(file=path))
    except Exception as exc:  # a corrupt archive fails in skops' zip or JSON reader
        raise ModelError(f"{path}: not a skops file: {_one_line(exc)}") from None
    if untrusted:
        # Trusting types found in the file would let the file choose what runs on load.
        raise ModelError(
            f"{path}: holds types skops does not trust by default: {', '.join(untrusted)}; "
            f"review them (see {_SKOPS_DOCS}) and, if you trust them, load the model "
            "through a python_callable that calls skops.io.load(path, trusted=[...])"
        )
    try:
        return sio.load(path, trusted=[])
    except ModuleNotFoundError as exc:
        raise ModelError(
            f"{path}: the model needs a package that is not installed ({_one_line(exc)}); "
            f"{_SKLEARN_HINT}",
            code="R001",
        ) from None
    except Exception as exc:
        raise ModelError(f"{path}: cannot load with skops: {_one_line(exc)}") from None


class _EstimatorModel:
    """An object with ``predict_proba`` and/or ``predict`` (scikit-learn's interface)."""

    def __init__(self, estimator: Any, order: tuple[str, ...], source: str) -> None:
        self._estimator = estimator
        self._source = source
        self._has_predict = callable(getattr(estimator, "predict", None))
        # getattr with a default: scikit-learn hides predict_proba behind an
        # AttributeError on e.g. SVC(probability=False)
        self.has_proba: bool = callable(getattr(estimator, "predict_proba", None))
        if not (self.has_proba or self._has_predict):
            raise ModelError(
                f"{source}: loaded a {type(estimator).__name__}, which has neither "
                "predict_proba nor predict; expected a fitted classifier"
            )
        own = getattr(estimator, "classes_", None)
        own_names = None if own is None else tuple(str(c) for c in _class_names(own))
        self.classes, self._permutation = _resolve_classes(own_names, order, source)

    def predict_proba(self, x: NDArray[np.generic]) -> NDArray[np.float64]:
        if not self.has_proba:
            raise NotImplementedError(f"{self._source}: the model has no predict_proba")
        raw = _call(self._source, "predict_proba", self._estimator.predict_proba, x)
        out = _check_proba(raw, len(x), self.classes, self._source)
        return out if self._permutation is None else out[:, self._permutation]

    def predict(self, x: NDArray[np.generic]) -> NDArray[np.str_]:
        if not self._has_predict:
            return _argmax(self.predict_proba(x), self.classes)
        labels = _class_names(_call(self._source, "predict", self._estimator.predict, x))
        if labels.shape != (len(x),):
            raise ModelError(
                f"{self._source}: predict returned shape {labels.shape}; expected ({len(x)},)",
                code="R021",
            )
        return labels


class _FunctionModel:
    """A plain callable taking ``X`` and returning class probabilities."""

    has_proba = True

    def __init__(self, fn: Callable[[Any], Any], classes: tuple[str, ...], source: str) -> None:
        self._fn = fn
        self._source = source
        self.classes = classes

    def predict_proba(self, x: NDArray[np.generic]) -> NDArray[np.float64]:
        raw = _call(self._source, "the model function", self._fn, x)
        return _check_proba(raw, len(x), self.classes, self._source)

    def predict(self, x: NDArray[np.generic]) -> NDArray[np.str_]:
        return _argmax(self.predict_proba(x), self.classes)


# --- python_callable -------------------------------------------------------------------


def _forget_foreign(module_name: str, search_path: Path) -> None:
    """Drop an already-imported module of the same name that lives outside
    ``search_path``, so that another project's ``model:load`` never answers for this one."""
    top = module_name.split(".")[0]
    loaded = sys.modules.get(top)
    origin = getattr(loaded, "__file__", None) if loaded is not None else None
    if loaded is None or origin is None:
        return
    try:
        Path(origin).resolve().relative_to(search_path.resolve())
    except ValueError:
        for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
            del sys.modules[name]


def import_callable(spec: str | None, search_path: Path | None, source: str) -> Any:
    """Import ``"module:function"`` with ``search_path`` first on ``sys.path`` (a module of
    the same name from elsewhere is forgotten first) and return the function; every
    failure is a :class:`ModelError` naming ``source``."""
    if not spec or spec.count(":") != 1 or not all(spec.split(":")):
        raise ModelError(
            f"{source}: callable={spec!r}; expected 'module:function', e.g. 'model.loader:load'"
        )
    module_name, attribute = spec.split(":")
    saved = list(sys.path)
    if search_path is not None:
        sys.path.insert(0, str(search_path))
    try:
        importlib.invalidate_caches()  # files written since the last import are found
        if search_path is not None:
            _forget_foreign(module_name, search_path)
        try:
            target: Any = importlib.import_module(module_name)
        except Exception as exc:
            raise ModelError(
                f"{source}: cannot import module {module_name!r}: {_one_line(exc)}"
            ) from exc
    finally:
        sys.path[:] = saved
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ModelError(
                f"{source}: module {module_name!r} has no attribute {attribute!r}"
            ) from None
    if not callable(target):
        raise ModelError(
            f"{source}: {attribute!r} is a {type(target).__name__}; expected a function"
        )
    return target


def call_loader(spec: str | None, search_path: Path | None, source: str) -> Any:
    """:func:`import_callable`, then call the function with no arguments (the project root
    still first on ``sys.path``, for imports it makes) and return what it returns."""
    target = import_callable(spec, search_path, source)
    saved = list(sys.path)
    if search_path is not None:
        sys.path.insert(0, str(search_path))
    try:
        return target()
    except Exception as exc:
        raise ModelError(f"{source}: raised {_one_line(exc)}") from exc
    finally:
        sys.path[:] = saved


def _load_callable(spec: str | None, order: tuple[str, ...], search_path: Path | None) -> Model:
    source = f"python_callable {spec!r}"
    loaded = call_loader(spec, search_path, source)
    if callable(getattr(loaded, "predict_proba", None)) or callable(
        getattr(loaded, "predict", None)
    ):
        return _EstimatorModel(loaded, order, source)
    if callable(loaded):
        classes, _ = _resolve_classes(None, order, source)
        return _FunctionModel(loaded, classes, source)
    raise ModelError(
        f"{source}: returned a {type(loaded).__name__}; expected an object with "
        "predict_proba or predict, or a callable returning probabilities"
    )


# --- ONNX ------------------------------------------------------------------------------

_ONNX_DTYPES: dict[str, type[np.generic]] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(uint8)": np.uint8,
}


class _OnnxModel:
    """An ONNX graph run by onnxruntime on the CPU (see the module doc)."""

    def __init__(self, path: Path, order: tuple[str, ...]) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise ModelError(
                f"{path}: running an ONNX model needs onnxruntime; {_ONNX_HINT}", code="R001"
            ) from None
        self._source = str(path)
        self.onnx_path = path
        """The graph's file, which the formal tools read when it is a plain network."""
        try:
            self._session = onnxruntime.InferenceSession(
                str(path), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's own exception types (InvalidProtobuf, Fail)
            raise ModelError(f"{path}: cannot load as ONNX: {_one_line(exc)}") from None
        first = self._session.get_inputs()[0]
        self._input = first.name
        self._input_dtype = _ONNX_DTYPES.get(first.type, np.float32)
        outputs = self._session.get_outputs()
        self._proba_output, self._zipmap = _choose_proba_output(outputs)
        self._label_output = next(
            (
                o.name
                for o in outputs
                if o.name != self._proba_output
                and o.type in ("tensor(int64)", "tensor(string)", "tensor(int32)")
            ),
            None,
        )
        self.has_proba: bool = self._proba_output is not None
        if not self.has_proba and self._label_output is None:
            found = ", ".join(f"{o.name}: {o.type} {o.shape}" for o in outputs)
            raise ModelError(
                f"{path}: no probability or label output among {found}; expected a float "
                "tensor of shape (n, classes), a ZipMap, or an int64/string label tensor"
            )
        # A ZipMap names its classes, so a class_order that disagrees is caught now, not
        # at the first prediction; other graphs are read only when class_order is absent.
        own = _onnx_class_labels(path) if self._zipmap or not order else None
        self.classes, self._permutation = _resolve_classes(own, order, self._source)

    def _run(self, name: str, x: NDArray[np.generic]) -> Any:
        inputs = {self._input: np.asarray(x, dtype=self._input_dtype)}
        return _call(self._source, "onnxruntime", lambda f: self._session.run([name], f)[0], inputs)

    def predict_proba(self, x: NDArray[np.generic]) -> NDArray[np.float64]:
        if self._proba_output is None:
            raise NotImplementedError(f"{self._source}: the model has no probability output")
        raw = self._run(self._proba_output, x)
        if self._zipmap:
            # columns are looked up by label, so they come out in ``classes`` order
            return _check_proba(self._from_zipmap(raw), len(x), self.classes, self._source)
        out = _check_proba(raw, len(x), self.classes, self._source)
        return out if self._permutation is None else out[:, self._permutation]

    def _from_zipmap(self, rows: list[dict[Any, float]]) -> NDArray[np.float64]:
        """ZipMap output (one ``{label: p}`` dict per sample) in ``classes`` order."""
        if not rows:
            return np.zeros((0, len(self.classes)))
        keys = {str(_class_names([key])[0]): key for key in rows[0]}
        if set(keys) != set(self.classes):
            raise ModelError(
                f"{self._source}: the ZipMap output's labels {sorted(keys)} do not match "
                f"the classes {list(self.classes)}"
            )
        # onnxruntime hands ZipMap results over as Python dicts, so a Python loop is
        # unavoidable here; export without ZipMap (zipmap=False) for large data.
        wanted = [keys[c] for c in self.classes]
        return np.array([[row[key] for key in wanted] for row in rows], dtype=np.float64)

    def predict(self, x: NDArray[np.generic]) -> NDArray[np.str_]:
        if self.has_proba:
            return _argmax(self.predict_proba(x), self.classes)
        assert self._label_output is not None  # checked in __init__
        labels = np.asarray(self._run(self._label_output, x)).reshape(-1)
        names = _class_names(labels)
        if set(names.tolist()) <= set(self.classes):
            return names
        # integer labels that are not class names are read as indices into ``classes``
        if labels.dtype.kind in "iu" and labels.min() >= 0 and labels.max() < len(self.classes):
            picked: NDArray[np.str_] = np.asarray(self.classes, dtype=np.str_)[labels]
            return picked
        unknown = sorted(set(names.tolist()) - set(self.classes))
        raise ModelError(
            f"{self._source}: label output holds {unknown[:5]}; expected class names "
            f"{list(self.classes)} or their indices",
            code="R021",
        )


def _choose_proba_output(outputs: Sequence[Any]) -> tuple[str | None, bool]:
    """The probability output's name and whether it is a ZipMap (sequence of maps)."""
    tensors = [
        o
        for o in outputs
        if o.type in ("tensor(float)", "tensor(double)", "tensor(float16)")
        and (not isinstance(o.shape, list) or len(o.shape) == 2)
    ]
    tensors.sort(key=lambda o: not str(o.name).lower().startswith("prob"))
    if tensors:
        return str(tensors[0].name), False
    for o in outputs:
        if str(o.type).startswith("seq(map("):
            return str(o.name), True
    return None, False


def _onnx_class_labels(path: Path) -> tuple[str, ...] | None:
    """Class labels recorded in the graph (sklearn-onnx's ZipMap or classifier node)."""
    try:
        import onnx
    except ImportError:
        return None
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # onnxruntime loaded it; without labels the caller asks for class_order
        return None
    for node in graph.node:
        if node.op_type not in (
            "ZipMap",
            "LinearClassifier",
            "TreeEnsembleClassifier",
            "SVMClassifier",
        ):
            continue
        for attribute in node.attribute:
            if attribute.name == "classlabels_strings" and attribute.strings:
                return tuple(s.decode("utf-8") for s in attribute.strings)
            if attribute.name in ("classlabels_int64s", "classlabels_ints") and attribute.ints:
                return tuple(str(i) for i in attribute.ints)
    return None
