"""Stage 1 inputs and output: [A] system safety requirements, [B] operating environment,
[C] system description, [D] ML component description, [E] allocated requirements."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from amlas.project.artefacts._base import ArtefactDocument, Id, Item, Probability, Text
from amlas.project.artefacts.outputs import DetectionSettings, Matching

__all__ = [
    "AllocatedRequirement",
    "AllocatedRequirements",
    "Barrier",
    "CategoricalDimension",
    "Deferral",
    "Hazard",
    "InputFeature",
    "MLClass",
    "MLComponentDescription",
    "NumericBand",
    "NumericDimension",
    "OperatingEnvironment",
    "SystemDescription",
    "SystemSafetyRequirement",
    "SystemSafetyRequirements",
]


def _repeated(names: Iterable[str]) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


# -- [A] ---------------------------------------------------------------------------------------


class Hazard(Item):
    """A system hazard the ML component may contribute to."""

    id_kind: ClassVar[str | None] = "hazard"
    id_title: ClassVar[str] = "hazard"

    id: Id
    description: Text
    """What goes wrong and who is harmed."""
    severity: Literal["catastrophic", "critical", "major", "minor", "negligible"]
    """Severity class from the system hazard analysis."""


class FailureRate(Item):
    """An acceptable rate of a hazardous failure, from the system safety process."""

    rate: Annotated[float, Field(gt=0.0, le=1.0)]
    """Acceptable probability of the failure per unit (e.g. 1e-4)."""
    per: Text
    """The unit of exposure the rate counts (e.g. 'case', 'grasp', 'operating hour')."""


class SystemSafetyRequirement(Item):
    """A system safety requirement from the system safety process."""

    id_kind: ClassVar[str | None] = "system_requirement"
    id_title: ClassVar[str] = "system safety requirement"
    refs: ClassVar[dict[str, tuple[str, ...]]] = {"controls": ("hazard",)}

    id: Id
    text: Text
    """The requirement as the system safety process states it."""
    controls: list[Id] = Field(default_factory=list)
    """IDs of the hazards this requirement controls."""
    acceptable_failure_rate: FailureRate | None = None
    """The rate at which violating this requirement is still acceptable, if stated."""


class SystemSafetyRequirements(ArtefactDocument):
    """[A] System safety requirements, with the hazards they control."""

    letter: ClassVar[str] = "A"
    title: ClassVar[str] = "System safety requirements"

    artefact: Literal["A"]
    source: Text
    """Where these come from (hazard log, system safety assessment, standard)."""
    hazards: Annotated[list[Hazard], Field(min_length=1)]
    """The system hazards the ML component can contribute to."""
    requirements: Annotated[list[SystemSafetyRequirement], Field(min_length=1)]
    """The system safety requirements that control those hazards."""


# -- [B] ---------------------------------------------------------------------------------------


class NumericBand(Item):
    """A named sub-range of a numeric ODD dimension, used to slice requirements and data."""

    name: Id
    min: float
    """Inclusive lower bound."""
    max: float
    """Exclusive upper bound (inclusive for the band that ends at the dimension's max)."""
    description: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> NumericBand:
        if self.min >= self.max:
            raise ValueError(f"band {self.name!r} has min={self.min:g} >= max={self.max:g}")
        return self


class _Dimension(Item):
    id_kind: ClassVar[str | None] = "odd_dimension"
    id_title: ClassVar[str] = "ODD dimension"

    id: Id
    name: Text
    """Human-readable name of the dimension."""
    description: str = ""
    """What the dimension measures and why it matters for safety."""
    column: str | None = None
    """The dataset column that carries this dimension (datasets may override it)."""


class NumericDimension(_Dimension):
    """An ODD dimension measured on a numeric scale, with its unit and declared range."""

    kind: Literal["numeric"]
    """'numeric': values on a scale with a unit and a range."""
    unit: Text
    """Unit of measurement, e.g. 'mm', 'lux', 'deg'."""
    min: float
    """Smallest value inside the operating domain (inclusive)."""
    max: float
    """Largest value inside the operating domain (inclusive)."""
    bands: list[NumericBand] = Field(default_factory=list)
    """Named slices of the range, contiguous or not, never overlapping."""

    @model_validator(mode="after")
    def _consistent(self) -> NumericDimension:
        if self.min >= self.max:
            raise ValueError(f"range has min={self.min:g} >= max={self.max:g}")
        duplicates = _repeated(b.name for b in self.bands)
        if duplicates:
            raise ValueError(f"band names repeat: {', '.join(duplicates)}")
        for band in self.bands:
            if band.min < self.min or band.max > self.max:
                raise ValueError(
                    f"band {band.name!r} [{band.min:g}, {band.max:g}] lies outside the "
                    f"dimension's range [{self.min:g}, {self.max:g}]"
                )
        ordered = sorted(self.bands, key=lambda b: b.min)
        for a, b in itertools.pairwise(ordered):
            if b.min < a.max:
                raise ValueError(f"bands {a.name!r} and {b.name!r} overlap")
        return self

    def slice_values(self) -> list[str]:
        return [b.name for b in self.bands]


class CategoricalDimension(_Dimension):
    """An ODD dimension with a closed set of categories (e.g. lighting: day, dusk, night)."""

    kind: Literal["categorical"]
    """'categorical': a closed set of named categories."""
    values: Annotated[list[Text], Field(min_length=1)]
    """Every category inside the operating domain."""

    @model_validator(mode="after")
    def _unique(self) -> CategoricalDimension:
        duplicates = _repeated(self.values)
        if duplicates:
            raise ValueError(f"categories repeat: {', '.join(duplicates)}")
        return self

    def slice_values(self) -> list[str]:
        return list(self.values)


Dimension = Annotated[NumericDimension | CategoricalDimension, Field(discriminator="kind")]


class OperatingEnvironment(ArtefactDocument):
    """[B] Description of the operating environment: the ODD as typed dimensions."""

    letter: ClassVar[str] = "B"
    title: ClassVar[str] = "Operating environment"

    artefact: Literal["B"]
    description: Text
    """Where, when and under what conditions the system operates."""
    dimensions: Annotated[list[Dimension], Field(min_length=1)]
    """The dimensions of variation of the operating domain."""


# -- [C] ---------------------------------------------------------------------------------------


class Barrier(Item):
    """A part of the architecture that stands between an ML failure and harm."""

    id_kind: ClassVar[str | None] = "barrier"
    id_title: ClassVar[str] = "barrier"
    refs: ClassVar[dict[str, tuple[str, ...]]] = {"mitigates": ("hazard",)}

    id: Id
    name: Text
    kind: Literal["non_ml_monitor", "redundancy", "limiter", "human_oversight", "other"]
    """non_ml_monitor, redundancy, limiter (force, speed), human_oversight or other."""
    description: Text
    """How the barrier stops an ML failure from becoming harm."""
    mitigates: list[Id] = Field(default_factory=list)
    """IDs of the hazards this barrier mitigates."""
    failure_on_demand: Probability | None = None
    """Probability that the barrier fails when needed, when known."""


class SystemComponent(Item):
    """A component of the system architecture."""

    id_kind: ClassVar[str | None] = "component"
    id_title: ClassVar[str] = "system component"

    id: Id
    name: Text
    kind: Literal["ml", "software", "hardware", "human"]
    """ml, software, hardware or human."""
    description: str = ""


class SystemDescription(ArtefactDocument):
    """[C] System description: the system, its architecture and its barriers."""

    letter: ClassVar[str] = "C"
    title: ClassVar[str] = "System description"

    artefact: Literal["C"]
    system: Text
    """The system's name."""
    description: Text
    """What the system does and for whom."""
    architecture: Text
    """How the ML component is wired into the system: inputs, outputs, neighbours."""
    components: list[SystemComponent] = Field(default_factory=list)
    """The components of the architecture, ML and non-ML."""
    barriers: list[Barrier] = Field(default_factory=list)
    """The barriers between an ML failure and harm (AMLAS Activity 1, Note 1)."""
    human_roles: list[Text] = Field(default_factory=list)
    """Human oversight and fallback roles (AMLAS Activity 1, Note 2)."""


# -- [D] ---------------------------------------------------------------------------------------


class MLClass(Item):
    """One output class of a classifier."""

    name: Id
    description: Text
    """What the class means in the operating domain."""
    safety_related: bool = False
    """True when missing or confusing this class can contribute to a hazard."""


class InputFeature(Item):
    """One input feature (tabular models) or input channel."""

    name: Text
    """Feature name, as the dataset column that carries it."""
    dtype: Literal["float", "int", "category", "bool", "string"] = "float"
    """Value type: float, int, category, bool or string."""
    unit: str = ""
    """Unit of measurement, where there is one."""
    description: str = ""


class InputSchema(Item):
    kind: Literal["tabular", "image", "time_series", "text", "other"]
    """The kind of input: tabular, image, time_series, text or other."""
    features: list[InputFeature] = Field(default_factory=list)
    """Features of a tabular input, in the order the model expects them."""
    shape: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list)
    """Shape of one array input, e.g. [3, 32, 32] for an image."""
    value_range: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None
    """The values an array input can take, [low, high] (e.g. [0, 255] for 8-bit images):
    perturbed, adversarial and formally verified inputs stay inside it."""


