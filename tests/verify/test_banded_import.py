"""Counts imported for a requirement judged in a named banding ([B] ``bandings``, [H]
``applies_to.banding``) name that banding's bands, and every one of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from amlas.errors import ProblemError
from amlas.verify import import_evidence
from factory import documents, write_project

HALVES = [
    {"name": "lower", "min": 0, "max": 50, "max_inclusive": True},
    {"name": "upper", "min": 50, "max": 100, "min_inclusive": False},
]


def _project(tmp_path: Path) -> Path:
    docs = documents()
    docs["B"]["dimensions"][0]["bandings"] = {"halves": HALVES}
    docs["H"]["requirements"][0]["applies_to"] = {"per": ["size"], "banding": {"size": "halves"}}
    root = write_project(tmp_path / "p", docs)
    (root / "imports").mkdir()
    return root


def _counts(root: Path, slices: str) -> Path:
    path = root / "imports" / "counts.yaml"
    path.write_text(
        "schema: amlas.import/1\nkind: counts\nfor: MLR-1\n"
        "accountable: {person: A. Lee, organisation: Lab}\n"
        "tool: {name: bench, version: '1'}\ndate: 2026-03-02\n"
        f"data: {{description: 200 frames}}\nslices:\n{slices}",
        "utf-8",
    )
    return path


def test_counts_name_the_bands_of_the_requirements_banding(tmp_path: Path) -> None:
    root = _project(tmp_path)
    file = _counts(
        root,
        "  - {name: lower, cell: {size: lower}, successes: 10, trials: 10}\n"
        "  - {name: upper, cell: {size: upper}, successes: 10, trials: 10}\n",
    )
    report = import_evidence(root, file, target="MLR-1", dataset="O")
    assert [s["cell"] for s in report.record.results] == [{"size": "lower"}, {"size": "upper"}]


def test_counts_in_the_default_bands_are_refused(tmp_path: Path) -> None:
    root = _project(tmp_path)
    file = _counts(
        root,
        "  - {name: small, cell: {size: small}, successes: 10, trials: 10}\n"
        "  - {name: large, cell: {size: large}, successes: 10, trials: 10}\n",
    )
    with pytest.raises(ProblemError) as refused:
        import_evidence(root, file, target="MLR-1", dataset="O")
    found = {(d.code, d.message) for d in refused.value.diagnostics}
    assert ("R085", "slice 'small': 'size' has no band or category 'small'") in found
    assert any(code == "R086" and "size=lower; size=upper" in text for code, text in found)
