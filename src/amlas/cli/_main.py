"""``amlas`` commands. Exit status: 0 fine, 1 the project has errors, 2 usage problems,
3 an internal error (a bug in amlas: please report it)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console

from amlas import __version__
from amlas.diagnostics import CODES, Diagnostics, Severity, did_you_mean, render_markdown
from amlas.errors import AmlasError, UsageError
from amlas.project import (
    EXAMPLES,
    build_trace,
    check_project,
    init_project,
    render_reference,
    schema_documents,
    write_schemas,
)
from amlas.render import render_trace_json, render_trace_markdown, trace_table

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def _console(stderr: bool = False, *, wide: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if wide and not console.is_terminal:
        console.width = 160  # piped tables: rich would otherwise assume 80 columns
    return console


def _fail(message: str, status: int = EXIT_USAGE) -> NoReturn:
    _console(stderr=True).print(f"amlas: error: {message}", markup=False, style="red")
    sys.exit(status)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="amlas")
def cli() -> None:
    """Assurance of Machine Learning for use in Autonomous Systems, as a build.

    Write the AMLAS artefacts as YAML, check them, trace them, and (in later stages)
    turn them and their evidence into a GSN safety case.
    """


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--example",
    type=click.Choice(EXAMPLES),
    default=None,
    help="Copy a complete bundled example instead of the commented templates.",
)
def init(directory: Path, example: str | None) -> None:
    """Create an AMLAS project in DIRECTORY (templates for every artefact)."""
    created = init_project(directory, example=example)
    what = f"the {example} example" if example else "templates for every AMLAS artefact"
    click.echo(f"created {created} with {what}")
    click.echo(f"next: amlas check {created}")


@cli.command()
@click.argument("directory", type=str)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="One line per problem, or JSON for tools.",
)
@click.option("--strict", is_flag=True, help="Warnings also make the exit status 1.")
def check(directory: str, fmt: str, strict: bool) -> None:
    """Load the project in DIRECTORY and report every problem.

    Each problem is one line, `path:line:col: CODE severity: message`; `amlas explain
    CODE` says more. Exit 0 without errors, 1 with errors, 2 on usage problems.
    """
    result = check_project(Path(directory))
    diagnostics = result.diagnostics
    if fmt == "json":
        click.echo(diagnostics.to_json(directory))
    else:
        _print_diagnostics(diagnostics, directory)
    failed = diagnostics.has_errors or (strict and diagnostics.count(Severity.WARNING) > 0)
    sys.exit(EXIT_ERRORS if failed else EXIT_OK)


def _print_diagnostics(diagnostics: Diagnostics, root: str) -> None:
    console = _console()
    for diagnostic in diagnostics.sorted():
        line = diagnostic.format(root)
        if console.is_terminal:
            console.print(line, style=_STYLE[diagnostic.severity], markup=False)
        else:
            click.echo(line)
    verdict = "FAILED" if diagnostics.has_errors else "ok"
    click.echo(f"{root}: {diagnostics.summary()} ({verdict})")


@cli.command()
@click.argument("directory", type=str)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "markdown"]),
    default="table",
    show_default=True,
)
def trace(directory: str, fmt: str) -> None:
    """Print the traceability matrix [A] -> [E] -> [H] -> [L] and its gaps.

    Exit 1 when the matrix has gaps, so CI can gate on it.
    """
    result = check_project(Path(directory))
    matrix = build_trace(result.project)
    title = f"Traceability: {result.project.manifest.name}"
    if fmt == "json":
        click.echo(render_trace_json(matrix), nl=False)
    elif fmt == "markdown":
        click.echo(render_trace_markdown(matrix, title=title), nl=False)
    else:
        console = _console(wide=True)
        console.print(trace_table(matrix, title=title))
        console.print(f"{len(matrix.rows)} rows, {matrix.gap_count} gaps", markup=False)
        if matrix.missing:
            console.print(
                f"not traced (missing or invalid, see 'amlas check'): {', '.join(matrix.missing)}",
                markup=False,
            )
    sys.exit(EXIT_ERRORS if matrix.gap_count or matrix.missing else EXIT_OK)


@cli.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("schema"),
    show_default=True,
    help="Directory to write the JSON Schemas into.",
)
@click.option("--check", "check_only", is_flag=True, help="Only report whether --out is stale.")
@click.option(
    "--markdown", is_flag=True, help="Print the human-readable reference (docs/artefacts.md)."
)
def schema(out: Path, check_only: bool, markdown: bool) -> None:
    """Write the JSON Schemas of the manifest and every artefact."""
    if markdown:
        click.echo(render_reference(), nl=False)
        return
    if check_only:
        stale = [
            name
            for name, text in schema_documents().items()
            if not (out / name).is_file() or (out / name).read_text("utf-8") != text
        ]
        if stale:
            click.echo(f"{out}: stale or missing: {', '.join(sorted(stale))}")
            sys.exit(EXIT_ERRORS)
        click.echo(f"{out}: up to date")
        return
    written = write_schemas(out)
    click.echo(f"wrote {len(written)} schemas to {out}")


@cli.command()
@click.option("--markdown", is_flag=True, help="Print the docs/diagnostics.md reference.")
def diagnostics(markdown: bool) -> None:
    """List every diagnostic code."""
    if markdown:
        click.echo(render_markdown(), nl=False)
        return
    for code in sorted(CODES):
        entry = CODES[code]
        click.echo(f"{code}  {entry.severity:<7}  {entry.title}")


@cli.command()
@click.argument("code")
def explain(code: str) -> None:
    """Explain one diagnostic CODE (e.g. X005)."""
    entry = CODES.get(code.upper())
    if entry is None:
        hint = did_you_mean(code.upper(), CODES)
        _fail(f"unknown code {code!r}" + (f"; {hint}" if hint else ""))
    click.echo(f"{entry.code} ({entry.severity}): {entry.title}")
    if entry.rule:
        click.echo(f"AMLAS rule: {entry.rule}")
    click.echo("")
    click.echo(entry.explanation)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning library errors into one-line messages."""
    try:
        cli.main(args=argv, prog_name="amlas", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        _fail("aborted", EXIT_USAGE)
    except click.ClickException as exc:  # usage errors: bad options, missing arguments
        exc.show()
        sys.exit(EXIT_USAGE)
    except UsageError as exc:
        _fail(str(exc), EXIT_USAGE)
    except AmlasError as exc:
        _fail(str(exc), EXIT_ERRORS)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:
        if os.environ.get("AMLAS_DEBUG"):
            raise
        _fail(
            f"internal error: {type(exc).__name__}: {exc} (this is a bug in amlas; "
            "rerun with AMLAS_DEBUG=1 for the traceback and report it)",
            EXIT_INTERNAL,
        )
    sys.exit(EXIT_OK)
