"""A system project with two ML components: loading, the rules across components, the
malformed-input cases of the system codes, and the system case and its gate (no runs:
tests/system/test_system_run.py runs one)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from amlas.case import build_system_case, gate_system
from amlas.diagnostics import Severity
from amlas.project import check_project, load_project, load_system
from system.conftest import build_system

C_FILE = "1-scoping/C-system-description.yaml"


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text("utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, count), "utf-8")


def test_the_system_and_its_components_load_clean(system_dir: Callable[[], Path]) -> None:
    root = system_dir()
    system = load_system(root)
    assert not system.diagnostics.has_errors, [d.format() for d in system.diagnostics]
    assert list(system.components) == ["CMP-ML", "CMP-ML2"]
    assert system.paths == {"CMP-ML": "components/triage", "CMP-ML2": "components/cage"}
    assert system.order() == ["CMP-ML2", "CMP-ML"]  # the cage's results feed the other's chain
    # every finding is located relative to the system, never through '..'
    assert all(".." not in d.location.path for d in system.diagnostics)
    # a requirement one component takes is not 'unallocated' for the system; SSR-4 and
    # SSR-6 are allocated to neither copy, and said once each
    unallocated = [d.message for d in system.diagnostics if d.code == "X010"]
    assert len(unallocated) == len(set(unallocated)) == 2


def test_a_component_reads_a_b_c_from_its_system(system_dir: Callable[[], Path]) -> None:
    root = system_dir()
    project = load_project(root / "components" / "cage").project
    assert project.system_root == root.resolve()
    assert project.component_id == "CMP-ML2"
    assert {"A", "B", "C", "D", "H"} <= set(project.artefacts)
    assert project.files["C"] == "../../" + C_FILE
    barrier = next(b for b in project.artefacts["C"].barriers if b.id == "BAR-ML")  # type: ignore[attr-defined]
    assert barrier.component == "CMP-ML2"
    assert barrier.failure_from == "MLR-1"


@dataclass(frozen=True)
class Broken:
    id: str
    code: str
    file: str
    """Where the finding must point, relative to the system directory."""
    change: Callable[[Path], None]
    text: str = ""
    """Text the reported line holds (when the finding is on a line)."""
    alone: str = ""
    """A component directory checked on its own (one its system does not list)."""


def _manifest(component: str) -> Path:
    return Path("components") / component / "amlas.yaml"


BROKEN = [
    Broken(
        "part-of-nowhere",
        "F012",
        "components/cage/amlas.yaml",
        lambda r: _edit(r / _manifest("cage"), "part_of: ../..", "part_of: ../../nowhere"),
        "part_of",
    ),
    Broken(
        "part-of-a-system-not-listing-it",
        "F012",
        "amlas.yaml",
        lambda r: (
            _edit(r / "amlas.yaml", "    path: components/cage\n", "    path: components/other\n"),
            (r / "components" / "other").mkdir(),
            (r / "components" / "other" / "amlas.yaml").write_text(
                "amlas: 1\nname: other\ncomponent: x\npart_of: ../..\n", "utf-8"
            ),
        ),
        "part_of",
        alone="components/cage",
    ),
    Broken(
        "component-moves-a-system-artefact",
        "F013",
        "components/cage/amlas.yaml",
        lambda r: _edit(
            r / _manifest("cage"), "part_of: ../..\n", "part_of: ../..\nartefacts: {A: a.yaml}\n"
        ),
        "A: a.yaml",
    ),
    Broken(
        "component-keeps-its-own-c",
        "F014",
        "components/cage/" + C_FILE,
        lambda r: (r / "components" / "cage" / C_FILE).write_text("artefact: C\n", "utf-8"),
    ),
    Broken(
        "system-with-case-settings",
        "F015",
        "amlas.yaml",
        lambda r: _edit(
            r / "amlas.yaml", "components:\n", "case:\n  library: amlas-1.1\ncomponents:\n"
        ),
        "case:",
    ),
    Broken(
        "part-of-with-a-nul-byte",
        "F012",
        "components/cage/amlas.yaml",
        lambda r: _edit(r / _manifest("cage"), "part_of: ../..", 'part_of: "../..\\0"'),
        "part_of",
    ),
    Broken(
        "system-moves-a-component-artefact",
        "F015",
        "amlas.yaml",
        lambda r: _edit(r / "amlas.yaml", "components:\n", "artefacts: {H: h.yaml}\ncomponents:\n"),
        "H: h.yaml",
    ),
    Broken(
        "system-holds-a-component-file",
        "F016",
        "2-requirements/H-ml-safety-requirements.yaml",
        lambda r: (
            (r / "2-requirements").mkdir(),
            (r / "2-requirements" / "H-ml-safety-requirements.yaml").write_text("x: 1\n"),
        ),
    ),
    Broken(
        "component-path-with-a-nul-byte",
        "X017",
        "amlas.yaml",
        lambda r: _edit(r / "amlas.yaml", "path: components/cage", 'path: "components/cage\\0"'),
        "CMP-ML2",
    ),
    Broken(
        "component-path-a-symlink-loop",
        "X017",
        "amlas.yaml",
        lambda r: (
            (r / "components" / "loop").symlink_to("loop"),
            _edit(r / "amlas.yaml", "path: components/cage", "path: components/loop"),
        ),
        "CMP-ML2",
    ),
    Broken(
        "components-share-a-store",
        "X017",
        "amlas.yaml",
        lambda r: [
            _edit(r / _manifest(c), "part_of: ../..\n", "part_of: ../..\nevidence: fs://../../ev\n")
            for c in ("cage", "triage")
        ],
        "CMP-ML2",
    ),
    Broken(
        "declared-rate-beside-component",
        "X019",
        C_FILE,
        lambda r: _edit(
            r / C_FILE,
            "    failure_from: MLR-1\n",
            "    failure_from: MLR-1\n    failure_on_demand: 0.001\n",
        ),
        "failure_on_demand",
    ),
    Broken(
        "component-without-failure-from-alone",
        "X019",
        "../../" + C_FILE,
        lambda r: _edit(
            r / C_FILE, "    failure_from: MLR-1\n", "    failure_on_demand: 0.00001\n"
        ),
        alone="components/triage",
    ),
    Broken(
        "component-not-in-c",
        "X017",
        "amlas.yaml",
        lambda r: _edit(r / "amlas.yaml", "  - id: CMP-ML2\n", "  - id: CMP-NONE\n"),
        "CMP-NONE",
    ),
    Broken(
        "component-not-ml",
        "X017",
        "amlas.yaml",
        lambda r: _edit(r / "amlas.yaml", "  - id: CMP-ML2\n", "  - id: CMP-SEG\n"),
        "CMP-SEG",
    ),
    Broken(
        "component-twice",
        "X017",
        "amlas.yaml",
        lambda r: _edit(
            r / "amlas.yaml",
            "    path: components/cage\n",
            "    path: components/cage\n  - id: CMP-ML2\n    path: components/cage\n",
        ),
        "CMP-ML2",
    ),
    Broken(
        "component-path-without-project",
        "X017",
        "amlas.yaml",
        lambda r: (
            (r / "components" / "cage" / "amlas.yaml").unlink(),
            _edit(r / "amlas.yaml", "components/cage", "components/cage"),
        ),
        "CMP-ML2",
    ),
    Broken(
        "component-not-pointing-back",
        "X017",
        "amlas.yaml",
        lambda r: _edit(r / _manifest("cage"), "part_of: ../..\n", ""),
        "CMP-ML2",
    ),
    Broken(
        "ml-component-without-project",
        "X018",
        C_FILE,
        lambda r: _edit(
            r / C_FILE,
            "  - id: CMP-ML2\n",
            "  - id: CMP-ML3\n    name: Third\n    kind: ml\n    description: x\n  - id: CMP-ML2\n",
        ),
        "CMP-ML3",
    ),
    Broken(
        "failure-from-no-requirement",
        "X019",
        C_FILE,
        lambda r: _edit(r / C_FILE, "failure_from: MLR-1", "failure_from: MLR-99"),
        "failure_from",
    ),
    Broken(
        "failure-from-not-a-miss-rate",
        "X019",
        C_FILE,
        lambda r: _edit(r / C_FILE, "failure_from: MLR-1", "failure_from: MLR-4"),
        "failure_from",
    ),
    Broken(
        "failure-from-missing",
        "X019",
        C_FILE,
        lambda r: _edit(r / C_FILE, "    failure_from: MLR-1\n", ""),
        "component: CMP-ML2",
    ),
    Broken(
        "failure-from-not-on-a-safety-class",
        "X019",
        C_FILE,
        lambda r: _edit(
            r / "components/cage/1-scoping/D-ml-component.yaml",
            "safety_related: true",
            "safety_related: false",
        ),
        "failure_from",
    ),
    Broken(
        "worsening-with-both-rates",
        "X019",
        C_FILE,
        lambda r: _edit(
            r / C_FILE, "        given: 0.5\n", "        given: 0.5\n        rate: 0.1\n"
        ),
        "hazard: HAZ-1",
    ),
    Broken(
        "worsening-rate-not-a-rate",
        "X019",
        C_FILE,
        lambda r: _edit(r / C_FILE, "rate_from: MLR-3", "rate_from: MLR-4"),
        "rate_from",
    ),
]


@pytest.mark.parametrize("case", BROKEN, ids=[f"{b.code}-{b.id}" for b in BROKEN])
def test_a_broken_system_gives_its_code(case: Broken, tmp_path: Path) -> None:
    root = build_system(tmp_path / "system")
    case.change(root)
    diagnostics = (
        check_project(root / case.alone).diagnostics
        if case.alone
        else load_system(root).diagnostics
    )
    found = [d for d in diagnostics if d.code == case.code]
    assert found, [d.format() for d in diagnostics]
    assert any(d.location.path == case.file for d in found), [d.format() for d in found]
    if case.text:
        lines = (root / case.alone / case.file).read_text("utf-8").splitlines()
        reported = {lines[d.location.line - 1] for d in found if d.location.line >= 1}
        assert any(case.text in line for line in reported), (case.text, reported)


def test_the_system_codes_each_have_a_broken_case() -> None:
    assert {b.code for b in BROKEN} == {
        "F012",
        "F013",
        "F014",
        "F015",
        "F016",
        "X017",
        "X018",
        "X019",
    }


def test_a_project_cannot_be_a_system_and_a_component(tmp_path: Path) -> None:
    root = build_system(tmp_path / "system")
    _edit(root / "amlas.yaml", "amlas: 1\n", "amlas: 1\npart_of: ..\n")
    (tmp_path / "amlas.yaml").write_text("amlas: 1\nname: x\ncomponent: x\n", "utf-8")
    diagnostics = load_project(root).diagnostics
    assert [d.code for d in diagnostics if d.severity is Severity.ERROR] == ["F012"]


def test_the_system_case_holds_each_component_under_one_root(
    system_dir: Callable[[], Path],
) -> None:
    built = build_system_case(system_dir())
    case = built.case
    assert case.root == "G0"
    assert set(built.parts) == {"CMP-ML", "CMP-ML2"}
    assert case.nodes["S0"].supported_by == ["G1.1@CMP-ML", "G1.1@CMP-ML2"]
    assert case.nodes["C0.1"].status == "supported"  # [C] names the components
    for component, part in built.parts.items():
        assert len([n for n in case.nodes.values() if n.component == component]) == len(part.nodes)
        for node in part.nodes.values():
            moved = case.nodes[f"{node.id}@{component}"]
            assert moved.local_id == node.id
            assert moved.status == node.status
            assert all(c.endswith(f"@{component}") for c in moved.supported_by)
    # nothing has run: the components' claims are not supported, so neither is the root
    assert case.top.status != "supported"
    assert [m.name for m in case.modules][:3] == ["system", "stage1@CMP-ML", "stage2@CMP-ML"]
    assert {n.stage for n in case.nodes.values() if n.module == "stage5@CMP-ML2"} == {5}


def test_the_root_is_only_as_good_as_its_worst_component(
    system_dir: Callable[[], Path],
) -> None:
    """Supported only when every component's argument is: force one component's top
    claim supported and the other's not, and the root still is not."""
    from amlas.case import propagate

    case = build_system_case(system_dir()).case
    mine = [n for n in case.nodes.values() if n.component == "CMP-ML"]
    for node in mine:
        node.status = "supported"
    propagate(case.nodes, override={n.id: "supported" for n in mine})
    assert case.nodes["G1.1@CMP-ML"].status == "supported"
    assert case.nodes["G1.1@CMP-ML2"].status != "supported"
    assert case.top.status != "supported"


