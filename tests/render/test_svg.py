"""GSN diagrams drawn by Graphviz: views, shapes, colours, ids, escaping, determinism."""

from __future__ import annotations

import html
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from case_factory import HOSTILE, make_case

from amlas.case import Case, Module, Node
from amlas.errors import UsageError
from amlas.render import _svg
from amlas.render._svg import (
    SPLIT_STAGE5_ABOVE,
    STATUS_COLOURS,
    View,
    case_views,
    node_dom_id,
    render_svgs,
)

NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def dot() -> str:
    """Graphviz is required (CI installs it): fail loudly rather than skip."""
    found = shutil.which("dot")
    if found is None:
        pytest.fail("Graphviz `dot` is not on PATH: apt-get install graphviz")
    return found


@pytest.fixture(scope="module")
def drawn(dot: str) -> dict[str, ET.Element]:
    """The factory case's views, drawn once and parsed, by view name."""
    case = make_case()
    views = case_views(case)
    return {v.name: ET.fromstring(s) for v, s in zip(views, render_svgs(case, views), strict=True)}


def _groups(root: ET.Element, css: str) -> dict[str, ET.Element]:
    """``<g>`` elements carrying class ``css``, by their data-node (or id)."""
    return {
        g.get("data-node") or g.get("id", ""): g
        for g in root.iter(f"{NS}g")
        if css in g.get("class", "").split()
    }


def _shapes(group: ET.Element) -> list[ET.Element]:
    return [e for e in group if e.tag in (f"{NS}polygon", f"{NS}ellipse", f"{NS}path")]


def _text(group: ET.Element) -> str:
    return "".join(t.text or "" for t in group.iter(f"{NS}text"))


# -- views --------------------------------------------------------------------------------


def test_views_are_the_case_then_each_module() -> None:
    case = make_case()
    views = case_views(case)
    assert [v.name for v in views] == ["case", "stage1", "stage2", "stage5"]
    assert views[0].node_ids == tuple(case.nodes)
    assert views[1].node_ids == ("G1.1", "C1.1", "A1.1", "S1.1", "J1.1")
    assert views[3].title == "Stage 5: Model verification"


def _big_stage5(requirements: int) -> Case:
    """The factory case with stage 5 widened to one G5.1 subtree per requirement."""
    case = make_case()
    nodes = dict(case.nodes)
    nodes["S1.1"] = replace(nodes["S1.1"], supported_by=["G2.1", "S5.0"])
    nodes["S5.0"] = Node("S5.0", "S5.0", "strategy", "Over requirements", "stage5", "failed")
    for i in range(requirements):
        r = f"R{i}"
        nodes["S5.0"].supported_by.append(f"G5.1.{r}")
        nodes[f"G5.1.{r}"] = Node(
            f"G5.1.{r}", "G5.1", "goal", r, "stage5", "supported",
            supported_by=[f"Sn5.1.{r}"], in_context_of=["C5.1", "C1.1"],
        )  # fmt: skip
        nodes[f"Sn5.1.{r}"] = Node(f"Sn5.1.{r}", "Sn5.1", "solution", r, "stage5", "supported")
    modules = [*case.modules[:2], Module("stage5", 5, "Stage 5", "U", "V", "S5.0")]
    return replace(case, nodes=nodes, modules=modules)


def test_a_large_stage5_gets_one_view_per_requirement() -> None:
    case = _big_stage5(SPLIT_STAGE5_ABOVE)
    views = {v.name: v for v in case_views(case)}
    instances = [i for i, n in case.nodes.items() if n.pattern_id == "G5.1"]
    assert set(views) == {"case", "stage1", "stage2", "stage5"} | {f"stage5/{i}" for i in instances}
    # the overview: the G5.1 instances and the claims above them, nothing below
    assert set(views["stage5"].node_ids) == {"S5.0", *instances}
    assert views["stage5/G5.1.R3"].node_ids == ("G5.1.R3", "C5.1", "Sn5.1.R3")
    assert views["stage5/G5.1.MLR-2"].node_ids[0] == "G5.1.MLR-2"
    assert "Sn5.1.R3" not in views["case"].node_ids
    assert "G5.1.R3" in views["case"].node_ids
    not_split = [v.name for v in case_views(case, per_requirement=False)]
    assert not_split == ["case", "stage1", "stage2", "stage5"]


