"""Traceability rules along [A] -> [E] -> [H] -> [L], the hierarchy of [H] and the
scenarios' links into it (X004-X014; AMLAS R1, R3, R6)."""

from __future__ import annotations

from amlas.diagnostics import Diagnostics
from amlas.project._project import Project
from amlas.project.artefacts import OperationalScenarios, SystemDescription
from amlas.project.rules._registry import rule


@rule
def allocated_traced_to_system(project: Project, diagnostics: Diagnostics) -> None:
    allocated = project.allocated
    if allocated is None:
        return
    for i, req in enumerate(allocated.requirements):
        if not req.traces_to:
            diagnostics.add(
                "X004",
                f"allocated requirement {req.id!r} traces to no system safety requirement [A]",
                project.locate("E", ("requirements", i, "id")),
                hint="add 'traces_to: [<ID of an [A] requirement>]'",
            )


@rule
def ml_traced_to_allocated(project: Project, diagnostics: Diagnostics) -> None:
    ml = project.ml_requirements
    if ml is None:
        return
    tree = ml.tree()
    in_cycle = {item for cycle in tree.cycles for item in cycle}
    for i, req in enumerate(ml.requirements):
        # a child inherits its parent's traces: only the top of a chain without any
        # trace is reported (a cycle is reported by X013 and must be broken first)
        if tree.traces_of(req.id) or tree.parent_of(req.id) or req.id in in_cycle:
            continue
        diagnostics.add(
            "X005",
            f"ML safety requirement {req.id!r} traces to no allocated requirement [E]",
            project.locate("H", ("requirements", i, "id")),
            hint="add 'traces_to: [<ID of an [E] requirement>]', or 'refines: <ID of an [H] "
            "requirement>' to trace through it",
        )


@rule
def refinement_is_a_hierarchy(project: Project, diagnostics: Diagnostics) -> None:
    ml = project.ml_requirements
    if ml is None:
        return
    index = {req.id: i for i, req in reversed(list(enumerate(ml.requirements)))}
    for cycle in ml.tree().cycles:
        at = project.locate("H", ("requirements", index[cycle[0]], "refines"))
        if len(cycle) == 1:
            diagnostics.add(
                "X013",
                f"ML safety requirement {cycle[0]!r} refines itself",
                at,
                hint="name the [H] requirement it refines, or leave out 'refines'",
            )
        else:
            chain = " -> ".join((*cycle, cycle[0]))
            diagnostics.add(
                "X013",
                f"ML safety requirements refine each other in a cycle: {chain}",
                at,
                hint="one of them refines none of the others: leave out its 'refines'",
            )


@rule
def scenario_ml_requirements_fit(project: Project, diagnostics: Diagnostics) -> None:
    """A scenario's [H] links reach, through [E], a system requirement it exercises."""
    scenarios, ml, allocated = (
        project.get("EE", OperationalScenarios),
        project.ml_requirements,
        project.allocated,
    )
    if scenarios is None or ml is None or allocated is None:
        return
    tree = ml.tree()
    system_of = {e.id: set(e.traces_to) for e in allocated.requirements}
    for i, scenario in enumerate(scenarios.scenarios):
        exercised = set(scenario.requirements)
        for j, ml_id in enumerate(scenario.ml_requirements):
            if ml_id not in tree:
                continue  # X002/X003 report it
            reached = {a for e in tree.traces_of(ml_id) for a in system_of.get(e, ())}
            if reached & exercised or not reached:
                continue  # no [A] reached at all is X005's (or a broken [E]'s) to report
            diagnostics.add(
                "X014",
                f"scenario {scenario.id!r} names {ml_id!r}, which traces to "
                f"{', '.join(sorted(reached))}, but the scenario exercises "
                f"{', '.join(scenario.requirements)}",
                project.locate("EE", ("scenarios", i, "ml_requirements", j)),
                hint=f"add one of {', '.join(sorted(reached))} to the scenario's "
                "'requirements', or remove the link",
            )


