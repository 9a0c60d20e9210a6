"""``amlas keygen``, ``seal``, ``run`` and ``evidence``: exit statuses, output, no traceback.

The project is the factory one with the lookup model of ``tests/verify/test_run.py``.
"""

from __future__ import annotations

import json
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "verify"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evidence"))

from test_run import ACCESS_LOG, SEALED_P, runnable, small_band_positives

from amlas.evidence import EvidenceRecord
from amlas.sealing import AccessLog, load_key
from cli_helpers import run
from factory import DATA_FILE, documents

pytestmark = pytest.mark.usefixtures("fresh_model")


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
        # issue 12: a device is refused before it is read (/dev/zero ran out of memory)
        (("--key-file", "/dev/null"), "/dev/null: F003 error: the key file is a character device"),
    ],
)
def test_seal_usage_problems(
    root: Path, argv: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "seal", str(root), *argv)
    assert status == 2
    assert message in err
    assert (root / DATA_FILE["P"]).exists()


def test_a_key_file_named_in_the_environment_must_be_a_regular_file(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMLAS_VERIFIER_KEY_FILE", "/dev/null")
    for argv in (("seal", str(root)), ("run", str(root), "--role", "verifier")):
        status, out, err = run(capsys, *argv)
        assert status == 2, err
        # issue 13: a coded line in the format of `amlas check`, no hand-written code
        assert err.startswith("/dev/null: F003 error: the key file is a character")
        assert "expected a verifier key file" in err
        assert out == ""


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
    # issue 13: a usage error, or a coded problem in the format of `amlas check`
    assert re.match(r"amlas: error: |\S+: [A-Z]\d{3} error: ", err.strip()), err
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


def test_tampered_sealed_file_stops_the_run(
    sealed: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = sealed / SEALED_P
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0xFF
    path.write_bytes(bytes(blob))
    argv = ("run", str(sealed), "--role", "verifier", "--key-file", str(key_file))
    status, out, err = run(capsys, *argv, "--stage", "5")
    # the signed seal statement shows the change before anything is decrypted
    assert status == 1
    assert "D017" in out
    assert "modified after sealing" in out
    assert "nothing was run" in err


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
    # the records signed the log's head after their 'use': 'check' sees the cut (issue 12)
    status, out, _ = run(capsys, "check", str(sealed))
    assert status == 1
    assert "M013" in out
    status, out, _ = run(capsys, "evidence", str(sealed), "--verify")
    assert status == 1
    assert "stage5/MLR-1/P" in out
    assert "stage5/MLR-2/P" in out


def test_editing_the_label_audit_makes_its_record_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12: the audit file was not among the inputs of a label_error_rate record, so
    a changed audit left its verdict current."""
    import hashlib

    from amlas import check_project
    from amlas.evidence import open_store
    from amlas.verify import plan

    docs = documents()
    docs["L"]["requirements"].append(
        {
            "id": "DR-5",
            "category": "accuracy",
            "text": "At most 20% of the labels are wrong",
            "traces_to": ["MLR-1"],
            "datasets": ["O"],
            "rule": {"check": "label_error_rate", "audit_file": "data/audit.csv", "max_rate": 0.2},
        }
    )
    root = runnable(tmp_path / "mini", docs)
    rows = (root / DATA_FILE["O"]).read_text().splitlines()[1:]  # id, label, size, lighting
    audit = root / "data" / "audit.csv"  # every label of [O], confirmed
    audit.write_text(
        "sample_id,audited_label\n" + "".join(r.rsplit(",", 2)[0] + "\n" for r in rows)
    )
    assert run(capsys, "run", str(root), "--stage", "3")[0] in (0, 1)
    status, out, err = run(capsys, "impact", str(root), "--format", "json")
    assert err == ""
    assert "stage3/DR-5/O" not in {r["key"] for r in json.loads(out)["stale"]}, out
    # the record cites the audit by hash, and 'amlas impact --since' plans it the same way
    with open_store("fs://evidence", root=root) as store:
        record = store.get(dict(store.list())["stage3/DR-5/O"])
    assert record.inputs["file:data/audit.csv"] == hashlib.sha256(audit.read_bytes()).hexdigest()
    planned = {c.key: c.inputs for c in plan(check_project(root).project, stages=[3])}
    assert "file:data/audit.csv" in planned["stage3/DR-5/O"]

    audit.write_text(audit.read_text().replace(",positive", ",negative", 30))  # 30 errors now
    status, out, _ = run(capsys, "impact", str(root), "--format", "json")
    stale = {r["key"]: r["inputs"] for r in json.loads(out)["stale"]}
    assert stale == {"stage3/DR-5/O": ["file:data/audit.csv (changed)"]}
    assert status == 1


# -- issue 12: nothing proved a verification record came from the verifier -----------------


def _verified(sealed: Path, key_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ("run", str(sealed), "--role", "verifier", "--key-file", str(key_file))
    assert run(capsys, *argv, "--stage", "5")[0] in (0, 1)
    assert run(capsys, "check", str(sealed))[0] == 0
    assert run(capsys, "evidence", str(sealed), "--verify")[0] == 0


def _forge(
    root: Path,
    key: str,
    *,
    keep_metadata: bool,
    also: Callable[[EvidenceRecord], dict[str, object]] | None = None,
) -> str:
    """What reproduction 1 did: rewrite a record as 'pass' (and ``also``), recompute its
    digest with EvidenceRecord, store it and point refs.json at it. Returns the digest."""

    refs_file = root / "evidence" / "refs.json"
    refs = json.loads(refs_file.read_text())
    old = refs[key]
    record = EvidenceRecord.from_json(
        (root / "evidence" / "objects" / old[:2] / f"{old}.json").read_text()
    )
    update: dict[str, object] = {"verdict": "pass", "summary": "recall 1.00 >= 0.95"}
    if not keep_metadata:
        update["metadata"] = {}
    if also is not None:
        update.update(also(record))
    forged = record.model_copy(update=update)
    digest = forged.digest
    assert digest != old
    path = root / "evidence" / "objects" / digest[:2] / f"{digest}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(forged.to_json())
    refs[key] = digest
    refs_file.write_text(json.dumps(refs, indent=2))
    return digest


@pytest.mark.parametrize("keep_metadata", [True, False], ids=["old-signature", "unsigned"])
def test_issue12_a_rewritten_stage5_record_is_refused(
    sealed: Path,
    key_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    keep_metadata: bool,
) -> None:
    from runnable import rows

    misses = [sid for sid, label, _ in rows("P") if label == "positive"]
    monkeypatch.setenv("MINI_MODEL_MISS", ",".join(misses))  # MLR-1 fails on [P]
    _verified(sealed, key_file, capsys)
    digest = _forge(sealed, "stage5/MLR-1/P", keep_metadata=keep_metadata)

    status, out, _ = run(capsys, "check", str(sealed))
    assert status == 1
    (line,) = [x for x in out.splitlines() if "M013" in x]
    assert "stage5/MLR-1/P" in line
    assert "not signed by the declared verifier key" in line
    assert line.startswith(f"{sealed}/evidence/objects/{digest[:2]}/{digest}.json")

    status, out, _ = run(capsys, "evidence", str(sealed), "--verify")
    assert status == 1
    assert "stage5/MLR-1/P" in out
    assert "not signed by the declared verifier key" in out

    sys.modules.pop("mini_model", None)
    status, out, _ = run(
        capsys, "gate", str(sealed), "--allow-undeveloped", "*", "--allow-inconclusive", "*"
    )
    assert status == 1
    (line,) = [x for x in out.splitlines() if " Sn5.2.MLR-1 " in x]
    assert line.split()[0] == "failed"
    assert "not signed by the declared verifier key" in line


def test_issue12_a_forged_stage5_record_that_says_stage_4_is_refused(
    sealed: Path,
    key_file: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Review finding: a developer-made record under a stage5/ key that says of itself
    stage 4, role developer, no dataset, must still need the verifier's signature, and the
    case never counts it for the stage-5 argument."""
    from runnable import rows

    misses = [sid for sid, label, _ in rows("P") if label == "positive"]
    monkeypatch.setenv("MINI_MODEL_MISS", ",".join(misses))  # MLR-1 fails on [P]
    _verified(sealed, key_file, capsys)

    def disguise(record: EvidenceRecord) -> dict[str, object]:
        inputs = {k: v for k, v in record.inputs.items() if not k.startswith("dataset:")}
        return {"stage": 4, "role": "developer", "dataset": None, "inputs": inputs,
                "sealed_detail": None}  # fmt: skip

    _forge(sealed, "stage5/MLR-1/P", keep_metadata=False, also=disguise)

    status, out, _ = run(capsys, "check", str(sealed))
    assert status == 1
    assert any("M013" in x and "stage5/MLR-1/P" in x for x in out.splitlines()), out

    sys.modules.pop("mini_model", None)
    status, out, _ = run(
        capsys, "gate", str(sealed), "--allow-undeveloped", "*", "--allow-inconclusive", "*"
    )
    assert status == 1
    (line,) = [x for x in out.splitlines() if " Sn5.2.MLR-1 " in x]
    assert line.split()[0] == "failed"


@pytest.mark.parametrize("damage", ["flip", "cut"])
def test_issue12_a_changed_sealed_file_is_seen_without_the_key(
    sealed: Path, key_file: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    _verified(sealed, key_file, capsys)
    path = sealed / SEALED_P
    blob = bytearray(path.read_bytes())
    if damage == "flip":
        blob[len(blob) // 2] ^= 0x01  # one ciphertext byte
    else:
        del blob[-500:]
    path.write_bytes(bytes(blob))

    status, out, _ = run(capsys, "check", str(sealed))
    assert status == 1
    (line,) = [x for x in out.splitlines() if "D017" in x]
    assert "modified after sealing" in line
    status, out, _ = run(capsys, "evidence", str(sealed), "--verify")
    assert status == 1
    assert "D017" in out
    for command in ("case", "gate"):
        status, _, err = run(capsys, command, str(sealed))
        assert status == 1, command
        assert "the project has errors" in err


def test_issue12_a_removed_seal_statement_is_an_error(
    sealed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (sealed / (SEALED_P + ".sig")).unlink()
    status, out, _ = run(capsys, "check", str(sealed))
    assert status == 1
    assert "D017" in out
    assert "seal statement" in out


def test_issue12_forged_log_entries_are_seen_without_the_key(
    sealed: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import hashlib

    _verified(sealed, key_file, capsys)
    log = sealed / ACCESS_LOG
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    # turn the 'use' into a 'note' and rebuild every later link: the chain is consistent
    rebuilt = []
    prev = "0" * 64
    for fields in lines:
        fields = {**fields, "prev": prev}
        if fields["event"] == "use":
            fields["event"] = "note"
        body = {k: v for k, v in fields.items() if k not in ("hash", "sig", "mac")}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        fields["hash"] = prev = hashlib.sha256(text.encode()).hexdigest()
        rebuilt.append(fields)
    log.write_text("".join(json.dumps(f, sort_keys=True, separators=(",", ":")) + "\n"
                           for f in rebuilt))  # fmt: skip
    assert AccessLog(log).verify() == []  # what a reader without the public key sees
    status, out, _ = run(capsys, "check", str(sealed))
    assert status == 1
    assert "D015" in out
    assert "sig does not verify" in out


def test_issue12_cutting_the_last_use_line_is_seen_without_the_key(
    sealed: Path, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _verified(sealed, key_file, capsys)
    log = sealed / ACCESS_LOG
    lines = log.read_text().splitlines(keepends=True)
    assert json.loads(lines[-1])["event"] == "use"
    log.write_text("".join(lines[:-1]))  # still a consistent, signed chain
    assert AccessLog(log).verify() == []
    status, out, _ = run(capsys, "check", str(sealed))
    assert status == 1
    assert "M013" in out
    assert "no longer in the log" in out
    status, out, _ = run(capsys, "evidence", str(sealed), "--verify")
    assert status == 1
    assert "no longer in the log" in out


def test_issue12_keygen_prints_and_seal_declares_the_public_key(
    root: Path, key_file: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from amlas.sealing import public_key_of

    public = public_key_of(load_key(key_file))
    status, out, _ = run(capsys, "keygen", str(tmp_path / "keys" / "second.key"))
    assert status == 0
    assert out.strip().splitlines()[-1].startswith("verifier_key: ed25519:")
    assert run(capsys, "seal", str(root), "--key-file", str(key_file))[0] == 0
    manifest = (root / "amlas.yaml").read_text()
    assert f"verifier_key: {public}" in manifest
    assert load_key(key_file).encoded_secret() not in manifest  # the secret stays out
    # another verifier key is refused by the run: the project trusts the declared one only
    argv = ("run", str(root), "--role", "verifier", "--stage", "5")
    status, _, err = run(capsys, *argv, "--key-file", str(tmp_path / "keys" / "second.key"))
    assert status == 2
    assert "declares verifier_key" in err


def test_issue12_the_gate_pins_the_verifier_key(
    sealed: Path, key_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review finding: amlas.yaml's verifier_key is the trust root and a developer can edit
    it; the gate shows it, and with --verifier-key stays shut unless it is that key."""
    import yaml

    from amlas.sealing import load_key, public_key_of

    _verified(sealed, key_file, capsys)
    ours = public_key_of(load_key(key_file))
    allow = ("--allow-undeveloped", "*", "--allow-inconclusive", "*")
    sys.modules.pop("mini_model", None)
    _, out, _ = run(capsys, "gate", str(sealed), *allow, "--verifier-key", ours)
    assert f"verifier key: {ours} (as expected)" in out
    other = tmp_path / "other.key"
    assert run(capsys, "keygen", str(other))[0] == 0
    manifest = yaml.safe_load((sealed / "amlas.yaml").read_text())
    manifest["verifier_key"] = public_key_of(load_key(other))
    (sealed / "amlas.yaml").write_text(yaml.safe_dump(manifest))
    sys.modules.pop("mini_model", None)
    status, out, _ = run(capsys, "gate", str(sealed), *allow, "--verifier-key", ours)
    assert status == 1
    assert "not the expected" in out


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (("--engine", "local", "--scheduler", "tcp://127.0.0.1:8786"), "leave out --engine local"),
        (("--scheduler", "tcp://127.0.0.1:8786", "--workers", "2"), "a scheduler has its own"),
        (("--engine", "local", "--workers", "2"), "leave out --engine local"),
    ],
)
def test_engine_options_that_contradict_each_other_are_usage_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, options: tuple[str, ...], says: str
) -> None:
    code, _, err = run(capsys, "run", str(tmp_path), *options)
    assert code == 2
    assert says in err


def test_workers_without_a_dask_engine_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], root: Path
) -> None:
    """--workers sizes the LocalCluster of the dask engine: with neither --engine dask nor
    an engine: in amlas.yaml choosing dask, it contradicts the engine (nothing runs)."""
    code, _, err = run(capsys, "run", str(root), "--workers", "2")
    assert code == 2
    assert "--workers sizes the LocalCluster" in err
    assert not (root / "evidence").exists()


def test_the_engine_of_amlas_yaml_is_overridden_by_the_options(
    capsys: pytest.CaptureFixture[str], root: Path
) -> None:
    """amlas.yaml names a scheduler that cannot be reached (R098 when it is used); --engine
    local overrides it and the run goes on in this process."""
    manifest = root / "amlas.yaml"
    text = "engine:\n  scheduler: tcp://127.0.0.1:9\n"
    manifest.write_text(manifest.read_text(encoding="utf-8") + text, encoding="utf-8")
    code, out, err = run(capsys, "run", str(root), "--stage", "4")
    assert code == 2
    assert "R098" in out + err
    code, _, err = run(capsys, "run", str(root), "--stage", "4", "--engine", "local")
    assert code in (0, 1), err
    assert "R098" not in err
