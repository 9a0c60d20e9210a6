"""Rules for the model, the verification log and deployment artefacts
(M001-M012, M014; AMLAS R12, R16, R17, R19, R20)."""

from __future__ import annotations

from amlas.diagnostics import Diagnostics
from amlas.project._paths import path_problem
from amlas.project._project import Project
from amlas.project.artefacts import (
    ErroneousBehaviourLog,
    ModelDevelopmentLog,
    ModelReference,
    OperationalScenarios,
    VerificationLog,
)
from amlas.project.rules._registry import rule
from amlas.project.rules.data import require_file

_HELD_OUT = {"O": "internal test data [O]", "P": "verification data [P]"}


@rule
def no_leakage(project: Project, diagnostics: Diagnostics) -> None:
    log = project.get("U", ModelDevelopmentLog)
    if log is not None:
        for i, letter in enumerate(log.data_used):
            if letter in _HELD_OUT:
                diagnostics.add(
                    "M002",
                    f"the model was created with {_HELD_OUT[letter]}",
                    project.locate("U", ("data_used", i)),
                )
        for group in ("hyperparameters", "thresholds"):
            for i, decision in enumerate(getattr(log, group)):
                if decision.chosen_on in _HELD_OUT:
                    diagnostics.add(
                        "M001",
                        f"{group[:-1]} {decision.name!r} was chosen on "
                        f"{_HELD_OUT[decision.chosen_on]}",
                        project.locate("U", (group, i, "chosen_on")),
                        hint="choose it on development data [N], e.g. by cross-validation",
                    )
        if log.selection is not None and log.selection.chosen_on == "P":
            diagnostics.add(
                "M001",
                "the model was selected on verification data [P]",
                project.locate("U", ("selection", "chosen_on")),
            )
    model = project.get("V", ModelReference)
    if model is not None:
        for i, letter in enumerate(model.trained_on):
            if letter in _HELD_OUT:
                diagnostics.add(
                    "M002",
                    f"the model was trained on {_HELD_OUT[letter]}",
                    project.locate("V", ("trained_on", i)),
                )


@rule
def decisions_state_their_data(project: Project, diagnostics: Diagnostics) -> None:
    """Every decision of [U] says the data it was taken on; none is assumed (M014)."""
    log = project.get("U", ModelDevelopmentLog)
    if log is None:
        return
    for group, what, usual in (
        ("hyperparameters", "hyper-parameter", "N"),
        ("thresholds", "threshold", "N"),
    ):
        for i, decision in enumerate(getattr(log, group)):
            if decision.chosen_on is None:
                diagnostics.add(
                    "M014",
                    f"{what} {decision.name!r} does not say the data it was chosen on",
                    project.locate("U", (group, i, "chosen_on")),
                    hint=f"add 'chosen_on: {usual}' (development data, e.g. by "
                    "cross-validation) or the dataset it really was chosen on",
                )
    if log.selection is not None and log.selection.chosen_on is None:
        diagnostics.add(
            "M014",
            f"the selection of {log.selection.candidate!r} does not say the data it was made on",
            project.locate("U", ("selection", "chosen_on")),
            hint="add 'chosen_on: O' (internal test results, as AMLAS selects) or the "
            "dataset it really was made on",
        )


@rule
def model_file(project: Project, diagnostics: Diagnostics) -> None:
    model = project.get("V", ModelReference)
    if model is None or model.location is None:
        return  # predictions only: their files are checked with the datasets
    target = require_file(
        project,
        "V",
        ("location",),
        model.location,
        "model file",
        diagnostics,
        missing_code="M003",
    )
    if target is not None and model.sha256 is not None:
        try:
            actual = project.content_hash(target)
        except (OSError, RuntimeError) as exc:
            diagnostics.add(
                "F003",
                f"cannot read model file {model.location!r}: "
                f"{getattr(exc, 'strerror', None) or exc}",
                project.locate("V", ("location",)),
            )
        else:
            if actual != model.sha256:
                diagnostics.add(
                    "M004",
                    f"{model.location!r} has sha256 {actual[:12]}..., declared "
                    f"{model.sha256[:12]}...",
                    project.locate("V", ("sha256",)),
                    hint=f"after review, set 'sha256: {actual}'",
                )
    component = project.component
    if (
        component is not None
        and model.class_order
        and sorted(model.class_order) != sorted(component.class_names())
    ):
        diagnostics.add(
            "M010",
            f"class_order {model.class_order} does not match the classes of [D] "
            f"{component.class_names()}",
            project.locate("V", ("class_order",)),
        )


