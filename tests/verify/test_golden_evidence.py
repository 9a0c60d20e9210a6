"""Issue 13: restructuring the engine changed no evidence. Both bundled examples, run the
way ``make demo`` runs them, give the records committed in ``golden/`` (keys, checks,
verdicts, estimates, bounds, input hashes, summaries): see ``golden_evidence.py``.

A deliberate change of a check's output regenerates the golden file with
``python tests/verify/golden_evidence.py NAME tests/verify/golden/NAME.json`` and says why
in the commit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from golden_evidence import NAMES, collect, golden


def _diff(expected: dict[str, object], actual: dict[str, object]) -> list[str]:
    out = [f"missing {key}" for key in sorted(set(expected) - set(actual))]
    out += [f"new {key}" for key in sorted(set(actual) - set(expected))]
    for key in sorted(set(expected) & set(actual)):
        if expected[key] != actual[key]:
            was, now = expected[key], actual[key]
            assert isinstance(was, dict)
            assert isinstance(now, dict)
            fields = [f for f in was if was[f] != now.get(f)]
            out.append(f"{key}: {', '.join(fields)} differ: {json.dumps(now)[:400]}")
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_the_evidence_of_the_bundled_examples_is_unchanged(name: str, tmp_path: Path) -> None:
    actual = collect(name, tmp_path)
    problems = _diff(golden(name), actual)
    assert not problems, "\n".join(problems)


def test_a_changed_estimate_is_caught() -> None:
    expected = golden(NAMES[0])
    key = next(k for k in expected if k.startswith("stage5/"))
    changed = json.loads(json.dumps(expected))
    changed[key]["results"][0]["estimate"] = 0.5
    del changed[next(iter(changed))]
    problems = _diff(expected, changed)
    assert any(p.startswith(f"{key}: results differ") for p in problems)
    assert any(p.startswith("missing ") for p in problems)
