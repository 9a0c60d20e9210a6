"""``amlas case``, ``report`` and ``gate``: files written, exit statuses, no traceback."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from amlas.render import validate_gsn2x_files
from cli_helpers import run
from factory import documents
from runnable import runnable

pytestmark = pytest.mark.usefixtures("fresh_model")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return runnable(tmp_path / "mini")


def test_case_writes_every_output(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "run", str(root))
    assert code == 1  # the mini data fail DR-2 and independence: a result, not an error
    sys.modules.pop("mini_model", None)
    code, out, err = run(capsys, "case", str(root))
    assert code == 0, err
    target = root / "safety-case"
    assert f"safety case written to {target}/" in out
    assert "G1.1" in out
    assert "G004" in err  # J4.1 has no rationale
    model = json.loads((target / "case.json").read_text())
    assert model["schema"] == "amlas.case/1"
    assert model["status"] == "failed"
    ids = [n["id"] for n in model["nodes"]]
    assert "G5.1.MLR-1" in ids
    assert (target / "case.md").read_text().startswith("## Safety case: mini: G1.1 is **FAILED**")
    junit = ET.fromstring((target / "case.junit.xml").read_text())
    assert int(junit.get("tests", "0")) > 0
    assert int(junit.get("failures", "0")) > 0
    assert validate_gsn2x_files([target / "gsn" / "index.gsn.yaml"]) == []
    svgs = sorted(p.relative_to(target).as_posix() for p in (target / "svg").rglob("*.svg"))
    assert "svg/case.svg" in svgs
    assert "svg/stage5.svg" in svgs
    assert ET.fromstring((target / "svg" / "stage1.svg").read_text()).tag.endswith("svg")


def test_case_output_folder_is_replaced_whole(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, _, err = run(capsys, "case", str(root), "--out", str(out))
    assert code == 0, err
    assert (out / "svg" / "case.svg").is_file()
    # amlas's own files of an earlier build go; files of anyone else stop it (issue 12,
    # tests/cli/test_outputs.py)
    code, _, err = run(capsys, "case", str(root), "--out", str(out), "--no-svg")
    assert code == 0, err
    assert not (out / "svg").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_case_prints_the_chosen_format(
    root: Path, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "case", str(root), "--no-svg", "--format", fmt)
    assert code == 0
    if fmt == "json":
        assert json.loads(out)["root"] == "G1.1"
    else:
        assert out.startswith("## Safety case")


def test_project_with_errors_writes_no_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = documents()
    docs["H"]["requirements"][0]["kind"] = "speed"
    root = runnable(tmp_path / "bad", docs)
    code, out, err = run(capsys, "case", str(root))
    assert code == 1
    assert "H-ml-safety-requirements.yaml:" in out
    assert "'speed'" in out
    assert "no safety case was written" in err
    assert not (root / "safety-case").exists()
    code, _, _ = run(capsys, "report", str(root))
    assert code == 1
    assert not (root / "safety-case").exists()


def test_missing_directory_and_bad_library(
    tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "case", str(tmp_path / "nowhere"))
    assert code == 2
    assert "does not exist" in err
    code, _, err = run(capsys, "case", str(root), "--library", "amlas-9")
    assert code == 2
    assert "no pattern library 'amlas-9'" in err
    broken = tmp_path / "lib"
    broken.mkdir()
    (broken / "library.yaml").write_text("library: x\ntitle: t\nroot: G1\nmodules: [s.yaml]\n")
    (broken / "s.yaml").write_text(
        "module: s\nstage: 1\ntitle: t\npattern: F\nargument: G\nroot: G1\n"
        "nodes:\n  - {id: G1, type: goal, text: t, supported_by: [S9]}\n"
    )
    code, _, err = run(capsys, "case", str(root), "--library", str(broken))
    assert code == 2
    assert "supported_by names unknown node 'S9'" in err


def test_report_is_one_offline_file(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "report", str(root))
    assert code == 0, err
    report = root / "safety-case" / "report.html"
    assert f"report written to {report}" in out
    html = report.read_text()
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "G1.1" in html
    assert "<script src=" not in html
    assert '<link rel="stylesheet"' not in html


def test_gate_shut_then_open_with_a_policy(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "gate", str(root))
    assert code == 1
    assert "gate shut: G1.1 is undeveloped" in out
    assert "Sn5.2.MLR-1" in out
    code, out, _ = run(capsys, "gate", str(root), "--allow-undeveloped", "*")
    assert code == 0
    assert "gate open: G1.1 is supported" in out
    assert "accepted undeveloped G6.7: allowed on the command line" in out


def test_gate_policy_from_the_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = documents()
    docs["manifest"]["case"] = {
        "allow_undeveloped": [{"node": "*", "reason": "dry run before any evidence"}]
    }
    root = runnable(tmp_path / "mini", docs)
    code, out, _ = run(capsys, "gate", str(root))
    assert code == 0
    assert "dry run before any evidence" in out


def test_gate_policy_errors_are_located(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = documents()
    docs["manifest"]["case"] = {"allow_undeveloped": [{"node": "G6.7"}]}
    root = runnable(tmp_path / "mini", docs)
    code, out, _ = run(capsys, "gate", str(root))
    assert code == 1
    assert "amlas.yaml:" in out
    assert "reason" in out
    assert yaml.safe_load((root / "amlas.yaml").read_text())["case"]