def test_a_small_stage5_is_one_view() -> None:
    case = _big_stage5(3)
    assert [v.name for v in case_views(case)] == ["case", "stage1", "stage2", "stage5"]


def test_the_overview_says_what_it_leaves_out(dot: str) -> None:
    case = _big_stage5(SPLIT_STAGE5_ABOVE)
    views = [v for v in case_views(case) if v.name in ("stage5", "stage5/G5.1.R0")]
    overview, single = (ET.fromstring(s) for s in render_svgs(case, views))
    goal = _groups(overview, "gsnnode")["G5.1.R0"]
    assert "+2 linked, in its own view" in _text(goal)  # Sn5.1.R0 and C5.1
    assert "Sn5.1.R0" not in _groups(overview, "gsnnode")
    assert "Sn5.1.R0" in _groups(single, "gsnnode")
    # links to other modules stay visible as away nodes in every view
    assert "C1.1" in _groups(single, "gsnaway")


# -- shapes, colours, ids -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("node_id", "css", "shape"),
    [
        ("G5.1.MLR-1", "gsngoal", "polygon"),
        ("S5.1.MLR-2", "gsnstgy", "polygon"),
        ("Sn5.1.MLR-1", "gsnsltn", "ellipse"),
        ("C5.1", "gsnctxt", "path"),  # rounded box
        ("CSn5.1", "gsncountersltn", "ellipse"),
    ],
)
def test_each_type_has_its_shape(
    drawn: dict[str, ET.Element], node_id: str, css: str, shape: str
) -> None:
    group = _groups(drawn["stage5"], "gsnnode")[node_id]
    assert css in group.get("class", "").split()
    assert _shapes(group)[0].tag == f"{NS}{shape}"


def test_goal_is_a_rectangle_and_strategy_a_parallelogram(drawn: dict[str, ET.Element]) -> None:
    nodes = _groups(drawn["stage5"], "gsnnode")

    def corners(node_id: str) -> list[tuple[float, float]]:
        values = [
            float(v) for v in _shapes(nodes[node_id])[0].get("points", "").replace(",", " ").split()
        ]
        return sorted(set(zip(values[0::2], values[1::2], strict=True)))

    goal, strategy = corners("G5.1.MLR-1"), corners("S5.1.MLR-2")
    assert len(goal) == 4
    assert len({x for x, _ in goal}) == 2
    assert len(strategy) == 4
    assert len({x for x, _ in strategy}) == 4


def test_solution_is_a_circle(drawn: dict[str, ET.Element]) -> None:
    ellipse = _shapes(_groups(drawn["stage5"], "gsnnode")["Sn5.1.MLR-1"])[0]
    assert ellipse.get("rx") == ellipse.get("ry")


def test_counter_solution_is_a_red_dashed_double_circle(drawn: dict[str, ET.Element]) -> None:
    rings = _shapes(_groups(drawn["stage5"], "gsnnode")["CSn5.1"])
    assert [r.tag for r in rings] == [f"{NS}ellipse", f"{NS}ellipse"]
    assert all(r.get("stroke") == _svg.COUNTER_COLOUR and r.get("stroke-dasharray") for r in rings)


@pytest.mark.parametrize(("node_id", "letter"), [("A1.1", "A"), ("J1.1", "J")])
def test_assumption_and_justification_carry_their_letter(
    drawn: dict[str, ET.Element], node_id: str, letter: str
) -> None:
    group = _groups(drawn["stage1"], "gsnnode")[node_id]
    assert _shapes(group)[0].tag == f"{NS}ellipse"
    markers = [t for t in group.iter(f"{NS}text") if t.get("class") == "gsnmarker"]
    assert [m.text for m in markers] == [letter]
    ellipse = _shapes(group)[0]
    right = float(ellipse.get("cx", 0)) + float(ellipse.get("rx", 0))
    bottom = float(ellipse.get("cy", 0)) + float(ellipse.get("ry", 0))
    assert float(markers[0].get("x", 0)) > float(ellipse.get("cx", 0))  # lower right
    assert float(markers[0].get("x", 0)) < right
    assert float(markers[0].get("y", 0)) > bottom


