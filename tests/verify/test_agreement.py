"""Predictions made elsewhere beside a model amlas can run: the file is checked against
the model on a seeded sample (here every sample of the factory's [O], which the lookup
model of ``tests/runnable.py`` answers as a whole)."""

from __future__ import annotations

from pathlib import Path

import pytest

from amlas import check_project
from amlas.evidence import EvidenceRecord, open_store
from amlas.verify import plan, run_project
from factory import documents
from runnable import rows, runnable


def _project(root: Path, labels: dict[str, str]) -> None:
    docs = documents()
    docs["V"]["predictions"] = {
        "O": {
            "location": "predictions/O.csv",
            "label_column": "predicted",
            "agreement": {"samples": 1000},
        }
    }
    docs["V"]["produced_by"] = docs["V"]["sha256"]
    runnable(root, docs)
    lines = ["sample_id,predicted"] + [f"{s},{labels.get(s, label)}" for s, label, _ in rows("O")]
    (root / "predictions").mkdir()
    (root / "predictions/O.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _agreement(root: Path) -> EvidenceRecord:
    with open_store("fs://evidence", root=root) as store:
        record = store.latest("stage4/predictions/O")
    assert record is not None
    return record


def test_a_file_the_model_reproduces_passes(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _project(root, {})
    keys = [c.key for c in plan(check_project(root).project, stages=(4,)).checks]
    assert "stage4/predictions/O" in keys
    run_project(root, stages=(4,))
    record = _agreement(root)
    assert record.verdict == "pass"
    assert record.results[0]["sampled"] == len(rows("O"))
    assert record.results[0]["decision_agreement"] == 1.0


def test_one_decision_the_model_does_not_make_fails_it(tmp_path: Path) -> None:
    root = tmp_path / "p"
    sample, label, _ = rows("O")[7]
    _project(root, {sample: "positive" if label == "negative" else "negative"})
    run_project(root, stages=(4,))
    record = _agreement(root)
    assert record.verdict == "fail"
    assert record.results[0]["failing_ids"] == [sample]
    assert record.results[0]["decision_agreement"] == pytest.approx(1 - 1 / len(rows("O")))


def test_without_a_model_to_run_nothing_is_compared(tmp_path: Path) -> None:
    root = tmp_path / "p"
    _project(root, {})
    path = root / "4-learning/V-model.yaml"
    text = path.read_text()
    text = "\n".join(
        line
        for line in text.splitlines()
        if not line.startswith(("location:", "format:", "callable:", "sha256:"))
    )
    path.write_text(text + "\n")
    keys = [c.key for c in plan(check_project(root).project, stages=(4,)).checks]
    assert "stage4/predictions/O" not in keys  # the file alone judges [O]