class OutputSchema(Item):
    kind: Literal["class_label", "class_probabilities", "score", "value", "boxes"]
    """What the model outputs: class_label, class_probabilities, score, value or boxes."""
    description: str = ""


class MLComponentDescription(ArtefactDocument):
    """[D] ML component description: task, classes, inputs and outputs, platform."""

    quiet_when_unset: ClassVar[frozenset[str]] = frozenset({"detection"})

    letter: ClassVar[str] = "D"
    title: ClassVar[str] = "ML component description"

    artefact: Literal["D"]
    name: Text
    """The ML component's name."""
    task: Literal[
        "binary_classification",
        "multiclass_classification",
        "regression",
        "object_detection",
        "other",
    ]
    """The ML task, which decides the metrics that apply."""
    description: Text
    """What the component decides and how its output is used."""
    classes: list[MLClass] = Field(default_factory=list)
    """Output classes, for classification tasks."""
    inputs: InputSchema
    """The input schema."""
    outputs: OutputSchema
    """The output schema."""
    platform: str = ""
    """The computing platform (hardware and software) the model runs on."""
    detection: DetectionSettings | None = None
    """For an object detector: the format of its boxes and the matching of detections to
    objects every detection requirement uses unless it says otherwise (default: COCO's
    greedy matching at IoU 0.5, every detection kept)."""

    @model_validator(mode="after")
    def _classes_fit_task(self) -> MLComponentDescription:
        duplicates = _repeated(c.name for c in self.classes)
        if duplicates:
            raise ValueError(f"class names repeat: {', '.join(duplicates)}")
        if self.task == "binary_classification" and len(self.classes) != 2:
            raise ValueError(
                f"a binary classifier declares exactly 2 classes, found {len(self.classes)}"
            )
        if self.task == "multiclass_classification" and len(self.classes) < 3:
            raise ValueError(
                f"a multiclass classifier declares at least 3 classes, found {len(self.classes)}"
            )
        if self.detection is not None and self.task != "object_detection":
            raise ValueError(f"'detection' settings need task: object_detection, not {self.task!r}")
        return self

    @property
    def matching(self) -> Matching:
        """The component's default matching of detections to objects."""
        return self.detection.matching if self.detection is not None else Matching()

    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    def feature_names(self) -> list[str]:
        return [f.name for f in self.inputs.features]


