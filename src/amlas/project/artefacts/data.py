"""Stage 3: [L] data requirements, [M] their justification, the datasets [N] [O] [P]
and [Q] the data generation log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from amlas.plugins import registry
from amlas.project.artefacts._base import (
    ArtefactDocument,
    DataRuleName,
    DatasetFormatName,
    Id,
    Item,
    Probability,
    Sha256,
    Text,
)
from amlas.project.artefacts.outputs import ObjectTable

__all__ = [
    "BUILTIN_RULES",
    "CATEGORIES",
    "CategoryGap",
    "DataGenerationLog",
    "DataJustification",
    "DataRequirement",
    "DataRequirements",
    "DatasetDocument",
    "DevelopmentData",
    "Duplicates",
    "ExternalRule",
    "Independence",
    "InternalTestData",
    "SealedCopy",
    "VerificationData",
]

Category = Literal["relevance", "completeness", "accuracy", "balance"]
CATEGORIES: tuple[str, ...] = ("relevance", "completeness", "accuracy", "balance")
DatasetLetter = Literal["N", "O", "P"]


# -- machine-checkable data rules: a registered check name plus parameters, never code ------


class WithinOdd(Item):
    """Every sample lies inside the declared ODD ranges and categories."""

    refs: ClassVar[dict[str, tuple[str, ...]]] = {"dimensions": ("odd_dimension",)}

    check: Literal["within_odd"]
    dimensions: list[Id] = Field(default_factory=list)
    """ODD dimensions checked (empty: all)."""
    max_outside_fraction: Probability = 0.0
    """Largest tolerated fraction of samples outside the ODD."""


class SchemaConformance(Item):
    """Every sample has the input features of [D] with the declared types."""

    check: Literal["schema_conformance"]


class MinSamplesPerCell(Item):
    """Every ODD cell (combination of bands/categories) holds at least k samples."""

    quiet_when_unset: ClassVar[frozenset[str]] = frozenset({"banding"})

    refs: ClassVar[dict[str, tuple[str, ...]]] = {
        "dimensions": ("odd_dimension",),
        "from_requirement": ("ml_requirement",),
        "banding": ("odd_dimension",),
    }

    check: Literal["min_samples_per_cell"]
    dimensions: Annotated[list[Id], Field(min_length=1)]
    """ODD dimensions whose band combinations form the cells."""
    min_samples: Annotated[int, Field(ge=1)] | None = None
    """k, stated directly ..."""
    from_requirement: Id | None = None
    """... or derived from the sample size this [H] requirement needs at its threshold and
    confidence."""
    class_: str | None = Field(default=None, alias="class")
    """Count only samples of this class (e.g. the safety-related class)."""
    banding: dict[Id, Id] = Field(default_factory=dict)
    """ODD dimension ID (of ``dimensions``) -> the name of one of its ``bandings`` in [B]
    whose bands form the cells (default: the dimension's ``bands``; D026 names an unknown
    banding)."""

    @model_validator(mode="after")
    def _one_source(self) -> MinSamplesPerCell:
        if (self.min_samples is None) == (self.from_requirement is None):
            raise ValueError("give exactly one of 'min_samples' or 'from_requirement'")
        return self

    def banding_of(self, dimension_id: str) -> str | None:
        """The banding the rule reads ``dimension_id`` in (None: the default ``bands``)."""
        return self.banding.get(dimension_id)


class ClassBalance(Item):
    """The proportion of a class lies within bounds."""

    check: Literal["class_balance"]
    class_: str = Field(alias="class")
    """The class whose proportion is bounded."""
    min_fraction: Probability = 0.0
    """Smallest allowed proportion of the class."""
    max_fraction: Probability = 1.0
    """Largest allowed proportion of the class."""

    @model_validator(mode="after")
    def _ordered(self) -> ClassBalance:
        if self.min_fraction > self.max_fraction:
            raise ValueError(
                f"min_fraction={self.min_fraction:g} > max_fraction={self.max_fraction:g}"
            )
        return self


class SliceBalance(Item):
    """Every band/category of a dimension holds at least a fraction of the samples."""

    quiet_when_unset: ClassVar[frozenset[str]] = frozenset({"banding"})

    refs: ClassVar[dict[str, tuple[str, ...]]] = {"dimension": ("odd_dimension",)}

    check: Literal["slice_balance"]
    dimension: Id
    min_fraction: Probability
    """Smallest allowed proportion of samples in each band or category."""
    banding: Id | None = None
    """The name of one of the dimension's ``bandings`` in [B] whose bands are balanced
    (default: its ``bands``; D026 names an unknown banding)."""

    def banding_of(self, dimension_id: str) -> str | None:
        """The banding the rule reads ``dimension_id`` in (None: the default ``bands``)."""
        return self.banding if dimension_id == self.dimension else None


class LabelErrorRate(Item):
    """The label error rate, bounded from an audited subset, stays below a maximum."""

    check: Literal["label_error_rate"]
    audit_file: Text
    """Project-relative file of re-labelled samples (sample id, audited label)."""
    max_rate: Probability
    """Largest acceptable label error rate."""
    confidence: float = Field(
        default=0.95, json_schema_extra={"exclusiveMinimum": 0, "exclusiveMaximum": 1}
    )


class Duplicates(Item):
    """Few samples of the dataset duplicate an earlier one: the share of samples equal to
    an earlier sample (same content hash) or, with ``near_duplicate_distance``, within that
    RMS distance of one, bounded exactly at ``confidence`` (Clopper-Pearson)."""

    check: Literal["duplicates"]
    max_rate: Annotated[float, Field(gt=0.0, le=1.0)]
    """Largest acceptable share of samples that duplicate an earlier sample (above 0: no
    finite sample can bound a rate to exactly 0)."""
    confidence: float = Field(
        default=0.95, json_schema_extra={"exclusiveMinimum": 0, "exclusiveMaximum": 1}
    )
    near_duplicate_distance: Annotated[float, Field(ge=0.0)] = 0.0
    """RMS distance over features z-scored by this dataset's mean and standard deviation
    (as in the independence check) under which a sample duplicates an earlier one; 0 (the
    default) counts exact duplicates only."""
    features: list[Text] = Field(default_factory=list)
    """Numeric columns of the near-duplicate search (empty: the model input features)."""


def _external_names(schema: dict[str, Any]) -> None:
    """In the JSON Schema, an external rule is one of the installed rules amlas does not
    ship (none, when no plug-in adds one)."""
    names = [n for n in registry("amlas.data_rules").names() if n not in BUILTIN_RULES]
    schema.pop("enum", None)
    if names:
        schema["enum"] = names
    else:
        schema["not"] = {}


class ExternalRule(Item):
    """A rule of a data-rule plug-in that amlas does not ship (``amlas plugins`` lists the
    installed ones): ``check`` names it; its other keys are validated against the
    plug-in's own parameters when the project is loaded, each problem located here."""

    model_config = ConfigDict(**{**Item.model_config, "extra": "allow"})

    check: Annotated[DataRuleName, Field(json_schema_extra=_external_names)]


