"""Checks: the statistics and verification that produce evidence (AMLAS stages 3-5).

Computation only: checks read the project model and data and return results; evidence
records, stores and rendering live in the layers above.

- :mod:`._intervals`: exact confidence bounds and verdicts that never over-claim;
- :mod:`._slices`: ODD bands per sample and the slices a requirement is judged on;
- :mod:`._datasets`: a dataset artefact bound to its data;
- :mod:`._metrics`: an [H] requirement judged on a dataset, slice by slice;
- :mod:`._robustness`: tabular perturbations for robustness requirements;
- :mod:`._data`: the [L] data rules (stage 3, [S]);
- :mod:`._independence`: independence of [N], [O], [P] (R9).
"""

from amlas.checks._data import AUDIT_LABEL_COLUMN, CheckOutcome, run_data_rule
from amlas.checks._datasets import Dataset, bind_dataset, load_dataset
from amlas.checks._independence import check_independence
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
from amlas.checks._metrics import (
    Predictions,
    RequirementResult,
    SliceResult,
    decide_labels,
    evaluate_requirement,
    overall_verdict,
    predict,
)
from amlas.checks._robustness import perturb, perturbation_seed, stable_predictions
from amlas.checks._slices import OUTSIDE, SlicePlan, band_labels, inside_odd, plan_slices

__all__ = [
    "AUDIT_LABEL_COLUMN",
    "OUTSIDE",
    "CheckOutcome",
    "Comparison",
    "Dataset",
    "Decision",
    "Interval",
    "Predictions",
    "RequirementResult",
    "SlicePlan",
    "SliceResult",
    "Verdict",
    "band_labels",
    "bind_dataset",
    "bootstrap_interval",
    "check_independence",
    "clopper_pearson",
    "decide_labels",
    "decide_proportion",
    "decide_slices",
    "evaluate_requirement",
    "holm_adjust",
    "inside_odd",
    "load_dataset",
    "overall_verdict",
    "perturb",
    "perturbation_seed",
    "plan_slices",
    "predict",
    "required_samples",
    "run_data_rule",
    "samples_to_decide",
    "stable_predictions",
]
