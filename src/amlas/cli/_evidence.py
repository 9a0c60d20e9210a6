"""``amlas evidence``: list and verify the evidence, and import results produced outside amlas.

``amlas evidence DIR [--verify]`` lists the current evidence (or re-hashes it and reports
damage), as it always did; ``amlas evidence import DIR FILE --for X`` imports counts or a
document (:func:`amlas.verify.import_evidence`). The command is a group whose first
argument, when it is not a subcommand's name, is the project directory of the listing
(a project directory called ``import`` is written ``./import``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from amlas.case import build_case, document_targets
from amlas.cli._common import EXIT_ERRORS, EXIT_OK, console, print_diagnostics, refuse_system
from amlas.cli._output import echo
from amlas.evidence import open_store, verify_custody, verify_signatures
from amlas.project import check_project
from amlas.render import VERDICT_STYLE
from amlas.sealing import ENV_KEY, ENV_KEY_FILE, resolve_key
from amlas.verify import import_evidence

__all__ = ["evidence"]

_CUSTODY_CODES = ("D014", "D015", "D017", "D018")
"""Problems of sealed data and its access log that ``evidence --verify`` also reports."""
_LIST = "list"


class _ListByDefault(click.Group):
    """A group whose first argument, unless it names a subcommand, goes to ``list``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        help_asked = bool(args) and args[0] in ctx.help_option_names
        if args and not help_asked and args[0] not in self.commands:
            args = [_LIST, *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ListByDefault)
def evidence() -> None:
    """The evidence of a project: list it, verify it, import results produced elsewhere.

    \b
    amlas evidence DIR [--verify]                 the current evidence (latest record per
                                                  check); --verify re-hashes every record
    amlas evidence import DIR FILE --for ID       counts or a document produced outside
                                                  amlas, as evidence for a requirement or
                                                  a node of the safety case
    """


@evidence.command(_LIST)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--store", default=None, help="Evidence store URI (default: amlas.yaml 'evidence').")
@click.option("--verify", "verify_only", is_flag=True, help="Check every record's integrity.")
def list_evidence(directory: Path, store: str | None, verify_only: bool) -> None:
    """List the current evidence of DIRECTORY (latest record per check)."""
    refuse_system(directory, "amlas evidence")
    result = check_project(directory)
    uri = store or result.project.manifest.evidence
    with open_store(uri, root=result.project.root) as opened:
        if verify_only:
            problems = opened.verify() + verify_custody(result.project, opened)
            problems += [
                f"{key}: {digest[:12]}...: {why}"
                for key, digest, why in verify_signatures(result.project, opened)
            ]
            # the custody the evidence rests on: the seal, its statement, the access log
            problems += [
                d.format(str(directory))
                for d in result.diagnostics.items
                if d.code in _CUSTODY_CODES
            ]
            for problem in problems:
                echo(problem)
            click.echo(f"{uri}: {len(problems)} problem(s)")
            sys.exit(EXIT_ERRORS if problems else EXIT_OK)
        out = console(wide=True)
        for key, digest in opened.list():
            record = opened.get(digest)
            origin = " (imported)" if record.origin == "external" else ""
            line = f"{key:<40} {record.verdict:<13} {digest[:12]}  {record.summary}{origin}"
            out.print(line, markup=False, style=VERDICT_STYLE.get(record.verdict, ""))


@evidence.command("import")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--for",
    "target",
    required=True,
    metavar="REQUIREMENT|NODE",
    help="The [H] requirement (MLR-8) or the goal or solution of the safety case (G6.5, "
    "Sn6.2; instance or pattern ID) the evidence is for; the file says the same in 'for:'.",
)
@click.option(
    "--dataset",
    type=click.Choice(["O", "P"]),
    default=None,
    help="The dataset the result was produced on: P (verification, stage 5) or O (internal "
    "testing, stage 4). Needed for a requirement amlas run judges on data.",
)
@click.option(
    "--role",
    type=click.Choice(["developer", "verifier"]),
    default="developer",
    show_default=True,
    help="Who imports: stage-5 evidence is the verifier's, who signs it.",
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The verifier key (else AMLAS_VERIFIER_KEY_FILE or AMLAS_VERIFIER_KEY).",
)
@click.option("--store", default=None, help="Evidence store URI (default: amlas.yaml 'evidence').")
@click.option(
    "--library",
    default=None,
    help="Pattern library for --for NODE: a shipped name or a folder (default: amlas.yaml "
    "case.library).",
)
def import_results(
    directory: Path,
    file: Path,
    target: str,
    dataset: str | None,
    role: str,
    key_file: Path | None,
    store: str | None,
    library: str | None,
) -> None:
    """Import FILE, counts or a document produced outside amlas, as evidence of DIRECTORY.

    Counts (successes of trials, or events over an exposure, per slice) are judged by
    amlas itself against the requirement's threshold, comparison and confidence in [H];
    a claimed verdict or estimate without counts is refused. A document's verdict is
    recorded as the document's statement. The record is 'origin: external', carries who
    is accountable, the tool and version and the file's SHA-256, and goes stale when the
    file changes. Exit 1 when the verdict is 'fail'.
    """
    refuse_system(directory, "amlas evidence import")
    key = resolve_key(key_file, os.environ) if role == "verifier" else None
    for name in (ENV_KEY, ENV_KEY_FILE):
        os.environ.pop(name, None)
    checked = check_project(directory)
    if checked.diagnostics.has_errors:
        print_diagnostics(checked.diagnostics, str(directory))
        click.echo("amlas evidence import: the project has errors; nothing was imported", err=True)
        sys.exit(EXIT_ERRORS)
    project = checked.project
    ml = project.ml_requirements
    requirements = {r.id for r in ml.requirements} if ml is not None else set()
    nodes = None
    if target not in requirements:  # a node of the case: the case knows which there are
        nodes = document_targets(build_case(project, store=store, library=library))
    report = import_evidence(
        project,
        file,
        target=target,
        dataset=dataset,
        role=role,  # type: ignore[arg-type]
        key=key,
        store=store,
        nodes=nodes,
    )
    record = report.record
    out = console(wide=True)
    kind = record.provenance.kind if record.provenance is not None else "evidence"
    out.print(
        f"imported {kind} for {target} as {report.key}: {record.verdict}",
        markup=False,
        style=VERDICT_STYLE.get(record.verdict, ""),
    )
    out.print(f"  {record.summary}", markup=False)
    for line in _slice_lines(record.results):
        out.print(f"  {line}", markup=False)
    if kind == "document":
        out.print(
            "  the verdict is the document's own statement: amlas recorded it, it did not "
            "compute it",
            markup=False,
        )
    out.print(
        f"1 evidence record ({report.digest[:12]}) in {report.store}, run {report.run_id}",
        markup=False,
    )
    sys.exit(EXIT_ERRORS if record.verdict == "fail" else EXIT_OK)


def _slice_lines(results: list[dict[str, Any]]) -> list[str]:
    lines = []
    for result in results:
        if "slice" not in result:
            continue
        sign = "<=" if result.get("comparison") == "at_most" else ">="
        if "events" in result:
            counted = f"{result['events']} events in {result['exposure']:g} {result['unit']}"
        else:
            counted = f"{result.get('successes')} of {result.get('samples')}"
        bound = result.get("bound")
        shown = f"{bound:.6g}" if isinstance(bound, float) else "none"
        lines.append(
            f"slice {result['slice']}: {counted}, bound {shown} {sign} "
            f"{result.get('threshold')}: {result.get('verdict')}"
        )
    return lines
