"""The evidence store interface: runs, the store protocol, its exceptions, and ``open_store``.

``open_store`` picks a backend (:class:`StoreBackend`) from the ``amlas.stores`` entry-point
registry; the backends (``_fs``, ``_sql``, ``_memory``, third parties) import this module,
never the reverse.

Every backend keeps three things:

* **records**, content-addressed by digest and never changed once written;
* **refs**, key -> digest of the latest record for that key (what the safety case reads);
* **runs**, one summary per committed run (who ran which stages, when, what it wrote).

A run writes its records as it goes and moves refs only when it commits, so a run that
fails or is killed part-way leaves refs exactly as they were; at worst some records are
left that nothing points at, which are harmless and not reported by ``verify``.

Exceptions::

    UsageError (amlas.errors)
    └── StoreError              the store cannot be opened, read or written as asked
        ├── RecordNotFound      no record has that digest (also a KeyError)
        └── CorruptRecord       a stored record no longer matches its digest, or does not parse
"""

from __future__ import annotations

import builtins
import json
import re
import weakref
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Annotated, Literal, Protocol, Self, runtime_checkable

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as _ValidationError

from amlas.diagnostics import did_you_mean
from amlas.errors import ProblemError
from amlas.evidence._record import SHA256_PATTERN, EvidenceRecord
from amlas.plugins import PluginError, registry

__all__ = [
    "RUN_ID_PATTERN",
    "CorruptRecord",
    "EvidenceStore",
    "RecordNotFound",
    "Run",
    "RunEntry",
    "RunSummary",
    "StoreBackend",
    "StoreError",
    "open_store",
]

RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
"""A run id names a file (``runs/<run_id>.json``), so it has no '/' and no leading '.'."""

_SHA256 = re.compile(SHA256_PATTERN)
_RUN_ID = re.compile(RUN_ID_PATTERN)
_ROLES = ("developer", "verifier")
_STAGES = (3, 4, 5, 6)


class StoreError(ProblemError):
    """An evidence store cannot be opened, read or written as asked."""

    code = "R070"


class RecordNotFound(StoreError, KeyError):
    """No record in the store has the given digest.

    Also a :class:`KeyError`, so ``except KeyError`` works as it does for a mapping.
    """

    def __str__(self) -> str:
        # KeyError's __str__ quotes its argument; this message is a sentence.
        return str(self.args[0]) if self.args else ""


class CorruptRecord(StoreError):
    """A stored record does not parse, or its content no longer hashes to its digest.

    Raised instead of returning the record: tampered evidence is never used silently.
    """

    code = "R071"


# -- run summaries ----------------------------------------------------------------------

_Sha256 = Annotated[str, StringConstraints(pattern=SHA256_PATTERN)]


class RunEntry(BaseModel):
    """One record a run wrote: its key and digest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(description="The record's key.")
    digest: _Sha256 = Field(description="The record's digest.")


class RunSummary(BaseModel):
    """A committed run: the file ``runs/<run_id>.json`` (or the ``runs`` row) holds this.

    Times are timezone-aware and stored in UTC; ``records`` is sorted by key.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, serialize_by_alias=True
    )

    schema_: Literal["amlas.run/1"] = Field(
        "amlas.run/1", alias="schema", description="Format tag of this run summary."
    )
    run_id: str = Field(pattern=RUN_ID_PATTERN, max_length=128, description="The run's id.")
    role: Literal["developer", "verifier"] = Field(description="Who ran it.")
    stages: list[Literal[3, 4, 5, 6]] = Field(description="The AMLAS stages it evaluated, sorted.")
    started: AwareDatetime = Field(description="When the run began (UTC).")
    finished: AwareDatetime = Field(description="When the run was committed (UTC).")
    status: Literal["complete"] = Field(
        "complete", description="Always 'complete': only committed runs are recorded."
    )
    records: list[RunEntry] = Field(description="Every record the run wrote, sorted by key.")

    def to_json(self) -> str:
        """Indented by 2, keys sorted, ending in a newline (like EvidenceRecord.to_json)."""
        payload = self.model_dump(mode="json", by_alias=True)
        return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        """Parse :meth:`to_json` output; raises pydantic's ``ValidationError`` otherwise."""
        return cls.model_validate_json(text, strict=True)


