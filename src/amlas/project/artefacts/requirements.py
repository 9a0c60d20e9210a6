"""Stage 2: [H] ML safety requirements and [J] their validation results."""

from __future__ import annotations

import builtins
import datetime as dt
from typing import Annotated, ClassVar, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    PrivateAttr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from amlas.diagnostics import did_you_mean
from amlas.project.artefacts._base import (
    ArtefactDocument,
    Id,
    Item,
    PerturbationName,
    PropertyName,
    Text,
)
from amlas.project.artefacts._tree import RequirementTree
from amlas.project.artefacts.outputs import Matching, Tolerance, Window
from amlas.project.metrics import metric_names

__all__ = [
    "VERIFICATION_METHODS",
    "Condition",
    "FaultModel",
    "FormalProperty",
    "MLSafetyRequirement",
    "MLSafetyRequirements",
    "Participant",
    "Perturbation",
    "Slice",
    "ValidationRecord",
    "ValidationResults",
    "VerificationMethod",
]

VerificationMethod = Literal["platform_test", "simulation", "analysis", "review"]
"""How a requirement ``amlas run`` does not judge on data is verified (``verified_by``)."""

VERIFICATION_METHODS: dict[str, str] = {
    "platform_test": "a platform test",
    "simulation": "simulation",
    "analysis": "analysis",
    "review": "review",
}
"""Each ``verified_by`` method as messages name it ('verified by a platform test')."""


class Slice(Item):
    """The part of the operating domain a requirement applies to.

    ``where`` restricts the population to some bands/categories of some dimensions;
    ``per`` asks for the requirement to hold separately in every band (or every
    combination of bands, when several dimensions are listed) of those dimensions.
    ``banding`` names, per numeric dimension, the banding of [B] whose bands ``where``
    lists and ``per`` judges (default: the dimension's ``bands``).
    An empty slice means the whole operating domain, evaluated as one population.
    """

    quiet_when_unset: ClassVar[frozenset[str]] = frozenset({"banding"})

    refs: ClassVar[dict[str, tuple[str, ...]]] = {
        "where": ("odd_dimension",),
        "per": ("odd_dimension",),
        "banding": ("odd_dimension",),
    }

    where: dict[Id, Annotated[list[Text], Field(min_length=1)]] = Field(default_factory=dict)
    """ODD dimension ID -> the bands or categories included."""
    per: list[Id] = Field(default_factory=list)
    """ODD dimension IDs whose bands (or their combinations) must each meet the threshold."""
    banding: dict[Id, Id] = Field(default_factory=dict)
    """ODD dimension ID (of ``where`` or ``per``) -> the name of one of its ``bandings`` in
    [B]; a dimension not named here is sliced by its default ``bands`` (Q016 names an
    unknown banding)."""

    def banding_of(self, dimension_id: str) -> str | None:
        """The banding the slice reads ``dimension_id`` in (None: the default ``bands``)."""
        return self.banding.get(dimension_id)


def _not_a_bool(value: object) -> object:
    """A precondition compares with a number or a text; YAML's true/false is neither (it
    would silently compare as 1 or 0)."""
    if isinstance(value, bool):
        raise PydanticCustomError(
            "number_or_text_type", "expected a number or a text, got {value}", {"value": value}
        )
    return value


Value = Annotated[float | str, BeforeValidator(_not_a_bool)]
"""A value a precondition compares a column with: a number or a category (text)."""


class Condition(Item):
    """One term of a requirement's ``precondition``: a column of the data and the
    comparisons its value must meet (every one given). A unit whose value is missing (an
    empty cell, NaN) meets no term."""

    model_config = ConfigDict(
        **Item.model_config,
        json_schema_extra={
            "anyOf": [{"required": [name]} for name in ("lt", "le", "gt", "ge", "eq", "ne", "in")]
        },
    )

    column: Text
    """The column compared: of the dataset's table (samples, images), or for a detector an
    attribute of its objects (``objects.attributes``)."""
    lt: float | None = None
    """The value must be below this number."""
    le: float | None = None
    """The value must be at most this number."""
    gt: float | None = None
    """The value must be above this number."""
    ge: float | None = None
    """The value must be at least this number."""
    eq: Value | None = None
    """The value must equal this number or category."""
    ne: Value | None = None
    """The value must differ from this number or category."""
    in_: Annotated[list[Value], Field(min_length=1)] | None = Field(default=None, alias="in")
    """The value must be one of these numbers or categories."""

    @model_validator(mode="after")
    def _compares(self) -> Condition:
        if all(getattr(self, name) is None for name in self.comparisons()):
            raise PydanticCustomError(
                "amlas_missing",
                "a precondition term on {column!r} needs a comparison: lt, le, gt, ge, eq, "
                "ne or in",
                {"column": self.column},
            )
        return self

    @staticmethod
    def comparisons() -> tuple[str, ...]:
        """The comparison fields, in the order they are applied (``in_`` is ``in``)."""
        return ("lt", "le", "gt", "ge", "eq", "ne", "in_")


