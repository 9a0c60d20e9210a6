"""The HTML report: golden file, self-containment, escaping of every piece of user text,
and the fragments (case data, diagrams, the rest of long tables) stored deflated in it:
:mod:`report_fragments` inflates them as the page script does."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from case_factory import HOSTILE, IMG, SCRIPT, make_case
from golden_files import assert_golden
from markupsafe import escape

from amlas.errors import UsageError
from amlas.render import _html
from amlas.render._html import PACK_TYPE, TABLE_ROWS, render_pdf, render_report
from amlas.render._svg import case_views
from report_fragments import PACK, case_data, expanded, packs

GOLDEN = Path(__file__).parent / "golden" / "report.html"


def placeholder_svgs() -> dict[str, str]:
    """Fixed stand-ins for the diagrams: Graphviz layouts differ between its versions."""
    out = {}
    for view in case_views(make_case()):
        first = html.escape(view.node_ids[0])
        out[view.name] = (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="gsndiagram" width="160" '
            f'height="30" viewBox="0 0 160 30"><g id="node-{first}" class="gsnnode" '
            f'data-node="{first}"><text x="4" y="18">{html.escape(view.name)}</text></g></svg>'
        )
    return out


@pytest.fixture(scope="module")
def report() -> str:
    return render_report(make_case(), svgs=placeholder_svgs(), generated="2026-01-01")


class _Markup(HTMLParser):
    """Every start tag with its attributes, and the ids, of a document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse(document: str) -> _Markup:
    parser = _Markup()
    parser.feed(document)
    parser.close()
    return parser


# -- golden -------------------------------------------------------------------------------


def test_report_matches_the_golden_file(report: str) -> None:
    # the fragments inflated: the golden file does not depend on zlib's exact bytes
    assert_golden(expanded(report), GOLDEN)


def test_report_is_deterministic(report: str) -> None:
    again = render_report(make_case(), svgs=placeholder_svgs(), generated="2026-01-01")
    assert again == report


def test_no_date_unless_given() -> None:
    document = render_report(make_case(), svgs=placeholder_svgs())
    assert "Generated</dt>" not in document
    assert "2026-01-01" not in document


# -- self-contained -----------------------------------------------------------------------


def _assert_self_contained(document: str) -> None:
    for tag, attrs in parse(document).tags:
        assert tag not in {"link", "img", "iframe", "object", "embed", "base", "form"}, tag
        for name in ("src", "href", "xlink:href", "action", "poster", "srcset"):
            value = attrs.get(name)
            assert value is None or value.startswith("#"), f"<{tag} {name}={value!r}>"
    assert not re.search(r"url\((?!#)", document)
    assert "@import" not in document
    # the only URLs are the SVG namespace name, which nothing loads
    urls = set(re.findall(r"https?://[^\s\"'<>]+", document))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert "default-src 'none'" in document


def test_report_refers_to_nothing_outside_itself(report: str) -> None:
    _assert_self_contained(report)
    _assert_self_contained(expanded(report, data=False))


def test_the_policy_allows_exactly_the_page_script(report: str) -> None:
    scripts = re.findall(r"<script>(.*?)</script>", report, re.DOTALL)
    assert len(scripts) == 1
    digest = re.search(r"script-src 'sha256-([A-Za-z0-9+/=]+)'", report)
    assert digest is not None
    expected = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert digest.group(1) == expected


# -- escaping -----------------------------------------------------------------------------


def test_the_packs_cannot_be_broken_out_of(report: str) -> None:
    blocks = re.findall(r"<script([^>]*)>(.*?)</script>", report, re.DOTALL)
    stored = [text for attrs, text in blocks if f'type="{PACK_TYPE}"' in attrs]
    assert len(stored) == len(blocks) - 1 == len(PACK.findall(report)) >= 3
    for text in stored:  # base64 only: no text can end the block
        assert re.fullmatch(r"[A-Za-z0-9+/=]+", text)
    data = case_data(report)
    case = make_case()
    assert list(data["nodes"]) == list(case.nodes)
    for node in case.nodes.values():  # every text arrives intact, hostile or not
        assert data["nodes"][node.id]["text"] == node.text
    summaries = {r["key"]: r["summary"] for r in data["evidence"]}
    assert IMG in summaries["stage5/metric/MLR-2"]


