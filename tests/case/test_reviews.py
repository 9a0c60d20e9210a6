"""Review records [RV] as evidence: the status each gives what it examined, pinning, and
the command line (``amlas review list|pin``).

The mini project's DR-3 (accuracy) has no machine check, so G3.6 rests on a review of it
alone; without one it is undeveloped (it used to be supported with a note)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from amlas.case import Case, build_case
from amlas.errors import ProblemError
from amlas.evidence import pin_review
from cli_helpers import run
from factory import documents, write_project

REVIEW: dict[str, Any] = {
    "id": "RV-2",
    "title": "Label accuracy",
    "date": "2026-10-02",
    "method": "inspection",
    "reviewers": [{"name": "Dr A", "role": "clinician", "independence": "independent_team"}],
    "items": [{"item": "DR-3"}],
    "summary": "Labels checked against the records",
    "decision": "accepted",
}


def _root(
    tmp_path: Path, *reviews: dict[str, Any], change: Callable[[dict[str, Any]], None] | None = None
) -> Path:
    docs = documents()
    docs["RV"]["reviews"] += [dict(r) for r in reviews]
    if change is not None:
        change(docs)
    return write_project(tmp_path / "p", docs)


def _pinned(tmp_path: Path, *reviews: dict[str, Any], **kw: Any) -> Path:
    root = _root(tmp_path, *reviews, **kw)
    for review in reviews:
        pin_review(root, review["id"])
    return root


def _dr3(case: Case) -> tuple[str, str]:
    node = case.nodes["Sn3.4"]
    return node.status, node.reason


def test_without_a_review_a_rule_less_requirement_is_undeveloped(tmp_path: Path) -> None:
    status, reason = _dr3(build_case(_root(tmp_path)))
    assert status == "undeveloped"
    assert reason == "DR-3: no machine check and no review record [RV] examined it"


def test_an_unpinned_review_supports_nothing(tmp_path: Path) -> None:
    status, reason = _dr3(build_case(_root(tmp_path, REVIEW)))
    assert status == "undeveloped"
    assert "has not pinned DR-3 (amlas review pin DIR RV-2)" in reason


def test_a_pinned_accepted_review_supports_and_is_cited(tmp_path: Path) -> None:
    case = build_case(_pinned(tmp_path, REVIEW))
    status, reason = _dr3(case)
    assert status == "supported"
    assert "all 1 accuracy requirements supported (0 by their checks, 1 by review)" in reason
    assert case.nodes["Sn3.4"].reviews == ["RV-2"]
    assert case.reviews["RV-2"].status == "supported"
    assert "inspection by Dr A, clinician, by an independent team" in case.reviews["RV-2"].reason
    assert case.to_dict()["reviews"]["RV-2"]["decision"] == "accepted"


def test_a_changed_item_makes_the_review_stale(tmp_path: Path) -> None:
    root = _pinned(tmp_path, REVIEW)
    path = root / "3-data/L-data-requirements.yaml"
    path.write_text(path.read_text().replace("Labels are right", "Labels are mostly right"))
    status, reason = _dr3(build_case(root))
    assert status == "stale"
    assert "changed since it was reviewed: DR-3 (it or what it was judged on changed)" in reason


def test_a_changed_document_makes_the_review_stale(tmp_path: Path) -> None:
    review = {**REVIEW, "documents": [{"file": "data/dev.csv"}]}
    root = _pinned(tmp_path, review)
    (root / "data/dev.csv").write_text("sample_id,label,size_mm\n")
    status, reason = _dr3(build_case(root))
    assert status == "stale"
    assert "data/dev.csv (changed)" in reason


def test_an_open_finding_keeps_the_claim_inconclusive(tmp_path: Path) -> None:
    finding = {"id": "F1", "text": "3 labels disputed", "severity": "major", "disposition": "open"}
    status, reason = _dr3(build_case(_pinned(tmp_path, {**REVIEW, "findings": [finding]})))
    assert status == "inconclusive"
    assert "findings still open: F1 (major)" in reason


def test_a_rejection_fails_the_claim_with_a_counter_solution(tmp_path: Path) -> None:
    case = build_case(_pinned(tmp_path, {**REVIEW, "decision": "rejected"}))
    assert _dr3(case)[0] == "failed"
    assert case.nodes["G3.6"].status == "failed"
    assert case.nodes["CSn3.4"].challenges == "G3.6"


def test_the_latest_review_decides_and_the_same_day_the_worst(tmp_path: Path) -> None:
    earlier = {**REVIEW, "id": "RV-2", "date": "2026-09-01", "decision": "rejected"}
    later = {**REVIEW, "id": "RV-3", "date": "2026-10-01"}
    case = build_case(_pinned(tmp_path / "a", earlier, later))
    assert _dr3(case)[0] == "supported"
    assert any(
        "superseded by the review of 2026-10-01: RV-2" in n for n in case.nodes["Sn3.4"].notes
    )
    same_day = {**later, "id": "RV-4", "decision": "rejected"}
    case = build_case(_pinned(tmp_path / "b", later, same_day))
    assert _dr3(case)[0] == "failed"


def test_conditions_are_said(tmp_path: Path) -> None:
    review = {**REVIEW, "decision": "accepted_with_conditions", "conditions": "re-audit in May"}
    case = build_case(_pinned(tmp_path, review))
    assert _dr3(case)[0] == "supported"
    (note,) = [n for n in case.nodes["Sn3.4"].notes if n.startswith("DR-3:")]
    assert "accepted it with conditions" in note
    assert "re-audit in May" in note


def test_a_self_review_is_noted(tmp_path: Path) -> None:
    review = {**REVIEW, "reviewers": [{"name": "Me", "role": "ML lead", "independence": "author"}]}
    case = build_case(_pinned(tmp_path, review))
    assert any("self-review" in n for n in case.nodes["Sn3.4"].notes)


def test_reviews_develop_goals_and_justifications_they_name(tmp_path: Path) -> None:
    review = {**REVIEW, "nodes": ["G6.7", "J4.1"], "summary": "Field data reviewed monthly"}
    case = build_case(_pinned(tmp_path, review))
    assert case.nodes["G6.7"].status == "supported"
    assert case.nodes["G6.7"].supported_by == ["Sn-rv-G6.7"]
    assert case.nodes["Sn-rv-G6.7"].reviews == ["RV-2"]
    assert case.nodes["J4.1"].status == "supported"
    assert case.nodes["J4.1"].rationale == "Field data reviewed monthly"
    finding = {"id": "F1", "text": "two months missing", "severity": "minor", "disposition": "open"}
    case = build_case(_pinned(tmp_path / "b", {**review, "findings": [finding]}))
    assert case.nodes["G6.7"].status == "inconclusive"
    assert case.nodes["J4.1"].status == "inconclusive"


def test_a_review_only_ever_adds_to_what_a_goal_rests_on(tmp_path: Path) -> None:
    """A review naming a goal whose evidence is missing cannot lift it."""
    case = build_case(_pinned(tmp_path, {**REVIEW, "nodes": ["G3.4"]}))
    assert case.nodes["G3.4"].supported_by == ["Sn3.2", "Sn-rv-G3.4"]
    assert case.nodes["Sn-rv-G3.4"].status == "supported"
    assert case.nodes["G3.4"].status == "undeveloped"  # Sn3.2 has no records


def test_a_review_can_validate_requirements(tmp_path: Path) -> None:
    def only_mlr1(docs: dict[str, Any]) -> None:
        docs["J"]["records"][0]["requirements"] = ["MLR-1"]

    case = build_case(_root(tmp_path / "a", change=only_mlr1))
    assert case.nodes["Sn2.1"].status == "undeveloped"
    assert "MLR-2 (not validated)" in case.nodes["Sn2.1"].reason
    verification = {**REVIEW, "items": [{"item": "MLR-2"}], "date": "2026-02-01"}
    root = _pinned(tmp_path / "c", verification, change=only_mlr1)
    assert build_case(root).nodes["Sn2.1"].status == "undeveloped"  # not a validation
    review = {**verification, "purpose": "validation"}
    root = _pinned(tmp_path / "b", review, change=only_mlr1)
    case = build_case(root)
    assert case.nodes["Sn2.1"].status == "supported", case.nodes["Sn2.1"].reason
    assert case.nodes["Sn2.1"].reviews == ["RV-2"]
    path = root / "2-requirements/H-ml-safety-requirements.yaml"
    text = path.read_text()
    path.write_text(text.replace("Stable under measurement noise", "Stable under noise"))
    case = build_case(root)
    assert case.nodes["Sn2.1"].status == "stale"
    assert case.nodes["Sn2.1"].reason.startswith("changed since validated: MLR-2 (review RV-2")


# -- pinning -------------------------------------------------------------------------------


RAW = """artefact: RV
version: "1.0"
reviews:
  # keep this comment
  - id: RV-9
    title: Mixed styles
    date: 2026-10-02
    method: walkthrough
    reviewers:
      - {name: A, role: b, independence: same_team}
    items:
      - item: DR-3
      - {item: DR-1}
      - item: "DR-2"
        sha256: 'pending'
    documents:
      - {file: "data/dev.csv", title: "dev"}
    summary: s
    decision: accepted
