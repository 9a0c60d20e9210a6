"""Diagnostics: problems in a user's project, collected, located and printed in one format.

This is a shared leaf: it imports nothing else from `amlas`.
"""

from amlas.diagnostics._codes import CODES, Code
from amlas.diagnostics._diagnostic import Diagnostic, Diagnostics, Location, Severity
from amlas.diagnostics._docs import render_markdown
from amlas.diagnostics._suggest import did_you_mean, suggest

__all__ = [
    "CODES",
    "Code",
    "Diagnostic",
    "Diagnostics",
    "Location",
    "Severity",
    "did_you_mean",
    "render_markdown",
    "suggest",
]
