"""Issue 13: every built-in metric and data rule passes the conformance suite amlas ships
for plug-in authors (``amlas.testing``), and the suite and the run refuse a metric whose
result misstates what it was judged against."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

import amlas
from amlas.adapters import load_model
from amlas.checks import Dataset, Predictions, RequirementResult, load_dataset, predict
from amlas.checks.data_rules import get_data_rule
from amlas.checks.metrics import MetricContext, get_metric
from amlas.plugins import registry
from amlas.project import Project
from amlas.project.artefacts import DataRequirement, MLSafetyRequirement, ModelReference
from amlas.testing import check_data_rule, check_metric, example_project


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return amlas.load(example_project(tmp_path_factory.mktemp("bc") / "project"))


@pytest.fixture(scope="module")
def judged(example: Project) -> tuple[Dataset, Predictions]:
    ref = example.get("V", ModelReference)
    assert ref is not None
    model = load_model(example.root / ref.location, ref.format, class_order=ref.class_order)
    dataset = load_dataset(example, "O")
    return dataset, predict(model, dataset.inputs, positive="malignant", threshold=0.43)


def test_every_builtin_data_rule_keeps_the_contract(example: Project) -> None:
    data = example.data_requirements
    assert data is not None
    items = [r for r in data.requirements if r.rule is not None]
    items.append(
        DataRequirement.model_validate(
            {
                "id": "DR-90",
                "category": "balance",
                "text": "Few samples repeat an earlier one",
                "rule": {"check": "duplicates", "max_rate": 0.05},
            }
        )
    )
    checked = set()
    for item in items:
        assert item.rule is not None
        outcome = check_data_rule(
            get_data_rule(item.rule.check), example, item, load_dataset(example, "O")
        )
        assert outcome.verdict in ("pass", "fail", "inconclusive")
        checked.add(item.rule.check)
    builtins = {i.name for i in registry("amlas.data_rules").entries() if i.distribution == "amlas"}
    assert checked == builtins


@pytest.mark.parametrize("requirement_id", ["MLR-1", "MLR-3", "MLR-4"])
def test_builtin_metrics_keep_the_contract(
    example: Project, judged: tuple[Dataset, Predictions], requirement_id: str
) -> None:
    requirement = _requirement(example, requirement_id)
    dataset, predictions = judged
    result = check_metric(get_metric(requirement.metric or ""), requirement, dataset, predictions)
    assert result.slices


@dataclass(frozen=True)
class _Lenient:
    """The recall plug-in, reporting every slice against a threshold of 0: a pass it has
    no right to."""

    inner: object

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def evaluate(
        self,
        requirement: MLSafetyRequirement,
        dataset: Dataset,
        predictions: Predictions,
        context: MetricContext,
    ) -> RequirementResult:
        honest = self.inner.evaluate(requirement, dataset, predictions, context)  # type: ignore[attr-defined]
        slices = [replace(s, threshold=0.0, verdict="pass") for s in honest.slices]
        return replace(honest, slices=slices, problems=[])


def test_a_metric_that_lowers_its_threshold_is_caught(
    example: Project, judged: tuple[Dataset, Predictions], tmp_path: Path
) -> None:
    requirement = _requirement(example, "MLR-1")
    dataset, predictions = judged
    liar = _Lenient(get_metric("recall"))
    with pytest.raises(AssertionError, match=r"judged against 0\.0"):
        check_metric(liar, requirement, dataset, predictions)  # type: ignore[arg-type]

    # the run does not take the plug-in on its word either: the record is inconclusive
    recall = registry("amlas.metrics")
    recall.register("recall", liar, replace=True)
    try:
        report = amlas.run(example, store="memory://lenient-metric", stages=[4])
    finally:
        recall.unregister("recall")
    record = next(r for _, r in report.records if r.key == "stage4/MLR-1/O")
    assert record.verdict == "inconclusive"
    assert any("judged against 0.0" in p for p in record.resolved["problems"])
    assert not math.isnan(record.results[0]["bound"])


def _requirement(project: Project, rid: str) -> MLSafetyRequirement:
    ml = project.ml_requirements
    assert ml is not None
    return next(r for r in ml.requirements if r.id == rid)


@pytest.mark.parametrize("registered", [None, object()], ids=["None", "no-metric"])
def test_an_object_registered_as_a_metric_that_is_none_is_s009(registered: object) -> None:
    """The check that an object is a metric is remembered per object; nothing (None) is
    never taken for a metric found before."""
    from amlas.plugins import PluginError

    metrics = registry("amlas.metrics")
    metrics.register("recall", registered, replace=True)
    try:
        for _ in range(2):
            with pytest.raises(PluginError) as raised:
                get_metric("recall")
            assert raised.value.code == "S009"
    finally:
        metrics.unregister("recall")
    assert get_metric("recall").spec.name == "recall"
