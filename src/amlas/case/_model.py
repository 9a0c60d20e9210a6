"""The instantiated safety case: GSN nodes with a status each, the evidence they cite, and
the artefacts they point at.

A :class:`Case` is what every renderer reads. It is plain data: nodes in a stable order,
links by node ID, evidence records by digest, so that the same project and evidence give
the same case, byte for byte, in every output.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from amlas.diagnostics import Diagnostics
from amlas.evidence import EvidenceRecord, canonical_hash, detail_status
from amlas.project import TraceMatrix
from amlas.project.artefacts import ReviewRecord

__all__ = [
    "NODE_TYPES",
    "STATUSES",
    "ArtefactEntry",
    "Case",
    "CitedReview",
    "JudgedSignOff",
    "Module",
    "Node",
    "NodeType",
    "RequiredApproval",
    "Status",
    "case_digest",
]

Status = Literal["supported", "failed", "inconclusive", "undeveloped", "stale"]
STATUSES: Final[tuple[Status, ...]] = (
    "supported",
    "failed",
    "inconclusive",
    "undeveloped",
    "stale",
)
"""Every claim status, in the order reports list them."""

NodeType = Literal[
    "goal",
    "strategy",
    "solution",
    "context",
    "assumption",
    "justification",
    "counter_solution",
]
NODE_TYPES: Final[tuple[NodeType, ...]] = (
    "goal",
    "strategy",
    "solution",
    "context",
    "assumption",
    "justification",
    "counter_solution",
)

CLAIM_TYPES: Final = frozenset({"goal", "strategy"})
_STAGE: Final = re.compile(r"stage(\d+)(@|$)")


@dataclass
class Node:
    """One instantiated GSN element.

    ``id`` is unique across the case: the pattern's node ID, then the IDs of the items a
    multiplicity was expanded over (``G5.1.MLR-3``). ``status`` is this node's own status
    after propagation; ``reason`` says in one line why.
    """

    id: str
    pattern_id: str
    type: NodeType
    text: str
    module: str
    status: Status = "undeveloped"
    reason: str = ""
    supported_by: list[str] = field(default_factory=list)
    in_context_of: list[str] = field(default_factory=list)
    undeveloped: bool = False
    """The GSN 'undeveloped' marker: a goal or strategy with nothing supporting it."""
    artefacts: list[str] = field(default_factory=list)
    """Letters of the AMLAS artefacts the node points at, e.g. ['H'] or ['N', 'O', 'P']."""
    evidence: list[str] = field(default_factory=list)
    """Digests of the evidence records this solution cites."""
    reviews: list[str] = field(default_factory=list)
    """IDs of the review records [RV] this node cites (``Case.reviews``)."""
    backed_by: str | None = None
    """A context backed by another module's argument (C2.2 by G3.1, C2.3 by G4.1)."""
    challenges: str | None = None
    """A counter-solution: the ID of the goal it challenges."""
    defeated: bool = False
    """A goal that a counter-solution challenges."""
    binding: dict[str, str] = field(default_factory=dict)
    """The multiplicity items this instance was expanded for, e.g. {'requirement': 'MLR-3'}."""
    rationale: str | None = None
    """Justifications and judged goals: the recorded rationale text (None: not recorded)."""
    notes: list[str] = field(default_factory=list)
    """Why the node looks the way it does: stale inputs, checks that were not run, ..."""
    extension: bool = False
    """Not an AMLAS v1.1 node: added by the pattern library (documented in the pattern)."""
    component: str = ""
    """In a system case: the [C] ID of the ML component whose argument holds the node
    (its ID then ends in ``@<component>``); empty in a single component's case."""

    @property
    def is_claim(self) -> bool:
        return self.type in CLAIM_TYPES

    @property
    def local_id(self) -> str:
        """The ID as the component's own case writes it (no ``@component`` suffix)."""
        return self.id.removesuffix(f"@{self.component}") if self.component else self.id

    @property
    def stage(self) -> int:
        found = _STAGE.match(self.module)
        return int(found.group(1)) if found else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pattern_id": self.pattern_id,
            "type": self.type,
            "text": self.text,
            "module": self.module,
            "status": self.status,
            "reason": self.reason,
            "supported_by": list(self.supported_by),
            "in_context_of": list(self.in_context_of),
            "undeveloped": self.undeveloped,
            "artefacts": list(self.artefacts),
            "evidence": list(self.evidence),
            "reviews": list(self.reviews),
            "backed_by": self.backed_by,
            "challenges": self.challenges,
            "defeated": self.defeated,
            "binding": dict(self.binding),
            "rationale": self.rationale,
            "notes": list(self.notes),
            "extension": self.extension,
            **({"component": self.component} if self.component else {}),
        }


@dataclass(frozen=True)
class Module:
    """One stage's argument: the pattern it instantiates and the argument artefact it is."""

    name: str
    """'stage1' ... 'stage6'."""
    stage: int
    title: str
    pattern: str
    """The AMLAS pattern artefact letter, e.g. 'F'."""
    argument: str
    """The AMLAS argument artefact letter it produces, e.g. 'G'."""
    root: str
    """The module's top goal, e.g. 'G1.1'."""


