"""Random input never crashes the loader or the rules (Hypothesis)."""

from __future__ import annotations

import copy
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amlas import check_project
from amlas.project import ARTEFACTS
from factory import documents, dump, write_project

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["MLR-1", "ALR-1", "SSR-1", "HAZ-1", "size", "recall", "TODO", "N", "P"]),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=12,
)


class _Project:
    """One base project on disk, reused across examples (files are rewritten per example)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="amlas-fuzz-"))
        self.root = write_project(self.dir / "p")

    def with_file(self, letter: str, content: str | bytes) -> Path:
        relative = "amlas.yaml" if letter == "manifest" else ARTEFACTS[letter].default_path
        path = self.root / relative
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return self.root

    def reset(self) -> None:
        shutil.rmtree(self.dir / "p")
        self.root = write_project(self.dir / "p")


BASE = _Project()
LETTERS = st.sampled_from([*sorted(ARTEFACTS), "manifest"])


@_SETTINGS
@given(letter=LETTERS, text=st.text(max_size=300))
def test_random_text_never_crashes(letter: str, text: str) -> None:
    BASE.reset()
    result = check_project(BASE.with_file(letter, text))
    assert result.diagnostics.has_errors  # random text is never a valid artefact


@_SETTINGS
@given(letter=LETTERS, data=st.binary(max_size=200))
def test_random_bytes_never_crash(letter: str, data: bytes) -> None:
    BASE.reset()
    assert check_project(BASE.with_file(letter, data)).diagnostics.has_errors


@_SETTINGS
@given(letter=LETTERS, value=values)
def test_random_yaml_documents_never_crash(letter: str, value: Any) -> None:
    BASE.reset()
    text = yaml.safe_dump(value)
    result = check_project(BASE.with_file(letter, text))
    assert result.diagnostics.has_errors


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(value, dict):
        for key, element in value.items():
            found += _paths(element, (*at, key))
    elif isinstance(value, list):
        for i, element in enumerate(value):
            found += _paths(element, (*at, i))
    return found


@_SETTINGS
@given(letter=LETTERS, data=st.data(), replacement=values)
def test_one_value_replaced_anywhere_never_crashes(
    letter: str, data: st.DataObject, replacement: Any
) -> None:
    """Structure-aware fuzzing: take a valid artefact and replace one value at random."""
    docs = documents()
    target = copy.deepcopy(docs[letter])
    paths = [p for p in _paths(target) if p]
    path = data.draw(st.sampled_from(paths))
    holder = target
    for part in path[:-1]:
        holder = holder[part]
    holder[path[-1]] = replacement
    BASE.reset()
    check_project(BASE.with_file(letter, dump(target)))