class Perturbation(Item):
    """A perturbation drawn from the operating environment, for robustness testing."""

    kind: PerturbationName
    """The perturbation applied to inputs: a perturbation installed as a plug-in ('amlas
    plugins' lists them); built in: gaussian_noise, measurement_noise, scaling (tables),
    gaussian_noise, blur, brightness, contrast, rotation, occlusion (images), fgsm, pgd
    (gradient attacks on a torch model)."""
    magnitude: Annotated[float, Field(gt=0.0)]
    """Size of the perturbation in ``unit`` (noise sigma, scale factor, epsilon, degrees...)."""
    unit: str = ""
    """Unit of ``magnitude``, e.g. 'relative', 'mm', 'deg', 'pixel intensity'."""
    features: list[Text] = Field(default_factory=list)
    """Input features perturbed (tabular models); empty means all."""
    norm: Literal["linf", "l2"] | None = None
    """Norm of the budget, for adversarial perturbations (default linf)."""
    steps: Annotated[int, Field(ge=1, le=10000)] | None = None
    """PGD iterations (default 20)."""
    step_size: Annotated[float, Field(gt=0.0)] | None = None
    """PGD step size in ``unit`` (default 2.5 x magnitude / steps)."""
    restarts: Annotated[int, Field(ge=0, le=100)] = 0
    """PGD random restarts inside the budget, beyond the first run (ART num_random_init)."""
    rationale: str = ""
    """Why this perturbation and magnitude represent the operating environment."""


class FormalProperty(Item):
    """A formally specified property for the formal verification leg (G5.4)."""

    kind: PropertyName
    """The property proven: a formal property installed as a plug-in ('amlas plugins' lists
    them); built in: local_robustness (verified), output_bounds and monotonicity (declared,
    not verified yet)."""
    epsilon: Annotated[float, Field(gt=0.0)]
    """Radius of the input region around each verification sample."""
    norm: Literal["linf", "l2"] = "linf"
    """Norm of the input region: linf or l2."""
    features: list[Text] = Field(default_factory=list)
    """Input features the region varies (empty: all)."""
    unit: str = ""
    """Unit of ``epsilon``, e.g. 'pixel intensity (0-255)'."""
    method: Literal["auto", "complete", "bound_propagation"] = "auto"
    """auto: interval bound propagation first, Marabou for the samples it cannot prove;
    complete: Marabou only; bound_propagation: interval bounds only (sound, incomplete)."""
    samples: Annotated[int, Field(ge=1, le=100000)] = 100
    """How many verification samples (a seeded draw, all when fewer) get a query."""
    timeout_s: Annotated[float, Field(gt=0.0, le=86400.0)] = 30.0
    """Time limit of one complete (Marabou) query; a query that runs out is a timeout."""
    reference: Literal["decision", "label"] = "decision"
    """decision: the model's decision on the sample must not change in the region;
    label: the sample must also be classified correctly (a misclassified sample counts
    as not robust, without a query)."""
    encoding: Text
    """How the requirement is encoded as this property and why it represents the real-world
    requirement (AMLAS Note 36, J5.2)."""


class FaultModel(Item):
    """Hardware faults injected into the model, for fault-resilience requirements."""

    kind: Literal["bit_flip", "stuck_at_0", "stuck_at_1"]
    """bit_flip inverts a bit; stuck_at_0 / stuck_at_1 force it to 0 / 1."""
    target: Literal["weights", "activations"] = "weights"
    """Where faults land: the stored weights, or the outputs of the network's layers."""
    bits: Literal["any", "sign", "exponent", "mantissa"] = "any"
    """Which bits of the float32 value may be hit."""
    faults_per_campaign: Annotated[int, Field(ge=1, le=1000000)] = 1
    """Faults injected together in one campaign."""
    campaigns: Annotated[int, Field(ge=1, le=1000000)] = 100
    """Seeded campaigns; the requirement's bound is over campaigns."""
    max_accuracy_loss: Annotated[float, Field(ge=0.0, le=1.0)]
    """The accuracy loss a campaign may cause and still count as tolerated."""
    layers: list[Text] = Field(default_factory=list)
    """Names of the layers (module names) faults may hit; empty means all."""
    rationale: str = ""
    """Where the fault rate and model come from (e.g. the platform's FIT data)."""


