"""The report in a real browser (Playwright + Debian chromium): no injected script runs,
no JavaScript error, and the detail panel shows a node's evidence.

CI installs chromium; without it these tests fail (they are not skipped)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from case_factory import make_case

from amlas.render._html import CHROMIUM, CHROMIUM_ARGS, render_pdf, render_report

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the failure below says what to install
    sync_playwright = None


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("dot") is None:
        pytest.fail("Graphviz `dot` is not on PATH: apt-get install graphviz")
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report(make_case(), generated="2026-01-01"), "utf-8")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if sync_playwright is None:
        pytest.fail("Playwright is not installed: pip install playwright")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (CI installs it)")
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, report_file: Path) -> Iterator[Page]:
    """The report, opened from a file:// URL; fails the test on any JS error or warning."""
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    opened.on(
        "console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None
    )
    opened.on("pageerror", lambda e: errors.append(str(e)))
    opened.goto(report_file.as_uri())
    opened.wait_for_selector("body[data-ready]", state="attached")
    yield opened
    context.close()
    assert errors == [], errors


def pwned(page: Page) -> Any:
    return page.evaluate("typeof window.__pwned === 'undefined' ? null : window.__pwned")


def open_view(page: Page, name: str) -> None:
    """Choose the view in the picker and wait until its diagram is inflated and drawn."""
    index = page.get_attribute(f'section.view[data-view="{name}"]', "data-index")
    assert index is not None
    page.select_option("#view-select", index)
    page.wait_for_selector(f'section.view[data-view="{name}"][data-ready] svg')


def test_no_injected_script_runs_after_load_or_clicks(page: Page) -> None:
    assert pwned(page) is None
    names = page.eval_on_selector_all("section.view", "els => els.map(e => e.dataset.view)")
    clicked = 0
    for name in names:
        open_view(page, name)
        targets = page.locator(f'section.view[data-view="{name}"] svg g[data-node]')
        for i in range(targets.count()):
            targets.nth(i).click()
            assert page.is_visible("#detail")
            page.keyboard.press("Escape")
            clicked += 1
    links = page.locator("main button.node-link")
    for i in range(links.count()):
        links.nth(i).click()
        page.keyboard.press("Escape")
    assert clicked >= len(make_case().nodes)
    assert pwned(page) is None


def test_a_solution_shows_its_evidence_slices_and_charts(page: Page) -> None:
    # goals cite no record in the model: their solutions do
    open_view(page, "stage5")
    page.click('section.view[data-view="stage5"] g[data-node="Sn5.1.MLR-1"]')
    panel = page.locator("#detail")
    assert page.text_content("#detail-title") == "Sn5.1.MLR-1"
    assert panel.locator(".record-key").all_text_contents() == ["stage5/metric/MLR-1"]
    assert panel.locator("table.slices tr.slice-row").count() == 2
    assert panel.locator("table.slices").first.text_content().count("\u2265 0.95") >= 2
    charts = panel.locator("svg.ci-chart")
    assert charts.count() == 2
    for part in ("rect.ci", "line.threshold", "circle.estimate"):
        assert charts.first.locator(part).count() == 1
    assert "lower bound 0.962 >= 0.95" in (panel.text_content() or "")


def test_stale_inputs_and_hostile_summary_show_as_text(page: Page) -> None:
    open_view(page, "stage5")
    page.click('section.view[data-view="stage5"] g[data-node="Sn5.1.MLR-2"]')
    panel = page.locator("#detail")
    text = panel.text_content() or ""
    assert 'inconclusive <img src=x onerror="window.__pwned=2">' in text
    assert "changed since (stale)" in text
    assert panel.locator("img").count() == 0
    assert pwned(page) is None


def test_a_counter_solution_shows_what_it_challenges(page: Page) -> None:
    open_view(page, "stage5")
    page.click('section.view[data-view="stage5"] g[data-node="CSn5.1"]')
    panel = page.locator("#detail")
    assert "Challenges" in (panel.text_content() or "")
    panel.locator('button.node-link[data-node="G5.3.MLR-2"]').first.click()
    assert page.text_content("#detail-title") == "G5.3.MLR-2"
    assert "Challenged by" in (panel.text_content() or "")
    assert panel.locator('button.node-link[data-node="CSn5.1"]').count() == 1


def test_a_goal_link_reveals_it_in_its_diagram(page: Page) -> None:
    page.click('.top-claim button.node-link[data-node="G1.1"]')
    page.click('#detail button.goto:has-text("Stage 1")')
    page.wait_for_selector('section.view[data-view="stage1"] g.selected')
    assert page.is_visible('section.view[data-view="stage1"]')
    assert not page.is_visible('section.view[data-view="case"]')
    selected = page.locator('section.view[data-view="stage1"] g.selected')
    assert selected.count() == 1


