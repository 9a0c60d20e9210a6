"""Exact checks over a whole dataset read in chunks, in memory bounded by a partition:
values hashed into partitions spilled to disk, each partition then checked exactly.

:class:`RepeatedValues` finds the values of a column that occur more than once (sample
ids that repeat) over chunks that never sit in memory together. Each chunk's values are
given a 64-bit FNV-1a hash (vectorised over the characters, independent of the width the
other values of the chunk give the array), and put with their row numbers in the
partition the hash picks. Each partition is held in memory until what all partitions
hold passes ``buffer`` bytes, then every partition is written as one file (``.npy``
records one after the other) to a temporary folder (a file per partition and spill,
not per chunk: a file per chunk and partition made reading in small chunks pay for
thousands of files). Equal values always share a partition and a hash, so each
partition alone gives exactly the repeats in it: its values whose hash no other value
shares are distinct, and the rest are compared value by value (``np.unique``). The hash
only spreads and narrows the work; it never decides. Memory is one partition (about the
dataset over :data:`PARTITIONS`) at the end, and while reading one chunk and at most
``buffer`` bytes (the default, 0, writes every chunk at once).

With ``secret=True`` (the ids of sealed data) each partition file is encrypted with
AES-256-GCM under a random key held only by the object, so the values never reach the
disk in clear, even when the process is killed before the folder is removed.

Why not a library: the one that does this (a Dask or DuckDB group-by) is heavier than the
check; sorting each chunk and merging the runs would need a Python-level k-way merge.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from numpy.typing import NDArray

__all__ = ["PARTITIONS", "Repeat", "RepeatedValues", "fnv1a_text"]

PARTITIONS = 64
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def fnv1a_text(values: NDArray[np.str_]) -> NDArray[np.uint64]:
    """A 64-bit FNV-1a hash of each string, over its UTF-32 code points: equal strings,
    equal hashes, whatever the array's width (padding is not hashed)."""
    values = np.ascontiguousarray(values, dtype=np.str_)
    n = len(values)
    width = values.dtype.itemsize // 4
    out = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    if n == 0 or width == 0:
        return out
    units = values.view(np.uint32).reshape(n, width)
    lengths = np.char.str_len(values)
    with np.errstate(over="ignore"):
        for j in range(width):
            live = lengths > j
            mixed = (out ^ units[:, j].astype(np.uint64)) * _FNV_PRIME
            out = np.where(live, mixed, out)
    return out


@dataclass(frozen=True)
class Repeat:
    """A value that occurs more than once: how often, and the first row holding it."""

    value: str
    count: int
    first_row: int


class RepeatedValues:
    """Values that repeat over a dataset given in chunks (see the module docs). Use as a
    context manager: the spilled partitions are removed on exit."""

    def __init__(
        self, partitions: int = PARTITIONS, *, secret: bool = False, buffer: int = 0
    ) -> None:
        self._partitions = partitions
        self._folder = Path(tempfile.mkdtemp(prefix="amlas-repeats-"))
        self._spills = 0
        self._buffer = buffer
        self._held: list[list[tuple[NDArray[Any], ...]]] = [[] for _ in range(partitions)]
        self._held_bytes = 0
        # values of sealed data never reach the disk in clear: each partition file is
        # encrypted under a key that lives in this object only (lost with the process)
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256)) if secret else None

    def _write(self, path: Path, **arrays: NDArray[Any]) -> None:
        # the arrays as .npy records one after the other, each after its name: an .npz
        # (a zip) computed a CRC-32 of every array written and read (zipfile's reads
        # were 1.65 s of the 5.75 s stage 3 spent reading spills back at 400k rows)
        buffer = io.BytesIO()
        for name, values in arrays.items():
            encoded = name.encode()
            buffer.write(len(encoded).to_bytes(2, "little") + encoded)
            np.lib.format.write_array(buffer, np.asarray(values), allow_pickle=False)
        data = buffer.getvalue()
        if self._aead is not None:
            nonce = os.urandom(12)
            data = nonce + self._aead.encrypt(nonce, data, path.name.encode())
        path.write_bytes(data)

    def _read(self, path: Path) -> dict[str, NDArray[Any]]:
        data = path.read_bytes()
        if self._aead is not None:
            data = self._aead.decrypt(data[:12], data[12:], path.name.encode())
        stream = io.BytesIO(data)
        arrays: dict[str, NDArray[Any]] = {}
        while stream.tell() < len(data):
            size = int.from_bytes(stream.read(2), "little")
            name = stream.read(size).decode()
            arrays[name] = np.lib.format.read_array(stream, allow_pickle=False)
        return arrays

    def __enter__(self) -> RepeatedValues:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)

    def add(self, values: NDArray[np.str_], first_row: int) -> None:
        """The next chunk's values; ``first_row`` is the dataset row of its first."""
        values = np.asarray(values, dtype=np.str_)
        hashes = fnv1a_text(values)
        part = (hashes % np.uint64(self._partitions)).astype(np.int64)
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(self._partitions + 1))
        rows = np.arange(first_row, first_row + len(values), dtype=np.int64)[order]
        hashes, values = hashes[order], values[order]
        for index in range(self._partitions):
            start, end = bounds[index], bounds[index + 1]
            if end > start:
                self._held[index].append((hashes[start:end], values[start:end], rows[start:end]))
        self._held_bytes += hashes.nbytes + values.nbytes + rows.nbytes
        if self._held_bytes > self._buffer:
            self._spill()

    def _spill(self) -> None:
        """Write what each partition holds as one file, and hold nothing."""
        for index, held in enumerate(self._held):
            if held:
                hashes, values, rows = self._joined(held)
                self._write(
                    self._folder / f"{index:04d}-{self._spills:08d}.spill",
                    hashes=hashes,
                    values=values,
                    rows=rows,
                )
                held.clear()
        self._held_bytes = 0
        self._spills += 1

    @staticmethod
    def _joined(held: list[tuple[NDArray[Any], ...]]) -> tuple[NDArray[Any], ...]:
        if len(held) == 1:
            return held[0]
        return tuple(np.concatenate(parts) for parts in zip(*held, strict=True))

    def repeats(self) -> list[Repeat]:
        """Every value held by more than one row, in order of its first row."""
        found: list[Repeat] = []
        for index in range(self._partitions):
            files = sorted(self._folder.glob(f"{index:04d}-*.spill"))
            if not files and not self._held[index]:
                continue
            parts: dict[str, list[Any]] = {"hashes": [], "values": [], "rows": []}
            for file in files:
                loaded = self._read(file)
                for name, kept in parts.items():
                    kept.append(loaded[name])
            for held in self._held[index]:  # after the files: in the order they came
                for kept, part in zip(parts.values(), held, strict=True):
                    kept.append(part)
            hashes = np.concatenate(parts["hashes"])
            # only values whose hash another value shares can repeat: the rest are
            # distinct without comparing them
            order = np.argsort(hashes, kind="stable")
            sorted_hashes = hashes[order]
            shared = np.zeros(len(order), dtype=bool)
            if len(order) > 1:
                same = sorted_hashes[1:] == sorted_hashes[:-1]
                shared[1:] |= same
                shared[:-1] |= same
            if not shared.any():
                continue
            candidates = order[shared]
            values = np.concatenate(parts["values"])[candidates]
            at = np.concatenate(parts["rows"])[candidates]
            distinct, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
            first = np.full(len(distinct), np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(first, inverse, at)
            for k in np.flatnonzero(counts > 1):
                found.append(Repeat(str(distinct[k]), int(counts[k]), int(first[k])))
        found.sort(key=lambda r: r.first_row)
        return found
