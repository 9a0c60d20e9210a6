"""``amlas monitor ingest``: the planned field-log checks of stage 6, run on a field log.

The plan (:func:`amlas.verify.plan`, stage 6) names the two records and why either cannot
be made; this module reads the log and commits them as one run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from amlas.diagnostics import Diagnostics
from amlas.errors import ProblemError, UsageError
from amlas.evidence import EvidenceRecord, open_store
from amlas.hashing import sha256_file
from amlas.monitor import (
    field_log_path,
    load_monitor,
    monitor_config,
    monitor_path,
    read_field_log,
)
from amlas.project import Project, check_project
from amlas.project.artefacts import ErroneousBehaviourLog
from amlas.verify._operation import monitor_record, operation_record
from amlas.verify._plan import plan
from amlas.verify._planned import NO_FIELD_LOG
from amlas.verify._records import new_run_id

__all__ = ["IngestReport", "ingest_field_log"]


@dataclass
class IngestReport:
    """What ``ingest_field_log`` did."""

    run_id: str
    store: str
    log: str
    records: list[tuple[str, EvidenceRecord]] = field(default_factory=list)
    """(digest, record) for every record written."""
    not_run: list[tuple[str, str]] = field(default_factory=list)
    """(what, why) for records that could not be made."""
    counts: dict[str, int] = field(default_factory=dict)
    """Entries of the log per kind."""
    diagnostics: Diagnostics | None = None
    """Set when the project has errors: then nothing was read or written."""


def _relative(project: Project, path: Path) -> str:
    """``path`` relative to the project when inside it (records stay machine-independent)."""
    try:
        return path.resolve().relative_to(project.root.resolve()).as_posix()
    except ValueError:
        return str(path)


def ingest_field_log(
    root: str | Path,
    log: str | Path | None = None,
    *,
    store: str | None = None,
) -> IngestReport:
    """Read the field log (``log``, default the [DD] ``field_log.path``) of the project at
    ``root`` and record ``stage6/operation`` and, with a calibrated monitor,
    ``stage6/monitor`` in the evidence store as one run.

    Raises :class:`~amlas.monitor.FieldLogError` (nothing written) for malformed lines and
    :class:`UsageError` for a missing log; returns the report with ``diagnostics`` set
    (nothing done) when the project has errors.
    """
    loaded = check_project(root)
    project = loaded.project
    uri = store or project.manifest.evidence
    configured = field_log_path(project) if not loaded.diagnostics.has_errors else None
    if log is None and configured is not None:
        log = configured[0]
    report = IngestReport(new_run_id(), uri, str(log) if log is not None else "")
    if loaded.diagnostics.has_errors:
        report.diagnostics = loaded.diagnostics
        return report
    if log is None:
        raise ProblemError(
            "no field log given and [DD] names none",
            code="R053",
            path="[DD]",
            expected="LOG on the command line, or 'field_log: {path: ...}' in [DD]",
        )
    work = plan(project, role="developer", stages=(6,))
    operation, monitor = work.of("operation")[0], work.of("monitor")[0]
    confidence = configured[1].confidence if configured is not None else 0.95
    log = Path(log)
    dd = project.get("DD", ErroneousBehaviourLog)
    system = project.system_requirements
    records = read_field_log(
        log,
        requirements=[r.id for r in system.requirements] if system else None,
        behaviours=[b.id for b in dd.behaviours] if dd else None,
    )
    report.counts = {
        "period": len(records.periods),
        "flag": len(records.flags),
        "review": len(records.reviews),
        "incident": len(records.incidents),
        "label": len(records.labels),
    }
    name = _relative(project, log)
    made = [operation_record(operation, project, records, confidence=confidence, name=name)]
    # a log given here stands in for the one [DD] names
    why = monitor.reason if monitor.reason != NO_FIELD_LOG else None
    if why is not None:
        report.not_run.append((monitor.key, why))
    else:
        try:
            loaded_monitor = load_monitor(project)
        except UsageError as exc:
            report.not_run.append((monitor.key, str(exc)))
        else:
            sha = sha256_file(monitor_path(project))
            made.append(
                monitor_record(
                    monitor,
                    project,
                    loaded_monitor,
                    sha,
                    records,
                    config=monitor_config(project),
                    name=name,
                )
            )
    with (
        open_store(uri, root=project.root) as evidence,
        evidence.begin(report.run_id, role="developer", stages=[6]) as run,
    ):
        for record in made:
            report.records.append((run.put(record), record))
    return report