BUILTIN_RULES: dict[str, type[Item]] = {
    "within_odd": WithinOdd,
    "schema_conformance": SchemaConformance,
    "min_samples_per_cell": MinSamplesPerCell,
    "class_balance": ClassBalance,
    "slice_balance": SliceBalance,
    "label_error_rate": LabelErrorRate,
    "duplicates": Duplicates,
}
"""The parameters of the data rules amlas ships (plug-ins in ``amlas.data_rules`` like any
other; their models live here so that the schema of [L] describes them in full)."""


def _rule_tag(value: Any) -> str | None:
    check = value.get("check") if isinstance(value, dict) else getattr(value, "check", None)
    if check is None:
        return None
    return check if isinstance(check, str) and check in BUILTIN_RULES else "external"


DataRule = Annotated[
    Annotated[WithinOdd, Tag("within_odd")]
    | Annotated[SchemaConformance, Tag("schema_conformance")]
    | Annotated[MinSamplesPerCell, Tag("min_samples_per_cell")]
    | Annotated[ClassBalance, Tag("class_balance")]
    | Annotated[SliceBalance, Tag("slice_balance")]
    | Annotated[LabelErrorRate, Tag("label_error_rate")]
    | Annotated[Duplicates, Tag("duplicates")]
    | Annotated[ExternalRule, Tag("external")],
    Discriminator(_rule_tag),
]
"""A built-in rule by its own model, any other registered rule as :class:`ExternalRule`."""


# -- [L] ----------------------------------------------------------------------------------------


class DataRequirement(Item):
    """A data requirement derived from ML safety requirements."""

    id_kind: ClassVar[str | None] = "data_requirement"
    id_title: ClassVar[str] = "data requirement"
    refs: ClassVar[dict[str, tuple[str, ...]]] = {"traces_to": ("ml_requirement",)}

    id: Id
    category: Category
    """relevance, completeness, accuracy or balance (R6)."""
    text: Text
    """The requirement in words."""
    traces_to: list[Id] = Field(default_factory=list)
    """IDs of the ML safety requirements [H] this data requirement serves."""
    rule: DataRule | None = None
    """A machine-checkable rule, where one fits."""
    datasets: Annotated[list[DatasetLetter], Field(min_length=1)] = Field(
        default_factory=lambda: list[DatasetLetter](["N", "O", "P"])
    )
    """The datasets the rule is checked on (default: all three, as AMLAS R11 asks)."""
    assumptions: list[Text] = Field(default_factory=list)
    """Assumptions about the operating environment (R7)."""


