"""The safety case as JSON (the full model), Markdown (a summary for pull-request
comments) and JUnit XML (one test case per leaf claim, so CI shows the case like a test
suite). Every renderer is deterministic: the same case gives the same bytes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from amlas.case import STATUSES, Case, Node
from amlas.render._detail import detail_note
from amlas.render._text import markdown_text as _md

__all__ = ["render_case_json", "render_case_junit", "render_case_markdown"]

_MD_LIMIT = 40
_MARK = {
    "supported": "supported",
    "failed": "**FAILED**",
    "inconclusive": "*inconclusive*",
    "undeveloped": "undeveloped",
    "stale": "**STALE**",
}


def render_case_json(case: Case) -> str:
    """The full model (``amlas.case/1``), indented, ending in a newline."""
    return json.dumps(case.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _short(text: str, limit: int = 140) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def render_case_markdown(case: Case) -> str:
    """A summary for a pull-request comment: top claim, counts, stages, what needs work."""
    top = case.top
    counts = case.counts()
    lines = [
        f"## Safety case: {_md(case.project)}: {case.root} is {_MARK[top.status]}",
        "",
        f"> {_md(_short(top.text, 300))}",
        "",
        f"Pattern library `{case.library}`; {len(case.nodes)} nodes, "
        f"{sum(counts.values())} claims, {len(case.evidence)} evidence records.",
        "",
        "| " + " | ".join(STATUSES) + " |",
        "|" + "---:|" * len(STATUSES),
        "| " + " | ".join(str(counts[s]) for s in STATUSES) + " |",
        "",
    ]
    note = detail_note(case)
    if note:
        lines += [f"> {_md(note)}", ""]
    lines += [
        "| Stage | Argument | Top claim | Status | Claims (supported / all) |",
        "|---|---|---|---|---:|",
    ]
    for module in case.modules:
        claims = [n for n in case.module_nodes(module.name) if n.is_claim]
        supported = sum(1 for n in claims if n.status == "supported")
        status = case.module_status(module)
        lines.append(
            f"| {module.stage} | {_md(module.title)} [{module.argument}] | {module.root} | "
            f"{_MARK[status] if status else 'not instantiated'} | {supported} / {len(claims)} |"
        )
    attention = [n for n in case.leaf_claims() if n.status != "supported"]
    order = {"failed": 0, "stale": 1, "inconclusive": 2, "undeveloped": 3}
    attention.sort(key=lambda n: order.get(n.status, 9))
    if attention:
        lines += ["", "### Claims that need attention", ""]
        for node in attention[:_MD_LIMIT]:
            lines.append(
                f"- {_MARK[node.status]} `{node.id}`: {_md(_short(node.text))}  \n"
                f"  {_md(_short(node.reason, 200))}"
            )
        if len(attention) > _MD_LIMIT:
            lines.append(f"- … and {len(attention) - _MD_LIMIT} more (see the report)")
    stale = sorted(case.stale_inputs.items())
    if stale:
        lines += ["", "### Stale evidence (re-run `amlas run`)", ""]
        for digest, inputs in stale[:_MD_LIMIT]:
            record = case.evidence[digest]
            lines.append(f"- `{record.key}`: {_md(', '.join(inputs))}")
    problems = [d for d in case.diagnostics.sorted() if d.code.startswith("G")]
    if problems:
        lines += ["", "### Instantiation problems", ""]
        lines += [f"- {d.code}: {_md(_short(d.message, 200))}" for d in problems[:_MD_LIMIT]]
    return "\n".join(lines) + "\n"


def _cases(suite: ET.Element, nodes: Iterable[Node]) -> dict[str, int]:
    tally = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for node in nodes:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": f"amlas.{node.module}", "name": f"{node.id}: {_short(node.text, 120)}"},
        )
        case.set("time", "0")
        tally["tests"] += 1
        detail = node.reason + ("\n" + "\n".join(node.notes) if node.notes else "")
        if node.status == "failed":
            ET.SubElement(case, "failure", {"type": "failed", "message": node.reason}).text = detail
            tally["failures"] += 1
        elif node.status == "inconclusive":
            ET.SubElement(
                case, "failure", {"type": "inconclusive", "message": node.reason}
            ).text = detail
            tally["failures"] += 1
        elif node.status == "stale":
            ET.SubElement(case, "error", {"type": "stale", "message": node.reason}).text = detail
            tally["errors"] += 1
        elif node.status == "undeveloped":
            ET.SubElement(case, "skipped", {"message": "undeveloped: " + node.reason})
            tally["skipped"] += 1
    for name, value in tally.items():
        suite.set(name, str(value))
    return tally


def render_case_junit(case: Case) -> str:
    """JUnit XML: a suite per stage, a test case per leaf claim (a goal with no goal or
    strategy below it). failed and inconclusive are failures, stale an error,
    undeveloped skipped, supported a pass."""
    root = ET.Element("testsuites", {"name": f"amlas safety case: {case.project}"})
    leaves = case.leaf_claims()
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for module in case.modules:
        nodes = [n for n in leaves if n.module == module.name]
        if not nodes:
            continue
        suite = ET.SubElement(
            root, "testsuite", {"name": f"stage {module.stage}: {module.title}", "time": "0"}
        )
        cited = [d for n in case.module_nodes(module.name) for d in n.evidence]
        note = detail_note(case, cited)
        if note:
            properties = ET.SubElement(suite, "properties")
            ET.SubElement(properties, "property", {"name": "amlas.sealed_detail", "value": note})
        for name, value in _cases(suite, nodes).items():
            totals[name] += value
    for name, value in totals.items():
        root.set(name, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
