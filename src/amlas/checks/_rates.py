"""Exact bounds and verdicts for count rates: events per unit of exposure.

A rate such as *false positives per image* or *missed pedestrians per hour of driving* is
not a proportion: one unit of exposure can hold several events. Its events are modelled as
**Poisson** in the exposure (independent events at a constant rate per unit), and judged
on the exact **Garwood** bounds, the Poisson counterpart of Clopper-Pearson: with ``k``
events in exposure ``E`` at confidence ``c``,

- upper bound ``Gamma(k + 1).ppf(c) / E`` (``chi2(2k + 2).ppf(c) / 2E``),
- lower bound ``Gamma(k).ppf(1 - c) / E`` (0 when ``k = 0``).

These are dual to the exact one-sided Poisson tests at the threshold ``t``: for
``at_most``, "the rate is at least t" is rejected when ``P(X <= k | mu = t E) <= alpha``,
which happens exactly when the upper bound is at or below ``t``. :func:`decide_rates`
decides every slice on those p-values, with Holm's correction across the slices, as
:func:`~amlas.checks.decide_slices` does for proportions.

**When the Poisson bound must not be claimed.** Events that cluster (one hard image holding
five false positives, a night sequence holding most misses) make the counts
*over-dispersed*: their variance exceeds their mean, and the Poisson bound is too narrow.
Given the per-unit counts of a slice, :func:`dispersion_test` runs Fisher's index-of-
dispersion test (the Pearson statistic ``sum (x_i - rate e_i)^2 / (rate e_i)`` against
``chi2(n - 1)``; with equal exposures it is ``(n - 1)`` times :func:`dispersion_index`).
The rule: when that test rejects at the requirement's own level (``p <= 1 - confidence``,
per slice, without a family correction, so that it flags rather more often), the slice is
**inconclusive**, never pass and never fail, and its reason says why and what to do (judge
per unit instead: the share of units with no event is a proportion with an exact bound
whatever the dispersion). Without per-unit counts the test cannot run: the verdict stands
on the Poisson model alone and the decision's ``assumption`` says it was not tested. The
test is a guard, not a proof of the Poisson model: with few units it has little power.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from amlas.checks._intervals import (
    Comparison,
    Interval,
    Sided,
    Verdict,
    holm_adjust,
    percent,
)
from amlas.errors import ValueProblem

__all__ = [
    "Dispersion",
    "RateDecision",
    "decide_rates",
    "dispersion_index",
    "dispersion_test",
    "poisson_interval",
    "required_exposure",
]


POISSON_ASSUMPTION = (
    "events are modelled as Poisson in the exposure: independent, at one constant rate "
    "per unit of exposure"
)


@dataclass(frozen=True)
class Dispersion:
    """Fisher's index-of-dispersion test on the per-unit counts of one slice."""

    units: int
    """Units of exposure counted (units with no exposure left out)."""
    events: int
    exposure: float
    index: float
    """Variance over mean (equal exposures), generally the Pearson statistic over its
    degrees of freedom: about 1 for Poisson counts, above 1 when events cluster. NaN when
    untestable (fewer than two units, or no event)."""
    statistic: float
    df: int
    p_value: float
    """P(chi2(df) >= statistic): small when the counts are over-dispersed; 1 when
    untestable."""

    def overdispersed(self, confidence: float) -> bool:
        """Whether the test rejects the Poisson model at level ``1 - confidence``."""
        return self.p_value <= 1.0 - confidence


@dataclass(frozen=True)
class RateDecision:
    """The verdict on one (requirement, slice) for a count rate, and everything needed to
    review it. Field names follow :class:`~amlas.checks.Decision` where they mean the
    same."""

    verdict: Verdict
    estimate: float | None
    """Events per unit of exposure (None for an empty slice); shown, never decisive."""
    bound: float
    """The one-sided Garwood bound the verdict rests on: upper for 'at_most', lower for
    'at_least'."""
    interval: Interval
    threshold: float
    comparison: Comparison
    events: int
    exposure: float
    p_pass: float
    """Exact Poisson p-value of 'the requirement is not met', after any Holm adjustment."""
    p_fail: float
    """Exact Poisson p-value of 'the requirement is met', after any Holm adjustment."""
    reason: str
    assumption: str
    """The model the bound rests on, and whether (and how) its dispersion was tested."""
    dispersion: Dispersion | None = None
    additional_exposure: float | None = None
    """For 'inconclusive': further exposure (in the slice's unit) that would decide if the
    observed rate held; None when it cannot (rate on the threshold, over-dispersion)."""


