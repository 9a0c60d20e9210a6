"""GSN diagrams of a safety case, laid out by Graphviz ``dot`` and returned as inline SVG.

Contract:

* :func:`case_views` says what to draw: the whole case, one view per module, and, when
  stage 5 is large, a stage-5 overview plus one view per ``G5.1`` instance.
* :func:`render_svgs` draws every view with ONE ``dot -Tsvg`` process and returns one
  ``<svg>`` document per view, in order, with no XML prolog, doctype or comment (ready to
  inline in HTML). The same case and views give the same bytes.
* Every drawn node is a ``<g>`` with ``id="node-<ID>"`` (see :func:`node_dom_id`), the raw
  ID in ``data-node`` and the classes ``gsnnode <gsn2x type class> status-<status>``.
  A node outside the view that a node inside it links to, in another module, is drawn as
  a small *away* node (``id="away-<ID>"``, class ``gsnaway``): a rectangle with its
  module under a line. Links to same-module nodes left out of a view (the stage-5
  overview) are not drawn; the node says how many it has instead.
* Node text is user-written: it only ever reaches ``dot`` and the SVG escaped, as text.
* ``dot`` missing or failing raises :class:`amlas.errors.UsageError`.

The layout cache. Laying out a 1,000-requirement case takes ``dot`` seconds, and ``amlas
case`` and ``amlas report`` draw the same diagrams; given a ``cache`` folder (the CLI
passes the project's ``.amlas/``), :func:`render_svgs` keeps each finished SVG under the
SHA-256 of what determines it: the DOT text of the view (every node's ID, text, status,
shape and link), the view's name and title, ``dot``'s version and this module's own
source. A view whose key is found is not laid out again; only the others go to ``dot``
(one process for all of them). The cache is one file, :data:`LAYOUT_CACHE_FILE`,
zlib-compressed SVGs framed by key and size (see :func:`_write_cache`), written
atomically (:func:`amlas.fileio.atomic_write_bytes`) and holding the views of the last
call; a missing, unreadable or corrupt file only means a new layout, never an error and
never a different drawing.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import re
import shutil
import subprocess
import textwrap
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Final, NamedTuple

from amlas.case import Case, Node, NodeType
from amlas.errors import UsageError
from amlas.fileio import atomic_write_bytes

__all__ = [
    "LAYOUT_CACHE_FILE",
    "SPLIT_STAGE5_ABOVE",
    "STATUS_COLOURS",
    "StatusColour",
    "View",
    "case_views",
    "node_dom_id",
    "render_svgs",
]


class StatusColour(NamedTuple):
    """How one claim status is drawn: background ``fill`` and ``border`` (CSS hex colours)."""

    fill: str
    border: str


STATUS_COLOURS: Final[Mapping[str, StatusColour]] = MappingProxyType(
    {
        "supported": StatusColour("#e6f4e4", "#2e7d32"),  # green
        "failed": StatusColour("#fde4e2", "#c62828"),  # red
        "inconclusive": StatusColour("#fff3d1", "#b7791f"),  # amber
        "undeveloped": StatusColour("#eeeff1", "#6b7280"),  # grey
        "stale": StatusColour("#f1e8fb", "#7b3fb5"),  # violet
    }
)
"""Claim status -> its colours, shared by the diagrams and the HTML report."""

SPLIT_STAGE5_ABOVE: Final = 40
"""Stage 5 gets one view per ``G5.1`` instance when it has more nodes than this."""

LAYOUT_CACHE_FILE: Final = "layouts.z"
"""The layout cache's one file, inside the ``cache`` folder given to :func:`render_svgs`."""
_CACHE_FORMAT: Final = "amlas.layouts/2"
_OLD_CACHE_FILE: Final = "layouts.json.z"  # format 1 (JSON), removed when a cache is written

COUNTER_COLOUR: Final = "#c62828"
_SVG_NS: Final = "http://www.w3.org/2000/svg"
_FONT: Final = "Helvetica"
_MAX_LINES: Final = 10


@dataclass(frozen=True)
class View:
    """One diagram: a ``name`` unique among the views, the nodes it draws, a ``title``."""

    name: str
    node_ids: tuple[str, ...]
    title: str


class _Shape(NamedTuple):
    css: str
    attrs: str
    wrap: int


