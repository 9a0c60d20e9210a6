from __future__ import annotations

import numpy as np
from check_factory import MakeDataset

from amlas.checks import OUTSIDE, band_labels, plan_slices
from amlas.project import Project
from amlas.project.artefacts import CategoricalDimension, NumericDimension, Slice


def _numeric() -> NumericDimension:
    return NumericDimension.model_validate(
        {
            "id": "size",
            "name": "Size",
            "kind": "numeric",
            "unit": "mm",
            "min": 0,
            "max": 100,
            "bands": [
                {"name": "small", "min": 0, "max": 40},
                {"name": "large", "min": 60, "max": 100},
            ],
        }
    )


def test_numeric_bands_are_half_open_and_the_last_includes_the_maximum() -> None:
    values = np.array([0.0, 39.999, 40.0, 50.0, 60.0, 100.0, 100.01, -1.0, np.nan])
    labels = band_labels(values, _numeric())
    assert labels.tolist() == [
        "small",
        "small",
        "",  # inside the range, in the gap between bands
        "",
        "large",
        "large",  # the maximum belongs to the band that ends there
        OUTSIDE,
        OUTSIDE,
        OUTSIDE,  # NaN is never inside the ODD
    ]


def test_categories_outside_the_declared_set_are_outside() -> None:
    dimension = CategoricalDimension.model_validate(
        {"id": "light", "name": "Light", "kind": "categorical", "values": ["day", "night"]}
    )
    labels = band_labels(np.array(["day", "dusk", "night", ""]), dimension)
    assert labels.tolist() == ["day", OUTSIDE, "night", OUTSIDE]


def test_per_slices_cover_every_declared_combination_even_empty_ones(
    mini: Project, make_dataset: MakeDataset
) -> None:
    data = make_dataset(["positive"] * 4, [10.0, 20.0, 70.0, 150.0], ["day", "day", "day", "night"])
    assert mini.environment is not None
    plan = plan_slices(Slice(per=["size", "lighting"]), data.odd_codes, mini.environment, len(data))
    assert plan.names == [
        "size=small, lighting=day",
        "size=small, lighting=night",
        "size=large, lighting=day",
        "size=large, lighting=night",
    ]
    # the 150 mm sample is outside the ODD and belongs to no slice
    assert plan.codes.tolist() == [0, 0, 2, -1]
    assert plan.outside_odd == 1
    assert plan.counts(np.ones(4, dtype=bool)).tolist() == [2, 0, 1, 0]


def test_where_restricts_the_population_and_the_per_bands(
    mini: Project, make_dataset: MakeDataset
) -> None:
    data = make_dataset(["positive"] * 3, [10.0, 70.0, 80.0], ["day", "night", "day"])
    assert mini.environment is not None
    applies = Slice(where={"lighting": ["day"]}, per=["size"])
    plan = plan_slices(applies, data.odd_codes, mini.environment, len(data))
    assert plan.names == ["size=small", "size=large"]
    assert plan.codes.tolist() == [0, -1, 1]
    whole = plan_slices(Slice(), data.odd_codes, mini.environment, len(data))
    assert whole.names == ["all"]
    assert whole.codes.tolist() == [0, 0, 0]


def test_integer_categories_stored_as_floats_match() -> None:
    """Found by review: a float column (1.0) never matched category '1'; NaN is outside."""
    dimension = CategoricalDimension.model_validate(
        {"id": "lane", "name": "Lane", "kind": "categorical", "values": ["1", "2", "nan"]}
    )
    labels = band_labels(np.array([1.0, 2.0, 3.0, np.nan]), dimension)
    assert labels.tolist() == ["1", "2", OUTSIDE, OUTSIDE]
