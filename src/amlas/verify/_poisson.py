"""A minimal exact decision for count rates (events per unit of exposure), for imported
counts only.

STAND-IN: ``amlas.checks.decide_rates`` (issue 14, being written beside this) is the shared
implementation; when it lands, :func:`decide_rates` here is to be replaced by it and this
module deleted. Until then it follows the same rule as ``decide_slices`` for proportions:

* the counts are modelled as Poisson over the exposure (events independent, at a constant
  rate per unit): X ~ Poisson(rate x exposure);
* the one-sided exact (Garwood) bounds: upper ``chi2.ppf(c, 2k + 2) / 2t``, lower
  ``chi2.ppf(1 - c, 2k) / 2t`` (0 for k = 0);
* the verdict from exact one-sided Poisson p-values at the threshold: for ``at_most``,
  p_pass = P(X <= k | rate = threshold) and p_fail = P(X >= k | rate = threshold)
  (``at_least`` mirrors), with Holm's step-down adjustment across slices; *pass* when
  p_pass <= 1 - c (equivalently, for one slice, the upper bound is at or below the
  threshold), *fail* when p_fail <= 1 - c, else *inconclusive*;
* a slice with no exposure is inconclusive: nothing can be claimed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

from amlas.checks import Comparison, Verdict, holm_adjust

__all__ = ["RateDecision", "decide_rates"]


@dataclass(frozen=True)
class RateDecision:
    """The verdict on one slice's rate, and what a reviewer needs to check it."""

    verdict: Verdict
    estimate: float | None
    lower: float
    upper: float
    bound: float
    """The one-sided bound the verdict rests on (upper for at_most, lower for at_least)."""
    p_pass: float
    p_fail: float
    reason: str


def _pct(confidence: float) -> str:
    return f"{confidence * 100:.4g}%"


def decide_rates(
    counts: Sequence[tuple[int, float]],
    *,
    threshold: float,
    comparison: Comparison,
    confidence: float,
    unit: str,
) -> list[RateDecision]:
    """One decision per slice ``(events, exposure)`` (see the module docs)."""
    alpha = 1.0 - confidence
    raw_pass, raw_fail, bounds = [], [], []
    for events, exposure in counts:
        mu = threshold * exposure
        if exposure <= 0:
            p_le, p_ge = 1.0, 1.0
        else:
            p_le = float(stats.poisson.cdf(events, mu))
            p_ge = float(stats.poisson.sf(events - 1, mu)) if events > 0 else 1.0
        raw_pass.append(p_le if comparison == "at_most" else p_ge)
        raw_fail.append(p_ge if comparison == "at_most" else p_le)
        if exposure <= 0:
            bounds.append((0.0, math.inf))
            continue
        upper = float(stats.chi2.ppf(confidence, 2 * events + 2)) / (2 * exposure)
        lower = float(stats.chi2.ppf(alpha, 2 * events)) / (2 * exposure) if events else 0.0
        bounds.append((lower, upper))
    adjusted_pass, adjusted_fail = holm_adjust(raw_pass), holm_adjust(raw_fail)
    family = f" (Holm-adjusted over {len(counts)} slices)" if len(counts) > 1 else ""
    sign = "<=" if comparison == "at_most" else ">="
    out = []
    for (events, exposure), p_pass, p_fail, (lower, upper) in zip(
        counts, adjusted_pass, adjusted_fail, bounds, strict=True
    ):
        bound = upper if comparison == "at_most" else lower
        verdict: Verdict = "inconclusive"
        if exposure <= 0:
            reason = "no exposure: nothing can be claimed"
        elif p_pass <= alpha:
            verdict = "pass"
            reason = (
                f"the {_pct(confidence)} exact Poisson bound {bound:.4g} per {unit} "
                f"{sign} {threshold:g}{family}"
            )
        elif p_fail <= alpha:
            verdict = "fail"
            reason = (
                f"even the favourable {_pct(confidence)} exact Poisson bound misses "
                f"{threshold:g} per {unit} (p={p_fail:.3g}{family})"
            )
        else:
            reason = (
                f"the {_pct(confidence)} exact Poisson bound {bound:.4g} per {unit} cannot "
                f"decide {sign} {threshold:g}{family}"
            )
        out.append(
            RateDecision(
                verdict,
                events / exposure if exposure > 0 else None,
                lower,
                upper,
                bound,
                p_pass,
                p_fail,
                reason,
            )
        )
    return out
