"""Records cite how [V] says predictions are made (``model_settings``): a new decision
threshold changes every verdict the model's predictions gave, so it makes them stale."""

from __future__ import annotations

import shutil
from pathlib import Path

from amlas.evidence import MODEL_SETTINGS, ProjectInputs
from amlas.project import load_project
from amlas.verify import plan
from conftest import EXAMPLE


def test_a_new_decision_threshold_changes_model_settings(tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("evidence", ".amlas"))
    before = ProjectInputs(load_project(root).project).current(MODEL_SETTINGS)
    assert before is not None
    model = root / "4-learning" / "V-model.yaml"
    text = model.read_text("utf-8")
    model.write_text(text + "# a comment is no change\n", "utf-8")
    assert ProjectInputs(load_project(root).project).current(MODEL_SETTINGS) == before
    model.write_text(text.replace("decision_threshold: 0.43", "decision_threshold: 0.9"), "utf-8")
    assert ProjectInputs(load_project(root).project).current(MODEL_SETTINGS) != before


def test_every_check_on_the_models_predictions_cites_it() -> None:
    project = load_project(EXAMPLE).project
    checks = plan(project, role="developer", stages=(4,)).checks
    assert checks
    for check in checks:
        if "model" in check.inputs:
            assert MODEL_SETTINGS in check.inputs, check.key
