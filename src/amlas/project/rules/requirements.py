"""Requirement-quality rules for [E], [H], [J] and [EE] (Q001-Q023; AMLAS R1, R4, R5,
R19)."""

from __future__ import annotations

import re

from amlas.diagnostics import Diagnostics, did_you_mean
from amlas.project._project import Project
from amlas.project.artefacts import (
    VERIFICATION_METHODS,
    MLSafetyRequirement,
    OperationalScenarios,
    ValidationResults,
)
from amlas.project.metrics import METRICS
from amlas.project.rules._registry import rule
from amlas.project.rules.data import _csv_header as csv_header
from amlas.project.rules.odd import banding_problem

_METRIC = (
    r"(?:recall|precision|f1|auc|roc|sensitivity|specificity|tpr|fpr|fnr|"
    r"true positive rate|false positive rate|false negative rate)"
)
# A metric word with a number close by ("recall of at least 0.95", "99% sensitivity"), so
# plain English ("a product recall", "the precision of the scale") does not trip it.
_METRIC_WORDS = re.compile(
    rf"\b(?P<a>{_METRIC})\b(?:\W+\w+){{0,4}}?\W+\d|\d\s*%?\s+(?P<b>{_METRIC})\b",
    re.IGNORECASE,
)


@rule
def allocated_is_technology_agnostic(project: Project, diagnostics: Diagnostics) -> None:
    allocated = project.allocated
    if allocated is None:
        return
    for i, req in enumerate(allocated.requirements):
        found = sorted(
            {(m.group("a") or m.group("b")).lower() for m in _METRIC_WORDS.finditer(req.text)}
        )
        if found:
            diagnostics.add(
                "Q009",
                f"allocated requirement {req.id!r} mentions {', '.join(found)}",
                project.locate("E", ("requirements", i, "text")),
                hint="state the real-world outcome here and put metrics in [H]",
            )


@rule
def metrics_are_sound(project: Project, diagnostics: Diagnostics) -> None:
    ml = project.ml_requirements
    if ml is None:
        return
    component = project.component
    classes = component.class_names() if component else None
    for i, req in enumerate(ml.requirements):
        base = ("requirements", i)
        if req.confidence is not None and not 0.0 < req.confidence < 1.0:
            diagnostics.add(
                "Q002",
                f"{req.id}: confidence={req.confidence:g} is outside (0, 1)",
                project.locate("H", (*base, "confidence")),
                hint="use a level such as 0.95 or 0.99",
            )
        spec = METRICS.get(req.metric or "")
        if spec is None:
            continue
        if req.threshold is not None:
            if not spec.lower <= req.threshold <= spec.upper:
                diagnostics.add(
                    "Q001",
                    f"{req.id}: threshold={req.threshold:g} is outside the range "
                    f"{spec.range_text()} of {spec.name}",
                    project.locate("H", (*base, "threshold")),
                )
            elif (spec.higher_is_better and req.threshold == spec.lower) or (
                not spec.higher_is_better and req.threshold == spec.upper
            ):
                diagnostics.add(
                    "Q008",
                    f"{req.id}: {spec.name} {spec.comparison} {req.threshold:g} holds for "
                    "every model",
                    project.locate("H", (*base, "threshold")),
                )
        if req.comparison is not None and req.comparison != spec.comparison:
            better = "higher" if spec.higher_is_better else "lower"
            diagnostics.add(
                "Q003",
                f"{req.id}: comparison {req.comparison!r} on {spec.name}, where {better} is "
                f"better; expected {spec.comparison!r}",
                project.locate("H", (*base, "comparison")),
            )
        if component is not None and component.task not in spec.tasks:
            diagnostics.add(
                "Q012",
                f"{req.id}: metric {spec.name!r} is not defined for task {component.task!r}",
                project.locate("H", (*base, "metric")),
            )
        if spec.per_class and req.class_ is None:
            diagnostics.add(
                "Q004",
                f"{req.id}: {spec.name} is computed per class and needs 'class:'",
                project.locate("H", (*base, "metric")),
                hint=f"one of {', '.join(classes)}" if classes else None,
            )
        if req.class_ is not None and classes is not None and req.class_ not in classes:
            diagnostics.add(
                "Q004",
                f"{req.id}: class {req.class_!r} is not a class of the ML component [D]",
                project.locate("H", (*base, "class")),
                hint=did_you_mean(req.class_, classes) or f"classes: {', '.join(classes)}",
            )


