"""A case diff (:class:`amlas.case.CaseDiff`) as text for the terminal, Markdown for a pull
request comment, and JSON for tools."""

from __future__ import annotations

import json
from collections.abc import Sequence

from amlas.case import CaseDiff

__all__ = ["render_diff_json", "render_diff_markdown", "render_diff_text"]

_SHOWN = 50


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _more(items: Sequence[object]) -> str:
    return (
        f"  ... and {len(items) - _SHOWN} more (--format json lists all)\n"
        if len(items) > _SHOWN
        else ""
    )


def render_diff_json(diff: CaseDiff) -> str:
    return json.dumps(diff.to_dict(), indent=1, ensure_ascii=False) + "\n"


def _headline(diff: CaseDiff) -> str:
    return (
        f"{diff.before} (case {diff.before_digest[:12]}) -> {diff.after} "
        f"(case {diff.after_digest[:12]})"
    )


def render_diff_text(diff: CaseDiff) -> str:
    lines = [f"what changed: {_headline(diff)}"]
    if diff.same:
        lines.append("  nothing: the same case (digest), the same requirements")
    sections: list[tuple[str, list[str]]] = [
        (
            "claims whose status changed",
            [f"{c.node:<22} {c.before} -> {c.after}" for c in diff.claims],
        ),
        (
            "requirements changed",
            [f"{r.id:<22} {r.describe()}" for r in diff.requirements],
        ),
        (
            "evidence",
            [f"{e.key:<28} {e.describe()}" for e in diff.evidence],
        ),
        ("nodes added", [f"{n.node:<22} {n.type} ({n.status})" for n in diff.added]),
        ("nodes removed", [f"{n.node:<22} {n.type} (was {n.status})" for n in diff.removed]),
        ("sign-offs added, removed or changed", list(diff.signoffs)),
        ("people and approvals", list(diff.people)),
        (
            "sign-offs made stale",
            [
                f"{s.file}: {s.decision} by {s.name} ({s.signer}) as {s.role} on {s.scope}, "
                f"{s.signed_at}"
                for s in diff.stale_signoffs
            ],
        ),
    ]
    for title, items in sections:
        if not items:
            continue
        lines.append(f"{title} ({len(items)}):")
        lines += [f"  {item}" for item in items[:_SHOWN]]
        if len(items) > _SHOWN:
            lines.append(_more(items).rstrip("\n"))
    if diff.other_moves:
        lines.append(
            f"and {len(diff.other_moves)} solution(s), context(s) or justification(s) whose "
            "status changed; " + f"{len(diff.reworded)} node(s) reworded"
        )
    elif diff.reworded:
        lines.append(f"{len(diff.reworded)} node(s) reworded, status unchanged")
    lines += [f"note: {n}" for n in diff.notes]
    return "\n".join(lines) + "\n"


def render_diff_markdown(diff: CaseDiff) -> str:
    """A pull-request comment: a summary line, then one table per kind of change."""
    out = [f"### Safety case: what changed\n\n{_headline(diff)}\n"]
    if diff.same:
        out.append("Nothing: the same case (digest) and the same requirements.\n")
    summary = [
        f"{len(diff.claims)} claim status change(s)",
        f"{len(diff.requirements)} requirement change(s)",
        f"{len(diff.evidence)} evidence change(s)",
        f"{len(diff.added)} node(s) added",
        f"{len(diff.removed)} removed",
        f"{len(diff.stale_signoffs)} sign-off(s) made stale",
    ]
    out.append(", ".join(summary) + ".\n")

    def table(title: str, head: Sequence[str], rows: list[Sequence[str]]) -> None:
        if not rows:
            return
        out.append(f"\n#### {title}\n\n| {' | '.join(head)} |\n|{'---|' * len(head)}")
        out.extend(f"| {' | '.join(_cell(c) for c in row)} |" for row in rows[:_SHOWN])
        if len(rows) > _SHOWN:
            out.append(f"\n... and {len(rows) - _SHOWN} more (`amlas diff --format json`).")
        out.append("")

    table(
        "Claims whose status changed",
        ("Claim", "Before", "After", "Claim text"),
        [(f"`{c.node}`", c.before, f"**{c.after}**", c.text) for c in diff.claims],
    )
    table(
        "Requirements",
        ("Requirement", "Change"),
        [(f"`{r.id}`", r.describe()) for r in diff.requirements],
    )
    table(
        "Evidence",
        ("Record", "What moved"),
        [(f"`{e.key}`", e.describe()) for e in diff.evidence],
    )
    table(
        "Nodes added",
        ("Node", "Type", "Status", "Text"),
        [(f"`{n.node}`", n.type, n.status, n.text) for n in diff.added],
    )
    table(
        "Nodes removed",
        ("Node", "Type", "Was", "Text"),
        [(f"`{n.node}`", n.type, n.status, n.text) for n in diff.removed],
    )
    table("Sign-offs added, removed or changed", ("Change",), [(line,) for line in diff.signoffs])
    table("People and approvals", ("Change",), [(line,) for line in diff.people])
    table(
        "Sign-offs made stale",
        ("Who", "Role", "Decision", "Scope", "Signed"),
        [
            (f"{s.name} ({s.signer})", s.role, s.decision, f"`{s.scope}`", s.signed_at)
            for s in diff.stale_signoffs
        ],
    )
    if diff.notes:
        out.append("")
        out.extend(f"> {n}" for n in diff.notes)
    return "\n".join(out).rstrip("\n") + "\n"
