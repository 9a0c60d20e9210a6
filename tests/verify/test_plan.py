"""The plan (issue 13): what ``amlas run`` reports as not run comes in the order the run
meets it, once per part the project gives nothing to plan from, with --stale-only too; a
run that would judge requirements without a model refuses instead of recording nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import amlas
from amlas import check_project
from amlas.errors import ProblemError
from amlas.verify import plan, run_project
from cli_helpers import run
from conftest import EXAMPLE


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    root = tmp_path / "bc"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".amlas", "evidence"))
    return root


def test_not_run_comes_in_run_order(copy: Path) -> None:
    report = run_project(copy, stages=(3, 4), store="memory://plan-order")
    what = [w for w, _ in report.not_run]
    # DR-3 (judged by review) among the stage-3 checks, MLR-7 among the stage-4 ones
    assert what.index("DR-3") < what.index("DR-7") < what.index("MLR-7")
    assert what[-1] == "MLR-7"
    planned = plan(check_project(copy).project, stages=(3, 4))
    positions = {w: p for p, w, _ in planned.not_planned}
    keys = [c.key for c in planned]
    assert keys[positions["DR-7"] - 1].startswith("stage3/DR-6/")  # DR-7 comes after DR-6
    assert keys[positions["MLR-7"] :] == []  # after every stage-4 check


def test_stale_only_still_says_what_is_judged_by_review(copy: Path) -> None:
    report = run_project(copy, stages=(3,), store="memory://plan-stale", only={"stage3/DR-1/N"})
    assert [r.key for _, r in report.records] == ["stage3/DR-1/N"]
    assert [w for w, _ in report.not_run] == ["DR-3", "DR-7"]


def test_a_stage_whose_data_the_role_may_not_read_is_said_once(copy: Path) -> None:
    o = copy / "3-data" / "O-internal-test-data.yaml"
    o.write_text(
        o.read_text() + "sealed:\n  file: data/internal-test.csv.sealed\n"
        "  access_log: 5-verification/O-access-log.jsonl\n"
    )
    project = check_project(copy).project
    assert project.datasets()["O"].sealed is not None
    planned = plan(project, role="developer", stages=(4,))
    assert [(w, why) for _, w, why in planned.not_planned] == [
        ("stage 4", "[O] is sealed: only the verifier role reads it (R15)")
    ]
    assert all(c.quiet and not c.runnable for c in planned)


def test_stages_4_and_5_without_a_model_refuse(
    copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (copy / "4-learning" / "V-model.yaml").unlink()
    status, _, err = run(capsys, "run", str(copy), "--stage", "4")
    assert status == 2
    assert "R020" in err
    assert "[V]" in err
    assert not (copy / "evidence").exists()  # nothing recorded
    # stage 3 alone needs no model
    status, _, err = run(capsys, "run", str(copy), "--stage", "3")
    assert status in (0, 1), err


def test_a_role_amlas_does_not_know_is_a_coded_problem(copy: Path) -> None:
    with pytest.raises(ProblemError) as raised:
        plan(amlas.load(copy), role="assessor")  # type: ignore[arg-type]
    assert raised.value.diagnostic.code == "R002"
