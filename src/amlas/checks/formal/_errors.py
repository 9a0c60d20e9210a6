"""The one exception of the formal verification leg."""

from __future__ import annotations

from amlas.errors import ProblemError, UsageError

__all__ = ["FORMAL_HINT", "FormalError"]

FORMAL_HINT = "install the formal extra: pip install 'amlas[formal]'"


class FormalError(ProblemError, UsageError):
    """A network the formal leg cannot read, arguments it cannot use, or a missing

    code = "R040"
    ``onnx`` / ``maraboupy`` package."""
