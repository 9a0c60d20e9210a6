"""The evidence-store contract, run over every backend (see EvidenceStore's docstring).

Decision pinned here: records that nothing points at (left by an abandoned, dropped or
killed run) are harmless and ``verify()`` does not report them; it reports only damage:
records that no longer match their digest, and refs or runs naming missing records.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from evidence_factory import at, make_record

from amlas.evidence import (
    CorruptRecord,
    EvidenceRecord,
    EvidenceStore,
    RecordNotFound,
    Run,
    StoreError,
    open_store,
)

# -- backends ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """A store URI plus how to damage that backend behind the store's back."""

    uri: str
    tamper: Callable[[Path, str], None]  # (project root, digest): change a hashed value
    remove: Callable[[Path, str], None]  # (project root, digest): delete the record


def _fs_object(root: Path, digest: str) -> Path:
    return root / "evidence" / "objects" / digest[:2] / f"{digest}.json"


def _fs_tamper(root: Path, digest: str) -> None:
    path = _fs_object(root, digest)
    text = path.read_text("utf-8")
    assert '"verdict": "fail"' in text
    path.write_text(text.replace('"verdict": "fail"', '"verdict": "pass"'), "utf-8")


def _fs_remove(root: Path, digest: str) -> None:
    _fs_object(root, digest).unlink()


def _sql(root: Path, statement: str, *args: str) -> None:
    with contextlib.closing(sqlite3.connect(root / "evidence.db")) as conn, conn:
        assert conn.execute(statement, args).rowcount == 1


def _sql_tamper(root: Path, digest: str) -> None:
    _sql(
        root,
        'UPDATE records SET json = replace(json, \'"verdict": "fail"\', \'"verdict": "pass"\')'
        ' WHERE digest = ? AND json LIKE \'%"verdict": "fail"%\'',
        digest,
    )


def _sql_remove(root: Path, digest: str) -> None:
    _sql(root, "DELETE FROM records WHERE digest = ?", digest)


BACKENDS = {
    "fs": Backend("fs://evidence", _fs_tamper, _fs_remove),
    "sqlite": Backend("sqlite:///evidence.db", _sql_tamper, _sql_remove),
}


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.fixture
def reopen(backend: Backend, root: Path) -> Iterator[Callable[[], EvidenceStore]]:
    """Open the backend's store in ``root``, as a new process would; closed at teardown."""
    opened: list[EvidenceStore] = []

    def _open() -> EvidenceStore:
        store = open_store(backend.uri, root=root)
        opened.append(store)
        return store

    yield _open
    for store in opened:
        store.close()


@pytest.fixture
def store(reopen: Callable[[], EvidenceStore]) -> EvidenceStore:
    return reopen()


def commit(store: EvidenceStore, run_id: str, *records: EvidenceRecord, start: int = 0) -> None:
    with store.begin(run_id, role="verifier", stages=[5], now=at(start)) as run:
        for record in records:
            run.put(record)


# -- the contract -----------------------------------------------------------------------


def test_is_an_evidence_store(store: EvidenceStore) -> None:
    assert isinstance(store, EvidenceStore)


def test_empty_store(store: EvidenceStore) -> None:
    assert store.list() == []
    assert store.runs() == []
    assert store.verify() == []
    assert store.latest("stage5/metric/MLR-1") is None


def test_put_then_get(store: EvidenceStore) -> None:
    record = make_record()
    with store.begin("r1", role="verifier", stages=[5], now=at(0)) as run:
        digest = run.put(record)
        assert digest == record.digest
    got = store.get(digest)
    assert got == record
    assert got.metadata == {"host": "ci-1"}  # stored, though not hashed
    assert store.list() == [(record.key, digest)]
    assert store.verify() == []


def test_put_is_idempotent(store: EvidenceStore) -> None:
    record = make_record()
    same_content = make_record(metadata={"host": "ci-2"})
    with store.begin("r1", role="verifier", stages=[5], now=at(0)) as run:
        first = run.put(record)
        assert run.put(record) == first
        assert run.put(same_content) == first
        assert run.records == [(record.key, first)]
    commit(store, "r2", same_content, start=1)
    assert store.get(first).metadata == {"host": "ci-1"}  # the first copy is kept
    assert [len(r.records) for r in store.runs()] == [1, 1]
    assert store.verify() == []


def test_a_key_is_written_once_per_run(store: EvidenceStore) -> None:
    with store.begin("r1", role="verifier", stages=[5], now=at(0)) as run:
        run.put(make_record())
        with pytest.raises(StoreError, match="already holds a different record"):
            run.put(make_record(verdict="fail"))
    assert store.latest("stage5/metric/MLR-1") == make_record()


