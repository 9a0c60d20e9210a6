"""The evidence-store conformance suite: every check the store contract asks for.

A store author calls :func:`check_store` from their own tests (or parametrizes over
:data:`STORE_CHECKS` for one test per check)::

    from amlas.evidence import open_store
    from amlas.testing import check_store

    def test_my_store_conforms(tmp_path):
        check_store(lambda slot: open_store(f"mystore://{tmp_path}/{slot}", root=tmp_path))

``open_fn(slot)`` opens the store named ``slot``: the same slot again opens the same
store (as a new process would), a new slot an empty one. ``tamper(slot, digest)`` and
``remove(slot, digest)``, when given, damage a stored record behind the store's back
(``tamper`` turns the stored ``"verdict": "fail"`` into ``"pass"``); without them the
checks of corrupt-record detection are skipped. ``uri(slot)`` gives ``(uri, root)`` for
:func:`amlas.evidence.open_store` in a child process, for the killed-process check.

Decision pinned here: records that nothing points at (left by an abandoned, dropped or
killed run) are harmless and ``verify()`` does not report them; it reports only damage.
Every check raises :class:`AssertionError` saying what the store did wrong.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from amlas.evidence import (
    CorruptRecord,
    EvidenceRecord,
    EvidenceStore,
    MemoryStore,
    RecordNotFound,
    Run,
    StoreError,
    open_store,
    sign_record,
)
from amlas.sealing import VerifierKey
from amlas.testing._records import at, make_record

__all__ = [
    "STORE_CHECKS",
    "StoreUnderTest",
    "check_store",
    "memory_store_under_test",
    "run_store_check",
]


@dataclass(frozen=True)
class StoreUnderTest:
    """A store implementation as the checks see it (see the module docs)."""

    open: Callable[[str], EvidenceStore]
    tamper: Callable[[str, str], None] | None = None
    remove: Callable[[str, str], None] | None = None
    uri: Callable[[str], tuple[str, str]] | None = None


@contextlib.contextmanager
def _raises(kind: type[BaseException], match: str = "") -> Iterator[list[BaseException]]:
    caught: list[BaseException] = []
    try:
        yield caught
    except kind as error:
        if match and not re.search(match, str(error)):
            raise AssertionError(
                f"{kind.__name__} {str(error)!r} does not match {match!r}"
            ) from error
        caught.append(error)
        return
    raise AssertionError(f"expected {kind.__name__}" + (f" matching {match!r}" if match else ""))


class _Stores:
    """Opens the slot's store as often as a check asks; closes them all at the end."""

    def __init__(self, target: StoreUnderTest, slot: str) -> None:
        self.target = target
        self.slot = slot
        self._opened: list[EvidenceStore] = []

    def open(self) -> EvidenceStore:
        store = self.target.open(self.slot)
        self._opened.append(store)
        return store

    def close(self) -> None:
        for store in self._opened:
            store.close()


def _commit(store: EvidenceStore, run_id: str, *records: EvidenceRecord, start: int = 0) -> None:
    with store.begin(run_id, role="verifier", stages=[5], now=at(start)) as run:
        for record in records:
            run.put(record)


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


# -- the checks ---------------------------------------------------------------------------


def check_empty_store(stores: _Stores) -> None:
    store = stores.open()
    _expect(isinstance(store, EvidenceStore), f"{store!r} is not an EvidenceStore")
    _expect(store.list() == [], "a new store lists records")
    _expect(store.runs() == [], "a new store lists runs")
    _expect(store.verify() == [], "a new store reports problems")
    _expect(store.latest("stage5/metric/MLR-1") is None, "a new store has a latest record")


def check_put_then_get(stores: _Stores) -> None:
    store = stores.open()
    record = make_record()
    with store.begin("r1", role="verifier", stages=[5], now=at(0)) as run:
        digest = run.put(record)
        _expect(digest == record.digest, "put returned another digest than the record's")
    got = store.get(digest)
    _expect(got == record, "get returned another record than was put")
    _expect(got.metadata == {"host": "ci-1"}, "metadata (not hashed) was not kept")
    _expect(store.list() == [(record.key, digest)], "list does not show the committed record")
    _expect(store.verify() == [], "verify reports problems in a sound store")


