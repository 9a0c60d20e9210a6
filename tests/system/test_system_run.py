"""Running a system: each component's stage 4, then stage 6, whose hazard chains take the
safety cage's failure on demand and its false-alarm rate from the cage's own records; the
records go stale when the cage changes; the command line takes the system directory."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from amlas.case import build_system_case
from amlas.checks import clopper_pearson
from amlas.evidence import EvidenceRecord, ProjectInputs
from amlas.project import load_project
from amlas.verify import run_project
from cli_helpers import run
from system.conftest import build_system

HAZARD = "stage6/hazard/HAZ-1"


def _records(report: Any) -> dict[str, EvidenceRecord]:
    return {record.key: record for _, record in report.records}


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The system after: the cage's stage 4, the triage's stages 4 and 6, the cage's 6."""
    root = build_system(tmp_path_factory.mktemp("ran") / "system")
    cage, triage = root / "components" / "cage", root / "components" / "triage"
    cage4 = _records(run_project(str(cage), stages=(4,)))
    triage6 = _records(run_project(str(triage), stages=(4, 6)))
    cage6 = _records(run_project(str(cage), stages=(6,)))
    return {"root": root, "cage4": cage4, "triage6": triage6, "cage6": cage6}


def _counts(record: EvidenceRecord, metric: str) -> tuple[int, int]:
    """(failures, trials) of the worst slice, as the chain counts them."""
    worst = None
    for row in record.results:
        if not isinstance(row.get("successes"), int) or not row.get("samples"):
            continue
        successes, trials = row["successes"], row["samples"]
        failures = successes if metric in ("fnr", "fpr") else trials - successes
        upper = clopper_pearson(failures, trials, confidence=0.95, sided="upper").upper
        if worst is None or upper > worst[0]:
            worst = (upper, failures, trials)
    assert worst is not None
    return worst[1], worst[2]


def _uncertain(resolved: dict[str, Any]) -> int:
    """The quantities the chain bounds from counts: each route's rate, each measured
    barrier (once, whatever the routes), each rate of wrong action from a record."""
    rates = [term[0] for term in [resolved["factors"], *resolved.get("routes", [])]]
    measured = {
        f["name"]
        for term in [resolved["factors"], *resolved.get("routes", [])]
        for f in term[1:]
        if f["source"] == "measured by the integration harness"
    }
    wrong = [term[0] for term in resolved.get("worsening", [])]
    return sum(1 for f in [*rates, *wrong] if f["source"] not in ("none", "declared in [C]")) + len(
        measured
    )


def test_the_cage_is_a_route_of_its_own_not_a_factor(ran: dict[str, Any]) -> None:
    """A safety cage acts on the inputs it must reject, not on the other component's
    misses: it never multiplies the risk model's route, it adds a route of its own."""
    record = ran["triage6"][HAZARD]
    resolved = record.resolved
    assert not [f for f in resolved["factors"] if "BAR-ML" in f["name"]]
    assert resolved["factors"][0]["source"] == "stage4/MLR-2/O"  # the triage's own misses
    ((cage, *barriers),) = resolved["routes"]
    # the worst of the cage's recall requirements on the class it must catch, from its
    # own records (no stage 5 yet)
    assert cage["source"] in ("stage4/MLR-1/O", "stage4/MLR-2/O")
    worst = cage["source"].split("/")[1]
    assert cage["name"] == f"CMP-ML2: inputs BAR-ML must reject pass it ({worst})"
    assert barriers == resolved["factors"][1:]  # the other barriers act on every route
    assert "CMP-ML2 stage4/MLR-1/O" in resolved["results_from"]
    assert any("BAR-ML is an ML component" in note for note in resolved["notes"])
    # its bound is the exact bound of the cage's worst slice at the joint level
    level = resolved["factor_level"]
    assert math.isclose(level, 1 - (1 - resolved["confidence"]) / _uncertain(resolved))
    for key in ("stage4/MLR-1/O", "stage4/MLR-2/O"):
        failures, trials = _counts(ran["cage4"][key], "recall")
        upper = clopper_pearson(failures, trials, confidence=level, sided="upper").upper
        assert upper <= cage["upper"] + 1e-12
        assert math.isclose(cage["upper"], upper) == (key == cage["source"])
        # every record it weighed is one the hazard record rests on
        assert ran["cage4"][key].digest in resolved["verification_results"]
    assert "component:CMP-ML2/requirement:MLR-1" in record.inputs
    assert "component:CMP-ML2/model" in record.inputs


def test_the_routes_and_the_cages_false_alarms_are_added(ran: dict[str, Any]) -> None:
    record = ran["triage6"][HAZARD]
    resolved = record.resolved
    ((rate, follows),) = resolved["worsening"]
    assert rate["kind"] == "worsening"
    assert rate["source"] == "stage4/MLR-3/O"
    failures, trials = _counts(ran["cage4"]["stage4/MLR-3/O"], "fpr")
    level = resolved["factor_level"]
    assert math.isclose(
        rate["upper"], clopper_pearson(failures, trials, confidence=level, sided="upper").upper
    )
    assert follows["kind"] == "given"
    assert follows["upper"] == 0.5
    terms = [resolved["factors"], *resolved["routes"], *resolved["worsening"]]
    (row,) = record.results
    assert math.isclose(
        row["upper"], min(1.0, sum(math.prod(f["upper"] for f in t) for t in terms))
    )
    assert math.isclose(row["lower"], max(math.prod(f["lower"] for f in t) for t in terms))
    assert "union bound" in resolved["method"]


