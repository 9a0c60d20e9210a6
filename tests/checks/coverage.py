"""Simulated coverage of a confidence bound, judged with its Monte Carlo error.

A bound at nominal level ``c`` must cover the true value in at least a share ``c`` of
datasets. Over ``draws`` simulated datasets the observed share is itself an estimate; the
check passes when its 99.9% one-sided lower Clopper-Pearson bound is at least
``c - tolerance``, so that a bound whose true coverage is clearly under nominal fails it,
while the Monte Carlo error alone (one run in a thousand) does not.
"""

from __future__ import annotations

from amlas.checks import clopper_pearson

MONTE_CARLO_CONFIDENCE = 0.999
TOLERANCE = 0.01


def coverage_floor(covered: int, draws: int) -> float:
    """The 99.9% one-sided lower bound on the true coverage from the simulation."""
    return clopper_pearson(covered, draws, confidence=MONTE_CARLO_CONFIDENCE, sided="lower").lower


def covers(covered: int, draws: int, nominal: float, tolerance: float = TOLERANCE) -> bool:
    """Whether the simulation shows coverage of at least ``nominal - tolerance``."""
    return coverage_floor(covered, draws) >= nominal - tolerance


def assert_covers(covered: int, draws: int, nominal: float, what: str) -> None:
    floor = coverage_floor(covered, draws)
    assert floor >= nominal - TOLERANCE, (
        f"{what}: covered in {covered}/{draws} = {covered / draws:.4f}; the 99.9% lower "
        f"bound {floor:.4f} is under {nominal} - {TOLERANCE}"
    )
