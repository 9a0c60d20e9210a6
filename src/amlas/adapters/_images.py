"""The ``image_folder`` dataset reader: a folder of images plus a metadata table.

See :mod:`amlas.adapters._readers` for the conventions (the metadata table's rows, the
``image`` array, sealed folders as tar bytes).
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

from amlas.adapters._reader import DatasetError, ReaderOptions
from amlas.adapters._readers import read_table
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


IMAGE_FOLDER = ImageFolderReader()
