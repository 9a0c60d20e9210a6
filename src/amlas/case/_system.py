"""The safety case of a system with several ML components: one AMLAS argument per
component under one root.

Each component's case is built from its own project and evidence exactly as a single
project's is (:func:`~amlas.case.build_case`); the system case then holds them all, every
node ID suffixed with the component's [C] ID (``G1.1@CMP-1``, ``Sn5.1.MLR-3@CMP-1``), below

- ``G0`` the system's ML components are acceptably safe in the operating context,
- ``S0`` argued over each ML component of [C], each by the six AMLAS patterns,
- ``C0.1`` the system description [C] naming them.

The claim over the set is supported only when every member is: an ML component of [C]
without a usable project stands as an undeveloped goal ``G0.<ID>`` saying why (G010), so
the top claim cannot be supported without it. The gate applies each component's own policy
(its ``case.allow_*``) to that component's nodes only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from amlas.case._build import build_case
from amlas.case._model import ArtefactEntry, Case, CitedReview, Module, Node, RequiredApproval
from amlas.case._status import Allowance, GateResult, gate, propagate
from amlas.diagnostics import Diagnostics, Location
from amlas.evidence import EvidenceRecord, StoreLike
from amlas.project import MANIFEST_FILE, SYSTEM_LETTERS, Project, System, load_system, relocated
from amlas.project.artefacts import SystemDescription
from amlas.sealing import VerifierKey

__all__ = ["SYSTEM_MODULE", "SystemCase", "build_system_case", "gate_system", "suffixed"]

SYSTEM_MODULE = "system"
ROOT, STRATEGY, CONTEXT = "G0", "S0", "C0.1"


@dataclass
class SystemCase:
    """The system's case (``case``, what every renderer reads) and the case of each
    component as built from its own project (``parts``, by [C] ID)."""

    case: Case
    parts: dict[str, Case] = field(default_factory=dict)
    system: System | None = None
    project: Project | None = None
    """For one component's case (no system): its project, when the builder kept it."""


def suffixed(node_id: str, component: str) -> str:
    """A component's node ID as the system case writes it."""
    return f"{node_id}@{component}"


