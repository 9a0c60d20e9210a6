"""Near-duplicate searches over whole datasets read in chunks (stage 3), exact and in
memory bounded by a partition, with the answers of the whole read
(:func:`~amlas.checks._duplicates.earlier_near`, :func:`~amlas.checks._duplicates.near_pairs`).

A pair of samples is near when the root-mean-square distance over their features,
z-scored by a dataset's mean and standard deviation, is at most the declared distance.
Both need the whole set; neither needs it in memory:

1. While the chunks are read, each chunk's feature values go to a spill on disk as they
   are (:class:`NearRows`; encrypted for sealed data), and the mean and standard
   deviation are summed in fixed blocks (:class:`~amlas.checks._duplicates.ScaleSum`:
   the whole read computes them the same way, so the z-scores are equal bit for bit).
2. Once the scale is known, the spill is read back twice: first to choose one feature
   (the one whose z-scores spread an evenly spaced sample of rows over the most cells of
   the search radius) and count the rows in each of its cells, then to put every row in
   the range of cells that holds it (ranges of about ``rows`` rows each). Two rows within
   the radius are at most one cell apart in that feature, so each range is written with
   the cells on either side of it as a *halo*: the rows of a range and its halo hold
   every neighbour of the range's rows.
3. Each range is searched alone with the whole read's own functions, over its rows and
   halo, and only its own rows' answers are kept: every sample is answered once, by the
   range that holds it, with all of its neighbours in sight.

Memory is one range and its halo at the end (a range can only exceed ``rows`` when more
rows than that fall in one cell of the radius, where they are searched together), and
two bits per row of a dataset (:class:`RowBits`: the exact duplicates of the
duplicates rule; the samples of the second set paired by the independence search), and
16 bytes per row with an exact duplicate in the other set of an independence check.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters import RepeatedValues
from amlas.checks._duplicates import ScaleSum, earlier_near, near_pairs, scaled
from amlas.checks._partitions import Spill

__all__ = [
    "CrossNear",
    "EarlierNear",
    "NearRows",
    "RowBits",
    "cross_near_spilled",
    "earlier_near_spilled",
]

_WIDTH = 1.0 + 1e-9
"""Cell width over the radius: two rows within the radius, however the distance rounds,
lie in the same cell of a feature or in adjacent ones."""

_SAMPLE = 4096
"""Rows of the evenly spaced sample that chooses the partitioning feature."""

_LIMIT = float(1 << 53)
"""Cells beyond this (z-scores of extreme outliers) are clipped: still adjacent ranges."""


class RowBits:
    """One bit per row of a dataset."""

    def __init__(self, rows: int) -> None:
        self._bits = np.zeros((rows + 7) // 8, dtype=np.uint8)

    def set(self, rows: NDArray[np.int64]) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        np.bitwise_or.at(self._bits, rows >> 3, np.left_shift(1, rows & 7).astype(np.uint8))

    def get(self, rows: NDArray[np.int64]) -> NDArray[np.bool_]:
        rows = np.asarray(rows, dtype=np.int64)
        found: NDArray[np.bool_] = ((self._bits[rows >> 3] >> (rows & 7)) & 1).astype(bool)
        return found

    def count(self) -> int:
        return int(np.bitwise_count(self._bits).sum())


class _Sequence(RepeatedValues):
    """Files written one after the other and read back in that order (encrypted for
    sealed data, as every spill)."""

    def append(self, **arrays: NDArray[Any]) -> None:
        self._write(self._folder / f"seq-{self._spills:08d}.spill", **arrays)
        self._spills += 1

    def __iter__(self) -> Iterator[dict[str, NDArray[Any]]]:
        for index in range(self._spills):
            yield self._read(self._folder / f"seq-{index:08d}.spill")


class NearRows:
    """The feature values of one dataset given in chunks, spilled as they come, and
    their scale (see the module docs). ``columns`` are the features any search on the
    dataset compares. Use as a context manager, or :meth:`close`."""

    def __init__(self, columns: list[str], *, secret: bool) -> None:
        self.columns = list(columns)
        self.samples = 0
        self._secret = secret
        self._rows = _Sequence(secret=secret)
        self._scale = ScaleSum(len(self.columns))
        self._result: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None
        self._step = 1
        self._sample: list[NDArray[np.float64]] = []
        self._sampled = 0

    def __enter__(self) -> NearRows:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._rows.close()

    def add(self, x: NDArray[np.float64], ids: NDArray[np.str_]) -> None:
        """The next chunk: one row of :attr:`columns` per sample, and the samples' ids."""
        x = np.asarray(x, dtype=np.float64).reshape(len(ids), len(self.columns))
        self._scale.add(x)
        # an evenly spaced sample of at most 2 x _SAMPLE rows (those whose number the step
        # divides; the step doubles when it grows past that)
        first = -self.samples % self._step
        self._sample.append(x[first :: self._step].copy())
        self._sampled += len(self._sample[-1])
        while self._sampled > 2 * _SAMPLE:
            kept = np.concatenate(self._sample)
            self._sample = [kept[::2]]
            self._sampled = len(self._sample[0])
            self._step *= 2
        self._rows.append(
            x=x, ids=np.asarray(ids, dtype=np.str_), first=np.asarray(self.samples, dtype=np.int64)
        )
        self.samples += len(ids)

    def scale(self, names: list[str]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The mean and scale of the named features (:func:`~amlas.checks._duplicates.
        scale_of` of the whole set's columns, bit for bit)."""
        if self._result is None:
            self._result = self._scale.result()
        at = [self.columns.index(n) for n in names]
        mean, std = self._result
        return mean[at], std[at]

    def sample(self, names: list[str]) -> NDArray[np.float64]:
        """The named features of an evenly spaced sample of the rows (every row whose
        number a power of two divides, at most ``2 * _SAMPLE`` rows)."""
        at = [self.columns.index(n) for n in names]
        if not self._sample:
            return np.zeros((0, len(names)))
        return np.ascontiguousarray(np.concatenate(self._sample)[:, at])

    def chunks(
        self, names: list[str], mean: NDArray[np.float64], std: NDArray[np.float64]
    ) -> Iterator[tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.str_]]]:
        """Each chunk's (rows, z-scores of ``names`` by ``mean`` and ``std``, ids)."""
        at = [self.columns.index(n) for n in names]
        for part in self._rows:
            x, ids = part["x"], part["ids"]
            first = int(part["first"])
            rows = np.arange(first, first + len(ids), dtype=np.int64)
            yield rows, scaled(np.ascontiguousarray(x[:, at]), mean, std), ids


