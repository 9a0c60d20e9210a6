"""A slicing planned through one table of band combinations (the way a plan is made when
the table is small) assigns every sample the slice, and counts the samples left out,
exactly as the plan made dimension by dimension does (issue 16)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amlas.checks import _slices, plan_slices
from amlas.project.artefacts import OperatingEnvironment, Slice

ENVIRONMENT = OperatingEnvironment.model_validate(
    {
        "artefact": "B",
        "version": "1",
        "description": "three dimensions, one with a named banding",
        "dimensions": [
            {
                "id": "distance",
                "name": "distance",
                "kind": "numeric",
                "unit": "m",
                "min": 0,
                "max": 120,
                "bands": [
                    {"name": "near", "min": 0, "max": 50},
                    {"name": "mid", "min": 50, "max": 80},
                    {"name": "far", "min": 80, "max": 120},
                ],
                "bandings": {
                    "halves": [
                        {"name": "lower", "min": 0, "max": 60},
                        {"name": "upper", "min": 60, "max": 120},
                    ]
                },
            },
            {
                "id": "light",
                "name": "light",
                "kind": "categorical",
                "values": ["day", "dusk", "night"],
            },
            {"id": "rain", "name": "rain", "kind": "categorical", "values": ["dry", "wet"]},
        ],
    }
)
BANDS = {
    "distance": ["near", "mid", "far"],
    "light": ["day", "dusk", "night"],
    "rain": ["dry", "wet"],
}
HALVES = ["lower", "upper"]


@st.composite
def slicings(draw: Any) -> tuple[Slice, bool]:
    per = draw(st.lists(st.sampled_from(list(BANDS)), unique=True, max_size=3))
    halves = "distance" in per and draw(st.booleans())
    where = {}
    for dim in draw(st.lists(st.sampled_from(list(BANDS)), unique=True, max_size=2)):
        bands = HALVES if dim == "distance" and halves else BANDS[dim]
        where[dim] = draw(st.lists(st.sampled_from([*bands, "absent"]), min_size=1, max_size=3))
    if draw(st.booleans()) and "distance" in where and "distance" not in per:
        halves = True
        where["distance"] = draw(st.lists(st.sampled_from(HALVES), min_size=1, max_size=2))
    banding = {"distance": "halves"} if halves else {}
    return Slice(per=per, where=where, banding=banding), draw(st.booleans())


@settings(max_examples=300, deadline=None)
@given(drawn=slicings(), seed=st.integers(0, 2**32 - 1), n=st.integers(0, 60))
def test_the_table_plans_as_the_dimensions_do(drawn: tuple[Slice, bool], seed: int, n: int) -> None:
    applies_to, precondition = drawn
    rng = np.random.default_rng(seed)
    odd = {d: rng.integers(-2, len(v), n) for d, v in BANDS.items()}
    # a named banding agrees with the default bands on what lies outside the ODD
    halves = np.where(odd["distance"] == -2, -2, rng.integers(-1, 2, n))
    banded = {"distance": {"halves": halves}}
    keep = rng.random(n) < 0.8 if precondition else None
    tabled = plan_slices(applies_to, odd, ENVIRONMENT, n, banded, keep=keep)
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(_slices, "TABLED_COMBINATIONS", 0)
        direct = plan_slices(applies_to, odd, ENVIRONMENT, n, banded, keep=keep)
    assert (tabled.names, tabled.cells) == (direct.names, direct.cells)
    assert tabled.codes.dtype == direct.codes.dtype
    np.testing.assert_array_equal(tabled.codes, direct.codes)
    assert (tabled.outside_odd, tabled.unbanded) == (direct.outside_odd, direct.unbanded)
