"""Duplicate samples, counted without listing them.

Exact duplicates are samples with equal content: equal canonical bytes over the columns
that identify a sample's content (:class:`~amlas.adapters.SampleContent`, the bytes the
per-sample SHA-256 of :meth:`~amlas.adapters.Table.sample_hashes` covers). They are
grouped by a fast 64-bit key per row, and every group is then confirmed row by row
against its first member's values; a key collision, which that check catches, falls back
to sorting the rows themselves, so a collision never makes a false duplicate.
Near-duplicates are samples whose root-mean-square distance over z-scored features is at
most a declared distance, found with scipy's k-d tree. Both the independence of two
datasets (:mod:`._independence`) and the duplicates rule on one dataset (:mod:`._data`)
count here.

Identical samples are collapsed before anything is paired or searched (groups of equal
content for exact duplicates; distinct feature vectors, on both sides, for the k-d tree,
which would otherwise scan every copy of a repeated point), so k identical samples in one
set and j in the other cost k + j operations and memory, never k * j: counts are exact
(sums of k * j over groups of equal samples), and only the first ``limit`` example pairs
are ever built. With more than :data:`SUBSPACE` features the tree is built over the
:data:`SUBSPACE` features that spread the rows most (a distance over some features is
never more than the distance over all), and every candidate it returns is confirmed over
all features, with scipy's own distance where the two computations could round apart:
the same pairs as a tree over all features, at a fraction of the cost in many
dimensions. What still grows with the pairs is a genuine cluster of *distinct* vectors
within the distance of each other (each one's neighbours are listed); those lists are
fetched in blocks of at most :data:`BLOCK` entries, so memory stays bounded, and when the
chosen features leave too many candidates the search runs over all features.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters import SampleContent, arrow_text

__all__ = [
    "BLOCK",
    "SCALE_BLOCK",
    "SUBSPACE",
    "FiniteRows",
    "HashGroups",
    "NearPairs",
    "ScaleSum",
    "content_codes",
    "earlier_exact",
    "earlier_near",
    "finite_rows",
    "hash_groups",
    "near_pairs",
    "radius_of",
    "scale_of",
    "scaled",
    "zscore",
]

BLOCK = 1 << 22
"""Most neighbour indices listed by one k-d tree call."""

_SLACK = 1.0 + 1e-12
"""The nearest-neighbour bound is strict; the ball query is not."""

SUBSPACE = 8
"""Most features the k-d tree is built over; candidates are confirmed over all of them."""

_WIDE = 1.0 + 1e-9
"""Candidate radius over the chosen features: far above any rounding of a sum of squares,
so no pair within the distance is missed."""

_ROWS = 1 << 16
"""Rows mixed or compared per block (bounds the temporary copies)."""


def radius_of(distance: float, dimensions: int) -> float:
    """The Euclidean radius equal to an RMS ``distance`` over ``dimensions`` features."""
    return float(distance * np.sqrt(dimensions))


def zscore(x: NDArray[np.float64], reference: NDArray[np.float64]) -> NDArray[np.float64]:
    """``x`` z-scored by ``reference``'s mean and standard deviation (a constant feature
    keeps scale 1). A row with a missing value stays non-finite: it cannot be compared,
    and callers report how many there are."""
    return scaled(x, *scale_of(reference))


def scale_of(
    reference: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The mean and scale :func:`zscore` uses: the mean and standard deviation of each
    column over its values that are not NaN (0 and 1 where there are none or they are not
    finite; scale 1 for a constant column), computed by :class:`ScaleSum` so that a
    dataset read in chunks gets the same numbers, bit for bit."""
    total = ScaleSum(reference.shape[1])
    total.add(reference)
    return total.result()


def scaled(
    x: NDArray[np.float64], mean: NDArray[np.float64], std: NDArray[np.float64]
) -> NDArray[np.float64]:
    """``(x - mean) / std`` (see :func:`scale_of`)."""
    z: NDArray[np.float64] = (x - mean) / std
    return z


SCALE_BLOCK = 1 << 16
"""Rows of one block of :class:`ScaleSum` (counted from the dataset's first row)."""


