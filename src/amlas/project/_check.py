"""``check``: load a project and apply every rule."""

from __future__ import annotations

from pathlib import Path

from amlas.project._loader import LoadResult, load_project
from amlas.project.rules import run_rules

__all__ = ["check_project"]


def check_project(root: str | Path) -> LoadResult:
    """Load the project at ``root`` and run every rule over what loaded.

    Returns the project and all diagnostics, sorted. Raises
    :class:`~amlas.errors.ProjectNotFoundError` only when ``root`` is not a project.
    """
    result = load_project(root)
    run_rules(result.project, result.diagnostics)
    if result.project.hashes is not None:
        result.project.hashes.save()
    result.diagnostics.items = result.diagnostics.sorted()
    return result
