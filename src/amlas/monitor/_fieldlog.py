"""The field log: an append-only JSON Lines file of what happened in operation.

One JSON object per line, told apart by ``kind``; every time is ISO 8601 with a time zone
(``2026-05-04T09:30:00Z``). Blank lines are ignored.

``period``
    An operating period and its exposure: ``start``, ``end`` and ``demands``, the number of
    demands per unit in that period (``{"grasp": 1200, "move": 1350}``); the units are
    those of the acceptable failure rates of [A] (``per``). Periods must not overlap.
``flag``
    An input the monitor flagged (written by ``amlas monitor serve``): ``time``, ``id``,
    ``flags`` (``outside_odd``, ``ood``, ``low_confidence``), the ``decision``,
    ``probabilities``, ``ood_score``, ``reasons``, and, when [DD] ``field_log.log_inputs``,
    the ``inputs`` and ``metadata`` themselves; ``outcome`` (``true_alarm`` or
    ``false_alarm``) once reviewed.
``review``
    A later review of a flag: ``flag`` (its id) and ``outcome``; the last review wins.
``incident``
    A field incident: ``time``, ``id``, ``description``, the system safety requirement
    of [A] it violated (``requirement``), the erroneous behaviour of [DD] it is an
    instance of (``behaviour``), whether it was ``hazardous`` (default true) and its
    ``outcome`` (what followed).
``label``
    A field sample whose truth was established independently of the monitor (an audit
    sample, a reviewed image): ``time``, ``id``, ``truth`` (``in_distribution``,
    ``out_of_distribution`` or ``outside_odd``), ``inputs`` and ``metadata``. These give
    the monitor's field false-alarm and detection rates (``amlas monitor ingest``).

:func:`read_field_log` reports every malformed line as ``file:line: field = value:
expected ...`` in one :class:`FieldLogError`; :func:`append_field_log` appends whole lines
under an exclusive lock with a single ``write`` and an ``fsync``, so concurrent writers
never interleave and a torn last line (a crash mid-write) stays one bad line.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidationError,
    model_validator,
)

from amlas.diagnostics import did_you_mean
from amlas.errors import ProblemError
from amlas.hashing import sha256_bytes

__all__ = [
    "FieldLogError",
    "FieldLogRecords",
    "FlagEntry",
    "IncidentEntry",
    "LabelEntry",
    "PeriodEntry",
    "ReviewEntry",
    "append_field_log",
    "read_field_log",
]

MAX_PROBLEMS = 20
"""Problems listed in one :class:`FieldLogError` (the count is always exact)."""

EntryId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Flag = Literal["outside_odd", "ood", "low_confidence"]
Outcome = Literal["true_alarm", "false_alarm"]


class FieldLogError(ProblemError):
    """A field log has malformed lines; ``problems`` lists each as ``file:line: ...``.

    Its diagnostics: one per shown line (R053, located at the line), then the count."""

    code = "R053"

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        tail = f"\n  ... and {more} more" if more else ""
        lines = [ProblemError(problem, code=self.code).diagnostic for problem in shown]
        super().__init__(
            f"{source}: {len(problems)} malformed line(s); nothing was written:\n  "
            + "\n  ".join(shown)
            + tail
        )
        summary = f"{len(problems)} malformed line(s); nothing was written" + (
            f" ({more} more not shown)" if more else ""
        )
        self.diagnostics = (*lines, ProblemError(summary, code=self.code, path=source).diagnostic)


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PeriodEntry(_Entry):
    """An operating period and the demands in it, per unit."""

    kind: Literal["period"]
    start: AwareDatetime
    end: AwareDatetime
    demands: Annotated[dict[Name, Annotated[int, Field(ge=0, le=2**53)]], Field(min_length=1)]
    note: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> PeriodEntry:
        if self.end <= self.start:
            raise ValueError(
                f"end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )
        return self


class FlagEntry(_Entry):
    """An input the monitor flagged."""

    kind: Literal["flag"]
    time: AwareDatetime
    id: EntryId
    flags: Annotated[list[Flag], Field(min_length=1)]
    decision: str | None = None
    probabilities: dict[str, float] | None = None
    confidence: float | None = None
    ood_score: float | None = None
    reasons: list[str] = Field(default_factory=list)
    inputs: JsonValue = None
    metadata: dict[str, JsonValue] | None = None
    model: str | None = None
    """SHA-256 of the model file that answered."""
    monitor: str | None = None
    """SHA-256 of the monitor that flagged."""
    outcome: Outcome | None = None


class ReviewEntry(_Entry):
    """A review of an earlier flag."""

    kind: Literal["review"]
    time: AwareDatetime
    flag: EntryId
    outcome: Outcome
    by: str = ""
    note: str = ""


class IncidentEntry(_Entry):
    """A field incident."""

    kind: Literal["incident"]
    time: AwareDatetime
    id: EntryId
    description: Name
    requirement: str | None = None
    behaviour: str | None = None
    hazardous: bool = True
    outcome: str = ""


class LabelEntry(_Entry):
    """A field sample with an independently established truth."""

    kind: Literal["label"]
    time: AwareDatetime
    id: EntryId
    truth: Literal["in_distribution", "out_of_distribution", "outside_odd"]
    inputs: JsonValue
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    source: str = ""


Entry = PeriodEntry | FlagEntry | ReviewEntry | IncidentEntry | LabelEntry
KINDS: dict[str, type[Entry]] = {
    "period": PeriodEntry,
    "flag": FlagEntry,
    "review": ReviewEntry,
    "incident": IncidentEntry,
    "label": LabelEntry,
}


@dataclass
class FieldLogRecords:
    """A field log that parsed: the entries of each kind with their line numbers."""

    source: str
    sha256: str
    periods: list[tuple[int, PeriodEntry]] = field(default_factory=list)
    flags: list[tuple[int, FlagEntry]] = field(default_factory=list)
    reviews: list[tuple[int, ReviewEntry]] = field(default_factory=list)
    incidents: list[tuple[int, IncidentEntry]] = field(default_factory=list)
    labels: list[tuple[int, LabelEntry]] = field(default_factory=list)

    def outcome(self, flag: FlagEntry) -> Outcome | None:
        """The flag's outcome: its last review, else its own ``outcome``."""
        found = flag.outcome
        for _, review in self.reviews:
            if review.flag == flag.id:
                found = review.outcome
        return found

    def entries(self) -> Iterator[tuple[int, Entry]]:
        everything: list[tuple[int, Entry]] = [
            *self.periods,
            *self.flags,
            *self.reviews,
            *self.incidents,
            *self.labels,
        ]
        yield from sorted(everything, key=lambda pair: pair[0])


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if _is_json(value) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number; expected a finite number or null")