@rule
def model_is_selected_candidate(project: Project, diagnostics: Diagnostics) -> None:
    log = project.get("U", ModelDevelopmentLog)
    model = project.get("V", ModelReference)
    if log is None or model is None or log.selection is None or model.candidate is None:
        return
    if model.candidate != log.selection.candidate:
        diagnostics.add(
            "M011",
            f"[V] is candidate {model.candidate!r} but [U] selected {log.selection.candidate!r}",
            project.locate("V", ("candidate",)),
        )


@rule
def verification_planned(project: Project, diagnostics: Diagnostics) -> None:
    log = project.get("AA", VerificationLog)
    ml = project.ml_requirements
    if log is None:
        return
    if not log.verifiers:
        diagnostics.add(
            "M007",
            "the verification log names no verifier",
            project.locate("AA", ("strategy",)),
        )
    elif project.manifest.effective_criticality in ("high", "very_high") and not any(
        v.independent for v in log.verifiers
    ):
        diagnostics.add(
            "M012",
            f"criticality is {project.manifest.criticality_text} but no verifier is "
            "independent of the development team",
            project.locate("AA", ("verifiers",)),
        )
    with_property = {r.id for r in ml.requirements if r.property is not None} if ml else set()
    for i, activity in enumerate(log.activities):
        if (
            activity.method == "formal"
            and not activity.property_encoding.strip()
            and not set(activity.requirements) <= with_property
        ):
            diagnostics.add(
                "M006",
                f"formal activity {activity.id!r} does not document its property encoding",
                project.locate("AA", ("activities", i, "id")),
                hint="add 'property_encoding:' or a 'property:' with 'encoding:' in [H]",
            )
    if ml is None:
        return
    planned = {req_id for activity in log.activities for req_id in activity.requirements}
    for i, req in enumerate(ml.requirements):
        if req.id not in planned:
            diagnostics.add(
                "M005",
                f"no verification activity in [AA] covers {req.id!r}",
                project.locate("H", ("requirements", i, "id")),
            )


@rule
def erroneous_behaviour_handled(project: Project, diagnostics: Diagnostics) -> None:
    log = project.get("DD", ErroneousBehaviourLog)
    if log is None:
        return
    for i, behaviour in enumerate(log.behaviours):
        missing = [n for n in ("monitoring", "response") if not getattr(behaviour, n).strip()]
        if missing:
            diagnostics.add(
                "M008",
                f"erroneous behaviour {behaviour.id!r} has no {' and no '.join(missing)}",
                project.locate("DD", ("behaviours", i, "id")),
            )


@rule
def deployment_paths_inside(project: Project, diagnostics: Diagnostics) -> None:
    """The monitor file and the field log are project files (F009): `amlas monitor`
    writes both, and nothing it writes may land outside the project."""
    log = project.get("DD", ErroneousBehaviourLog)
    if log is None:
        return
    paths: list[tuple[tuple[str, ...], str, str]] = []
    if log.monitor is not None:
        paths.append((("monitor", "file"), log.monitor.file, "monitor file"))
    if log.field_log is not None:
        paths.append((("field_log", "path"), log.field_log.path, "field log"))
    for at, relative, what in paths:
        problem = path_problem(project.root, relative)
        if problem is not None:
            diagnostics.add(
                "F009",
                f"[DD] {what} {relative!r} {problem}",
                project.locate("DD", at),
                hint="name a file inside the project, e.g. '6-deployment/monitor.json'",
            )


@rule
def scenarios_exercise_allocation(project: Project, diagnostics: Diagnostics) -> None:
    scenarios = project.get("EE", OperationalScenarios)
    allocated = project.allocated
    if scenarios is None or allocated is None:
        return
    exercised = {req_id for s in scenarios.scenarios for req_id in s.requirements}
    for i, req in enumerate(allocated.requirements):
        untested = [target for target in req.traces_to if target not in exercised]
        if untested:
            diagnostics.add(
                "M009",
                f"allocated requirement {req.id!r}: no operational scenario exercises "
                f"{', '.join(untested)}",
                project.locate("E", ("requirements", i, "traces_to")),
            )
