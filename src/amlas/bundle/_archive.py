"""Reading an archive nobody vouches for yet: every entry checked before a byte is written.

An assessor's bundle arrives by mail, a shared drive or a CI artefact: until its manifest
signature is checked it is hostile input. :func:`extract` therefore refuses, each with a
coded :class:`ArchiveProblem` that names the entry:

- a file that is no zip archive, or is cut short (B001);
- an entry whose name would land outside the folder (absolute, ``..``, a drive letter, a
  backslash), a link, an encrypted entry, a name given twice (B002);
- more entries, more bytes or a higher compression ratio than :class:`ArchiveLimits`
  allows, or an entry that inflates to more than its header says (B003: an archive bomb);
- an entry whose bytes fail the archive's own CRC (B006: a changed byte).

Entries are streamed to disk in blocks, hashed on the way; nothing is held whole in
memory. Python's :mod:`zipfile` reads the format; the checks above are ours, since it
offers none of them (its ``extract`` sanitises names silently rather than refusing).
"""

from __future__ import annotations

import hashlib
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

__all__ = ["LIMITS", "ArchiveLimits", "ArchiveProblem", "Extracted", "extract"]

_BLOCK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ArchiveLimits:
    """What :func:`extract` accepts before calling an archive a bomb."""

    entries: int = 500_000
    total_bytes: int = 16 * 1024**3
    """Uncompressed bytes of all entries together."""
    ratio: int = 200
    """Uncompressed / compressed size of an entry larger than ``ratio_above`` bytes
    (deflate reaches about 1,000 on runs of one byte; text and JSON stay below 20)."""
    ratio_above: int = 1 << 20


LIMITS = ArchiveLimits()


class ArchiveProblem(Exception):
    """An archive :func:`extract` refuses: the code, the entry (or '' for the archive)."""

    def __init__(self, code: str, member: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.member = member
        self.message = message


@dataclass(frozen=True)
class Extracted:
    """One regular file taken out of the archive."""

    name: str
    size: int
    sha256: str


def _name_problem(name: str) -> str | None:
    if not name or "\x00" in name or len(name) > 1024:
        return "is empty, too long or holds a NUL byte"
    if "\\" in name:
        return "holds a backslash (a Windows path separator)"
    if name.startswith("/") or _DRIVE.match(name):
        return "is an absolute path"
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "holds an empty, '.' or '..' path component (it would land outside the folder)"
    return None


def _check(infos: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    if len(infos) > limits.entries:
        raise ArchiveProblem(
            "B003", "", f"{len(infos)} entries, more than {limits.entries}: an archive bomb?"
        )
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        why = _name_problem(name)
        if why is not None:
            raise ArchiveProblem("B002", name, f"entry {name!r} {why}")
        if name in seen:
            raise ArchiveProblem("B002", name, f"entry {name!r} is in the archive twice")
        seen.add(name)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise ArchiveProblem("B002", name, f"entry {name!r} is a symbolic link")
        if info.flag_bits & 0x1:
            raise ArchiveProblem("B002", name, f"entry {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ArchiveProblem(
                "B002", name, f"entry {name!r} uses compression method {info.compress_type}"
            )
        total += info.file_size
        if total > limits.total_bytes:
            raise ArchiveProblem(
                "B003",
                name,
                f"the entries inflate to more than {limits.total_bytes} bytes: an archive bomb?",
            )
        if info.file_size > limits.ratio_above and info.file_size > limits.ratio * max(
            info.compress_size, 1
        ):
            raise ArchiveProblem(
                "B003",
                name,
                f"entry {name!r} inflates {info.compress_size} bytes to {info.file_size} "
                f"(more than {limits.ratio} to 1): an archive bomb?",
            )


def extract(archive: Path, folder: Path, limits: ArchiveLimits = LIMITS) -> list[Extracted]:
    """Check every entry of the zip ``archive`` (see the module doc), then write its
    regular files under ``folder``; returns them in archive order with size and SHA-256.

    Raises :class:`ArchiveProblem`; ``folder`` may then hold part of the archive."""
    try:
        handle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ArchiveProblem("B001", "", f"not a zip archive, or cut short: {exc}") from None
    out: list[Extracted] = []
    with handle:
        infos = handle.infolist()
        _check(infos, limits)
        root = folder.resolve()
        for info in infos:
            if info.is_dir():
                continue
            target = (folder / PurePosixPath(info.filename)).resolve()
            if not target.is_relative_to(root):  # pragma: no cover - _name_problem stops it
                raise ArchiveProblem("B002", info.filename, "lands outside the folder")
            digest = hashlib.sha256()
            size = 0
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                sink_handle = open(target, "xb")  # noqa: SIM115 - closed below
            except OSError:  # a file where a folder is, or a name given as file and folder
                raise ArchiveProblem(
                    "B002",
                    info.filename,
                    f"entry {info.filename!r} collides with another entry of the archive "
                    "(a file and a folder of the same name)",
                ) from None
            try:
                with handle.open(info) as source, sink_handle as sink:
                    while block := source.read(_BLOCK):
                        size += len(block)
                        if size > info.file_size:
                            raise ArchiveProblem(
                                "B003",
                                info.filename,
                                f"entry {info.filename!r} inflates to more than the "
                                f"{info.file_size} bytes its header states: an archive bomb?",
                            )
                        digest.update(block)
                        sink.write(block)
            except zipfile.BadZipFile as exc:
                code = "B006" if "CRC" in str(exc) else "B001"
                raise ArchiveProblem(
                    code, info.filename, f"entry {info.filename!r}: {exc}"
                ) from None
            except (zlib.error, EOFError, OSError) as exc:
                raise ArchiveProblem(
                    "B001", info.filename, f"entry {info.filename!r} cannot be read: {exc}"
                ) from None
            out.append(Extracted(info.filename, size, digest.hexdigest()))
    return out
