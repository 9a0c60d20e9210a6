"""Confidence bounds and verdicts that never over-claim.

Every verdict is decided on a confidence bound, not on the point estimate:

- proportions (recall, FPR, accuracy, ...) use the exact Clopper-Pearson interval, i.e. the
  binomial test it is dual to (scipy's ``binomtest``);
- statistics without an exact method use a seeded bootstrap (:func:`bootstrap_interval`).

A check at ``threshold`` with ``comparison='at_least'`` *passes* when the one-sided lower
bound at the stated confidence reaches the threshold, *fails* when the one-sided upper bound
stays below it, and is *inconclusive* otherwise, with the number of further samples that
would decide at the observed rate (:func:`samples_to_decide`). ``at_most`` mirrors this.
When one requirement is judged in many ODD slices, :func:`decide_slices` controls the
family-wise error with Holm's step-down method.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Comparison",
    "Decision",
    "Interval",
    "Verdict",
    "bootstrap_interval",
    "clopper_pearson",
    "decide_proportion",
    "decide_slices",
    "holm_adjust",
    "required_samples",
    "samples_to_decide",
]


def percent(level: float) -> str:
    """A confidence level as a percentage with the digits it has: 0.95 -> '95%',
    0.975 -> '97.5%' (a Bonferroni level must not read as a rounder number)."""
    return f"{level * 100:.4g}%"


Comparison = Literal["at_least", "at_most"]
Verdict = Literal["pass", "fail", "inconclusive"]
Sided = Literal["two-sided", "lower", "upper"]

_MAX_SAMPLES = 10**9
EXACT_SCAN = 1 << 14
"""Further samples up to which :func:`samples_to_decide` is the exact minimum; beyond, it
is a deciding size found by bisection (deciding is not monotone in n, so it may not be
the smallest)."""


@dataclass(frozen=True)
class Interval:
    """A confidence interval for one statistic. One-sided intervals have the open side at
    the end of the range (e.g. a lower bound has ``upper=1``)."""

    lower: float
    upper: float
    confidence: float
    method: str
    sided: Sided = "two-sided"


@dataclass(frozen=True)
class Decision:
    """The verdict on one (requirement, slice) and everything needed to review it."""

    verdict: Verdict
    estimate: float | None
    """The point estimate (None for an empty slice); shown, never decisive."""
    bound: float
    """The one-sided bound the verdict rests on: lower for 'at_least', upper for 'at_most'."""
    interval: Interval
    threshold: float
    comparison: Comparison
    successes: int
    trials: int
    p_pass: float
    """p-value of 'the requirement is not met' (small: pass), after any Holm adjustment."""
    p_fail: float
    """p-value of 'the requirement is met' (small: fail), after any Holm adjustment."""
    reason: str
    additional_samples: int | None = None
    """For 'inconclusive': further samples that would decide at the observed rate."""


def _check_args(successes: int, trials: int, confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence!r}; expected a level in (0, 1) such as 0.95")
    if trials < 0 or not 0 <= successes <= max(trials, 0):
        raise ValueError(f"successes={successes!r}, trials={trials!r}; expected 0 <= k <= n")


def clopper_pearson(
    successes: int, trials: int, *, confidence: float = 0.95, sided: Sided = "two-sided"
) -> Interval:
    """The exact (Clopper-Pearson) interval for a binomial proportion.

    With no trials the interval is the whole range [0, 1]: nothing is known.
    """
    _check_args(successes, trials, confidence)
    k, n = np.array([successes]), np.array([trials])
    if sided == "two-sided":
        tail = (1.0 - confidence) / 2
        low, high = _cp_lower(k, n, 1.0 - tail)[0], _cp_upper(k, n, 1.0 - tail)[0]
    elif sided == "lower":
        low, high = _cp_lower(k, n, confidence)[0], 1.0
    else:
        low, high = 0.0, _cp_upper(k, n, confidence)[0]
    return Interval(float(low), float(high), confidence, "clopper-pearson", sided)


def _cp_lower(k: NDArray[np.int64], n: NDArray[np.int64], confidence: float) -> NDArray[np.float64]:
    """One-sided exact lower bounds, vectorised: the (1-c) quantile of Beta(k, n-k+1)."""
    # scipy.stats is imported where it is used, here and in the other checks: importing it
    # took 0.7 s of the start of every amlas command and of every Dask worker (which only
    # tallies) before (tests/test_imports.py)
    from scipy import stats

    with np.errstate(invalid="ignore"):
        bound = stats.beta.ppf(1.0 - confidence, k, n - k + 1)
    out: NDArray[np.float64] = np.where(k == 0, 0.0, bound)
    return out


def _cp_upper(k: NDArray[np.int64], n: NDArray[np.int64], confidence: float) -> NDArray[np.float64]:
    """One-sided exact upper bounds, vectorised: the c quantile of Beta(k+1, n-k)."""
    from scipy import stats

    with np.errstate(invalid="ignore"):
        bound = stats.beta.ppf(confidence, k + 1, n - k)
    out: NDArray[np.float64] = np.where((k == n) | (n == 0), 1.0, bound)
    return out


def _p_values(
    successes: int, trials: int, threshold: float, comparison: Comparison
) -> tuple[float, float]:
    """(p_pass, p_fail) from exact binomial tests at the threshold."""
    p_pass, p_fail = _p_arrays(np.array([successes]), np.array([trials]), threshold, comparison)
    return float(p_pass[0]), float(p_fail[0])


def _p_arrays(
    k: NDArray[np.int64], n: NDArray[np.int64], threshold: float, comparison: Comparison
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Exact one-sided binomial p-values for many slices at once: P(X >= k) and
    P(X <= k) under the threshold rate (what ``binomtest`` computes, vectorised)."""
    from scipy import stats

    greater = np.where(n == 0, 1.0, np.clip(stats.binom.sf(k - 1, n, threshold), 0.0, 1.0))
    less = np.where(n == 0, 1.0, np.clip(stats.binom.cdf(k, n, threshold), 0.0, 1.0))
    if comparison == "at_least":
        return greater, less
    return less, greater