def check_put_is_idempotent(stores: _Stores) -> None:
    store = stores.open()
    record = make_record()
    same_content = make_record(metadata={"host": "ci-2"})
    with store.begin("r1", role="verifier", stages=[5], now=at(0)) as run:
        first = run.put(record)
        _expect(run.put(record) == first, "putting a record twice changed its digest")
        _expect(run.put(same_content) == first, "metadata changed the digest")
        _expect(run.records == [(record.key, first)], "a record put twice is listed twice")
    _commit(store, "r2", same_content, start=1)
    _expect(store.get(first).metadata == {"host": "ci-1"}, "the first copy was not kept")
    _expect([len(r.records) for r in store.runs()] == [1, 1], "runs do not list their records")
    _expect(store.verify() == [], "verify reports problems in a sound store")


def check_a_key_is_written_once_per_run(stores: _Stores) -> None:
    store = stores.open()
    with store.begin("r1", role="verifier", stages=[5], now=at(0)) as run:
        run.put(make_record())
        with _raises(StoreError, "already holds a different record"):
            run.put(make_record(verdict="fail"))
    _expect(store.latest("stage5/metric/MLR-1") == make_record(), "the first record was lost")


def check_records_must_match_the_runs_role_and_stages(stores: _Stores) -> None:
    store = stores.open()
    with store.begin("r1", role="verifier", stages=[5], now=at(0)) as run:
        with _raises(StoreError, "role='developer'"):
            run.put(make_record(role="developer"))
        with _raises(StoreError, "stage=3"):
            run.put(make_record(key="stage3/data/DR-1/P", stage=3))
    _expect(store.list() == [], "a refused record was stored")


def check_latest_after_two_runs(stores: _Stores) -> None:
    store = stores.open()
    old = make_record(verdict="fail")
    new = make_record(verdict="pass")
    other = make_record("stage5/metric/MLR-2")
    _commit(store, "r1", old, other, start=0)
    _commit(store, "r2", new, start=1)
    _expect(store.latest(new.key) == new, "latest is not the last committed record")
    _expect(store.latest(other.key) == other, "a later run moved a ref it did not write")
    _expect(store.get(old.digest) == old, "a superseded record is gone")
    _expect(store.latest("stage5/metric/MLR-9") is None, "latest of an unknown key")
    expected = sorted([(new.key, new.digest), (other.key, other.digest)])
    _expect(store.list() == expected, f"list gave {store.list()}, expected {expected}")


def check_list_with_prefix(stores: _Stores) -> None:
    store = stores.open()
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
    _expect([k for k, _ in store.list()] == sorted(keys), "list is not sorted by key")
    metric = [k for k, _ in store.list("stage5/metric/")]
    _expect(metric == ["stage5/metric/MLR-1", "stage5/metric/MLR-2"], f"prefix gave {metric}")
    data = [k for k, _ in store.list("stage3/")]
    _expect(data == ["stage3/data/DR-4/N", "stage3/independence/N-O"], f"prefix gave {data}")
    _expect(store.list("Stage5/") == [], "the prefix is not case-sensitive")
    _expect(store.list("stage4/") == [], "an unused prefix lists records")
    for key, digest in store.list():
        _expect(store.get(digest).key == key, f"ref {key!r} names a record of another key")


def check_runs_are_sorted_by_start_time(stores: _Stores) -> None:
    store = stores.open()
    late = store.begin("b-late", role="verifier", stages=[5], now=at(10))
    early = store.begin("a-early", role="developer", stages=[4, 3, 3], now=at(5))
    late.put(make_record("stage5/metric/MLR-2"))
    late.put(make_record("stage5/metric/MLR-1"))
    late.commit(now=at(11))
    summary = early.commit(now=at(20))
    _commit(store, "c-first", start=-5)
    runs = store.runs()
    order = [r.run_id for r in runs]
    _expect(order == ["c-first", "a-early", "b-late"], f"runs in order {order}")
    _expect(runs[1] == summary, "the stored summary differs from the committed one")
    _expect(
        (summary.role, summary.stages, summary.status) == ("developer", [3, 4], "complete"),
        "the summary's role, stages or status are wrong",
    )
    _expect((summary.started, summary.finished) == (at(5), at(20)), "wrong run times")
    keys = [e.key for e in runs[2].records]
    _expect(keys == ["stage5/metric/MLR-1", "stage5/metric/MLR-2"], "run records not sorted")


