"""Instantiate a pattern library over a project and its evidence: one GSN graph.

:func:`build_case` walks the library from its root goal. Each pattern node becomes one
instance per multiplicity binding (``G5.1.MLR-3``); placeholders are filled from the
artefacts; choices keep the chosen legs; optional links follow their condition. Leaves
are then assessed (evidence verdicts, staleness, recorded rationale, filled-in artefact
fields), failed solutions raise counter-solutions, and statuses propagate upward
(:mod:`amlas.case._status`).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from amlas._gc import paused_gc
from amlas.case._assess import Assessor
from amlas.case._bind import Binder, Item, fill, first_sentence
from amlas.case._library import Library, LibraryError, Link, PatternNode, project_library
from amlas.case._model import ArtefactEntry, Case, CitedReview, Module, Node
from amlas.case._status import names_node, propagate
from amlas.diagnostics import Diagnostics, Location, did_you_mean
from amlas.errors import UsageError
from amlas.evidence import EvidenceStore, StoreLike, open_evidence_detail, using_store
from amlas.project import ArgumentNode, Project, build_trace, check_project
from amlas.project.artefacts import ReviewRecords
from amlas.sealing import VerifierKey

__all__ = ["build_case", "check_case_settings", "document_targets"]

Binding = dict[str, Item]

# a project node's ID prefix by type, as gsn2x reads types from IDs (../shared/GSN2X.md 4.2)
_PREFIXES = {
    "goal": "G",
    "strategy": "S",
    "solution": "Sn",
    "context": "C",
    "assumption": "A",
    "justification": "J",
}
_NOT_PREFIXES: dict[str, tuple[str, ...]] = {
    "goal": (),
    "strategy": ("Sn",),
    "solution": (),
    "context": ("CG", "CSn"),
    "assumption": (),
    "justification": (),
}

# placeholder variable (before the dot) -> the artefacts it is read from
_PLACEHOLDER_SOURCES: dict[str, set[str]] = {
    "environment": {"B"},
    "system": {"C"},
    "component_description": {"D"},
    "constraints": {"D"},
    "allocated": {"E"},
    "ml_requirements": {"H"},
    "requirement": {"H"},
    "data_requirements": {"L"},
    "datasets": {"N", "O", "P"},
    "model": {"V"},
    "scenarios": {"EE"},
    "simulator": {"EE"},
    "erroneous": {"DD"},
    "rationale": set(),
}


def _suffix(binding: Mapping[str, Item]) -> str:
    return "".join(f".{item.id}" for item in binding.values())


class _Builder:
    def __init__(self, project: Project, library: Library, store: EvidenceStore | None) -> None:
        self.project = project
        self.library = library
        self.binder = Binder(project)
        self.assessor = Assessor(project, self.binder, store)
        self.nodes: dict[str, Node] = {}
        self.diagnostics = Diagnostics()
        # (pattern id, kind of problem, detail) -> instance ids: one diagnostic per group
        self.problems: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        self.argument: dict[str, ArgumentNode] = {}
        """The project's own nodes (amlas.yaml case.argument) that joined the case."""

    # -- instantiation ---------------------------------------------------------------------------

    def instantiate(self, pattern_id: str, binding: Binding) -> str:
        pattern = self.library.nodes[pattern_id]
        node_id = pattern_id + _suffix(binding)
        if node_id in self.nodes:
            return node_id
        variables = self.binder.variables_for(binding)
        node = Node(
            id=node_id,
            pattern_id=pattern_id,
            type=pattern.type,
            text="",
            module=self.library.module_of[pattern_id],
            artefacts=list(pattern.artefacts),
            binding={name: item.id for name, item in binding.items()},
            extension=pattern.extension,
        )
        self.nodes[node_id] = node
        if pattern.type == "justification":
            node.rationale = self.assessor.rationale(pattern, node, binding)
            variables["rationale"] = first_sentence(node.rationale, 300) if node.rationale else None
        node.text, missing = fill(pattern.text, variables)
        for name in missing:
            if name == "rationale":
                self.problems[(pattern_id, "rationale", "")].append(node_id)
            else:
                self.problems[(pattern_id, "placeholder", name)].append(node_id)
        if missing:
            node.notes.append("unfilled: " + ", ".join(f"{{{m}}}" for m in missing))
        for link in pattern.links("context"):
            node.in_context_of += self.follow(pattern, link, binding)
        chosen = None
        if pattern.choice is not None:
            chosen = self.binder.chosen(pattern.choice.chosen_by, binding)
            options = {link.option for link in pattern.links("supported_by") if link.option}
            if len(chosen & options) < pattern.choice.at_least:
                self.problems[(pattern_id, "choice", "/".join(sorted(options)))].append(node_id)
                node.notes.append(
                    f"choice unmade: at least {pattern.choice.at_least} of "
                    f"{', '.join(sorted(options))} (none recorded for this requirement)"
                )
        for link in pattern.links("supported_by"):
            if link.option is not None and (chosen is None or link.option not in chosen):
                continue
            node.supported_by += self.follow(pattern, link, binding)
        if pattern.backed_by is not None:
            node.backed_by = self.instantiate(pattern.backed_by, binding)
        return node_id

    def follow(self, parent: PatternNode, link: Link, binding: Binding) -> list[str]:
        if link.when is not None and not self.binder.condition(link.when):
            return []
        if link.for_each is None:
            return [self.instantiate(link.id, binding)]
        items = self.binder.collection(link.for_each)
        if not items and not link.optional:
            self.problems[(link.id, "multiplicity", link.for_each)].append(
                parent.id + _suffix(binding)
            )
        return [self.instantiate(link.id, {**binding, link.as_: item}) for item in items]

    # -- the hierarchy of [H] ---------------------------------------------------------------------

    def nest(self) -> None:
        """An [H] item that refines another: its goal supports the parent's goal (the
        parent holds only when its own verification and every refinement do) instead of
        standing beside it under S2.2."""
        ml = self.project.ml_requirements
        if ml is None:
            return
        tree = ml.tree()
        goals = {
            node.binding["requirement"]: node
            for node in self.nodes.values()
            if node.pattern_id in ("G2.4", "G2.5", "G2.X") and "requirement" in node.binding
        }
        for requirement, goal in goals.items():
            parent = tree.parent_of(requirement)
            if parent is None or parent not in goals:
                continue
            for node in self.nodes.values():
                if node.pattern_id == "S2.2" and goal.id in node.supported_by:
                    node.supported_by.remove(goal.id)
            goals[parent].supported_by.append(goal.id)
            goal.notes.append(f"{requirement} refines {parent}: argued under {goals[parent].id}")

    # -- the project's own argument ---------------------------------------------------------------

    def extend(self) -> None:
        """Add the nodes of amlas.yaml ``case.argument`` under the pattern nodes they name.
        Every problem is G009 (an error: a node that cannot be placed would be silently
        missing from the case)."""
        entries = self.project.manifest.case.argument
        if not entries:
            return
        source = self.project.manifest_source

        def at(i: int, field: str | None = None) -> Location:
            path: tuple[str | int, ...] = ("case", "argument", i) + ((field,) if field else ())
            return source.locate(path) if source is not None else Location("amlas.yaml")

        def problem(i: int, field: str | None, message: str, hint: str | None = None) -> None:
            self.diagnostics.add("G009", message, at(i, field), hint=hint)

        withheld = bool(self.broken())  # G008 says why the case may lack nodes
        own: dict[str, tuple[int, ArgumentNode]] = {}
        for i, entry in enumerate(entries):
            if entry.id in self.nodes or entry.id in own:
                problem(i, "id", f"case.argument node {entry.id!r} is already a node of the case")
                continue
            own[entry.id] = (i, entry)
        reviews = self.project.get("RV", ReviewRecords)
        review_ids = {r.id for r in reviews.reviews} if reviews is not None else set()
        claims = ("goal", "strategy")
        for node_id, (i, entry) in list(own.items()):
            prefix = _PREFIXES[entry.type]
            if not node_id.startswith(prefix) or node_id.startswith(_NOT_PREFIXES[entry.type]):
                problem(
                    i,
                    "id",
                    f"case.argument node {node_id!r} is a {entry.type}: its ID starts with "
                    f"{prefix!r} (GSN and gsn2x read a node's type from its ID)",
                )
                del own[node_id]
        for node_id, (i, entry) in own.items():
            self.argument[node_id] = entry
            self.nodes[node_id] = Node(
                id=node_id,
                pattern_id=node_id,
                type=entry.type,
                text=entry.text,
                module="",
                extension=True,
                notes=["project-specific argument (amlas.yaml case.argument)"],
                rationale=entry.text if entry.type == "justification" else None,
            )
            if entry.type != "solution" and (entry.evidence or entry.reviews):
                problem(
                    i,
                    "evidence",
                    f"{node_id} is a {entry.type}: only a solution cites evidence or reviews",
                )
            if entry.type not in claims and entry.supported_by:
                problem(
                    i,
                    "supported_by",
                    f"{node_id} is a {entry.type}: only goals and strategies are supported "
                    "by other nodes",
                )
            for review in entry.reviews:
                if review not in review_ids:
                    problem(
                        i,
                        "reviews",
                        f"{node_id} cites review {review!r}, which [RV] does not hold",
                        hint=_closest(review, sorted(review_ids)),
                    )
        # links, once every node exists
        for node_id, (i, entry) in own.items():
            node = self.nodes[node_id]
            for relation, targets in (
                ("supported_by", entry.supported_by),
                ("context", entry.context),
            ):
                for target in targets:
                    if target not in own:
                        problem(
                            i,
                            relation,
                            f"{node_id} links to {target!r}, which is no node of case.argument",
                            hint=_closest(target, sorted(own)),
                        )
                        continue
                    kind = own[target][1].type
                    if relation == "supported_by" and kind not in ("goal", "strategy", "solution"):
                        problem(
                            i,
                            relation,
                            f"{node_id} is supported by {target}, a {kind}: "
                            "list it under 'context'",
                        )
                    elif relation == "context" and kind not in (
                        "context",
                        "assumption",
                        "justification",
                    ):
                        problem(
                            i,
                            relation,
                            f"{node_id} has {target}, a {kind}, as context: "
                            "list it under 'supported_by'",
                        )
                    else:
                        (
                            node.supported_by if relation == "supported_by" else node.in_context_of
                        ).append(target)
            if entry.under is None:
                continue
            parent = self.nodes.get(entry.under)
            if parent is None and withheld:
                continue  # the node may be missing only because an artefact did not load
            if parent is None or parent.id in own:
                problem(
                    i,
                    "under",
                    f"{node_id} goes under {entry.under!r}, which is no node of the patterns' case",
                    hint=_closest(entry.under, sorted(n for n in self.nodes if n not in own)),
                )
                continue
            if not parent.is_claim:
                problem(
                    i,
                    "under",
                    f"{node_id} goes under {entry.under}, a {parent.type}: project nodes "
                    "attach to a goal or a strategy",
                )
                continue
            if entry.type in ("goal", "strategy", "solution"):
                parent.supported_by.append(node_id)
            else:
                parent.in_context_of.append(node_id)
        # every project node is reached from the patterns' case, and modules follow
        reached: set[str] = set()
        for node_id, (_, entry) in own.items():
            if entry.under is None or entry.under not in self.nodes or entry.under in own:
                continue
            stack = [node_id]
            module = self.nodes[entry.under].module
            while stack:
                current = stack.pop()
                if current in reached:
                    continue
                reached.add(current)
                self.nodes[current].module = module
                stack.extend(
                    x
                    for x in (*self.nodes[current].supported_by, *self.nodes[current].in_context_of)
                    if x in own
                )
        for node_id, (i, _) in own.items():
            if node_id in reached:
                continue
            if not withheld:  # else it may be unreached only because an artefact is broken
                problem(
                    i,
                    "under",
                    f"{node_id} is reached from no node of the case: give it 'under', or "
                    "list it in another project node's 'supported_by' or 'context'",
                )
            self.nodes.pop(node_id, None)
            self.argument.pop(node_id, None)
            for other in self.nodes.values():
                for links in (other.supported_by, other.in_context_of):
                    if node_id in links:
                        links.remove(node_id)

    # -- diagnostics -----------------------------------------------------------------------------

    def broken(self) -> list[str]:
        """Artefacts whose file is there but did not load (their errors are reported)."""
        return [
            letter
            for letter, relative in self.project.files.items()
            if letter not in self.project.artefacts and (self.project.root / relative).is_file()
        ]

    def _rests_on_broken(self, pattern_id: str, kind: str, detail: str, broken: set[str]) -> bool:
        """Whether an instantiation problem may only be the shadow of an artefact that did
        not load (and so could contradict the files)."""
        if not broken:
            return False
        pattern = self.library.nodes[pattern_id]
        letters = set(pattern.artefacts)
        if kind in ("multiplicity", "choice"):
            letters |= {"H", "AA"}
        elif kind == "placeholder":
            letters |= _PLACEHOLDER_SOURCES.get(detail.split(".")[0], set())
        elif kind == "rationale" and pattern.rationale is not None:
            letters.add(pattern.rationale.source.partition(".")[0])
            if pattern.rationale.source == "activities":
                letters.add("AA")
        return bool(letters & broken)

    def report(self) -> None:
        broken = self.broken()
        for letter in broken:
            self.diagnostics.add(
                "G008",
                f"[{letter}] did not load (its errors are listed with its file): the case is "
                f"built without it, every claim resting on it is undeveloped, and warnings "
                "about what it would have filled in are withheld until it loads",
                self.project.locate(letter),
            )
        for (pattern_id, kind, detail), ids in sorted(self.problems.items()):
            if self._rests_on_broken(pattern_id, kind, detail, set(broken)):
                for node_id in ids:
                    if node_id in self.nodes:
                        self.nodes[node_id].notes.append(
                            "incomplete: " + ", ".join(f"[{x}]" for x in broken) + " did not load"
                        )
                continue
            shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            where, hint = self._where(pattern_id, kind, detail)
            if kind == "placeholder":
                self.diagnostics.add(
                    "G001",
                    f"{pattern_id}: placeholder {{{detail}}} left unfilled in {shown}",
                    where,
                    hint=hint,
                )
            elif kind == "multiplicity":
                self.diagnostics.add(
                    "G002",
                    f"{pattern_id}: no {detail.replace('_', ' ')}, so {shown} has no "
                    f"{pattern_id} instance",
                    where,
                    hint=hint,
                )
            elif kind == "choice":
                self.diagnostics.add(
                    "G003",
                    f"{pattern_id}: no verification approach ({detail}) chosen for {shown}",
                    where,
                    hint="list an activity with method 'test' or 'formal' for the requirement "
                    "in [AA] (R17)",
                )
            elif kind == "rationale":
                self.diagnostics.add(
                    "G004",
                    f"{pattern_id}: no rationale recorded for {shown}; the justification "
                    "stays undeveloped (R24)",
                    where,
                    hint=hint,
                )
        self.settings_named()

    def _matching(self, key: str) -> list[Node]:
        return [n for n in self.nodes.values() if names_node(key, n)]

    def settings_named(self) -> None:
        """Every node a case setting or a review names exists, and is one the setting can
        affect: never ignored in silence (G005, G007)."""
        patterns = sorted({n.pattern_id for n in self.nodes.values()} | set(self.nodes))
        withheld = bool(self.broken())  # G008 says why the case may lack nodes
        source = self.project.manifest_source
        case = self.project.manifest.case
        judged = self.assessor.judged
        named: list[tuple[str, str, tuple[str | int, ...], str, Any]] = [
            *(
                ("rationale", key, ("case", "rationale", key), "manifest", None)
                for key in case.rationale
            ),
            *(
                ("judgements", key, ("case", "judgements", key), "manifest", None)
                for key in case.judgements
            ),
            *(
                (table, a.node, ("case", table, i, "node"), "manifest", None)
                for table in ("allow_undeveloped", "allow_inconclusive")
                for i, a in enumerate(getattr(case, table))
            ),
        ]
        reviews = self.project.get("RV", ReviewRecords)
        for i, review in enumerate(reviews.reviews if reviews is not None else []):
            for j, key in enumerate(review.nodes):
                named.append(("review", key, ("reviews", i, "nodes", j), "RV", review.id))
        for table, key, path, file, review in named:
            if file == "manifest":
                on_key = table in ("rationale", "judgements")
                at = source.locate(path, key=on_key) if source else Location("amlas.yaml")
                what = f"case.{table}"
            else:
                at = self.project.locate("RV", path)
                what = f"review {review}"
            matched = self._matching(key)
            if not matched and withheld:
                continue  # the node may be missing only because an artefact did not load
            if not matched:
                self.diagnostics.add(
                    "G005",
                    f"{what} names {key!r}, which is no node of this safety case",
                    at,
                    hint=_closest(key, patterns),
                )
                continue
            problem = None
            if table == "rationale" and not any(n.type == "justification" for n in matched):
                problem = (
                    f"case.rationale names {key!r}, a {matched[0].type}: a recorded rationale "
                    "is the text of a justification (J...), so it affects nothing here"
                )
            elif table == "judgements" and not any(n.id in judged for n in matched):
                node = matched[0]
                problem = (
                    f"case.judgements names {key!r}, whose status comes from what supports it "
                    f"({', '.join(node.supported_by[:3]) or 'its evidence'}): a judgement "
                    "develops only a goal the pattern leaves undeveloped, so it is not used"
                )
            elif table == "review" and not any(
                n.type in ("goal", "solution", "justification") for n in matched
            ):
                problem = (
                    f"review {review} names {key!r}, a {matched[0].type}: a review supports "
                    "a goal, a solution or a justification, so it affects nothing here"
                )
            if problem is not None:
                self.diagnostics.add(
                    "G007",
                    problem,
                    at,
                    hint="remove it, or name the node it is meant for"
                    + (
                        " (judgements: goals such as G5.6, G5.8, G6.5, G6.7, G6.8, G6.9)"
                        if table == "judgements"
                        else ""
                    ),
                )

    def _where(self, pattern_id: str, kind: str, detail: str) -> tuple[Location, str | None]:
        pattern = self.library.nodes[pattern_id]
        if kind == "multiplicity" and "H" in self.project.files:
            return self.project.locate("H", ("requirements",), key=True), (
                f"add {detail.replace('_', ' ')} to [H], or argue in [H] "
                "development_rationale why there are none"
            )
        if kind == "rationale" and pattern.rationale is not None:
            source = pattern.rationale.source
            letter, _, field = source.partition(".")
            if letter in ("case", "activities"):
                return Location("amlas.yaml"), (
                    f"record it in amlas.yaml under case.rationale.{pattern_id}"
                    + (
                        " or in the [AA] activities of the requirement"
                        if letter == "activities"
                        else ""
                    )
                )
            return self.project.locate(letter) if letter in self.project.files else Location(
                "amlas.yaml"
            ), f"write '{field}' in [{letter}] or case.rationale.{pattern_id} in amlas.yaml"
        letters = pattern.artefacts
        for letter in letters:
            if letter in self.project.files:
                missing = letter not in self.project.artefacts
                return self.project.locate(letter), (
                    f"[{letter}] is missing or invalid" if missing else None
                )
        return Location("amlas.yaml"), None

    # -- artefact index ----------------------------------------------------------------------------

    def artefact_index(self, case: Case) -> list[ArtefactEntry]:
        out = []
        refs = self.assessor.refs
        sizes: Counter[str] = Counter(n.module for n in case.nodes.values())  # one pass
        for info in self.library.artefacts:
            path = sha = None
            present = False
            note = ""
            if info.produced_by == "project":
                path = self.project.files.get(info.letter)
                present = info.letter in self.project.artefacts
                if path and (self.project.root / path).is_file():
                    sha = self.project.content_hash(self.project.root / path)
                note = self.assessor.artefact_note(info.letter)
            elif info.produced_by == "library":
                path = f"{self.library.name}/{info.module}.yaml"
                present = info.module in self.library.files
                if present and info.module is not None:
                    sha = hashlib.sha256(self.library.files[info.module].encode()).hexdigest()
            elif info.produced_by == "run":
                keys = [k for k in refs if info.prefix and k.startswith(info.prefix)]
                present = bool(keys)
                note = f"{len(keys)} evidence records" if keys else "no evidence records yet"
            elif info.produced_by == "case":
                module_root = next((m.root for m in case.modules if m.name == info.module), None)
                instances = sizes[info.module] if info.module is not None else 0
                present = bool(instances)
                status = case.nodes[module_root].status if module_root in case.nodes else None
                note = f"{instances} nodes" + (f", top claim {status}" if status else "")
            out.append(
                ArtefactEntry(
                    info.letter, info.title, info.kind, info.stage, path, sha, present, note
                )
            )
        return out


