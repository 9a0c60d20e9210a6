"""The rule registry: every cross-artefact rule is a function ``(project, diagnostics)``.

Rules must cope with any artefact being absent (missing or schema-invalid): they check what
is there and stay silent about the rest, so one broken file does not cascade into noise.
"""

from __future__ import annotations

from collections.abc import Callable

from amlas.diagnostics import Diagnostics
from amlas.project._project import Project

__all__ = ["READS_DATA", "RULES", "Rule", "reads_data", "rule", "run_rules"]

Rule = Callable[[Project, Diagnostics], None]
RULES: list[Rule] = []
READS_DATA: set[Rule] = set()
"""Rules that read the dataset files (content, seals, access logs): a second pass over a
partly malformed artefact skips them unless a dataset artefact is itself partial."""


def rule(function: Rule) -> Rule:
    """Register ``function`` as a project rule."""
    RULES.append(function)
    return function


def reads_data(function: Rule) -> Rule:
    """Mark a registered rule as one that reads the dataset files."""
    READS_DATA.add(function)
    return function


def run_rules(project: Project, diagnostics: Diagnostics, *, data: bool = True) -> None:
    for check in RULES:
        if data or check not in READS_DATA:
            check(project, diagnostics)
