"""ODD slices: which band of each operating-domain dimension every sample falls in, and
the populations ("slices") an [H] requirement is judged on.

A numeric band covers ``[min, max)``, and the band that ends at the dimension's maximum
also includes it, so the bands of [B] partition their range without double counting; a
band's ``min_inclusive`` and ``max_inclusive`` state either end otherwise
(:meth:`NumericBand.ends` decides, :func:`band_codes` applies it: the one place a value
meets a band). A sample whose value lies outside the dimension's declared range is
*outside the ODD*; one inside the range but between non-contiguous bands has no band
(``""``).

A numeric dimension may declare named ``bandings`` beside its default ``bands``; the
band codes of each are computed once per dataset (:func:`banding_codes`) and a slice or
a data rule reads a dimension in the banding it names.

A requirement's ``applies_to`` gives ``where`` (keep samples in the listed bands) and
``per`` (judge every band, or every combination of bands of several dimensions,
separately). Every declared combination becomes a slice, including empty ones: an empty
slice is an explicit ``inconclusive``, never a silently skipped population. A requirement's
``across`` (robustness across the operating domain) is judged as ``per`` is
(``MLSafetyRequirement.judged_slice``), and its ``precondition`` arrives here as ``keep``:
the units it drops are out of scope before any band is looked at.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.errors import ValueProblem
from amlas.project.artefacts import (
    CategoricalDimension,
    NumericDimension,
    OperatingEnvironment,
    Slice,
)

__all__ = [
    "NO_BAND",
    "OUTSIDE",
    "OUTSIDE_CODE",
    "Banded",
    "SlicePlan",
    "band_codes",
    "band_labels",
    "banding_codes",
    "inside_odd",
    "labels_of",
    "plan_slices",
]

OUTSIDE = "\x00outside"
"""Band label of a value outside the dimension's declared range or categories."""

OUTSIDE_CODE = -2
"""Band code of a value outside the ODD; ``-1`` is a value inside it but in no band."""
NO_BAND = -1

Dimension = NumericDimension | CategoricalDimension

Banded = Mapping[str, Mapping[str, NDArray[np.int64]]]
"""ODD dimension ID -> name of one of its named bandings -> the band code of every sample
in that banding (:func:`banding_codes`)."""


