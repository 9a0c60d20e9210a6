"""The traceability matrix [A] -> [E] -> [H] -> [L], and its gaps.

[H] items that refine another (``refines``) are nested under their parent: within each
[E] item, rows follow the hierarchy depth first (a parent, then its children, in document
order), each row saying its ``parent`` and ``depth``. A child traces to every [E] item its
parent traces to, besides its own ``traces_to`` (refinement is transitive): it appears
under each of them, with a note naming the ancestor it inherits the trace from. The
operational scenarios [EE] that exercise a row's [A] requirements or name its [H] item
are listed in ``scenarios``.

Beside the rows, the fixed ODD conditions of [B] (``conditions``) and what assures each.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from amlas.project._project import Project
from amlas.project.artefacts import (
    MLSafetyRequirement,
    OperationalScenarios,
    RequirementTree,
)

__all__ = ["ConditionRow", "TraceMatrix", "TraceRow", "build_trace"]


@dataclass(frozen=True)
class TraceRow:
    """One chain through the matrix. Empty cells are gaps, explained in ``gaps``."""

    system: tuple[str, ...]
    """[A] system safety requirement IDs."""
    allocated: str | None
    """[E] allocated requirement ID."""
    ml: str | None
    """[H] ML safety requirement ID."""
    ml_kind: str | None
    data: tuple[str, ...]
    """[L] data requirement IDs covering the [H] item."""
    notes: tuple[str, ...] = ()
    """Explained non-gaps: deferrals, 'not data-related' reasons."""
    gaps: tuple[str, ...] = ()
    """Broken or missing links."""
    parent: str | None = None
    """The [H] item the row's [H] item refines (``refines``), if any."""
    depth: int = 0
    """How deep the row's [H] item sits in the hierarchy of [H] (0: refines nothing)."""
    scenarios: tuple[str, ...] = ()
    """[EE] scenarios that exercise the row's [A] requirements or name its [H] item."""


@dataclass(frozen=True)
class ConditionRow:
    """A fixed ODD condition of [B] and what assures it: the design, a monitor ([DD]
    erroneous behaviours, [C] barriers), or an assumption."""

    condition: str
    """The condition's ID."""
    name: str
    text: str
    """The condition as [B] states it."""
    assured_by: str
    """design, monitor or assumption."""
    monitored_by: tuple[str, ...]
    """[DD] erroneous-behaviour and [C] barrier IDs, for a monitored condition."""
    rationale: str
    gaps: tuple[str, ...] = ()
    """A monitored condition that names no monitor, or a monitor that does not exist."""


@dataclass(frozen=True)
class TraceMatrix:
    rows: tuple[TraceRow, ...]
    missing: tuple[str, ...] = field(default=())
    """Artefacts the matrix could not use (missing or invalid)."""
    conditions: tuple[ConditionRow, ...] = ()
    """The fixed ODD conditions of [B], in [B] order."""

    @property
    def gap_count(self) -> int:
        return sum(len(row.gaps) for row in self.rows) + sum(
            len(row.gaps) for row in self.conditions
        )

    def to_dict(self) -> dict[str, object]:
        """The matrix as JSON. A row's ``parent``, ``depth`` and ``scenarios`` (added for
        issue 15) are left out while unset, and ``odd_conditions`` while [B] declares none,
        so that the output of a project that uses none of them stays as it was."""
        found: dict[str, object] = {
            "rows": [_row_dict(row) for row in self.rows],
            "gaps": self.gap_count,
            "missing_artefacts": list(self.missing),
        }
        if self.conditions:  # only where [B] declares some: other projects' output is unchanged
            found["odd_conditions"] = [asdict(row) for row in self.conditions]
        return found


_QUIET = ("parent", "depth", "scenarios")


def _row_dict(row: TraceRow) -> dict[str, object]:
    data = asdict(row)
    for name in _QUIET:
        if data[name] in (None, 0, [], ()):
            del data[name]
    return data


