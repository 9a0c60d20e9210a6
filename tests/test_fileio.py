"""Atomic writes keep readers whole and give files the modes users expect."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from amlas.fileio import atomic_write_bytes, atomic_write_text, atomic_write_tree


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask_022")
def test_a_new_file_is_readable_like_any_other(tmp_path: Path) -> None:
    # found in review: tempfile made every written file (monitor.json, reports) owner-only
    target = tmp_path / "out" / "report.html"
    atomic_write_text(target, "<html></html>")
    assert target.read_text() == "<html></html>"
    assert mode(target) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no temp left


@pytest.mark.usefixtures("umask_022")
def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "log.jsonl"
    target.write_text("old\n")
    target.chmod(0o600)
    atomic_write_bytes(target, b"new\n")
    assert target.read_bytes() == b"new\n"
    assert mode(target) == 0o600


@pytest.mark.usefixtures("umask_022")
def test_a_tree_gets_folder_and_file_modes(tmp_path: Path) -> None:
    target = tmp_path / "safety-case"
    atomic_write_tree(target, {"case.json": "{}", "svg/stage1.svg": b"<svg/>"})
    assert mode(target) == 0o755
    assert mode(target / "case.json") == 0o644
    assert mode(target / "svg" / "stage1.svg") == 0o644
    assert (target / "svg" / "stage1.svg").read_bytes() == b"<svg/>"


def test_a_failed_tree_write_leaves_the_old_tree(tmp_path: Path) -> None:
    target = tmp_path / "safety-case"
    atomic_write_tree(target, {"case.json": "old"})
    with pytest.raises(ValueError, match="leaves the output folder"):
        atomic_write_tree(target, {"case.json": "new", "../escape": "x"})
    assert (target / "case.json").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["safety-case"]