class CategoryGap(Item):
    """A data-requirement category deliberately left without requirements, and why."""

    category: Category
    justification: Text
    """Why no requirement of this category is needed."""


class Independence(Item):
    """How the independence of [N], [O] and [P] is checked (R9).

    Always checked: shared sample ids, exactly duplicated samples (equal content: the
    datasets' ``content_columns``, else the model inputs; a table with neither has nothing
    to compare, and the pair is inconclusive rather than passed), and shared groups when
    the datasets declare a ``group_column``. Near-duplicates are pairs of samples from two
    sets whose root-mean-square distance over z-scored features (scaled by the development
    data) is at most ``near_duplicate_distance``. Duplicates are counted as pairs, with the
    number of samples involved on each side.
    """

    near_duplicate_distance: Annotated[float, Field(ge=0.0)] = 0.01
    """RMS distance over standardised features under which two samples count as
    near-duplicates; 0 turns the near-duplicate search off."""
    features: list[Text] = Field(default_factory=list)
    """Features compared (empty: the model input features)."""


class DataRequirements(ArtefactDocument):
    """[L] Data requirements."""

    letter: ClassVar[str] = "L"
    title: ClassVar[str] = "Data requirements"

    artefact: Literal["L"]
    requirements: Annotated[list[DataRequirement], Field(min_length=1)]
    """The data requirements."""
    gaps: list[CategoryGap] = Field(default_factory=list)
    """Categories deliberately left without requirements, each with a justification."""
    features: list[Text] = Field(default_factory=list)
    """The data features used to encode the operating domain (R7)."""
    independence: Independence = Field(default_factory=Independence)
    """How the independence of the three datasets is checked (R9)."""


# -- [M] ----------------------------------------------------------------------------------------


class JustificationArgument(Item):
    refs: ClassVar[dict[str, tuple[str, ...]]] = {
        "requirements": ("ml_requirement",),
        "data_requirements": ("data_requirement",),
    }

    requirements: Annotated[list[Id], Field(min_length=1)]
    """The ML safety requirements [H] discussed."""
    data_requirements: list[Id] = Field(default_factory=list)
    """The data requirements [L] argued sufficient for them."""
    rationale: Text
    """Why the data requirements suffice for the ML safety requirements."""


class DataJustification(ArtefactDocument):
    """[M] Data requirements justification report: [L] is sufficient for [H] (G3.2)."""

    letter: ClassVar[str] = "M"
    title: ClassVar[str] = "Data requirements justification report"

    artefact: Literal["M"]
    summary: Text
    """The conclusion of the report."""
    author: Text
    """Who wrote the report."""
    date: dt.date
    """When the report was written."""
    arguments: Annotated[list[JustificationArgument], Field(min_length=1)]
    """One argument per group of ML safety requirements."""
    category_rationale: str = ""
    """Why the identified types of data requirements are sufficient (J3.1)."""


# -- [N] [O] [P] -------------------------------------------------------------------------------


class SealedCopy(Item):
    """Where the encrypted copy of a dataset lives, and how its use is controlled (R15).

    Written by ``amlas seal``. Once sealed, the plaintext at ``location`` is removed from
    the project; only the verifier role's key decrypts the copy, in memory.
    """

    file: Text
    """Project-relative path of the sealed (encrypted) file."""
    access_log: Text = "5-verification/P-access-log.jsonl"
    """Project-relative path of the hash-chained log of every unseal and use."""
    max_uses: Annotated[int, Field(ge=1)] = 5
    """Uses of the data after which ``amlas`` warns against tuning the model to it."""


