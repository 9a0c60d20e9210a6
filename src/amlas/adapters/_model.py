"""The protocols of the model adapters: a loaded :class:`Model`, and the
:class:`ModelFormat` plug-in (entry-point group ``amlas.models``) that loads one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from amlas.errors import ProblemError

__all__ = ["Model", "ModelError", "ModelFormat", "ModelOptions", "require_file"]


class ModelError(ProblemError):
    """A model cannot be loaded, or its outputs do not fit the declared classes."""

    code = "R020"


@runtime_checkable
class Model(Protocol):
    """A loaded model, as the checks see it.

    ``classes`` names the output columns in order (from [V] ``class_order`` when given,
    else from the model). ``predict_proba`` returns an ``(n, len(classes))`` float array
    of class probabilities, or raises :class:`NotImplementedError` when
    ``has_proba`` is false; ``predict`` returns class names as strings. Both take a
    batch: ``(n, features)`` for tabular models, ``(n, *shape)`` for array inputs.
    """

    classes: tuple[str, ...]
    has_proba: bool

    def predict_proba(self, x: NDArray[np.generic]) -> NDArray[np.float64]: ...

    def predict(self, x: NDArray[np.generic]) -> NDArray[np.str_]: ...


@dataclass(frozen=True)
class ModelOptions:
    """What [V] says about loading a model, beyond its file.

    ``callable`` is ``"module:function"`` importable from ``search_path`` (the project
    root); ``class_order`` names the output columns (empty: the model's own); ``outputs``
    says whether a differentiable model returns logits or probabilities.
    """

    callable: str | None = None
    class_order: tuple[str, ...] = ()
    search_path: Path | None = None
    outputs: Literal["logits", "probabilities"] = "logits"


@runtime_checkable
class ModelFormat(Protocol):
    """What an ``amlas.models`` entry point names: one model format ([V] ``format``).

    ``load`` returns a :class:`Model` or raises :class:`ModelError` (never anything else
    for a bad file); ``load_model`` wraps it with the time limit and the probability
    checks, so a format need not. ``differentiable`` is true when the loaded model gives
    gradients (``torch``-like: gradient attacks, fault injection and the formal leg use
    it). ``distributions`` are the packages whose versions an evidence record on a model
    of this format cites (e.g. ``("onnxruntime",)``).
    """

    name: str
    differentiable: bool
    distributions: tuple[str, ...]

    def load(self, path: Path | None, options: ModelOptions) -> Model: ...


def require_file(path: Path | None, format: str) -> Path:
    """``path`` when it is an existing file, else :class:`ModelError` saying what is wrong."""
    if path is None:
        raise ModelError(f"a {format} model needs a file path")
    if not path.exists():
        raise ModelError(f"{path}: model file not found")
    if not path.is_file():
        raise ModelError(f"{path}: expected a model file, found a folder")
    return path