def test_records_must_match_the_runs_role_and_stages(store: EvidenceStore) -> None:
    with store.begin("r1", role="verifier", stages=[5], now=at(0)) as run:
        with pytest.raises(StoreError, match="role='developer'"):
            run.put(make_record(role="developer"))
        with pytest.raises(StoreError, match="stage=3"):
            run.put(make_record(key="stage3/data/DR-1/P", stage=3))
    assert store.list() == []


def test_latest_after_two_runs(store: EvidenceStore) -> None:
    old = make_record(verdict="fail")
    new = make_record(verdict="pass")
    other = make_record("stage5/metric/MLR-2")
    commit(store, "r1", old, other, start=0)
    commit(store, "r2", new, start=1)
    assert store.latest(new.key) == new
    assert store.latest(other.key) == other  # untouched by r2
    assert store.get(old.digest) == old  # superseded, still there for the history
    assert store.latest("stage5/metric/MLR-9") is None
    assert store.list() == sorted([(new.key, new.digest), (other.key, other.digest)])


def test_list_with_prefix(store: EvidenceStore) -> None:
    keys = [
        "stage5/metric/MLR-2",
        "stage3/data/DR-4/N",
        "stage5/metric/MLR-1",
        "stage3/independence/N-O",
        "stage5/robustness/MLR-3",
    ]
    with store.begin("r1", role="verifier", stages=[3, 5], now=at(0)) as run:
        for key in keys:
            run.put(make_record(key, stage=int(key[5])))
    assert [k for k, _ in store.list()] == sorted(keys)
    assert [k for k, _ in store.list("stage5/metric/")] == [
        "stage5/metric/MLR-1",
        "stage5/metric/MLR-2",
    ]
    assert [k for k, _ in store.list("stage3/")] == [
        "stage3/data/DR-4/N",
        "stage3/independence/N-O",
    ]
    assert store.list("Stage5/") == []  # case-sensitive
    assert store.list("stage4/") == []
    for key, digest in store.list():
        assert store.get(digest).key == key


def test_runs_are_sorted_by_start_time(store: EvidenceStore) -> None:
    late = store.begin("b-late", role="verifier", stages=[5], now=at(10))
    early = store.begin("a-early", role="developer", stages=[4, 3, 3], now=at(5))
    late.put(make_record("stage5/metric/MLR-2"))
    late.put(make_record("stage5/metric/MLR-1"))
    late.commit(now=at(11))
    summary = early.commit(now=at(20))
    commit(store, "c-first", start=-5)
    runs = store.runs()
    assert [r.run_id for r in runs] == ["c-first", "a-early", "b-late"]
    assert runs[1] == summary
    assert (summary.role, summary.stages, summary.status) == ("developer", [3, 4], "complete")
    assert (summary.started, summary.finished) == (at(5), at(20))
    assert [e.key for e in runs[2].records] == ["stage5/metric/MLR-1", "stage5/metric/MLR-2"]


