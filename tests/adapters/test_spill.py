"""Repeated values over chunks spilled to disk (``adapters/_spill.py``): exact, whatever the
hash does."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amlas.adapters import _spill as spill_module
from amlas.adapters._spill import fnv1a_text
from amlas.checks import RepeatedValues


def test_the_hash_does_not_depend_on_the_array_width() -> None:
    narrow = np.array(["ab", "c"], dtype="<U2")
    wide = np.array(["ab", "c", "a much longer id"], dtype=np.str_)
    assert fnv1a_text(narrow).tolist() == fnv1a_text(wide)[:2].tolist()
    assert len(set(fnv1a_text(np.array(["a", "a\0", "b", ""])).tolist())) >= 3


def _expected(chunks: list[list[str]]) -> list[tuple[str, int, int]]:
    flat = [v for chunk in chunks for v in chunk]
    out = []
    for value in dict.fromkeys(flat):
        count = flat.count(value)
        if count > 1:
            out.append((value, count, flat.index(value)))
    return out


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "id-1", "id-10", "é", "x" * 30]), max_size=8)))
def test_repeats_over_chunks_are_exact(chunks: list[list[str]]) -> None:
    with RepeatedValues(partitions=4) as repeats:
        start = 0
        for chunk in chunks:
            repeats.add(np.array(chunk, dtype=np.str_), start)
            start += len(chunk)
        found = [(r.value, r.count, r.first_row) for r in repeats.repeats()]
    assert found == _expected(chunks)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(["a", "b", "id-1", "id-10", "é", "x" * 30]), max_size=8)),
    st.sampled_from([1, 200, 1000, 1 << 20]),
)
def test_repeats_are_exact_whatever_is_held_in_memory(chunks: list[list[str]], buffer: int) -> None:
    """Partitions held in memory up to ``buffer`` bytes, some spilled and some not."""
    with RepeatedValues(partitions=4, buffer=buffer) as repeats:
        start = 0
        for chunk in chunks:
            repeats.add(np.array(chunk, dtype=np.str_), start)
            start += len(chunk)
        found = [(r.value, r.count, r.first_row) for r in repeats.repeats()]
    assert found == _expected(chunks)


def test_a_buffer_spills_one_file_per_partition_once_it_is_full() -> None:
    with RepeatedValues(partitions=4, buffer=1000) as repeats:
        repeats.add(np.array([f"id-{i}" for i in range(4)]), 0)  # 4 x (8 + 16 + 8) bytes
        assert not any(repeats._folder.iterdir())
        for start in range(4, 40, 4):
            repeats.add(np.array([f"id-{i}" for i in range(start, start + 4)]), start)
        files = sorted(p.name for p in repeats._folder.iterdir())
        assert files
        assert len(files) <= 4  # one spill: a file per partition
        repeats.add(np.array(["id-1"]), 40)
        assert [(r.value, r.count, r.first_row) for r in repeats.repeats()] == [("id-1", 2, 1)]


def test_a_hash_that_collides_everywhere_changes_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Equal hashes only put values in one partition; the values decide."""
    monkeypatch.setattr(spill_module, "fnv1a_text", lambda v: np.zeros(len(v), dtype=np.uint64))
    chunks = [["a", "b", "c"], ["d", "a"], ["e", "c", "c"]]
    with RepeatedValues() as repeats:
        start = 0
        for chunk in chunks:
            repeats.add(np.array(chunk, dtype=np.str_), start)
            start += len(chunk)
        found = [(r.value, r.count, r.first_row) for r in repeats.repeats()]
    assert found == [("a", 2, 0), ("c", 3, 2)]


def test_the_spilled_partitions_are_removed() -> None:
    with RepeatedValues() as repeats:
        repeats.add(np.array(["a", "a"]), 0)
        folder = repeats._folder
        assert any(folder.iterdir())
    assert not folder.exists()


def test_the_values_of_sealed_data_never_reach_the_disk_in_clear() -> None:
    with RepeatedValues(secret=True) as repeats:
        repeats.add(np.array(["SECRET-ID-1", "SECRET-ID-2", "SECRET-ID-1"]), 0)
        on_disk = b"".join(p.read_bytes() for p in repeats._folder.iterdir())
        assert "SECRET".encode("utf-32-le") not in on_disk
        assert b"S\0\0\0E\0\0\0C" not in on_disk
        assert [(r.value, r.count, r.first_row) for r in repeats.repeats()] == [
            ("SECRET-ID-1", 2, 0)
        ]
    with RepeatedValues() as plain:  # the test above can fail: in clear they are there
        plain.add(np.array(["SECRET-ID-1"]), 0)
        on_disk = b"".join(p.read_bytes() for p in plain._folder.iterdir())
        assert "SECRET".encode("utf-32-le") in on_disk
