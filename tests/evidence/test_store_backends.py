"""What each backend puts where: URIs, on-disk layout and backend-specific damage."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from evidence_factory import T0, make_record

from amlas.evidence import EvidenceRecord, RunSummary, StoreError, open_store


def _commit(uri: str, root: Path, *records: EvidenceRecord, run_id: str = "r1") -> None:
    with (
        open_store(uri, root=root) as store,
        store.begin(run_id, role="verifier", stages=[5], now=T0) as run,
    ):
        for record in records:
            run.put(record)
        run.commit(now=T0 + timedelta(seconds=90))


# -- fs ---------------------------------------------------------------------------------


def test_fs_layout(tmp_path: Path) -> None:
    first, second = make_record("stage5/metric/MLR-2"), make_record("stage5/metric/MLR-1")
    _commit("fs://evidence", tmp_path, first, second, run_id="2024-05-01.1")
    base = tmp_path / "evidence"
    for record in (first, second):
        path = base / "objects" / record.digest[:2] / f"{record.digest}.json"
        assert path.read_text("utf-8") == record.to_json()
    refs_text = (base / "refs.json").read_text("utf-8")
    assert refs_text.endswith("}\n")
    assert list(json.loads(refs_text).items()) == [
        ("stage5/metric/MLR-1", second.digest),
        ("stage5/metric/MLR-2", first.digest),
    ]
    run = json.loads((base / "runs" / "2024-05-01.1.json").read_text("utf-8"))
    assert run == {
        "schema": "amlas.run/1",
        "run_id": "2024-05-01.1",
        "role": "verifier",
        "stages": [5],
        "started": "2024-05-01T10:00:00Z",
        "finished": "2024-05-01T10:01:30Z",
        "status": "complete",
        "records": [
            {"key": "stage5/metric/MLR-1", "digest": second.digest},
            {"key": "stage5/metric/MLR-2", "digest": first.digest},
        ],
    }
    assert RunSummary.from_json((base / "runs" / "2024-05-01.1.json").read_text("utf-8"))


@pytest.mark.parametrize(
    ("uri", "folder"),
    [("fs://", "evidence"), ("fs://evidence", "evidence"), ("fs://out/ev", "out/ev")],
)
def test_fs_relative_paths_are_inside_the_project(tmp_path: Path, uri: str, folder: str) -> None:
    _commit(uri, tmp_path, make_record())
    assert (tmp_path / folder / "refs.json").is_file()


def test_fs_absolute_path(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "ev"
    _commit(f"fs://{target}", tmp_path / "project", make_record())
    assert (target / "refs.json").is_file()
    assert not (tmp_path / "project").exists()


def test_fs_opening_creates_nothing(tmp_path: Path) -> None:
    with open_store("fs://evidence", root=tmp_path) as store:
        assert store.list() == []
    assert list(tmp_path.iterdir()) == []


def test_fs_store_path_must_be_a_folder(tmp_path: Path) -> None:
    (tmp_path / "evidence").write_text("not a folder", "utf-8")
    with pytest.raises(StoreError, match="not a folder"):
        open_store("fs://evidence", root=tmp_path)


def test_fs_verify_names_misplaced_and_damaged_files(tmp_path: Path) -> None:
    record = make_record()
    _commit("fs://evidence", tmp_path, record)
    objects = tmp_path / "evidence" / "objects"
    # A leftover of an atomic write killed mid-way: harmless, not reported.
    (objects / record.digest[:2] / f".{record.digest}.json.x1.tmp").write_text("{", "utf-8")
    (objects / "zz").mkdir()
    wrong = "f" * 64
    (objects / "ff").mkdir(exist_ok=True)
    (objects / "ff" / f"{wrong}.json").write_text(record.to_json(), "utf-8")
    (objects / "ff" / ("d" * 64 + ".json")).write_text(record.to_json(), "utf-8")
    (objects / "ee").mkdir()
    (objects / "ee" / ("e" * 64 + ".json")).write_text("{not json", "utf-8")
    with open_store("fs://evidence", root=tmp_path) as store:
        problems = store.verify()
        assert store.latest(record.key) == record  # damage elsewhere does not block it
    assert len(problems) == 4, problems  # each once, in path order
    assert any(p.startswith("objects/zz") for p in problems)
    assert any(f"objects/ff/{wrong}.json: content hashes to" in p for p in problems)
    assert any(p.startswith("objects/ee/") and "not a valid evidence record" in p for p in problems)
    assert any(p.startswith("objects/ff/" + "d" * 64 + ".json: not named") for p in problems)


def test_fs_damaged_refs_stop_reads_and_commits(tmp_path: Path) -> None:
    _commit("fs://evidence", tmp_path, make_record())
    (tmp_path / "evidence" / "refs.json").write_text('{"stage5/x": ', "utf-8")
    with open_store("fs://evidence", root=tmp_path) as store:
        with pytest.raises(StoreError, match=r"refs\.json is damaged"):
            store.list()
        assert any("refs.json is damaged" in p for p in store.verify())
        run = store.begin("r2", role="verifier", stages=[5], now=T0)
        run.put(make_record(verdict="fail"))
        with pytest.raises(StoreError, match="damaged"):
            run.commit()
        assert run.state == "abandoned"
    assert not (tmp_path / "evidence" / "runs" / "r2.json").exists()


def test_fs_refs_to_a_record_of_another_key(tmp_path: Path) -> None:
    one, two = make_record("stage5/metric/MLR-1"), make_record("stage5/metric/MLR-2")
    _commit("fs://evidence", tmp_path, one, two)
    refs_file = tmp_path / "evidence" / "refs.json"
    refs = json.loads(refs_file.read_text("utf-8"))
    refs[one.key] = two.digest
    refs_file.write_text(json.dumps(refs), "utf-8")
    with open_store("fs://evidence", root=tmp_path) as store:
        assert store.verify() == [
            f"refs.json: key {one.key!r} names {two.digest}, a record of key {two.key!r}"
        ]
        with pytest.raises(StoreError, match="that record has key"):
            store.latest(one.key)


# -- sql --------------------------------------------------------------------------------


def test_sqlite_relative_path_is_inside_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    _commit("sqlite:///data/evidence.db", tmp_path / "project", make_record())
    assert (tmp_path / "project" / "data" / "evidence.db").is_file()
    assert list(elsewhere.iterdir()) == []


def test_sqlite_absolute_path(tmp_path: Path) -> None:
    target = tmp_path / "abs" / "ev.db"
    assert str(target).startswith("/")
    _commit(f"sqlite:///{target}", tmp_path / "project", make_record())  # four slashes
    assert target.is_file()


def test_sqlite_tables(tmp_path: Path) -> None:
    record = make_record()
    _commit("sqlite:///evidence.db", tmp_path, record)
    with contextlib.closing(sqlite3.connect(tmp_path / "evidence.db")) as conn:
        rows = conn.execute('SELECT digest, key, "check", stage, verdict, json FROM records')
        assert rows.fetchall() == [
            (record.digest, record.key, "metric.recall", 5, "pass", record.to_json())
        ]
        refs = conn.execute("SELECT key, digest FROM refs").fetchall()
        assert refs == [(record.key, record.digest)]
        ((run_id, text),) = conn.execute("SELECT run_id, json FROM runs").fetchall()
    assert run_id == "r1"
    assert RunSummary.from_json(text).records[0].digest == record.digest


def test_sqlite_verify_checks_the_query_columns(tmp_path: Path) -> None:
    record = make_record()
    _commit("sqlite:///evidence.db", tmp_path, record)
    with contextlib.closing(sqlite3.connect(tmp_path / "evidence.db")) as conn, conn:
        conn.execute("UPDATE records SET verdict = 'fail'")
    with open_store("sqlite:///evidence.db", root=tmp_path) as store:
        assert store.verify() == [
            f"records[{record.digest}]: key/check/stage/verdict columns differ from its json"
        ]


@pytest.mark.parametrize("uri", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_refused(tmp_path: Path, uri: str) -> None:
    with pytest.raises(StoreError, match="in-memory"):
        open_store(uri, root=tmp_path)


@pytest.mark.parametrize(
    ("uri", "hint"),
    [
        ("postgresql://user:secret@db.example/amlas", "pip install 'psycopg[binary]'"),
        ("postgresql+psycopg2://user:secret@db.example/amlas", "pip install 'psycopg2-binary'"),
        ("mysql+pymysql://user:secret@db.example/amlas", "pip install 'PyMySQL'"),
    ],
)
def test_missing_driver_is_a_one_line_hint(tmp_path: Path, uri: str, hint: str) -> None:
    pytest.importorskip("sqlalchemy")
    driver = hint.split("'")[1].split("[")[0].lower().replace("-binary", "")
    with contextlib.suppress(ImportError):
        __import__(driver)
        pytest.skip(f"{driver} is installed")
    with pytest.raises(StoreError, match="needs the database driver") as raised:
        open_store(uri, root=tmp_path)
    message = str(raised.value)
    assert hint in message
    assert "\n" not in message
    assert "secret" not in message


# -- memory -----------------------------------------------------------------------------


def test_memory_stores_are_shared_by_name(tmp_path: Path) -> None:
    from amlas.evidence import forget_memory_store

    record = make_record()
    _commit("memory://shared-by-name", tmp_path, record)
    with open_store("memory://shared-by-name", root=tmp_path / "elsewhere") as again:
        assert again.latest(record.key) == record
        with open_store("memory://another-name", root=tmp_path) as other:
            assert other.list() == []
        forget_memory_store("shared-by-name")
        assert again.list() == []
    assert list(tmp_path.iterdir()) == []  # nothing written to disk


@pytest.mark.parametrize("uri", ["memory://a/b", "memory://.hidden", "memory://x y"])
def test_memory_store_names_are_plain(tmp_path: Path, uri: str) -> None:
    with pytest.raises(StoreError, match="not a memory store name"):
        open_store(uri, root=tmp_path)
