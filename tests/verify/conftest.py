"""Fixtures shared by the tests of runs that read datasets in chunks."""

from __future__ import annotations

import pytest

from amlas.verify import RunContext
from amlas.verify import _stream as stream_module
from amlas.verify._context import Streamed


@pytest.fixture
def chunked(monkeypatch: pytest.MonkeyPatch) -> list[Streamed]:
    """Every chunked read of the test, and a run that reads a dataset whole fails."""
    seen: list[Streamed] = []
    original = stream_module.stream_dataset

    def spy(context: RunContext, letter: str) -> Streamed:
        out = original(context, letter)
        seen.append(out)
        return out

    monkeypatch.setattr(stream_module, "stream_dataset", spy)
    return seen