# -- [E] ---------------------------------------------------------------------------------------


class Deferral(Item):
    """Why an allocated requirement is not refined into ML safety requirements (J2.1)."""

    reason: Text
    """Why the requirement cannot be addressed on the model alone."""
    handled_by: Literal["system", "deployment", "platform", "other"]
    """Where it is handled instead: the system level, stage 6, the platform, ..."""


class AllocatedRequirement(Item):
    """A safety requirement allocated to the ML component (technology-agnostic)."""

    id_kind: ClassVar[str | None] = "allocated_requirement"
    id_title: ClassVar[str] = "allocated requirement"
    refs: ClassVar[dict[str, tuple[str, ...]]] = {
        "traces_to": ("system_requirement",),
        "hazards": ("hazard",),
    }

    id: Id
    text: Text
    """The requirement in real-world terms, without ML metrics (R1)."""
    traces_to: list[Id] = Field(default_factory=list)
    """IDs of the system safety requirements [A] this is allocated from."""
    hazard_contribution: Text
    """How a failure of the ML component contributes to the hazard this controls."""
    hazards: list[Id] = Field(default_factory=list)
    """IDs of the hazards the contribution concerns."""
    deferred: Deferral | None = None
    """Set when this is not refined into ML safety requirements, with the reason."""


class AllocatedRequirements(ArtefactDocument):
    """[E] Safety requirements allocated to the ML component."""

    letter: ClassVar[str] = "E"
    title: ClassVar[str] = "Safety requirements allocated to the ML component"

    artefact: Literal["E"]
    requirements: Annotated[list[AllocatedRequirement], Field(min_length=1)]
    """The safety requirements allocated to the ML component."""