def _ordered(nodes: dict[str, Node], library: Library) -> dict[str, Node]:
    """Depth-first from the root (support, then context, then backing modules), each
    counter-solution right after the goal it challenges; then grouped by module."""
    challengers: dict[str, list[str]] = defaultdict(list)
    for node in nodes.values():
        if node.challenges:
            challengers[node.challenges].append(node.id)
    seen: dict[str, None] = {}
    stack = [library.root]
    while stack:
        node_id = stack.pop()
        if node_id in seen or node_id not in nodes:
            continue
        seen[node_id] = None
        node = nodes[node_id]
        after = [*node.in_context_of, *challengers[node_id], *node.supported_by]
        if node.backed_by:
            after.append(node.backed_by)
        stack.extend(reversed(after))
    for node_id in nodes:  # anything unreachable still appears, at the end of its module
        seen.setdefault(node_id, None)
    rank = {m.module: i for i, m in enumerate(library.modules)}
    ordered = sorted(seen, key=lambda nid: rank.get(nodes[nid].module, len(rank)))
    return {nid: nodes[nid] for nid in ordered}


def _closest(word: str, options: list[str]) -> str | None:
    return did_you_mean(word, options)


def build_case(
    root: str | Path | Project,
    *,
    store: StoreLike | None = None,
    library: str | Path | None = None,
    key: VerifierKey | None = None,
) -> Case:
    """Build the safety case of the project at ``root`` (a directory, or a project already
    checked with :func:`~amlas.project.check_project`) from its artefacts and evidence.

    ``store`` overrides the manifest's evidence store (a URI, or an open store, which
    stays open); ``library`` the manifest's pattern library (a shipped name or a folder).
    Problems in the project are carried in ``case.diagnostics`` (the case is still built:
    missing artefacts leave claims undeveloped). Raises :class:`~amlas.errors.UsageError`
    for a missing project, an unreadable store or a malformed pattern library.

    Per-sample detail that evidence computed from sealed data keeps sealed for the verifier
    (:mod:`amlas.evidence._detail`) stays sealed in the case unless ``key`` (the verifier
    key) is given: then ``case.evidence`` holds the records with it put back. Raises
    :class:`~amlas.sealing.SealError` when ``key`` does not open a record's detail.
    """
    with paused_gc():
        project = root if isinstance(root, Project) else check_project(root).project
        if project.manifest.is_system:
            raise UsageError(
                f"{project.root} is a system project (its amlas.yaml declares 'components'): "
                "build its case with amlas.case.build_system_case"
            )
        patterns = project_library(project, library)
        with using_store(store or project.manifest.evidence, root=project.root) as evidence:
            builder = _Builder(project, patterns, evidence)
            builder.instantiate(patterns.root, {})
            builder.nest()
            builder.extend()
            builder.assessor.assess_all(builder.nodes, patterns, builder.argument)
        builder.report()
        nodes = _ordered(builder.nodes, patterns)
        propagate(nodes)
        diagnostics = Diagnostics()
        diagnostics.extend(project.diagnostics)
        diagnostics.extend(builder.diagnostics)
        case = Case(
            project=project.manifest.name,
            component=project.manifest.component,
            library=patterns.name,
            root=patterns.root,
            modules=[
                Module(m.module, m.stage, m.title, m.pattern, m.argument, m.root)
                for m in patterns.modules
            ],
            nodes=nodes,
            evidence=(
                open_evidence_detail(builder.assessor.cited, key)
                if key is not None
                else builder.assessor.cited
            ),
            trace=build_trace(project),
            diagnostics=diagnostics,
            stale_inputs=builder.assessor.stale_inputs,
        )
        case.artefacts = builder.artefact_index(case)
        judge = builder.assessor.reviews
        case.reviews = {
            review.id: CitedReview(review, *judge.status(review))
            for review in judge.records
            if review.id in judge.used
        }
        return case


