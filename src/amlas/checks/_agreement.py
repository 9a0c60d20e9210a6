"""Do predictions made elsewhere come from the model [V] declares? A seeded sample of the
samples of a predictions file is predicted again by the model and compared.

For a classifier the decisions must be equal and, where both give probabilities, differ
by at most ``score_tolerance``; for a detector every detection of the file must be
matched, class for class, by one of the model's at IoU of at least ``1 - iou_tolerance``
with scores within ``score_tolerance``, and the model may find nothing the file lacks.
One sample that disagrees beyond the tolerances shows the file was not made by this
model (or not on this data), so it fails the check; when all agree, the record states
the exact Clopper-Pearson upper bound on the share of samples of the whole file that
could still disagree, and the sample it rests on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.checks._boxes import Boxes
from amlas.checks._intervals import clopper_pearson
from amlas.checks._matching import match
from amlas.checks._metrics import Predictions

__all__ = ["Agreement", "agreement_sample", "compare_predictions"]

MAX_LISTED = 20


@dataclass(frozen=True)
class Agreement:
    """The comparison of a predictions file with the model on a sample of its samples."""

    sampled: int
    disagreeing: list[str]
    """Ids of the sampled samples that disagree beyond the tolerances (first ones)."""
    disagreeing_count: int
    largest_score_difference: float | None
    smallest_iou: float | None
    decision_agreement: float | None
    upper_bound: float
    """Exact one-sided upper bound on the share of the file's samples that disagree."""
    confidence: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        if self.sampled == 0:
            return "inconclusive"
        return "fail" if self.disagreeing_count else "pass"


def agreement_sample(n: int, samples: int, seed: int) -> NDArray[np.int64]:
    """The sampled positions (sorted): ``samples`` of ``n`` drawn without replacement
    with ``numpy.random.default_rng(seed)``; all of them when there are fewer."""
    if samples >= n:
        return np.arange(n, dtype=np.int64)
    chosen = np.random.default_rng(seed).choice(n, size=samples, replace=False)
    return np.sort(chosen).astype(np.int64)


def _subset(boxes: Boxes, chosen: NDArray[np.int64]) -> Boxes:
    """The boxes of the chosen images, re-indexed 0..len(chosen)-1."""
    position = np.full(boxes.n_images, -1, dtype=np.int64)
    position[chosen] = np.arange(len(chosen))
    keep = position[boxes.image] >= 0
    return Boxes(
        image=position[boxes.image[keep]],
        cls=boxes.cls[keep],
        xyxy=boxes.xyxy[keep],
        n_images=len(chosen),
        score=None if boxes.score is None else boxes.score[keep],
    )


def compare_predictions(
    ids: NDArray[np.str_],
    chosen: NDArray[np.int64],
    filed: Predictions,
    again: Predictions,
    *,
    score_tolerance: float,
    iou_tolerance: float,
    confidence: float = 0.95,
) -> Agreement:
    """Compare the file's predictions on the ``chosen`` samples with the model's
    (``again``, made on those samples only, in that order)."""
    n = len(chosen)
    bad = np.zeros(n, dtype=bool)
    details: dict[str, Any] = {}
    largest: float | None = None
    smallest: float | None = None
    agreement: float | None = None
    if filed.boxes is not None and again.boxes is not None:
        mine = _subset(filed.boxes, chosen)
        theirs = again.boxes
        truth = Boxes(image=theirs.image, cls=theirs.cls, xyxy=theirs.xyxy, n_images=n)
        paired = match(truth, mine, iou_threshold=max(1.0 - iou_tolerance, 1e-9))
        unmatched_file = ~paired.dt_tp
        unmatched_model = ~paired.gt_matched
        assert mine.score is not None
        assert theirs.score is not None
        partner = np.where(paired.dt_tp, paired.dt_gt, 0)
        theirs_score = theirs.score[partner] if len(theirs) else np.zeros(len(mine))
        gap = np.where(paired.dt_tp, np.abs(mine.score - theirs_score), 0.0)
        far = paired.dt_tp & (gap > score_tolerance)
        bad |= np.bincount(mine.image[unmatched_file | far], minlength=n) > 0
        bad |= np.bincount(truth.image[unmatched_model], minlength=n) > 0
        if paired.dt_tp.any():
            largest = float(gap[paired.dt_tp].max())
            smallest = float(np.nanmin(paired.dt_iou[paired.dt_tp]))
        details.update(
            detections_in_file=len(mine),
            detections_by_model=len(theirs),
            unmatched_in_file=int(unmatched_file.sum()),
            unmatched_by_model=int(unmatched_model.sum()),
        )
    else:
        same = filed.labels[chosen] == again.labels
        agreement = float(same.mean()) if n else None
        bad |= ~same
        if filed.proba is not None and again.proba is not None:
            gap = np.abs(filed.proba[chosen] - again.proba).max(axis=1)
            largest = float(np.nanmax(gap)) if n else None
            bad |= ~(gap <= score_tolerance)
        if filed.values is not None and again.values is not None:
            gap = np.abs(filed.values[chosen] - again.values)
            largest = float(np.nanmax(gap)) if n else None
            bad |= ~(gap <= score_tolerance)
    interval = clopper_pearson(int(bad.sum()), n, confidence=confidence, sided="upper")
    return Agreement(
        sampled=n,
        disagreeing=[str(x) for x in ids[chosen[bad]][:MAX_LISTED]],
        disagreeing_count=int(bad.sum()),
        largest_score_difference=largest,
        smallest_iou=smallest,
        decision_agreement=agreement,
        upper_bound=float(interval.upper),
        confidence=confidence,
        details=details,
    )
