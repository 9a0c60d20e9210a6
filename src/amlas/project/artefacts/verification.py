"""Stage 5: [AA] the verification log."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from amlas.project.artefacts._base import ArtefactDocument, Id, Item, Text

__all__ = ["VerificationActivity", "VerificationLog", "Verifier"]


class Verifier(Item):
    name: Text
    role: Text
    """The verifier's role."""
    organisation: str = ""
    """The verifier's organisation (independence of organisation, AMLAS Note 31)."""
    independent: bool
    """Whether the verifier is independent of the development team (R16)."""


class VerificationActivity(Item):
    """A planned or performed verification activity for some [H] items (R17)."""

    id_kind: ClassVar[str | None] = "verification_activity"
    id_title: ClassVar[str] = "verification activity"
    refs: ClassVar[dict[str, tuple[str, ...]]] = {"requirements": ("ml_requirement",)}

    id: Id
    requirements: Annotated[list[Id], Field(min_length=1)]
    """IDs of the ML safety requirements the activity verifies."""
    method: Literal["test", "formal"]
    """test or formal."""
    description: Text
    """What the activity does."""
    rationale: str = ""
    """Why this activity verifies the requirement (J5.1)."""
    property_encoding: str = ""
    """Formal activities: how the requirement became a formal property (Note 36)."""


class VerificationLog(ArtefactDocument):
    """[AA] Verification log: strategy, independence, data handling, activities."""

    letter: ClassVar[str] = "AA"
    title: ClassVar[str] = "Verification log"

    artefact: Literal["AA"]
    strategy: Text
    """The verification strategy: test and/or formal, and why (J5.1)."""
    verifiers: list[Verifier] = Field(default_factory=list)
    """Who verified, and whether independently of development (R16)."""
    data_access: Text
    """How the verification data [P] was kept from the development team (R15)."""
    platform: str = ""
    """The test platform and why it represents the operational platform (G5.6)."""
    activities: list[VerificationActivity] = Field(default_factory=list)
    """Planned or performed verification activities, at least one per [H] item (R17)."""