def band_codes(
    values: NDArray[np.generic], dimension: Dimension, banding: str | None = None
) -> NDArray[np.int64]:
    """The index of every value's band (numeric) or category (categorical) in
    ``dimension.slice_values(banding)``; :data:`OUTSIDE_CODE` outside the ODD (NaN
    included), :data:`NO_BAND` inside the range but between bands. One vectorised pass.

    Every assignment of a value to a band goes through here (metric slices, data rules,
    a detector's objects, the runtime monitor): a band holds its ends as
    :meth:`NumericBand.ends` says."""
    if isinstance(dimension, CategoricalDimension):
        if banding is not None:
            raise KeyError(f"ODD dimension {dimension.id!r} is categorical and has no bandings")
        raw = np.asarray(values)
        if raw.dtype.kind == "f":
            # 1.0 -> "1" as written in [B]; NaN is never a category
            missing = np.isnan(raw)
            as_int = np.where(missing, 0, raw).astype(np.int64)
            text = np.where(
                np.equal(as_int, np.where(missing, 0, raw)),
                as_int.astype(np.str_),
                raw.astype(np.str_),
            )
            text = np.where(missing, "\x00missing", text)
        else:
            text = raw.astype(np.str_)
        uniques, inverse = np.unique(text, return_inverse=True)
        index = {v: i for i, v in enumerate(dimension.values)}
        lookup = np.array([index.get(str(u), OUTSIDE_CODE) for u in uniques], dtype=np.int64)
        return lookup[inverse.reshape(-1)] if len(text) else np.zeros(0, dtype=np.int64)
    if np.asarray(values).dtype.kind not in "biuf":
        raise ValueProblem(
            f"ODD dimension {dimension.id!r} is numeric, but its column holds "
            f"{np.asarray(values).dtype} values",
            code="R011",
            value=str(np.asarray(values).dtype),
        )
    numbers = np.asarray(values, dtype=np.float64)
    codes = np.full(numbers.shape, NO_BAND, dtype=np.int64)
    bands = dimension.bands_of(banding)
    if bands:
        # bands never share a value, so their starts are distinct and a value lies in the
        # last band starting at or below it, or (when that band leaves out its start)
        # in the one before, which may hold its end
        order = np.array(sorted(range(len(bands)), key=lambda i: bands[i].min), dtype=np.int64)
        ends_held = [bands[i].ends(dimension.max) for i in order]
        starts = np.array([bands[i].min for i in order])
        ends = np.array([bands[i].max for i in order])
        low_closed = np.array([low for low, _ in ends_held], dtype=bool)
        high_closed = np.array([high for _, high in ends_held], dtype=bool)
        position = np.searchsorted(starts, numbers, side="right") - 1
        k = np.clip(position, 0, len(order) - 1)
        above_start = (numbers > starts[k]) | (low_closed[k] & (numbers == starts[k]))
        below_end = (numbers < ends[k]) | (high_closed[k] & (numbers == ends[k]))
        hit = (position >= 0) & above_start & below_end
        codes[hit] = order[k[hit]]
        # a value on the open start of a band may close the band before it
        at_open_start = (position >= 1) & ~low_closed[k] & (numbers == starts[k])
        if at_open_start.any():
            before = position[at_open_start] - 1
            held = high_closed[before] & (numbers[at_open_start] == ends[before])
            codes[np.flatnonzero(at_open_start)[held]] = order[before[held]]
    inside = (numbers >= dimension.min) & (numbers <= dimension.max)  # NaN -> False
    codes[~inside] = OUTSIDE_CODE
    return codes


def banding_codes(
    values: NDArray[np.generic], dimension: Dimension
) -> dict[str, NDArray[np.int64]]:
    """The band codes of ``values`` in every named banding of ``dimension`` (none for a
    categorical dimension or one without ``bandings``)."""
    if not isinstance(dimension, NumericDimension):
        return {}
    return {name: band_codes(values, dimension, name) for name in dimension.bandings}


def band_labels(
    values: NDArray[np.generic], dimension: Dimension, banding: str | None = None
) -> NDArray[np.str_]:
    """The band (numeric, of ``banding``; None: the default ``bands``) or category
    (categorical) of every value, as text.

    Returns :data:`OUTSIDE` for values outside the ODD (NaN included) and ``""`` for values
    inside the range that no band covers.
    """
    return labels_of(band_codes(values, dimension, banding), dimension, banding)


def labels_of(
    codes: NDArray[np.int64], dimension: Dimension, banding: str | None = None
) -> NDArray[np.str_]:
    """The text of band codes of ``banding`` (see :func:`band_labels`)."""
    names = np.array([OUTSIDE, "", *dimension.slice_values(banding)], dtype=np.str_)
    labelled: NDArray[np.str_] = names[codes + 2]
    return labelled


def inside_odd(odd: Mapping[str, NDArray[np.int64]], n: int) -> NDArray[np.bool_]:
    """Samples inside the declared range or categories of every dimension (from codes)."""
    mask = np.ones(n, dtype=bool)
    for codes in odd.values():
        mask &= codes != OUTSIDE_CODE
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
    precondition: dict[str, Any] | None = None
    """What the requirement's precondition kept and excluded (None without one)."""

    def counts(self, weights: NDArray[np.bool_]) -> NDArray[np.int64]:
        """Per slice, the number of in-scope samples where ``weights`` is true."""
        keep = (self.codes >= 0) & weights
        return np.bincount(self.codes[keep], minlength=len(self.names)).astype(np.int64)