def _cells(z: NDArray[np.float64], width: float) -> NDArray[np.int64]:
    with np.errstate(all="ignore"):
        cells = np.clip(np.floor(z / width), -_LIMIT, _LIMIT)
    return cells.astype(np.int64)


@dataclass(frozen=True)
class _Ranges:
    """The partitioning feature (its position in the searched features), the cell
    width, and the first cell of each range (the first range reaches down to any cell)."""

    feature: int
    width: float
    starts: NDArray[np.int64]

    def of(self, cells: NDArray[np.int64]) -> NDArray[np.int64]:
        part: NDArray[np.int64] = np.maximum(
            np.searchsorted(self.starts, cells, side="right") - 1, 0
        ).astype(np.int64)
        return part


def _feature(sources: list[tuple[NearRows, Any]], names: list[str], width: float) -> int:
    """The feature whose z-scores spread an evenly spaced sample of the rows (the first
    source's, kept as they came) over the most cells."""
    source, (mean, std) = sources[0]
    sample = source.sample(names)
    z = scaled(sample, mean, std)
    z = z[np.isfinite(z).all(axis=1)]
    spread = [len(np.unique(_cells(z[:, j], width))) for j in range(len(names))]
    return int(np.argmax(spread))


def _ranges(
    sources: list[tuple[NearRows, Any]], names: list[str], radius: float, rows: int
) -> _Ranges:
    """Ranges of whole cells of the partitioning feature, of about ``rows`` finite rows
    of all sources each."""
    width = radius * _WIDTH
    feature = _feature(sources, names, width)
    counts: dict[int, int] = {}
    for source, (mean, std) in sources:
        for _, z, _ in source.chunks(names, mean, std):
            cells = _cells(z[np.isfinite(z).all(axis=1), feature], width)
            values, n = np.unique(cells, return_counts=True)
            for value, k in zip(values.tolist(), n.tolist(), strict=True):
                counts[value] = counts.get(value, 0) + k
    starts: list[int] = []
    held = 0
    for cell in sorted(counts):
        if not starts or (held and held + counts[cell] > rows):
            starts.append(cell)
            held = 0
        held += counts[cell]
    return _Ranges(feature, width, np.asarray(starts or [0], dtype=np.int64))


