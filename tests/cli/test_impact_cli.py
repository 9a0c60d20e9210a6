"""``amlas impact`` and ``amlas run --stale-only``: output, exit statuses, no traceback; and
the report marking stale claims.

Each test copies the repository of ``tests/evidence/test_impact.py``: the runnable mini
project committed in git and run by both roles, so its evidence starts current.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "verify"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evidence"))

from test_impact import build_template, change_mlr1, change_model, commit

from amlas.evidence import open_store
from cli_helpers import run as amlas
from report_fragments import expanded
from runnable import runnable

pytestmark = [
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git"),
    pytest.mark.usefixtures("fresh_model"),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("impact-cli"))


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template / "repo", tmp_path / "repo", symlinks=True)
    return tmp_path / "repo"


@pytest.fixture
def root(repo: Path) -> Path:
    return repo / "mini"


@pytest.fixture
def key_file(template: Path) -> Path:
    return template / "verifier.key"


def impact_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    status, out, _ = amlas(capsys, "impact", *argv, "--format", "json")
    return status, json.loads(out)


# -- amlas impact ------------------------------------------------------------------------------


def test_current_evidence_exits_0(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = amlas(capsys, "impact", str(root))
    assert status == 0
    assert "nothing to re-run" in out


def test_text_lists_records_checks_and_claims(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change_mlr1(root)
    status, out, _ = amlas(capsys, "impact", str(root))
    assert status == 1
    assert "stage4/MLR-1/O" in out
    assert "stage5/MLR-1/P" in out
    assert "requirement:MLR-1 (changed)" in out
    assert "G5.5.MLR-1" in out
    assert "stage4/MLR-2/O" not in out
    assert "stage5/MLR-2/P" not in out
    assert "Sn5.2.MLR-2" not in out
    assert "2 checks must run (2 stale)" in out
    assert f"amlas run {root} --stage 4 --stale-only" in out
    assert f"amlas run {root} --role verifier --key-file KEY --stage 5 --stale-only" in out


def test_json_for_ci(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    change_mlr1(root)
    status, payload = impact_json(capsys, str(root))
    assert status == payload["exit_code"] == 1
    assert payload["schema"] == "amlas.impact/1"
    assert [(c["key"], c["needs"], c["reason"]) for c in payload["checks"]] == [
        ("stage4/MLR-1/O", "developer", "stale"),
        ("stage5/MLR-1/P", "verifier", "stale"),
    ]
    assert [r["key"] for r in payload["stale"]] == ["stage4/MLR-1/O", "stage5/MLR-1/P"]
    stale = {c["id"] for c in payload["claims"] if c["status"] == "stale"}
    assert {"G5.5.MLR-1", "Sn5.2.MLR-1"} <= stale
    by_id = {c["id"]: c for c in payload["claims"]}
    assert by_id["Sn5.2.MLR-1"]["module"] == "stage5"
    assert by_id["Sn5.2.MLR-1"]["keys"] == ["stage5/MLR-1/P"]
    assert by_id["Sn5.2.MLR-1"]["reason"] == "1 evidence record: 1 stale"
    assert by_id["Sn5.2.MLR-1"]["notes"] == ["stage5/MLR-1/P stale: requirement:MLR-1 (changed)"]
    assert by_id["G1.1"]["notes"] == []


def test_markdown_marks_stale_claims(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    change_mlr1(root)
    status, out, _ = amlas(capsys, "impact", str(root), "--format", "markdown")
    assert status == 1
    assert "## Checks to run" in out
    assert "| 5 | verifier | `stage5/MLR-1/P` | stale |" in out
    assert "| G5.5.MLR-1 | stage5 | **STALE** |" in out


def test_since_an_older_commit(repo: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    change_model(root)
    commit(repo, "retrained model")
    status, payload = impact_json(capsys, str(root), "--since", "HEAD~1")
    assert status == 1
    assert payload["since"] == "HEAD~1"
    assert payload["changed_files"] == ["4-learning/V-model.yaml", "model/model.bin"]
    assert payload["changed_inputs"] == ["artefact:V", "model"]
    assert {c["key"] for c in payload["checks"]} == {
        f"stage{s}/MLR-{n}/{x}" for s, x in ((4, "O"), (5, "P")) for n in (1, 2)
    }
    assert amlas(capsys, "impact", str(root), "--since", "HEAD")[0] == 0


def test_a_bad_revision_exits_2(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = amlas(capsys, "impact", str(root), "--since", "no-such-rev")
    assert status == 2
    assert "'no-such-rev' names no commit" in err


def test_outside_git_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = runnable(tmp_path / "nogit")
    status, _, err = amlas(capsys, "impact", str(root), "--since", "HEAD~1")
    assert status == 2
    assert "not inside a git repository" in err


def test_project_errors_exit_1(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (root / "4-learning/V-model.yaml").write_text("artefact: V\nversion: [\n", encoding="utf-8")
    status, _, err = amlas(capsys, "impact", str(root))
    assert status == 1
    assert "the project has errors" in err


# -- amlas run --stale-only ----------------------------------------------------------------------


def run_keys(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    status, out, _ = amlas(capsys, "run", *argv, "--stale-only", "--format", "json")
    assert status == 0
    return [r["key"] for r in json.loads(out)["records"]]


def test_stale_only_reruns_exactly_the_listed_checks(
    root: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change_mlr1(root)
    assert run_keys(capsys, str(root)) == ["stage4/MLR-1/O"]
    assert run_keys(capsys, str(root), "--role", "verifier", "--key-file", str(key_file)) == [
        "stage5/MLR-1/P"
    ]
    status, out, _ = amlas(capsys, "impact", str(root))
    assert status == 0
    assert "nothing to re-run" in out


def test_stale_only_with_nothing_stale_runs_nothing(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_store("fs://evidence", root=root) as store:
        before = store.runs()
    status, out, _ = amlas(capsys, "run", str(root), "--stale-only")
    assert status == 0
    assert "nothing stale or never run" in out
    assert "0 evidence records" in out
    with open_store("fs://evidence", root=root) as store:
        assert store.runs() == before


# -- the report -----------------------------------------------------------------------------


def _stale_marks(html: str) -> set[str]:
    """Nodes the report marks stale: a 'Verdicts that matter' row, or a violet diagram node
    (the diagrams are fragments: read with them inflated)."""
    html = expanded(html)
    rows = set(re.findall(r'<tr class="row-stale"><td><button [^>]*data-node="([^"]+)"', html))
    nodes = re.findall(
        r'<g id="v\d+-node-([^"]+)" class="[^"]*status-stale"[^>]*>\s*<title>[^<]*</title>\s*'
        r'<(?:polygon|ellipse|path) fill="#f1e8fb"',
        html,
    )
    return rows | set(nodes)


def test_the_report_marks_stale_claims(
    root: Path, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("dot") is None:
        pytest.fail("Graphviz `dot` is not on PATH: apt-get install graphviz")
    before = tmp_path / "before.html"
    assert amlas(capsys, "report", str(root), "-o", str(before))[0] == 0
    assert _stale_marks(before.read_text("utf-8")) == set()
    change_mlr1(root)
    stale = tmp_path / "stale.html"
    assert amlas(capsys, "report", str(root), "-o", str(stale))[0] == 0
    marked = _stale_marks(stale.read_text("utf-8"))
    assert {"G5.5.MLR-1", "Sn5.2.MLR-1"} <= marked
    assert not [node for node in marked if "MLR-2" in node]
