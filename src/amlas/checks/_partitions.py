"""Exact comparisons over whole datasets read in chunks (stage 3): rows spilled to hash
partitions on disk, each partition then compared exactly, so memory holds one chunk while
reading and one partition while comparing.

:class:`Spill` extends :class:`~amlas.checks.RepeatedValues` (the same files, encrypted
for sealed data) with rows of any columns under a 64-bit hash the caller gives. The
comparisons the independence of two datasets and the duplicates rule make over the whole
of them are made here, partition by partition, with the answers of the whole read:

- :func:`shared_values`: the values (ids, groups) two datasets share, partitioned by
  their FNV-1a hash (equal values share a partition), intersected exactly;
- :func:`earlier_exact_spilled` and :func:`cross_exact_spilled`: samples of equal
  content, partitioned by :func:`row_hashes` of their canonical bytes (what the
  per-sample SHA-256 covers) and grouped by comparing those bytes, so a hash collision
  never makes a duplicate. Every count is a sum over partitions; the listed examples are
  the first in file order of all partitions' first, which are among them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters import RepeatedValues
from amlas.checks._duplicates import _row_keys, _words

__all__ = [
    "CrossExact",
    "Spill",
    "byte_codes",
    "cross_exact_spilled",
    "earlier_exact_spilled",
    "row_hashes",
    "shared_values",
]


class Spill(RepeatedValues):
    """Rows of a dataset given in chunks, spilled to partitions by a hash (see the module
    docs); :meth:`RepeatedValues.add` spills text values by their FNV-1a hash."""

    def spill(self, hashes: NDArray[np.uint64], **columns: NDArray[Any]) -> None:
        """The next chunk's rows: one hash each, and columns of one entry per row (a
        column named ``data`` holds the rows' bytes one after the other, ``lengths``
        their lengths: they are cut by row)."""
        part = (hashes % np.uint64(self._partitions)).astype(np.int64)
        self.spill_parts(part, hashes=hashes, **columns)

    def spill_parts(self, part: NDArray[np.int64], **columns: NDArray[Any]) -> None:
        """The next chunk's rows, each put in the partition ``part`` gives it (columns as
        :meth:`spill`'s, the hashes among them)."""
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(self._partitions + 1))
        data = columns.pop("data", None)
        lengths = columns.get("lengths")
        starts = None
        if data is not None and lengths is not None:
            starts = np.concatenate([[0], np.cumsum(lengths)])[:-1]
        ordered = {name: values[order] for name, values in columns.items()}
        for index in range(self._partitions):
            start, end = bounds[index], bounds[index + 1]
            if end <= start:
                continue
            arrays = {name: values[start:end] for name, values in ordered.items()}
            if data is not None and starts is not None and lengths is not None:
                rows = order[start:end]
                arrays["data"] = _gather(data, starts[rows], lengths[rows])
            self._write(self._folder / f"{index:04d}-{self._spills:08d}.spill", **arrays)
        self._spills += 1

    @property
    def partitions(self) -> int:
        return self._partitions

    def part(self, index: int) -> dict[str, NDArray[Any]] | None:
        """Partition ``index``: every chunk's rows in it, in chunk order (None if empty)."""
        files = sorted(self._folder.glob(f"{index:04d}-*.spill"))
        if not files:
            return None
        parts: dict[str, list[NDArray[Any]]] = {}
        for file in files:
            for name, values in self._read(file).items():
                parts.setdefault(name, []).append(values)
        return {name: np.concatenate(values) for name, values in parts.items()}


