"""``amlas run``: execute a plan and record its evidence as one run.

Stage 3 runs every machine-checkable data rule [L] on the datasets it names and checks the
independence of [N], [O] and [P] (producing [S]); stage 4 judges every data-related [H]
requirement on the internal test data [O] (producing [X]); stage 5 judges them on the
verification data [P] (producing [Z]); stage 6 runs the operational scenarios and the
hazard-rate chains ([FF]).

Roles keep AMLAS R15: the developer role never reads sealed data (the plan lists the checks
that need it as not runnable, with why), and stage 5 belongs to the verifier role, which
decrypts [P] in memory and logs every unseal and use. All records of one invocation go
into the evidence store as one run, committed only at the end: an interrupted run changes
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Final

from amlas.checks import formal_only
from amlas.errors import ProblemError, ProjectInvalid, UsageError
from amlas.evidence import (
    EvidenceStore,
    StoreLike,
    check_verifier_key,
    keys,
    record_use,
    sign_record,
    store_uri,
    using_store,
)
from amlas.project import Project, check_project
from amlas.sealing import VerifierKey, public_key_of
from amlas.verify._agreement import run_agreement_check
from amlas.verify._context import Reporter, RunContext, RunReport, Silent
from amlas.verify._data import run_data_rule_check, run_independence_check
from amlas.verify._engine import EngineOptions, EngineSpec, resolve_engine
from amlas.verify._evaluate import run_formal_check, run_requirement_check
from amlas.verify._plan import chosen_stages, plan
from amlas.verify._planned import Plan, PlannedCheck, Role
from amlas.verify._records import new_run_id
from amlas.verify._stage3 import close_stage3
from amlas.verify._stage6 import run_stage6
from amlas.verify._stream import close_engine, open_engine_now

__all__ = ["execute", "run_project"]

_EXECUTORS: Final[dict[str, Callable[[RunContext, PlannedCheck], None]]] = {
    "data_rule": run_data_rule_check,
    "independence": run_independence_check,
    "requirement": run_requirement_check,
    "formal": run_formal_check,
    "agreement": run_agreement_check,
}
"""How each kind of planned check runs; scenarios and hazards run together (stage 6)."""


def _stage4_gate(project: Project, evidence: EvidenceStore) -> str | None:
    """AMLAS R14 (J4.1): a model goes to verification only once internal testing on [O]
    shows every requirement met. Not a blocker here (the verifier may have reasons), but
    said out loud."""
    ml = project.ml_requirements
    if ml is None:
        return None
    open_items = []
    for requirement in ml.requirements:
        if not requirement.judged_on_data():
            continue
        key = (
            keys.formal_key(4, requirement.id)
            if formal_only(requirement)
            else keys.requirement_key(4, requirement.id, "O")
        )
        record = evidence.latest(key)
        if record is None:
            open_items.append(f"{requirement.id} (no stage-4 evidence)")
        elif record.verdict != "pass":
            open_items.append(f"{requirement.id} ({record.verdict})")
    if not open_items:
        return None
    return (
        "R14: internal testing on [O] does not show every requirement met before "
        f"verification: {', '.join(open_items)}; record the decision to proceed in [U]/[AA]"
    )


def _warnings(work: Plan, evidence: EvidenceStore, key: VerifierKey | None) -> list[str]:
    project = work.project
    out = []
    verification = project.datasets().get("P")
    if verification is not None and verification.sealed is None:
        out.append(
            "[P] is not sealed: the development team can read it (R15); seal it with 'amlas seal'"
        )
    gate = _stage4_gate(project, evidence) if 5 in work.stages else None
    if gate:
        out.append(gate)
    if key is not None and work.role == "verifier" and project.manifest.verifier_key is None:
        out.append(
            "amlas.yaml declares no verifier_key, so the safety case cannot accept these "
            f"signed results; after review, add the line 'verifier_key: {public_key_of(key)}' "
            "('amlas seal' writes it when it seals [P])"
        )
    return out


def execute(
    work: Plan,
    *,
    store: StoreLike | None = None,
    key: VerifierKey | None = None,
    reporter: Reporter | None = None,
    batch_size: int = 65536,
    chunk_rows: int | None = None,
    engine: EngineSpec | EngineOptions | None = None,
) -> RunReport:
    """Run every runnable check of ``work`` (the rest are reported as not run, with why)
    and commit their records to ``store`` (a URI or an open store; default: the
    manifest's) as one run.

    A dataset whose checks all tally (stages 4 and 5) is read in chunks of ``chunk_rows``
    rows (default :data:`~amlas.verify.DEFAULT_CHUNK_ROWS`, rounded to whole batches of
    ``batch_size``): memory is bounded by the chunk, and the records are those of a whole
    read (see :mod:`amlas.verify._stream`). ``engine`` says where the work on each chunk
    runs: in this process, or on a Dask cluster (:mod:`amlas.verify._engine`); the
    records are the same. Where ``chunk_rows`` or ``engine`` is None, or ``engine`` is
    the :class:`EngineOptions` of ``amlas run``, the manifest's ``engine:`` (a
    component's own over its system's: ``Project.engine_settings``) gives what they leave
    open (:func:`~amlas.verify._engine.resolve_engine`).

    The verifier role needs ``key``, which must be the one the project declares. Raises
    :class:`~amlas.errors.UsageError` for a missing key, a store that cannot be opened, and
    data and models that cannot be read; nothing is committed then.
    """
    project = work.project
    if project.diagnostics.has_errors:
        raise ProjectInvalid(project.diagnostics)
    settings = project.engine_settings  # a component's own, over its system's
    spec = resolve_engine(settings, engine)  # contradicting options: before anything runs
    if chunk_rows is None and settings is not None:
        chunk_rows = settings.chunk_rows
    target = store or project.manifest.evidence
    report = RunReport(new_run_id(), store_uri(target), work.role, work.stages)
    if work.role == "verifier" and key is None:
        raise ProblemError(
            "the verifier role needs its key: --key-file PATH, AMLAS_VERIFIER_KEY_FILE or "
            "AMLAS_VERIFIER_KEY",
            code="R060",
        )
    wants_model = work.only is None or any(keys.key_stage(k) in (4, 5) for k in work.only)
    if work.needs_model and wants_model:
        raise ProblemError(
            "stages 4 and 5 judge the requirements of [H] on data, which needs the model "
            "reference [V]",
            code="R020",
            path="[V]",
            expected="a [V] artefact naming the model file and its format",
        )
    # opened first: a mistyped store fails now, not after the work and the unseal it wastes
    with using_store(target, root=project.root) as evidence:
        report.warnings.extend(_warnings(work, evidence, key))
    if work.role == "verifier":
        assert key is not None
        check_verifier_key(project, key)  # before any data is read
    context = RunContext(
        work,
        report,
        key=key,
        reporter=reporter or Silent(),
        batch_size=batch_size,
        chunk_rows=chunk_rows,
        engine=spec,
    )
    try:
        if spec is not None and spec.name != "local":
            open_engine_now(context)  # an unreachable cluster stops the run before any work
        return _execute(work, context, target, key)
    finally:
        close_engine(context)
        close_stage3(context)


def _execute(
    work: Plan, context: RunContext, target: StoreLike, key: VerifierKey | None
) -> RunReport:
    project, report = work.project, context.report
    notes = list(work.not_planned)
    stage6: list[PlannedCheck] = []
    for index, planned in enumerate(work):
        while notes and notes[0][0] <= index:  # what the plan says of a whole part, in order
            context.not_run(*notes.pop(0)[1:])
        if planned.runs_in != "amlas run":
            continue
        if planned.reason is not None:
            if not planned.quiet:
                context.not_run(planned.label, planned.reason)
        elif planned.kind in ("scenario", "hazard"):
            stage6.append(planned)
        else:
            _EXECUTORS[planned.kind](context, planned)
    for _, what, why in notes:
        context.not_run(what, why)
    if stage6:
        with using_store(target, root=project.root) as evidence:
            run_stage6(context, stage6, evidence)
    if work.only is not None and not context.records and not context.unsealed:
        return report  # nothing was wanted: no empty run in the store
    _commit(context, target, key)
    return report


def _commit(context: RunContext, target: StoreLike, key: VerifierKey | None) -> None:
    report, project = context.report, context.project
    # The use is logged before the records are stored, so that each record can sign the
    # log's head after it: a log cut back past this run's 'use' no longer holds that head.
    # A run that fails to commit after this still counts as a use of the data.
    heads: dict[str, str] = {}
    for letter, unsealed in context.unsealed.items():
        assert key is not None
        entry, warning = record_use(
            project,
            letter,
            unsealed,
            key,
            purpose=f"amlas run {report.run_id}",
            details={
                "run_id": report.run_id,
                "stages": list(report.stages),
                "records": [r.digest for r in context.records if r.dataset and letter in r.dataset],
            },
        )
        heads[letter] = entry.hash
        if warning is not None:
            report.warnings.append(warning)
    records = context.records
    if report.role == "verifier":
        assert key is not None
        records = [sign_record(record, key, access_log=heads) for record in records]
    with (
        using_store(target, root=project.root) as evidence,
        evidence.begin(report.run_id, role=report.role, stages=list(report.stages)) as run,
    ):
        for record in records:
            report.records.append((run.put(record), record))


def run_project(
    root: str | Path,
    *,
    role: Role = "developer",
    stages: tuple[int, ...] | None = None,
    key: VerifierKey | None = None,
    store: str | None = None,
    reporter: Reporter | None = None,
    batch_size: int = 65536,
    only: Collection[str] | None = None,
    chunk_rows: int | None = None,
    engine: EngineSpec | EngineOptions | None = None,
) -> RunReport:
    """Check the project at ``root``, plan the checks of ``stages`` for ``role`` and
    execute them: the path-based form of ``execute(plan(project, ...))`` the CLI uses.

    ``only`` (record keys, e.g. from :func:`~amlas.verify.analyse_impact`) runs just the
    checks whose key it holds: a check left out is not computed and its data is not read
    (sealed data stays sealed when none of its checks runs). A filtered run that records
    nothing commits no run. When the project has errors, the report carries the
    diagnostics and nothing runs.
    """
    if isinstance(only, str):
        raise UsageError(f"only={only!r} must be a collection of record keys, not one key")
    chosen = chosen_stages(role, stages)
    loaded = check_project(root)
    if loaded.diagnostics.has_errors:
        uri = store or loaded.project.manifest.evidence
        report = RunReport(new_run_id(), uri, role, chosen)
        report.diagnostics = loaded.diagnostics
        return report
    work = plan(loaded.project, role=role, stages=chosen, only=only)
    return execute(
        work,
        store=store,
        key=key,
        reporter=reporter,
        batch_size=batch_size,
        chunk_rows=chunk_rows,
        engine=engine,
    )
