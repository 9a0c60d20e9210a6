"""Rules on the operating domain beyond its dimensions, and on hazard classification:
named bandings an [L] rule reads (D026; [H] slices: Q016 in ``requirements``), fixed ODD
conditions assured by a monitor (D027), an ISO 26262 ASIL that is not the one its classes
determine (Q017)."""

from __future__ import annotations

from amlas.diagnostics import Diagnostics, did_you_mean
from amlas.project._project import Project
from amlas.project.artefacts import Iso26262Classification, OperatingEnvironment
from amlas.project.artefacts.data import MinSamplesPerCell, SliceBalance
from amlas.project.rules._registry import rule

__all__ = ["banding_problem"]


def banding_problem(
    environment: OperatingEnvironment, dimension_id: str, banding: str
) -> tuple[str, str | None] | None:
    """Why ``banding`` is no banding of ODD dimension ``dimension_id`` (message, hint), or
    None when it is one (or the dimension is unknown: X002 reports that)."""
    dimension = environment.dimension(dimension_id)
    if dimension is None:
        return None
    if dimension.kind == "categorical":
        return (
            f"ODD dimension {dimension_id!r} is categorical: it has categories, no bandings "
            f"(banding {banding!r})",
            "remove the banding; a categorical dimension is sliced by its categories",
        )
    names = list(dimension.bandings)
    if banding in names:
        return None
    hint = did_you_mean(banding, names) or (
        f"{dimension_id!r} declares: {', '.join(names)}"
        if names
        else f"{dimension_id!r} declares no bandings; add 'bandings: {{{banding}: [...]}}' "
        "to it in [B]"
    )
    return f"ODD dimension {dimension_id!r} has no banding {banding!r}", hint


@rule
def data_rule_bandings_exist(project: Project, diagnostics: Diagnostics) -> None:
    """The banding an [L] rule names (``min_samples_per_cell``, ``slice_balance``) is a
    banding of a numeric dimension the rule counts by (D026)."""
    data, environment = project.data_requirements, project.environment
    if data is None or environment is None:
        return
    for i, req in enumerate(data.requirements):
        base: tuple[str | int, ...] = ("requirements", i, "rule")
        named: list[tuple[str, str, tuple[str | int, ...]]] = []
        if isinstance(req.rule, MinSamplesPerCell):
            for dim_id, banding in req.rule.banding.items():
                at = (*base, "banding", dim_id)
                if environment.dimension(dim_id) is None:
                    continue  # X002 reports the unknown dimension
                if dim_id not in req.rule.dimensions:
                    diagnostics.add(
                        "D026",
                        f"{req.id}: a banding is named for {dim_id!r}, which the rule does not "
                        f"count by (dimensions: {', '.join(req.rule.dimensions)})",
                        project.locate("L", at, key=True),
                        hint=did_you_mean(dim_id, req.rule.dimensions),
                    )
                    continue
                named.append((dim_id, banding, at))
        elif isinstance(req.rule, SliceBalance) and req.rule.banding is not None:
            named.append((req.rule.dimension, req.rule.banding, (*base, "banding")))
        for dim_id, banding, at in named:
            problem = banding_problem(environment, dim_id, banding)
            if problem is not None:
                message, hint = problem
                diagnostics.add("D026", f"{req.id}: {message}", project.locate("L", at), hint=hint)


@rule
def monitored_conditions_name_their_monitor(project: Project, diagnostics: Diagnostics) -> None:
    """A fixed ODD condition assured by a monitor names what monitors it (D027)."""
    environment = project.environment
    if environment is None:
        return
    for i, condition in enumerate(environment.conditions):
        if condition.assured_by == "monitor" and not condition.monitored_by:
            diagnostics.add(
                "D027",
                f"ODD condition {condition.id!r} ({condition.name}: {condition.condition}) is "
                "assured by a monitor but names none",
                project.locate("B", ("conditions", i, "assured_by")),
                hint="add 'monitored_by: [<[DD] erroneous behaviour or [C] barrier ID>]', or "
                "state it as 'assured_by: assumption' with its rationale",
            )


@rule
def asil_follows_the_table(project: Project, diagnostics: Diagnostics) -> None:
    """A stated ASIL is the one ISO 26262-3 Table 4 determines from the hazard's severity,
    exposure and controllability (Q017)."""
    system = project.system_requirements
    if system is None:
        return
    for i, hazard in enumerate(system.hazards):
        found = hazard.classification
        if not isinstance(found, Iso26262Classification) or found.asil is None:
            continue
        determined = found.determined_asil
        if found.asil != determined:
            classes = f"{found.severity}/{found.exposure}/{found.controllability}"
            diagnostics.add(
                "Q017",
                f"hazard {hazard.id!r} states ASIL {found.asil}, but {classes} determines "
                f"{_asil_text(determined)} (ISO 26262-3 Table 4)",
                project.locate("A", ("hazards", i, "classification", "asil")),
                hint=f"set 'asil: {determined}', or correct the classes, or leave 'asil' out "
                "to have it determined",
            )


def _asil_text(asil: str) -> str:
    return "QM" if asil == "QM" else f"ASIL {asil}"
