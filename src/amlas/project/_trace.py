"""The traceability matrix [A] -> [E] -> [H] -> [L], and its gaps; beside it, the fixed
ODD conditions of [B] and what assures each."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from amlas.project._project import Project
from amlas.project.artefacts import MLSafetyRequirement

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
        found: dict[str, object] = {
            "rows": [asdict(row) for row in self.rows],
            "gaps": self.gap_count,
            "missing_artefacts": list(self.missing),
        }
        if self.conditions:  # only where [B] declares some: other projects' output is unchanged
            found["odd_conditions"] = [asdict(row) for row in self.conditions]
        return found


def build_trace(project: Project) -> TraceMatrix:
    """Rows follow [E] order, then [H] order within each [E]; orphans come last."""
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
    # A link to an artefact that failed to load is not a gap here: `check` reports the file.
    system_ids = {r.id for r in system.requirements} if system else None
    allocated_ids = {r.id for r in allocated_reqs} if allocated else None
    ml_ids = {r.id for r in ml_reqs} if ml else None

    def unknown(targets: list[str], known: set[str] | None, letter: str) -> list[str]:
        if known is None:
            return []
        return [f"{t} is not an [{letter}] requirement" for t in targets if t not in known]

    covering: dict[str, list[str]] = {}
    for d in data_reqs:
        for target in d.traces_to:
            covering.setdefault(target, []).append(d.id)
    refined_by: dict[str, list[MLSafetyRequirement]] = {}
    for h in ml_reqs:
        for target in dict.fromkeys(h.traces_to):
            refined_by.setdefault(target, []).append(h)

    rows: list[TraceRow] = []
    placed: set[str] = set()
    for e in allocated_reqs:
        e_gaps = unknown(e.traces_to, system_ids, "A")
        if not e.traces_to:
            e_gaps.append(f"{e.id} traces to no [A] requirement")
        refiners = refined_by.get(e.id, [])
        if not refiners:
            notes: tuple[str, ...] = ()
            if e.deferred is not None:
                notes = (f"deferred to {e.deferred.handled_by}: {e.deferred.reason}",)
            elif ml is not None:
                e_gaps.append(f"{e.id} is refined by no [H] requirement and not deferred")
            rows.append(TraceRow(tuple(e.traces_to), e.id, None, None, (), notes, tuple(e_gaps)))
            continue
        for h in refiners:
            h_gaps = e_gaps + [
                g for g in unknown(h.traces_to, allocated_ids, "E") if h.id not in placed
            ]
            placed.add(h.id)
            rows.append(_ml_row(tuple(e.traces_to), e.id, h, covering, data is not None, h_gaps))
    for h in ml_reqs:
        if h.id in placed:
            continue
        gaps = unknown(h.traces_to, allocated_ids, "E")
        if not h.traces_to:
            gaps.append(f"{h.id} traces to no [E] requirement")
        rows.append(_ml_row((), None, h, covering, data is not None, gaps))
    used = {t for e in allocated_reqs for t in e.traces_to}
    for a in system.requirements if system and allocated else []:
        if a.id not in used:
            rows.append(
                TraceRow((a.id,), None, None, None, (), ("not allocated to the ML component",))
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


def _ml_row(
    system: tuple[str, ...],
    allocated: str | None,
    h: MLSafetyRequirement,
    covering: dict[str, list[str]],
    have_data: bool,
    gaps: list[str],
) -> TraceRow:
    data = tuple(covering.get(h.id, []))
    notes: list[str] = []
    row_gaps = list(gaps)
    if not h.data_related:
        notes.append(f"not data-related: {h.data_related_reason}")
    elif have_data and not data:
        row_gaps.append(f"{h.id} is covered by no [L] requirement")
    return TraceRow(system, allocated, h.id, h.kind, data, tuple(notes), tuple(row_gaps))