def _metric_enum(schema: dict[str, JsonValue]) -> None:
    """The JSON Schema lists the installed metrics (read without importing them)."""
    schema["enum"] = list[JsonValue](metric_names())


class MLSafetyRequirement(Item):
    """An ML safety requirement: verifiable on the model, traced to allocated requirements."""

    quiet_when_unset: ClassVar[frozenset[str]] = frozenset(
        {"matching", "tolerance", "quantile", "window", "verified_by", "refines"}
        | {"across", "precondition"}
    )

    id_kind: ClassVar[str | None] = "ml_requirement"
    id_title: ClassVar[str] = "ML safety requirement"
    refs: ClassVar[dict[str, tuple[str, ...]]] = {
        "traces_to": ("allocated_requirement",),
        "refines": ("ml_requirement",),
        "across": ("odd_dimension",),
    }

    id: Id
    text: Text
    """The requirement in words, as reviewers will read it."""
    kind: Literal["performance", "robustness", "other"]
    """performance, robustness or other (G2.4/G2.5 are instantiated per kind)."""
    traces_to: list[Id] = Field(default_factory=list)
    """IDs of the allocated requirements [E] this refines."""
    refines: Id | None = None
    """The ID of the [H] requirement this one refines (its parent): the trace matrix nests
    it under the parent, and it traces to every [E] item the parent traces to, besides its
    own ``traces_to`` (which may then be left out)."""
    verified_by: VerificationMethod | None = None
    """platform_test, simulation, analysis or review: verified without data, so `amlas run`
    does not judge it and no metric, threshold or confidence is demanded; its evidence is
    imported (`amlas evidence import`), or reviewed. A metric stated beside it only judges
    imported counts (Q021)."""
    metric: str | None = Field(default=None, json_schema_extra=_metric_enum)
    """The metric the threshold is set on: an installed metric plug-in ('amlas plugins'
    lists them; see the metric catalogue)."""
    class_: str | None = Field(default=None, alias="class")
    """The class a per-class metric is computed for (e.g. 'malignant')."""
    threshold: float | None = None
    """The value the metric's confidence bound is compared with."""
    comparison: Literal["at_least", "at_most"] | None = None
    """Optional; defaults to the metric's direction and must agree with it."""
    confidence: float | None = Field(
        default=None,
        json_schema_extra={"exclusiveMinimum": 0, "exclusiveMaximum": 1},
    )
    """Confidence level of the bound the verdict is decided on, e.g. 0.95; when left out,
    the project's ``defaults.confidence`` in amlas.yaml (the evidence says so)."""
    applies_to: Slice = Field(default_factory=Slice)
    """The ODD slice the requirement applies to (default: the whole ODD)."""
    across: list[Id] = Field(default_factory=list)
    """Robustness as performance across the operating domain: ODD dimension IDs in every
    band (or combination of bands) of which the metric must meet the threshold, with no
    perturbation; the worst band decides. The robustness reading of ``applies_to.per``
    (judged the same way, with a family-wise correction across the bands)."""
    precondition: list[Condition] = Field(default_factory=list)
    """Which units of analysis the requirement is about: terms over columns of the data,
    all of which a unit must meet (e.g. only objects with time-to-collision below 4 s:
    ``[{column: ttc_s, lt: 4.0}]``). Applied before the slices and the metric; the
    evidence states it and how many units it kept."""
    perturbation: Perturbation | None = None
    """For robustness requirements verified by testing."""
    property: FormalProperty | None = None
    """For robustness requirements verified formally (the formal leg, G5.4)."""
    faults: FaultModel | None = None
    """For requirements on resilience to hardware faults (metric fault_tolerance_rate)."""
    matching: Matching | None = None
    """Detection requirements: how detections are matched to objects; what it states
    replaces the same settings of [D]'s matching, the rest is [D]'s."""
    tolerance: Tolerance | None = None
    """For within_tolerance_rate and out-of-tolerance windows: how far a prediction may
    be from the truth."""
    quantile: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    """For absolute_error_quantile: the quantile of the absolute error bounded, e.g. 0.95."""
    window: Window | None = None
    """For sequence_window_rate: the window of consecutive frames and the failures it may
    hold."""
    data_related: bool = True
    """False for requirements data cannot address (e.g. latency); then ``data_related_reason``."""
    data_related_reason: str = ""
    rationale: str = ""
    """Why this metric, threshold and confidence control the hazard contribution."""

    _default_confidence: float | None = PrivateAttr(default=None)
    """The project's ``defaults.confidence``, attached by the loader (never dumped)."""

    def with_defaults(self, *, confidence: float | None) -> MLSafetyRequirement:
        """A copy that falls back on the project's default ``confidence``."""
        copy = self.model_copy()
        copy._default_confidence = confidence
        return copy

    # 'property' is a field of this class: the decorator is spelled in full
    @builtins.property
    def effective_confidence(self) -> float | None:
        """The confidence level the verdict is decided at: the requirement's own, else the
        project's default; None when neither states one (rule Q020). Every reader of the
        level reads it here."""
        return self.confidence if self.confidence is not None else self._default_confidence

    @builtins.property
    def confidence_defaulted(self) -> bool:
        """True when the level is the project's default, not the requirement's own."""
        return self.confidence is None and self._default_confidence is not None

    @builtins.property
    def judged_slice(self) -> Slice:
        """The slice the requirement is judged in: ``applies_to`` with the dimensions of
        ``across`` judged band by band like those of ``per``."""
        if not self.across:
            return self.applies_to
        per = [*self.applies_to.per, *(d for d in self.across if d not in self.applies_to.per)]
        return self.applies_to.model_copy(update={"per": per})

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str | None) -> str | None:
        names = metric_names()
        if value is not None and value not in names:
            hint = did_you_mean(value, names) or f"known metrics: {', '.join(names)}"
            raise PydanticCustomError(
                "unknown_choice", "unknown metric '{value}'; {hint}", {"value": value, "hint": hint}
            )
        return value

    def judged_on_data(self) -> bool:
        """Whether `amlas run` judges this requirement on data: it states a metric, is not
        of kind 'other' and names no ``verified_by`` method. (A method: ``property`` is a
        field of this model.)"""
        return self.verified_by is None and self.kind != "other" and self.metric is not None

    @model_validator(mode="after")
    def _complete(self) -> MLSafetyRequirement:
        if self.kind in ("performance", "robustness") and self.verified_by is None:
            # the confidence may come from the project's defaults (rule Q020)
            missing = [name for name in ("metric", "threshold") if getattr(self, name) is None]
            if missing:
                raise PydanticCustomError(
                    "amlas_missing",
                    "a {kind} requirement needs {missing}",
                    {"kind": self.kind, "missing": " and ".join(repr(m) for m in missing)},
                )
        if not self.data_related and not self.data_related_reason.strip():
            raise PydanticCustomError(
                "amlas_missing",
                "'data_related: false' needs 'data_related_reason' saying why data cannot "
                "address this requirement",
                {},
            )
        return self