def test_undeveloped_claims_get_a_hollow_diamond(drawn: dict[str, ET.Element]) -> None:
    nodes = _groups(drawn["stage2"], "gsnnode")
    diamonds = [
        p for p in nodes["G2.2"].iter(f"{NS}polygon") if p.get("class") == "gsn_undeveloped"
    ]
    assert len(diamonds) == 1
    assert diamonds[0].get("fill") == "#ffffff"
    assert "gsn_undeveloped" in nodes["G2.2"].get("class", "").split()
    assert not [p for p in nodes["G2.1"].iter(f"{NS}polygon") if p.get("class")]


def test_fill_and_border_follow_the_status(drawn: dict[str, ET.Element]) -> None:
    case = make_case()
    seen = set()
    for root in drawn.values():
        for node_id, group in _groups(root, "gsnnode").items():
            if "gsnaway" in group.get("class", "").split() or node_id not in case.nodes:
                continue
            node = case.nodes[node_id]
            shape = _shapes(group)[0]
            assert f"status-{node.status}" in group.get("class", "").split()
            assert shape.get("fill") == STATUS_COLOURS[node.status].fill, node_id
            border = _svg.COUNTER_COLOUR if node.type == "counter_solution" else None
            assert shape.get("stroke") == (border or STATUS_COLOURS[node.status].border)
            seen.add(node.status)
    assert seen == set(STATUS_COLOURS)


def test_every_node_has_its_id_data_node_and_classes(drawn: dict[str, ET.Element]) -> None:
    case = make_case()
    for node in case.nodes.values():
        group = _groups(drawn["case"], "gsnnode")[node.id]
        assert group.get("id") == node_dom_id(node.id)
        classes = group.get("class", "").split()
        assert classes[:2] == ["node", "gsnnode"]
        assert f"status-{node.status}" in classes
        title = group.find(f"{NS}title")
        assert title is not None
        assert title.text == f"{node.id} ({node.status})"


def test_edges_by_kind(drawn: dict[str, ET.Element]) -> None:
    edges = [g for g in drawn["stage5"].iter(f"{NS}g") if "edge" in g.get("class", "").split()]
    kinds = {next(c for c in g.get("class", "").split() if c.startswith("gsn")): g for g in edges}
    assert set(kinds) == {"gsnspby", "gsninctxt", "gsnchllngs"}
    head = {k: g.find(f"{NS}polygon") for k, g in kinds.items()}
    assert head["gsnspby"] is not None
    assert head["gsnspby"].get("fill") != "none"
    assert head["gsninctxt"] is not None
    assert head["gsninctxt"].get("fill") == "none"
    line = kinds["gsnchllngs"].find(f"{NS}path")
    assert line is not None
    assert line.get("stroke") == _svg.COUNTER_COLOUR
    assert line.get("stroke-dasharray")
    title = kinds["gsnchllngs"].find(f"{NS}title")
    assert title is not None
    assert title.text == "CSn5.1 \u2192 G5.3.MLR-2"


def test_links_out_of_a_view_are_away_nodes(drawn: dict[str, ET.Element]) -> None:
    away = _groups(drawn["stage1"], "gsnaway")
    assert set(away) == {"G2.1", "G5.1.MLR-1", "G5.1.MLR-2"}
    assert away["G2.1"].get("id") == node_dom_id("G2.1", "away-")
    assert "gsnawaygoal" in away["G2.1"].get("class", "").split()
    assert _text(away["G2.1"]).endswith("stage2")
    # a link to a node that is not in the case is still shown
    assert "not in the case" in _text(_groups(drawn["stage2"], "gsnaway")["G3.1"])