def check_times_are_stored_in_utc(stores: _Stores) -> None:
    store = stores.open()
    plus_two = timezone(timedelta(hours=2))
    with store.begin("r1", role="verifier", stages=[5], now=at(0).astimezone(plus_two)) as run:
        run.put(make_record())
    (summary,) = store.runs()
    _expect(summary.started == at(0), "the start time changed")
    _expect(summary.started.utcoffset() == timedelta(0), "the start time is not in UTC")


def check_abandoned_run_leaves_refs_unchanged(stores: _Stores) -> None:
    store = stores.open()
    _commit(store, "r1", make_record(verdict="fail"), start=0)
    before = store.list()
    run = store.begin("r2", role="verifier", stages=[5], now=at(1))
    with _raises(RuntimeError, "check crashed"), run:
        run.put(make_record(verdict="pass"))
        run.put(make_record("stage5/metric/MLR-2"))
        raise RuntimeError("check crashed")
    _expect(run.state == "abandoned", f"a run whose block raised is {run.state}")
    _expect(store.list() == before, "an abandoned run moved refs")
    _expect([r.run_id for r in store.runs()] == ["r1"], "an abandoned run is listed")
    _expect(store.verify() == [], "records of an abandoned run are reported as damage")
    with _raises(StoreError, "abandoned"):
        run.put(make_record())
    with _raises(StoreError, "abandoned"):
        run.commit()


def check_dropped_run_is_abandoned(stores: _Stores) -> None:
    """In-process crash: the Run is lost without commit or abandon, then the store reopened."""
    store = stores.open()
    _commit(store, "r1", make_record(verdict="fail"), start=0)
    before = store.list()
    run: Run | None = store.begin("r2", role="verifier", stages=[5], now=at(1))
    assert run is not None
    run.put(make_record(verdict="pass"))
    run = None
    gc.collect()
    store.close()
    again = stores.open()
    _expect(again.list() == before, "a dropped run moved refs")
    _expect([r.run_id for r in again.runs()] == ["r1"], "a dropped run is listed")
    _expect(again.verify() == [], "unreferenced records are reported as damage")
    _commit(again, "r3", make_record(verdict="inconclusive"), start=2)  # nothing left locked
    latest = again.latest("stage5/metric/MLR-1")
    _expect(latest == make_record(verdict="inconclusive"), "a later run cannot commit")


def check_closing_the_store_abandons_open_runs(stores: _Stores) -> None:
    store = stores.open()
    run = store.begin("r1", role="verifier", stages=[5], now=at(0))
    run.put(make_record())
    store.close()
    _expect(run.state == "abandoned", f"closing the store left the run {run.state}")
    with _raises(StoreError, "closed"):
        store.list()
    _expect(stores.open().list() == [], "a run open at close was committed")


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


def check_killed_process_leaves_the_store_intact(stores: _Stores) -> None:
    if stores.target.uri is None:
        return
    uri, root = stores.target.uri(stores.slot)
    store = stores.open()
    _commit(store, "r1", make_record(verdict="fail"), start=0)
    before = (store.list(), store.runs())
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_RUN, uri, root],
        input=make_record(verdict="pass").to_json(),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "error"},
        check=False,
    )
    outcome = (done.returncode, done.stdout, done.stderr)
    _expect(outcome == (9, "put\n", ""), f"the child process ended with {outcome}")
    _expect((store.list(), store.runs()) == before, "a killed run changed refs or runs")
    _expect(store.verify() == [], "a killed run left damage")
    _commit(store, "r2", make_record(verdict="inconclusive"), start=1)
    latest = store.latest("stage5/metric/MLR-1")
    _expect(latest == make_record(verdict="inconclusive"), "a later run cannot commit")


def check_tampered_record_is_detected(stores: _Stores) -> None:
    tamper = stores.target.tamper
    if tamper is None:
        return
    store = stores.open()
    record = make_record(verdict="fail")
    _commit(store, "r1", record, make_record("stage5/metric/MLR-2"))
    tamper(stores.slot, record.digest)
    with _raises(CorruptRecord, record.digest):
        store.get(record.digest)
    with _raises(CorruptRecord):
        store.latest(record.key)
    problems = store.verify()
    _expect(len(problems) == 1 and record.digest in problems[0], f"verify gave {problems}")
    _expect(store.latest("stage5/metric/MLR-2") is not None, "damage blocks sound records")