@rule
def confidence_stated(project: Project, diagnostics: Diagnostics) -> None:
    """A performance or robustness requirement is decided at a confidence level: its own,
    or the project's ``defaults.confidence`` (Q020 when neither states one). One verified
    without data (``verified_by``) is decided by what is imported or reviewed for it."""
    ml = project.ml_requirements
    if ml is None:
        return
    for i, req in enumerate(ml.requirements):
        judged = req.kind in ("performance", "robustness") and req.verified_by is None
        if judged and req.effective_confidence is None:
            diagnostics.add(
                "Q020",
                f"{req.id}: a {req.kind} requirement states no 'confidence', and amlas.yaml "
                "sets no 'defaults: {confidence: ...}'",
                project.locate("H", ("requirements", i, "id")),
                hint="add 'confidence: 0.95' to the requirement, or 'defaults: {confidence: "
                "0.95}' to amlas.yaml for every requirement that states none",
            )


@rule
def slices_exist(project: Project, diagnostics: Diagnostics) -> None:
    ml, environment = project.ml_requirements, project.environment
    if ml is None or environment is None:
        return
    dimensions = {d.id: d for d in environment.dimensions}
    for i, req in enumerate(ml.requirements):
        base = ("requirements", i, "applies_to")
        applies_to = req.applies_to
        unknown_banding: set[str] = set()
        for dim_id, banding in applies_to.banding.items():
            at = project.locate("H", (*base, "banding", dim_id))
            if dim_id not in dimensions:
                continue  # X002 reports the unknown dimension
            judged = req.judged_slice  # 'across' slices like 'per'
            if dim_id not in judged.where and dim_id not in judged.per:
                diagnostics.add(
                    "Q016",
                    f"{req.id}: a banding is named for {dim_id!r}, which the slice neither "
                    "restricts ('where') nor slices by ('per' or 'across')",
                    project.locate("H", (*base, "banding", dim_id), key=True),
                )
                continue
            problem = banding_problem(environment, dim_id, banding)
            if problem is not None:
                unknown_banding.add(dim_id)
                message, hint = problem
                diagnostics.add("Q016", f"{req.id}: {message}", at, hint=hint)
        for dim_id, values in applies_to.where.items():
            dimension = dimensions.get(dim_id)
            if dimension is None or dim_id in unknown_banding:
                continue  # X002 reports the unknown dimension, Q016 the unknown banding
            named = applies_to.banding_of(dim_id)
            allowed = dimension.slice_values(named)
            of = f"banding {named!r} of " if named else ""
            for j, value in enumerate(values):
                if value not in allowed:
                    diagnostics.add(
                        "Q005",
                        f"{req.id}: {value!r} is not a band or category of {of}ODD dimension "
                        f"{dim_id!r}",
                        project.locate("H", (*base, "where", dim_id, j)),
                        hint=did_you_mean(value, allowed)
                        or (
                            f"declared: {', '.join(allowed)}"
                            if allowed
                            else f"{dim_id!r} declares no bands"
                        ),
                    )
        # 'across' is judged like 'per' (its robustness reading): the same two checks
        banded = (
            (applies_to.per, (*base, "per"), "slicing per"),
            (req.across, ("requirements", i, "across"), "robustness across"),
        )
        for listed, place, doing in banded:
            for j, dim_id in enumerate(listed):
                if dim_id in applies_to.where or listed.index(dim_id) != j:
                    diagnostics.add(
                        "Q013",
                        f"{req.id}: ODD dimension {dim_id!r} is repeated in the slice",
                        project.locate("H", (*place, j)),
                    )
                dimension = dimensions.get(dim_id)
                if dimension is None or dim_id in unknown_banding:
                    continue
                if not dimension.slice_values(applies_to.banding_of(dim_id)):
                    diagnostics.add(
                        "Q005",
                        f"{req.id}: {doing} {dim_id!r}, which declares no bands",
                        project.locate("H", (*place, j)),
                        hint="add 'bands:' to the dimension in [B]",
                    )


_MEASURED_UNDER = {
    "robust_accuracy": "perturbation",
    "prediction_stability": "perturbation",
    "verified_robustness": "property",
    "fault_tolerance_rate": "faults",
}


