"""Render the result of ``amlas run``: the summary table, and JSON for tools."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table
from rich.text import Text

from amlas.render._text import terminal_text
from amlas.verify import RunReport

__all__ = ["VERDICT_STYLE", "render_run_json", "run_table"]

VERDICT_STYLE = {"pass": "green", "fail": "bold red", "inconclusive": "yellow"}


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def run_table(report: RunReport, *, title: str = "amlas run") -> Table:
    """One row per (requirement, dataset, slice) and per data check."""
    table = Table(title=Text(terminal_text(title)))
    for header, justify in (
        ("Stage", "right"),
        ("Check", "left"),
        ("Data", "left"),
        ("Slice", "left"),
        ("Estimate", "right"),
        ("Bound", "right"),
        ("Threshold", "left"),
        ("Verdict", "left"),
        ("Detail", "left"),
    ):
        table.add_column(header, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for row in report.rows:
        # Text, not str: user-written text must never be read as rich markup; control
        # characters are made visible before rich measures the cells.
        table.add_row(
            Text(str(row.stage)),
            Text(terminal_text(row.subject)),
            Text(terminal_text(f"[{row.dataset}]")),
            Text(terminal_text(row.slice)),
            Text(_number(row.estimate)),
            Text(_number(row.bound)),
            Text(terminal_text(row.threshold)),
            Text(terminal_text(row.verdict), style=VERDICT_STYLE.get(row.verdict, "")),
            Text(terminal_text(row.detail)),
        )
    return table


def render_run_json(report: RunReport) -> str:
    """The whole report for tools: rows, records (digest, key, verdict), not-run items."""
    payload: dict[str, Any] = {
        "run_id": report.run_id,
        "store": report.store,
        "role": report.role,
        "stages": list(report.stages),
        "counts": report.counts(),
        "rows": [
            {
                "stage": r.stage,
                "check": r.subject,
                "dataset": r.dataset,
                "slice": r.slice,
                "estimate": r.estimate,
                "bound": r.bound,
                "threshold": r.threshold,
                "verdict": r.verdict,
                "detail": r.detail,
            }
            for r in report.rows
        ],
        "records": [
            {"digest": digest, "key": record.key, "verdict": record.verdict}
            for digest, record in report.records
        ],
        "not_run": [{"what": what, "why": why} for what, why in report.not_run],
        "warnings": list(report.warnings),
    }
    return json.dumps(payload, indent=2, sort_keys=True) + "\n"
