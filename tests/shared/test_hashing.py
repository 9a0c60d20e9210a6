from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from amlas import check_project, hashing
from amlas.hashing import HashCache, sha256_bytes, sha256_file, sha256_tree


def test_file_and_tree_hashes(tmp_path: Path) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.txt").write_bytes(b"a")
    (tmp_path / "d" / "sub" / "b.txt").write_bytes(b"b")
    assert sha256_file(tmp_path / "d" / "a.txt") == sha256_bytes(b"a")
    first = sha256_tree(tmp_path / "d")
    (tmp_path / "d" / "sub" / "b.txt").write_bytes(b"c")
    assert sha256_tree(tmp_path / "d") != first


def test_cache_reuses_unchanged_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "x.csv"
    data.write_bytes(b"1,2\n")
    calls: list[Path] = []
    real = hashing.sha256_file

    def counting(path: str | Path) -> str:
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(hashing, "sha256_file", counting)
    cache = HashCache(tmp_path / ".amlas" / "hashes.json")
    assert cache.sha256(data) == sha256_bytes(b"1,2\n")
    cache.save()
    again = HashCache(tmp_path / ".amlas" / "hashes.json")
    assert again.sha256(data) == sha256_bytes(b"1,2\n")
    assert len(calls) == 1


def test_edit_that_keeps_size_and_mtime_is_still_detected(project: Path) -> None:
    assert not check_project(project).diagnostics.has_errors  # fills the cache
    target = project / "data" / "verif.csv"
    before = target.stat()
    content = target.read_bytes()
    target.write_bytes(content.replace(b"positive", b"negativ_", 1))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert target.stat().st_size == before.st_size
    assert "D005" in check_project(project).diagnostics.codes()


def test_corrupt_cache_is_ignored(project: Path) -> None:
    cache = project / ".amlas" / "hashes.json"
    cache.parent.mkdir()
    cache.write_text("{not json")
    assert not check_project(project).diagnostics.has_errors
    assert cache.read_text().startswith('{"entries"')


def test_cache_with_foreign_entries_is_ignored(project: Path) -> None:
    cache = project / ".amlas" / "hashes.json"
    cache.parent.mkdir()
    target = str((project / "data" / "dev.csv").resolve())
    cache.write_text(json.dumps({"version": 1, "entries": {target: "x", "other": [1]}}))
    assert not check_project(project).diagnostics.has_errors
