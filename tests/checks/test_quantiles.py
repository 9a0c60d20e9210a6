"""Quantiles (e.g. of absolute errors): exact order-statistic bounds with no distribution
assumed, their duality with the binomial test, Holm across slices, coverage."""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
from coverage import assert_covers, covers
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from amlas.checks import decide_slices, required_samples
from amlas.checks._quantiles import decide_quantiles, quantile_upper_bound
from amlas.errors import ValueProblem

quantiles = st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99])
levels = st.sampled_from([0.8, 0.9, 0.95, 0.99])
# whole numbers, so that ties with each other and with the threshold are common
samples = st.lists(st.integers(min_value=0, max_value=30), min_size=0, max_size=300)


def test_the_numbers_a_reviewer_can_check_by_hand() -> None:
    # n = 59, q = 0.95: P(B <= 58) = 1 - 0.95^59 = 0.9515 >= 0.95, so the maximum bounds
    # the 95th percentile; one value fewer and nothing does (1 - 0.95^58 = 0.9490)
    x = np.arange(1.0, 60.0)
    assert quantile_upper_bound(x, 0.95) == (57.0, 59.0, 59)
    assert quantile_upper_bound(x[:58], 0.95).bound == math.inf
    assert quantile_upper_bound(x[:58], 0.95).rank == 59
    # the median of 10 values at 95%: P(B(10, 0.5) <= 7) = 0.9453, P(B <= 8) = 0.9893
    ten = np.arange(10.0)
    assert quantile_upper_bound(ten, 0.5) == (4.0, 8.0, 9)
    assert stats.binom.cdf(7, 10, 0.5) < 0.95 <= stats.binom.cdf(8, 10, 0.5)


@settings(max_examples=150)
@given(st.integers(min_value=1, max_value=2000), quantiles, levels)
def test_rank_is_the_smallest_binomial_rank(n: int, q: float, c: float) -> None:
    x = np.arange(n, dtype=np.float64)
    estimate, bound, k = quantile_upper_bound(x, q, confidence=c)
    assert estimate == x[math.ceil(n * q) - 1]
    if k <= n:
        assert stats.binom.cdf(k - 1, n, q) >= c - 1e-12
        assert bound == x[k - 1]
        assert bound >= estimate
    else:
        assert bound == math.inf
        assert n < required_samples(q, confidence=c)  # type: ignore[operator]
    if k >= 2:
        assert stats.binom.cdf(k - 2, n, q) < c + 1e-12


@settings(max_examples=300)
@given(samples, quantiles, levels, st.integers(min_value=-1, max_value=31))
def test_single_slice_verdict_is_the_bound_rule(
    values: list[int], q: float, c: float, t: int
) -> None:
    """Pass exactly when the upper bound is at or below the threshold; fail exactly when
    the lower bound (the same rule mirrored) lies above it, ties included."""
    x = np.array(values, dtype=np.float64)
    (d,) = decide_quantiles([x], q=q, threshold=t, confidence=c)
    bound = quantile_upper_bound(x, q, confidence=c).bound
    assert d.bound == bound
    assert (d.verdict == "pass") == (bound <= t)
    (mirror,) = decide_quantiles([-x], q=1 - q, threshold=-t, comparison="at_least", confidence=c)
    assert (mirror.p_pass, mirror.p_fail) == pytest.approx((d.p_pass, d.p_fail))
    assert mirror.verdict == d.verdict
    if d.verdict == "fail":
        assert d.interval.upper == bound
        assert -mirror.bound == pytest.approx(bound) or not math.isfinite(bound)


