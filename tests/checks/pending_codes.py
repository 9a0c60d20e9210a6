"""Diagnostic codes raised by the rate, quantile and sequence statistics (issue 14) that the
code table in ``amlas.diagnostics._codes`` does not hold yet.

The entries are written as they should appear in the table (append them to ``_TABLE`` and
regenerate docs/diagnostics.md); until then :func:`register` adds the missing ones for the
duration of a test, and does nothing once the table has them.
"""

from __future__ import annotations

import pytest

from amlas.diagnostics import CODES, Code

PENDING: tuple[Code, ...] = (
    Code(
        "R090",
        "error",
        "event counts or exposure unusable",
        "Counts for a rate (events per unit of exposure, e.g. false positives per image) "
        "cannot be used: a negative or fractional count, an exposure that is negative, not "
        "finite, or zero where events were counted, or per-unit counts that do not add up to "
        "their slice's events and exposure.",
    ),
    Code(
        "R091",
        "error",
        "values for a quantile unusable",
        "The values whose quantile a requirement bounds (e.g. absolute regression errors) "
        "are not a 1-D array of numbers, or hold NaN or infinite values: a sample without a "
        "usable value must leave the data explicitly.",
    ),
    Code(
        "R092",
        "error",
        "sequence data unusable",
        "The sequence ids, frame numbers, failure flags or slice codes of a check over "
        "windows of consecutive frames cannot be used: arrays of different lengths, frame "
        "numbers that are not whole numbers or repeat within a sequence, failure flags other "
        "than booleans or 0/1, slice codes beyond the number of slices.",
    ),
    Code(
        "R093",
        "error",
        "statistical setting out of range",
        "A setting of a statistical check is out of range: a confidence level or quantile "
        "outside (0, 1), a negative or non-finite rate threshold, an unknown comparison or "
        "side, a window of no frame, or more failures allowed per window than it has frames.",
    ),
)


def register(monkeypatch: pytest.MonkeyPatch) -> None:
    for code in PENDING:
        if code.code not in CODES:
            monkeypatch.setitem(CODES, code.code, code)
