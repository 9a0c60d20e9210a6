"""``check``: load a project and apply every rule."""

from __future__ import annotations

from pathlib import Path

from amlas.project._loader import LoadResult, load_project
from amlas.project._rules_apply import apply_rules
from amlas.project._system import component_rules

__all__ = ["check_project"]


def check_project(root: str | Path) -> LoadResult:
    """Load the project at ``root`` and run every rule over what loaded; for an ML
    component of a system, also the rules across its system's components that concern
    it (a barrier of [C] rated by a component's own requirements, X019).

    Returns the project and all diagnostics, sorted. Raises
    :class:`~amlas.errors.ProjectNotFoundError` only when ``root`` is not a project.
    """
    result = load_project(root)
    apply_rules(result)
    if result.project.system_root is not None:
        component_rules(result)
        result.diagnostics.items = result.diagnostics.sorted()
    return result
