"""The ``image_folder`` dataset reader: a folder of images plus a metadata table.

See :mod:`amlas.adapters._readers` for the conventions (the metadata table's rows, the
``image`` array, sealed folders as tar bytes).

Read in pieces (:meth:`ImageFolderReader.iter_read`, what ``amlas run`` does with a folder
larger than a chunk), the metadata table is read in chunks of rows by the CSV or Parquet
reader and each chunk's images are decoded together, so memory holds one chunk of images.
The whole read's decisions stay whole: a first pass over the image headers (Pillow reads
them without decoding) checks that every image of the folder has one size and decides
grayscale or RGB over all of them, so a chunk's array is exactly its rows of the array a
whole read gives. A sealed folder is read from its tar archive as it is decrypted
(:class:`~amlas.sealing.SealedReader`), one member at a time; the index of the archive
(each member's name, offset and size) is the one thing held for every image.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO, TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from amlas.adapters._reader import DatasetError, ReaderOptions
from amlas.adapters._readers import CSV, PARQUET, read_table
from amlas.adapters._table import Table
from amlas.errors import install_hint
from amlas.hashing import sha256_bytes, sha256_tree

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["IMAGE_FOLDER", "ImageFolderReader"]

_IMAGES_HINT = install_hint("images")
_TABLE_SUFFIXES: dict[str, Literal["csv", "parquet"]] = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class _FolderSource:
    """Files of an image folder: on disk, inside the tar bytes of a sealed one, or inside
    a tar archive read from ``handle`` (a sealed folder decrypted chunk by chunk)."""

    def __init__(
        self, root: Path, data: bytes | None, handle: IO[bytes] | io.RawIOBase | None = None
    ) -> None:
        self.root = root
        self._data = data
        self._handle = handle
        # one reader of the handle at a time: pyarrow may read the metadata table ahead on
        # a thread of its own while images are read
        self._lock = threading.Lock()
        # member name -> (offset, size) of its bytes: an uncompressed tar stores each file
        # contiguously, so images are sliced out one at a time instead of all copied at once
        self._members: dict[str, tuple[int, int]] | None = None
        archive: Any = io.BytesIO(data) if data is not None else handle
        if data is None and handle is not None:
            handle.seek(0)
        if archive is not None:
            self._members = {}
            try:
                with tarfile.open(fileobj=archive, mode="r:") as tar:
                    while (member := tar.next()) is not None:
                        if member.isreg() and not member.issparse():
                            name = posixpath.normpath(member.name)
                            self._members[name] = (member.offset_data, member.size)
                        # the index above is all that is kept: TarFile.next() also keeps
                        # every member's TarInfo (a list it does not otherwise need here)
                        kept = getattr(tar, "members", None)
                        if isinstance(kept, list):
                            kept.clear()
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
        if self._members is not None:
            offset, size = self._members[relative]
            if self._data is not None:
                yield io.BytesIO(self._data[offset : offset + size])
            else:
                # buffered over the member: Pillow reads a header without the pixels
                yield io.BufferedReader(_Member(self, offset, size), buffer_size=1 << 16)
        else:
            with (self.root / relative).open("rb") as handle:
                yield handle

    def read_at(self, offset: int, size: int) -> bytes:
        """``size`` bytes of the archive from ``offset`` (read from the handle)."""
        assert self._handle is not None
        out = bytearray()
        with self._lock:
            self._handle.seek(offset)
            while len(out) < size:
                block = self._handle.read(size - len(out))
                if not block:
                    break
                out += block
        if len(out) != size:
            raise DatasetError(f"{self.root}: sealed image folder ends inside a file")
        return bytes(out)

    def member_file(self, relative: str) -> _Member:
        """The member ``relative`` of the archive read from the handle, as a file."""
        assert self._members is not None
        assert self._handle is not None
        offset, size = self._members[relative]
        return _Member(self, offset, size)


class _Member(io.RawIOBase):
    """One member of a tar archive read from a handle, as a seekable read-only file (the
    metadata table of a sealed folder, read in chunks by pyarrow)."""

    def __init__(self, folder: _FolderSource, offset: int, size: int) -> None:
        super().__init__()
        self._folder = folder
        self._offset = offset
        self._size = size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = max(0, min(len(view), self._size - self._position))
        if count:
            view[:count] = self._folder.read_at(self._offset + self._position, count)
            self._position += count
        return count


def _prepare(
    source: str, metadata_table: Path | None, image_column: str
) -> tuple[Any, Literal["csv", "parquet"], Path]:
    """Pillow's ``Image`` module, the metadata table's format and path (checked)."""
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
    return Image, table_format, metadata_table


def _on_disk(root: Path, source: str) -> _FolderSource:
    if not root.exists():
        raise DatasetError(f"{source}: image folder not found")
    if not root.is_dir():
        raise DatasetError(f"{source}: expected an image folder, found a file")
    return _FolderSource(root, None)


def _read_image_folder(
    root: Path,
    source: str,
    *,
    metadata_table: Path | None,
    image_column: str,
    data: bytes | None,
) -> Table:
    image_module, table_format, metadata_table = _prepare(source, metadata_table, image_column)
    if data is None:
        folder = _on_disk(root, source)
        meta = read_table(metadata_table, table_format)
        digest = sha256_tree(root)
    else:
        folder = _FolderSource(root, data)
        member = _sealed_member(folder, root, metadata_table, source)
        with folder.open(member) as handle:
            meta = read_table(metadata_table, table_format, data=handle.read())
        digest = sha256_bytes(data)
    locate = _locator(metadata_table, table_format)
    relatives = _relatives(meta, image_column, metadata_table, folder, locate, 0)
    shape = _scan(image_module, folder, relatives, locate, 0, source, None)
    images = _decode(image_module, folder, relatives, locate, 0, shape)
    return Table(columns=dict(meta.columns), sha256=digest, source=source, arrays={"image": images})


def _sealed_member(folder: _FolderSource, root: Path, metadata_table: Path, source: str) -> str:
    member = _member_name(root, metadata_table)
    if not folder.exists(member):
        raise DatasetError(f"{source}: sealed image folder holds no metadata table {member!r}")
    return member


def _locator(metadata_table: Path, table_format: str) -> Callable[[int], str]:
    """Where the metadata table's row ``index`` (from 0) is, for messages."""
    where = "line" if table_format == "csv" else "row"
    offset = 2 if table_format == "csv" else 1
    return lambda index: f"{metadata_table}:{where} {index + offset}"


