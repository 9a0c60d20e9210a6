"""Project-relative paths."""

from __future__ import annotations

from pathlib import Path

__all__ = ["inside"]


def inside(root: Path, relative: str) -> bool:
    """True when ``relative`` names a place inside ``root`` (no absolute paths, no '..'
    escapes, no symlinks pointing out)."""
    if Path(relative).is_absolute():
        return False
    try:
        (root / relative).resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True