_SHAPES: Final[Mapping[NodeType, _Shape]] = {
    "goal": _Shape("gsngoal", "shape=box", 40),
    "strategy": _Shape("gsnstgy", "shape=parallelogram", 36),
    "solution": _Shape("gsnsltn", "shape=circle", 22),
    "context": _Shape("gsnctxt", "shape=box", 36),
    "assumption": _Shape("gsnasmp", "shape=ellipse", 30),
    "justification": _Shape("gsnjust", "shape=ellipse", 30),
    "counter_solution": _Shape("gsncountersltn", "shape=doublecircle", 22),
}
_MARKERS: Final = {"assumption": "A", "justification": "J"}
_AWAY_CSS: Final = {
    "goal": "gsnawaygoal",
    "strategy": "gsnawaygoal",
    "solution": "gsnawaysltn",
    "counter_solution": "gsnawaysltn",
    "context": "gsnawayctxt",
    "assumption": "gsnawayasmp",
    "justification": "gsnawayjust",
}
_UNSAFE_ID_CHAR: Final = re.compile(r"[^A-Za-z0-9._-]")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_SVG_DOC: Final = re.compile(r"<svg\b.*?</svg>", re.DOTALL)
_SIMPLE: Final = re.compile(r"\S+(?: \S+)*")  # words, one ASCII space between


def node_dom_id(node_id: str, prefix: str = "node-") -> str:
    """The SVG/HTML id of a node: ``prefix`` + the ID with every character other than
    letters, digits, ``.``, ``_``, ``-`` written as ``_x<hex>_`` (deterministic)."""
    return prefix + _UNSAFE_ID_CHAR.sub(lambda m: f"_x{ord(m.group()):x}_", node_id)


def case_views(case: Case, *, per_requirement: bool = True) -> list[View]:
    """The views a report shows: the whole case, then each module in ``case.modules`` order.

    A module with no node gets no view. When ``per_requirement`` is true and stage 5 has
    more than :data:`SPLIT_STAGE5_ABOVE` nodes, the ``stage5`` view is an overview of the
    ``G5.1`` instances and the claims above them, followed by one view ``stage5/<ID>`` per
    instance (the instance and everything below it in stage 5); the whole-case view then
    leaves out what lies below the instances, so that it stays small enough to lay out.
    With ``per_requirement=False`` nothing is split (slow to lay out for a large case).
    """
    by_module: dict[str, list[str]] = {}
    for node in case.nodes.values():
        by_module.setdefault(node.module, []).append(node.id)
    stage5 = by_module.get("stage5", [])
    split = per_requirement and len(stage5) > SPLIT_STAGE5_ABOVE
    instances = [i for i in stage5 if case.nodes[i].pattern_id == "G5.1"] if split else []
    split = bool(instances)
    overview: list[str] = []
    below: dict[str, list[str]] = {}
    if split:
        position = {node_id: k for k, node_id in enumerate(stage5)}
        below = {i: _reachable(case, i, position) for i in instances}
        above = _ancestors(case, set(instances), set(stage5))
        overview = [i for i in stage5 if i in above or i in below]
    hidden = {n for i in instances for n in below[i]} - set(overview)

    views = [View("case", tuple(i for i in case.nodes if i not in hidden), "The whole case")]
    for module in case.modules:
        ids = by_module.get(module.name, [])
        if not ids:
            continue
        if module.name == "stage5" and split:
            views.append(View("stage5", tuple(overview), f"{module.title} (overview)"))
            views += [
                View(f"stage5/{i}", tuple(below[i]), f"{module.title}: {i}") for i in instances
            ]
        else:
            views.append(View(module.name, tuple(ids), module.title))
    return views


def _links(node: Node) -> list[str]:
    return [*node.supported_by, *node.in_context_of]


def _reachable(case: Case, start: str, position: Mapping[str, int]) -> list[str]:
    """``start``, then the nodes of ``position`` reachable from it by supportedBy or
    inContextOf, in ``position`` order."""
    seen = {start}
    stack = [start]
    while stack:
        for child in _links(case.nodes[stack.pop()]):
            if child in position and child not in seen:
                seen.add(child)
                stack.append(child)
    seen.discard(start)
    return [start, *sorted(seen, key=position.__getitem__)]


def _ancestors(case: Case, targets: set[str], members: set[str]) -> set[str]:
    """The nodes in ``members`` from which some node in ``targets`` can be reached."""
    parents: dict[str, list[str]] = {}
    for node_id in members:
        for child in _links(case.nodes[node_id]):
            parents.setdefault(child, []).append(node_id)
    seen: set[str] = set()
    stack = list(targets)
    while stack:
        for parent in parents.get(stack.pop(), []):
            if parent not in seen and parent not in targets:
                seen.add(parent)
                stack.append(parent)
    return seen