def _relatives(
    meta: Table,
    image_column: str,
    metadata_table: Path,
    folder: _FolderSource,
    locate: Callable[[int], str],
    start: int,
) -> list[str]:
    """The image paths of ``meta``'s rows (rows ``start`` on of the metadata table),
    each checked to name a file inside the folder."""
    if image_column not in meta.columns:
        from amlas.diagnostics import did_you_mean

        hint = did_you_mean(image_column, meta.columns) or f"columns: {', '.join(meta.columns)}"
        raise DatasetError(
            f"{metadata_table}: no column {image_column!r} naming the images; {hint}"
        )
    return [
        _relative_image_path(str(name), locate(start + i), image_column, folder)
        for i, name in enumerate(meta.text(image_column))
    ]


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


@dataclass(frozen=True)
class _Shape:
    """What every image of a folder shares: the size of the first, and whether all are
    grayscale (else all are decoded as RGB)."""

    first: str
    width: int
    height: int
    gray: bool


def _scan(
    image_module: Any,
    folder: _FolderSource,
    relatives: list[str],
    locate: Callable[[int], str],
    start: int,
    source: str,
    shape: _Shape | None,
) -> _Shape | None:
    """``shape`` updated with the headers of ``relatives`` (Pillow opens lazily, so only
    headers are read): the size check and the grayscale decision come before decoding."""
    for index, relative in enumerate(relatives):
        with (
            folder.open(relative) as handle,
            _open_image(image_module, handle, locate(start + index), relative) as image,
        ):
            (w, h), gray = image.size, image.mode == "L"
        if shape is None:
            shape = _Shape(relative, w, h, gray)
        elif (w, h) != (shape.width, shape.height):
            raise DatasetError(
                f"{locate(start + index)}: image {relative!r} is {w}x{h} pixels; expected "
                f"{shape.width}x{shape.height} like {shape.first!r} (all images in {source} "
                "must have one size)"
            )
        elif shape.gray and not gray:
            shape = _Shape(shape.first, shape.width, shape.height, False)
    return shape


