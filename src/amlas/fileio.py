"""Atomic file writes (a shared leaf): a reader sees the old file or the new one, never half.

Write to a temporary file in the same directory, flush and fsync it, then ``os.replace``
it over the target, which is atomic on POSIX and Windows.

Permissions: ``tempfile`` creates files 0600 and folders 0700; the written file instead
keeps the mode of the file it replaces, or gets the usual mode for a new file (0666, and
folders 0777, less the process umask), so a report or a safety case is as readable as
any file the user writes. Secrets (verifier keys) are written elsewhere, owner-only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_tree"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _mode_for(target: Path, *, folder: bool = False) -> int:
    """The mode a new version of ``target`` gets (see the module doc)."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return (0o777 if folder else 0o666) & ~_umask()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 text with '\\n' line endings, atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_tree(path: str | Path, files: Mapping[str, str | bytes]) -> None:
    """Replace the folder ``path`` by one holding exactly ``files`` (relative name ->
    content; str is written as UTF-8). The new tree is written beside it and swapped in
    with two renames, so a reader sees the old tree or the new one; an interrupted write
    leaves the old tree in place. Names must stay inside the folder."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    folder_mode = _mode_for(target, folder=True)
    file_mode = 0o666 & ~_umask()
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    old = None
    try:
        os.chmod(staging, folder_mode)
        for name, content in files.items():
            relative = Path(name)
            if relative.is_absolute() or ".." in relative.parts:
                raise ValueError(f"file name {name!r} leaves the output folder")
            file = staging / relative
            file.parent.mkdir(parents=True, exist_ok=True)
            data = content.encode("utf-8") if isinstance(content, str) else content
            with open(file, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(file, file_mode)
        if target.exists():
            old = target.parent / f".{target.name}.{os.getpid()}.old"
            os.replace(target, old)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and not target.exists():
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
