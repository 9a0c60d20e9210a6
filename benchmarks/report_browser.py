"""The 1,000-requirement report in a real browser: Debian chromium through Playwright.

The project of ``benchmarks/case_scale.py`` (1,000 ML safety requirements, 2,000 evidence
records) is built and its report written to a file, which headless chromium opens from a
``file://`` URL. Measured in the page (``performance.now()``, milliseconds):

* the load event (``loadEventStart`` of the navigation);
* ready: the case data inflated and the first diagram (the whole case) drawn and fitted;
* a click on the node citing the most records (the stage-4 solution citing 1,000), until
  the detail panel holds it and a frame has been painted (``requestAnimationFrame``,
  then a task);
* a click on one record of that list, opening its card;
* a click on the tab of the largest module diagram (the one with the most SVG), until
  it is inserted, fitted and painted. The page prepares every module's diagram in idle
  time once the first diagram is drawn (inflated, indexed, its groups parsed), so the
  click waits for that only if it comes first: the line under it says which (``prepared
  ahead``) and what the click still spent inflating and indexing;
* opening a per-requirement diagram (what choosing it in the picker does), the same way.

Targets (issue 16): the load event within 1 s, each click painted within 200 ms. Prints
each figure and its ratio to the target; asserts nothing about time. Also prints the
file's size and how many DOM elements the page holds after load.

Never downloads a browser (no ``playwright install``): it needs ``/usr/bin/chromium``.

    .venv/bin/python benchmarks/report_browser.py [--requirements 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from case_scale import generate, seed_evidence

from amlas.case import build_case
from amlas.render import case_views, render_report

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOAD_TARGET_MS = 1000.0
CLICK_TARGET_MS = 200.0

# Dispatch a click on the element, wait until `done()` holds, then for a painted frame.
_CLICK = """async ([selector, done]) => {
  const target = document.querySelector(selector);
  if (!target) throw new Error("no element " + selector);
  const start = performance.now();
  target.dispatchEvent(new MouseEvent("click", {bubbles: true, cancelable: true, view: window}));
  const check = new Function("return (" + done + ")");
  while (!check()) await new Promise(r => setTimeout(r, 0));
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  return performance.now() - start;
}"""


def _line(name: str, ms: float, target: float) -> None:
    print(f"{name:<40} {ms:8.0f} ms  target {target:.0f} ms  ratio {ms / target:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", type=int, default=1000)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "scale"
        ids = generate(root, args.requirements)
        seed_evidence(root, ids)
        case = build_case(root)
        start = time.perf_counter()
        html = render_report(case, layout_cache=root / ".amlas")
        rendered = time.perf_counter() - start
        path = Path(tmp) / "report.html"
        path.write_text(html, "utf-8")
        heaviest = max(case.nodes.values(), key=lambda n: len(n.evidence))
        views = case_views(case)
        sizes = {
            index: len(svg) for index, svg in enumerate(_view_sizes(case, views, root / ".amlas"))
        }
        modules = [i for i, v in enumerate(views) if "/" not in v.name and i != 0]
        largest = max(modules, key=sizes.__getitem__)
        per_requirement = next((i for i, v in enumerate(views) if "/" in v.name), None)
        print(f"requirements            {len(ids)}")
        print(
            f"report                  {len(html.encode()) / 2**20:.2f} MiB, rendered in "
            f"{rendered:.2f} s, {len(views)} diagrams"
        )
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri(), wait_until="load", timeout=120_000)
            load = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventStart")
            page.wait_for_selector("body[data-ready]", state="attached", timeout=120_000)
            page.wait_for_selector("#view-0[data-ready]", state="attached", timeout=120_000)
            ready = page.evaluate(
                "new Promise(r => requestAnimationFrame(() => setTimeout(() => "
                "r(performance.now()), 0)))"
            )
            elements = page.evaluate("document.getElementsByTagName('*').length")
            _line("load event", load, LOAD_TARGET_MS)
            print(f"{'ready (data, whole-case diagram drawn)':<40} {ready:8.0f} ms")
            print(f"{'DOM elements after ready':<40} {elements:8d}")
            # the heaviest node, from a link (it is drawn in a diagram not yet opened)
            page.evaluate(
                """id => { const b = document.createElement("button");
                b.className = "node-link"; b.id = "bench-link"; b.setAttribute("data-node", id);
                document.querySelector("main").prepend(b); }""",
                heaviest.id,
            )
            clicked = page.evaluate(
                _CLICK,
                [
                    "#bench-link",
                    f"document.getElementById('detail-title').textContent === "
                    f"{heaviest.id!r} && !document.getElementById('detail').hidden",
                ],
            )
            _line(
                f"click {heaviest.id} ({len(heaviest.evidence)} records)", clicked, CLICK_TARGET_MS
            )
            card = page.evaluate(
                _CLICK,
                ["#detail button.record-open", "document.querySelector('#detail .card-row')"],
            )
            _line("click one of its records (card)", card, CLICK_TARGET_MS)
            page.keyboard.press("Escape")
            tab = page.evaluate(
                _CLICK,
                [
                    f'[data-goto-view="{largest}"]',
                    f"document.querySelector('#view-{largest}[data-ready]') && "
                    f"document.querySelector('#view-{largest}').zoom",
                ],
            )
            _line(
                f"click tab {views[largest].name} ({sizes[largest] / 2**20:.1f} MiB SVG)",
                tab,
                CLICK_TARGET_MS,
            )
            parts = page.evaluate(f"document.getElementById('view-{largest}').timing")
            print(
                f"{'  of which':<40} inflate {parts['inflate']:.0f} ms, index "
                f"{parts['index']:.0f} ms, insert {parts['insert']:.0f} ms (then fit, paint); "
                + ("prepared ahead" if parts.get("ahead") else "not prepared ahead")
            )
            if per_requirement is not None:
                page.evaluate(
                    """i => { const o = document.createElement("button");
                    o.id = "bench-view"; o.setAttribute("data-goto-view", String(i));
                    document.querySelector("main").prepend(o); }""",
                    per_requirement,
                )
                sub = page.evaluate(
                    _CLICK,
                    [
                        "#bench-view",
                        f"document.querySelector('#view-{per_requirement}[data-ready]') && "
                        f"document.querySelector('#view-{per_requirement}').zoom",
                    ],
                )
                _line(f"open {views[per_requirement].name}", sub, CLICK_TARGET_MS)
            browser.close()
        if errors:
            print("page errors:", errors)


def _view_sizes(case: object, views: list, cache: Path) -> list[str]:
    from amlas.render import render_svgs

    return render_svgs(case, views, cache=cache)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
