"""The safety case as ONE self-contained, offline HTML report (and, optionally, a PDF).

Contract:

* :func:`render_report` returns a complete HTML document: all CSS and JavaScript inline,
  no reference to anything outside the file (a Content-Security-Policy forbids loading
  any), the same bytes for the same case, SVGs and ``generated`` text (no clock is read).
* User-written text (node text, reasons, summaries, requirement and artefact text) only
  ever appears escaped: Jinja2 autoescaping for the page (and for the table rows kept as
  fragments), ElementTree for the diagrams, and the case data as JSON inside a base64
  fragment (below), which no text can end. The page script reads the data with
  ``JSON.parse`` and writes text with ``textContent`` only.
* The work is linear in the size of the case, and what the page parses on load does not
  grow with it: the per-node details (the case data, JSON), every diagram and the rows
  of a long table beyond the first :data:`TABLE_ROWS` are *fragments*, stored compressed
  (zlib's deflate, base64) in ``<script type="application/x-amlas-pack">`` blocks that
  never run, and inflated by the page script with the browser's own
  ``DecompressionStream`` when first needed: the case data and the first diagram right
  after the load event, a diagram when its view is opened, the rest of a table when
  asked for. A pack inflates to a line of its fragments' lengths (in UTF-16 code units,
  as JavaScript counts) and the fragments end to end. A fragment of markup is generated
  here (Graphviz SVG, escaped by ElementTree; table rows, escaped by Jinja2), exactly as
  the markup around it. A diagram of more than 400 elements and links inserts only
  those in and near its frame, and more as it is panned or zoomed out (where each is
  comes from the SVG's own coordinates, not from a layout). Once the first diagram is
  drawn, the page prepares each module's diagram in idle time (inflated, indexed, its
  groups parsed), so that opening its tab only inserts and paints. The diagrams are
  stored lighter than the SVG files (:func:`_lighter`: what the style sheet says once
  is left out of every text). A 1,000-requirement case (16,000 nodes, 2,000 records,
  1,007 diagrams) gives a 4.1 MiB file.
* The detail panel draws a node's evidence as cards when it cites up to twenty records,
  else as a table of all of them whose rows open their card on demand.
* A diagram opens fitted to its frame with its top claim in sight (never smaller than
  a readable scale), and pans (drag, arrow keys) and zooms (wheel, buttons).
* :func:`render_pdf` prints the report with Playwright and Debian's chromium (every
  fragment inflated first); a missing Playwright or browser raises
  :class:`amlas.errors.UsageError` with a one-line hint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import jinja2
from markupsafe import Markup

from amlas._gc import paused_gc
from amlas.case import STATUSES, Approvals, Case, CaseDiff
from amlas.errors import MissingExtraError, UsageError
from amlas.evidence import EvidenceRecord
from amlas.render._detail import detail_note
from amlas.render._svg import STATUS_COLOURS, case_views, render_svgs

__all__ = ["CHROMIUM", "PACK_TYPE", "TABLE_ROWS", "render_pdf", "render_report"]

CHROMIUM: Final = "/usr/bin/chromium"
"""The browser :func:`render_pdf` drives (Debian's ``chromium`` package)."""

CHROMIUM_ARGS: Final = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
PACK_TYPE: Final = "application/x-amlas-pack"
"""The ``type`` of the script blocks holding fragments (a type no browser runs)."""
TABLE_ROWS: Final = 50
"""A table shows this many rows in the markup; the rest is a fragment shown on request."""
_PACK_BYTES: Final = 256 * 1024
_LEVEL: Final = 3
"""zlib's level for the packs. At 1,000 requirements (29 MiB of fragments) level 3 takes
half the time of the default 6 for a file 16 % larger (4.1 MiB, not 3.6); 9 saves 3 %
more than 6 and takes 2.5 times as long."""
_ASSETS: Final = Path(__file__).parent / "assets"
_MATTERS: Final = ("failed", "inconclusive", "stale")
_CELLS_CHECK: Final = "data.min_samples_per_cell"
_TAG: Final = re.compile(r"<[^<>]+>")
_TEXT_DEFAULTS: Final = (
    ('<text text-anchor="start" ', "<text "),
    ('" font-family="Helvetica,sans-Serif" font-size="10.00">', '">'),
    (
        '" font-family="Helvetica,sans-Serif" font-weight="bold" font-size="10.00">',
        '" font-weight="bold">',
    ),
    (
        '" font-family="Helvetica,sans-Serif" font-style="italic" font-size="9.00">',
        '" font-style="italic" font-size="9.00">',
    ),
    ('" font-family="Helvetica,sans-Serif" font-size="9.00">', '" font-size="9.00">'),
    (
        '" font-family="Helvetica,sans-Serif" font-weight="bold" font-size="9.00">',
        '" font-weight="bold" font-size="9.00">',
    ),
    ('" font-family="Helvetica,sans-Serif" font-size="8.00">', '" font-size="8.00">'),
)
"""What Graphviz writes on the texts of a diagram (left-aligned, Helvetica, 10 units but
where a size is given) and what is left of it once the report's style sheet says it for
every ``svg.gsndiagram``. Each is found only in a tag: ``<`` starts a tag (text holds it
escaped), and a ``"`` then ``>`` end an attribute value and its tag (an attribute value
holds neither raw, text no raw ``>``)."""


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_ASSETS)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


