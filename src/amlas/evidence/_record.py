"""One evidence record: what one check saw, how it was set up, and what it found.

A record is plain JSON so a reviewer can read and diff it. Its *digest* (SHA-256 of the
canonical JSON, ``metadata`` left out) is its content address: stores file records under
it, and the safety case points at records by it.

A record amlas did not compute itself (a result produced outside amlas, brought in by
``amlas evidence import``) says so: ``origin: external`` and its :class:`Provenance` (who
is accountable, the tool and version, the imported file and its SHA-256).
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Final, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    field_validator,
    model_validator,
)

from amlas.hashing import sha256_bytes

__all__ = [
    "EVIDENCE_SCHEMA",
    "KEY_PATTERN",
    "SHA256_PATTERN",
    "Accountable",
    "EvidenceRecord",
    "ImportedData",
    "ImportedDocument",
    "Provenance",
    "SealedDetail",
    "Tool",
]

EVIDENCE_SCHEMA: Final = "amlas.evidence/1"
"""The format tag every record carries; bump it when the hashed content changes shape."""

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]*$"
"""A record key: starts with a letter or digit; then letters, digits, '.', '_', '/', '-'."""

SHA256_PATTERN = r"^[0-9a-f]{64}$"

Sha256 = Annotated[str, StringConstraints(pattern=SHA256_PATTERN)]

_HASHED_OUT = frozenset({"metadata"})
_OMITTED_WHEN_NONE = frozenset({"sealed_detail", "origin", "provenance"})
"""Optional fields left out of the JSON when None, so records without them keep their digest."""


def _reject_non_finite(value: JsonValue, where: str) -> None:
    """Raise ValueError on NaN or infinity anywhere inside ``value``.

    pydantic's ``allow_inf_nan=False`` covers JsonValue built from Python objects but not
    ``NaN`` tokens parsed from JSON text, and NaN would make ``canonical_json`` fail (it
    is not JSON) and compare unequal to itself, so it is checked here for both paths.
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is {value!r}; evidence holds finite numbers only")
    if isinstance(value, list):
        for index, item in enumerate(value):
            _reject_non_finite(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for name, item in value.items():
            _reject_non_finite(item, f"{where}[{name!r}]")


class SealedDetail(BaseModel):
    """Per-sample detail of a record computed from sealed data, encrypted for the verifier.

    The values at ``fields`` (JSON pointers into the record, e.g. ``/results/0/failing_ids``)
    were taken out of the record and sealed together (:mod:`amlas.evidence._detail`); the
    record keeps counts, estimates, bounds and verdicts. Being part of the record, the
    ciphertext is covered by the record's digest.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Literal["AES-256-GCM"] = Field(description="The AEAD algorithm.")
    kdf: Literal["HKDF-SHA256 amlas/evidence-detail/1"] = Field(
        description="How the encryption key is derived from the verifier secret."
    )
    key_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")] = Field(
        description="Public id of the verifier key that opens the detail."
    )
    datasets: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        min_length=1, description="The sealed datasets the detail was computed from, e.g. ['P']."
    )
    fields: list[Annotated[str, StringConstraints(pattern=r"^/")]] = Field(
        min_length=1, description="JSON pointers of the values sealed, in record order."
    )
    nonce: str = Field(description="Base64 of the 12-byte GCM nonce.")
    ciphertext: str = Field(
        description="Base64 of the AES-256-GCM ciphertext and tag of the canonical JSON "
        "object {pointer: value}."
    )


_Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]


class Accountable(BaseModel):
    """Who answers for a result produced outside amlas."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    person: _Text = Field(description="The person accountable for the result.")
    organisation: _Text = Field(description="The organisation they answer for it in.")


class Tool(BaseModel):
    """The tool that produced a result outside amlas."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: _Text = Field(description="The tool's name, e.g. 'ecu-bench'.")
    version: _Text = Field(description="Its version, as the tool reports it.")


class ImportedData(BaseModel):
    """The data imported counts were computed on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: _Text = Field(description="What the data is, in words a reviewer can check.")
    sha256: Sha256 | None = Field(None, description="SHA-256 of the data, when known.")


class ImportedDocument(BaseModel):
    """A document (test report, simulation campaign summary, review report) imported as
    evidence: amlas hashes it; the verdict is the document's own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: _Text = Field(description="Project-relative path of the document.")
    sha256: Sha256 = Field(description="SHA-256 of the document when it was imported.")
    title: _Text = Field(description="The document's title.")
    kind: Literal["test_report", "simulation_campaign", "review_report", "other"] = Field(
        description="What kind of document it is."
    )


class Provenance(BaseModel):
    """Where a record of ``origin: external`` comes from (``amlas evidence import``).

    ``kind`` says what amlas did with it: ``counts``, amlas computed the bound and the
    verdict itself from the imported counts; ``document``, the verdict is the document's own
    statement, which amlas only records (and hashes the document it stands in).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["counts", "document"] = Field(
        description="counts: bound and verdict computed by amlas; document: the verdict "
        "is the document's own statement."
    )
    accountable: Accountable = Field(description="Who answers for the imported result.")
    tool: Tool = Field(description="The tool (and version) that produced it.")
    date: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")] = Field(
        description="When it was produced (ISO date)."
    )
    file: _Text = Field(description="Project-relative path of the imported file.")
    sha256: Sha256 = Field(description="SHA-256 of the imported file when it was imported.")
    data: ImportedData | None = Field(None, description="counts: the data they were computed on.")
    document: ImportedDocument | None = Field(None, description="document: the document.")


