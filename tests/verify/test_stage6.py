"""`amlas run --stage 6`: operational scenarios through a harness, and the hazard-rate chain
through the barriers, on the torch image project of tests/torch_project.py."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from amlas.case import build_case
from amlas.checks import clopper_pearson
from amlas.errors import UsageError
from amlas.evidence import EvidenceRecord
from amlas.verify import RunReport, run_project
from torch_project import HARNESS, RECALL, default_requirements, image_project, stage6_edit
from torch_project import stage6_edit as _edit


@pytest.fixture(autouse=True)
def _fresh_modules() -> Iterator[None]:
    for name in ("net", "harness"):
        sys.modules.pop(name, None)
    yield
    for name in ("net", "harness"):
        sys.modules.pop(name, None)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return image_project(
        tmp_path / "p",
        [*default_requirements()[:1], RECALL],
        edit=_edit(400),
        files={"harness.py": HARNESS},
    )


def by_key(report: RunReport) -> dict[str, EvidenceRecord]:
    return {record.key: record for _, record in report.records}


def test_scenarios_run_seeded_through_the_harness(project: Path) -> None:
    first = by_key(run_project(str(project), stages=(4, 6)))
    sc1 = first["stage6/scenario/SC-1"]
    assert sc1.stage == 6
    (row,) = sc1.results
    assert row["slice"] == "SSR-1"
    assert row["samples"] == 400
    violations = 400 - row["successes"]
    assert row["failing_count"] == violations
    # the press only hurts when the classifier misses a hand AND the limiter fails
    barrier = sc1.resolved["barriers"]["BAR-1"]
    assert barrier["failures"] == violations
    assert 0 < barrier["demands"] < 400
    assert sc1.verdict == "pass"  # violations are rare: the 0.9 pass rate is shown
    assert "harness_code" in sc1.inputs
    # seeded: the same runs give the same outcome
    second = by_key(run_project(str(project), stages=(6,)))
    assert second["stage6/scenario/SC-1"].results == sc1.results
    assert second["stage6/scenario/SC-1"].resolved["barriers"] == sc1.resolved["barriers"]


def test_harness_errors_are_listed_and_never_count_as_held(project: Path) -> None:
    sc2 = by_key(run_project(str(project), stages=(6,)))["stage6/scenario/SC-2"]
    assert sc2.resolved["error_count"] == 4  # runs 0, 1, 10, 11
    errors = {e["run"]: e["error"] for e in sc2.resolved["errors"]}
    assert "lost its connection" in errors[0]
    assert "expected exactly the scenario's ['SSR-1']" in errors[1]
    (row,) = sc2.results
    assert row["samples"] == 16
    assert sc2.verdict in ("inconclusive", "fail")
    assert sc2.verdict != "pass"


def test_hazard_rate_multiplies_the_chain_and_compares_with_a(project: Path) -> None:
    records = by_key(run_project(str(project), stages=(4, 6)))
    hazard = records["stage6/hazard/HAZ-1"]
    factors = hazard.resolved["factors"]
    assert [f["kind"] for f in factors] == ["ml", "barrier"]
    ml, limiter = factors
    assert ml["source"] == "stage4/MLR-9/O"  # no stage 5 yet: said so
    assert "stage 4" in hazard.resolved["results_from"]
    # two uncertain factors (the miss rate, the measured limiter): each bound at 97.5%,
    # recomputed from the counts, so the product's bound holds jointly at 95%
    (row,) = hazard.results
    assert hazard.resolved["factor_level"] == pytest.approx(0.975)
    recall = records["stage4/MLR-9/O"].results
    worst = max(
        clopper_pearson(
            r["samples"] - r["successes"], r["samples"], confidence=0.975, sided="upper"
        ).upper
        for r in recall
    )
    assert ml["upper"] == pytest.approx(worst)
    assert limiter["source"] == "measured by the integration harness"
    counts = hazard.resolved["barrier_counts"]["BAR-1"]
    assert limiter["upper"] == pytest.approx(
        clopper_pearson(
            counts["failures"], counts["demands"], confidence=0.975, sided="upper"
        ).upper
    )
    assert "jointly at 95%" in row["reason"]
    assert row["upper"] == pytest.approx(ml["upper"] * limiter["upper"])
    assert row["estimate"] == pytest.approx(ml["estimate"] * limiter["estimate"])
    assert row["threshold"] == 0.05
    assert hazard.verdict == ("pass" if row["upper"] <= 0.05 else "inconclusive")
    assert math.isfinite(row["upper"])


def test_an_unreachable_rate_fails_and_a_met_one_passes(tmp_path: Path) -> None:
    """The chain's verdict on fixed counts: 30 misses in 100 and a limiter declared to fail
    half its demands give a rate whose lower bound exceeds 1e-3, and whose upper bound stays
    under 0.5."""
    from amlas import load_project
    from amlas.checks._hazard import MLEvidence, hazard_chains

    def edit(acceptable: float) -> Any:
        def change(docs: dict[str, Any]) -> None:
            stage6_edit(10, acceptable=acceptable)(docs)
            docs["C"]["barriers"][0]["failure_on_demand"] = 0.5

        return change

    row = {"slice": "all", "samples": 100, "successes": 70}  # recall 0.7: 30 misses
    for acceptable, verdict in ((1e-3, "fail"), (0.5, "pass")):
        root = image_project(
            tmp_path / str(acceptable), [*default_requirements()[:1], RECALL], edit=edit(acceptable)
        )
        project = load_project(root).project
        evidence = {"MLR-9": MLEvidence("MLR-9", "stage5/MLR-9/P", "d" * 64, [row])}
        (chain,) = hazard_chains(project, evidence, {})
        ml, limiter = chain.factors
        assert ml.estimate == pytest.approx(0.3)
        assert ml.upper == pytest.approx(
            clopper_pearson(30, 100, confidence=0.95, sided="upper").upper
        )
        assert (limiter.estimate, limiter.source) == (0.5, "declared in [C]")
        assert chain.lower == pytest.approx(
            clopper_pearson(30, 100, confidence=0.95, sided="lower").lower * 0.5
        )
        assert chain.verdict == verdict, chain.reason


def test_case_cites_scenarios_and_hazards(project: Path) -> None:
    run_project(str(project), stages=(4, 6))
    case = build_case(project)
    cited = {case.evidence[d].key for d in case.nodes["Sn6.2"].evidence}
    assert cited == {"stage6/scenario/SC-1", "stage6/scenario/SC-2"}
    hazards = {case.evidence[d].key for d in case.nodes["Sn6.X"].evidence}
    assert hazards == {"stage6/hazard/HAZ-1"}
    assert case.nodes["G6.4"].status != "undeveloped"


def test_no_harness_is_listed_as_not_run(tmp_path: Path) -> None:
    root = image_project(tmp_path / "p")
    report = run_project(str(root), stages=(6,))
    assert any(what == "stage 6" and "harness" in why for what, why in report.not_run)
    assert report.records == []


def test_a_missing_harness_module_is_a_usage_error(tmp_path: Path) -> None:
    root = image_project(tmp_path / "p", edit=_edit(5))
    with pytest.raises(UsageError, match="cannot import module 'harness'"):
        run_project(str(root), stages=(6,))


def test_stage6_records_go_stale_with_their_inputs(project: Path) -> None:
    run_project(str(project), stages=(4, 6))
    assert build_case(project).nodes["G6.4"].status != "stale"
    # a changed scenario stales the integration claims; a changed harness too
    harness = project / "harness.py"
    harness.write_text(harness.read_text() + "\n# tuned\n", encoding="utf-8")
    case = build_case(project)
    assert case.nodes["Sn6.2"].status == "stale"
    assert case.nodes["Sn6.X"].status == "stale"
    # the hazard record rests on the recall record's inputs as well
    run_project(str(project), stages=(6,))
    assert build_case(project).nodes["Sn6.X"].status != "stale"
    requirements = project / "2-requirements" / "H-ml-safety-requirements.yaml"
    requirements.write_text(
        requirements.read_text().replace("Recall on hands at least 0.9", "Recall >= 0.9"),
        encoding="utf-8",
    )
    assert build_case(project).nodes["Sn6.X"].status == "stale"


def test_a_stale_verification_result_is_not_used(project: Path) -> None:
    run_project(str(project), stages=(4,))
    net = project / "net.py"
    net.write_text(net.read_text() + "\n# a new architecture comment\n", encoding="utf-8")
    records = by_key(run_project(str(project), stages=(6,)))
    hazard = records["stage6/hazard/HAZ-1"]
    assert (
        "not used, stale: stage4/MLR-9/O (model_code (changed))" in hazard.resolved["results_from"]
    )
    assert hazard.verdict == "inconclusive"
    assert hazard.results[0]["upper"] is None


def test_modules_the_harness_loads_are_part_of_it(tmp_path: Path) -> None:
    """A simulator module beside the harness: changing it stales the scenario records."""
    root = image_project(
        tmp_path / "p",
        [*default_requirements()[:1], RECALL],
        edit=stage6_edit(20),
        files={
            "harness.py": "from press_sim import run  # noqa: F401\n",
            "press_sim.py": HARNESS,
        },
    )
    sys.modules.pop("press_sim", None)
    records = by_key(run_project(str(root), stages=(4, 6)))
    assert "harness_code:press_sim.py" in records["stage6/scenario/SC-1"].inputs
    assert build_case(root).nodes["Sn6.2"].status != "stale"
    sim = root / "press_sim.py"
    sim.write_text(sim.read_text() + "\n# faster closing\n", encoding="utf-8")
    assert build_case(root).nodes["Sn6.2"].status == "stale"
    sys.modules.pop("press_sim", None)


@pytest.mark.parametrize(("variations", "verdict"), [(20, "inconclusive"), (59, "pass")])
def test_max_violation_rate_asks_for_enough_runs(
    tmp_path: Path, variations: int, verdict: str
) -> None:
    def edit(docs: dict[str, Any]) -> None:
        stage6_edit(variations)(docs)
        docs["EE"]["scenarios"] = docs["EE"]["scenarios"][:1]
        docs["EE"]["scenarios"][0].update(min_pass_rate=1.0, max_violation_rate=0.05)
        docs["EE"]["harness_data"] = ["O"]

    root = image_project(
        tmp_path / "p",
        [*default_requirements()[:1], RECALL],
        edit=edit,
        files={"harness.py": HARNESS},
    )
    record = by_key(run_project(str(root), stages=(6,)))["stage6/scenario/SC-1"]
    (row,) = record.results
    assert row["failing_count"] == 0  # the seeded runs hold: the count alone decides
    assert record.verdict == verdict
    if verdict == "inconclusive":
        assert "59 runs without a violation would" in row["reason"]
    # the harness replays [O]: the record rests on it
    assert "dataset:O" in record.inputs


def test_the_scenario_record_states_the_expected_outcome(tmp_path: Path) -> None:
    def edit(docs: dict[str, Any]) -> None:
        _edit(20)(docs)
        sc1 = docs["EE"]["scenarios"][0]
        sc1["expected_outcome"] = "The press never closes on a hand"
        sc1["ml_requirements"] = ["MLR-9"]

    root = image_project(
        tmp_path / "p",
        [*default_requirements()[:1], RECALL],
        edit=edit,
        files={"harness.py": HARNESS},
    )
    records = by_key(run_project(str(root), stages=(6,)))
    sc1, sc2 = records["stage6/scenario/SC-1"], records["stage6/scenario/SC-2"]
    assert sc1.resolved["expected_outcome"] == "The press never closes on a hand"
    assert sc1.resolved["expected_outcome_compared"] is False
    assert "not compared by amlas" in sc1.resolved["expected_outcome_note"]
    assert sc1.resolved["ml_requirements"] == ["MLR-9"]
    assert sc1.parameters["expected_outcome"] == "The press never closes on a hand"
    assert sc2.resolved["expected_outcome"] is None
    assert "states no expected outcome" in sc2.resolved["expected_outcome_note"]
    assert "ml_requirements" not in sc2.resolved