def build_trace(project: Project) -> TraceMatrix:
    """Rows follow [E] order, then the [H] hierarchy within each [E] (parents first, in
    [H] order); orphans come last."""
    system = project.system_requirements
    allocated = project.allocated
    ml = project.ml_requirements
    data = project.data_requirements
    missing = tuple(
        f"[{letter}]"
        for letter, doc in (("A", system), ("E", allocated), ("H", ml), ("L", data))
        if doc is None
    )
    allocated_reqs = allocated.requirements if allocated else []
    ml_reqs = ml.requirements if ml else []
    data_reqs = data.requirements if data else []
    tree = RequirementTree(ml_reqs)
    by_id: dict[str, MLSafetyRequirement] = {}
    for h in ml_reqs:
        by_id.setdefault(h.id, h)
    in_cycle = {item for cycle in tree.cycles for item in cycle}
    # A link to an artefact that failed to load is not a gap here: `check` reports the file.
    system_ids = {r.id for r in system.requirements} if system else None
    allocated_ids = {r.id for r in allocated_reqs} if allocated else None
    ml_ids = {r.id for r in ml_reqs} if ml else None
    scenarios = _Scenarios(project)

    def unknown(targets: list[str], known: set[str] | None, letter: str) -> list[str]:
        if known is None:
            return []
        return [f"{t} is not an [{letter}] requirement" for t in targets if t not in known]

    def hierarchy_gaps(h: MLSafetyRequirement) -> list[str]:
        if h.id in in_cycle:
            return [f"{h.id} is part of a refinement cycle"]
        if h.refines is not None and ml_ids is not None and h.refines not in tree:
            return [f"{h.id} refines {h.refines}, which is not an [H] requirement"]
        return []

    covering: dict[str, list[str]] = {}
    for d in data_reqs:
        for target in d.traces_to:
            covering.setdefault(target, []).append(d.id)
    refined_by: dict[str, list[tuple[MLSafetyRequirement, int]]] = {}
    for h_id, depth in tree.walk():
        for target in tree.traces_of(h_id):
            refined_by.setdefault(target, []).append((by_id[h_id], depth))

    rows: list[TraceRow] = []
    placed: set[str] = set()
    for e in allocated_reqs:
        e_gaps = unknown(e.traces_to, system_ids, "A")
        if not e.traces_to:
            e_gaps.append(f"{e.id} traces to no [A] requirement")
        refiners = refined_by.get(e.id, [])
        system_of_e = tuple(e.traces_to)
        if not refiners:
            notes: tuple[str, ...] = ()
            if e.deferred is not None:
                notes = (f"deferred to {e.deferred.handled_by}: {e.deferred.reason}",)
            elif ml is not None:
                e_gaps.append(f"{e.id} is refined by no [H] requirement and not deferred")
            rows.append(
                TraceRow(
                    system_of_e,
                    e.id,
                    None,
                    None,
                    (),
                    notes,
                    tuple(e_gaps),
                    scenarios=scenarios.of(system_of_e, None),
                )
            )
            continue
        for h, depth in refiners:
            h_gaps = e_gaps + [
                g for g in unknown(h.traces_to, allocated_ids, "E") if h.id not in placed
            ]
            if h.id not in placed:
                h_gaps += hierarchy_gaps(h)
            placed.add(h.id)
            notes = _hierarchy_notes(tree, h.id, e.id)
            rows.append(
                _ml_row(
                    system_of_e,
                    e.id,
                    h,
                    covering,
                    data is not None,
                    h_gaps,
                    notes,
                    tree.parent_of(h.id),
                    depth,
                    scenarios.of(system_of_e, h.id),
                )
            )
    for h_id, depth in tree.walk():
        if h_id in placed:
            continue
        h = by_id[h_id]
        gaps = unknown(h.traces_to, allocated_ids, "E")
        if not tree.traces_of(h_id) and tree.parent_of(h_id) is None and h_id not in in_cycle:
            gaps.append(f"{h.id} traces to no [E] requirement")
        gaps += hierarchy_gaps(h)
        rows.append(
            _ml_row(
                (),
                None,
                h,
                covering,
                data is not None,
                gaps,
                _hierarchy_notes(tree, h_id, None),
                tree.parent_of(h_id),
                depth,
                scenarios.of((), h_id),
            )
        )
    used = {t for e in allocated_reqs for t in e.traces_to}
    for a in system.requirements if system and allocated else []:
        if a.id not in used:
            rows.append(
                TraceRow(
                    (a.id,),
                    None,
                    None,
                    None,
                    (),
                    ("not allocated to the ML component",),
                    scenarios=scenarios.of((a.id,), None),
                )
            )
    for d in data_reqs:
        gaps = unknown(d.traces_to, ml_ids, "H")
        if not d.traces_to:
            gaps.append(f"{d.id} traces to no [H] requirement")
        if gaps:
            rows.append(TraceRow((), None, None, None, (d.id,), (), tuple(gaps)))
    return TraceMatrix(tuple(rows), missing, _conditions(project))