# -- validation ---------------------------------------------------------------------------


def _confidence(confidence: float) -> float:
    if not isinstance(confidence, numbers.Real) or not 0 < float(confidence) < 1:
        raise ValueProblem(
            f"confidence={confidence!r} is not a level in (0, 1)",
            code="R093",
            value=confidence,
            expected="a level such as 0.95",
        )
    return float(confidence)


def _comparison(comparison: str) -> Comparison:
    if comparison not in ("at_least", "at_most"):
        raise ValueProblem(
            f"comparison={comparison!r} is not a comparison",
            code="R093",
            value=comparison,
            expected="'at_least' or 'at_most'",
        )
    return "at_least" if comparison == "at_least" else "at_most"


def _whole(value: object, what: str) -> int:
    """A non-negative whole number (an int, or a float with no fractional part)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueProblem(
            f"{what}={value!r} is not a number",
            code="R090",
            value=value,
            expected="a whole number of events, 0 or more",
        )
    number = float(value)
    if not math.isfinite(number) or number < 0 or not number.is_integer():
        raise ValueProblem(
            f"{what}={value!r} is not a count",
            code="R090",
            value=value,
            expected="a whole number of events, 0 or more",
        )
    return int(number)


def _exposure(value: object, events: int, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueProblem(
            f"{what}={value!r} is not a number",
            code="R090",
            value=value,
            expected="a finite exposure, 0 or more (images, hours, kilometres)",
        )
    exposure = float(value)
    if not math.isfinite(exposure) or exposure < 0:
        raise ValueProblem(
            f"{what}={value!r} is not an exposure",
            code="R090",
            value=value,
            expected="a finite exposure, 0 or more (images, hours, kilometres)",
        )
    if exposure == 0 and events > 0:
        raise ValueProblem(
            f"{what}=0 holds {events} event(s): events need exposure to happen in",
            code="R090",
            value=value,
            expected="a positive exposure wherever events were counted",
        )
    return exposure


def _threshold(threshold: float) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise ValueProblem(
            f"threshold={threshold!r} is not a number",
            code="R093",
            value=threshold,
            expected="a finite rate, 0 or more, in events per unit of exposure",
        )
    if not math.isfinite(float(threshold)) or float(threshold) < 0:
        raise ValueProblem(
            f"threshold={threshold!r} is not a rate",
            code="R093",
            value=threshold,
            expected="a finite rate, 0 or more, in events per unit of exposure",
        )
    return float(threshold)


# -- bounds -------------------------------------------------------------------------------


def _upper(
    k: NDArray[np.float64], exposure: NDArray[np.float64], level: float
) -> NDArray[np.float64]:
    """One-sided Garwood upper bounds, vectorised (inf where there is no exposure)."""
    from scipy import stats

    with np.errstate(divide="ignore", invalid="ignore"):
        bound = stats.gamma.ppf(level, k + 1) / exposure
    out: NDArray[np.float64] = np.where(exposure > 0, bound, math.inf)
    return out


def _lower(
    k: NDArray[np.float64], exposure: NDArray[np.float64], level: float
) -> NDArray[np.float64]:
    """One-sided Garwood lower bounds, vectorised (0 without events or exposure)."""
    from scipy import stats

    with np.errstate(divide="ignore", invalid="ignore"):
        bound = stats.gamma.ppf(1.0 - level, k) / exposure
    out: NDArray[np.float64] = np.where((k > 0) & (exposure > 0), bound, 0.0)
    return out


def poisson_interval(
    events: int, exposure: float, *, confidence: float = 0.95, sided: Sided = "two-sided"
) -> Interval:
    """The exact (Garwood) interval for a Poisson rate: ``events`` in ``exposure`` units.

    Two-sided, the two ends are the one-sided bounds at ``1 - (1 - confidence) / 2``; a
    one-sided interval has its open end at 0 or infinity. With no exposure nothing is
    known: ``[0, inf]``.
    """
    level = _confidence(confidence)
    k = _whole(events, "events")
    e = _exposure(exposure, k, "exposure")
    ks, es = np.array([float(k)]), np.array([e])
    if sided == "two-sided":
        one = 1.0 - (1.0 - level) / 2
        low, high = float(_lower(ks, es, one)[0]), float(_upper(ks, es, one)[0])
    elif sided == "lower":
        low, high = float(_lower(ks, es, level)[0]), math.inf
    elif sided == "upper":
        low, high = 0.0, float(_upper(ks, es, level)[0])
    else:
        raise ValueProblem(
            f"sided={sided!r} is not a side",
            code="R093",
            value=sided,
            expected="'two-sided', 'lower' or 'upper'",
        )
    return Interval(low, high, level, "garwood", sided)


def _p_rates(
    k: NDArray[np.int64], exposure: NDArray[np.float64], threshold: float, comparison: Comparison
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(p_pass, p_fail): exact one-sided Poisson p-values at the threshold's mean
    ``mu = threshold * exposure``; 1 where there is no exposure."""
    from scipy import stats

    empty = exposure <= 0
    mu = threshold * exposure
    less = np.clip(stats.poisson.cdf(k, mu), 0.0, 1.0)  # P(X <= k)
    greater = np.clip(stats.poisson.sf(k - 1, mu), 0.0, 1.0)  # P(X >= k)
    if comparison == "at_most":
        p_pass, p_fail = less, greater
    else:
        p_pass, p_fail = greater, less
    return np.where(empty, 1.0, p_pass), np.where(empty, 1.0, p_fail)


