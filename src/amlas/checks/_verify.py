"""Robustness, formal and fault-injection evidence for one [H] requirement on one dataset.

Which computation a requirement calls for:

- ``robust_accuracy`` / ``prediction_stability`` with a ``perturbation``: tabular noise and
  scaling (:mod:`._robustness`), image corruptions (:mod:`._images`), or gradient attacks
  (FGSM, PGD through ART, :mod:`._adversarial`; torch models). The per-sample decisions
  under the perturbation are judged per slice with exact bounds, and the samples that
  changed are listed.
- a ``property`` (the formal leg, G5.4): local robustness around a seeded draw of the
  dataset's samples, proven by interval bound propagation and/or Marabou on the ONNX form of
  the network (:mod:`.formal`). A sample counts as robust only when proven; queries that
  end ``unknown`` or in a ``timeout`` are decided both ways, and the verdict is
  ``inconclusive`` (with their number) unless both ways agree. The record says how the
  property was encoded (R17, Note 36) and how closely the ONNX network reproduces the
  model's own outputs on those samples (G5.8).
- ``fault_tolerance_rate`` with ``faults``: seeded fault campaigns in the weights or the
  activations of a torch model (:mod:`._faults`); the proportion of campaigns whose
  accuracy loss stays within the tolerance is judged with an exact bound over campaigns.

Nothing here writes evidence: the caller turns each :class:`RequirementResult` into a
record.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters import Model, TorchModel, torch_module
from amlas.checks._datasets import Dataset
from amlas.checks._intervals import decide_slices
from amlas.checks._metrics import (
    MAX_LISTED_IDS,
    Predictions,
    RequirementResult,
    SliceResult,
    decision_offsets,
    evaluate_indicator,
    prepare,
)
from amlas.checks._robustness import perturbation_seed
from amlas.checks.perturbations import get_perturbation
from amlas.errors import ValueProblem
from amlas.hashing import sha256_file
from amlas.project.artefacts import MLSafetyRequirement

__all__ = [
    "fault_result",
    "formal_result",
    "perturbed_decisions",
]

Progress = Callable[[int], None]


def _none(_done: int) -> None:
    return None


# -- perturbations and attacks -------------------------------------------------------------


def perturbed_decisions(
    requirement: MLSafetyRequirement,
    dataset: Dataset,
    predictions: Predictions,
    model: Model,
    *,
    decide: Callable[[NDArray[Any]], NDArray[np.str_]],
    value_range: tuple[float, float] | None,
    batch_size: int,
    progress: Progress = _none,
) -> tuple[NDArray[np.str_], dict[str, Any]]:
    """The decision on every sample under the requirement's perturbation, and what was
    done. ``decide`` maps a batch of (perturbed) inputs to the deployed decisions.

    Random and geometric perturbations count a sample as stable only when every copy
    (both directions, where there are two) leaves its decision as it was; attacks search
    for a change away from the true label (robust accuracy) or from the model's own
    decision (prediction stability). A perturbation setting the inputs cannot take is a
    :class:`~amlas.errors.ValueProblem` (R030) naming the requirement."""
    perturbation = requirement.perturbation
    assert perturbation is not None
    try:
        return get_perturbation(perturbation.kind).decisions(
            requirement,
            dataset,
            predictions,
            model,
            decide=decide,
            value_range=value_range,
            batch_size=batch_size,
            seed=perturbation_seed(requirement.id),
            progress=progress,
        )
    except ValueProblem as exc:
        first = exc.diagnostic
        if first.location.path != "[H]" or first.message.startswith(f"{requirement.id}:"):
            raise
        raise ValueProblem(
            f"{requirement.id}: {first.message}",
            code=first.code,
            path="[H]",
            value=exc.value,
            expected=exc.expected,
        ) from exc


# -- formal ------------------------------------------------------------------------------


def _select(dataset: Dataset, requirement: MLSafetyRequirement, count: int) -> NDArray[np.int64]:
    """A seeded draw of ``count`` in-scope samples, in dataset order."""
    plan = dataset.plan_of(requirement)
    eligible = np.flatnonzero(plan.codes >= 0)
    if len(eligible) <= count:
        return eligible.astype(np.int64)
    rng = np.random.default_rng(perturbation_seed(requirement.id + "/formal"))
    return np.sort(rng.choice(eligible, size=count, replace=False)).astype(np.int64)


def _network_file(model: Model, sample: NDArray[np.generic], folder: Path) -> Path:
    wrapped = torch_module(model)
    if wrapped is not None:
        return wrapped.export_onnx(folder / "network.onnx", sample)
    return Path(model.onnx_path)  # type: ignore[attr-defined]


def formal_result(
    requirement: MLSafetyRequirement,
    dataset: Dataset,
    predictions: Predictions,
    model: Model,
    *,
    classes: list[str],
    features_mask: NDArray[np.bool_] | None,
    value_range: tuple[float, float] | None,
    progress: Progress = _none,
) -> RequirementResult:
    """Verify the local-robustness property of ``requirement`` (see the module doc)."""
    from amlas.checks.formal import (
        FormalError,
        describe_encoding,
        load_network,
        verify_local_robustness,
    )

    prop = requirement.property
    assert prop is not None
    assert requirement.threshold is not None
    resolved, problems = prepare(requirement, dataset, predictions, classes=classes)
    # the formal result is a proportion of proven samples, whatever the test metric is
    resolved.update(metric="verified_robustness", comparison="at_least")
    drawn = _select(dataset, requirement, prop.samples)
    names = list(predictions.classes)
    misclassified = np.zeros(len(dataset), dtype=bool)
    if prop.reference == "label":
        misclassified[drawn] = predictions.labels[drawn] != dataset.labels[drawn]
    chosen = drawn[~misclassified[drawn]]  # the samples that get a query
    inputs = np.asarray(dataset.inputs)[chosen]
    reference = np.array(
        [names.index(str(label)) for label in predictions.labels[chosen]], dtype=np.int64
    )
    offsets = decision_offsets(predictions)
    if len(drawn) == 0:
        raise FormalError(
            f"{requirement.id}: no sample of [{dataset.letter}] lies in the requirement's "
            "slices, so there is nothing to verify"
        )
    with tempfile.TemporaryDirectory(prefix="amlas-formal-") as folder:
        path = _network_file(model, np.asarray(dataset.inputs)[drawn], Path(folder))
        network_digest = sha256_file(path)
        network = load_network(path)
        agreement = _agreement(network.forward(inputs), model, inputs, offsets, reference)
        proofs = (
            verify_local_robustness(
                path,
                inputs,
                reference,
                epsilon=prop.epsilon,
                norm=prop.norm,
                value_range=value_range,
                mask=features_mask,
                offsets=offsets,
                method=prop.method,
                timeout_s=prop.timeout_s,
                progress=progress,
            )
            if len(chosen)
            else []
        )
        encoding = describe_encoding(
            network,
            epsilon=prop.epsilon,
            norm=prop.norm,
            value_range=value_range,
            mask=features_mask,
            offsets=offsets,
            method=prop.method,
            timeout_s=prop.timeout_s,
        )
    n = len(dataset)
    status = np.full(n, "", dtype=object)
    status[misclassified] = "misclassified"
    for proof in proofs:
        status[chosen[proof.index]] = proof.status
    trial = np.zeros(n, dtype=bool)
    trial[drawn] = True
    proven = status == "proven"
    open_ = np.isin(status, ["unknown", "timeout", "error"])

    def judged(success: NDArray[np.bool_]) -> RequirementResult:
        return evaluate_indicator(
            requirement,
            dataset,
            None,
            trial,
            success,
            check="formal.local_robustness",
            resolved=dict(resolved),
            problems=list(problems),
        )

    # open queries decided both ways: as not robust, then as robust
    pessimistic, optimistic = judged(proven), judged(proven | open_)
    slices = _merge_open(pessimistic.slices, optimistic.slices)
    kinds = ("proven", "counterexample", "unknown", "timeout", "error", "misclassified")
    counts = {kind: int(np.sum(status == kind)) for kind in kinds}
    resolved.update(pessimistic.resolved)
    resolved.update(
        property=prop.model_dump(mode="json", exclude_defaults=False),
        requirement_metric=requirement.metric,
        encoding=encoding,
        network={"sha256": network_digest, "format": "onnx", **agreement},
        samples_drawn=len(drawn),
        samples_queried=len(chosen),
        misclassified=[str(x) for x in dataset.ids[misclassified]],
        outcomes=counts,
        queries=[
            {
                "sample": str(dataset.ids[chosen[p.index]]),
                "status": p.status,
                "method": p.method,
                "seconds": round(p.seconds, 4),
                "margin": None if p.margin is None else float(p.margin),
                "decided": None if p.decided is None else names[p.decided],
                "detail": p.detail,
            }
            for p in proofs
        ],
    )
    if agreement["decisions_agree"] < len(chosen):
        problems.append(
            f"the ONNX network decides {len(chosen) - agreement['decisions_agree']} of "
            f"{len(chosen)} queried samples differently from the model: proofs about it do "
            "not carry over"
        )
    return RequirementResult(
        requirement,
        dataset.letter,
        "formal.local_robustness",
        f"formal ({prop.method})",
        slices,
        resolved,
        problems,
    )


def _agreement(
    network_logits: NDArray[np.float64],
    model: Model,
    inputs: NDArray[np.generic],
    offsets: NDArray[np.float64] | None,
    reference: NDArray[np.int64],
) -> dict[str, Any]:
    """How closely the verified network reproduces the model on the queried samples."""
    shifted = network_logits + (offsets if offsets is not None else 0.0)
    decided = np.argmax(shifted, axis=1)
    out: dict[str, Any] = {"decisions_agree": int(np.sum(decided == reference))}
    wrapped = torch_module(model)
    if wrapped is not None and len(inputs):
        diff = np.abs(network_logits - wrapped.logits(inputs))
        out["max_abs_logit_difference"] = float(np.max(diff))
    return out


def _merge_open(pessimistic: list[SliceResult], optimistic: list[SliceResult]) -> list[SliceResult]:
    """Per slice: pass only when the open queries counted as not robust still pass; fail
    only when counting them as robust still fails; inconclusive in between."""
    merged = []
    for low, high in zip(pessimistic, optimistic, strict=True):
        open_count = (high.successes or 0) - (low.successes or 0)
        if low.verdict == "pass" or open_count == 0:
            merged.append(low)
            continue
        if high.verdict == "fail":
            merged.append(replace(low, verdict="fail", reason=high.reason + _open(open_count)))
            continue
        reason = (
            f"{open_count} queries ended unknown or in a timeout, and they decide the "
            f"verdict: counted as not robust the bound is {low.bound:.4f}, counted as "
            f"robust it is {high.bound:.4f} (threshold {low.threshold:g}); give the "
            "solver more time, or a smaller network"
        )
        merged.append(replace(low, verdict="inconclusive", reason=reason))
    return merged


def _open(count: int) -> str:
    return f" (even counting the {count} unknown or timed-out queries as robust)"


# -- fault injection ---------------------------------------------------------------------


def fault_result(
    requirement: MLSafetyRequirement,
    dataset: Dataset,
    predictions: Predictions,
    model: TorchModel,
    *,
    classes: list[str],
    batch_size: int,
    progress: Progress = _none,
) -> RequirementResult:
    """Run the requirement's fault campaigns on ``dataset`` (see the module doc)."""
    from amlas.checks._faults import run_fault_campaigns

    faults = requirement.faults
    assert faults is not None
    assert requirement.threshold is not None
    resolved, problems = prepare(requirement, dataset, predictions, classes=classes)
    names = list(predictions.classes)
    # a campaign's accuracy is measured on the samples the precondition keeps
    kept = dataset.kept_by(requirement)
    known = np.isin(dataset.labels, names) & kept
    inputs = np.asarray(dataset.inputs)[known]
    labels = np.array([names.index(str(x)) for x in dataset.labels[known]], dtype=np.int64)
    result = run_fault_campaigns(
        model.logits_module(),
        inputs,
        labels,
        faults,
        seed=perturbation_seed(requirement.id + "/faults"),
        batch_size=batch_size,
        offsets=decision_offsets(predictions),
        progress=progress,
    )
    tolerated = [c.tolerated for c in result.campaigns]
    (decision,) = decide_slices(
        [(sum(tolerated), len(tolerated))],
        threshold=requirement.threshold,
        comparison=resolved["comparison"],
        confidence=resolved["confidence"],
    )
    failing = [f"campaign-{c.number}" for c in result.campaigns if not c.tolerated]
    slices = [
        SliceResult(
            slice="fault campaigns",
            cell={},
            verdict=decision.verdict,
            estimate=decision.estimate,
            lower=decision.interval.lower,
            upper=decision.interval.upper,
            bound=decision.bound,
            threshold=decision.threshold,
            comparison=resolved["comparison"],
            reason=decision.reason,
            trials=decision.trials,
            successes=decision.successes,
            additional_samples=decision.additional_samples,
            p_pass=decision.p_pass,
            p_fail=decision.p_fail,
            failing_count=len(failing),
            failing_ids=failing[:MAX_LISTED_IDS],
        )
    ]
    resolved.update(
        method="clopper-pearson over campaigns",
        family="none",
        slices=["fault campaigns"],
        faults=result.described,
        baseline_accuracy=result.baseline_accuracy,
        samples_evaluated=int(known.sum()),
        loss_summary=result.summary(),
        campaigns=[_campaign(c) for c in result.campaigns],
    )
    unknown = ~np.isin(dataset.labels, names) & kept
    if unknown.any():
        problems.append(
            f"{int(unknown.sum())} sample(s) have labels outside the model's classes {names}"
        )
    return RequirementResult(
        requirement,
        dataset.letter,
        "faults.fault_tolerance_rate",
        "fault injection",
        slices,
        resolved,
        problems,
    )


def _campaign(campaign: Any) -> dict[str, Any]:
    return {
        "number": campaign.number,
        "seed": campaign.seed,
        "accuracy": campaign.accuracy,
        "loss": campaign.loss,
        "tolerated": campaign.tolerated,
        "nonfinite": campaign.nonfinite,
        "faults": [f.as_json() for f in campaign.faults],
    }
