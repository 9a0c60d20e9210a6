"""The file ``amlas evidence import`` reads: counts, or a document, and who answers for it.

Two kinds, told apart by ``kind``::

    schema: amlas.import/1            schema: amlas.import/1
    kind: counts                      kind: document
    for: MLR-8                        for: G6.5            (an [H] requirement or a node)
    accountable:                      accountable: {person: ..., organisation: ...}
      person: Dr Ada Lee              tool: {name: carla-campaign, version: 0.9.15}
      organisation: Platform team     date: 2026-02-20
    tool: {name: ecu-bench, version: 2.3.1}
    date: 2026-03-02                  document:
    data:                               file: reports/campaign-7.pdf
      description: 20,000 frames ...    title: Simulation campaign 7
      sha256: 3f5a...                   kind: simulation_campaign
    slices:                           verdict: pass
      - name: all                     summary: 2,400 runs, no collision ...
        successes: 19994
        trials: 20000

A **counts** file gives, per slice of the operating domain (optionally its ODD ``cell``),
either ``successes`` and ``trials`` (a proportion: ``successes`` is the metric's numerator,
e.g. the misses for ``fnr``) or ``events``, ``exposure`` and its ``unit`` (a count rate,
e.g. false positives per image). amlas computes the bound and the verdict itself from
the requirement's threshold, comparison and confidence in [H]; a file that states a
verdict, an estimate, a percentage, a bound or [H]'s own settings instead of counts is
refused (R081), whatever else it holds. A **document** file names a project file (a test
report, a simulation campaign summary, a review report) and the verdict it records; the
record keeps that verdict as the document's statement, never as a computation.

The raw document is screened before the model validates it (:func:`screen`), so the
problems that matter most get their own codes: a claim without counts R081, a count
that is no non-negative integer R082, more successes than trials R083, a slice named
twice R084. Everything else (unknown keys, missing keys, wrong types) is reported as in
the artefacts (S001-S006), located by file and line.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from amlas.diagnostics import Diagnostic, Diagnostics, Location, did_you_mean
from amlas.errors import ProblemError
from amlas.evidence import Accountable, Tool
from amlas.project import SourceMap
from amlas.project.metrics import metric_names

__all__ = [
    "IMPORT_SCHEMA",
    "CountSlice",
    "CountsImport",
    "DocumentImport",
    "ImportFile",
    "ImportedDataUsed",
    "NamedDocument",
    "Problems",
    "raise_diagnostics",
    "screen",
]

IMPORT_SCHEMA: Final = "amlas.import/1"

_Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
_Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.\-]{0,63}$")]
_Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
_Count = Annotated[int, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ImportedDataUsed(_Model):
    """The data the counts were computed on."""

    description: _Text
    """What the data is (which samples, frames, runs; where they came from)."""
    sha256: _Sha256 | None = None
    """SHA-256 of the data; with ``--dataset X`` it must be the hash of [X] now."""


class CountSlice(_Model):
    """The counts of one slice of the operating domain."""

    name: _Text
    """The slice's name, e.g. 'all' or 'lighting=night'."""
    cell: dict[_Id, _Text] = Field(default_factory=dict)
    """ODD dimension ID -> band or category of [B] (empty: the whole slice named)."""
    successes: _Count | None = None
    """A proportion: how many trials the metric counts (its numerator: the hits for
    recall, the misses for fnr)."""
    trials: _Count | None = None
    """A proportion: how many trials there were (its denominator)."""
    events: _Count | None = None
    """A count rate: how many events were seen."""
    exposure: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] | None = None
    """A count rate: the exposure they were seen over, in ``unit``."""
    unit: _Text | None = None
    """A count rate: the unit of exposure (image, hour, km, frame)."""


