"""Near-duplicate searches over datasets given in chunks (``checks/_near_partitions.py``)
find what the whole-set searches find, over any chunking and any range size: the scale
bit for bit, the counts, the samples involved and the first pairs in order."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from amlas.checks._duplicates import (
    SCALE_BLOCK,
    ScaleSum,
    earlier_near,
    near_pairs,
    radius_of,
    scale_of,
    scaled,
)
from amlas.checks._near_partitions import (
    NearRows,
    RowBits,
    cross_near_spilled,
    earlier_near_spilled,
)

NAMES = ["f0", "f1", "f2", "f3"]


def _points(rng: np.random.Generator, n: int) -> NDArray[np.float64]:
    """Clustered points with copies, near copies and missing values, so that every kind
    of answer occurs and pairs straddle the ranges."""
    centres = rng.normal(0, 3, (max(1, n // 20), len(NAMES)))
    x = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 0.02, (n, len(NAMES)))
    copies = rng.integers(0, n, n // 10)
    x[rng.integers(0, n, n // 10)] = x[copies]  # identical vectors
    x[rng.integers(0, n, n // 20), 2] = np.nan
    x[:, 3] = np.round(x[:, 3], 1)  # a coarse feature: many rows share its cells
    return x


def _given(x: NDArray[np.float64], chunk: int, *, secret: bool) -> NearRows:
    rows = NearRows(NAMES, secret=secret)
    for first in range(0, len(x), chunk):
        piece = x[first : first + chunk]
        rows.add(piece, np.array([f"id-{first + i}" for i in range(len(piece))]))
    return rows


@pytest.mark.parametrize("cuts", [[1], [SCALE_BLOCK - 1, SCALE_BLOCK + 5], [70_000, 70_001]])
def test_the_scale_summed_in_parts_is_the_whole_scale_bit_for_bit(cuts: list[int]) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(5, 2, (3 * SCALE_BLOCK + 17, 3))
    x[rng.integers(0, len(x), 100), 1] = np.nan
    mean, std = scale_of(x)
    parts = ScaleSum(3)
    for piece in np.split(x, cuts):
        parts.add(piece)
    got = parts.result()
    assert got[0].tobytes() == mean.tobytes()
    assert got[1].tobytes() == std.tobytes()
    np.testing.assert_allclose(mean, np.nanmean(x, axis=0), rtol=1e-12)
    np.testing.assert_allclose(std, np.nanstd(x, axis=0), rtol=1e-12)


def test_a_constant_or_empty_column_keeps_scale_one() -> None:
    x = np.column_stack([np.full(10, 2.0), np.full(10, np.nan), np.arange(10.0)])
    mean, std = scale_of(x)
    assert mean[1] == 0.0
    assert std[0] == 1.0
    assert std[1] == 1.0


@pytest.mark.parametrize(
    ("n", "chunk", "range_rows", "secret"),
    [(600, 37, 40, False), (600, 600, 10_000, True), (1500, 250, 120, False)],
)
def test_earlier_near_in_ranges_is_the_whole_search(
    n: int, chunk: int, range_rows: int, secret: bool
) -> None:
    rng = np.random.default_rng(n + chunk)
    x = _points(rng, n)
    radius = radius_of(0.01, len(NAMES))
    z = scaled(x, *scale_of(x))
    whole = earlier_near(z, radius)
    exact = np.zeros(n, dtype=bool)
    exact[rng.integers(0, n, n // 15)] = True  # as if exact duplicates of earlier rows
    marks = RowBits(n)
    marks.set(np.flatnonzero(exact))
    with _given(x, chunk, secret=secret) as rows:
        found = earlier_near_spilled(rows, NAMES, radius, exact=marks, limit=25, rows=range_rows)
    near = (whole >= 0) & ~exact
    assert found.count == int(near.sum()) > 0
    missing = ~np.isfinite(z).all(axis=1)
    assert found.skipped == int(missing.sum()) > 0
    assert found.unchecked == int((missing & ~exact).sum())
    listed = np.flatnonzero(near)[:25]
    assert found.first == [(int(i), f"id-{i}", f"id-{whole[i]}") for i in listed]


@pytest.mark.parametrize(("chunk", "range_rows", "exact"), [(41, 30, True), (500, 5000, False)])
def test_cross_near_in_ranges_is_the_whole_search(chunk: int, range_rows: int, exact: bool) -> None:
    rng = np.random.default_rng(chunk)
    x = _points(rng, 900)
    a, b = x[:500], x[500:].copy()
    b[:40] = a[rng.integers(0, 500, 40)] + rng.normal(0, 1e-4, (40, len(NAMES)))
    b[40:60] = a[rng.integers(0, 500, 20)]  # identical features
    radius = radius_of(0.01, len(NAMES))
    mean, std = scale_of(a)
    za, zb = scaled(a, mean, std), scaled(b, mean, std)
    codes_a = np.full(len(a), -1, dtype=np.int64)
    codes_b = np.full(len(b), -2, dtype=np.int64)
    groups = None
    if exact:  # some of the identical pairs are exact duplicates (group 7 and 9)
        codes_a[[3, 4]], codes_b[[40, 41]] = 7, 7
        codes_a[10], codes_b[45] = 9, 9
        groups = (
            (np.array([3, 4, 10]), np.array([7, 7, 9])),
            (np.array([40, 41, 45]), np.array([7, 7, 9])),
        )
    whole = near_pairs(
        za,
        zb,
        radius,
        codes_a=codes_a if exact else None,
        codes_b=codes_b if exact else None,
        limit=30,
    )
    with _given(a, chunk, secret=False) as left, _given(b, chunk, secret=True) as right:
        found = cross_near_spilled(
            left, right, NAMES, radius, codes=groups, limit=30, rows=range_rows
        )
    assert whole.pairs > 0
    assert found.pairs == whole.pairs
    assert (found.samples_a, found.samples_b) == (
        int(whole.involved_a.sum()),
        int(whole.involved_b.sum()),
    )
    assert found.first == [[f"id-{i}", f"id-{j}"] for i, j in whole.examples]
    missing = (~np.isfinite(za).all(axis=1)).sum() + (~np.isfinite(zb).all(axis=1)).sum()
    assert found.skipped == int(missing)


def test_row_bits_set_get_and_count() -> None:
    bits = RowBits(20)
    bits.set(np.array([0, 7, 8, 19, 7]))
    assert bits.get(np.arange(20)).tolist() == [i in (0, 7, 8, 19) for i in range(20)]
    assert bits.count() == 4
