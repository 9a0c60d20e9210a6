"""``amlas diff``: what changed in the case, over a git history built here and between two
bundles. One change set covers every kind the issue names: a claim whose status moved, a
requirement whose threshold changed, one added and one removed (nodes added and removed
with them), evidence whose bound moved, evidence newly and no longer cited, a sign-off
made stale."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from amlas.case import build_case
from amlas.evidence import seal_dataset
from amlas.project import check_project
from amlas.sealing import generate_key, generate_signing_key
from amlas.verify import run_project
from cli_helpers import run, run_quietly
from factory import documents
from runnable import runnable

pytestmark = [
    pytest.mark.usefixtures("fresh_model"),
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
]

H_FILE = "2-requirements/H-ml-safety-requirements.yaml"


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@example.org", "-c", "user.name=T", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _mlr3() -> dict[str, Any]:
    item = copy.deepcopy(documents()["H"]["requirements"][0])
    item.update(
        id="MLR-3",
        text="Recall on hands at least 0.5",
        threshold=0.5,
        data_related=False,
        data_related_reason="a floor below MLR-1's, met by the data MLR-1 needs",
    )
    return item


def _run_all(root: Path, key_file: Path) -> None:
    from amlas.sealing import load_key

    sys.modules.pop("mini_model", None)
    run_project(root, role="developer")
    run_project(root, role="verifier", key=load_key(key_file), stages=(3, 5))
    sys.modules.pop("mini_model", None)


@pytest.fixture
def history(tmp_path: Path) -> dict[str, Any]:
    """A git repository with the project committed (evidence, a sign-off), then changed in
    the working tree: MLR-1's threshold lowered, MLR-3 removed, MLR-4 added, re-run."""
    repo = tmp_path / "repo"
    keys = tmp_path / "keys"
    assessor = generate_signing_key(keys / "assessor.pem")
    docs = documents()
    docs["H"]["requirements"].append(_mlr3())
    docs["AA"]["activities"][0]["requirements"].append("MLR-3")
    docs["manifest"]["people"] = [
        {
            "id": "ASSESSOR-1",
            "name": "Dr Assessor",
            "roles": ["safety-assessor"],
            "independence": "independent_organisation",
            "key": assessor.public_key,
        }
    ]
    docs["manifest"]["case"] = {"approvals": [{"require": ["safety-assessor"]}]}
    root = runnable(repo / "project", docs)
    key = generate_key(keys / "verifier.key")
    seal_dataset(check_project(root).project, "P", key)
    _run_all(root, keys / "verifier.key")
    code, out = run_quietly(
        "sign", str(root), "--key-file", str(keys / "assessor.pem"), "--decision", "approve"
    )
    assert code == 0, out
    before = build_case(root)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "first")
    # the change
    h = root / H_FILE
    data = yaml.safe_load(h.read_text())
    requirements = data["requirements"]
    requirements[0]["threshold"] = 0.9
    mlr4 = copy.deepcopy(requirements[0])
    mlr4.update(
        id="MLR-4",
        text="Recall on hands at least 0.8",
        threshold=0.8,
        data_related=False,
        data_related_reason="a floor below MLR-1's, met by the data MLR-1 needs",
    )
    data["requirements"] = [r for r in requirements if r["id"] != "MLR-3"] + [mlr4]
    h.write_text(yaml.safe_dump(data, sort_keys=False))
    aa = root / "5-verification/AA-verification-log.yaml"
    aa.write_text(aa.read_text().replace("- MLR-3", "- MLR-4", 1))
    assert "MLR-4" in aa.read_text()
    assert not check_project(root).diagnostics.has_errors
    _run_all(root, keys / "verifier.key")
    return {"repo": repo, "root": root, "keys": keys, "before": before}