def test_an_ml_component_without_project_keeps_the_root_undeveloped(tmp_path: Path) -> None:
    root = build_system(tmp_path / "system")
    _edit(root / "amlas.yaml", "  - id: CMP-ML2\n    path: components/cage\n", "")
    built = build_system_case(root)
    assert "G0.CMP-ML2" in built.case.nodes
    assert built.case.nodes["G0.CMP-ML2"].status == "undeveloped"
    assert "G0.CMP-ML2" in built.case.nodes["S0"].supported_by
    assert any(d.code == "G010" and "CMP-ML2" in d.message for d in built.case.diagnostics)
    result = gate_system(built, allow_undeveloped=[("G6.*", "x")])
    assert not result.passed
    assert any(n.id == "G0.CMP-ML2" for n in result.blocking)


def test_a_components_allowance_accepts_its_own_nodes_only(tmp_path: Path) -> None:
    root = build_system(tmp_path / "system")
    # the cage's policy no longer accepts G6.7; the triage's still does
    _edit(root / _manifest("cage"), "    - node: G6.7\n", "    - node: G6.8\n")
    built = build_system_case(root)
    assert set(built.parts) == {"CMP-ML", "CMP-ML2"}
    result = gate_system(built)
    accepted = {node for node, _, _ in result.accepted}
    assert "G6.7@CMP-ML" in accepted
    assert "G6.7@CMP-ML2" not in accepted
    # the command line names the system case's own IDs
    result = gate_system(built, allow_undeveloped=[("G6.7@CMP-ML2", "on the command line")])
    assert "G6.7@CMP-ML2" in {node for node, _, _ in result.accepted}


