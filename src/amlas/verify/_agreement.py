"""Predictions made elsewhere, checked against the model [V] declares beside them: a
seeded sample of the file's samples predicted again (stages 4 and 5, key
``stage<4|5>/predictions/<X>``)."""

from __future__ import annotations

import hashlib

import numpy as np

from amlas.adapters import detect_batched
from amlas.checks import Boxes, Predictions, agreement_sample, compare_predictions, predict
from amlas.verify._context import RunContext, SummaryRow
from amlas.verify._planned import PlannedCheck
from amlas.verify._records import make_record, timed

__all__ = ["run_agreement_check"]


def _seed(key: str, filed: str | None, model: str) -> int:
    """The sample's seed, from the record key, the file's hash and the model's: a file
    made to agree only on a known sample cannot know it in advance."""
    text = f"{key}\x00{filed}\x00{model}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "little")


def run_agreement_check(context: RunContext, planned: PlannedCheck) -> None:
    """Predict a seeded sample of [X] again with the model and compare with the file."""
    (letter,) = planned.datasets
    ref = context.model_reference
    assert ref is not None
    spec = ref.predictions_for(letter)
    assert spec is not None
    settings = spec.agreement
    dataset = context.dataset(letter)
    with timed() as meta:
        filed = context.predictions(letter)
        seed = _seed(planned.key, filed.sha256, context.model_inputs()["model"])
        chosen = agreement_sample(len(dataset), settings.samples, seed)
        model = context.model()
        inputs = dataset.inputs[chosen]
        again: Predictions
        if filed.boxes is not None:
            found = detect_batched(model, inputs, batch_size=min(context.batch_size, 256))
            xyxy = found.xyxy
            truth = dataset.truth
            if truth is not None and truth.unit != "pixel":
                width, height = float(inputs.shape[2]), float(inputs.shape[1])
                xyxy = xyxy / np.array([width, height, width, height])
            boxes = Boxes(
                image=found.image,
                cls=found.cls,
                xyxy=xyxy,
                n_images=len(chosen),
                score=found.score,
            )
            nothing = np.full(len(chosen), "", dtype=np.str_)
            again = Predictions(
                nothing, None, filed.classes, None, None, np.zeros(len(chosen), bool), boxes=boxes
            )
        else:
            again = predict(
                model,
                inputs,
                positive=filed.positive,
                threshold=filed.threshold,
                batch_size=context.batch_size,
            )
        result = compare_predictions(
            dataset.ids,
            chosen,
            filed,
            again,
            score_tolerance=settings.score_tolerance,
            iou_tolerance=settings.iou_tolerance,
        )
    verdict = result.verdict
    summary = (
        f"predictions on [{letter}] ({spec.location}): {result.sampled - result.disagreeing_count}"
        f" of {result.sampled} sampled samples agree with the model ({verdict})"
    )
    inputs_cited = context.data_inputs(letter)
    inputs_cited.update(context.model_inputs())
    inputs_cited.update(context.output_inputs(letter))
    record = make_record(
        planned,
        role=context.role,
        dataset=letter,
        parameters=settings.model_dump(mode="json"),
        resolved={
            "unit": "samples of the predictions file (a seeded sample)",
            "sampled": result.sampled,
            "seed": seed,
            "confidence": result.confidence,
            "method": "exact Clopper-Pearson upper bound on the share that disagrees",
            **result.details,
        },
        inputs=inputs_cited,
        results=[
            {
                "sampled": result.sampled,
                "disagreeing": result.disagreeing_count,
                "failing_ids": result.disagreeing,
                "largest_score_difference": result.largest_score_difference,
                "smallest_iou": result.smallest_iou,
                "decision_agreement": result.decision_agreement,
                "upper": result.upper_bound,
            }
        ],
        verdict=verdict,
        summary=summary,
        metadata=meta,
    )
    context.keep(record)
    context.report.rows.append(
        SummaryRow(
            planned.stage,
            f"predictions:{letter}",
            letter,
            "all",
            1.0 - result.disagreeing_count / max(result.sampled, 1),
            None,
            "all agree",
            verdict,
            summary,
        )
    )