@rule
def robustness_is_specified(project: Project, diagnostics: Diagnostics) -> None:
    ml = project.ml_requirements
    if ml is None:
        return
    component = project.component
    features = set(component.feature_names()) if component else set()
    for i, req in enumerate(ml.requirements):
        base = ("requirements", i)
        specs = (req.perturbation, req.property, req.faults)
        if req.verified_by is not None:
            continue  # shown outside amlas: what it is robust to is the method's (Q023)
        unspecified = req.kind == "robustness" and all(spec is None for spec in specs)
        if unspecified and not req.across:
            diagnostics.add(
                "Q006",
                f"{req.id}: a robustness requirement needs 'perturbation', 'property', "
                "'faults' or 'across'",
                project.locate("H", (*base, "kind")),
            )
        _across_fits(project, req, i, diagnostics)
        needed = _MEASURED_UNDER.get(req.metric or "")
        if needed is not None and getattr(req, needed) is None and not unspecified:
            diagnostics.add(
                "Q015",
                f"{req.id}: metric {req.metric!r} is measured under {needed!r}, which is missing",
                project.locate("H", (*base, "metric")),
                hint=f"add '{needed}:' to the requirement (see docs/verification.md)",
            )
        if req.kind != "robustness":
            for name in ("perturbation", "property", "faults"):
                if getattr(req, name) is not None:
                    diagnostics.add(
                        "Q007",
                        f"{req.id}: {name!r} on a {req.kind} requirement is ignored",
                        project.locate("H", (*base, name)),
                        hint="set 'kind: robustness' or remove it",
                    )
        if not features:
            continue
        for name in ("perturbation", "property"):
            spec = getattr(req, name)
            if spec is None:
                continue
            for j, feature in enumerate(spec.features):
                if feature not in features:
                    diagnostics.add(
                        "Q011",
                        f"{req.id}: {feature!r} is not an input feature of the ML component",
                        project.locate("H", (*base, name, "features", j)),
                        hint=did_you_mean(feature, features),
                    )


def _across_fits(
    project: Project, req: MLSafetyRequirement, i: int, diagnostics: Diagnostics
) -> None:
    """``across`` states robustness as performance in every band of some ODD dimensions,
    with nothing perturbed (Q018 otherwise): on another kind it means ``per``; beside
    ``applies_to.per`` the dimensions would be said twice; beside a perturbation, property
    or faults the requirement would mean two things."""
    if not req.across:
        return
    at = project.locate("H", ("requirements", i, "across"), key=True)
    if req.kind != "robustness":
        diagnostics.add(
            "Q018",
            f"{req.id}: 'across' states robustness across the operating domain; on a "
            f"{req.kind} requirement it is not read",
            at,
            hint="set 'kind: robustness', or judge every band with 'applies_to: {per: [...]}'",
        )
    if req.applies_to.per:
        diagnostics.add(
            "Q018",
            f"{req.id}: both 'across' and 'applies_to.per' list dimensions to judge band by "
            "band; 'across' is the robustness reading of 'per'",
            at,
            hint="list every dimension in 'across' (bands of several dimensions are judged "
            "in every combination) and drop 'applies_to.per'",
        )
    stated = [name for name in ("perturbation", "property", "faults") if getattr(req, name)]
    if stated and req.kind == "robustness":
        diagnostics.add(
            "Q018",
            f"{req.id}: 'across' judges performance in every band with nothing perturbed, "
            f"and the requirement also states {' and '.join(repr(n) for n in stated)}",
            at,
            hint="to judge a perturbation in every band, use 'applies_to: {per: [...]}' "
            "and drop 'across'",
        )


_JUDGED_ON = ("O", "P")
"""The datasets an [H] requirement is judged on (stages 4 and 5)."""


@rule
def preconditions_name_columns(project: Project, diagnostics: Diagnostics) -> None:
    """Every column a requirement's precondition names is a column of the datasets it is
    judged on, where their columns are known before the run (plaintext CSV: Q019); a
    detector's precondition may also name an attribute of its objects. Otherwise the run
    finds out (R096)."""
    ml = project.ml_requirements
    if ml is None:
        return
    datasets = project.datasets()
    known: dict[str, set[str] | None] = {}
    for letter in _JUDGED_ON:
        document = datasets.get(letter)
        header = csv_header(project, document) if document is not None else None
        if header is not None and document is not None and document.objects is not None:
            header = header | set(document.objects.attributes)
        known[letter] = header
    for i, req in enumerate(ml.requirements):
        for j, term in enumerate(req.precondition):
            for letter, columns in known.items():
                if columns is None or term.column in columns:
                    continue
                document = datasets[letter]
                diagnostics.add(
                    "Q019",
                    f"{req.id}: the precondition names column {term.column!r}, which "
                    f"[{letter}] {document.location!r} does not hold",
                    project.locate("H", ("requirements", i, "precondition", j, "column")),
                    hint=did_you_mean(term.column, columns)
                    or (
                        "a detector's object attribute must be listed in 'objects.attributes'"
                        if document.objects is not None
                        else None
                    ),
                )
                break  # one diagnostic per term


