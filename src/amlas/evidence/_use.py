"""A store given either way: by URI (opened here, closed after) or already open (the
caller's: left open). The Python API takes both, so a notebook can keep one store, say
``memory://`` , across a run and the case built from it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from amlas.evidence._store import EvidenceStore, open_store

__all__ = ["StoreLike", "store_uri", "using_store"]

StoreLike = str | EvidenceStore
"""A store URI (``fs://evidence``, ``sqlite:///e.db``, ``memory://name``) or an open store."""


@contextlib.contextmanager
def using_store(store: StoreLike, *, root: str | Path) -> Iterator[EvidenceStore]:
    """The store ``store`` names, open for the ``with`` block; an open store is used as
    it is and stays open afterwards."""
    if isinstance(store, str):
        with open_store(store, root=root) as opened:
            yield opened
    else:
        yield store


def store_uri(store: StoreLike) -> str:
    return store if isinstance(store, str) else store.uri
