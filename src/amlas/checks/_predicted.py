"""Predictions made outside amlas: a [V] predictions file read into the same
:class:`~amlas.checks.Predictions` a model run gives, for classifiers (classes and/or
probabilities, a decision threshold applied as for a model), regressors (values) and
detectors (boxes with scores)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from amlas.adapters import Model, Table, detect_batched
from amlas.checks._boxes import Boxes
from amlas.checks._datasets import Dataset
from amlas.checks._metrics import Predictions, decide_codes, finite_rows
from amlas.checks._outputs import (
    predicted_boxes,
    predicted_labels,
    predicted_values,
    read_outputs_table,
)
from amlas.project.artefacts.outputs import PredictionsFile

__all__ = ["detector_predictions", "file_predictions"]


def detector_predictions(
    model: Model,
    dataset: Dataset,
    *,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> Predictions:
    """A detector's boxes on every image of ``dataset``, run by amlas (``python_detector``),
    in pixels: the truth's unit must be pixels too."""
    found = detect_batched(model, dataset.inputs, batch_size=batch_size, progress=progress)
    truth = dataset.truth
    if truth is not None and truth.unit != "pixel":
        width, height = float(dataset.inputs.shape[2]), float(dataset.inputs.shape[1])
        scale = np.array([width, height, width, height])
        xyxy = found.xyxy / scale
    else:
        xyxy = found.xyxy
    n = len(dataset)
    boxes = Boxes(image=found.image, cls=found.cls, xyxy=xyxy, n_images=n, score=found.score)
    nothing = np.full(n, "", dtype=np.str_)
    return Predictions(
        nothing,
        None,
        tuple(model.classes),
        None,
        None,
        np.zeros(n, dtype=bool),
        boxes=boxes,
        source="model",
    )


def file_predictions(
    root: Path,
    spec: PredictionsFile,
    dataset: Dataset,
    *,
    task: str,
    classes: list[str],
    positive: str | None,
    threshold: float | None,
    table: Table | None = None,
) -> Predictions:
    """The predictions ``spec`` holds for ``dataset`` (``table``: already read, e.g. from
    decrypted bytes). Raises :class:`~amlas.checks.OutputsError` (D025) when the file
    does not fit the dataset."""
    reveal = dataset.document.sealed is None
    if table is None:
        truth = dataset.document.objects
        table = read_outputs_table(root, spec, truth=truth)
    n = len(dataset)
    names = tuple(classes)
    nothing = np.full(n, "", dtype=np.str_)
    if task == "object_detection":
        unit = dataset.truth.unit if dataset.truth is not None else spec.box_unit
        boxes = predicted_boxes(
            table,
            spec,
            ids=dataset.ids,
            classes=classes,
            unit=unit,
            arrays=dataset.table.arrays,
            reveal=reveal,
        )
        invalid = np.zeros(n, dtype=bool)
        return Predictions(
            nothing,
            None,
            names,
            None,
            None,
            invalid,
            boxes=boxes,
            source=spec.location,
            sha256=table.sha256,
        )
    if task == "regression":
        values = predicted_values(table, spec, ids=dataset.ids, reveal=reveal)
        invalid = np.asarray(~np.isfinite(values), dtype=bool)
        return Predictions(
            nothing,
            None,
            names,
            None,
            None,
            invalid,
            values=values,
            source=spec.location,
            sha256=table.sha256,
        )
    labels, proba = predicted_labels(table, spec, ids=dataset.ids, classes=classes, reveal=reveal)
    if proba is not None:
        invalid = ~finite_rows(proba)
        codes = decide_codes(proba, names, positive=positive, threshold=threshold)
        return Predictions(
            np.array(names, dtype=np.str_).take(codes),
            proba,
            names,
            positive,
            threshold,
            invalid,
            source=spec.location,
            sha256=table.sha256,
            codes=codes,
        )
    assert labels is not None
    invalid = np.zeros(n, dtype=bool)
    return Predictions(
        labels, None, names, None, None, invalid, source=spec.location, sha256=table.sha256
    )
