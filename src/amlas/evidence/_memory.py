"""The in-memory evidence store (``memory://NAME``): for tests, notebooks and dry runs.

Every store opened with the same ``NAME`` in one process shares one set of records, refs
and runs; they are gone when the process ends (``memory://`` alone is ``memory://default``).
Records are kept as their JSON text and re-hashed on every read, like the other backends,
so the contract (a damaged record is reported, never used) holds here too. A run's
records are stored as it puts them; its summary and refs change together, under one lock,
when it commits.
"""

from __future__ import annotations

import builtins
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from amlas.evidence._record import EvidenceRecord
from amlas.evidence._store import (
    BaseStore,
    CorruptRecord,
    RecordNotFound,
    RunSummary,
    StoreError,
    parse_record,
    signature_replaces,
)

__all__ = ["BACKEND", "MemoryBackend", "MemoryStore", "forget_memory_store"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class _Space:
    """What one ``memory://NAME`` holds."""

    records: dict[str, str] = field(default_factory=dict)  # digest -> record JSON
    refs: dict[str, str] = field(default_factory=dict)  # key -> digest
    runs: dict[str, str] = field(default_factory=dict)  # run id -> summary JSON
    lock: threading.RLock = field(default_factory=threading.RLock)


_SPACES: dict[str, _Space] = {}
_SPACES_LOCK = threading.Lock()


def _space_of(name: str) -> _Space:
    with _SPACES_LOCK:
        return _SPACES.setdefault(name, _Space())


def forget_memory_store(name: str) -> None:
    """Drop everything ``memory://NAME`` holds (stores open on it see it empty)."""
    with _SPACES_LOCK:
        _SPACES.pop(name, None)


class MemoryStore(BaseStore):
    """Evidence held in this process under a name; see the module docs."""

    def __init__(self, name: str, *, uri: str) -> None:
        super().__init__(uri)
        self.name = name

    @property
    def _space(self) -> _Space:
        # looked up on each use, so forget_memory_store empties open stores too
        return _space_of(self.name)

    @property
    def raw_records(self) -> dict[str, str]:
        """The live ``digest -> JSON`` map, for tests that damage a record on purpose."""
        return self._space.records

    def _get(self, digest: str) -> EvidenceRecord:
        text = self._space.records.get(digest)
        if text is None:
            raise RecordNotFound(f"no record with digest {digest} in {self.uri!r}")
        return parse_record(text, digest, f"records[{digest}]")

    def write_record(self, record: EvidenceRecord, digest: str) -> None:
        """Store ``record`` unless a sound copy is there (the signed copy replaces it)."""
        space = self._space
        with space.lock:
            stored = space.records.get(digest)
            if stored is not None:
                try:
                    kept = parse_record(stored, digest, f"records[{digest}]")
                    if not signature_replaces(kept, record):
                        return
                except CorruptRecord:
                    pass  # a damaged copy is replaced by the sound one in hand
            space.records[digest] = record.to_json()

    def _refs(self) -> dict[str, str]:
        return dict(self._space.refs)

    def _has_run(self, run_id: str) -> bool:
        return run_id in self._space.runs

    def _start(self, run_id: str) -> _MemoryRun:
        return _MemoryRun(self)

    def _all_runs(self) -> builtins.list[RunSummary]:
        return [RunSummary.from_json(text) for text in self._space.runs.values()]

    def _verify(self) -> builtins.list[str]:
        space = self._space
        with space.lock:
            records = dict(space.records)
            refs = dict(space.refs)
            runs = [RunSummary.from_json(text) for text in space.runs.values()]
        problems: builtins.list[str] = []
        keys: dict[str, str] = {}
        for digest, text in sorted(records.items()):
            try:
                keys[digest] = parse_record(text, digest, f"records[{digest}]").key
            except StoreError as error:
                problems.append(str(error))
        for key, digest in sorted(refs.items()):
            if digest not in records:
                problems.append(f"refs[{key!r}]: names {digest}, which is not stored")
            elif digest in keys and keys[digest] != key:
                problems.append(f"refs[{key!r}]: names {digest}, a record of key {keys[digest]!r}")
        for run in runs:
            for entry in run.records:
                if entry.digest not in records:
                    problems.append(
                        f"runs[{run.run_id!r}]: record {entry.key!r} ({entry.digest}) is not stored"
                    )
        return problems


class _MemoryRun:
    """A run on a MemoryStore: records now, the summary and refs together at commit."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def put(self, record: EvidenceRecord, digest: str) -> None:
        self._store.write_record(record, digest)

    def commit(self, summary: RunSummary) -> None:
        space = self._store._space
        with space.lock:
            if summary.run_id in space.runs:
                raise StoreError(f"run {summary.run_id!r} is already in {self._store.uri!r}")
            space.runs[summary.run_id] = summary.to_json()
            space.refs.update((entry.key, entry.digest) for entry in summary.records)

    def abandon(self) -> None:
        pass  # records put stay, unreferenced and harmless, as in the other backends


class MemoryBackend:
    """The ``memory`` entry of ``amlas.stores``: ``memory://NAME``."""

    schemes: tuple[str, ...] = ("memory",)
    usage = "'memory://NAME' (kept in this process, shared by name)"

    def handles(self, scheme: str) -> bool:
        return scheme == "memory"

    def open(self, uri: str, *, root: Path) -> MemoryStore:
        name = uri.partition("://")[2] or "default"
        if not _NAME.match(name):
            raise StoreError(
                f"store uri={uri!r}: {name!r} is not a memory store name; use letters, "
                "digits, '.', '_' and '-', e.g. 'memory://test-1'"
            )
        return MemoryStore(name, uri=uri)


BACKEND = MemoryBackend()
