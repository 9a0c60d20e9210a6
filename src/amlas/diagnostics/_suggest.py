"""'Did you mean' suggestions for misspelt keys, IDs and values."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean", "suggest"]


def suggest(word: str, candidates: Iterable[str], *, n: int = 3) -> list[str]:
    """Return up to ``n`` candidates close to ``word``, best first (case-insensitive)."""
    pool = sorted({str(c) for c in candidates})
    by_lower: dict[str, str] = {}
    for c in pool:
        by_lower.setdefault(c.lower(), c)
    matches = difflib.get_close_matches(str(word).lower(), list(by_lower), n=n, cutoff=0.6)
    return [by_lower[m] for m in matches]


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A hint like ``did you mean 'recall'?``, or ``None`` when nothing is close."""
    found = suggest(word, candidates)
    if not found:
        return None
    if len(found) == 1:
        return f"did you mean {found[0]!r}?"
    return "did you mean " + " or ".join(repr(f) for f in found) + "?"
