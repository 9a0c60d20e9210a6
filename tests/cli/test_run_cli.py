"""``amlas keygen``, ``seal``, ``run`` and ``evidence``: exit statuses, output, no traceback.

The project is the factory one with the lookup model of ``tests/evidence/test_run.py``.
"""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evidence"))

from test_run import ACCESS_LOG, SEALED_P, runnable, small_band_positives

from amlas.sealing import AccessLog, load_key
from cli_helpers import run
from factory import DATA_FILE, documents


@pytest.fixture(autouse=True)
def _fresh_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("MINI_MODEL_MISS", "MINI_MODEL_RAISE", "AMLAS_VERIFIER_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AMLAS_VERIFIER_KEY", raising=False)
    monkeypatch.delenv("AMLAS_DEBUG", raising=False)
    sys.modules.pop("mini_model", None)
    yield
    sys.modules.pop("mini_model", None)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return runnable(tmp_path / "mini")


@pytest.fixture
def key_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    path = tmp_path / "keys" / "verifier.key"
    assert run(capsys, "keygen", str(path))[0] == 0
    return path


@pytest.fixture
def sealed(root: Path, key_file: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert run(capsys, "seal", str(root), "--key-file", str(key_file))[0] == 0
    return root


# -- keygen and seal -------------------------------------------------------------------------


def test_keygen_writes_an_owner_only_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keys" / "v.key"
    status, out, _ = run(capsys, "keygen", str(path))
    assert status == 0
    key = load_key(path)
    assert key.key_id in out
    assert key.encoded_secret() not in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_keygen_never_overwrites_a_key(key_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = key_file.read_bytes()
    status, _, err = run(capsys, "keygen", str(key_file))
    assert status == 2
    assert "already exists" in err
    assert len(err.strip().splitlines()) == 1
    assert key_file.read_bytes() == before


def test_seal(root: Path, key_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "seal", str(root), "--key-file", str(key_file))

    assert status == 0
    assert f"sealed [P] into {SEALED_P} (key {load_key(key_file).key_id}" in out
    assert f"access log: {ACCESS_LOG}" in out
    assert "plaintext removed" in out
    assert not (root / DATA_FILE["P"]).exists()
    assert (root / SEALED_P).is_file()
    assert [e.event for e in AccessLog(root / ACCESS_LOG).entries()] == ["seal"]
    status, out, _ = run(capsys, "check", str(root))
    assert status == 0, out


def test_seal_with_the_key_in_the_environment(
    root: Path, key_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMLAS_VERIFIER_KEY_FILE", str(key_file))
    status, out, _ = run(capsys, "seal", str(root), "--keep-plaintext")
    assert status == 0
    assert "plaintext removed" not in out
    assert (root / DATA_FILE["P"]).exists()
    status, out, _ = run(capsys, "check", str(root))
    assert status == 0
    assert "D013" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "no verifier key"),
        (("--key-file", "/nonexistent/verifier.key"), "not found"),
        (("--dataset", "Q"), "Invalid value for '--dataset'"),
    ],
)
def test_seal_usage_problems(
    root: Path, argv: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "seal", str(root), *argv)
    assert status == 2
    assert message in err
    assert (root / DATA_FILE["P"]).exists()


def test_sealing_twice_is_a_usage_problem(
    sealed: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "seal", str(sealed), "--key-file", str(key_file))
    assert status == 2
    assert "already sealed" in err
    assert len(err.strip().splitlines()) == 1


# -- run -----------------------------------------------------------------------------------


def test_run_table(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "run", str(root))
    assert status == 1  # stage 3 fails: the factory datasets share sizes (independence)
    assert "amlas run (developer)" in out
    for text in ("MLR-1", "MLR-2", "DR-1", "independence", "size=small", "inconclusive"):
        assert text in out
    assert "not run: DR-3: no machine-checkable rule" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("14 evidence records (7 pass, 6 fail, 1 inconclusive) in fs://evidence")


def test_run_json_and_exit_statuses(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "run", str(root), "--stage", "4", "--format", "json")
    assert status == 0
    payload = json.loads(out)
    assert payload["role"] == "developer"
    assert payload["stages"] == [4]
    assert payload["counts"] == {"pass": 1, "fail": 0, "inconclusive": 1}
    assert [r["key"] for r in payload["records"]] == ["stage4/MLR-1/O", "stage4/MLR-2/O"]
    assert all(len(r["digest"]) == 64 for r in payload["records"])
    assert [(r["check"], r["slice"]) for r in payload["rows"]] == [
        ("MLR-1", "size=small"),
        ("MLR-1", "size=large"),
        ("MLR-2", "all"),
    ]
    assert payload["store"] == "fs://evidence"

    status, _, _ = run(capsys, "run", str(root), "--stage", "4", "--strict")
    assert status == 1  # inconclusive counts under --strict


