"""One problem found in a project, where it is, and the list that collects them."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from amlas.diagnostics._codes import CODES

__all__ = ["Diagnostic", "Diagnostics", "Location", "Severity"]


class Severity(enum.Enum):
    """How bad a problem is. Only ``ERROR`` makes ``amlas check`` exit non-zero."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, order=True)
class Location:
    """A place in a project file. ``path`` is relative to the project root.

    ``line`` and ``col`` are 1-based; 0 means "the whole file" (e.g. a file that is missing).
    """

    path: str
    line: int = 0
    col: int = 0

    def format(self, root: str = "") -> str:
        path = str(PurePosixPath(root) / self.path) if root else self.path
        if self.line <= 0:
            return path
        return f"{path}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    """A problem in a user's project: a stable ``code``, its ``severity``, where, and what.

    The message names the value found and what was expected; ``hint`` says how to fix it
    (often a "did you mean"). Build them through :meth:`Diagnostics.add`, which takes the
    severity from the code's registry entry so the two never disagree.
    """

    code: str
    severity: Severity
    message: str
    location: Location
    hint: str | None = None

    def format(self, root: str = "") -> str:
        """One grep-able line: ``path:line:col: CODE severity: message (hint)``."""
        text = f"{self.location.format(root)}: {self.code} {self.severity.value}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def to_dict(self, root: str = "") -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
            "path": str(PurePosixPath(root) / self.location.path) if root else self.location.path,
            "line": self.location.line,
            "col": self.location.col,
        }

    def sort_key(self) -> tuple[str, int, int, str, str]:
        loc = self.location
        return (loc.path, loc.line, loc.col, self.code, self.message)


@dataclass
class Diagnostics:
    """An ordered collection of diagnostics with counts by severity."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, code: str, message: str, at: Location, *, hint: str | None = None) -> Diagnostic:
        """Record a problem under a registered ``code`` (unknown codes are a programming error)."""
        entry = CODES[code]
        # One problem, one line: user text quoted in a message may hold line breaks.
        message = " ".join(message.split())
        hint = " ".join(hint.split()) if hint else hint
        diagnostic = Diagnostic(code, Severity(entry.severity), message, at, hint)
        self.items.append(diagnostic)
        return diagnostic

    def extend(self, other: Iterable[Diagnostic]) -> None:
        self.items.extend(other)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def sorted(self) -> list[Diagnostic]:
        """Deduplicated, ordered by file, line, column, then code."""
        unique = {(d.code, d.location, d.message): d for d in self.items}
        return sorted(unique.values(), key=Diagnostic.sort_key)

    def count(self, severity: Severity) -> int:
        return sum(1 for d in self.sorted() if d.severity is severity)

    @property
    def has_errors(self) -> bool:
        return self.count(Severity.ERROR) > 0

    def codes(self) -> set[str]:
        return {d.code for d in self.items}

    def summary(self) -> str:
        errors, warnings, infos = (self.count(s) for s in Severity)
        return (
            f"{errors} error{'s' * (errors != 1)}, "
            f"{warnings} warning{'s' * (warnings != 1)}, "
            f"{infos} note{'s' * (infos != 1)}"
        )

    def to_json(self, root: str = "") -> str:
        payload = {
            "diagnostics": [d.to_dict(root) for d in self.sorted()],
            "summary": {s.value: self.count(s) for s in Severity},
        }
        return json.dumps(payload, indent=2, sort_keys=True)
