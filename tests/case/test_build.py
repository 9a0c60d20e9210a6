"""``build_case`` over the runnable mini project: instantiation, statuses, counter-
solutions, staleness, recorded rationale and judgements, diagnostics and the gate.

Every generated case is also checked against the gsn2x rules (V01-V13, C01-C16)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from amlas import check_project
from amlas.case import Case, build_case, gate
from amlas.evidence import seal_dataset
from amlas.render import render_gsn2x, validate_gsn2x
from amlas.sealing import VerifierKey, generate_key
from amlas.verify import run_project
from factory import DATA_FILE, documents
from runnable import runnable

pytestmark = pytest.mark.usefixtures("fresh_model")


def _run_all(root: Path, key: VerifierKey) -> None:
    seal_dataset(check_project(root).project, "P", key)
    run_project(str(root), role="developer")
    sys.modules.pop("mini_model", None)
    run_project(str(root), role="verifier", stages=(3, 5), key=key)
    sys.modules.pop("mini_model", None)


@pytest.fixture
def key(tmp_path: Path) -> VerifierKey:
    return generate_key(tmp_path / "keys" / "verifier.key")


def project(tmp_path: Path, change: Any = None) -> Path:
    docs = documents()
    if change is not None:
        change(docs)
    return runnable(tmp_path / "mini", docs)


def gsn2x_findings(case: Case) -> list[str]:
    files = {name: yaml.safe_load(text) for name, text in render_gsn2x(case).items()}
    return [str(f) for f in validate_gsn2x(files)]


def test_without_evidence_every_evidence_leaf_is_undeveloped(tmp_path: Path) -> None:
    case = build_case(project(tmp_path))
    assert case.top.status == "undeveloped"
    assert case.nodes["Sn5.2.MLR-1"].status == "undeveloped"
    assert "no evidence record stage5/MLR-1/P" in case.nodes["Sn5.2.MLR-1"].reason
    assert case.nodes["Sn3.2"].status == "undeveloped"
    assert gsn2x_findings(case) == []


def test_multiplicities_expand_per_requirement(tmp_path: Path) -> None:
    case = build_case(project(tmp_path))
    assert "G2.4.MLR-1" in case.nodes  # performance
    assert "G2.5.MLR-2" in case.nodes  # robustness
    assert "G2.4.MLR-2" not in case.nodes
    assert case.nodes["G2.4.MLR-1"].supported_by == ["G5.1.MLR-1"]
    for rid in ("MLR-1", "MLR-2"):
        g51 = case.nodes[f"G5.1.{rid}"]
        assert g51.module == "stage5"
        assert g51.binding == {"requirement": rid}
        assert rid in g51.text
    ids = list(case.nodes)
    assert len(ids) == len(set(ids))
    # the mini [D] states no platform and nobody recorded J4.1: reported, nothing else
    assert {n.id for n in case.nodes.values() if "{" in n.text} == {"C4.2", "J4.1"}
    assert {d.code for d in case.diagnostics if d.code.startswith("G")} == {"G001", "G004"}


def test_full_run_statuses_follow_the_verdicts(tmp_path: Path, key: VerifierKey) -> None:
    # the mini data are small and overlap: MLR-2 passes, MLR-1 is inconclusive, DR-2
    # fails on every set and the sets share samples (independence fails)
    root = project(tmp_path)
    _run_all(root, key)
    case = build_case(root)
    assert case.nodes["Sn5.2.MLR-2"].status == "supported"
    assert case.nodes["G5.5.MLR-2"].status == "supported"
    (digest,) = case.nodes["Sn5.2.MLR-2"].evidence
    assert case.evidence[digest].key == "stage5/MLR-2/P"
    assert case.nodes["Sn5.2.MLR-1"].status == "inconclusive"
    assert case.nodes["G5.5.MLR-1"].status == "inconclusive"
    assert "CSn5.2.MLR-1" not in case.nodes  # inconclusive is not a counter-argument
    # independence of [N]/[O] and [P] failed: two counter-solutions challenge G5.2
    g52 = case.nodes["G5.2.MLR-1"]
    assert g52.status == "failed"
    assert g52.defeated
    counters = [n for n in case.nodes.values() if n.challenges == "G5.2.MLR-1"]
    assert [c.id for c in counters] == ["CSn5.1.MLR-1.1", "CSn5.1.MLR-1.2"]
    assert {case.evidence[c.evidence[0]].key for c in counters} == {
        "stage3/independence/N-P",
        "stage3/independence/O-P",
    }
    assert case.nodes["Sn3.3"].status == "failed"  # DR-2, completeness
    assert case.nodes["G3.3"].status == "failed"
    assert case.nodes["C2.2"].status == "failed"  # backed by G3.1
    assert case.top.status == "failed"
    # nothing runs stage 6 yet: the deployment argument stays undeveloped, honestly
    assert case.nodes["Sn6.2"].status == "undeveloped"
    assert case.counts()["failed"] > 0
    assert gsn2x_findings(case) == []


def test_a_failed_check_raises_a_counter_solution(
    tmp_path: Path, key: VerifierKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    seal_dataset(check_project(root).project, "P", key)
    # answer every positive of [P] wrongly: recall fails outright
    from runnable import rows

    misses = [sid for sid, label, _ in rows("P") if label == "positive"]
    monkeypatch.setenv("MINI_MODEL_MISS", ",".join(misses))
    run_project(str(root), role="verifier", stages=(5,), key=key)
    case = build_case(root)
    solution = case.nodes["Sn5.2.MLR-1"]
    assert solution.status == "failed"
    counter = case.nodes["CSn5.2.MLR-1"]
    assert counter.type == "counter_solution"
    assert counter.challenges == "G5.5.MLR-1"
    assert counter.evidence == solution.evidence
    assert case.nodes["G5.5.MLR-1"].defeated
    for node_id in ("G5.5.MLR-1", "G5.1.MLR-1", "G2.4.MLR-1", "G1.1"):
        assert case.nodes[node_id].status == "failed", node_id
    assert gsn2x_findings(case) == []
    gsn = yaml.safe_load(render_gsn2x(case)["stage5.gsn.yaml"])
    assert gsn["CSn5.2.MLR-1"]["challenges"] == "G5.5.MLR-1"
    assert gsn["G5.5.MLR-1"]["defeated"] is True


def test_changed_requirement_makes_its_evidence_stale(tmp_path: Path, key: VerifierKey) -> None:
    root = project(tmp_path)
    _run_all(root, key)
    h = root / "2-requirements/H-ml-safety-requirements.yaml"
    data = yaml.safe_load(h.read_text())
    data["requirements"][0]["threshold"] = 0.5
    h.write_text(yaml.safe_dump(data, sort_keys=False))
    case = build_case(root)
    node = case.nodes["Sn5.2.MLR-1"]
    assert node.status == "stale"
    (digest,) = node.evidence
    assert case.stale_inputs[digest] == ["requirement:MLR-1 (changed)"]
    assert case.nodes["Sn5.2.MLR-2"].status == "supported"
    assert case.nodes["G5.5.MLR-1"].status == "stale"
    assert "stale" in case.nodes["Sn5.2.MLR-1"].notes[0]


def test_changed_data_makes_every_record_on_it_stale(tmp_path: Path, key: VerifierKey) -> None:
    root = project(tmp_path)
    run_project(str(root), role="developer")
    path = root / DATA_FILE["O"]
    path.write_bytes(path.read_bytes() + b"\n")
    case = build_case(root)
    stale = {case.evidence[d].key for d in case.stale_inputs}
    assert "stage4/MLR-1/O" in stale
    assert "stage3/independence/N-O" in stale
    assert not any(k.endswith("/N") for k in stale)
    assert case.nodes["Sn4.1"].status == "stale"
    assert "dataset:O (changed)" in case.stale_inputs[case.nodes["Sn4.1"].evidence[0]]


def test_a_removed_requirement_is_not_cited(tmp_path: Path, key: VerifierKey) -> None:
    root = project(tmp_path)
    run_project(str(root), role="developer")
    docs = documents()
    docs["H"]["requirements"] = docs["H"]["requirements"][:1]
    docs["AA"]["activities"][0]["requirements"] = ["MLR-1"]
    runnable(root, docs)
    case = build_case(root)
    assert not any(case.evidence[d].subject == "MLR-2" for d in case.evidence)
    assert not any("MLR-2" in n for n in case.nodes)


def test_no_verification_activity_leaves_the_choice_unmade(tmp_path: Path) -> None:
    def change(docs: dict[str, Any]) -> None:
        docs["AA"]["activities"][0]["requirements"] = ["MLR-1"]

    case = build_case(project(tmp_path, change))
    strategy = case.nodes["S5.1.MLR-2"]
    assert strategy.supported_by == []
    assert strategy.undeveloped
    assert strategy.status == "undeveloped"
    assert "G3.3" not in [d.code for d in case.diagnostics]
    (diagnostic,) = [d for d in case.diagnostics if d.code == "G003"]
    assert "S5.1.MLR-2" in diagnostic.message
    assert gsn2x_findings(case) == []


def test_formal_activity_instantiates_the_formal_leg(tmp_path: Path) -> None:
    def change(docs: dict[str, Any]) -> None:
        docs["AA"]["activities"].append(
            {
                "id": "VER-2",
                "requirements": ["MLR-2"],
                "method": "formal",
                "description": "Marabou on [P]",
                "property_encoding": "max |f(x+d) - f(x)| with |d| <= 0.1 on size_mm",
            }
        )

    case = build_case(project(tmp_path, change))
    assert case.nodes["S5.1.MLR-2"].supported_by == ["G5.3.MLR-2", "G5.4.MLR-2"]
    assert case.nodes["J5.2.MLR-2"].status == "supported"
    assert case.nodes["Sn5.3.MLR-2"].status == "undeveloped"
    assert "G5.4.MLR-1" not in case.nodes
    # MLR-2 declares no formal property: the placeholder is left and reported
    assert any(d.code == "G001" and "C5.2" in d.message for d in case.diagnostics)


def test_missing_rationale_is_undeveloped_until_recorded(tmp_path: Path) -> None:
    case = build_case(project(tmp_path))
    assert case.nodes["J4.1"].status == "undeveloped"
    assert any(d.code == "G004" and "J4.1" in d.message for d in case.diagnostics)

    def change(docs: dict[str, Any]) -> None:
        docs["manifest"]["case"] = {"rationale": {"J4.1": "Every [H] bound met on [O]."}}

    case = build_case(project(tmp_path / "b", change))
    assert case.nodes["J4.1"].status == "supported"
    assert case.nodes["J4.1"].rationale == "Every [H] bound met on [O]."
    assert not any(d.code == "G004" and "J4.1" in d.message for d in case.diagnostics)


def test_judgement_develops_an_undeveloped_goal(tmp_path: Path) -> None:
    def change(docs: dict[str, Any]) -> None:
        docs["manifest"]["case"] = {
            "judgements": {
                "G6.7": {"text": "Field data review", "by": "A. Safety", "date": "2026-10-01"},
                "G5.8": {"text": "typo target", "by": "x", "date": "2026-10-01"},
                "G9.9": {"text": "no such node", "by": "x", "date": "2026-10-01"},
            }
        }

    case = build_case(project(tmp_path, change))
    assert case.nodes["G6.7"].status == "supported"
    assert case.nodes["G6.7"].supported_by == ["Sn-G6.7"]
    assert "A. Safety" in case.nodes["Sn-G6.7"].text
    # G5.8 belongs to the formal leg, which no activity chose: its judgement names no node
    unknown = [d for d in case.diagnostics if d.code == "G005"]
    assert {d.message.split("'")[1] for d in unknown} == {"G5.8", "G9.9"}
    assert unknown[0].location.line is not None


def test_undeveloped_goals_without_judgement(tmp_path: Path) -> None:
    case = build_case(project(tmp_path))
    g67 = case.nodes["G6.7"]
    assert g67.undeveloped
    assert g67.status == "undeveloped"
    assert "case.judgements" in g67.reason
    # G5.6 is developed by the platform text of [AA]; G6.8 by the monitoring of [DD]
    assert case.nodes["G5.6.MLR-1"].status == "supported"
    assert case.nodes["Sn-G5.6.MLR-1"].rationale == "The production controller board"
    assert case.nodes["G6.8"].status == "supported"


def test_missing_artefact_leaves_its_context_undeveloped(tmp_path: Path) -> None:
    def change(docs: dict[str, Any]) -> None:
        docs["EE"] = None

    case = build_case(project(tmp_path, change))
    assert case.nodes["C6.1"].status == "undeveloped"
    assert "[EE]" in case.nodes["C6.1"].reason
    assert case.nodes["G6.2"].status == "undeveloped"
    assert any(d.code == "G001" and "C6.1" in d.message for d in case.diagnostics)


def test_gate_accepts_named_undeveloped_nodes_only(tmp_path: Path) -> None:
    case = build_case(project(tmp_path))  # no evidence: undeveloped, nothing failed
    shut = gate(case)
    assert not shut.passed
    assert shut.status == "undeveloped"
    assert {n.id for n in shut.blocking} >= {"G6.7", "Sn6.2", "J4.1", "Sn5.2.MLR-1"}
    partly = gate(case, allow_undeveloped=[("G6.*", "deployment is issue 6"), ("J4.1", "ok")])
    assert not partly.passed
    assert "Sn5.2.MLR-1" in {n.id for n in partly.blocking}
    assert "G6.7" not in {n.id for n in partly.blocking}
    opened = gate(case, allow_undeveloped=[("*", "a dry run")])
    assert opened.passed
    assert opened.status == "supported"
    assert ("G6.7", "undeveloped", "a dry run") in opened.accepted
    assert case.top.status == "undeveloped"  # the case itself is untouched


def test_gate_never_accepts_a_failure(
    tmp_path: Path, key: VerifierKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runnable import rows

    root = project(tmp_path)
    _run_all(root, key)
    misses = [sid for sid, label, _ in rows("P") if label == "positive"]
    monkeypatch.setenv("MINI_MODEL_MISS", ",".join(misses))
    run_project(str(root), role="verifier", stages=(5,), key=key)
    case = build_case(root)
    result = gate(case, allow_undeveloped=[("*", "everything")])
    assert not result.passed
    assert result.status == "failed"
    assert "CSn5.2.MLR-1" in {n.id for n in result.blocking}


def test_an_empty_multiplicity_is_reported(tmp_path: Path) -> None:
    def change(docs: dict[str, Any]) -> None:
        docs["H"]["requirements"][1]["kind"] = "performance"

    case = build_case(project(tmp_path, change))
    assert "G2.4.MLR-2" in case.nodes
    assert not any(n.pattern_id == "G2.5" for n in case.nodes.values())
    (diagnostic,) = [d for d in case.diagnostics if d.code == "G002"]
    assert "no robustness requirements" in diagnostic.message
    assert diagnostic.location.path == "2-requirements/H-ml-safety-requirements.yaml"


def test_a_malformed_library_is_a_check_error_and_the_case_refuses_it(tmp_path: Path) -> None:
    """G006: a project's own pattern library whose supported_by links form a cycle is
    reported by `amlas check` (located at case.library) and refused by `amlas case`."""
    import shutil

    from amlas.case import LibraryError, check_library
    from amlas.diagnostics import Diagnostics

    root = project(tmp_path)
    shipped = Path(__file__).resolve().parents[2] / "src/amlas/case/patterns/amlas-1.1"
    shutil.copytree(shipped, root / "patterns")
    stage1 = root / "patterns" / "stage1.yaml"
    stage1.write_text(
        stage1.read_text().replace("supported_by: [G2.1, G6.1]", "supported_by: [G2.1, G6.1, G1.1]")
    )
    manifest = yaml.safe_load((root / "amlas.yaml").read_text())
    manifest.setdefault("case", {})["library"] = "patterns"
    (root / "amlas.yaml").write_text(yaml.safe_dump(manifest))
    loaded = check_project(root)
    diagnostics = Diagnostics()
    check_library(loaded.project, diagnostics)
    (diagnostic,) = diagnostics.items
    assert diagnostic.code == "G006"
    assert "form a cycle" in diagnostic.message
    assert diagnostic.location.path == "amlas.yaml"
    with pytest.raises(LibraryError, match="form a cycle"):
        build_case(root)


def test_every_case_code_is_exercised() -> None:
    """Each G code has a test above that produces it (kept honest by grepping this file;
    G010, of a system's case, in tests/system/test_system.py)."""
    from amlas.diagnostics import CODES

    here = Path(__file__)
    source = here.read_text() + (here.parents[1] / "system" / "test_system.py").read_text()
    for code in (c for c in CODES if c.startswith("G")):
        assert f'"{code}"' in source.replace(f'"{code}" in', ""), code


def test_issue12_verification_results_count_only_under_the_declared_key(
    tmp_path: Path, key: VerifierKey
) -> None:
    from amlas.sealing import public_key_of

    root = project(tmp_path)
    _run_all(root, key)
    assert build_case(root).nodes["Sn5.2.MLR-2"].status == "supported"
    # a developer declares a key of their own: the verifier's results no longer count
    manifest = root / "amlas.yaml"
    mine = public_key_of(VerifierKey.from_secret(bytes(32)))
    manifest.write_text(manifest.read_text().replace(public_key_of(key), mine))
    case = build_case(root)
    solution = case.nodes["Sn5.2.MLR-2"]
    assert solution.status == "failed"
    assert "not signed by the declared verifier key" in solution.reason
    assert "not signed by the declared verifier key" in case.nodes["CSn5.2.MLR-2"].text
    assert case.top.status == "failed"
    assert {"D015", "D017"} <= {d.code for d in case.diagnostics}


def test_a_setting_that_cannot_affect_its_node_is_an_error(tmp_path: Path) -> None:
    """G007: a judgement on a goal whose status comes from evidence, a rationale on a
    node that is no justification and a review naming a context are never ignored."""

    def change(docs: dict[str, Any]) -> None:
        docs["manifest"]["case"] = {
            "judgements": {
                "G3.4": {"text": "looks relevant", "by": "A. Safety", "date": "2026-10-01"},
                "G6.7": {"text": "Field data review", "by": "A. Safety", "date": "2026-10-01"},
            },
            "rationale": {"G2.2": "not a justification", "J4.1": "Internal tests pass"},
            "allow_undeveloped": [{"node": "G9.*", "reason": "no such node"}],
        }
        docs["RV"]["reviews"][0]["nodes"] = ["C3.1", "G5.6.*"]

    root = project(tmp_path, change)
    case = build_case(root)
    found = {d.message.split("'")[1]: d for d in case.diagnostics if d.code == "G007"}
    assert set(found) == {"G3.4", "G2.2", "C3.1"}
    assert "status comes from what supports it (Sn3.2)" in found["G3.4"].message
    assert found["G3.4"].location.path == "amlas.yaml"
    assert found["C3.1"].location.path == "reviews/RV-review-records.yaml"
    assert found["G3.4"].severity.value == "error"
    assert any(d.code == "G005" and "G9.*" in d.message for d in case.diagnostics)
    # amlas check finds the same in the same pass as the files' own errors
    from amlas import check_project
    from amlas.case import check_case_settings
    from amlas.diagnostics import Diagnostics

    checked = Diagnostics()
    check_case_settings(check_project(root).project, checked)
    assert {d.message.split("'")[1] for d in checked if d.code == "G007"} == set(found)
    # the judgement of G3.4 did nothing, the one of G6.7 developed it, the review G5.6
    assert case.nodes["G3.4"].supported_by == ["Sn3.2"]
    assert case.nodes["G6.7"].status == "supported"
    assert case.nodes["Sn-rv-G5.6.MLR-1"].reviews == ["RV-1"]


def test_a_project_argument_node_that_cannot_be_placed_is_g009(tmp_path: Path) -> None:
    """G009 (the full table of causes is tests/case/test_set_claims.py)."""

    def change(docs: dict[str, Any]) -> None:
        docs["manifest"]["case"] = {
            "argument": [{"id": "G-1", "type": "goal", "text": "x", "under": "G9.9"}]
        }

    case = build_case(project(tmp_path, change))
    (found,) = [d for d in case.diagnostics if d.code == "G009" and "under 'G9.9'" in d.message]
    assert found.location.path == "amlas.yaml"


def test_an_artefact_that_did_not_load_is_said_once_not_contradicted(tmp_path: Path) -> None:
    """G008: with [H] broken, the case says so instead of 'no performance requirements'
    beside the requirements written in the file."""

    def change(docs: dict[str, Any]) -> None:
        docs["H"]["requirements"][0]["threshold"] = "high"

    case = build_case(project(tmp_path, change))
    codes = [d.code for d in case.diagnostics]
    (said,) = [d for d in case.diagnostics if d.code == "G008"]
    assert "[H] did not load" in said.message
    assert said.location.path == "2-requirements/H-ml-safety-requirements.yaml"
    assert "G002" not in codes
    assert not any(d.code == "G001" and "ml_requirements" in d.message for d in case.diagnostics)
    assert any("[H] did not load" in note for note in case.nodes["S2.2"].notes)
    assert case.nodes["G2.2"].status == "undeveloped"
    assert case.top.status == "undeveloped"


def test_fixed_odd_conditions_join_the_scoping_argument(tmp_path: Path) -> None:
    """[B] conditions (issue 15): assured by design or a monitor as context of G1.1, an
    assumed one as a GSN assumption; none is claimed as verified on data."""

    def change(docs: dict[str, Any]) -> None:
        docs["B"]["conditions"] = [
            {
                "id": "OC-1",
                "name": "Line",
                "condition": "Line 3 only",
                "assured_by": "design",
                "rationale": "The press is bolted to line 3",
            },
            {
                "id": "OC-2",
                "name": "Gloves",
                "condition": "Operators wear no gloves",
                "assured_by": "assumption",
                "rationale": "Plant rule 12",
            },
        ]

    case = build_case(project(tmp_path, change))
    assert case.nodes["G1.1"].in_context_of[-2:] == ["C1.5.OC-1", "A1.2.OC-2"]
    assert case.nodes["C1.5.OC-1"].type == "context"
    assert "assured by design: The press is bolted" in case.nodes["C1.5.OC-1"].text
    assert case.nodes["A1.2.OC-2"].type == "assumption"
    assert case.nodes["A1.2.OC-2"].extension
    assert gsn2x_findings(case) == []


def test_settings_are_not_called_dangling_while_an_artefact_is_broken(tmp_path: Path) -> None:
    """Review finding: with [H] broken, a judgement or a project node naming a G5.6
    instance got G005/G009 although the file holds the requirement."""

    def change(docs: dict[str, Any]) -> None:
        docs["H"]["requirements"][1]["threshold"] = "high"
        docs["manifest"]["case"] = {
            "judgements": {"G5.6.MLR-1": {"text": "ok", "by": "x", "date": "2026-10-01"}},
            "argument": [{"id": "G-1", "type": "goal", "text": "x", "under": "G2.4.MLR-1"}],
        }

    case = build_case(project(tmp_path, change))
    codes = {d.code for d in case.diagnostics}
    assert "G008" in codes
    assert not codes & {"G005", "G009"}
