"""``amlas`` commands. Exit status: 0 fine, 1 the project has errors, 2 usage problems and
problems found while running (printed as coded diagnostics), 3 an internal error (a bug in
amlas: please report it). See :mod:`amlas.cli._common`."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from amlas._version import __version__
from amlas.case import (
    STATUSES,
    Case,
    SystemCase,
    build_case,
    build_system_case,
    check_case_settings,
    check_library,
    diff_snapshots,
    gate,
    gate_system,
    judge_approvals,
    snapshot,
)
from amlas.cli._bundle import bundle, verify_bundle_command
from amlas.cli._common import (
    EXIT_ERRORS,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
    console,
    fail,
    print_diagnostics,
    print_problem,
    refuse_system,
)
from amlas.cli._diff import bundle_snapshot, diff, revision_snapshot
from amlas.cli._evidence import evidence
from amlas.cli._impact import impact
from amlas.cli._monitor import monitor
from amlas.cli._output import echo
from amlas.cli._paths import layout_cache, project_paths, refused
from amlas.cli._plugins import plugins
from amlas.cli._predictions import predictions
from amlas.cli._review import review
from amlas.cli._signoff import (
    EXPECT_SIGNER,
    expected_env,
    pinned_signers,
    sign,
    signoff_diagnostics,
)
from amlas.diagnostics import (
    CODES,
    Diagnostics,
    Severity,
    did_you_mean,
    render_markdown,
)
from amlas.errors import AmlasError, ProblemError, UsageError
from amlas.evidence import (
    check_signatures,
    seal_dataset,
)
from amlas.fileio import (
    OutputRefused,
    atomic_write_bytes,
    atomic_write_text,
    check_output_file,
    check_output_folder,
    register_output_file,
    write_output_folder,
)
from amlas.project import (
    EXAMPLES,
    Project,
    build_trace,
    check_project,
    declare_person_key,
    init_project,
    is_system_dir,
    load_system,
    relocated,
    render_reference,
    schema_documents,
    write_schemas,
)
from amlas.render import (
    render_case_files,
    render_case_json,
    render_case_markdown,
    render_pdf,
    render_report,
    render_run_json,
    render_trace_json,
    render_trace_markdown,
    run_table,
    trace_table,
)
from amlas.sealing import (
    ENV_KEY,
    ENV_KEY_FILE,
    VerifierKey,
    generate_key,
    generate_signing_key,
    public_key_id,
    public_key_of,
    resolve_key,
)
from amlas.verify import EngineOptions, RunReport, analyse_impact, run_project

_console, _fail, _print_diagnostics = console, fail, print_diagnostics


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


def _case_checks(project: Project, diagnostics: Diagnostics) -> None:
    """What `amlas check` adds to the rules: who produced the evidence (every signature,
    checked with the declared public key), what `amlas case` would refuse (the library)
    and case settings that would be ignored."""
    check_signatures(project, diagnostics)
    check_library(project, diagnostics)
    check_case_settings(project, diagnostics)


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
    if is_system_dir(directory):  # the system and each ML component's project
        system = load_system(Path(directory))
        diagnostics = system.diagnostics
        for component_id, component in system.components.items():
            found = Diagnostics()
            _case_checks(component, found)
            diagnostics.extend(relocated(d, system.paths[component_id]) for d in found)
    else:
        result = check_project(Path(directory))
        diagnostics = result.diagnostics
        _case_checks(result.project, diagnostics)
    if Path(directory, "amlas.yaml").is_file():
        diagnostics.extend(signoff_diagnostics(Path(directory)))
    diagnostics.items = diagnostics.sorted()
    if fmt == "json":
        click.echo(diagnostics.to_json(directory))
    else:
        _print_diagnostics(diagnostics, directory)
    failed = diagnostics.has_errors or (strict and diagnostics.count(Severity.WARNING) > 0)
    sys.exit(EXIT_ERRORS if failed else EXIT_OK)


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
    refuse_system(directory, "amlas trace")
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


_KEY_FILE = click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The verifier key (else AMLAS_VERIFIER_KEY_FILE or AMLAS_VERIFIER_KEY).",
)


@cli.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--signing",
    is_flag=True,
    help="A personal Ed25519 signing key (PKCS#8 PEM) for 'amlas sign', not a verifier key.",
)
@click.option(
    "--person",
    metavar="ID",
    default=None,
    help="With --signing: declare its public key for person ID of --project's amlas.yaml.",
)
@click.option(
    "--project",
    "project_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="With --person: the project whose amlas.yaml declares the person.",
)
def keygen(path: Path, signing: bool, person: str | None, project_dir: Path | None) -> None:
    """Create a verifier key at PATH (mode 0600; never inside the project).

    Only the verifier role should hold it: it unlocks the sealed verification data.
    With --signing, a person's signing key instead (for 'amlas sign'); with --person ID
    --project DIR its public half is declared for ID in DIR's amlas.yaml.
    """
    if signing or person is not None:
        _signing_keygen(path, person, project_dir)
        return
    if project_dir is not None:
        _fail("--project goes with --signing --person ID")
    key = generate_key(path)
    click.echo(f"wrote verifier key {key.key_id} to {path}")
    click.echo("keep it out of the project and away from the development team")
    click.echo("its public key, for the project's amlas.yaml ('amlas seal' writes it there):")
    click.echo(f"verifier_key: {public_key_of(key)}")


def _signing_keygen(path: Path, person: str | None, project_dir: Path | None) -> None:
    if (person is None) != (project_dir is None):
        _fail("--person ID and --project DIR go together")
    if project_dir is not None:
        root = Path(os.path.realpath(project_dir))
        if Path(os.path.realpath(path)).is_relative_to(root):
            _fail(f"{path} is inside the project {project_dir}: a private key never enters it")
        if not (project_dir / "amlas.yaml").is_file():
            _fail(f"{project_dir} holds no amlas.yaml")
        declare_person_key(project_dir, person or "", None)  # refuses before a key is made
    key = generate_signing_key(path)
    click.echo(f"wrote signing key {public_key_id(key.public_key)} to {path}")
    click.echo("keep it to yourself, outside every project")
    if project_dir is not None and person is not None:
        declare_person_key(project_dir, person, key.public_key)
        click.echo(f"declared it for {person} in {project_dir / 'amlas.yaml'}: review, commit")
    else:
        click.echo("its public key, for your entry under 'people:' in amlas.yaml:")
    click.echo(f"key: {key.public_key}")


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--dataset",
    type=click.Choice(["P", "O", "N"]),
    default="P",
    show_default=True,
    help="The dataset artefact to seal (AMLAS asks it of [P]).",
)
@_KEY_FILE
@click.option(
    "--keep-plaintext", is_flag=True, help="Leave the plaintext file in place (not advised)."
)
def seal(directory: Path, dataset: str, key_file: Path | None, keep_plaintext: bool) -> None:
    """Encrypt a dataset of DIRECTORY for the verifier role and remove the plaintext.

    Writes the sealed copy beside the data, starts the access log, adds a `sealed:` block
    to the dataset artefact and keeps the plaintext out of git.
    """
    refuse_system(directory, "amlas seal")
    key = resolve_key(key_file, os.environ)
    if key is None:
        _fail("no verifier key: give --key-file, or create one with 'amlas keygen PATH'")
    result = check_project(directory)
    outcome = seal_dataset(result.project, dataset, key, keep_plaintext=keep_plaintext)
    click.echo(
        f"sealed [{dataset}] into {outcome.sealed_file} (key {outcome.header.key_id}, "
        f"sha256 {outcome.header.plaintext_sha256[:12]}...)"
    )
    click.echo(f"access log: {outcome.access_log}")
    if result.project.manifest.verifier_key is None:
        click.echo(
            f"declared verifier_key {public_key_of(key)} in amlas.yaml: review and commit it"
        )
    if outcome.plaintext_removed:
        click.echo(
            "plaintext removed; if it was ever committed, purge it from version-control history"
        )


@dataclass(frozen=True)
class RunOptions:
    """How `amlas run` reads data in chunks, and where the chunks are worked on."""

    chunk_rows: int | None = None
    engine: EngineOptions | None = None


class _RichReporter:
    """Progress bars on stderr, shown only on a terminal."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def task(self, description: str, total: int | None) -> Callable[[int], None]:
        task = self.progress.add_task(description, total=total)

        def advance(done: int) -> None:
            self.progress.advance(task, done)

        return advance


