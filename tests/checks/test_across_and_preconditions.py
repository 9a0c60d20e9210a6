"""Issue 15 on the checks: robustness across the operating domain (``across``), a
requirement's ``precondition`` over data columns, and the project's default confidence.

``across`` is judged by the very slice plan ``applies_to.per`` uses (one judge, Holm
across the bands); the record adds which correction applied and the worst band. A
precondition drops units of analysis before the slices; every record states what it kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from check_factory import MakeDataset
from hypothesis import given, settings
from hypothesis import strategies as st

from amlas.checks import (
    Predictions,
    across_statement,
    confidence_of,
    evaluate_requirement,
    plan_slices,
)
from amlas.checks._preconditions import precondition_mask
from amlas.checks.metrics import get_metric, result_problems
from amlas.errors import ProblemError
from amlas.evidence import canonical_hash
from amlas.project import Project
from amlas.project.artefacts import Condition, MLSafetyRequirement

CLASSES = ["negative", "positive"]


def requirement(**fields: Any) -> MLSafetyRequirement:
    base: dict[str, Any] = {
        "id": "MLR-9",
        "text": "t",
        "kind": "robustness",
        "metric": "recall",
        "class": "positive",
        "threshold": 0.5,
        "confidence": 0.95,
    }
    return MLSafetyRequirement.model_validate({**base, **fields})


def predictions(labels: list[str]) -> Predictions:
    pred = np.array(labels, dtype=np.str_)
    return Predictions(pred, None, tuple(CLASSES), "positive", None, np.zeros(len(pred), bool))


def terms(*raw: dict[str, Any]) -> list[Condition]:
    return [Condition.model_validate(t) for t in raw]


def mask(raw: list[dict[str, Any]], columns: dict[str, Any]) -> tuple[list[bool], dict[str, Any]]:
    arrays = {k: np.asarray(v) for k, v in columns.items()}
    n = len(next(iter(arrays.values())))
    keep, stated = precondition_mask(
        terms(*raw), arrays.get, n, subject="MLR-9", where="[O] O.csv", unit="samples",
        columns=list(arrays),
    )  # fmt: skip
    return keep.tolist(), stated


# -- the precondition ----------------------------------------------------------------------


def test_numeric_comparisons_hold_together_within_a_term_and_across_terms() -> None:
    ttc = [0.5, 3.9, 4.0, 7.0, np.nan]
    keep, stated = mask([{"column": "ttc_s", "lt": 4.0}], {"ttc_s": ttc})
    assert keep == [True, True, False, False, False]
    assert stated == {
        "terms": [{"column": "ttc_s", "lt": 4.0}],
        "unit": "samples",
        "kept": 2,
        "excluded": 3,
        "missing": 1,  # NaN meets no term: excluded, and counted as missing
    }
    keep, _ = mask([{"column": "ttc_s", "ge": 1.0, "le": 4.0}], {"ttc_s": ttc})
    assert keep == [False, True, True, False, False]
    keep, _ = mask(
        [{"column": "ttc_s", "gt": 0.0}, {"column": "light", "in": ["day", "dusk"]}],
        {"ttc_s": ttc, "light": ["day", "night", "dusk", "day", "day"]},
    )
    assert keep == [True, False, True, True, False]


def test_categories_compare_as_text_and_a_missing_value_is_never_unequal() -> None:
    light = ["day", "night", "", "dusk"]
    assert mask([{"column": "light", "eq": "day"}], {"light": light})[0] == [
        True, False, False, False,
    ]  # fmt: skip
    keep, stated = mask([{"column": "light", "ne": "day"}], {"light": light})
    assert keep == [False, True, False, True]
    assert stated["missing"] == 1
    # a number against a column of text reads as [B] writes a category: 1.0 as '1'
    assert mask([{"column": "lane", "eq": 1}], {"lane": ["1", "2", "1.5"]})[0] == [
        True, False, False,
    ]  # fmt: skip
    # and text that reads as a number against a column of numbers compares as a number
    assert mask([{"column": "lane", "in": ["2", 3]}], {"lane": [1.0, 2.0, 3.0]})[0] == [
        False, True, True,
    ]  # fmt: skip


def test_a_missing_column_is_r096_with_a_suggestion() -> None:
    with pytest.raises(ProblemError) as caught:
        mask([{"column": "ttc", "lt": 4.0}], {"ttc_s": [1.0]})
    assert caught.value.diagnostic.code == "R096"
    assert "'ttc'" in caught.value.diagnostic.message
    assert "ttc_s" in (caught.value.diagnostic.hint or "")


@pytest.mark.parametrize(
    ("term", "column"),
    [
        ({"column": "c", "lt": 4.0}, ["day", "night"]),  # a number against text
        ({"column": "c", "eq": "day"}, [1.0, 2.0]),  # a category against numbers
        ({"column": "c", "in": [1, "dusk"]}, [1.0, 2.0]),
    ],
)
def test_a_comparison_the_column_cannot_take_is_r097(
    term: dict[str, Any], column: list[Any]
) -> None:
    with pytest.raises(ProblemError) as caught:
        mask([term], {"c": column})
    assert caught.value.diagnostic.code == "R097"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-10, 10) | st.just(float("nan")), min_size=1, max_size=30),
    st.floats(-10, 10),
)
def test_kept_and_excluded_partition_the_units(values: list[float], bound: float) -> None:
    keep, stated = mask([{"column": "v", "lt": bound}], {"v": values})
    assert stated["kept"] + stated["excluded"] == len(values)
    assert keep == [v < bound for v in values]  # NaN < bound is False: excluded
    assert stated["missing"] == sum(np.isnan(v) for v in values)


def test_the_precondition_drops_units_before_the_odd_is_counted(mini: Project) -> None:
    assert mini.environment is not None
    codes = {"size": np.array([0, 1, -2, -2]), "lighting": np.array([0, 0, 0, 1])}
    keep = np.array([True, True, True, False])
    plan = plan_slices(
        requirement(across=["size"]).judged_slice, codes, mini.environment, 4, keep=keep
    )
    assert plan.codes.tolist() == [0, 1, -1, -1]
    # of the three units kept, one lies outside the ODD; the fourth is the precondition's
    assert plan.outside_odd == 1


# -- across ---------------------------------------------------------------------------------


def _lit(make_dataset: MakeDataset, night_found: int) -> tuple[Any, Predictions]:
    """Ten hands by day, all found; ten by night, ``night_found`` of them found."""
    truth = ["positive"] * 20
    lighting = ["day"] * 10 + ["night"] * 10
    data = make_dataset(truth, [20.0] * 20, lighting)
    pred = ["positive"] * 10 + ["positive"] * night_found + ["negative"] * (10 - night_found)
    return data, predictions(pred)


def test_across_is_judged_as_per_is_and_the_worst_band_decides(
    mini: Project, make_dataset: MakeDataset
) -> None:
    data, pred = _lit(make_dataset, night_found=0)
    across = evaluate_requirement(requirement(across=["lighting"]), data, pred, classes=CLASSES)
    per = evaluate_requirement(
        requirement(applies_to={"per": ["lighting"]}), data, pred, classes=CLASSES
    )
    # one judge: the same slices, counts, bounds and verdicts as 'per'
    assert [s.as_json() for s in across.slices] == [s.as_json() for s in per.slices]
    assert across.check == "robustness.recall"
    assert across.resolved["family"] == "Holm"
    assert across.verdict == "fail"
    stated = across_statement(across)
    assert stated is not None
    assert stated["dimensions"] == ["lighting"]
    assert stated["bands"] == 2
    assert stated["correction"] == "Holm"
    assert stated["worst_band"]["slice"] == "lighting=night"
    assert stated["worst_band"]["verdict"] == "fail"
    assert stated["worst_band"]["samples"] == 10
    # no 'across', no statement
    assert across_statement(per) is None


def test_when_every_band_passes_the_worst_band_is_the_lowest_bound(
    mini: Project, make_dataset: MakeDataset
) -> None:
    data, pred = _lit(make_dataset, night_found=9)
    result = evaluate_requirement(
        requirement(across=["lighting"], threshold=0.4), data, pred, classes=CLASSES
    )
    assert result.verdict == "pass"
    stated = across_statement(result)
    assert stated is not None
    bounds = {s.slice: s.bound for s in result.slices}
    assert stated["worst_band"]["slice"] == "lighting=night"
    assert stated["worst_band"]["bound"] == pytest.approx(min(bounds.values()))


def test_a_band_without_data_is_inconclusive_and_named_worst(
    mini: Project, make_dataset: MakeDataset
) -> None:
    data, pred = _lit(make_dataset, night_found=10)
    # every sample is small: the large band holds nothing
    result = evaluate_requirement(
        requirement(across=["size"], threshold=0.1), data, pred, classes=CLASSES
    )
    verdicts = {s.slice: s.verdict for s in result.slices}
    assert verdicts == {"size=small": "pass", "size=large": "inconclusive"}
    assert result.verdict == "inconclusive"
    stated = across_statement(result)
    assert stated is not None
    assert stated["worst_band"]["slice"] == "size=large"
    assert stated["worst_band"]["samples"] == 0


def test_across_with_a_bootstrap_metric_states_bonferroni(
    mini: Project, make_dataset: MakeDataset
) -> None:
    data, pred = _lit(make_dataset, night_found=8)
    result = evaluate_requirement(
        requirement(across=["lighting"], metric="f1", threshold=0.5), data, pred, classes=CLASSES
    )
    stated = across_statement(result)
    assert stated is not None
    assert stated["correction"] == "Bonferroni across slices"


# -- the precondition in a judged requirement ---------------------------------------------------


def test_a_precondition_chooses_the_samples_a_metric_counts(
    mini: Project, make_dataset: MakeDataset
) -> None:
    data, pred = _lit(make_dataset, night_found=0)
    day_only = requirement(
        kind="performance", precondition=[{"column": "lighting", "eq": "day"}], threshold=0.6
    )
    result = evaluate_requirement(day_only, data, pred, classes=CLASSES)
    (only,) = result.slices
    assert (only.successes, only.trials) == (10, 10)  # the night misses are not counted
    assert result.verdict == "pass"
    assert result.resolved["precondition"] == {
        "terms": [{"column": "lighting", "eq": "day"}],
        "unit": "samples",
        "kept": 10,
        "excluded": 10,
        "missing": 0,
    }
    # without one, the record says nothing about preconditions
    plain = evaluate_requirement(requirement(kind="performance"), data, pred, classes=CLASSES)
    assert "precondition" not in plain.resolved


def test_the_precondition_and_across_compose(mini: Project, make_dataset: MakeDataset) -> None:
    sizes = [20.0] * 10 + [70.0] * 10
    data = make_dataset(["positive"] * 20, sizes, ["day", "night"] * 10)
    pred = predictions(["positive"] * 20)
    small_only = requirement(
        across=["lighting"], precondition=[{"column": "size_mm", "lt": 50.0}], threshold=0.1
    )
    result = evaluate_requirement(small_only, data, pred, classes=CLASSES)
    assert [(s.slice, s.trials) for s in result.slices] == [
        ("lighting=day", 5),
        ("lighting=night", 5),
    ]


# -- the confidence level --------------------------------------------------------------------


def test_the_project_default_is_the_level_where_the_requirement_states_none(
    mini: Project, make_dataset: MakeDataset
) -> None:
    own = requirement(kind="performance")
    assert own.effective_confidence == 0.95
    assert not own.confidence_defaulted
    assert own.with_defaults(confidence=0.8).effective_confidence == 0.95  # its own wins
    bare = requirement(kind="performance", confidence=None)
    assert bare.effective_confidence is None
    with pytest.raises(ProblemError) as caught:
        confidence_of(bare)
    assert caught.value.diagnostic.code == "Q020"  # never a level made up by the check
    defaulted = bare.with_defaults(confidence=0.8)
    assert defaulted.effective_confidence == 0.8
    assert defaulted.confidence_defaulted
    # the default is no part of what the requirement says: its hash is unchanged
    assert canonical_hash(defaulted) == canonical_hash(bare)
    data, pred = _lit(make_dataset, night_found=10)
    result = evaluate_requirement(defaulted, data, pred, classes=CLASSES)
    assert result.resolved["confidence"] == 0.8


def test_a_metric_plug_in_judged_at_another_level_is_caught(
    mini: Project, make_dataset: MakeDataset
) -> None:
    data, pred = _lit(make_dataset, night_found=10)
    defaulted = requirement(kind="performance", confidence=None).with_defaults(confidence=0.8)
    result = evaluate_requirement(defaulted, data, pred, classes=CLASSES)
    assert result_problems(get_metric("recall"), defaulted, result) == []
    result.resolved["confidence"] = 0.95  # a plug-in that fell back on a level of its own
    assert result_problems(get_metric("recall"), defaulted, result) == [
        "the metric's result is judged at confidence 0.95, not 0.8"
    ]


def test_new_fields_left_unset_leave_the_requirement_hash_alone() -> None:
    plain = requirement()
    dumped = plain.model_dump(mode="json", by_alias=True)
    assert "across" not in dumped
    assert "precondition" not in dumped
    assert canonical_hash(plain) == canonical_hash(dumped)
    with_terms = requirement(precondition=[{"column": "ttc_s", "lt": 4.0}])
    assert canonical_hash(with_terms) != canonical_hash(plain)
    assert canonical_hash(requirement(across=["size"])) != canonical_hash(plain)