def test_the_test_is_the_clopper_pearson_test_of_the_share_within() -> None:
    rng = np.random.default_rng(5)
    slices = [np.abs(rng.normal(0, s, size=n)) for s, n in ((0.2, 300), (0.3, 80), (0.6, 150))]
    decisions = decide_quantiles(slices, q=0.9, threshold=0.5)
    within = [(int(np.sum(x <= 0.5)), len(x)) for x in slices]
    proportions = decide_slices(within, threshold=0.9, comparison="at_least")
    for d, p in zip(decisions, proportions, strict=True):
        assert (d.verdict, d.p_pass, d.p_fail) == (p.verdict, p.p_pass, p.p_fail)
        assert (d.successes, d.trials) == (p.successes, p.trials)
        assert d.additional_samples == p.additional_samples
    assert [d.verdict for d in decisions] == ["pass", "inconclusive", "fail"]
    assert "Holm-adjusted over 3 slices" in decisions[0].reason
    assert "0.9-quantile <= 0.5" in decisions[0].reason
    assert "order statistic" in decisions[1].reason
    assert "misses 0.5" in decisions[2].reason


def test_too_few_values_and_empty_slices() -> None:
    few, empty, hopeless = decide_quantiles(
        [np.zeros(20), np.zeros(0), np.ones(10)], q=0.95, threshold=0.5
    )
    assert few.verdict == "inconclusive"
    assert few.bound == math.inf
    assert "at least 59 are needed" in few.reason
    # at Holm's first step over 3 slices (alpha / 3), 80 values all within decide
    assert few.additional_samples == 80 - 20
    assert required_samples(0.95, confidence=1 - 0.05 / 3) == 80
    assert empty.verdict == "inconclusive"
    assert empty.estimate is None
    assert "empty slice" in empty.reason
    # no upper bound exists, yet the lower one shows the quantile above the threshold
    assert hopeless.verdict == "fail"
    assert "misses 0.5" in hopeless.reason


# -- coverage -------------------------------------------------------------------------------

DRAWS = 20_000


@pytest.mark.parametrize(
    ("name", "distribution"),
    [
        ("half-normal", stats.halfnorm(scale=0.3)),
        ("exponential", stats.expon(scale=2.0)),
        ("poisson (ties)", stats.poisson(1.5)),
    ],
)
@pytest.mark.parametrize(("q", "n"), [(0.9, 40), (0.95, 200), (0.5, 25)])
def test_simulated_coverage_of_the_order_statistic_bound(
    name: str, distribution: stats.rv_frozen, q: float, n: int
) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{name} {q} {n}".encode()))
    truth = float(distribution.ppf(q))
    data = np.sort(distribution.rvs(size=(DRAWS, n), random_state=rng), axis=1)
    _, _, k = quantile_upper_bound(np.arange(n, dtype=np.float64), q)  # k depends on n, q only
    assert k <= n
    covered = int(np.sum(data[:, k - 1] >= truth))
    assert_covers(covered, DRAWS, 0.95, f"{name}, q={q}, n={n}")
    if "ties" not in name:
        # the check can fail: the sample quantile taken as the bound covers far too rarely
        # (with atoms it lands on the true quantile too often for this to show)
        naive = data[:, math.ceil(n * q) - 1]
        assert not covers(int(np.sum(naive >= truth)), DRAWS, 0.95)


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "code", "words"),
    [
        (lambda: quantile_upper_bound([1.0, math.nan], 0.9), "R091", "NaN or infinite"),
        (lambda: quantile_upper_bound([[1.0, 2.0]], 0.9), "R091", "shape (1, 2)"),
        (lambda: quantile_upper_bound(["a", "b"], 0.9), "R091", "dtype <U1"),
        (lambda: quantile_upper_bound([1.0], 1.0), "R093", "q=1.0"),
        (lambda: quantile_upper_bound([1.0], 0.9, confidence=0.0), "R093", "confidence=0.0"),
        (lambda: decide_quantiles([[1.0]], q=0.9, threshold=math.nan), "R093", "threshold=nan"),
        (
            lambda: decide_quantiles([[1.0]], q=0.9, threshold=1.0, comparison="below"),  # type: ignore[arg-type]
            "R093",
            "comparison='below'",
        ),
        (lambda: decide_quantiles([[1.0], [math.inf]], q=0.9, threshold=1.0), "R091", "slice 1"),
    ],
)
def test_bad_input_is_a_coded_problem(call: object, code: str, words: str) -> None:
    with pytest.raises(ValueProblem) as raised:
        call()  # type: ignore[operator]
    assert raised.value.diagnostic.code == code
    assert words in str(raised.value)