def test_each_component_records_the_chains_of_its_own_hazards(tmp_path: Path) -> None:
    from amlas.checks import chain_hazards
    from amlas.verify import plan

    root = build_system(tmp_path / "system")
    allocated = root / "components" / "cage" / "1-scoping" / "E-allocated-requirements.yaml"
    _edit(allocated, "hazards: [HAZ-1, HAZ-2]", "hazards: [HAZ-1]", count=3)
    _edit(allocated, "hazards: [HAZ-2]", "hazards: [HAZ-1]")
    cage = load_project(root / "components" / "cage").project
    triage = load_project(root / "components" / "triage").project
    # HAZ-2 is the triage classifier's to argue; the cage's [E] no longer reaches it
    assert chain_hazards(cage) == ["HAZ-1"]
    assert chain_hazards(triage) == ["HAZ-1", "HAZ-2"]
    keys = {c.key for c in plan(cage, role="developer", stages=(6,)).checks}
    assert "stage6/hazard/HAZ-1" in keys
    assert "stage6/hazard/HAZ-2" not in keys
    # a hazard no component traces to stays with every component (inconclusive there)
    allocated = root / "components" / "triage" / "1-scoping" / "E-allocated-requirements.yaml"
    _edit(allocated, "hazards: [HAZ-1, HAZ-2]", "hazards: [HAZ-1]", count=3)
    _edit(allocated, "hazards: [HAZ-2]", "hazards: [HAZ-1]")
    cage = load_project(root / "components" / "cage").project
    assert chain_hazards(cage) == ["HAZ-1", "HAZ-2"]


