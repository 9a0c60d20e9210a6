from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from check_factory import MakeDataset

from amlas.checks import check_independence, run_data_rule
from amlas.project import Project
from amlas.project.artefacts import DataRequirement
from amlas.project.artefacts.data import Independence


def rule(check: dict[str, Any], category: str = "relevance") -> DataRequirement:
    return DataRequirement.model_validate(
        {"id": "DR-9", "category": category, "text": "t", "rule": check}
    )


def test_within_odd_names_the_samples_outside(mini: Project, make_dataset: MakeDataset) -> None:
    data = make_dataset(
        ["positive"] * 4, [10.0, 120.0, np.nan, 30.0], ["day", "day", "day", "dusk"]
    )
    outcome = run_data_rule(mini, rule({"check": "within_odd"}), data)
    assert outcome.verdict == "fail"
    by_dim = {r["dimension"]: r for r in outcome.results}
    assert by_dim["size"]["failing_ids"] == ["O-1", "O-2"]
    assert by_dim["size"]["values"] == [120.0, None]
    assert by_dim["lighting"]["failing_ids"] == ["O-3"]
    assert "3 of 4" in outcome.summary
    tolerant = run_data_rule(
        mini, rule({"check": "within_odd", "max_outside_fraction": 0.75}), data
    )
    assert tolerant.verdict == "pass"


def test_schema_conformance_flags_non_finite_values(
    mini: Project, make_dataset: MakeDataset
) -> None:
    good = make_dataset(["positive"] * 2, [1.0, 2.0], ["day", "day"])
    assert run_data_rule(mini, rule({"check": "schema_conformance"}), good).verdict == "pass"
    bad = make_dataset(["positive"] * 2, [1.0, np.inf], ["day", "day"])
    outcome = run_data_rule(mini, rule({"check": "schema_conformance"}), bad)
    assert outcome.verdict == "fail"
    assert outcome.results[0]["failing_ids"] == ["O-1"]


def test_min_samples_per_cell_counts_every_declared_cell(
    mini: Project, make_dataset: MakeDataset
) -> None:
    labels = ["positive", "positive", "negative", "positive"]
    data = make_dataset(labels, [10.0, 20.0, 30.0, 70.0], ["day", "night", "day", "day"])
    check = {
        "check": "min_samples_per_cell",
        "dimensions": ["size", "lighting"],
        "min_samples": 1,
        "class": "positive",
    }
    outcome = run_data_rule(mini, rule(check, "completeness"), data)
    cells = {r["cell"]: r["samples"] for r in outcome.results}
    assert cells == {
        "size=small, lighting=day": 1,
        "size=small, lighting=night": 1,
        "size=large, lighting=day": 1,
        "size=large, lighting=night": 0,
    }
    assert outcome.verdict == "fail"
    assert "size=large, lighting=night (0)" in outcome.summary


def test_k_derived_from_a_requirement_is_the_exact_binomial_sample_size(
    mini: Project, make_dataset: MakeDataset
) -> None:
    data = make_dataset(["positive"] * 10, [10.0] * 10, ["day"] * 10)
    check = {"check": "min_samples_per_cell", "dimensions": ["size"], "from_requirement": "MLR-1"}
    outcome = run_data_rule(mini, rule(check, "completeness"), data)
    # MLR-1 of the factory: recall >= 0.99 at 95% in each of 2 size bands, decided with
    # Holm (strictest step 2.5%), needs 368 hits without a miss per band (299 for one)
    assert outcome.resolved["min_samples"] == 368
    assert "Holm over 2 slices needs 368 samples" in outcome.resolved["k_derivation"]
    assert outcome.verdict == "fail"


def test_balance_checks_use_the_dataset_census(mini: Project, make_dataset: MakeDataset) -> None:
    data = make_dataset(["positive"] + ["negative"] * 9, [10.0] * 9 + [70.0], ["day"] * 10)
    cls = run_data_rule(
        mini,
        rule({"check": "class_balance", "class": "positive", "min_fraction": 0.2}, "balance"),
        data,
    )
    assert cls.verdict == "fail"
    assert cls.results[0]["fraction"] == pytest.approx(0.1)
    bands = run_data_rule(
        mini,
        rule({"check": "slice_balance", "dimension": "size", "min_fraction": 0.1}, "balance"),
        data,
    )
    assert bands.verdict == "pass"
    assert [r["samples"] for r in bands.results] == [9, 1]