# -- runs -------------------------------------------------------------------------------


class _RunBackend(Protocol):
    """What a backend does for one run; :class:`Run` holds the rules common to all."""

    def put(self, record: EvidenceRecord, digest: str) -> None:
        """Store ``record`` under ``digest`` unless a sound copy is already there."""

    def commit(self, summary: RunSummary) -> None:
        """Record ``summary`` and move the refs of its records, all or nothing."""

    def abandon(self) -> None:
        """Forget the run without touching refs; safe to call more than once."""


def _utc(now: datetime | None, name: str) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise StoreError(f"{name}={now!r} has no timezone; pass an aware datetime, e.g. UTC")
    return now.astimezone(UTC)


class Run:
    """One evaluation's writes to a store, made visible all at once by :meth:`commit`.

    Records :meth:`put` during the run are stored straight away (they are immutable and
    content-addressed), but refs and the run summary change only on :meth:`commit`. Used
    as a context manager, a run commits on normal exit and is abandoned when the block
    raises; a run that is dropped or whose store is closed without a commit is abandoned.
    An abandoned run changes no refs.

    Every record put must have the run's ``role`` and one of its ``stages``; a key may
    appear once per run (putting an equal record again is a no-op).
    """

    def __init__(
        self,
        run_id: str,
        *,
        role: Literal["developer", "verifier"],
        stages: builtins.list[Literal[3, 4, 5, 6]],
        started: datetime,
        backend: _RunBackend,
    ) -> None:
        self.run_id = run_id
        self.role = role
        self.stages = stages
        self.started = started
        self._backend = backend
        self._entries: dict[str, str] = {}
        self._state: Literal["open", "committed", "abandoned"] = "open"
        self._summary: RunSummary | None = None
        # Releases the backend (an SQL transaction) even if the caller forgets the run.
        self._finalizer = weakref.finalize(self, backend.abandon)

    def __repr__(self) -> str:
        return f"<Run {self.run_id!r} {self._state}, {len(self._entries)} records>"

    @property
    def state(self) -> Literal["open", "committed", "abandoned"]:
        return self._state

    @property
    def records(self) -> builtins.list[tuple[str, str]]:
        """``(key, digest)`` of every record put so far, sorted by key."""
        return sorted(self._entries.items())

    @property
    def summary(self) -> RunSummary | None:
        """The committed run's summary, or None before :meth:`commit`."""
        return self._summary

    def _check_open(self, action: str) -> None:
        if self._state != "open":
            raise StoreError(f"cannot {action} run {self.run_id!r}: it was already {self._state}")

    def put(self, record: EvidenceRecord) -> str:
        """Store ``record`` and return its digest; an equal record again returns the same."""
        self._check_open("put into")
        if not isinstance(record, EvidenceRecord):
            raise StoreError(f"record={record!r} is not an EvidenceRecord")
        if record.role != self.role:
            raise StoreError(
                f"record {record.key!r} has role={record.role!r} but run {self.run_id!r} "
                f"is a {self.role!r} run; begin a separate run for each role"
            )
        if record.stage not in self.stages:
            raise StoreError(
                f"record {record.key!r} has stage={record.stage} but run {self.run_id!r} "
                f"covers stages {self.stages}; list every stage the run evaluates in begin()"
            )
        digest = record.digest
        earlier = self._entries.get(record.key)
        if earlier is not None and earlier != digest:
            raise StoreError(
                f"run {self.run_id!r} already holds a different record for key {record.key!r} "
                f"({earlier[:12]} vs {digest[:12]}); each check must have its own key"
            )
        if earlier is None:
            self._backend.put(record, digest)
            self._entries[record.key] = digest
        return digest

    def commit(self, now: datetime | None = None) -> RunSummary:
        """Write the run summary, then point refs at this run's records; return the summary."""
        self._check_open("commit")
        summary = RunSummary(
            run_id=self.run_id,
            role=self.role,
            stages=self.stages,
            started=self.started,
            finished=_utc(now, "now"),
            records=[RunEntry(key=k, digest=d) for k, d in self.records],
        )
        try:
            self._backend.commit(summary)
        except BaseException:
            self.abandon()
            raise
        self._finalizer.detach()
        self._state = "committed"
        self._summary = summary
        return summary

    def abandon(self) -> None:
        """Give the run up: refs stay as they were. Does nothing once committed or abandoned."""
        if self._state == "open":
            self._state = "abandoned"
            self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            if self._state == "open":
                self.commit()
        else:
            self.abandon()