def _conditions(project: Project) -> tuple[ConditionRow, ...]:
    environment = project.environment
    if environment is None:
        return ()
    index = project.index()
    # a monitor in an artefact that failed to load is not a gap: `check` reports the file
    loaded = {"erroneous_behaviour": "DD" in project.artefacts, "barrier": "C" in project.artefacts}
    rows = []
    for condition in environment.conditions:
        gaps: list[str] = []
        if condition.assured_by == "monitor" and not condition.monitored_by:
            gaps.append(f"{condition.id} is assured by a monitor but names none")
        for monitor in condition.monitored_by:
            target = index.get(monitor)
            if (target is None and all(loaded.values())) or (
                target is not None and target.kind not in loaded
            ):
                gaps.append(f"{monitor} is no [DD] erroneous behaviour or [C] barrier")
        rows.append(
            ConditionRow(
                condition.id,
                condition.name,
                condition.condition,
                condition.assured_by,
                tuple(condition.monitored_by),
                condition.rationale,
                tuple(gaps),
            )
        )
    return tuple(rows)


class _Scenarios:
    """The [EE] scenarios that exercise [A] requirements or name [H] items."""

    def __init__(self, project: Project) -> None:
        document = project.get("EE", OperationalScenarios)
        self.scenarios = document.scenarios if document is not None else []

    def of(self, system: tuple[str, ...], ml: str | None) -> tuple[str, ...]:
        wanted = set(system)
        return tuple(
            dict.fromkeys(
                s.id
                for s in self.scenarios
                if wanted & set(s.requirements) or (ml is not None and ml in s.ml_requirements)
            )
        )


def _hierarchy_notes(tree: RequirementTree, h: str, allocated: str | None) -> tuple[str, ...]:
    parent = tree.parent_of(h)
    if parent is None:
        return ()
    notes = [f"refines {parent}"]
    source = tree.inherited_from(h, allocated) if allocated is not None else None
    if source is not None:
        notes.append(f"traces to {allocated} through {source}")
    return tuple(notes)


def _ml_row(
    system: tuple[str, ...],
    allocated: str | None,
    h: MLSafetyRequirement,
    covering: dict[str, list[str]],
    have_data: bool,
    gaps: list[str],
    notes: tuple[str, ...] = (),
    parent: str | None = None,
    depth: int = 0,
    scenarios: tuple[str, ...] = (),
) -> TraceRow:
    data = tuple(covering.get(h.id, []))
    row_notes: list[str] = list(notes)
    row_gaps = list(gaps)
    if not h.data_related:
        row_notes.append(f"not data-related: {h.data_related_reason}")
    elif have_data and not data:
        row_gaps.append(f"{h.id} is covered by no [L] requirement")
    return TraceRow(
        system,
        allocated,
        h.id,
        h.kind,
        data,
        tuple(row_notes),
        tuple(row_gaps),
        parent,
        depth,
        scenarios,
    )
