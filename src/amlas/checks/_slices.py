"""ODD slices: which band of each operating-domain dimension every sample falls in, and
the populations ("slices") an [H] requirement is judged on.

A numeric band covers ``[min, max)``, and the band that ends at the dimension's maximum
also includes it, so the bands of [B] partition their range without double counting. A
sample whose value lies outside the dimension's declared range is *outside the ODD*; one
inside the range but between non-contiguous bands has no band (``""``).

A requirement's ``applies_to`` gives ``where`` (keep samples in the listed bands) and
``per`` (judge every band, or every combination of bands of several dimensions,
separately). Every declared combination becomes a slice, including empty ones: an empty
slice is an explicit ``inconclusive``, never a silently skipped population.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from amlas.project.artefacts import (
    CategoricalDimension,
    NumericDimension,
    OperatingEnvironment,
    Slice,
)

__all__ = ["OUTSIDE", "SlicePlan", "band_labels", "inside_odd", "plan_slices"]

OUTSIDE = "\x00outside"
"""Band label of a value outside the dimension's declared range or categories."""

Dimension = NumericDimension | CategoricalDimension


def band_labels(values: NDArray[np.generic], dimension: Dimension) -> NDArray[np.str_]:
    """The band (numeric) or category (categorical) of every value, vectorised.

    Returns :data:`OUTSIDE` for values outside the ODD (NaN included) and ``""`` for values
    inside the range that no band covers.
    """
    if isinstance(dimension, CategoricalDimension):
        text = values.astype(np.str_)
        known = np.isin(text, np.array(dimension.values, dtype=np.str_))
        return np.where(known, text, OUTSIDE)
    numbers = np.asarray(values, dtype=np.float64)
    inside = (numbers >= dimension.min) & (numbers <= dimension.max)  # NaN -> False
    labels = np.full(numbers.shape, "", dtype=object)
    for band in dimension.bands:
        upper_closed = band.max == dimension.max
        upper = numbers <= band.max if upper_closed else numbers < band.max
        labels[(numbers >= band.min) & upper] = band.name
    labels[~inside] = OUTSIDE
    return labels.astype(np.str_)


def inside_odd(odd: Mapping[str, NDArray[np.str_]], n: int) -> NDArray[np.bool_]:
    """Samples inside the declared range or categories of every dimension."""
    mask = np.ones(n, dtype=bool)
    for labels in odd.values():
        mask &= labels != OUTSIDE
    return mask


@dataclass(frozen=True)
class SlicePlan:
    """The populations one requirement is judged on.

    ``codes[i]`` is the index into ``names`` of sample ``i``'s slice, or -1 when the
    sample is out of scope (excluded by ``where``, outside the ODD, or without a band of
    a ``per`` dimension).
    """

    names: list[str]
    """Slice names such as ``nuclear-size=small``; ``all`` for the whole population."""
    cells: list[dict[str, str]]
    """Per slice: dimension ID -> band, the same information as ``names``, as data."""
    codes: NDArray[np.int64]
    outside_odd: int
    """Samples left out because they lie outside the ODD on some dimension."""
    unbanded: int
    """In-scope samples left out because a ``per`` dimension has no band for them."""

    def counts(self, weights: NDArray[np.bool_]) -> NDArray[np.int64]:
        """Per slice, the number of in-scope samples where ``weights`` is true."""
        keep = (self.codes >= 0) & weights
        return np.bincount(self.codes[keep], minlength=len(self.names)).astype(np.int64)


def plan_slices(
    applies_to: Slice,
    odd: Mapping[str, NDArray[np.str_]],
    environment: OperatingEnvironment,
    n: int,
) -> SlicePlan:
    """Assign every sample to the slice of ``applies_to`` it belongs to."""
    dimensions = {d.id: d for d in environment.dimensions}
    inside = inside_odd(odd, n)
    scope = inside.copy()
    for dim_id, allowed in applies_to.where.items():
        scope &= np.isin(odd[dim_id], np.array(allowed, dtype=np.str_))
    per = list(applies_to.per)
    if not per:
        codes = np.where(scope, 0, -1).astype(np.int64)
        return SlicePlan(["all"], [{}], codes, int((~inside).sum()), 0)

    values = [dimensions[d].slice_values() for d in per]
    where = {d: set(v) for d, v in applies_to.where.items()}
    values = [
        [v for v in vs if d not in where or v in where[d]]
        for d, vs in zip(per, values, strict=True)
    ]
    codes = np.zeros(n, dtype=np.int64)
    banded = np.ones(n, dtype=bool)
    for dim_id, bands in zip(per, values, strict=True):
        index = {band: i for i, band in enumerate(bands)}
        labels = odd[dim_id]
        positions = np.full(n, -1, dtype=np.int64)
        for band, i in index.items():  # a few bands: one vectorised comparison each
            positions[labels == band] = i
        banded &= positions >= 0
        codes = codes * len(bands) + np.maximum(positions, 0)
    unbanded = int((scope & ~banded).sum())
    codes = np.where(scope & banded, codes, -1)
    cells = [dict(zip(per, combo, strict=True)) for combo in itertools.product(*values)]
    names = [", ".join(f"{d}={v}" for d, v in cell.items()) for cell in cells]
    return SlicePlan(names, cells, codes, int((~inside).sum()), unbanded)