# -- dispersion ---------------------------------------------------------------------------


def _unit_counts(per_unit_counts: ArrayLike) -> NDArray[np.int64]:
    raw = np.asarray(per_unit_counts)
    if raw.ndim != 1 or raw.dtype.kind not in "iuf" or raw.dtype == np.bool_:
        raise ValueProblem(
            f"per-unit counts of shape {raw.shape} and dtype {raw.dtype} cannot be used",
            code="R090",
            value=raw.shape,
            expected="a 1-D array of whole event counts, one per unit of exposure",
        )
    as_float = raw.astype(np.float64)
    bad = ~np.isfinite(as_float) | (as_float < 0) | (as_float != np.round(as_float))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueProblem(
            f"per-unit count {raw[first]!r} at position {first} is not a count "
            f"({int(bad.sum())} such)",
            code="R090",
            value=raw[first].item(),
            expected="whole event counts, 0 or more",
        )
    return as_float.astype(np.int64)


def dispersion_index(per_unit_counts: ArrayLike) -> float:
    """The index of dispersion of per-unit event counts: sample variance (``ddof=1``)
    over mean. About 1 for Poisson counts, above 1 when events cluster in some units;
    NaN with fewer than two units or no event at all."""
    x = _unit_counts(per_unit_counts)
    if len(x) < 2 or not x.any():
        return math.nan
    return float(np.var(x, ddof=1) / np.mean(x))


def dispersion_test(
    per_unit_counts: ArrayLike, *, exposures: ArrayLike | None = None
) -> Dispersion:
    """Fisher's index-of-dispersion test of the Poisson model on per-unit counts.

    ``exposures`` gives each unit's exposure (hours of a drive, images of a sequence); by
    default every unit has exposure 1 (e.g. counts per image). The statistic is Pearson's
    ``sum (x_i - r e_i)^2 / (r e_i)`` with ``r = sum x / sum e``, referred to
    ``chi2(n - 1)``, upper tail (over-dispersion is what makes a Poisson bound too narrow;
    under-dispersion only makes it conservative). Untestable data (fewer than two units
    with exposure, or no event) give ``p_value = 1`` and a NaN index.
    """
    from scipy import stats

    x = _unit_counts(per_unit_counts)
    if exposures is None:
        e = np.ones(len(x), dtype=np.float64)
    else:
        e = np.asarray(exposures, dtype=np.float64)
        if e.shape != x.shape:
            raise ValueProblem(
                f"{len(x)} per-unit counts but exposures of shape {e.shape}",
                code="R090",
                value=e.shape,
                expected="one exposure per unit",
            )
        bad = ~np.isfinite(e) | (e < 0) | ((e == 0) & (x > 0))
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueProblem(
                f"unit {first} has exposure {e[first]!r} and {int(x[first])} event(s)",
                code="R090",
                value=float(e[first]),
                expected="finite exposures, positive wherever events were counted",
            )
    keep = e > 0
    x, e = x[keep], e[keep]
    events, exposure, units = int(x.sum()), float(e.sum()), len(x)
    if units < 2 or events == 0:
        return Dispersion(units, events, exposure, math.nan, math.nan, max(units - 1, 0), 1.0)
    expected = events / exposure * e
    statistic = float(np.sum((x - expected) ** 2 / expected))
    df = units - 1
    p_value = float(np.clip(stats.chi2.sf(statistic, df), 0.0, 1.0))
    return Dispersion(units, events, exposure, statistic / df, statistic, df, p_value)


