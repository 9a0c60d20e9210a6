"""Project-relative paths, checked before anything touches the file system with them."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Literal

__all__ = ["path_problem", "probe"]

Kind = Literal["file", "directory", "missing", "special"]


def path_problem(root: Path, relative: str) -> str | None:
    """Why ``relative`` cannot name a place inside the project ``root``, or None.

    Rejects NUL bytes, absolute paths, '..' escapes, symlinks pointing out, symlink loops
    and names the operating system refuses.
    """
    if "\0" in relative:
        return "contains a NUL byte"
    if Path(relative).is_absolute():
        return "is absolute; use a path relative to the project directory"
    try:
        (root / relative).resolve().relative_to(root.resolve())
    except ValueError:
        return "leaves the project directory"
    except (OSError, RuntimeError) as exc:  # symlink loops, names too long
        return f"cannot be resolved ({_reason(exc)})"
    return None


def probe(path: Path) -> Kind | str:
    """What is at ``path``: 'file', 'directory', 'missing', 'special' (FIFO, socket,
    device: never opened, a FIFO would block), or the reason it cannot be inspected."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "missing"
    except (OSError, RuntimeError, ValueError) as exc:
        return f"cannot be inspected ({_reason(exc)})"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    return "special"


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