class EvidenceRecord(BaseModel):
    """The outcome of one check, as JSON a reviewer can read and diff.

    Contract:

    * ``digest`` is the SHA-256 of :meth:`canonical_json` (UTF-8): every field except
      ``metadata`` (and ``sealed_detail``, ``origin`` and ``provenance`` when None, so
      records without them keep the digest they always had), keys sorted, no
      whitespace, field ``schema`` by its alias. Equal
      content gives an equal digest on every machine; changing any hashed field changes
      it; ``metadata`` (wall-clock times, host, duration) never does.
    * Floats are written with Python's ``repr`` and so read back bit for bit; NaN and
      infinity are rejected (they are not JSON).
    * Immutable and strict about shape: unknown fields are rejected.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        allow_inf_nan=False,
        populate_by_name=True,
        serialize_by_alias=True,
    )

    schema_: Literal["amlas.evidence/1"] = Field(
        EVIDENCE_SCHEMA,
        alias="schema",
        description="Format tag of this record.",
    )
    key: str = Field(
        pattern=KEY_PATTERN,
        max_length=512,
        description="Stable identity of the check, e.g. 'stage5/metric/MLR-1'; a record "
        "with the same key from a later run supersedes the earlier one.",
    )
    check: str = Field(
        min_length=1, description="The registered check that ran, e.g. 'metric.recall'."
    )
    stage: Literal[3, 4, 5, 6] = Field(description="The AMLAS stage the check belongs to.")
    role: Literal["developer", "verifier"] = Field(
        description="Who ran the check: the development team or the independent verifier."
    )
    subject: str = Field(
        min_length=1,
        description="What was checked: a requirement id ('MLR-1', 'DR-4') or 'independence'.",
    )
    dataset: str | None = Field(
        description="The dataset(s) the check read, e.g. 'N', 'P' or 'N+O'; None if none."
    )
    parameters: dict[str, JsonValue] = Field(
        description="The check's parameters as written in the project artefact."
    )
    resolved: dict[str, JsonValue] = Field(
        description="Parameters the engine filled in (positive class, method, seed, ...)."
    )
    inputs: dict[str, Sha256] = Field(
        description="SHA-256 of every input, by name: 'dataset:P', 'model', 'requirement:MLR-1'."
    )
    results: list[dict[str, JsonValue]] = Field(
        description="One entry per slice or finding, in the order the check produced them."
    )
    verdict: Literal["pass", "fail", "inconclusive"] = Field(
        description="The check's overall verdict."
    )
    summary: str = Field(description="One line a reviewer reads first.")
    versions: dict[str, str] = Field(description="Versions of the libraries that computed it.")
    sealed_detail: SealedDetail | None = Field(
        None,
        description="Per-sample detail computed from sealed data, encrypted for the "
        "verifier; None (and absent from the JSON) when the record has none.",
    )
    origin: Literal["external"] | None = Field(
        None,
        description="'external' for a result produced outside amlas and imported with "
        "'amlas evidence import'; None (and absent from the JSON) for what amlas computed.",
    )
    provenance: Provenance | None = Field(
        None,
        description="Who and what produced an external result, and the file it came from; "
        "None (and absent from the JSON) for what amlas computed.",
    )
    metadata: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="Wall-clock times, host, duration: the only part left out of the digest.",
    )

    @field_validator("key")
    @classmethod
    def _no_parent_segments(cls, key: str) -> str:
        if ".." in key:
            raise ValueError(f"key={key!r} contains '..'; use letters, digits, '.', '_', '/', '-'")
        return key

    @model_validator(mode="after")
    def _provenance_with_origin(self) -> Self:
        if (self.origin is None) != (self.provenance is None):
            raise ValueError(
                "origin 'external' and provenance come together: a record produced outside "
                "amlas says who and what produced it, and only such a record does"
            )
        return self

    @model_validator(mode="after")
    def _finite_numbers_only(self) -> Self:
        names = ("parameters", "resolved", "results", "metadata")
        try:  # json's C encoder finds a NaN or an infinity fast, in one call for the four
            json.dumps([getattr(self, name) for name in names], allow_nan=False)
        except (ValueError, TypeError):
            for name in names:  # as found one by one: the walk says where
                value = getattr(self, name)
                try:
                    json.dumps(value, allow_nan=False)
                except (ValueError, TypeError):
                    _reject_non_finite(value, name)
        try:
            # the stored form's text, less its indentation and key order (the same strings,
            # through json's C encoder): every string must encode
            json.dumps(
                self._payload(with_metadata=True), ensure_ascii=False, allow_nan=False
            ).encode("utf-8")
        except UnicodeEncodeError as error:
            # A lone surrogate is a valid Python str but has no UTF-8 form, so no digest.
            raise ValueError(
                f"text {error.object[error.start : error.end]!r} is not valid "
                "Unicode (a lone surrogate); evidence must encode as UTF-8"
            ) from None
        return self

    def _payload(self, *, with_metadata: bool) -> dict[str, Any]:
        exclude = set() if with_metadata else set(_HASHED_OUT)
        exclude |= {name for name in _OMITTED_WHEN_NONE if getattr(self, name) is None}
        return self.model_dump(mode="json", by_alias=True, exclude=exclude or None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values of every field, ``metadata`` included, the optional fields
        left out when None (as in :meth:`to_json`)."""
        return self._payload(with_metadata=True)

    def canonical_json(self) -> str:
        """The hashed form: compact, keys sorted, non-ASCII kept, ``metadata`` left out."""
        return json.dumps(
            self._payload(with_metadata=False),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )

    @property
    def digest(self) -> str:
        """SHA-256 hex of :meth:`canonical_json` in UTF-8: this record's content address."""
        return sha256_bytes(self.canonical_json().encode("utf-8"))

    def to_json(self) -> str:
        """The stored form: indented by 2, keys sorted, ``metadata`` kept, ending in a newline.

        Stable line by line, so two versions of a record diff cleanly.
        """
        text = json.dumps(
            self._payload(with_metadata=True),
            sort_keys=True,
            indent=2,
            ensure_ascii=False,
            allow_nan=False,
        )
        return text + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        """Parse :meth:`to_json` or :meth:`canonical_json` output (strict: no coercion).

        Raises pydantic's ``ValidationError`` on anything that is not a valid record.
        """
        return cls.model_validate_json(text, strict=True)
