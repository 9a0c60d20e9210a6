"""Read a dataset file (or its bytes) into a :class:`~amlas.adapters.Table`.

The format names a plug-in of the entry-point group ``amlas.readers``
(:class:`~amlas.adapters.DatasetReader`); ``image_folder`` lives in
:mod:`amlas.adapters._images`. Built in:

Formats and conventions:

``csv``
    A header row, then one row per sample, read with :func:`pyarrow.csv.read_csv`
    (multithreaded, no Python loop over rows). Column types are inferred by pyarrow:
    cells such as ``P-001`` keep their column text.
``parquet``
    Read with :func:`pyarrow.parquet.read_table`.
``npz``
    A NumPy archive read with ``allow_pickle=False``: every 1-D array is one column,
    every N-D array (``ndim >= 2``) one per-sample array in :attr:`Table.arrays` (e.g.
    ``"image"`` of shape ``(n, h, w, c)``). All share the first-axis length.
``image_folder``
    A folder of images plus a metadata table (CSV or Parquet, by suffix) with one row
    per sample. Its column ``image_column`` (default ``file``) gives each image's path
    relative to the folder, in POSIX form (``train/cat/001.png``); paths that leave the
    folder are refused. Every metadata column (the image column included, so messages
    can name files) becomes a column; the images are decoded with Pillow into
    ``arrays["image"]``, ``uint8`` of shape ``(n, h, w, 3)`` (RGB), or ``(n, h, w, 1)``
    when every image is 8-bit grayscale (mode ``L``). All images have one size.

Column values: numbers become float64 (int64 for integer columns without nulls;
booleans become int64 0/1), text becomes numpy ``str_``. A null becomes NaN in a
numeric column and ``""`` in a text column; a column with no values at all is numeric
(all NaN). Dates and times become their ISO text.

Sealed data: with ``data=`` the table is parsed from bytes held in memory (decrypted
content is never written to disk). For ``image_folder`` those bytes are an uncompressed
tar archive of the folder as :func:`pack_folder` writes it, and the metadata table is
the member at ``metadata_table``'s path relative to the folder.

``Table.sha256`` is the file's SHA-256, :func:`amlas.hashing.sha256_tree` for a folder,
or the SHA-256 of ``data``; ``Table.source`` is the path as given. Every failure is a
:class:`DatasetError` naming the file, the line or row where known, the value found
and what was expected.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import posixpath
import tarfile
import threading
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any, Literal

import numpy as np
from numpy.typing import NDArray

from amlas.adapters._reader import (
    ChunkedReader,
    ChunkTypeError,
    DatasetError,
    DatasetReader,
    ReaderOptions,
)
from amlas.adapters._table import Table
from amlas.hashing import sha256_bytes, sha256_file
from amlas.plugins import PluginError, registry

__all__ = [
    "CSV",
    "NPZ",
    "PARQUET",
    "READERS_GROUP",
    "CsvLines",
    "FolderArchive",
    "archive_tree_sha256",
    "chunk_reader",
    "csv_sample_rows",
    "dataset_reader",
    "dataset_readers",
    "file_digest",
    "pack_folder",
    "read_table",
    "reader_for",
]

READERS_GROUP = "amlas.readers"
CSV_BLOCK_SIZE = 32 << 20
"""Bytes per block of a CSV file read in chunks (its column types come from the first)."""


def csv_sample_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(the line it starts on, its cells) of each sample row of a plaintext CSV file, read
    with Python's csv module: below the header (the first line that is not blank), blank
    lines skipped as the table readers skip them, a quoted cell across lines counted."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        for header in reader:
            if header:
                break
        while True:
            start = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                return
            if row:
                yield start, row


@dataclass(frozen=True)
class CsvLines:
    """Where a plaintext CSV file's samples are: ``CsvLines(path)(indices)`` maps each
    0-based sample index to the line its row starts on. The table readers skip blank
    lines and read a quoted cell across lines, so a sample's line is not its index plus
    two after either; this reads the file again (:func:`csv_sample_rows`) up to the last
    index asked for, and is asked only for the few rows a problem quotes. An index it
    cannot place (the file unreadable here, shorter than the index) is left out: the
    caller says which sample it is instead of guessing its line."""

    path: Path

    def __call__(self, indices: list[int]) -> dict[int, int]:
        wanted = set(indices)
        lines: dict[int, int] = {}
        if not wanted:
            return lines
        last = max(wanted)
        try:
            for index, (line, _) in enumerate(csv_sample_rows(self.path)):
                if index in wanted:
                    lines[index] = line
                if index >= last:
                    break
        except (OSError, UnicodeDecodeError, csv.Error):
            pass
        return lines


def dataset_readers() -> tuple[str, ...]:
    """The names of the installed dataset formats (imports none of them)."""
    return registry(READERS_GROUP).names()


def dataset_reader(name: str) -> DatasetReader:
    """The dataset reader registered as ``name``; :class:`DatasetError` otherwise."""
    try:
        found: DatasetReader = registry(READERS_GROUP).get(name)
    except PluginError as error:
        raise DatasetError(str(error)) from error
    return found


def reader_for(path: Path) -> DatasetReader:
    """The reader whose ``suffixes`` include ``path``'s suffix (case-insensitive); two
    readers claiming it is S008 (neither is chosen silently)."""
    suffix = Path(path).suffix.lower()
    readers = registry(READERS_GROUP).load_all()
    claiming = [name for name, reader in sorted(readers.items()) if suffix in reader.suffixes]
    if len(claiming) > 1:
        raise DatasetError(
            f"{path}: the dataset readers {', '.join(map(repr, claiming))} all read "
            f"{suffix!r} files; name the format in the dataset artefact, or uninstall one",
            code="S008",
        )
    if claiming:
        found: DatasetReader = readers[claiming[0]]
        return found
    known = sorted({s for r in readers.values() for s in r.suffixes})
    raise DatasetError(
        f"{path}: no dataset reader for suffix {suffix!r}; expected one of {', '.join(known)}"
    )


def read_table(
    path: Path,
    format: str,
    *,
    metadata_table: Path | None = None,
    image_column: str = "file",
    data: bytes | None = None,
) -> Table:
    """Read the dataset at ``path`` (a file, or a folder for ``image_folder``) with the
    reader registered as ``format``.

    ``metadata_table`` and ``image_column`` apply to ``image_folder`` only. With
    ``data``, the content is taken from these bytes instead of ``path`` (which then only
    names the source in messages). Raises :class:`DatasetError` on any failure.
    """
    reader = dataset_reader(format)
    options = ReaderOptions(metadata_table=metadata_table, image_column=image_column)
    return reader.read(Path(path), options, data)


def chunk_reader(format: str) -> ChunkedReader | None:
    """The reader of ``format`` when it can give its dataset in pieces, else None."""
    reader = dataset_reader(format)
    return reader if isinstance(reader, ChunkedReader) else None


def file_digest(path: Path, data: bytes | None) -> str:
    """SHA-256 of ``data``, else of the file at ``path`` (which must exist)."""
    if data is not None:
        return sha256_bytes(data)
    _require_file(Path(path), "dataset")
    return sha256_file(path)


def pack_folder(path: Path) -> bytes:
    """The folder at ``path`` as the bytes of an uncompressed tar archive (held in
    memory; :class:`FolderArchive` gives the same bytes as a stream).

    Deterministic, so sealing the same folder twice gives the same bytes: entries in
    sorted POSIX path order, directories before their contents, mtime 0, uid/gid 0,
    empty owner names, mode 0o755 for directories and 0o644 for files. Symbolic links
    to files are stored as the files they point to (as :func:`sha256_tree` reads them).
    """
    return b"".join(FolderArchive(path).blocks())


class FolderArchive:
    """The folder at ``path`` packed as :func:`pack_folder` packs it, as a stream of bytes
    that can be produced again (``amlas seal`` reads it twice: once for the header's
    SHA-256, once to encrypt it), in memory bounded by the largest file.

    Each pass also hashes the folder as :func:`sha256_tree` does and the archive as a
    whole, from the bytes it packs (:attr:`tree_sha256`, :attr:`archive_sha256` of the
    last complete pass), so what is checked is what is sealed."""

    def __init__(self, path: Path) -> None:
        self.root = Path(path)
        self.tree_sha256: str | None = None
        self.archive_sha256: str | None = None

    def blocks(self) -> Iterator[bytes]:
        root = self.root
        if not root.is_dir():
            raise DatasetError(f"{root}: no such folder")
        entries = sorted(
            (p.relative_to(root).as_posix(), p)
            for p in root.rglob("*")
            if p.is_file() or (p.is_dir() and not p.is_symlink())
        )
        sink = _Sink()
        files: list[tuple[str, str]] = []
        archive = hashlib.sha256()
        with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, file in entries:
                info = tarfile.TarInfo(name)
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if file.is_dir():
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)
                else:
                    with file.open("rb") as handle:
                        info.size = os.fstat(handle.fileno()).st_size
                        info.mode = 0o644
                        content = _Hashing(handle)
                        tar.addfile(info, content)
                    files.append((name, content.digest.hexdigest()))
                for block in sink.drain():
                    archive.update(block)
                    yield block
        for block in sink.drain():
            archive.update(block)
            yield block
        self.tree_sha256 = tree_digest(files)
        self.archive_sha256 = archive.hexdigest()


def tree_digest(files: list[tuple[str, str]]) -> str:
    """:func:`sha256_tree`'s digest from (relative POSIX path, SHA-256) of every file."""
    digest = hashlib.sha256()
    for relative, sha256 in sorted(files, key=lambda pair: PurePosixPath(pair[0])):
        digest.update(f"{relative}\0{sha256}\n".encode())
    return digest.hexdigest()


