"""``amlas review``: the review records [RV] of a project.

``amlas review list DIR`` shows each review and the status it gives what it examined
(the case's own judgement, :func:`amlas.case.review_statuses`); ``amlas review pin DIR
ID`` writes into review ID the hash of everything it examined
(:func:`amlas.evidence.pin_review`), the reviewer's statement that these versions are the
ones reviewed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from amlas.case import review_statuses
from amlas.cli._common import EXIT_ERRORS, EXIT_OK, console, print_diagnostics, refuse_system
from amlas.errors import UsageError
from amlas.evidence import pin_review
from amlas.project import check_project
from amlas.project.artefacts import ReviewRecords
from amlas.render import VERDICT_STYLE

__all__ = ["review"]

_STYLE = {
    "supported": VERDICT_STYLE.get("pass", ""),
    "failed": VERDICT_STYLE.get("fail", ""),
    "inconclusive": VERDICT_STYLE.get("inconclusive", ""),
    "stale": VERDICT_STYLE.get("inconclusive", ""),
    "undeveloped": "",
}


@click.group()
def review() -> None:
    """Review records [RV]: list them with their status, pin what a review examined.

    \b
    amlas review list DIR          every review, and the status it gives what it examined
    amlas review pin DIR ID        write the current hash of every item and document
                                   review ID examined into it (after the review)
    """


@review.command("list")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def list_reviews(directory: Path) -> None:
    """Each review of DIRECTORY: date, decision, and the status it gives what it examined
    (supported, failed, inconclusive with open findings, stale when what it examined
    changed, undeveloped while not pinned)."""
    refuse_system(directory, "amlas review list")
    loaded = check_project(directory)
    project = loaded.project
    reviews = project.get("RV", ReviewRecords)
    if loaded.diagnostics.has_errors:
        print_diagnostics(loaded.diagnostics, str(directory))
        sys.exit(EXIT_ERRORS)
    if reviews is None:
        click.echo(f"{directory} has no review records ({project.files.get('RV')})")
        sys.exit(EXIT_OK)
    statuses = review_statuses(project)
    out = console(wide=True)
    for record in reviews.reviews:
        status, reason = statuses[record.id]
        out.print(
            f"{record.id}  {record.date.isoformat()}  {record.decision:<24} {status}",
            markup=False,
            style=_STYLE[status],
        )
        out.print(f"  {record.title}: {reason}", markup=False)


@review.command("pin")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("review_id")
def pin(directory: Path, review_id: str) -> None:
    """Write into review REVIEW_ID of DIRECTORY the current SHA-256 of every item and
    document it names: the statement that these versions are what was reviewed. Run it
    when the review concludes; a later change to any of them makes the review stale."""
    refuse_system(directory, "amlas review pin")
    if not (directory / "amlas.yaml").is_file():
        raise UsageError(f"{str(directory)!r} holds no amlas.yaml")
    pins = pin_review(directory, review_id)
    for p in pins:
        was = "unchanged" if not p.changed else f"was {p.before[:12]}"
        click.echo(f"{p.review}: {p.subject} sha256 {p.after[:12]}... ({was})")
    changed = sum(p.changed for p in pins)
    click.echo(f"pinned {len(pins)} entries of {review_id} ({changed} changed)")
