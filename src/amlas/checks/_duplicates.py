"""Duplicate samples, counted without listing them.

Exact duplicates are samples with equal content hashes; near-duplicates are samples whose
root-mean-square distance over z-scored features is at most a declared distance, found
with scipy's k-d tree. Both the independence of two datasets (:mod:`._independence`) and
the duplicates rule on one dataset (:mod:`._data`) count here.

Identical samples are collapsed before anything is paired or searched (hash groups for
exact duplicates; distinct feature vectors, on both sides, for the k-d tree, which would
otherwise scan every copy of a repeated point), so k identical samples in one set and j in
the other cost k + j operations and memory, never k * j: counts are exact (sums of k * j
over groups of equal samples), and only the first ``limit`` example pairs are ever built.
What still grows with the pairs is a genuine cluster of *distinct* vectors within the
distance of each other (each one's neighbours are listed); those lists are fetched in
blocks of at most :data:`BLOCK` entries, so memory stays bounded.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

__all__ = [
    "BLOCK",
    "HashGroups",
    "NearPairs",
    "earlier_exact",
    "earlier_near",
    "hash_groups",
    "near_pairs",
    "radius_of",
    "zscore",
]

BLOCK = 1 << 22
"""Most neighbour indices listed by one k-d tree call."""

_SLACK = 1.0 + 1e-12
"""The nearest-neighbour bound is strict; the ball query is not."""


def radius_of(distance: float, dimensions: int) -> float:
    """The Euclidean radius equal to an RMS ``distance`` over ``dimensions`` features."""
    return float(distance * np.sqrt(dimensions))


def zscore(x: NDArray[np.float64], reference: NDArray[np.float64]) -> NDArray[np.float64]:
    """``x`` z-scored by ``reference``'s mean and standard deviation (a constant feature
    keeps scale 1). A row with a missing value stays non-finite: it cannot be compared,
    and callers report how many there are."""
    d = x.shape[1]
    with warnings.catch_warnings():  # a feature missing everywhere: mean NaN, scale 1
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(reference, axis=0) if len(reference) else np.zeros(d)
        std = np.nanstd(reference, axis=0) if len(reference) else np.ones(d)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.where(np.isfinite(std) & (std != 0), std, 1.0)
    z: NDArray[np.float64] = (x - mean) / std
    return z


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


def hash_groups(hashes_a: NDArray[np.str_], hashes_b: NDArray[np.str_]) -> HashGroups:
    """Group two sets' samples by equal hash; counting, not pairing."""
    list_a, list_b = hashes_a.tolist(), hashes_b.tolist()
    shared = set(list_a).intersection(list_b)
    group = {value: g for g, value in enumerate(sorted(shared))}
    if group:
        codes_a = np.fromiter((group.get(v, -1) for v in list_a), np.int64, len(list_a))
        codes_b = np.fromiter((group.get(v, -2) for v in list_b), np.int64, len(list_b))
    else:
        codes_a = np.full(len(list_a), -1, dtype=np.int64)
        codes_b = np.full(len(list_b), -2, dtype=np.int64)
    k = np.bincount(codes_a[codes_a >= 0], minlength=len(group))
    j = np.bincount(codes_b[codes_b >= 0], minlength=len(group))
    return HashGroups(
        codes_a,
        codes_b,
        pairs=int(np.dot(k.astype(np.int64), j.astype(np.int64))),
        samples_a=int(k.sum()),
        samples_b=int(j.sum()),
    )


def earlier_exact(hashes: NDArray[np.str_]) -> NDArray[np.int64]:
    """For each sample, the index of the first sample before it with an equal hash, or
    -1 when it is the first of its content."""
    first: dict[str, int] = {}
    out = np.full(len(hashes), -1, dtype=np.int64)
    for i, value in enumerate(hashes.tolist()):
        seen = first.setdefault(value, i)
        if seen != i:
            out[i] = seen
    return out


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


