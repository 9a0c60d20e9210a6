from __future__ import annotations

import json

from amlas.diagnostics import CODES, Diagnostics, Location, Severity, did_you_mean, render_markdown
from conftest import REPO


def test_line_format_is_grepable() -> None:
    diagnostics = Diagnostics()
    diagnostics.add(
        "X002", "unknown ID 'SSR-9'", Location("E.yaml", 7, 5), hint="did you mean 'SSR-1'?"
    )
    [d] = diagnostics.items
    assert d.severity is Severity.ERROR
    assert d.format("proj") == (
        "proj/E.yaml:7:5: X002 error: unknown ID 'SSR-9' (did you mean 'SSR-1'?)"
    )
    assert Location("E.yaml").format() == "E.yaml"


def test_severity_comes_from_the_registry() -> None:
    diagnostics = Diagnostics()
    for code in CODES:
        d = diagnostics.add(code, "m", Location("f"))
        assert d.severity.value == CODES[code].severity


def test_sorted_deduplicates_and_orders_by_place() -> None:
    diagnostics = Diagnostics()
    diagnostics.add("S001", "b", Location("b.yaml", 2, 1))
    diagnostics.add("S001", "a", Location("a.yaml", 9, 1))
    diagnostics.add("S001", "a", Location("a.yaml", 9, 1))
    assert [d.location.path for d in diagnostics.sorted()] == ["a.yaml", "b.yaml"]
    assert diagnostics.summary() == "2 errors, 0 warnings, 0 notes"


def test_json_output_has_counts() -> None:
    diagnostics = Diagnostics()
    diagnostics.add("X010", "n", Location("a.yaml", 1, 1))
    payload = json.loads(diagnostics.to_json("root"))
    assert payload["summary"] == {"error": 0, "warning": 0, "info": 1}
    assert payload["diagnostics"][0]["path"] == "root/a.yaml"


def test_did_you_mean() -> None:
    assert did_you_mean("recal", ["recall", "precision"]) == "did you mean 'recall'?"
    assert did_you_mean("zzz", ["recall"]) is None


def test_codes_are_well_formed() -> None:
    for code, entry in CODES.items():
        assert code == entry.code
        assert code[0] in "FSXQDMGABR"
        assert code[1:].isdigit()
        assert len(code) == 4
        assert entry.severity in {"error", "warning", "info"}
        assert entry.title
        assert entry.explanation


def test_docs_table_is_generated_and_current() -> None:
    committed = (REPO / "docs" / "diagnostics.md").read_text("utf-8")
    assert committed == render_markdown(), "run 'make docs'"
    for code in CODES:
        assert f"| {code} |" in committed