@contextlib.contextmanager
def _reporter() -> Iterator[_RichReporter]:
    console = _console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    with progress:
        yield _RichReporter(progress)


@cli.command()
@click.argument("directory", type=str)
@click.option(
    "--stage",
    "stages",
    type=click.IntRange(3, 6),
    multiple=True,
    help="Stage to run (repeatable). Default: 3 and 4 for developers, 3 and 5 for verifiers; "
    "6 (integration over the operational scenarios) runs only when asked for.",
)
@click.option(
    "--role",
    type=click.Choice(["developer", "verifier"]),
    default="developer",
    show_default=True,
    help="Who runs: only the verifier reads sealed data and runs stage 5.",
)
@_KEY_FILE
@click.option("--store", default=None, help="Evidence store URI (default: amlas.yaml 'evidence').")
@click.option("--strict", is_flag=True, help="Inconclusive verdicts also make the exit status 1.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
)
@click.option(
    "--stale-only",
    is_flag=True,
    help="Run only the checks 'amlas impact' lists: stale records and checks never run.",
)
@click.option(
    "--chunk-rows",
    type=click.IntRange(1),
    default=None,
    help="Rows per chunk when a dataset is read in chunks (default 1048576); memory "
    "grows with it, the records do not change.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default=None,
    help="Where the work on each chunk runs: this process (local, the default) or a Dask "
    "cluster (needs amlas[dask]); the records are the same.",
)
@click.option(
    "--scheduler",
    default=None,
    help="The Dask scheduler's address (implies --engine dask); without it a LocalCluster "
    "on this machine.",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=None,
    help="Workers of the LocalCluster (one thread each; default 2).",
)
def run(
    directory: str,
    stages: tuple[int, ...],
    role: str,
    key_file: Path | None,
    store: str | None,
    strict: bool,
    fmt: str,
    stale_only: bool,
    chunk_rows: int | None,
    engine: str | None,
    scheduler: str | None,
    workers: int | None,
) -> None:
    """Evaluate the requirements of DIRECTORY and record evidence.

    Stage 3 checks the data rules [L] and the independence of [N], [O], [P]; stage 4
    judges every data-related [H] requirement on [O]; stage 5 on [P]. Every verdict rests
    on a confidence bound. Exit 1 on any 'fail' (or 'inconclusive' with --strict).
    With --stale-only, only the checks of the chosen stages that 'amlas impact' lists run.
    A dataset whose checks all tally is read in chunks (--chunk-rows), on this machine or
    on a Dask cluster (--engine dask, --scheduler); these options override the project's
    engine: in amlas.yaml, each the setting it names; see docs/scale.md.
    """
    key = resolve_key(key_file, os.environ) if role == "verifier" else None
    # the model's own code runs in this process: leave it no key in the environment
    for name in (ENV_KEY, ENV_KEY_FILE):
        os.environ.pop(name, None)
    if engine == "local" and scheduler is not None:
        _fail("--scheduler names a Dask cluster: leave out --engine local")
    if workers is not None and scheduler is not None:
        _fail("--workers sizes the LocalCluster of --engine dask (a scheduler has its own)")
    if workers is not None and engine == "local":
        _fail("--workers sizes the LocalCluster of --engine dask: leave out --engine local")
    # laid over the project's engine: in amlas.yaml, option by option (verify.resolve_engine)
    options = RunOptions(chunk_rows, EngineOptions(engine, scheduler, workers))
    if is_system_dir(directory):
        _run_system(Path(directory), role, stages, key, store, strict, fmt, stale_only, options)
    report = _run_one(directory, role, stages, key, store, stale_only, options)
    _print_run(report, fmt, stale_only)
    sys.exit(report.exit_code(strict=strict))


