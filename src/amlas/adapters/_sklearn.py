"""scikit-learn style estimators: the ``sklearn_joblib`` and ``skops`` model formats.

``sklearn_joblib``
    :func:`joblib.load` (a pickle: only load files you trust).
``skops``
    :func:`skops.io.load` with no extra trusted types. A file that holds types skops
    does not trust by default is refused with their names, never loaded.

Both give an :class:`EstimatorModel`: an object with ``predict_proba`` and/or ``predict``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters._model import Model, ModelError, ModelOptions, require_file
from amlas.adapters._outputs import (
    argmax,
    call,
    check_proba,
    class_names,
    one_line,
    resolve_classes,
)
from amlas.errors import install_hint

__all__ = ["JOBLIB", "SKOPS", "EstimatorFormat", "EstimatorModel"]

_SKLEARN_HINT = install_hint("sklearn")
_SKOPS_DOCS = "https://skops.readthedocs.io/en/stable/persistence.html"


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
            f"{path}: the model needs a package that is not installed ({one_line(exc)}); "
            f"{_SKLEARN_HINT}",
            code="R001",
        ) from None
    except Exception as exc:  # unpickling raises anything the pickled objects raise
        raise ModelError(f"{path}: cannot load with joblib: {one_line(exc)}") from None


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
        raise ModelError(f"{path}: not a skops file: {one_line(exc)}") from None
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
            f"{path}: the model needs a package that is not installed ({one_line(exc)}); "
            f"{_SKLEARN_HINT}",
            code="R001",
        ) from None
    except Exception as exc:
        raise ModelError(f"{path}: cannot load with skops: {one_line(exc)}") from None


class EstimatorModel:
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
        own_names = None if own is None else tuple(str(c) for c in class_names(own))
        self.classes, self._permutation = resolve_classes(own_names, order, source)

    def predict_proba(self, x: NDArray[np.generic]) -> NDArray[np.float64]:
        if not self.has_proba:
            raise NotImplementedError(f"{self._source}: the model has no predict_proba")
        raw = call(self._source, "predict_proba", self._estimator.predict_proba, x)
        out = check_proba(raw, len(x), self.classes, self._source)
        return out if self._permutation is None else out[:, self._permutation]

    def predict(self, x: NDArray[np.generic]) -> NDArray[np.str_]:
        if not self._has_predict:
            return argmax(self.predict_proba(x), self.classes)
        labels = class_names(call(self._source, "predict", self._estimator.predict, x))
        if labels.shape != (len(x),):
            raise ModelError(
                f"{self._source}: predict returned shape {labels.shape}; expected ({len(x)},)",
                code="R021",
            )
        return labels


class EstimatorFormat:
    """A model format whose file holds a scikit-learn style estimator."""

    differentiable = False
    distributions: tuple[str, ...] = ("scikit-learn", "skops")

    def __init__(self, name: str) -> None:
        self.name = name

    def load(self, path: Path | None, options: ModelOptions) -> Model:
        file = require_file(path, self.name)
        estimator = _load_joblib(file) if self.name == "sklearn_joblib" else _load_skops(file)
        return EstimatorModel(estimator, options.class_order, str(file))


JOBLIB = EstimatorFormat("sklearn_joblib")
SKOPS = EstimatorFormat("skops")