def test_node_dom_id_is_safe_and_deterministic() -> None:
    assert node_dom_id("G5.1.MLR-3") == "node-G5.1.MLR-3"
    assert node_dom_id('G"<x> &y') == "node-G_x22__x3c_x_x3e__x20__x26_y"
    assert node_dom_id("ü", "away-") == "away-_xfc_"


# -- escaping -----------------------------------------------------------------------------


def _hostile_case() -> Case:
    """The factory case plus a node whose ID and text are hostile."""
    case = make_case()
    evil_id = 'G9"<b>&\u0007'
    nodes = dict(case.nodes)
    nodes["G1.1"] = replace(nodes["G1.1"], in_context_of=["C1.1", "A1.1", evil_id])
    nodes[evil_id] = Node(evil_id, "C9", "context", " ".join(HOSTILE) + "\x00\x1b", "stage1")
    return replace(case, nodes=nodes)


def test_hostile_text_reaches_the_svg_as_text_only(dot: str) -> None:
    case = _hostile_case()
    views = case_views(case)
    for svg in render_svgs(case, views):
        assert "<script" not in svg
        assert "<img" not in svg
        root = ET.fromstring(svg)
        for element in root.iter():
            assert element.tag.startswith(NS)
            assert element.tag[len(NS) :] not in {"script", "img", "a", "foreignObject"}
            for name, value in element.attrib.items():
                assert not name.startswith("on"), name
                assert not value.lower().startswith("javascript:"), value
    stage1 = ET.fromstring(render_svgs(case, [v for v in views if v.name == "stage1"])[0])
    evil = _groups(stage1, "gsnnode")['G9"<b>&\ufffd']  # XML cannot hold \x07
    assert evil.get("id") == node_dom_id('G9"<b>&\u0007')
    written = _text(evil).replace(" ", "")
    for text in HOSTILE:
        assert text.replace(" ", "") in written, text
    assert "\ufffd" in written  # control characters replaced, not passed to the XML


# -- process and output -------------------------------------------------------------------


