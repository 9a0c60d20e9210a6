"""Count rates (events per unit of exposure): exact Garwood bounds, Poisson tests, Holm,
and the over-dispersion rule that keeps a too-narrow Poisson bound from being claimed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from coverage import assert_covers, covers
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from amlas.checks import holm_adjust
from amlas.checks._rates import (
    decide_rates,
    dispersion_index,
    dispersion_test,
    poisson_interval,
    required_exposure,
)
from amlas.errors import ValueProblem

events = st.integers(min_value=0, max_value=500)
exposures = st.floats(min_value=0.5, max_value=1e5)
levels = st.sampled_from([0.8, 0.9, 0.95, 0.99])
rates = st.floats(min_value=1e-4, max_value=5.0)


@given(events, exposures, levels)
def test_interval_is_the_chi_square_garwood_interval(k: int, e: float, c: float) -> None:
    alpha = 1 - c
    two = poisson_interval(k, e, confidence=c)
    low = stats.chi2.ppf(alpha / 2, 2 * k) / (2 * e) if k else 0.0
    high = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / (2 * e)
    assert two.lower == pytest.approx(low, rel=1e-9, abs=1e-300)
    assert two.upper == pytest.approx(high, rel=1e-9)
    assert two.lower <= k / e <= two.upper
    upper = poisson_interval(k, e, confidence=c, sided="upper")
    assert upper.lower == 0.0
    assert upper.upper == pytest.approx(stats.chi2.ppf(c, 2 * k + 2) / (2 * e), rel=1e-9)
    lower = poisson_interval(k, e, confidence=c, sided="lower")
    assert lower.upper == math.inf
    assert lower.lower == pytest.approx(stats.chi2.ppf(alpha, 2 * k) / (2 * e) if k else 0.0)


def test_the_numbers_a_reviewer_can_check_by_hand() -> None:
    # no event in E units: the upper bound is -ln(alpha) / E (the "rule of three")
    assert poisson_interval(0, 1.0, sided="upper").upper == pytest.approx(-math.log(0.05))
    assert poisson_interval(0, 100.0, sided="upper").upper == pytest.approx(0.0299573, rel=1e-5)
    assert poisson_interval(0, 1.0).upper == pytest.approx(-math.log(0.025))
    # Garwood's table: 1 event, two-sided 95%: [0.0253, 5.5716]
    one = poisson_interval(1, 1.0)
    assert (one.lower, one.upper) == pytest.approx((0.025318, 5.571643), rel=1e-5)
    assert poisson_interval(0, 0.0).upper == math.inf  # no exposure: nothing known
    assert required_exposure(0.01) == pytest.approx(299.573, rel=1e-5)
    assert required_exposure(0.01, comparison="at_least") is None
    assert required_exposure(0.0) is None


@settings(max_examples=200)
@given(events, exposures, rates, levels, st.sampled_from(["at_least", "at_most"]))
def test_single_slice_verdict_is_the_bound_rule(
    k: int, e: float, t: float, c: float, comparison: str
) -> None:
    (d,) = decide_rates([(k, e)], threshold=t, comparison=comparison, confidence=c)  # type: ignore[arg-type]
    upper = poisson_interval(k, e, confidence=c, sided="upper").upper
    lower = poisson_interval(k, e, confidence=c, sided="lower").lower
    eps = 1e-9 * max(t, 1e-9)
    if comparison == "at_most":
        if d.verdict == "pass":
            assert upper <= t + eps
        elif d.verdict == "fail":
            assert lower >= t - eps
        else:
            assert upper >= t - eps
            assert lower <= t + eps
    else:
        if d.verdict == "pass":
            assert lower >= t - eps
        elif d.verdict == "fail":
            assert upper <= t + eps
        else:
            assert lower <= t + eps
            assert upper >= t - eps
    pass_side = upper if comparison == "at_most" else lower
    assert d.bound == pytest.approx(pass_side)
    assert d.estimate == pytest.approx(k / e)
    mu = t * e
    at_most = (stats.poisson.cdf(k, mu), stats.poisson.sf(k - 1, mu))
    expected = at_most if comparison == "at_most" else at_most[::-1]
    assert (d.p_pass, d.p_fail) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_verdicts_and_reasons() -> None:
    passing, failing, open_ = decide_rates(
        [(0, 400.0), (9, 100.0), (1, 100.0)], threshold=0.02, comparison="at_most"
    )
    assert passing.verdict == "pass"
    assert "the 95% Garwood bound 0.007489 <= 0.02" in passing.reason
    assert "Holm-adjusted over 3 slices" in passing.reason
    assert failing.verdict == "fail"
    assert "misses 0.02" in failing.reason
    assert open_.verdict == "inconclusive"
    assert "cannot decide" in open_.reason
    assert open_.additional_exposure is not None
    assert open_.additional_exposure > 0
    assert "dispersion not tested" in passing.assumption
    assert "Poisson" in passing.assumption


def test_holm_across_slices_uses_the_exact_poisson_p_values() -> None:
    counts = [(0, 150.0), (3, 200.0), (1, 400.0), (12, 100.0)]
    decisions = decide_rates(counts, threshold=0.02, comparison="at_most")
    raw = [stats.poisson.cdf(k, 0.02 * e) for k, e in counts]
    assert [d.p_pass for d in decisions] == pytest.approx(holm_adjust(raw))
    alone = decide_rates(counts[:1], threshold=0.02)[0]
    assert alone.verdict == "pass"  # 0 in 150: bound 0.01997
    assert decisions[0].verdict == "inconclusive"  # not at the family's level
    assert decisions[0].p_pass >= alone.p_pass


def test_additional_exposure_reaches_the_bound_at_the_observed_rate() -> None:
    # no event yet: the exposure that shows the threshold with still no event
    (d,) = decide_rates([(0, 100.0)], threshold=0.01)
    assert d.additional_exposure == pytest.approx(-math.log(0.05) / 0.01 - 100.0, rel=1e-6)
    # a low rate: at E + more, the continuous Garwood bound of rate * (E + more) sits on t
    (d,) = decide_rates([(2, 300.0)], threshold=0.02)
    assert d.verdict == "inconclusive"
    assert d.additional_exposure is not None
    total = 300.0 + d.additional_exposure
    rate = 2 / 300
    assert stats.gamma.ppf(0.95, rate * total + 1) / total == pytest.approx(0.02, rel=1e-6)
    k_then = round(rate * total * 1.05)
    (later,) = decide_rates([(k_then, total * 1.05)], threshold=0.02)
    assert later.verdict == "pass"
    # a high rate decides 'fail' with more exposure; a rate on the threshold never decides
    (high,) = decide_rates([(3, 100.0)], threshold=0.02)
    assert high.verdict == "inconclusive"
    assert high.additional_exposure is not None
    assert high.additional_exposure > 0
    (flat,) = decide_rates([(2, 100.0)], threshold=0.02)
    assert flat.additional_exposure is None
    assert "more data will not decide" in flat.reason


def test_empty_slices_and_zero_thresholds() -> None:
    (empty,) = decide_rates([(0, 0.0)], threshold=0.01)
    assert empty.verdict == "inconclusive"
    assert empty.estimate is None
    assert "empty slice" in empty.reason
    assert empty.additional_exposure == pytest.approx(-math.log(0.05) / 0.01)
    (none_allowed,) = decide_rates([(1, 50.0)], threshold=0.0)
    assert none_allowed.verdict == "fail"  # any event disproves a rate of 0
    (at_least,) = decide_rates([(0, 0.0)], threshold=1.0, comparison="at_least")
    assert "takes events" in at_least.reason
    (shown,) = decide_rates([(30, 10.0)], threshold=1.0, comparison="at_least")
    assert shown.verdict == "pass"
    assert shown.interval.sided == "lower"


# -- coverage -------------------------------------------------------------------------------

DRAWS = 20_000


@pytest.mark.parametrize("rate", [0.003, 0.05, 0.8, 4.0])
@pytest.mark.parametrize("exposure", [40.0, 600.0])
def test_simulated_coverage_of_the_garwood_bounds(rate: float, exposure: float) -> None:
    rng = np.random.default_rng(20240514 + int(rate * 1000) + int(exposure))
    draws = rng.poisson(rate * exposure, size=DRAWS)
    values, times = np.unique(draws, return_counts=True)  # one bound per distinct count
    upper = np.array([poisson_interval(int(k), exposure, sided="upper").upper for k in values])
    lower = np.array([poisson_interval(int(k), exposure, sided="lower").lower for k in values])
    assert_covers(int(times[upper >= rate].sum()), DRAWS, 0.95, f"upper at {rate}/{exposure}")
    assert_covers(int(times[lower <= rate].sum()), DRAWS, 0.95, f"lower at {rate}/{exposure}")
    # the check can fail: the estimate itself, taken as a bound, covers far too rarely
    naive = values / exposure
    assert not covers(int(times[naive >= rate].sum()), DRAWS, 0.95)


def test_simulated_error_rate_of_the_verdicts() -> None:
    """At a true rate on the threshold, at most 5% of datasets may pass (and, at a rate
    just inside it, at most 5% may fail)."""
    rng = np.random.default_rng(7)
    threshold, exposure = 0.05, 400.0
    for rate, wrong_verdict in ((threshold, "pass"), (threshold * 0.999, "fail")):
        draws = rng.poisson(rate * exposure, size=DRAWS)
        values, times = np.unique(draws, return_counts=True)
        verdicts = [
            decide_rates([(int(k), exposure)], threshold=threshold)[0].verdict for k in values
        ]
        wrong = int(sum(t for t, v in zip(times, verdicts, strict=True) if v == wrong_verdict))
        assert_covers(DRAWS - wrong, DRAWS, 0.95, f"wrong {wrong_verdict}es at {rate}")


# -- dispersion -----------------------------------------------------------------------------


def test_dispersion_index_and_test_by_hand() -> None:
    x = np.array([0, 1, 0, 2, 0, 0, 5, 0])
    assert dispersion_index(x) == pytest.approx(np.var(x, ddof=1) / np.mean(x))
    test = dispersion_test(x)
    assert test.units == 8
    assert test.events == 8
    assert test.statistic == pytest.approx(7 * dispersion_index(x))
    assert test.p_value == pytest.approx(stats.chi2.sf(test.statistic, 7))
    assert test.overdispersed(0.95)
    # unequal exposures: Pearson's statistic about the common rate
    counts, hours = np.array([2, 0, 7, 1]), np.array([1.0, 2.0, 3.0, 0.5])
    rate = counts.sum() / hours.sum()
    pearson = np.sum((counts - rate * hours) ** 2 / (rate * hours))
    weighted = dispersion_test(counts, exposures=hours)
    assert weighted.statistic == pytest.approx(pearson)
    assert weighted.exposure == pytest.approx(6.5)
    # nothing to test
    assert math.isnan(dispersion_index([0, 0, 0]))
    assert dispersion_test([3]).p_value == 1.0
    assert not dispersion_test([0, 0]).overdispersed(0.95)


def test_dispersion_test_rejects_poisson_counts_at_about_its_level() -> None:
    rng = np.random.default_rng(11)
    rejections = sum(
        dispersion_test(rng.poisson(0.8, size=300)).overdispersed(0.95) for _ in range(400)
    )
    assert rejections / 400 <= 0.05 + 0.035  # 3 Monte Carlo standard errors


def test_overdispersed_counts_are_never_judged_on_the_poisson_bound() -> None:
    rng = np.random.default_rng(3)
    # most images clean, a few hard ones full of false positives: mean 0.01 per image
    hard = rng.random(3000) < 0.002
    clustered = np.where(hard, rng.poisson(5.0, size=3000), 0)
    test = dispersion_test(clustered)
    assert test.overdispersed(0.95)
    k, e = int(clustered.sum()), float(len(clustered))
    (poisson_only,) = decide_rates([(k, e)], threshold=0.02)
    assert poisson_only.verdict == "pass"  # what the Poisson model alone would claim
    (guarded,) = decide_rates([(k, e)], threshold=0.02, dispersion=[test])
    assert guarded.verdict == "inconclusive"
    assert "over-dispersed" in guarded.reason
    assert "share of units" in guarded.reason
    assert guarded.additional_exposure is None
    assert f"over {test.units} units" in guarded.assumption
    # Poisson counts pass the guard and keep their verdict
    tame = rng.poisson(0.005, size=3000)
    calm = dispersion_test(tame)
    assert not calm.overdispersed(0.95)
    (kept,) = decide_rates([(int(tame.sum()), 3000.0)], threshold=0.02, dispersion=[calm])
    assert kept.verdict == "pass"
    assert "index of dispersion" in kept.assumption
    # a clear failure that is over-dispersed is not claimed either way
    (loud,) = decide_rates([(k, e)], threshold=0.001, dispersion=[test])
    assert loud.verdict == "inconclusive"


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "code", "words"),
    [
        (lambda: poisson_interval(-1, 10.0), "R090", "events=-1"),
        (lambda: poisson_interval(2.5, 10.0), "R090", "events=2.5"),  # type: ignore[arg-type]
        (lambda: poisson_interval(True, 10.0), "R090", "events=True"),
        (lambda: poisson_interval(3, 0.0), "R090", "need exposure"),
        (lambda: poisson_interval(3, math.nan), "R090", "exposure=nan"),
        (lambda: poisson_interval(3, -2.0), "R090", "exposure=-2.0"),
        (lambda: poisson_interval(3, 10.0, confidence=1.0), "R093", "confidence=1.0"),
        (lambda: poisson_interval(3, 10.0, sided="left"), "R093", "sided='left'"),  # type: ignore[arg-type]
        (lambda: decide_rates([(1, 10.0)], threshold=-0.1), "R093", "threshold=-0.1"),
        (lambda: decide_rates([(1, 10.0)], threshold=math.inf), "R093", "threshold=inf"),
        (
            lambda: decide_rates([(1, 10.0)], threshold=0.1, comparison="below"),  # type: ignore[arg-type]
            "R093",
            "comparison='below'",
        ),
        (lambda: decide_rates([(1, 10.0), (-3, 5.0)], threshold=0.1), "R090", "slice 1: events"),
        (
            lambda: decide_rates([(1, 10.0)], threshold=0.1, dispersion=[dispersion_test([0, 2])]),
            "R090",
            "add up",
        ),
        (lambda: decide_rates([(1, 10.0)], threshold=0.1, dispersion=[]), "R090", "0 dispersion"),
        (lambda: dispersion_test([1, -1, 2]), "R090", "position 1"),
        (lambda: dispersion_test([[1, 2]]), "R090", "shape (1, 2)"),
        (lambda: dispersion_test([1, 2], exposures=[1.0]), "R090", "one exposure per unit"),
        (lambda: dispersion_test([1, 2], exposures=[1.0, 0.0]), "R090", "unit 1"),
        (lambda: dispersion_index([0.5, 1]), "R090", "not a count"),
    ],
)
def test_bad_input_is_a_coded_problem(call: object, code: str, words: str) -> None:
    with pytest.raises(ValueProblem) as raised:
        call()  # type: ignore[operator]
    assert raised.value.diagnostic.code == code
    assert words in str(raised.value)