def _run_one(
    directory: str | Path,
    role: str,
    stages: tuple[int, ...],
    key: VerifierKey | None,
    store: str | None,
    stale_only: bool,
    options: RunOptions,
) -> RunReport:
    """One project's run; on project errors print them and exit 1 (nothing was run)."""
    only = analyse_impact(directory, store=store).keys() if stale_only else None
    with _reporter() as reporter:
        report = run_project(
            directory,
            role=role,  # type: ignore[arg-type]
            stages=stages or None,
            key=key,
            store=store,
            reporter=reporter,
            only=only,
            chunk_rows=options.chunk_rows,
            engine=options.engine,
        )
    if report.diagnostics is not None:
        _print_diagnostics(report.diagnostics, str(directory))
        click.echo("amlas run: the project has errors; nothing was run", err=True)
        sys.exit(EXIT_ERRORS)
    return report


def _run_system(
    directory: Path,
    role: str,
    stages: tuple[int, ...],
    key: VerifierKey | None,
    store: str | None,
    strict: bool,
    fmt: str,
    stale_only: bool,
    options: RunOptions,
) -> NoReturn:
    """`amlas run SYSTEM`: every ML component's project in turn, a component whose results
    another's hazard chain takes first; nothing runs while the system has errors."""
    if store is not None:
        _fail("--store names one store; each ML component of a system keeps its own")
    system = load_system(directory)
    if system.diagnostics.has_errors:
        _print_diagnostics(system.diagnostics, str(directory))
        click.echo("amlas run: the system has errors; nothing was run", err=True)
        sys.exit(EXIT_ERRORS)
    status, reports = EXIT_OK, {}
    for component_id in system.order():
        where = directory / system.paths[component_id]
        if fmt != "json":
            echo(f"{component_id} ({where}):")
        report = _run_one(where, role, stages, key, None, stale_only, options)
        reports[component_id] = report
        if fmt != "json":
            _print_run(report, fmt, stale_only)
        status = max(status, report.exit_code(strict=strict))
    if fmt == "json":
        payload = {c: json.loads(render_run_json(r)) for c, r in reports.items()}
        click.echo(json.dumps({"system": system.manifest.name, "components": payload}, indent=2))
    sys.exit(status)


