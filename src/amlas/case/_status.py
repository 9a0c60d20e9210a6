"""Status propagation and the gate.

A goal or strategy takes the worst status among what it rests on: the nodes that support
it, its justifications, the contexts that point at artefacts (a missing [B] leaves G1.1
undeveloped), and the module goals backing a context (C2.2 rests on G3.1, C2.3 on G4.1).
Assumptions never lower a status. A goal a counter-solution challenges is ``failed``.

Worst first: ``failed`` > ``stale`` > ``inconclusive`` > ``undeveloped`` > ``supported``.
Stale ranks above inconclusive because nothing a stale record says can be trusted until it
is re-run; failed ranks first because a current failure defeats the claim whatever else
holds.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from amlas.case._model import Case, Node, RequiredApproval, Status

__all__ = ["RANK", "GateResult", "gate", "names_node", "propagate", "worst"]

RANK: Final[dict[Status, int]] = {
    "supported": 0,
    "undeveloped": 1,
    "inconclusive": 2,
    "stale": 3,
    "failed": 4,
}


def worst(statuses: Iterable[Status]) -> Status:
    """The worst status (``supported`` for none)."""
    out: Status = "supported"
    for status in statuses:
        if RANK[status] > RANK[out]:
            out = status
    return out


def _inputs(node: Node, nodes: dict[str, Node]) -> list[str]:
    """The nodes whose status ``node`` rests on."""
    out = list(node.supported_by)
    for cid in node.in_context_of:
        ctx = nodes.get(cid)
        if ctx is None or ctx.type == "assumption":
            continue
        out.append(cid)
    return out


def propagate(nodes: dict[str, Node], *, override: dict[str, Status] | None = None) -> None:
    """Set the status and reason of every goal, strategy and backed context, leaves first.

    ``override`` replaces the status of named nodes before their parents read them (the
    gate uses it to accept undeveloped nodes); the nodes themselves keep their own status.
    """
    challenged: dict[str, list[str]] = {}
    for node in nodes.values():
        if node.challenges:
            challenged.setdefault(node.challenges, []).append(node.id)
    done: set[str] = set()
    effective: dict[str, Status] = {}

    def visit(node_id: str, path: frozenset[str]) -> Status:
        node = nodes[node_id]
        if node_id in done:
            return effective[node_id]
        if node_id in path:  # a cycle in a pattern: report it as undeveloped, never loop
            return "undeveloped"
        inner = path | {node_id}
        if node.type == "context" and node.backed_by:
            backing = visit(node.backed_by, inner)
            own = node.status
            node.status = worst([own, backing]) if own != "supported" else backing
            if backing != "supported":
                node.reason = f"backed by {node.backed_by}, which is {backing}"
        elif node.is_claim and (node.supported_by or node.in_context_of):
            children = _inputs(node, nodes)
            statuses = {cid: visit(cid, inner) for cid in children if cid in nodes}
            if not node.supported_by:
                statuses[node.id + "#undeveloped"] = "undeveloped"
            status = worst(statuses.values())
            if node_id in challenged:
                status = "failed"
                node.reason = "challenged by " + ", ".join(challenged[node_id])
            elif status == "supported":
                node.reason = (
                    f"all {len(statuses)} nodes it rests on are supported"
                    if len(statuses) > 1
                    else "the node it rests on is supported"
                )
            else:
                bad = [cid for cid, s in statuses.items() if s == status and "#" not in cid]
                shown = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
                node.reason = f"{status}: {shown}" if shown else node.reason or status
            node.status = status
        done.add(node_id)
        effective[node_id] = (override or {}).get(node_id, node.status)
        return effective[node_id]

    for node_id in nodes:
        visit(node_id, frozenset())


@dataclass
class GateResult:
    """Whether the top claim holds under a policy, and why not."""

    passed: bool
    status: Status
    """The top claim's status with the policy's allowances applied."""
    accepted: list[tuple[str, str, str]] = field(default_factory=list)
    """(node, its status, the allowance's reason) for every node the policy accepted."""
    blocking: list[Node] = field(default_factory=list)
    """Leaf claims and solutions that keep the top claim from being supported."""
    approvals: list[RequiredApproval] = field(default_factory=list)
    """Every approval the policy requires (``case.approvals``), given or not; the gate
    opens only when each is approved by a current sign-off."""

    @property
    def awaited(self) -> list[RequiredApproval]:
        """The required approvals not given: awaited, stale or rejected."""
        return [a for a in self.approvals if a.status != "approved"]


Allowance = tuple[str, str] | tuple[str, str, str]
"""(node ID or glob, reason) or, in a system case, (ID or glob as the component's own
case names its nodes, reason, the component's [C] ID): the allowance then accepts
nodes of that component only; with '' for the component, the system case's own full IDs
or a glob over them (never a pattern ID, which every component's nodes share)."""


def names_node(pattern: str, node: Node, *, local: bool = False) -> bool:
    """Whether a node ID, pattern ID or glob over instance IDs (an allowance, a review's
    ``nodes``, a case setting) names ``node``; with ``local``, the node's ID as its own
    component's case writes it (without the system case's ``@component`` suffix)."""
    node_id = node.local_id if local else node.id
    return node_id == pattern or node.pattern_id == pattern or fnmatch.fnmatchcase(node_id, pattern)


def gate(
    case: Case,
    *,
    allow_undeveloped: Iterable[Allowance] = (),
    allow_inconclusive: Iterable[Allowance] = (),
    approvals: Iterable[RequiredApproval] = (),
) -> GateResult:
    """Decide the gate: the top claim is supported once the allowed nodes count as
    supported, and every required approval (``approvals``, from
    :func:`~amlas.case.judge_approvals`) is given. Allowances are (node ID or glob,
    reason). Failed and stale nodes are never accepted: a failure needs a fix or a changed
    requirement, stale evidence a re-run; nor are stale, rejected or missing approvals."""
    undeveloped = list(allow_undeveloped)
    inconclusive = list(allow_inconclusive)
    override: dict[str, Status] = {}
    accepted: list[tuple[str, str, str]] = []
    for node in case.nodes.values():
        table = undeveloped if node.status == "undeveloped" else inconclusive
        if node.status not in ("undeveloped", "inconclusive"):
            continue
        for allowance in table:
            pattern, reason = allowance[0], allowance[1]
            scope = allowance[2] if len(allowance) > 2 else None
            if scope == "":  # the system case's own IDs: by ID or glob, never a pattern ID
                hit = node.id == pattern or fnmatch.fnmatchcase(node.id, pattern)
            elif scope is not None and node.component != scope:
                continue
            else:
                hit = names_node(pattern, node, local=scope is not None)
            if hit:
                override[node.id] = "supported"
                accepted.append((node.id, node.status, reason))
                break
    if override:
        copies = {
            nid: Node(**{**n.__dict__, "supported_by": list(n.supported_by)})
            for nid, n in case.nodes.items()
        }
        for nid, status in override.items():
            copies[nid].status = status
        propagate(copies, override=override)
        status = copies[case.root].status
        view = copies
    else:
        status = case.top.status
        view = case.nodes
    # nodes whose own status is bad and that no claim below them explains
    blocking = [
        case.nodes[nid]
        for nid, n in view.items()
        if n.status != "supported"
        and nid not in override
        and n.type in ("goal", "solution", "justification", "context", "counter_solution")
        and not any(view[c].is_claim for c in n.supported_by if c in view)
    ]
    required = list(approvals)
    passed = status == "supported" and all(a.status == "approved" for a in required)
    return GateResult(passed, status, accepted, blocking, required)
