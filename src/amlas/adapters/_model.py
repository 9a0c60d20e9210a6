"""The one protocol every model adapter implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = ["Model"]


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
