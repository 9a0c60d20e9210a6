"""The exception tree of `amlas.errors`: coded, located problems, one install-hint table."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

import amlas.errors as errors
from amlas.diagnostics import CODES, Location, Severity
from amlas.errors import (
    INSTALL_HINTS,
    AmlasError,
    MissingExtraError,
    ProblemError,
    UsageError,
    ValueProblem,
    install_hint,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "amlas"


def test_a_problem_is_a_coded_located_diagnostic() -> None:
    problem = ProblemError(
        "/p/data/o.csv:7: column 'size' holds 'big'", code="R011", value="big", expected="numbers"
    )
    [d] = problem.diagnostics
    assert (d.code, d.severity, d.location) == (
        "R011",
        Severity.ERROR,
        Location("/p/data/o.csv", 7, 1),
    )
    assert (
        d.format() == "/p/data/o.csv:7:1: R011 error: column 'size' holds 'big' (expected numbers)"
    )
    assert str(problem) == "/p/data/o.csv:7: column 'size' holds 'big'; expected numbers"
    assert problem.value == "big"
    assert isinstance(problem, UsageError)  # exit 2, and old `except UsageError` still works


def test_a_problem_without_a_file_is_shown_as_amlas() -> None:
    assert ProblemError("the model gives no probabilities").diagnostic.format() == (
        "amlas: R002 error: the model gives no probabilities"
    )
    at = ProblemError("MLR-2: patch under a pixel", code="R030", path="[H]").diagnostic
    assert at.format() == "[H]: R030 error: MLR-2: patch under a pixel"


def test_a_value_problem_is_still_a_value_error() -> None:
    with pytest.raises(ValueError, match="under one pixel"):
        raise ValueProblem("occlusion patch under one pixel", code="R030")


def test_every_code_a_raise_site_names_is_registered() -> None:
    """``code="..."`` in any raise, and every class default, is in the code table."""
    named = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.keyword)
                and node.arg == "code"
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                named.add(node.value.value)
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if (
                        isinstance(item, ast.Assign)
                        and [getattr(t, "id", None) for t in item.targets] == ["code"]
                        and isinstance(item.value, ast.Constant)
                    ):
                        named.add(item.value.value)
    assert named, "the scan found no codes"
    assert named <= set(CODES), sorted(named - set(CODES))


def test_the_tree_in_the_docstring_lists_every_exception() -> None:
    import amlas.adapters
    import amlas.case
    import amlas.checks.formal
    import amlas.evidence
    import amlas.fileio
    import amlas.monitor
    import amlas.sealing

    found = set()
    for module in (
        errors,
        amlas.adapters,
        amlas.case,
        amlas.checks.formal,
        amlas.evidence,
        amlas.fileio,
        amlas.monitor,
        amlas.sealing,
    ):
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, AmlasError)
                and not name.startswith("_")
            ):
                found.add(name)
    drawn = set(re.findall(r"[├└]── (\w+)", errors.__doc__ or "")) | {"AmlasError"}
    assert found <= drawn, sorted(found - drawn)


def test_install_hints_come_from_one_table() -> None:
    assert install_hint("torch").endswith(INSTALL_HINTS["torch"])
    assert str(MissingExtraError("fault injection needs PyTorch", "torch")).startswith(
        "fault injection needs PyTorch; install the torch extra: pip install"
    )
    written = [
        f"{path.relative_to(SRC)}:{number}"
        for path in SRC.rglob("*.py")
        if path.name != "errors.py"
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if re.search(r"pip install '?amlas\[", line) and not line.lstrip().startswith(("#", "``"))
    ]
    assert not written, f"install hints outside amlas.errors.INSTALL_HINTS: {written}"


def test_the_cli_modules_import_no_circle() -> None:
    """`cli/_main.py` and `cli/_monitor.py` share `cli/_common.py` (issue 13); no module of
    the command line imports one that imports it back, even inside a function."""
    folder = SRC / "cli"
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        name = f"amlas.cli.{path.stem}" if path.stem != "__init__" else "amlas.cli"
        imported = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("amlas.cli.")
            ):
                imported.add(node.module)
        graph[name] = imported

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    circles = [name for name in graph if reaches(name, name, {name})]
    assert not circles, circles