def test_every_component_bounds_the_hazard_as_a_whole(ran: dict[str, Any]) -> None:
    """The cage's own chain holds the same routes: its failure to reject first, the
    triage classifier's misses as the other; neither component judges its part alone."""
    resolved = ran["cage6"][HAZARD].resolved
    assert resolved["factors"][0]["source"] in ("stage4/MLR-1/O", "stage4/MLR-2/O")
    assert "BAR-ML must reject" in resolved["factors"][0]["name"]
    ((other, *_),) = resolved["routes"]
    assert other["name"].startswith("CMP-ML: MLR-2: misses")
    assert other["source"] == "stage4/MLR-2/O"
    ((rate, _),) = resolved["worsening"]
    assert rate["source"] == "stage4/MLR-3/O"
    triage = ran["triage6"][HAZARD].resolved
    assert sorted(t[0]["source"] for t in [triage["factors"], *triage["routes"]]) == sorted(
        t[0]["source"] for t in [resolved["factors"], *resolved["routes"]]
    )


def test_a_change_in_the_cage_makes_the_other_hazard_record_stale(
    ran: dict[str, Any], tmp_path: Path
) -> None:
    root = tmp_path / "system"
    shutil.copytree(ran["root"], root)
    triage = load_project(root / "components" / "triage").project
    record = ran["triage6"][HAZARD]
    assert ProjectInputs(triage).stale(record) == []
    assert build_system_case(root).case.nodes["Sn6.X@CMP-ML"].status != "stale"
    requirements = root / "components" / "cage" / "2-requirements" / "H-ml-safety-requirements.yaml"
    text = requirements.read_text("utf-8")
    requirements.write_text(text + "# reviewed again\n", "utf-8")
    # a comment is no change; a threshold is
    assert ProjectInputs(load_project(root / "components" / "triage").project).stale(record) == []
    text = requirements.read_text("utf-8")
    at = text.index("threshold:", text.index("  - id: MLR-1"))
    line_end = text.index("\n", at)
    requirements.write_text(text[:at] + "threshold: 0.5" + text[line_end:], "utf-8")
    triage = load_project(root / "components" / "triage").project
    assert "component:CMP-ML2/requirement:MLR-1 (changed)" in ProjectInputs(triage).stale(record)
    assert build_system_case(root).case.nodes["Sn6.X@CMP-ML"].status == "stale"


def test_without_the_cages_result_its_route_counts_as_failing(tmp_path: Path) -> None:
    root = build_system(tmp_path / "system")
    records = _records(run_project(str(root / "components" / "triage"), stages=(4, 6)))
    resolved = records[HAZARD].resolved
    ((cage, *_),) = resolved["routes"]
    assert cage["upper"] == 1.0
    assert "has no verification result" in cage["detail"]
    assert "no result from CMP-ML2 MLR-1" in resolved["results_from"]
    assert records[HAZARD].verdict != "pass"


def test_the_command_line_takes_the_system(
    ran: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(ran["root"])
    code, out, _ = run(capsys, "check", root)
    assert code == 0, out
    code, out, _ = run(capsys, "check", "--format", "json", root)
    assert code == 0
    assert isinstance(json.loads(out), (dict, list))
    code, out, _ = run(capsys, "case", root, "--out", str(tmp_path / "case"), "--no-svg")
    assert code == 0, out
    case = json.loads((tmp_path / "case" / "case.json").read_text("utf-8"))
    assert case["root"] == "G0"
    assert {n["component"] for n in case["nodes"] if "component" in n} == {"CMP-ML", "CMP-ML2"}
    assert "system.gsn.yaml" in {p.name for p in (tmp_path / "case" / "gsn").iterdir()}
    code, out, _ = run(capsys, "report", root, "-o", str(tmp_path / "report.html"))
    assert code == 0, out
    html = (tmp_path / "report.html").read_text("utf-8")
    assert "ML component CMP-ML2" in html
    assert 'data-node="G0"' in html
    code, out, _ = run(capsys, "gate", root)
    assert code == 1  # stage 5 has not run: the system's top claim is not supported
    assert "gate shut: G0" in out
    code, out, _ = run(capsys, "run", root, "--stage", "6", "--format", "json")
    assert code <= 1
    summary = json.loads(out)
    assert list(summary["components"]) == ["CMP-ML2", "CMP-ML"]  # the cage's results first
    code, _, err = run(capsys, "run", root, "--store", "memory://x")
    assert code == 2
    assert "each ML component of a system keeps its own" in err
    for command in (["trace", root], ["seal", root], ["impact", root], ["review", "list", root]):
        code, _, err = run(capsys, *command)
        assert code == 2, command
        assert "is a system project" in err
        assert "components/cage" in err
