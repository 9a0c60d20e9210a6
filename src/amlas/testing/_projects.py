"""Projects to test against: a copy of a bundled example, valid and runnable."""

from __future__ import annotations

from pathlib import Path

from amlas.project import EXAMPLES, init_project

__all__ = ["example_project"]


def example_project(target: str | Path, *, example: str = EXAMPLES[0]) -> Path:
    """A fresh copy of the bundled example ``example`` at ``target`` (which must not exist
    or be empty): a complete, error-free AMLAS project with its data, model and harness,
    for a plug-in's or a pipeline's tests to load, change and run (``amlas.load``,
    ``amlas.run(project, store="memory://...")``). Returns the project's root."""
    return init_project(target, example=example)