def test_one_dot_process_draws_every_view(dot: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    real: Callable[..., Any] = subprocess.run

    def counting(args: list[str], **kwargs: Any) -> Any:
        calls.append(args)
        return real(args, **kwargs)

    monkeypatch.setattr(_svg.subprocess, "run", counting)
    case = make_case()
    svgs = render_svgs(case, case_views(case))
    assert len(calls) == 1
    assert calls[0][1:] == ["-Tsvg"]
    assert len(svgs) == 4
    for svg, view in zip(svgs, case_views(case), strict=True):
        assert svg.startswith("<svg ")
        assert svg.endswith("</svg>")
        assert svg.count("<svg") == 1
        assert f'data-view="{view.name}"' in svg
        for leftover in ("<?xml", "<!DOCTYPE", "<!--", "graphviz version"):
            assert leftover not in svg


def test_rendering_is_deterministic(dot: str) -> None:
    case = make_case()
    assert render_svgs(case, case_views(case)) == render_svgs(make_case(), case_views(case))


def _counting_dot(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The ``dot -Tsvg`` layouts run from here on (``dot -V`` is not counted)."""
    calls: list[list[str]] = []
    real: Callable[..., Any] = subprocess.run

    def counting(args: list[str], **kwargs: Any) -> Any:
        if args[1:] == ["-Tsvg"]:
            calls.append(args)
        return real(args, **kwargs)

    monkeypatch.setattr(_svg.subprocess, "run", counting)
    return calls


def test_the_layout_cache_gives_the_same_bytes_without_dot(
    dot: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = make_case()
    views = case_views(case)
    fresh = render_svgs(case, views)
    calls = _counting_dot(monkeypatch)
    assert render_svgs(case, views, cache=tmp_path) == fresh
    assert len(calls) == 1
    assert (tmp_path / _svg.LAYOUT_CACHE_FILE).is_file()
    assert render_svgs(case, views, cache=tmp_path) == fresh
    assert len(calls) == 1  # every view found
    changed = replace(case, nodes={**case.nodes, "G1.1": replace(case.nodes["G1.1"], text="New")})
    again = render_svgs(changed, views, cache=tmp_path)
    assert len(calls) == 2
    assert again == render_svgs(changed, views)
    assert again[2:] == fresh[2:]  # stage2 and stage5 do not draw G1.1


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # cut short
        lambda data: zlib.compress(zlib.decompress(data)[:-7], 1),  # an SVG cut short
        lambda data: zlib.compress(zlib.decompress(data).replace(b" ", b" x", 1), 1),
        lambda data: zlib.compress(b"amlas.layouts/1\n" + zlib.decompress(data), 1),
        lambda data: zlib.compress(zlib.decompress(data) + b"k 99999\n<svg", 1),
        lambda data: b"",
    ],
)
def test_a_damaged_layout_cache_is_laid_out_again(
    dot: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: Callable[[bytes], bytes]
) -> None:
    case = make_case()
    views = case_views(case)
    fresh = render_svgs(case, views, cache=tmp_path)
    path = tmp_path / _svg.LAYOUT_CACHE_FILE
    path.write_bytes(damage(path.read_bytes()))
    calls = _counting_dot(monkeypatch)
    assert render_svgs(case, views, cache=tmp_path) == fresh
    assert len(calls) == 1
    assert len(_svg._read_cache(tmp_path)) == len(views)  # written sound again


def test_the_json_layout_cache_of_format_1_is_removed(dot: str, tmp_path: Path) -> None:
    old = tmp_path / "layouts.json.z"
    old.write_bytes(zlib.compress(b'{"format": "amlas.layouts/1", "entries": {}}'))
    case = make_case()
    render_svgs(case, case_views(case), cache=tmp_path)
    assert not old.exists()
    assert (tmp_path / _svg.LAYOUT_CACHE_FILE).is_file()


def test_no_views_needs_no_dot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_svg.shutil, "which", lambda name: None)
    assert render_svgs(make_case(), []) == []


def test_missing_dot_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    case = make_case()
    with pytest.raises(UsageError, match="apt-get install graphviz"):
        render_svgs(case, case_views(case))


def test_dot_failing_is_a_usage_error_with_its_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        return subprocess.CompletedProcess(args, 1, b"", b"Error: syntax error in line 3")

    monkeypatch.setattr(_svg.shutil, "which", lambda name: "/usr/bin/dot")
    monkeypatch.setattr(_svg.subprocess, "run", failing)
    case = make_case()
    with pytest.raises(UsageError, match="syntax error in line 3"):
        render_svgs(case, case_views(case))


def test_a_view_naming_an_unknown_node_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="G404"):
        render_svgs(make_case(), [View("odd", ("G1.1", "G404"), "Odd")])


def test_the_quick_wrap_is_textwrap_line_for_line() -> None:
    """The fast path of the diagrams' text wrapping agrees with textwrap on words and
    spaces, unicode whitespace, long words, tabs and empty text."""
    import random
    import textwrap

    from amlas.render._svg import _wrap_paragraph

    pieces = ["a", "bb", "word", "longerword", "x" * 30, "-", "é", "\u00a0", "\t", "  ", " ", "ok."]
    rng = random.Random(16)
    samples = ["", " ", "one", "a b", " lead", "trail ", "x" * 50]
    for _ in range(3000):
        samples.append("".join(rng.choice(pieces + [" "] * 6) for _ in range(rng.randint(1, 40))))
    for text in samples:
        for width in (1, 5, 22, 36, 40):
            expected = textwrap.wrap(text, width, break_on_hyphens=False)
            assert _wrap_paragraph(text, width) == expected, (text, width)


@pytest.mark.parametrize(
    "text",
    [
        "plain words & <tags> 'quoted' \"too\"",
        "tab\there",
        "nul\x00 bell\x07 del\x7f",
        "lone \ud800 surrogate",
        "non-characters \ufffe \uffff",
        "accents é and ☃",
        "",
    ],
)
def test_a_label_line_is_cleaned_the_same_on_the_fast_path(text: str) -> None:
    from amlas.render._svg import _CONTROL, _clean

    slow = _CONTROL.sub("\ufffd", text.encode("utf-8", "replace").decode("utf-8"))
    assert _clean(text) == html.escape(slow, quote=True)
