"""SHA-256 content hashes for data, models and documents (a shared leaf).

Hashes identify exactly what a check or a review saw: evidence records the hashes of
its inputs, and ``amlas check`` compares declared hashes with the files on disk.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["sha256_bytes", "sha256_file", "sha256_path", "sha256_tree"]

_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hash of a file's bytes, read in chunks so large datasets stay out of memory."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(path: str | Path) -> str:
    """Hash of a directory: every file's relative POSIX path and content hash, sorted.

    Independent of file-system order and timestamps, so the same image folder hashes
    the same on every machine.
    """
    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = file.relative_to(root).as_posix()
        digest.update(f"{relative}\0{sha256_file(file)}\n".encode())
    return digest.hexdigest()


def sha256_path(path: str | Path) -> str:
    """:func:`sha256_tree` for a directory, :func:`sha256_file` otherwise."""
    return sha256_tree(path) if Path(path).is_dir() else sha256_file(path)
