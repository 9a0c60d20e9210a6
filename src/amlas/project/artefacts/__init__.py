"""Typed models of every AMLAS document artefact, and the registry that maps artefact
letters to models, stages and default file locations.

Evidence artefacts ([S] [X] [Z] [FF]) and arguments ([G] [K] [T] [Y] [CC] [HH]) are produced
by `amlas` itself (the checks, evidence and case layers), not written by users, so they
have no model here.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass

from amlas.project.artefacts._base import ArtefactDocument, Item
from amlas.project.artefacts._tree import RequirementTree
from amlas.project.artefacts.data import (
    BUILTIN_RULES,
    CATEGORIES,
    DataGenerationLog,
    DataJustification,
    DataRequirement,
    DataRequirements,
    DatasetDocument,
    DevelopmentData,
    InternalTestData,
    VerificationData,
)
from amlas.project.artefacts.deployment import (
    ErroneousBehaviour,
    ErroneousBehaviourLog,
    OperationalScenario,
    OperationalScenarios,
)
from amlas.project.artefacts.learning import ModelDevelopmentLog, ModelReference
from amlas.project.artefacts.requirements import (
    VERIFICATION_METHODS,
    Condition,
    FaultModel,
    FormalProperty,
    MLSafetyRequirement,
    MLSafetyRequirements,
    Perturbation,
    Slice,
    ValidationRecord,
    ValidationResults,
    VerificationMethod,
)
from amlas.project.artefacts.reviews import (
    Finding,
    ReviewedDocument,
    ReviewedItem,
    Reviewer,
    ReviewRecord,
    ReviewRecords,
)
from amlas.project.artefacts.scoping import (
    ASIL_TABLE,
    AllocatedRequirement,
    AllocatedRequirements,
    Barrier,
    CategoricalDimension,
    DomainClassification,
    Hazard,
    Iso26262Classification,
    MLComponentDescription,
    NumericBand,
    NumericDimension,
    OddCondition,
    OperatingEnvironment,
    SystemDescription,
    SystemSafetyRequirement,
    SystemSafetyRequirements,
    Worsening,
    determine_asil,
)
from amlas.project.artefacts.verification import VerificationActivity, VerificationLog

__all__ = [
    "ARTEFACTS",
    "ASIL_TABLE",
    "BUILTIN_RULES",
    "CATEGORIES",
    "ID_KINDS",
    "VERIFICATION_METHODS",
    "AllocatedRequirement",
    "AllocatedRequirements",
    "ArtefactDocument",
    "ArtefactSpec",
    "Barrier",
    "CategoricalDimension",
    "Condition",
    "DataGenerationLog",
    "DataJustification",
    "DataRequirement",
    "DataRequirements",
    "DatasetDocument",
    "DevelopmentData",
    "DomainClassification",
    "ErroneousBehaviour",
    "ErroneousBehaviourLog",
    "FaultModel",
    "Finding",
    "FormalProperty",
    "Hazard",
    "IdKind",
    "InternalTestData",
    "Iso26262Classification",
    "Item",
    "MLComponentDescription",
    "MLSafetyRequirement",
    "MLSafetyRequirements",
    "ModelDevelopmentLog",
    "ModelReference",
    "NumericBand",
    "NumericDimension",
    "OddCondition",
    "OperatingEnvironment",
    "OperationalScenario",
    "OperationalScenarios",
    "Perturbation",
    "RequirementTree",
    "ReviewRecord",
    "ReviewRecords",
    "ReviewedDocument",
    "ReviewedItem",
    "Reviewer",
    "Slice",
    "SystemDescription",
    "SystemSafetyRequirement",
    "SystemSafetyRequirements",
    "ValidationRecord",
    "ValidationResults",
    "VerificationActivity",
    "VerificationData",
    "VerificationLog",
    "VerificationMethod",
    "Worsening",
    "determine_asil",
]


@dataclass(frozen=True)
class ArtefactSpec:
    """Where an artefact sits in AMLAS and in a project directory."""

    letter: str
    model: type[ArtefactDocument]
    stage: int
    default_path: str
    required: bool
    """Required from the start (stages 1-3 inputs); later artefacts may come later."""
    announced: bool = True
    """A missing file is worth a warning (F002): false for [RV], which many projects
    never need."""

    @property
    def title(self) -> str:
        return self.model.title

    @property
    def schema_file(self) -> str:
        return f"{self.letter}.schema.json"


def _spec(
    model: type[ArtefactDocument], stage: int, path: str, required: bool, announced: bool = True
) -> ArtefactSpec:
    return ArtefactSpec(model.letter, model, stage, path, required, announced)


ARTEFACTS: dict[str, ArtefactSpec] = {
    s.letter: s
    for s in (
        _spec(SystemSafetyRequirements, 1, "1-scoping/A-system-safety-requirements.yaml", True),
        _spec(OperatingEnvironment, 1, "1-scoping/B-operating-environment.yaml", True),
        _spec(SystemDescription, 1, "1-scoping/C-system-description.yaml", True),
        _spec(MLComponentDescription, 1, "1-scoping/D-ml-component.yaml", True),
        _spec(AllocatedRequirements, 1, "1-scoping/E-allocated-requirements.yaml", True),
        _spec(MLSafetyRequirements, 2, "2-requirements/H-ml-safety-requirements.yaml", True),
        _spec(ValidationResults, 2, "2-requirements/J-validation-results.yaml", False),
        _spec(DataRequirements, 3, "3-data/L-data-requirements.yaml", True),
        _spec(DataJustification, 3, "3-data/M-data-justification.yaml", False),
        _spec(DevelopmentData, 3, "3-data/N-development-data.yaml", True),
        _spec(InternalTestData, 3, "3-data/O-internal-test-data.yaml", True),
        _spec(VerificationData, 3, "3-data/P-verification-data.yaml", True),
        _spec(DataGenerationLog, 3, "3-data/Q-data-generation-log.yaml", False),
        _spec(ModelDevelopmentLog, 4, "4-learning/U-model-development-log.yaml", False),
        _spec(ModelReference, 4, "4-learning/V-model.yaml", False),
        _spec(VerificationLog, 5, "5-verification/AA-verification-log.yaml", False),
        _spec(ErroneousBehaviourLog, 6, "6-deployment/DD-erroneous-behaviour-log.yaml", False),
        _spec(OperationalScenarios, 6, "6-deployment/EE-operational-scenarios.yaml", False),
        # not an AMLAS letter: the reviews any stage may rest on (stage 0: all of them)
        _spec(ReviewRecords, 0, "reviews/RV-review-records.yaml", False, announced=False),
    )
}


@dataclass(frozen=True)
class IdKind:
    """A kind of item that carries an ID, and the artefact that defines such items."""

    kind: str
    title: str
    letter: str

    def named(self) -> str:
        """The kind with its article and artefact, e.g. 'an ML safety requirement [H]'."""
        article = "an" if self.title[0] in "aeiou" or self.title.startswith(("ML", "ODD")) else "a"
        return f"{article} {self.title} [{self.letter}]"


def _item_types(tp: object) -> typing.Iterator[type[Item]]:
    if isinstance(tp, type) and issubclass(tp, Item):
        yield tp
    for arg in typing.get_args(tp):
        yield from _item_types(arg)


def _id_kinds() -> dict[str, IdKind]:
    """Read from the models: which artefact defines each kind of item."""
    kinds: dict[str, IdKind] = {}
    for letter, spec in ARTEFACTS.items():
        pending: list[type[Item]] = [spec.model]
        seen: set[type[Item]] = set()
        while pending:
            model = pending.pop()
            if model in seen:
                continue
            seen.add(model)
            if model.id_kind is not None:
                kinds.setdefault(model.id_kind, IdKind(model.id_kind, model.id_title, letter))
            for field in model.model_fields.values():
                pending.extend(_item_types(field.annotation))
    return kinds


ID_KINDS: dict[str, IdKind] = _id_kinds()