def test_times_are_stored_in_utc(store: EvidenceStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    with store.begin("r1", role="verifier", stages=[5], now=at(0).astimezone(plus_two)) as run:
        run.put(make_record())
    (summary,) = store.runs()
    assert summary.started == at(0)
    assert summary.started.utcoffset() == timedelta(0)


def _crash_inside(run: Run) -> None:
    with run:
        run.put(make_record(verdict="pass"))
        run.put(make_record("stage5/metric/MLR-2"))
        raise RuntimeError("check crashed")


def test_abandoned_run_leaves_refs_unchanged(store: EvidenceStore) -> None:
    commit(store, "r1", make_record(verdict="fail"), start=0)
    before = store.list()
    run = store.begin("r2", role="verifier", stages=[5], now=at(1))
    with pytest.raises(RuntimeError, match="check crashed"):
        _crash_inside(run)
    assert run.state == "abandoned"
    assert store.list() == before
    assert [r.run_id for r in store.runs()] == ["r1"]
    assert store.verify() == []
    with pytest.raises(StoreError, match="abandoned"):
        run.put(make_record())
    with pytest.raises(StoreError, match="abandoned"):
        run.commit()


def test_dropped_run_is_abandoned(
    store: EvidenceStore, reopen: Callable[[], EvidenceStore]
) -> None:
    """In-process crash: the Run is lost without commit or abandon, then the store reopened."""
    commit(store, "r1", make_record(verdict="fail"), start=0)
    before = store.list()
    run = store.begin("r2", role="verifier", stages=[5], now=at(1))
    run.put(make_record(verdict="pass"))
    del run
    gc.collect()
    store.close()
    again = reopen()
    assert again.list() == before
    assert [r.run_id for r in again.runs()] == ["r1"]
    assert again.verify() == []  # unreferenced records are not damage
    commit(again, "r3", make_record(verdict="inconclusive"), start=2)  # nothing left locked
    assert again.latest("stage5/metric/MLR-1") == make_record(verdict="inconclusive")


def test_closing_the_store_abandons_open_runs(
    store: EvidenceStore, reopen: Callable[[], EvidenceStore]
) -> None:
    run = store.begin("r1", role="verifier", stages=[5], now=at(0))
    run.put(make_record())
    store.close()
    assert run.state == "abandoned"
    with pytest.raises(StoreError, match="closed"):
        store.list()
    assert reopen().list() == []


_KILLED_RUN = textwrap.dedent(
    """
    import os, sys
    from amlas.evidence import EvidenceRecord, open_store

    store = open_store(sys.argv[1], root=sys.argv[2])
    run = store.begin("killed", role="verifier", stages=[5])
    run.put(EvidenceRecord.from_json(sys.stdin.read()))
    sys.stdout.write("put\\n")
    sys.stdout.flush()
    os._exit(9)  # like SIGKILL: no finally, no finalizers, no commit
    """
)


def test_killed_process_leaves_the_store_intact(
    backend: Backend, root: Path, store: EvidenceStore
) -> None:
    commit(store, "r1", make_record(verdict="fail"), start=0)
    before = (store.list(), store.runs())
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, backend.uri, str(root)],
        input=make_record(verdict="pass").to_json(),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (9, "put\n", "")
    assert (store.list(), store.runs()) == before
    assert store.verify() == []
    commit(store, "r2", make_record(verdict="inconclusive"), start=1)
    assert store.latest("stage5/metric/MLR-1") == make_record(verdict="inconclusive")


def test_tampered_record_is_detected(backend: Backend, root: Path, store: EvidenceStore) -> None:
    record = make_record(verdict="fail")
    commit(store, "r1", record, make_record("stage5/metric/MLR-2"))
    backend.tamper(root, record.digest)
    with pytest.raises(CorruptRecord, match=record.digest):
        store.get(record.digest)
    with pytest.raises(CorruptRecord):
        store.latest(record.key)
    problems = store.verify()
    assert len(problems) == 1
    assert record.digest in problems[0]
    assert store.latest("stage5/metric/MLR-2") is not None  # the rest is still usable


def test_putting_a_sound_copy_repairs_a_tampered_record(
    backend: Backend, root: Path, store: EvidenceStore
) -> None:
    record = make_record(verdict="fail")
    commit(store, "r1", record, start=0)
    backend.tamper(root, record.digest)
    commit(store, "r2", record, start=1)
    assert store.get(record.digest) == record
    assert store.verify() == []


def test_missing_record_is_reported(backend: Backend, root: Path, store: EvidenceStore) -> None:
    record = make_record(verdict="fail")
    commit(store, "r1", record)
    backend.remove(root, record.digest)
    with pytest.raises(RecordNotFound):
        store.get(record.digest)
    with pytest.raises(CorruptRecord, match="no such record"):
        store.latest(record.key)
    problems = store.verify()
    assert len(problems) == 2  # named by the refs and by run r1
    assert all(record.digest in p for p in problems)


@pytest.mark.parametrize("digest", ["0" * 64, "not-a-digest", "../../refs", "A" * 64, ""])
def test_unknown_digest(store: EvidenceStore, digest: str) -> None:
    commit(store, "r1", make_record())
    with pytest.raises(RecordNotFound) as raised:
        store.get(digest)
    assert isinstance(raised.value, KeyError)  # callers may treat the store like a mapping
    assert repr(digest) in str(raised.value) or digest in str(raised.value)


def test_reopen_persists(store: EvidenceStore, reopen: Callable[[], EvidenceStore]) -> None:
    records = [make_record(), make_record("stage5/metric/MLR-2", verdict="fail")]
    commit(store, "r1", *records)
    state = (store.list(), store.runs())
    store.close()
    again = reopen()
    assert (again.list(), again.runs()) == state
    for record in records:
        assert again.get(record.digest) == record
        assert again.latest(record.key) == record


def test_run_ids_are_unique(store: EvidenceStore) -> None:
    commit(store, "r1", make_record())
    with pytest.raises(StoreError, match="already"):
        store.begin("r1", role="verifier", stages=[5])