def _describe(error: Any, raw: Mapping[str, Any]) -> str:
    loc = [str(p) for p in error["loc"]]
    where = ".".join(loc) if loc else "line"
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        allowed = [n for n in KINDS[str(raw.get("kind"))].model_fields if n != "kind"]
        hint = did_you_mean(loc[-1], allowed) or f"expected one of {', '.join(allowed)}"
        return f"unknown field {loc[-1]!r}; {hint}"
    if error["type"] == "missing":
        return f"{where} is missing; a '{raw.get('kind')}' line needs it"
    if error["type"] in ("timestamp_type", "datetime_from_date_parsing", "datetime_parsing"):
        message += " (an ISO 8601 time such as 2026-05-04T09:30:00Z)"
    if error["type"] == "timezone_aware":
        message += " (add a time zone, e.g. 'Z' for UTC)"
    if not loc:
        return message.removeprefix("Value error, ")
    return f"{where} = {_show(error.get('input'))}: {message.removeprefix('Value error, ')}"


def _parse_line(text: str) -> tuple[Entry | None, list[str]]:
    try:
        raw = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        return None, [f"not JSON ({exc})"]
    if not isinstance(raw, dict):
        return None, [f"the line is {_show(raw)}; expected a JSON object with a 'kind'"]
    kind = raw.get("kind")
    if kind not in KINDS:
        hint = (did_you_mean(kind, KINDS) if isinstance(kind, str) else None) or (
            f"expected one of {', '.join(KINDS)}"
        )
        return None, [f"kind = {_show(kind)}: {hint}"]
    try:
        return KINDS[kind].model_validate_json(text, strict=True), []
    except ValidationError as exc:
        return None, [_describe(e, raw) for e in exc.errors()]


