"""Change impact: ``analyse_impact`` against the store and against git, the claims resting
on what changed, and ``run_project(only=...)``.

Every test works on a copy of one git repository holding the runnable mini project of
``tests/runnable.py`` in a subfolder (``repo/mini``), committed, then run by the developer
(stages 3 and 4) and the verifier (stages 3 and 5), so the evidence starts current.
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evidence"))

from evidence_factory import declare_verifier_key

from amlas import check_project
from amlas.case import build_case
from amlas.case._impact import affected_claims
from amlas.errors import UsageError
from amlas.evidence import open_store, seal_dataset
from amlas.sealing import AccessLog, VerifierKey, generate_key
from amlas.verify import analyse_impact, plan, run_project
from runnable import runnable

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

H_FILE = "2-requirements/H-ml-safety-requirements.yaml"
L_FILE = "3-data/L-data-requirements.yaml"
O_FILE = "3-data/O-internal-test-data.yaml"
N_FILE = "3-data/N-development-data.yaml"
V_FILE = "4-learning/V-model.yaml"

STAGE3 = {
    *(f"stage3/DR-{n}/{x}" for n in (1, 2, 4) for x in "NOP"),
    *(f"stage3/independence/{p}" for p in ("N-O", "N-P", "O-P")),
}
EVERY_KEY = STAGE3 | {f"stage{s}/MLR-{n}/{x}" for s, x in ((4, "O"), (5, "P")) for n in (1, 2)}


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a test identity; return stdout."""
    done = subprocess.run(
        [
            "git",
            "-C",
            str(repo),
            "-c",
            "user.name=Impact Test",
            "-c",
            "user.email=impact@example.invalid",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def edit_yaml(root: Path, relative: str, change: Callable[[dict[str, Any]], None]) -> None:
    path = root / relative
    document = yaml.safe_load(path.read_text("utf-8"))
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def change_mlr1(root: Path) -> None:
    """MLR-1's threshold 0.99 -> 0.98 (MLR-2, in the same file, stays as it was)."""

    def lower(doc: dict[str, Any]) -> None:
        doc["requirements"][0]["threshold"] = 0.98

    edit_yaml(root, H_FILE, lower)


def change_data(root: Path, letter: str, relative: str, artefact: str) -> None:
    """Move one sample's size by 0.1 mm and declare the new hash (as a reviewer would)."""
    path = root / relative
    rows = list(csv.reader(io.StringIO(path.read_text("utf-8"))))
    rows[1][2] = f"{float(rows[1][2]) + 0.1:.1f}"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    def declare(doc: dict[str, Any]) -> None:
        doc["sha256"] = digest

    edit_yaml(root, artefact, declare)


def change_model(root: Path) -> None:
    path = root / "model/model.bin"
    path.write_bytes(path.read_bytes() + b"retrained\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()

    def declare(doc: dict[str, Any]) -> None:
        doc["sha256"] = digest

    edit_yaml(root, V_FILE, declare)


def add_rule(root: Path) -> None:
    """A new machine-checkable data rule DR-5 on [N] and [O]."""

    def add(doc: dict[str, Any]) -> None:
        doc["requirements"].append(
            {
                "id": "DR-5",
                "category": "balance",
                "text": "Not too many hands",
                "traces_to": ["MLR-1"],
                "datasets": ["N", "O"],
                "rule": {
                    "check": "class_balance",
                    "class": "positive",
                    "min_fraction": 0.1,
                    "max_fraction": 0.6,
                },
            }
        )

    edit_yaml(root, L_FILE, add)


@pytest.fixture(autouse=True)
def _fresh_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("MINI_MODEL_MISS", "MINI_MODEL_RAISE", "AMLAS_VERIFIER_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AMLAS_VERIFIER_KEY", raising=False)
    sys.modules.pop("mini_model", None)
    yield
    sys.modules.pop("mini_model", None)


def build_template(base: Path) -> Path:
    """``base/repo`` (a git repository, the mini project in ``repo/mini``, committed, then
    run by both roles: the evidence is current) and ``base/verifier.key``; returns base."""
    repo = base / "repo"
    root = runnable(repo / "mini")
    (repo / ".gitignore").write_text("__pycache__/\n", encoding="utf-8")
    key = generate_key(base / "verifier.key")
    declare_verifier_key(root, key)
    git(repo, "init", "-q")
    commit(repo, "the mini project")
    sys.modules.pop("mini_model", None)
    run_project(str(root))
    run_project(str(root), role="verifier", key=key)
    sys.modules.pop("mini_model", None)
    return base


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository every test copies."""
    return build_template(tmp_path_factory.mktemp("impact"))


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template / "repo", tmp_path / "repo", symlinks=True)
    return tmp_path / "repo"


@pytest.fixture
def root(repo: Path) -> Path:
    return repo / "mini"


@pytest.fixture
def key(template: Path) -> VerifierKey:
    from amlas.sealing import load_key

    return load_key(template / "verifier.key")


def keys(found: Any) -> set[str]:
    return {item.key for item in found}


def claim_ids(root: Path, keys_: set[str]) -> dict[str, str]:
    project = check_project(root).project
    return {c.id: c.status for c in affected_claims(build_case(root), project, keys_)}


# -- what run records ------------------------------------------------------------------------


def test_planned_checks_are_the_records_run_writes(root: Path) -> None:
    project = check_project(root).project
    planned = {c.key: c for c in plan(project, role="verifier", stages=[3, 4, 5]) if c.runnable}
    with open_store("fs://evidence", root=root) as store:
        records = {key: store.get(digest) for key, digest in store.list()}
    assert set(planned) == set(records) == EVERY_KEY
    for key, record in records.items():
        cited = {n for n in record.inputs if not n.startswith(("samples:", "access_log:"))}
        assert set(planned[key].inputs) == cited, key
        assert planned[key].check == record.check, key
        assert planned[key].stage == record.stage
    assert {k for k, c in planned.items() if c.needs == "verifier"} == {
        "stage5/MLR-1/P",
        "stage5/MLR-2/P",
    }


def test_a_project_never_run_lists_every_check(tmp_path: Path) -> None:
    root = runnable(tmp_path / "fresh")
    result = analyse_impact(root)
    assert keys(result.checks) == EVERY_KEY
    assert {c.reason for c in result.checks} == {"never run"}
    assert result.stale == []
    assert result.exit_code() == 1


def test_current_evidence_has_no_impact(root: Path) -> None:
    result = analyse_impact(root)
    assert result.checks == []
    assert result.stale == []
    assert result.changed_inputs == []
    assert result.exit_code() == 0


# -- against the store -----------------------------------------------------------------------


def test_a_changed_requirement_makes_exactly_its_records_stale(root: Path) -> None:
    change_mlr1(root)
    result = analyse_impact(root)
    assert keys(result.stale) == {"stage4/MLR-1/O", "stage5/MLR-1/P"}
    assert all(r.inputs == ("requirement:MLR-1 (changed)",) for r in result.stale)
    assert [(c.key, c.stage, c.needs, c.reason) for c in result.checks] == [
        ("stage4/MLR-1/O", 4, "developer", "stale"),
        ("stage5/MLR-1/P", 5, "verifier", "stale"),
    ]
    assert result.changed_inputs == ["requirement:MLR-1"]
    assert result.exit_code() == 1


def test_claims_resting_on_a_stale_record(root: Path) -> None:
    change_mlr1(root)
    stale = {"stage4/MLR-1/O", "stage5/MLR-1/P"}
    claims = claim_ids(root, stale)
    case = build_case(root)
    # every node the case marks stale is listed, and the root above it
    assert {n.id for n in case.nodes.values() if n.status == "stale"} <= set(claims)
    assert {i for i, s in claims.items() if s == "stale"} >= {"Sn5.2.MLR-1", "G5.5.MLR-1"}
    assert "G1.1" in claims
    solutions = {i for i in claims if case.nodes[i].type == "solution"}
    assert solutions == {"Sn4.1", "Sn5.1.MLR-1", "Sn5.2.MLR-1"}
    # nothing of MLR-2's argument rests on MLR-1's evidence
    assert not [i for i in claims if "MLR-2" in i]
    assert all(case.nodes[i].type != "context" for i in claims)


def test_a_changed_dataset_makes_every_record_on_it_stale(root: Path) -> None:
    change_data(root, "O", "data/test.csv", O_FILE)
    result = analyse_impact(root)
    on_o = {
        "stage3/DR-1/O",
        "stage3/DR-2/O",
        "stage3/DR-4/O",
        "stage3/independence/N-O",
        "stage3/independence/O-P",
        "stage4/MLR-1/O",
        "stage4/MLR-2/O",
    }
    assert keys(result.stale) == keys(result.checks) == on_o
    assert result.changed_inputs == ["dataset:O"]
    assert {c.needs for c in result.checks} == {"developer"}


def test_a_changed_model_makes_stages_4_and_5_stale(root: Path) -> None:
    change_model(root)
    result = analyse_impact(root)
    assert keys(result.checks) == {k for k in EVERY_KEY if not k.startswith("stage3/")}
    assert result.changed_inputs == ["model"]
    assert all(r.inputs == ("model (changed)",) for r in result.stale)


def test_a_new_rule_is_never_run(root: Path) -> None:
    add_rule(root)
    result = analyse_impact(root)
    assert [(c.key, c.reason) for c in result.checks] == [
        ("stage3/DR-5/N", "never run"),
        ("stage3/DR-5/O", "never run"),
    ]
    assert result.stale == []
    assert result.never_run == result.checks


def test_records_of_a_removed_rule_are_obsolete_not_rerun(root: Path) -> None:
    def drop(doc: dict[str, Any]) -> None:
        doc["requirements"] = [r for r in doc["requirements"] if r["id"] != "DR-4"]

    edit_yaml(root, L_FILE, drop)

    def unlink(doc: dict[str, Any]) -> None:
        doc["arguments"][0]["data_requirements"].remove("DR-4")

    edit_yaml(root, "3-data/M-data-justification.yaml", unlink)
    result = analyse_impact(root)
    assert keys(result.obsolete) == {f"stage3/DR-4/{x}" for x in "NOP"}
    assert all(r.inputs == ("requirement:DR-4 (removed)",) for r in result.obsolete)
    assert result.checks == []
    assert result.exit_code() == 0


def test_a_damaged_record_must_rerun(root: Path) -> None:
    with open_store("fs://evidence", root=root) as store:
        digest = dict(store.list())["stage4/MLR-2/O"]
    (path,) = (root / "evidence").rglob(f"{digest}*")
    path.write_text(path.read_text("utf-8").replace('"pass"', '"fail"'), encoding="utf-8")
    result = analyse_impact(root)
    (check,) = result.checks
    assert check.key == "stage4/MLR-2/O"
    assert check.why[0].startswith("record damaged")


# -- against git -------------------------------------------------------------------------------


def test_since_counts_only_the_changed_requirement(root: Path) -> None:
    change_mlr1(root)
    result = analyse_impact(root, since="HEAD")
    assert result.changed_files == [H_FILE]
    assert result.changed_artefacts == ["H"]
    assert result.changed_inputs == ["artefact:H", "requirement:MLR-1"]
    assert [(c.key, c.reason) for c in result.checks] == [
        ("stage4/MLR-1/O", "changed"),
        ("stage5/MLR-1/P", "changed"),
    ]
    assert all(c.why == ("requirement:MLR-1 (changed since HEAD)",) for c in result.checks)


def test_since_an_older_commit(repo: Path, root: Path) -> None:
    change_data(root, "N", "data/dev.csv", N_FILE)
    commit(repo, "new development data")
    result = analyse_impact(root, since="HEAD~1")
    assert result.changed_files == [N_FILE, "data/dev.csv"]  # evidence/, .amlas/ left out
    assert "dataset:N" in result.changed_inputs
    on_n = {f"stage3/DR-{n}/N" for n in (1, 2, 4)} | {
        "stage3/independence/N-O",
        "stage3/independence/N-P",
    }
    assert keys(result.checks) == on_n
    assert analyse_impact(root, since="HEAD").checks == []


def test_since_lists_checks_the_store_never_ran(root: Path) -> None:
    change_model(root)
    result = analyse_impact(root, since="HEAD", store="fs://elsewhere")
    assert result.stale == []
    assert keys(result.checks) == {k for k in EVERY_KEY if not k.startswith("stage3/")}
    assert {c.reason for c in result.checks} == {"never run"}
    assert result.changed_inputs == ["artefact:V", "model"]


def test_since_maps_a_new_rule_and_the_model_code(root: Path) -> None:
    add_rule(root)
    code = root / "mini_model.py"
    code.write_text(code.read_text("utf-8") + "\n# a comment changes the code's hash\n")
    (root / "notes.txt").write_text("not an artefact\n", encoding="utf-8")
    result = analyse_impact(root, since="HEAD")
    assert "requirement:DR-5" in result.changed_inputs
    assert "model_code" in result.changed_inputs
    assert result.other_files == ["notes.txt"]
    assert {"stage3/DR-5/N", "stage3/DR-5/O"} <= keys(result.never_run)
    assert keys(result.checks) == {"stage3/DR-5/N", "stage3/DR-5/O"} | {
        k for k in EVERY_KEY if not k.startswith("stage3/")
    }


def test_a_bad_revision_is_a_usage_error(root: Path) -> None:
    with pytest.raises(UsageError, match="names no commit"):
        analyse_impact(root, since="no-such-branch")
    with pytest.raises(UsageError, match="not a git revision"):
        analyse_impact(root, since="--all")


def test_outside_git_is_a_usage_error(tmp_path: Path) -> None:
    root = runnable(tmp_path / "nogit")
    with pytest.raises(UsageError, match="not inside a git repository"):
        analyse_impact(root, since="HEAD")


# -- run_project(only=...) -----------------------------------------------------------------


def test_only_runs_exactly_the_keys_given(root: Path) -> None:
    report = run_project(str(root), only={"stage4/MLR-1/O", "stage3/DR-4/N", "stage5/MLR-1/P"})
    assert [r.key for _, r in report.records] == ["stage3/DR-4/N", "stage4/MLR-1/O"]


def test_stale_only_rerun_leaves_nothing_stale(root: Path, key: VerifierKey) -> None:
    change_mlr1(root)
    wanted = analyse_impact(root).keys()
    developer = run_project(str(root), only=wanted)
    assert [r.key for _, r in developer.records] == ["stage4/MLR-1/O"]
    assert keys(analyse_impact(root).checks) == {"stage5/MLR-1/P"}
    verifier = run_project(str(root), role="verifier", key=key, only=analyse_impact(root).keys())
    assert [r.key for _, r in verifier.records] == ["stage5/MLR-1/P"]
    assert analyse_impact(root).exit_code() == 0


def test_nothing_wanted_commits_no_run(root: Path) -> None:
    with open_store("fs://evidence", root=root) as store:
        before = [r.run_id for r in store.runs()]
    report = run_project(str(root), only=set())
    assert report.records == []
    with open_store("fs://evidence", root=root) as store:
        assert [r.run_id for r in store.runs()] == before


def test_one_key_as_a_string_is_refused(root: Path) -> None:
    with pytest.raises(UsageError, match="collection of record keys"):
        run_project(str(root), only="stage4/MLR-1/O")


def test_sealed_data_stays_sealed_when_none_of_its_checks_runs(
    root: Path, key: VerifierKey
) -> None:
    seal_dataset(check_project(root).project, "P", key)
    log = AccessLog(root / "5-verification/P-access-log.jsonl")
    entries = len(log.entries())
    change_data(root, "N", "data/dev.csv", N_FILE)
    wanted = analyse_impact(root).keys()
    independence = {"stage3/independence/N-O", "stage3/independence/N-P"}
    assert wanted == {f"stage3/DR-{n}/N" for n in (1, 2, 4)} | independence
    # stage 5 alone wants nothing: no record, no run, [P] not unsealed
    report = run_project(str(root), role="verifier", key=key, stages=(5,), only=wanted)
    assert report.records == []
    assert len(log.entries()) == entries
    # stages 3 and 5 without the one check that reads [P]: still not unsealed
    fewer = wanted - {"stage3/independence/N-P"}
    report = run_project(str(root), role="verifier", key=key, only=fewer)
    assert {r.key for _, r in report.records} == fewer
    assert len(log.entries()) == entries
    # the check on [P] itself unseals it, and says so in the log
    report = run_project(str(root), role="verifier", key=key, only=wanted)
    assert {r.key for _, r in report.records} == wanted
    assert len(log.entries()) > entries


def test_since_a_new_decision_threshold_changes_model_settings(root: Path) -> None:
    def threshold(doc: dict[str, Any]) -> None:
        doc["decision_threshold"] = 0.9

    edit_yaml(root, V_FILE, threshold)
    result = analyse_impact(root, since="HEAD")
    assert "model_settings" in result.changed_inputs
    assert {c.key for c in result.checks if c.key.startswith("stage4/")}