def _decode(
    image_module: Any,
    folder: _FolderSource,
    relatives: list[str],
    locate: Callable[[int], str],
    start: int,
    shape: _Shape | None,
) -> NDArray[np.uint8]:
    """The images ``relatives`` in one ``(n, h, w, c)`` uint8 array (see module doc)."""
    if shape is None:
        return np.zeros((0, 0, 0, 1), dtype=np.uint8)
    height, width, channels = shape.height, shape.width, 1 if shape.gray else 3
    out = np.empty((len(relatives), height, width, channels), dtype=np.uint8)
    for index, relative in enumerate(relatives):
        with (
            folder.open(relative) as handle,
            _open_image(image_module, handle, locate(start + index), relative) as image,
        ):
            try:
                pixels = np.asarray(image if shape.gray else image.convert("RGB"), dtype=np.uint8)
                out[index] = pixels.reshape(height, width, channels)
            except Exception as exc:  # a truncated file fails only here, when decoded
                raise DatasetError(
                    f"{locate(start + index)}: image {relative!r} cannot be decoded as a "
                    f"{width}x{height} image: {_one_line(exc)}"
                ) from None
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


class ImageFolderReader:
    """``image_folder``: images decoded with Pillow (the ``images`` extra)."""

    name = "image_folder"
    suffixes: tuple[str, ...] = ()
    distributions: tuple[str, ...] = ("pillow",)

    def read(self, path: Path, options: ReaderOptions, data: bytes | None = None) -> Table:
        return _read_image_folder(
            Path(path),
            str(path),
            metadata_table=options.metadata_table,
            image_column=options.image_column,
            data=data,
        )

    def iter_read(
        self,
        path: Path,
        options: ReaderOptions,
        *,
        rows: int,
        sha256: str,
        handle: IO[bytes] | io.RawIOBase | None = None,
    ) -> Iterator[Table]:
        """The folder in tables of ``rows`` rows (see the module doc and
        :class:`~amlas.adapters.ChunkedReader`); ``handle`` reads the tar archive of a
        sealed folder as it is decrypted."""
        root, source = Path(path), str(path)
        image_module, table_format, metadata_table = _prepare(
            source, options.metadata_table, options.image_column
        )
        meta_reader = CSV if table_format == "csv" else PARQUET
        if handle is None:
            folder = _on_disk(root, source)
            member = None
        else:
            folder = _FolderSource(root, None, handle)
            member = _sealed_member(folder, root, metadata_table, source)

        def metadata() -> Iterator[tuple[int, Table, list[str]]]:
            """Each chunk of the metadata table: its first row, the chunk, its images."""
            file = None if member is None else folder.member_file(member)
            start = 0
            for meta in meta_reader.iter_read(
                metadata_table, ReaderOptions(), rows=rows, sha256=sha256, handle=file
            ):
                found = _relatives(
                    meta, options.image_column, metadata_table, folder, locate, start
                )
                yield start, meta, found
                start += len(meta)

        locate = _locator(metadata_table, table_format)
        shape = None
        for start, _, relatives in metadata():  # the headers of every image, first
            shape = _scan(image_module, folder, relatives, locate, start, source, shape)
        for start, meta, relatives in metadata():
            images = _decode(image_module, folder, relatives, locate, start, shape)
            yield Table(
                columns=dict(meta.columns), sha256=sha256, source=source, arrays={"image": images}
            )


IMAGE_FOLDER = ImageFolderReader()