class DatasetDocument(ArtefactDocument):
    """Common fields of the development [N], internal test [O] and verification [P] data."""

    quiet_when_unset: ClassVar[frozenset[str]] = frozenset(
        {"objects", "sequence_column", "frame_column"}
    )

    refs: ClassVar[dict[str, tuple[str, ...]]] = {"odd_columns": ("odd_dimension",)}
    role: ClassVar[str] = ""

    artefact: DatasetLetter
    description: Text
    """What the dataset holds and what it is used for."""
    location: Text
    """Project-relative path of the data file (or folder, for image folders)."""
    format: DatasetFormatName
    """File format: a dataset reader installed as a plug-in ('amlas plugins' lists them);
    built in: csv, parquet, npz, image_folder."""
    sha256: Sha256 | None = None
    """SHA-256 of the file as reviewed; `amlas check` reports a mismatch (D005)."""
    samples: Annotated[int, Field(ge=0, le=2**53)] | None = None
    """Declared number of samples; `amlas check` (plaintext CSV) and `amlas run` (every
    dataset it reads) compare it with the file (D020)."""
    label_column: str | None = None
    """Column holding the ground-truth label (the class, or the target value of a
    regressor); a dataset of a detector has ``objects`` instead."""
    id_column: str | None = None
    """Column holding a unique sample id (findings name samples by it)."""
    group_column: str | None = None
    """Column of the unit that must not be shared between sets (patient, asset, scene)."""
    odd_columns: dict[Id, Text] = Field(default_factory=dict)
    """ODD dimension ID -> column, overriding [B]'s default column."""
    feature_columns: list[Text] = Field(default_factory=list)
    """Model input columns; empty means the input features of [D]."""
    content_columns: list[Text] = Field(default_factory=list)
    """Columns that identify a sample's content, compared by the duplicate checks (the
    independence of [N] [O] [P], the ``duplicates`` rule) instead of the model inputs: e.g.
    the SHA-256 of each image file, or the parameters a synthetic sample was generated
    from. Needed when the table holds no model input (images described by a metadata
    table): without it nothing identifies a sample and exact duplicates are not compared.
    Empty: the model input features, or the per-sample arrays."""
    metadata_table: str | None = None
    """For image folders: the project-relative table of labels and ODD metadata."""
    sealed: SealedCopy | None = None
    """Set once the dataset is sealed (``amlas seal``); required for [P] in practice."""
    source: Text
    """Provenance: where the samples come from."""
    objects: ObjectTable | None = None
    """For a detector: the ground-truth objects of every image (one row per object)."""
    sequence_column: str | None = None
    """Column of the sequence (a drive, a video clip) a sample belongs to: temporal
    requirements are judged per sequence."""
    frame_column: str | None = None
    """Column of the sample's frame number within its sequence."""

    @model_validator(mode="after")
    def _truth(self) -> DatasetDocument:
        if self.label_column is None and self.objects is None:
            raise PydanticCustomError(
                "amlas_missing",
                "a dataset needs 'label_column' (the ground truth of each sample) or, for a "
                "detector, 'objects' (its ground-truth boxes)",
                {},
            )
        if (self.sequence_column is None) != (self.frame_column is None):
            raise PydanticCustomError(
                "amlas_missing", "'sequence_column' and 'frame_column' go together", {}
            )
        return self


class DevelopmentData(DatasetDocument):
    """[N] Development data (training and validation)."""

    letter: ClassVar[str] = "N"
    title: ClassVar[str] = "Development data"
    role: ClassVar[str] = "development"
    artefact: Literal["N"]


class InternalTestData(DatasetDocument):
    """[O] Internal test data, used by the development team to test the model."""

    letter: ClassVar[str] = "O"
    title: ClassVar[str] = "Internal test data"
    role: ClassVar[str] = "internal_test"
    artefact: Literal["O"]


class VerificationData(DatasetDocument):
    """[P] Verification data, kept from the development team until release (R15)."""

    letter: ClassVar[str] = "P"
    title: ClassVar[str] = "Verification data"
    role: ClassVar[str] = "verification"
    artefact: Literal["P"]


# -- [Q] ----------------------------------------------------------------------------------------


class DataSource(Item):
    name: Text
    description: Text
    rationale: Text
    """Why this source is suitable (AMLAS Note 17)."""
    near_identical_system: bool = False
    """True when the data come from a system that is not the target (Note 16)."""
    compromise: str = ""
    """For near-identical systems: the compromise and why the data remain valid."""

    @model_validator(mode="after")
    def _compromise(self) -> DataSource:
        if self.near_identical_system and not self.compromise.strip():
            raise PydanticCustomError(
                "amlas_missing",
                "data from a near-identical system needs 'compromise' saying why it stays valid",
                {},
            )
        return self


class GenerationEntry(Item):
    date: dt.date
    sub_process: Literal[
        "collection", "preprocessing", "augmentation", "labelling", "splitting", "other"
    ]
    """collection, preprocessing, augmentation, labelling, splitting or other."""
    decision: Text
    """What was decided."""
    rationale: Text
    """Why."""
    datasets: list[DatasetLetter] = Field(default_factory=list)
    """Which of [N] [O] [P] the decision affects."""
    author: str = ""


class DataGenerationLog(ArtefactDocument):
    """[Q] Data generation log: decisions per sub-process and how the sets meet [L]."""

    letter: ClassVar[str] = "Q"
    title: ClassVar[str] = "Data generation log"

    artefact: Literal["Q"]
    sources: Annotated[list[DataSource], Field(min_length=1)]
    """Where the data come from, with the rationale for each source."""
    entries: Annotated[list[GenerationEntry], Field(min_length=1)]
    """Decisions taken in each sub-process (R10)."""
