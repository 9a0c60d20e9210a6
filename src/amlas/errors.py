"""The exceptions `amlas` raises.

Problems in a user's project files are *diagnostics* (see :mod:`amlas.diagnostics`),
collected and reported together; exceptions are for misuse of the API and for
conditions that stop a command outright. Every exception derives from one root::

    AmlasError
    └── UsageError                 a command or API call got arguments it cannot use
        └── ProjectNotFoundError   the directory holds no AMLAS project
"""

from __future__ import annotations

__all__ = ["AmlasError", "ProjectNotFoundError", "UsageError"]


class AmlasError(Exception):
    """Root of every exception raised by `amlas`."""


class UsageError(AmlasError):
    """A command or API call was given arguments it cannot use (exit status 2)."""


class ProjectNotFoundError(UsageError):
    """The given directory does not hold an AMLAS project (no ``amlas.yaml``)."""
