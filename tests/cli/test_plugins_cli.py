"""``amlas plugins`` (src/amlas/cli/_plugins.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import amlas.cli._plugins
from amlas.plugins import GROUPS, Registry, registry
from cli_helpers import run


def test_lists_every_group_with_package_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "plugins")
    assert (code, err) == (0, "")
    for group in GROUPS:
        assert group in out
    assert "amlas.stores (evidence store): 3" in out
    assert "memory" in out
    assert "amlas.evidence._memory:BACKEND" in out
    assert "amlas 0.1.0" in out


def test_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plugins", "--format", "json", "--group", "amlas.models")
    assert code == 0
    rows = json.loads(out)["plugins"]
    assert {r["name"] for r in rows} == set(registry("amlas.models").names())
    assert {(r["group"], r["distribution"], r["status"]) for r in rows} == {
        ("amlas.models", "amlas", "ok")
    }


def test_a_broken_plugin_is_shown_with_its_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = tmp_path / "broken_thing-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-thing\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[amlas.stores]\ns3 = no_such_module_xyz:BACKEND\n")
    broken = Registry("amlas.stores", path=[str(tmp_path)])
    monkeypatch.setattr(amlas.cli._plugins, "registry", lambda group: broken)
    code, out, _ = run(capsys, "plugins", "--group", "amlas.stores")
    assert code == 1
    assert "s3" in out
    assert "broken-thing 1.0" in out
    assert "S009" in out
    assert "'s3 = no_such_module_xyz:BACKEND'" in out
