"""The exceptions `amlas` raises.

Problems in a user's project files are *diagnostics* (see :mod:`amlas.diagnostics`),
collected and reported together; exceptions are for misuse of the API and for
conditions that stop a command outright. Every exception derives from one root::

    AmlasError
    ├── UsageError                 a command or API call got arguments it cannot use
    │   └── ProjectNotFoundError   the directory holds no AMLAS project
    └── ProjectInvalid             amlas.load: the project has errors (its diagnostics)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from amlas.diagnostics import Diagnostics

__all__ = ["AmlasError", "ProjectInvalid", "ProjectNotFoundError", "UsageError"]


class AmlasError(Exception):
    """Root of every exception raised by `amlas`."""


class UsageError(AmlasError):
    """A command or API call was given arguments it cannot use (exit status 2)."""


class ProjectNotFoundError(UsageError):
    """The given directory does not hold an AMLAS project (no ``amlas.yaml``)."""


class ProjectInvalid(AmlasError):
    """The project has errors, so it cannot be used (exit status 1 on the command line).

    ``diagnostics`` holds every problem found, each coded and located."""

    def __init__(self, diagnostics: Diagnostics) -> None:
        self.diagnostics = diagnostics
        errors = [d for d in diagnostics if d.severity.value == "error"]
        shown = "; ".join(d.format() for d in errors[:3])
        more = f" and {len(errors) - 3} more" if len(errors) > 3 else ""
        super().__init__(f"the project has {len(errors)} error(s): {shown}{more}")
