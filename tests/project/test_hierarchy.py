"""Issue 15: [H] items that refine other [H] items (``refines``). The tree the case and the
trace matrix read, the traces a child inherits from its parent, the matrix nesting
children under their parent, and the diagnostics of a broken hierarchy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from amlas import check_project
from amlas.checks import hazard_requirements
from amlas.project import build_trace
from amlas.project.artefacts import MLSafetyRequirements, RequirementTree
from factory import documents, write_project


def _item(item_id: str, refines: str | None = None, traces: tuple[str, ...] = ()) -> Any:
    class Item:
        id = item_id
        traces_to = list(traces)

    Item.refines = refines  # type: ignore[attr-defined]
    return Item()


def tree(*items: Any) -> RequirementTree:
    return RequirementTree(items)


def test_parents_children_and_a_parents_first_order() -> None:
    # the child C is written before its parent P: the walk still puts P first
    t = tree(
        _item("C", "P"),
        _item("Q"),
        _item("P", traces=("E1",)),
        _item("G", "C"),
        _item("D", "P"),
    )
    assert t.parent_of("C") == "P"
    assert t.parent_of("P") is None
    assert t.children_of("P") == ("C", "D")
    assert t.children_of("Q") == ()
    assert t.roots() == ("Q", "P")
    assert t.walk() == (("Q", 0), ("P", 0), ("C", 1), ("G", 2), ("D", 1))
    assert t.ancestors("G") == ("C", "P")
    assert t.descendants("P") == ("C", "G", "D")
    assert t.depth("G") == 2
    assert t.cycles == ()
    assert "G" in t
    assert "X" not in t


def test_a_child_inherits_the_traces_of_its_ancestors() -> None:
    t = tree(
        _item("P", traces=("E1", "E2")),
        _item("C", "P", traces=("E3", "E1")),
        _item("G", "C"),
    )
    assert t.traces_of("P") == ("E1", "E2")
    assert t.traces_of("C") == ("E3", "E1", "E2")  # its own first, each once
    assert t.traces_of("G") == ("E3", "E1", "E2")
    assert t.inherited_from("G", "E1") == "C"  # the nearest ancestor naming it
    assert t.inherited_from("G", "E2") == "P"
    assert t.inherited_from("C", "E1") is None  # named by C itself
    assert t.inherited_from("P", "E9") is None


@pytest.mark.parametrize(
    ("items", "cycles"),
    [
        ((_item("A", "A"),), (("A",),)),
        ((_item("A", "B"), _item("B", "A")), (("A", "B"),)),
        # a tail into a cycle is not part of it; the cycle starts at its first member
        ((_item("T", "B"), _item("A", "C"), _item("B", "A"), _item("C", "B")), (("A", "C", "B"),)),
    ],
    ids=["self", "two", "three-with-a-tail"],
)
def test_cycles_are_found_once_and_broken(items: tuple[Any, ...], cycles: Any) -> None:
    t = tree(*items)
    assert t.cycles == cycles
    members = {i for c in cycles for i in c}
    for member in members:
        assert t.parent_of(member) is None  # a root: a walk never hangs
    assert sorted(i for i, _ in t.walk()) == sorted(i.id for i in items)


def test_an_unknown_parent_leaves_a_root() -> None:
    t = tree(_item("A", "NOPE", ("E1",)), _item("B", "A"))
    assert t.parent_of("A") is None
    assert t.walk() == (("A", 0), ("B", 1))


# -- the project ------------------------------------------------------------------------------


def with_child(docs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """MLR-3 refines MLR-1 and states no traces_to of its own."""
    child = {
        "id": "MLR-3",
        "text": "Recall on small hands at least 0.995",
        "kind": "performance",
        "refines": "MLR-1",
        "metric": "recall",
        "class": "positive",
        "threshold": 0.995,
        "confidence": 0.95,
        "applies_to": {"where": {"size": ["small"]}},
        **extra,
    }
    # MLR-2 comes between the parent and the child in the file
    docs["H"]["requirements"].append(child)
    docs["L"]["requirements"][0]["traces_to"].append("MLR-3")
    docs["J"]["records"][0]["requirements"].append("MLR-3")
    docs["AA"]["activities"][0]["requirements"].append("MLR-3")
    docs["M"]["arguments"][0]["requirements"].append("MLR-3")
    return docs


def test_a_child_without_traces_is_clean_and_nested_in_the_matrix(tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", with_child(documents()))
    result = check_project(root)
    assert [d.format() for d in result.diagnostics if d.severity.value != "info"] == []
    ml = result.project.ml_requirements
    assert isinstance(ml, MLSafetyRequirements)
    assert ml.tree().children_of("MLR-1") == ("MLR-3",)
    matrix = build_trace(result.project)
    assert matrix.gap_count == 0
    rows = [(r.allocated, r.ml, r.parent, r.depth) for r in matrix.rows]
    # the child right under its parent, although [H] lists MLR-2 between them
    assert rows == [
        ("ALR-1", "MLR-1", None, 0),
        ("ALR-1", "MLR-3", "MLR-1", 1),
        ("ALR-1", "MLR-2", None, 0),
    ]
    child = matrix.rows[1]
    assert child.notes == ("refines MLR-1", "traces to ALR-1 through MLR-1")
    assert child.system == ("SSR-1",)
    assert child.scenarios == ("SC-1",)  # SC-1 exercises SSR-1
    as_json: Any = matrix.to_dict()["rows"]
    assert (as_json[1]["parent"], as_json[1]["depth"]) == ("MLR-1", 1)
    assert "parent" not in as_json[0]  # left out while unset: older outputs unchanged
    assert "depth" not in as_json[0]
    assert list(as_json[0]["scenarios"]) == ["SC-1"]


def test_a_child_tracing_further_appears_under_both(tmp_path: Path) -> None:
    docs = with_child(documents(), traces_to=["ALR-2"])
    docs["A"]["requirements"].append({"id": "SSR-2", "text": "Stop", "controls": ["HAZ-1"]})
    docs["E"]["requirements"].append(
        {
            "id": "ALR-2",
            "text": "Find small hands",
            "traces_to": ["SSR-2"],
            "hazard_contribution": "A small hand is missed",
        }
    )
    docs["EE"]["scenarios"][0]["requirements"].append("SSR-2")
    result = check_project(write_project(tmp_path / "p", docs))
    assert [d.format() for d in result.diagnostics if d.severity.value != "info"] == []
    matrix = build_trace(result.project)
    placed = [(r.allocated, r.ml, r.notes) for r in matrix.rows if r.ml == "MLR-3"]
    assert placed == [
        ("ALR-1", "MLR-3", ("refines MLR-1", "traces to ALR-1 through MLR-1")),
        ("ALR-2", "MLR-3", ("refines MLR-1",)),
    ]


def test_an_untraced_parent_is_reported_once_for_its_subtree(tmp_path: Path) -> None:
    docs = with_child(documents())
    docs["H"]["requirements"][0]["traces_to"] = []
    result = check_project(write_project(tmp_path / "p", docs))
    x005 = [d for d in result.diagnostics if d.code == "X005"]
    assert [d.message for d in x005] == [
        "ML safety requirement 'MLR-1' traces to no allocated requirement [E]"
    ]
    matrix = build_trace(result.project)
    gaps = [g for row in matrix.rows for g in row.gaps]
    assert gaps == ["MLR-1 traces to no [E] requirement"]
    orphans = [(r.ml, r.depth) for r in matrix.rows if r.allocated is None]
    assert orphans == [("MLR-1", 0), ("MLR-3", 1)]


def test_a_cycle_is_one_located_error_and_a_gap(tmp_path: Path) -> None:
    docs = with_child(documents())
    docs["H"]["requirements"][0]["refines"] = "MLR-3"
    result = check_project(write_project(tmp_path / "p", docs))
    (found,) = [d for d in result.diagnostics if d.code == "X013"]
    assert "MLR-1 -> MLR-3 -> MLR-1" in found.message
    assert found.location.path.endswith("H-ml-safety-requirements.yaml")
    line = (tmp_path / "p" / found.location.path).read_text().splitlines()[found.location.line - 1]
    assert "refines: MLR-3" in line
    assert not [d for d in result.diagnostics if d.code == "X005"]
    gaps = [g for row in build_trace(result.project).rows for g in row.gaps]
    assert "MLR-1 is part of a refinement cycle" in gaps
    assert "MLR-3 is part of a refinement cycle" in gaps


def test_the_hazard_chain_counts_a_child_through_its_parent(tmp_path: Path) -> None:
    project = check_project(write_project(tmp_path / "p", with_child(documents()))).project
    assert [r.id for r in hazard_requirements(project, "HAZ-1")] == ["MLR-1", "MLR-3"]


def test_scenarios_name_ml_requirements_in_the_matrix(tmp_path: Path) -> None:
    docs = documents()
    docs["A"]["requirements"].append({"id": "SSR-2", "text": "Stop", "controls": ["HAZ-1"]})
    docs["E"]["requirements"].append(
        {
            "id": "ALR-2",
            "text": "Find hands early",
            "traces_to": ["SSR-2"],
            "hazard_contribution": "A late find leaves no time to stop",
        }
    )
    docs["H"]["requirements"][0]["traces_to"] = ["ALR-1", "ALR-2"]
    docs["EE"]["scenarios"].append(
        {
            "id": "SC-2",
            "name": "Emergency stop drill",
            "description": "A hand enters late",
            "requirements": ["SSR-2"],
            "ml_requirements": ["MLR-1"],
            "expected_outcome": "The press stops short of the hand",
        }
    )
    result = check_project(write_project(tmp_path / "p", docs))
    assert [d.format() for d in result.diagnostics if d.severity.value != "info"] == []
    scenarios = {(r.allocated, r.ml): r.scenarios for r in build_trace(result.project).rows}
    assert scenarios == {
        ("ALR-1", "MLR-1"): ("SC-1", "SC-2"),  # SC-2 through its [H] link alone
        ("ALR-1", "MLR-2"): ("SC-1",),
        ("ALR-2", "MLR-1"): ("SC-2",),
    }