def test_hostile_text_appears_only_escaped(report: str) -> None:
    outside_data = expanded(report, data=False)  # the diagrams and rows in place
    tags = parse(outside_data).tags
    assert [t for t, _ in tags].count("script") == 1  # the page script
    for tag, attrs in tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), f"<{tag} {name}>"
            assert not (value or "").strip().lower().startswith("javascript:")
    for text in HOSTILE:
        if set(text) & set("<>&\"'"):
            assert text not in outside_data, text
    assert str(escape(SCRIPT)) in report  # the artefact note, as text
    assert str(escape(IMG)) in report  # the evidence summary and the trace note
    assert "{{ 7*7 }}" in report  # never evaluated as a template
    assert ">49<" not in report


def test_view_ids_stay_unique_across_diagrams(report: str) -> None:
    document = expanded(report, data=False)
    ids = [a["id"] for _, a in parse(document).tags if a.get("id")]
    assert len(ids) == len(set(ids))
    assert 'id="v0-node-G1.1"' in document


# -- content ------------------------------------------------------------------------------


def test_header_and_overview(report: str) -> None:
    assert "Breast cancer triage" in report
    assert "amlas-1.1" in report
    assert "2026-01-01" in report
    assert 'class="badge status-failed">failed</span>' in report
    # verdicts that matter: the failed leaf claim, the failed and inconclusive records
    matters = report[report.index("Verdicts that matter") : report.index('id="diagrams"')]
    assert "G5.3.MLR-2" in matters
    assert "challenged by CSn5.1" in matters
    assert "stage3/data/DR-1/N" in matters
    assert "stage5/metric/MLR-2" in matters
    assert "stage5/metric/MLR-1" not in matters


def test_stage_progress_bars(report: str) -> None:
    progress = report[report.index("Stage progress") : report.index("Verdicts that matter")]
    assert 'class="seg status-supported" style="width: 25.00%"' in progress
    assert 'class="seg status-failed" style="width: 75.00%"' in progress


def test_coverage_heat_map(report: str) -> None:
    coverage = report[report.index('id="coverage"') : report.index('id="trace"')]
    assert "Dataset [N]" in coverage
    assert "Dataset [O]" in coverage
    assert "nuclear-texture=coarse" in coverage
    short = re.findall(r'<td class="short[^"]*"[^>]*>(\d+)</td>', coverage)
    assert short == ["12"]
    assert 'background-color: #4a80c4" title="120 samples, 30 required">120<' in coverage


def test_trace_artefacts_and_diagnostics(report: str) -> None:
    assert "MLR-2 is covered by no [L] requirement" in report
    assert '<code title="' + "1" * 64 + '">111111111111…</code>' in report
    assert '<tr id="artefact-L" class="missing">' in report
    assert "requirements/data.yaml:4:7: X001 error: MLR-9 is not an [H] requirement" in report
    assert "amlas.yaml:12:3: F002 warning" in report


def test_extra_svgs_come_last_and_missing_ones_are_left_out() -> None:
    svgs = placeholder_svgs()
    del svgs["stage2"]
    svgs["custom"] = "<svg></svg>"
    document = render_report(make_case(), svgs=svgs)
    views = case_data(document)["views"]
    assert [v["name"] for v in views] == ["case", "stage1", "stage5", "custom"]
    assert views[-1]["title"] == "custom"
    assert views[-1]["nodes"] == []
    assert views[1]["nodes"] == list(case_views(make_case())[1].node_ids)


def test_diagrams_are_drawn_when_not_given() -> None:
    if shutil.which("dot") is None:
        pytest.fail("Graphviz `dot` is not on PATH: apt-get install graphviz")
    document = expanded(render_report(make_case()), data=False)
    _assert_self_contained(document)
    assert document.count('<svg xmlns="http://www.w3.org/2000/svg" width=') == 4
    assert 'id="v3-node-CSn5.1"' in document
    ids = [a["id"] for _, a in parse(document).tags if a.get("id")]
    assert len(ids) == len(set(ids))


# -- PDF ----------------------------------------------------------------------------------


def test_pdf_without_chromium_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_html, "CHROMIUM", str(tmp_path / "no-chromium"))
    with pytest.raises(UsageError, match="apt-get install chromium"):
        render_pdf("<html></html>", tmp_path / "out.pdf")


