"""What an [H] requirement calls for, and whether that can run, from the artefacts alone.

The plan of a run (:mod:`amlas.verify`) asks these questions before any model or data is
loaded; the answers name the check a record will carry and why a check cannot run. The
metric plug-in answers for its leg (:mod:`amlas.checks.metrics`); the formal leg is
answered here. What shows only with the model loaded (a model without probabilities for
a calibration metric) is asked again by the run itself.
"""

from __future__ import annotations

from amlas.checks.metrics import get_metric
from amlas.plugins import PluginError
from amlas.project.artefacts import MLSafetyRequirement

__all__ = ["formal_only", "requirement_check", "requirement_unavailable"]

_NETWORK_FORMATS = frozenset({"torch", "onnx"})


def requirement_check(requirement: MLSafetyRequirement) -> str:
    """The check name a record of ``requirement`` on data carries, e.g. ``metric.recall``."""
    return get_metric(requirement.metric or "").check_name(requirement)


def formal_only(requirement: MLSafetyRequirement) -> bool:
    """Whether the requirement's metric is judged by the formal leg alone."""
    try:
        return bool(getattr(get_metric(requirement.metric or ""), "formal_only", False))
    except PluginError:
        return False


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
    try:
        metric = get_metric(requirement.metric or "")
    except PluginError as exc:
        return str(exc)
    return metric.unavailable(requirement, model_format=model_format, tabular=tabular)
