"""Renderers: turn computed results into text for people and machines.

Computation stays in the layers below; every renderer here only formats.
"""

from amlas.render._trace import render_trace_json, render_trace_markdown, trace_table

__all__ = ["render_trace_json", "render_trace_markdown", "trace_table"]
