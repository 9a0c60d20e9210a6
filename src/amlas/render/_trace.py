"""Render the traceability matrix as a rich table, Markdown or JSON."""

from __future__ import annotations

import json

from rich.table import Table
from rich.text import Text

from amlas.project import TraceMatrix, TraceRow
from amlas.render._text import markdown_text, terminal_text

__all__ = ["render_trace_json", "render_trace_markdown", "trace_table"]

_HEADERS = ("[A] System", "[E] Allocated", "[H] ML safety", "[L] Data", "Gaps and notes")


def _cells(row: TraceRow) -> tuple[str, str, str, str, str]:
    ml = f"{row.ml} ({row.ml_kind})" if row.ml else "-"
    remarks = [f"GAP: {g}" for g in row.gaps] + list(row.notes)
    return (
        ", ".join(row.system) or "-",
        row.allocated or "-",
        ml,
        ", ".join(row.data) or "-",
        "; ".join(remarks),
    )


def trace_table(matrix: TraceMatrix, *, title: str = "Traceability") -> Table:
    """A rich table; rows with gaps are shown in red."""
    table = Table(title=Text(terminal_text(title)), show_lines=False)
    for header in _HEADERS:
        table.add_column(header, overflow="fold")
    for row in matrix.rows:
        # Text, not str: user-written text must never be read as rich markup; control
        # characters are made visible before rich measures the cells.
        cells = (Text(terminal_text(cell)) for cell in _cells(row))
        table.add_row(*cells, style="red" if row.gaps else None)
    return table


def render_trace_markdown(matrix: TraceMatrix, *, title: str = "Traceability") -> str:
    """A GitHub-flavoured Markdown table, for pull-request comments. User text (the title
    holds the project's name) is escaped as in ``case.md`` (:func:`markdown_text`)."""
    lines = [
        f"## {markdown_text(title)}",
        "",
        "| " + " | ".join(_HEADERS) + " |",
        "|---" * len(_HEADERS) + "|",
    ]
    for row in matrix.rows:
        cells = [markdown_text(c) for c in _cells(row)]
        if row.gaps:
            cells[-1] = f"**{cells[-1]}**"
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"{len(matrix.rows)} rows, {matrix.gap_count} gaps."]
    if matrix.missing:
        missing = markdown_text(", ".join(matrix.missing))
        lines.append(f"Not traced (missing or invalid): {missing}.")
    return "\n".join(lines) + "\n"


def render_trace_json(matrix: TraceMatrix) -> str:
    return json.dumps(matrix.to_dict(), indent=2, sort_keys=True) + "\n"
