"""Building blocks shared by every artefact model.

Every model is immutable and rejects unknown keys. Items that others may reference carry
an ``id`` and declare their ``id_kind``; fields that reference other items are listed in
``refs`` (field name -> the kinds of item they may name). The project's cross-artefact
rules read these declarations, so adding a reference is a one-line change here.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
)
from pydantic_core import PydanticCustomError

from amlas.diagnostics import did_you_mean
from amlas.plugins import registry

__all__ = [
    "ArtefactDocument",
    "DataRuleName",
    "DatasetFormatName",
    "Id",
    "Item",
    "ModelFormatName",
    "PerturbationName",
    "Probability",
    "PropertyName",
    "Sha256",
    "Text",
]

ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_.\-]{0,63}$"

Id = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN),
    Field(
        description="An identifier, unique across the project: a letter, then letters, "
        "digits, '.', '_' or '-' (at most 64 characters), e.g. 'MLR-3'."
    ),
]
"""An item identifier, unique across the whole project."""

Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
"""Free text that must not be empty."""

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""A lower-case hex SHA-256 digest."""


def _registered(group: str, what: str) -> Any:
    """A name registered in the entry-point ``group``: validated against the installed
    plug-ins (with "did you mean"), listed as an ``enum`` in the JSON Schema."""

    def check(value: str) -> str:
        names = registry(group).names()
        if value not in names:
            hint = did_you_mean(value, names) or f"installed: {', '.join(names)}"
            raise PydanticCustomError(
                "unknown_choice",
                "unknown {what} '{value}'; {hint} (see 'amlas plugins')",
                {"what": what, "value": value, "hint": hint},
            )
        return value

    def schema(document: dict[str, Any]) -> None:
        document["enum"] = list(registry(group).names())

    return Annotated[str, AfterValidator(check), Field(json_schema_extra=schema)]


ModelFormatName = _registered("amlas.models", "model format")
"""A model format installed in the ``amlas.models`` entry-point group."""

DatasetFormatName = _registered("amlas.readers", "dataset format")
"""A dataset format installed in the ``amlas.readers`` entry-point group."""

PerturbationName = _registered("amlas.perturbations", "perturbation")
"""A perturbation installed in the ``amlas.perturbations`` entry-point group."""

PropertyName = _registered("amlas.properties", "formal property")
"""A formal property installed in the ``amlas.properties`` entry-point group."""

DataRuleName = _registered("amlas.data_rules", "data rule")
"""A data rule installed in the ``amlas.data_rules`` entry-point group."""

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class Item(BaseModel):
    """Base of every model read from a project file: immutable, unknown keys rejected."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        populate_by_name=True,
        allow_inf_nan=False,  # .nan compares false with every bound, .inf is no threshold
    )

    id_kind: ClassVar[str | None] = None
    """The kind of item an ``id`` field defines (e.g. 'hazard'); None for unnamed items."""

    id_title: ClassVar[str] = ""
    """How messages name that kind of item (e.g. 'ML safety requirement')."""

    refs: ClassVar[dict[str, tuple[str, ...]]] = {}
    """Reference fields: field name -> kinds of item the IDs in it may name."""

    quiet_when_unset: ClassVar[frozenset[str]] = frozenset()
    """Fields added after evidence was first made: left out of every dump (and so of the
    input hashes evidence records cite, and of the runtime monitor's) while unset (None,
    empty), so that a project that does not use them keeps its evidence current."""

    @model_serializer(mode="wrap")
    def _leave_out_unset(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if self.quiet_when_unset and isinstance(data, dict):
            for name in self.quiet_when_unset:
                if name in data and data[name] in (None, [], {}):
                    del data[name]
        return data


class ArtefactDocument(Item):
    """Fields every AMLAS artefact document starts with."""

    letter: ClassVar[str] = ""
    title: ClassVar[str] = ""

    artefact: str = Field(description="The AMLAS artefact letter this document holds, e.g. 'H'.")
    version: Text = Field(
        description="The document's version (e.g. '1.2.0'); bump it when the content changes."
    )
    assumptions: list[Text] = Field(
        default_factory=list,
        description="Assumptions made while writing this artefact (surfaced in the report, R25).",
    )
    uncertainties: list[Text] = Field(
        default_factory=list,
        description="Known uncertainties and trade-offs (surfaced in the report, R25).",
    )
