"""Stage 1 inputs and output: [A] system safety requirements, [B] operating environment,
[C] system description, [D] ML component description, [E] allocated requirements."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from amlas.project.artefacts._base import ArtefactDocument, Id, Item, Probability, Text
from amlas.project.artefacts.outputs import DetectionSettings, Matching

__all__ = [
    "ASIL_TABLE",
    "AllocatedRequirement",
    "AllocatedRequirements",
    "Barrier",
    "CategoricalDimension",
    "Deferral",
    "DomainClassification",
    "Hazard",
    "InputFeature",
    "Iso26262Classification",
    "MLClass",
    "MLComponentDescription",
    "NumericBand",
    "NumericDimension",
    "OddCondition",
    "OperatingEnvironment",
    "SystemDescription",
    "SystemSafetyRequirement",
    "SystemSafetyRequirements",
    "Worsening",
    "determine_asil",
]


def _repeated(names: Iterable[str]) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


# -- [A] ---------------------------------------------------------------------------------------


Severity = Literal["catastrophic", "critical", "major", "minor", "negligible"]
IsoSeverity = Literal["S0", "S1", "S2", "S3"]
IsoExposure = Literal["E0", "E1", "E2", "E3", "E4"]
IsoControllability = Literal["C0", "C1", "C2", "C3"]
Asil = Literal["QM", "A", "B", "C", "D"]

ASIL_TABLE: dict[tuple[str, str], tuple[str, str, str]] = {
    # (severity, exposure) -> the ASIL for C1, C2, C3 (ISO 26262-3:2018, Table 4)
    ("S1", "E1"): ("QM", "QM", "QM"),
    ("S1", "E2"): ("QM", "QM", "QM"),
    ("S1", "E3"): ("QM", "QM", "A"),
    ("S1", "E4"): ("QM", "A", "B"),
    ("S2", "E1"): ("QM", "QM", "QM"),
    ("S2", "E2"): ("QM", "QM", "A"),
    ("S2", "E3"): ("QM", "A", "B"),
    ("S2", "E4"): ("A", "B", "C"),
    ("S3", "E1"): ("QM", "QM", "A"),
    ("S3", "E2"): ("QM", "A", "B"),
    ("S3", "E3"): ("A", "B", "C"),
    ("S3", "E4"): ("B", "C", "D"),
}
"""ISO 26262-3:2018 Table 4, the ASIL of a hazardous event from its severity, exposure
and controllability classes. S0, E0 and C0 are outside the table: no ASIL is assigned
(quality management, QM, suffices)."""


def determine_asil(severity: str, exposure: str, controllability: str) -> str:
    """The ASIL (``QM``, ``A``..``D``) ISO 26262-3 Table 4 assigns to a hazardous event of
    classes ``severity`` (S0-S3), ``exposure`` (E0-E4) and ``controllability`` (C0-C3);
    ``QM`` where any class is 0, which the standard leaves without an ASIL."""
    if "0" in (severity[1:], exposure[1:], controllability[1:]):
        return "QM"
    row = ASIL_TABLE[(severity, exposure)]
    return row[int(controllability[1:]) - 1]


class Iso26262Classification(Item):
    """A hazardous event classified as ISO 26262-3 asks: severity S0-S3, probability of
    exposure E0-E4 and controllability C0-C3, and the ASIL these determine (ISO
    26262-3:2018 Table 4; QM where any class is 0)."""

    scheme: Literal["iso26262"]
    """'iso26262': the classes and the table of ISO 26262-3."""
    severity: IsoSeverity
    """S0 (no injuries) to S3 (life-threatening or fatal injuries)."""
    exposure: IsoExposure
    """E0 (incredible) to E4 (high probability) of the operational situation."""
    controllability: IsoControllability
    """C0 (controllable in general) to C3 (difficult to control or uncontrollable)."""
    asil: Asil | None = None
    """The ASIL as the hazard analysis states it (QM, A, B, C or D); when given it must be
    the one Table 4 determines (Q017). Leave it out to have it determined."""
    situation: str = ""
    """The operational situation the exposure class rates (e.g. 'urban street, pedestrians
    crossing')."""
    rationale: str = ""
    """Why these classes (the hazard analysis' argument)."""

    @property
    def determined_asil(self) -> str:
        """The ASIL ISO 26262-3 Table 4 assigns to these classes."""
        return determine_asil(self.severity, self.exposure, self.controllability)


def _not_iso(schema: dict[str, Any]) -> None:
    schema["not"] = {"const": "iso26262"}


class DomainClassification(Item):
    """A hazard classified in a domain's own scheme (a design assurance level, a hospital
    risk matrix, ...): its named fields and values, free, and the class they give."""

    scheme: Annotated[Text, Field(json_schema_extra=_not_iso)]
    """The scheme's name, e.g. 'ARP4761 FHA' or 'Trust risk matrix v3' ('iso26262'
    selects ISO 26262's classes and table)."""
    fields: Annotated[dict[Text, Text], Field(min_length=1)]
    """Field -> value as the scheme names them, e.g. {likelihood: remote, consequence:
    major}."""
    result: str = ""
    """The class the scheme assigns (e.g. 'DAL B', 'high risk'), as the analysis states it."""
    rationale: str = ""
    """Why these values (the hazard analysis' argument)."""


def _scheme_tag(value: Any) -> str | None:
    scheme = value.get("scheme") if isinstance(value, dict) else getattr(value, "scheme", None)
    if scheme is None:
        return None
    return "iso26262" if scheme == "iso26262" else "domain"


HazardClassification = Annotated[
    Annotated[Iso26262Classification, Tag("iso26262")]
    | Annotated[DomainClassification, Tag("domain")],
    Discriminator(_scheme_tag),
]
"""ISO 26262's classification when ``scheme: iso26262``, else a domain's own scheme."""


class Hazard(Item):
    """A system hazard the ML component may contribute to."""

    quiet_when_unset: ClassVar[frozenset[str]] = frozenset({"severity", "classification"})

    id_kind: ClassVar[str | None] = "hazard"
    id_title: ClassVar[str] = "hazard"

    id: Id
    description: Text
    """What goes wrong and who is harmed."""
    severity: Severity | None = None
    """Severity class from the system hazard analysis: catastrophic, critical, major, minor
    or negligible (required unless ``classification`` classifies the hazard)."""
    classification: HazardClassification | None = None
    """The hazard's classification beside (or instead of) ``severity``: ISO 26262's
    severity, exposure and controllability with the ASIL they determine (``scheme:
    iso26262``), or a domain's own scheme (named fields, free values)."""

    @model_validator(mode="after")
    def _classified(self) -> Hazard:
        if self.severity is None and self.classification is None:
            raise PydanticCustomError(
                "amlas_missing", "a hazard needs 'severity', 'classification' or both", {}
            )
        return self


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
    """A named sub-range of a numeric ODD dimension, used to slice requirements and data.

    A band holds ``min`` and not ``max`` (``[min, max)``), and the band that ends at the
    dimension's ``max`` also holds ``max``, so contiguous bands partition a closed range
    without double counting; ``min_inclusive`` and ``max_inclusive`` state either end
    otherwise (e.g. 'within 80 m' holds 80: ``max: 80, max_inclusive: true``)."""

    quiet_when_unset: ClassVar[frozenset[str]] = frozenset({"min_inclusive", "max_inclusive"})

    name: Id
    min: float
    """Lower bound (held by the band unless ``min_inclusive: false``)."""
    max: float
    """Upper bound (not held unless ``max_inclusive: true``, or the band ends at the
    dimension's max and does not say ``max_inclusive: false``)."""
    description: str = ""
    min_inclusive: bool | None = None
    """Whether a value equal to ``min`` lies in the band; default true."""
    max_inclusive: bool | None = None
    """Whether a value equal to ``max`` lies in the band; default false, except for the
    band that ends at the dimension's max (default true there)."""

    @model_validator(mode="after")
    def _ordered(self) -> NumericBand:
        if self.min >= self.max:
            raise ValueError(f"band {self.name!r} has min={self.min:g} >= max={self.max:g}")
        return self

    def ends(self, dimension_max: float) -> tuple[bool, bool]:
        """Whether the band holds its ``min`` and its ``max``, on a dimension whose range
        ends at ``dimension_max`` (the one place the defaults are decided)."""
        low = self.min_inclusive is not False
        high = self.max_inclusive if self.max_inclusive is not None else self.max == dimension_max
        return low, high

    def interval(self, dimension_max: float) -> str:
        """The band as an interval, e.g. '[0, 80]' or '(80, 120)'."""
        low, high = self.ends(dimension_max)
        return f"{'[' if low else '('}{self.min:g}, {self.max:g}{']' if high else ')'}"


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


def _bands_problem(
    bands: list[NumericBand], low: float, high: float, banding: str | None
) -> str | None:
    """What is wrong with one banding of the range [low, high] (None when nothing is):
    repeated names, a band outside the range, two bands that share a value."""
    what = f"banding {banding!r}: " if banding is not None else ""
    duplicates = _repeated(b.name for b in bands)
    if duplicates:
        return f"{what}band names repeat: {', '.join(duplicates)}"
    for band in bands:
        if band.min < low or band.max > high:
            return (
                f"{what}band {band.name!r} [{band.min:g}, {band.max:g}] lies outside the "
                f"dimension's range [{low:g}, {high:g}]"
            )
    for a, b in itertools.combinations(sorted(bands, key=lambda x: x.min), 2):
        a_high = a.ends(high)[1]
        b_low = b.ends(high)[0]
        # b starts at or after a (sorted): they share a value when b starts inside a, or
        # both hold the value where a ends and b starts
        if b.min < a.max or (b.min == a.max and a_high and b_low):
            return (
                f"{what}bands {a.name!r} {a.interval(high)} and {b.name!r} "
                f"{b.interval(high)} overlap"
            )
    return None


class NumericDimension(_Dimension):
    """An ODD dimension measured on a numeric scale, with its unit and declared range."""

    quiet_when_unset: ClassVar[frozenset[str]] = frozenset({"bandings"})

    kind: Literal["numeric"]
    """'numeric': values on a scale with a unit and a range."""
    unit: Text
    """Unit of measurement, e.g. 'mm', 'lux', 'deg'."""
    min: float
    """Smallest value inside the operating domain (inclusive)."""
    max: float
    """Largest value inside the operating domain (inclusive)."""
    bands: list[NumericBand] = Field(default_factory=list)
    """Named slices of the range, contiguous or not, never overlapping: the default banding,
    used wherever a requirement or data rule names no other."""
    bandings: dict[Id, Annotated[list[NumericBand], Field(min_length=1)]] = Field(
        default_factory=dict
    )
    """Further named bandings of the same range (e.g. 10 m bins for completeness beside the
    bands the requirements are judged in), each a list of bands like ``bands``; an [H]
    slice's ``banding`` or an [L] rule's ``banding`` names one."""

    @model_validator(mode="after")
    def _consistent(self) -> NumericDimension:
        if self.min >= self.max:
            raise ValueError(f"range has min={self.min:g} >= max={self.max:g}")
        problem = _bands_problem(self.bands, self.min, self.max, None)
        for name, bands in self.bandings.items():
            problem = problem or _bands_problem(bands, self.min, self.max, name)
        if problem:
            raise ValueError(problem)
        return self

    def bands_of(self, banding: str | None = None) -> list[NumericBand]:
        """The bands of ``banding`` (None: the default ``bands``); KeyError when the
        dimension declares no such banding."""
        if banding is None:
            return list(self.bands)
        if banding not in self.bandings:
            raise KeyError(f"ODD dimension {self.id!r} declares no banding {banding!r}")
        return list(self.bandings[banding])

    def slice_values(self, banding: str | None = None) -> list[str]:
        """The band names of ``banding`` (None: the default ``bands``), in order."""
        return [b.name for b in self.bands_of(banding)]


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

    def slice_values(self, banding: str | None = None) -> list[str]:
        """The categories; a categorical dimension has no other banding (KeyError)."""
        if banding is not None:
            raise KeyError(f"ODD dimension {self.id!r} is categorical and has no bandings")
        return list(self.values)


Dimension = Annotated[NumericDimension | CategoricalDimension, Field(discriminator="kind")]


class OddCondition(Item):
    """A fixed condition of the operating domain that no dataset column carries (road type:
    motorway only; weather within a range), and how it is assured: by design (the system
    cannot operate outside it), by a monitor (a run-time monitor detects leaving it), or
    as an assumption (stated, not enforced)."""

    id_kind: ClassVar[str | None] = "odd_condition"
    id_title: ClassVar[str] = "ODD condition"
    refs: ClassVar[dict[str, tuple[str, ...]]] = {
        "monitored_by": ("erroneous_behaviour", "barrier")
    }

    id: Id
    name: Text
    """What the condition is about, e.g. 'Road type'."""
    condition: Text
    """The condition as the operating domain states it, e.g. 'motorways only'."""
    assured_by: Literal["design", "monitor", "assumption"]
    """design: the system cannot operate outside the condition; monitor: a run-time
    monitor detects leaving it (``monitored_by`` names it); assumption: assumed, not
    enforced."""
    rationale: Text
    """Why the condition holds in operation, or why assuming it is acceptable."""
    monitored_by: list[Id] = Field(default_factory=list)
    """For ``assured_by: monitor``: the [DD] erroneous behaviours or [C] barriers whose
    monitoring detects leaving the condition (D027 when none is named)."""


class OperatingEnvironment(ArtefactDocument):
    """[B] Description of the operating environment: the ODD as typed dimensions."""

    quiet_when_unset: ClassVar[frozenset[str]] = frozenset({"conditions"})

    letter: ClassVar[str] = "B"
    title: ClassVar[str] = "Operating environment"

    artefact: Literal["B"]
    description: Text
    """Where, when and under what conditions the system operates."""
    dimensions: Annotated[list[Dimension], Field(min_length=1)]
    """The dimensions of variation of the operating domain."""
    conditions: list[OddCondition] = Field(default_factory=list)
    """Fixed conditions of the operating domain without a dataset column (road type,
    weather range), each with how it is assured."""

    def dimension(self, dimension_id: str) -> NumericDimension | CategoricalDimension | None:
        """The dimension ``dimension_id``, or None."""
        return next((d for d in self.dimensions if d.id == dimension_id), None)


# -- [C] ---------------------------------------------------------------------------------------


class Worsening(Item):
    """A hazard a barrier makes more likely by its own wrong action (a monitor that
    rejects too much sends more cases down a weaker fallback)."""

    refs: ClassVar[dict[str, tuple[str, ...]]] = {"hazard": ("hazard",)}

    hazard: Id
    """The hazard of [A] the barrier's wrong action raises."""
    rate_from: Id | None = None
    """For a barrier that is an ML component: the ML safety requirement [H] of that
    component whose verified error rate is the rate of wrong action (recall or FNR count
    misses of its class, FPR or specificity false alarms), e.g. the monitor's false
    rejection rate."""
    rate: Probability | None = None
    """Otherwise: the declared rate of wrong action per demand (a point value)."""
    given: Probability | None = None
    """Probability that the hazard follows one wrong action (the fallback fails too);
    1 when left out, the cautious choice, and the hazard record says so."""
    because: Text | None = None
    """Why the wrong action raises the hazard."""


class Barrier(Item):
    """A part of the architecture that stands between an ML failure and harm."""

    id_kind: ClassVar[str | None] = "barrier"
    id_title: ClassVar[str] = "barrier"
    refs: ClassVar[dict[str, tuple[str, ...]]] = {
        "mitigates": ("hazard",),
        "component": ("component",),
    }
    quiet_when_unset: ClassVar[frozenset[str]] = frozenset({"component", "failure_from", "worsens"})

    id: Id
    name: Text
    kind: Literal[
        "non_ml_monitor", "ml_monitor", "redundancy", "limiter", "human_oversight", "other"
    ]
    """non_ml_monitor, ml_monitor (an ML component of [C] guarding another: name it in
    ``component``), redundancy, limiter (force, speed), human_oversight or other."""
    description: Text
    """How the barrier stops an ML failure from becoming harm."""
    mitigates: list[Id] = Field(default_factory=list)
    """IDs of the hazards this barrier mitigates."""
    failure_on_demand: Probability | None = None
    """Probability that the barrier fails when needed, when known."""
    component: Id | None = None
    """The ML component of [C] (kind ml) this barrier is, in a system project that holds
    several ML components: its failure on demand then comes from that component's own
    verification results (``failure_from``), not from a declared value."""
    failure_from: Id | None = None
    """With ``component``: the ML safety requirement [H] of that component whose verified
    miss rate (recall or FNR of its safety-related class) is the barrier's failure on
    demand; the worst slice's exact bound counts."""
    worsens: list[Worsening] = Field(default_factory=list)
    """Hazards the barrier's own wrong action raises; the hazard chain adds each (a union
    bound: no independence assumed between the added terms)."""


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
