"""The safety-case side of change impact (AMLAS R23): the claims resting on checks that must
re-run.

:func:`affected_claims` takes a built :class:`Case` and a set of evidence record keys (the
checks :func:`amlas.verify.analyse_impact` says are stale or changed) and
returns every node whose status rests on one of them:

* a solution rests on the records it cites and on the records its pattern expects for
  its binding (the same selectors the case is built from, so a check that has no record
  yet counts too: ``stage4/{item.id}/O`` for every tested requirement, the stage-3 records
  of a data category, ``prefix`` selectors matched against the keys given, the
  independence records of the verifier-independence assessment);
* a goal, strategy or backed context rests on whatever it is supported by, is in the
  context of, or is backed by, so the claims above an affected solution are affected up
  to the root. Contexts are passed through, not listed.

Each node is returned once, in case order, with its status in the case as built (a
claim resting on stale evidence reads ``stale`` unless something worse, e.g. a failure,
already holds it), the keys it rests on, and its notes about them (which inputs of a
cited record changed).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from amlas.case._assess import Assessor
from amlas.case._bind import Binder, Item
from amlas.case._library import Library, project_library
from amlas.case._model import Case, NodeType, Status
from amlas.evidence import keys as record_keys
from amlas.project import Project
from amlas.project.artefacts import MLSafetyRequirement

__all__ = ["AffectedClaim", "affected_claims"]

_INDEPENDENCE = (record_keys.independence_key("N", "P"), record_keys.independence_key("O", "P"))


@dataclass(frozen=True)
class AffectedClaim:
    """A node of the case resting on a check that must re-run."""

    id: str
    type: NodeType
    module: str
    stage: int
    status: Status
    """Its status in the case as built."""
    text: str
    keys: tuple[str, ...]
    """The record keys (of those given) it rests on, sorted."""
    reason: str
    """Why the node has its status (the case's reason)."""
    notes: tuple[str, ...]
    """The node's notes about those keys, e.g. 'stage5/MLR-1/P stale: model (changed)'."""


def _library(project: Project, library: str | Path | None) -> Library:
    """The pattern library as :func:`~amlas.case.build_case` resolves it."""
    return project_library(project, library)


def _solution_keys(
    case: Case, project: Project, library: Library, keys: Collection[str]
) -> dict[str, set[str]]:
    """Solution ID -> the keys of ``keys`` it cites or its pattern expects."""
    binder = Binder(project)
    assessor = Assessor(project, binder, None)
    ml = project.ml_requirements
    requirements: dict[str, MLSafetyRequirement] = (
        {r.id: r for r in ml.requirements} if ml is not None else {}
    )
    wanted = set(keys)
    out: dict[str, set[str]] = {}
    for node in case.nodes.values():
        if node.type != "solution":
            continue
        rests = {case.evidence[d].key for d in node.evidence if d in case.evidence}
        pattern = library.nodes.get(node.pattern_id)
        if pattern is not None and all(v in requirements for v in node.binding.values()):
            binding = {name: Item(v, requirements[v]) for name, v in node.binding.items()}
            for selector in pattern.evidence:
                rests |= set(assessor.expected_keys(selector, binding))
                if selector.prefix is not None:
                    rests |= {
                        k
                        for k in wanted
                        if k.startswith(selector.prefix)
                        and (
                            selector.dataset is None
                            or selector.dataset in record_keys.key_letters(k)
                        )
                    }
            if pattern.assess == "verification_independence":
                rests |= set(_INDEPENDENCE)
                if "requirement" in binding:
                    rests.add(record_keys.requirement_key(5, binding["requirement"].id, "P"))
        hit = rests & wanted
        if hit:
            out[node.id] = hit
    return out


def affected_claims(
    case: Case,
    project: Project,
    keys: Collection[str],
    *,
    library: str | Path | None = None,
) -> list[AffectedClaim]:
    """Every node of ``case`` resting on a record key of ``keys`` (see the module docs).

    ``project`` is the project the case was built from; ``library`` the pattern library
    it was built with (default: the manifest's, as :func:`~amlas.case.build_case`).
    """
    if not keys:
        return []
    patterns = _library(project, library)
    below: dict[str, set[str]] = _solution_keys(case, project, patterns, keys)
    parents = case.parents()
    for node in case.nodes.values():
        if node.backed_by is not None:
            parents.setdefault(node.backed_by, []).append(node.id)
    stack = list(below)
    while stack:
        node_id = stack.pop()
        for parent in parents.get(node_id, []):
            known = below.setdefault(parent, set())
            if not below[node_id] <= known:
                known |= below[node_id]
                stack.append(parent)
    out = []
    for node in case.nodes.values():
        if node.id not in below:
            continue
        if node.type == "context":
            continue  # traversed (a backed context carries its module's status), not listed
        out.append(
            AffectedClaim(
                node.id,
                node.type,
                node.module,
                node.stage,
                node.status,
                node.text,
                tuple(sorted(below[node.id])),
                node.reason,
                tuple(n for n in node.notes if n.split(" ", 1)[0].rstrip(":") in below[node.id]),
            )
        )
    return out
