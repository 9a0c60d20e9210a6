"""The access log of sealed data: hash-chained, signed JSON Lines.

Each line is one entry, canonical JSON (sorted keys, no spaces, UTF-8)::

    {"actor": ..., "dataset": "P", "dataset_sha256": ..., "details": {...},
     "event": "seal" | "unseal" | "use" | "note", "hash": ..., "prev": ...,
     "purpose": ..., "role": "developer" | "verifier", "seq": 0, "sig": ...,
     "time": "2025-01-31T12:00:00.000000Z"}

- ``seq`` counts entries from 0; ``prev`` is the previous entry's ``hash`` (64 zeros for
  the first), so an edited, deleted, inserted or reordered line breaks the chain for anyone.
- ``hash`` is the hex SHA-256 of the canonical JSON of every field but ``hash`` and ``sig``.
- ``sig`` is the verifier's Ed25519 signature (base64) of ``b"amlas/access-log/1\n"`` and
  ``hash`` (its ASCII hex), made with the signing key derived from the verifier key
  (:mod:`amlas.sealing._signing`). Anyone holding the project's declared public key checks
  it: a developer can rebuild a consistent chain, but not its signatures.

Neither catches cutting entries off the end: the chain is still consistent. The verifier's
evidence records therefore sign the log's :meth:`AccessLog.head` after their run's ``use``
entry; a log whose entries no longer include a signed head was truncated.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidationError,
    field_validator,
)

from amlas.errors import UsageError
from amlas.fileio import atomic_write_text
from amlas.sealing._errors import SealError, TamperError
from amlas.sealing._keys import VerifierKey
from amlas.sealing._signing import (
    canonical_statement,
    public_key_id,
    public_key_of,
    sign,
    signature_valid,
)

if sys.platform != "win32":
    import fcntl

__all__ = ["GENESIS", "AccessLog", "Event", "LogEntry", "LogProblem", "Role", "check_usage"]

GENESIS = "0" * 64
"""The ``prev`` of the first entry."""

Event = Literal["seal", "unseal", "use", "note"]
Role = Literal["developer", "verifier"]

_SIG_CONTEXT = b"amlas/access-log/1\n"
_PLACEHOLDER_SIG = "A" * 86 + "=="
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
_UNSIGNED = ("hash", "sig")

Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class LogEntry(BaseModel):
    """One line of the access log: who did what with which sealed data, when and why."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    seq: Annotated[int, Field(ge=0)] = Field(description="Position in the log, from 0.")
    prev: Hex64 = Field(description="`hash` of the previous entry; 64 zeros for the first.")
    event: Event = Field(description="seal, unseal, use (an evaluation on the data) or note.")
    actor: NonEmpty = Field(description="Who acted (a name or user id).")
    role: Role = Field(description="The actor's AMLAS role: developer or verifier.")
    dataset: NonEmpty = Field(description="Which dataset, by artefact letter (e.g. 'P').")
    dataset_sha256: Hex64 = Field(description="SHA-256 of the dataset's plaintext.")
    purpose: NonEmpty = Field(description="Why the data was accessed (recorded in [AA]).")
    details: dict[str, JsonValue] = Field(description="Further facts, as JSON values.")
    time: str = Field(description="When, as ISO-8601 UTC, e.g. '2025-01-31T12:00:00.000000Z'.")
    hash: Hex64 = Field(description="SHA-256 of the canonical JSON of the other fields.")
    sig: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{86}==$")] = Field(
        description="The verifier's Ed25519 signature of `hash`, base64."
    )

    @field_validator("time")
    @classmethod
    def _time_is_utc(cls, value: str) -> str:
        if not _TIME.match(value):
            raise ValueError("must be ISO-8601 UTC like '2025-01-31T12:00:00.000000Z'")
        datetime.fromisoformat(value)  # rejects month 13 and the like
        return value