def _print_run(report: RunReport, fmt: str, stale_only: bool) -> None:
    if fmt == "json":
        click.echo(render_run_json(report), nl=False)
    else:
        console = _console(wide=True)
        console.print(run_table(report, title=f"amlas run ({report.role})"))
        for what, why in report.not_run:
            console.print(f"not run: {what}: {why}", markup=False, style="dim")
        for warning in report.warnings:
            console.print(f"warning: {warning}", markup=False, style="yellow")
        if stale_only and not report.records:
            console.print("--stale-only: nothing stale or never run in these stages", markup=False)
        counts = report.counts()
        summary = ", ".join(f"{counts[v]} {v}" for v in ("pass", "fail", "inconclusive"))
        console.print(
            f"{len(report.records)} evidence records ({summary}) in {report.store}, "
            f"run {report.run_id}",
            markup=False,
        )


STATUS_STYLE = {
    "supported": "green",
    "failed": "bold red",
    "inconclusive": "yellow",
    "undeveloped": "dim",
    "stale": "magenta",
}

_STORE = click.option(
    "--store", default=None, help="Evidence store URI (default: amlas.yaml 'evidence')."
)
_LIBRARY = click.option(
    "--library",
    default=None,
    help="Pattern library: a shipped name or a folder (default: amlas.yaml case.library).",
)
CASE_DIR = "safety-case"
CASE_COMMAND, REPORT_COMMAND, PDF_COMMAND = "amlas case", "amlas report", "amlas report --pdf"
REPORT_SIGNATURE = b'<meta name="generator" content="amlas">'  # in every report's <head>


_EARLIER_CASE_FILE = re.compile(
    r"^(case\.json|case\.md|case\.junit\.xml|gsn/[\w.-]+\.gsn\.yaml|svg/[\w.-]+\.svg)$"
)