def archive_tree_sha256(handle: IO[bytes] | io.RawIOBase, source: str) -> str:
    """The :func:`sha256_tree` digest of the folder a tar archive (as :func:`pack_folder`
    writes it) holds, read from ``handle`` as a stream: a sealed folder compared with
    the folder its artefact declares."""
    files: list[tuple[str, str]] = []
    try:
        with tarfile.open(fileobj=handle, mode="r|") as tar:
            for member in tar:
                if not member.isreg():
                    continue
                stream = tar.extractfile(member)
                digest = hashlib.sha256()
                if stream is not None:
                    while block := stream.read(1 << 20):
                        digest.update(block)
                files.append((posixpath.normpath(member.name), digest.hexdigest()))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DatasetError(
            f"{source}: sealed image folder is not an uncompressed tar archive "
            f"(as pack_folder writes): {_one_line(exc)}"
        ) from None
    return tree_digest(files)


class _Sink(io.RawIOBase):
    """Where :class:`FolderArchive` has tarfile write, drained after every member."""

    def __init__(self) -> None:
        super().__init__()
        self._blocks: list[bytes] = []
        self._written = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._written

    def write(self, data: Any) -> int:
        block = bytes(data)
        self._blocks.append(block)
        self._written += len(block)
        return len(block)

    def drain(self) -> list[bytes]:
        out, self._blocks = self._blocks, []
        return out