def _gather(
    data: NDArray[np.uint8], starts: NDArray[np.int64], lengths: NDArray[np.int64]
) -> NDArray[np.uint8]:
    """The bytes of the rows that start at ``starts``, one after the other."""
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.uint8)
    width = int(lengths[0])
    if (lengths == width).all() and len(data) % width == 0 and not (starts % width).any():
        # rows of one width (numbers only): whole rows taken, no index per byte
        return data.reshape(-1, width)[starts // width].reshape(-1)
    ends = np.cumsum(lengths)
    index = np.arange(total, dtype=np.int64) - np.repeat(ends - lengths, lengths)
    index += np.repeat(starts, lengths)
    gathered: NDArray[np.uint8] = data[index]
    return gathered


def _by_length(lengths: NDArray[np.int64]) -> list[tuple[int, NDArray[np.intp]]]:
    """The rows of each length, each group ascending."""
    return [(int(n), np.flatnonzero(lengths == n)) for n in np.unique(lengths)]


def _matrix(
    data: NDArray[np.uint8], starts: NDArray[np.int64], rows: NDArray[np.intp], width: int
) -> NDArray[np.uint8]:
    """The rows ``rows`` (all of ``width`` bytes) as a matrix, a column at a time (an
    index per byte would take eight times the bytes)."""
    at = starts[rows]
    if len(data) == len(starts) * width and np.array_equal(at, rows * width):
        return data.reshape(-1, width)[rows]
    block = np.empty((len(rows), width), dtype=np.uint8)
    for j in range(width):
        block[:, j] = data[at + j]
    return block


def row_hashes(data: NDArray[np.uint8], lengths: NDArray[np.int64]) -> NDArray[np.uint64]:
    """A 64-bit hash of each row's bytes (rows one after the other in ``data``): equal
    bytes, equal hash, whatever chunk or dataset they come from (unequal bytes may share
    one: callers compare the bytes)."""
    starts = np.concatenate([[0], np.cumsum(lengths)])[:-1].astype(np.int64)
    out = np.empty(len(lengths), dtype=np.uint64)
    for width, rows in _by_length(lengths):
        if width:
            keys = _row_keys(_words(_matrix(data, starts, rows, width)))
        else:
            keys = np.zeros(len(rows), dtype=np.uint64)
        with np.errstate(over="ignore"):
            out[rows] = keys ^ (np.uint64(width) * np.uint64(0x9E3779B97F4A7C15))
    return out


def byte_codes(data: NDArray[np.uint8], lengths: NDArray[np.int64]) -> NDArray[np.int64]:
    """One code per row, equal exactly when the rows' bytes are equal (the bytes
    themselves compared, as a sort of fixed-width byte strings per length)."""
    starts = np.concatenate([[0], np.cumsum(lengths)])[:-1].astype(np.int64)
    codes = np.empty(len(lengths), dtype=np.int64)
    base = 0
    for width, rows in _by_length(lengths):
        if not width:
            codes[rows] = base
            base += 1
            continue
        block = np.ascontiguousarray(_matrix(data, starts, rows, width))
        _, inverse = np.unique(block.view(f"V{width}").ravel(), return_inverse=True)
        inverse = inverse.reshape(-1)
        codes[rows] = base + inverse
        base += int(inverse.max()) + 1
    return codes


def _select(part: dict[str, NDArray[Any]], keep: NDArray[np.intp]) -> dict[str, NDArray[Any]]:
    """The rows ``keep`` of a partition (its bytes cut accordingly)."""
    lengths = part["lengths"]
    starts = np.concatenate([[0], np.cumsum(lengths)])[:-1].astype(np.int64)
    out = {n: v[keep] for n, v in part.items() if n != "data"}
    out["data"] = _gather(part["data"], starts[keep], lengths[keep])
    return out


def _shared_hash(hashes: NDArray[np.uint64]) -> NDArray[np.intp]:
    """The rows whose hash another row shares (only they can be equal), ascending."""
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    shared = np.zeros(len(order), dtype=bool)
    if len(order) > 1:
        same = ordered[1:] == ordered[:-1]
        shared[1:] |= same
        shared[:-1] |= same
    return np.sort(order[shared])


def shared_values(a: Spill, b: Spill, limit: int) -> tuple[int, list[str]]:
    """How many distinct values two spills of text values share, and the first ``limit``
    of them in sorted order (Python's order of strings, as the whole read sorts them)."""
    count = 0
    listed: list[str] = []
    for index in range(a.partitions):
        left, right = a.part(index), b.part(index)
        if left is None or right is None:
            continue
        common = np.intersect1d(left["values"], right["values"])
        count += len(common)
        listed.extend(common[:limit].tolist())
    return count, sorted(listed)[:limit]


@dataclass(frozen=True)
class Earlier:
    """Samples that duplicate an earlier sample exactly: how many, and the first
    ``limit`` in file order (row, id, the earliest equal sample's id)."""

    count: int
    first: list[tuple[int, str, str]]


def earlier_exact_spilled(
    content: Spill, limit: int, marks: Callable[[NDArray[np.int64]], None] | None = None
) -> Earlier:
    """:func:`~amlas.checks._duplicates.earlier_exact` over a dataset's spilled content:
    a sample duplicates the first sample of equal bytes when it comes after it.
    ``marks`` is given the rows of every such sample (partition by partition)."""
    count = 0
    first: list[tuple[int, str, str]] = []
    for index in range(content.partitions):
        part = content.part(index)
        if part is None:
            continue
        candidates = _shared_hash(part["hashes"])
        if not len(candidates):
            continue
        part = _select(part, candidates)
        codes = byte_codes(part["data"], part["lengths"])
        rows = part["rows"]
        earliest = np.full(int(codes.max()) + 1, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(earliest, codes, rows)
        position = np.full(len(earliest), -1, dtype=np.int64)
        at_first = np.flatnonzero(rows == earliest[codes])
        position[codes[at_first]] = at_first
        later = np.flatnonzero(rows > earliest[codes])
        count += len(later)
        if marks is not None and len(later):
            marks(rows[later])
        later = later[np.argsort(rows[later], kind="stable")][:limit]
        ids = part["ids"]
        first.extend(
            (int(rows[i]), str(ids[i]), str(ids[position[codes[i]]])) for i in later.tolist()
        )
    first.sort()
    return Earlier(count, first[:limit])


@dataclass(frozen=True)
class CrossExact:
    """Exact duplicates across two datasets: pairs of equal content, the samples of each
    set with an equal one in the other, and the first ``limit`` pairs of ids in the first
    set's order, then the second's."""

    pairs: int
    samples_a: int
    samples_b: int
    first: list[list[str]]
    groups: tuple[tuple[NDArray[np.int64], NDArray[np.int64]], ...]
    """For each set, (rows, group) of its samples with an equal one in the other, sorted
    by row: equal groups, equal content (the near search leaves those pairs out)."""


def cross_exact_spilled(a: Spill, b: Spill, limit: int) -> CrossExact:
    """:func:`~amlas.checks._duplicates.hash_groups` of two datasets' spilled content."""
    pairs = samples_a = samples_b = 0
    first: list[tuple[int, int, str, str]] = []
    grouped_rows: tuple[list[NDArray[np.int64]], ...] = ([], [])
    grouped_codes: tuple[list[NDArray[np.int64]], ...] = ([], [])
    for index in range(a.partitions):
        left, right = a.part(index), b.part(index)
        if left is None or right is None:
            continue
        in_left = np.flatnonzero(np.isin(left["hashes"], right["hashes"]))
        in_right = np.flatnonzero(np.isin(right["hashes"], left["hashes"]))
        if not len(in_left):
            continue
        left, right = _select(left, in_left), _select(right, in_right)
        n_left = len(left["rows"])
        codes = byte_codes(
            np.concatenate([left["data"], right["data"]]),
            np.concatenate([left["lengths"], right["lengths"]]),
        )
        codes_a, codes_b = codes[:n_left], codes[n_left:]
        size = int(codes.max()) + 1
        k = np.bincount(codes_a, minlength=size).astype(np.int64)
        j = np.bincount(codes_b, minlength=size).astype(np.int64)
        pairs += int(np.dot(k, j))
        samples_a += int((j[codes_a] > 0).sum())
        samples_b += int((k[codes_b] > 0).sum())
        # groups numbered apart across partitions: partition, then the code within it
        for side, rows, codes, other in (
            (0, left["rows"], codes_a, j),
            (1, right["rows"], codes_b, k),
        ):
            both = other[codes] > 0
            grouped_rows[side].append(rows[both])
            grouped_codes[side].append((np.int64(index) << np.int64(32)) + codes[both])
        # this partition's first pairs: its rows of a in file order, each with its equal
        # rows of b in file order
        order_b = np.lexsort((right["rows"], codes_b))
        bounds = np.searchsorted(codes_b[order_b], np.arange(size + 1))
        taken = 0
        for i in np.argsort(left["rows"], kind="stable").tolist():
            code = codes_a[i]
            members = order_b[bounds[code] : bounds[code + 1]][: limit - taken]
            for m in members.tolist():
                first.append(
                    (
                        int(left["rows"][i]),
                        int(right["rows"][m]),
                        str(left["ids"][i]),
                        str(right["ids"][m]),
                    )
                )
            taken += len(members)
            if taken >= limit:
                break
    first.sort()
    named = [[x, y] for _, _, x, y in first[:limit]]
    groups = []
    for rows_list, codes_list in zip(grouped_rows, grouped_codes, strict=True):
        rows = np.concatenate(rows_list) if rows_list else np.zeros(0, dtype=np.int64)
        codes = np.concatenate(codes_list) if codes_list else np.zeros(0, dtype=np.int64)
        order = np.argsort(rows, kind="stable")
        groups.append((rows[order].astype(np.int64), codes[order].astype(np.int64)))
    return CrossExact(pairs, samples_a, samples_b, named, tuple(groups))