def _earlier_case_folder(folder: Path) -> dict[str, str] | None:
    """A safety-case folder written before the output marker (amlas 0.1.0): nothing but
    the files `amlas case` writes, with an `amlas.case/1` case.json, and report.html."""
    names = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if not p.is_dir())
    try:
        case_json = json.loads((folder / "case.json").read_text("utf-8"))
        report = (folder / "report.html").read_bytes()[:4096] if "report.html" in names else b""
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(case_json, dict) or case_json.get("schema") != "amlas.case/1":
        return None
    if "report.html" in names and REPORT_SIGNATURE not in report:
        return None
    writers = {n: CASE_COMMAND for n in names if _EARLIER_CASE_FILE.match(n)}
    if "report.html" in names:
        writers["report.html"] = REPORT_COMMAND
    return writers if len(writers) == len(names) else None


def _build(
    directory: Path, store: str | None, library: str | None, key: VerifierKey | None = None
) -> Case:
    """Build the case; on project errors print them and exit 1 (nothing is written).

    With the verifier ``key`` the per-sample detail sealed for the verifier is opened;
    otherwise it stays sealed."""
    return _build_any(directory, store, library, key).case


def _build_any(
    directory: Path, store: str | None, library: str | None, key: VerifierKey | None = None
) -> SystemCase:
    """The case of a project, or of a system (one argument per ML component); on
    project errors print them and exit 1 (nothing is written)."""
    if is_system_dir(directory):
        if store is not None:
            _fail("--store names one store; each ML component of a system keeps its own")
        built = build_system_case(directory, library=library, key=key)
    else:
        project = check_project(directory).project
        built = SystemCase(
            build_case(project, store=store, library=library, key=key), project=project
        )
    if built.case.diagnostics.has_errors:
        _print_diagnostics(built.case.diagnostics, str(directory))
        click.echo("amlas: the project has errors; no safety case was written", err=True)
        sys.exit(EXIT_ERRORS)
    return built