def test_scenarios_cite_the_other_components_models(system_dir: Callable[[], Path]) -> None:
    from amlas.verify import plan

    root = system_dir()
    triage = load_project(root / "components" / "triage").project
    (scenario, *_) = [c for c in plan(triage, stages=(6,)).checks if c.kind == "scenario"]
    assert "component:CMP-ML2/model" in scenario.inputs
    assert "model" in scenario.inputs


def test_a_fifo_manifest_is_no_system_and_does_not_hang(tmp_path: Path) -> None:
    import os

    from amlas.project import is_system_dir

    os.mkfifo(tmp_path / "amlas.yaml")
    assert not is_system_dir(tmp_path)


def test_a_malformed_components_entry_keeps_the_system_view(tmp_path: Path) -> None:
    root = build_system(tmp_path / "system")
    _edit(root / "amlas.yaml", "    path: components/cage\n", "")
    codes = {d.code for d in load_system(root).diagnostics if d.severity is Severity.ERROR}
    assert "F001" not in codes  # not read as one project missing [D] [E] [H] ...
    assert codes & {"S001", "S002", "S003", "S004", "S005"}


def test_command_line_allowances_name_the_system_cases_ids(
    system_dir: Callable[[], Path],
) -> None:
    built = build_system_case(system_dir())
    by_pattern = gate_system(built, allow_undeveloped=[("Sn6.7", "a pattern ID")])
    assert not [node for node, _, _ in by_pattern.accepted if node.startswith("Sn6.7")]
    by_id = gate_system(built, allow_undeveloped=[("Sn6.7@CMP-ML2", "an ID")])
    assert "Sn6.7@CMP-ML2" in {node for node, _, _ in by_id.accepted}


def test_build_case_refuses_a_system(system_dir: Callable[[], Path]) -> None:
    from amlas.case import build_case
    from amlas.errors import UsageError

    with pytest.raises(UsageError, match="build_system_case"):
        build_case(system_dir())
