"""Band ends declared inclusive or exclusive, and named bandings of one dimension: a value
exactly on a boundary lands in the band whose end holds it, both ways, wherever a value
meets a band (metric slices, data rules, a detector's objects, the runtime monitor)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from check_factory import dataset_maker

from amlas.adapters import Table
from amlas.checks import OUTSIDE, band_codes, band_labels, plan_slices, run_data_rule
from amlas.checks._outputs import truth_boxes
from amlas.monitor import odd_membership
from amlas.project import Project, check_project
from amlas.project.artefacts import (
    DataRequirement,
    NumericDimension,
    OperatingEnvironment,
    Slice,
)
from amlas.project.artefacts.outputs import ObjectTable
from factory import documents, write_project

# The factory's 'size' (0-100 mm, default bands small [0, 50) and large [50, 100]) with
# two named bandings: 'halves' puts 50 in the lower half (the other way from the default
# bands), 'fine' closes 25 into its first band and opens its second band there.
HALVES = [
    {"name": "lower", "min": 0, "max": 50, "max_inclusive": True},
    {"name": "upper", "min": 50, "max": 100, "min_inclusive": False},
]
FINE = [
    {"name": "f0", "min": 0, "max": 25, "max_inclusive": True},
    {"name": "f1", "min": 25, "max": 50, "min_inclusive": False},
    {"name": "f2", "min": 50, "max": 100},
]


def _distance(**bandings: list[dict[str, Any]]) -> NumericDimension:
    return NumericDimension.model_validate(
        {
            "id": "distance",
            "name": "Distance",
            "kind": "numeric",
            "unit": "m",
            "min": 0,
            "max": 120,
            "bands": [
                {"name": "near", "min": 0, "max": 50},
                {"name": "mid", "min": 50, "max": 80},
                {"name": "far", "min": 80, "max": 120},
            ],
            "bandings": bandings,
        }
    )


WITHIN_80 = [  # "within 80 m" holds 80 m
    {"name": "within-80", "min": 0, "max": 80, "max_inclusive": True},
    {"name": "beyond-80", "min": 80, "max": 120, "min_inclusive": False},
]


def test_a_value_on_a_boundary_lands_in_the_band_whose_end_holds_it_both_ways() -> None:
    dimension = _distance(requirements=WITHIN_80)
    values = np.array([0.0, 50.0, 79.999, 80.0, 80.001, 120.0])
    # default bands: [0, 50) [50, 80) [80, 120]: 80 m opens 'far'
    assert band_labels(values, dimension).tolist() == ["near", "mid", "mid", "far", "far", "far"]
    # the same values in 'requirements': [0, 80] (80, 120]: 80 m closes 'within-80'
    assert band_labels(values, dimension, "requirements").tolist() == [
        "within-80",
        "within-80",
        "within-80",
        "within-80",
        "beyond-80",
        "beyond-80",
    ]


def test_open_ends_at_the_range_leave_the_end_inside_the_odd_but_in_no_band() -> None:
    open_ends = [
        {"name": "a", "min": 0, "max": 60, "min_inclusive": False},
        {"name": "b", "min": 60, "max": 120, "max_inclusive": False},
    ]
    dimension = _distance(open=open_ends)
    labels = band_labels(np.array([0.0, 0.001, 60.0, 119.99, 120.0, 120.01]), dimension, "open")
    assert labels.tolist() == ["", "a", "b", "b", "", OUTSIDE]


@pytest.mark.parametrize(
    ("first", "second", "overlap"),
    [
        ({"max_inclusive": True}, {"min_inclusive": False}, False),  # [0,80] (80,120]
        ({"max_inclusive": True}, {}, True),  # [0,80] [80,120]: both hold 80
        ({}, {}, False),  # [0,80) [80,120]
        ({}, {"min_inclusive": False}, False),  # [0,80) (80,120]: 80 in no band
    ],
)
def test_overlap_respects_the_ends(
    first: dict[str, Any], second: dict[str, Any], overlap: bool
) -> None:
    bands = [
        {"name": "a", "min": 0, "max": 80, **first},
        {"name": "b", "min": 80, "max": 120, **second},
    ]
    if overlap:
        with pytest.raises(ValueError, match=r"'a' \[0, 80\] and 'b' \[80, 120\] overlap"):
            _distance(x=bands)
    else:
        _distance(x=bands)


def _old_band_codes(numbers: np.ndarray, dimension: NumericDimension) -> np.ndarray:
    """band_codes as it was before band ends could be declared (the regression oracle)."""
    codes = np.full(numbers.shape, -1, dtype=np.int64)
    order = sorted(range(len(dimension.bands)), key=lambda i: dimension.bands[i].min)
    starts = np.array([dimension.bands[i].min for i in order])
    ends = np.array([dimension.bands[i].max for i in order])
    closed = ends == dimension.max
    position = np.searchsorted(starts, numbers, side="right") - 1
    safe = np.clip(position, 0, len(order) - 1)
    below_end = np.where(closed[safe], numbers <= ends[safe], numbers < ends[safe])
    hit = (position >= 0) & below_end
    codes[hit] = np.array(order, dtype=np.int64)[safe[hit]]
    codes[~((numbers >= dimension.min) & (numbers <= dimension.max))] = -2
    return codes


@pytest.mark.parametrize("seed", range(20))
def test_bands_that_state_no_ends_slice_exactly_as_before(seed: int) -> None:
    rng = np.random.default_rng(seed)
    cuts = np.unique(rng.integers(0, 101, 8)).astype(float)
    pairs = [(a, b) for a, b in itertools.pairwise(cuts) if rng.random() < 0.7]
    if not pairs:
        pairs = [(0.0, 100.0)]
    rng.shuffle(pairs)  # declared in any order
    dimension = NumericDimension.model_validate(
        {
            "id": "x",
            "name": "X",
            "kind": "numeric",
            "unit": "u",
            "min": 0,
            "max": 100,
            "bands": [{"name": f"b{i}", "min": a, "max": b} for i, (a, b) in enumerate(pairs)],
        }
    )
    values = np.r_[cuts, cuts + 1e-9, cuts - 1e-9, rng.uniform(-5, 105, 200), np.nan, 100.0]
    assert band_codes(values, dimension).tolist() == _old_band_codes(values, dimension).tolist()


# -- through a project: metric slices, data rules -------------------------------------------


@pytest.fixture(scope="module")
def banded(tmp_path_factory: pytest.TempPathFactory) -> Project:
    docs = documents()
    size = docs["B"]["dimensions"][0]
    size["bandings"] = {"halves": HALVES, "fine": FINE}
    docs["H"]["requirements"][0]["applies_to"] = {
        "per": ["size"],
        "where": {"lighting": ["day", "night"]},
        "banding": {"size": "fine"},
    }
    root = write_project(Path(tmp_path_factory.mktemp("banded")) / "p", docs)
    result = check_project(root)
    assert not result.diagnostics.has_errors, [d.format() for d in result.diagnostics]
    return result.project


def test_slices_read_a_dimension_in_the_banding_the_requirement_names(banded: Project) -> None:
    data = dataset_maker(banded)(
        ["positive"] * 6, [25.0, 25.01, 50.0, 50.01, 100.0, 0.0], ["day"] * 6
    )
    assert banded.environment is not None
    env = banded.environment
    default = plan_slices(Slice(per=["size"]), data.odd_codes, env, len(data), data.banded_codes)
    assert default.names == ["size=small", "size=large"]
    assert default.codes.tolist() == [0, 0, 1, 1, 1, 0]  # 50 opens 'large'
    halves = data.plan(Slice(per=["size"], banding={"size": "halves"}))
    assert halves.names == ["size=lower", "size=upper"]
    assert halves.codes.tolist() == [0, 0, 0, 1, 1, 0]  # 50 closes 'lower'
    fine = data.plan(Slice(where={"size": ["f1", "f2"]}, banding={"size": "fine"}))
    assert fine.codes.tolist() == [-1, 0, 0, 0, 0, -1]  # 25 is f0's, 25.01 f1's
    # the requirement's own slice, as the metric checks read it
    requirement = banded.ml_requirements.requirements[0]  # type: ignore[union-attr]
    judged = data.plan(requirement.applies_to)
    assert judged.names == ["size=f0", "size=f1", "size=f2"]
    assert judged.codes.tolist() == [0, 1, 2, 2, 2, 0]


def test_a_slice_naming_no_such_banding_is_refused(banded: Project) -> None:
    data = dataset_maker(banded)(["positive"], [10.0], ["day"])
    with pytest.raises(KeyError, match="no banding 'coarse'"):
        data.plan(Slice(per=["size"], banding={"size": "coarse"}))


def _rule(check: dict[str, Any], category: str) -> DataRequirement:
    return DataRequirement.model_validate(
        {"id": "DR-9", "category": category, "text": "t", "rule": check}
    )


def test_data_rules_count_boundary_samples_in_the_named_banding(banded: Project) -> None:
    data = dataset_maker(banded)(["positive"] * 5, [50.0, 50.0, 50.0, 75.0, 25.0], ["day"] * 5)
    cells = {"check": "min_samples_per_cell", "dimensions": ["size"], "min_samples": 1}
    default = run_data_rule(banded, _rule(cells, "completeness"), data)
    assert {r["cell"]: r["samples"] for r in default.results} == {
        "size=small": 1,
        "size=large": 4,
    }
    assert "banding" not in default.resolved  # a rule without one records what it did
    halves = run_data_rule(
        banded, _rule({**cells, "banding": {"size": "halves"}}, "completeness"), data
    )
    assert {r["cell"]: r["samples"] for r in halves.results} == {
        "size=lower": 4,
        "size=upper": 1,
    }
    assert halves.resolved["banding"] == {"size": "halves"}
    assert "(banding size: halves)" in halves.summary
    balance = {"check": "slice_balance", "dimension": "size", "min_fraction": 0.1}
    fine = run_data_rule(banded, _rule({**balance, "banding": "fine"}, "balance"), data)
    assert [(r["band"], r["samples"]) for r in fine.results] == [("f0", 1), ("f1", 0), ("f2", 4)]
    assert fine.verdict == "fail"
    assert "size (banding 'fine') bands" in fine.summary


def test_k_from_a_requirement_counts_the_slices_of_its_banding(banded: Project) -> None:
    data = dataset_maker(banded)(["positive"] * 3, [10.0, 30.0, 70.0], ["day"] * 3)
    check = {"check": "min_samples_per_cell", "dimensions": ["size"], "from_requirement": "MLR-1"}
    outcome = run_data_rule(banded, _rule(check, "completeness"), data)
    assert "Holm over 3 slices" in outcome.resolved["k_derivation"]  # f0, f1, f2


# -- a detector's objects, the runtime monitor ----------------------------------------------


def test_a_detectors_objects_land_in_bands_by_their_own_value() -> None:
    environment = OperatingEnvironment.model_validate(
        {
            "artefact": "B",
            "version": "1",
            "description": "road",
            "dimensions": [_distance(requirements=WITHIN_80).model_dump(by_alias=True)],
        }
    )
    objects = Table(
        {
            "sample_id": np.array(["i1", "i1", "i2", "i2"], dtype=np.str_),
            "class": np.array(["pedestrian"] * 4, dtype=np.str_),
            "x": np.zeros(4),
            "y": np.zeros(4),
            "w": np.full(4, 10.0),
            "h": np.full(4, 20.0),
            "distance_m": np.array([79.5, 80.0, 80.5, 50.0]),
        },
        sha256="0" * 64,
        source="objects.csv",
    )
    spec = ObjectTable(location="objects.csv", odd_columns={"distance": "distance_m"})
    truth = truth_boxes(
        objects,
        spec,
        ids=np.array(["i1", "i2"], dtype=np.str_),
        classes=["pedestrian"],
        image_odd={},
        environment=environment,
        arrays={},
    )
    by_default = truth.plan(Slice(per=["distance"]), environment)
    assert by_default.codes.tolist() == [1, 2, 2, 1]  # mid, far (80 opens far), far, mid
    within = truth.plan(Slice(per=["distance"], banding={"distance": "requirements"}), environment)
    assert within.names == ["distance=within-80", "distance=beyond-80"]
    assert within.codes.tolist() == [0, 0, 1, 0]  # 80 m is within 80 m


def test_the_monitor_takes_the_range_ends_as_inside_whatever_the_bands_hold() -> None:
    open_ends = [
        {"name": "a", "min": 0, "max": 60, "min_inclusive": False},
        {"name": "b", "min": 60, "max": 120, "max_inclusive": False},
    ]
    dimension = _distance(open=open_ends).model_copy(
        update={"bands": _distance(open=open_ends).bandings["open"]}
    )
    found = odd_membership([dimension], {"distance": [0.0, 120.0, 120.5, None]}, 4)
    assert found.inside.tolist() == [True, True, False, False]


def test_objects_take_their_images_bands_in_every_banding() -> None:
    dimension = _distance(requirements=WITHIN_80)
    environment = OperatingEnvironment.model_validate(
        {
            "artefact": "B",
            "version": "1",
            "description": "road",
            "dimensions": [dimension.model_dump(by_alias=True)],
        }
    )
    image_values = np.array([80.0, 100.0])  # the images' distance (an image-level value)
    objects = Table(
        {
            "sample_id": np.array(["i1", "i2", "i1"], dtype=np.str_),
            "class": np.array(["pedestrian"] * 3, dtype=np.str_),
            "x": np.zeros(3),
            "y": np.zeros(3),
            "w": np.full(3, 10.0),
            "h": np.full(3, 20.0),
        },
        sha256="0" * 64,
        source="objects.csv",
    )
    truth = truth_boxes(
        objects,
        ObjectTable(location="objects.csv"),
        ids=np.array(["i1", "i2"], dtype=np.str_),
        classes=["pedestrian"],
        image_odd={"distance": band_codes(image_values, dimension)},
        image_banded={
            "distance": {"requirements": band_codes(image_values, dimension, "requirements")}
        },
        environment=environment,
        arrays={},
    )
    assert truth.codes_in("distance").tolist() == [2, 2, 2]  # far, far, far
    assert truth.codes_in("distance", "requirements").tolist() == [0, 1, 0]  # 80 m is within


def test_the_range_ends_are_inside_the_odd_whatever_the_bands_hold(banded: Project) -> None:
    data = dataset_maker(banded)(["positive"] * 3, [0.0, 100.0, 100.5], ["day"] * 3)
    check = {"check": "within_odd", "dimensions": ["size"]}
    outcome = run_data_rule(banded, _rule(check, "relevance"), data)
    assert outcome.results[0]["failing_ids"] == ["O-2"]  # only 100.5 mm lies outside


@pytest.mark.parametrize("seed", range(30))
def test_band_codes_agree_with_the_ends_value_by_value(seed: int) -> None:
    """Any declared ends: the vectorised assignment is the definition applied one value at
    a time (a value lies in the band whose ends hold it; no band shares a value)."""
    rng = np.random.default_rng(100 + seed)
    cuts = np.unique(rng.integers(0, 41, 7)).astype(float)
    bands = []
    for i, (a, b) in enumerate(itertools.pairwise(cuts)):
        if rng.random() < 0.8:
            flags = {
                "min_inclusive": bool(rng.random() < 0.5),
                "max_inclusive": bool(rng.random() < 0.5),
            }
            bands.append({"name": f"b{i}", "min": a, "max": b, **flags})
    for before, after in itertools.pairwise(bands):  # never share a value
        if before["max"] == after["min"] and before["max_inclusive"] and after["min_inclusive"]:
            after["min_inclusive"] = False
    dimension = NumericDimension.model_validate(
        {
            "id": "x",
            "name": "X",
            "kind": "numeric",
            "unit": "u",
            "min": 0,
            "max": 40,
            "bands": bands[::-1],
        }
    )
    values = np.r_[np.arange(-1.0, 41.5, 0.5), np.nan]
    expected = []
    for v in values:
        if not 0 <= v <= 40:
            expected.append(-2)
            continue
        found = -1
        for index, band in enumerate(dimension.bands):
            low, high = band.ends(dimension.max)
            if (v > band.min or (low and v == band.min)) and (
                v < band.max or (high and v == band.max)
            ):
                found = index
        expected.append(found)
    assert band_codes(values, dimension).tolist() == expected
