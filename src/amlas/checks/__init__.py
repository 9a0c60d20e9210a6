"""Checks: the statistics and verification that produce evidence (AMLAS stages 3-5).

Computation only: checks read the project model and data and return results; evidence
records, stores and rendering live in the layers above.
"""

from amlas.checks._intervals import (
    Comparison,
    Decision,
    Interval,
    Verdict,
    bootstrap_interval,
    clopper_pearson,
    decide_proportion,
    decide_slices,
    holm_adjust,
    required_samples,
    samples_to_decide,
)

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
