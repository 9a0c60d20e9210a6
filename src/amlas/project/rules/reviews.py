"""Review records [RV]: what a review names exists, and what it pins is pinned (X015,
X016, Q024). Whether a review still holds (its items unchanged, no finding open, a
positive decision) is the safety case's to say: it is a status, not a defect of the
files."""

from __future__ import annotations

from amlas.diagnostics import Diagnostics, did_you_mean
from amlas.project._paths import path_problem, probe
from amlas.project._project import Project
from amlas.project.artefacts import ARTEFACTS, ReviewRecords
from amlas.project.rules._registry import rule


@rule
def reviewed_items_exist(project: Project, diagnostics: Diagnostics) -> None:
    reviews = project.get("RV", ReviewRecords)
    if reviews is None:
        return
    index = project.index()
    # an ID in an artefact that did not load cannot be found, and that failure is reported
    unloaded = any(
        letter not in project.artefacts and (project.root / project.files[letter]).exists()
        for letter in ARTEFACTS
        if letter in project.files
    )
    known = sorted(d.id for d in index.values() if d.kind != "review")
    for i, review in enumerate(reviews.reviews):
        for j, item in enumerate(review.items):
            target = index.get(item.item)
            if target is None and not unloaded:
                diagnostics.add(
                    "X015",
                    f"review {review.id} names {item.item!r}, which is no item of the project",
                    project.locate("RV", ("reviews", i, "items", j, "item")),
                    hint=did_you_mean(item.item, known),
                )
            elif target is not None and target.kind == "review":
                diagnostics.add(
                    "X015",
                    f"review {review.id} names {item.item!r}, which is a review record: a "
                    "review of a review names what that review examined",
                    project.locate("RV", ("reviews", i, "items", j, "item")),
                )
        for j, document in enumerate(review.documents):
            where = project.locate("RV", ("reviews", i, "documents", j, "file"))
            problem = path_problem(project.root, document.file)
            if problem is None and probe(project.root / document.file) != "file":
                problem = "is no file of the project"
            if problem is not None:
                diagnostics.add(
                    "X016",
                    f"review {review.id} names document {document.file!r}, which {problem}",
                    where,
                    hint="documents are files inside the project directory, by relative path",
                )


@rule
def reviews_are_pinned(project: Project, diagnostics: Diagnostics) -> None:
    reviews = project.get("RV", ReviewRecords)
    if reviews is None:
        return
    for i, review in enumerate(reviews.reviews):
        pending = review.unpinned
        if pending:
            diagnostics.add(
                "Q024",
                f"review {review.id} has not pinned what it reviewed ({', '.join(pending)}): "
                "until it does it supports nothing, since nobody could tell whether those "
                "changed after the review",
                project.locate("RV", ("reviews", i)),
                hint=f"run 'amlas review pin DIR {review.id}' once the review is done",
            )
