"""What changed between two builds of a safety case (``amlas diff``, the report's "What
changed").

A :class:`Snapshot` is one side: the case as plain JSON values (``Case.to_dict()``, or a
bundle's ``case/case.json``), the ML safety and data requirements of its project(s), and
its sign-offs as judged against it. :func:`diff_snapshots` compares two and returns a
:class:`CaseDiff`:

- claims (goals and strategies) whose status changed, and how many other nodes did;
- nodes added and removed;
- requirements of [H] and [L] whose text, threshold, confidence or other fields changed,
  added or removed;
- evidence whose verdict, estimate or bound moved (record by record key, slice by slice),
  new and no longer cited;
- sign-offs made stale: current over the earlier case, stale over the later one.

Renderers (:mod:`amlas.render`) print it as text, JSON and Markdown; the report marks the
changed nodes in its diagrams.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from amlas.case._model import CLAIM_TYPES, JudgedSignOff, case_digest
from amlas.case._signoff import Approvals
from amlas.case._system import SystemCase
from amlas.project import Project

__all__ = [
    "CaseDiff",
    "EvidenceChange",
    "NodeChange",
    "RequirementChange",
    "Snapshot",
    "StatusChange",
    "diff_snapshots",
    "snapshot",
]

_RESULT_FIELDS = ("estimate", "lower", "upper", "bound", "threshold", "samples", "verdict")
_REQUIREMENT_FIELDS = ("text", "threshold", "confidence")


@dataclass
class Snapshot:
    """One side of a diff."""

    label: str
    """What it is, e.g. 'HEAD~3 (1a2b3c4)', 'bundle release-1.zip', 'working tree'."""
    case: dict[str, Any]
    """The case as plain JSON values (``Case.to_dict()``)."""
    requirements: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Every [H] and [L] item by ID (``ID@component`` in a system), as JSON values."""
    signoffs: list[JudgedSignOff] = field(default_factory=list)
    """Its sign-offs, judged against this case."""
    notes: list[str] = field(default_factory=list)
    """How it was made, where that matters (hashes taken as stated, a store not in git)."""
    people: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Who may sign (``people:`` of amlas.yaml) by ID (``ID@component`` in a component)."""
    approvals: list[dict[str, Any]] = field(default_factory=list)
    """The approvals the gate requires (``case.approvals``), as JSON values."""

    @property
    def digest(self) -> str:
        return case_digest(self.case)


def _requirements(projects: Mapping[str, Project]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for component, project in projects.items():
        suffix = f"@{component}" if component else ""
        for document in (project.ml_requirements, project.data_requirements):
            for item in document.requirements if document is not None else []:
                out[item.id + suffix] = item.model_dump(mode="json", by_alias=True)
    return out


def snapshot(
    built: SystemCase,
    label: str,
    *,
    approvals: Mapping[str, Approvals] | None = None,
    notes: Iterable[str] = (),
) -> Snapshot:
    """The snapshot of a built case (a project's, or a system's with its components'),
    with its sign-offs as ``approvals`` (:func:`~amlas.case.judge_approvals`) judged them."""
    if built.system is not None:
        projects: dict[str, Project] = dict(built.system.components)
        manifests = {"": built.system.project, **projects}
    else:
        projects = {"": built.project} if built.project is not None else {}
        manifests = dict(projects)
    people: dict[str, dict[str, Any]] = {}
    rules: list[dict[str, Any]] = []
    for component, project in manifests.items():
        suffix = f"@{component}" if component else ""
        for person in project.manifest.people:
            people[person.id + suffix] = person.model_dump(mode="json")
        rules += [
            {**rule.model_dump(mode="json"), "component": component}
            for rule in project.manifest.case.approvals
        ]
    return Snapshot(
        label,
        built.case.to_dict(),
        _requirements(projects),
        [s for judged in (approvals or {}).values() for s in judged.signoffs],
        list(notes),
        people,
        rules,
    )


@dataclass(frozen=True)
class StatusChange:
    node: str
    type: str
    text: str
    before: str
    after: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class NodeChange:
    node: str
    type: str
    text: str
    status: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RequirementChange:
    id: str
    change: str
    """'changed', 'added' or 'removed'."""
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """For a changed requirement: field -> (before, after)."""

    def describe(self) -> str:
        if self.change != "changed":
            return self.change
        parts = []
        for name, (old, new) in self.fields.items():
            if name == "text":
                parts.append("text changed")
            elif isinstance(old, (int, float, str, type(None))) and isinstance(
                new, (int, float, str, type(None))
            ):
                parts.append(f"{name} {old} -> {new}")
            else:
                parts.append(f"{name} changed")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "change": self.change,
            "fields": {k: {"before": v[0], "after": v[1]} for k, v in self.fields.items()},
        }


@dataclass(frozen=True)
class EvidenceChange:
    key: str
    change: str
    """'moved' (verdict, estimate, bound or threshold), 'changed' (another part of it),
    'added' (newly cited) or 'removed' (no longer cited)."""
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    moves: tuple[str, ...] = ()
    """One line per value that moved, e.g. "slice 'small': bound 0.93 -> 0.89"."""

    def describe(self) -> str:
        if self.change == "added":
            return f"newly cited: verdict {(self.after or {}).get('verdict')}"
        if self.change == "removed":
            return f"no longer cited (was {(self.before or {}).get('verdict')})"
        if self.moves:
            return "; ".join(self.moves)
        return "recomputed, same verdict, estimates and bounds"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "change": self.change,
            "before": self.before,
            "after": self.after,
            "moves": list(self.moves),
        }


@dataclass
class CaseDiff:
    """What changed from ``before`` to ``after``."""

    before: str
    after: str
    before_digest: str
    after_digest: str
    claims: list[StatusChange] = field(default_factory=list)
    other_moves: list[StatusChange] = field(default_factory=list)
    """Solutions, contexts and justifications whose status changed."""
    added: list[NodeChange] = field(default_factory=list)
    removed: list[NodeChange] = field(default_factory=list)
    reworded: list[str] = field(default_factory=list)
    """Nodes whose text changed, status unchanged."""
    requirements: list[RequirementChange] = field(default_factory=list)
    evidence: list[EvidenceChange] = field(default_factory=list)
    stale_signoffs: list[JudgedSignOff] = field(default_factory=list)
    signoffs: list[str] = field(default_factory=list)
    """Sign-off statements added, removed, or whose status changed (a deleted rejection
    shows here), one line each."""
    people: list[str] = field(default_factory=list)
    """People added, removed, or whose key, roles or independence changed; and changes to
    the approvals the gate requires. A changed key is worth an assessor's look: anyone who
    can edit amlas.yaml can declare a key of their own."""
    notes: list[str] = field(default_factory=list)

    @property
    def same(self) -> bool:
        """Whether nothing changed: the same case (digest), requirements, people, approvals
        required and sign-offs."""
        return (
            self.before_digest == self.after_digest
            and not self.requirements
            and not self.signoffs
            and not self.people
        )

    def changed_nodes(self) -> dict[str, str]:
        """Node ID -> how it changed ('status', 'added', 'text'), for marking diagrams."""
        out = {c.node: "status" for c in (*self.claims, *self.other_moves)}
        out.update({n.node: "added" for n in self.added})
        for node_id in self.reworded:
            out.setdefault(node_id, "text")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "amlas.case-diff/1",
            "before": {"label": self.before, "case_digest": self.before_digest},
            "after": {"label": self.after, "case_digest": self.after_digest},
            "same": self.same,
            "claims": [c.to_dict() for c in self.claims],
            "other_status_changes": [c.to_dict() for c in self.other_moves],
            "nodes_added": [n.to_dict() for n in self.added],
            "nodes_removed": [n.to_dict() for n in self.removed],
            "nodes_reworded": list(self.reworded),
            "requirements": [r.to_dict() for r in self.requirements],
            "evidence": [e.to_dict() for e in self.evidence],
            "signoffs_made_stale": [s.to_dict() for s in self.stale_signoffs],
            "signoffs": list(self.signoffs),
            "people": list(self.people),
            "notes": list(self.notes),
        }


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _view(record: Mapping[str, Any]) -> dict[str, Any]:
    """What of a record the diff compares: its verdict and, per slice (or result), the
    estimate, interval, bound, sample count and verdict."""
    results = record.get("results")
    slices: dict[str, dict[str, Any]] = {}
    if isinstance(results, list):
        for i, item in enumerate(results):
            if isinstance(item, Mapping):
                name = str(item.get("slice", item.get("name", i)))
                slices[name] = {k: item[k] for k in _RESULT_FIELDS if k in item}
    elif isinstance(results, Mapping):
        slices["all"] = {k: results[k] for k in _RESULT_FIELDS if k in results}
    return {"verdict": record.get("verdict"), "slices": slices}


def _moves(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    lines = []
    if before["verdict"] != after["verdict"]:
        lines.append(f"verdict {before['verdict']} -> {after['verdict']}")
    old, new = before["slices"], after["slices"]
    for name in [*old, *(n for n in new if n not in old)]:
        if name not in new:
            lines.append(f"slice {name!r} gone")
            continue
        if name not in old:
            lines.append(f"slice {name!r} new")
            continue
        moved = [
            f"{k} {_number(old[name].get(k))} -> {_number(new[name].get(k))}"
            for k in _RESULT_FIELDS
            if old[name].get(k) != new[name].get(k)
        ]
        if moved:
            shown = f"slice {name!r}: " if len(new) > 1 or name != "all" else ""
            lines.append(shown + ", ".join(moved))
    return lines


def _by_key(case: Mapping[str, Any]) -> dict[str, tuple[str, Mapping[str, Any]]]:
    evidence = case.get("evidence") or {}
    if not isinstance(evidence, Mapping):
        return {}
    return {
        str(record.get("key", digest)): (digest, record)
        for digest, record in evidence.items()
        if isinstance(record, Mapping)
    }


def diff_snapshots(before: Snapshot, after: Snapshot) -> CaseDiff:
    """What changed from ``before`` to ``after`` (see the module doc)."""
    out = CaseDiff(before.label, after.label, before.digest, after.digest)
    out.notes = [*(f"{before.label}: {n}" for n in before.notes)]
    out.notes += [f"{after.label}: {n}" for n in after.notes]
    old_nodes = {n["id"]: n for n in before.case.get("nodes", [])}
    new_nodes = {n["id"]: n for n in after.case.get("nodes", [])}
    for node_id, node in new_nodes.items():
        was = old_nodes.get(node_id)
        if was is None:
            out.added.append(NodeChange(node_id, node["type"], node["text"], node["status"]))
            continue
        if was["status"] != node["status"]:
            change = StatusChange(
                node_id, node["type"], node["text"], was["status"], node["status"]
            )
            (out.claims if node["type"] in CLAIM_TYPES else out.other_moves).append(change)
        elif was["text"] != node["text"]:
            out.reworded.append(node_id)
    out.removed = [
        NodeChange(node_id, n["type"], n["text"], n["status"])
        for node_id, n in old_nodes.items()
        if node_id not in new_nodes
    ]
    for rid in [
        *before.requirements,
        *(r for r in after.requirements if r not in before.requirements),
    ]:
        old = before.requirements.get(rid)
        new = after.requirements.get(rid)
        if old is None:
            out.requirements.append(RequirementChange(rid, "added"))
        elif new is None:
            out.requirements.append(RequirementChange(rid, "removed"))
        elif old != new:
            names = [
                *_REQUIREMENT_FIELDS,
                *sorted((set(old) | set(new)) - set(_REQUIREMENT_FIELDS)),
            ]
            fields = {
                name: (old.get(name), new.get(name))
                for name in names
                if old.get(name) != new.get(name)
            }
            out.requirements.append(RequirementChange(rid, "changed", fields))
    old_records, new_records = _by_key(before.case), _by_key(after.case)
    for key in sorted(set(old_records) | set(new_records)):
        if key not in new_records:
            out.evidence.append(EvidenceChange(key, "removed", _view(old_records[key][1]), None))
        elif key not in old_records:
            out.evidence.append(EvidenceChange(key, "added", None, _view(new_records[key][1])))
        elif old_records[key][0] != new_records[key][0]:
            was, now = _view(old_records[key][1]), _view(new_records[key][1])
            moves = _moves(was, now)
            out.evidence.append(
                EvidenceChange(key, "moved" if moves else "changed", was, now, tuple(moves))
            )
    out.stale_signoffs = [
        s for s in after.signoffs if s.status == "stale" and s.digest == before.digest
    ]
    out.signoffs = _signoff_changes(before.signoffs, after.signoffs)
    out.people = _people_changes(before, after)
    return out


def _signoff_changes(before: list[JudgedSignOff], after: list[JudgedSignOff]) -> list[str]:
    def name(s: JudgedSignOff) -> str:
        return f"{s.file} ({s.decision or '?'} by {s.signer or '?'} on {s.scope or '?'})"

    old = {s.file: s for s in before}
    new = {s.file: s for s in after}
    lines = [f"removed: {name(old[f])}, was {old[f].status}" for f in old if f not in new]
    lines += [f"added: {name(new[f])}, {new[f].status}" for f in new if f not in old]
    lines += [
        f"{name(new[f])}: {old[f].status} -> {new[f].status}"
        for f in new
        if f in old and old[f].status != new[f].status
    ]
    return lines


def _people_changes(before: Snapshot, after: Snapshot) -> list[str]:
    lines = []
    for pid in [*before.people, *(p for p in after.people if p not in before.people)]:
        old, new = before.people.get(pid), after.people.get(pid)
        if old is None:
            lines.append(f"person {pid} added (key {(new or {}).get('key')})")
        elif new is None:
            lines.append(f"person {pid} removed")
        elif old != new:
            moved = [
                f"{k} {old.get(k)} -> {new.get(k)}"
                for k in sorted(set(old) | set(new))
                if old.get(k) != new.get(k)
            ]
            lines.append(f"person {pid}: " + "; ".join(moved))
    if before.approvals != after.approvals:
        lines.append(f"approvals required: {before.approvals} -> {after.approvals}")
    return lines
