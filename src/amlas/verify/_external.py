"""``amlas evidence import``: results produced outside amlas, recorded as evidence honestly.

Some requirements ``amlas run`` can never evaluate: a frame time measured on the target
platform, a simulator campaign, a test report made by the team's own GPU pipeline.
:func:`import_evidence` brings such a result in as one evidence record of ``origin:
external`` with its :class:`~amlas.evidence.Provenance`, made by the one record builder
(:func:`~amlas.verify._records.make_record`) like every other record:

* **counts** (the file: :mod:`._import_file`): amlas judges them itself (:mod:`._judged`),
  against the requirement's threshold, comparison and confidence in [H]: successes of
  trials by the exact Clopper-Pearson bound (:func:`amlas.checks.decide_slices`, Holm
  across slices), events over an exposure by the exact Poisson (Garwood) bound
  (:func:`amlas.checks.decide_rates`). A verdict, an estimate or a percentage without
  counts is never accepted (R081).
* **document**: the document's own verdict, recorded as the document's statement (the
  record says so, and so do the case and the report), with the document's SHA-256.

Where the record goes (:mod:`amlas.evidence.keys`), by what ``--for`` names:

* a requirement ``amlas run`` judges on data: its own key, ``stage5/<id>/P`` (``--dataset
  P``, stage 5) or ``stage4/<id>/O`` (``--dataset O``, stage 4), until a run writes a
  newer record;
* a requirement it does not judge on data (``verified_by`` a platform test, simulation,
  analysis or review; kind 'other', or no metric; e.g. ``data_related: false``):
  ``external/<id>`` at stage 5, which stands in for ``stage5/<id>/P`` in the case;
* a goal or solution of the case (instance or pattern ID): ``external/node/<id>`` at the
  node's stage (3 to 6).

Stage-5 evidence is verification evidence: only the verifier role imports it, with its
key, and signs the record (R16), as ``amlas run`` signs its own. The record's ``inputs``
hold the SHA-256 of the imported file and of the document it names (``import:PATH``), of
the requirement, of [B], of the model and of the dataset named, so a change to any of them
makes the record stale in ``amlas impact``, ``amlas run --stale-only`` and the case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from amlas.diagnostics import did_you_mean
from amlas.errors import ProblemError, ProjectInvalid
from amlas.evidence import (
    MODEL_SETTINGS,
    EvidenceRecord,
    ImportedData,
    ProjectInputs,
    Provenance,
    StoreLike,
    canonical_hash,
    check_verifier_key,
    current_actor,
    keys,
    sign_record,
    store_uri,
    using_store,
)
from amlas.project import (
    Project,
    SourceMap,
    check_project,
    path_problem,
    read_document,
)
from amlas.project.artefacts import MLSafetyRequirement, VerificationMethod
from amlas.sealing import VerifierKey
from amlas.verify._import_file import (
    CountsImport,
    DocumentImport,
    Problems,
    raise_diagnostics,
    screen,
)
from amlas.verify._judged import document_file, judge_counts, statement
from amlas.verify._planned import PlannedCheck, Role
from amlas.verify._records import make_record, new_run_id, state_defaults

__all__ = [
    "ImportReport",
    "awaits_import",
    "import_command",
    "import_evidence",
]


def awaits_import(requirement: MLSafetyRequirement) -> bool:
    """Whether only imported (or, for ``verified_by: review``, reviewed) evidence can
    support ``requirement``: ``amlas run`` does not judge it on data (``verified_by`` a
    platform test, simulation, analysis or review; kind 'other', or no metric; e.g.
    ``data_related: false``)."""
    return not requirement.judged_on_data()


def import_command(
    target: str,
    *,
    verifier: bool,
    directory: str = "DIR",
    method: VerificationMethod | None = None,
) -> str:
    """The command line that imports evidence for ``target`` (a requirement or node);
    ``method`` (a requirement's ``verified_by``) names the file: ``PLATFORM_TEST_FILE``,
    ``SIMULATION_FILE``, ``ANALYSIS_FILE`` or ``REVIEW_FILE`` instead of ``FILE``."""
    role = " --role verifier --key-file KEY" if verifier else ""
    file = f"{method.upper()}_FILE" if method is not None else "FILE"
    return f"amlas evidence import {directory} {file} --for {target}{role}"


@dataclass(frozen=True)
class ImportReport:
    """What :func:`import_evidence` recorded."""

    key: str
    digest: str
    record: EvidenceRecord
    store: str
    run_id: str


# -- the import ------------------------------------------------------------------------------


def _relative(project: Project, file: Path, shown: str) -> str:
    try:
        relative = file.resolve().relative_to(project.root).as_posix()
    except (OSError, ValueError):
        relative = None
    if relative is None or path_problem(project.root, relative) is not None:
        raise ProblemError(
            f"{shown} lies outside the project {project.root}; copy it into the project "
            "(e.g. imports/) and commit it, so that a change to it makes the record stale",
            code="R080",
            path=shown,
            value=str(file),
        )
    return relative


def _requirement(project: Project, target: str) -> tuple[int, MLSafetyRequirement] | None:
    ml = project.ml_requirements
    for index, requirement in enumerate(ml.requirements if ml is not None else []):
        if requirement.id == target:
            return index, requirement
    return None


def import_evidence(
    root: str | Path | Project,
    file: str | Path,
    *,
    target: str,
    dataset: str | None = None,
    role: Role = "developer",
    key: VerifierKey | None = None,
    store: StoreLike | None = None,
    nodes: Mapping[str, int] | None = None,
) -> ImportReport:
    """Import the counts or the document of ``file`` as evidence for ``target`` (an [H]
    requirement, or a node of the safety case) and commit it to ``store`` (default: the
    manifest's) as one run of its own. See the module docs.

    ``dataset`` (``O`` or ``P``) names the dataset the result was produced on: required
    for a requirement ``amlas run`` judges on data, whose key it decides. ``nodes`` maps
    the node IDs (instance and pattern IDs) of the goals and solutions a document may be
    attached to, to their stage: the case layer knows them (``amlas.case.document_targets``).
    The verifier role needs ``key`` and signs the record; stage-5 evidence needs the
    verifier.

    Raises :class:`~amlas.errors.ProjectInvalid` when the project has errors and
    :class:`~amlas.errors.ProblemError` (exit 2) for every problem of the file, the target
    or the settings, each coded and located; nothing is recorded then.
    """
    if role not in ("developer", "verifier"):
        raise ProblemError(
            f"role={role!r} is no role of amlas",
            code="R002",
            value=role,
            expected="'developer' or 'verifier'",
        )
    project = root if isinstance(root, Project) else check_project(root).project
    if project.diagnostics.has_errors:
        raise ProjectInvalid(project.diagnostics)
    shown = str(file)
    path = Path(file)
    relative = _relative(project, path, shown)
    document, source, sha256 = _read(path, shown)
    problems = Problems()
    stated = document.for_
    if stated != target:
        problems.add(
            "R002",
            f"--for {target} but the file is for {stated}",
            source.locate(("for",)),
            hint=f"import it with --for {stated}, or fix 'for:' in the file",
        )
        problems.raise_any()
    found = _requirement(project, target)
    stage, subject_kind = _target(project, target, found, nodes, problems, source)
    problems.raise_any()
    requirement = found[1] if found is not None else None
    letter = _dataset(project, requirement, dataset, problems, source)
    problems.raise_any()
    if requirement is not None and letter is not None and not awaits_import(requirement):
        stage = 5 if letter == "P" else 4
        record_key = keys.requirement_key(stage, requirement.id, letter)
    elif requirement is not None:  # stands in for stage5/<id>/P
        record_key = keys.external_key(requirement.id)
    else:
        record_key = keys.external_node_key(target)
    hashes = ProjectInputs(project)
    inputs: dict[str, str] = {f"import:{relative}": sha256}
    if isinstance(document, CountsImport):
        if requirement is None:
            problems.add(
                "R086",
                f"counts are judged against an [H] requirement's threshold; {target} is a "
                f"{subject_kind} of the safety case: import a document for it",
                source.locate(("for",)),
            )
            problems.raise_any()
        assert requirement is not None
        if requirement.verified_by == "review":
            problems.add(
                "R086",
                f"{target} is verified by review, which counts nothing: import the review "
                "report as a document (kind: review_report), or record the review",
                source.locate(("kind",)),
            )
            problems.raise_any()
        judged = judge_counts(project, requirement, document, letter, source, problems, hashes)
        problems.raise_any()
        results, verdict, summary, resolved = judged
        provenance = Provenance(
            kind="counts",
            accountable=document.accountable,
            tool=document.tool,
            date=document.date.isoformat(),
            file=relative,
            sha256=sha256,
            data=ImportedData(description=document.data.description, sha256=document.data.sha256),
        )
    else:
        named = document_file(project, document, source, problems)
        problems.raise_any()
        assert named is not None
        inputs[f"import:{named.file}"] = named.sha256
        results, verdict, summary, resolved = statement(document, named, target, letter)
        provenance = Provenance(
            kind="document",
            accountable=document.accountable,
            tool=document.tool,
            date=document.date.isoformat(),
            file=relative,
            sha256=sha256,
            document=named,
        )
    if requirement is not None:
        inputs[f"requirement:{requirement.id}"] = canonical_hash(requirement)
        inputs["environment"] = canonical_hash(project.environment)
        if isinstance(document, CountsImport):  # judged at the level amlas chose
            state_defaults(requirement, resolved, inputs)
        for name in ("model", "model_code", MODEL_SETTINGS):
            current = hashes.current(name)
            if current is not None:
                inputs[name] = current
    if letter is not None:
        current = hashes.current(f"dataset:{letter}")
        if current is not None:
            inputs[f"dataset:{letter}"] = current
    _role(project, target, stage, role, key)  # last: every problem of the file first
    planned = PlannedCheck(
        key=record_key,
        kind="external",
        check="import.counts" if isinstance(document, CountsImport) else "import.document",
        stage=stage,
        subject=target,
        datasets=(letter,) if letter is not None else (),
        needs="verifier" if stage == 5 else "developer",
        inputs=dict(inputs),
        runs_in="amlas evidence import",
    )
    parameters = (
        requirement.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_defaults=True)
        if requirement is not None
        else {"for": target}
    )
    record = make_record(
        planned,
        role=role,
        parameters=parameters,
        resolved=resolved,
        inputs=inputs,
        results=results,
        verdict=verdict,
        summary=summary,
        metadata={"imported": _now(), "imported_by": current_actor()},
        origin="external",
        provenance=provenance,
    )
    if role == "verifier":
        assert key is not None
        record = sign_record(record, key)
    target_store = store or project.manifest.evidence
    run_id = new_run_id()
    with (
        using_store(target_store, root=project.root) as evidence,
        evidence.begin(run_id, role=role, stages=[stage]) as run,
    ):
        digest = run.put(record)
    return ImportReport(record_key, digest, record, store_uri(target_store), run_id)


def _role(project: Project, target: str, stage: int, role: Role, key: VerifierKey | None) -> None:
    """Stage-5 evidence is the verifier's (R16), and the verifier's key must be the one
    the project declares."""
    if stage == 5 and role != "verifier":
        raise ProblemError(
            f"evidence for {target} goes to stage 5, verification, which is the verifier's "
            "(R16): import it with --role verifier --key-file KEY; the record is signed",
            code="R002",
            value=role,
            expected="--role verifier",
        )
    if role == "verifier":
        if key is None:
            raise ProblemError(
                "the verifier role needs its key: --key-file PATH, AMLAS_VERIFIER_KEY_FILE or "
                "AMLAS_VERIFIER_KEY",
                code="R060",
            )
        check_verifier_key(project, key)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _kind(data: dict[str, Any]) -> type[CountsImport | DocumentImport]:
    return DocumentImport if data.get("kind") == "document" else CountsImport


def _read(path: Path, shown: str) -> tuple[CountsImport | DocumentImport, SourceMap, str]:
    """The import file, validated as the kind it says it is, its source map and SHA-256;
    raises with every problem found."""
    read = read_document(path, _kind, shown=shown, screen=screen)
    raise_diagnostics(list(read.diagnostics))
    if read.value is None or read.source is None or read.sha256 is None:  # pragma: no cover
        raise AssertionError("read_document gave no document and no error")
    return read.value, read.source, read.sha256


# -- the target, the dataset --------------------------------------------------------------------


def _target(
    project: Project,
    target: str,
    found: tuple[int, MLSafetyRequirement] | None,
    nodes: Mapping[str, int] | None,
    problems: Problems,
    source: SourceMap,
) -> tuple[int, str]:
    """(stage, 'requirement' or 'node') of ``target``; a problem when it names neither."""
    if found is not None:
        return 5, "requirement"
    if nodes is not None and target in nodes:
        stage = nodes[target]
        if stage not in (3, 4, 5, 6):
            problems.add(
                "R086",
                f"{target} is a node of stage {stage}, whose claims rest on the artefacts "
                "themselves; imported evidence goes to a goal or solution of stages 3 to 6",
                source.locate(("for",)),
                hint="record a judgement under case.judgements in amlas.yaml instead",
            )
        return stage, "node"
    ml = project.ml_requirements
    known = [r.id for r in ml.requirements] if ml is not None else []
    hint = did_you_mean(target, [*known, *(nodes or {})])
    what = "neither an [H] requirement nor a goal or solution of the safety case"
    if nodes is None:
        what = "no [H] requirement"
    problems.add(
        "R085",
        f"{target} names {what}",
        source.locate(("for",)),
        hint=hint or (f"requirements: {', '.join(known)}" if known else None),
    )
    return 0, "nothing"


def _dataset(
    project: Project,
    requirement: MLSafetyRequirement | None,
    dataset: str | None,
    problems: Problems,
    source: SourceMap,
) -> str | None:
    """The dataset letter the result was produced on, checked against the project."""
    if dataset is None:
        if requirement is not None and not awaits_import(requirement):
            problems.add(
                "R002",
                f"amlas run judges {requirement.id} on data, so imported evidence for it takes "
                "its place: say on which dataset it was produced (--dataset P for "
                "verification, --dataset O for internal testing)",
                source.locate(("for",)),
                hint="add --dataset P or --dataset O",
            )
        return None
    if dataset not in ("O", "P"):
        problems.add(
            "R002",
            f"--dataset {dataset}: imported results stand for internal testing on [O] "
            "(stage 4) or verification on [P] (stage 5)",
            source.locate(("for",)),
            hint="--dataset O or --dataset P",
        )
        return None
    if dataset not in project.datasets():
        problems.add(
            "R002",
            f"--dataset {dataset}: the project declares no [{dataset}]",
            source.locate(("for",)),
        )
        return None
    return dataset