def check_putting_a_sound_copy_repairs_a_tampered_record(stores: _Stores) -> None:
    tamper = stores.target.tamper
    if tamper is None:
        return
    store = stores.open()
    record = make_record(verdict="fail")
    _commit(store, "r1", record, start=0)
    tamper(stores.slot, record.digest)
    _commit(store, "r2", record, start=1)
    _expect(store.get(record.digest) == record, "a sound copy did not replace a damaged one")
    _expect(store.verify() == [], "the repaired store reports problems")


def check_missing_record_is_reported(stores: _Stores) -> None:
    remove = stores.target.remove
    if remove is None:
        return
    store = stores.open()
    record = make_record(verdict="fail")
    _commit(store, "r1", record)
    remove(stores.slot, record.digest)
    with _raises(RecordNotFound):
        store.get(record.digest)
    with _raises(CorruptRecord, "no such record"):
        store.latest(record.key)
    problems = store.verify()
    _expect(len(problems) == 2, f"expected the refs and run r1 named, got {problems}")
    _expect(all(record.digest in p for p in problems), f"problems do not name it: {problems}")


def check_unknown_digest(stores: _Stores) -> None:
    store = stores.open()
    _commit(store, "r1", make_record())
    for digest in ["0" * 64, "not-a-digest", "../../refs", "A" * 64, ""]:
        with _raises(RecordNotFound) as caught:
            store.get(digest)
        error = caught[0]
        _expect(isinstance(error, KeyError), "RecordNotFound is not a KeyError")
        _expect(repr(digest) in str(error) or digest in str(error), f"{error} does not name it")


def check_reopen_persists(stores: _Stores) -> None:
    store = stores.open()
    records = [make_record(), make_record("stage5/metric/MLR-2", verdict="fail")]
    _commit(store, "r1", *records)
    state = (store.list(), store.runs())
    store.close()
    again = stores.open()
    _expect((again.list(), again.runs()) == state, "reopening lost refs or runs")
    for record in records:
        _expect(again.get(record.digest) == record, "reopening lost a record")
        _expect(again.latest(record.key) == record, "reopening lost a ref")


def check_run_ids_are_unique(stores: _Stores) -> None:
    store = stores.open()
    _commit(store, "r1", make_record())
    with _raises(StoreError, "already"):
        store.begin("r1", role="verifier", stages=[5])


def check_a_run_commits_once(stores: _Stores) -> None:
    store = stores.open()
    run = store.begin("r1", role="verifier", stages=[5], now=at(0))
    run.put(make_record())
    summary = run.commit(now=at(1))
    _expect(run.summary == summary, "the run does not hold its summary")
    with _raises(StoreError, "committed"):
        run.commit()
    with _raises(StoreError, "committed"):
        run.put(make_record("stage5/metric/MLR-2"))
    run.abandon()  # no effect once committed
    _expect(store.list() == [(make_record().key, make_record().digest)], "abandon undid a commit")


def check_an_empty_run_is_recorded(stores: _Stores) -> None:
    store = stores.open()
    with store.begin("r1", role="developer", stages=[3], now=at(0)):
        pass
    (summary,) = store.runs()
    _expect(summary.records == [] and store.list() == [], "an empty run wrote records")


_BAD_BEGIN: list[tuple[dict[str, Any], str]] = [
    ({"run_id": "../escape"}, "run_id='../escape'"),
    ({"run_id": "a/b"}, "run_id="),
    ({"run_id": ""}, "run_id="),
    ({"role": "verifer"}, "did you mean 'verifier'"),
    ({"stages": [2]}, "stages=\\[2\\]"),
    ({"stages": []}, "stages=\\[\\]"),
    ({"now": datetime(2024, 5, 1, 10, 0)}, "no timezone"),
]


def check_begin_checks_its_arguments(stores: _Stores) -> None:
    store = stores.open()
    for arguments, match in _BAD_BEGIN:
        call: dict[str, Any] = {"run_id": "r1", "role": "verifier", "stages": [5], "now": at(0)}
        call.update(arguments)
        run_id = call.pop("run_id")
        with _raises(StoreError, match):
            store.begin(run_id, **call)


def check_commit_rejects_a_naive_time(stores: _Stores) -> None:
    store = stores.open()
    run = store.begin("r1", role="verifier", stages=[5], now=at(0))
    run.put(make_record())
    with _raises(StoreError, "no timezone"):
        run.commit(now=datetime(2024, 5, 1, 11, 0))
    _expect(run.state == "open", "a refused commit changed the run")
    run.commit(now=at(1))
    _expect(len(store.list()) == 1, "the run did not commit")


