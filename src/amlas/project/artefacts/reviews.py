"""Review records [RV]: what people reviewed, how, what they found and what they decided.

Not an AMLAS artefact letter: AMLAS asks for reviews in many places (data requirements
judged by review, the validation of [H], the justifications of the patterns, the stage-6
review of the erroneous-behaviour log) but names no artefact that holds them. A review
record is evidence like a check's record: it supports the items and safety-case nodes it
names only while its decision is positive, no finding is still open, and every reviewed
item and document still has the SHA-256 it had when it was reviewed (``amlas review pin``
writes them).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from amlas.project.artefacts._base import ArtefactDocument, Id, Item, Text

__all__ = [
    "PENDING",
    "Finding",
    "ReviewRecord",
    "ReviewRecords",
    "ReviewedDocument",
    "ReviewedItem",
    "Reviewer",
]

PENDING = "pending"
"""The ``sha256`` of a reviewed item or document not pinned yet (``amlas review pin``)."""

Pin = Annotated[str, Field(pattern=r"^([0-9a-f]{64}|pending)$")]
"""A SHA-256 (lower-case hex) or 'pending' until ``amlas review pin`` fills it in."""

NodePattern = Annotated[str, Field(pattern=r"^[A-Za-z*?][A-Za-z0-9_.*?\-]*$")]


class Reviewer(Item):
    """One person who took part in the review."""

    name: Text
    role: Text
    """Their role, e.g. 'safety engineer', 'consultant radiologist'."""
    organisation: str = ""
    independence: Literal["author", "same_team", "independent_team", "independent_organisation"]
    """How independent of the authors of what was reviewed: author (a self-review),
    same_team, independent_team (same organisation, another team) or
    independent_organisation."""


class ReviewedItem(Item):
    """An item of an artefact that was reviewed, by ID, and its hash when reviewed."""

    item: Id
    """The ID of the item, e.g. 'DR-3' ([L]), 'MLR-2' ([H]), 'EB-1' ([DD])."""
    sha256: Pin = "pending"
    """The item's SHA-256 as amlas computes it (canonical JSON of the item) at the time of
    the review; ``amlas review pin`` writes it. A different hash now makes the review
    stale."""


class ReviewedDocument(Item):
    """A document outside the artefacts that was reviewed (a report, a data sheet)."""

    file: Text
    """Its path, relative to the project directory."""
    sha256: Pin = "pending"
    """The file's SHA-256 (as ``sha256sum`` prints it) when it was reviewed."""
    title: str = ""


class Finding(Item):
    """One finding of a review and what was done about it."""

    id: Id
    """Unique within the review, e.g. 'F1'."""
    text: Text
    severity: Literal["observation", "minor", "major", "critical"]
    disposition: Literal["open", "resolved", "accepted", "rejected"]
    """open (nothing done yet: the review supports nothing while one is open), resolved
    (fixed), accepted (the risk is accepted, with the resolution saying why) or rejected
    (not a defect, with the resolution saying why)."""
    resolution: str = ""
    """What was done, or why it was accepted or rejected; required unless open."""

    @model_validator(mode="after")
    def _explained(self) -> Finding:
        if self.disposition != "open" and not self.resolution.strip():
            raise PydanticCustomError(
                "amlas_missing",
                "a finding with disposition '{disposition}' needs 'resolution' saying what was "
                "done or why",
                {"disposition": self.disposition},
            )
        return self


class AuditSample(Item):
    """For an audit-sample review: how much of what was examined."""

    size: Annotated[int, Field(ge=1)]
    """How many units were examined."""
    population: Annotated[int, Field(ge=1)]
    """How many units there were."""
    unit: Text
    """What a unit is, e.g. 'labelled image', 'data source'."""
    selection: Text
    """How the sample was drawn (e.g. 'seeded uniform draw, seed 7')."""
    nonconforming: Annotated[int, Field(ge=0)] = 0
    """How many sampled units did not conform."""


