"""Issue 15: requirements verified without data (``verified_by``), the fields added to [H],
[EE] and [U] left unset without changing the hashes evidence cites, and the data a [U]
decision was chosen on never assumed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from amlas import check_project
from amlas.evidence import canonical_hash
from amlas.project.artefacts import (
    MLSafetyRequirement,
    ModelDevelopmentLog,
    OperationalScenario,
)
from factory import BASE, documents, write_project

MLR1: dict[str, Any] = BASE["H"]["requirements"][0]
MLR2: dict[str, Any] = BASE["H"]["requirements"][1]


def codes(tmp_path: Path, docs: dict[str, Any]) -> list[str]:
    result = check_project(write_project(tmp_path / "p", docs))
    return [d.code for d in result.diagnostics if d.severity.value != "info"]


@pytest.mark.parametrize("method", ["platform_test", "simulation", "analysis", "review"])
@pytest.mark.parametrize("kind", ["performance", "robustness", "other"])
def test_verified_by_needs_no_metric(kind: str, method: str) -> None:
    requirement = MLSafetyRequirement.model_validate(
        {"id": "MLR-7", "text": "Frame in 20 ms", "kind": kind, "verified_by": method}
    )
    assert requirement.verified_by == method
    assert requirement.metric is None
    assert not requirement.judged_on_data()


@pytest.mark.parametrize("kind", ["performance", "robustness"])
def test_without_verified_by_the_metric_is_still_demanded(kind: str) -> None:
    with pytest.raises(ValueError, match="needs 'metric' and 'threshold'"):
        MLSafetyRequirement.model_validate({"id": "MLR-7", "text": "x", "kind": kind})


def test_only_a_metric_without_verified_by_is_judged_on_data() -> None:
    judged = MLSafetyRequirement.model_validate(MLR1)
    assert judged.judged_on_data()
    verified = MLSafetyRequirement.model_validate({**MLR1, "verified_by": "simulation"})
    assert not verified.judged_on_data()
    other = MLSafetyRequirement.model_validate({**MLR1, "kind": "other"})
    assert not other.judged_on_data()


def test_a_robustness_requirement_shown_in_simulation_checks_clean(tmp_path: Path) -> None:
    docs = documents()
    mlr2 = docs["H"]["requirements"][1]
    for name in ("metric", "threshold", "confidence", "perturbation"):
        del mlr2[name]
    mlr2["verified_by"] = "simulation"
    assert codes(tmp_path, docs) == []  # no S002, no Q006


def test_a_metric_beside_verified_by_is_a_warning_naming_its_use(tmp_path: Path) -> None:
    docs = documents()
    docs["H"]["requirements"][0]["verified_by"] = "platform_test"
    result = check_project(write_project(tmp_path / "p", docs))
    (found,) = [d for d in result.diagnostics if d.code == "Q021"]
    assert found.severity.value == "warning"
    assert "verified by a platform test" in found.message
    assert "only judges counts imported" in found.message
    assert not result.diagnostics.has_errors


def test_a_metric_beside_a_review_is_said_unused(tmp_path: Path) -> None:
    docs = documents()
    docs["H"]["requirements"][0]["verified_by"] = "review"
    result = check_project(write_project(tmp_path / "p", docs))
    (found,) = [d for d in result.diagnostics if d.code == "Q021"]
    assert "a review measures no metric" in found.message


# -- unset fields keep the hashes evidence cites ---------------------------------------------


def test_unset_new_fields_leave_the_dumps_and_hashes_as_they_were() -> None:
    requirement = MLSafetyRequirement.model_validate(MLR1)
    dumped = requirement.model_dump(mode="json", by_alias=True)
    assert "refines" not in dumped
    assert "verified_by" not in dumped
    scenario = OperationalScenario.model_validate(BASE["EE"]["scenarios"][0])
    assert "ml_requirements" not in scenario.model_dump(mode="json")
    assert "expected_outcome" in scenario.model_dump(mode="json")  # stated in the factory
    bare = {k: v for k, v in BASE["EE"]["scenarios"][0].items() if k != "expected_outcome"}
    assert set(OperationalScenario.model_validate(bare).model_dump(mode="json")) == {
        "id",
        "name",
        "description",
        "requirements",
        "conditions",
        "variations",
        "min_pass_rate",
        "confidence",
        "max_violation_rate",
    }
    # set, they are part of the hash: a change to them makes the evidence stale
    child = MLSafetyRequirement.model_validate({**MLR1, "refines": "MLR-0"})
    assert canonical_hash(child) != canonical_hash(requirement)
    verified = MLSafetyRequirement.model_validate({**MLR1, "verified_by": "analysis"})
    assert canonical_hash(verified) != canonical_hash(requirement)


# -- [U]: chosen_on is stated, never assumed ---------------------------------------------------


def test_a_decision_left_without_its_data_is_not_assumed_to_be_development_data() -> None:
    log = dict(BASE["U"])
    log["thresholds"] = [{"name": "t", "value": 0.3, "rationale": "recall"}]
    log["selection"] = {"candidate": "CAND-1", "rationale": "best"}
    loaded = ModelDevelopmentLog.model_validate(log)
    assert loaded.thresholds[0].chosen_on is None
    assert loaded.selection is not None
    assert loaded.selection.chosen_on is None
    assert "chosen_on" not in loaded.model_dump(mode="json")["thresholds"][0]


def test_every_decision_without_its_data_is_reported_in_one_pass(tmp_path: Path) -> None:
    docs = documents()
    del docs["U"]["hyperparameters"][0]["chosen_on"]
    del docs["U"]["thresholds"][0]["chosen_on"]
    del docs["U"]["selection"]["chosen_on"]
    docs["U"]["data_used"] = ["N", "O"]  # and the rest of [U] is still checked (M002)
    result = check_project(write_project(tmp_path / "p", docs))
    found = sorted(d.message for d in result.diagnostics if d.code == "M014")
    assert found == [
        "hyper-parameter 'C' does not say the data it was chosen on",
        "the selection of 'CAND-1' does not say the data it was made on",
        "threshold 't' does not say the data it was chosen on",
    ]
    assert all(d.severity.value == "error" for d in result.diagnostics if d.code == "M014")
    assert any(d.code == "M002" for d in result.diagnostics)