def _verdict(p_pass: float, p_fail: float, alpha: float) -> Verdict:
    if p_pass <= alpha:
        return "pass"
    if p_fail <= alpha:
        return "fail"
    return "inconclusive"


def decide_proportion(
    successes: int,
    trials: int,
    *,
    threshold: float,
    comparison: Comparison = "at_least",
    confidence: float = 0.95,
) -> Decision:
    """Judge a proportion against a threshold on its exact one-sided bound."""
    return decide_slices(
        [(successes, trials)], threshold=threshold, comparison=comparison, confidence=confidence
    )[0]


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control, any dependence)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def decide_slices(
    counts: Sequence[tuple[int, int]],
    *,
    threshold: float,
    comparison: Comparison = "at_least",
    confidence: float = 0.95,
) -> list[Decision]:
    """One decision per slice ``(successes, trials)``, with Holm's correction across the
    slices so that the chance of any wrong 'pass' (or any wrong 'fail') stays at most
    ``1 - confidence``. With one slice this is exactly the Clopper-Pearson bound rule."""
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold={threshold!r}; a proportion threshold lies in [0, 1]")
    for k, n in counts:  # validate before scipy sees the numbers
        _check_args(k, n, confidence)
    alpha = 1.0 - confidence
    ks = np.array([k for k, _ in counts], dtype=np.int64)
    ns = np.array([n for _, n in counts], dtype=np.int64)
    raw_pass, raw_fail = _p_arrays(ks, ns, threshold, comparison)
    adjusted_pass = holm_adjust(raw_pass.tolist())
    adjusted_fail = holm_adjust(raw_fail.tolist())
    sided: Sided = "lower" if comparison == "at_least" else "upper"
    bounds = (
        _cp_lower(ks, ns, confidence) if comparison == "at_least" else _cp_upper(ks, ns, confidence)
    ).tolist()
    m = len(counts)
    decisions = []
    for (k, n), p_pass, p_fail, bound in zip(
        counts, adjusted_pass, adjusted_fail, bounds, strict=True
    ):
        if n == 0:
            bound = 0.0 if comparison == "at_least" else 1.0
        interval = (
            Interval(bound, 1.0, confidence, "clopper-pearson", sided)
            if comparison == "at_least"
            else Interval(0.0, bound, confidence, "clopper-pearson", sided)
        )
        verdict = _verdict(p_pass, p_fail, alpha)
        estimate = k / n if n else None
        sign = ">=" if comparison == "at_least" else "<="
        family = f" (Holm-adjusted over {m} slices)" if m > 1 else ""
        additional = None
        if n == 0:
            reason = "empty slice: no samples, nothing can be claimed"
            needed = required_samples(threshold, comparison=comparison, confidence=confidence)
            additional = needed
        elif verdict == "pass":
            reason = f"the {percent(confidence)} bound {bound:.4f} {sign} {threshold:g}{family}"
        elif verdict == "fail":
            reason = (
                f"even the favourable {percent(confidence)} bound misses {threshold:g}"
                f" (p={p_fail:.3g}{family})"
            )
        else:
            additional = samples_to_decide(
                k, n, threshold=threshold, comparison=comparison, confidence=confidence, family=m
            )
            reason = (
                f"the {percent(confidence)} bound {bound:.4f} cannot decide {sign} {threshold:g}"
            )
            reason += family
            if additional is None:
                reason += "; the observed rate equals the threshold, so more data will not decide"
        decisions.append(
            Decision(
                verdict,
                estimate,
                bound,
                interval,
                threshold,
                comparison,
                k,
                n,
                p_pass,
                p_fail,
                reason,
                additional,
            )
        )
    return decisions


