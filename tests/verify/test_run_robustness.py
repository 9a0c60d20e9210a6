"""`amlas run` on a torch image classifier: image perturbations, PGD, formal proofs and fault
campaigns as evidence, checked against the closed-form robust radius of
``tests/torch_project.py``."""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evidence"))

from evidence_factory import declare_verifier_key

from amlas.case import build_case
from amlas.evidence import EvidenceRecord
from amlas.sealing import VerifierKey, generate_key
from amlas.verify import RunReport, run_project
from runnable import rows, runnable
from torch_project import default_requirements, image_project, radius, use_requirements


@pytest.fixture(autouse=True)
def _fresh_net() -> Iterator[None]:
    for name in ("net", "mini_model"):
        sys.modules.pop(name, None)
    yield
    for name in ("net", "mini_model"):
        sys.modules.pop(name, None)


def by_key(report: RunReport) -> dict[str, EvidenceRecord]:
    return {record.key: record for _, record in report.records}


def requirement(rid: str, **changes: Any) -> dict[str, Any]:
    chosen = copy.deepcopy(next(r for r in default_requirements() if r["id"] == rid))
    for name, value in changes.items():
        if isinstance(value, dict) and isinstance(chosen.get(name), dict):
            chosen[name].update(value)
        else:
            chosen[name] = value
    return chosen


def changed_ids(record: EvidenceRecord) -> set[str]:
    (result,) = record.results
    assert result["failing_count"] == len(result["failing_ids"])
    return set(result["failing_ids"])


def ids_within(letter: str, eps: float) -> set[str]:
    """The samples whose robust radius is below ``eps``."""
    return {r[0] for r, near in zip(rows(letter), radius(letter) < eps, strict=True) if near}


@pytest.fixture
def key(tmp_path: Path) -> VerifierKey:
    return generate_key(tmp_path / "keys" / "verifier.key")


def test_brightness_and_pgd_change_exactly_the_samples_within_reach(tmp_path: Path) -> None:
    root = image_project(
        tmp_path / "p",
        [
            requirement("MLR-1", perturbation={"magnitude": 12.0}),
            requirement("MLR-2", perturbation={"magnitude": 12.0, "steps": 10}),
        ],
    )
    report = run_project(str(root), stages=(4,))
    records = by_key(report)
    expected = ids_within("O", 12.0)
    assert expected  # the data has samples within reach, so the test can fail
    brightness = records["stage4/MLR-1/O"]
    assert changed_ids(brightness) == expected
    described = brightness.resolved["perturbation"]
    assert described["kind"] == "brightness"
    pgd = records["stage4/MLR-2/O"]
    assert changed_ids(pgd) == expected
    attack = pgd.resolved["perturbation"]
    assert attack["norm"] == "linf"
    assert attack["eps"] == 12.0
    assert attack["max_iter"] == 10
    assert "adversarial-robustness-toolbox" in pgd.versions
    assert pgd.check == "robustness.robust_accuracy"
    (result,) = pgd.results
    assert result["samples"] == 60
    assert result["successes"] == 60 - len(expected)


def test_formal_proofs_agree_with_the_closed_form_radius(tmp_path: Path) -> None:
    root = image_project(
        tmp_path / "p",
        [
            requirement("MLR-3", id="MLR-3", property={"epsilon": 4.0, "samples": 60}),
            {
                **requirement("MLR-3", property={"epsilon": 30.0, "samples": 60}),
                "id": "MLR-5",
            },
        ],
    )
    report = run_project(str(root), stages=(4,))
    records = by_key(report)
    assert "stage4/MLR-3/O" not in records  # verified_robustness has only the formal record
    small = records["stage4/MLR-3/formal"]
    assert small.check == "formal.local_robustness"
    assert small.verdict == "pass"
    assert small.resolved["outcomes"]["proven"] == 60
    assert small.resolved["network"]["decisions_agree"] == 60
    assert small.resolved["network"]["max_abs_logit_difference"] < 1e-3
    assert small.resolved["encoding"]
    assert "maraboupy" in small.versions

    large = records["stage4/MLR-5/formal"]
    refuted = {q["sample"] for q in large.resolved["queries"] if q["status"] == "counterexample"}
    proven = {q["sample"] for q in large.resolved["queries"] if q["status"] == "proven"}
    assert refuted == ids_within("O", 30.0)
    assert refuted | proven == {r[0] for r in rows("O")}
    assert changed_ids(large) == refuted
    assert large.verdict == "fail"


