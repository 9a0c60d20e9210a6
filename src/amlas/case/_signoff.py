"""Sign-offs: people's signed decisions on the safety case, and the approvals the gate needs.

A safety case is accepted by people. The project declares them (``people:`` in
``amlas.yaml``: name, organisation, roles, independence, Ed25519 public key); ``amlas sign``
writes one statement per decision into ``signoffs/``::

    {"schema": "amlas.signoff/1",
     "statement": {"project": ..., "signer": {"id", "name", "organisation", "role",
                   "independence"}, "public_key": "ed25519:...",
                   "decision": "approve" | "approve-with-conditions" | "reject",
                   "scope": <node ID>, "scope_status": <its status then>,
                   "comment": ..., "signed_at": <UTC, ISO 8601>, "amlas": <version>,
                   "case": {"digest": <Case.digest()>, "root", "status", "counts",
                            "fingerprint": {nodes, evidence, artefacts, reviews}}},
     "signature": <Ed25519 of the statement as canonical JSON>}

The case digest binds the statement to the case as built, and so to every record,
artefact and review it cites. The fingerprint (each node's status and a short hash of
it, each cited record's key and digest, each artefact's hash) lets anyone say *what*
changed once the digest no longer matches: the sign-off is then *stale*.

:func:`judge_signoffs` checks every statement of a project against its current case:
the signature, a declared key, used in its holder's role (never the verifier's evidence
key), the digest. :class:`Approvals` then says, for every approval ``case.approvals``
requires, who approved it and when, or why it is still awaited; :func:`~amlas.case.gate`
refuses on a stale, rejected or missing one.

The signer's clock gives ``signed_at``: it orders one person's decisions, it proves nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from amlas._version import __version__
from amlas.case._model import Case, JudgedSignOff, RequiredApproval
from amlas.case._system import SystemCase
from amlas.diagnostics import Diagnostics, Location, did_you_mean
from amlas.errors import ProblemError
from amlas.evidence import canonical_hash
from amlas.fileio import atomic_write_text
from amlas.project import INDEPENDENCE, MANIFEST_FILE, Project
from amlas.sealing import SigningKey, canonical_statement, public_key_id, signature_valid

__all__ = [
    "DECISIONS",
    "SIGNOFF_DIR",
    "Approvals",
    "Decision",
    "JudgedSignOff",
    "RequiredApproval",
    "case_fingerprint",
    "changes_between",
    "judge_approvals",
    "judge_signoffs",
    "sign_case",
    "signoff_files",
]

SIGNOFF_DIR = "signoffs"
"""Where ``amlas sign`` writes the statements, in the project."""
SIGNOFF_SCHEMA = "amlas.signoff/1"
MAX_SIGNOFF_BYTES = 64 * 1024 * 1024
Decision = Literal["approve", "approve-with-conditions", "reject"]
DECISIONS: tuple[str, ...] = ("approve", "approve-with-conditions", "reject")
_APPROVING = frozenset({"approve", "approve-with-conditions"})
_SHORT = 16


# -- the case as signed ----------------------------------------------------------------------


def _short(value: object) -> str:
    return canonical_hash(value)[:_SHORT]


def case_fingerprint(case: Case | dict[str, Any]) -> dict[str, dict[str, str | None]]:
    """What a sign-off keeps of the case beside its digest, to say later what changed:
    every node's status and a short hash of the node; every cited record's key and the
    start of its digest; every artefact's hash; every cited review's status and hash.
    ``case`` is a :class:`Case` or its plain JSON values (``case.json`` read back)."""
    body = case.to_dict() if isinstance(case, Case) else case
    evidence = body.get("evidence") or {}
    return {
        "nodes": {n["id"]: f"{n['status']} {_short(n)}" for n in body.get("nodes", [])},
        "evidence": {
            record.get("key", digest): digest[:_SHORT]
            for digest, record in sorted(evidence.items())
        }
        if isinstance(evidence, dict)
        else {},
        "artefacts": {
            a["letter"]: (a.get("sha256") or "")[:_SHORT] or None for a in body.get("artefacts", [])
        },
        "reviews": {
            rid: f"{review.get('status')} {_short(review)}"
            for rid, review in sorted((body.get("reviews") or {}).items())
        },
    }


def changes_between(
    before: dict[str, dict[str, str | None]],
    after: dict[str, dict[str, str | None]],
    *,
    limit: int = 12,
) -> list[str]:
    """What changed from the fingerprint ``before`` to ``after``, one line each: the
    artefacts, records and reviews that changed (the causes) first, then the nodes added
    or removed, then the claims whose status moved (the first node of the case, its top
    claim, leading), then nodes reworded; at most ``limit`` lines and a count of the rest."""
    lines: list[str] = []
    for kind, label in (("artefacts", "artefact"), ("evidence", "record"), ("reviews", "review")):
        old, new = before.get(kind, {}), after.get(kind, {})
        for name in sorted(set(old) | set(new)):
            shown = f"[{name}]" if kind == "artefacts" else name
            if name not in new:
                lines.append(f"{label} {shown} no longer cited")
            elif name not in old:
                lines.append(f"{label} {shown} newly cited")
            elif old[name] != new[name]:
                lines.append(f"{label} {shown} changed")
    old_nodes, new_nodes = before.get("nodes", {}), after.get("nodes", {})
    added = [n for n in new_nodes if n not in old_nodes]
    removed = [n for n in old_nodes if n not in new_nodes]
    for what, ids in (("added", added), ("removed", removed)):
        if ids:
            lines.append(f"{len(ids)} node(s) {what}: {_some(ids)}")
    moved: dict[str, list[str]] = {}
    edited = []
    for node_id, now in new_nodes.items():
        was = old_nodes.get(node_id)
        if was is None or now is None or was == now:
            continue
        old_status, new_status = was.partition(" ")[0], now.partition(" ")[0]
        if old_status != new_status:
            moved.setdefault(f"{old_status} -> {new_status}", []).append(node_id)
        else:
            edited.append(node_id)
    for transition, ids in sorted(moved.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"{len(ids)} node(s) {transition}: {_some(ids)}")
    if edited:
        lines.append(f"{len(edited)} node(s) reworded or re-argued: {_some(edited)}")
    if not lines:
        lines.append("the case's trace or module structure")
    if len(lines) > limit:
        lines = [*lines[:limit], f"and {len(lines) - limit} more change(s)"]
    return lines


def _some(ids: list[str], shown: int = 5) -> str:
    return ", ".join(ids[:shown]) + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


# -- the file --------------------------------------------------------------------------------


class _Signer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    id: str
    name: str
    organisation: str
    role: str
    independence: str


class _CaseRef(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    root: str
    status: str
    counts: dict[str, int]
    fingerprint: dict[str, dict[str, str | None]]


class _Statement(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    project: str
    signer: _Signer
    public_key: str
    decision: Decision
    scope: str
    scope_status: str
    comment: str
    signed_at: str = Field(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
    amlas: str
    case: _CaseRef


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    schema_: Literal["amlas.signoff/1"] = Field(alias="schema")
    statement: _Statement
    signature: str


@dataclass
class Approvals:
    """Every sign-off of a project judged against its case, and the approvals required."""

    digest: str
    """The digest of the case they were judged against."""
    signoffs: list[JudgedSignOff] = field(default_factory=list)
    required: list[RequiredApproval] = field(default_factory=list)
    diagnostics: Diagnostics = field(default_factory=Diagnostics)

    @property
    def granted(self) -> bool:
        """Whether every required approval is given (True when none is required)."""
        return all(r.status == "approved" for r in self.required)

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_digest": self.digest,
            "signoffs": [s.to_dict() for s in self.signoffs],
            "required": [r.to_dict() for r in self.required],
            "granted": self.granted,
        }


# -- signing ---------------------------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _signer_of(project: Project, key: SigningKey, role: str | None) -> tuple[Any, str]:
    manifest = project.manifest
    where = f"{project.root / MANIFEST_FILE}"
    if key.kind == "verifier" or key.public_key == manifest.verifier_key:
        raise ProblemError(
            f"the key {public_key_id(key.public_key)} is the verifier role's evidence-signing "
            "key: it signs verification records, never approvals (a key used outside its "
            "role)",
            code="A003",
            path=where,
            expected="a personal Ed25519 key declared under 'people:' ('amlas keygen --signing')",
        )
    person = manifest.person_with_key(key.public_key)
    if person is None:
        raise ProblemError(
            f"the key {key.public_key} is no declared person's: {MANIFEST_FILE} 'people:' "
            "must hold it before it can sign",
            code="A004",
            path=where,
            expected="the key of one of: "
            + (", ".join(p.id for p in manifest.people) or "(nobody is declared)"),
        )
    if role is None:
        if len(person.roles) > 1:
            raise ProblemError(
                f"{person.id} holds the roles {', '.join(person.roles)}: say which this "
                "decision is made in (--role)",
                code="A003",
                path=where,
            )
        role = person.roles[0]
    elif role not in person.roles:
        raise ProblemError(
            f"{person.id} is declared with the roles {', '.join(person.roles)}, not {role!r} "
            "(a key used outside its role)",
            code="A003",
            path=where,
            value=role,
            expected=" or ".join(person.roles),
        )
    return person, role


def sign_case(
    project: Project,
    case: Case,
    key: SigningKey,
    *,
    decision: Decision,
    scope: str | None = None,
    comment: str = "",
    role: str | None = None,
    now: str | None = None,
) -> tuple[Path, JudgedSignOff]:
    """Write ``key``'s holder's signed ``decision`` on ``scope`` (a node of ``case``; the
    top claim when None) into the project's ``signoffs/``; returns the file and the
    statement as judged now (current).

    ``case`` must be the project's case as built without the verifier key. Raises
    :class:`~amlas.errors.ProblemError`: an undeclared key (A004), a key used outside
    its role (A003), a scope that is no node of the case or a conditional approval
    without its conditions (R110)."""
    person, role = _signer_of(project, key, role)
    scope = scope or case.root
    node = case.nodes.get(scope)
    if node is None:
        close = did_you_mean(scope, list(case.nodes))
        raise ProblemError(
            f"--scope {scope!r} is no node of the case",
            code="R110",
            path=MANIFEST_FILE,
            value=scope,
            expected=f"an instantiated node ID such as {case.root}"
            + (f" ({close})" if close else ""),
        )
    if decision == "approve-with-conditions" and not comment.strip():
        raise ProblemError(
            "an approval with conditions states them (--comment)",
            code="R110",
            path=MANIFEST_FILE,
        )
    statement = {
        "project": project.manifest.name,
        "signer": {
            "id": person.id,
            "name": person.name,
            "organisation": person.organisation,
            "role": role,
            "independence": person.independence,
        },
        "public_key": key.public_key,
        "decision": decision,
        "scope": scope,
        "scope_status": node.status,
        "comment": comment.strip(),
        "signed_at": now or _now(),
        "amlas": __version__,
        "case": {
            "digest": case.digest(),
            "root": case.root,
            "status": case.top.status,
            "counts": case.counts(),
            "fingerprint": case_fingerprint(case),
        },
    }
    document = {
        "schema": SIGNOFF_SCHEMA,
        "statement": statement,
        "signature": key.sign(canonical_statement(statement)),
    }
    folder = project.root / SIGNOFF_DIR
    stamp = re.sub(r"[-:]", "", str(statement["signed_at"]))
    base = f"{stamp}-{person.id}-{decision}"
    target = folder / f"{base}.json"
    n = 2
    while target.exists():
        target, n = folder / f"{base}-{n}.json", n + 1
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    relative = target.relative_to(project.root).as_posix()
    judged = _judge_file(project, relative, _parse(project, relative, Diagnostics()), case)
    return target, judged


# -- judging ---------------------------------------------------------------------------------


def _parse(project: Project, relative: str, diagnostics: Diagnostics) -> _File | None:
    path = project.root / relative
    where = Location(relative)
    try:
        size = path.stat().st_size
        if size > MAX_SIGNOFF_BYTES:
            raise ValueError(f"{size} bytes, more than a sign-off holds ({MAX_SIGNOFF_BYTES})")
        raw = json.loads(path.read_bytes().decode("utf-8"))
        return _File.model_validate(raw)
    except (OSError, ValueError, UnicodeDecodeError, RecursionError) as exc:
        if isinstance(exc, RecursionError):
            why = "its JSON is nested too deeply"
        elif isinstance(exc, ValidationError):
            first = exc.errors()[0]
            at = ".".join(str(p) for p in first["loc"])
            why = f"{at}: {first['msg']}" if at else first["msg"]
        else:
            why = str(exc)
        diagnostics.add(
            "A001",
            f"sign-off {relative} is not a signed statement amlas can read: {why}",
            where,
            hint="statements are written by 'amlas sign'; restore the file from version "
            "control or remove it and sign again",
        )
        return None


def _judge_file(
    project: Project,
    relative: str,
    parsed: _File | None,
    case: Case,
    digest: str | None = None,
    pinned: Mapping[str, str] | None = None,
) -> JudgedSignOff:
    if parsed is None:
        return JudgedSignOff(
            relative, "invalid", "not a signed statement amlas can read", code="A001"
        )
    s = parsed.statement
    judged = JudgedSignOff(
        relative,
        "current",
        "",
        signer=s.signer.id,
        name=s.signer.name,
        organisation=s.signer.organisation,
        role=s.signer.role,
        independence=s.signer.independence,
        decision=s.decision,
        scope=s.scope,
        scope_status=s.scope_status,
        comment=s.comment,
        signed_at=s.signed_at,
        digest=s.case.digest,
        key_id=public_key_id(s.public_key),
        public_key=s.public_key,
    )
    manifest = project.manifest
    statement = parsed.model_dump(mode="json", by_alias=True)["statement"]
    if not signature_valid(s.public_key, canonical_statement(statement), parsed.signature):
        judged.status = "invalid"
        judged.reason = (
            "its signature does not verify: the statement was edited after signing, or forged"
        )
        judged.code = "A002"
        return judged
    person = manifest.person_with_key(s.public_key)
    problem: tuple[str, str] | None = None
    if s.public_key == manifest.verifier_key:
        problem = (
            "A003",
            "signed with the verifier role's evidence-signing key, which signs verification "
            "records, never approvals (a key used outside its role)",
        )
    elif person is None:
        problem = (
            "A004",
            f"signed by key {judged.key_id}, which no declared person holds "
            f"({MANIFEST_FILE} 'people:')",
        )
    elif person.id != s.signer.id:
        problem = (
            "A003",
            f"signed as {s.signer.id} with the key of {person.id} (a key used outside its role)",
        )
    elif s.signer.role not in person.roles:
        problem = (
            "A003",
            f"signed as {s.signer.role!r}, a role {person.id} is not declared with "
            f"({', '.join(person.roles)}): a key used outside its role",
        )
    if problem is not None:
        judged.status, judged.reason = "invalid", problem[1]
        judged.code = problem[0]
        return judged
    assert person is not None
    # the lesser of the independence signed and the one declared now: raising it after
    # the signature upgrades nothing
    judged.independence = min((s.signer.independence, person.independence), key=_rank)
    judged.name = person.name
    if pinned is not None and pinned.get(person.id) != s.public_key:
        if person.id in pinned:
            judged.status, judged.code = "invalid", "A004"
            judged.reason = (
                f"signed by key {s.public_key}, not by {pinned[person.id]}, the key you "
                f"expect for {person.id}"
            )
        else:
            judged.status = "unpinned"
            judged.reason = (
                f"{person.id}'s key {s.public_key} is not among the keys you pinned: it counts "
                "for nothing here"
            )
        return judged
    if s.case.digest != (digest or case.digest()):
        judged.status = "stale"
        judged.changes = changes_between(s.case.fingerprint, case_fingerprint(case))
        judged.reason = (
            f"the case changed since {s.signed_at}: "
            + "; ".join(judged.changes[:3])
            + (f"; and {len(judged.changes) - 3} more" if len(judged.changes) > 3 else "")
        )
    elif s.scope not in case.nodes:
        judged.status, judged.reason = "invalid", f"scope {s.scope} is no node of the case"
        judged.code = "A001"
    else:
        judged.reason = f"{s.decision} over this case, {s.signed_at}"
    return judged


def signoff_files(root: Path) -> list[str]:
    """The project-relative paths of the sign-off statements under ``root``, sorted."""
    folder = root / SIGNOFF_DIR
    if not folder.is_dir():
        return []
    return sorted(p.relative_to(root).as_posix() for p in folder.glob("*.json") if p.is_file())


def _linked(case: Case, node_id: str, *, upward: bool) -> set[str]:
    """``node_id`` and every node above it (that rests on it, through support or context)
    or, ``upward`` False, every node below it."""
    if upward:
        links = case.parents()
    else:
        links = {n.id: [*n.supported_by, *n.in_context_of] for n in case.nodes.values()}
    seen: set[str] = set()
    stack = [node_id]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        stack.extend(links.get(current, []))
    return seen


def judge_signoffs(
    project: Project,
    case: Case,
    *,
    digest: str | None = None,
    pinned: Mapping[str, str] | None = None,
) -> Approvals:
    """Every sign-off statement of ``project`` judged against ``case`` (whose digest is
    ``digest`` when the caller has it), and every approval ``case.approvals`` of its
    manifest requires.

    ``pinned`` (person ID -> public key, as the reader received them another way): when
    given, a statement counts only when its signer is pinned with the very key it is
    signed with (anyone who can edit ``amlas.yaml`` can declare a key of their own); a
    pinned person signing with another key is refused (A004), an unpinned one's statement
    is ``unpinned``."""
    digest = digest or case.digest()
    approvals = Approvals(digest)
    diagnostics = approvals.diagnostics
    judged = [
        _judge_file(project, relative, _parse(project, relative, diagnostics), case, digest, pinned)
        for relative in signoff_files(project.root)
    ]
    for one in judged:
        if one.status == "invalid" and one.decision:  # read: _parse reported the others
            diagnostics.add(
                one.code,
                f"sign-off {one.file} ({one.decision} by {one.signer} on {one.scope}): "
                f"{one.reason}",
                Location(one.file),
                hint="only a declared person's own key, in a role they are declared with, "
                "signs an approval of a node of the case it was signed over",
            )
    # a later decision of the same person on the same scope replaces an earlier one
    latest: dict[tuple[str, str, str], JudgedSignOff] = {}
    for one in sorted(
        (j for j in judged if j.status not in ("invalid", "unpinned")),
        key=lambda j: (j.signed_at, j.file),
    ):
        slot = (one.signer, one.role, one.scope)
        if slot in latest:
            earlier = latest[slot]
            earlier.status = "superseded"
            earlier.reason = f"replaced by {one.file} ({one.decision}, {one.signed_at})"
        latest[slot] = one
    for one in latest.values():
        if one.status == "stale":
            diagnostics.add(
                "A005",
                f"sign-off {one.file} ({one.decision} by {one.signer} as {one.role} on "
                f"{one.scope}, {one.signed_at}) is stale: the case changed since: "
                + "; ".join(one.changes),
                Location(one.file),
                hint=f"{one.name} reviews the changes and signs again ('amlas sign')",
            )
    approvals.signoffs = judged
    considered = [*latest.values(), *(j for j in judged if j.status == "unpinned")]
    approvals.required = _required(project, case, considered, diagnostics)
    return approvals


def _rank(independence: str) -> int:
    return INDEPENDENCE.index(independence) if independence in INDEPENDENCE else -1


def _required(
    project: Project, case: Case, latest: Iterable[JudgedSignOff], diagnostics: Diagnostics
) -> list[RequiredApproval]:
    out: list[RequiredApproval] = []
    latest = list(latest)
    source = project.manifest_source
    for i, rule in enumerate(project.manifest.case.approvals):
        scope = rule.scope or case.root
        if scope not in case.nodes:
            diagnostics.add(
                "A006",
                f"case.approvals[{i}] requires approvals of {scope!r}, which is no node of "
                "the case: the gate can never open",
                source.locate(("case", "approvals", i, "scope"))
                if source is not None
                else Location(MANIFEST_FILE),
                hint=did_you_mean(scope, list(case.nodes)) or f"e.g. {case.root}",
            )
        above = _linked(case, scope, upward=True) if scope in case.nodes else set()
        below = _linked(case, scope, upward=False) if scope in case.nodes else set()
        covering = [s for s in latest if s.scope in above]
        related = [s for s in latest if s.scope in above | below]
        used: set[str] = set()  # one person counts for one role of a rule
        for role in rule.require:
            out.append(_one(scope, role, rule.independence, covering, related, used))
    return out


def _one(
    scope: str,
    role: str,
    independence: str | None,
    covering: list[JudgedSignOff],
    related: list[JudgedSignOff],
    used: set[str],
) -> RequiredApproval:
    """How one required approval stands. A current rejection by anyone in the role, on
    the scope, a node above it or a node below it, refuses it (whoever else approved);
    otherwise a current approval on the scope or above it, by someone in the role with
    the independence asked for and not counted for another role of the rule, gives it."""
    rejected = [
        s for s in related if s.role == role and s.status == "current" and s.decision == "reject"
    ]
    if rejected:
        by = rejected[-1]
        where = f" (on {by.scope})" if by.scope != scope else ""
        return RequiredApproval(
            scope,
            role,
            "rejected",
            f"rejected by {by.name} ({by.signer}){where} on {by.signed_at}: "
            f"{by.comment or 'no comment'}",
            by,
            independence,
        )
    mine = [s for s in covering if s.role == role and s.signer not in used]
    need = f" with independence {independence} or more" if independence else ""
    if independence is not None:
        weak = [s for s in mine if _rank(s.independence) < _rank(independence)]
        mine = [s for s in mine if s not in weak]
    else:
        weak = []
    approved = [s for s in mine if s.status == "current" and s.decision in _APPROVING]
    if approved:
        by = approved[-1]
        used.add(by.signer)
        conditions = f", with conditions: {by.comment}" if by.decision != "approve" else ""
        return RequiredApproval(
            scope,
            role,
            "approved",
            f"approved by {by.name} ({by.signer}, {by.independence}, key {by.public_key}) on "
            f"{by.signed_at}" + (f" on {by.scope}" if by.scope != scope else "") + conditions,
            by,
            independence,
        )
    stale = [s for s in mine if s.status == "stale" and s.decision in _APPROVING]
    if stale:
        by = stale[-1]
        return RequiredApproval(
            scope,
            role,
            "stale",
            f"approved by {by.name} ({by.signer}) on {by.signed_at}, but {by.reason}",
            by,
            independence,
        )
    why = f"no current approval of {scope} in the role {role}{need}"
    if weak:
        why += (
            f" ({', '.join(sorted({s.signer for s in weak}))} signed, declared "
            f"{', '.join(sorted({s.independence for s in weak}))})"
        )
    unpinned = [s for s in covering if s.role == role and s.status == "unpinned"]
    if unpinned:
        why += (
            f" ({', '.join(sorted({s.signer for s in unpinned}))} signed with a key nobody pinned)"
        )
    return RequiredApproval(scope, role, "awaited", why, None, independence)


def judge_approvals(
    built: SystemCase,
    project: Project | None = None,
    *,
    digest: str | None = None,
    pinned: Mapping[str, str] | None = None,
) -> dict[str, Approvals]:
    """The sign-offs and required approvals of a case: ``""`` -> those of the project
    itself (``project``, a single project's, or the system's own), and for a system each
    ML component's ID -> those of the component's project over its own case. Nothing is
    judged for a component that declares no people, approvals or sign-offs. ``digest`` is
    ``built.case``'s, when the caller has it; ``pinned`` as :func:`judge_signoffs`."""
    if built.system is not None:
        out = {"": judge_signoffs(built.system.project, built.case, digest=digest, pinned=pinned)}
        for component_id, component in built.system.components.items():
            manifest = component.manifest
            part = built.parts.get(component_id)
            if part is not None and (
                manifest.people or manifest.case.approvals or signoff_files(component.root)
            ):
                judged = judge_signoffs(component, part, pinned=pinned)
                for required in judged.required:
                    required.component = component_id
                out[component_id] = judged
        return out
    project = project or built.project
    if project is None:
        raise ValueError("a single project's approvals need its Project")
    return {"": judge_signoffs(project, built.case, digest=digest, pinned=pinned)}
