"""The HTML report: golden file, self-containment, escaping of every piece of user text."""

from __future__ import annotations

import base64
import hashlib
import html
import json
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
from amlas.render._html import render_pdf, render_report
from amlas.render._svg import case_views

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


def data_block(document: str) -> str:
    start = document.index('<script type="application/json" id="case-data">')
    start = document.index(">", start) + 1
    return document[start : document.index("</script>", start)]


# -- golden -------------------------------------------------------------------------------


def test_report_matches_the_golden_file(report: str) -> None:
    assert_golden(report, GOLDEN)


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


def test_the_policy_allows_exactly_the_page_script(report: str) -> None:
    scripts = re.findall(r"<script>(.*?)</script>", report, re.DOTALL)
    assert len(scripts) == 1
    digest = re.search(r"script-src 'sha256-([A-Za-z0-9+/=]+)'", report)
    assert digest is not None
    expected = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert digest.group(1) == expected


# -- escaping -----------------------------------------------------------------------------


def test_the_data_block_cannot_be_broken_out_of(report: str) -> None:
    block = data_block(report)
    assert not set("<>&") & set(block)
    data = json.loads(block)
    case = make_case()
    assert list(data["nodes"]) == list(case.nodes)
    for node in case.nodes.values():  # every text arrives intact, hostile or not
        assert data["nodes"][node.id]["text"] == node.text
    summaries = {r["key"]: r["summary"] for r in data["evidence"]}
    assert IMG in summaries["stage5/metric/MLR-2"]


def test_hostile_text_appears_only_escaped(report: str) -> None:
    tags = parse(report).tags
    assert [t for t, _ in tags].count("script") == 2  # the data block and the page script
    for tag, attrs in tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), f"<{tag} {name}>"
            assert not (value or "").strip().lower().startswith("javascript:")
    outside_data = report.replace(data_block(report), "")
    for text in HOSTILE:
        if set(text) & set("<>&\"'"):
            assert text not in outside_data, text
    assert str(escape(SCRIPT)) in report  # the artefact note, as text
    assert str(escape(IMG)) in report  # the evidence summary and the trace note
    assert "{{ 7*7 }}" in report  # never evaluated as a template
    assert ">49<" not in report


def test_view_ids_stay_unique_across_diagrams(report: str) -> None:
    ids = [a["id"] for _, a in parse(report).tags if a.get("id")]
    assert len(ids) == len(set(ids))
    assert 'id="v0-node-G1.1"' in report


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
    views = json.loads(data_block(document))["views"]
    assert [v["name"] for v in views] == ["case", "stage1", "stage5", "custom"]
    assert views[-1]["title"] == "custom"


def test_diagrams_are_drawn_when_not_given() -> None:
    if shutil.which("dot") is None:
        pytest.fail("Graphviz `dot` is not on PATH: apt-get install graphviz")
    document = render_report(make_case())
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
