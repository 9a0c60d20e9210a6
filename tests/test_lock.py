"""The lock files agree with pyproject.toml (tools/lock.py --check, run by `make test`)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from conftest import REPO


def _lock_tool(root: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("amlas_lock_tool", REPO / "tools" / "lock.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.ROOT = root
    module.LOCK_DIR = root / "requirements"
    return module


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "requirements", tmp_path / "requirements")
    return tmp_path


def test_the_committed_locks_agree_with_pyproject() -> None:
    assert _lock_tool(REPO).check(["demo", "test"]) == []


def test_every_lock_pins_torch_to_the_local_cpu_build() -> None:
    tool = _lock_tool(REPO)
    for name in ("demo", "test"):
        assert tool.pins(tool.lock_path(name))["torch"] == "2.13.0+cpu"
        text = tool.lock_path(name).read_text(encoding="utf-8")
        assert "nvidia" not in text, f"{name}.lock pulls CUDA packages"


def test_every_pin_carries_a_hash() -> None:
    for name in ("demo", "test"):
        blocks = (REPO / "requirements" / f"{name}.lock").read_text(encoding="utf-8")
        for block in blocks.split("\n"):
            if "==" in block and not block.startswith(("#", " ")):
                assert block.rstrip().endswith("\\"), f"{name}.lock: no hash for {block}"


def test_a_dependency_edit_without_relocking_is_found(copy: Path) -> None:
    pyproject = copy / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace('"pyyaml>=6.0"', '"pyyaml>=99"'),
        encoding="utf-8",
    )
    problems = _lock_tool(copy).check(["demo", "test"])
    assert any("resolved from other inputs" in p for p in problems)
    assert any("pyyaml" in p.lower() and "does not satisfy" in p for p in problems)


def test_a_new_dependency_without_relocking_is_found(copy: Path) -> None:
    pyproject = copy / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace(
            '"jinja2>=3.1",', '"jinja2>=3.1",\n    "tabulate>=0.9",'
        ),
        encoding="utf-8",
    )
    problems = _lock_tool(copy).check(["test"])
    assert any("'tabulate>=0.9' (pyproject.toml) is not locked" in p for p in problems)


def test_a_hand_edited_lock_is_found(copy: Path) -> None:
    lock = copy / "requirements" / "test.lock"
    lines = lock.read_text(encoding="utf-8").split("\n")
    lock.write_text("\n".join(lines[1:]), encoding="utf-8")
    assert any("no inputs digest" in p for p in _lock_tool(copy).check(["test"]))


def test_the_two_locks_pin_shared_packages_alike(copy: Path) -> None:
    lock = copy / "requirements" / "demo.lock"
    text = lock.read_text(encoding="utf-8")
    pinned = _lock_tool(copy).pins(lock)["numpy"]
    lock.write_text(text.replace(f"numpy=={pinned}", "numpy==1.0.0", 1), encoding="utf-8")
    problems = _lock_tool(copy).check(["demo", "test"])
    assert any("numpy==" in p and "requirements/test.lock pins" in p for p in problems), problems