# -- verdicts -----------------------------------------------------------------------------


def required_exposure(
    threshold: float, *, comparison: Comparison = "at_most", confidence: float = 0.95
) -> float | None:
    """The least exposure that can show the requirement at all, with no event observed:
    ``-ln(1 - confidence) / threshold`` for ``at_most`` (the "rule of three": about
    3 / threshold at 95%). None for ``at_least``, which takes events, not exposure alone,
    and for a threshold of 0, which no finite exposure can show."""
    level = _confidence(confidence)
    t = _threshold(threshold)
    if _comparison(comparison) == "at_least" or t == 0:
        return None
    return -math.log(1.0 - level) / t


def _exposure_to_decide(
    events: int, exposure: float, *, threshold: float, comparison: Comparison, alpha: float
) -> float | None:
    """Further exposure after which the observed rate, if it held, would decide at level
    ``alpha``: the root of the (continuous in the events) Garwood bound minus the
    threshold. None when the rate sits on the threshold."""
    from scipy import optimize, stats

    rate = events / exposure
    if math.isclose(rate, threshold, rel_tol=1e-12, abs_tol=0.0):
        return None
    # the bound that would decide: the upper one when the rate is below the threshold
    # (pass for at_most, fail for at_least), the lower one when it is above
    if rate < threshold:

        def gap(e: float) -> float:
            return float(stats.gamma.ppf(1.0 - alpha, rate * e + 1)) - threshold * e

    else:

        def gap(e: float) -> float:
            return threshold * e - float(stats.gamma.ppf(alpha, rate * e))

    # gap > 0 while undecided; decided once it drops to 0 (the bound reaches t)
    high = max(exposure, 1e-300) * 2
    while gap(high) > 0:
        high *= 2
        if not math.isfinite(high) or high > exposure * 1e15 + 1e15:
            return None
    low = exposure
    if gap(low) <= 0:  # decided already at a stricter level only (can only be Holm)
        return 0.0
    root = float(optimize.brentq(gap, low, high, xtol=exposure * 1e-9 + 1e-12, rtol=1e-10))
    return max(root - exposure, 0.0)


