from __future__ import annotations

from pathlib import Path

from amlas import check_project
from amlas.diagnostics import Diagnostics
from amlas.project._yaml import load_yaml
from factory import documents, write_project


def load(text: str) -> tuple[object, Diagnostics]:
    diagnostics = Diagnostics()
    loaded = load_yaml(text, "f.yaml", diagnostics)
    return (loaded.data if loaded else None), diagnostics


def test_every_value_and_key_is_located() -> None:
    diagnostics = Diagnostics()
    loaded = load_yaml("a: 1\nb:\n  - x\n  - {c: 2}\n", "f.yaml", diagnostics)
    assert loaded is not None
    assert loaded.data == {"a": 1, "b": ["x", {"c": 2}]}
    source = loaded.source
    assert (source.locate(("a",)).line, source.locate(("a",)).col) == (1, 4)
    assert source.locate(("b", 1, "c")).line == 4
    assert source.locate(("b", 1, "c"), key=True).col == 6
    # a missing key falls back to its nearest enclosing value
    assert source.locate(("b", 1, "missing")).line == 4


def test_yaml_1_2_booleans_keep_yes_and_no_as_strings() -> None:
    data, diagnostics = load("values: [yes, no, on, off, true, False]\n")
    assert data == {"values": ["yes", "no", "on", "off", True, False]}
    assert not diagnostics.items


def test_duplicate_key_is_reported_with_both_lines() -> None:
    _, diagnostics = load("a: 1\nb: 2\na: 3\n")
    [d] = diagnostics.items
    assert d.code == "F005"
    assert d.location.line == 3
    assert "line 1" in d.message


def test_invalid_dates_stay_strings_for_the_schema_to_report() -> None:
    data, diagnostics = load("date: 2026-13-45\nok: 2026-01-02\n")
    assert isinstance(data, dict)
    assert data["date"] == "2026-13-45"
    assert str(data["ok"]) == "2026-01-02"
    assert not diagnostics.items


def test_syntax_error_is_located() -> None:
    _, diagnostics = load("a: [1, 2\nb: 3\n")
    [d] = diagnostics.items
    assert d.code == "F004"
    assert d.location.line >= 1


def test_aliases_within_the_budget_are_expanded() -> None:
    data, diagnostics = load("base: &b [1, 2]\ncopy: *b\n")
    assert data == {"base": [1, 2], "copy": [1, 2]}
    assert not diagnostics.items


def test_control_characters_are_a_yaml_error_not_a_crash() -> None:
    _, diagnostics = load("a: \x07bell\n")
    assert [d.code for d in diagnostics] == ["F004"]


def test_number_choices_are_listed_as_numbers(project: Path) -> None:
    docs = documents()
    docs["U"]["iterations"] = [
        {"date": "2026-01-03", "change": "more data", "reason": "misses", "loop_back_to": 5}
    ]
    root = write_project(project.parent / "q", docs)
    [d] = [d for d in check_project(root).diagnostics if d.code == "S004"]
    assert "found 5, expected one of 2, 3, 4" in d.message
