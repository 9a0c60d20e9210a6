"""The SQL evidence store (``sqlite:///``, ``postgresql://``, ...), on SQLAlchemy Core.

Tables::

    records(digest PK, key, check, stage, verdict, json TEXT)   json = EvidenceRecord.to_json()
    refs(key PK, digest)
    runs(run_id PK, json TEXT)                                   json = RunSummary.to_json()

A run is one database transaction, committed at the end: records, the run row and the
refs become visible together or not at all. ``key``, ``check``, ``stage`` and ``verdict``
are copies of fields in ``json`` for querying; ``verify`` checks they still agree.
One writer at a time: on SQLite a second run writing while another is open waits for the
lock and then fails with a StoreError ('database is locked').
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, SQLAlchemyError

from amlas.errors import DRIVER_PACKAGES
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

__all__ = ["BACKEND", "SqlBackend", "SqlStore", "dialect_known"]

_METADATA = sa.MetaData()
RECORDS = sa.Table(
    "records",
    _METADATA,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(512), nullable=False, index=True),
    sa.Column("check", sa.Text, nullable=False),
    sa.Column("stage", sa.Integer, nullable=False),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("json", sa.Text, nullable=False),
)
REFS = sa.Table(
    "refs",
    _METADATA,
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
)
RUNS = sa.Table(
    "runs",
    _METADATA,
    sa.Column("run_id", sa.String(128), primary_key=True),
    sa.Column("json", sa.Text, nullable=False),
)


# DB-API module -> what to install; a missing one is named in the error, not a traceback.
def dialect_known(scheme: str) -> bool:
    """True when SQLAlchemy has a dialect for ``scheme`` (``postgresql``, ``mysql+pymysql``)."""
    try:
        make_url(f"{scheme}://").get_dialect()
    except (NoSuchModuleError, ArgumentError):
        return False
    return True


@contextlib.contextmanager
def _db_errors(uri: str) -> Iterator[None]:
    """Database failures (locked, connection lost) as StoreError, named after the store."""
    try:
        yield
    except SQLAlchemyError as error:
        first = str(error).splitlines()[0]
        raise StoreError(f"evidence store {uri!r}: {first}") from error


def _row_values(record: EvidenceRecord, digest: str) -> dict[str, object]:
    return {
        "digest": digest,
        "key": record.key,
        "check": record.check,
        "stage": record.stage,
        "verdict": record.verdict,
        "json": record.to_json(),
    }


class SqlStore(BaseStore):
    """Evidence in three SQL tables; see the module docs for schema and guarantees."""

    def __init__(self, engine: sa.Engine, *, uri: str) -> None:
        super().__init__(uri)
        self._engine = engine

    @classmethod
    def open(cls, uri: str, *, root: Path) -> SqlStore:
        """Connect to ``uri`` (relative SQLite paths inside ``root``) and create the tables."""
        try:
            url = make_url(uri)
        except ArgumentError as error:
            raise StoreError(f"cannot parse the database URL: {error}") from error
        shown = url.render_as_string(hide_password=True)
        url = cls._resolve_sqlite(url, root, shown)
        try:
            engine = sa.create_engine(url)
        except ImportError as error:
            module = (error.name or "").split(".")[0]
            package = DRIVER_PACKAGES.get(module, module or "the database driver")
            raise StoreError(
                f"evidence store {shown!r} needs the database driver {module!r}; "
                f"install it with: pip install '{package}'",
                code="R001",
            ) from None
        except SQLAlchemyError as error:
            raise StoreError(f"cannot open evidence store {shown!r}: {error}") from error
        if engine.dialect.is_async:
            engine.dispose()
            raise StoreError(
                f"evidence store {shown!r} uses an async driver; use a synchronous one, "
                "e.g. 'postgresql+psycopg://'"
            )
        try:
            _METADATA.create_all(engine)
        except SQLAlchemyError as error:
            engine.dispose()
            raise StoreError(f"cannot open evidence store {shown!r}: {error}") from error
        return cls(engine, uri=shown)

    @staticmethod
    def _resolve_sqlite(url: URL, root: Path, shown: str) -> URL:
        if url.get_backend_name() != "sqlite":
            return url
        database = url.database
        if not database or database == ":memory:" or url.query.get("mode") == "memory":
            # Every connection would see its own empty database, and it would vanish on close.
            raise StoreError(
                f"evidence store {shown!r} is an in-memory database, which keeps nothing; "
                "name a file, e.g. 'sqlite:///evidence.db'"
            )
        path = Path(database)
        if not path.is_absolute():
            # 'sqlite:///x.db' is relative to the project, not the working directory.
            path = root / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return url.set(database=str(path))

    def _release(self) -> None:
        self._engine.dispose()

    def _get(self, digest: str) -> EvidenceRecord:
        with _db_errors(self.uri), self._engine.connect() as conn:
            text = conn.execute(
                sa.select(RECORDS.c.json).where(RECORDS.c.digest == digest)
            ).scalar_one_or_none()
        if text is None:
            raise RecordNotFound(f"no record with digest {digest} in {self.uri!r}")
        return parse_record(text, digest, f"records[{digest}]")

    def _refs(self) -> dict[str, str]:
        with _db_errors(self.uri), self._engine.connect() as conn:
            rows = conn.execute(sa.select(REFS.c.key, REFS.c.digest)).all()
        return {str(key): str(digest) for key, digest in rows}

    def _ref(self, key: str) -> str | None:
        with _db_errors(self.uri), self._engine.connect() as conn:
            digest: str | None = conn.execute(
                sa.select(REFS.c.digest).where(REFS.c.key == key)
            ).scalar_one_or_none()
        return digest

    def _has_run(self, run_id: str) -> bool:
        with _db_errors(self.uri), self._engine.connect() as conn:
            found = conn.execute(
                sa.select(RUNS.c.run_id).where(RUNS.c.run_id == run_id)
            ).scalar_one_or_none()
        return found is not None

    def _start(self, run_id: str) -> _SqlRun:
        return _SqlRun(self._engine, self.uri)

    def _load_run(self, run_id: str, text: str) -> RunSummary:
        where = f"runs[{run_id!r}]"
        try:
            run = RunSummary.from_json(text)
        except ValidationError as error:
            first = str(error).splitlines()[0]
            raise StoreError(f"{where}: not a valid run summary ({first})") from error
        if run.run_id != run_id:
            raise StoreError(f"{where}: holds run {run.run_id!r}")
        return run

    def _all_runs(self) -> builtins.list[RunSummary]:
        with _db_errors(self.uri), self._engine.connect() as conn:
            rows = conn.execute(sa.select(RUNS.c.run_id, RUNS.c.json)).all()
        return [self._load_run(run_id, text) for run_id, text in rows]

    def _verify(self) -> builtins.list[str]:
        problems: builtins.list[str] = []
        keys: dict[str, str] = {}  # digest -> key of every sound record
        with _db_errors(self.uri), self._engine.connect() as conn:
            records = conn.execute(
                sa.select(
                    RECORDS.c.digest,
                    RECORDS.c.key,
                    RECORDS.c.check,
                    RECORDS.c.stage,
                    RECORDS.c.verdict,
                    RECORDS.c.json,
                )
            ).all()
            refs = conn.execute(sa.select(REFS.c.key, REFS.c.digest)).all()
            runs = conn.execute(sa.select(RUNS.c.run_id, RUNS.c.json)).all()
        present = {row[0] for row in records}
        for digest, key, check, stage, verdict, text in records:
            where = f"records[{digest}]"
            try:
                record = parse_record(text, digest, where)
            except StoreError as error:
                problems.append(str(error))
                continue
            keys[digest] = record.key
            columns = (key, check, stage, verdict)
            if columns != (record.key, record.check, record.stage, record.verdict):
                problems.append(f"{where}: key/check/stage/verdict columns differ from its json")
        for key, digest in refs:
            if digest not in present:
                problems.append(f"refs[{key!r}]: names {digest}, which is not stored")
            elif digest in keys and keys[digest] != key:
                problems.append(f"refs[{key!r}]: names {digest}, a record of key {keys[digest]!r}")
        for run_id, text in runs:
            try:
                run = self._load_run(run_id, text)
            except StoreError as error:
                problems.append(str(error))
                continue
            for entry in run.records:
                if entry.digest not in present:
                    problems.append(
                        f"runs[{run_id!r}]: record {entry.key!r} ({entry.digest}) is not stored"
                    )
        return problems


class _SqlRun:
    """A run on an SqlStore: one connection and one transaction, committed at the end."""

    def __init__(self, engine: sa.Engine, uri: str) -> None:
        self._uri = uri
        with _db_errors(uri):
            self._conn = engine.connect()
            self._txn = self._conn.begin()

    def put(self, record: EvidenceRecord, digest: str) -> None:
        with _db_errors(self._uri):
            self._put(record, digest)

    def _put(self, record: EvidenceRecord, digest: str) -> None:
        conn = self._conn
        stored = conn.execute(
            sa.select(RECORDS.c.json).where(RECORDS.c.digest == digest)
        ).scalar_one_or_none()
        if stored is None:
            conn.execute(sa.insert(RECORDS).values(_row_values(record, digest)))
            return
        try:
            kept = parse_record(stored, digest, f"records[{digest}]")
        except CorruptRecord:
            kept = None
        # A damaged row is replaced by the sound record in hand; a sound one is kept unless
        # the record in hand brings a signature it lacks.
        if kept is None or signature_replaces(kept, record):
            conn.execute(
                sa.update(RECORDS)
                .where(RECORDS.c.digest == digest)
                .values(_row_values(record, digest))
            )

    def commit(self, summary: RunSummary) -> None:
        conn = self._conn
        with _db_errors(self._uri):
            try:
                conn.execute(sa.insert(RUNS).values(run_id=summary.run_id, json=summary.to_json()))
            except IntegrityError as error:
                raise StoreError(f"run {summary.run_id!r} is already in {self._uri!r}") from error
            for entry in summary.records:
                moved = conn.execute(
                    sa.update(REFS).where(REFS.c.key == entry.key).values(digest=entry.digest)
                )
                if moved.rowcount == 0:
                    conn.execute(sa.insert(REFS).values(key=entry.key, digest=entry.digest))
            self._txn.commit()
            self._conn.close()

    def abandon(self) -> None:
        # Also runs from a finalizer (a dropped Run), so it must not raise; a transaction
        # that cannot be rolled back here is dropped by the database with the connection.
        with contextlib.suppress(SQLAlchemyError):
            if self._txn.is_active:
                self._txn.rollback()
        with contextlib.suppress(SQLAlchemyError):
            self._conn.close()


class SqlBackend:
    """The ``sql`` entry of ``amlas.stores``: any URL SQLAlchemy has a dialect for."""

    schemes: tuple[str, ...] = ("sqlite", "postgresql", "mysql", "mariadb", "mssql", "oracle")
    usage = (
        "'sqlite:///PATH' (an SQLite file), or any SQLAlchemy database URL such as "
        "'postgresql://user@host/db'"
    )

    def handles(self, scheme: str) -> bool:
        return dialect_known(scheme)

    def open(self, uri: str, *, root: Path) -> SqlStore:
        return SqlStore.open(uri, root=Path(root))


BACKEND = SqlBackend()
