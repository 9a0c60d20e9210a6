"""The exceptions `amlas` raises.

Problems in a user's project files are *diagnostics* (see :mod:`amlas.diagnostics`),
collected and reported together; exceptions are for misuse of the API and for
conditions that stop a command outright. Every exception derives from one root::

    AmlasError
    ├── UsageError            a command or API call was given arguments it cannot use
    │   └── ProjectNotFoundError   the directory holds no AMLAS project
    └── ProjectInvalidError   an operation needs a project without errors and got one with some
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from amlas.diagnostics import Diagnostic

__all__ = ["AmlasError", "ProjectInvalidError", "ProjectNotFoundError", "UsageError"]


class AmlasError(Exception):
    """Root of every exception raised by `amlas`."""


class UsageError(AmlasError):
    """A command or API call was given arguments it cannot use (exit status 2)."""


class ProjectNotFoundError(UsageError):
    """The given directory does not hold an AMLAS project (no ``amlas.yaml``)."""


class ProjectInvalidError(AmlasError):
    """An operation needs an error-free project; ``diagnostics`` says what is wrong."""

    def __init__(self, message: str, diagnostics: list[Diagnostic]) -> None:
        super().__init__(message)
        self.diagnostics = diagnostics
