"""Renderers: turn computed results into text for people and machines.

Computation stays in the layers below; every renderer here only formats. The safety case
(:class:`amlas.case.Case`) renders as gsn2x YAML, JSON, Markdown, JUnit XML, Graphviz SVG
diagrams and one offline HTML report.
"""

from __future__ import annotations

from pathlib import Path

from amlas._gc import paused_gc
from amlas.render._case import render_case_json, render_case_junit, render_case_markdown
from amlas.render._diff import render_diff_json, render_diff_markdown, render_diff_text
from amlas.render._gsn2x import INDEX_FILE, render_gsn2x
from amlas.render._gsn2x_rules import Gsn2xFinding, validate_gsn2x, validate_gsn2x_files
from amlas.render._html import render_pdf, render_report
from amlas.render._run import VERDICT_STYLE, render_run_json, run_table
from amlas.render._svg import STATUS_COLOURS, View, case_views, render_svgs
from amlas.render._text import markdown_text, terminal_text
from amlas.render._trace import render_trace_json, render_trace_markdown, trace_table

__all__ = [
    "INDEX_FILE",
    "STATUS_COLOURS",
    "VERDICT_STYLE",
    "Gsn2xFinding",
    "View",
    "case_views",
    "markdown_text",
    "render_case_files",
    "render_case_json",
    "render_case_junit",
    "render_case_markdown",
    "render_diff_json",
    "render_diff_markdown",
    "render_diff_text",
    "render_gsn2x",
    "render_pdf",
    "render_report",
    "render_run_json",
    "render_svgs",
    "render_trace_json",
    "render_trace_markdown",
    "run_table",
    "terminal_text",
    "trace_table",
    "validate_gsn2x",
    "validate_gsn2x_files",
]


def render_case_files(
    case: object, *, svg: bool = True, layout_cache: str | Path | None = None
) -> dict[str, str]:
    """Every file ``amlas case`` writes, by relative name: ``case.json``, ``case.md``,
    ``case.junit.xml``, ``gsn/*.gsn.yaml`` and (with ``svg``) ``svg/<view>.svg``, the
    diagrams laid out through the layout cache folder ``layout_cache`` when given."""
    from amlas.case import Case

    assert isinstance(case, Case)
    with paused_gc():
        files = {
            "case.json": render_case_json(case),
            "case.md": render_case_markdown(case),
            "case.junit.xml": render_case_junit(case),
        }
        files.update({f"gsn/{name}": text for name, text in render_gsn2x(case).items()})
        if svg:
            views = case_views(case)
            drawn = render_svgs(case, views, cache=layout_cache)
            for view, text in zip(views, drawn, strict=True):
                files[f"svg/{view.name}.svg"] = text
        return files