class _Hashing:
    """A file read through, hashed as it is read."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        block = self._handle.read(size)
        self.digest.update(block)
        return block


def _require_file(path: Path, what: str) -> None:
    if not path.exists():
        raise DatasetError(f"{path}: {what} file not found")
    if not path.is_file():
        raise DatasetError(f"{path}: expected a {what} file, found a folder")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --- CSV and Parquet --------------------------------------------------------------------


def _read_arrow(
    path: Path, source: str, format: Literal["csv", "parquet"], data: bytes | None
) -> dict[str, NDArray[np.generic]]:
    import pyarrow as pa

    what = "CSV" if format == "csv" else "Parquet"
    handle: Any = str(path) if data is None else pa.BufferReader(data)
    try:
        if format == "csv":
            import pyarrow.csv as pa_csv

            table = pa_csv.read_csv(handle)
        else:
            import pyarrow.parquet as pa_parquet

            table = pa_parquet.read_table(handle)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DatasetError(f"{source}: cannot read as {what}: {_one_line(exc)}") from None
    names = list(table.column_names)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DatasetError(
            f"{source}: duplicate column name(s) {', '.join(map(repr, duplicates))}; "
            "expected each column name once"
        )
    row_word = "line" if format == "csv" else "row"
    return {
        name: _column_to_numpy(table.column(i), source, name, row_word)
        for i, name in enumerate(names)
    }


def _arrow_batches(
    path: Path,
    source: str,
    format: Literal["csv", "parquet"],
    handle: IO[bytes] | io.RawIOBase | None,
    rows: int,
    columns: list[str] | None = None,
) -> Iterator[Any]:
    """Record batches of exactly ``rows`` rows (the last may be shorter), in file order;
    of a Parquet file, only ``columns`` where given (a CSV file is read whole).

    Exact sizes keep the model's batches the same however the file is cut (a model's
    floating-point result may depend on the batch it is run in)."""
    import pyarrow as pa

    what = "CSV" if format == "csv" else "Parquet"
    target: Any = str(path) if handle is None else handle
    opened: IO[bytes] | None = None
    gate: _ReadGate | None = None
    try:
        if format == "csv":
            import pyarrow.csv as pa_csv

            if handle is None:
                opened = target = open(path, "rb")  # noqa: SIM115 (closed below)
            gate = _ReadGate(target, ahead=3 * CSV_BLOCK_SIZE)
            reader: Any = pa_csv.open_csv(
                gate, read_options=pa_csv.ReadOptions(block_size=CSV_BLOCK_SIZE)
            )
            names = list(reader.schema.names)
            batches: Iterator[Any] = iter(reader)
        else:
            import pyarrow.parquet as pa_parquet

            # without pre_buffer: pre-buffering every row group the batches span holds
            # the whole file in memory, which is what reading in chunks avoids
            parquet = pa_parquet.ParquetFile(target, pre_buffer=False, buffer_size=4 << 20)
            names = list(parquet.schema_arrow.names)
            batches = parquet.iter_batches(batch_size=rows, columns=columns, use_threads=True)
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise DatasetError(
                f"{source}: duplicate column name(s) {', '.join(map(repr, duplicates))}; "
                "expected each column name once"
            )
        pending: list[Any] = []
        held = 0
        for batch in batches:
            if gate is not None:
                gate.advance(CSV_BLOCK_SIZE)  # a batch is a block: let the next one in
            pending.append(batch)
            held += batch.num_rows
            while held >= rows:
                table = pa.Table.from_batches(pending)
                yield table.slice(0, rows).combine_chunks()
                rest = table.slice(rows)
                pending, held = rest.to_batches(), rest.num_rows
        if held:
            yield pa.Table.from_batches(pending).combine_chunks()
    except (pa.ArrowException, OSError, ValueError) as exc:
        if format == "csv" and "conversion error" in str(exc).lower():
            # pyarrow fixed the column types on the first block; read whole, it widens
            raise ChunkTypeError(
                f"{source}: a later block holds values the first block's column types "
                f"cannot take: {_one_line(exc)}"
            ) from None
        raise DatasetError(f"{source}: cannot read as {what}: {_one_line(exc)}") from None
    finally:
        if gate is not None:
            gate.release()
        if opened is not None:
            opened.close()


class _ReadGate(io.RawIOBase):
    """A file pyarrow's streaming CSV reader reads ahead of the batches taken only by
    ``ahead`` bytes more than the caller has let in (:meth:`advance`).

    Left alone, the reader's background thread reads the whole file ahead of the batches
    taken (measured: 706-716 MiB resident after two 32 MiB blocks of a 559 MB file, with a
    path or a Python file alike; the same is reported in apache/gluten#5766), so memory
    grew with the file. Reads block here until the caller takes batches; they come from
    the reader's own thread, never the caller's (a read from the caller's thread is let
    through: blocking it could not be undone by the caller)."""

    def __init__(self, raw: Any, *, ahead: int) -> None:
        super().__init__()
        self._raw = raw
        self._allowed = ahead
        self._read = 0
        self._owner = threading.get_ident()
        self._changed = threading.Condition()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if threading.get_ident() != self._owner:
            with self._changed:
                # bounded: were pyarrow ever to wait for a batch this read must give
                # first, the read goes on after a minute (memory, not a hung run)
                self._changed.wait_for(lambda: self._read < self._allowed, timeout=60)
        data: bytes = self._raw.read(size)
        self._read += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def advance(self, size: int) -> None:
        with self._changed:
            self._allowed += size
            self._changed.notify_all()

    def release(self) -> None:
        """Let every read through (the caller stops taking batches)."""
        self.advance(1 << 62)


def _column_to_numpy(
    column: Any, source: str, name: str, row_word: str, first: int = 0
) -> NDArray[np.generic]:
    """One pyarrow column as float64/int64 numbers or ``str_`` text (see module doc);
    ``first`` is the number of samples before it in the file (for messages)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_null(kind):
        return np.full(len(column), np.nan, dtype=np.float64)
    if pa.types.is_boolean(kind):
        kind = pa.int64()
        column = column.cast(kind)
    if pa.types.is_integer(kind):
        if column.null_count == 0:
            try:
                result: NDArray[np.generic] = column.cast(pa.int64()).to_numpy()
                return result
            except pa.ArrowInvalid:
                pass  # uint64 beyond int64: fall back to float64 like a column with nulls
        try:
            return np.asarray(column.cast(pa.float64()).to_numpy(), dtype=np.float64)
        except pa.ArrowInvalid:  # an integer float64 cannot hold exactly: not rounded
            raise DatasetError(
                f"{source}: column {name!r} holds integers beyond 2**53 (or beyond int64) "
                "with missing values or unsigned: float64 cannot hold them exactly; "
                "expected integers of at most 2**53 where values are missing, or the "
                "column stored as text",
                code="R011",
            ) from None
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        # to_numpy fills nulls of a float column with NaN
        return np.asarray(column.cast(pa.float64()).to_numpy(), dtype=np.float64)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        column = _decode_utf8(column, source, name, row_word, first)
        kind = column.type
    if pa.types.is_temporal(kind):
        # no text form (e.g. durations): refused below
        with contextlib.suppress(pa.ArrowException):
            column = column.cast(pa.string())
        kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        filled = pc.fill_null(column, "")
        # a column of few distinct values (labels, categories) is converted value by value
        # only for its dictionary, then indexed: no Python string per row
        whole = filled.cast(pa.large_string())
        if isinstance(whole, pa.ChunkedArray):  # a CSV column comes in blocks
            whole = whole.combine_chunks()
        ascii_text = _ascii_strings(whole)
        if ascii_text is not None:
            return ascii_text
        encoded = pc.dictionary_encode(whole)
        if 2 * len(encoded.dictionary) <= len(whole):
            categories = _strings(encoded.dictionary)
            return categories[np.asarray(encoded.indices, dtype=np.intp)]
        return _strings(whole)
    raise DatasetError(
        f"{source}: column {name!r} holds {kind} values; expected numbers or text", code="R011"
    )


def _ascii_strings(column: Any) -> NDArray[np.str_] | None:
    """A pyarrow ``large_string`` array without nulls as numpy ``str_``, built from its
    buffers with no Python string per value, when every value is ASCII (one byte, one
    code point); None otherwise (:func:`_strings` converts it). Ids and labels are mostly
    ASCII, and a million ids converted value by value cost the client of a Dask run a
    core's second per million rows. The array is :func:`_strings`' to the byte: the same
    width (the longest value's length) and the same code points, zero-padded."""
    n = len(column)
    _, offsets_buffer, data_buffer = column.buffers()
    if n == 0 or data_buffer is None:
        return None
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[column.offset : column.offset + n + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(data_buffer, dtype=np.uint8)[start:end]
    lengths = np.diff(offsets)
    width = int(lengths.max())
    if width == 0 or (data >= 0x80).any():
        return None  # all empty (numpy's width is then 1), or not ASCII: value by value
    if int(lengths.min()) == width:  # ids are often all one length: no gather
        return data.reshape(n, width).astype(np.uint32).view(f"<U{width}").reshape(n)
    out = np.empty((n, width), dtype=np.uint32)
    places = np.arange(width, dtype=np.int64)
    step = max(1, (1 << 22) // width)  # the gather's index: 32 MiB at most
    for first in range(0, n, step):
        last = min(n, first + step)
        index = (offsets[first:last, None] - start) + places
        np.minimum(index, end - start - 1, out=index)  # past a value's end: masked below
        block = out[first:last]
        block[...] = data[index]
        block[places >= lengths[first:last, None]] = 0
    return out.view(f"<U{width}").reshape(n)


def _strings(column: Any) -> NDArray[np.str_]:
    """A pyarrow text column without nulls as numpy ``str_``."""
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.str_)


def _decode_utf8(column: Any, source: str, name: str, row_word: str, first: int = 0) -> Any:
    """Binary cells as text; pyarrow reads a CSV column with invalid UTF-8 as binary."""
    import pyarrow as pa

    try:
        return column.cast(pa.string())
    except pa.ArrowInvalid:
        pass
    # Error path only: find the first bad cell so the message can point at it.
    offset = (2 if row_word == "line" else 1) + first
    for index, value in enumerate(column.to_pylist()):
        if value is None:
            continue
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            raise DatasetError(
                f"{source}:{row_word} {index + offset}: column {name!r} holds {value[:40]!r}, "
                "which is not UTF-8 text; expected UTF-8 text or numbers",
                code="R011",
            ) from None
    raise DatasetError(f"{source}: column {name!r} holds binary values; expected text", code="R011")


# --- NPZ ------------------------------------------------------------------------------


def _read_npz(
    path: Path, source: str, data: bytes | None
) -> tuple[dict[str, NDArray[np.generic]], dict[str, NDArray[np.generic]]]:
    handle: Any = path if data is None else io.BytesIO(data)
    try:
        loaded = np.load(handle, allow_pickle=False)
    except _NPZ_ERRORS as exc:
        raise DatasetError(f"{source}: cannot read as NPZ: {_one_line(exc)}") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DatasetError(
            f"{source}: holds a single .npy array; expected an .npz archive "
            "(numpy.savez) with one array per column"
        )
    columns: dict[str, NDArray[np.generic]] = {}
    arrays: dict[str, NDArray[np.generic]] = {}
    lengths: dict[str, int] = {}
    with loaded:
        for name in loaded.files:
            try:
                value = loaded[name]
            except _NPZ_ERRORS as exc:
                raise DatasetError(
                    f"{source}: array {name!r} cannot be read: {_one_line(exc)}"
                ) from None
            if not isinstance(value, np.ndarray):  # a member that is not a .npy file
                raise DatasetError(
                    f"{source}: member {name!r} is not a NumPy array; expected one .npy "
                    "array per column (numpy.savez)"
                )
            if value.ndim == 0:
                raise DatasetError(
                    f"{source}: array {name!r} is a scalar ({value!r}); expected one value "
                    "per sample (a 1-D column or an N-D array with samples on axis 0)"
                )
            lengths[name] = value.shape[0]
            if value.ndim == 1:
                columns[name] = _npz_column(value, source, name)
            else:
                arrays[name] = value
    if len(set(lengths.values())) > 1:
        found = ", ".join(f"{name}={n}" for name, n in lengths.items())
        raise DatasetError(
            f"{source}: arrays differ in length along axis 0 ({found}); "
            "expected one entry per sample in every array"
        )
    return columns, arrays


@dataclass(frozen=True)
class _NpyMember:
    """One array of an NPZ archive, read as a stream: its name, open member, sample shape
    and type."""

    name: str
    stream: IO[bytes]
    shape: tuple[int, ...]
    dtype: np.dtype[Any]

    def take(self, count: int, source: str) -> NDArray[Any]:
        """The next ``count`` samples."""
        per_sample = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize
        out = np.empty((count, *self.shape[1:]), dtype=self.dtype)
        view = out.reshape(-1).view(np.uint8)
        done = 0
        try:
            while done < count * per_sample:
                block = self.stream.read(min(count * per_sample - done, 1 << 24))
                if not block:
                    break
                view[done : done + len(block)] = np.frombuffer(block, dtype=np.uint8)
                done += len(block)
        except _NPZ_ERRORS as exc:
            raise DatasetError(
                f"{source}: array {self.name!r} cannot be read: {_one_line(exc)}"
            ) from None
        if done != count * per_sample:
            raise DatasetError(f"{source}: array {self.name!r} cannot be read: it is truncated")
        return out


_NPZ_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError)
"""What a damaged archive raises while it is read (a bad CRC, a broken deflate stream, a
member cut short)."""


def _npz_pieces(
    path: Path, source: str, handle: IO[bytes] | io.RawIOBase | None, rows: int
) -> Iterator[tuple[dict[str, NDArray[np.generic]], dict[str, NDArray[np.generic]]]]:
    """The columns and arrays of an NPZ archive, ``rows`` samples at a time (see
    :meth:`NpzReader.iter_read`). An array stored in Fortran order, or in a ``.npy``
    version whose header numpy does not publish a reader for, cannot be cut into rows
    as a stream: :class:`ChunkTypeError`, and the caller reads the archive whole."""
    target: Any = str(path) if handle is None else handle
    try:
        archive = zipfile.ZipFile(target)
    except _NPZ_ERRORS as exc:
        raise DatasetError(f"{source}: cannot read as NPZ: {_one_line(exc)}") from None
    with archive, contextlib.ExitStack() as stack:
        members: list[_NpyMember] = []
        for member in archive.namelist():
            name = member[:-4] if member.endswith(".npy") else member
            try:
                stream = stack.enter_context(archive.open(member))
                version = np.lib.format.read_magic(stream)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
                else:
                    raise ChunkTypeError(
                        f"{source}: array {name!r} is stored in .npy version {version}"
                    )
            except _NPZ_ERRORS as exc:
                raise DatasetError(
                    f"{source}: array {name!r} cannot be read: {_one_line(exc)}"
                ) from None
            if dtype.hasobject:
                raise DatasetError(
                    f"{source}: array {name!r} cannot be read: it holds Python objects "
                    "(pickled), which amlas does not load"
                )
            if not shape:
                raise DatasetError(
                    f"{source}: array {name!r} is a scalar; expected one value per sample "
                    "(a 1-D column or an N-D array with samples on axis 0)"
                )
            if fortran and len(shape) > 1:
                raise ChunkTypeError(
                    f"{source}: array {name!r} is stored in Fortran order, not by sample"
                )
            members.append(_NpyMember(name, stream, tuple(shape), dtype))
        lengths = {m.name: m.shape[0] for m in members}
        if len(set(lengths.values())) > 1:
            found = ", ".join(f"{name}={n}" for name, n in lengths.items())
            raise DatasetError(
                f"{source}: arrays differ in length along axis 0 ({found}); "
                "expected one entry per sample in every array"
            )
        total = next(iter(lengths.values()), 0)
        for start in range(0, total, rows):
            count = min(rows, total - start)
            columns: dict[str, NDArray[np.generic]] = {}
            arrays: dict[str, NDArray[np.generic]] = {}
            for npy in members:
                value = npy.take(count, source)
                if value.ndim == 1:
                    columns[npy.name] = _npz_column(value, source, npy.name)
                else:
                    arrays[npy.name] = value
            yield columns, arrays


def _npz_column(value: NDArray[Any], source: str, name: str) -> NDArray[np.generic]:
    kind = value.dtype.kind
    if kind == "b":
        return value.astype(np.int64)
    if kind in "iu":
        return value.astype(np.int64)
    if kind == "f":
        return value.astype(np.float64)
    if kind == "U":
        return value
    if kind == "S":
        try:
            return np.char.decode(value, "utf-8")
        except UnicodeDecodeError:
            raise DatasetError(
                f"{source}: array {name!r} holds bytes that are not UTF-8 text; "
                "expected UTF-8 text",
                code="R011",
            ) from None
    if kind == "O":
        return value.astype(np.str_)
    raise DatasetError(
        f"{source}: array {name!r} holds {value.dtype} values; expected numbers or text",
        code="R011",
    )


# --- the reader plug-ins ----------------------------------------------------------------


class ArrowReader:
    """``csv`` or ``parquet``, read with pyarrow."""

    distributions: tuple[str, ...] = ("pyarrow",)

    def __init__(self, name: Literal["csv", "parquet"], suffixes: tuple[str, ...]) -> None:
        self.name = name
        self.suffixes = suffixes

    def read(self, path: Path, options: ReaderOptions, data: bytes | None = None) -> Table:
        digest = file_digest(path, data)
        columns = _read_arrow(Path(path), str(path), self.name, data)
        return Table(columns=columns, sha256=digest, source=str(path))

    def iter_read(
        self,
        path: Path,
        options: ReaderOptions,
        *,
        rows: int,
        sha256: str,
        handle: IO[bytes] | io.RawIOBase | None = None,
    ) -> Iterator[Table]:
        """The file in tables of ``rows`` rows (see :class:`ChunkedReader`): Parquet by
        record batches, CSV by blocks, each converted as :meth:`read` converts the whole."""
        first = 0
        for batch in self.iter_arrow(path, rows=rows, handle=handle):
            yield self.convert(batch, source=str(path), sha256=sha256, first=first)
            first += batch.num_rows

    def iter_arrow(
        self,
        path: Path,
        *,
        rows: int,
        handle: IO[bytes] | io.RawIOBase | None = None,
        columns: list[str] | None = None,
    ) -> Iterator[Any]:
        """The chunks :meth:`iter_read` gives, as pyarrow tables not yet converted (of a
        Parquet file, only ``columns`` where given): the Dask engine ships these to its
        workers, which :meth:`convert` them (Arrow buffers travel without a copy per
        value; the conversion is the workers' work, not the client's)."""
        yield from _arrow_batches(Path(path), str(path), self.name, handle, rows, columns)

    def convert(self, batch: Any, *, source: str, sha256: str, first: int = 0) -> Table:
        """One chunk of :meth:`iter_arrow` as the :class:`Table` :meth:`iter_read` gives
        (``first``: the number of samples before it, so that a message names the row of
        the file)."""
        row_word = "line" if self.name == "csv" else "row"
        columns = {
            name: _column_to_numpy(batch.column(i), source, name, row_word, first)
            for i, name in enumerate(batch.schema.names)
        }
        return Table(columns=columns, sha256=sha256, source=source)

    def read_rows(self, path: Path, *, start: int, rows: int) -> Any:
        """Rows ``start`` to ``start + rows`` of the Parquet file at ``path`` as a pyarrow
        table: the chunk of :meth:`iter_arrow` that starts there, read by a Dask worker
        from a shared path (only the row groups that hold it are decoded, one batch of
        ``rows`` rows at a time, on this thread)."""
        import pyarrow as pa
        import pyarrow.parquet as pa_parquet

        if self.name != "parquet":
            raise ValueError("rows are read by their range from Parquet files only")
        source = str(path)
        try:
            parquet = pa_parquet.ParquetFile(str(path), pre_buffer=False, buffer_size=4 << 20)
            groups: list[int] = []
            first = at = 0
            for index in range(parquet.metadata.num_row_groups):
                count = parquet.metadata.row_group(index).num_rows
                if at + count > start and at < start + rows:
                    first = first if groups else at
                    groups.append(index)
                at += count
            pending: list[Any] = []
            skip, held = start - first, 0
            batches = parquet.iter_batches(batch_size=rows, row_groups=groups, use_threads=False)
            for batch in batches:
                if skip >= batch.num_rows:
                    skip -= batch.num_rows
                    continue
                batch = batch.slice(skip)
                skip = 0
                pending.append(batch)
                held += batch.num_rows
                if held >= rows:
                    break
            schema = parquet.schema_arrow
            return pa.Table.from_batches(pending, schema).slice(0, rows).combine_chunks()
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise DatasetError(f"{source}: cannot read as Parquet: {_one_line(exc)}") from None


class NpzReader:
    """``npz``: a NumPy archive, one array per column (see the module doc)."""

    name = "npz"
    suffixes: tuple[str, ...] = (".npz",)
    distributions: tuple[str, ...] = ("numpy",)

    def read(self, path: Path, options: ReaderOptions, data: bytes | None = None) -> Table:
        digest = file_digest(path, data)
        columns, arrays = _read_npz(Path(path), str(path), data)
        return Table(columns=columns, sha256=digest, source=str(path), arrays=arrays)

    def iter_read(
        self,
        path: Path,
        options: ReaderOptions,
        *,
        rows: int,
        sha256: str,
        handle: IO[bytes] | io.RawIOBase | None = None,
    ) -> Iterator[Table]:
        """The archive in tables of ``rows`` rows (see :class:`ChunkedReader`): every
        array's ``.npy`` member is read as a stream, ``rows`` samples at a time, and
        converted as :meth:`read` converts the whole."""
        source = str(path)
        for columns, arrays in _npz_pieces(Path(path), source, handle, rows):
            yield Table(columns=columns, sha256=sha256, source=source, arrays=arrays)


CSV = ArrowReader("csv", (".csv",))
PARQUET = ArrowReader("parquet", (".parquet", ".pq"))
NPZ = NpzReader()
