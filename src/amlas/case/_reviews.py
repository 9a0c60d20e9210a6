"""Review records [RV] as evidence: the status a review gives what it examined.

A review supports an item or a node only while all of these hold, checked in this order
(the first that fails gives the status):

* everything it examined is pinned (``sha256`` not ``pending``), else ``undeveloped``;
* every reviewed item and document still has the pinned hash, else ``stale`` (it changed
  after the review: the review says nothing about the version there is now);
* its decision is not ``rejected``, else ``failed``;
* no finding is still ``open``, else ``inconclusive``;
* then ``supported`` (an acceptance with conditions says its conditions).

Where several reviews examined the same item or name the same node, the latest (by date)
decides: a later review supersedes an earlier one; reviews of the same date all count and
the worst decides. Who reviewed and how independent of the authors they were is said in
the reason; a self-review is noted on the node.
"""

from __future__ import annotations

from collections.abc import Iterable

from amlas.case._model import Node, Status
from amlas.case._status import names_node, worst
from amlas.checks import clopper_pearson
from amlas.evidence import ProjectInputs
from amlas.project import Project
from amlas.project.artefacts import ReviewRecord, ReviewRecords

__all__ = ["ReviewJudge", "review_statuses"]

Part = tuple[Status, str]

_INDEPENDENCE = {
    "author": "a self-review",
    "same_team": "by the authors' team",
    "independent_team": "by an independent team",
    "independent_organisation": "by an independent organisation",
}


class ReviewJudge:
    """The review records of a project, and the status each gives."""

    def __init__(self, project: Project, inputs: ProjectInputs) -> None:
        document = project.get("RV", ReviewRecords)
        self.records: list[ReviewRecord] = list(document.reviews) if document else []
        self.inputs = inputs
        self._status: dict[str, Part] = {}
        self.used: set[str] = set()
        """IDs of the reviews some node cites."""

    # -- which reviews -----------------------------------------------------------------------

    def of_item(self, item_id: str) -> list[ReviewRecord]:
        return [r for r in self.records if any(x.item == item_id for x in r.items)]

    def of_node(self, node: Node) -> list[ReviewRecord]:
        return [r for r in self.records if any(names_node(p, node) for p in r.nodes)]

    # -- their status ------------------------------------------------------------------------

    def status(self, review: ReviewRecord) -> Part:
        if review.id not in self._status:
            self._status[review.id] = self._judge(review)
        return self._status[review.id]

    def _judge(self, review: ReviewRecord) -> Part:
        head = f"review {review.id} ({review.date.isoformat()})"
        pending = review.unpinned
        if pending:
            return "undeveloped", (
                f"{head} has not pinned {', '.join(pending)} (amlas review pin DIR {review.id})"
            )
        changed = []
        for item in review.items:
            now = self.inputs.review_pin(item.item, review.purpose)
            if now != item.sha256:
                what = "removed" if now is None else "it or what it was judged on changed"
                changed.append(f"{item.item} ({what})")
        for document in review.documents:
            now = self.inputs.current(f"file:{document.file}")
            if now != document.sha256:
                changed.append(f"{document.file} ({'removed' if now is None else 'changed'})")
        if changed:
            return "stale", f"{head}: changed since it was reviewed: {', '.join(changed)}"
        who = _reviewers(review)
        if review.decision == "rejected":
            return "failed", f"{head} rejected it ({who}): {review.summary}"
        if review.open_findings:
            listed = ", ".join(f"{f.id} ({f.severity})" for f in review.open_findings)
            return "inconclusive", f"{head}: findings still open: {listed}"
        sample = _sample(review)
        if review.decision == "accepted_with_conditions":
            return "supported", (
                f"{head} accepted it with conditions ({who}): {review.conditions}{sample}"
            )
        return "supported", f"{head} accepted it ({who}){sample}"

    def decide(self, reviews: Iterable[ReviewRecord], node: Node) -> Part | None:
        """The status the latest of ``reviews`` gives (None: there is none); cites them
        on ``node``."""
        reviews = list(reviews)
        if not reviews:
            return None
        latest = max(r.date for r in reviews)
        current = [r for r in reviews if r.date == latest]
        superseded = [r.id for r in reviews if r.date != latest]
        parts = [self.status(r) for r in current]
        for review in reviews:
            self.used.add(review.id)
            if review.id not in node.reviews:
                node.reviews.append(review.id)
        for review in current:
            if all(r.independence == "author" for r in review.reviewers):
                node.notes.append(
                    f"review {review.id} is a self-review: every reviewer is an author"
                )
        if superseded:
            node.notes.append(
                f"superseded by the review of {latest.isoformat()}: {', '.join(superseded)}"
            )
        status = worst(s for s, _ in parts)
        return status, "; ".join(reason for s, reason in parts if s == status)


def _reviewers(review: ReviewRecord) -> str:
    people = [f"{r.name}, {r.role}, {_INDEPENDENCE[r.independence]}" for r in review.reviewers]
    return f"{review.method.replace('_', ' ')} by " + "; ".join(people)


def _sample(review: ReviewRecord) -> str:
    sample = review.sample
    if sample is None:
        return ""
    bound = clopper_pearson(sample.nonconforming, sample.size, confidence=0.95, sided="upper").upper
    return (
        f"; audit sample of {sample.size} of {sample.population} {sample.unit}s, "
        f"{sample.nonconforming} nonconforming (95% upper bound on the nonconforming "
        f"share: {bound:.3g})"
    )


def review_statuses(project: Project) -> dict[str, Part]:
    """Every review record of ``project`` -> the status it gives what it examined, and
    why (``amlas review list``)."""
    judge = ReviewJudge(project, ProjectInputs(project))
    return {review.id: judge.status(review) for review in judge.records}
