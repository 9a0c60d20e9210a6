"""The status of every leaf: evidence verdicts and staleness, recorded rationale and
judgements, filled-in artefact fields, and the two assessments that need code.

Leaf rules (docs/case.md, "Status"):

* a solution citing evidence: each expected record is ``supported`` (pass), ``failed``,
  ``inconclusive`` or ``stale`` (an input hash no longer matches the project); a record
  that does not exist is ``undeveloped``; a verification result (stage 5, the verifier
  role, sealed data) without a valid signature by the declared verifier key is ``failed``
  whatever its verdict, with the reason "not signed by the declared verifier key"; the
  solution takes the worst;
* a solution naming artefact fields: ``supported`` when every field is filled in,
  ``undeveloped`` otherwise;
* a justification: ``supported`` when its rationale is recorded, ``undeveloped`` if not;
* a context: ``supported`` when the artefacts it points at loaded, else ``undeveloped``;
* an assumption: ``supported`` (assumptions are argued outside AMLAS, e.g. A1.1);
* a goal the pattern leaves undeveloped: developed by a recorded judgement or by the
  artefact fields its pattern names (a solution ``Sn-<goal>`` is added), else
  ``undeveloped``.

Every failed solution raises a counter-solution (``CSn...``) that challenges the goal it
supported, one per failed record, as GSN's dialectic extension allows.

Imported evidence (``amlas evidence import``, records of ``origin: external``):

* the record ``external/<id>`` of a requirement ``amlas run`` does not judge on data
  stands in for its stage-5 record ``stage5/<id>/P``; while there is none, the solution
  says which import command would develop it;
* a document attached to a node (``external/node/<id>``, by instance or pattern ID)
  supports a goal through a solution of its own (``Sn-ext-<goal>``, which develops a goal
  the pattern leaves undeveloped), and is evidence of a solution, standing in for the
  records the solution expects that do not exist (records that exist count as always);
* every node citing an imported record notes its provenance, and that a document's
  verdict is the document's statement, not a computation.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Mapping
from typing import Any

from amlas.case._bind import Binder, Item, fill, first_sentence, is_filled
from amlas.case._library import EvidenceSelector, FieldsSpec, Library, PatternNode
from amlas.case._model import Node, Status
from amlas.case._reviews import ReviewJudge
from amlas.case._status import worst
from amlas.errors import ProblemError
from amlas.evidence import (
    EvidenceRecord,
    EvidenceStore,
    ProjectInputs,
    StoreError,
    VerifierTrust,
)
from amlas.evidence import keys as record_keys
from amlas.project import ARTEFACTS, ArgumentNode, Project
from amlas.project.artefacts import MLSafetyRequirement, ValidationResults, VerificationLog
from amlas.verify import PlannedCheck, awaits_import, import_command, plan

__all__ = ["Assessor"]

_VERDICT: dict[str, Status] = {
    "pass": "supported",
    "fail": "failed",
    "inconclusive": "inconclusive",
}

Part = tuple[Status, str]


class Assessor:
    def __init__(self, project: Project, binder: Binder, store: EvidenceStore | None) -> None:
        self.project = project
        self.binder = binder
        self.store = store
        self.refs: dict[str, str] = dict(store.list()) if store is not None else {}
        self.inputs = ProjectInputs(project)
        self.cited: dict[str, EvidenceRecord] = {}
        self.stale_inputs: dict[str, list[str]] = {}
        self.trust = VerifierTrust(project)
        self.unsigned: dict[str, str] = {}  # digest -> why the verifier's signature fails
        self._damaged: dict[str, str] = {}
        self.reviews = ReviewJudge(project, self.inputs)
        self._planned: list[PlannedCheck] | None = None
        self._index: tuple[list[str], list[int], list[str]] | None = None
        self._requirements: dict[str, Any] | None = None
        self.judged: set[str] = set()
        """Claims nothing in the pattern supports: the only nodes a recorded judgement can
        develop (a judgement naming any other cannot affect it: G007)."""
        ml = project.ml_requirements
        # stage-5 key -> requirement, for requirements only imported evidence can support
        self.awaiting: dict[str, str] = {
            record_keys.requirement_key(5, r.id, "P"): r.id
            for r in (ml.requirements if ml is not None else [])
            if awaits_import(r)
        }

    # -- records ---------------------------------------------------------------------------

    def record(self, key: str) -> tuple[str, EvidenceRecord] | None:
        digest = self.refs.get(key)
        if digest is None or self.store is None or digest in self._damaged:
            return None
        if digest not in self.cited:
            try:
                record = self.store.get(digest)
            except StoreError as exc:
                self._damaged[digest] = str(exc)
                return None
            self.cited[digest] = record
            unsigned = self.trust.problem(record)
            if unsigned is not None:
                self.unsigned[digest] = unsigned
            stale = self.inputs.stale(record)
            if stale:
                self.stale_inputs[digest] = stale
        return digest, self.cited[digest]

    def record_status(self, digest: str) -> Status:
        if digest in self.unsigned:
            return "failed"  # never its verdict: anyone can write a record that says pass
        if digest in self.stale_inputs:
            return "stale"
        return _VERDICT[self.cited[digest].verdict]

    def record_reason(self, digest: str) -> str:
        """Why a record has its status, in a line: the signature problem, else its summary."""
        return self.unsigned.get(digest, self.cited[digest].summary)

    def expected_keys(self, selector: EvidenceSelector, binding: Mapping[str, Item]) -> list[str]:
        """Keys the selector expects to exist (missing ones leave the solution undeveloped)."""
        if selector.key is not None:
            if selector.for_each is not None:
                out = []
                for item in self.binder.collection(selector.for_each):
                    variables = self.binder.variables_for({**binding, "item": item})
                    out.append(fill(selector.key, variables)[0])
                return out
            return [fill(selector.key, self.binder.variables_for(binding))[0]]
        return []

    def planned(self) -> list[PlannedCheck]:
        """Every check the project calls for, in every stage, as the verifier sees it."""
        if self._planned is None:
            try:
                work = plan(self.project, role="verifier", stages=(3, 4, 5, 6), hashes=self.inputs)
                self._planned = list(work.checks)
            except ProblemError:  # a project the plan cannot read: only what is found counts
                self._planned = []
        return self._planned

    def _under(self, prefix: str) -> tuple[list[PlannedCheck], list[str]]:
        """The planned checks (in plan order) and the recorded keys (sorted) whose key
        starts with ``prefix``: ranges of two sorted indexes built once, so that a case
        with thousands of solutions does not scan the plan and sort the store for each."""
        if self._index is None:
            planned = self.planned()
            by_key = sorted(range(len(planned)), key=lambda k: planned[k].key)
            self._index = ([planned[k].key for k in by_key], by_key, sorted(self.refs))
        keys, positions, recorded = self._index
        start = bisect.bisect_left(keys, prefix)
        end = start
        while end < len(keys) and keys[end].startswith(prefix):
            end += 1
        planned = self.planned()
        checks = [planned[k] for k in sorted(positions[start:end])]
        start = bisect.bisect_left(recorded, prefix)
        end = start
        while end < len(recorded) and recorded[end].startswith(prefix):
            end += 1
        return checks, recorded[start:end]

    def found_keys(self, selector: EvidenceSelector) -> list[str]:
        """Keys a prefix selector covers: every check the plan calls for under the prefix
        (one never run leaves the solution undeveloped: a set claim holds only when each
        member does) and every current record under it."""
        if selector.prefix is None:
            return []
        prefix, dataset = selector.prefix, selector.dataset
        checks, stored = self._under(prefix)
        out = [c.key for c in checks if dataset is None or dataset in c.datasets]
        listed = set(out)
        for key in stored:
            if key in listed:
                continue
            if dataset is not None:
                found = self.record(key)
                recorded = found[1].dataset if found else None
                if not recorded or dataset not in recorded.split("+"):
                    continue
            out.append(key)
        return out

    # -- rationale ---------------------------------------------------------------------------

    def rationale(
        self, pattern: PatternNode, node: Node, binding: Mapping[str, Item]
    ) -> str | None:
        recorded = self.binder.recorded(self.binder.settings.rationale, node.id, pattern.id)
        if recorded:
            return str(recorded)
        reviews = self.reviews.of_node(node)
        spec = pattern.rationale
        if spec is None or spec.source == "case.rationale":
            return " ".join(r.summary for r in reviews) or None
        text = None
        if spec.source == "activities":
            requirement = binding.get("requirement")
            texts = [
                str(getattr(a, spec.field, "") or "").strip()
                for a in (
                    self.binder.activities(requirement.id, spec.method) if requirement else []
                )
            ]
            text = " ".join(t for t in texts if t) or None
        else:
            text = self._field_text(spec.source)
        if text is None and spec.fallback is not None:
            text = self._field_text(spec.fallback)
        return text or " ".join(r.summary for r in reviews) or None

    def _field_text(self, source: str) -> str | None:
        letter, _, path = source.partition(".")
        values = self.binder.field_values(letter, path)
        return " ".join(str(v).strip() for _, v in values if is_filled(v)) or None

    # -- leaves -------------------------------------------------------------------------------

    def assess_all(
        self,
        nodes: dict[str, Node],
        library: Library,
        argument: Mapping[str, ArgumentNode] | None = None,
    ) -> None:
        parents: dict[str, list[str]] = {}
        for node in nodes.values():
            for child in node.supported_by:
                parents.setdefault(child, []).append(node.id)
        argument = argument or {}
        for node in list(nodes.values()):
            if node.id in argument:
                self.project_node(nodes, node, argument[node.id], parents.get(node.id, []))
                continue
            pattern = library.nodes[node.pattern_id]
            binding = {
                name: Item(value, self._item(name, value)) for name, value in node.binding.items()
            }
            if node.type == "context":
                self.context(node)
            elif node.type == "assumption":
                node.status, node.reason = "supported", "assumed: argued outside this case"
            elif node.type == "justification":
                self.justification(node)
            elif node.type == "solution":
                self.solution(node, pattern, binding)
                if node.status == "failed":
                    self.counter(nodes, node, parents.get(node.id, []))
            elif node.type == "goal":
                # what the pattern supports it by (the project's own nodes and the
                # solutions added below never stand in for a goal's own development)
                bare = not [c for c in node.supported_by if c not in argument]
                if self.attached(node):
                    self.documented(nodes, node)
                self.reviewed_goal(nodes, node)
                if bare:
                    self.undeveloped_claim(nodes, node, pattern)
            elif node.is_claim and not node.supported_by:
                self.undeveloped_claim(nodes, node, pattern)

    def project_node(
        self, nodes: dict[str, Node], node: Node, entry: ArgumentNode, parents: list[str]
    ) -> None:
        """A node of amlas.yaml ``case.argument``: a solution holds by the records and
        reviews it cites (every one), goals and strategies by what supports them; the
        contexts, assumptions and justifications are what the project states."""
        if node.type == "solution":
            parts = self.evidence(node, [EvidenceSelector(key=k) for k in entry.evidence], {})
            cited = [r for r in self.reviews.records if r.id in entry.reviews]
            naming = [r for r in self.reviews.of_node(node) if r not in cited]
            for reviews in (cited, naming):  # a review naming the node counts as well
                decided = self.reviews.decide(reviews, node)
                if decided is not None:
                    parts.append(decided)
            if not parts:
                parts = [("undeveloped", "cites no evidence record and no review record")]
            node.status = worst(s for s, _ in parts)
            node.reason = "; ".join(r for s, r in parts if s == node.status)
            if node.status == "failed":
                self.counter(nodes, node, parents)
        elif node.is_claim:
            if node.type == "goal":
                self.reviewed_goal(nodes, node)
            if not node.supported_by:
                node.undeveloped = True
                node.status, node.reason = "undeveloped", "nothing in case.argument supports it"
        elif node.type == "justification":
            self.justification(node)
        else:
            node.status, node.reason = "supported", "stated in amlas.yaml case.argument"

    def justification(self, node: Node) -> None:
        """Supported when its rationale is recorded; a review naming it must also hold."""
        status: Status = "supported" if node.rationale else "undeveloped"
        reason = "rationale recorded" if node.rationale else "no rationale recorded (R24)"
        decided = self.reviews.decide(self.reviews.of_node(node), node)
        if decided is not None and (status == "supported" or decided[0] != "supported"):
            status, reason = worst([status, decided[0]]), decided[1]
        node.status, node.reason = status, reason

    def reviewed_goal(self, nodes: dict[str, Node], goal: Node) -> None:
        """A goal reviews name: a solution of its own cites them (and develops the goal if
        the pattern leaves it undeveloped). A review only ever adds to what a goal rests
        on, so it cannot lift a goal whose own evidence does not hold."""
        reviews = self.reviews.of_node(goal)
        if not reviews:
            return
        solution = _solution_for(goal, "rv", ["RV"])
        decided = self.reviews.decide(reviews, solution)
        assert decided is not None
        solution.status, solution.reason = decided
        solution.text = "Review records [RV]: " + "; ".join(
            f"{r.id} {r.title} ({r.date.isoformat()})" for r in reviews
        )
        solution.rationale = " ".join(r.summary for r in reviews)
        self._attach(nodes, goal, solution)

    def _attach(self, nodes: dict[str, Node], goal: Node, solution: Node) -> None:
        """A solution the case adds under ``goal`` (a failed one challenges it)."""
        nodes[solution.id] = solution
        goal.supported_by.append(solution.id)
        if solution.status == "failed":
            self.counter(nodes, solution, [goal.id])

    def _item(self, name: str, item_id: str) -> Any:
        if self._requirements is None:  # the first requirement of each ID, as a scan finds
            ml = self.project.ml_requirements
            self._requirements = {}
            for r in ml.requirements if ml is not None else []:
                self._requirements.setdefault(r.id, r)
        found = self._requirements.get(item_id)
        if found is not None:
            return found
        definition = self.project.index().get(item_id)  # an ODD condition, say
        if definition is not None:
            return definition.item
        raise KeyError(f"{name}={item_id}")

    def context(self, node: Node) -> None:
        missing = [x for x in node.artefacts if x in ARTEFACTS and x not in self.project.artefacts]
        if missing:
            node.status = "undeveloped"
            node.reason = "the project has no valid " + ", ".join(f"[{x}]" for x in missing)
        elif node.notes and node.notes[0].startswith("unfilled"):
            node.status, node.reason = "undeveloped", node.notes[0]
        else:
            node.status, node.reason = "supported", "artefact present"

    def fields(self, spec: FieldsSpec) -> Part:
        if spec.artefact not in self.project.artefacts:
            return "undeveloped", f"the project has no valid [{spec.artefact}]"
        empty = [
            where
            for path in spec.fields
            for where, value in (self.binder.field_values(spec.artefact, path) or [(path, None)])
            if not is_filled(value)
        ]
        if empty:
            return "undeveloped", "not filled in: " + "; ".join(empty[:6])
        return "supported", f"[{spec.artefact}] records {', '.join(spec.fields)}"

    def evidence(
        self,
        node: Node,
        selectors: list[EvidenceSelector],
        binding: Mapping[str, Item],
        *,
        stood_in: bool = False,
    ) -> list[Part]:
        """The parts of a solution's status its evidence gives. ``stood_in``: imported
        documents are attached to the node, so a record that does not exist leaves it not
        undeveloped (it is noted); a record that exists counts as always."""
        parts: list[Part] = []
        absent: list[str] = []  # what is not there, when documents stand in for it
        keys = []
        for selector in selectors:
            keys += self.expected_keys(selector, binding)
            found = self.found_keys(selector)
            keys += found
            if selector.prefix is not None and not found:
                where = f" on [{selector.dataset}]" if selector.dataset else ""
                if stood_in:
                    absent.append(f"{selector.prefix}*{where}")
                else:
                    parts.append(
                        ("undeveloped", f"no evidence record {selector.prefix}*{where} yet")
                    )
            if selector.data_category is not None:
                parts += self.data_members(node, selector.data_category)
        verdicts: Counter[Status] = Counter()
        stated = 0  # records whose verdict is a document's statement
        missing: list[str] = []
        for key in dict.fromkeys(keys):
            hit = self.record(key)
            awaited = self.awaiting.get(key)
            if hit is None and awaited is not None:  # an imported record stands in
                key = record_keys.external_key(awaited)
                hit = self.record(key)
                requirement = self._item("requirement", awaited)
                decided = self.verification_reviews(node, awaited)
                if decided is not None and (
                    decided[0] != "supported" or hit is not None or _reviewable(requirement)
                ):
                    parts.append(decided)  # a review of it always counts when it holds back
                if hit is None and key not in self.refs:
                    if decided is not None and _reviewable(requirement):
                        continue  # verified by review (or an analysis examined in one)
                    if stood_in:
                        absent.append(key)
                    else:
                        parts.append(("undeveloped", _awaiting(requirement)))
                    continue
            if hit is None:
                damaged = self.refs.get(key) in self._damaged
                missing.append(key + (" (record damaged)" if damaged else ""))
                continue
            digest, record = hit
            node.evidence.append(digest)
            if record.origin == "external":
                node.notes.append(_provenance_note(key, record))
                stated += record.provenance is not None and record.provenance.kind == "document"
            status = self.record_status(digest)
            verdicts[status] += 1
            if digest in self.unsigned:
                parts.append(("failed", f"{key}: {self.unsigned[digest]}"))
                node.notes.append(f"{key}: {self.unsigned[digest]}")
            elif status == "stale":
                node.notes.append(f"{key} stale: " + ", ".join(self.stale_inputs[digest]))
            elif status != "supported":
                node.notes.append(f"{key}: {record.summary}")
        if verdicts:
            status = worst(s for s in verdicts if verdicts[s])
            counts = ", ".join(f"{n} {s}" for s, n in sorted(verdicts.items()))
            total = sum(verdicts.values())
            noun = "evidence record" if total == 1 else "evidence records"
            said = f" ({stated} a document's statement, not computed by amlas)" if stated else ""
            parts.append((status, f"{total} {noun}: {counts}{said}"))
        if missing and stood_in:
            absent += missing
        elif missing:
            shown = ", ".join(missing[:4]) + (
                f" and {len(missing) - 4} more" if len(missing) > 4 else ""
            )
            parts.append(("undeveloped", f"no evidence record {shown} (amlas run)"))
        if absent:
            node.notes.append(
                "no evidence record " + ", ".join(absent) + ": the imported documents "
                "attached to this node stand in for it"
            )
        return parts

    def data_members(self, node: Node, category: str) -> list[Part]:
        """A data-requirement goal is over a set: each [L] requirement of the category
        is a member, supported by its checks on every dataset it names (a rule) or by a
        review that examined it (no rule); the solution names every member that is not
        supported."""
        members = self.binder.data_requirements(category)
        if not members:
            gap = self.binder.category_gap(category)
            if gap:
                node.rationale = gap
                return [("supported", f"no {category} requirement: gap argued in [L]")]
            return [("undeveloped", f"[L] has no {category} requirement")]
        parts: list[Part] = []
        for requirement in members:
            if requirement.rule is not None:
                selectors = [
                    EvidenceSelector(key=record_keys.data_rule_key(requirement.id, letter))
                    for letter in requirement.datasets
                ]
                own = self.evidence(node, selectors, {})
                reviewed = self.verification_reviews(node, requirement.id)
                if reviewed is not None:  # a review beside the checks counts too
                    own.append(reviewed)
                status = worst(s for s, _ in own)
                reason = "; ".join(r for s, r in own if s == status)
            else:
                status, reason = self.reviewed_item(node, requirement.id, "no machine check")
                if status == "supported":  # whose judgement it is, and on what conditions
                    node.notes.append(f"{requirement.id}: {reason}")
            parts.append((status, f"{requirement.id}: {reason}"))
        bad = [p for p in parts if p[0] != "supported"]
        if bad:
            return bad
        checked = sum(r.rule is not None for r in members)
        return [
            (
                "supported",
                f"all {len(members)} {category} requirements supported "
                f"({checked} by their checks, {len(members) - checked} by review)",
            )
        ]

    def verification_reviews(self, node: Node, item_id: str) -> Part | None:
        """The status the verification reviews of an item give it, citing them on
        ``node`` (None: no such review)."""
        reviews = [r for r in self.reviews.of_item(item_id) if r.purpose == "verification"]
        return self.reviews.decide(reviews, node)

    def reviewed_item(self, node: Node, item_id: str, why: str) -> Part:
        """The status the verification reviews of an item give it (undeveloped when none
        examined it)."""
        decided = self.verification_reviews(node, item_id)
        if decided is None:
            return "undeveloped", f"{why} and no review record [RV] examined it"
        return decided

    def solution(self, node: Node, pattern: PatternNode, binding: Mapping[str, Item]) -> None:
        parts: list[Part] = []
        if pattern.document is not None:
            parts.append(self.fields(pattern.document))
        attached = self.attached(node)
        if pattern.evidence:
            parts += self.evidence(node, pattern.evidence, binding, stood_in=bool(attached))
        if attached:
            parts += self.evidence(node, [EvidenceSelector(key=k) for k in attached], {})
        reviewed = self.reviews.decide(self.reviews.of_node(node), node)
        if reviewed is not None:
            parts.append(reviewed)
        if pattern.assess == "validation_results":
            parts.append(self.validation_results(node))
        elif pattern.assess == "verification_independence":
            parts += self.verification_independence(node, binding)
        if not parts:
            parts.append(("undeveloped", "nothing to assess"))
        status = worst([s for s, _ in parts])
        node.status = status
        node.reason = "; ".join(reason for s, reason in parts if s == status)

    def counter(self, nodes: dict[str, Node], solution: Node, parents: list[str]) -> None:
        failed = [d for d in solution.evidence if self.record_status(d) == "failed"]
        reasons: list[tuple[str | None, str]] = [
            (d, self.cited[d].key + ": " + self.record_reason(d)) for d in failed
        ]
        if not reasons:
            reasons = [(None, solution.reason)]
        base = "C" + solution.id
        for i, (digest, text) in enumerate(reasons, start=1):
            cid = base if len(reasons) == 1 else f"{base}.{i}"
            for parent in parents[:1]:
                nodes[cid] = Node(
                    id=cid,
                    pattern_id="CSn",
                    type="counter_solution",
                    text=text,
                    module=solution.module,
                    status="failed",
                    reason=f"challenges {parent}: {text}",
                    evidence=[digest] if digest else [],
                    challenges=parent,
                    binding=dict(solution.binding),
                )
                nodes[parent].defeated = True

    def attached(self, node: Node) -> list[str]:
        """Keys of the imported documents attached to ``node`` (by instance or pattern ID)."""
        wanted = dict.fromkeys(
            record_keys.external_node_key(name) for name in (node.id, node.pattern_id)
        )
        return [key for key in wanted if key in self.refs]

    def documented(self, nodes: dict[str, Node], goal: Node) -> None:
        """A goal with imported documents attached: a solution of its own cites them (and
        develops the goal if the pattern leaves it undeveloped)."""
        solution = _solution_for(goal, "ext")
        parts = self.evidence(solution, [EvidenceSelector(key=k) for k in self.attached(goal)], {})
        titles = [_imported_title(self.cited[d]) for d in solution.evidence if d in self.cited]
        solution.text = "Imported evidence: " + ("; ".join(titles) or "a damaged record")
        status = worst(s for s, _ in parts)
        solution.status = status
        solution.reason = "; ".join(reason for s, reason in parts if s == status)
        self._attach(nodes, goal, solution)

    def undeveloped_claim(self, nodes: dict[str, Node], node: Node, pattern: PatternNode) -> None:
        self.judged.add(node.id)
        judgement = self.binder.recorded(self.binder.settings.judgements, node.id, node.pattern_id)
        developed: Part | None = None
        text = ""
        if judgement is not None:
            text = f"Judgement by {judgement.by}, {judgement.date.isoformat()}: {judgement.text}"
            developed = ("supported", "judgement recorded in amlas.yaml case.judgements")
            rationale = judgement.text
        elif pattern.developed_by is not None:
            status, reason = self.fields(pattern.developed_by)
            if status != "supported" and node.supported_by:
                # reviews, documents or the project's nodes support it as well: they add
                # to the fields the pattern develops it by, never stand in for them
                nodes[f"Sn-{node.id}"] = Node(
                    id=f"Sn-{node.id}",
                    pattern_id=f"Sn-{node.pattern_id}",
                    type="solution",
                    text=f"[{pattern.developed_by.artefact}] "
                    + ", ".join(pattern.developed_by.fields),
                    module=node.module,
                    status=status,
                    reason=reason,
                    artefacts=[pattern.developed_by.artefact],
                    binding=dict(node.binding),
                )
                node.supported_by.append(f"Sn-{node.id}")
                return
            if status == "supported":
                spec = pattern.developed_by
                values = [
                    str(v)
                    for path in spec.fields
                    for _, v in self.binder.field_values(spec.artefact, path)
                ]
                rationale = " ".join(values)
                text = (
                    f"[{spec.artefact}] {', '.join(spec.fields)}: {first_sentence(rationale, 200)}"
                )
                developed = ("supported", reason)
            else:
                node.notes.append(reason)
        if developed is None:
            if node.supported_by:  # developed by the reviews or documents attached to it
                return
            node.undeveloped = True
            node.status = "undeveloped"
            node.reason = (
                "left undeveloped by the pattern: record a judgement under case.judgements "
                f"in amlas.yaml ({node.pattern_id})"
                if pattern.undeveloped
                else "nothing supports it"
            )
            return
        sid = f"Sn-{node.id}"
        nodes[sid] = Node(
            id=sid,
            pattern_id=f"Sn-{node.pattern_id}",
            type="solution",
            text=text,
            module=node.module,
            status=developed[0],
            reason=developed[1],
            artefacts=[pattern.developed_by.artefact]
            if pattern.developed_by and not judgement
            else [],
            binding=dict(node.binding),
            rationale=rationale,
        )
        node.supported_by.append(sid)

    # -- assessments that need code --------------------------------------------------------------

    def validation_results(self, node: Node) -> Part:
        """Every ML safety requirement validated (a set claim): by its latest [J] record
        or by the latest review record [RV] that examined it, whichever is later (the
        worst of those of the same date). Reviews also go stale when the requirement
        changed after them; [J] records carry no hash and cannot."""
        results = self.project.get("J", ValidationResults)
        ml = self.project.ml_requirements
        if results is None and not self.reviews.records:
            return "undeveloped", "the project has no valid [J]"
        outcome_status: dict[str, Status] = {
            "accepted": "supported",
            "accepted_with_changes": "supported",
            "rejected": "failed",
            "pending": "undeveloped",
        }
        by_requirement: dict[str, list[tuple[Any, Status, str]]] = {}
        for record in results.records if results is not None else []:
            for rid in record.requirements:
                by_requirement.setdefault(rid, []).append(
                    (
                        record.date,
                        outcome_status[record.outcome],
                        f"[J] {record.id} {record.outcome}",
                    )
                )
        members: dict[Status, list[str]] = {}
        for requirement in ml.requirements if ml is not None else []:
            entries = list(by_requirement.get(requirement.id, []))
            reviews = [r for r in self.reviews.of_item(requirement.id) if r.purpose == "validation"]
            for review in reviews:
                status, reason = self.reviews.status(review)
                entries.append((review.date, status, reason))
            if reviews:
                self.reviews.decide(reviews, node)  # cite them
            if not entries:
                members.setdefault("undeveloped", []).append(f"{requirement.id} (not validated)")
                continue
            latest = max(e[0] for e in entries)
            today = [e for e in entries if e[0] == latest]
            status = worst(e[1] for e in today)
            if status != "supported":
                said = "; ".join(e[2] for e in today if e[1] == status)
                members.setdefault(status, []).append(f"{requirement.id} ({said})")
        if not members:
            return "supported", "every ML safety requirement validated ([J] or [RV])"
        status = worst(members)
        words = {
            "failed": "validation rejected",
            "stale": "changed since validated",
            "inconclusive": "validation open",
            "undeveloped": "validation pending or not recorded",
        }
        return status, f"{words[status]}: " + ", ".join(members[status])

    def verification_independence(self, node: Node, binding: Mapping[str, Item]) -> list[Part]:
        log = self.project.get("AA", VerificationLog)
        parts: list[Part] = []
        if log is None:
            return [("undeveloped", "the project has no valid [AA]")]
        if not log.verifiers:
            parts.append(("undeveloped", "[AA] names no verifier (R16)"))
        elif not any(v.independent for v in log.verifiers):
            parts.append(("failed", "no verifier in [AA] is independent of development (R16)"))
        else:
            names = ", ".join(v.name for v in log.verifiers if v.independent)
            parts.append(("supported", f"independent verifiers in [AA]: {names}"))
        requirement = binding.get("requirement")
        if requirement is not None:
            # the test leg and the formal leg (R16)
            for key in (
                record_keys.requirement_key(5, requirement.id, "P"),
                record_keys.formal_key(5, requirement.id),
            ):
                found = self.record(key)
                if found is not None and (found[1].role != "verifier" or found[1].stage != 5):
                    parts.append(
                        (
                            "failed",
                            f"stage-5 evidence {found[1].key} for {requirement.id} was computed "
                            f"by the {found[1].role} role at stage {found[1].stage}",
                        )
                    )
        parts += self.evidence(
            node,
            [
                EvidenceSelector(key=record_keys.independence_key("N", "P")),
                EvidenceSelector(key=record_keys.independence_key("O", "P")),
            ],
            {},
        )
        document = self.project.datasets().get("P")
        if document is not None and document.sealed is None:
            node.notes.append("[P] is not sealed: its custody rests on [AA] data_access (R15)")
        # custody: a cited record whose access-log entry was cut from the log is stale
        # (ProjectInputs.stale), and a damaged log is a project error (D015)
        return parts

    def artefact_note(self, letter: str) -> str:
        datasets = self.project.datasets()
        if letter in datasets:
            current = self.inputs.current(f"dataset:{letter}")
            sealed = " (sealed)" if datasets[letter].sealed is not None else ""
            return f"data sha256 {current}{sealed}" if current else "data file missing"
        if letter == "V":
            current = self.inputs.current("model")
            return f"model sha256 {current}" if current else "model file missing"
        return ""


def _solution_for(goal: Node, tag: str, artefacts: list[str] | None = None) -> Node:
    """An empty solution ``Sn-<tag>-<goal>`` the case adds under ``goal``."""
    return Node(
        id=f"Sn-{tag}-{goal.id}",
        pattern_id=f"Sn-{tag}-{goal.pattern_id}",
        type="solution",
        text="",
        module=goal.module,
        binding=dict(goal.binding),
        artefacts=list(artefacts or []),
    )


def _reviewable(requirement: MLSafetyRequirement) -> bool:
    """Whether a review alone can verify ``requirement``: one verified by review or by an
    analysis (examined in a review). A platform test or a simulation measures: its
    results are imported; a review of it still counts when it holds the claim back."""
    return requirement.verified_by in ("review", "analysis")


def _awaiting(requirement: MLSafetyRequirement) -> str:
    command = import_command(requirement.id, verifier=True, method=requirement.verified_by)
    how = (
        f"verified by {requirement.verified_by.replace('_', ' ')}; "
        if requirement.verified_by
        else ""
    )
    return (
        f"no evidence for {requirement.id}: {how}amlas run does not judge it on data; "
        f"awaiting imported evidence ({command}) or a verification review record [RV] "
        "that examined it"
    )


def _imported_title(record: EvidenceRecord) -> str:
    provenance = record.provenance
    if provenance is None:
        return record.key
    who = f"{provenance.accountable.person}, {provenance.accountable.organisation}"
    if provenance.document is not None:
        kind = provenance.document.kind.replace("_", " ")
        return f"{provenance.document.title} ({kind}; {who}; {provenance.date})"
    return (
        f"counts from {provenance.tool.name} {provenance.tool.version} ({who}; {provenance.date})"
    )


def _provenance_note(key: str, record: EvidenceRecord) -> str:
    """What a reader must know of an imported record cited by a node."""
    provenance = record.provenance
    if provenance is None:
        return f"{key}: imported"
    tool = f"{provenance.tool.name} {provenance.tool.version}"
    who = f"accountable {provenance.accountable.person} ({provenance.accountable.organisation})"
    if provenance.document is not None:
        document = provenance.document
        return (
            f"{key}: imported document {document.title!r} ({document.file}, sha256 "
            f"{document.sha256[:12]}...; {tool}; {who}): its verdict '{record.verdict}' is the "
            "document's own statement, not computed by amlas"
        )
    return (
        f"{key}: bound and verdict computed by amlas from counts imported from "
        f"{provenance.file} (sha256 {provenance.sha256[:12]}...; {tool}; {who})"
    )