def _print_case(case: Case) -> None:
    console = _console(wide=True)
    top = case.top
    console.print(f"{case.root} {top.text}", markup=False, style=STATUS_STYLE[top.status] + " bold")
    console.print(f"  {top.status}: {top.reason}", markup=False)
    for module in case.modules:
        claims = [n for n in case.module_nodes(module.name) if n.is_claim]
        counts = case.counts(claims)
        status = case.module_status(module) or "undeveloped"
        shown = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
        title = (
            f"stage {module.stage} {module.title}"
            if module.name.startswith("stage") and "@" not in module.name
            else module.title  # a system case: 'CMP-1: ...' and the system's own nodes
        )
        console.print(
            f"  {title:<48} {status:<13} {shown}",
            markup=False,
            style=STATUS_STYLE[status],
        )
    counts = case.counts()
    console.print(
        f"{len(case.nodes)} nodes; claims: "
        + ", ".join(f"{counts[s]} {s}" for s in STATUSES)
        + f"; {len(case.evidence)} evidence records cited",
        markup=False,
    )


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Output folder (default: DIRECTORY/{CASE_DIR}); replaced as a whole, and only "
    "when new, empty or written by amlas.",
)
@_STORE
@_LIBRARY
@_KEY_FILE
@click.option("--no-svg", is_flag=True, help="Skip the Graphviz diagrams.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["summary", "json", "markdown"]),
    default="summary",
    show_default=True,
    help="What to print on stdout.",
)
def case(
    directory: Path,
    out: Path | None,
    store: str | None,
    library: str | None,
    key_file: Path | None,
    no_svg: bool,
    fmt: str,
) -> None:
    """Build the safety case of DIRECTORY from its artefacts and evidence.

    Writes case.json, case.md, case.junit.xml, gsn/ (gsn2x YAML, one module per stage)
    and svg/ (Graphviz diagrams) into the output folder. Every claim is supported, failed,
    inconclusive, undeveloped or stale; 'amlas gate' decides whether the top claim holds.
    Per-sample detail computed from sealed data stays sealed unless the verifier key is
    given (--key-file, AMLAS_VERIFIER_KEY_FILE or AMLAS_VERIFIER_KEY).
    """
    key = resolve_key(key_file, os.environ)
    target = out or directory / CASE_DIR
    _opened_detail_stays_outside(directory, key, target)
    whole = _build_any(directory, store, library, key)
    built = whole.case
    approvals = judge_approvals(whole)
    protected = project_paths(directory, store)
    cache = layout_cache(directory, key)
    files: dict[str, str | bytes] = dict(
        render_case_files(built, svg=not no_svg, layout_cache=cache)
    )
    writers: dict[str, str] = {}
    try:
        marker = check_output_folder(
            target, project=directory, protected=protected, earlier=_earlier_case_folder
        )
        # a report written into the folder is rebuilt with the case, never left stale
        kept = marker.files.items() if marker else ()
        html = ""
        for name, writer in sorted(kept):
            if writer == CASE_COMMAND or not (target / name).is_file():
                continue
            if writer not in (REPORT_COMMAND, PDF_COMMAND):
                continue
            html = html or render_report(built, layout_cache=cache, approvals=approvals)
            if writer == REPORT_COMMAND:
                files[name], writers[name] = html, writer
            elif writer == PDF_COMMAND:
                try:
                    files[name], writers[name] = _pdf_bytes(html), writer
                except UsageError as error:
                    click.echo(
                        f"amlas: removed {target / name}, a print of the previous case: {error}",
                        err=True,
                    )
        write_output_folder(
            target,
            files,
            command=CASE_COMMAND,
            version=__version__,
            writers=writers,
            project=directory,
            protected=protected,
            earlier=_earlier_case_folder,
        )
    except OutputRefused as error:
        refused(error)
    if fmt == "json":
        click.echo(render_case_json(built), nl=False)
    elif fmt == "markdown":
        click.echo(render_case_markdown(built), nl=False)
    else:
        _print_case(built)
        required = [r for judged in approvals.values() for r in judged.required]
        if required:
            given = sum(r.status == "approved" for r in required)
            echo(
                f"approvals: {given} of {len(required)} required given"
                + "".join(
                    f"; {r.role} on {r.where} {r.status}"
                    for r in required
                    if r.status != "approved"
                )
            )
        notes = [d for d in built.diagnostics.sorted() if d.code.startswith("G")]
        for d in notes:
            _console(stderr=True).print(d.format(str(directory)), markup=False, style="yellow")
        echo(f"safety case written to {target}/")


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"The HTML file (default: DIRECTORY/{CASE_DIR}/report.html).",
)
@click.option(
    "--pdf",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also print the report to this PDF (needs Debian chromium and playwright).",
)
@click.option(
    "--changes-since",
    "since",
    metavar="REV|BUNDLE",
    default=None,
    help="Add a 'What changed' section, and mark the changed nodes in the diagrams, since a "
    "git revision of the project or an assessor's bundle (as 'amlas diff' compares).",
)
@_STORE
@_LIBRARY
@_KEY_FILE
def report(
    directory: Path,
    output: Path | None,
    pdf: Path | None,
    since: str | None,
    store: str | None,
    library: str | None,
    key_file: Path | None,
) -> None:
    """Write the safety case of DIRECTORY as one self-contained, offline HTML report.

    An overview (stage progress, claims per status, the verdicts that matter), the GSN
    diagrams with clickable nodes that open their evidence, the ODD coverage, the
    traceability matrix and the artefact index [A]..[HH]. Per-sample detail computed from
    sealed data stays sealed unless the verifier key is given (--key-file,
    AMLAS_VERIFIER_KEY_FILE or AMLAS_VERIFIER_KEY).
    """
    key = resolve_key(key_file, os.environ)
    target = output or directory / CASE_DIR / "report.html"
    _opened_detail_stays_outside(directory, key, target, *([pdf] if pdf is not None else []))
    whole = _build_any(directory, store, library, key)
    built = whole.case
    approvals = judge_approvals(whole)
    changes = None
    if since is not None:
        before = (
            bundle_snapshot(Path(since))
            if Path(since).is_file()
            else revision_snapshot(directory, since)
        )
        changes = diff_snapshots(before, snapshot(whole, "this report", approvals=approvals))
    html = render_report(
        built, layout_cache=layout_cache(directory, key), approvals=approvals, changes=changes
    )
    protected = project_paths(directory, store)
    try:
        check_output_file(
            target,
            command=REPORT_COMMAND,
            signature=REPORT_SIGNATURE,
            project=directory,
            protected=protected,
        )
        if pdf is not None:
            check_output_file(
                pdf, command=PDF_COMMAND, signature=None, project=directory, protected=protected
            )
    except OutputRefused as error:
        refused(error)
    # registered before it is written: a kill in between leaves no unlisted file
    register_output_file(target, command=REPORT_COMMAND, version=__version__)
    atomic_write_text(target, html)
    click.echo(f"report written to {target} ({len(html.encode()) // 1024} KiB)")
    if pdf is not None:
        printed = _pdf_bytes(html)
        register_output_file(pdf, command=PDF_COMMAND, version=__version__)
        atomic_write_bytes(pdf, printed)
        click.echo(f"PDF written to {pdf}")