class MLSafetyRequirements(ArtefactDocument):
    """[H] ML safety requirements."""

    letter: ClassVar[str] = "H"
    title: ClassVar[str] = "ML safety requirements"

    artefact: Literal["H"]
    requirements: Annotated[list[MLSafetyRequirement], Field(min_length=1)]
    """The ML safety requirements."""
    development_rationale: str = ""
    """How the ML safety requirements were developed from [E] (J2.1)."""

    def tree(self) -> RequirementTree:
        """The refinement hierarchy of the requirements (``refines``): parents, children,
        a parents-first order and the [E] traces each inherits."""
        return RequirementTree(self.requirements)


class Participant(Item):
    name: Text
    role: Text
    """The participant's role, e.g. 'consultant pathologist'."""
    independent: bool = False
    """True when the participant is independent of the development team."""


class ValidationRecord(Item):
    """One validation activity (review, simulation, analysis) over some [H] items."""

    id_kind: ClassVar[str | None] = "validation_record"
    id_title: ClassVar[str] = "validation record"
    refs: ClassVar[dict[str, tuple[str, ...]]] = {"requirements": ("ml_requirement",)}

    id: Id
    requirements: Annotated[list[Id], Field(min_length=1)]
    """IDs of the ML safety requirements validated."""
    method: Literal["review", "simulation", "analysis", "testing", "other"]
    """review, simulation, analysis, testing or other (AMLAS Activity 4)."""
    date: dt.date
    """When the validation took place."""
    participants: list[Participant] = Field(default_factory=list)
    """Who took part, and whether they are independent of development."""
    outcome: Literal["accepted", "accepted_with_changes", "rejected", "pending"]
    """accepted, accepted_with_changes, rejected or pending."""
    summary: Text
    """What was checked and concluded."""
    findings: list[Text] = Field(default_factory=list)
    """Individual findings and the changes they led to."""


class ValidationResults(ArtefactDocument):
    """[J] ML safety requirements validation results."""

    letter: ClassVar[str] = "J"
    title: ClassVar[str] = "ML safety requirements validation results"

    artefact: Literal["J"]
    approach_rationale: Text
    """Why the validation approach is sufficient (J2.2)."""
    records: Annotated[list[ValidationRecord], Field(min_length=1)]
    """One record per validation activity."""