def read_field_log(
    path: str | Path,
    *,
    requirements: Sequence[str] | None = None,
    behaviours: Sequence[str] | None = None,
) -> FieldLogRecords:
    """Parse and check the field log at ``path``.

    Besides each line's own shape: ids are unique across flags, incidents and labels; a
    review names an earlier flag; periods do not overlap; an incident's ``requirement``
    is one of ``requirements`` (the [A] IDs) and its ``behaviour`` one of ``behaviours``
    (the [DD] IDs), when those are given. Raises :class:`FieldLogError` listing every
    problem, or :class:`UsageError` when the file cannot be read.
    """
    source = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ProblemError(f"{source}: no field log at this path", code="R053") from None
    except OSError as exc:
        raise ProblemError(
            f"{source}: cannot be read ({exc.strerror or exc})", code="R053"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = data[: exc.start].count(b"\n") + 1
        raise FieldLogError(source, [f"{source}:{bad_line}: not UTF-8 text"]) from None
    records = FieldLogRecords(source, sha256_bytes(data))
    problems: list[str] = []
    ids: dict[str, int] = {}
    flag_ids: set[str] = set()
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        entry, errors = _parse_line(line)
        problems += [f"{source}:{number}: {e}" for e in errors]
        if entry is None:
            continue
        if isinstance(entry, FlagEntry | IncidentEntry | LabelEntry):
            if entry.id in ids:
                problems.append(
                    f"{source}:{number}: id = {entry.id!r}: already used on line "
                    f"{ids[entry.id]}; expected a unique id"
                )
                continue
            ids[entry.id] = number
        if isinstance(entry, PeriodEntry):
            for other_line, other in records.periods:
                if entry.start < other.end and other.start < entry.end:
                    problems.append(
                        f"{source}:{number}: period {entry.start.isoformat()} to "
                        f"{entry.end.isoformat()} overlaps the period on line {other_line}; "
                        "expected periods that do not overlap (demands would count twice)"
                    )
                    break
            records.periods.append((number, entry))
        elif isinstance(entry, FlagEntry):
            flag_ids.add(entry.id)
            records.flags.append((number, entry))
        elif isinstance(entry, ReviewEntry):
            if entry.flag not in flag_ids:
                hint = did_you_mean(entry.flag, flag_ids) or "expected the id of an earlier flag"
                problems.append(f"{source}:{number}: flag = {entry.flag!r}: no such flag; {hint}")
            records.reviews.append((number, entry))
        elif isinstance(entry, IncidentEntry):
            for name, value, known, what in (
                ("requirement", entry.requirement, requirements, "a system safety requirement [A]"),
                ("behaviour", entry.behaviour, behaviours, "an erroneous behaviour of [DD]"),
            ):
                if value is not None and known is not None and value not in known:
                    hint = did_you_mean(value, known) or f"expected one of {', '.join(known)}"
                    problems.append(f"{source}:{number}: {name} = {value!r}: not {what}; {hint}")
            records.incidents.append((number, entry))
        else:
            records.labels.append((number, entry))
    if problems:
        raise FieldLogError(source, problems)
    return records


def entry_line(entry: Entry | Mapping[str, Any]) -> str:
    """One entry as its log line (compact JSON, keys sorted, no trailing newline)."""
    if isinstance(entry, BaseModel):
        payload = entry.model_dump(mode="json", exclude_none=True)
    else:
        kind = entry.get("kind")
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r}; expected one of {', '.join(KINDS)}")
        payload = KINDS[kind].model_validate(entry).model_dump(mode="json", exclude_none=True)
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


@contextlib.contextmanager
def _locked(fd: int) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: appends stay whole lines; no cross-process lock
        yield
        return
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def append_field_log(path: str | Path, entries: Sequence[Entry | Mapping[str, Any]]) -> None:
    """Append ``entries`` to the log at ``path`` (created with its folder if missing),
    one JSON line each, in one locked, fsynced write (see the module doc)."""
    if not entries:
        return
    lines = "".join(entry_line(e) + "\n" for e in entries).encode("utf-8")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        with _locked(fd):
            size = os.fstat(fd).st_size
            if size:
                with open(target, "rb") as handle:
                    handle.seek(size - 1)
                    if handle.read(1) != b"\n":
                        lines = b"\n" + lines  # a torn last line stays one bad line
            view = memoryview(lines)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
    finally:
        os.close(fd)