def _codes_in(
    odd: Mapping[str, NDArray[np.int64]],
    banded: Banded | None,
    dimension: Dimension,
    banding: str | None,
) -> NDArray[np.int64]:
    """The band codes of ``dimension`` in ``banding`` (None: the default bands)."""
    if banding is None:
        return odd[dimension.id]
    dimension.slice_values(banding)  # a KeyError naming the dimension: no such banding
    if banded is None or banding not in banded.get(dimension.id, {}):
        raise KeyError(f"no band codes of banding {banding!r} of ODD dimension {dimension.id!r}")
    return np.asarray(banded[dimension.id][banding], dtype=np.int64)


def plan_slices(
    applies_to: Slice,
    odd: Mapping[str, NDArray[np.int64]],
    environment: OperatingEnvironment,
    n: int,
    bandings: Banded | None = None,
    *,
    keep: NDArray[np.bool_] | None = None,
    precondition: dict[str, Any] | None = None,
) -> SlicePlan:
    """Assign every sample to the slice of ``applies_to`` it belongs to, from the band
    codes of :func:`band_codes` (small lookup tables, no text comparisons); ``bandings``
    holds the codes of the named bandings ``applies_to.banding`` may name. ``keep`` (a
    requirement's precondition, stated by ``precondition``) drops units first: the
    counts of samples outside the ODD or without a band are of the units it keeps."""
    dimensions = {d.id: d for d in environment.dimensions}
    tabled = _plan_by_table(applies_to, odd, dimensions, n, bandings, keep)
    if tabled is not None:
        codes, outside, unbanded = tabled
        per = list(applies_to.per)
        if not per:
            return SlicePlan(["all"], [{}], codes, outside, 0, precondition)
        cells = [
            dict(zip(per, combo, strict=True))
            for combo in itertools.product(*_chosen(applies_to, dimensions))
        ]
        names = [", ".join(f"{d}={v}" for d, v in cell.items()) for cell in cells]
        return SlicePlan(names, cells, codes, outside, unbanded, precondition)
    units = np.ones(n, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
    inside = inside_odd(odd, n)
    outside = int((units & ~inside).sum())
    scope = inside & units
    for dim_id, allowed in applies_to.where.items():
        banding = applies_to.banding_of(dim_id)
        values = dimensions[dim_id].slice_values(banding)
        table = np.zeros(len(values) + 2, dtype=bool)
        for band in allowed:
            if band in values:
                table[values.index(band) + 2] = True
        scope &= table[_codes_in(odd, bandings, dimensions[dim_id], banding) + 2]
    per = list(applies_to.per)
    if not per:
        codes = np.where(scope, 0, -1).astype(np.int64)
        return SlicePlan(["all"], [{}], codes, outside, 0, precondition)

    where = {d: set(v) for d, v in applies_to.where.items()}
    kept: list[list[str]] = []
    codes = np.zeros(n, dtype=np.int64)
    banded = np.ones(n, dtype=bool)
    for dim_id in per:
        banding = applies_to.banding_of(dim_id)
        values = dimensions[dim_id].slice_values(banding)
        chosen = [v for v in values if dim_id not in where or v in where[dim_id]]
        kept.append(chosen)
        # band index in [B] -> position among the chosen bands (-1: not a slice)
        table = np.full(len(values) + 2, -1, dtype=np.int64)
        for position, band in enumerate(chosen):
            table[values.index(band) + 2] = position
        positions = table[_codes_in(odd, bandings, dimensions[dim_id], banding) + 2]
        banded &= positions >= 0
        codes = codes * len(chosen) + np.maximum(positions, 0)
    unbanded = int((scope & ~banded).sum())
    codes = np.where(scope & banded, codes, -1)
    cells = [dict(zip(per, combo, strict=True)) for combo in itertools.product(*kept)]
    names = [", ".join(f"{d}={v}" for d, v in cell.items()) for cell in cells]
    return SlicePlan(names, cells, codes, outside, unbanded, precondition)


TABLED_COMBINATIONS = 1 << 16
"""The most combinations of bands (of the dimensions a slicing reads, and whether a sample
is kept and inside the others) :func:`plan_slices` plans through one table."""


def _chosen(applies_to: Slice, dimensions: Mapping[str, Dimension]) -> list[list[str]]:
    """Per ``per`` dimension, the bands that are slices (those its ``where`` allows)."""
    where = {d: set(v) for d, v in applies_to.where.items()}
    chosen = []
    for dim_id in applies_to.per:
        values = dimensions[dim_id].slice_values(applies_to.banding_of(dim_id))
        chosen.append([v for v in values if dim_id not in where or v in where[dim_id]])
    return chosen


def _plan_by_table(
    applies_to: Slice,
    odd: Mapping[str, NDArray[np.int64]],
    dimensions: Mapping[str, Dimension],
    n: int,
    bandings: Banded | None,
    keep: NDArray[np.bool_] | None,
) -> tuple[NDArray[np.int64], int, int] | None:
    """:func:`plan_slices`'s codes, samples outside the ODD and samples without a band,
    from one small integer per sample: its band on every dimension the slicing reads and
    whether it is kept and inside every other dimension. Each combination's slice (or
    none) and reason to be left out are decided once, in a table of at most
    :data:`TABLED_COMBINATIONS`; the samples are read in a few integer passes. None when
    the table would be larger (the plan is then made dimension by dimension)."""
    read = list(dict.fromkeys([*applies_to.per, *applies_to.where]))
    values = {d: dimensions[d].slice_values(applies_to.banding_of(d)) for d in read}
    # a dimension read in a named banding is inside the ODD as its default bands say,
    # like every dimension the slicing does not read
    others = [d for d in odd if d not in read or applies_to.banding_of(d) is not None]
    radix = [len(values[d]) + 2 for d in read] + [3]
    size = int(np.prod(radix))
    if size > TABLED_COMBINATIONS:
        return None
    # every combination: the band code of each read dimension, and 0 (not kept), 1 (kept,
    # outside some other dimension) or 2 (kept, inside all others)
    digits = np.indices(radix).reshape(len(radix), size)
    bands = {d: digits[i] - 2 for i, d in enumerate(read)}
    group = digits[-1]
    inside = group == 2
    for d in read:
        if applies_to.banding_of(d) is None:
            inside &= bands[d] != OUTSIDE_CODE
    kept = group >= 1
    scope = inside & kept
    for dim_id, allowed in applies_to.where.items():
        held = [values[dim_id].index(band) for band in allowed if band in values[dim_id]]
        scope &= np.isin(bands[dim_id], held)
    code = np.zeros(size, dtype=np.int64)
    banded = np.ones(size, dtype=bool)
    for dim_id, chosen in zip(applies_to.per, _chosen(applies_to, dimensions), strict=True):
        position = np.full(len(values[dim_id]) + 2, -1, dtype=np.int64)
        for at, band in enumerate(chosen):
            position[values[dim_id].index(band) + 2] = at
        positions = position[bands[dim_id] + 2]
        banded &= positions >= 0
        code = code * len(chosen) + np.maximum(positions, 0)
    slice_of = np.where(scope & banded, code, -1)
    left_outside = kept & ~inside
    left_unbanded = scope & ~banded
    # the samples' combinations, in the narrowest integers that hold them
    narrow: type[np.signedinteger[Any]] = np.int16 if size < 2**15 else np.int32
    stride = size
    key: NDArray[np.signedinteger[Any]] = np.zeros(n, dtype=narrow)
    for d, width in zip(read, radix, strict=False):
        stride //= width
        shifted = _codes_in(odd, bandings, dimensions[d], applies_to.banding_of(d)) + 2
        key += shifted.astype(narrow) * stride
    if keep is None and not others:
        key += 2
    else:
        in_others = np.ones(n, dtype=bool) if keep is None else np.asarray(keep, dtype=bool)
        in_others = in_others.astype(np.int8)
        status = in_others.copy()
        for d in others:
            in_others &= (odd[d] != OUTSIDE_CODE).view(np.int8)
        status += in_others
        key += status
    counts = np.bincount(key, minlength=size)
    codes: NDArray[np.int64] = slice_of.take(key)
    return codes, int(counts[left_outside].sum()), int(counts[left_unbanded].sum())
