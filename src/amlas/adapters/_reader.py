"""The dataset reader plug-in (entry-point group ``amlas.readers``) and its options."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol, runtime_checkable

from amlas.adapters._table import Table
from amlas.errors import ProblemError

__all__ = [
    "ChunkTypeError",
    "ChunkedReader",
    "DatasetError",
    "DatasetReader",
    "ReaderOptions",
]


class DatasetError(ProblemError):
    """A dataset cannot be read: missing, malformed, or not in the shape expected."""

    code = "R010"


class ChunkTypeError(DatasetError):
    """The file cannot be given in chunks as a whole read gives it: a chunk holds values
    the column types fixed by the first chunk cannot take (a CSV column of whole numbers
    that later holds a decimal or a word; read whole, each column gets the type that fits
    all its values), or the file is not laid out sample by sample (an NPZ array in
    Fortran order). The caller reads it whole."""


@dataclass(frozen=True)
class ReaderOptions:
    """What a dataset artefact says about reading its file, beyond the path.

    ``metadata_table`` and ``image_column`` apply to image folders (the table of one row
    per image, and its column naming each image file).
    """

    metadata_table: Path | None = None
    image_column: str = "file"


@runtime_checkable
class DatasetReader(Protocol):
    """What an ``amlas.readers`` entry point names: one dataset format (``format:`` of
    [N], [O], [P]).

    ``read`` returns a :class:`Table` whose ``sha256`` is the file's SHA-256 (of the
    folder's tree for a folder format, of ``data`` when given), or raises
    :class:`DatasetError` naming the file, the row where known, the value found and what
    was expected. With ``data`` the content comes from those bytes (decrypted sealed
    data, never written to disk) and ``path`` only names the source. ``suffixes`` are the
    file suffixes this format reads (``(".csv",)``; empty for a folder format), used to
    pick a reader for a file by its name; ``distributions`` are the packages whose
    versions a record on such data cites.
    """

    name: str
    suffixes: tuple[str, ...]
    distributions: tuple[str, ...]

    def read(self, path: Path, options: ReaderOptions, data: bytes | None = None) -> Table: ...


@runtime_checkable
class ChunkedReader(DatasetReader, Protocol):
    """A reader that can also give its dataset in pieces (optional): ``iter_read`` yields
    :class:`Table` s of ``rows`` rows each (the last may be shorter), in file order, from
    the file at ``path`` or from ``handle`` (a seekable binary file: decrypted sealed data
    read chunk by chunk), each with ``sha256`` (the whole file's, which the caller knows).
    A format without it is read whole (``amlas run`` then holds the dataset in memory)."""

    def iter_read(
        self,
        path: Path,
        options: ReaderOptions,
        *,
        rows: int,
        sha256: str,
        handle: IO[bytes] | io.RawIOBase | None = None,
    ) -> Iterator[Table]: ...