class ScaleSum:
    """Each column's mean and standard deviation over rows given in any number of parts,
    with the same result, bit for bit, however the rows are cut: the rows are summed in
    fixed blocks of :data:`SCALE_BLOCK` rows counted from the first (a part's rows that
    do not fill a block wait for the next part), each column on its own (numpy's pairwise
    sum, then the sum of squared deviations from the block's mean), and the blocks are
    merged in order by Chan et al.'s update. NaN values are left out; an infinite value
    makes the column's mean or scale non-finite, which :func:`scale_of` replaces.

    numpy's own ``mean``/``std`` over a matrix sum its rows in an order that depends on
    the number of rows and columns, so a chunk's sums could not be merged into the whole
    read's; this is as accurate (a block's deviations are two-pass, blocks merge stably).
    """

    def __init__(self, columns: int) -> None:
        self.columns = columns
        self._count = np.zeros(columns, dtype=np.int64)
        self._mean = np.zeros(columns)
        self._m2 = np.zeros(columns)
        self._waiting: list[NDArray[np.float64]] = []
        self._waiting_rows = 0

    def add(self, x: NDArray[np.float64]) -> None:
        """The next rows (a matrix of :attr:`columns` columns)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.columns)
        start = 0
        if self._waiting_rows:
            take = min(SCALE_BLOCK - self._waiting_rows, len(x))
            self._waiting.append(x[:take])
            self._waiting_rows += take
            start = take
            if self._waiting_rows < SCALE_BLOCK:
                return
            self._fold(np.concatenate(self._waiting))
            self._waiting, self._waiting_rows = [], 0
        while len(x) - start >= SCALE_BLOCK:
            self._fold(x[start : start + SCALE_BLOCK])
            start += SCALE_BLOCK
        if start < len(x):
            self._waiting, self._waiting_rows = [x[start:]], len(x) - start

    def _fold(self, block: NDArray[np.float64]) -> None:
        with np.errstate(all="ignore"):  # infinite values: a non-finite scale, replaced
            for j in range(self.columns):
                column = np.ascontiguousarray(block[:, j])
                missing = np.isnan(column)
                if missing.any():
                    column = column[~missing]
                k = len(column)
                if not k:
                    continue
                mean = np.sum(column) / k
                m2 = np.sum(np.square(column - mean))
                n = self._count[j]
                if not n:
                    self._count[j], self._mean[j], self._m2[j] = k, mean, m2
                    continue
                total = n + k
                delta = mean - self._mean[j]
                self._mean[j] += delta * (k / total)
                self._m2[j] += m2 + delta * delta * (n * k / total)
                self._count[j] = total

    def result(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The mean and scale of every row given (see :func:`scale_of`)."""
        if self._waiting_rows:
            self._fold(np.concatenate(self._waiting))
            self._waiting, self._waiting_rows = [], 0
        with np.errstate(all="ignore"):
            counted = self._count > 0
            mean = np.where(counted, self._mean, np.nan)
            std = np.where(counted, np.sqrt(self._m2 / np.maximum(self._count, 1)), np.nan)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        std = np.where(np.isfinite(std) & (std != 0), std, 1.0)
        return mean, std


# -- exact duplicates ------------------------------------------------------------------------


@dataclass(frozen=True)
class HashGroups:
    """Samples of two sets grouped by equal content hash."""

    codes_a: NDArray[np.int64]
    """Group of each sample of the first set; -1 when its hash is not in the second."""
    codes_b: NDArray[np.int64]
    """Group of each sample of the second set; -2 when its hash is not in the first (so a
    code never matches across the sets unless the hashes do)."""
    pairs: int
    """Sum over groups of k * j: every (first, second) pair with equal hashes."""
    samples_a: int
    samples_b: int

    def examples(self, limit: int) -> list[tuple[int, int]]:
        """The first ``limit`` pairs (index in a, index in b), in the first set's order
        and then the second's."""
        in_b = np.flatnonzero(self.codes_b >= 0)
        members = in_b[np.argsort(self.codes_b[in_b], kind="stable")]
        sorted_codes = self.codes_b[members]
        out: list[tuple[int, int]] = []
        for i in np.flatnonzero(self.codes_a >= 0).tolist():
            code = self.codes_a[i]
            start = int(np.searchsorted(sorted_codes, code, side="left"))
            stop = int(np.searchsorted(sorted_codes, code, side="right"))
            for j in members[start : min(stop, start + limit - len(out))].tolist():
                out.append((i, j))
            if len(out) >= limit:
                break
        return out