def _spill_ranges(
    source: NearRows,
    names: list[str],
    scale: tuple[NDArray[np.float64], NDArray[np.float64]],
    ranges: _Ranges,
    *,
    halo: bool,
    codes: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None,
    missing: int = -1,
) -> tuple[Spill, NDArray[np.int64]]:
    """``source``'s finite rows put in their range (and, with ``halo``, in the ranges on
    either side of their cell): a spill of (rows, z, ids, own, codes) per range, and the
    rows with a missing value (not finite), ascending. ``codes`` are (rows, codes) of the
    rows with an exact duplicate in the other set (sorted by row): the others get
    ``missing``."""
    spill = Spill(len(ranges.starts), secret=source._secret)
    skipped: list[NDArray[np.int64]] = []
    try:
        for rows, z, ids in source.chunks(names, *scale):
            finite = np.isfinite(z).all(axis=1)
            if not finite.all():
                skipped.append(rows[~finite])
                rows, z, ids = rows[finite], z[finite], ids[finite]
            row_codes = np.full(len(rows), missing, dtype=np.int64)
            if codes is not None and len(codes[0]):
                at = np.minimum(np.searchsorted(codes[0], rows), len(codes[0]) - 1)
                found = codes[0][at] == rows
                row_codes[found] = codes[1][at[found]]
            cells = _cells(z[:, ranges.feature], ranges.width)
            own = ranges.of(cells)
            targets = [(own, np.ones(len(rows), dtype=bool))]
            if halo:
                below, above = ranges.of(cells - 1), ranges.of(cells + 1)
                targets.append((below, below != own))
                targets.append((above, (above != own) & (above != below)))
            for part, keep in targets:
                if not keep.any():
                    continue
                pick = np.flatnonzero(keep)
                spill.spill_parts(
                    part[pick],
                    rows=rows[pick],
                    z=z[pick],
                    ids=ids[pick],
                    own=part[pick] == own[pick],
                    codes=row_codes[pick],
                )
    except BaseException:
        spill.close()
        raise
    gone = np.concatenate(skipped) if skipped else np.zeros(0, dtype=np.int64)
    return spill, gone


def _ordered(part: dict[str, NDArray[Any]]) -> dict[str, NDArray[Any]]:
    """A range's rows in file order (its files come chunk by chunk, own rows and halo
    rows each ascending)."""
    order = np.argsort(part["rows"], kind="stable")
    return {name: values[order] for name, values in part.items()}


@dataclass(frozen=True)
class EarlierNear:
    """The duplicates rule's near search: samples with an earlier sample within the
    distance that are not exact duplicates (how many, and the first ``limit`` in file
    order: row, id, the earliest such sample's id), the samples with a missing value
    (not compared), and those of them that are not exact duplicates either."""

    count: int
    first: list[tuple[int, str, str]]
    skipped: int
    unchecked: int