@dataclass(frozen=True)
class ArtefactEntry:
    """One line of the artefact index [A]..[HH]."""

    letter: str
    title: str
    kind: str
    """EXT, PAT, DOC, DATA, MODEL, EVID or ARG (../shared/AMLAS.md §2)."""
    stage: int
    path: str | None
    """Project-relative file, or None for artefacts amlas produces or the library ships."""
    sha256: str | None
    present: bool
    note: str = ""


@dataclass(frozen=True)
class CitedReview:
    """A review record [RV] the case cites, and the status it gives what it examined."""

    record: ReviewRecord
    status: Status
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.record.model_dump(mode="json"),
            "status": self.status,
            "reason": self.reason,
        }


def case_digest(body: dict[str, Any]) -> str:
    """:meth:`Case.digest` of a case as plain JSON values (``Case.to_dict()``, or
    ``case.json`` read back): the records' bodies replaced by their digests, the
    diagnostics and the state of sealed detail left out, as canonical JSON."""
    view = {k: v for k, v in body.items() if k not in ("diagnostics", "sealed_detail")}
    evidence = view.get("evidence")
    if isinstance(evidence, dict):
        view["evidence"] = sorted(evidence)
    return canonical_hash(view)


@dataclass
class Case:
    """The whole safety case for one ML component."""

    project: str
    component: str
    library: str
    """The pattern library and version, e.g. 'amlas-1.1'."""
    root: str
    modules: list[Module]
    nodes: dict[str, Node]
    """Every node by ID, in a stable order (module, then pattern order, then items)."""
    evidence: dict[str, EvidenceRecord] = field(default_factory=dict)
    """Every record a node cites, by digest."""
    artefacts: list[ArtefactEntry] = field(default_factory=list)
    trace: TraceMatrix | None = None
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    """Instantiation problems (codes G001...): unfilled placeholders, empty multiplicities,
    unchosen choices, missing rationale."""
    stale_inputs: dict[str, list[str]] = field(default_factory=dict)
    """Record digest -> the inputs whose hash no longer matches the project."""
    reviews: dict[str, CitedReview] = field(default_factory=dict)
    """Every review record [RV] a node cites, by ID, with the status it gives."""
    components: dict[str, str] = field(default_factory=dict)
    """A system's case: each ML component's [C] ID -> what it is (its manifest's
    ``component``); empty for one component's case."""

    @property
    def top(self) -> Node:
        return self.nodes[self.root]

    def module_roots(self, module: Module) -> list[Node]:
        """The instances of a module's top goal (stage 5 has one G5.1 per requirement)."""
        return [n for n in self.nodes.values() if module.root in (n.id, n.pattern_id)]

    def module_status(self, module: Module) -> Status | None:
        """The worst status among the module's top goals; None when it has none."""
        ranks = {"supported": 0, "undeveloped": 1, "inconclusive": 2, "stale": 3, "failed": 4}
        roots = self.module_roots(module)
        if not roots:
            return None
        return max((n.status for n in roots), key=lambda s: ranks[s])

    def module_nodes(self, module: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.module == module]

    def claims(self) -> list[Node]:
        """Goals and strategies."""
        return [n for n in self.nodes.values() if n.is_claim]

    def leaf_claims(self) -> list[Node]:
        """Goals with no goal or strategy below them: what JUnit lists as test cases."""
        out = []
        for node in self.nodes.values():
            if node.type != "goal":
                continue
            if not any(self.nodes[c].is_claim for c in node.supported_by if c in self.nodes):
                out.append(node)
        return out

    def counts(self, nodes: list[Node] | None = None) -> dict[str, int]:
        """Goals per status (every status present, zero included)."""
        counter = Counter(n.status for n in (nodes if nodes is not None else self.claims()))
        return {status: counter.get(status, 0) for status in STATUSES}

    def parents(self) -> dict[str, list[str]]:
        """Node ID -> the IDs of nodes that link to it (supported_by or in_context_of)."""
        out: dict[str, list[str]] = {}
        for node in self.nodes.values():
            for child in (*node.supported_by, *node.in_context_of):
                out.setdefault(child, []).append(node.id)
        return out

    def sealed_detail(self) -> dict[str, dict[str, Any]]:
        """Record digest -> how its per-sample detail stands, for every cited record that
        has detail computed from sealed data: ``status`` 'sealed' (encrypted for the
        verifier key ``key_id``; build with the key to see it), 'opened' (put back with
        the key) or 'withheld' (never kept), the ``datasets`` and the ``fields`` concerned."""
        out: dict[str, dict[str, Any]] = {}
        for digest, record in sorted(self.evidence.items()):
            status = detail_status(record)
            if status is None:
                continue
            detail = record.sealed_detail
            if detail is not None:
                out[digest] = {
                    "status": status,
                    "key": record.key,
                    "key_id": detail.key_id,
                    "datasets": list(detail.datasets),
                    "fields": list(detail.fields),
                }
            else:
                withheld = record.resolved.get("detail_withheld")
                fields = withheld.get("fields", []) if isinstance(withheld, dict) else []
                out[digest] = {"status": status, "key": record.key, "fields": fields}
        return out

    def to_dict(self) -> dict[str, Any]:
        """The full model as plain JSON values (``amlas.case/1``)."""
        return self._body(records=True)

    def digest(self) -> str:
        """The SHA-256 of the case as built: every node with its status, reason and
        notes, the digest of every record it cites (a record's content address, so the
        record itself), every artefact's hash, every review it cites, the trace and the
        modules, as canonical JSON. Left out: the records' bodies (bound by their
        digests; their per-sample detail may be opened for the verifier key or not), how
        that detail stands, and the diagnostics (problems of the files, not claims). The
        same project and evidence give the same digest, with or without the key; a sign-
        off (``amlas sign``) and an assessor's bundle are made over it."""
        return case_digest(self._body(records=False))

    def _body(self, *, records: bool) -> dict[str, Any]:
        return {
            "schema": "amlas.case/1",
            "project": self.project,
            "component": self.component,
            "library": self.library,
            "root": self.root,
            "status": self.top.status,
            "counts": self.counts(),
            "modules": [
                {
                    "name": m.name,
                    "stage": m.stage,
                    "title": m.title,
                    "pattern": m.pattern,
                    "argument": m.argument,
                    "root": m.root,
                    "status": self.module_status(m),
                }
                for m in self.modules
            ],
            "nodes": [n.to_dict() for n in self.nodes.values()],
            "evidence": (
                {digest: record.to_dict() for digest, record in sorted(self.evidence.items())}
                if records
                else sorted(self.evidence)
            ),
            "sealed_detail": self.sealed_detail(),
            "stale_inputs": {k: list(v) for k, v in sorted(self.stale_inputs.items())},
            "reviews": {rid: review.to_dict() for rid, review in sorted(self.reviews.items())},
            **({"components": dict(self.components)} if self.components else {}),
            "artefacts": [
                {
                    "letter": a.letter,
                    "title": a.title,
                    "kind": a.kind,
                    "stage": a.stage,
                    "path": a.path,
                    "sha256": a.sha256,
                    "present": a.present,
                    "note": a.note,
                }
                for a in self.artefacts
            ],
            "trace": self.trace.to_dict() if self.trace is not None else None,
            "diagnostics": [d.to_dict() for d in self.diagnostics.sorted()],
        }


