"""The Python API: the AMLAS job over objects, for notebooks and pipelines.

::

    import amlas

    project = amlas.load("examples/breast-cancer-triage")        # checked, or ProjectInvalid
    report = amlas.run(project, store="memory://demo")           # stages 3 and 4 (developer)
    case = amlas.build_case(project, store="memory://demo")      # the GSN case, every status
    html = amlas.render_report(case)                             # one offline HTML document

Each function takes the objects the previous one returned; nothing is re-read from disk
but the data and the model, which a run reads when a check needs them. Stores are given
by URI (``fs://evidence``, any SQLAlchemy URL, ``memory://NAME``) or as an open store;
the default is the manifest's ``evidence``. The command line calls the same functions
through their path-based forms (:func:`amlas.verify.run_project`,
:func:`amlas.case.build_case` with a directory).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from amlas.case import Case
from amlas.case import build_case as _build_case
from amlas.errors import ProjectInvalid
from amlas.evidence import StoreLike
from amlas.project import Project, check_project
from amlas.render import render_report as _render_report
from amlas.sealing import VerifierKey
from amlas.verify import Reporter, RunReport, execute, plan

__all__ = ["build_case", "load", "render_report", "run"]


def load(path: str | Path) -> Project:
    """The project at ``path``, loaded and checked by every rule.

    Raises :class:`~amlas.errors.ProjectInvalid` (its ``diagnostics`` say what and where)
    when the project has errors, and :class:`~amlas.errors.ProjectNotFoundError` when
    ``path`` holds no ``amlas.yaml``; warnings stay in ``project.diagnostics``."""
    project = check_project(path).project
    if project.diagnostics.has_errors:
        raise ProjectInvalid(project.diagnostics)
    return project


def run(
    project: Project,
    *,
    store: StoreLike | None = None,
    role: str = "developer",
    key: VerifierKey | None = None,
    stages: Collection[int] | None = None,
    only: Collection[str] | None = None,
    reporter: Reporter | None = None,
) -> RunReport:
    """Plan the checks of ``stages`` (default: 3 and 4 for the developer, 3 and 5 for the
    verifier) and run them, committing the records to ``store`` as one run.

    The verifier role needs ``key`` (:func:`amlas.sealing.load_key`); ``only`` narrows
    the run to those record keys (e.g. ``amlas.verify.analyse_impact(root).keys()``)."""
    work = plan(project, role=role, stages=stages, only=only)  # type: ignore[arg-type]
    return execute(work, store=store, key=key, reporter=reporter)


def build_case(
    project: Project,
    store: StoreLike | None = None,
    *,
    library: str | Path | None = None,
    key: VerifierKey | None = None,
) -> Case:
    """The safety case of ``project`` from the evidence in ``store`` (see
    :func:`amlas.case.build_case`); ``key`` (the verifier's) opens sealed detail."""
    return _build_case(project, store=store, library=library, key=key)


def render_report(case: Case, *, generated: str | None = None) -> str:
    """The report of ``case``: one self-contained HTML document (Graphviz lays out the
    diagrams)."""
    return _render_report(case, generated=generated)