# -- the store protocol -----------------------------------------------------------------


@runtime_checkable
class EvidenceStore(Protocol):
    """Where evidence records live. Open one with :func:`open_store`.

    Contract, the same for every backend (``tests/evidence/test_store_contract.py``):

    * ``begin`` starts a :class:`Run`; only ``Run.commit`` changes refs and runs.
    * ``get`` returns the record with that digest after re-hashing it; it raises
      :class:`RecordNotFound` for an unknown digest and :class:`CorruptRecord` when the
      stored content no longer hashes to the digest or does not parse.
    * ``latest`` is the record the refs name for a key, or None; it raises
      :class:`CorruptRecord` when that record is missing, damaged or of another key.
      ``list`` gives ``(key, digest)`` from the refs whose key starts with ``prefix``
      (plain, case-sensitive), sorted by key.
    * ``runs`` gives committed runs sorted by start time, then run id.
    * ``verify`` returns problems (empty when sound): records that do not match their
      digest or do not parse, refs or runs naming missing records, refs whose record has
      another key. Records nothing points at are not problems (see the module docs).
    * ``close`` abandons open runs and releases connections; the store is unusable after.
    """

    uri: str

    def begin(
        self,
        run_id: str,
        *,
        role: str,
        stages: Iterable[int],
        now: datetime | None = None,
    ) -> Run: ...

    def get(self, digest: str) -> EvidenceRecord: ...

    def latest(self, key: str) -> EvidenceRecord | None: ...

    def list(self, prefix: str = "") -> builtins.list[tuple[str, str]]: ...

    def runs(self) -> builtins.list[RunSummary]: ...

    def verify(self) -> builtins.list[str]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def parse_record(text: str | bytes, digest: str, where: str) -> EvidenceRecord:
    """The record in ``text`` if it is valid and hashes to ``digest``, else CorruptRecord."""
    try:
        record = EvidenceRecord.from_json(text)
    except (_ValidationError, ValueError) as error:
        first = str(error).splitlines()[0]
        raise CorruptRecord(f"{where}: not a valid evidence record ({first})") from error
    actual = record.digest
    if actual != digest:
        raise CorruptRecord(
            f"{where}: content hashes to {actual}, not {digest}; "
            "the record was changed after it was stored"
        )
    return record


def signature_replaces(stored: EvidenceRecord, incoming: EvidenceRecord) -> bool:
    """Whether storing ``incoming`` over an equal-digest ``stored`` copy must replace it:
    the incoming copy carries a signature the stored one lacks or differs from. A copy
    written first without a signature must not hide the verifier's signed one."""
    signature = incoming.metadata.get("signature")
    return signature is not None and stored.metadata.get("signature") != signature


