"""Stages 4 and 5: each data-related [H] requirement judged on [O] ([X]) or on [P] ([Z]),
and the formal leg of a requirement with a property (G5.4)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters import model_format
from amlas.checks import (
    Dataset,
    Predictions,
    RequirementResult,
    across_statement,
    perturbed_decisions,
    predict,
)
from amlas.checks.metrics import Metric, MetricContext, get_metric, result_problems
from amlas.checks.perturbations import get_perturbation
from amlas.checks.properties import get_property
from amlas.project.artefacts import MLSafetyRequirement
from amlas.verify._context import RunContext, SummaryRow
from amlas.verify._planned import PlannedCheck
from amlas.verify._records import make_record, state_defaults, timed
from amlas.verify._stream import streamed_result

__all__ = ["run_formal_check", "run_requirement_check"]


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
    prop = requirement.property
    assert prop is not None
    kind = get_property(prop.kind)
    reason = kind.unavailable_with(requirement, context.model())
    if reason is not None:
        context.not_run(what, reason)
        return
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
            result = kind.verify(
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
    _keep(context, planned, result, meta, kind.distributions)


def run_requirement_check(context: RunContext, planned: PlannedCheck) -> None:
    """The requirement's metric (a plug-in) on the planned dataset, slice by slice."""
    requirement = _requirement(context, planned)
    (letter,) = planned.datasets
    metric = get_metric(requirement.metric or "")
    with timed() as meta:
        streamed = streamed_result(context, planned)
    if isinstance(streamed, str):
        context.not_run(f"{requirement.id} on [{letter}]", streamed)
        return
    if streamed is not None:  # judged from the dataset read in chunks
        _finish(context, planned, streamed, meta, metric)
        return
    dataset = context.dataset(letter)
    ref = context.model_reference
    model = context.model() if ref is not None and ref.loadable else None
    reason = metric.unavailable_with(requirement, model, dataset)
    if reason is not None:
        context.not_run(f"{requirement.id} on [{letter}]", reason)
        return
    with timed() as meta:
        predictions = context.predictions(letter)
        offered = MetricContext(
            classes=context.classes(),
            model=context.model,
            batch_size=context.batch_size,
            task=context.reporter.task,
            perturbed=lambda: _perturbed(context, requirement, dataset, predictions),
        )
        result = metric.evaluate(requirement, dataset, predictions, offered)
    _finish(context, planned, result, meta, metric)


def _finish(
    context: RunContext,
    planned: PlannedCheck,
    result: RequirementResult,
    meta: dict[str, Any],
    metric: Metric,
) -> None:
    requirement = result.requirement
    # a plug-in's verdict is checked against the requirement, not taken on its word
    result.problems.extend(result_problems(metric, requirement, result))
    across = across_statement(result)
    if across is not None:  # robustness across the operating domain: the worst band
        result.resolved["across"] = across
    _, source = context.positive_class()
    result.resolved["positive_class_source"] = source
    _keep(context, planned, result, meta, metric.distributions)


def _perturbed(
    context: RunContext,
    requirement: MLSafetyRequirement,
    dataset: Dataset,
    predictions: Predictions,
) -> tuple[NDArray[np.str_], dict[str, Any]]:
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


def _distributions(
    context: RunContext, result: RequirementResult, extra: tuple[str, ...]
) -> tuple[str, ...]:
    """The model format's distributions, the metric's, and those of the tools a leg used."""
    ref = context.model_reference
    out = model_format(ref.format).distributions if ref is not None and ref.format else ()
    out = (*out, *extra)
    perturbation = result.requirement.perturbation
    if perturbation is not None:
        return (*out, *get_perturbation(perturbation.kind).distributions)
    return out


def _keep(
    context: RunContext,
    planned: PlannedCheck,
    result: RequirementResult,
    meta: dict[str, Any],
    distributions: tuple[str, ...] = (),
) -> None:
    requirement = result.requirement
    if result.problems:
        result.resolved["problems"] = result.problems
    inputs = context.test_inputs(planned, requirement)
    state_defaults(requirement, result.resolved, inputs)
    record = make_record(
        planned,
        role=context.role,
        dataset=result.dataset,
        parameters=requirement.model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude_defaults=True
        ),
        resolved=result.resolved,
        inputs=inputs,
        results=[s.as_json() for s in result.slices],
        verdict=result.verdict,
        summary=result.summary,
        distributions=_distributions(context, result, distributions),
        metadata=meta,
    )
    context.keep(record, sample_ids=result.listed_ids)
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