def earlier_near_spilled(
    source: NearRows,
    names: list[str],
    radius: float,
    *,
    exact: RowBits | None,
    limit: int,
    rows: int,
) -> EarlierNear:
    """:func:`~amlas.checks._duplicates.earlier_near` over a dataset given in chunks,
    scaled by its own mean and standard deviation; ``exact`` marks the samples that
    duplicate an earlier one exactly (they count there, not here)."""
    scale = source.scale(names)
    ranges = _ranges([(source, scale)], names, radius, rows)
    spill, skipped = _spill_ranges(source, names, scale, ranges, halo=True)
    count = 0
    first: list[tuple[int, str, str]] = []
    try:
        for index in range(spill.partitions):
            found = spill.part(index)
            if found is None:
                continue
            part = _ordered(found)
            near = earlier_near(part["z"], radius)
            hit = np.flatnonzero(part["own"] & (near >= 0))
            if exact is not None and len(hit):
                hit = hit[~exact.get(part["rows"][hit])]
            count += len(hit)
            ids = part["ids"]
            first.extend(
                (int(part["rows"][i]), str(ids[i]), str(ids[near[i]])) for i in hit[:limit].tolist()
            )
    finally:
        spill.close()
    first.sort()
    unchecked = len(skipped) - (int(exact.get(skipped).sum()) if exact is not None else 0)
    return EarlierNear(count, first[:limit], len(skipped), unchecked)


@dataclass(frozen=True)
class CrossNear:
    """The independence near search: pairs (sample of the first set, sample of the
    second) within the distance that are not exact duplicates, the samples of each set in
    such a pair, the first ``limit`` pairs of ids (in the first set's order, then the
    second's), and the samples with a missing value in both sets."""

    pairs: int
    samples_a: int
    samples_b: int
    first: list[list[str]]
    skipped: int


def cross_near_spilled(
    a: NearRows,
    b: NearRows,
    names: list[str],
    radius: float,
    *,
    codes: tuple[tuple[NDArray[np.int64], NDArray[np.int64]], ...] | None,
    limit: int,
    rows: int,
) -> CrossNear:
    """:func:`~amlas.checks._duplicates.near_pairs` of two datasets given in chunks,
    both scaled by the first's mean and standard deviation. ``codes`` are, for each set,
    (rows, group) of its samples with an exact duplicate in the other (equal groups are
    equal content: those pairs are counted as exact duplicates, not here); None when the
    content was not compared (identical samples then count as near)."""
    scale = a.scale(names)
    ranges = _ranges([(a, scale), (b, scale)], names, radius, rows)
    codes_a, codes_b = (None, None) if codes is None else codes
    left, skipped_a = _spill_ranges(a, names, scale, ranges, halo=False, codes=codes_a)
    try:
        right, skipped_b = _spill_ranges(
            b, names, scale, ranges, halo=True, codes=codes_b, missing=-2
        )
    except BaseException:
        left.close()
        raise
    pairs = samples_a = 0
    paired_b = RowBits(b.samples)
    first: list[tuple[int, int, str, str]] = []
    try:
        for index in range(left.partitions):
            found_a, found_b = left.part(index), right.part(index)
            if found_a is None or found_b is None:
                continue
            pa, pb = _ordered(found_a), _ordered(found_b)
            near = near_pairs(
                pa["z"],
                pb["z"],
                radius,
                codes_a=pa["codes"] if codes is not None else None,
                codes_b=pb["codes"] if codes is not None else None,
                limit=limit,
            )
            pairs += near.pairs
            samples_a += int(near.involved_a.sum())
            paired_b.set(pb["rows"][near.involved_b])
            first.extend(
                (int(pa["rows"][i]), int(pb["rows"][j]), str(pa["ids"][i]), str(pb["ids"][j]))
                for i, j in near.examples
            )
    finally:
        left.close()
        right.close()
    first.sort()
    named = [[x, y] for _, _, x, y in first[:limit]]
    return CrossNear(pairs, samples_a, paired_b.count(), named, len(skipped_a) + len(skipped_b))