def test_pdf_without_playwright_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    with pytest.raises(UsageError, match="pip install playwright"):
        render_pdf("<html></html>", tmp_path / "out.pdf")


# -- fragments ----------------------------------------------------------------------------


def test_every_diagram_is_a_fragment_drawn_on_demand(report: str) -> None:
    """No diagram is in the markup; each view's frame names the fragment holding its SVG,
    and the fragment is the SVG given, with its ids prefixed by the view."""
    assert "<svg xmlns" not in report.split('<section id="diagrams">')[1].split("</section>\n\n")[0]
    frames = re.findall(
        r'<section class="view[^"]*" id="view-(\d+)"[^>]*data-view="([^"]+)"'
        r'[^>]*>\s*<h3>[^<]*</h3>\s*<div class="diagram" data-fragment="([\d.]+)"',
        report,
    )
    given = placeholder_svgs()
    assert [name for _, name, _ in frames] == list(given)
    inflated = packs(report)
    for index, name, ref in frames:
        pack, item = (int(x) for x in ref.split("."))
        svg = inflated[pack][item]
        assert svg == given[name].replace(' id="', f' id="v{index}-')


def test_a_long_table_keeps_its_rest_as_a_fragment() -> None:
    """Rows beyond TABLE_ROWS are one fragment, with a button that says how many; the
    rows inflated are the ones left out of the markup, in order."""
    from dataclasses import replace

    case = make_case()
    assert case.trace is not None
    rows = [replace(case.trace.rows[0], ml=f"MLR-{i:03d}") for i in range(TABLE_ROWS + 7)]
    long = replace(case, trace=replace(case.trace, rows=rows))
    document = render_report(long, svgs=placeholder_svgs())
    trace = document[document.index('id="trace"') : document.index('id="artefacts"')]
    assert trace.count("<td>MLR-") == TABLE_ROWS
    assert "Show the other 7 rows (57 in all)" in trace
    whole = expanded(document)
    trace = whole[whole.index('id="trace"') : whole.index('id="artefacts"')]
    shown = re.findall(r"<td>(MLR-\d+)", trace)
    assert shown == [f"MLR-{i:03d}" for i in range(TABLE_ROWS + 7)]


def test_view_ids_are_prefixed_inside_tags_only() -> None:
    """The fast path (every id a Graphviz ``<g>`` id) and the general one agree, and
    text that looks like an id attribute is left alone."""
    fast = '<svg><g id="node-A" class="node"><text>x</text></g></svg>'
    assert _html._unique_ids(fast, "v1-") == fast.replace('id="', 'id="v1-')
    tricky = '<svg><g id="node-A"><text> id="B" &lt;g id="C"</text><path id="p"/></g></svg>'
    assert _html._unique_ids(tricky, "v2-") == (
        '<svg><g id="v2-node-A"><text> id="B" &lt;g id="C"</text><path id="v2-p"/></g></svg>'
    )


def test_a_diagram_in_the_report_leaves_what_the_style_sheet_says_to_it() -> None:
    from amlas.render._html import _lighter

    tag = (
        '<text text-anchor="start" x="1" y="2" font-family="Helvetica,sans-Serif" '
        'font-weight="bold" font-size="10.00">'
    )
    # a node's text, not a tag: as ElementTree writes it (">" escaped)
    text = '" font-family="Helvetica,sans-Serif" font-size="10.00"&gt; <text text-anchor="start" '
    text = text.replace("<", "&lt;")
    smaller = (
        '<text text-anchor="start" x="1" y="9" font-family="Helvetica,sans-Serif" '
        'font-style="italic" font-size="9.00">+2 linked</text>'
    )
    svg = f'<svg class="gsndiagram">\n<g id="a">\n{tag}{text}</text>\n{smaller}\n</g>\n</svg>'
    assert _lighter(svg) == (
        f'<svg class="gsndiagram"><g id="a"><text x="1" y="2" font-weight="bold">{text}</text>'
        '<text x="1" y="9" font-style="italic" font-size="9.00">+2 linked</text></g></svg>'
    )
    other = svg.replace("gsndiagram", "mine")  # not amlas's diagram: no style sheet for it
    assert _lighter(other) == other
    css = (Path(render_report.__code__.co_filename).parent / "assets/report.css").read_text()
    assert "svg.gsndiagram { font-family: Helvetica, sans-Serif; font-size: 10px;" in css
