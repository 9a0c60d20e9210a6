"""The file-system evidence store (``fs://``): a folder of JSON files a reviewer can diff.

Layout::

    <store>/objects/<first 2 hex>/<digest>.json   one record each (EvidenceRecord.to_json)
    <store>/refs.json                             {key: digest}, sorted, indented
    <store>/runs/<run_id>.json                    one RunSummary per committed run

Every file is written atomically (:func:`amlas.fileio.atomic_write_text`). Objects are
written during a run; on commit the run file is written first and ``refs.json`` last, so
an interrupted run leaves the previous refs intact and, at worst, objects nothing points
at. One writer at a time: two runs committing at the same moment could each miss the
other's refs (the later ``refs.json`` wins), so a project runs one ``amlas run`` at once.
"""

from __future__ import annotations

import builtins
import json
import re
from pathlib import Path

from pydantic import ValidationError

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
from amlas.fileio import atomic_write_text, clean_stale_temps

__all__ = ["BACKEND", "FileStore", "FsBackend"]

_OBJECT_NAME = re.compile(r"^[0-9a-f]{64}\.json$")
_FANOUT = re.compile(r"^[0-9a-f]{2}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _is_temp(path: Path) -> bool:
    """A leftover of an atomic write killed before its rename: harmless, ignored."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


class FileStore(BaseStore):
    """Evidence as JSON files under ``path``; see the module docs for layout and guarantees."""

    def __init__(self, path: Path, *, uri: str) -> None:
        super().__init__(uri)
        self.path = path
        if path.exists() and not path.is_dir():
            raise StoreError(
                f"evidence store {uri!r}: {path} exists and is not a folder", code="R070", path=path
            )
        self._objects = path / "objects"
        self._refs_file = path / "refs.json"
        self._runs_dir = path / "runs"
        for part, folder in (
            (self._objects, True),
            (self._runs_dir, True),
            (self._refs_file, False),
        ):
            if part.exists() or part.is_symlink():
                if folder and not part.is_dir():
                    raise StoreError(
                        f"evidence store {uri!r}: {part} exists and is not a folder; expected "
                        "the store's folder of records (move the file away)",
                        code="R070",
                        path=part,
                    )
                if not folder and not part.is_file():
                    raise StoreError(
                        f"evidence store {uri!r}: {part} exists and is not a regular file; "
                        "expected the store's map of keys to digests",
                        code="R070",
                        path=part,
                    )

    def _object(self, digest: str) -> Path:
        return self._objects / digest[:2] / f"{digest}.json"

    def _where(self, path: Path) -> str:
        return path.relative_to(self.path).as_posix()

    def _read(self, path: Path) -> str:
        try:
            return path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise StoreError(f"cannot read {path}: {error}") from error

    # records
    def _get(self, digest: str) -> EvidenceRecord:
        path = self._object(digest)
        if not path.is_file():
            raise RecordNotFound(f"no record with digest {digest} in {self.uri!r}")
        return parse_record(self._read(path), digest, self._where(path))

    def write_object(self, record: EvidenceRecord, digest: str) -> None:
        """Write ``record`` unless a sound copy exists (whose metadata is then kept), or
        the record in hand brings a signature the stored copy lacks."""
        path = self._object(digest)
        if path.is_file():
            try:
                stored = parse_record(self._read(path), digest, self._where(path))
                if not signature_replaces(stored, record):
                    return
            except (CorruptRecord, StoreError):
                pass  # a damaged copy is replaced by the sound one in hand
        atomic_write_text(path, record.to_json())

    # refs
    def _refs(self) -> dict[str, str]:
        if not self._refs_file.is_file():
            return {}
        try:
            refs = json.loads(self._read(self._refs_file))
        except ValueError as error:
            raise StoreError(
                f"{self._refs_file} is damaged ({error}); run verify() to list the damage"
            ) from error
        if not isinstance(refs, dict) or not all(
            isinstance(k, str) and isinstance(d, str) for k, d in refs.items()
        ):
            raise StoreError(f"{self._refs_file} is not a map of key to digest")
        return refs

    def write_refs(self, refs: dict[str, str]) -> None:
        text = json.dumps(dict(sorted(refs.items())), indent=2, ensure_ascii=False)
        atomic_write_text(self._refs_file, text + "\n")

    # runs
    def run_file(self, run_id: str) -> Path:
        return self._runs_dir / f"{run_id}.json"

    def _has_run(self, run_id: str) -> bool:
        return self.run_file(run_id).exists()

    def _start(self, run_id: str) -> _FsRun:
        # a killed run left temporaries (.<name>.amlas-<pid>-*.tmp) behind: clear the stale ones
        if self.path.is_dir():
            clean_stale_temps(self.path, recursive=True)
        return _FsRun(self)

    def _run_files(self) -> builtins.list[Path]:
        if not self._runs_dir.is_dir():
            return []
        return sorted(p for p in self._runs_dir.glob("*.json") if not _is_temp(p))

    def _load_run(self, path: Path) -> RunSummary:
        try:
            run = RunSummary.from_json(self._read(path))
        except ValidationError as error:
            raise StoreError(
                f"{self._where(path)}: not a valid run summary ({str(error).splitlines()[0]})"
            ) from error
        if run.run_id != path.stem:
            raise StoreError(f"{self._where(path)}: holds run {run.run_id!r}")
        return run

    def _all_runs(self) -> builtins.list[RunSummary]:
        return [self._load_run(path) for path in self._run_files()]

    # verify
    def _verify(self) -> builtins.list[str]:
        problems: builtins.list[str] = []
        keys: dict[str, str] = {}  # digest -> key of every sound object
        present: set[str] = set()  # digest of every object file, sound or not
        if self._objects.is_dir():
            for entry in sorted(self._objects.iterdir()):
                if not entry.is_dir() or not _FANOUT.match(entry.name):
                    if not _is_temp(entry):
                        problems.append(f"{self._where(entry)}: unexpected entry in objects/")
                    continue
                for path in sorted(entry.iterdir()):
                    where = self._where(path)
                    if _is_temp(path):
                        continue
                    if not _OBJECT_NAME.match(path.name) or not path.name.startswith(entry.name):
                        problems.append(f"{where}: not named <digest>.json under its first 2 hex")
                        continue
                    digest = path.name.removesuffix(".json")
                    present.add(digest)
                    try:
                        keys[digest] = parse_record(self._read(path), digest, where).key
                    except StoreError as error:
                        problems.append(str(error))
        try:
            refs = self._refs()
        except StoreError as error:
            problems.append(str(error))
            refs = {}
        for key, digest in sorted(refs.items()):
            if not _SHA256.match(digest) or digest not in present:
                problems.append(f"refs.json: key {key!r} names {digest}, which is not stored")
            elif digest in keys and keys[digest] != key:
                problems.append(
                    f"refs.json: key {key!r} names {digest}, a record of key {keys[digest]!r}"
                )
        for path in self._run_files():
            try:
                run = self._load_run(path)
            except StoreError as error:
                problems.append(str(error))
                continue
            for entry_ in run.records:
                if entry_.digest not in present:
                    problems.append(
                        f"{self._where(path)}: record {entry_.key!r} ({entry_.digest}) "
                        "is not stored"
                    )
        return problems


class _FsRun:
    """A run on a FileStore: objects now, the run file then refs at commit."""

    def __init__(self, store: FileStore) -> None:
        self._store = store

    def put(self, record: EvidenceRecord, digest: str) -> None:
        self._store.write_object(record, digest)

    def commit(self, summary: RunSummary) -> None:
        store = self._store
        # Read refs first: a damaged refs.json stops the commit before anything is written.
        refs = store._refs()
        run_file = store.run_file(summary.run_id)
        if run_file.exists():
            raise StoreError(f"run {summary.run_id!r} is already in {store.uri!r}")
        atomic_write_text(run_file, summary.to_json())
        refs.update((entry.key, entry.digest) for entry in summary.records)
        store.write_refs(refs)

    def abandon(self) -> None:
        # Objects already written stay: unreferenced and harmless, like git's loose objects.
        pass


class FsBackend:
    """The ``fs`` entry of ``amlas.stores``: ``fs://PATH``, relative to the project root."""

    schemes: tuple[str, ...] = ("fs",)
    usage = "'fs://PATH' (JSON files; relative paths are inside the project)"

    def handles(self, scheme: str) -> bool:
        return scheme == "fs"

    def open(self, uri: str, *, root: Path) -> FileStore:
        rest = uri.partition("://")[2] or "evidence"
        return FileStore(Path(root) / rest, uri=uri)


BACKEND = FsBackend()