class ReviewRecord(Item):
    """One review: what was reviewed, by whom, how, what was found and decided."""

    id_kind: ClassVar[str | None] = "review"
    id_title: ClassVar[str] = "review record"

    id: Id
    title: Text
    date: dt.date
    """When the review concluded."""
    method: Literal["walkthrough", "inspection", "audit_sample", "analysis", "other"]
    """walkthrough, inspection, audit_sample (with ``sample``), analysis or other."""
    purpose: Literal["verification", "validation"] = "verification"
    """verification: the items examined are met (the data meet a data requirement, the
    model meets an [H] requirement verified by review); validation: the [H] items
    examined are the right requirements (AMLAS stage 2, beside [J]). A review of an [H]
    item counts only for its purpose."""
    reviewers: Annotated[list[Reviewer], Field(min_length=1)]
    items: list[ReviewedItem] = Field(default_factory=list)
    """The artefact items reviewed, each with its hash when reviewed."""
    documents: list[ReviewedDocument] = Field(default_factory=list)
    """Documents outside the artefacts that were reviewed, each with its hash."""
    nodes: list[NodePattern] = Field(default_factory=list)
    """Safety-case nodes the review supports: a justification (its rationale), a goal the
    pattern leaves undeveloped (e.g. 'G6.8'), or any goal or solution it adds to; an
    instance ID ('G5.6.MLR-1'), a pattern ID ('G5.6') or a glob ('G5.6.*')."""
    sample: AuditSample | None = None
    """For method audit_sample: the sample examined."""
    summary: Text
    """What was examined and concluded, as the case quotes it."""
    findings: list[Finding] = Field(default_factory=list)
    decision: Literal["accepted", "accepted_with_conditions", "rejected"]
    """accepted, accepted_with_conditions (with ``conditions``) or rejected."""
    conditions: str = ""
    """The conditions of an acceptance with conditions."""

    @model_validator(mode="after")
    def _consistent(self) -> ReviewRecord:
        if not self.items and not self.documents and not self.nodes:
            raise PydanticCustomError(
                "amlas_missing",
                "a review names what it reviewed: 'items', 'documents' or 'nodes'",
                {},
            )
        if self.decision == "accepted_with_conditions" and not self.conditions.strip():
            raise PydanticCustomError(
                "amlas_missing", "'accepted_with_conditions' needs 'conditions'", {}
            )
        if self.method == "audit_sample" and self.sample is None:
            raise PydanticCustomError(
                "amlas_missing", "an audit_sample review states its 'sample'", {}
            )
        if self.sample is not None and self.sample.size > self.sample.population:
            raise PydanticCustomError(
                "amlas_range",
                "the sample ({size}) is larger than its population ({population})",
                {"size": self.sample.size, "population": self.sample.population},
            )
        if self.sample is not None and self.sample.nonconforming > self.sample.size:
            raise PydanticCustomError(
                "amlas_range",
                "{bad} nonconforming units in a sample of {size}",
                {"bad": self.sample.nonconforming, "size": self.sample.size},
            )
        seen: set[str] = set()
        for finding in self.findings:
            if finding.id in seen:
                raise PydanticCustomError(
                    "amlas_duplicate", "finding {id} is listed twice", {"id": finding.id}
                )
            seen.add(finding.id)
        return self

    @property
    def open_findings(self) -> list[Finding]:
        return [f for f in self.findings if f.disposition == "open"]

    @property
    def unpinned(self) -> list[str]:
        """The items and documents whose hash is still 'pending'."""
        return [x.item for x in self.items if x.sha256 == PENDING] + [
            x.file for x in self.documents if x.sha256 == PENDING
        ]


class ReviewRecords(ArtefactDocument):
    """[RV] Review records: reviews the safety case rests on (not an AMLAS letter)."""

    letter: ClassVar[str] = "RV"
    title: ClassVar[str] = "Review records"

    artefact: Literal["RV"]
    reviews: Annotated[list[ReviewRecord], Field(min_length=1)]
    """One record per review."""
