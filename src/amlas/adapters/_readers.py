"""Read a dataset file (or its bytes) into a :class:`~amlas.adapters.Table`.

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
import io
import posixpath
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from amlas.adapters._table import Table
from amlas.errors import ProblemError, install_hint
from amlas.hashing import sha256_bytes, sha256_file, sha256_tree

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["DatasetError", "DatasetFormat", "pack_folder", "read_table"]

DatasetFormat = Literal["csv", "parquet", "npz", "image_folder"]

_FORMATS: tuple[str, ...] = ("csv", "parquet", "npz", "image_folder")
_TABLE_SUFFIXES: dict[str, Literal["csv", "parquet"]] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_IMAGES_HINT = install_hint("images")


class DatasetError(ProblemError):
    """A dataset cannot be read: missing, malformed, or not in the shape expected."""

    code = "R010"


def read_table(
    path: Path,
    format: DatasetFormat,
    *,
    metadata_table: Path | None = None,
    image_column: str = "file",
    data: bytes | None = None,
) -> Table:
    """Read the dataset at ``path`` (a file, or a folder for ``image_folder``).

    ``metadata_table`` and ``image_column`` apply to ``image_folder`` only. With
    ``data``, the content is taken from these bytes instead of ``path`` (which then only
    names the source in messages). Raises :class:`DatasetError` on any failure.
    """
    if format not in _FORMATS:
        raise DatasetError(
            f"{path}: unknown dataset format {format!r}; expected one of {', '.join(_FORMATS)}"
        )
    source = str(path)
    if format == "image_folder":
        return _read_image_folder(
            Path(path), source, metadata_table=metadata_table, image_column=image_column, data=data
        )
    if data is None:
        _require_file(Path(path), "dataset")
        digest = sha256_file(path)
    else:
        digest = sha256_bytes(data)
    if format == "npz":
        columns, arrays = _read_npz(Path(path), source, data)
        return Table(columns=columns, sha256=digest, source=source, arrays=arrays)
    columns = _read_arrow(Path(path), source, format, data)
    return Table(columns=columns, sha256=digest, source=source)


def pack_folder(path: Path) -> bytes:
    """The folder at ``path`` as the bytes of an uncompressed tar archive.

    Deterministic, so sealing the same folder twice gives the same bytes: entries in
    sorted POSIX path order, directories before their contents, mtime 0, uid/gid 0,
    empty owner names, mode 0o755 for directories and 0o644 for files. Symbolic links
    to files are stored as the files they point to (as :func:`sha256_tree` reads them).
    """
    root = Path(path)
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    entries = sorted(
        (p.relative_to(root).as_posix(), p)
        for p in root.rglob("*")
        if p.is_file() or (p.is_dir() and not p.is_symlink())
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
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
                content = file.read_bytes()
                info.size = len(content)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


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


def _column_to_numpy(column: Any, source: str, name: str, row_word: str) -> NDArray[np.generic]:
    """One pyarrow column as float64/int64 numbers or ``str_`` text (see module doc)."""
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
        return np.asarray(column.cast(pa.float64()).to_numpy(), dtype=np.float64)
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        # to_numpy fills nulls of a float column with NaN
        return np.asarray(column.cast(pa.float64()).to_numpy(), dtype=np.float64)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        column = _decode_utf8(column, source, name, row_word)
        kind = column.type
    if pa.types.is_temporal(kind):
        # no text form (e.g. durations): refused below
        with contextlib.suppress(pa.ArrowException):
            column = column.cast(pa.string())
        kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        filled = pc.fill_null(column, "")
        return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.str_)
    raise DatasetError(
        f"{source}: column {name!r} holds {kind} values; expected numbers or text", code="R011"
    )


def _decode_utf8(column: Any, source: str, name: str, row_word: str) -> Any:
    """Binary cells as text; pyarrow reads a CSV column with invalid UTF-8 as binary."""
    import pyarrow as pa

    try:
        return column.cast(pa.string())
    except pa.ArrowInvalid:
        pass
    # Error path only: find the first bad cell so the message can point at it.
    offset = 2 if row_word == "line" else 1
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
    except (ValueError, OSError, EOFError) as exc:
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
            except (ValueError, OSError, EOFError) as exc:
                raise DatasetError(
                    f"{source}: array {name!r} cannot be read: {_one_line(exc)}"
                ) from None
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


# --- Image folders --------------------------------------------------------------------


class _FolderSource:
    """Files of an image folder, on disk or inside the tar bytes of a sealed one."""

    def __init__(self, root: Path, data: bytes | None) -> None:
        self.root = root
        self._data = data
        # member name -> (offset, size) of its bytes: an uncompressed tar stores each file
        # contiguously, so images are sliced out one at a time instead of all copied at once
        self._members: dict[str, tuple[int, int]] | None = None
        if data is not None:
            self._members = {}
            try:
                with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
                    for member in tar.getmembers():
                        if member.isreg() and not member.issparse():
                            name = posixpath.normpath(member.name)
                            self._members[name] = (member.offset_data, member.size)
            except (tarfile.TarError, OSError) as exc:
                raise DatasetError(
                    f"{root}: sealed image folder is not an uncompressed tar archive "
                    f"(as pack_folder writes): {_one_line(exc)}"
                ) from None

    def exists(self, relative: str) -> bool:
        if self._members is not None:
            return relative in self._members
        return (self.root / relative).is_file()

    def escapes(self, relative: str) -> bool:
        """Whether a path on disk leaves the folder through a symbolic link."""
        if self._members is not None:
            return False
        return not (self.root / relative).resolve().is_relative_to(self.root.resolve())

    @contextlib.contextmanager
    def open(self, relative: str) -> Iterator[Any]:
        if self._members is not None and self._data is not None:
            offset, size = self._members[relative]
            yield io.BytesIO(self._data[offset : offset + size])
        else:
            with (self.root / relative).open("rb") as handle:
                yield handle


def _read_image_folder(
    root: Path,
    source: str,
    *,
    metadata_table: Path | None,
    image_column: str,
    data: bytes | None,
) -> Table:
    try:
        from PIL import Image
    except ImportError:
        raise DatasetError(
            f"{source}: reading image folders needs Pillow; {_IMAGES_HINT}", code="R001"
        ) from None
    if metadata_table is None:
        raise DatasetError(
            f"{source}: an image folder needs a metadata table (CSV or Parquet, one row "
            f"per sample, column {image_column!r} naming each image)"
        )
    metadata_table = Path(metadata_table)
    table_format = _TABLE_SUFFIXES.get(metadata_table.suffix.lower())
    if table_format is None:
        raise DatasetError(
            f"{metadata_table}: metadata table has suffix {metadata_table.suffix!r}; "
            f"expected one of {', '.join(_TABLE_SUFFIXES)}"
        )
    if data is None:
        if not root.exists():
            raise DatasetError(f"{source}: image folder not found")
        if not root.is_dir():
            raise DatasetError(f"{source}: expected an image folder, found a file")
        folder = _FolderSource(root, None)
        meta = read_table(metadata_table, table_format)
        digest = sha256_tree(root)
    else:
        folder = _FolderSource(root, data)
        member = _member_name(root, metadata_table)
        if not folder.exists(member):
            raise DatasetError(f"{source}: sealed image folder holds no metadata table {member!r}")
        with folder.open(member) as handle:
            meta = read_table(metadata_table, table_format, data=handle.read())
        digest = sha256_bytes(data)

    meta_source = str(metadata_table)
    if image_column not in meta.columns:
        from amlas.diagnostics import did_you_mean

        hint = did_you_mean(image_column, meta.columns) or f"columns: {', '.join(meta.columns)}"
        raise DatasetError(f"{meta_source}: no column {image_column!r} naming the images; {hint}")
    names = meta.text(image_column)
    where = "line" if table_format == "csv" else "row"
    offset = 2 if table_format == "csv" else 1

    def locate(index: int) -> str:
        return f"{meta_source}:{where} {index + offset}"

    relatives = [
        _relative_image_path(str(name), locate(i), image_column, folder)
        for i, name in enumerate(names)
    ]
    images = _load_images(Image, folder, relatives, locate, source)
    return Table(columns=dict(meta.columns), sha256=digest, source=source, arrays={"image": images})


def _member_name(root: Path, metadata_table: Path) -> str:
    """``metadata_table``'s path inside the folder ``root``, as a tar member name."""
    for base, target in ((root, metadata_table), (root.resolve(), metadata_table.resolve())):
        try:
            return posixpath.normpath(target.relative_to(base).as_posix())
        except ValueError:
            continue
    raise DatasetError(
        f"{metadata_table}: the metadata table of a sealed image folder must lie inside "
        f"the folder {root}"
    )


