"""The plan: every check the project calls for, worked out once from the artefacts.

:func:`plan` reads the project (no data, no model) and lists each check with the record
key it writes, the registered check name, its subject and datasets, the role that may run
it, the inputs its record rests on with their current hashes, and, where it cannot run,
why. ``amlas run`` executes the runnable part (:func:`amlas.verify.execute`), ``amlas run
--stale-only`` and ``amlas impact`` compare it with the evidence store, and ``amlas monitor
ingest`` executes its field-log checks: all four read this one plan, so none of them can
disagree about what a project calls for. A requirement ``amlas run`` does not judge on
data (``verified_by`` a platform test, simulation, analysis or review; kind 'other', no
metric) is planned as awaiting imported evidence (``external/<id>``, which ``amlas evidence
import`` writes), with the command that would develop it; both name the ``verified_by``
method.

What a plan knows only from the artefacts, it says here; what shows only once the model
or the data is loaded (a model without probabilities for a calibration metric, say), the
run reports as not run. Inputs that exist only after the data is read are not planned:
``samples:X`` (a digest of the samples), ``access_log:X`` (the log entry of the unseal)
and the ``harness_code:PATH`` of each project module the stage-6 harness loads.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection
from typing import Literal

from amlas.checks import (
    chain_hazards,
    formal_only,
    requirement_check,
    requirement_unavailable,
)
from amlas.checks.data_rules import get_data_rule
from amlas.errors import ProblemError, UsageError
from amlas.evidence import MODEL_SETTINGS, ProjectInputs, component_input, keys
from amlas.evidence import model_code_file as _model_code_file
from amlas.plugins import PluginError
from amlas.project import Project, other_components
from amlas.project.artefacts import (
    VERIFICATION_METHODS,
    ErroneousBehaviourLog,
    MLSafetyRequirement,
    ModelReference,
    OperationalScenarios,
)
from amlas.verify._external import awaits_import, import_command
from amlas.verify._planned import (
    ALL_STAGES,
    DEFAULT_STAGES,
    INGESTED,
    NO_FIELD_LOG,
    Kind,
    Plan,
    PlannedCheck,
    Role,
    role_needed,
)
from amlas.verify._records import DEFAULT_CONFIDENCE

__all__ = ["chosen_stages", "plan"]


class _Planner:
    def __init__(self, project: Project, role: Role, hashes: ProjectInputs) -> None:
        self.project = project
        self.role = role
        self.hashes = hashes
        self.datasets = project.datasets()
        self.out: list[PlannedCheck] = []
        self.not_planned: list[tuple[int, str, str]] = []
        self.needs_model = False

    def note(self, what: str, why: str) -> None:
        """Say once why a part of the project gives nothing to plan (before the next check)."""
        self.not_planned.append((len(self.out), what, why))

    def unreadable(self, letters: Collection[str]) -> str | None:
        """Why the role cannot read one of ``letters``, or None."""
        for letter in letters:
            document = self.datasets.get(letter)
            if document is None:
                return f"the project declares no [{letter}]"
            if document.sealed is not None and self.role != "verifier":
                return f"[{letter}] is sealed: only the verifier role reads it (R15)"
        return None

    def add(
        self,
        key: str,
        kind: Kind,
        check: str,
        stage: int,
        subject: str,
        letters: tuple[str, ...],
        names: Collection[str],
        reason: str | None = None,
        quiet: bool = False,
    ) -> None:
        runs_in: Literal["amlas run", "amlas monitor ingest", "amlas evidence import"] = (
            "amlas monitor ingest"
            if kind in INGESTED
            else "amlas evidence import"
            if kind == "external"
            else "amlas run"
        )
        inputs = {name: self.hashes.current(name) for name in sorted(names)}
        needs = role_needed(self.project, stage, letters)
        self.out.append(
            PlannedCheck(
                key, kind, check, stage, subject, letters, needs, inputs, reason, runs_in, quiet
            )
        )

    # -- stage 3 ---------------------------------------------------------------------------

    def stage3(self) -> None:
        data = self.project.data_requirements
        if data is None:
            self.note("stage 3", "the project has no data requirements [L]")
            return
        for requirement in data.requirements:
            if requirement.rule is None:
                self.note(requirement.id, "no machine-checkable rule: judged by review in [Q]")
                continue
            try:
                plugin = get_data_rule(requirement.rule.check)
                environment, broken = plugin.reads_environment, None
            except PluginError as exc:
                environment, broken = False, str(exc)
            for letter in requirement.datasets:
                names = {f"dataset:{letter}", f"requirement:{requirement.id}"}
                if environment:
                    names.add("environment")
                audit = getattr(requirement.rule, "audit_file", None)
                if audit:
                    names.add(f"file:{audit}")
                self.add(
                    keys.data_rule_key(requirement.id, letter),
                    "data_rule",
                    f"data.{requirement.rule.check}",
                    3,
                    requirement.id,
                    (letter,),
                    names,
                    broken or self.unreadable([letter]),
                )
        letters = [x for x in keys.DATASET_LETTERS if x in self.datasets]
        for a, b in itertools.combinations(letters, 2):
            self.add(
                keys.independence_key(a, b),
                "independence",
                "independence",
                3,
                "independence",
                (a, b),
                {f"dataset:{a}", f"dataset:{b}"},
                self.unreadable([a, b]),
            )

    # -- stages 4 and 5 --------------------------------------------------------------------

    def model_inputs(self) -> set[str]:
        code = {"model_code"} if _model_code_file(self.project) else set()
        return {"model", MODEL_SETTINGS} | code

    def tabular(self, letter: str) -> bool:
        document = self.datasets[letter]
        component = self.project.component
        if document.feature_columns:
            return True
        return component is not None and component.inputs.kind == "tabular"

    def evaluation(self, stage: int, letter: str) -> None:
        ml = self.project.ml_requirements
        if ml is None:
            self.note(f"stage {stage}", "the project has no [H]")
            return
        if letter not in self.datasets:
            self.note(f"stage {stage}", f"the project declares no [{letter}]")
            return
        model = self.project.get("V", ModelReference)
        judged = [r for r in ml.requirements if not awaits_import(r)]
        if model is None:
            self.note(f"stage {stage}", "stages 4 and 5 need the model reference [V]")
            self.needs_model = self.needs_model or bool(judged)
            return
        unreadable = self.unreadable([letter])
        if unreadable is not None:  # said once for the stage; its checks stay in the plan
            self.note(f"stage {stage}", unreadable)
        self.agreement(stage, letter, model, unreadable)
        for requirement in ml.requirements:
            if awaits_import(requirement):  # not `not in judged`: quadratic in models
                if unreadable is None:
                    self.note(requirement.id, _awaiting(requirement))
                continue
            self.requirement(stage, letter, requirement, model, unreadable)

    def requirement(
        self,
        stage: int,
        letter: str,
        requirement: MLSafetyRequirement,
        model: ModelReference,
        unreadable: str | None,
    ) -> None:
        names = {f"dataset:{letter}", f"requirement:{requirement.id}", "environment"}
        names |= self.model_inputs() | _defaults_used(requirement)
        if self.datasets[letter].objects is not None:
            names.add(f"objects:{letter}")
        predicted = model.predictions_for(letter) is not None
        if predicted:
            names.add(f"predictions:{letter}")
        needs_model = self.needs_loadable(requirement, model, letter)
        if requirement.property is not None:
            formal = needs_model or requirement_unavailable(
                requirement,
                model_format=model.format or "",
                tabular=self.tabular(letter),
                formal=True,
            )
            self.add(
                keys.formal_key(stage, requirement.id),
                "formal",
                "formal." + requirement.property.kind,
                stage,
                requirement.id,
                (letter,),
                names,
                unreadable or formal,
                quiet=unreadable is not None,
            )
        if formal_only(requirement):
            return  # the formal record is the evidence
        why = needs_model or requirement_unavailable(
            requirement, model_format=model.format or "", tabular=self.tabular(letter)
        )
        try:
            check = requirement_check(requirement)
        except PluginError as exc:  # a metric plug-in that does not load: said, not raised
            check, why = f"metric.{requirement.metric}", str(exc)
        self.add(
            keys.requirement_key(stage, requirement.id, letter),
            "requirement",
            check,
            stage,
            requirement.id,
            (letter,),
            names,
            unreadable or why,
            quiet=unreadable is not None,
        )

    def agreement(
        self, stage: int, letter: str, model: ModelReference, unreadable: str | None
    ) -> None:
        """Predictions made elsewhere beside a model amlas can run: a sample of them is
        predicted again and compared (the file must come from this model)."""
        if model.predictions_for(letter) is None or not model.loadable:
            return
        names = {f"dataset:{letter}", f"predictions:{letter}"} | self.model_inputs()
        if self.datasets[letter].objects is not None:
            names.add(f"objects:{letter}")
        self.add(
            keys.agreement_key(stage, letter),
            "agreement",
            "predictions.agreement",
            stage,
            f"predictions:{letter}",
            (letter,),
            names,
            unreadable,
            quiet=unreadable is not None,
        )

    def needs_loadable(
        self, requirement: MLSafetyRequirement, model: ModelReference, letter: str
    ) -> str | None:
        """Why ``requirement`` cannot be judged on [``letter``] for want of a model amlas
        can run: predictions made elsewhere cannot be perturbed, attacked, faulted or
        proven, and without them the model must be loadable."""
        if model.loadable:
            return None
        if model.predictions_for(letter) is None:
            return (
                f"[V] gives no model to run and no predictions on [{letter}] (add "
                f"'predictions: {{{letter}: ...}}' or the model's 'location' and 'format')"
            )
        if requirement.perturbation or requirement.faults or requirement.property:
            return (
                "needs a model amlas can run ([V] 'location' and 'format'): predictions "
                "made elsewhere cannot be perturbed, faulted or proven"
            )
        return None

    def imported(self) -> None:
        """The requirements only imported evidence can support (``amlas run`` does not judge
        them on data): each awaits a record ``external/<id>`` from ``amlas evidence
        import``, which stands in for its stage-5 result in the case."""
        ml = self.project.ml_requirements
        for requirement in ml.requirements if ml is not None else []:
            if not awaits_import(requirement):
                continue
            names = {f"requirement:{requirement.id}", "environment"} | self.model_inputs()
            names |= _defaults_used(requirement)
            self.add(
                keys.external_key(requirement.id),
                "external",
                "import",
                5,
                requirement.id,
                (),
                names,
                _awaiting(requirement),
                quiet=True,  # the stage's note says it, once
            )

    # -- stage 6 ---------------------------------------------------------------------------

    def stage6(self) -> None:
        project = self.project
        scenarios = project.get("EE", OperationalScenarios)
        if scenarios is None:
            self.note("stage 6", "the project has no operational scenarios [EE]")
        elif scenarios.harness is None:
            self.note(
                "stage 6",
                "[EE] names no 'harness' (module:function running the integrated system for one "
                "scenario run); see docs/deployment.md",
            )
        else:
            names = self.scenario_inputs(scenarios)
            for scenario in scenarios.scenarios:
                self.add(
                    keys.scenario_key(scenario.id),
                    "scenario",
                    "deployment.scenario",
                    6,
                    scenario.id,
                    (),
                    names,
                )
            for hazard in chain_hazards(project):
                # and the inputs of the verification results it uses, known when it runs
                self.add(
                    keys.hazard_key(hazard),
                    "hazard",
                    "deployment.hazard_rate",
                    6,
                    hazard,
                    (),
                    names,
                )
        # the field-log checks: 'amlas monitor ingest' runs them (a log given to it on the
        # command line stands in for the one [DD] names)
        log = project.get("DD", ErroneousBehaviourLog)
        path = log.field_log.path if log is not None and log.field_log is not None else None
        logged = {f"field_log:{path}"} if path else set()
        no_log = None if path else NO_FIELD_LOG
        self.add(
            keys.OPERATION,
            "operation",
            "deployment.operation",
            6,
            "G6.7",
            (),
            {"artefact:A"} | logged,
            no_log,
        )
        no_monitor = (
            "[DD] configures no runtime monitor" if log is None or not log.monitor else None
        )
        self.add(
            keys.MONITOR,
            "monitor",
            "deployment.monitor",
            6,
            "G6.8",
            (),
            {"monitor"} | logged,
            no_monitor or no_log,
        )

    def scenario_inputs(self, scenarios: OperationalScenarios) -> set[str]:
        names = {f"artefact:{x}" for x in ("EE", "C", "A") if x in self.project.artefacts}
        names |= {f"dataset:{x}" for x in scenarios.harness_data if x in self.datasets}
        names.add("harness_code")
        if self.project.get("V", ModelReference) is not None:
            names |= self.model_inputs()
        # the integrated system holds the system's other ML components too: a new model
        # of any of them changes what the scenarios exercised
        names |= {component_input(c, "model") for c in other_components(self.project)}
        return names


def _defaults_used(requirement: MLSafetyRequirement) -> set[str]:
    """The project defaults a requirement's records cite: the default confidence, only
    where the requirement states none (see :func:`~amlas.verify._records.state_defaults`)."""
    return {DEFAULT_CONFIDENCE} if requirement.confidence_defaulted else set()


def _awaiting(requirement: MLSafetyRequirement) -> str:
    """Why ``amlas run`` does not judge ``requirement``, and the command that would develop
    it instead (both name its ``verified_by`` method, when it has one)."""
    method = requirement.verified_by
    why = (
        f"verified by {VERIFICATION_METHODS[method]}"
        if method is not None
        else requirement.data_related_reason.strip()
        if not requirement.data_related
        else "no metric to evaluate"
        if requirement.metric is None
        else f"kind '{requirement.kind}'"
    )
    command = import_command(requirement.id, verifier=True, method=method)
    awaiting = "a review record or imported evidence" if method == "review" else "imported evidence"
    return f"not evaluated on data: {why.rstrip('.')}; awaiting {awaiting} ({command})"


def chosen_stages(role: Role, stages: Collection[int] | None) -> tuple[int, ...]:
    """``stages`` (default: the role's) sorted; a coded problem (R002) for a role that is
    none of amlas's, a stage outside 3-6, or stage 5 for any role but the verifier's (R15)."""
    if role not in DEFAULT_STAGES:
        raise ProblemError(
            f"role={role!r} is no role of amlas run",
            code="R002",
            value=role,
            expected="'developer' or 'verifier'",
        )
    chosen = tuple(sorted(set(stages if stages else DEFAULT_STAGES[role])))
    for stage in chosen:
        if stage not in ALL_STAGES:
            raise ProblemError(
                f"--stage {stage}: amlas run covers stages 3, 4, 5 and 6", code="R002", value=stage
            )
    if 5 in chosen and role != "verifier":
        raise ProblemError(
            "stage 5 evaluates on the verification data [P], which only the verifier role "
            "reads (R15): run it with --role verifier",
            code="R002",
            value=role,
        )
    return chosen


def plan(
    project: Project,
    *,
    role: Role = "developer",
    stages: Collection[int] | None = None,
    only: Collection[str] | None = None,
    hashes: ProjectInputs | None = None,
) -> Plan:
    """The checks of ``stages`` (default: the role's, see :data:`DEFAULT_STAGES`) that
    ``project`` calls for, as ``role`` sees them: a check the role may not run is planned
    with why. ``only`` narrows the plan to those record keys (stage 6's scenario and hazard
    checks stay together: a hazard chain rests on the scenario runs of the same run).
    ``hashes`` shares a cache of current input hashes with the caller.

    Raises :class:`UsageError` for a stage outside 3-6 or a role that may not run one."""
    if isinstance(only, str):
        raise UsageError(f"only={only!r} must be a collection of record keys, not one key")
    chosen = chosen_stages(role, stages)
    planner = _Planner(project, role, hashes or ProjectInputs(project))
    if 3 in chosen:
        planner.stage3()
    if 4 in chosen:
        planner.evaluation(4, "O")
    if 5 in chosen:
        planner.evaluation(5, "P")
        planner.imported()
    if 6 in chosen:
        planner.stage6()
    checks = planner.out
    notes = planner.not_planned
    wanted = frozenset(only) if only is not None else None
    if wanted is not None:
        together = any(c.key in wanted for c in checks if c.kind in ("scenario", "hazard"))
        kept = [c.key in wanted or (together and c.kind in ("scenario", "hazard")) for c in checks]
        # a note stays before the first kept check that came after it
        notes = [(sum(kept[:position]), what, why) for position, what, why in notes]
        checks = [c for c, keep in zip(checks, kept, strict=True) if keep]
    return Plan(
        project,
        role,
        chosen,
        tuple(checks),
        tuple(notes),
        wanted,
        needs_model=planner.needs_model,
    )