@rule
def verified_without_data(project: Project, diagnostics: Diagnostics) -> None:
    """A requirement with ``verified_by`` is not judged on data: what only a run on data
    would use is said to be unused (Q021, Q023)."""
    ml = project.ml_requirements
    if ml is None:
        return
    for i, req in enumerate(ml.requirements):
        if req.verified_by is None:
            continue
        base = ("requirements", i)
        method = VERIFICATION_METHODS[req.verified_by]
        if req.metric is not None:
            use = (
                "a review measures no metric, so it is not used"
                if req.verified_by == "review"
                else "it only judges counts imported for it (amlas evidence import)"
            )
            diagnostics.add(
                "Q021",
                f"{req.id}: verified by {method}, so amlas run does not judge "
                f"{req.metric!r} on data; {use}",
                project.locate("H", (*base, "metric")),
                hint="leave out 'verified_by' to have amlas run judge it on [O] and [P], or "
                "leave out the metric",
            )
        for name in ("perturbation", "property", "faults"):
            if getattr(req, name) is not None:
                diagnostics.add(
                    "Q023",
                    f"{req.id}: {name!r} is ignored: the requirement is verified by {method}, "
                    "and amlas run does not judge it on data",
                    project.locate("H", (*base, name), key=True),
                    hint=f"remove {name!r}, or 'verified_by' to have amlas run test it",
                )


@rule
def requirements_validated(project: Project, diagnostics: Diagnostics) -> None:
    ml = project.ml_requirements
    results = project.get("J", ValidationResults)
    if ml is None or results is None:
        return
    latest: dict[str, str] = {}  # the most recent record decides (stable for equal dates)
    for record in sorted(results.records, key=lambda r: r.date):
        for req_id in record.requirements:
            latest[req_id] = record.outcome
    for i, req in enumerate(ml.requirements):
        outcome = latest.get(req.id)
        if outcome in ("accepted", "accepted_with_changes"):
            continue
        state = f"its latest validation is {outcome}" if outcome else "no record covers it"
        diagnostics.add(
            "Q010",
            f"ML safety requirement {req.id!r} is not validated: {state}",
            project.locate("H", ("requirements", i, "id")),
        )


@rule
def scenario_conditions_exist(project: Project, diagnostics: Diagnostics) -> None:
    scenarios, environment = project.get("EE", OperationalScenarios), project.environment
    if scenarios is None or environment is None:
        return
    dimensions = {d.id: d for d in environment.dimensions}
    for i, scenario in enumerate(scenarios.scenarios):
        for dim_id, value in scenario.conditions.items():
            dimension = dimensions.get(dim_id)
            if dimension is None:
                continue  # X002 reports the unknown dimension
            allowed = dimension.slice_values()
            if value not in allowed:
                diagnostics.add(
                    "Q005",
                    f"scenario {scenario.id!r}: {value!r} is not a band or category of ODD "
                    f"dimension {dim_id!r}",
                    project.locate("EE", ("scenarios", i, "conditions", dim_id)),
                    hint=did_you_mean(value, allowed)
                    or (f"declared: {', '.join(allowed)}" if allowed else None),
                )


@rule
def scenario_outcome_stated(project: Project, diagnostics: Diagnostics) -> None:
    scenarios = project.get("EE", OperationalScenarios)
    if scenarios is None:
        return
    for i, scenario in enumerate(scenarios.scenarios):
        if scenario.expected_outcome is None:
            diagnostics.add(
                "Q022",
                f"scenario {scenario.id!r} states no expected outcome",
                project.locate("EE", ("scenarios", i, "id")),
                hint="add 'expected_outcome: <what the integrated system should do>'",
            )


# (artefact, path, AMLAS node, what the text argues)
_JUSTIFICATIONS: tuple[tuple[str, tuple[str, ...], str, str], ...] = (
    ("H", ("development_rationale",), "J2.1", "how the ML safety requirements were developed"),
    ("M", ("category_rationale",), "J3.1", "why the types of data requirements are sufficient"),
    ("AA", ("platform",), "G5.6", "why the test platform represents the operational one"),
    ("DD", ("sufficiency_rationale",), "J6.2", "why the erroneous behaviour identified suffices"),
)


@rule
def justifications_recorded(project: Project, diagnostics: Diagnostics) -> None:
    for letter, path, node, what in _JUSTIFICATIONS:
        document = project.artefacts.get(letter)
        if document is None or str(getattr(document, path[0])).strip():
            continue
        diagnostics.add(
            "Q014",
            f"[{letter}] records no {path[0]!r}: {node} ({what}) stays undeveloped",
            project.locate(letter, path, key=True),
        )
    scenarios = project.get("EE", OperationalScenarios)
    if scenarios is not None and scenarios.simulation and not scenarios.simulator.strip():
        diagnostics.add(
            "Q014",
            "integration tests run in simulation but 'simulator' is not named: G6.5 "
            "(simulation representativeness) cannot be argued",
            project.locate("EE", ("simulation",)),
        )