def _row_keys(bits: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """A 64-bit mix of each row's bits: equal rows, equal keys."""
    key = np.full(len(bits), 0x9E3779B97F4A7C15, dtype=np.uint64)
    for column in bits.T:
        key ^= column
        key *= np.uint64(0xBF58476D1CE4E5B9)
        key ^= key >> np.uint64(31)
    return key


def _distinct(points: NDArray[np.float64]) -> _Distinct:
    """Group the (finite) rows of ``points`` by equal value.

    Rows are sorted by a 64-bit mix of their bits (linear time to mix, one integer sort),
    and every group is then checked row by row; a collision, which this check would
    catch, falls back to sorting the rows themselves.
    """
    n = len(points)
    canon = np.ascontiguousarray(points + 0.0)  # -0.0 and 0.0 are one value
    bits = canon.view(np.uint64).reshape(n, -1)
    key = _row_keys(bits)
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    new = np.ones(n, dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1]
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    leaders = order[starts][group]  # column by column: no second copy of the matrix
    if not all(np.array_equal(column[order], column[leaders]) for column in bits.T):
        _, inverse_u = np.unique(bits, axis=0, return_inverse=True)
        order = np.argsort(inverse_u.reshape(-1), kind="stable")
        ordered_u = inverse_u.reshape(-1)[order]
        new[1:] = ordered_u[1:] != ordered_u[:-1]
        group = np.cumsum(new) - 1
        starts = np.flatnonzero(new)
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = group
    bounds = np.append(starts, n).astype(np.int64)
    return _Distinct(canon[order[starts]], inverse, order.astype(np.int64), bounds)


def _blocks(
    tree: cKDTree, centres: NDArray[np.float64], radius: float
) -> Iterator[tuple[int, list[list[int]]]]:
    """(first centre, the tree's points within ``radius`` of each centre) in blocks of at
    most :data:`BLOCK` indices (a block always holds at least one centre)."""
    lengths = np.asarray(tree.query_ball_point(centres, r=radius, return_length=True))
    start = 0
    while start < len(centres):
        stop = start + 1
        total = int(lengths[start])
        while stop < len(centres) and total + int(lengths[stop]) <= BLOCK:
            total += int(lengths[stop])
            stop += 1
        yield start, tree.query_ball_point(centres[start:stop], r=radius)
        start = stop


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
) -> NearPairs:
    """Every (a, b) pair of finite rows within Euclidean ``radius``, except pairs with
    equal codes (exact duplicates, counted elsewhere) when codes are given.

    Only rows of ``a`` with a neighbour in ``b`` are searched further (a nearest-neighbour
    pass finds them), and identical rows among them are searched once.
    """
    n_a, n_b = len(za), len(zb)
    involved_a = np.zeros(n_a, dtype=bool)
    involved_b = np.zeros(n_b, dtype=bool)
    finite_a = np.flatnonzero(np.isfinite(za).all(axis=1))
    finite_b = np.flatnonzero(np.isfinite(zb).all(axis=1))
    if not len(finite_a) or not len(finite_b):
        return NearPairs(0, involved_a, involved_b, [])
    if codes_a is None or codes_b is None:
        codes_a = np.full(n_a, -1, dtype=np.int64)
        codes_b = np.full(n_b, -2, dtype=np.int64)
    # identical rows are searched once, on both sides: a k-d tree scans every copy of a
    # repeated point, which made repeated rows cost (copies in a) x (copies in b)
    rows_a, rows_b = _distinct(za[finite_a]), _distinct(zb[finite_b])
    tree = cKDTree(rows_b.rows)
    nearest, _ = tree.query(rows_a.rows, k=1, distance_upper_bound=radius * _SLACK)
    hits = np.flatnonzero(np.isfinite(nearest))

    def partners(found: list[int]) -> NDArray[np.int64]:
        """The b rows (ascending) equal to the distinct b vectors ``found``."""
        if not found:
            return np.zeros(0, dtype=np.int64)
        return np.sort(finite_b[np.concatenate([rows_b.members(v) for v in found])])

    total = 0
    for start, block in _blocks(tree, rows_a.rows[hits], radius):
        for u, found in zip(hits[start : start + len(block)].tolist(), block, strict=True):
            a_rows = finite_a[rows_a.members(u)]
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
    vector_of[finite_a] = rows_a.inverse
    examples: list[tuple[int, int]] = []
    for row in np.flatnonzero(involved_a).tolist():  # each gives at least one pair
        found = tree.query_ball_point(rows_a.rows[vector_of[row]], r=radius)
        b_rows = partners(found)
        code = codes_a[row]
        keep = b_rows[codes_b[b_rows] != code] if code >= 0 else b_rows
        examples.extend((row, j) for j in keep[: limit - len(examples)].tolist())
        if len(examples) >= limit:
            break
    return NearPairs(total, involved_a, involved_b, examples)


def earlier_near(z: NDArray[np.float64], radius: float) -> NDArray[np.int64]:
    """For each row, the index of the earliest row before it within Euclidean ``radius``,
    or -1 (also for rows with a missing value, which cannot be compared)."""
    out = np.full(len(z), -1, dtype=np.int64)
    finite = np.flatnonzero(np.isfinite(z).all(axis=1))
    if len(finite) < 2:
        return out
    rows = _distinct(z[finite])
    first = finite[rows.first]
    earliest = first.copy()
    tree = cKDTree(rows.rows)
    # a distinct vector's second neighbour is the closest other vector
    second, _ = tree.query(rows.rows, k=2, distance_upper_bound=radius * _SLACK)
    hits = np.flatnonzero(np.isfinite(second[:, 1]))
    for start, block in _blocks(tree, rows.rows[hits], radius):
        for u, found in zip(hits[start : start + len(block)].tolist(), block, strict=True):
            earliest[u] = first[np.asarray(found, dtype=np.int64)].min()  # found holds u
    before = earliest[rows.inverse]
    later = finite > before
    out[finite[later]] = before[later]
    return out
