"""Atomic writes and output folders (a shared leaf): a reader sees the old or the new, never half.

Files: write to a temporary file in the same folder, flush and fsync it, then
``os.replace`` it over the target, which is atomic on POSIX and Windows.

Folders (:func:`atomic_write_tree`): the new tree is written beside the target, then
swapped in. On Linux the swap is one ``renameat2(RENAME_EXCHANGE)``, so a complete folder
(old or new) is in place at every instant, even if the process is killed. Elsewhere (or
on a file system without it) the old folder is renamed aside and the new one renamed in:
a process killed between the two renames leaves the old folder aside and none in place,
and the next write to that folder (or :func:`clean_stale_temps`) renames it back first.

Temporary names are recognisable: ``.<name>.amlas-<pid>-<random>.tmp`` (a file or a
staging folder) and ``.<name>.amlas-<pid>-<random>.old`` (a folder set aside). A temporary
is *stale* when the process that made it is gone (or it is a day old); stale temporaries
are removed by the next write beside them, by :func:`clean_stale_temps` (the evidence
store calls it when a run starts) and when an output folder is replaced. The names of
earlier releases (``.<name>.<8 random>.tmp``, ``.<name>.<pid>.old``) are recognised too.

Output folders (:func:`write_output_folder`): a folder amlas generates (``amlas case``'s
``safety-case/``) holds a marker, :data:`OUTPUT_MARKER`, naming the command, the amlas
version and every file amlas wrote there with the command that wrote it. Such a folder is
replaced only when it is new, empty, or marked and holding nothing but the files its
marker lists; never when it holds anything else (a project, data, a note), and never
when it is, contains or lies inside one of the ``protected`` paths. A refusal raises
:class:`OutputRefused` before anything is touched. :func:`register_output_file` records
a file another command (``amlas report``) writes into such a folder; ``earlier`` lets a
caller recognise an unmarked folder an earlier release wrote.

Permissions: ``tempfile`` creates files 0600 and folders 0700; the written file instead
keeps the mode of the file it replaces, or gets the usual mode for a new file (0666, and
folders 0777, less the process umask), so a report or a safety case is as readable as
any file the user writes. Secrets (verifier keys) are written elsewhere, owner-only.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from amlas.errors import ProblemError

__all__ = [
    "OUTPUT_MARKER",
    "OutputMarker",
    "OutputRefused",
    "atomic_stream",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_tree",
    "check_output_file",
    "check_output_folder",
    "clean_stale_temps",
    "read_output_marker",
    "register_output_file",
    "write_output_folder",
]

OUTPUT_MARKER = ".amlas-output"
"""The marker file amlas writes into every output folder it generates."""
MARKER_FORMAT = "amlas.output/1"
STALE_AFTER = 24 * 3600.0
"""Seconds after which a temporary is stale even if a process with its pid is alive
(pids are reused)."""

_TEMP = re.compile(r"^\.(?P<name>.+)\.amlas-(?P<pid>\d+)-[A-Za-z0-9_]+\.(?P<kind>tmp|old)$")
_LEGACY_TMP = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")  # tempfile's 8 letters
_LEGACY_OLD = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.old$")


class OutputRefused(ProblemError):
    """An output folder or file was not replaced: it is, holds or lies inside something
    amlas did not write. ``code`` is the diagnostic code (F010 a project path, F011 files
    amlas did not write); ``path`` the output; ``foreign`` the offending names."""

    def __init__(self, code: str, path: Path, reason: str, foreign: Iterable[str] = ()) -> None:
        super().__init__(f"{path}: {reason}", code=code, path=path)
        self.code = code
        self.path = path
        self.reason = reason
        self.foreign = tuple(foreign)


# -- temporaries -------------------------------------------------------------------------------


def _temp_prefix(name: str) -> str:
    return f".{name}.amlas-{os.getpid()}-"


def _alive(pid: int) -> bool:
    if pid == os.getpid() or os.name != "posix":
        return True  # on Windows os.kill(pid, 0) would end the process: age decides there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, OSError):
        return True  # someone else's process, or a pid we cannot ask about: assume alive
    return True


def _parse_temp(path: Path) -> tuple[str, str, bool] | None:
    """``(target name, 'tmp' | 'old', stale)`` for an amlas temporary, else None."""
    match = _TEMP.match(path.name) or _LEGACY_OLD.match(path.name)
    legacy = None if match else _LEGACY_TMP.match(path.name)
    if not match and not legacy:
        return None
    try:
        old = time.time() - path.lstat().st_mtime > STALE_AFTER
    except OSError:
        return None
    if match:
        kind = match.groupdict().get("kind") or "old"
        return match["name"], kind, old or not _alive(int(match["pid"]))
    assert legacy is not None
    return legacy["name"], "tmp", old  # no pid to ask about: age only


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return 0.0


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def clean_stale_temps(
    folder: str | Path, *, name: str | None = None, recursive: bool = False
) -> list[Path]:
    """Remove the stale amlas temporaries in ``folder`` (only of target ``name`` when
    given; in subfolders too when ``recursive``), and return them.

    A folder set aside by a swap that was killed before its second rename (a stale
    ``.old`` whose target is missing) is renamed back into place instead: the newest one
    if there are several. Nothing else is touched; a missing folder is fine.
    """
    base = Path(folder)
    folders = [base]
    if recursive:
        folders = [Path(d) for d, _, _ in os.walk(base)]
    removed: list[Path] = []
    for where in folders:
        try:
            entries = sorted(where.iterdir())
        except OSError:
            continue
        stale: list[tuple[Path, str, str]] = []
        for entry in entries:
            parsed = _parse_temp(entry)
            if parsed and parsed[2] and (name is None or parsed[0] == name):
                stale.append((entry, parsed[0], parsed[1]))
        asides = sorted(
            ((e, n) for e, n, kind in stale if kind == "old"),
            key=lambda item: _mtime(item[0]),
            reverse=True,
        )
        for entry, target_name in asides:
            target = where / target_name
            if not target.exists() and not target.is_symlink():
                with contextlib.suppress(FileNotFoundError):  # another process was first
                    os.replace(entry, target)  # the old folder, complete: back into place
        for entry, _, _ in stale:
            if entry.exists() or entry.is_symlink():
                _remove(entry)
                removed.append(entry)
    return removed


# -- files -------------------------------------------------------------------------------------


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


@contextlib.contextmanager
def atomic_stream(path: str | Path) -> Iterator[BinaryIO]:
    """A file to write ``path`` through, in pieces (a file larger than memory): it
    replaces ``path`` atomically when the block ends without an exception (stale
    temporaries of an earlier write of the same file are removed afterwards); otherwise
    ``path`` is untouched and the temporary file removed."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(target)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target.name), suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        clean_stale_temps(target.parent, name=target.name)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Replace the file ``path`` by ``data`` atomically; stale temporaries of an earlier
    write of the same file are removed afterwards."""
    with atomic_stream(path) as handle:
        handle.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 text with '\\n' line endings, atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


# -- folders -----------------------------------------------------------------------------------

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap the entries ``a`` and ``b`` in one atomic step; False where the system or the
    file system cannot (then nothing happened)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(error, os.strerror(error), str(a), None, str(b))


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_tree(path: str | Path, files: Mapping[str, str | bytes]) -> None:
    """Replace the folder ``path`` by one holding exactly ``files`` (relative name ->
    content; str is written as UTF-8). Names must stay inside the folder.

    The new tree is written beside it and swapped in (see the module doc): a reader sees
    the old tree or the new one; an interrupted write leaves the old tree (at worst set
    aside, and put back by the next write). This replaces whatever is at ``path``: use
    :func:`write_output_folder` for a folder a user names.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(target.parent, name=target.name)
    folder_mode = _mode_for(target, folder=True)
    file_mode = 0o666 & ~_umask()
    staging = Path(
        tempfile.mkdtemp(prefix=_temp_prefix(target.name), suffix=".tmp", dir=target.parent)
    )
    aside = staging.with_name(staging.name.removesuffix(".tmp") + ".old")
    try:
        os.chmod(staging, folder_mode)
        for name, content in files.items():
            relative = Path(name)
            if relative.is_absolute() or ".." in relative.parts or not relative.parts:
                raise ValueError(f"file name {name!r} leaves the output folder")
            file = staging / relative
            file.parent.mkdir(parents=True, exist_ok=True)
            data = content.encode("utf-8") if isinstance(content, str) else content
            with open(file, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(file, file_mode)
        _fsync_folder(staging)
        if not (target.exists() or target.is_symlink()):
            os.replace(staging, target)
        elif not _exchange(staging, target):  # no atomic swap here: two renames
            os.replace(target, aside)
            os.replace(staging, target)
        _fsync_folder(target.parent)
    except BaseException:
        if aside.exists() and not target.exists():
            os.replace(aside, target)
        _remove(staging)
        raise
    # The old tree is now under the staging name (exchange) or aside (two renames). An
    # aside is renamed to a .tmp name before it is deleted: a kill while deleting it must
    # never leave a partial tree that a later recovery would put back.
    if aside.exists():
        os.replace(aside, staging)
    _remove(staging)


# -- output folders ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputMarker:
    """The content of :data:`OUTPUT_MARKER`: who made the folder and who wrote each file."""

    command: str
    version: str
    files: Mapping[str, str]
    """Relative name (POSIX) -> the command that wrote it (``amlas case``, ``amlas report``)."""

    def to_json(self) -> str:
        payload = {
            "command": self.command,
            "files": dict(sorted(self.files.items())),
            "format": MARKER_FORMAT,
            "note": "written by amlas: this folder is regenerated; files amlas did not write "
            "here stop it from being replaced",
            "version": self.version,
        }
        return json.dumps(payload, indent=2, sort_keys=True) + "\n"


def read_output_marker(folder: str | Path) -> OutputMarker | None:
    """The marker of ``folder``, or None when it has none or it cannot be read."""
    try:
        payload = json.loads((Path(folder) / OUTPUT_MARKER).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(payload, dict) or payload.get("format") != MARKER_FORMAT:
        return None
    files = payload.get("files")
    command, version = payload.get("command"), payload.get("version")
    if not isinstance(files, dict) or not isinstance(command, str) or not isinstance(version, str):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        return None
    return OutputMarker(command, version, files)


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _check_protected(out: Path, protected: Iterable[Path], project: Path | None) -> None:
    where = _resolved(out)
    if project is not None:
        root = _resolved(project)
        if where == root:
            raise OutputRefused("F010", out, "is the project folder; choose a folder of its own")
        if where in root.parents:
            raise OutputRefused(
                "F010", out, f"contains the project {project}; choose a folder of its own"
            )
    for path in protected:
        guarded = _resolved(path)
        if where == guarded:
            raise OutputRefused("F010", out, f"is the project's {path}; choose another output")
        if where in guarded.parents:
            raise OutputRefused(
                "F010", out, f"contains the project's {path}; choose a folder of its own"
            )
        if guarded in where.parents:
            raise OutputRefused("F010", out, f"lies inside the project's {path}")


def _recover(folder: Path) -> None:
    """Put back ``folder`` if a killed swap left it set aside; drop its stale temporaries."""
    if folder.parent.is_dir():
        clean_stale_temps(folder.parent, name=folder.name)


def _live(entry: Path) -> bool:
    """Not one of amlas's stale temporaries."""
    parsed = _parse_temp(entry)
    return not (parsed and parsed[2])


def _top_level(folder: Path) -> list[str]:
    return sorted(e.name for e in folder.iterdir() if _live(e))


def _listing(folder: Path) -> list[str]:
    """Every entry under ``folder`` that is not a folder (symlinks included), as POSIX
    relative names; amlas's stale temporaries left out."""
    found: list[str] = []
    for directory, folders, names in os.walk(folder):
        here = Path(directory)
        folders[:] = [f for f in folders if _live(here / f)]
        for name in names + [f for f in folders if (here / f).is_symlink()]:
            entry = here / name
            if _live(entry):
                found.append(entry.relative_to(folder).as_posix())
    return sorted(found)


def _shown(names: Iterable[str]) -> str:
    names = list(names)
    return ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")


Earlier = Callable[[Path], Mapping[str, str] | None]
"""Recognises an unmarked folder an earlier amlas release wrote: its files and writers."""


def check_output_folder(
    path: str | Path,
    *,
    project: Path | None = None,
    protected: Iterable[Path] = (),
    earlier: Earlier | None = None,
) -> OutputMarker | None:
    """Raise :class:`OutputRefused` unless amlas may replace the folder ``path`` (see the
    module doc): it must not be the ``project`` folder or contain it, nor be, contain or
    lie inside a ``protected`` path. A folder a killed swap set aside is put back first.
    An unmarked folder is replaced when ``earlier`` recognises it (releases before the
    marker). Returns its marker (None for a new or empty folder)."""
    out = Path(path)
    _check_protected(out, protected, project)
    _recover(out)
    if out.is_symlink():
        raise OutputRefused("F011", out, "is a symbolic link; name the folder itself")
    if not out.exists():
        return None
    if not out.is_dir():
        raise OutputRefused("F011", out, "is a file, not an output folder")
    top = _top_level(out)
    if not top:
        return None
    marker = read_output_marker(out)
    if marker is None and earlier is not None and (files := earlier(out)) is not None:
        marker = OutputMarker("", "", files)
    if marker is None:
        raise OutputRefused(
            "F011",
            out,
            f"holds files amlas did not write ({_shown(top)}) and no readable "
            f"{OUTPUT_MARKER} marker; choose a new or empty folder, or move them away",
            top,
        )
    foreign = [n for n in _listing(out) if n != OUTPUT_MARKER and n not in marker.files]
    if foreign:
        raise OutputRefused(
            "F011",
            out,
            f"holds files amlas did not write ({_shown(foreign)}); move them out of the "
            "output folder, which is replaced as a whole",
            foreign,
        )
    return marker


def write_output_folder(
    path: str | Path,
    files: Mapping[str, str | bytes],
    *,
    command: str,
    version: str,
    writers: Mapping[str, str] | None = None,
    project: Path | None = None,
    protected: Iterable[Path] = (),
    earlier: Earlier | None = None,
) -> None:
    """Replace the output folder ``path`` by ``files`` plus a marker naming ``command``
    and ``version``; ``writers`` names the command of files another command wrote
    (default: ``command``). Refuses (:class:`OutputRefused`, nothing touched) what
    :func:`check_output_folder` refuses."""
    out = Path(path)
    if OUTPUT_MARKER in files:
        raise ValueError(f"{OUTPUT_MARKER} is written by write_output_folder itself")
    check_output_folder(out, project=project, protected=protected, earlier=earlier)
    owners = {name: (writers or {}).get(name, command) for name in files}
    marker = OutputMarker(command, version, owners)
    atomic_write_tree(out, {**files, OUTPUT_MARKER: marker.to_json()})


def check_output_file(
    file: str | Path,
    *,
    command: str,
    signature: bytes | None,
    project: Path | None = None,
    protected: Iterable[Path] = (),
) -> None:
    """Raise :class:`OutputRefused` unless ``command`` may write ``file``: it must not be,
    hold or lie inside the ``project`` folder's protected paths, nor be the project folder
    or an output marker; an existing file is replaced only when its folder's marker lists
    it as written by ``command`` or its first 4 KiB hold ``signature`` (what ``command``
    writes into every such file, and nobody else's: a format's magic number would not do;
    ``None`` when there is no such mark, e.g. a PDF)."""
    target = Path(file)
    _check_protected(target, protected, project)
    _recover(target.parent)
    if target.name == OUTPUT_MARKER:
        raise OutputRefused("F011", target, "is an output folder's marker")
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise OutputRefused("F011", target, "is not a plain file; name a file to write")
    if not target.exists():
        return
    owner = _owner(target)
    if owner is not None and owner[1].files.get(owner[2]) == command:
        return
    head = b""
    if signature is not None:
        try:
            with open(target, "rb") as handle:
                head = handle.read(4096)
        except OSError as error:
            raise OutputRefused("F011", target, f"cannot be read ({error.strerror})") from None
    if signature is None or signature not in head:
        raise OutputRefused(
            "F011",
            target,
            f"exists and was not written by {command}; remove it or name another file",
            [target.name],
        )


def _owner(target: Path) -> tuple[Path, OutputMarker, str] | None:
    """The nearest output folder above ``target``: its path, marker and the name of
    ``target`` in it; None when the nearest marker is unreadable or there is none."""
    for folder in target.parents:
        if (folder / OUTPUT_MARKER).is_file():
            marker = read_output_marker(folder)
            return (
                None if marker is None else (folder, marker, target.relative_to(folder).as_posix())
            )
    return None


def register_output_file(file: str | Path, *, command: str, version: str) -> bool:
    """Before ``command`` writes ``file``: record it in the marker of the output folder it
    lies in, or make its folder one when that is new or empty, so that the command that
    replaces the folder knows who wrote it. Returns whether it did; a folder of the
    user's (unmarked and not empty) is left alone. Call :func:`check_output_file` first."""
    target = Path(file)
    _recover(target.parent)
    owner = _owner(target)
    if owner is not None:
        folder, marker, name = owner
        if marker.files.get(name) == command:
            return True
        files = {**marker.files, name: command}
        marker = OutputMarker(marker.command, marker.version, files)
    else:
        folder, name = target.parent, target.name
        if folder.is_dir() and _top_level(folder):
            return False
        marker = OutputMarker(command, version, {name: command})
    atomic_write_text(folder / OUTPUT_MARKER, marker.to_json())
    return True