def decide_rates(
    counts: Sequence[tuple[int, float]],
    *,
    threshold: float,
    comparison: Comparison = "at_most",
    confidence: float = 0.95,
    dispersion: Sequence[Dispersion | None] | None = None,
) -> list[RateDecision]:
    """One decision per slice ``(events, exposure)`` on its exact Garwood bound, with
    Holm's correction across the slices on the exact Poisson p-values (for ``at_most``,
    ``p_pass = P(X <= k | mu = threshold * exposure)``), so that the chance of any wrong
    'pass' (or any wrong 'fail') stays at most ``1 - confidence``.

    ``dispersion`` gives, per slice, the :func:`dispersion_test` of its per-unit counts
    (None where they are not known); a slice whose counts it finds over-dispersed at the
    requirement's level is inconclusive, since its Poisson bound would be too narrow. A
    test must count the same events and exposure as its slice.
    """
    level = _confidence(confidence)
    cmp = _comparison(comparison)
    t = _threshold(threshold)
    events = [_whole(k, f"slice {i}: events") for i, (k, _) in enumerate(counts)]
    exposures = [
        _exposure(e, k, f"slice {i}: exposure")
        for i, ((_, e), k) in enumerate(zip(counts, events, strict=True))
    ]
    tests = list(dispersion) if dispersion is not None else [None] * len(counts)
    if len(tests) != len(counts):
        raise ValueProblem(
            f"{len(tests)} dispersion tests for {len(counts)} slices",
            code="R090",
            value=len(tests),
            expected="one test (or None) per slice",
        )
    for i, (test, k, e) in enumerate(zip(tests, events, exposures, strict=True)):
        if test is not None and (
            test.events != k or not math.isclose(test.exposure, e, rel_tol=1e-9, abs_tol=1e-12)
        ):
            raise ValueProblem(
                f"slice {i}: the dispersion test counts {test.events} event(s) in exposure "
                f"{test.exposure:g}, the slice {k} in {e:g}",
                code="R090",
                value=(test.events, test.exposure),
                expected="per-unit counts that add up to the slice's events and exposure",
            )
    alpha = 1.0 - level
    m = len(counts)
    ks = np.array(events, dtype=np.int64)
    es = np.array(exposures, dtype=np.float64)
    raw_pass, raw_fail = _p_rates(ks, es, t, cmp)
    adjusted_pass = holm_adjust(raw_pass.tolist())
    adjusted_fail = holm_adjust(raw_fail.tolist())
    kf = ks.astype(np.float64)
    bounds = (_upper(kf, es, level) if cmp == "at_most" else _lower(kf, es, level)).tolist()
    sign = "<=" if cmp == "at_most" else ">="
    family = f" (Holm-adjusted over {m} slices)" if m > 1 else ""
    decisions = []
    for k, e, test, p_pass, p_fail, bound in zip(
        events, exposures, tests, adjusted_pass, adjusted_fail, bounds, strict=True
    ):
        interval = (
            Interval(0.0, bound, level, "garwood", "upper")
            if cmp == "at_most"
            else Interval(bound, math.inf, level, "garwood", "lower")
        )
        verdict: Verdict = (
            "pass" if p_pass <= alpha else "fail" if p_fail <= alpha else "inconclusive"
        )
        if test is None:
            assumption = f"{POISSON_ASSUMPTION}; dispersion not tested (no per-unit counts)"
        elif math.isnan(test.index):
            assumption = (
                f"{POISSON_ASSUMPTION}; dispersion untestable ({test.units} unit(s), "
                f"{test.events} event(s))"
            )
        else:
            assumption = (
                f"{POISSON_ASSUMPTION}; index of dispersion {test.index:.3g} over "
                f"{test.units} units (p={test.p_value:.3g})"
            )
        additional: float | None = None
        if e == 0:
            verdict = "inconclusive"
            reason = "empty slice: no exposure, nothing can be claimed"
            additional = required_exposure(t, comparison=cmp, confidence=1.0 - alpha / m)
            if cmp == "at_least":
                reason += "; showing a rate at least the threshold takes events, not exposure"
            elif additional is None:
                reason += "; no exposure can show a rate of at most 0"
        elif test is not None and test.overdispersed(level):
            verdict = "inconclusive"
            reason = (
                f"the counts are over-dispersed (index of dispersion {test.index:.3g} over "
                f"{test.units} units, p={test.p_value:.3g} <= {alpha:.4g}): events cluster, "
                f"so the Poisson bound {bound:.4g} would be too narrow and is not claimed; "
                "judge the share of units with an event instead (an exact proportion)"
            )
        elif verdict == "pass":
            reason = f"the {percent(level)} Garwood bound {bound:.4g} {sign} {t:g}{family}"
        elif verdict == "fail":
            reason = (
                f"even the favourable {percent(level)} Garwood bound misses {t:g}"
                f" (p={p_fail:.3g}{family})"
            )
        else:
            reason = (
                f"the {percent(level)} Garwood bound {bound:.4g} cannot decide {sign} {t:g}{family}"
            )
            additional = _exposure_to_decide(k, e, threshold=t, comparison=cmp, alpha=alpha / m)
            if additional is None:
                reason += "; the observed rate equals the threshold, so more data will not decide"
        decisions.append(
            RateDecision(
                verdict,
                k / e if e else None,
                bound,
                interval,
                t,
                cmp,
                k,
                e,
                p_pass,
                p_fail,
                reason,
                assumption,
                test,
                additional,
            )
        )
    return decisions