class BaseStore:
    """The rules every backend shares; backends fill in the ``_``-methods."""

    uri: str

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._closed = False
        self._open_runs: weakref.WeakSet[Run] = weakref.WeakSet()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.uri!r}{' closed' if self._closed else ''}>"

    # backend hooks
    def _has_run(self, run_id: str) -> bool:
        raise NotImplementedError

    def _start(self, run_id: str) -> _RunBackend:
        raise NotImplementedError

    def _get(self, digest: str) -> EvidenceRecord:
        raise NotImplementedError

    def _refs(self) -> dict[str, str]:
        raise NotImplementedError

    def _ref(self, key: str) -> str | None:
        return self._refs().get(key)

    def _all_runs(self) -> builtins.list[RunSummary]:
        raise NotImplementedError

    def _verify(self) -> builtins.list[str]:
        raise NotImplementedError

    def _release(self) -> None:
        """Free what the backend holds (connections); called once by ``close``."""

    # the protocol
    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"evidence store {self.uri!r} is closed")

    def begin(
        self,
        run_id: str,
        *,
        role: str,
        stages: Iterable[int],
        now: datetime | None = None,
    ) -> Run:
        """Start a run; nothing it puts is visible through refs until it commits."""
        self._check_open()
        if not isinstance(run_id, str) or not _RUN_ID.match(run_id) or len(run_id) > 128:
            raise StoreError(
                f"run_id={run_id!r} is not a valid run id: use letters, digits, '.', '_' "
                "and '-', starting with a letter or digit (at most 128 characters)"
            )
        if role not in _ROLES:
            hint = did_you_mean(str(role), _ROLES)
            raise StoreError(
                f"role={role!r} is not a role; expected 'developer' or 'verifier'"
                + (f"; {hint}" if hint else "")
            )
        wanted = sorted(set(stages))
        if not wanted or any(s not in _STAGES for s in wanted):
            raise StoreError(f"stages={wanted!r} must be a non-empty selection of 3, 4, 5 and 6")
        started = _utc(now, "now")
        if self._has_run(run_id):
            raise StoreError(f"run {run_id!r} is already in {self.uri!r}; choose a new run id")
        run = Run(
            run_id,
            role=role,  # type: ignore[arg-type]  # checked against _ROLES above
            stages=wanted,  # type: ignore[arg-type]  # checked against _STAGES above
            started=started,
            backend=self._start(run_id),
        )
        self._open_runs.add(run)
        return run

    def get(self, digest: str) -> EvidenceRecord:
        """The record with this digest, re-hashed; RecordNotFound or CorruptRecord otherwise."""
        self._check_open()
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise RecordNotFound(
                f"digest={digest!r} is not a SHA-256 digest (64 lower-case hex characters)"
            )
        return self._get(digest)

    def latest(self, key: str) -> EvidenceRecord | None:
        """The record the refs name for ``key`` (the latest committed one), or None."""
        self._check_open()
        digest = self._ref(key)
        if digest is None:
            return None
        try:
            record = self.get(digest)
        except RecordNotFound as error:
            raise CorruptRecord(
                f"the refs name {digest} for key {key!r} but no such record is stored; "
                "run verify() to list the damage"
            ) from error
        if record.key != key:
            raise CorruptRecord(
                f"the refs name {digest} for key {key!r} but that record has key {record.key!r}"
            )
        return record

    def list(self, prefix: str = "") -> builtins.list[tuple[str, str]]:
        """``(key, digest)`` from the refs whose key starts with ``prefix`` (plain string
        prefix, case-sensitive), sorted by key."""
        self._check_open()
        return sorted((k, d) for k, d in self._refs().items() if k.startswith(prefix))

    def runs(self) -> builtins.list[RunSummary]:
        """Committed runs, sorted by start time, then run id."""
        self._check_open()
        return sorted(self._all_runs(), key=lambda run: (run.started, run.run_id))

    def verify(self) -> builtins.list[str]:
        """Problems found, one line each (``where: what``), sorted; empty when sound."""
        self._check_open()
        return sorted(self._verify())

    def close(self) -> None:
        """Abandon open runs and release the backend; closing twice is harmless."""
        if self._closed:
            return
        for run in builtins.list(self._open_runs):
            run.abandon()
        self._closed = True
        self._release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# -- opening by URI ---------------------------------------------------------------------


