"""A requirement's precondition: which units of analysis it is about.

``precondition`` in [H] is a conjunction of terms over columns of the data (``{column:
ttc_s, lt: 4.0}``: only objects whose time-to-collision is below 4 s). It filters the units
a metric counts (samples; a detector's ground-truth objects, or its images) *before* the
slices and the metric, exactly as ``applies_to.where`` does for ODD bands: a unit it
drops is out of scope (slice code -1). Every record states the terms, the unit, and how
many units were kept and excluded (of which how many had no value to compare).

Comparisons: ``lt``, ``le``, ``gt``, ``ge`` with a number need a column of numbers; ``eq``,
``ne`` and ``in`` compare numbers with numbers (a text value must read as one) and
categories as text (a number is written as [B] writes a category: ``1.0`` as ``1``). A
missing value (NaN, an empty cell) meets no term, ``ne`` included: the unit is excluded
and counted as ``missing``. A column the data lacks is R096, a comparison the column
cannot take R097.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.diagnostics import did_you_mean
from amlas.errors import ValueProblem
from amlas.project.artefacts import Condition

__all__ = ["Lookup", "describe_terms", "precondition_mask"]

Lookup = Callable[[str], NDArray[np.generic] | None]
"""A column's value per unit, or None when the data has no such column."""

_ORDER = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal}


def describe_terms(terms: Sequence[Condition]) -> list[dict[str, Any]]:
    """The terms as written in [H] (``in``, not ``in_``), for the record."""
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in terms]


def _as_text(value: float | str) -> str:
    """A value as [B] writes a category: 1.0 as '1', 0.5 as '0.5'."""
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _is_numeric(values: NDArray[np.generic]) -> bool:
    return np.asarray(values).dtype.kind in "biuf"


def _term_mask(
    values: NDArray[np.generic], term: Condition, *, subject: str, where: str
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(meets, missing) for every unit, for one term."""
    raw = np.asarray(values)
    numeric = _is_numeric(raw)
    if numeric:
        numbers = raw.astype(np.float64)
        missing = np.isnan(numbers)
    else:
        text = raw.astype(np.str_)
        missing = np.char.strip(text) == ""
    meets = ~missing
    for name in Condition.comparisons():
        wanted = getattr(term, name)
        if wanted is None:
            continue
        shown = "in" if name == "in_" else name
        if name in _ORDER:
            if not numeric:
                raise ValueProblem(
                    f"{subject}: the precondition '{term.column} {shown} {wanted:g}' compares "
                    f"with a number, but column {term.column!r} of {where} holds text",
                    code="R097",
                    path="[H]",
                    expected="a column of numbers, or eq/ne/in with its categories",
                )
            with np.errstate(invalid="ignore"):
                meets &= _ORDER[name](numbers, float(wanted))
            continue
        options = list(wanted) if name == "in_" else [wanted]
        if numeric:
            targets = []
            for option in options:
                try:
                    targets.append(float(option))
                except ValueError:
                    raise ValueProblem(
                        f"{subject}: the precondition '{term.column} {shown} {option!r}' "
                        f"compares with a category, but column {term.column!r} of {where} "
                        "holds numbers",
                        code="R097",
                        path="[H]",
                        expected="a number to compare the column with",
                    ) from None
            hit = np.isin(numbers, np.asarray(targets, dtype=np.float64))
        else:
            hit = np.isin(text, np.asarray([_as_text(o) for o in options], dtype=np.str_))
        meets &= ~hit if name == "ne" else hit
    return meets, missing


def precondition_mask(
    terms: Sequence[Condition],
    lookup: Lookup,
    n: int,
    *,
    subject: str,
    where: str,
    unit: str,
    columns: Sequence[str] = (),
) -> tuple[NDArray[np.bool_], dict[str, Any]]:
    """The units (``n`` of them, described as ``unit``) that meet every term, and what a
    record states of it: the terms, the unit, how many units were kept and excluded, and
    of the excluded how many lacked a value. ``lookup`` gives a column per unit; a column
    it does not know is R096 (``columns`` lists what it knows, for the hint)."""
    keep = np.ones(n, dtype=bool)
    missing = np.zeros(n, dtype=bool)
    for term in terms:
        values = lookup(term.column)
        if values is None:
            hint = did_you_mean(term.column, columns) or (
                f"columns: {', '.join(sorted(columns))}" if columns else None
            )
            raise ValueProblem(
                f"{subject}: the precondition names column {term.column!r}, which {where} "
                "does not hold",
                code="R096",
                path="[H]",
                expected=hint or "a column of the data",
            )
        meets, absent = _term_mask(values, term, subject=subject, where=where)
        missing |= absent & keep
        keep &= meets
    statement: dict[str, Any] = {
        "terms": describe_terms(terms),
        "unit": unit,
        "kept": int(keep.sum()),
        "excluded": int(n - keep.sum()),
        "missing": int(missing.sum()),
    }
    return keep, statement


def worst_slice_index(verdicts: Sequence[str], bounds: Sequence[float], at_least: bool) -> int:
    """The slice whose verdict is worst (fail, then inconclusive, then pass) and, among
    those, whose bound lies furthest on the wrong side of the threshold (a slice with no
    bound, such as an empty band, counts as the furthest)."""
    rank = {"fail": 0, "inconclusive": 1, "pass": 2}

    def key(index: int) -> tuple[int, float]:
        bound = bounds[index]
        if bound is None or not math.isfinite(bound):
            far = -math.inf
        else:
            far = bound if at_least else -bound
        return rank.get(verdicts[index], 1), far

    return min(range(len(verdicts)), key=key)
