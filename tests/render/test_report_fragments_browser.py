"""The report's on-demand parts in a real browser (Playwright + Debian chromium): a
diagram's fragment inflates and appears when its view is opened, the diagram opens fitted
with its top claim in sight and pans and zooms, the rest of a long table and a long
evidence list appear on request. Skipped, with the reason, where chromium is missing."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from case_factory import make_case

from amlas.case import Case, build_case
from amlas.render._html import CHROMIUM, CHROMIUM_ARGS, TABLE_ROWS, render_report
from report_fragments import fragment

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "breast-cancer-triage"

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - skipped below
    sync_playwright = None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if sync_playwright is None:
        pytest.skip("Playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Case, Path]:
    """The bundled example's case and its report, diagrams drawn by Graphviz."""
    if shutil.which("dot") is None:
        pytest.skip("Graphviz `dot` is not on PATH (apt-get install graphviz)")
    folder = tmp_path_factory.mktemp("example")
    root = folder / "project"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("evidence", ".amlas"))
    case = build_case(root)
    path = folder / "report.html"
    path.write_text(render_report(case, layout_cache=root / ".amlas"), "utf-8")
    return case, path


def _open(browser: Browser, path: Path, suffix: str = "") -> tuple[Page, list[str]]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(path.as_uri() + suffix)
    page.wait_for_selector("body[data-ready]", state="attached")
    return page, errors


def _zoom(page: Page, index: int) -> Any:
    return page.evaluate(f"document.getElementById('view-{index}').zoom")


def test_a_diagram_fragment_inflates_when_its_view_opens(
    browser: Browser, example: tuple[Case, Path]
) -> None:
    _, path = example
    document = path.read_text("utf-8")
    page, errors = _open(browser, path)
    name = "stage2"
    index = page.get_attribute(f'section.view[data-view="{name}"]', "data-index")
    assert index is not None
    frame = f"#view-{index} .diagram"
    assert page.locator(f"{frame} svg").count() == 0  # not in the page until opened
    page.select_option("#view-select", index)
    page.wait_for_selector(f"{frame} svg g[data-node]")
    ref = page.get_attribute(frame, "data-fragment")
    assert ref is not None
    stored = fragment(document, ref)
    drawn = page.locator(f"{frame} svg g[data-node]").count()
    assert drawn == len(re.findall(r"<g id=\"[^\"]+\" class=\"node", stored)) > 5
    assert page.locator(f'{frame} [id="v{index}-node-G2.1"]').count() == 1  # ids prefixed
    page.close()
    assert errors == []


def test_the_diagram_opens_fitted_with_the_top_claim_in_sight_and_pans_and_zooms(
    browser: Browser, example: tuple[Case, Path]
) -> None:
    case, path = example
    page, errors = _open(browser, path)
    page.wait_for_selector("#view-0[data-ready]", state="attached")
    page.eval_on_selector("#view-0 .diagram", "e => e.scrollIntoView({block: 'center'})")
    box = page.locator("#view-0 .diagram").bounding_box()
    top = page.locator(f'#view-0 g[data-node="{case.root}"]:not(.gsnaway)').bounding_box()
    assert box is not None
    assert top is not None
    assert box["x"] <= top["x"]
    assert top["x"] + top["width"] <= box["x"] + box["width"]
    assert box["y"] <= top["y"]
    assert top["y"] + top["height"] <= box["y"] + box["height"]
    assert top["y"] >= 0  # in the window too
    assert top["y"] + top["height"] <= 900
    fitted = _zoom(page, 0)
    assert 0 < fitted["s"] <= 1
    # the wheel zooms in around the pointer, a drag pans, the buttons zoom and fit
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -300)
    assert _zoom(page, 0)["s"] > fitted["s"]
    before = _zoom(page, 0)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 120, box["y"] + box["height"] / 2 + 40, steps=4)
    page.mouse.up()
    after = _zoom(page, 0)
    assert after["x"] == pytest.approx(before["x"] + 120, abs=1)
    assert after["y"] == pytest.approx(before["y"] + 40, abs=1)
    assert page.is_hidden("#detail")  # a drag is not a click on what lies under it
    page.click('[data-zoom="fit"]')
    assert _zoom(page, 0) == pytest.approx(fitted)
    page.click('[data-zoom="in"]')
    assert _zoom(page, 0)["s"] == pytest.approx(fitted["s"] * 1.25)
    page.close()
    assert errors == []


def _long_case() -> Case:
    """The factory case with a trace longer than a table shows and a solution citing
    more records than the panel draws as cards."""
    case = make_case()
    assert case.trace is not None
    rows = [replace(case.trace.rows[0], ml=f"MLR-{i:03d}") for i in range(TABLE_ROWS + 5)]
    base = next(r for r in case.evidence.values() if r.key == "stage5/metric/MLR-1")
    copies = [
        base.model_copy(update={"key": f"stage5/metric/MLR-1/copy-{i:02d}"}) for i in range(30)
    ]
    evidence = dict(case.evidence)
    evidence.update({r.digest: r for r in copies})
    nodes = dict(case.nodes)
    nodes["Sn5.1.MLR-1"] = replace(nodes["Sn5.1.MLR-1"], evidence=[r.digest for r in copies])
    return replace(case, trace=replace(case.trace, rows=rows), evidence=evidence, nodes=nodes)


