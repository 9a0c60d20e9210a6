"""Renderers: turn computed results into text for people and machines.

Computation stays in the layers below; every renderer here only formats.
"""

from amlas.render._run import VERDICT_STYLE, render_run_json, run_table
from amlas.render._trace import render_trace_json, render_trace_markdown, trace_table

__all__ = [
    "VERDICT_STYLE",
    "render_run_json",
    "render_trace_json",
    "render_trace_markdown",
    "run_table",
    "trace_table",
]
