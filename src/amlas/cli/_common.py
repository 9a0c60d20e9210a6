"""What every ``amlas`` command shares: exit statuses, consoles, and the one way problems
are printed (a project's diagnostics, a problem found while running, a usage error).

Exit status: 0 fine, 1 the project has errors (or a check failed), 2 usage problems and
problems found while running (bad data, model or settings), 3 an internal error (a bug in
amlas: please report it).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from amlas.cli._output import SafeConsole, echo
from amlas.diagnostics import Diagnostic, Diagnostics, Severity
from amlas.errors import AmlasError, ProblemError
from amlas.project import is_system_dir, load_system

__all__ = [
    "EXIT_ERRORS",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "console",
    "fail",
    "print_diagnostic_lines",
    "print_diagnostics",
    "print_problem",
    "refuse_system",
]

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def console(stderr: bool = False, *, wide: bool = False) -> Console:
    """A console for printed text; control characters in user text are shown, never obeyed."""
    made = SafeConsole(stderr=stderr, highlight=False, soft_wrap=True)
    if wide and not made.is_terminal:
        made.width = 160  # piped tables: rich would otherwise assume 80 columns
    return made


def refuse_system(directory: str | Path, command: str) -> None:
    """Exit 2 when ``directory`` is a system project (it declares ``components``):
    ``command`` works on one ML component's project at a time."""
    if not is_system_dir(directory):
        return
    try:
        paths = [
            str(Path(directory) / p) for p in load_system(directory, check=False).paths.values()
        ]
    except AmlasError:
        paths = []
    fail(
        f"{directory} is a system project (its amlas.yaml declares 'components'): "
        f"'{command}' works on one ML component's project; run it on "
        + (" and ".join(paths) if paths else "each component's directory")
        + " ('check', 'run', 'case', 'report' and 'gate' take the system directory)"
    )


def fail(message: str, status: int = EXIT_USAGE) -> NoReturn:
    """``amlas: error: MESSAGE`` on stderr, then exit with ``status``."""
    console(stderr=True).print(f"amlas: error: {message}", markup=False, style="red")
    sys.exit(status)


def print_diagnostic_lines(
    diagnostics: Iterable[Diagnostic], root: str = "", *, stderr: bool = False
) -> None:
    """One ``path:line:col: CODE severity: message (hint)`` line per diagnostic, the format
    of ``amlas check``; coloured by severity on a terminal."""
    out = console(stderr=stderr)
    for diagnostic in diagnostics:
        line = diagnostic.format(root)
        if out.is_terminal:
            out.print(line, style=_STYLE[diagnostic.severity], markup=False)
        else:
            echo(line, err=stderr)


def print_diagnostics(diagnostics: Diagnostics, root: str) -> None:
    """A project's diagnostics, sorted, and the summary line ``amlas check`` prints."""
    print_diagnostic_lines(diagnostics.sorted(), root)
    verdict = "FAILED" if diagnostics.has_errors else "ok"
    echo(f"{root}: {diagnostics.summary()} ({verdict})")


def print_problem(problem: ProblemError) -> NoReturn:
    """A problem found while running: its diagnostics on stderr, then its exit status."""
    print_diagnostic_lines(problem.diagnostics, stderr=True)
    sys.exit(problem.exit_status)
