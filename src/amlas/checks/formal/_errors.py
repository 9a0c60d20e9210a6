"""The one exception of the formal verification leg."""

from __future__ import annotations

from amlas.errors import ProblemError, install_hint

__all__ = ["FORMAL_HINT", "FormalError"]

FORMAL_HINT = install_hint("formal")


class FormalError(ProblemError):
    """A network the formal leg cannot read, arguments it cannot use, or a missing
    ``onnx`` / ``maraboupy`` package."""

    code = "R040"
