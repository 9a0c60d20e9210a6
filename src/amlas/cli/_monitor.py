"""``amlas monitor``: calibrate, check, serve and ingest (AMLAS stage 6, G6.7 and G6.8).

Thin wrappers over :mod:`amlas.monitor`, :mod:`amlas.server` and
:func:`amlas.verify.ingest_field_log`. Errors are raised as
:class:`~amlas.errors.UsageError` (exit 2) and printed by ``amlas``'s entry point; a
project with errors prints its diagnostics and exits 1, as ``amlas run`` does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np

from amlas.cli._common import EXIT_ERRORS, EXIT_OK, print_diagnostics, refuse_system
from amlas.cli._output import echo
from amlas.errors import MissingExtraError, ProblemError
from amlas.project import Project, check_project

__all__ = ["monitor"]


def _project(directory: str) -> Project:
    """The checked project; on errors print them and exit 1."""
    result = check_project(Path(directory))
    if result.diagnostics.has_errors:
        print_diagnostics(result.diagnostics, directory)
        click.echo("amlas monitor: the project has errors; nothing was done", err=True)
        sys.exit(EXIT_ERRORS)
    return result.project


@click.group()
def monitor() -> None:
    """The runtime monitor of the ML component (stage 6): flags inputs outside the ODD,
    inputs unlike the development data and low-confidence outputs.

    Configure it in [DD] ('monitor:' and 'field_log:'), then: calibrate, check a data
    file, serve the model with its monitor, and ingest the field log as evidence.
    """


@monitor.command()
@click.argument("directory", type=str)
def calibrate(directory: str) -> None:
    """Fit the monitor on [N], set its threshold on [O] and write the [DD] monitor file."""
    refuse_system(directory, "amlas monitor calibrate")
    from amlas.monitor import calibrate as fit
    from amlas.monitor import monitor_path

    project = _project(directory)
    path = monitor_path(project)
    built = fit(project)
    built.save(path)
    c = built.calibration
    a = built.settings.target_false_alarm_rate
    click.echo(
        f"fitted on {c.fit_samples} [N] samples ({built.score.components.shape[0]} of "
        f"{built.score.dimension} directions, shrinkage {built.score.shrinkage:.3g})"
    )
    click.echo(
        f"threshold {built.threshold:.6g}: the {c.rank}-th smallest of {c.samples} [O] "
        f"scores (target false-alarm rate {a:g})"
    )
    click.echo(
        f"false alarms on [O]: {c.false_alarms}/{c.samples} = {c.rate:.4f}, "
        f"{c.confidence:.0%} upper bound {c.upper:.4f}"
    )
    if c.excluded_outside_odd or c.excluded_fit:
        click.echo(
            f"left out as outside the ODD: {c.excluded_fit} of [N], {c.excluded_outside_odd} of [O]"
        )
    click.echo(f"wrote {path}")


def _read(file: Path) -> Any:
    from amlas.adapters import DatasetError, ReaderOptions, reader_for

    try:
        reader = reader_for(file)
    except DatasetError as error:
        raise ProblemError(
            f"{file}: cannot tell the format from the suffix {file.suffix!r}: {error}",
            code="R002",
            value=file.suffix,
        ) from error
    return reader.read(file, ReaderOptions())


@monitor.command()
@click.argument("directory", type=str)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-model", is_flag=True, help="Input flags only: do not run the model.")
@click.option("--id-column", default=None, help="Column naming each sample (default: row).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="One line per flagged sample and a summary, or JSON for every sample.",
)
def check(directory: str, file: Path, no_model: bool, id_column: str | None, fmt: str) -> None:
    """Flag the samples of a data FILE (csv, parquet, npz) as the deployed monitor would.

    ODD values are read from the columns [B] names; tabular inputs from the features of
    [D]; array inputs from the file's array. Exit 0 (flags are results, not errors).
    """
    refuse_system(directory, "amlas monitor check")
    from amlas.monitor import load_monitor, load_monitored_model

    project = _project(directory)
    table = _read(file)
    if no_model:
        guard = load_monitor(project)
        model = None
    else:
        model = load_monitored_model(project)
        guard = model.monitor
    if guard.input_kind == "tabular" and guard.features:
        inputs: Any = table.numeric(list(guard.features))
    elif table.arrays:
        inputs = next(iter(table.arrays.values()))
    else:
        raise ProblemError(f"{file}: no array column for {guard.input_kind} inputs", code="R011")
    metadata = dict(table.columns)
    if model is None:
        decisions = None
        assessment = guard.assess(inputs, metadata)
    else:
        decisions, _, assessment = model.assess(inputs, metadata)
    ids = (
        table.text(id_column)
        if id_column
        else np.array([f"row-{i + 1}" for i in range(len(table))], dtype=np.str_)
    )
    verdicts = assessment.verdicts()
    if fmt == "json":
        rows = []
        for i, verdict in enumerate(verdicts):
            row = {"id": str(ids[i]), **verdict.as_json()}
            if decisions is not None:
                row["decision"] = str(decisions[i])
            rows.append(row)
        click.echo(json.dumps({"samples": rows}, indent=2, sort_keys=True))
        return
    for i, verdict in enumerate(verdicts):
        if verdict.flagged:
            echo(f"{ids[i]}: {', '.join(verdict.flags)}: {'; '.join(verdict.reasons)}")
    n = len(verdicts)
    counts = [
        ("outside the ODD", int(assessment.outside_odd.sum())),
        ("out of distribution", int(assessment.ood.sum())),
    ]
    if assessment.low_confidence is not None:
        counts.append(("low confidence", int(assessment.low_confidence.sum())))
    parts = ", ".join(f"{k} {label}" for label, k in counts)
    click.echo(f"{file}: {int(assessment.flagged.sum())} of {n} samples flagged ({parts})")


@monitor.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
def serve(directory: Path, host: str, port: int) -> None:
    """Serve the model of DIRECTORY with its monitor: POST /check, GET /health.

    Binds 127.0.0.1 unless told otherwise; flagged inputs go to the [DD] field log.
    """
    refuse_system(directory, "amlas monitor serve")
    try:
        import uvicorn
    except ImportError:
        raise MissingExtraError("serving needs uvicorn and FastAPI", "monitor") from None
    from amlas.server import create_app

    _project(str(directory))  # errors are printed as diagnostics, not a traceback
    app = create_app(directory)
    click.echo(f"serving {directory} on http://{host}:{port} (POST /check, GET /health)")
    # the service's own log (refused requests, model failures) beside uvicorn's
    from copy import deepcopy

    from uvicorn.config import LOGGING_CONFIG

    config = deepcopy(LOGGING_CONFIG)
    config["loggers"]["amlas.server"] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    uvicorn.run(app, host=host, port=port, log_level="info", log_config=config)


@monitor.command()
@click.argument("directory", type=str)
@click.argument("log", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--store", default=None, help="Evidence store URI (default: amlas.yaml 'evidence').")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
def ingest(directory: str, log: Path | None, store: str | None, fmt: str) -> None:
    """Turn the field LOG (default: the [DD] field_log) into evidence for G6.7 and G6.8.

    Writes 'stage6/operation' (incident rates against [A]) and 'stage6/monitor' (false
    alarms and detection of the monitor) as one run. A malformed line stops it with
    file:line and nothing is written. Exit 1 on a 'fail' verdict.
    """
    refuse_system(directory, "amlas monitor ingest")
    from amlas.verify import ingest_field_log

    report = ingest_field_log(directory, log, store=store)
    if report.diagnostics is not None:
        print_diagnostics(report.diagnostics, directory)
        click.echo("amlas monitor ingest: the project has errors; nothing was read", err=True)
        sys.exit(EXIT_ERRORS)
    if fmt == "json":
        payload = {
            "run_id": report.run_id,
            "store": report.store,
            "log": report.log,
            "entries": report.counts,
            "records": [
                {"key": r.key, "digest": d, "verdict": r.verdict, "summary": r.summary}
                for d, r in report.records
            ],
            "not_run": [{"what": w, "why": y} for w, y in report.not_run],
        }
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
    else:
        counts = ", ".join(f"{n} {kind}" for kind, n in report.counts.items())
        click.echo(f"{report.log}: {counts}")
        for digest, record in report.records:
            echo(f"{record.key:<20} {record.verdict:<13} {digest[:12]}  {record.summary}")
        for what, why in report.not_run:
            echo(f"not run: {what}: {why}")
        click.echo(f"{len(report.records)} evidence records in {report.store}, run {report.run_id}")
    failed = any(r.verdict == "fail" for _, r in report.records)
    sys.exit(EXIT_ERRORS if failed else EXIT_OK)