def render_svgs(case: Case, views: Sequence[View], *, cache: str | Path | None = None) -> list[str]:
    """One inline-ready SVG document per view, in the order of ``views``.

    Runs a single ``dot -Tsvg`` over all views not found in the layout ``cache`` folder
    (see the module doc; None: no cache), and none when every view is found. Raises
    :class:`UsageError` if ``dot`` is not installed or exits non-zero (with its stderr),
    or if a view names a node that is not in the case.
    """
    if not views:
        return []
    for view in views:
        missing = [i for i in view.node_ids if i not in case.nodes]
        if missing:
            raise UsageError(f"view {view.name!r} names nodes not in the case: {missing[:5]!r}")
    dot = shutil.which("dot")
    if dot is None:
        raise UsageError(
            "Graphviz `dot` was not found on PATH; install Graphviz: apt-get install graphviz"
        )
    labels: dict[str, tuple[str, _Drawn]] = {}  # a node's statement: the same in every view
    drawn = [_ViewDot(case, view, index, labels) for index, view in enumerate(views)]
    sources = [d.text() for d in drawn]
    folder = Path(cache) if cache is not None else None
    keys = [_layout_key(dot, d.view, source) for d, source in zip(drawn, sources, strict=True)]
    known = _read_cache(folder) if folder is not None else {}
    out = [known.get(key) for key in keys]
    todo = [k for k, svg in enumerate(out) if svg is None]
    if todo:
        for k, svg in zip(todo, _layout(dot, [drawn[k] for k in todo], sources, todo), strict=True):
            out[k] = svg
    done = [svg for svg in out if svg is not None]
    if folder is not None and (todo or set(known) != set(keys)):
        _write_cache(folder, dict(zip(keys, done, strict=True)))
    return done


def _layout(
    dot: str, drawn: Sequence[_ViewDot], sources: Sequence[str], which: Sequence[int]
) -> list[str]:
    """Lay out ``drawn`` (the views at positions ``which`` of ``sources``) with one ``dot``."""
    source = "".join(sources[k] for k in which)
    result = subprocess.run(
        [dot, "-Tsvg"], input=source.encode("utf-8"), capture_output=True, check=False
    )
    if result.returncode != 0:
        stderr = result.stderr.decode("utf-8", "replace").strip()
        raise UsageError(f"Graphviz `dot` failed (exit {result.returncode}): {stderr}")
    documents = _SVG_DOC.findall(result.stdout.decode("utf-8"))
    if len(documents) != len(drawn):
        raise UsageError(f"Graphviz `dot` wrote {len(documents)} SVGs for {len(drawn)} views")
    return [d.finish(doc) for d, doc in zip(drawn, documents, strict=True)]


