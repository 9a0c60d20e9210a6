"""The worked YAML examples of docs/requirements.md are valid artefact content and mean
what the page says."""

from __future__ import annotations

import re
from typing import Any

import yaml

from amlas.project.artefacts import MLSafetyRequirement, OperationalScenario, RequirementTree
from amlas.project.artefacts.learning import Decision, Selection
from conftest import REPO

PAGE = (REPO / "docs" / "requirements.md").read_text("utf-8")
BLOCKS: list[Any] = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", PAGE, re.S)]


def test_the_hierarchy_example_inherits_its_traces() -> None:
    items = [MLSafetyRequirement.model_validate(r) for r in BLOCKS[0]["requirements"]]
    tree = RequirementTree(items)
    assert tree.walk() == (("MLR-1", 0), ("MLR-1.1", 1), ("MLR-1.2", 1))
    assert tree.traces_of("MLR-1.1") == ("AR-1",)
    assert tree.traces_of("MLR-1.2") == ("AR-4", "AR-1")


def test_the_verified_by_examples_validate_without_and_with_a_metric() -> None:
    (mlr10,) = BLOCKS[1]
    plain = MLSafetyRequirement.model_validate(mlr10)
    assert plain.verified_by == "platform_test"
    assert plain.metric is None
    assert not plain.judged_on_data()
    counted = MLSafetyRequirement.model_validate({**mlr10, **BLOCKS[2]})
    assert counted.metric == "within_tolerance_rate"
    assert not counted.judged_on_data()


def test_the_scenario_and_decision_examples_validate() -> None:
    (scenario,) = BLOCKS[3]["scenarios"]
    loaded = OperationalScenario.model_validate(scenario)
    assert loaded.ml_requirements == ["MLR-1", "MLR-7"]
    assert loaded.expected_outcome is not None
    (threshold,) = BLOCKS[4]["thresholds"]
    assert Decision.model_validate(threshold).chosen_on == "N"
    assert Selection.model_validate(BLOCKS[4]["selection"]).chosen_on == "O"