class _Packer:
    """Fragments in packs: each added fragment goes into the open pack, which is closed
    when it holds :data:`_PACK_BYTES` (or on :meth:`close`, between unrelated groups), so
    that opening one fragment never inflates much more than itself."""

    def __init__(self) -> None:
        self.packs: list[list[str]] = []
        self._open: list[str] | None = None
        self._size = 0

    def add(self, value: str) -> str:
        """Store ``value`` (markup, or JSON text); its reference ``"P.I"``."""
        if self._open is None:
            self._open = []
            self._size = 0
            self.packs.append(self._open)
        self._open.append(value)
        self._size += len(value)
        ref = f"{len(self.packs) - 1}.{len(self._open) - 1}"
        if self._size >= _PACK_BYTES:
            self.close()
        return ref

    def close(self) -> None:
        self._open = None

    def rows(self, markup: str) -> Markup:
        """A fragment of table rows (Jinja2's escaped output); the attribute that names it."""
        self.close()
        ref = self.add(str(markup))
        self.close()
        return Markup(f' data-rest="{ref}"')

    def blocks(self) -> list[tuple[int, str]]:
        """Each pack as (number, base64 of its deflated text): a line of the fragments'
        lengths in UTF-16 code units (JavaScript's), then the fragments."""
        out = []
        for number, pack in enumerate(self.packs):
            lengths = ",".join(str(len(item.encode("utf-16-le")) // 2) for item in pack)
            text = lengths + "\n" + "".join(pack)
            packed = zlib.compress(text.encode("utf-8"), _LEVEL)
            out.append((number, base64.b64encode(packed).decode("ascii")))
        return out


def render_report(
    case: Case,
    *,
    svgs: Mapping[str, str] | None = None,
    generated: str | None = None,
    layout_cache: str | Path | None = None,
    approvals: Mapping[str, Approvals] | None = None,
    changes: CaseDiff | None = None,
) -> str:
    """The report for ``case`` as one HTML document.

    ``svgs`` maps view names (:func:`amlas.render._svg.case_views`) to SVG markup from
    :func:`amlas.render._svg.render_svgs`; it is inlined as markup, so it must not hold
    user text unescaped. When None the diagrams are drawn here (Graphviz needed), with
    the layout cache folder ``layout_cache`` when given (see :mod:`amlas.render._svg`).
    Views the case has but ``svgs`` lacks are left out; extra names come last, titled by
    name. ``generated`` (e.g. a date) is printed in the header when given. ``approvals``
    (:func:`amlas.case.judge_approvals`) adds who signed the case, what the gate requires
    and what it still awaits; ``changes`` (:func:`amlas.case.diff_snapshots`, this case
    the later side) a "What changed" section and the changed nodes marked in the diagrams.
    """
    with paused_gc():
        views = case_views(case)
        if svgs is None:
            drawn = render_svgs(case, views, cache=layout_cache)
            svgs = dict(zip((v.name for v in views), drawn, strict=True))
        titles = {v.name: (v.title, v.node_ids[0] if v.node_ids else "") for v in views}
        members = {v.name: v.node_ids for v in views}
        names = [v.name for v in views if v.name in svgs] + [n for n in svgs if n not in titles]
        packer = _Packer()
        data = _data(case)
        if changes is not None:
            data["changed"] = changes.changed_nodes()
        data_ref = packer.add("")  # the case data, written once the views are known
        packer.close()
        shown: list[dict[str, Any]] = []
        for index, name in enumerate(names):
            sub = "/" in name
            if not sub:
                packer.close()  # a module's view in a pack of its own; per-requirement ones share
            shown.append(
                {
                    "index": index,
                    "name": name,
                    "title": titles.get(name, (name, ""))[0],
                    "root": titles.get(name, (name, ""))[1],
                    "sub": sub,
                    "fragment": packer.add(_unique_ids(_lighter(svgs[name]), f"v{index}-")),
                }
            )
        packer.close()
        data["views"] = [
            {
                "name": v["name"],
                "title": v["title"],
                "root": v["root"],
                "nodes": list(members.get(v["name"], ())),
            }
            for v in shown
        ]
        pack, item = (int(part) for part in data_ref.split("."))
        packer.packs[pack][item] = _json_text(data)
        script = (_ASSETS / "report.js").read_text("utf-8")
        context = {
            "case": case,
            "top": case.nodes.get(case.root),
            "generated": generated,
            "statuses": STATUSES,
            "colours": STATUS_COLOURS,
            "modules": _modules(case),
            "totals": case.counts(),
            "total_claims": sum(case.counts().values()),
            "matters": _matters(case),
            "sealed_note": detail_note(case),
            "records": _records_that_matter(case),
            "imported": _imported(case),
            "views": shown,
            "coverage": _coverage(case),
            "trace": case.trace,
            "artefacts": case.artefacts,
            "diagnostics": [(d.severity.value, d.format()) for d in case.diagnostics.sorted()],
            "css": (_ASSETS / "report.css").read_text("utf-8"),
            "script": script,
            "script_hash": base64.b64encode(
                hashlib.sha256(script.encode("utf-8")).digest()
            ).decode(),
            "approvals": _approvals(approvals),
            "changes": changes,
            "data_ref": data_ref,
            "packer": packer,
            "pack_type": PACK_TYPE,
            "table_rows": TABLE_ROWS,
        }
        return _environment().get_template("report.html.j2").render(context)


def _approvals(approvals: Mapping[str, Approvals] | None) -> dict[str, Any] | None:
    """The sign-offs of the case and of each ML component's own case, their scopes named
    as the report's case names them; None when nobody signed and nothing is required."""
    if approvals is None or not any(a.signoffs or a.required for a in approvals.values()):
        return None
    own = approvals.get("")
    signoffs = []
    for component, judged in approvals.items():
        for one in judged.signoffs:
            if component:
                one = replace(one, scope=f"{one.scope}@{component}" if one.scope else "")
            signoffs.append(one)
    return {
        "digest": own.digest if own is not None else "",
        "required": [r for judged in approvals.values() for r in judged.required],
        "signoffs": sorted(signoffs, key=lambda s: (s.signed_at, s.file), reverse=True),
    }


def _json_text(value: Any) -> str:
    """Compact JSON (the fragment is base64 inside the page: nothing in it is markup)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _lighter(svg: str) -> str:
    """A diagram the page parses and lays out faster, drawn the same: without the line
    breaks between tags (white space SVG does not draw) and without the text attributes
    the style sheet gives every ``svg.gsndiagram`` (:data:`_TEXT_DEFAULTS`); the SVG files
    of ``amlas case`` keep them, as they have no style sheet. Escaped text holds neither
    ``<`` nor ``>``, so ``>\\n<`` is always between two tags. Other markup is unchanged."""
    if not svg.startswith("<svg") or 'class="gsndiagram"' not in svg[: svg.find(">")]:
        return svg
    svg = svg.replace(">\n<", "><")
    for written, left in _TEXT_DEFAULTS:
        svg = svg.replace(written, left)
    return svg


def _unique_ids(svg: str, prefix: str) -> str:
    """Prefix every ``id`` attribute so that views sharing a node keep HTML ids unique.

    Only tags are touched: escaped text cannot hold ``<`` or ``>``, nor an attribute value
    a raw ``"``, so ``' id="'`` inside a tag is always an attribute. Graphviz puts every
    id first in a ``<g>`` tag; when each ``' id="'`` of the document is one of those (no
    text holds one), a plain replacement does the same, without a pass over every tag.
    """
    if svg.count(' id="') == svg.count('<g id="'):
        return svg.replace('<g id="', f'<g id="{prefix}')
    return _TAG.sub(lambda m: m.group().replace(' id="', f' id="{prefix}'), svg)


def _modules(case: Case) -> list[dict[str, Any]]:
    """Per module: its root's status and its claims per status, with bar widths."""
    claims: dict[str, list[Any]] = {}
    for node in case.nodes.values():
        if node.is_claim:
            claims.setdefault(node.module, []).append(node)
    out = []
    for module in case.modules:
        counts = case.counts(claims.get(module.name, []))
        total = sum(counts.values())
        out.append(
            {
                "module": module,
                # stage 5 has one G5.1 per requirement: the worst of them
                "root_status": case.module_status(module) or "undeveloped",
                "counts": counts,
                "total": total,
                "segments": [
                    (status, n, f"{100 * n / total:.2f}") for status, n in counts.items() if n
                ],
            }
        )
    return out


def _matters(case: Case) -> list[Any]:
    """Failed, inconclusive and stale leaf claims, in that order, then case order."""
    leaves = [n for n in case.leaf_claims() if n.status in _MATTERS]
    return sorted(leaves, key=lambda n: _MATTERS.index(n.status))


def _citers(case: Case) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for node in case.nodes.values():
        for digest in node.evidence:
            out.setdefault(digest, []).append(node.id)
    return out


def _records_that_matter(case: Case) -> list[dict[str, Any]]:
    """Failed, then inconclusive, evidence records, with the nodes that cite them."""
    citers = _citers(case)
    out = [
        {"record": r, "digest": d, "cited_by": citers.get(d, [])}
        for d, r in case.evidence.items()
        if r.verdict in ("fail", "inconclusive")
    ]
    return sorted(out, key=lambda x: (x["record"].verdict != "fail", x["record"].key, x["digest"]))


def _imported(case: Case) -> list[dict[str, Any]]:
    """Cited records produced outside amlas (``origin: external``), with their provenance
    and the nodes citing them, by key."""
    citers = _citers(case)
    out = [
        {"record": r, "digest": d, "cited_by": citers.get(d, []), "provenance": r.provenance}
        for d, r in case.evidence.items()
        if r.origin == "external" and r.provenance is not None
    ]
    return sorted(out, key=lambda x: (x["record"].key, x["digest"]))


def _split_cell(cell: str) -> list[tuple[str, str]]:
    parts = [p.partition("=") for p in cell.split(", ")]
    return [(name.strip(), value.strip()) for name, _, value in parts]


def _shade(fraction: float) -> str:
    """White to a calm blue, by ``fraction`` in [0, 1]."""
    low, high = (255, 255, 255), (74, 128, 196)
    r, g, b = (round(a + (b - a) * fraction) for a, b in zip(low, high, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def _coverage(case: Case) -> list[dict[str, Any]]:
    """ODD coverage tables from ``data.min_samples_per_cell`` records, grouped by dataset.

    Rows are the values of the cell's first ODD dimension, columns the rest of the cell
    (one column when there is one dimension), each in order of first appearance.
    """
    records = sorted(
        ((r, d) for d, r in case.evidence.items() if r.check == _CELLS_CHECK),
        key=lambda rd: (rd[0].dataset or "", rd[0].key, rd[1]),
    )
    datasets: dict[str, list[dict[str, Any]]] = {}
    for record, digest in records:
        table = _coverage_table(record)
        table["digest"] = digest
        datasets.setdefault(record.dataset or "-", []).append(table)
    return [{"dataset": name, "tables": tables} for name, tables in datasets.items()]


def _coverage_table(record: EvidenceRecord) -> dict[str, Any]:
    grid: dict[str, dict[str, dict[str, Any]]] = {}
    columns: dict[str, None] = {}
    first_dim = ""
    for result in record.results:
        pairs = _split_cell(str(result.get("cell", "")))
        first_dim = first_dim or pairs[0][0]
        row = pairs[0][1]
        column = ", ".join(f"{k}={v}" for k, v in pairs[1:]) or "samples"
        samples = result.get("samples")
        count = samples if isinstance(samples, int) else 0
        columns.setdefault(column, None)
        grid.setdefault(row, {})[column] = {
            "count": count,
            "met": result.get("met") is not False,
            "required": result.get("required"),
        }
    peak = max((c["count"] for r in grid.values() for c in r.values()), default=0)
    for line in grid.values():
        for cell in line.values():
            cell["shade"] = _shade(cell["count"] / peak if peak else 0.0)
            cell["dark"] = peak > 0 and cell["count"] / peak > 0.6
    return {
        "record": record,
        "dimension": first_dim,
        "columns": list(columns),
        "rows": [(name, [cells.get(c) for c in columns]) for name, cells in grid.items()],
    }


def _data(case: Case) -> dict[str, Any]:
    """What the page script needs: nodes (defaults left out), records (views are added
    by the caller)."""
    digests = list(case.evidence)
    index = {d: i for i, d in enumerate(digests)}
    sealed = case.sealed_detail()
    nodes: dict[str, dict[str, Any]] = {}
    for node in case.nodes.values():
        entry: dict[str, Any] = {
            "type": node.type,
            "status": node.status,
            "module": node.module,
            "text": node.text,
        }
        optional: dict[str, Any] = {
            "pattern": node.pattern_id if node.pattern_id != node.id else None,
            "reason": node.reason,
            "supported_by": node.supported_by,
            "in_context_of": node.in_context_of,
            "undeveloped": node.undeveloped,
            "artefacts": node.artefacts,
            "evidence": [index.get(d, d) for d in node.evidence],
            "reviews": node.reviews,
            "backed_by": node.backed_by,
            "challenges": node.challenges,
            "defeated": node.defeated,
            "binding": node.binding,
            "rationale": node.rationale,
            "notes": node.notes,
            "extension": node.extension,
        }
        entry.update({k: v for k, v in optional.items() if v})
        nodes[node.id] = entry
    records = []
    for digest in digests:
        r = case.evidence[digest]
        records.append(
            {
                "digest": digest,
                "key": r.key,
                "check": r.check,
                "stage": r.stage,
                "role": r.role,
                "subject": r.subject,
                "dataset": r.dataset,
                "verdict": r.verdict,
                "summary": r.summary,
                "parameters": r.parameters,
                "resolved": r.resolved,
                "results": r.results,
                "inputs": r.inputs,
                "stale": case.stale_inputs.get(digest, []),
            }
        )
        if digest in sealed:
            records[-1]["detail"] = sealed[digest]
        if r.origin is not None and r.provenance is not None:  # shown in a style of its own
            records[-1]["origin"] = r.origin
            records[-1]["provenance"] = r.provenance.model_dump(mode="json")
    return {
        "root": case.root,
        "nodes": nodes,
        "evidence": records,
        "reviews": {rid: review.to_dict() for rid, review in sorted(case.reviews.items())},
    }


def render_pdf(html: str, out: Path) -> None:
    """Print ``html`` (a :func:`render_report` document) to the PDF file ``out``.

    Uses Playwright's synchronous API with :data:`CHROMIUM`; never downloads a browser.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise MissingExtraError("PDF export needs Playwright", "pdf") from None
    if not Path(CHROMIUM).exists():
        raise UsageError(f"PDF export needs chromium at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            page = browser.new_page()
            page.set_content(html, wait_until="load", timeout=300_000)
            page.evaluate("() => window.amlasInflateAll && window.amlasInflateAll()")
            page.pdf(path=str(out), format="A4", print_background=True, landscape=True)
        finally:
            browser.close()
