"""The evidence-store contract (amlas.testing's conformance suite), run over every
registered backend, plus what opening by URI promises.

The checks themselves live in :mod:`amlas.testing._stores` so that third-party stores run
the same suite (``amlas.testing.check_store``); here each check is one test per backend.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from amlas.evidence import EvidenceStore, StoreError, open_store
from amlas.plugins import registry
from amlas.testing import (
    STORE_CHECKS,
    StoreUnderTest,
    check_store,
    memory_store_under_test,
    run_store_check,
)

# -- backends ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """A store URI (in a project folder) plus how to damage that backend behind its back."""

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


# registry name -> the backend in a project folder (the memory store needs none)
BACKENDS = {
    "fs": Backend("fs://evidence", _fs_tamper, _fs_remove),
    "sql": Backend("sqlite:///evidence.db", _sql_tamper, _sql_remove),
    "memory": None,
}


def _under_test(name: str, base: Path) -> StoreUnderTest:
    """The backend ``name`` with one project folder per slot under ``base``."""
    backend = BACKENDS[name]
    if backend is None:
        return memory_store_under_test(base)

    def root(slot: str) -> Path:
        folder = base / slot
        folder.mkdir(exist_ok=True)
        return folder

    return StoreUnderTest(
        open=lambda slot: open_store(backend.uri, root=root(slot)),
        tamper=lambda slot, digest: backend.tamper(root(slot), digest),
        remove=lambda slot, digest: backend.remove(root(slot), digest),
        uri=lambda slot: (backend.uri, str(root(slot))),
    )


def test_every_registered_backend_is_tested() -> None:
    assert set(BACKENDS) == set(registry("amlas.stores").names())


@pytest.mark.parametrize("check", STORE_CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("name", list(BACKENDS))
def test_store_contract(name: str, check: Callable[..., None], tmp_path: Path) -> None:
    run_store_check(check, _under_test(name, tmp_path))


def test_check_store_runs_the_whole_suite(tmp_path: Path) -> None:
    target = memory_store_under_test(tmp_path)
    check_store(target.open, tamper=target.tamper, remove=target.remove, uri=target.uri)


def test_check_store_fails_a_store_that_breaks_the_contract(tmp_path: Path) -> None:
    """A store that forgets its records on reopen fails the suite, naming the check."""
    target = memory_store_under_test(tmp_path)
    opened: dict[str, int] = {}

    def forgetful(slot: str) -> EvidenceStore:
        opened[slot] = opened.get(slot, 0) + 1
        return target.open(f"{slot}-{opened[slot]}")

    with pytest.raises(AssertionError, match="check_"):
        check_store(forgetful)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


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


# -- signatures (issue 12): a stored signature still verifies, on every backend ------------


@pytest.mark.parametrize("name", list(BACKENDS))
def test_a_stored_signature_still_verifies(name: str, tmp_path: Path) -> None:
    from amlas.evidence import sign_record
    from amlas.evidence._signature import signature_problem
    from amlas.sealing import VerifierKey, public_key_of
    from amlas.testing import make_record

    target = _under_test(name, tmp_path)
    key = VerifierKey.from_secret(bytes(range(32)))
    record = make_record()
    with target.open("s") as store, store.begin("run-1", role="verifier", stages=[5]) as run:
        run.put(sign_record(record, key, access_log={"P": "c" * 64}))
    with target.open("s") as store:
        stored = store.latest(record.key)
    assert stored is not None
    assert signature_problem(stored, public_key_of(key)) is None
    other = public_key_of(VerifierKey.from_secret(bytes(32)))
    assert "not signed by the declared verifier key" in str(signature_problem(stored, other))
