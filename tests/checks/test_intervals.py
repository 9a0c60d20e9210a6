"""The statistics behind every verdict: exact intervals, bound-based verdicts, Holm."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from amlas.checks import (
    bootstrap_interval,
    clopper_pearson,
    decide_proportion,
    decide_slices,
    holm_adjust,
    required_samples,
    samples_to_decide,
)
from amlas.checks._intervals import EXACT_SCAN, _p_arrays

counts = st.integers(min_value=1, max_value=400).flatmap(
    lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
)
levels = st.sampled_from([0.8, 0.9, 0.95, 0.99])
thresholds = st.floats(min_value=0.01, max_value=0.99)


@given(counts, levels)
def test_interval_contains_the_estimate_and_stays_in_range(kn: tuple[int, int], c: float) -> None:
    k, n = kn
    interval = clopper_pearson(k, n, confidence=c)
    assert 0.0 <= interval.lower <= k / n <= interval.upper <= 1.0


@given(counts, levels)
def test_interval_matches_beta_quantiles(kn: tuple[int, int], c: float) -> None:
    k, n = kn
    alpha = 1 - c
    two = clopper_pearson(k, n, confidence=c)
    expected_low = stats.beta.ppf(alpha / 2, k, n - k + 1) if k > 0 else 0.0
    expected_high = stats.beta.ppf(1 - alpha / 2, k + 1, n - k) if k < n else 1.0
    assert two.lower == pytest.approx(expected_low, abs=1e-9)
    assert two.upper == pytest.approx(expected_high, abs=1e-9)
    lower = clopper_pearson(k, n, confidence=c, sided="lower")
    assert lower.lower == pytest.approx(stats.beta.ppf(alpha, k, n - k + 1) if k else 0.0, abs=1e-9)
    assert lower.upper == 1.0


@pytest.mark.parametrize(("p", "n"), [(0.5, 20), (0.9, 50), (0.95, 120), (0.99, 300), (0.2, 7)])
def test_simulated_coverage_is_at_least_nominal(p: float, n: int) -> None:
    rng = np.random.default_rng(20261124)
    draws = rng.binomial(n, p, size=2000)
    values, times = np.unique(draws, return_counts=True)  # one interval per distinct count
    covered = 0
    for k, count in zip(values, times, strict=True):
        interval = clopper_pearson(int(k), n, confidence=0.95)
        covered += int(count) * (interval.lower <= p <= interval.upper)
    assert covered / 2000 >= 0.95


@settings(max_examples=200)
@given(counts, thresholds, levels, st.sampled_from(["at_least", "at_most"]))
def test_single_slice_verdict_is_the_bound_rule(
    kn: tuple[int, int], t: float, c: float, comparison: str
) -> None:
    k, n = kn
    d = decide_proportion(k, n, threshold=t, comparison=comparison, confidence=c)  # type: ignore[arg-type]
    lower = clopper_pearson(k, n, confidence=c, sided="lower").lower
    upper = clopper_pearson(k, n, confidence=c, sided="upper").upper
    eps = 1e-9
    if comparison == "at_least":
        if d.verdict == "pass":
            assert lower >= t - eps
        elif d.verdict == "fail":
            assert upper <= t + eps
        else:
            assert lower <= t + eps
            assert upper >= t - eps
    else:
        if d.verdict == "pass":
            assert upper <= t + eps
        elif d.verdict == "fail":
            assert lower >= t - eps
        else:
            assert upper >= t - eps
            assert lower <= t + eps
    assert d.estimate == pytest.approx(k / n)


@settings(max_examples=40, deadline=None)
@given(counts.filter(lambda kn: kn[1] <= 120), thresholds)
def test_more_successes_never_turn_a_pass_into_a_fail(kn: tuple[int, int], t: float) -> None:
    k, n = kn
    rank = {"fail": 0, "inconclusive": 1, "pass": 2}
    verdicts = [rank[decide_proportion(j, n, threshold=t).verdict] for j in range(k, n + 1)]
    assert verdicts == sorted(verdicts)


def test_the_numbers_a_clinician_would_check() -> None:
    assert required_samples(0.95, confidence=0.95) == 59
    assert decide_proportion(59, 59, threshold=0.95).verdict == "pass"
    too_few = decide_proportion(43, 43, threshold=0.95)
    assert too_few.verdict == "inconclusive"
    assert too_few.additional_samples == 16
    assert decide_proportion(30, 43, threshold=0.95).verdict == "fail"
    assert decide_proportion(0, 100, threshold=0.05, comparison="at_most").verdict == "pass"


def test_empty_slice_is_inconclusive_with_the_size_needed() -> None:
    d = decide_proportion(0, 0, threshold=0.95)
    assert d.verdict == "inconclusive"
    assert d.estimate is None
    assert "empty slice" in d.reason
    assert d.additional_samples == 59


def test_rate_on_the_threshold_never_decides() -> None:
    d = decide_proportion(95, 100, threshold=0.95)
    assert d.verdict == "inconclusive"
    assert d.additional_samples is None
    assert "more data will not decide" in d.reason


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=5, max_value=60), st.floats(min_value=0.5, max_value=0.97))
@example(n=31, t=0.96875)  # decides only after ~81,000 more: beyond the exact scan
def test_samples_to_decide_is_the_smallest_deciding_size(n: int, t: float) -> None:
    k = n - 1
    if decide_proportion(k, n, threshold=t).verdict != "inconclusive":
        return
    extra = samples_to_decide(k, n, threshold=t)
    if extra is None:
        assert math.isclose(k / n, t, abs_tol=1e-12)
        return
    rate = k / n
    total = n + extra
    at = decide_proportion(round(rate * total), total, threshold=t)
    assert at.verdict != "inconclusive"
    # the smallest: no size in between decides (deciding is not monotone in the size);
    # exact within the scanned range, beyond it a bisected size that decides
    if extra <= EXACT_SCAN:
        sizes = np.arange(n + 1, total)
        p_pass, p_fail = _p_arrays(np.round(rate * sizes).astype(np.int64), sizes, t, "at_least")
        assert (np.minimum(p_pass, p_fail) > 0.05).all()


def test_samples_to_decide_is_symmetric_and_minimal() -> None:
    """Found by review: the mirrored 'at most' question needs the same number of samples,
    and bisection had missed smaller deciding sizes."""
    assert samples_to_decide(50, 52, threshold=0.9) == 9
    assert samples_to_decide(2, 52, threshold=0.1, comparison="at_most") == 9
    assert samples_to_decide(3, 10, threshold=0.5) == 8


def test_holm_adjustment() -> None:
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([0.5]) == [0.5]
    assert holm_adjust([0.6, 0.6, 0.6]) == [1.0, 1.0, 1.0]


def test_slices_are_judged_under_family_wise_control() -> None:
    alone = decide_proportion(80, 80, threshold=0.95)
    assert alone.verdict == "pass"
    family = decide_slices([(80, 80), (20, 20), (20, 20), (20, 20)], threshold=0.95)
    assert family[0].p_pass >= alone.p_pass
    assert "Holm" in family[0].reason
    assert all(d.verdict == "inconclusive" for d in family[1:])


def test_bootstrap_is_seeded_and_sided() -> None:
    values = np.linspace(0.0, 1.0, 101)
    first = bootstrap_interval(values, np.mean, seed=7)
    assert first == bootstrap_interval(values, np.mean, seed=7)
    assert first.lower < 0.5 < first.upper
    upper_only = bootstrap_interval(values, np.mean, seed=7, sided="upper")
    assert upper_only.lower == -math.inf
    assert upper_only.upper < first.upper


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="confidence"):
        clopper_pearson(1, 2, confidence=1.0)
    with pytest.raises(ValueError, match="0 <= k <= n"):
        clopper_pearson(3, 2)
    with pytest.raises(ValueError, match="threshold"):
        decide_proportion(1, 2, threshold=1.5)


def test_bad_counts_are_refused_with_our_message_in_slices() -> None:
    with pytest.raises(ValueError, match="0 <= k <= n"):
        decide_slices([(5, 3)], threshold=0.9)