def test_pdf_export(tmp_path: Path, report_file: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (CI installs it)")
    out = tmp_path / "report.pdf"
    failures: list[BaseException] = []

    def export() -> None:
        try:
            render_pdf(report_file.read_text("utf-8"), out)
        except BaseException as error:  # re-raised below, in the test's thread
            failures.append(error)

    # its own thread: Playwright's sync API cannot nest in the browser fixture's loop
    worker = threading.Thread(target=export)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive()
    if failures:
        raise failures[0]
    assert out.read_bytes().startswith(b"%PDF-")


@pytest.fixture(scope="module")
def robustness_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report of the torch image project after a verifier run (formal and faults)."""
    import sys

    from amlas.case import build_case
    from amlas.sealing import generate_key, public_key_of
    from amlas.verify import run_project
    from torch_project import image_project

    folder = tmp_path_factory.mktemp("robust")
    root = image_project(folder / "p")
    key = generate_key(folder / "verifier.key")
    manifest = root / "amlas.yaml"  # declared, as 'amlas seal' would: issue 12
    manifest.write_text(manifest.read_text() + f"verifier_key: {public_key_of(key)}\n")
    sys.modules.pop("net", None)
    run_project(str(root), role="verifier", key=key)
    sys.modules.pop("net", None)
    path = folder / "report.html"
    path.write_text(render_report(build_case(root), generated="2026-01-01"), "utf-8")
    return path


def _open_node(page: Page, node: str) -> Any:
    page.evaluate("() => window.amlasInflateAll()")  # every diagram drawn: find the node's
    view = page.eval_on_selector(
        f'section.view g[data-node="{node}"]', "g => g.closest('section.view').dataset.view"
    )
    open_view(page, view)
    page.click(f'section.view[data-view="{view}"] g[data-node="{node}"]')
    return page.locator("#detail")


def test_formal_and_fault_records_say_what_was_done(
    browser: Browser, robustness_report: Path
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(robustness_report.as_uri())
    formal = _open_node(page, "Sn5.3.MLR-3").text_content() or ""
    assert "What was done" in formal
    assert "proven 30" in formal
    assert "30 of 30 decisions agree with the model" in formal
    faults = _open_node(page, "Sn5.2.MLR-4").text_content() or ""
    assert "fault-free accuracy" in faults
    assert "accuracy loss" in faults
    assert "fault kind" in faults
    pgd = _open_node(page, "Sn5.2.MLR-2").text_content() or ""
    assert "perturbation kind" in pgd
    context.close()
    assert errors == []


def test_a_hazard_record_shows_its_propagation_chain(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    import sys

    from amlas.case import build_case
    from amlas.verify import run_project
    from torch_project import stage6_project

    folder = tmp_path_factory.mktemp("stage6")
    root = stage6_project(folder / "p", variations=100)
    for name in ("net", "harness"):
        sys.modules.pop(name, None)
    run_project(str(root), stages=(4, 6))
    for name in ("net", "harness"):
        sys.modules.pop(name, None)
    path = folder / "report.html"
    path.write_text(render_report(build_case(root), generated="2026-01-01"), "utf-8")
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    panel = _open_node(page, "Sn6.X")
    assert "Propagation chain" in (panel.text_content() or "")
    chain = panel.locator("svg.chain")
    assert chain.count() == 1
    # ML miss -> the force limiter -> the hazard
    assert chain.locator("rect").count() == 3
    text = chain.text_content() or ""
    assert "ML failure" in text
    assert "barrier fails" in text
    assert "hazard HAZ-1" in text
    context.close()
    assert errors == []


def test_changed_nodes_are_marked_in_the_diagrams(browser: Browser, tmp_path: Path) -> None:
    """The report of ``amlas report --changes-since``: a "What changed" section, and the
    nodes it names outlined in the diagrams (and no other)."""
    import copy

    from amlas.case import Snapshot, diff_snapshots

    case = make_case()
    after = Snapshot("now", case.to_dict())
    earlier = copy.deepcopy(case.to_dict())
    for node in earlier["nodes"]:
        if node["id"] == "G5.3.MLR-2":
            node["status"] = "supported"
    changes = diff_snapshots(Snapshot("v1 (abc)", earlier), after)
    assert changes.changed_nodes() == {"G5.3.MLR-2": "status"}
    path = tmp_path / "changes.html"
    path.write_text(render_report(case, changes=changes), "utf-8")
    html = path.read_text("utf-8")
    section = html[html.index('<section id="changes">') : html.index('<section id="diagrams">')]
    assert "Since <strong>v1 (abc)</strong>" in section
    assert 'data-node="G5.3.MLR-2"' in section
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready]", state="attached")
    open_view(page, "stage5")
    marked = page.eval_on_selector_all(
        'section.view[data-view="stage5"] svg g.changed', "els => els.map(e => e.dataset.node)"
    )
    assert marked == ["G5.3.MLR-2"]
    context.close()
    assert errors == []
