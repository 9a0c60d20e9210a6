"""Distribution-free bounds and verdicts for a quantile, e.g. of absolute regression errors.

A requirement such as "the 95th percentile of the absolute distance error is at most 0.5 m"
is judged without assuming any error distribution, on **order statistics**. With ``n``
values sorted ``x_(1) <= ... <= x_(n)`` and ``S = #{x_i <= t}``:

- the exact one-sided upper confidence bound of the ``q``-quantile is ``x_(k)`` with ``k``
  the smallest rank such that ``P(Binomial(n, q) <= k - 1) >= confidence``. Whatever the
  distribution (ties and atoms included), ``x_(k) >= xi_q`` unless fewer than ``k`` values
  fall below ``xi_q``, which happens with probability at most ``1 - confidence``. When
  ``k > n`` no bound exists: too few values (:func:`~amlas.checks.required_samples` of
  ``q`` says how many are needed);
- "the q-quantile is at most t" is the same statement as "``P(X <= t) >= q``", so the test
  of the requirement is the exact binomial (Clopper-Pearson) test that the share of values
  at or below ``t`` is at least ``q``: ``p_pass = P(Binomial(n, q) >= S)``. It is dual to
  the bound: ``p_pass <= alpha`` exactly when ``x_(k) <= t``. ``p_fail = P(Binomial(n, q)
  <= S)`` likewise matches the lower bound ``x_(j)`` lying above ``t``.

:func:`decide_quantiles` therefore judges every slice with
:func:`~amlas.checks.decide_slices` on ``(S, n)`` at threshold ``q`` (Holm across slices
included) and reports the bound in the values' own unit. ``at_least`` (e.g. "the 5th
percentile of IoU is at least 0.5") mirrors it with ``S = #{x_i < t}``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from amlas.checks._intervals import (
    Comparison,
    Decision,
    Interval,
    decide_slices,
    percent,
    required_samples,
)
from amlas.errors import ValueProblem

__all__ = ["QuantileBound", "QuantileDecision", "decide_quantiles", "quantile_upper_bound"]


class QuantileBound(NamedTuple):
    """The sample quantile and its exact order-statistic upper confidence bound."""

    estimate: float
    """The sample q-quantile ``x_(ceil(n q))`` (NaN without values); shown, never decisive."""
    bound: float
    """``x_(rank)``: at least the true q-quantile with the stated confidence; inf when
    there are too few values for any bound."""
    rank: int
    """The 1-based rank k of the order statistic; ``n + 1`` when no bound exists."""


@dataclass(frozen=True, kw_only=True)
class QuantileDecision(Decision):
    """A :class:`~amlas.checks.Decision` on a quantile: ``successes`` is the count the
    binomial test runs on (values ``<= t`` for 'at_most', values ``< t`` for 'at_least'),
    ``trials`` all values; ``estimate``, ``bound`` and ``interval`` are in the
    values' unit."""

    quantile: float
    """q, the quantile judged (0.95 for the 95th percentile)."""
    rank: int
    """1-based rank of the order statistic that is the bound (``trials + 1``: none)."""


