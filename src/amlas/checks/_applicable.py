"""What an [H] requirement calls for, and whether that can run, from the artefacts alone.

The plan of a run (:mod:`amlas.verify`) asks these questions before any model or data is
loaded; the answers name the check a record will carry and why a check cannot run. What
shows only with the model loaded (a model without probabilities for a calibration metric)
is asked again by the run itself.
"""

from __future__ import annotations

from amlas.checks._metrics import BOOTSTRAP_METRICS, PROPORTIONS
from amlas.checks._verify import perturbation_unfit
from amlas.project.artefacts import MLSafetyRequirement

__all__ = ["COMPUTABLE_METRICS", "requirement_check", "requirement_unavailable"]

COMPUTABLE_METRICS = PROPORTIONS | BOOTSTRAP_METRICS | {"fault_tolerance_rate"}
"""The [H] metrics ``amlas run`` computes from data."""

_NETWORK_FORMATS = frozenset({"torch", "onnx"})
_DIFFERENTIABLE_FORMATS = frozenset({"torch"})


def requirement_check(requirement: MLSafetyRequirement) -> str:
    """The check name a record of ``requirement`` on data carries, e.g. ``metric.recall``."""
    metric = requirement.metric or ""
    if metric == "fault_tolerance_rate":
        return "faults.fault_tolerance_rate"
    if metric in BOOTSTRAP_METRICS:
        return f"metric.{metric}"
    return f"robustness.{metric}" if requirement.kind == "robustness" else f"metric.{metric}"


def requirement_unavailable(
    requirement: MLSafetyRequirement,
    *,
    model_format: str,
    tabular: bool,
    formal: bool = False,
) -> str | None:
    """Why ``requirement`` cannot be judged on data (``formal``: why its formal property
    cannot be verified) for a model of ``model_format`` taking ``tabular`` inputs, or None."""
    if formal:
        prop = requirement.property
        if prop is None:
            return "no formal property"
        if prop.kind != "local_robustness":
            return f"formal property kind {prop.kind!r} is not available (local_robustness is)"
        if model_format not in _NETWORK_FORMATS:
            return "formal verification needs a network: a torch or ONNX model"
        return None
    metric = requirement.metric or ""
    if metric not in COMPUTABLE_METRICS:
        return f"the metric {metric!r} cannot yet be computed by amlas run"
    if metric == "fault_tolerance_rate":
        if requirement.faults is None:
            return "fault_tolerance_rate needs a 'faults' model to inject"
        if model_format not in _DIFFERENTIABLE_FORMATS:
            return "fault injection needs a torch model (format: torch)"
    if metric in ("robust_accuracy", "prediction_stability"):
        perturbation = requirement.perturbation
        if perturbation is None:
            return f"{metric} needs a 'perturbation' to apply"
        unfit = perturbation_unfit(
            perturbation.kind,
            tabular=tabular,
            differentiable=model_format in _DIFFERENTIABLE_FORMATS,
        )
        if unfit is not None:
            return unfit
    threshold = requirement.threshold
    if metric in PROPORTIONS and threshold is not None and not 0.0 <= threshold <= 1.0:
        return f"threshold {threshold:g} lies outside [0, 1], the range of a proportion"
    return None