def test_a_run_commits_once(store: EvidenceStore) -> None:
    run = store.begin("r1", role="verifier", stages=[5], now=at(0))
    run.put(make_record())
    summary = run.commit(now=at(1))
    assert run.summary == summary
    with pytest.raises(StoreError, match="committed"):
        run.commit()
    with pytest.raises(StoreError, match="committed"):
        run.put(make_record("stage5/metric/MLR-2"))
    run.abandon()  # no effect once committed
    assert store.list() == [(make_record().key, make_record().digest)]


def test_an_empty_run_is_recorded(store: EvidenceStore) -> None:
    with store.begin("r1", role="developer", stages=[3], now=at(0)):
        pass
    (summary,) = store.runs()
    assert summary.records == []
    assert store.list() == []


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        ({"run_id": "../escape"}, "run_id='../escape'"),
        ({"run_id": "a/b"}, "run_id="),
        ({"run_id": ""}, "run_id="),
        ({"role": "verifer"}, "did you mean 'verifier'"),
        ({"stages": [2]}, "stages=\\[2\\]"),
        ({"stages": []}, "stages=\\[\\]"),
        ({"now": datetime(2024, 5, 1, 10, 0)}, "no timezone"),
    ],
)
def test_begin_checks_its_arguments(
    store: EvidenceStore, arguments: dict[str, Any], match: str
) -> None:
    call: dict[str, Any] = {"run_id": "r1", "role": "verifier", "stages": [5], "now": at(0)}
    call.update(arguments)
    run_id = call.pop("run_id")
    with pytest.raises(StoreError, match=match):
        store.begin(run_id, **call)


def test_commit_rejects_a_naive_time(store: EvidenceStore) -> None:
    run = store.begin("r1", role="verifier", stages=[5], now=at(0))
    run.put(make_record())
    with pytest.raises(StoreError, match="no timezone"):
        run.commit(now=datetime(2024, 5, 1, 11, 0))
    assert run.state == "open"  # nothing happened; a good time still commits
    run.commit(now=at(1))
    assert len(store.list()) == 1


# -- opening by URI ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "match"),
    [
        ("fss://evidence", "unknown evidence store scheme 'fss'.*did you mean 'fs'"),
        ("sqlit:///evidence.db", "did you mean 'sqlite'"),
        ("postgres://u:secret@h/db", "did you mean 'postgresql'"),
        ("s3://bucket/evidence", "'fs://PATH'.*'sqlite:///PATH'.*SQLAlchemy"),
        ("evidence", "no scheme.*did you mean 'fs://evidence'"),
    ],
)
def test_unknown_scheme(root: Path, uri: str, match: str) -> None:
    with pytest.raises(StoreError, match=match) as raised:
        open_store(uri, root=root)
    assert "secret" not in str(raised.value)
    assert "\n" not in str(raised.value)


# -- signatures (issue 12): kept by every backend, never changing the digest ----------------


def test_a_signature_is_kept_with_the_record(reopen: Callable[[], EvidenceStore]) -> None:
    from amlas.evidence import sign_record
    from amlas.evidence._signature import signature_problem
    from amlas.sealing import VerifierKey, public_key_of

    key = VerifierKey.from_secret(bytes(range(32)))
    record = make_record()
    signed = sign_record(record, key, access_log={"P": "c" * 64})
    assert signed.digest == record.digest  # the signature sits outside the hashed content
    commit(reopen(), "run-1", signed)
    stored = reopen().latest(record.key)
    assert stored is not None
    assert stored.metadata["signature"] == signed.metadata["signature"]
    assert signature_problem(stored, public_key_of(key)) is None
    other = public_key_of(VerifierKey.from_secret(bytes(32)))
    assert "not signed by the declared verifier key" in str(signature_problem(stored, other))


def test_an_unsigned_copy_does_not_hide_the_signed_one(
    reopen: Callable[[], EvidenceStore],
) -> None:
    """A copy with the same digest but no signature, stored first (by anyone), is replaced
    when the verifier stores its signed record: stores keep the first sound copy otherwise."""
    from amlas.evidence import sign_record
    from amlas.sealing import VerifierKey

    key = VerifierKey.from_secret(bytes(range(32)))
    record = make_record()
    commit(reopen(), "run-1", record)
    commit(reopen(), "run-2", sign_record(record, key), start=1)
    stored = reopen().latest(record.key)
    assert stored is not None
    assert "signature" in stored.metadata
    commit(reopen(), "run-3", record, start=2)  # an unsigned copy again: the signed one stays
    stored = reopen().latest(record.key)
    assert stored is not None
    assert "signature" in stored.metadata
