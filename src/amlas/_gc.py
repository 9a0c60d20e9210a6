"""The cyclic garbage collector paused while a case is built or written out.

Why: a case of 1,000 ML safety requirements makes some 125,000 objects (nodes, records,
their parsed models) that all live until the call returns. Each time the collector's
oldest generation grows by a quarter it walks every object of the process, the imported
modules' too: at that scale those walks were about a fifth of ``build_case`` and a tenth
of the report, and found almost nothing to free (some 20 objects). Reference counting
still frees everything else at once; cyclic garbage made meanwhile waits until the pause
ends.

The pause nests and is shared by threads: the collector is switched back on when the
last pause ends, if it was on when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]

_LOCK = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic collection inside the block (see the module doc for why)."""
    global _depth, _was_enabled
    with _LOCK:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _LOCK:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