def check_a_signature_is_kept_with_the_record(stores: _Stores) -> None:
    key = VerifierKey.from_secret(bytes(range(32)))
    record = make_record()
    signed = sign_record(record, key, access_log={"P": "c" * 64})
    _expect(signed.digest == record.digest, "the signature changed the digest")
    _commit(stores.open(), "run-1", signed)
    stored = stores.open().latest(record.key)
    _expect(stored is not None, "the signed record is gone")
    assert stored is not None
    same = stored.metadata.get("signature") == signed.metadata["signature"]
    _expect(same, "the signature was not kept")


def check_an_unsigned_copy_does_not_hide_the_signed_one(stores: _Stores) -> None:
    """A copy with the same digest but no signature, stored first, is replaced when the
    verifier stores its signed record; otherwise stores keep the first sound copy."""
    key = VerifierKey.from_secret(bytes(range(32)))
    record = make_record()
    _commit(stores.open(), "run-1", record)
    _commit(stores.open(), "run-2", sign_record(record, key), start=1)
    for run_id, start in (("", 0), ("run-3", 2)):
        if run_id:  # an unsigned copy again: the signed one stays
            _commit(stores.open(), run_id, record, start=start)
        stored = stores.open().latest(record.key)
        _expect(stored is not None and "signature" in stored.metadata, "the signature was lost")


STORE_CHECKS: tuple[Callable[[_Stores], None], ...] = (
    check_empty_store,
    check_put_then_get,
    check_put_is_idempotent,
    check_a_key_is_written_once_per_run,
    check_records_must_match_the_runs_role_and_stages,
    check_latest_after_two_runs,
    check_list_with_prefix,
    check_runs_are_sorted_by_start_time,
    check_times_are_stored_in_utc,
    check_abandoned_run_leaves_refs_unchanged,
    check_dropped_run_is_abandoned,
    check_closing_the_store_abandons_open_runs,
    check_killed_process_leaves_the_store_intact,
    check_tampered_record_is_detected,
    check_putting_a_sound_copy_repairs_a_tampered_record,
    check_missing_record_is_reported,
    check_unknown_digest,
    check_reopen_persists,
    check_run_ids_are_unique,
    check_a_run_commits_once,
    check_an_empty_run_is_recorded,
    check_begin_checks_its_arguments,
    check_commit_rejects_a_naive_time,
    check_a_signature_is_kept_with_the_record,
    check_an_unsigned_copy_does_not_hide_the_signed_one,
)
"""Every store check, in order; each takes a fresh slot (see :func:`run_store_check`)."""


def run_store_check(check: Callable[[_Stores], None], target: StoreUnderTest) -> None:
    """Run one check of :data:`STORE_CHECKS` on a fresh slot named after it."""
    stores = _Stores(target, check.__name__.removeprefix("check_").replace("_", "-"))
    try:
        check(stores)
    finally:
        stores.close()


def check_store(
    open_fn: Callable[[str], EvidenceStore],
    *,
    tamper: Callable[[str, str], None] | None = None,
    remove: Callable[[str, str], None] | None = None,
    uri: Callable[[str], tuple[str, str]] | None = None,
) -> None:
    """Run every check of the store contract; see the module docs for the arguments."""
    target = StoreUnderTest(open_fn, tamper=tamper, remove=remove, uri=uri)
    for check in STORE_CHECKS:
        try:
            run_store_check(check, target)
        except AssertionError as error:
            raise AssertionError(f"{check.__name__}: {error}") from error


def memory_store_under_test(root: str | Path = ".") -> StoreUnderTest:
    """The in-memory store (``memory://``), each slot under a name no other call uses,
    with hooks that damage its records."""
    prefix = f"check-{uuid.uuid4().hex[:12]}"

    def uri(slot: str) -> tuple[str, str]:
        return f"memory://{prefix}-{slot}", str(root)

    def open_fn(slot: str) -> EvidenceStore:
        return open_store(uri(slot)[0], root=root)

    def raw(slot: str) -> dict[str, str]:
        store = open_fn(slot)
        assert isinstance(store, MemoryStore)
        return store.raw_records

    def tamper(slot: str, digest: str) -> None:
        records = raw(slot)
        records[digest] = records[digest].replace('"verdict": "fail"', '"verdict": "pass"')

    def remove(slot: str, digest: str) -> None:
        del raw(slot)[digest]

    return StoreUnderTest(open_fn, tamper=tamper, remove=remove, uri=uri)
