"""What an [H] requirement calls for, and whether that can run, from the artefacts alone.

The plan of a run (:mod:`amlas.verify`) asks these questions before any model or data is
loaded; the answers name the check a record will carry and why a check cannot run. The
metric plug-in answers for its leg (:mod:`amlas.checks.metrics`), the property plug-in
for the formal leg (:mod:`amlas.checks.properties`). What shows only with the model
loaded (a model without probabilities for a calibration metric) is asked again by the run
itself.
"""

from __future__ import annotations

from amlas.checks.metrics import get_metric
from amlas.checks.properties import get_property
from amlas.plugins import PluginError
from amlas.project.artefacts import MLSafetyRequirement

__all__ = ["formal_only", "requirement_check", "requirement_unavailable"]


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
        try:
            return get_property(prop.kind).unavailable(requirement, model_format=model_format)
        except PluginError as exc:
            return str(exc)
    try:
        metric = get_metric(requirement.metric or "")
    except PluginError as exc:
        return str(exc)
    return metric.unavailable(requirement, model_format=model_format, tabular=tabular)
