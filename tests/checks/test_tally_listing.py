"""The ids a tally lists against a requirement are the first of each slice in dataset
order, however far into the samples the prefix read for them must grow (issue 16)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from amlas.checks._metrics import MAX_LISTED_IDS
from amlas.checks._tally import _OUTCOMES, _against, _Outcomes


@pytest.mark.parametrize("slices", [1, 3, 20])
def test_listed_ids_are_the_first_of_each_slice(slices: int) -> None:
    rng = np.random.default_rng(slices)
    n = 200_000
    group = rng.integers(-1, slices, n)
    outcome = rng.integers(0, 4, n)
    # outcome 5 is rare and lies mostly far beyond the first prefix; outcome 6 never occurs
    rare = rng.random(n) < np.linspace(0.0, 0.003, n)
    outcome[rare] = 5
    key = ((group + 1) * _OUTCOMES + outcome).astype(np.int16)
    counts = np.bincount(key, minlength=_OUTCOMES * (slices + 1)).reshape(-1, _OUTCOMES)[1:]
    outcomes = _Outcomes(key, counts.astype(np.int64))
    dataset = SimpleNamespace(ids=np.array([f"s-{i}" for i in range(n)], dtype=np.str_))
    for marked in ([2], [5], [6], [1, 5], [0, 1, 2, 3]):
        against_of = np.isin(np.arange(_OUTCOMES), marked)
        listed = _against(dataset, outcomes, against_of, slices)  # type: ignore[arg-type]
        for index in range(slices):
            members = np.flatnonzero((group == index) & np.isin(outcome, marked))
            assert listed[index] == [f"s-{i}" for i in members[:MAX_LISTED_IDS]]