class CountsImport(_Model):
    """Counts produced outside amlas, judged by amlas against an [H] requirement."""

    schema_: Literal["amlas.import/1"] = Field(alias="schema")
    kind: Literal["counts"]
    for_: _Id = Field(alias="for")
    """The [H] requirement the counts are for."""
    accountable: Accountable
    tool: Tool
    date: dt.date
    """When the counts were produced."""
    data: ImportedDataUsed
    model_sha256: _Sha256 | None = None
    """SHA-256 of the model the counts were produced with; when given, it must be the
    hash of the model [V] names now."""
    slices: Annotated[list[CountSlice], Field(min_length=1)]
    notes: str = ""


class NamedDocument(_Model):
    """The document a document import stands on."""

    file: _Text
    """Project-relative path of the document (amlas hashes it)."""
    title: _Text
    kind: Literal["test_report", "simulation_campaign", "review_report", "other"]


class DocumentImport(_Model):
    """A document's own verdict, recorded as the document's statement."""

    schema_: Literal["amlas.import/1"] = Field(alias="schema")
    kind: Literal["document"]
    for_: _Id = Field(alias="for")
    """The [H] requirement, or the node of the safety case (G6.5, Sn6.2), it is for."""
    accountable: Accountable
    tool: Tool
    date: dt.date
    document: NamedDocument
    verdict: Literal["pass", "fail", "inconclusive"]
    """The verdict the document records."""
    summary: _Text
    """What the document found, in a line or two."""


ImportFile = Annotated[CountsImport | DocumentImport, Field(discriminator="kind")]
"""Either kind, told apart by ``kind``."""


# -- problems ---------------------------------------------------------------------------------


class Problems:
    """Diagnostics gathered before anything is recorded; raised together."""

    def __init__(self) -> None:
        self.found = Diagnostics()

    def add(self, code: str, message: str, at: Location, hint: str | None = None) -> None:
        self.found.add(code, message, at, hint=hint)

    def raise_any(self) -> None:
        raise_diagnostics(list(self.found))


def raise_diagnostics(found: list[Diagnostic]) -> None:
    """Raise the errors among ``found`` as one :class:`ProblemError` (exit 2), if any."""
    errors = [d for d in found if d.severity.value == "error"]
    if not errors:
        return
    first = errors[0]
    problem = ProblemError(first.message, code=first.code, at=first.location, more=errors[1:])
    problem.diagnostics = tuple(errors)  # keep each one's own hint
    raise problem


# -- the screen: the problems that get their own codes ------------------------------------------

_PROPORTION_KEYS = ("successes", "trials")
_RATE_KEYS = ("events", "exposure", "unit")
_STATED = frozenset(
    {
        "verdict",
        "result",
        "results",
        "status",
        "passed",
        "pass",
        "estimate",
        "rate",
        "percentage",
        "percent",
        "proportion",
        "value",
        "score",
        "bound",
        "lower",
        "upper",
        "lower_bound",
        "upper_bound",
        "interval",
        "p_value",
        "threshold",
        "comparison",
        "confidence",
    }
)
"""Keys that state a result (or [H]'s settings) instead of giving counts."""


def _stated(key: str) -> bool:
    return key in _STATED or key in metric_names()


def _what_is_needed(where: str) -> str:
    return (
        f"{where}: give successes and trials (a proportion) or events, exposure and unit "
        "(a count rate); amlas computes the bound and the verdict itself from [H]'s "
        "threshold, comparison and confidence"
    )


_KINDS = ("counts", "document")


