"""What the tests of runs that read datasets in chunks share: a spy on the chunked read
(a plain function, wrapped in a fixture by each test module: a conftest.py here would
shadow ``tests/conftest.py`` for the modules that import from it by name)."""

from __future__ import annotations

import pytest

from amlas.verify import RunContext
from amlas.verify import _stream as stream_module
from amlas.verify._context import Streamed


def spy_on_chunked_reads(monkeypatch: pytest.MonkeyPatch) -> list[Streamed]:
    """Every chunked read of the test, in order, as the run makes them."""
    seen: list[Streamed] = []
    original = stream_module.stream_dataset

    def spy(context: RunContext, letter: str) -> Streamed:
        out = original(context, letter)
        seen.append(out)
        return out

    monkeypatch.setattr(stream_module, "stream_dataset", spy)
    return seen