def _relative_image_path(name: str, where: str, column: str, folder: _FolderSource) -> str:
    if not name:
        raise DatasetError(f"{where}: column {column!r} is empty; expected an image path")
    posix = PurePosixPath(name)
    if posix.is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        raise DatasetError(
            f"{where}: image path {name!r} is absolute; expected a path relative to "
            f"the folder {folder.root}"
        )
    if ".." in posix.parts or ".." in PureWindowsPath(name).parts:
        raise DatasetError(
            f"{where}: image path {name!r} leaves the folder {folder.root}; expected a "
            "path inside it (no '..')"
        )
    relative = posixpath.normpath(name)
    if not folder.exists(relative):
        raise DatasetError(f"{where}: image {name!r} not found in {folder.root}")
    if folder.escapes(relative):
        raise DatasetError(
            f"{where}: image path {name!r} leads outside the folder {folder.root} "
            "through a symbolic link; expected a file inside it"
        )
    return relative


def _load_images(
    image_module: Any,
    folder: _FolderSource,
    relatives: list[str],
    locate: Callable[[int], str],
    source: str,
) -> NDArray[np.uint8]:
    """Decode every image into one ``(n, h, w, c)`` uint8 array (see module doc)."""
    # First pass reads headers only (Pillow opens lazily), so the size check and the
    # grayscale decision come before decoding and the output is allocated once.
    sizes: list[tuple[int, int]] = []
    all_gray = True
    for index, relative in enumerate(relatives):
        with (
            folder.open(relative) as handle,
            _open_image(image_module, handle, locate(index), relative) as image,
        ):
            sizes.append(image.size)
            all_gray = all_gray and image.mode == "L"
        if sizes[index] != sizes[0]:
            w0, h0 = sizes[0]
            w, h = sizes[index]
            raise DatasetError(
                f"{locate(index)}: image {relative!r} is {w}x{h} pixels; expected "
                f"{w0}x{h0} like {relatives[0]!r} (all images in {source} must have one size)"
            )
    if not relatives:
        return np.zeros((0, 0, 0, 1 if all_gray else 3), dtype=np.uint8)
    width, height = sizes[0]
    channels = 1 if all_gray else 3
    out = np.empty((len(relatives), height, width, channels), dtype=np.uint8)
    for index, relative in enumerate(relatives):
        with (
            folder.open(relative) as handle,
            _open_image(image_module, handle, locate(index), relative) as image,
        ):
            try:
                pixels = np.asarray(image if all_gray else image.convert("RGB"), dtype=np.uint8)
            except Exception as exc:  # a truncated file fails only here, when decoded
                raise DatasetError(
                    f"{locate(index)}: image {relative!r} cannot be decoded: {_one_line(exc)}"
                ) from None
        out[index] = pixels.reshape(height, width, channels)
    return out


@contextlib.contextmanager
def _open_image(
    image_module: Any, handle: Any, where: str, relative: str
) -> Iterator[PILImage.Image]:
    try:
        image = image_module.open(handle)
    except Exception as exc:  # decoders raise assorted types (OSError, SyntaxError, bomb)
        raise DatasetError(
            f"{where}: {relative!r} is not an image Pillow can read: {_one_line(exc)}"
        ) from None
    with image:
        yield image
