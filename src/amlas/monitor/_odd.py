"""ODD membership at run time: is each input inside the operating domain of [B]?

An input is *outside the ODD* when, on any dimension of [B], its value is missing, is
not a number (numeric dimensions), lies outside the declared ``[min, max]`` (NaN
included), or is none of the declared categories. Inside the range but between
non-contiguous bands counts as inside: the bands slice the domain, the range bounds it
(the same rule as :func:`amlas.checks.inside_odd` on datasets, and the same band codes).

The values come with the input as *metadata*, keyed by the column names of [B]
(``column``; the dimension ID when a dimension names no column), as datasets carry them.
For tabular inputs a dimension whose column is a model feature reads that feature, so a
tabular client sends only the ODD values that are not features.

Metadata arrives either as columns (name -> one value per sample) or as one mapping per
sample; a value of the wrong type (text for a numeric dimension, a list, an object) is a
:class:`MonitorInputError` naming the sample, the column and the value, while a missing
value (key absent or ``None``) is an ODD violation, flagged, never an error.

Metadata from outside (the service's requests) is first held to :func:`check_metadata`:
no key that is not a column of [B], no NaN or infinite number, no category text that is
not a category name, so nothing else reaches a verdict's reasons or the field log.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.checks import OUTSIDE_CODE, band_codes
from amlas.diagnostics import did_you_mean
from amlas.errors import ProblemError
from amlas.project.artefacts import CategoricalDimension, NumericDimension

__all__ = [
    "Dimension",
    "MonitorInputError",
    "OddResult",
    "check_metadata",
    "odd_columns",
    "odd_membership",
]

Dimension = NumericDimension | CategoricalDimension

Metadata = Mapping[str, Sequence[Any] | NDArray[Any]] | Sequence[Mapping[str, Any]]
"""Columns (name -> one value per sample) or one mapping per sample."""


class MonitorInputError(ProblemError):
    """An input or its metadata has the wrong type or shape for the monitor."""

    code = "R051"


@dataclass(frozen=True)
class OddResult:
    """ODD membership of a batch: ``inside[i]`` and, for samples outside, why."""

    inside: NDArray[np.bool_]
    reasons: list[tuple[str, ...]]
    """Per sample: one line per violated dimension (empty inside the ODD)."""


def odd_columns(dimensions: Sequence[Dimension]) -> dict[str, str]:
    """Dimension ID -> the metadata column carrying it ([B] ``column``, else the ID)."""
    return {d.id: d.column or d.id for d in dimensions}


Column = list[Any] | NDArray[Any]


def _as_columns(metadata: Metadata | None, n: int, wanted: set[str]) -> dict[str, Column]:
    """Metadata as ``column -> n values`` (``None`` where a sample has no value); numpy
    columns stay arrays (the fast path for datasets)."""
    if metadata is None:
        return {}
    if isinstance(metadata, Mapping):
        out: dict[str, Column] = {}
        for name, values in metadata.items():
            if name not in wanted:
                continue
            if isinstance(values, np.ndarray) and values.ndim == 1:
                column: Column = values
            elif isinstance(values, str | bytes) or not isinstance(values, Sequence):
                raise MonitorInputError(
                    f"metadata[{name!r}] is {_show(values)}; expected one value per sample "
                    f"(a list of {n})"
                )
            else:
                column = list(values)
            if len(column) != n:
                raise MonitorInputError(
                    f"metadata[{name!r}] has {len(column)} values for {n} samples; "
                    "expected one value per sample"
                )
            out[name] = column
        return out
    if isinstance(metadata, str | bytes) or not isinstance(metadata, Sequence):
        raise MonitorInputError(
            f"metadata is {_show(metadata)}; expected one mapping per sample or a mapping "
            "of columns"
        )
    if len(metadata) != n:
        raise MonitorInputError(
            f"metadata has {len(metadata)} entries for {n} samples; expected one per sample"
        )
    columns: dict[str, Column] = {name: [None] * n for name in wanted}
    for i, row in enumerate(metadata):
        if not isinstance(row, Mapping):
            raise MonitorInputError(
                f"metadata[{i}] is {_show(row)}; expected a mapping of column -> value"
            )
        for name in wanted & set(row):
            columns[name][i] = row[name]
    return columns


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# An undeclared category is flagged outside the ODD only when it reads as a category name:
# anything else (markup, control characters, long text) is refused and never logged.
_CATEGORY_NAME = re.compile(r"[\w .+\-/:()]{1,64}")


def check_metadata(dimensions: Sequence[Dimension], metadata: Sequence[Any] | None) -> None:
    """Per-sample metadata from outside (the service's ``metadata``), checked against the
    ODD columns of [B] before anything is assessed or logged.

    Each entry must be a mapping whose keys are columns of [B] (``column``, else the
    dimension ID). Per dimension a value is ``None`` (missing: flagged outside the ODD),
    or for a numeric dimension a finite number, or for a categorical one a declared
    category, a number, or a category name (at most 64 letters, digits, spaces or
    ``_ . + - / : ( )``) that is then flagged outside the ODD.

    Raises:
        MonitorInputError: naming the sample, the key and the value, and what was expected.
    """
    if metadata is None:
        return
    by_column = {d.column or d.id: d for d in dimensions}
    declared = ", ".join(by_column) or "none"
    for i, row in enumerate(metadata):
        if not isinstance(row, Mapping):
            raise MonitorInputError(
                f"metadata[{i}] is {_show(row)}; expected a mapping of column -> value"
            )
        for key, value in row.items():
            dimension = by_column.get(key) if isinstance(key, str) else None
            if dimension is None:
                hint = did_you_mean(str(key), by_column)
                raise MonitorInputError(
                    f"metadata[{i}] has the unknown key {_show(key)}; expected the ODD "
                    f"columns of [B]: {declared}" + (f" ({hint})" if hint else "")
                )
            if value is None:
                continue
            problem = _value_problem(dimension, value)
            if problem is not None:
                raise MonitorInputError(f"metadata[{i}][{key!r}] is {_show(value)}; {problem}")


def _value_problem(dimension: Dimension, value: Any) -> str | None:
    """What is wrong with ``value`` for ``dimension``; None when it can be assessed."""
    finite = False
    if not isinstance(value, bool) and isinstance(value, int | float):
        try:
            finite = math.isfinite(float(value))
        except OverflowError:  # an integer beyond float64
            finite = False
    if isinstance(dimension, NumericDimension):
        if finite:
            return None
        return f"expected a number (finite, in {dimension.unit}; null when it is missing)"
    if finite or (
        isinstance(value, str)
        and (value in dimension.values or _CATEGORY_NAME.fullmatch(value) is not None)
    ):
        return None
    return (
        f"expected a category of [B] ({', '.join(dimension.values)}; another name of at "
        "most 64 letters, digits, spaces or _ . + - / : ( ) is flagged outside the ODD), "
        "or null when it is missing"
    )


def _numeric(values: Column, column: str) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Float values (NaN where missing) and the missing mask; a non-number is an error."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        numbers = values.astype(np.float64)
        return numbers, np.isnan(numbers)
    out = np.full(len(values), np.nan, dtype=np.float64)
    missing = np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values):
        if value is None:
            missing[i] = True
        elif isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise MonitorInputError(
                f"metadata[{i}][{column!r}] is {_show(value)}; expected a number"
            )
        else:
            try:
                out[i] = float(value)
            except OverflowError:  # an integer beyond float64
                raise MonitorInputError(
                    f"metadata[{i}][{column!r}] is {_show(value)}; expected a number within "
                    "the float64 range"
                ) from None
    return out, missing


def _categorical(values: Column, column: str) -> tuple[NDArray[Any], NDArray[np.bool_]]:
    if isinstance(values, np.ndarray) and values.dtype.kind in "U":
        return values, np.zeros(len(values), dtype=bool)
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        numbers = values.astype(np.float64)  # band_codes reads 1.0 as the category "1"
        return numbers, np.isnan(numbers)
    missing = np.zeros(len(values), dtype=bool)
    text: list[str] = []
    for i, value in enumerate(values):
        if value is None:
            missing[i] = True
            text.append("")
        elif isinstance(value, bool) or not isinstance(value, str | int | float | np.generic):
            raise MonitorInputError(
                f"metadata[{i}][{column!r}] is {_show(value)}; expected a category (text)"
            )
        elif isinstance(value, float | np.floating) and float(value).is_integer():
            text.append(str(int(value)))  # 1.0 -> "1", as [B] writes it
        else:
            text.append(str(value))
    return np.array(text, dtype=np.str_), missing


def odd_membership(
    dimensions: Sequence[Dimension],
    metadata: Metadata | None,
    n: int,
    *,
    features: Mapping[str, NDArray[np.float64]] | None = None,
) -> OddResult:
    """Which of ``n`` samples lie inside every dimension of the ODD (see the module doc).

    ``features`` maps tabular feature names to their values; a dimension whose column is
    a feature reads it from there. One vectorised pass per dimension; reasons are built
    only for samples outside.
    """
    columns = odd_columns(dimensions)
    features = features or {}
    raw = _as_columns(metadata, n, set(columns.values()) - set(features))
    inside = np.ones(n, dtype=bool)
    problems: list[tuple[NDArray[np.bool_], str, Dimension, NDArray[Any]]] = []
    for dimension in dimensions:
        column = columns[dimension.id]
        values: NDArray[Any]
        if column in features:
            values = np.asarray(features[column], dtype=np.float64)
            missing = np.zeros(n, dtype=bool)
        elif column not in raw:
            values = np.full(n, None, dtype=object)
            missing = np.ones(n, dtype=bool)
        elif isinstance(dimension, NumericDimension):
            values, missing = _numeric(raw[column], column)
        else:
            values, missing = _categorical(raw[column], column)
        if missing.all():
            outside = missing
        else:
            outside = missing | (band_codes(values, dimension) == OUTSIDE_CODE)
        if outside.any():
            inside &= ~outside
            shown = np.asarray(values, dtype=object).copy()
            shown[missing] = None
            problems.append((outside, column, dimension, shown))
    reasons: list[tuple[str, ...]] = [() for _ in range(n)]
    for outside, column, dimension, values in problems:
        for i in np.flatnonzero(outside):
            reasons[i] = (*reasons[i], _reason(dimension, column, values[i]))
    return OddResult(inside, reasons)


def _reason(dimension: Dimension, column: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"outside ODD: {dimension.id} ({column}) has no value"
    if isinstance(dimension, NumericDimension):
        return (
            f"outside ODD: {dimension.id} ({column}) = {float(value):g} {dimension.unit}, "
            f"outside [{dimension.min:g}, {dimension.max:g}]"
        )
    allowed = ", ".join(dimension.values)
    return f"outside ODD: {dimension.id} ({column}) = {str(value)!r}, not one of [{allowed}]"
