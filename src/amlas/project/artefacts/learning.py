"""Stage 4: [U] model development log and [V] the model reference."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from amlas.project.artefacts._base import (
    ArtefactDocument,
    Id,
    Item,
    ModelFormatName,
    Sha256,
    Text,
)
from amlas.project.artefacts.data import DatasetLetter
from amlas.project.artefacts.outputs import PredictionsFile

__all__ = ["ModelDevelopmentLog", "ModelReference"]

Scalar = float | int | str | bool


class ModelType(Item):
    choice: Text
    """The model form, e.g. 'logistic regression', 'small CNN'."""
    rationale: Text
    """Why this form is likely to satisfy [H] (Activity 10)."""


class Tool(Item):
    """A tool, library or framework and its version."""

    name: Text
    """Its name, e.g. 'scikit-learn'."""
    version: Text
    """The exact version used."""


class Decision(Item):
    """A hyper-parameter or threshold, its value, and the data it was chosen on."""

    quiet_when_unset: ClassVar[frozenset[str]] = frozenset({"chosen_on"})

    name: Text
    value: Scalar
    """The value chosen."""
    rationale: Text
    """Why this value."""
    chosen_on: DatasetLetter | None = None
    """The data the value was chosen on; only development data [N] avoids leakage (R12).
    Required by rule M014: left out, nothing shows that no held-out data was used."""
    method: str = ""
    """How it was chosen, e.g. '5-fold cross-validation on [N]'."""


class Candidate(Item):
    id_kind: ClassVar[str | None] = "candidate"
    id_title: ClassVar[str] = "model candidate"

    id: Id
    description: Text
    """What the candidate is."""
    notes: str = ""


class Selection(Item):
    quiet_when_unset: ClassVar[frozenset[str]] = frozenset({"chosen_on"})
    refs: ClassVar[dict[str, tuple[str, ...]]] = {"candidate": ("candidate",)}

    candidate: Id
    rationale: Text
    """Why this candidate was selected."""
    trade_offs: str = ""
    """The multi-objective trade-off behind the choice (Activity 11)."""
    chosen_on: Literal["N", "O", "P"] | None = None
    """The data the candidate was selected on: AMLAS selects among candidates on internal
    test results [O]; [P] would leak. Required by rule M014."""


class Iteration(Item):
    date: dt.date
    change: Text
    reason: Text
    loop_back_to: Literal[2, 3, 4] | None = None
    """The AMLAS stage the iteration went back to, if any."""


class ModelDevelopmentLog(ArtefactDocument):
    """[U] Model development log: every key decision and its justification (R13)."""

    letter: ClassVar[str] = "U"
    title: ClassVar[str] = "Model development log"

    artefact: Literal["U"]
    model_type: ModelType
    """The model form chosen and why (R13)."""
    toolchain: Annotated[list[Tool], Field(min_length=1)]
    """Frameworks and tools with their versions."""
    data_used: Annotated[list[DatasetLetter], Field(min_length=1)]
    """The datasets used to create candidates (R12: development data [N] only)."""
    hyperparameters: list[Decision] = Field(default_factory=list)
    """Hyper-parameters, each with its value, rationale and the data it was chosen on."""
    thresholds: list[Decision] = Field(default_factory=list)
    """Decision thresholds, each with the data it was chosen on."""
    overfitting_controls: list[Text] = Field(default_factory=list)
    """Measures against over-fitting (AMLAS Note 29)."""
    candidates: list[Candidate] = Field(default_factory=list)
    """The candidate models produced."""
    selection: Selection | None = None
    """Which candidate became the model, and why."""
    iterations: list[Iteration] = Field(default_factory=list)
    """Iterations, including loops back to earlier stages."""


class ModelReference(ArtefactDocument):
    """[V] The ML model: where it is, its hash, and how to load it."""

    quiet_when_unset: ClassVar[frozenset[str]] = frozenset({"predictions", "produced_by"})

    letter: ClassVar[str] = "V"
    title: ClassVar[str] = "ML model"
    refs: ClassVar[dict[str, tuple[str, ...]]] = {"candidate": ("candidate",)}

    artefact: Literal["V"]
    name: Text
    """The model's name."""
    location: Text | None = None
    """Project-relative path of the model file; may be left out when ``predictions``
    give the model's outputs on every dataset it is judged on."""
    format: ModelFormatName | None = None
    """How to load the model: a model format installed as a plug-in ('amlas plugins'
    lists them); built in: sklearn_joblib, skops, onnx, torch, python_callable."""
    callable: Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")] | None = None
    """For 'python_callable': 'module:function' returning the model. For 'torch':
    'module:function' returning the torch.nn.Module (it loads the weights at
    ``location``); without it, ``location`` is a torch.export program (.pt2)."""
    outputs: Literal["logits", "probabilities"] = "logits"
    """For 'torch': whether the module returns logits (a softmax gives probabilities) or
    probabilities already."""
    sha256: Sha256 | None = None
    """SHA-256 of the model file as reviewed; `amlas check` reports a mismatch (M004)."""
    framework: Tool
    """The framework and version that produced the model."""
    trained_on: Annotated[list[DatasetLetter], Field(min_length=1)]
    """The datasets the model was trained on (R12: development data [N] only)."""
    candidate: Id | None = None
    """The candidate in [U] this model is."""
    decision_threshold: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    """Score threshold for the positive class, when the model outputs probabilities."""
    class_order: list[Text] = Field(default_factory=list)
    """Class names in the order of the model's output columns."""
    timeout_s: Annotated[float, Field(gt=0.0, le=86400.0)] | None = 3600.0
    """Seconds the model may take to load, and to answer one prediction call (one batch of
    samples); past it the run stops with an error naming the limit. null: no limit."""

    predictions: dict[DatasetLetter, PredictionsFile] = Field(default_factory=dict)
    """Dataset letter -> the model's outputs on it, made outside amlas (the team's own
    pipeline). Metrics are computed from them; a new file makes the records stale."""
    produced_by: Sha256 | None = None
    """SHA-256 of the model file that produced ``predictions`` (equal to ``sha256`` when
    both are given)."""

    def predictions_for(self, letter: str) -> PredictionsFile | None:
        """The predictions file declared for dataset ``letter``, if any."""
        for declared, spec in self.predictions.items():
            if declared == letter:
                return spec
        return None

    @property
    def loadable(self) -> bool:
        """Whether amlas can load the model itself (and so perturb, attack or re-run it)."""
        return self.location is not None and self.format is not None

    @model_validator(mode="after")
    def _callable(self) -> ModelReference:
        if (self.location is None) != (self.format is None):
            raise PydanticCustomError(
                "amlas_missing", "'location' and 'format' of the model go together", {}
            )
        if self.location is None and not self.predictions:
            raise PydanticCustomError(
                "amlas_missing",
                "[V] needs the model ('location' and 'format') or its 'predictions' on the "
                "datasets it is judged on",
                {},
            )
        if self.predictions and self.produced_by is None:
            raise PydanticCustomError(
                "amlas_missing",
                "'predictions' need 'produced_by': the SHA-256 of the model file that made them",
                {},
            )
        if self.sha256 and self.produced_by and self.sha256 != self.produced_by:
            raise PydanticCustomError(
                "amlas_mismatch",
                "'produced_by' {produced} is not the model's sha256 {sha}: the predictions "
                "come from another model",
                {"produced": self.produced_by[:12] + "...", "sha": self.sha256[:12] + "..."},
            )
        if self.format in ("python_callable", "python_detector") and self.callable is None:
            raise PydanticCustomError(
                "amlas_missing",
                "format '{format}' needs 'callable: module:function'",
                {"format": self.format},
            )
        return self
