"""The one exception of the formal verification leg."""

from __future__ import annotations

from amlas.errors import UsageError

__all__ = ["FORMAL_HINT", "FormalError"]

FORMAL_HINT = "install the formal extra: pip install 'amlas[formal]'"


class FormalError(UsageError):
    """A network the formal leg cannot read, arguments it cannot use, or a missing
    ``onnx`` / ``maraboupy`` package."""