@lru_cache(maxsize=1)
def _renderer_digest() -> str:
    """This module's own source: a change to how an SVG is finished makes a new key."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


@lru_cache(maxsize=4)
def _dot_version(dot: str) -> str:
    result = subprocess.run([dot, "-V"], capture_output=True, check=False)
    return (result.stderr + result.stdout).decode("utf-8", "replace").strip()


def _layout_key(dot: str, view: View, source: str) -> str:
    digest = hashlib.sha256()
    for part in (_CACHE_FORMAT, _renderer_digest(), _dot_version(dot), view.name, view.title):
        digest.update(part.encode("utf-8", "backslashreplace") + b"\0")
    digest.update(source.encode("utf-8", "backslashreplace"))
    return digest.hexdigest()


def _read_cache(folder: Path) -> dict[str, str]:
    """The cached SVGs by key; empty when the file is missing, unreadable or corrupt."""
    try:
        data = zlib.decompress((folder / LAYOUT_CACHE_FILE).read_bytes())
        header = _CACHE_FORMAT.encode("ascii") + b"\n"
        if not data.startswith(header):
            return {}
        entries: dict[str, str] = {}
        at, end = len(header), len(data)
        while at < end:
            line = data.index(b"\n", at)
            key, _, size = data[at:line].partition(b" ")
            if not size.isdigit() or line + 1 + int(size) > end:
                return {}
            at = line + 1 + int(size)
            entries[key.decode("ascii")] = data[line + 1 : at].decode("utf-8")
    except (OSError, ValueError, zlib.error):  # a bad number, byte or frame is a ValueError
        return {}
    return {k: v for k, v in entries.items() if v.startswith("<svg")}


def _write_cache(folder: Path, entries: Mapping[str, str]) -> None:
    """Keep the views of this call (a cache that cannot be written is only slower).

    The file is a line naming the format, then per view its key, a space, the size in
    bytes of its SVG and a line break, then the SVG in UTF-8: read back by slicing, about
    three times faster than the JSON it replaced (which escaped every quote of the SVG)."""
    parts = [_CACHE_FORMAT.encode("ascii") + b"\n"]
    for key, svg in entries.items():
        data = svg.encode("utf-8")
        parts += [f"{key} {len(data)}\n".encode("ascii"), data]
    with contextlib.suppress(OSError):
        atomic_write_bytes(folder / LAYOUT_CACHE_FILE, zlib.compress(b"".join(parts), 1))
        (folder / _OLD_CACHE_FILE).unlink(missing_ok=True)


def _clean(text: str) -> str:
    """``text`` safe inside a dot HTML-like label: control characters replaced, escaped."""
    if not (text.isascii() and text.isprintable()):  # else: no surrogate, no control
        text = _CONTROL.sub("\ufffd", text.encode("utf-8", "replace").decode("utf-8"))
    return html.escape(text, quote=True)


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        lines += _wrap_paragraph(paragraph, width)
    if len(lines) > _MAX_LINES:
        lines = [*lines[: _MAX_LINES - 1], lines[_MAX_LINES - 1][: width - 1] + "\u2026"]
    return lines


def _wrap_paragraph(paragraph: str, width: int) -> list[str]:
    """``textwrap.wrap(paragraph, width, break_on_hyphens=False)``, line for line.

    A paragraph of words no longer than ``width`` separated by single ASCII spaces (the
    usual case) is filled greedily here, which is what textwrap does with it, five times
    faster; anything else (other whitespace, a word to break) goes to textwrap itself.
    """
    if not _SIMPLE.fullmatch(paragraph):
        return textwrap.wrap(paragraph, width, break_on_hyphens=False)
    if len(paragraph) <= width:
        return [paragraph]
    if max(map(len, paragraph.split(" "))) > width:
        return textwrap.wrap(paragraph, width, break_on_hyphens=False)
    return _fill(width).findall(paragraph)


@lru_cache(maxsize=64)
def _fill(width: int) -> re.Pattern[str]:
    """Greedy filling of single-spaced words no longer than ``width`` as one regex: each
    line is the most characters, at most ``width``, that end where a word does (the
    backtracking stops before a space or at the end), and the space after it is dropped."""
    return re.compile(f"(.{{1,{width}}})(?: |$)")


_EDGE_ATTRS: Final = {
    "spby": 'class="gsnspby", arrowhead=normal',
    "inctxt": 'class="gsninctxt", arrowhead=empty',
    "backed": 'class="gsnbacked", arrowhead=empty, style=dashed, color="#6b7280"',
    "chllngs": f'class="gsnchllngs", arrowhead=normal, style=dashed, '
    f'color="{COUNTER_COLOUR}", fontcolor="{COUNTER_COLOUR}", constraint=false',
}
"""The DOT attributes of each kind of link."""


class _Drawn(NamedTuple):
    raw_id: str
    status: str
    marker: str
    undeveloped: bool


def _node_statement(node: Node) -> tuple[str, _Drawn]:
    """A node's DOT statement less its view's name for it, the end of its label and the
    closing ``>];`` (the rest is the same in every view that draws it), and how it is
    finished in the SVG."""
    shape = _SHAPES[node.type]
    colours = STATUS_COLOURS.get(node.status, STATUS_COLOURS["undeveloped"])
    border = COUNTER_COLOUR if node.type == "counter_solution" else colours.border
    styles = ["filled"]
    if node.type == "context":
        styles.append("rounded")
    if node.type == "counter_solution" or node.defeated:
        styles.append("dashed")
    classes = ["gsnnode", shape.css, f"status-{node.status}"]
    if node.undeveloped:
        classes.append("gsn_undeveloped")
    if node.defeated:
        classes.append("gsndefeated")
    if node.extension:
        classes.append("gsnextension")
    # the lines cleaned as one text (cleaning goes character by character and no line
    # holds a line break): one call per node, not one per line
    wrapped = _wrap(node.text, shape.wrap)
    text = "<BR/>" + _clean("\n".join(wrapped)).replace("\n", "<BR/>") if wrapped else ""
    body = (
        f'[id="{node_dom_id(node.id)}", class="{" ".join(classes)}", {shape.attrs}, '
        f'style="{",".join(styles)}", fillcolor="{colours.fill}", color="{border}", '
        f"label=<<B>{_clean(node.id)}</B>{text}"
    )
    drawn = _Drawn(
        node.id, node.status, _MARKERS.get(node.type, ""), node.undeveloped and node.is_claim
    )
    return body, drawn


class _ViewDot:
    """The DOT text of one view, and what is needed to finish its SVG afterwards."""

    def __init__(
        self,
        case: Case,
        view: View,
        index: int,
        labels: dict[str, tuple[str, _Drawn]] | None = None,
    ) -> None:
        self.case = case
        self.view = view
        self.index = index
        self.labels = {} if labels is None else labels
        self.names: dict[str, str] = {}
        self.drawn: dict[str, _Drawn] = {}
        self.lines: list[str] = []

    def text(self) -> str:
        inside = set(self.view.node_ids)
        parents: dict[str, int] = {}
        for node_id in self.view.node_ids:
            self.names[node_id] = f"n{len(self.names)}"
            for child in set(_links(self.case.nodes[node_id])):
                parents[child] = parents.get(child, 0) + 1
        away: dict[str, str] = {}
        edges: list[str] = []
        same_rank: list[tuple[str, str]] = []
        hidden: dict[str, int] = {}
        for node_id in self.view.node_ids:
            node = self.case.nodes[node_id]
            links = [(c, "spby") for c in node.supported_by]
            links += [(c, "inctxt") for c in node.in_context_of]
            if node.backed_by:
                links.append((node.backed_by, "backed"))
            if node.challenges:
                links.append((node.challenges, "chllngs"))
            for target, kind in links:
                if target in inside:
                    name = self.names[target]
                else:
                    other = self.case.nodes.get(target)
                    if other is not None and other.module == node.module:
                        hidden[node_id] = hidden.get(node_id, 0) + 1
                        continue
                    if target not in away:
                        away[target] = f"a{len(away)}"
                    name = away[target]
                edges.append(self._edge(self.names[node_id], name, kind))
                if kind == "inctxt" and target in inside and self._beside(target, parents):
                    same_rank.append((self.names[node_id], name))
                if kind == "chllngs" and target in inside:
                    same_rank.append((name, self.names[node_id]))
        out = [
            f'digraph "v{self.index}" {{',
            f'graph [id="{node_dom_id(self.view.name, "view-")}", rankdir=TB, '
            'nodesep=0.3, ranksep=0.45, pad=0.25, bgcolor="transparent"];',
            f'node [fontname="{_FONT}", fontsize=10, penwidth=1.4, style=filled, '
            'margin="0.1,0.06"];',
            f'edge [fontname="{_FONT}", color="#4b5563", arrowsize=0.7, penwidth=1.1];',
        ]
        for node_id in self.view.node_ids:
            out.append(self._node(self.case.nodes[node_id], hidden.get(node_id, 0)))
        for target, name in away.items():
            out.append(self._away(target, name))
        out += edges
        out += [f"{{rank=same; {a}; {b};}}" for a, b in same_rank]
        out.append("}\n")
        return "\n".join(out)

    def _beside(self, context_id: str, parents: Mapping[str, int]) -> bool:
        """A context with one parent in the view and nothing below it sits beside it."""
        ctx = self.case.nodes[context_id]
        return not (ctx.supported_by or ctx.in_context_of) and parents.get(context_id) == 1

    def _node(self, node: Node, hidden: int) -> str:
        known = self.labels.get(node.id)
        if known is None:
            known = self.labels[node.id] = _node_statement(node)
        body, drawn = known
        name = self.names[node.id]
        self.drawn[name] = drawn
        if hidden:
            body += f'<BR/><I><FONT POINT-SIZE="9">+{hidden} linked, in its own view</FONT></I>'
        return f"{name} {body}>];"

    def _away(self, target: str, name: str) -> str:
        other = self.case.nodes.get(target)
        status = other.status if other else "undeveloped"
        module = other.module if other else "not in the case"
        text = other.text if other else ""
        colours = STATUS_COLOURS.get(status, STATUS_COLOURS["undeveloped"])
        short = text if len(text) <= 48 else text[:47].rstrip() + "\u2026"
        kind = _AWAY_CSS.get(other.type if other else "goal", "gsnawaygoal")
        self.drawn[name] = _Drawn(target, status, "", False)
        lines = "".join(f"{_clean(line)}<BR/>" for line in _wrap(short, 26)) or " "
        return (
            f'{name} [id="{node_dom_id(target, "away-")}", '
            f'class="gsnnode gsnaway {kind} status-{status}", '
            "shape=plaintext, margin=0, style=solid, "
            f'label=<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="0" CELLPADDING="3" '
            f'COLOR="{colours.border}" BGCOLOR="{colours.fill}">'
            f'<TR><TD><FONT POINT-SIZE="9"><B>{_clean(target)}</B><BR/>{lines}</FONT></TD></TR>'
            f'<TR><TD SIDES="T" BORDER="1"><FONT POINT-SIZE="8">{_clean(module)}</FONT></TD></TR>'
            "</TABLE>>];"
        )

    @staticmethod
    def _edge(a: str, b: str, kind: str) -> str:
        return f"{a} -> {b} [{_EDGE_ATTRS[kind]}];"

    def finish(self, document: str) -> str:
        """Post-process dot's SVG: data-node, tooltips, GSN markers; no comments."""
        root = ET.fromstring(document)
        for element in root.iter():
            # Plain tag names and one xmlns attribute: ElementTree would write ns0: prefixes.
            element.tag = element.tag.rpartition("}")[2]
        root.attrib = {"xmlns": _SVG_NS, **root.attrib}
        root.set("class", "gsndiagram")
        root.set("data-view", _CONTROL.sub("\ufffd", self.view.name))
        root.set("role", "img")
        root.set("aria-label", _CONTROL.sub("\ufffd", self.view.title))
        for group in root.iter("g"):
            classes = group.get("class", "").split()
            title = group.find("title")
            if "graph" in classes and title is not None:
                title.text = _CONTROL.sub("\ufffd", self.view.title)
            elif "node" in classes and title is not None:
                drawn = self.drawn.get(title.text or "")
                if drawn is None:
                    continue
                raw = _CONTROL.sub("\ufffd", drawn.raw_id)  # XML cannot hold them at all
                group.set("data-node", raw)
                title.text = f"{raw} ({drawn.status})"
                self._decorate(group, drawn)
            elif "edge" in classes and title is not None:
                ends = (title.text or "").split("->")
                title.text = _CONTROL.sub("\ufffd", " \u2192 ".join(self._raw(e) for e in ends))
        ET.indent(root, space="")
        return ET.tostring(root, encoding="unicode")

    def _raw(self, name: str) -> str:
        drawn = self.drawn.get(name)
        return drawn.raw_id if drawn else name

    @staticmethod
    def _decorate(group: ET.Element, drawn: _Drawn) -> None:
        """Add the GSN 'A'/'J' letter and the undeveloped diamond, placed from the shape."""
        shape = next(
            (e for e in group if e.tag in ("ellipse", "polygon")),
            None,
        )
        if shape is None:
            return
        if shape.tag == "ellipse":
            cx, cy = float(shape.get("cx", 0)), float(shape.get("cy", 0))
            rx, ry = float(shape.get("rx", 0)), float(shape.get("ry", 0))
            left, right, bottom = cx - rx, cx + rx, cy + ry
        else:
            points = [float(v) for v in re.split(r"[ ,]+", shape.get("points", "").strip())]
            xs, ys = points[0::2], points[1::2]
            left, right, bottom = min(xs), max(xs), max(ys)
        if drawn.marker:
            letter = ET.SubElement(group, "text")
            letter.set("class", "gsnmarker")
            letter.set("x", f"{right - (right - left) * 0.08:.2f}")
            letter.set("y", f"{bottom + 6:.2f}")
            letter.set("font-family", "Helvetica,sans-Serif")
            letter.set("font-size", "12.00")
            letter.set("font-weight", "bold")
            letter.text = drawn.marker
        if drawn.undeveloped:
            mid = (left + right) / 2
            diamond = ET.SubElement(group, "polygon")
            diamond.set("class", "gsn_undeveloped")
            diamond.set("fill", "#ffffff")
            diamond.set("stroke", STATUS_COLOURS["undeveloped"].border)
            diamond.set("stroke-width", "1.2")
            diamond.set(
                "points",
                f"{mid:.2f},{bottom:.2f} {mid + 7:.2f},{bottom + 6:.2f} "
                f"{mid:.2f},{bottom + 12:.2f} {mid - 7:.2f},{bottom + 6:.2f}",
            )
