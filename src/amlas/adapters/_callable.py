"""The ``python_callable`` model format, and importing ``module:function`` from a project.

``python_callable``
    ``"module:function"`` imported with the project root first on ``sys.path`` and
    called with no arguments; it returns an object with ``predict_proba`` and/or
    ``predict`` (e.g. a scikit-learn estimator), or a plain callable taking ``X`` and
    returning probabilities.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters._model import Model, ModelError, ModelOptions
from amlas.adapters._outputs import argmax, call, check_proba, one_line, resolve_classes
from amlas.adapters._sklearn import EstimatorModel

__all__ = ["FORMAT", "CallableFormat", "call_loader", "import_callable"]


class _FunctionModel:
    """A plain callable taking ``X`` and returning class probabilities."""

    has_proba = True

    def __init__(self, fn: Callable[[Any], Any], classes: tuple[str, ...], source: str) -> None:
        self._fn = fn
        self._source = source
        self.classes = classes

    def predict_proba(self, x: NDArray[np.generic]) -> NDArray[np.float64]:
        raw = call(self._source, "the model function", self._fn, x)
        return check_proba(raw, len(x), self.classes, self._source)

    def predict(self, x: NDArray[np.generic]) -> NDArray[np.str_]:
        return argmax(self.predict_proba(x), self.classes)


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
                f"{source}: cannot import module {module_name!r}: {one_line(exc)}"
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
        raise ModelError(f"{source}: raised {one_line(exc)}") from exc
    finally:
        sys.path[:] = saved


def _load_callable(spec: str | None, order: tuple[str, ...], search_path: Path | None) -> Model:
    source = f"python_callable {spec!r}"
    loaded = call_loader(spec, search_path, source)
    if callable(getattr(loaded, "predict_proba", None)) or callable(
        getattr(loaded, "predict", None)
    ):
        return EstimatorModel(loaded, order, source)
    if callable(loaded):
        classes, _ = resolve_classes(None, order, source)
        return _FunctionModel(loaded, classes, source)
    raise ModelError(
        f"{source}: returned a {type(loaded).__name__}; expected an object with "
        "predict_proba or predict, or a callable returning probabilities"
    )


class CallableFormat:
    """``format: python_callable``: the project's own loader function."""

    name = "python_callable"
    differentiable = False
    distributions: tuple[str, ...] = ()  # the callable's own code is cited by its hash

    def load(self, path: Path | None, options: ModelOptions) -> Model:
        return _load_callable(options.callable, options.class_order, options.search_path)


FORMAT = CallableFormat()
