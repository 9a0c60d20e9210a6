"""The in-memory form of one dataset: named columns plus per-sample arrays."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.errors import ProblemError

__all__ = ["ColumnError", "Table"]


class ColumnError(ProblemError):
    """A column a check needs is missing from a dataset, or holds values it cannot use."""

    code = "R011"


@dataclass(frozen=True)
class Table:
    """One dataset in memory.

    ``columns`` maps column names to 1-D arrays of equal length (numbers as float64 or
    int64, text as numpy ``str_``); ``arrays`` maps names to per-sample N-D arrays whose
    first axis is the sample (e.g. ``"image"`` of shape ``(n, h, w, c)`` for image
    folders). ``sha256`` identifies the bytes the table was read from (a file hash, or
    :func:`amlas.hashing.sha256_tree` for a folder); ``source`` names them for messages.
    """

    columns: Mapping[str, NDArray[np.generic]]
    sha256: str
    source: str
    arrays: Mapping[str, NDArray[np.generic]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lengths = {name: len(a) for name, a in {**self.columns, **self.arrays}.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"columns of unequal length in {self.source}: {lengths}")

    def __len__(self) -> int:
        for values in (*self.columns.values(), *self.arrays.values()):
            return len(values)
        return 0

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def column(self, name: str) -> NDArray[np.generic]:
        """The column ``name``; a :class:`ColumnError` naming the close matches otherwise."""
        try:
            return self.columns[name]
        except KeyError:
            from amlas.diagnostics import did_you_mean

            hint = did_you_mean(name, self.columns) or f"columns: {', '.join(self.columns)}"
            raise ColumnError(f"{self.source}: no column {name!r}; {hint}") from None

    def numeric(self, names: list[str]) -> NDArray[np.float64]:
        """The named columns as one ``(n, len(names))`` float64 matrix, in that order."""
        # filled row by row (each column contiguous), then transposed in one copy: twice
        # as fast as writing the columns of a row-major matrix one strided column at a time
        block = np.empty((len(names), len(self)), dtype=np.float64)
        for j, name in enumerate(names):
            values = self.column(name)
            if values.dtype.kind not in "biuf":
                raise ColumnError(
                    f"{self.source}: column {name!r} holds {values.dtype} values "
                    f"(e.g. {values[0]!r}); expected numbers"
                )
            block[j] = values
        out: NDArray[np.float64] = np.ascontiguousarray(block.T)
        return out

    def text(self, name: str) -> NDArray[np.str_]:
        """The column ``name`` as strings (labels, ids, categories)."""
        values = self.column(name)
        if values.dtype.kind == "f":
            missing = ~np.isfinite(values)
            if missing.any():  # an empty cell reads as NaN: it is missing, not "nan"
                out = values.astype(np.str_)
                present = ~missing
                out[present] = self._floats_as_text(values[present])
                out[missing] = ""
                return out
            return self._floats_as_text(values)
        if values.dtype.kind == "O":  # text with empty cells: None is missing, not "None"
            return np.array(["" if v is None else str(v) for v in values.tolist()], dtype=np.str_)
        return values.astype(np.str_)

    @staticmethod
    def _floats_as_text(values: NDArray[Any]) -> NDArray[np.str_]:
        """1.0 -> "1", so integer-coded labels read as the class names written in YAML."""
        as_int = values.astype(np.int64)
        if np.array_equal(as_int, values):
            return as_int.astype(np.str_)
        return values.astype(np.str_)

    def sample_hashes(self, names: list[str] | None = None) -> NDArray[np.str_]:
        """SHA-256 per sample over the named columns and every per-sample array.

        The digest covers each value's canonical bytes (float64 for numbers, with -0.0 as
        0.0; length-prefixed UTF-8 for text): numbers in the order given, then text, then
        arrays. Two rows with equal content hash equal across files, formats and datasets,
        whatever the other rows hold; identical samples in two datasets are found by equal
        hashes (R9).
        """
        selected = self.names if names is None else names
        numeric: list[NDArray[np.generic]] = []
        texts: list[list[bytes]] = []
        for name in selected:
            values = self.column(name)
            if values.dtype.kind in "biuf":
                # + 0.0 turns -0.0 into 0.0: equal numbers, equal bytes
                numeric.append(np.ascontiguousarray(values, dtype="<f8") + 0.0)
            else:
                # each value length-prefixed on its own, so a hash never depends on the
                # other rows (no padding to the widest string of the dataset)
                texts.append(
                    [len(b).to_bytes(8, "little") + b for b in (str(v).encode() for v in values)]
                )
        for name in sorted(self.arrays):
            block = np.ascontiguousarray(self.arrays[name])
            numeric.append(block.reshape(len(self), -1).view(np.uint8))
        rows = [np.ascontiguousarray(p).view(np.uint8).reshape(len(self), -1) for p in numeric]
        matrix = np.concatenate(rows, axis=1) if rows else np.zeros((len(self), 0), np.uint8)
        hashes = []
        for i, row in enumerate(matrix):
            digest = hashlib.sha256(row.tobytes())
            for column in texts:
                digest.update(column[i])
            hashes.append(digest.hexdigest())
        return np.array(hashes, dtype=np.str_)