def required_samples(
    threshold: float, *, comparison: Comparison = "at_least", confidence: float = 0.95
) -> int | None:
    """The fewest samples that can show the requirement at all: every sample a success
    (``at_least``) or a failure-free count (``at_most``). E.g. recall >= 0.95 at 95%
    confidence needs 59 positives with no miss. None when no sample size can."""
    alpha = 1.0 - confidence
    target = threshold if comparison == "at_least" else 1.0 - threshold
    if target <= 0.0:
        return 1
    if target >= 1.0:
        return None
    return max(1, math.ceil(math.log(alpha) / math.log(target)))


def samples_to_decide(
    successes: int,
    trials: int,
    *,
    threshold: float,
    comparison: Comparison = "at_least",
    confidence: float = 0.95,
    family: int = 1,
) -> int | None:
    """Further samples that would turn an inconclusive result into a verdict if the rate
    observed so far held (successes scaled with the sample size): the smallest such number
    up to :data:`EXACT_SCAN`, a deciding one beyond it. None when the observed
    rate sits on the threshold, where no amount of data decides."""
    if trials == 0:
        return required_samples(threshold, comparison=comparison, confidence=confidence)
    rate = successes / trials
    if math.isclose(rate, threshold, rel_tol=0.0, abs_tol=1e-12):
        return None
    alpha = (1.0 - confidence) / family  # Holm's first step: the strictest level

    def deciding(ns: NDArray[np.int64]) -> NDArray[np.bool_]:
        ks = np.clip(np.round(rate * ns), 0, ns).astype(np.int64)
        p_pass, p_fail = _p_arrays(ks, ns, threshold, comparison)
        decided: NDArray[np.bool_] = (p_pass <= alpha) | (p_fail <= alpha)
        return decided

    # Whether n decides is not monotone in n (k is rounded), so scan every size in
    # vectorised blocks: the first deciding size is the true minimum.
    start, block = trials + 1, 4096
    while start <= _MAX_SAMPLES:
        ns = np.arange(start, min(start + block, _MAX_SAMPLES + 1), dtype=np.int64)
        hits = np.flatnonzero(deciding(ns))
        if len(hits):
            return int(ns[hits[0]]) - trials
        start += block
        block = min(block * 2, 1 << 22)
        if start > trials + EXACT_SCAN:  # beyond this, bisect (close enough at that size)
            break
    low, high = start - 1, max(start * 2, start + 1)
    while not deciding(np.array([high]))[0]:
        low, high = high, high * 2
        if high > _MAX_SAMPLES:
            return None
    while high - low > 1:
        middle = (low + high) // 2
        if deciding(np.array([middle]))[0]:
            high = middle
        else:
            low = middle
    return high - trials


def bootstrap_interval(
    values: np.ndarray | Sequence[float],
    statistic: Callable[[np.ndarray], float],
    *,
    confidence: float = 0.95,
    sided: Sided = "two-sided",
    seed: int = 0,
    resamples: int = 2000,
) -> Interval:
    """A seeded percentile bootstrap interval, for statistics with no exact method
    (calibration error, false positives per sample). Same seed, same interval."""
    from scipy import stats

    data = np.asarray(values)
    if data.shape[0] < 2:
        return Interval(-math.inf, math.inf, confidence, "bootstrap", sided)
    level = confidence if sided == "two-sided" else 2 * confidence - 1
    result = stats.bootstrap(
        (data,),
        lambda sample, axis: np.apply_along_axis(statistic, axis, sample),
        confidence_level=level,
        n_resamples=resamples,
        method="percentile",
        random_state=np.random.default_rng(seed),
        vectorized=True,
    )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if sided == "lower":
        high = math.inf
    elif sided == "upper":
        low = -math.inf
    return Interval(low, high, confidence, "bootstrap", sided)
