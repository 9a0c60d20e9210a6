"""The rule registry: every cross-artefact rule is a function ``(project, diagnostics)``.

Rules must cope with any artefact being absent (missing or schema-invalid): they check what
is there and stay silent about the rest, so one broken file does not cascade into noise.
"""

from __future__ import annotations

from collections.abc import Callable

from amlas.diagnostics import Diagnostics
from amlas.project._project import Project

__all__ = ["RULES", "Rule", "rule", "run_rules"]

Rule = Callable[[Project, Diagnostics], None]
RULES: list[Rule] = []


def rule(function: Rule) -> Rule:
    """Register ``function`` as a project rule."""
    RULES.append(function)
    return function


def run_rules(project: Project, diagnostics: Diagnostics) -> None:
    for check in RULES:
        check(project, diagnostics)
