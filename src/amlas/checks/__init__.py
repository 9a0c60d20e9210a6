"""Checks: the statistics and verification that produce evidence (AMLAS stages 3-5).

Computation only: checks read the project model and data and return results; evidence
records, stores and rendering live in the layers above.

- :mod:`._intervals`: exact confidence bounds and verdicts that never over-claim;
- :mod:`._rates`: count rates (events per unit of exposure) on exact Garwood bounds, with
  an over-dispersion guard;
- :mod:`._quantiles`: distribution-free order-statistic bounds of a quantile;
- :mod:`._sequences`: failing windows of consecutive frames, judged per sequence;
- :mod:`._slices`: ODD bands per sample and the slices a requirement is judged on;
- :mod:`._preconditions`: the units of analysis a requirement's precondition keeps;
- :mod:`._datasets`: a dataset artefact bound to its data;
- :mod:`._metrics`: an [H] requirement judged on a dataset, slice by slice;
- :mod:`._outputs`, :mod:`._predicted`: a detector's ground-truth objects, and
  predictions made outside amlas (any task) read from their files;
- :mod:`._robustness`: tabular perturbations for robustness requirements;
- :mod:`._images`: image corruptions (noise, blur, brightness, contrast, rotation,
  occlusion);
- :mod:`._adversarial`: FGSM and PGD through the Adversarial Robustness Toolbox;
- :mod:`.formal`: local robustness proven by interval bound propagation and Marabou;
- :mod:`._faults`: seeded bit-flip and stuck-at fault campaigns in torch models;
- :mod:`._verify`: which of those a requirement calls for, turned into a result;
- :mod:`.metrics`: metrics as plug-ins (entry-point group ``amlas.metrics``);
- :mod:`._applicable`: the check a requirement calls for and why it cannot run, from the
  artefacts alone (the plan of a run asks before loading anything);
- :mod:`._scenarios`, :mod:`._hazard`: stage-6 scenario runs and hazard-rate chains;
- :mod:`._data`: the [L] data rules (stage 3, [S]);
- :mod:`._independence`: independence of [N], [O], [P] (R9);
- :mod:`._duplicates`: duplicate samples counted by group, for both of the above.
"""

from amlas.adapters import Repeat, RepeatedValues
from amlas.checks._adversarial import (
    ADVERSARIAL_PERTURBATIONS,
    adversarial_examples,
    adversarial_predictions,
)
from amlas.checks._agreement import Agreement, agreement_sample, compare_predictions
from amlas.checks._applicable import (
    formal_only,
    requirement_check,
    requirement_unavailable,
)
from amlas.checks._boxes import Boxes
from amlas.checks._chunked import (
    CHUNKED_DATA_RULES,
    ChunkedDataset,
    NotChunkable,
    chunked_independence,
)
from amlas.checks._data import AUDIT_LABEL_COLUMN, CheckOutcome
from amlas.checks._datasets import (
    Dataset,
    bind_dataset,
    content_error,
    content_tally,
    load_dataset,
)
from amlas.checks._faults import (
    Campaign,
    Fault,
    FaultCampaigns,
    run_fault_campaigns,
    tolerance_indicator,
)
from amlas.checks._hazard import (
    MLEvidence,
    chain_hazards,
    hazard_chains,
    hazard_requirements,
    rated_requirements,
)
from amlas.checks._images import IMAGE_PERTURBATIONS, perturb_images
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
    across_statement,
    confidence_of,
    decide_labels,
    decision_offsets,
    evaluate_indicator,
    overall_verdict,
    predict,
)
from amlas.checks._outputs import GroundTruth, OutputsError, read_outputs_table
from amlas.checks._predicted import detector_predictions, file_predictions
from amlas.checks._quantiles import (
    QuantileBound,
    QuantileDecision,
    decide_quantiles,
    quantile_upper_bound,
)
from amlas.checks._rates import (
    Dispersion,
    RateDecision,
    decide_rates,
    dispersion_index,
    dispersion_test,
    poisson_interval,
    required_exposure,
)
from amlas.checks._robustness import (
    TABULAR_PERTURBATIONS,
    perturb,
    perturbation_seed,
    stable_predictions,
)
from amlas.checks._scenarios import BarrierCount, ScenarioResult, run_scenario
from amlas.checks._sequences import (
    SequenceWindows,
    WindowRate,
    cluster_bootstrap_window_rate,
    decide_sequences,
    window_failures,
)
from amlas.checks._slices import (
    OUTSIDE,
    OUTSIDE_CODE,
    SlicePlan,
    band_codes,
    band_labels,
    inside_odd,
    plan_slices,
)
from amlas.checks._tally import ProportionTally, evaluate_requirement
from amlas.checks._verify import (
    fault_result,
    formal_result,
    perturbed_decisions,
)
from amlas.checks.data_rules import run_data_rule
from amlas.checks.perturbations import perturbation_unfit

__all__ = [
    "ADVERSARIAL_PERTURBATIONS",
    "AUDIT_LABEL_COLUMN",
    "CHUNKED_DATA_RULES",
    "IMAGE_PERTURBATIONS",
    "OUTSIDE",
    "OUTSIDE_CODE",
    "TABULAR_PERTURBATIONS",
    "Agreement",
    "BarrierCount",
    "Boxes",
    "Campaign",
    "CheckOutcome",
    "ChunkedDataset",
    "Comparison",
    "Dataset",
    "Decision",
    "Dispersion",
    "Fault",
    "FaultCampaigns",
    "GroundTruth",
    "Interval",
    "MLEvidence",
    "NotChunkable",
    "OutputsError",
    "Predictions",
    "ProportionTally",
    "QuantileBound",
    "QuantileDecision",
    "RateDecision",
    "Repeat",
    "RepeatedValues",
    "RequirementResult",
    "ScenarioResult",
    "SequenceWindows",
    "SlicePlan",
    "SliceResult",
    "Verdict",
    "WindowRate",
    "across_statement",
    "adversarial_examples",
    "adversarial_predictions",
    "agreement_sample",
    "band_codes",
    "band_labels",
    "bind_dataset",
    "bootstrap_interval",
    "chain_hazards",
    "check_independence",
    "chunked_independence",
    "clopper_pearson",
    "cluster_bootstrap_window_rate",
    "compare_predictions",
    "confidence_of",
    "content_error",
    "content_tally",
    "decide_labels",
    "decide_proportion",
    "decide_quantiles",
    "decide_rates",
    "decide_sequences",
    "decide_slices",
    "decision_offsets",
    "detector_predictions",
    "dispersion_index",
    "dispersion_test",
    "evaluate_indicator",
    "evaluate_requirement",
    "fault_result",
    "file_predictions",
    "formal_only",
    "formal_result",
    "hazard_chains",
    "hazard_requirements",
    "holm_adjust",
    "inside_odd",
    "load_dataset",
    "overall_verdict",
    "perturb",
    "perturb_images",
    "perturbation_seed",
    "perturbation_unfit",
    "perturbed_decisions",
    "plan_slices",
    "poisson_interval",
    "predict",
    "quantile_upper_bound",
    "rated_requirements",
    "read_outputs_table",
    "required_exposure",
    "required_samples",
    "requirement_check",
    "requirement_unavailable",
    "run_data_rule",
    "run_fault_campaigns",
    "run_scenario",
    "samples_to_decide",
    "stable_predictions",
    "tolerance_indicator",
    "window_failures",
]