def build_system_case(
    root: str | Path | System,
    *,
    stores: dict[str, StoreLike] | None = None,
    library: str | Path | None = None,
    key: VerifierKey | None = None,
) -> SystemCase:
    """Build the case of the system project at ``root`` (see the module doc). ``stores``
    overrides a component's evidence store by [C] ID; ``library`` every component's
    pattern library; ``key`` opens the sealed detail of every component whose records are
    sealed for it."""
    system = root if isinstance(root, System) else load_system(root)
    manifest = system.manifest
    diagnostics = Diagnostics()
    diagnostics.extend(system.diagnostics)
    nodes: dict[str, Node] = {}
    modules: list[Module] = [Module(SYSTEM_MODULE, 0, "The system's ML components", "", "", ROOT)]
    names = ", ".join(
        [*system.components, *(c for c in system.missing if c not in system.components)]
    )
    nodes[ROOT] = Node(
        ROOT,
        ROOT,
        "goal",
        f"The ML components of {manifest.component} are acceptably safe to operate in the "
        "defined operating context",
        SYSTEM_MODULE,
        in_context_of=[CONTEXT],
        artefacts=["A", "B", "C"],
        extension=True,
    )
    nodes[STRATEGY] = Node(
        STRATEGY,
        STRATEGY,
        "strategy",
        "Argument over each ML component of the system, each argued by the six AMLAS "
        "patterns (the claim holds only when it holds for every component)",
        SYSTEM_MODULE,
        extension=True,
    )
    described = system.project.get("C", SystemDescription) is not None
    nodes[CONTEXT] = Node(
        CONTEXT,
        CONTEXT,
        "context",
        f"The ML components of the system description [C]: {names or 'none'}",
        SYSTEM_MODULE,
        status="supported" if described else "undeveloped",
        reason="[C] loaded" if described else "[C] did not load",
        artefacts=["C"],
        extension=True,
    )
    nodes[ROOT].supported_by = [STRATEGY]
    parts: dict[str, Case] = {}
    evidence: dict[str, EvidenceRecord] = {}
    reviews: dict[str, CitedReview] = {}
    stale: dict[str, list[str]] = {}
    artefacts: list[ArtefactEntry] = []
    for component_id in system.components:
        project = system.components[component_id]
        store = (stores or {}).get(component_id)
        part = build_case(project, store=store, library=library, key=key)
        parts[component_id] = part
        prefix = system.paths[component_id]
        for diagnostic in part.diagnostics:
            if diagnostic not in project.diagnostics.items:  # the system check has those
                diagnostics.items.append(relocated(diagnostic, prefix))
        for module in part.modules:
            modules.append(
                replace(
                    module,
                    name=suffixed(module.name, component_id),
                    title=f"{component_id}: {module.title}",
                    root=suffixed(module.root, component_id),
                )
            )
        for node in part.nodes.values():
            nodes[suffixed(node.id, component_id)] = _moved(node, component_id)
        nodes[STRATEGY].supported_by.append(suffixed(part.root, component_id))
        evidence.update(part.evidence)
        stale.update(part.stale_inputs)
        for review_id, review in part.reviews.items():
            reviews[suffixed(review_id, component_id)] = review
        for entry in part.artefacts:
            path = _joined(prefix, entry.path) if entry.path else entry.path
            if entry.letter in SYSTEM_LETTERS:  # the system's own, once
                if not any(a.letter == entry.letter for a in artefacts):
                    artefacts.append(replace(entry, path=path))
                continue
            artefacts.append(replace(entry, title=f"{entry.title} ({component_id})", path=path))
    for component_id, why in system.missing.items():
        if component_id in system.components:
            continue
        goal = f"G0.{component_id}"
        nodes[goal] = Node(
            goal,
            "G0.component",
            "goal",
            f"ML component {component_id} is acceptably safe to operate in the defined "
            "operating context",
            SYSTEM_MODULE,
            undeveloped=True,
            artefacts=["C"],
            notes=[f"no argument: {why}"],
            extension=True,
        )
        nodes[STRATEGY].supported_by.append(goal)
        diagnostics.add(
            "G010",
            f"ML component {component_id} has no argument in the system case: {why}; "
            f"{ROOT} stays undeveloped until it has one",
            Location(MANIFEST_FILE),
        )
    propagate(nodes)
    case = Case(
        project=manifest.name,
        component=manifest.component,
        library=next(iter(parts.values())).library if parts else str(library or ""),
        root=ROOT,
        modules=modules,
        nodes=nodes,
        evidence=evidence,
        artefacts=artefacts,
        trace=None,
        diagnostics=diagnostics,
        stale_inputs=stale,
    )
    case.reviews = reviews
    case.components = {c: p.manifest.component for c, p in system.components.items()}
    return SystemCase(case, parts, system)


def gate_system(
    built: SystemCase,
    *,
    allow_undeveloped: Sequence[Allowance] | None = None,
    allow_inconclusive: Sequence[Allowance] | None = None,
    approvals: Sequence[RequiredApproval] = (),
) -> GateResult:
    """The gate over the system case: each component's own policy (``case.allow_*`` of
    its ``amlas.yaml``) accepts nodes of that component only; the allowances given here
    (the command line) name nodes of the system case by their full ID
    (``G6.7@CMP-1``)."""
    undeveloped: list[Allowance] = [(a[0], a[1], "") for a in allow_undeveloped or []]
    inconclusive: list[Allowance] = [(a[0], a[1], "") for a in allow_inconclusive or []]
    system = built.system
    if system is not None:
        for component_id, project in system.components.items():
            settings = project.manifest.case
            undeveloped += [(a.node, a.reason, component_id) for a in settings.allow_undeveloped]
            inconclusive += [(a.node, a.reason, component_id) for a in settings.allow_inconclusive]
    return gate(
        built.case,
        allow_undeveloped=undeveloped,
        allow_inconclusive=inconclusive,
        approvals=approvals,
    )


def _moved(node: Node, component: str) -> Node:
    def move(ids: list[str]) -> list[str]:
        return [suffixed(i, component) for i in ids]

    return replace(
        node,
        id=suffixed(node.id, component),
        module=suffixed(node.module, component),
        supported_by=move(node.supported_by),
        in_context_of=move(node.in_context_of),
        reviews=move(node.reviews),
        backed_by=suffixed(node.backed_by, component) if node.backed_by else None,
        challenges=suffixed(node.challenges, component) if node.challenges else None,
        component=component,
        binding=dict(node.binding),
        notes=list(node.notes),
        artefacts=list(node.artefacts),
        evidence=list(node.evidence),
    )


def _joined(prefix: str, path: str) -> str:
    """A component-relative path as a system-relative one ('../../1-scoping/A.yaml' of
    'components/x' is '1-scoping/A.yaml')."""
    return PurePosixPath(os.path.normpath(os.path.join(prefix, path))).as_posix()
