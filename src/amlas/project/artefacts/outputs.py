"""What a model outputs beyond a class, and how its outputs are compared with the truth:
boxes of object detectors, tables of ground-truth objects and of predictions made
elsewhere, the matching of detections to objects, tolerances and temporal windows.

Used by [D] (the component's default matching), the datasets [N] [O] [P] (their
ground-truth objects, their sequences), [V] (predictions made by the team's own pipeline)
and [H] (a requirement's own matching, tolerance, quantile or window).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from amlas.project.artefacts._base import Item, Sha256, Text

__all__ = [
    "AgreementCheck",
    "BoxFormat",
    "BoxUnit",
    "DetectionSettings",
    "Matching",
    "ObjectTable",
    "PredictionsFile",
    "Tolerance",
    "Window",
]

BoxFormat = Literal["xywh", "xyxy", "cxcywh"]
"""How four box numbers are read: xywh (left, top, width, height; COCO), xyxy (left,
top, right, bottom) or cxcywh (centre x, centre y, width, height)."""

BoxUnit = Literal["pixel", "normalised"]
"""pixel, or normalised to the image's width and height (0-1)."""

TableFormat = Literal["csv", "parquet", "coco_json"]


class Matching(Item):
    """How detections are matched to ground-truth objects: COCO's greedy rule (per image
    and class, detections in descending score take the unmatched object of highest IoU at
    or above the threshold; crowd regions absorb detections without counting them)."""

    iou_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    """The intersection over union a detection needs to match an object."""
    iou_thresholds: list[Annotated[float, Field(gt=0.0, le=1.0)]] = Field(default_factory=list)
    """For average_precision only: several IoU thresholds whose APs are averaged (COCO's
    mAP@[.5:.95] is 0.5, 0.55, ..., 0.95); empty: ``iou_threshold`` alone."""
    score_threshold: Annotated[float, Field(ge=0.0)] | None = None
    """Detections scored below it are not reported by the component (its operating
    point); None keeps every detection."""
    max_detections: Annotated[int, Field(ge=1)] | None = None
    """At most this many detections per image and class, by score (COCO's maxDets);
    None: all."""
    class_agnostic: bool = False
    """Match regardless of class (COCO's useCats=0)."""


class DetectionSettings(Item):
    """[D] for an object detector: how its boxes read and how detections are matched."""

    box_format: BoxFormat = "xyxy"
    """The format of the boxes the model outputs."""
    box_unit: BoxUnit = "pixel"
    matching: Matching = Field(default_factory=Matching)
    """The matching every detection requirement uses unless it says otherwise."""


class _BoxColumns(Item):
    sample_column: Text = "sample_id"
    """The column naming the image (sample id of the dataset) a box belongs to."""
    class_column: Text = "class"
    """The column of the object's class (a class of [D])."""
    box_columns: Annotated[list[Text], Field(min_length=4, max_length=4)] = Field(
        default_factory=lambda: ["x", "y", "w", "h"]
    )
    """The four columns of the box, in the order of ``box_format``."""
    box_format: BoxFormat = "xywh"
    box_unit: BoxUnit = "pixel"


class ObjectTable(_BoxColumns):
    """The ground-truth objects of a dataset of images: one row per object. For
    ``coco_json`` the columns are COCO's (``image_id`` matched to the dataset's sample id,
    or the image ``file_name`` with ``sample_key: file_name``)."""

    refs: ClassVar[dict[str, tuple[str, ...]]] = {"odd_columns": ("odd_dimension",)}

    location: Text
    """Project-relative path of the table."""
    format: TableFormat = "csv"
    sha256: Sha256 | None = None
    """SHA-256 of the file as reviewed."""
    crowd_column: str | None = None
    """0/1 column marking crowd or ignore regions: detections inside them count neither
    for nor against the component."""
    attributes: list[Text] = Field(default_factory=list)
    """Per-object columns kept for slicing and review (distance, occlusion, truncation)."""
    odd_columns: dict[str, Text] = Field(default_factory=dict)
    """ODD dimension ID -> the object column giving it per object (e.g. a pedestrian's
    distance): an object falls in that band whatever its image's value."""
    sample_key: Literal["id", "file_name"] = "id"
    """For coco_json: which field of a COCO image is the dataset's sample id."""


class AgreementCheck(Item):
    """How predictions made elsewhere are checked against the model [V] declares beside
    them: a seeded sample of the file's samples is predicted again and compared."""

    samples: Annotated[int, Field(ge=1, le=1000000)] = 200
    """How many samples are predicted again (all, when the dataset holds fewer)."""
    score_tolerance: Annotated[float, Field(ge=0.0)] = 1e-4
    """Largest difference allowed between a probability, a value or a detection's score in
    the file and the model's (numeric round-off between pipelines, not a behaviour)."""
    iou_tolerance: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.01
    """A detection of the file agrees with the model's when their IoU is at least 1 minus
    this."""


class PredictionsFile(_BoxColumns):
    """Predictions of the model on one dataset, made outside amlas (the team's own
    pipeline): one row per sample for classifiers and regressors, one row per detection
    for detectors. An input of every record computed from it."""

    location: Text
    """Project-relative path of the predictions file."""
    format: TableFormat = "csv"
    sha256: Sha256 | None = None
    """SHA-256 of the file as reviewed."""
    label_column: str | None = None
    """Classifiers: the predicted class."""
    probability_columns: dict[str, Text] = Field(default_factory=dict)
    """Classifiers: class -> the column of its probability (a decision threshold in [V]
    then applies to them)."""
    value_column: str | None = None
    """Regressors: the predicted value."""
    score_column: str | None = None
    """Detectors: the detection's score."""
    agreement: AgreementCheck = Field(default_factory=AgreementCheck)
    """When [V] also gives a model amlas can run: how a sample of this file is checked
    against it (a disagreement beyond the tolerances fails the check)."""


class Tolerance(Item):
    """How far a prediction may be from the truth and still count as right."""

    value: Annotated[float, Field(ge=0.0)]
    unit: Text
    """The unit of ``value``, e.g. 'mm', 'pixel', 'normalised'."""
    measure: Literal["absolute_error", "centre_distance", "max_edge_distance"] = "absolute_error"
    """absolute_error: |prediction - truth| (regression); centre_distance: the distance
    between a matched detection's centre and its object's; max_edge_distance: the largest
    of the four edge offsets (detection)."""


class Window(Item):
    """A temporal requirement over consecutive frames of a sequence: in every window of
    ``frames`` consecutive frames at most ``max_failures`` frames fail. Windows of one
    sequence overlap and are not independent: the unit of analysis is the sequence."""

    frames: Annotated[int, Field(ge=1, le=10000)]
    max_failures: Annotated[int, Field(ge=0)] = 0
    failure: Literal["missed_object", "misclassified", "missed_class", "out_of_tolerance"] = (
        "missed_object"
    )
    """What makes a frame fail: a relevant object missed (detection), a wrong class, the
    requirement's class missed (classification), an error beyond the tolerance
    (regression)."""

    @model_validator(mode="after")
    def _fits(self) -> Window:
        if self.max_failures >= self.frames:
            raise ValueError(f"max_failures={self.max_failures} must be below frames={self.frames}")
        return self