def check_case_settings(project: Project, diagnostics: Diagnostics) -> None:
    """G005 and G007 for the case settings of amlas.yaml and the nodes review records
    name, found from the pattern instantiation alone (no evidence), so that `amlas check`
    reports in one pass what `amlas case` would refuse. A library that does not load is
    :func:`~amlas.case.check_library`'s to report."""
    try:
        patterns = project_library(project)
    except LibraryError:
        return
    builder = _Builder(project, patterns, None)
    builder.instantiate(patterns.root, {})
    builder.nest()
    builder.extend()
    # the claims the pattern leaves without support: the ones a judgement can develop
    builder.assessor.judged = {
        node.id
        for node in builder.nodes.values()
        if node.is_claim
        and node.id not in builder.argument
        and not [c for c in node.supported_by if c not in builder.argument]
    }
    builder.settings_named()
    diagnostics.extend(builder.diagnostics)


def document_targets(case: Case) -> dict[str, int]:
    """The goals and solutions of ``case`` an imported document may be attached to
    (``amlas evidence import --for NODE``), by instance and by pattern ID, with their
    stage. Nodes the case adds itself (``Sn-...`` solutions, counter-solutions) are not
    targets: attach to the goal they support."""
    out: dict[str, int] = {}
    for node in case.nodes.values():
        if node.type not in ("goal", "solution") or node.pattern_id.startswith("Sn-"):
            continue
        out[node.id] = node.stage
        out.setdefault(node.pattern_id, node.stage)
    return out