def screen(data: dict[str, Any], source: SourceMap, diagnostics: Diagnostics) -> None:
    """The problems of an import file that get their own codes (see the module docs)."""
    kind = data.get("kind")
    if "kind" in data and kind not in _KINDS:
        diagnostics.add(
            "S004",
            f"kind: found {kind!r}, expected one of 'counts', 'document'",
            source.locate(("kind",)),
            hint=did_you_mean(str(kind), _KINDS),
        )
    if kind != "counts":
        return
    for key, value in data.items():
        if isinstance(key, str) and _stated(key):
            diagnostics.add(
                "R081",
                f"the file states {key}: {_shown(value)} instead of counts; a claimed "
                "result is not evidence",
                source.locate((key,), key=True),
                hint=_what_is_needed("each slice"),
            )
    slices = data.get("slices")
    if not isinstance(slices, list):
        return
    seen: dict[str, int] = {}
    for index, part in enumerate(slices):
        if not isinstance(part, dict):
            continue
        at = ("slices", index)
        name = part.get("name")
        label = name if isinstance(name, str) else f"slices[{index}]"
        for key, value in part.items():
            if isinstance(key, str) and _stated(key):
                diagnostics.add(
                    "R081",
                    f"slice {label!r} states {key}: {_shown(value)} instead of counts; a "
                    "claimed result is not evidence",
                    source.locate((*at, key), key=True),
                    hint=_what_is_needed(f"slice {label!r}"),
                )
        _counts(part, label, at, source, diagnostics)
        if isinstance(name, str):
            if name in seen:
                diagnostics.add(
                    "R084",
                    f"slice {name!r} is named twice (first as slices[{seen[name]}]); each "
                    "slice is counted once",
                    source.locate((*at, "name")),
                    hint="merge the two, or name them apart (e.g. by their ODD cell)",
                )
            else:
                seen[name] = index


def _shown(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


def _counts(
    part: dict[str, Any],
    label: str,
    at: tuple[str | int, ...],
    source: SourceMap,
    diagnostics: Diagnostics,
) -> None:
    proportion = [k for k in _PROPORTION_KEYS if k in part]
    rate = [k for k in _RATE_KEYS if k in part]
    if proportion and rate:
        diagnostics.add(
            "R081",
            f"slice {label!r} mixes {', '.join(proportion)} with {', '.join(rate)}; a slice "
            "counts either a proportion or a rate",
            source.locate(at),
            hint=_what_is_needed(f"slice {label!r}"),
        )
        return
    given = proportion or rate
    wanted = _PROPORTION_KEYS if proportion else _RATE_KEYS
    missing = [k for k in wanted if k not in part]
    if not given or missing:
        text = (
            f"slice {label!r} gives no counts"
            if not given
            else f"slice {label!r} gives {', '.join(given)} but no {' or '.join(missing)}"
        )
        diagnostics.add("R081", text, source.locate(at), hint=_what_is_needed(f"slice {label!r}"))
    bad = False
    for key in ("successes", "trials", "events"):
        if key in part and not _is_count(part[key]):
            bad = True
            diagnostics.add(
                "R082",
                f"slice {label!r}: {key} is {_describe(part[key])}; a count is a "
                "non-negative whole number",
                source.locate((*at, key)),
                hint="write the count itself (e.g. 9994), never a percentage, a rate or a "
                "rounded figure",
            )
    if "exposure" in part and not _is_exposure(part["exposure"]):
        bad = True
        diagnostics.add(
            "R082",
            f"slice {label!r}: exposure is {_describe(part['exposure'])}; an exposure is a "
            "finite number at least 0, in 'unit'",
            source.locate((*at, "exposure")),
        )
    if bad or missing:
        return
    successes, trials = part.get("successes"), part.get("trials")
    if isinstance(successes, int) and isinstance(trials, int) and successes > trials:
        diagnostics.add(
            "R083",
            f"slice {label!r}: successes {successes} exceed trials {trials}",
            source.locate((*at, "successes")),
            hint="successes counts the trials the metric counts, so it lies in 0..trials",
        )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_exposure(value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and math.isfinite(value) and value >= 0


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        if value.strip().endswith("%"):
            return f"the percentage {value!r}"
        return f"the text {value!r}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"{value!r}"
        if not value.is_integer():
            return f"{value!r}, not a whole number"
        return f"{value!r}, written as a decimal number"
    if isinstance(value, int):
        return f"{value}, a negative number"
    if value is None:
        return "empty"
    return f"a {type(value).__name__}"