def test_long_tables_and_evidence_lists_appear_on_request(browser: Browser, tmp_path: Path) -> None:
    from test_report import placeholder_svgs

    path = tmp_path / "long.html"
    path.write_text(render_report(_long_case(), svgs=placeholder_svgs()), "utf-8")
    page, errors = _open(browser, path, "#node=Sn5.1.MLR-1")
    rows = page.locator("#trace table.trace tbody tr")
    assert rows.count() == TABLE_ROWS
    page.click("#trace button.show-rest")
    page.wait_for_selector("#trace tbody.rest tr")
    assert rows.count() == TABLE_ROWS + 5
    assert "MLR-054" in (rows.last.text_content() or "")
    # the panel lists the 30 records in a table, a card opens on demand
    panel = page.locator("#detail")
    assert page.text_content("#detail-title") == "Sn5.1.MLR-1"
    assert panel.locator("tr.evidence-row").count() == 30
    assert panel.locator(".record").count() == 0
    panel.locator("button.record-open").nth(3).click()
    assert panel.locator(".record .record-key").all_text_contents() == [
        "stage5/metric/MLR-1/copy-03"
    ]
    assert panel.locator(".record table.slices tr.slice-row").count() == 2
    page.close()
    assert errors == []


def _grid_svg(first: str, count: int) -> str:
    """Graphviz-like markup of ``count`` boxes in rows of 50, 200 units apart, the first
    one ``first`` (a node of the case) at the top left: a diagram of more than 400 groups,
    which the page inserts only in and near its frame."""
    width, height = 50 * 200, (count // 50 + 1) * 200
    groups = []
    for i in range(count):
        x, y = (i % 50) * 200, -height + (i // 50) * 200 + 20
        node = first if i == 0 else f"X{i:04d}"
        groups.append(
            f'<g id="node-{node}" class="node gsnnode" data-node="{node}">\n<title>{node}</title>\n'
            f'<polygon fill="#eee" stroke="#333" stroke-width="1.4" points="{x},{y} '
            f'{x + 150},{y} {x + 150},{y + 60} {x},{y + 60} {x},{y}" />\n'
            f'<text text-anchor="start" x="{x + 10}" y="{y + 30}" '
            f'font-family="Helvetica,sans-Serif" font-size="10.00">{node}</text>\n</g>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}pt" height="{height}pt" '
        f'viewBox="0.00 0.00 {width}.00 {height}.00" class="gsndiagram" data-view="stage2">\n'
        f'<g id="view-stage2" class="graph" transform="scale(1 1) rotate(0) '
        f'translate(4 {height})">\n<title>Stage 2</title>\n' + "\n".join(groups) + "\n</g>\n</svg>"
    )


def test_a_large_diagram_is_prepared_ahead_and_inserts_what_is_in_sight(
    browser: Browser, tmp_path: Path
) -> None:
    from test_report import placeholder_svgs

    svgs = placeholder_svgs()
    svgs["stage2"] = _grid_svg("G2.1", 1000)
    path = tmp_path / "large.html"
    path.write_text(render_report(make_case(), svgs=svgs), "utf-8")
    page, errors = _open(browser, path)
    index = page.get_attribute('section.view[data-view="stage2"]', "data-index")
    groups = f"#view-{index} svg g[data-node]"
    assert page.locator(groups).count() == 0  # prepared ahead, not inserted
    # the module views are inflated, indexed and parsed in idle time after the first
    # diagram; then opening the tab only inserts what is in sight
    page.wait_for_timeout(1500)
    page.click(f'.tab[data-goto-view="{index}"]')
    page.wait_for_selector(f"#view-{index}[data-ready]", state="attached")
    timing = page.evaluate(f"document.getElementById('view-{index}').timing")
    assert timing["ahead"] is True
    page.wait_for_timeout(300)  # the groups near the frame come in idle time
    shown = page.locator(groups).count()
    assert 0 < shown < 1000
    ids = page.eval_on_selector_all(groups, "gs => gs.map(g => g.getAttribute('data-node'))")
    assert len(ids) == len(set(ids))
    assert "G2.1" in ids
    # what the page draws is the generator's markup, less what the style sheet says once
    text = page.locator(f'#view-{index} g[data-node="G2.1"] text').first
    assert text.get_attribute("font-family") is None
    assert text.evaluate("t => getComputedStyle(t).fontSize") == "10px"
    assert page.locator(f'#view-{index} g[data-node="G2.1"]').get_attribute("tabindex") == "0"
    # a node parsed ahead is a node like any other: a click shows it
    page.click(f'#view-{index} g[data-node="G2.1"]')
    assert page.text_content("#detail-title") == "G2.1"
    page.keyboard.press("Escape")
    # panning brings in the rest, each group once; printing inserts every group
    page.click('[data-zoom="actual"]')
    page.evaluate("() => window.amlasInflateAll()")
    ids = page.eval_on_selector_all(groups, "gs => gs.map(g => g.getAttribute('data-node'))")
    assert len(ids) == 1000 == len(set(ids))
    page.close()
    assert errors == []