def test_diff_since_a_revision_names_every_kind_of_change(
    history: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    root = history["root"]
    code, out, _ = run(capsys, "diff", str(root), "--since", "HEAD", "--format", "json")
    assert code == 0, out
    diff = json.loads(out)
    assert diff["before"]["label"].startswith("HEAD (")
    assert diff["before"]["case_digest"] == history["before"].digest()
    assert diff["after"]["case_digest"] == build_case(root).digest()
    assert not diff["same"]
    # requirements: threshold changed, one removed, one added
    requirements = {r["id"]: r for r in diff["requirements"]}
    assert requirements["MLR-1"]["change"] == "changed"
    assert requirements["MLR-1"]["fields"]["threshold"] == {"before": 0.99, "after": 0.9}
    assert requirements["MLR-3"]["change"] == "removed"
    assert requirements["MLR-4"]["change"] == "added"
    # nodes added and removed with them
    added = {n["node"] for n in diff["nodes_added"]}
    removed = {n["node"] for n in diff["nodes_removed"]}
    assert "G5.1.MLR-4" in added
    assert "G5.1.MLR-3" in removed
    # evidence: MLR-1's records recomputed against the new threshold; MLR-4's new; MLR-3's gone
    evidence = {e["key"]: e for e in diff["evidence"]}
    moved = evidence["stage5/MLR-1/P"]
    assert moved["change"] == "moved"
    assert any("threshold 0.99 -> 0.9" in line for line in moved["moves"])
    assert evidence["stage5/MLR-4/P"]["change"] == "added"
    assert evidence["stage5/MLR-3/P"]["change"] == "removed"
    # a claim whose status moved: the requirement's own stage-2 goal text changed, and
    # the sign-off over the earlier case is stale now
    assert diff["claims"] or diff["nodes_reworded"]
    stale = diff["signoffs_made_stale"]
    assert [s["signer"] for s in stale] == ["ASSESSOR-1"]
    assert stale[0]["status"] == "stale"
    # the same as text and Markdown
    code, text, _ = run(capsys, "diff", str(root), "--since", "HEAD")
    assert code == 0
    assert "requirements changed (3):" in text
    assert "MLR-1                  threshold 0.99 -> 0.9" in text
    assert "sign-offs made stale (1):" in text
    code, markdown, _ = run(capsys, "diff", str(root), "--since", "HEAD", "--format", "markdown")
    assert markdown.startswith("### Safety case: what changed")
    assert "#### Requirements" in markdown
    assert "| `MLR-1` | threshold 0.99 -> 0.9 |" in markdown
    assert "#### Sign-offs made stale" in markdown
    code, _, _ = run(capsys, "diff", str(root), "--since", "HEAD", "--exit-code")
    assert code == 1


def test_a_claim_whose_status_moves_is_listed(
    history: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """Stale evidence: the requirement changed after the run (no re-run)."""
    root = history["root"]
    _git(history["repo"], "add", "-A")
    _git(history["repo"], "commit", "-q", "-m", "second")
    h = root / H_FILE
    h.write_text(h.read_text().replace("threshold: 0.8", "threshold: 0.7", 1))
    code, out, _ = run(capsys, "diff", str(root), "--since", "HEAD", "--format", "json")
    assert code == 0
    diff = json.loads(out)
    claims = {c["node"]: (c["before"], c["after"]) for c in diff["claims"]}
    assert claims["G5.5.MLR-4"] == ("inconclusive", "stale")
    assert diff["evidence"] == []  # the same records, now stale
    assert [r["id"] for r in diff["requirements"]] == ["MLR-4"]


def test_the_same_revision_is_no_change(
    history: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    _git(history["repo"], "add", "-A")
    _git(history["repo"], "commit", "-q", "-m", "second")
    code, out, _ = run(capsys, "diff", str(history["root"]), "--since", "HEAD", "--exit-code")
    assert code == 0, out
    assert "nothing: the same case (digest), the same requirements" in out


def test_data_outside_git_takes_the_hashes_its_records_cite(
    history: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """Data kept out of git: the revision's case is rebuilt as it was (nothing stale for
    want of the files), and the output says how."""
    repo, root = history["repo"], history["root"]
    _git(repo, "rm", "-r", "-q", "--cached", "project/data", "project/model")
    (repo / ".gitignore").write_text("project/data/\nproject/model/\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "data out of git")
    code, out, _ = run(capsys, "diff", str(root), "--since", "HEAD", "--format", "json")
    assert code == 0, out
    diff = json.loads(out)
    assert diff["same"], diff
    assert any("not in git there" in note for note in diff["notes"])
    assert any("taken from the records" in note for note in diff["notes"])


def test_a_revision_without_the_project_or_no_revision_is_refused(
    history: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "diff", str(history["root"]), "--since", "no-such-rev")
    assert code == 2
    assert "R002 error" in out + err
    outside = history["repo"].parent / "outside"
    shutil.copytree(history["root"], outside)
    code, out, err = run(capsys, "diff", str(outside), "--since", "HEAD")
    assert code == 2
    assert "R002 error" in out + err


def test_two_bundles(
    history: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, keys = history["root"], history["keys"]
    first = tmp_path / "first.zip"
    second = tmp_path / "second.zip"
    code, out, _ = run(
        capsys, "bundle", str(root), "-o", str(second), "--key-file",
        str(keys / "assessor.pem"), "--no-svg",
    )  # fmt: skip
    assert code == 0, out
    _git(history["repo"], "stash", "-q", "--include-untracked")
    try:
        code, out, _ = run(
            capsys, "bundle", str(root), "-o", str(first), "--key-file",
            str(keys / "assessor.pem"), "--no-svg",
        )  # fmt: skip
        assert code == 0, out
    finally:
        _git(history["repo"], "stash", "pop", "-q")
    code, out, _ = run(capsys, "diff", str(first), str(second), "--format", "json")
    assert code == 0, out
    diff = json.loads(out)
    assert diff["before"]["label"].startswith("bundle first.zip")
    assert {r["id"]: r["change"] for r in diff["requirements"]} == {
        "MLR-1": "changed",
        "MLR-3": "removed",
        "MLR-4": "added",
    }
    assert [s["signer"] for s in diff["signoffs_made_stale"]] == ["ASSESSOR-1"]
    # a bundle that does not verify is refused
    broken = tmp_path / "broken.zip"
    broken.write_bytes(first.read_bytes()[:500])
    code, out, err = run(capsys, "diff", str(broken), str(second))
    assert code == 2
    assert "B001 error" in out + err


def test_the_report_shows_what_changed_since_a_revision_or_a_bundle(
    history: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = history["root"]
    target = tmp_path / "report.html"
    code, out, _ = run(capsys, "report", str(root), "-o", str(target), "--changes-since", "HEAD")
    assert code == 0, out
    html = target.read_text()
    section = html[html.index('<section id="changes">') : html.index('<section id="approvals">')]
    assert "Since <strong>HEAD (" in section
    assert "threshold 0.99 -&gt; 0.9" in section
    assert "<h3>Sign-offs made stale</h3>" in section
    assert '<a href="#changes">What changed</a>' in html
    bundle = tmp_path / "now.zip"
    code, out, _ = run(
        capsys, "bundle", str(root), "-o", str(bundle), "--key-file",
        str(history["keys"] / "assessor.pem"), "--no-svg",
    )  # fmt: skip
    assert code == 0, out
    code, out, _ = run(
        capsys, "report", str(root), "-o", str(target), "--changes-since", str(bundle)
    )
    assert code == 0, out
    assert "Nothing: the same case (digest) and the same requirements." in target.read_text()


def test_people_and_signoffs_that_changed_are_listed(
    history: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """A swapped key and a deleted sign-off change no node of the case: the diff says so."""
    repo, root, keys = history["repo"], history["root"], history["keys"]
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "second")
    other = generate_signing_key(keys / "other.pem")
    manifest = root / "amlas.yaml"
    text = manifest.read_text()
    old_key = next(line.split("key: ")[1] for line in text.splitlines() if "key: ed25519" in line)
    manifest.write_text(text.replace(old_key, other.public_key))
    for statement in (root / "signoffs").glob("*.json"):
        statement.unlink()
    code, out, _ = run(capsys, "diff", str(root), "--since", "HEAD", "--format", "json")
    assert code == 0, out
    diff = json.loads(out)
    assert diff["before"]["case_digest"] == diff["after"]["case_digest"]
    assert not diff["same"]
    assert any(line.startswith("removed: signoffs/") for line in diff["signoffs"])
    assert diff["people"] == [f"person ASSESSOR-1: key {old_key} -> {other.public_key}"]
    code, out, _ = run(capsys, "diff", str(root), "--since", "HEAD", "--exit-code")
    assert code == 1
    assert "people and approvals (1):" in out