def test_run_exits_1_on_a_failed_requirement(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINI_MODEL_MISS", ",".join(small_band_positives("O", 3)))
    status, out, _ = run(capsys, "run", str(root), "--stage", "4", "--format", "json")
    assert status == 1
    payload = json.loads(out)
    assert payload["counts"]["fail"] == 1
    assert {"check": "MLR-1", "slice": "size=small", "verdict": "fail"}.items() <= next(
        r for r in payload["rows"] if r["slice"] == "size=small"
    ).items()


def test_run_into_a_sqlite_store(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "run", str(root), "--stage", "4", "--store", "sqlite:///ev.db")
    assert status == 0
    assert "in sqlite:///ev.db" in out
    assert (root / "ev.db").is_file()
    status, out, _ = run(capsys, "evidence", str(root), "--store", "sqlite:///ev.db")
    assert status == 0
    assert "stage4/MLR-1/O" in out


def test_verifier_run_on_sealed_data(
    sealed: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "run", str(sealed), "--stage", "3", "--stage", "4")
    assert status == 1
    assert "not run: DR-1 on [P]: [P] is sealed" in out

    argv = ("run", str(sealed), "--role", "verifier", "--key-file", str(key_file))
    status, out, _ = run(capsys, *argv, "--stage", "5", "--format", "json")
    assert status == 0
    payload = json.loads(out)
    assert payload["role"] == "verifier"
    assert [r["key"] for r in payload["records"]] == ["stage5/MLR-1/P", "stage5/MLR-2/P"]
    assert not any("has been used" in w for w in payload["warnings"])
    assert not (sealed / DATA_FILE["P"]).exists()
    events = [e.event for e in AccessLog(sealed / ACCESS_LOG).entries()]
    assert events == ["seal", "unseal", "use"]


def test_run_on_a_project_with_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = documents()
    docs["H"]["requirements"][0]["threshold"] = "high"
    root = runnable(tmp_path / "broken", docs)
    status, out, err = run(capsys, "run", str(root))
    assert status == 1
    assert "S003" in out
    assert "nothing was run" in err
    assert not (root / "evidence").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--stage", "5"), "only the verifier role"),
        (("--role", "verifier"), "the verifier role needs its key"),
        (("--role", "verifier", "--key-file", "/nonexistent/v.key"), "not found"),
        (("--store", "nosuch://x"), "nosuch"),
    ],
)
def test_run_usage_problems_are_one_line(
    root: Path, argv: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "run", str(root), *argv)
    assert status == 2
    assert err.strip().startswith("amlas: error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""


@pytest.mark.parametrize("stage", ["2", "7", "four"])
def test_unknown_stage(root: Path, stage: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "run", str(root), "--stage", stage)
    assert status == 2
    errors = [line for line in err.splitlines() if "Error" in line or "error" in line]
    assert len(errors) == 1
    assert "'--stage'" in errors[0]
    assert stage in errors[0]
    assert out == ""
    assert not (root / "evidence").exists()


def test_run_on_a_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "run", str(tmp_path / "nothing"))
    assert status == 2
    assert err.strip()


def test_tampered_sealed_file_is_a_usage_problem(
    sealed: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sealed / SEALED_P
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))
    argv = ("run", str(sealed), "--role", "verifier", "--key-file", str(key_file))
    status, out, err = run(capsys, *argv, "--stage", "5")
    assert status == 2
    assert "modified after sealing" in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""


def test_a_failing_model_is_a_usage_problem(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINI_MODEL_RAISE", "O")
    status, out, err = run(capsys, "run", str(root), "--stage", "4")
    assert status == 2
    assert "deliberate failure on [O]" in err
    assert out == ""
    assert not (root / "evidence").exists()


# -- evidence ------------------------------------------------------------------------------


def test_evidence_lists_and_verifies(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "run", str(root), "--stage", "4", "--format", "json")
    assert status == 0
    digests = {r["key"]: r["digest"] for r in json.loads(out)["records"]}

    status, out, _ = run(capsys, "evidence", str(root))
    assert status == 0
    lines = out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("stage4/MLR-1/O")
    assert "inconclusive" in lines[0]
    assert digests["stage4/MLR-1/O"][:12] in lines[0]
    assert lines[1].split()[:2] == ["stage4/MLR-2/O", "pass"]

    status, out, _ = run(capsys, "evidence", str(root), "--verify")
    assert status == 0
    assert out.strip().endswith("fs://evidence: 0 problem(s)")

    digest = digests["stage4/MLR-2/O"]
    obj = root / "evidence" / "objects" / digest[:2] / f"{digest}.json"
    assert obj.is_file()
    obj.write_text(obj.read_text().replace('"pass"', '"fail"'))
    status, out, _ = run(capsys, "evidence", str(root), "--verify")
    assert status == 1
    assert digest[:12] in out
    assert out.strip().endswith("fs://evidence: 1 problem(s)")


def test_evidence_of_an_empty_store(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "evidence", str(root))
    assert status == 0
    assert out == ""
    status, out, _ = run(capsys, "evidence", str(root), "--verify")
    assert status == 0
    assert "0 problem(s)" in out


def test_evidence_refuses_to_list_a_changed_record(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "run", str(root), "--stage", "4")[0] == 0
    (obj,) = [
        p for p in (root / "evidence" / "objects").rglob("*.json") if "MLR-2" in p.read_text()
    ]
    obj.write_text(obj.read_text().replace('"pass"', '"fail"'))
    status, _, err = run(capsys, "evidence", str(root))
    assert status != 0
    assert "changed after it was stored" in err
    assert len(err.strip().splitlines()) == 1


def test_verify_lists_damaged_refs(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "run", str(root), "--stage", "4")[0] == 0
    (root / "evidence" / "refs.json").write_text("{\n")
    status, out, _ = run(capsys, "evidence", str(root), "--verify")
    assert status == 1
    assert "refs.json" in out
    assert "problem(s)" in out.strip().splitlines()[-1]


def test_verify_sees_a_truncated_access_log(
    sealed: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("run", str(sealed), "--role", "verifier", "--key-file", str(key_file))
    assert run(capsys, *argv, "--stage", "5")[0] == 0
    assert run(capsys, "evidence", str(sealed), "--verify")[0] == 0
    # cutting the unseal and use entries off the end keeps the hash chain consistent
    log = sealed / ACCESS_LOG
    log.write_text(log.read_text().splitlines(keepends=True)[0])
    assert run(capsys, "check", str(sealed))[0] == 0
    status, out, _ = run(capsys, "evidence", str(sealed), "--verify")
    assert status == 1
    assert "stage5/MLR-1/P" in out
    assert "stage5/MLR-2/P" in out