@dataclass(frozen=True)
class LogProblem:
    """Something wrong with one line of the log (``line`` is 1-based; 0: the whole file)."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def _entry_hash(fields: Mapping[str, Any]) -> str:
    """The hash over everything but ``hash`` and ``sig``, exactly as the fields are on disk.

    Hashing the parsed JSON rather than a validated model means that even a type change that
    validation might forgive (say ``1`` to ``1.0``) is an edit.
    """
    body = {name: value for name, value in fields.items() if name not in _UNSIGNED}
    return hashlib.sha256(canonical_statement(body)).hexdigest()


def _signed_bytes(entry_hash: str) -> bytes:
    return _SIG_CONTEXT + entry_hash.encode("ascii")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            # json.loads would keep the last; a reader could then see a different value.
            raise ValueError(f"duplicate key {name!r}")
        result[name] = value
    return result


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; accepting them would make the line impossible to hash.
    raise ValueError(f"{name} is not a JSON value")


def _problems_of(exc: ValidationError) -> list[str]:
    found = []
    for error in exc.errors(include_url=False, include_input=False):
        place = ".".join(str(p) for p in error["loc"])
        if error["type"] == "extra_forbidden":
            found.append(f"unknown field {place!r}")
        elif error["type"] == "missing":
            found.append(f"missing field {place!r}")
        else:
            found.append(f"field {place!r}: {error['msg']}")
    return found


@dataclass(frozen=True)
class _Line:
    number: int
    fields: dict[str, Any] | None  # the parsed JSON object, if the line is one
    entry: LogEntry | None  # the validated entry, if the object is one
    problems: list[str]


def _format_time(now: datetime) -> str:
    if now.tzinfo is None or now.utcoffset() is None:
        raise SealError(f"now={now!r} has no time zone; pass an aware datetime (e.g. in UTC)")
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Serialise appends by processes on this machine, so no two read the same head and
    one silently replaces the other's entry. Locks the folder: no stray lock file."""
    if sys.platform == "win32":  # no flock; single-user machines in practice
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class AccessLog:
    """The access log at ``path`` (a missing file is an empty log).

    Reading and checking signatures need only the verifier's public key; appending needs
    the verifier key.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"AccessLog({str(self.path)!r})"

    # -- reading -----------------------------------------------------------------------------

    def _read(self) -> tuple[list[_Line], list[LogProblem]]:
        """Parse every line; problems of the file as a whole are returned apart.

        Raises:
            OSError: the file exists but cannot be read.
        """
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return [], []
        file_problems = []
        chunks = data.split(b"\n")
        if chunks[-1] == b"":
            chunks.pop()
        elif data:
            file_problems.append(
                LogProblem(len(chunks), "the last line has no newline (the log was cut or edited)")
            )
        return [_parse_line(i, chunk) for i, chunk in enumerate(chunks, 1)], file_problems

    def entries(self) -> list[LogEntry]:
        """Every entry, in file order. Checks each line's form, not the chain: see verify().

        Raises:
            TamperError: a line is not a valid entry.
            SealError: the file cannot be read.
        """
        lines = self._read_or_raise()
        for line in lines:
            if line.problems:
                raise TamperError(f"{self.path}:{line.number}: {line.problems[0]}")
        return [line.entry for line in lines if line.entry is not None]

    def head(self) -> str | None:
        """The last entry's ``hash`` (None for an empty log): record it, and a later log
        that no longer contains it was cut short or rewritten.

        Raises:
            TamperError: a line is not a valid entry.
        """
        entries = self.entries()
        return entries[-1].hash if entries else None

    def uses(self, dataset_sha256: str) -> int:
        """How many "use" entries name data with this SHA-256.

        Counts every well-formed entry even in a damaged log (verify() reports the damage),
        so a count is never lowered by damaging a line next to the uses. An unreadable file
        counts 0; verify() reports it.
        """
        return self._count("use", dataset_sha256)

    def unseals(self, dataset_sha256: str) -> int:
        """How many "unseal" entries name data with this SHA-256 (as tolerant as
        :meth:`uses`). Every use starts with an unseal, so this count survives a run that
        crashed before logging its use, and a 'use' line cut off the end of the log."""
        return self._count("unseal", dataset_sha256)

    def _count(self, event: str, dataset_sha256: str) -> int:
        try:
            lines, _ = self._read()
        except OSError:
            return 0
        return sum(
            1
            for line in lines
            if line.entry is not None
            and line.entry.event == event
            and line.entry.dataset_sha256 == dataset_sha256
        )

    def verify(
        self, key: VerifierKey | None = None, *, public_key: str | None = None
    ) -> list[LogProblem]:
        """Every problem with the log, in line order; an empty list means intact.

        Checks each line's form, ``seq`` and ``prev`` links and ``hash``; with the verifier's
        ``public_key`` (or its ``key``, whose public key is derived), also each ``sig``.
        Never raises for a damaged or unreadable log. Cannot see entries cut off the end:
        compare :meth:`head` with the one signed earlier.
        """
        try:
            lines, problems = self._read()
        except OSError as exc:
            return [LogProblem(0, f"cannot read the log: {exc}")]
        if key is not None:
            public_key = public_key_of(key)
        key_id = public_key_id(public_key) if public_key is not None else ""
        expected_seq: int | None = 0
        expected_prev: str | None = GENESIS
        for line in lines:
            found = list(line.problems)
            fields = line.fields
            if fields is not None and "hash" in fields and _entry_hash(fields) != fields["hash"]:
                found.append("hash does not match the entry's content (the line was edited)")
            entry = line.entry
            if entry is not None:
                if expected_seq is not None and entry.seq != expected_seq:
                    found.append(
                        f"seq is {entry.seq}, expected {expected_seq} "
                        "(a line was deleted, inserted or moved)"
                    )
                if expected_prev is not None and entry.prev != expected_prev:
                    found.append(
                        "prev does not match the hash of the entry before it "
                        "(a line was deleted, inserted or moved)"
                    )
                if public_key is not None and not signature_valid(
                    public_key, _signed_bytes(entry.hash), entry.sig
                ):
                    found.append(
                        f"sig does not verify with the declared verifier key {key_id} "
                        "(the entry was forged or edited, or the log is another key's)"
                    )
                expected_seq, expected_prev = entry.seq + 1, entry.hash
            else:
                # Links through an unreadable line cannot be checked; resume after it.
                expected_seq = expected_prev = None
            problems += [LogProblem(line.number, message) for message in found]
        return sorted(problems, key=lambda p: p.line)

    def _read_or_raise(self) -> list[_Line]:
        try:
            lines, problems = self._read()
        except OSError as exc:
            raise SealError(f"{self.path}: cannot read the access log: {exc}") from exc
        if problems:
            raise TamperError(f"{self.path}:{problems[0].line}: {problems[0].message}")
        return lines

    # -- writing -----------------------------------------------------------------------------

    def append(
        self,
        *,
        event: Event,
        actor: str,
        role: Role,
        dataset: str,
        dataset_sha256: str,
        purpose: str,
        details: Mapping[str, JsonValue] | None = None,
        key: VerifierKey,
        now: datetime | None = None,
    ) -> LogEntry:
        """Add one entry signed with ``key``; returns it.

        The whole file is rewritten atomically (logs are small), so a crash leaves the old
        log or the new one. Appends on one machine are serialised by a lock on the folder.

        Raises:
            TamperError: the log is damaged, or fails to verify with ``key``: a signed entry
                must not vouch for a broken history. Restore the log first.
            SealError: an argument is invalid, or the log cannot be written.
        """
        time = _format_time(now if now is not None else datetime.now(UTC))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(self.path.parent):
            problems = self.verify(key)
            if problems:
                shown = "; ".join(str(p) for p in problems[:3])
                more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
                raise TamperError(
                    f"{self.path}: refusing to append to a damaged access log: {shown}{more}"
                )
            entries = self.entries()
            fields: dict[str, Any] = {
                "seq": len(entries),
                "prev": entries[-1].hash if entries else GENESIS,
                "event": event,
                "actor": actor,
                "role": role,
                "dataset": dataset,
                "dataset_sha256": dataset_sha256,
                "purpose": purpose,
                "details": dict(details or {}),
                "time": time,
                "hash": GENESIS,  # placeholders, so the other fields validate first
                "sig": _PLACEHOLDER_SIG,
            }
            try:
                draft = LogEntry.model_validate(fields)
            except ValidationError as exc:
                raise SealError(
                    f"{self.path}: cannot log this entry: {'; '.join(_problems_of(exc))}"
                ) from None
            body = draft.model_dump(mode="json")
            try:
                entry_hash = _entry_hash(body)
            except ValueError as exc:  # NaN or infinity in details
                raise SealError(f"{self.path}: cannot log this entry: {exc}") from None
            entry = draft.model_copy(
                update={"hash": entry_hash, "sig": sign(key, _signed_bytes(entry_hash))}
            )
            old = self.path.read_text("utf-8") if entries else ""
            try:
                line = canonical_statement(entry.model_dump(mode="json")).decode("utf-8")
                atomic_write_text(self.path, old + line + "\n")
            except (OSError, UnicodeEncodeError) as exc:
                raise SealError(f"{self.path}: cannot write the access log: {exc}") from exc
        return entry


def _parse_line(number: int, raw: bytes) -> _Line:
    if not raw.strip():
        return _Line(number, None, None, ["blank line"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _Line(number, None, None, ["not UTF-8 text"])
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except ValueError as exc:
        return _Line(number, None, None, [f"not valid JSON: {exc}"])
    if not isinstance(value, dict):
        return _Line(number, None, None, ["not a JSON object"])
    try:
        entry = LogEntry.model_validate(value)
    except ValidationError as exc:
        return _Line(number, value, None, _problems_of(exc))
    return _Line(number, value, entry, [])


def check_usage(uses: int, limit: int) -> str | None:
    """A warning when the verification data was used more than ``limit`` times, else None.

    Every evaluation on [P] leaks a little of it into decisions about the model; past the
    limit, its results no longer show how the model does on unseen data.

    Raises:
        UsageError: ``uses`` or ``limit`` is negative.
    """
    if uses < 0 or limit < 0:
        raise UsageError(f"uses={uses!r} and limit={limit!r} must not be negative")
    if uses <= limit:
        return None
    times = "time" if uses == 1 else "times"
    return (
        f"the verification data has been used {uses} {times} (limit {limit}): repeated "
        "evaluation on [P] risks tuning the model to it; collect fresh verification data "
        "or justify in [AA]"
    )
