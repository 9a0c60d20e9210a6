"""SHA-256 content hashes for data, models and documents (a shared leaf).

Hashes identify exactly what a check or a review saw: evidence records the hashes of
its inputs, and ``amlas check`` compares declared hashes with the files on disk.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from amlas.fileio import atomic_write_text

__all__ = ["HashCache", "sha256_bytes", "sha256_file", "sha256_path", "sha256_tree"]

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


class HashCache:
    """Remembers file hashes by their stat signature, so re-checking a project does not
    re-read gigabytes of unchanged data.

    An entry is reused only while the file's size, inode, mtime and ctime are all unchanged
    (ctime cannot be set back by ``touch``, so an edited file is always re-hashed), the same
    signal git's index trusts. A missing or corrupt cache file is simply an empty cache.
    """

    VERSION = 1

    def __init__(self, file: str | Path) -> None:
        self.file = Path(file)
        self._entries: dict[str, object] = {}
        self._dirty = False
        try:
            payload = json.loads(self.file.read_text("utf-8"))
            if isinstance(payload, dict) and payload.get("version") == self.VERSION:
                entries = payload.get("entries", {})
                if isinstance(entries, dict):
                    self._entries = entries
        except (OSError, ValueError):
            pass

    @staticmethod
    def _signature(path: Path) -> list[int]:
        st = path.stat()
        return [st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns]

    def sha256(self, path: str | Path) -> str:
        """:func:`sha256_path`, from the cache when the file is unchanged."""
        target = Path(path).resolve()
        if target.is_dir():
            return sha256_tree(target)  # a tree's signature would need every file's stat
        key = str(target)
        signature = self._signature(target)
        entry = self._entries.get(key)
        if (
            isinstance(entry, dict)
            and entry.get("stat") == signature
            and isinstance(entry.get("sha256"), str)
        ):
            return str(entry["sha256"])
        digest = sha256_file(target)
        if self._signature(target) == signature:  # unchanged while we read it
            self._entries[key] = {"stat": signature, "sha256": digest}
            self._dirty = True
        return digest

    def save(self) -> None:
        """Write the cache atomically; a read-only project just goes without one."""
        if not self._dirty:
            return
        payload = {"version": self.VERSION, "entries": self._entries}
        try:
            atomic_write_text(self.file, json.dumps(payload, sort_keys=True) + "\n")
            self._dirty = False
        except OSError:
            pass
