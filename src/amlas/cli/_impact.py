"""``amlas impact DIR [--since GIT_REV]``: what a change makes stale and what must re-run.

Three lists: the current evidence records whose inputs changed (and which inputs), the
checks that must (re-)run grouped by stage and by the role that can run them, and the
safety-case claims resting on them; plus checks that have never run. The analysis is
:func:`amlas.verify.analyse_impact` and :func:`amlas.case.affected_claims`;
this module only prints.

Exit status: 0 when nothing must (re-)run, 1 when some check must (or the project has
errors), 2 on usage problems (a DIR outside git or an unknown revision with --since).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from amlas.case import AffectedClaim, affected_claims, build_case
from amlas.cli._common import refuse_system
from amlas.cli._output import SafeConsole, echo
from amlas.evidence import keys
from amlas.render import markdown_text
from amlas.verify import Impact, analyse_impact

__all__ = ["impact"]

_STATUS_STYLE = {
    "supported": "green",
    "failed": "bold red",
    "inconclusive": "yellow",
    "undeveloped": "dim",
    "stale": "magenta",
}
_REASON_STYLE = {"stale": "magenta", "changed": "magenta", "never run": "cyan"}


def _claim_keys(result: Impact) -> set[str]:
    """The checks whose claims are affected: with --since every changed one; without,
    those with a stale record (a check never run leaves its claims undeveloped, not stale)."""
    return {c.key for c in result.checks if result.since is not None or c.reason != "never run"}


def _shown(items: tuple[str, ...] | list[str], limit: int = 3) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def _rerun_hint(result: Impact, directory: str) -> list[str]:
    ingested = (keys.OPERATION, keys.MONITOR)  # written by 'amlas monitor ingest'
    imported = [c for c in result.checks if c.command is not None]  # 'amlas evidence import'
    runnable = [c for c in result.checks if c.key not in ingested and c.command is None]
    roles = sorted({c.needs for c in runnable})
    lines = []
    if any(c.key in ingested for c in result.checks):
        lines.append(f"amlas monitor ingest {directory}")
    for check in imported:
        words = str(check.command).split(" ")
        lines.append(" ".join(_in(directory, word) for word in words))
    for role in roles:
        stages = sorted({c.stage for c in runnable if c.needs == role})
        flags = "".join(f" --stage {s}" for s in stages)
        role_flag = " --role verifier --key-file KEY" if role == "verifier" else ""
        lines.append(f"amlas run {directory}{role_flag}{flags} --stale-only")
    return lines


def _in(directory: str, word: str) -> str:
    """``DIR`` and ``DIR/path`` of an import command, for the directory as given."""
    if word == "DIR":
        return directory
    if word.startswith("DIR/"):
        return str(Path(directory) / word.removeprefix("DIR/"))
    return word


def _payload(result: Impact, claims: list[AffectedClaim]) -> dict[str, Any]:
    payload = result.to_dict()
    payload["exit_code"] = result.exit_code()
    payload["claims"] = [
        {
            "id": c.id,
            "type": c.type,
            "module": c.module,
            "stage": c.stage,
            "status": c.status,
            "keys": list(c.keys),
            "reason": c.reason,
            "notes": list(c.notes),
        }
        for c in claims
    ]
    return payload


def _md(text: str) -> str:
    return markdown_text(text)  # user text (reasons, notes), inert as in case.md


def _markdown(result: Impact, claims: list[AffectedClaim], directory: str) -> str:
    lines = [f"# Change impact: {result.project.manifest.name}", ""]
    scope = f"since `{result.since}`" if result.since else "against the evidence store"
    lines += [f"Store `{result.store}`, {scope}.", ""]
    if result.since is not None:
        lines += [
            f"Changed files: {len(result.changed_files)}; artefacts: "
            + (", ".join(f"[{x}]" for x in result.changed_artefacts) or "none")
            + "; inputs: "
            + (", ".join(f"`{x}`" for x in result.changed_inputs) or "none"),
            "",
        ]
    lines += ["## Evidence with changed inputs", ""]
    if result.stale:
        lines += ["| Record | Stage | Role | Verdict | Changed inputs |", "|---|---|---|---|---|"]
        lines += [
            f"| `{r.key}` | {r.stage} | {r.role} | {r.verdict} | {_md(', '.join(r.inputs))} |"
            for r in result.stale
        ]
    else:
        lines.append("None.")
    lines += ["", "## Checks to run", ""]
    if result.checks:
        lines += ["| Stage | Needs | Check | Reason | Why |", "|---|---|---|---|---|"]
        ordered = sorted(result.checks, key=lambda c: (c.stage, c.needs, c.key))
        lines += [
            f"| {c.stage} | {c.needs} | `{c.key}` | {c.reason} | {_md(', '.join(c.why))} |"
            for c in ordered
        ]
        lines += ["", *(f"    {hint}" for hint in _rerun_hint(result, directory))]
    else:
        lines.append("None: the evidence is current.")
    lines += ["", "## Claims affected", ""]
    if claims:
        lines += ["| Node | Module | Status | Rests on | Why |", "|---|---|---|---|---|"]
        lines += [
            f"| {c.id} | {c.module} | {'**STALE**' if c.status == 'stale' else c.status} "
            f"| {_md(_shown(c.keys))} | {_md('; '.join(c.notes) or c.reason)} |"
            for c in claims
        ]
    else:
        lines.append("None.")
    if result.obsolete:
        lines += ["", "## Obsolete records (no check produces them any more)", ""]
        lines += [f"- `{r.key}`: {_md(', '.join(r.inputs))}" for r in result.obsolete]
    return "\n".join(lines) + "\n"


def _text(result: Impact, claims: list[AffectedClaim], directory: str) -> None:
    console = SafeConsole(highlight=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = 160  # piped tables: rich would otherwise assume 80 columns
    scope = f"since {result.since}" if result.since else "against the evidence store"
    console.print(f"amlas impact {directory} ({result.store}, {scope})", markup=False)
    if result.since is not None:
        console.print(
            f"{len(result.changed_files)} changed files; artefacts: "
            + (", ".join(f"[{x}]" for x in result.changed_artefacts) or "none")
            + "; inputs: "
            + (", ".join(result.changed_inputs) or "none"),
            markup=False,
        )
        if result.other_files:
            console.print(
                f"other changed files (no record cites them): {_shown(result.other_files, 5)}",
                markup=False,
                style="dim",
            )
    if result.stale:
        table = Table(title=Text("Evidence with changed inputs"))
        for header in ("Record", "Stage", "Role", "Verdict", "Changed inputs"):
            table.add_column(header, overflow="fold")
        for r in result.stale:
            table.add_row(
                Text(r.key),
                Text(str(r.stage)),
                Text(r.role),
                Text(r.verdict),
                Text(", ".join(r.inputs), style="magenta"),
            )
        console.print(table)
    if result.checks:
        table = Table(title=Text("Checks to run"))
        for header in ("Stage", "Needs", "Check", "Reason", "Why"):
            table.add_column(header, overflow="fold")
        for c in sorted(result.checks, key=lambda c: (c.stage, c.needs, c.key)):
            table.add_row(
                Text(str(c.stage)),
                Text(c.needs),
                Text(c.key),
                Text(c.reason, style=_REASON_STYLE.get(c.reason, "")),
                Text(", ".join(c.why)),
            )
        console.print(table)
    if claims:
        table = Table(title=Text("Claims affected"))
        for header in ("Node", "Module", "Status", "Rests on", "Why"):
            table.add_column(header, overflow="fold")
        for claim in claims:
            table.add_row(
                Text(claim.id),
                Text(claim.module),
                Text(claim.status, style=_STATUS_STYLE.get(claim.status, "")),
                Text(_shown(claim.keys)),
                Text("; ".join(claim.notes) or claim.reason),
            )
        console.print(table)
    for r in result.obsolete:
        console.print(
            f"obsolete: {r.key} ({', '.join(r.inputs)}): no check produces it any more",
            markup=False,
            style="dim",
        )
    if not result.checks:
        console.print("nothing to re-run: the evidence is current", markup=False, style="green")
        return
    counts: dict[str, int] = {}
    for c in result.checks:
        counts[c.reason] = counts.get(c.reason, 0) + 1
    stale_claims = sum(1 for c in claims if c.status == "stale")
    console.print(
        f"{len(result.checks)} checks must run ("
        + ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items()))
        + f"); {len(claims)} claims affected, {stale_claims} stale",
        markup=False,
    )
    for hint in _rerun_hint(result, directory):
        console.print(f"  {hint}", markup=False)


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--since",
    metavar="GIT_REV",
    default=None,
    help="Compare the working tree with this git revision (HEAD~1, a branch, a tag) "
    "instead of the evidence with the project.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
@click.option("--store", default=None, help="Evidence store URI (default: amlas.yaml 'evidence').")
def impact(directory: Path, since: str | None, fmt: str, store: str | None) -> None:
    """Show what a change to DIRECTORY makes stale and which checks must re-run (R23).

    Without --since: every current evidence record whose inputs (data, model, model code,
    requirement, operating environment, access-log entry) no longer match the project,
    the checks to re-run (by stage and by the role that can run them), the safety-case
    claims resting on them, and the checks never run. With --since GIT_REV: the same for
    what changed in git since GIT_REV, whether or not it was ever run. 'amlas run
    DIRECTORY --stale-only' re-runs exactly these checks.

    Exit 0 when nothing must re-run, 1 when some check must (or the project has
    errors), 2 for a DIRECTORY outside git or an unknown revision with --since.
    """
    refuse_system(directory, "amlas impact")
    result = analyse_impact(directory, since=since, store=store)
    if result.diagnostics.has_errors:
        for diagnostic in result.diagnostics.sorted():
            echo(diagnostic.format(str(directory)), err=True)
        click.echo("amlas impact: the project has errors; fix them first ('amlas check')", err=True)
        sys.exit(1)
    keys = _claim_keys(result)
    claims: list[AffectedClaim] = []
    if keys:
        case = build_case(directory, store=store)
        claims = affected_claims(case, result.project, keys)
    if fmt == "json":
        click.echo(json.dumps(_payload(result, claims), indent=2, sort_keys=True))
    elif fmt == "markdown":
        click.echo(_markdown(result, claims, str(directory)), nl=False)
    else:
        _text(result, claims, str(directory))
    sys.exit(result.exit_code())