def hash_groups(hashes_a: NDArray[np.generic], hashes_b: NDArray[np.generic]) -> HashGroups:
    """Group two sets' samples by equal hash (any comparable values: content codes from
    :func:`content_codes`, hash strings); counting, not pairing."""
    n_a = len(hashes_a)
    if not n_a or not len(hashes_b):
        shared = np.zeros(0, dtype=np.int64)
        inverse = np.zeros(n_a + len(hashes_b), dtype=np.int64)
    else:
        values, inverse = np.unique(np.concatenate([hashes_a, hashes_b]), return_inverse=True)
        inverse = inverse.reshape(-1)
        in_a = np.zeros(len(values), dtype=bool)
        in_a[inverse[:n_a]] = True
        in_b = np.zeros(len(values), dtype=bool)
        in_b[inverse[n_a:]] = True
        shared = np.flatnonzero(in_a & in_b)
    group = np.full(len(inverse) and int(inverse.max()) + 1, -1, dtype=np.int64)
    group[shared] = np.arange(len(shared))
    codes_a = group[inverse[:n_a]]
    codes_b = group[inverse[n_a:]]
    codes_b[codes_b < 0] = -2
    k = np.bincount(codes_a[codes_a >= 0], minlength=len(shared))
    j = np.bincount(codes_b[codes_b >= 0], minlength=len(shared))
    return HashGroups(
        codes_a,
        codes_b,
        pairs=int(np.dot(k.astype(np.int64), j.astype(np.int64))),
        samples_a=int(k.sum()),
        samples_b=int(j.sum()),
    )


def earlier_exact(hashes: NDArray[np.generic]) -> NDArray[np.int64]:
    """For each sample, the index of the first sample before it with an equal hash (or
    content code), or -1 when it is the first of its content."""
    if not len(hashes):
        return np.zeros(0, dtype=np.int64)
    _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
    earliest = first[inverse.reshape(-1)].astype(np.int64)
    return np.where(earliest < np.arange(len(hashes)), earliest, -1)


