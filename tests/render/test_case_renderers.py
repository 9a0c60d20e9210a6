"""The case renderers: JSON, Markdown, JUnit XML and gsn2x YAML, as golden files, plus
the properties that make them safe to publish (escaping, validity, determinism)."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))

from case_factory import HOSTILE, IMG, SCRIPT, make_case
from golden_files import assert_golden

from amlas.render import (
    render_case_json,
    render_case_junit,
    render_case_markdown,
    render_gsn2x,
    validate_gsn2x,
)

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize(
    ("name", "render"),
    [
        ("case.json", render_case_json),
        ("case.md", render_case_markdown),
        ("case.junit.xml", render_case_junit),
    ],
)
def test_golden(name: str, render: object) -> None:
    text = render(make_case())  # type: ignore[operator]
    assert text == render(make_case())  # type: ignore[operator]
    assert_golden(text, GOLDEN / name)


def test_gsn2x_golden_and_valid() -> None:
    files = render_gsn2x(make_case())
    assert files == render_gsn2x(make_case())
    for name, text in files.items():
        assert_golden(text, GOLDEN / "gsn" / name)
    parsed = {name: yaml.safe_load(text) for name, text in files.items()}
    assert parsed["index.gsn.yaml"]["module"]["uses"] == [n for n in files if n != "index.gsn.yaml"]
    findings = [f for f in validate_gsn2x(parsed) if f.code not in {"C03"}]
    # the factory case is hand-made and partial: only references to nodes it leaves out
    assert [str(f) for f in findings if f.severity == "error"] == []


def test_json_round_trips_every_node() -> None:
    case = make_case()
    model = json.loads(render_case_json(case))
    assert [n["id"] for n in model["nodes"]] == list(case.nodes)
    assert model["counts"] == case.counts()
    assert set(model["evidence"]) == set(case.evidence)


def test_markdown_never_carries_live_html() -> None:
    case = make_case()
    case.top.text = SCRIPT + " " + IMG + " | [x](javascript:alert(1))"
    text = render_case_markdown(case)
    for payload in HOSTILE:
        if "<" in payload:  # HTML payloads: only their escaped form may appear
            assert payload not in text
    assert "<script" not in text
    assert "<img" not in text
    assert "&lt;script&gt;" in text
    # no Markdown link can form around a javascript: URL: brackets are escaped
    assert "[x](javascript:" not in text
    assert "\\[x\\](javascript:" in text


def test_junit_is_valid_and_counts_add_up() -> None:
    case = make_case()
    root = ET.fromstring(render_case_junit(case))
    cases = root.findall(".//testcase")
    assert len(cases) == len(case.leaf_claims())
    assert int(root.get("tests", "-1")) == len(cases)
    failures = sum(len(c.findall("failure")) for c in cases)
    assert int(root.get("failures", "-1")) == failures
    statuses = {n.status for n in case.leaf_claims()}
    if "undeveloped" in statuses:
        assert root.findall(".//skipped")
    # user text survives XML escaping and parses back intact
    names = " ".join(c.get("name", "") for c in cases)
    texts = " ".join(n.text for n in case.leaf_claims())
    assert any(p in texts for p in HOSTILE) == any(p in names for p in HOSTILE)


def test_gsn2x_c_and_python_emitters_write_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libyaml's C emitter, when PyYAML has it, and the pure-Python fallback agree byte
    for byte: on the bundled example's case and on the factory's hostile text."""
    import shutil

    from amlas.case import build_case
    from amlas.render import _gsn2x

    if not getattr(yaml, "__with_libyaml__", False):
        pytest.skip("PyYAML was built without libyaml: only the Python emitter is there")
    example = Path(__file__).resolve().parents[2] / "examples" / "breast-cancer-triage"
    root = tmp_path / "example"
    shutil.copytree(example, root, ignore=shutil.ignore_patterns("evidence", ".amlas"))
    for case in (build_case(root), make_case()):
        monkeypatch.setattr(_gsn2x, "_DUMPER", yaml.CSafeDumper)
        fast = render_gsn2x(case)
        monkeypatch.setattr(_gsn2x, "_DUMPER", yaml.SafeDumper)
        slow = render_gsn2x(case)
        assert len(fast) > 1
        assert fast == slow