def test_unknown_and_timeout_never_count_as_proven(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from amlas.checks import formal

    real = formal.verify_local_robustness

    def stalling(*args: Any, **kwargs: Any) -> list[Any]:
        import dataclasses

        out = real(*args, **kwargs)
        # the solver "runs out of time" on a third of the samples
        return [
            dataclasses.replace(p, status="timeout", detail="timeout") if p.index % 3 == 0 else p
            for p in out
        ]

    monkeypatch.setattr(formal, "verify_local_robustness", stalling)
    root = image_project(
        tmp_path / "p", [requirement("MLR-3", property={"epsilon": 4.0, "samples": 60})]
    )
    record = by_key(run_project(str(root), stages=(4,)))["stage4/MLR-3/formal"]
    assert record.resolved["outcomes"]["timeout"] == 20
    assert record.verdict == "inconclusive"
    (result,) = record.results
    assert result["successes"] == 40  # only proofs count
    assert "20 queries ended unknown or in a timeout" in result["reason"]


def test_fault_campaigns_are_evidence_over_campaigns(tmp_path: Path) -> None:
    root = image_project(tmp_path / "p", [requirement("MLR-4")])
    first = by_key(run_project(str(root), stages=(4,)))["stage4/MLR-4/O"]
    assert first.check == "faults.fault_tolerance_rate"
    (result,) = first.results
    campaigns = first.resolved["campaigns"]
    assert result["samples"] == len(campaigns) == 40
    assert result["successes"] == sum(c["tolerated"] for c in campaigns)
    assert changed_ids(first) == {
        f"campaign-{c['number']}" for c in campaigns if not c["tolerated"]
    }
    assert first.resolved["baseline_accuracy"] == 1.0
    losses = [c["loss"] for c in campaigns]
    assert first.resolved["loss_summary"]["loss_quantiles"]["max"] == pytest.approx(max(losses))
    # seeded: a second run injects the same faults and measures the same losses
    second = by_key(run_project(str(root), stages=(4,)))["stage4/MLR-4/O"]
    assert second.resolved["campaigns"] == campaigns


def test_what_a_model_cannot_take_is_listed_as_not_run(tmp_path: Path) -> None:
    from factory import documents

    docs = documents()
    base = {"kind": "robustness", "traces_to": ["ALR-1"], "confidence": 0.95, "threshold": 0.9}
    docs["H"]["requirements"] = [
        {
            **base,
            "id": "MLR-1",
            "text": "PGD",
            "metric": "robust_accuracy",
            "perturbation": {"kind": "pgd", "magnitude": 1.0},
        },
        {
            **base,
            "id": "MLR-2",
            "text": "Blur",
            "metric": "prediction_stability",
            "perturbation": {"kind": "blur", "magnitude": 1.0},
        },
        {
            **base,
            "id": "MLR-3",
            "text": "Faults",
            "metric": "fault_tolerance_rate",
            "faults": {"kind": "bit_flip", "max_accuracy_loss": 0.01},
        },
    ]
    use_requirements(docs, docs["H"]["requirements"])
    root = runnable(tmp_path / "mini", docs)
    report = run_project(str(root), stages=(4,))
    reasons = dict(report.not_run)
    assert "needs gradients" in reasons["MLR-1 on [O]"]
    assert "applies to image inputs" in reasons["MLR-2 on [O]"]
    assert "needs a torch model" in reasons["MLR-3 on [O]"]
    assert not [key for key in by_key(report) if key.startswith("stage4/")]


def test_verifier_evidence_feeds_both_stage5_legs(tmp_path: Path, key: VerifierKey) -> None:
    root = image_project(tmp_path / "p")
    declare_verifier_key(root, key)
    run_project(str(root), stages=(4,))
    report = run_project(str(root), role="verifier", key=key)
    keys = set(by_key(report))
    assert {"stage5/MLR-1/P", "stage5/MLR-2/P", "stage5/MLR-3/formal", "stage5/MLR-4/P"} <= keys
    case = build_case(root)
    nodes = case.nodes
    assert nodes["Sn5.3.MLR-3"].status == "supported"
    assert "G5.4.MLR-3" in nodes
    assert nodes["Sn5.2.MLR-2"].status == "supported"
    assert nodes["Sn5.2.MLR-4"].status == "supported"
    # stage 4 cites the formal record of a formally verified requirement, not a test one
    cited = {case.evidence[d].key for d in nodes["Sn4.1"].evidence}
    assert {"stage4/MLR-1/O", "stage4/MLR-3/formal", "stage4/MLR-4/O"} <= cited
    assert "stage4/MLR-3/O" not in cited


def test_reference_label_counts_misclassified_samples_as_not_robust(tmp_path: Path) -> None:
    import dataclasses

    from amlas.adapters import load_model
    from amlas.checks import formal_result, load_dataset, predict
    from amlas.project import check_project

    root = image_project(tmp_path / "p")
    project = check_project(root).project
    dataset = load_dataset(project, "O")
    model = load_model(
        root / "model" / "weights.pt",
        "torch",
        callable="net:load",
        class_order=["negative", "positive"],
        search_path=root,
    )
    predictions = predict(model, dataset.inputs, positive="positive", threshold=None)
    # pretend the model got the first five samples wrong
    labels = predictions.labels.copy()
    flipped = {"negative": "positive", "positive": "negative"}
    labels[:5] = [flipped[str(x)] for x in labels[:5]]
    wrong = dataclasses.replace(predictions, labels=labels, _memo={})
    spec = requirement("MLR-3", property={"epsilon": 4.0, "samples": 60, "reference": "label"})
    req = project.ml_requirements.requirements[2].model_validate(spec)  # type: ignore[union-attr]
    result = formal_result(
        req,
        dataset,
        wrong,
        model,
        classes=["negative", "positive"],
        features_mask=None,
        value_range=(0.0, 255.0),
    )
    assert result.resolved["outcomes"]["misclassified"] == 5
    assert result.resolved["samples_queried"] == 55
    assert set(result.resolved["misclassified"]) == {str(x) for x in dataset.ids[:5]}
    (only,) = result.slices
    assert only.successes == 55
    assert only.trials == 60