def _row_keys(bits: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """A 64-bit mix of each row's words: equal rows, equal keys (unequal rows may collide:
    callers confirm). Mixed in blocks of rows, each transposed once, so that every column
    is read contiguously."""
    n = len(bits)
    key = np.empty(n, dtype=np.uint64)
    for start in range(0, n, _ROWS):
        block = np.ascontiguousarray(bits[start : start + _ROWS].T)
        mixed = np.full(block.shape[1], 0x9E3779B97F4A7C15, dtype=np.uint64)
        for column in block:
            mixed ^= column
            mixed *= np.uint64(0xBF58476D1CE4E5B9)
            mixed ^= mixed >> np.uint64(31)
        key[start : start + _ROWS] = mixed
    return key


def _grouped(
    bits: NDArray[np.uint64],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Group equal rows of ``bits`` exactly: ``(order, starts, group)`` with the rows in
    ``order`` (each group's rows together, ascending), the position in ``order`` where
    each group starts, and the group of each position.

    Rows are sorted by :func:`_row_keys` (linear time to mix, one integer sort), and every
    row of a group of more than one is then compared with the group's first row; a
    collision, which this check catches, falls back to sorting the rows themselves."""
    n = len(bits)
    key = _row_keys(bits)
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    new = np.ones(n, dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1]
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    sizes = np.diff(np.append(starts, n))
    shared = np.flatnonzero(sizes[group] > 1)  # positions in groups of more than one row
    confirmed = True
    for block in range(0, len(shared), _ROWS):
        at = shared[block : block + _ROWS]
        if not np.array_equal(bits[order[at]], bits[order[starts[group[at]]]]):
            confirmed = False
            break
    if not confirmed:
        _, inverse = np.unique(bits, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        order = np.argsort(inverse, kind="stable")
        ordered_u = inverse[order]
        new[1:] = ordered_u[1:] != ordered_u[:-1]
        group = np.cumsum(new) - 1
        starts = np.flatnonzero(new)
    return order.astype(np.int64), starts.astype(np.int64), group.astype(np.int64)


def _words(fixed: NDArray[np.uint8]) -> NDArray[np.uint64]:
    """Rows of bytes as rows of 64-bit words (zero-padded to a multiple of 8 bytes)."""
    n, width = fixed.shape
    padded = -width % 8
    if padded:
        fixed = np.concatenate([fixed, np.zeros((n, padded), np.uint8)], axis=1)
    return np.ascontiguousarray(fixed).view(np.uint64).reshape(n, (width + padded) // 8)


def content_codes(contents: list[SampleContent]) -> list[NDArray[np.int64]]:
    """One code per sample of each of ``contents``, shared across them: two samples get
    the same code exactly when their canonical bytes (what their SHA-256 covers) are
    equal.

    Samples are compared as words: the fixed-width bytes, and each text column as the code
    of its value in one dictionary over that column of every content (pyarrow's
    ``dictionary_encode``, which compares the values themselves). Contents of different
    layouts (numbers in one where the other has text) have no common words; their bytes
    are compared directly, a slow path no dataset built as documented takes."""
    sizes = [len(c) for c in contents]
    total = sum(sizes)
    layouts = {c.layout for c in contents}
    if len(layouts) > 1:
        seen: dict[bytes, int] = {}
        codes = []
        for content in contents:
            data, offsets = content.row_bytes()
            bounds = offsets.tolist()
            rows = (bytes(data[i:j]) for i, j in pairwise(bounds))
            codes.append(
                np.fromiter((seen.setdefault(r, len(seen)) for r in rows), np.int64, len(content))
            )
        return codes
    import pyarrow as pa
    import pyarrow.compute as pc

    width, texts = layouts.pop() if layouts else (0, 0)
    columns: list[NDArray[np.uint64]] = []
    if width:
        columns.append(np.concatenate([_words(c.fixed) for c in contents]))
    for t in range(texts):
        joined = pa.concat_arrays([arrow_text(c.texts[t]) for c in contents])
        indices = pc.dictionary_encode(joined).indices
        columns.append(np.asarray(indices, dtype=np.int64).astype(np.uint64)[:, None])
    inverse = np.zeros(total, dtype=np.int64)
    if columns and total:
        bits = columns[0] if len(columns) == 1 else np.concatenate(columns, axis=1)
        order, _, group = _grouped(np.ascontiguousarray(bits))
        inverse[order] = group
    return np.split(inverse, np.cumsum(sizes)[:-1]) if contents else []


# -- near-duplicates -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Distinct:
    """The distinct rows of a matrix, and which rows hold each (grouped, ascending)."""

    rows: NDArray[np.float64]
    """One row per distinct vector."""
    inverse: NDArray[np.int64]
    """The distinct vector of every input row."""
    order: NDArray[np.int64]
    bounds: NDArray[np.int64]

    def members(self, u: int) -> NDArray[np.int64]:
        """The input rows equal to distinct vector ``u``, ascending."""
        return self.order[self.bounds[u] : self.bounds[u + 1]]

    @property
    def first(self) -> NDArray[np.int64]:
        """The first input row of each distinct vector."""
        return self.order[self.bounds[:-1]]


def _distinct(points: NDArray[np.float64]) -> _Distinct:
    """Group the (finite) rows of ``points`` by equal value (-0.0 and 0.0 are one value),
    exactly (:func:`_grouped`)."""
    n = len(points)
    canon = np.ascontiguousarray(points + 0.0)  # -0.0 and 0.0 are one value
    order, starts, group = _grouped(canon.view(np.uint64))
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = group
    bounds = np.append(starts, n).astype(np.int64)
    return _Distinct(canon[order[starts]], inverse, order, bounds)


@dataclass(frozen=True)
class FiniteRows:
    """The rows of a matrix without a missing value (``finite``, ascending), grouped by
    equal value (``distinct``): what a near-duplicate search searches."""

    finite: NDArray[np.int64]
    distinct: _Distinct


def finite_rows(z: NDArray[np.float64]) -> FiniteRows:
    """The finite rows of ``z``, grouped by equal value (:func:`_distinct`)."""
    finite = np.flatnonzero(np.isfinite(z).all(axis=1))
    return FiniteRows(finite, _distinct(z[finite] if len(finite) < len(z) else z))


def _spread_columns(points: NDArray[np.float64], radius: float) -> NDArray[np.intp] | None:
    """The :data:`SUBSPACE` features that spread ``points`` over the most cells of width
    ``radius`` (in an evenly spaced sample of rows), in column order; None when there are
    no more features than that."""
    d = points.shape[1]
    if d <= SUBSPACE:
        return None
    sample = points[:: max(1, len(points) // 4096)]
    with np.errstate(all="ignore"):
        cells = np.floor(sample / radius)
    spread = np.array([len(np.unique(cells[:, j])) for j in range(d)])
    return np.sort(np.argsort(-spread, kind="stable")[:SUBSPACE])


def _within(a: NDArray[np.float64], b: NDArray[np.float64], radius: float) -> NDArray[np.bool_]:
    """Whether each row of ``a`` lies within Euclidean ``radius`` of the same row of
    ``b``, as scipy's ball query decides it: where the sum of squares lies so close to
    ``radius**2`` that two orders of summation could round apart, scipy itself decides."""
    from scipy.spatial import cKDTree  # imported when used: a worker that only tallies

    diff = a - b
    squared = np.einsum("ij,ij->i", diff, diff)
    limit = radius * radius
    inside: NDArray[np.bool_] = squared <= limit
    for i in np.flatnonzero(np.abs(squared - limit) <= limit * 1e-9).tolist():
        inside[i] = cKDTree(b[i : i + 1]).query_ball_point(a[i], r=radius, return_length=True) > 0
    return inside


def _locality(points: NDArray[np.float64]) -> NDArray[np.intp]:
    """An order of ``points`` that keeps near points near each other: sorted by their cell
    in a coarse grid over (up to) the three features that spread them most."""
    if len(points) <= 4096 or not points.shape[1]:
        return np.arange(len(points))
    spread = np.ptp(points, axis=0)
    columns = np.argsort(-spread, kind="stable")[:3]
    key = np.zeros(len(points), dtype=np.int64)
    for j in columns.tolist():
        low, width = points[:, j].min(), spread[j] / 63 if spread[j] > 0 else 1.0
        key = key * 64 + np.clip((points[:, j] - low) / width, 0, 63).astype(np.int64)
    return np.argsort(key, kind="stable")


class _Search:
    """The ``points`` within ``radius`` of query rows: a k-d tree over every feature, or
    over the :data:`SUBSPACE` features that spread the points most (with more features
    than that), whose candidates are confirmed over every feature (:func:`_within`)."""

    def __init__(self, points: NDArray[np.float64], radius: float) -> None:
        self.points = points
        self.radius = radius
        self.columns = _spread_columns(points, radius)
        self._build()

    def _build(self) -> None:
        from scipy.spatial import cKDTree

        if self.columns is None:
            self.tree = cKDTree(self.points)
            self.reach = self.radius
        else:
            self.tree = cKDTree(np.ascontiguousarray(self.points[:, self.columns]))
            self.reach = self.radius * _WIDE

    def _project(self, queries: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.columns is None:
            return queries
        return np.ascontiguousarray(queries[:, self.columns])

    def near(self, queries: NDArray[np.float64], k: int) -> NDArray[np.intp]:
        """The queries with at least ``k`` points within reach of the tree (every query
        with ``k`` points within ``radius``, and perhaps others).

        The queries are asked in an order that keeps neighbours together (the tree's own
        order when they are its points), so that consecutive queries walk the same
        branches: the same answers, in less than half the time on a million points."""
        projected = self._project(queries)
        if queries is self.points:
            order = np.asarray(self.tree.indices, dtype=np.intp)
        else:
            order = _locality(projected)
        found, _ = self.tree.query(projected[order], k=k, distance_upper_bound=self.reach * _SLACK)
        last = found if k == 1 else found[:, k - 1]
        return np.sort(order[np.isfinite(last)])

    def balls(self, queries: NDArray[np.float64]) -> Iterator[tuple[int, list[NDArray[np.int64]]]]:
        """(first query, the points within ``radius`` of each query) in blocks of at most
        :data:`BLOCK` candidates (a block always holds at least one query)."""
        projected = self._project(queries)
        lengths = np.asarray(
            self.tree.query_ball_point(projected, r=self.reach, return_length=True),
            dtype=np.int64,
        ).reshape(-1)
        if self.columns is not None and int(lengths.sum()) > 4 * len(self.points) + BLOCK:
            # the chosen features do not separate these points: search over all of them
            self.columns = None
            self._build()
            projected = queries
            lengths = np.asarray(
                self.tree.query_ball_point(projected, r=self.reach, return_length=True),
                dtype=np.int64,
            ).reshape(-1)
        start = 0
        while start < len(queries):
            stop = start + 1
            total = int(lengths[start])
            while stop < len(queries) and total + int(lengths[stop]) <= BLOCK:
                total += int(lengths[stop])
                stop += 1
            found = self.tree.query_ball_point(projected[start:stop], r=self.reach)
            yield start, self._confirmed(queries[start:stop], found)
            start = stop

    def _confirmed(self, queries: NDArray[np.float64], found: Any) -> list[NDArray[np.int64]]:
        lists = [np.asarray(f, dtype=np.int64) for f in found]
        if self.columns is None:
            return lists
        counts = np.array([len(f) for f in lists], dtype=np.int64)
        if not counts.sum():
            return lists
        query = np.repeat(np.arange(len(lists)), counts)
        point = np.concatenate(lists)
        keep = np.zeros(len(point), dtype=bool)
        for block in range(0, len(point), _ROWS):
            part = slice(block, block + _ROWS)
            keep[part] = _within(queries[query[part]], self.points[point[part]], self.radius)
        ends = np.cumsum(counts)
        return [point[s:e][keep[s:e]] for s, e in zip(ends - counts, ends, strict=True)]


def _count_of(
    values: NDArray[np.int64], counts: NDArray[np.int64], codes: NDArray[np.int64]
) -> NDArray[np.int64]:
    """``counts`` of each code in ``values`` (sorted), 0 for codes absent or negative."""
    if not len(values):
        return np.zeros(len(codes), dtype=np.int64)
    at = np.minimum(np.searchsorted(values, codes), len(values) - 1)
    found = (values[at] == codes) & (codes >= 0)
    return np.where(found, counts[at], 0)


@dataclass(frozen=True)
class NearPairs:
    """Pairs across two sets within the distance, less the exact duplicates."""

    pairs: int
    involved_a: NDArray[np.bool_]
    involved_b: NDArray[np.bool_]
    examples: list[tuple[int, int]]
    """The first pairs (index in a, index in b), in a's order, then b's."""


def near_pairs(
    za: NDArray[np.float64],
    zb: NDArray[np.float64],
    radius: float,
    *,
    codes_a: NDArray[np.int64] | None = None,
    codes_b: NDArray[np.int64] | None = None,
    limit: int,
    rows_a: FiniteRows | None = None,
) -> NearPairs:
    """Every (a, b) pair of finite rows within Euclidean ``radius``, except pairs with
    equal codes (exact duplicates, counted elsewhere) when codes are given.

    Only rows of ``a`` with a neighbour in ``b`` are searched further (a nearest-neighbour
    pass finds them), and identical rows among them are searched once. ``rows_a`` is
    :func:`finite_rows` of ``za`` when the caller holds it already.
    """
    n_a, n_b = len(za), len(zb)
    involved_a = np.zeros(n_a, dtype=bool)
    involved_b = np.zeros(n_b, dtype=bool)
    prepared_a = finite_rows(za) if rows_a is None else rows_a
    finite_a = prepared_a.finite
    finite_b = np.flatnonzero(np.isfinite(zb).all(axis=1))
    if not len(finite_a) or not len(finite_b):
        return NearPairs(0, involved_a, involved_b, [])
    if codes_a is None or codes_b is None:
        codes_a = np.full(n_a, -1, dtype=np.int64)
        codes_b = np.full(n_b, -2, dtype=np.int64)
    # identical rows are searched once, on both sides: a k-d tree scans every copy of a
    # repeated point, which made repeated rows cost (copies in a) x (copies in b)
    rows_a_ = prepared_a.distinct
    rows_b = _distinct(zb[finite_b] if len(finite_b) < n_b else zb)
    search = _Search(rows_b.rows, radius)
    hits = search.near(rows_a_.rows, 1)

    def partners(found: NDArray[np.int64]) -> NDArray[np.int64]:
        """The b rows (ascending) equal to the distinct b vectors ``found``."""
        if not len(found):
            return np.zeros(0, dtype=np.int64)
        return np.sort(finite_b[np.concatenate([rows_b.members(v) for v in found.tolist()])])

    total = 0
    for start, block in search.balls(rows_a_.rows[hits]):
        for u, found in zip(hits[start : start + len(block)].tolist(), block, strict=True):
            if not len(found):
                continue  # a candidate over the chosen features only
            a_rows = finite_a[rows_a_.members(u)]
            b_rows = partners(found)
            ca, cb = codes_a[a_rows], codes_b[b_rows]
            # per code: how many of this vector's a rows and b rows carry it
            values_a, count_a = np.unique(ca, return_counts=True)
            values_b, count_b = np.unique(cb, return_counts=True)
            exact = int(np.dot(count_a, _count_of(values_b, count_b, values_a)))
            total += len(a_rows) * len(b_rows) - exact
            # a row is involved when some row of the other set is not its exact duplicate
            same_b = _count_of(values_b, count_b, ca)
            same_a = _count_of(values_a, count_a, cb)
            involved_a[a_rows[len(b_rows) - same_b > 0]] = True
            involved_b[b_rows[len(a_rows) - same_a > 0]] = True
    vector_of = np.empty(n_a, dtype=np.int64)
    vector_of[finite_a] = rows_a_.inverse
    examples: list[tuple[int, int]] = []
    for row in np.flatnonzero(involved_a).tolist():  # each gives at least one pair
        _, (found,) = next(search.balls(rows_a_.rows[vector_of[row]][None, :]))
        b_rows = partners(found)
        code = codes_a[row]
        keep = b_rows[codes_b[b_rows] != code] if code >= 0 else b_rows
        examples.extend((row, j) for j in keep[: limit - len(examples)].tolist())
        if len(examples) >= limit:
            break
    return NearPairs(total, involved_a, involved_b, examples)


def earlier_near(
    z: NDArray[np.float64], radius: float, *, rows: FiniteRows | None = None
) -> NDArray[np.int64]:
    """For each row, the index of the earliest row before it within Euclidean ``radius``,
    or -1 (also for rows with a missing value, which cannot be compared). ``rows`` is
    :func:`finite_rows` of ``z`` when the caller holds it already."""
    out = np.full(len(z), -1, dtype=np.int64)
    prepared = finite_rows(z) if rows is None else rows
    finite = prepared.finite
    if len(finite) < 2:
        return out
    rows_ = prepared.distinct
    first = finite[rows_.first]
    earliest = first.copy()
    search = _Search(rows_.rows, radius)
    # a distinct vector's second neighbour is the closest other vector
    hits = search.near(rows_.rows, 2)
    for start, block in search.balls(rows_.rows[hits]):
        for u, found in zip(hits[start : start + len(block)].tolist(), block, strict=True):
            earliest[u] = first[found].min()  # found holds u
    before = earliest[rows_.inverse]
    later = finite > before
    out[finite[later]] = before[later]
    return out
