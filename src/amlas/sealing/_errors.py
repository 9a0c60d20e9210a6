"""The exceptions of sealing: a misused or unusable sealed file or key, and tampering."""

from __future__ import annotations

from amlas.errors import ProblemError

__all__ = ["SealError", "TamperError"]


class SealError(ProblemError):
    """A key, sealed file or access log cannot be used as asked (wrong key, bad format)."""

    code = "R060"


class TamperError(SealError):
    """A sealed file or access log was modified after it was written, or is damaged."""

    code = "R061"
