"""A claim over a set is supported only when every member is (issue 15).

The mini project gets an evidence store where every check the plan calls for passed
(records written here, current and signed as amlas run would sign them). Then exactly one
member of one set is taken away, for every member of every set claim the patterns make:

* each planned check's record (data requirements per category on every dataset, the
  checks on [P] behind G5.9, the internal tests behind G4.2, both independence checks of
  G5.2, every scenario of G6.4, every hazard of G6.X, every requirement's stage-5 result
  under G2.2);
* the review of a data requirement judged by review (G3.6);
* the validation of one ML safety requirement (Sn2.1);
* the monitoring and the response of one erroneous behaviour of [DD] (G6.8, G6.9).

Each time, the node citing the member is not supported, its reason names the member, and
the top claim is not supported. With nothing taken away, every one of those nodes is
supported: the test can fail both ways.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from amlas import check_project
from amlas.case import Case, build_case
from amlas.evidence import EvidenceRecord, open_store, pin_review, sign_record
from amlas.render import render_gsn2x, validate_gsn2x
from amlas.sealing import generate_key, public_key_of
from amlas.verify import plan
from overclaim import overclaims
from runnable import runnable

HARNESS = "def run(scenario, seed):\n    return {'held': True}\n"

REVIEWS = {
    "artefact": "RV",
    "version": "1.0.0",
    "reviews": [
        {
            "id": "RV-1",
            "title": "Label audit",
            "date": "2026-11-02",
            "method": "inspection",
            "reviewers": [
                {"name": "Dr A", "role": "clinician", "independence": "independent_team"}
            ],
            "items": [{"item": "DR-3"}, {"item": "DR-5"}],
            "summary": "Labels checked against the records",
            "decision": "accepted",
        }
    ],
}


def _docs(docs: dict[str, Any]) -> None:
    docs["L"]["requirements"].append(
        {"id": "DR-5", "category": "accuracy", "text": "Sizes are measured", "traces_to": ["MLR-1"]}
    )
    docs["EE"]["harness"] = "harness:run"
    docs["EE"]["scenarios"].append(
        {
            "id": "SC-2",
            "name": "Night shift",
            "description": "Dim light",
            "requirements": ["SSR-1"],
            "conditions": {"lighting": "night"},
        }
    )
    docs["DD"]["behaviours"].append(
        {
            "id": "EB-2",
            "kind": "erroneous_output",
            "description": "A hand called a widget",
            "source": "verification",
            "monitoring": "Light curtain",
            "response": "Stop the press",
        }
    )
    docs["RV"] = copy.deepcopy(REVIEWS)
    docs["D"]["platform"] = "Press controller PLC"
    docs["manifest"].setdefault("case", {})["rationale"] = {"J4.1": "Internal tests pass"}
    docs["manifest"]["case"]["judgements"] = {
        goal: {"text": "Argued elsewhere", "by": "A. Safety", "date": "2026-11-01"}
        for goal in ("G5.6", "G5.8", "G6.5", "G6.7")
    }


def _project(tmp_path: Path, change: Callable[[dict[str, Any]], None] | None = None) -> Path:
    from factory import documents

    docs = documents()
    _docs(docs)
    if change is not None:
        change(docs)
    root = runnable(tmp_path / "mini", docs)
    (root / "harness.py").write_text(HARNESS, encoding="utf-8")
    key = generate_key(tmp_path / "verifier.key")
    manifest = yaml.safe_load((root / "amlas.yaml").read_text())
    manifest["verifier_key"] = public_key_of(key)
    (root / "amlas.yaml").write_text(yaml.safe_dump(manifest))
    pin_review(root, "RV-1")
    return root


def _store(root: Path, tmp_path: Path, leave_out: str | None = None) -> str:
    """A store where every planned check passed, except ``leave_out`` (no record)."""
    from amlas.sealing import load_key

    project = check_project(root).project
    key = load_key(tmp_path / "verifier.key")
    uri = f"sqlite:///{tmp_path / ('store-' + (leave_out or 'all').replace('/', '_'))}.db"
    checks = plan(project, role="verifier", stages=(3, 4, 5, 6))
    with open_store(uri, root=root) as store:
        for i, role in enumerate(("developer", "verifier")):
            with store.begin(f"run-{i}", role=role, stages=[3, 4, 5, 6]) as run:
                for check in checks:
                    if check.key == leave_out or check.needs != role:
                        continue
                    record = EvidenceRecord(
                        key=check.key,
                        check=check.check,
                        stage=check.stage,
                        role=check.needs,
                        subject=check.subject,
                        dataset=check.dataset,
                        parameters={},
                        resolved={},
                        inputs={k: v for k, v in check.inputs.items() if v is not None},
                        results=[],
                        verdict="pass",
                        summary="passed (made by the test)",
                        versions={},
                    )
                    run.put(sign_record(record, key) if role == "verifier" else record)
    return uri


SET_NODES = ("G2.2", "G3.3", "G4.2", "G6.4", "G6.X", "G6.8", "G6.9", "G2.3")


def _case(root: Path, uri: str) -> Case:
    return build_case(root, store=uri)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    tmp = tmp_path_factory.mktemp("sets")
    root = _project(tmp)
    checks = plan(check_project(root).project, role="verifier", stages=(3, 4, 5, 6))
    # field-log checks only count where [DD] names a field log (G6.7's Sn6.7); the mini has none
    keys = [c.key for c in checks if c.runs_in != "amlas monitor ingest"]
    return tmp, root, keys


def test_with_every_member_every_set_claim_is_supported(built: Any) -> None:
    tmp, root, keys = built
    case = _case(root, _store(root, tmp))
    assert {"stage6/scenario/SC-1", "stage6/scenario/SC-2", "stage6/hazard/HAZ-1"} <= set(keys)
    bad = {n.id: n.reason for n in case.nodes.values() if n.status != "supported"}
    assert bad == {}
    assert case.top.status == "supported"
    assert overclaims(case, check_project(root).project) == []


def test_the_independent_check_catches_an_over_claim(built: Any, tmp_path: Path) -> None:
    """The over-claim check of tests/overclaim.py is not a mirror of the builder: a case
    whose builder lifted G3.6 over an unreviewed member, or G6.4 over a missing scenario,
    is caught."""

    def unreviewed(docs: dict[str, Any]) -> None:
        docs["RV"]["reviews"][0]["items"] = [{"item": "DR-3"}]

    root = _project(tmp_path, unreviewed)
    case = _case(root, _store(root, tmp_path, leave_out="stage6/scenario/SC-2"))
    for node_id in ("G3.6", "G6.4"):
        case.nodes[node_id].status = "supported"  # what a builder that over-claims would say
    found = overclaims(case, check_project(root).project)
    assert "G3.6 supported but DR-5 has no rule and no holding review" in found
    assert "G6.4 supported without a passing record of SC-2" in found
    assert case.nodes["Sn3.4"].reviews == ["RV-1"]


def test_one_missing_record_defeats_every_set_claim_it_belongs_to(built: Any) -> None:
    tmp, root, keys = built
    checked = 0
    for key in keys:
        if key.startswith("external/"):
            continue
        case = _case(root, _store(root, tmp, leave_out=key))
        citing = [
            n
            for n in case.nodes.values()
            if n.type == "solution" and key in n.reason and n.status != "supported"
        ]
        assert citing, f"no solution says {key} is missing"
        assert case.top.status != "supported", key
        checked += 1
    assert checked >= 15  # 19 on the mini project: data, tests, scenarios, hazards


def test_a_data_requirement_without_rule_or_review_is_named(built: Any, tmp_path: Path) -> None:
    def unreviewed(docs: dict[str, Any]) -> None:
        docs["RV"]["reviews"][0]["items"] = [{"item": "DR-3"}]

    root = _project(tmp_path, unreviewed)
    case = _case(root, _store(root, tmp_path))
    solution = case.nodes["Sn3.4"]
    assert solution.status == "undeveloped"
    assert "DR-5: no machine check and no review record [RV] examined it" in solution.reason
    assert "DR-3" not in solution.reason  # the reviewed member is not blamed
    assert case.nodes["G3.6"].status == "undeveloped"


def test_one_unvalidated_requirement_leaves_validation_undeveloped(tmp_path: Path) -> None:
    def one(docs: dict[str, Any]) -> None:
        docs["J"]["records"][0]["requirements"] = ["MLR-1"]

    root = _project(tmp_path, one)
    case = _case(root, _store(root, tmp_path))
    assert case.nodes["Sn2.1"].status == "undeveloped"
    assert "MLR-2 (not validated)" in case.nodes["Sn2.1"].reason


@pytest.mark.parametrize("field", ["monitoring", "response"])
def test_one_behaviour_without_its_field_is_named(tmp_path: Path, field: str) -> None:
    def blank(docs: dict[str, Any]) -> None:
        docs["DD"]["behaviours"][1][field] = ""

    root = _project(tmp_path, blank)
    case = _case(root, _store(root, tmp_path))
    goal = "G6.8" if field == "monitoring" else "G6.9"
    assert case.nodes[goal].status != "supported"
    assert any(
        f"behaviours[EB-2] {field}" in " ".join([n.reason, *n.notes])
        for n in case.nodes.values()
        if n.id == goal or n.id.startswith(("Sn6.8", f"Sn-{goal}"))
    ), [case.nodes[goal].reason, case.nodes[goal].notes]


ARGUMENT = [
    {
        "id": "G-CAGE-1",
        "type": "goal",
        "text": "Hands the classifier misses are stopped by the force limiter",
        "under": "G2.4.MLR-1",
        "supported_by": ["S-CAGE-1"],
        "context": ["C-CAGE-1"],
    },
    {"id": "C-CAGE-1", "type": "context", "text": "Force limiter BAR-1 of [C]"},
    {
        "id": "S-CAGE-1",
        "type": "strategy",
        "text": "Argument over the limiter's verification and its review",
        "supported_by": ["Sn-CAGE-1"],
    },
    {
        "id": "Sn-CAGE-1",
        "type": "solution",
        "text": "Verification of MLR-1 and the review of the labels",
        "evidence": ["stage5/MLR-1/P"],
        "reviews": ["RV-1"],
    },
]


def test_a_project_argument_joins_the_case_and_holds_only_as_its_support(
    built: Any, tmp_path: Path
) -> None:
    def argue(docs: dict[str, Any]) -> None:
        docs["manifest"]["case"]["argument"] = ARGUMENT

    root = _project(tmp_path, argue)
    case = _case(root, _store(root, tmp_path))
    goal = case.nodes["G-CAGE-1"]
    assert goal.extension
    assert goal.module == "stage2"
    assert "G-CAGE-1" in case.nodes["G2.4.MLR-1"].supported_by
    assert goal.in_context_of == ["C-CAGE-1"]
    assert goal.status == "supported"
    assert case.nodes["Sn-CAGE-1"].reviews == ["RV-1"]
    assert case.top.status == "supported"
    assert not [d for d in case.diagnostics if d.code == "G009"]
    files = {name: yaml.safe_load(text) for name, text in render_gsn2x(case).items()}
    assert validate_gsn2x(files) == []
    assert "extension" in files["stage2.gsn.yaml"]["G-CAGE-1"]["classes"]
    # the verification it cites fails to exist: the project's goal and the top claim fall
    case = _case(root, _store(root, tmp_path, leave_out="stage5/MLR-1/P"))
    assert case.nodes["Sn-CAGE-1"].status == "undeveloped"
    assert case.nodes["G-CAGE-1"].status == "undeveloped"


def test_a_project_argument_that_cannot_be_placed_is_refused(tmp_path: Path) -> None:
    bad = [
        {**ARGUMENT[0], "under": "G2.4.MLR-9"},
        {"id": "X-1", "type": "goal", "text": "no prefix", "under": "G2.2"},
        {"id": "G-2", "type": "goal", "text": "cites", "under": "G2.2", "evidence": ["stage5/x"]},
        {"id": "Sn-3", "type": "solution", "text": "r", "under": "G2.2", "reviews": ["RV-9"]},
        {"id": "G-4", "type": "goal", "text": "floating"},
        {"id": "G-5", "type": "goal", "text": "under a context", "under": "C3.1"},
        {"id": "G2.2", "type": "goal", "text": "clash", "under": "G2.2"},
    ]

    def argue(docs: dict[str, Any]) -> None:
        docs["manifest"]["case"]["argument"] = [*bad, *ARGUMENT[1:]]

    root = _project(tmp_path, argue)
    case = build_case(root)
    messages = [d.message for d in case.diagnostics if d.code == "G009"]
    for expected in (
        "G-CAGE-1 goes under 'G2.4.MLR-9'",
        "'X-1' is a goal: its ID starts with 'G'",
        "G-2 is a goal: only a solution cites evidence",
        "Sn-3 cites review 'RV-9'",
        "G-4 is reached from no node",
        "G-5 goes under C3.1, a context",
        "'G2.2' is already a node of the case",
        "S-CAGE-1 is reached from no node",
    ):
        assert any(expected in m for m in messages), (expected, messages)
    assert "G-4" not in case.nodes
    from amlas.case import check_case_settings
    from amlas.diagnostics import Diagnostics

    checked = Diagnostics()
    check_case_settings(check_project(root).project, checked)
    assert sorted(d.message for d in checked if d.code == "G009") == sorted(messages)