SignOffStatus = Literal["current", "stale", "superseded", "invalid", "unpinned"]


@dataclass
class JudgedSignOff:
    """One sign-off statement of the project and how it stands against the case now."""

    file: str
    """Project-relative path of the statement."""
    status: SignOffStatus
    """current (valid, over this case), stale (valid, over an earlier case), superseded
    (a later decision of the same person on the same scope replaced it), invalid, or
    unpinned (valid, but its signer is not among the people whose keys the reader pinned:
    it counts for nothing there)."""
    reason: str
    signer: str = ""
    name: str = ""
    organisation: str = ""
    role: str = ""
    independence: str = ""
    decision: str = ""
    scope: str = ""
    scope_status: str = ""
    comment: str = ""
    signed_at: str = ""
    digest: str = ""
    key_id: str = ""
    public_key: str = ""
    """The key it is signed with, as declared (``ed25519:...``)."""
    changes: list[str] = field(default_factory=list)
    """For a stale sign-off: what changed in the case since it was signed."""
    code: str = ""
    """For an invalid one: the diagnostic code saying why (A001 ... A004)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "status": self.status,
            "reason": self.reason,
            "signer": self.signer,
            "name": self.name,
            "organisation": self.organisation,
            "role": self.role,
            "independence": self.independence,
            "decision": self.decision,
            "scope": self.scope,
            "scope_status": self.scope_status,
            "comment": self.comment,
            "signed_at": self.signed_at,
            "case_digest": self.digest,
            "key_id": self.key_id,
            "public_key": self.public_key,
            "changes": list(self.changes),
        }


ApprovalStatus = Literal["approved", "awaited", "stale", "rejected"]


@dataclass
class RequiredApproval:
    """One approval ``case.approvals`` requires: a role on a scope, and how it stands."""

    scope: str
    role: str
    status: ApprovalStatus
    reason: str
    by: JudgedSignOff | None = None
    """The sign-off that decides it (approved, rejected, stale), if any."""
    independence: str | None = None
    component: str = ""
    """In a system: the ML component whose own project requires it ('' for the system's)."""

    @property
    def where(self) -> str:
        """The scope as the system's case names it (``G1.1@CMP-1`` for a component's)."""
        return f"{self.scope}@{self.component}" if self.component else self.scope

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "role": self.role,
            "status": self.status,
            "reason": self.reason,
            "by": self.by.to_dict() if self.by is not None else None,
            "independence": self.independence,
            **({"component": self.component} if self.component else {}),
        }
