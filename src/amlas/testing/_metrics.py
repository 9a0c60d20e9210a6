"""The conformance suite of a metric plug-in (``amlas.metrics``)."""

from __future__ import annotations

import math
import re

import numpy as np

from amlas.checks import Dataset, Predictions, RequirementResult
from amlas.checks.metrics import Metric, MetricContext, result_problems
from amlas.project import MetricSpec
from amlas.project.artefacts import MLSafetyRequirement

__all__ = ["check_metric"]

_CHECK_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_VERDICTS = frozenset({"pass", "fail", "inconclusive"})


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def _no_perturbation() -> tuple[np.ndarray, dict[str, object]]:
    raise AssertionError("the metric asked for perturbed decisions; give check_metric them")


def check_metric(
    metric: Metric,
    requirement: MLSafetyRequirement,
    dataset: Dataset,
    predictions: Predictions,
    *,
    context: MetricContext | None = None,
    model_format: str = "skops",
    tabular: bool = True,
) -> RequirementResult:
    """Check that ``metric`` keeps the :class:`~amlas.checks.metrics.Metric` contract when
    it judges ``requirement`` (which names it) on ``dataset`` with ``predictions``;
    returns the result.

    Checked: the plug-in's attributes (a :class:`MetricSpec` named as the requirement's
    metric, a sane range, a direction, tasks; distributions as package names); a check
    name ``family.name``; ``unavailable`` and ``unavailable_with`` answer None or a
    sentence; the result names that check and the dataset, has at least one slice, each
    with a verdict of pass/fail/inconclusive, an estimate and a bound inside the metric's
    range, the bound on the cautious side of the estimate (below it when higher is
    better), counts that add up, and a verdict that never passes where the bound does not
    meet the threshold; the same answer twice (no hidden randomness).
    """
    spec = metric.spec
    _expect(isinstance(spec, MetricSpec), f"spec={spec!r}; expected an amlas MetricSpec")
    _expect(spec.name == requirement.metric, f"spec.name={spec.name!r} is not the metric")
    _expect(spec.lower < spec.upper, f"range [{spec.lower}, {spec.upper}] is empty")
    _expect(bool(spec.tasks), "spec.tasks is empty: which tasks does the metric fit?")
    _expect(
        isinstance(metric.distributions, tuple)
        and all(isinstance(d, str) and d for d in metric.distributions),
        f"distributions={metric.distributions!r}; expected a tuple of package names",
    )
    name = metric.check_name(requirement)
    _expect(bool(_CHECK_NAME.match(name)), f"check_name gave {name!r}; expected 'family.name'")
    why = metric.unavailable(requirement, model_format=model_format, tabular=tabular)
    _expect(why is None or (isinstance(why, str) and bool(why.strip())), f"unavailable: {why!r}")
    _expect(why is None, f"the requirement cannot be judged: {why}; give one it can judge")
    offered = context or MetricContext(
        classes=list(predictions.classes),
        model=lambda: (_ for _ in ()).throw(AssertionError("no model in check_metric")),
        batch_size=1024,
        task=lambda _description, _total: lambda _done: None,
        perturbed=_no_perturbation,
    )
    result = metric.evaluate(requirement, dataset, predictions, offered)
    again = metric.evaluate(requirement, dataset, predictions, offered)
    _expect(isinstance(result, RequirementResult), f"evaluate gave {type(result).__name__}")
    _expect(result.dataset == dataset.letter, f"result.dataset={result.dataset!r}")
    _expect(bool(result.slices), "the result has no slice")
    _expect(result.verdict in _VERDICTS, f"verdict={result.verdict!r}")
    wrong = result_problems(metric, requirement, result)
    _expect(not wrong, "; ".join(wrong))
    higher = spec.higher_is_better
    for part in result.slices:
        where = f"slice {part.slice!r}"
        _expect(part.verdict in _VERDICTS, f"{where}: verdict={part.verdict!r}")
        for label, value in (("estimate", part.estimate), ("bound", part.bound)):
            if value is not None and math.isfinite(value):
                inside = spec.lower - 1e-9 <= value <= spec.upper + 1e-9
                _expect(inside, f"{where}: {label} {value} outside {spec.range_text()}")
        estimate, bound = part.estimate, part.bound
        if estimate is not None and math.isfinite(estimate) and math.isfinite(bound):
            cautious = bound <= estimate + 1e-12 if higher else bound >= estimate - 1e-12
            _expect(cautious, f"{where}: bound {bound} is not on the cautious side of {estimate}")
        if part.trials is not None and part.successes is not None:
            _expect(0 <= part.successes <= part.trials, f"{where}: counts do not add up")
    same = [(s.slice, s.verdict, s.estimate, s.bound) for s in again.slices]
    _expect(same == [(s.slice, s.verdict, s.estimate, s.bound) for s in result.slices],
            "a second evaluation gave another answer")  # fmt: skip
    return result