"""


def test_pin_writes_every_hash_in_place_and_keeps_the_rest(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", documents())
    path = root / "reviews/RV-review-records.yaml"
    path.write_text(RAW)
    pins = pin_review(root, "RV-9")
    assert [p.subject for p in pins] == ["DR-3", "DR-1", "DR-2", "data/dev.csv"]
    assert all(p.before == "pending" and len(p.after) == 64 for p in pins)
    text = path.read_text()
    assert "# keep this comment" in text
    assert f"      - item: DR-3\n        sha256: {pins[0].after}\n" in text
    assert f"{{item: DR-1, sha256: {pins[1].after}}}" in text
    assert f"sha256: {pins[2].after}\n" in text
    assert "'pending'" not in text
    assert f'{{file: "data/dev.csv", sha256: {pins[3].after}, title: "dev"}}' in text
    again = pin_review(root, "RV-9")
    assert not any(p.changed for p in again)
    assert path.read_text() == text


def test_pin_refuses_what_it_cannot_pin(tmp_path: Path) -> None:
    root = _root(tmp_path, {**REVIEW, "documents": [{"file": "data/dev.csv"}]})
    with pytest.raises(ProblemError) as error:
        pin_review(root, "RV-7")
    assert error.value.diagnostics[0].code == "R100"
    assert "one of RV-1, RV-2" in str(error.value)
    (root / "data/dev.csv").unlink()
    before = (root / "reviews/RV-review-records.yaml").read_text()
    with pytest.raises(ProblemError, match="no file of the project"):
        pin_review(root, "RV-2")
    assert (root / "reviews/RV-review-records.yaml").read_text() == before


def test_review_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _root(tmp_path, REVIEW)
    code, out, _ = run(capsys, "review", "list", str(root))
    assert code == 0
    assert "RV-2  2026-10-02  accepted" in out
    assert "undeveloped" in out
    code, out, _ = run(capsys, "review", "pin", str(root), "RV-2")
    assert code == 0
    assert "pinned 1 entries of RV-2 (1 changed)" in out
    code, out, _ = run(capsys, "review", "list", str(root))
    assert "RV-2  2026-10-02  accepted                 supported" in out
    code, _, err = run(capsys, "review", "pin", str(root), "RV-8")
    assert code == 2
    assert "R100" in err


def test_a_requirement_verified_by_review_rests_on_its_verification_review(
    tmp_path: Path,
) -> None:
    def add(docs: dict[str, Any]) -> None:
        docs["H"]["requirements"].append(
            {
                "id": "MLR-3",
                "text": "The classes are defined as the clinicians use them",
                "kind": "other",
                "traces_to": ["ALR-1"],
                "verified_by": "review",
            }
        )
        docs["AA"]["activities"][0]["requirements"].append("MLR-3")

    case = build_case(_root(tmp_path / "a", change=add))
    node = case.nodes["Sn5.2.MLR-3"]
    assert node.status == "undeveloped"
    assert "verified by review" in node.reason
    assert "REVIEW_FILE" in node.reason
    review = {**REVIEW, "items": [{"item": "MLR-3"}]}
    case = build_case(_pinned(tmp_path / "b", review, change=add))
    assert case.nodes["Sn5.2.MLR-3"].status == "supported"
    assert case.nodes["Sn5.2.MLR-3"].reviews == ["RV-2"]
    # a validation review is not a verification
    case = build_case(_pinned(tmp_path / "c", {**review, "purpose": "validation"}, change=add))
    assert case.nodes["Sn5.2.MLR-3"].status == "undeveloped"


def test_a_refinement_is_argued_under_its_parent(tmp_path: Path) -> None:
    def refine(docs: dict[str, Any]) -> None:
        docs["H"]["requirements"][1]["refines"] = "MLR-1"

    case = build_case(_root(tmp_path, change=refine))
    assert case.nodes["S2.2"].supported_by == ["G2.4.MLR-1"]
    assert case.nodes["G2.4.MLR-1"].supported_by == ["G5.1.MLR-1", "G2.5.MLR-2"]
    assert any("MLR-2 refines MLR-1" in n for n in case.nodes["G2.5.MLR-2"].notes)


def test_new_data_makes_a_review_of_a_data_requirement_stale(tmp_path: Path) -> None:
    """A review pins the data a data requirement was judged on, as a check's record does
    (review finding: relabelled data kept the review supported)."""
    root = _pinned(tmp_path, REVIEW)
    assert _dr3(build_case(root))[0] == "supported"
    data = (root / "data/dev.csv").read_text()
    (root / "data/dev.csv").write_text(data.replace("positive", "negative"))
    status, reason = _dr3(build_case(root))
    assert status == "stale"
    assert "DR-3 (it or what it was judged on changed)" in reason


def test_a_negative_review_counts_beside_a_passing_check(tmp_path: Path) -> None:
    """A review of a data requirement that has a rule, or of a requirement with
    imported evidence, is never ignored: a rejection holds the claim back."""
    review = {**REVIEW, "items": [{"item": "DR-1"}], "decision": "rejected"}
    case = build_case(_pinned(tmp_path, review))
    solution = case.nodes["Sn3.2"]
    assert solution.status == "failed"
    assert solution.reviews == ["RV-2"]


def test_a_review_cannot_lift_a_goal_over_its_own_members(tmp_path: Path) -> None:
    """G6.8 is developed by every [DD] behaviour's monitoring: a review naming G6.8 adds
    to that check, never stands in for it (review finding)."""

    def blank(docs: dict[str, Any]) -> None:
        docs["DD"]["behaviours"][0]["monitoring"] = ""

    review = {**REVIEW, "items": [{"item": "EB-1"}], "nodes": ["G6.8"]}
    case = build_case(_pinned(tmp_path, review, change=blank))
    assert case.nodes["Sn-rv-G6.8"].status == "supported"
    assert case.nodes["Sn-G6.8"].status == "undeveloped"
    assert "behaviours[EB-1] monitoring" in case.nodes["Sn-G6.8"].reason
    assert case.nodes["G6.8"].status == "undeveloped"


def test_a_review_naming_a_project_node_counts(tmp_path: Path) -> None:
    def argue(docs: dict[str, Any]) -> None:
        docs["manifest"]["case"] = {
            "argument": [
                {
                    "id": "G-X",
                    "type": "goal",
                    "text": "x",
                    "under": "G2.2",
                    "supported_by": ["Sn-X"],
                },
                {"id": "Sn-X", "type": "solution", "text": "y", "reviews": ["RV-1"]},
            ]
        }

    review = {**REVIEW, "nodes": ["Sn-X"], "decision": "rejected"}
    case = build_case(_pinned(tmp_path, review, change=argue))
    assert case.nodes["Sn-X"].status == "failed"
    assert "RV-2" in case.nodes["Sn-X"].reviews
    assert case.nodes["G-X"].status == "failed"