def _level(value: object, name: str, expected: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        ok = False
    else:
        ok = 0 < float(value) < 1
    if not ok:
        raise ValueProblem(
            f"{name}={value!r} is not in (0, 1)",
            code="R093",
            value=value,
            expected=expected,
        )
    return float(value)  # type: ignore[arg-type]


def _values(values: ArrayLike, what: str) -> NDArray[np.float64]:
    raw = np.asarray(values)
    if raw.ndim != 1 or raw.dtype.kind not in "iuf" or raw.dtype == np.bool_:
        raise ValueProblem(
            f"{what} of shape {raw.shape} and dtype {raw.dtype} cannot be used",
            code="R091",
            value=raw.shape,
            expected="a 1-D array of numbers, one per sample",
        )
    x = raw.astype(np.float64)
    bad = ~np.isfinite(x)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueProblem(
            f"{what}: {int(bad.sum())} value(s) are NaN or infinite (the first at position "
            f"{first}); a sample without a usable value must leave the data explicitly",
            code="R091",
            value=float(x[first]),
            expected="finite numbers",
        )
    return x


def _ranks(n: int, q: float, confidence: float) -> tuple[int, int]:
    """(k, j): 1-based ranks of the exact upper and lower one-sided bounds of the
    q-quantile from n values; k = n + 1 and j = 0 where no such bound exists."""
    from scipy import stats

    if n == 0:
        return 1, 0
    # the same scipy calls as the tests of decide_slices, so that bound and verdict agree
    # exactly: p_pass(S) = P(B >= S) = sf(S - 1), p_fail(S) = P(B <= S) = cdf(S)
    m = np.arange(n + 1)
    alpha = 1.0 - confidence
    # upper: x_(k) <= t exactly when S >= k, so k - 1 is the first m with sf(m) <= alpha
    # (sf(n) = 0, so k <= n + 1, n + 1 meaning no bound)
    k = int(np.flatnonzero(stats.binom.sf(m, n, q) <= alpha)[0]) + 1
    # lower: x_(j) > t exactly when S <= j - 1, the last m with cdf(m) <= alpha
    below = np.flatnonzero(stats.binom.cdf(m, n, q) <= alpha)
    j = int(below[-1]) + 1 if len(below) else 0
    return k, j


def _sample_quantile(sorted_x: NDArray[np.float64], q: float) -> float:
    if len(sorted_x) == 0:
        return math.nan
    return float(sorted_x[max(math.ceil(len(sorted_x) * q), 1) - 1])


def quantile_upper_bound(values: ArrayLike, q: float, *, confidence: float = 0.95) -> QuantileBound:
    """The exact, distribution-free upper confidence bound of the ``q``-quantile of
    ``values``: the order statistic ``x_(k)``, ``k`` from the binomial (see the module).
    With too few values for any bound, ``bound`` is inf and ``rank`` is ``n + 1``."""
    quantile = _level(q, "q", "a quantile in (0, 1), such as 0.95 for the 95th percentile")
    level = _level(confidence, "confidence", "a level such as 0.95")
    x = np.sort(_values(values, "values"))
    k, _ = _ranks(len(x), quantile, level)
    bound = float(x[k - 1]) if k <= len(x) else math.inf
    return QuantileBound(_sample_quantile(x, quantile), bound, k)


def decide_quantiles(
    samples: Sequence[ArrayLike],
    *,
    q: float,
    threshold: float,
    comparison: Comparison = "at_most",
    confidence: float = 0.95,
) -> list[QuantileDecision]:
    """One decision per slice (``samples[i]`` holds the values of slice ``i``): does its
    ``q``-quantile lie at or below (``at_most``) or at or above (``at_least``) the
    threshold? Exact binomial tests on the count of values on the requirement's side of
    the threshold, Holm across slices; the verdict of a single slice is the bound rule
    (pass exactly when the bound ``x_(k)`` is at or below the threshold)."""
    quantile = _level(q, "q", "a quantile in (0, 1), such as 0.95 for the 95th percentile")
    level = _level(confidence, "confidence", "a level such as 0.95")
    if comparison not in ("at_least", "at_most"):
        raise ValueProblem(
            f"comparison={comparison!r} is not a comparison",
            code="R093",
            value=comparison,
            expected="'at_least' or 'at_most'",
        )
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise ValueProblem(
            f"threshold={threshold!r} is not a number",
            code="R093",
            value=threshold,
            expected="a finite number in the values' unit",
        )
    t = float(threshold)
    if not math.isfinite(t):
        raise ValueProblem(
            f"threshold={threshold!r} is not finite",
            code="R093",
            value=threshold,
            expected="a finite number in the values' unit",
        )
    sorted_values = [np.sort(_values(v, f"slice {i}")) for i, v in enumerate(samples)]
    # the count on the requirement's side: <= t when the quantile must stay at most t
    # (P(X <= t) >= q), < t when it must reach at least t (P(X < t) <= q)
    side = "right" if comparison == "at_most" else "left"
    counts = [(int(np.searchsorted(x, t, side=side)), len(x)) for x in sorted_values]
    # at_most: pass when the share <= t is shown at least q; at_least: when the share
    # < t is shown at most q
    proportion: Comparison = "at_least" if comparison == "at_most" else "at_most"
    decisions = decide_slices(counts, threshold=quantile, comparison=proportion, confidence=level)
    sign = "<=" if comparison == "at_most" else ">="
    name = f"{quantile:g}-quantile"
    family = f" (Holm-adjusted over {len(samples)} slices)" if len(samples) > 1 else ""
    out = []
    for x, decision in zip(sorted_values, decisions, strict=True):
        n = len(x)
        k, j = _ranks(n, quantile, level)
        upper = float(x[k - 1]) if k <= n else math.inf
        lower = float(x[j - 1]) if j >= 1 else -math.inf
        if comparison == "at_most":
            bound, rank = upper, k
            interval = Interval(-math.inf, upper, level, "order-statistic", "upper")
        else:
            bound, rank = lower, j
            interval = Interval(lower, math.inf, level, "order-statistic", "lower")
        rank_text = f"order statistic {rank} of {n}"
        needed = required_samples(quantile, comparison=proportion, confidence=level)
        if n == 0:
            reason = "empty slice: no values, nothing can be claimed"
        elif decision.verdict == "pass":
            reason = (
                f"the {percent(level)} bound {bound:.4g} ({rank_text}) on the {name} "
                f"{sign} {t:g}{family}"
            )
        elif decision.verdict == "fail":
            favourable = lower if comparison == "at_most" else upper
            reason = (
                f"even the favourable {percent(level)} bound {favourable:.4g} on the {name} "
                f"misses {t:g} (p={decision.p_fail:.3g}{family})"
            )
        elif not math.isfinite(bound):
            reason = (
                f"too few values ({n}) to bound the {name} at {percent(level)}: at least "
                f"{needed} are needed"
            )
        else:
            reason = (
                f"the {percent(level)} bound {bound:.4g} ({rank_text}) on the {name} cannot "
                f"decide {sign} {t:g}{family}"
            )
            if n and decision.additional_samples is None:
                reason += (
                    f"; the share of values {'<=' if comparison == 'at_most' else '<'} "
                    f"{t:g} equals {quantile:g}, so more data will not decide"
                )
        out.append(
            QuantileDecision(
                verdict=decision.verdict,
                estimate=_sample_quantile(x, quantile) if n else None,
                bound=bound,
                interval=interval,
                threshold=t,
                comparison=comparison,
                successes=decision.successes,
                trials=n,
                p_pass=decision.p_pass,
                p_fail=decision.p_fail,
                reason=reason,
                additional_samples=decision.additional_samples,
                quantile=quantile,
                rank=rank,
            )
        )
    return out
