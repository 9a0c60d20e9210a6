"""Stages 4 and 5: each data-related [H] requirement judged on [O] ([X]) or on [P] ([Z]),
and the formal leg of a requirement with a property (G5.4)."""

from __future__ import annotations

from typing import Any

import numpy as np

from amlas.adapters import torch_module
from amlas.checks import (
    Dataset,
    Predictions,
    RequirementResult,
    evaluate_requirement,
    fault_result,
    formal_result,
    formal_unavailable,
    perturbed_decisions,
    predict,
    robustness_unavailable,
)
from amlas.project.artefacts import MLSafetyRequirement
from amlas.verify._context import RunContext, SummaryRow
from amlas.verify._plan import PlannedCheck
from amlas.verify._records import make_record, timed

__all__ = ["run_formal_check", "run_requirement_check"]

_ATTACK_DISTRIBUTIONS = ("adversarial-robustness-toolbox",)
_FORMAL_DISTRIBUTIONS = ("maraboupy", "onnx", "onnxruntime")
# the distributions whose versions a record cites, per model format
_MODEL_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "skops": ("scikit-learn", "skops"),
    "sklearn_joblib": ("scikit-learn", "skops"),
    "onnx": ("onnxruntime",),
    "torch": ("torch",),
}


def _requirement(context: RunContext, planned: PlannedCheck) -> MLSafetyRequirement:
    ml = context.project.ml_requirements
    assert ml is not None
    return next(r for r in ml.requirements if r.id == planned.subject)


def run_formal_check(context: RunContext, planned: PlannedCheck) -> None:
    """The requirement's formal property on samples of the planned dataset."""
    from amlas.checks.formal import FormalError

    requirement = _requirement(context, planned)
    (letter,) = planned.datasets
    what = f"{requirement.id} formal on [{letter}]"
    reason = formal_unavailable(requirement, context.model())
    if reason is not None:
        context.not_run(what, reason)
        return
    prop = requirement.property
    assert prop is not None
    dataset = context.dataset(letter)
    mask = None
    if prop.features and dataset.features:
        mask = np.isin(np.asarray(dataset.features), prop.features)
    with timed() as meta:
        predictions = context.predictions(letter)
        advance = context.reporter.task(
            f"prove {requirement.id} [{letter}]", min(prop.samples, len(dataset))
        )
        try:
            result = formal_result(
                requirement,
                dataset,
                predictions,
                context.model(),
                classes=context.classes(),
                features_mask=mask,
                value_range=context.value_range,
                progress=advance,
            )
        except FormalError as exc:
            context.not_run(what, str(exc))
            return
    _keep(context, planned, result, meta)


def run_requirement_check(context: RunContext, planned: PlannedCheck) -> None:
    """The requirement's metric on the planned dataset, slice by slice."""
    requirement = _requirement(context, planned)
    (letter,) = planned.datasets
    dataset = context.dataset(letter)
    reason = _unavailable_with_model(context, requirement, dataset)
    if reason is not None:
        context.not_run(f"{requirement.id} on [{letter}]", reason)
        return
    with timed() as meta:
        predictions = context.predictions(letter)
        if requirement.metric == "fault_tolerance_rate":
            faults = requirement.faults
            assert faults is not None
            advance = context.reporter.task(
                f"fault campaigns {requirement.id} [{letter}]", faults.campaigns
            )
            result = fault_result(
                requirement,
                dataset,
                predictions,
                torch_module(context.model()),  # type: ignore[arg-type]
                classes=context.classes(),
                batch_size=context.batch_size,
                progress=advance,
            )
        else:
            perturbed, described = _perturbed(context, requirement, dataset, predictions)
            result = evaluate_requirement(
                requirement,
                dataset,
                predictions,
                classes=context.classes(),
                perturbed=perturbed,
                perturbation=described,
            )
    _, source = context.positive_class()
    result.resolved["positive_class_source"] = source
    _keep(context, planned, result, meta)


def _unavailable_with_model(
    context: RunContext, requirement: MLSafetyRequirement, dataset: Dataset
) -> str | None:
    """What the plan could not see: whether the loaded model and the read data fit."""
    reason = robustness_unavailable(requirement, context.model(), bool(dataset.features))
    if reason is not None:
        return reason
    if requirement.metric == "expected_calibration_error" and not context.model().has_proba:
        return "calibration needs a model that outputs probabilities"
    return None


def _perturbed(
    context: RunContext,
    requirement: MLSafetyRequirement,
    dataset: Dataset,
    predictions: Predictions,
) -> tuple[Any, dict[str, Any] | None]:
    if requirement.metric not in ("robust_accuracy", "prediction_stability"):
        return None, None
    perturbation = requirement.perturbation
    assert perturbation is not None
    model = context.model()
    # how many copies (directions) a perturbation makes is its module's business: the bar
    # counts predicted samples without a total
    advance = context.reporter.task(f"perturb {requirement.id} [{dataset.letter}]", None)

    def decide(inputs: Any) -> Any:
        fresh = predict(
            model,
            inputs,
            positive=predictions.positive,
            threshold=predictions.threshold,
            batch_size=context.batch_size,
            progress=advance,
        )
        return fresh.labels

    return perturbed_decisions(
        requirement,
        dataset,
        predictions,
        model,
        decide=decide,
        value_range=context.value_range,
        batch_size=context.batch_size,
        progress=advance,
    )


def _distributions(context: RunContext, result: RequirementResult) -> tuple[str, ...]:
    ref = context.model_reference
    out = _MODEL_DISTRIBUTIONS.get(ref.format, ()) if ref is not None else ()
    if result.check.startswith("formal."):
        return (*out, *_FORMAL_DISTRIBUTIONS)
    perturbation = result.requirement.perturbation
    if perturbation is not None and perturbation.kind in ("fgsm", "pgd"):
        return (*out, *_ATTACK_DISTRIBUTIONS)
    return out


def _keep(
    context: RunContext,
    planned: PlannedCheck,
    result: RequirementResult,
    meta: dict[str, Any],
) -> None:
    requirement = result.requirement
    if result.problems:
        result.resolved["problems"] = result.problems
    record = make_record(
        planned,
        role=context.role,
        check=result.check,
        dataset=result.dataset,
        parameters=requirement.model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude_defaults=True
        ),
        resolved=result.resolved,
        inputs=context.test_inputs(planned, requirement),
        results=[s.as_json() for s in result.slices],
        verdict=result.verdict,
        summary=result.summary,
        distributions=_distributions(context, result),
        metadata=meta,
    )
    context.keep(record)
    comparison = ">=" if result.slices[0].comparison == "at_least" else "<="
    threshold = f"{comparison} {requirement.threshold:g}"
    for s in result.slices:
        context.report.rows.append(
            SummaryRow(
                planned.stage,
                requirement.id,
                result.dataset,
                s.slice,
                s.estimate,
                s.bound if np.isfinite(s.bound) else None,
                threshold,
                s.verdict if not result.problems else "inconclusive",
                s.reason if not result.problems else "; ".join(result.problems),
            )
        )
