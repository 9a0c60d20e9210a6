"""The command line: exit statuses, output formats and never a traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cli_helpers import run
from conftest import EXAMPLE, REPO
from factory import documents, write_project

LINE = re.compile(
    r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]\d{3}) "
    r"(?P<severity>error|warning|info): .+$"
)


def test_check_clean_project_exits_0(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "check", str(project))
    assert status == 0
    assert out.strip().endswith("0 errors, 0 warnings, 0 notes (ok)")


def test_check_reports_located_lines_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = documents()
    docs["H"]["requirements"][0]["treshold"] = 0.9
    docs["E"]["requirements"][0]["traces_to"] = ["SSR-9"]
    root = write_project(tmp_path / "p", docs)
    status, out, _ = run(capsys, "check", str(root))
    assert status == 1
    lines = out.strip().splitlines()
    problems = [LINE.match(line) for line in lines[:-1]]
    assert all(problems), lines
    by_code = {m["code"]: m for m in problems if m}
    assert by_code["S001"]["path"] == f"{root}/2-requirements/H-ml-safety-requirements.yaml"
    assert "did you mean 'threshold'?" in out
    assert "did you mean 'SSR-1'?" in out
    assert lines[-1].endswith("(FAILED)")


def test_strict_fails_on_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = documents()
    docs["A"]["source"] = "TODO"
    root = write_project(tmp_path / "p", docs)
    assert run(capsys, "check", str(root))[0] == 0
    assert run(capsys, "check", "--strict", str(root))[0] == 1


def test_check_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "3-data/O-internal-test-data.yaml").unlink()
    status, out, _ = run(capsys, "check", "--format", "json", str(project))
    assert status == 1
    payload = json.loads(out)
    assert payload["summary"]["error"] == 1
    assert payload["diagnostics"][0]["code"] == "F001"


@pytest.mark.parametrize(
    "argv",
    [
        ("check", "/nonexistent/amlas-project"),
        ("check",),
        ("check", "--format", "xml", "."),
        ("frobnicate",),
        ("explain", "Z999"),
        ("trace", "/nonexistent/amlas-project"),
    ],
)
def test_usage_problems_exit_2(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, *argv)
    assert status == 2
    assert err.strip()


def test_directory_without_manifest_is_a_usage_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "check", str(tmp_path))
    assert status == 2
    assert "amlas.yaml" in err
    assert "amlas init" in err


def test_trace_formats(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "trace", "--format", "json", str(project))
    assert status == 0
    payload = json.loads(out)
    assert payload["gaps"] == 0
    assert [(r["allocated"], r["ml"]) for r in payload["rows"]] == [
        ("ALR-1", "MLR-1"),
        ("ALR-1", "MLR-2"),
    ]
    assert payload["rows"][0]["data"] == ["DR-1", "DR-2", "DR-3", "DR-4"]
    status, out, _ = run(capsys, "trace", "--format", "markdown", str(project))
    assert status == 0
    assert "| SSR-1 | ALR-1 | MLR-1 (performance) | DR-1, DR-2, DR-3, DR-4 |  |" in out
    status, out, _ = run(capsys, "trace", str(project))
    assert status == 0
    assert "MLR-2" in out


def test_trace_flags_gaps(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = documents()
    docs["L"]["requirements"][0]["traces_to"] = ["MLR-1"]  # MLR-2 loses its data coverage
    docs["E"]["requirements"].append(
        {"id": "ALR-2", "text": "t", "traces_to": ["SSR-1"], "hazard_contribution": "h"}
    )
    root = write_project(tmp_path / "p", docs)
    status, out, _ = run(capsys, "trace", "--format", "json", str(root))
    assert status == 1
    gaps = [g for row in json.loads(out)["rows"] for g in row["gaps"]]
    assert "MLR-2 is covered by no [L] requirement" in gaps
    assert "ALR-2 is refined by no [H] requirement and not deferred" in gaps


def test_init_templates_then_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "My Case"
    status, out, _ = run(capsys, "init", str(target))
    assert status == 0
    assert "created" in out
    assert "name: my-case" in (target / "amlas.yaml").read_text()
    assert (target / "schema" / "H.schema.json").is_file()
    status, out, _ = run(capsys, "check", str(target))
    # The templates are schema-valid; what is left is placeholders and absent data files.
    codes = {m["code"] for line in out.splitlines() if (m := LINE.match(line))}
    assert codes <= {"S007", "D003", "M003", "Q010"}, codes
    assert "S007" in codes


def test_init_example_checks_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "case"
    assert run(capsys, "init", "--example", "breast-cancer-triage", str(target))[0] == 0
    status, out, _ = run(capsys, "check", "--strict", str(target))
    assert status == 0, out


def test_init_refuses_a_non_empty_directory(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(p.name for p in project.iterdir())
    status, _, err = run(capsys, "init", str(project))
    assert status == 2
    assert "not empty" in err
    assert sorted(p.name for p in project.iterdir()) == before


def test_schema_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "schema"
    assert run(capsys, "schema", "--out", str(out_dir), "--check")[0] == 1
    assert run(capsys, "schema", "--out", str(out_dir))[0] == 0
    assert run(capsys, "schema", "--out", str(out_dir), "--check")[0] == 0
    assert run(capsys, "schema", "--out", str(REPO / "schema"), "--check")[0] == 0


def test_explain_and_diagnostics(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "explain", "x005")
    assert status == 0
    assert "R3" in out
    assert "X005" in out
    status, out, _ = run(capsys, "diagnostics", "--markdown")
    assert status == 0
    assert out == (REPO / "docs" / "diagnostics.md").read_text("utf-8")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--version")
    assert status == 0
    assert "amlas" in out


def test_check_the_bundled_example(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "check", "--strict", str(EXAMPLE))
    assert status == 0, out


def test_user_text_is_never_read_as_markup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = documents()
    docs["E"]["requirements"].append(
        {
            "id": "ALR-2",
            "text": "t",
            "traces_to": ["SSR-1"],
            "hazard_contribution": "h",
            "deferred": {"reason": "see [/x] and [bold]this[/bold]", "handled_by": "system"},
        }
    )
    root = write_project(tmp_path / "p", docs)
    status, out, _ = run(capsys, "trace", str(root))
    assert status == 0
    assert "[/x]" in out
    assert "[bold]this[/bold]" in out


@pytest.mark.parametrize("target", ["/proc/amlas-cannot-write-here", "/dev/null/sub"])
def test_init_into_an_unwritable_place_is_a_usage_problem(
    target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "init", target)
    assert status == 2
    assert "cannot create" in err or "not empty" in err


def test_schema_into_an_unwritable_place_is_a_usage_problem(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, _, err = run(capsys, "schema", "--out", "/proc/amlas-schema")
    assert status == 2
    assert "cannot write" in err