@rule
def allocated_refined_or_deferred(project: Project, diagnostics: Diagnostics) -> None:
    allocated, ml = project.allocated, project.ml_requirements
    if allocated is None or ml is None:
        return
    refined_by: dict[str, list[str]] = {}
    for ml_req in ml.requirements:
        for target in ml_req.traces_to:
            refined_by.setdefault(target, []).append(ml_req.id)
    for i, req in enumerate(allocated.requirements):
        refiners = refined_by.get(req.id, [])
        at = project.locate("E", ("requirements", i, "id"))
        if not refiners and req.deferred is None:
            diagnostics.add(
                "X006",
                f"allocated requirement {req.id!r} is refined by no ML safety requirement [H] "
                "and is not deferred",
                at,
                hint="trace an [H] requirement to it, or add 'deferred: {reason: ..., "
                "handled_by: system}'",
            )
        elif refiners and req.deferred is not None:
            diagnostics.add(
                "X011",
                f"allocated requirement {req.id!r} is deferred but refined by "
                f"{', '.join(refiners)}",
                project.locate("E", ("requirements", i, "deferred")),
            )


@rule
def data_traced_to_ml(project: Project, diagnostics: Diagnostics) -> None:
    data = project.data_requirements
    if data is None:
        return
    for i, req in enumerate(data.requirements):
        if not req.traces_to:
            diagnostics.add(
                "X007",
                f"data requirement {req.id!r} traces to no ML safety requirement [H]",
                project.locate("L", ("requirements", i, "id")),
                hint="add 'traces_to: [<ID of an [H] requirement>]'",
            )


@rule
def ml_covered_by_data(project: Project, diagnostics: Diagnostics) -> None:
    ml, data = project.ml_requirements, project.data_requirements
    if ml is None or data is None:
        return
    covered: dict[str, list[str]] = {}
    for data_req in data.requirements:
        for target in data_req.traces_to:
            covered.setdefault(target, []).append(data_req.id)
    for i, req in enumerate(ml.requirements):
        covering = covered.get(req.id, [])
        if req.data_related and not covering:
            diagnostics.add(
                "X008",
                f"ML safety requirement {req.id!r} is covered by no data requirement [L]",
                project.locate("H", ("requirements", i, "id")),
                hint="trace an [L] requirement to it, or set 'data_related: false' with "
                "'data_related_reason'",
            )
        elif not req.data_related and covering:
            diagnostics.add(
                "X012",
                f"ML safety requirement {req.id!r} says data_related: false but "
                f"{', '.join(covering)} trace to it",
                project.locate("H", ("requirements", i, "data_related")),
            )


@rule
def hazards_and_allocation(project: Project, diagnostics: Diagnostics) -> None:
    system = project.system_requirements
    if system is None:
        return
    controlled = {h for req in system.requirements for h in req.controls}
    for i, hazard in enumerate(system.hazards):
        if hazard.id not in controlled:
            diagnostics.add(
                "X009",
                f"hazard {hazard.id!r} is controlled by no system safety requirement",
                project.locate("A", ("hazards", i, "id")),
            )
    allocated = project.allocated
    if allocated is None:
        return
    used = {target for req in allocated.requirements for target in req.traces_to}
    for i, req in enumerate(system.requirements):
        if req.id not in used:
            diagnostics.add(
                "X010",
                f"system safety requirement {req.id!r} is not allocated to the ML component",
                project.locate("A", ("requirements", i, "id")),
            )


@rule
def ml_barrier_needs_a_system(project: Project, diagnostics: Diagnostics) -> None:
    """X019 for a project that is no part of a system: a barrier that is an ML component
    is rated by that component's own project, which only a system holds (the rules that
    need the component's project are the system's: amlas.project._system)."""
    description = project.get("C", SystemDescription)
    if description is None or project.system_root is not None or project.manifest.is_system:
        return
    for i, barrier in enumerate(description.barriers):
        named = [
            (field, value)
            for field, value in (
                ("component", barrier.component),
                ("failure_from", barrier.failure_from),
            )
            if value is not None
        ] + [("worsens", w.rate_from) for w in barrier.worsens if w.rate_from is not None]
        if named:
            field = named[0][0]
            diagnostics.add(
                "X019",
                f"barrier {barrier.id}: '{field}' rates it from an ML component's own "
                "project, which only a system project holds; this project is not part of "
                "one",
                project.locate("C", ("barriers", i, field)),
                hint="declare 'failure_on_demand' (and 'rate' under 'worsens'), or make "
                "this project a component of a system (docs/systems.md)",
            )