def test_label_error_rate_is_bounded_from_the_audit(
    mini: Project, make_dataset: MakeDataset
) -> None:
    root = Path(mini.root)
    audit = root / "data" / "audit.csv"
    rows = [f"O-{i},positive" for i in range(40)] + ["O-40,negative", "X-1,positive"]
    audit.write_text("sample_id,audited_label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    data = make_dataset(["positive"] * 50, [10.0] * 50, ["day"] * 50)
    check = {"check": "label_error_rate", "audit_file": "data/audit.csv", "max_rate": 0.1}
    outcome = run_data_rule(mini, rule(check, "accuracy"), data)
    found = outcome.results[0]
    assert (found["audited"], found["errors"]) == (41, 1)
    assert found["disagreements"] == [{"id": "O-40", "recorded": "positive", "audited": "negative"}]
    assert outcome.verdict == "inconclusive"  # 1 error in 41: the bound cannot show <= 10%
    other = make_dataset(["positive"] * 5, [10.0] * 5, ["day"] * 5, letter="N")
    none = run_data_rule(mini, rule(check, "accuracy"), other)
    assert none.verdict == "inconclusive"
    assert "none of the 42 audited samples" in none.summary


def test_independence_finds_shared_ids_duplicates_near_duplicates_and_groups(
    mini: Project, make_dataset: MakeDataset
) -> None:
    groups_n = np.array(["pat-1", "pat-2", "pat-3"], dtype=np.str_)
    groups_o = np.array(["pat-3", "pat-4", "pat-5"], dtype=np.str_)
    n = make_dataset(
        ["positive"] * 3, [10.0, 50.0, 90.0], ["day"] * 3, ids=["a", "b", "c"], letter="N"
    )
    o = make_dataset(
        ["positive"] * 3, [10.0, 50.0001, 30.0], ["day"] * 3, ids=["c", "d", "e"], letter="O"
    )
    outcome = check_independence(n, o, Independence(near_duplicate_distance=0.01))
    found = {r["kind"]: r for r in outcome.results}
    assert found["shared_ids"]["pairs"] == [["c", "c"]]
    assert found["exact_duplicates"]["pairs"] == [["a", "c"]]
    assert found["near_duplicates"]["pairs"] == [["b", "d"]]  # exact ones are not repeated
    assert outcome.verdict == "fail"
    assert "groups" in outcome.resolved  # no group column declared: said, not skipped silently

    object.__setattr__(n, "groups", groups_n)
    object.__setattr__(o, "groups", groups_o)
    grouped = check_independence(n, o, Independence(near_duplicate_distance=0.0))
    found = {r["kind"]: r for r in grouped.results}
    assert found["shared_groups"]["groups"] == ["pat-3"]
    assert "near_duplicates" not in found


def test_independent_sets_pass(mini: Project, make_dataset: MakeDataset) -> None:
    n = make_dataset(["positive"] * 3, [10.0, 20.0, 30.0], ["day"] * 3, ids=["a", "b", "c"])
    o = make_dataset(["positive"] * 3, [60.0, 70.0, 80.0], ["day"] * 3, ids=["d", "e", "f"])
    outcome = check_independence(n, o, Independence())
    assert outcome.verdict == "pass"
    assert "no findings" in outcome.summary


def test_repeated_audit_ids_are_refused(mini: Project, make_dataset: MakeDataset) -> None:
    """Found by review: one id listed 60 times counted as 60 audited samples."""
    audit = Path(mini.root) / "data" / "audit-repeated.csv"
    audit.write_text("sample_id,audited_label\n" + "O-1,positive\n" * 60, encoding="utf-8")
    data = make_dataset(["positive"] * 5, [10.0] * 5, ["day"] * 5)
    check = {"check": "label_error_rate", "audit_file": "data/audit-repeated.csv", "max_rate": 0.05}
    outcome = run_data_rule(mini, rule(check, "accuracy"), data)
    assert outcome.verdict == "inconclusive"
    assert "more than once" in outcome.summary
