"""The in-memory form of one dataset: named columns plus per-sample arrays."""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.errors import ProblemError

__all__ = ["ColumnError", "SampleContent", "Table", "arrow_text"]


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
        return values.astype(np.str_, copy=False)  # text already: no copy of a million ids

    @staticmethod
    def _floats_as_text(values: NDArray[Any]) -> NDArray[np.str_]:
        """1.0 -> "1", so integer-coded labels read as the class names written in YAML;
        2.5 -> "2.5". Value by value: a value's text never depends on the others (it
        did: one 2.5 made every 1.0 of the column "1.0"), so a chunk of a file gives its
        samples the text a whole read gives them, and an id repeated in two chunks is
        the same text in both."""
        with np.errstate(invalid="ignore"):
            whole = (np.trunc(values) == values) & (np.abs(values) < 2.0**63)
        if whole.all():
            return values.astype(np.int64).astype(np.str_)
        out = values.astype(np.str_)
        out[whole] = values[whole].astype(np.int64).astype(np.str_)
        return out

    def sample_content(self, names: list[str] | None = None) -> SampleContent:
        """The canonical bytes of every sample over the named columns (all when None) and
        every per-sample array, the content :meth:`sample_hashes` hashes, split in a
        fixed-width part and the text columns (see :class:`SampleContent`)."""
        selected = self.names if names is None else names
        numbers: list[NDArray[np.generic]] = []
        texts: list[NDArray[np.str_]] = []
        for name in selected:
            values = self.column(name)
            if values.dtype.kind in "biuf":
                numbers.append(values)
            elif values.dtype.kind == "U":
                texts.append(values.astype(np.str_, copy=False))
            else:
                texts.append(np.array([str(v) for v in values], dtype=np.str_))
        parts: list[NDArray[np.uint8]] = []
        if numbers:
            # + 0.0 turns -0.0 into 0.0: equal numbers, equal bytes
            matrix = np.ascontiguousarray(np.stack(numbers).astype("<f8", copy=False).T)
            matrix += 0.0
            parts.append(matrix.view(np.uint8).reshape(len(self), 8 * len(numbers)))
        for name in sorted(self.arrays):
            block = np.ascontiguousarray(self.arrays[name])
            parts.append(block.reshape(len(self), -1).view(np.uint8))
        if len(parts) == 1:
            fixed = parts[0]
        elif parts:
            fixed = np.concatenate(parts, axis=1)
        else:
            fixed = np.zeros((len(self), 0), np.uint8)
        return SampleContent(np.ascontiguousarray(fixed), tuple(texts))

    def sample_digests(self, names: list[str] | None = None) -> bytes:
        """The 32-byte SHA-256 digest of every sample (see :meth:`sample_hashes`),
        concatenated in row order."""
        return self.sample_content(names).digests()

    def sample_hashes(self, names: list[str] | None = None) -> NDArray[np.str_]:
        """SHA-256 per sample over the named columns and every per-sample array.

        The digest covers each value's canonical bytes (float64 for numbers, with -0.0 as
        0.0; length-prefixed UTF-8 for text): numbers in the order given, then arrays, then
        text. Two rows with equal content hash equal across files, formats and datasets,
        whatever the other rows hold; identical samples in two datasets are found by equal
        hashes (R9).
        """
        digests = self.sample_digests(names)
        hexes = np.frombuffer(binascii.hexlify(digests), dtype="S64")
        return hexes.astype(np.str_)


def arrow_text(values: NDArray[np.str_]) -> Any:
    """``values`` as a pyarrow ``large_string`` array, value for value (pyarrow's own
    conversion of a numpy text array cuts a value at an embedded NUL character)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(values, pa.large_string())
    if len(values) and not np.array_equal(
        np.asarray(pc.utf8_length(text), dtype=np.int64), np.char.str_len(values)
    ):
        text = pa.array(values.tolist(), pa.large_string())
    return text


@dataclass(frozen=True)
class SampleContent:
    """The canonical bytes of every sample over some columns, as hashed by
    :meth:`Table.sample_hashes`: ``fixed`` (numbers as little-endian float64, -0.0 as 0.0,
    then the per-sample arrays' bytes) followed by each text column in ``texts``, every
    value as its UTF-8 length (8 bytes, little-endian) and its UTF-8 bytes.

    The parts exist so that samples can be compared without building the bytes: two
    samples of contents with equal :attr:`layout` have equal canonical bytes exactly when
    their ``fixed`` rows are equal and their texts are equal, column by column (the
    lengths make the text part parse one way only)."""

    fixed: NDArray[np.uint8]
    """``(n, width)`` bytes, C-contiguous."""
    texts: tuple[NDArray[np.str_], ...]

    def __len__(self) -> int:
        return len(self.fixed)

    @property
    def layout(self) -> tuple[int, int]:
        """(bytes of the fixed part, number of text columns)."""
        return self.fixed.shape[1], len(self.texts)

    def row_bytes(self) -> tuple[Any, NDArray[np.int64]]:
        """Every sample's canonical bytes, one after the other, and the ``n + 1`` offsets
        of the samples in that buffer."""
        n, width = self.fixed.shape
        if not self.texts:
            flat = memoryview(self.fixed.reshape(-1).data) if n * width else memoryview(b"")
            return flat, np.arange(n + 1, dtype=np.int64) * width
        import pyarrow as pa
        import pyarrow.compute as pc

        pieces: list[Any] = [
            pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(width), n, [None, pa.py_buffer(self.fixed)]
            ).cast(pa.large_binary())
            if width
            else pa.array([b""] * n, pa.large_binary())
        ]
        for text in self.texts:
            utf8 = arrow_text(text).cast(pa.large_binary())
            lengths = np.ascontiguousarray(np.asarray(pc.binary_length(utf8), dtype="<i8")).view(
                np.uint8
            )
            pieces.append(
                pa.FixedSizeBinaryArray.from_buffers(
                    pa.binary(8), n, [None, pa.py_buffer(lengths)]
                ).cast(pa.large_binary())
            )
            pieces.append(utf8)
        joined = pc.binary_join_element_wise(*pieces, pa.scalar(b"", pa.large_binary()))
        offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)[
            joined.offset : joined.offset + n + 1
        ]
        data = joined.buffers()[2]
        return memoryview(data if data is not None else b"").cast("B"), offsets

    def digests(self) -> bytes:
        """The SHA-256 digest of every sample's canonical bytes, concatenated."""
        data, offsets = self.row_bytes()
        sha = hashlib.sha256
        if not self.texts:  # one width: no offsets to read
            width = self.fixed.shape[1]
            if not width:
                return sha(b"").digest() * len(self)
            return b"".join([sha(data[i : i + width]).digest() for i in range(0, len(data), width)])
        bounds = offsets.tolist()
        return b"".join([sha(data[start:stop]).digest() for start, stop in pairwise(bounds)])