def _opened_detail_stays_outside(directory: Path, key: VerifierKey | None, *targets: Path) -> None:
    """With the verifier key, the case shows [P]'s per-sample detail: never write that into
    the project, which the development team reads (exit 2 before anything is built)."""
    if key is None:
        return
    root = Path(os.path.realpath(directory))  # realpath never raises on a link loop
    for target in targets:
        if Path(os.path.realpath(target)).is_relative_to(root):
            _fail(
                f"{target} is inside the project {directory}: with the verifier key the "
                "case shows the per-sample detail of the sealed verification data, which the "
                "development team must not read; write it outside the project (--out/-o/"
                "--pdf), or build without the key"
            )


def _pdf_bytes(html: str) -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "report.pdf"
        render_pdf(html, staged)
        return staged.read_bytes()


@cli.command("gate")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--allow-undeveloped",
    "undeveloped",
    multiple=True,
    metavar="NODE",
    help="Accept this undeveloped node (ID or glob such as 'G6.*'); repeatable. Adds to "
    "amlas.yaml case.allow_undeveloped.",
)
@click.option(
    "--allow-inconclusive",
    "inconclusive",
    multiple=True,
    metavar="NODE",
    help="Accept this inconclusive node (ID or glob); repeatable.",
)
@click.option(
    "--verifier-key",
    "expected_key",
    default=None,
    envvar="AMLAS_EXPECTED_VERIFIER_KEY",
    metavar="ed25519:...",
    help="The verifier's public key as the verifier gave it to you (or set "
    "AMLAS_EXPECTED_VERIFIER_KEY in CI): the gate stays shut unless amlas.yaml declares "
    "exactly this key, since anyone who can edit amlas.yaml can declare a key of their own.",
)
@EXPECT_SIGNER
@_STORE
@_LIBRARY
def gate_command(
    directory: Path,
    undeveloped: tuple[str, ...],
    inconclusive: tuple[str, ...],
    expected_key: str | None,
    signers: tuple[str, ...],
    store: str | None,
    library: str | None,
) -> None:
    """Exit 0 only when the top claim of DIRECTORY's safety case is supported.

    The policy in amlas.yaml (case.allow_undeveloped, case.allow_inconclusive, each entry
    with its reason) and the options here name nodes that may stay undeveloped or
    inconclusive. Failed and stale nodes are never accepted. Prints why the gate is shut.
    """
    expected_env("AMLAS_EXPECTED_VERIFIER_KEY")
    pinned = pinned_signers(signers)
    if is_system_dir(directory):
        system = load_system(directory, check=False)
        manifests = {
            f"{system.paths[c]}/amlas.yaml": p.manifest for c, p in system.components.items()
        }
    else:
        manifests = {"amlas.yaml": check_project(directory).project.manifest}
    declared_keys = {m.verifier_key for m in manifests.values()}
    declared = declared_keys.pop() if len(declared_keys) == 1 else None
    for where, manifest in manifests.items():
        if expected_key is not None and expected_key.strip() != (manifest.verifier_key or ""):
            echo(
                f"gate shut: {where} declares verifier_key {manifest.verifier_key or '(none)'}, "
                f"not the expected {expected_key.strip()}: verification results signed by a "
                "key nobody vouched for do not count"
            )
            sys.exit(EXIT_ERRORS)
    whole = _build_any(directory, store, library)
    built = whole.case
    required = [r for a in judge_approvals(whole, pinned=pinned).values() for r in a.required]
    given_undeveloped = [(n, "allowed on the command line") for n in undeveloped]
    given_inconclusive = [(n, "allowed on the command line") for n in inconclusive]
    if whole.system is not None:  # each component's own policy, for its own nodes
        result = gate_system(
            whole,
            allow_undeveloped=given_undeveloped,
            allow_inconclusive=given_inconclusive,
            approvals=required,
        )
    else:
        settings = next(iter(manifests.values())).case
        result = gate(
            built,
            allow_undeveloped=[(a.node, a.reason) for a in settings.allow_undeveloped]
            + given_undeveloped,
            allow_inconclusive=[(a.node, a.reason) for a in settings.allow_inconclusive]
            + given_inconclusive,
            approvals=required,
        )
    console = _console(wide=True)
    if declared is not None:  # the trust root of every verification result: show it
        how = "as expected" if expected_key is not None else "not pinned (--verifier-key)"
        console.print(f"verifier key: {declared} ({how})", markup=False, style="dim")
    for node_id, status, reason in result.accepted:
        console.print(f"accepted {status} {node_id}: {reason}", markup=False, style="dim")
    if result.approvals and pinned is None:
        console.print(
            "approvers' keys: as amlas.yaml declares them, not pinned (--expect-signer)",
            markup=False,
            style="dim",
        )
    for approval in result.approvals:
        if approval.status == "approved":
            console.print(
                f"approval: {approval.role} on {approval.where}: {approval.reason}",
                markup=False,
                style="dim",
            )
    if result.passed:
        console.print(f"gate open: {built.root} is supported", markup=False, style="green")
        sys.exit(EXIT_OK)
    if result.status == "supported":
        console.print(
            f"gate shut: {built.root} is supported, but {len(result.awaited)} required "
            "approval(s) are not given:",
            markup=False,
            style="yellow",
        )
    else:
        console.print(
            f"gate shut: {built.root} is {result.status}; {len(result.blocking)} node(s) stand "
            "in the way:",
            markup=False,
            style=STATUS_STYLE[result.status],
        )
    order = {"failed": 0, "stale": 1, "inconclusive": 2, "undeveloped": 3}
    blocking = sorted(result.blocking, key=lambda n: order.get(n.status, 9))
    for node in blocking[:50]:
        console.print(
            f"  {node.status:<13} {node.id:<22} {node.reason}",
            markup=False,
            style=STATUS_STYLE[node.status],
        )
    if len(blocking) > 50:
        console.print(f"  ... and {len(blocking) - 50} more (see the report)", markup=False)
    if result.awaited and result.status != "supported":
        console.print(f"and {len(result.awaited)} required approval(s) not given:", markup=False)
    for approval in result.awaited:
        console.print(
            f"  {approval.status:<13} {approval.role} on {approval.where}: {approval.reason}",
            markup=False,
            style="yellow" if approval.status == "awaited" else "red",
        )
    sys.exit(EXIT_ERRORS)


cli.add_command(monitor)


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
    except ProblemError as exc:  # the data, model or a setting: coded, as `amlas check` prints
        print_problem(exc)
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


cli.add_command(impact)
cli.add_command(plugins)
cli.add_command(predictions)
cli.add_command(evidence)
cli.add_command(review)
cli.add_command(sign)
cli.add_command(diff)
cli.add_command(bundle)
cli.add_command(verify_bundle_command)
