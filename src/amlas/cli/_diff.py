"""``amlas diff``: what changed in the safety case, since a git revision or between two
assessor's bundles (docs/signoff.md#what-changed).

The earlier side of ``amlas diff DIR --since REV`` is the project as git holds it at REV,
exported into a temporary folder (:func:`amlas.verify.revision_tree`, as ``amlas impact
--since`` reads a revision) and built there. Files git does not hold at REV (data and
models kept outside git, or in LFS: a pointer file counts as absent) cannot be hashed as
they were: their hashes are taken from the records REV's evidence store cites, as if
REV's evidence was current with them, and the output says so. A project whose evidence
store is not in git at REV has no evidence there, and the output says that too.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import click

from amlas.bundle import verify_bundle
from amlas.case import (
    CaseDiff,
    Snapshot,
    SystemCase,
    build_case,
    build_system_case,
    diff_snapshots,
    judge_approvals,
    snapshot,
)
from amlas.cli._common import EXIT_ERRORS, EXIT_OK, print_diagnostic_lines
from amlas.cli._signoff import built_case
from amlas.errors import ProblemError
from amlas.evidence import FILE_INPUTS, ProjectInputs, StoreError, open_store
from amlas.project import (
    MANIFEST_FILE,
    Project,
    bind_siblings,
    check_project,
    is_system_dir,
    load_system,
)
from amlas.render import render_diff_json, render_diff_markdown, render_diff_text
from amlas.verify import revision_tree

__all__ = ["bundle_snapshot", "diff", "project_snapshot", "revision_snapshot"]


def project_snapshot(directory: Path, label: str, notes: list[str] | None = None) -> Snapshot:
    """The snapshot of the project (or system) at ``directory`` as it is on disk."""
    built = built_case(directory)
    return snapshot(built, label, approvals=judge_approvals(built), notes=notes or [])


def bundle_snapshot(path: Path) -> Snapshot:
    """The snapshot of an assessor's bundle, verified first (a diff over a bundle that does
    not verify would compare what nobody vouches for)."""
    verdict = verify_bundle(path)
    if not verdict.verified or verdict.built is None:
        print_diagnostic_lines(verdict.diagnostics.sorted(), stderr=True)
        raise ProblemError(
            f"{path} does not verify ({len(verdict.diagnostics)} problem(s), above): "
            "'amlas verify-bundle' says more",
            code="B001" if not verdict.diagnostics.items else verdict.diagnostics.items[0].code,
            path=str(path),
        )
    created = (verdict.manifest or {}).get("created_at", "?")
    return snapshot(verdict.built, f"bundle {path.name} ({created})", approvals=verdict.approvals)


def _state_absent_files(project: Project) -> list[str]:
    """For the file inputs REV's records cite whose file git does not hold at REV: the
    hash those records cite (the most cited, when they disagree). Returns notes."""
    cited: dict[str, Counter[str]] = {}
    try:
        with open_store(project.manifest.evidence, root=project.root) as store:
            current = store.list()
            for _key, digest in current:
                for name, value in store.get(digest).inputs.items():
                    if name.partition(":")[0] in FILE_INPUTS and value:
                        cited.setdefault(name, Counter())[value] += 1
    except StoreError:
        current = []
    notes = []
    if not current:
        notes.append(
            f"no evidence records ({project.manifest.evidence} is not in git there, or empty)"
        )
    inputs = ProjectInputs(project)
    absent: dict[str, str | None] = {
        n: c.most_common(1)[0][0] for n, c in cited.items() if inputs.current(n) is None
    }
    if absent:
        project.stated_inputs = absent
        notes.append(
            f"{len(absent)} file(s) not in git there ({', '.join(sorted(absent)[:4])}"
            + (" ..." if len(absent) > 4 else "")
            + "): their hashes taken from the records it holds, as if current then"
        )
    return notes


def revision_snapshot(directory: Path, revision: str) -> Snapshot:
    """The snapshot of the project at ``directory`` as git holds it at ``revision``."""
    with revision_tree(directory, revision) as (folder, commit):
        if not (folder / MANIFEST_FILE).is_file():
            raise ProblemError(
                f"{directory} has no {MANIFEST_FILE} at {revision} ({commit})",
                code="R002",
                path=str(directory),
            )
        notes: list[str] = []
        if is_system_dir(folder):
            system = load_system(folder)
            for component_id, project in system.components.items():
                notes += [f"{component_id}: {n}" for n in _state_absent_files(project)]
            bind_siblings(system)  # a hazard record cites a sibling's inputs: REV's
            built = build_system_case(system)
        else:
            project = check_project(folder).project
            notes += _state_absent_files(project)
            built = SystemCase(build_case(project), project=project)
        return snapshot(
            built, f"{revision} ({commit})", approvals=judge_approvals(built), notes=notes
        )


def compare(first: Path, second: Path | None, since: str | None) -> CaseDiff:
    """The diff ``amlas diff`` prints (see :func:`diff`)."""
    if first.is_dir():
        if since is None and second is None:
            raise click.UsageError("give --since REV, or a second project directory")
        if since is not None and second is not None:
            raise click.UsageError("give --since REV or a second directory, not both")
        if since is not None:
            return diff_snapshots(
                revision_snapshot(first, since), project_snapshot(first, "working tree")
            )
        assert second is not None
        if not second.is_dir():
            raise click.UsageError(f"{second} is not a project directory")
        return diff_snapshots(
            project_snapshot(first, str(first)), project_snapshot(second, str(second))
        )
    if second is None or since is not None:
        raise click.UsageError("two bundles: amlas diff BUNDLE_A BUNDLE_B")
    if second.is_dir():
        raise click.UsageError(f"{second} is a folder; give the second bundle's archive")
    return diff_snapshots(bundle_snapshot(first), bundle_snapshot(second))


@click.command("diff")
@click.argument("first", type=click.Path(exists=True, path_type=Path))
@click.argument("second", type=click.Path(exists=True, path_type=Path), required=False)
@click.option("--since", metavar="REV", default=None, help="A git revision of FIRST's repository.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="markdown: a pull-request comment.",
)
@click.option(
    "--exit-code",
    is_flag=True,
    help="Exit 1 when anything changed (the case, requirements, people, sign-offs).",
)
def diff(first: Path, second: Path | None, since: str | None, fmt: str, exit_code: bool) -> None:
    """What changed in the safety case: DIR since git revision REV, or BUNDLE_A to BUNDLE_B.

    \b
    amlas diff DIR --since REV        the project at REV (git) -> DIR as it is now
    amlas diff BUNDLE_A BUNDLE_B      two assessor's bundles, each verified first
    amlas diff DIR_A DIR_B            two project directories

    Claims whose status changed, requirements whose text, threshold or confidence
    changed, evidence whose verdict, estimate or bound moved, nodes added or removed, and
    sign-offs made stale.
    """
    result = compare(first, second, since)
    if fmt == "json":
        click.echo(render_diff_json(result), nl=False)
    elif fmt == "markdown":
        click.echo(render_diff_markdown(result), nl=False)
    else:
        click.echo(render_diff_text(result), nl=False)
    sys.exit(EXIT_ERRORS if exit_code and not result.same else EXIT_OK)
