"""The exceptions `amlas` raises, and the install hints of its optional extras.

Problems in a user's project files are *diagnostics* (see :mod:`amlas.diagnostics`),
collected and reported together by ``amlas check``. A problem that only shows while a
command runs (the data, the model or a setting turns out unusable) stops the command with a
:class:`ProblemError`, which carries the same kind of coded, located diagnostic (``R``
codes, or the ``D``/``M``/``F``/``G`` code that already names the problem) and is printed
in the format of ``amlas check``, with exit status 2. Any other exception reaching the
command line is a bug in amlas (exit status 3).

Every exception derives from one root; this is the whole tree, with where each is defined::

    AmlasError                         amlas.errors
    ├── ProjectInvalid                 amlas.errors         amlas.load: the project has errors
    └── UsageError                     amlas.errors         exit 2: what the user gave
        ├── ProjectNotFoundError       amlas.errors         no amlas.yaml in the folder
        ├── PluginError                amlas.plugins        S004/S008/S009 a plug-in unusable
        └── ProblemError               amlas.errors         R002 a coded, located problem
            ├── ValueProblem           amlas.errors         (also a ValueError) a bad value
            ├── MissingExtraError      amlas.errors         R001 an optional extra missing
            ├── DatasetError           amlas.adapters       R010 a dataset unreadable
            │   └── ChunkTypeError     amlas.adapters       R010 read in chunks: read it whole
            ├── ColumnError            amlas.adapters       R011 a column missing/unusable
            ├── ModelError             amlas.adapters       R020 a model unusable, R021-5
            ├── FormalError            amlas.checks.formal  R040 formal leg cannot run
            ├── MonitorFileError       amlas.monitor        R050 a monitor file unusable
            ├── MonitorInputError      amlas.monitor        R051 inputs unfit for it
            ├── CalibrationError       amlas.monitor        R052 cannot be calibrated
            ├── FieldLogError          amlas.monitor        R053 field log malformed
            ├── SealError              amlas.sealing        R060 key/sealed file unusable
            │   └── TamperError        amlas.sealing        R061 sealed data modified
            ├── StoreError             amlas.evidence       R070 evidence store unusable
            │   ├── RecordNotFound     amlas.evidence       R070 (also a KeyError)
            │   └── CorruptRecord      amlas.evidence       R071 a record damaged
            ├── LibraryError           amlas.case           G006 pattern library unusable
            └── OutputRefused          amlas.fileio         F010/F011 output not replaced

Every :class:`ProblemError` is a :class:`UsageError`, so code that catches ``UsageError``
keeps catching what it caught before the problems had codes.

A raise site names its own code when it knows a more precise one than its class's default
(e.g. ``ModelError(..., code="R022")`` for probabilities that do not sum to 1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import ClassVar

from amlas.diagnostics import Diagnostic, Diagnostics, Location

__all__ = [
    "DRIVER_PACKAGES",
    "INSTALL_HINTS",
    "AmlasError",
    "MissingExtraError",
    "ProblemError",
    "ProjectInvalid",
    "ProjectNotFoundError",
    "UsageError",
    "ValueProblem",
    "install_hint",
]

INSTALL_HINTS: dict[str, str] = {
    "adversarial": "pip install 'amlas[adversarial]'",
    "dask": "pip install 'amlas[dask]'",
    "formal": "pip install 'amlas[formal]'",
    "images": "pip install 'amlas[images]'",
    "monitor": "pip install 'amlas[monitor]'",
    "onnx": "pip install 'amlas[onnx]'",
    "pdf": "pip install playwright (no browser download needed)",  # not an extra
    "sklearn": "pip install 'amlas[sklearn]'",
    "torch": "pip install 'amlas[torch]' (torch==2.13.0, CPU)",
}
"""The one table of install hints: optional extra -> the command that installs it."""

DRIVER_PACKAGES: dict[str, str] = {
    "psycopg": "psycopg[binary]",
    "psycopg2": "psycopg2-binary",
    "pymysql": "PyMySQL",
    "MySQLdb": "mysqlclient",
    "pyodbc": "pyodbc",
    "oracledb": "oracledb",
}
"""Database drivers an SQL evidence store may need: module -> the package to install."""


def install_hint(extra: str) -> str:
    """``install the <extra> extra: <command>``: the one-line hint for a missing extra."""
    return f"install the {extra} extra: {INSTALL_HINTS[extra]}"


class AmlasError(Exception):
    """Root of every exception raised by `amlas`."""


class UsageError(AmlasError):
    """A command or API call was given arguments it cannot use (exit status 2)."""


class ProjectNotFoundError(UsageError):
    """The given directory does not hold an AMLAS project (no ``amlas.yaml``)."""


UNLOCATED = "amlas"
"""The path a diagnostic shows when nothing names a file (``amlas: R020 error: ...``)."""


class ProjectInvalid(AmlasError):
    """The project has errors, so it cannot be used (``amlas.load``; exit status 1 on the
    command line, where ``amlas check`` prints them). ``diagnostics`` holds every problem
    found, each coded and located."""

    def __init__(self, diagnostics: Diagnostics) -> None:
        self.diagnostics = diagnostics
        errors = [d for d in diagnostics if d.severity.value == "error"]
        shown = "; ".join(d.format() for d in errors[:3])
        more = f" and {len(errors) - 3} more" if len(errors) > 3 else ""
        super().__init__(f"the project has {len(errors)} error(s): {shown}{more}")


# "path: message" or "path:line: message", where path looks like a file or an artefact
_LEADING_PATH = re.compile(r"^(?P<path>(?:[^\s:]*[/.][^\s:]*|\[[A-Z]{1,2}\]))(?::(?P<line>\d+))?: ")
_UNSET = object()


class ProblemError(UsageError):
    """A problem of the user's project, data, model or settings found while a command ran.

    It carries :attr:`diagnostics` (usually one), each with a stable code, a location and a
    message that names the value found; the command line prints them as ``amlas check``
    does and exits with :attr:`exit_status` (2). ``path`` and ``line`` say where the
    problem is (a file, or an artefact such as ``[V]``), or ``at`` exactly (a
    :class:`~amlas.diagnostics.Location` from the project's source map); without either, a
    leading ``path:`` or ``path:line:`` of the message is taken. ``more`` adds diagnostics
    found with the first. ``value`` is the offending value
    and ``expected`` what was expected (shown as the diagnostic's hint).

    Subclasses set :attr:`code`, the default for their raise sites.
    """

    code: str = "R002"
    exit_status: ClassVar[int] = 2

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        path: object = None,
        line: int = 0,
        value: object = _UNSET,
        expected: str | None = None,
        at: Location | None = None,
        more: Iterable[Diagnostic] = (),
    ) -> None:
        super().__init__(f"{message}; expected {expected}" if expected else message)
        self.value = None if value is _UNSET else value
        self.expected = expected
        where, text = (at, message) if at is not None else _locate(message, path, line)
        hint = f"expected {expected}" if expected else None
        found = Diagnostics()
        first = found.add(code or self.code, text, where, hint=hint)
        self.diagnostics: tuple[Diagnostic, ...] = (first, *more)

    @property
    def diagnostic(self) -> Diagnostic:
        """The first (usually the only) diagnostic."""
        return self.diagnostics[0]


def _locate(message: str, path: object, line: int) -> tuple[Location, str]:
    if path is not None:
        where = str(path) or UNLOCATED
        text = message.removeprefix(f"{where}: ") or message  # the path is shown once
        return Location(where, max(line, 0), 1 if line > 0 else 0), text
    match = _LEADING_PATH.match(message)
    if match is None or len(message) == match.end():
        return Location(UNLOCATED), message
    at = int(match["line"]) if match["line"] else max(line, 0)
    return Location(match["path"], at, 1 if at > 0 else 0), message[match.end() :]


class ValueProblem(ProblemError, ValueError):
    """A :class:`ProblemError` that is also a ``ValueError``: raised where a check used to
    raise ``ValueError`` for a value the user's data or settings chose, so callers that
    catch ``ValueError`` keep working."""


class MissingExtraError(ProblemError):
    """An optional extra (torch, onnx, formal...) is not installed; the message ends with
    its install hint from :data:`INSTALL_HINTS`."""

    code = "R001"

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(f"{what}; {install_hint(extra)}")