@runtime_checkable
class StoreBackend(Protocol):
    """What an ``amlas.stores`` entry point names: a backend that opens stores by URI.

    ``open_store`` picks the backend registered under the URI's scheme (``fs``,
    ``memory``), else the first backend, by name, whose :meth:`handles` accepts the scheme
    (the SQL backend takes every SQLAlchemy dialect). ``schemes`` are the schemes offered
    in "did you mean" hints; ``usage`` is a short phrase for the list of supported URIs,
    e.g. ``"'fs://PATH' (JSON files; relative paths are inside the project)"``.
    """

    schemes: tuple[str, ...]
    usage: str

    def handles(self, scheme: str) -> bool: ...

    def open(self, uri: str, *, root: Path) -> EvidenceStore: ...


_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)$", re.DOTALL)
_GROUP = "amlas.stores"


def _backends() -> builtins.list[tuple[str, StoreBackend]]:
    # a backend that fails to load is skipped here; ``amlas plugins`` names it
    return sorted(registry(_GROUP).load_all().items())


def _supported() -> str:
    return ", ".join(backend.usage for _, backend in _backends())


def _choose(scheme: str) -> StoreBackend | None:
    stores = registry(_GROUP)
    if scheme in stores:
        backend: StoreBackend = stores.get(scheme)  # an installed but broken one says so
        return backend
    for _, candidate in _backends():
        if candidate.handles(scheme):
            return candidate
    return None


def open_store(uri: str, *, root: str | Path) -> EvidenceStore:
    """Open the evidence store named by ``uri``; relative paths resolve against ``root``.

    The backend comes from the ``amlas.stores`` entry-point group (``amlas plugins``
    lists them). Built in:

    * ``fs://evidence``, ``fs:///abs/path``: a folder of JSON files (``fs://`` alone
      means ``fs://evidence``); nothing is created until the first run commits or puts.
    * ``sqlite:///evidence.db`` (relative), ``sqlite:////abs/evidence.db``, or any other
      SQLAlchemy URL (``postgresql://...``): tables ``records``, ``refs``, ``runs``,
      created if missing.
    * ``memory://NAME``: held in this process, shared by every store opened with the
      same name, gone when the process ends (tests and notebooks).

    Raises StoreError for an unknown scheme (with the supported ones and a suggestion),
    a missing database driver (with the package to install), or a store that cannot be
    opened.
    """
    match = _URI.match(uri) if isinstance(uri, str) else None
    if match is None:
        hint = f"; did you mean 'fs://{uri}'?" if isinstance(uri, str) and ":" not in uri else ""
        raise StoreError(f"store uri={uri!r} has no scheme; use {_supported()}{hint}")
    scheme = match["scheme"].lower()
    try:
        backend = _choose(scheme)
    except PluginError as error:
        raise StoreError(str(error)) from error
    if backend is None:
        schemes = [s for _, b in _backends() for s in b.schemes]
        close = did_you_mean(scheme.split("+")[0], schemes)
        raise StoreError(
            f"unknown evidence store scheme {scheme!r}; use {_supported()}"
            + (f"; {close}" if close else "")
        )
    return backend.open(uri, root=Path(root))


def copy_current(source: EvidenceStore, target: EvidenceStore) -> int:
    """Copy the current records of ``source`` (what its refs name) into ``target``, run by
    run as they were committed (id, role, stages, start and finish kept), so that the
    target's refs name the same records; returns how many were copied. Superseded records
    and runs that hold no current record are left out (what an assessor's bundle keeps).

    Raises :class:`StoreError` when a record cannot be read or the target refuses it."""
    current = dict(source.list())
    wanted = set(current.items())
    placed: set[tuple[str, str]] = set()
    for summary in source.runs():
        entries = [
            (e.key, e.digest) for e in summary.records if (e.key, e.digest) in wanted - placed
        ]
        if not entries:
            continue
        run = target.begin(
            summary.run_id, role=summary.role, stages=summary.stages, now=summary.started
        )
        for _key, digest in entries:
            run.put(source.get(digest))
        run.commit(now=summary.finished)
        placed.update(entries)
    missing = wanted - placed
    if missing:
        key, digest = sorted(missing)[0]
        raise StoreError(
            f"{len(missing)} current record(s) of {source.uri!r} are in no committed run "
            f"(e.g. {key!r}, {digest[:12]}...): 'amlas evidence --verify' says more"
        )
    return len(placed)
