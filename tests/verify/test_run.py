"""``run_project``: the records it writes, role rules, sealed data and interrupted runs.

The project is the small one of ``tests/factory.py`` with its [V] switched to a
``python_callable`` lookup model (``mini_model.py`` in the project root). The factory's
labels are not a function of ``size_mm``, so the model recognises which dataset it is
called on (every call gets a whole dataset, in file order, possibly perturbed) and answers
each sample's recorded label. Deliberate mistakes and failures come from two environment
variables read at prediction time: ``MINI_MODEL_MISS`` (sample ids answered wrongly) and
``MINI_MODEL_RAISE`` (dataset letters on which the model raises).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from amlas import Severity, check_project
from amlas.adapters import ModelError
from amlas.errors import UsageError
from amlas.evidence import (
    StoreError,
    open_sealed,
    open_store,
    seal_dataset,
)
from amlas.sealing import (
    AccessLog,
    SealError,
    TamperError,
    VerifierKey,
    generate_key,
    unseal_file,
)
from amlas.verify import RunReport, run_project
from amlas.verify import _context as run_module
from factory import DATA, DATA_FILE, documents
from runnable import rows, runnable

P_YAML = "3-data/P-verification-data.yaml"
ACCESS_LOG = "5-verification/P-access-log.jsonl"
SEALED_P = DATA_FILE["P"] + ".sealed"


pytestmark = pytest.mark.usefixtures("fresh_model")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return runnable(tmp_path / "mini")


@pytest.fixture
def key(tmp_path: Path) -> VerifierKey:
    """A verifier key kept outside the project."""
    return generate_key(tmp_path / "keys" / "verifier.key")


@pytest.fixture
def sealed(root: Path, key: VerifierKey) -> Path:
    """The project with [P] sealed under ``key``."""
    seal_dataset(check_project(root).project, "P", key)
    return root


def by_key(report: RunReport) -> dict[str, Any]:
    return {record.key: record for _, record in report.records}


def usage_warnings(report: RunReport) -> list[str]:
    """The warnings about over-using the sealed data (other warnings may come with a run)."""
    return [w for w in report.warnings if "has been used" in w]


def small_band_positives(letter: str, n: int) -> list[str]:
    """``n`` ids of safety-related samples in the 'small' size band of a dataset."""
    return [i for i, label, size in rows(letter) if label == "positive" and size < 49][:n]


def store_state(root: Path, uri: str = "fs://evidence") -> tuple[Any, ...]:
    with open_store(uri, root=root) as store:
        return store.list(), [r.run_id for r in store.runs()]


def files(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


# -- developer runs --------------------------------------------------------------------------

STAGE3_VERDICTS = {
    **{f"stage3/DR-1/{x}": "pass" for x in "NOP"},
    # one size band of each dataset holds 9 safety-related samples, the rule asks for 10
    **{f"stage3/DR-2/{x}": "fail" for x in "NOP"},
    **{f"stage3/DR-4/{x}": "pass" for x in "NOP"},
    # size_mm is the only input, and the three datasets share many sizes
    **{f"stage3/independence/{p}": "fail" for p in ("N-O", "N-P", "O-P")},
}


def test_developer_run_records_stages_3_and_4(root: Path) -> None:
    report = run_project(str(root))

    assert report.diagnostics is None
    assert report.role == "developer"
    assert report.stages == (3, 4)
    assert report.store == "fs://evidence"
    records = by_key(report)
    assert {k: r.verdict for k, r in records.items()} == {
        **STAGE3_VERDICTS,
        "stage4/MLR-1/O": "inconclusive",  # 10 of 10 per band cannot show recall >= 0.99
        "stage4/MLR-2/O": "pass",
    }
    assert ("DR-3", "no machine-checkable rule: judged by review in [Q]") in report.not_run

    mlr1 = records["stage4/MLR-1/O"]
    assert mlr1.stage == 4
    assert mlr1.role == "developer"
    assert {"dataset:O", "model", "requirement:MLR-1", "environment"} <= set(mlr1.inputs)
    assert mlr1.inputs["dataset:O"] == hashlib.sha256(DATA["O"]).hexdigest()
    model_bytes = (root / "model/model.bin").read_bytes()
    assert mlr1.inputs["model"] == hashlib.sha256(model_bytes).hexdigest()
    # a python callable's module is part of the model: its source is hashed too
    code = (root / "mini_model.py").read_bytes()
    assert mlr1.inputs["model_code"] == hashlib.sha256(code).hexdigest()
    assert [s["slice"] for s in mlr1.results] == ["size=small", "size=large"]
    assert all(s["failing_count"] == 0 and s["failing_ids"] == [] for s in mlr1.results)

    dr1 = records["stage3/DR-1/N"]
    assert dr1.stage == 3
    assert set(dr1.inputs) == {"dataset:N", "requirement:DR-1", "environment"}
    independence = records["stage3/independence/N-O"]
    assert {"dataset:N", "dataset:O", "samples:N", "samples:O"} <= set(independence.inputs)
    exact = next(r for r in independence.results if r["kind"] == "exact_duplicates")
    assert exact["count"] > 0
    assert all(a.startswith("S1-") and b.startswith("S2-") for a, b in exact["pairs"])

    # the store holds exactly these records, as one committed run
    with open_store("fs://evidence", root=root) as store:
        assert dict(store.list()) == {r.key: d for d, r in report.records}
        (run,) = store.runs()
        assert run.run_id == report.run_id
        assert run.role == "developer"
        assert run.stages == [3, 4]
        assert store.verify() == []
        for digest, record in report.records:
            assert store.get(digest) == record


def test_summary_rows_follow_the_records(root: Path) -> None:
    report = run_project(str(root), stages=(4,))
    assert [(r.stage, r.subject, r.dataset, r.slice, r.verdict) for r in report.rows] == [
        (4, "MLR-1", "O", "size=small", "inconclusive"),
        (4, "MLR-1", "O", "size=large", "inconclusive"),
        (4, "MLR-2", "O", "all", "pass"),
    ]
    assert all(r.threshold.startswith(">= ") for r in report.rows)
    assert report.rows[0].estimate == 1.0
    assert report.rows[0].bound is not None
    assert report.rows[0].bound < 0.99


def test_perfect_model_exit_codes(root: Path) -> None:
    report = run_project(str(root), stages=(4,))
    assert report.counts() == {"pass": 1, "fail": 0, "inconclusive": 1}
    assert report.exit_code() == 0
    assert report.exit_code(strict=True) == 1


def test_missed_hands_fail_recall_and_name_the_samples(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missed = small_band_positives("O", 3)
    monkeypatch.setenv("MINI_MODEL_MISS", ",".join(missed))

    report = run_project(str(root), stages=(4,))

    records = by_key(report)
    recall = records["stage4/MLR-1/O"]
    assert recall.verdict == "fail"
    small, large = recall.results
    assert small["slice"] == "size=small"
    assert small["verdict"] == "fail"
    assert small["failing_count"] == 3
    assert sorted(small["failing_ids"]) == sorted(missed)
    assert large["failing_count"] == 0
    # the misses are consistent, so the decisions stay stable under noise
    assert records["stage4/MLR-2/O"].verdict == "pass"
    assert report.counts()["fail"] == 1
    assert report.exit_code() == 1
    assert report.exit_code(strict=True) == 1
    assert any(r.slice == "size=small" and r.verdict == "fail" for r in report.rows)


def test_rerun_gives_the_same_digests(root: Path) -> None:
    first = run_project(str(root))
    second = run_project(str(root))

    assert first.run_id != second.run_id
    assert {r.key: d for d, r in first.records} == {r.key: d for d, r in second.records}
    # only metadata (times) may differ, and it is not hashed
    record = second.records[0][1]
    assert {"started", "finished", "duration_s"} <= set(record.metadata)
    with open_store("fs://evidence", root=root) as store:
        assert [r.run_id for r in store.runs()] == [first.run_id, second.run_id]
        assert dict(store.list()) == {r.key: d for d, r in second.records}


def test_a_changed_requirement_changes_only_its_records(root: Path) -> None:
    first = {r.key: d for d, r in run_project(str(root), stages=(4,)).records}
    path = root / "2-requirements/H-ml-safety-requirements.yaml"
    path.write_text(path.read_text().replace("threshold: 0.99", "threshold: 0.98"))
    second = {r.key: d for d, r in run_project(str(root), stages=(4,)).records}
    assert first["stage4/MLR-1/O"] != second["stage4/MLR-1/O"]
    assert first["stage4/MLR-2/O"] == second["stage4/MLR-2/O"]


def test_sqlite_store(root: Path) -> None:
    report = run_project(str(root), store="sqlite:///ev.db")

    assert report.store == "sqlite:///ev.db"
    assert (root / "ev.db").is_file()
    assert not (root / "evidence").exists()
    with open_store("sqlite:///ev.db", root=root) as store:
        assert dict(store.list()) == {r.key: d for d, r in report.records}
        assert [r.run_id for r in store.runs()] == [report.run_id]
        assert store.verify() == []
    again = run_project(str(root), store="sqlite:///ev.db")
    assert [d for d, _ in again.records] == [d for d, _ in report.records]


def test_project_with_errors_returns_diagnostics_and_writes_nothing(tmp_path: Path) -> None:
    docs = documents()
    docs["H"]["requirements"][0]["threshold"] = "high"
    root = runnable(tmp_path / "broken", docs)

    report = run_project(str(root))

    assert report.diagnostics is not None
    assert report.diagnostics.has_errors
    assert "S003" in {d.code for d in report.diagnostics}
    assert report.records == []
    assert report.rows == []
    assert report.exit_code() == 0  # the caller decides on diagnostics; the CLI exits 1
    assert not (root / "evidence").exists()


# -- role rules ------------------------------------------------------------------------------


def test_developer_may_not_run_stage_5(root: Path) -> None:
    with pytest.raises(UsageError, match="verifier"):
        run_project(str(root), stages=(5,))
    with pytest.raises(UsageError, match="verifier"):
        run_project(str(root), stages=(3, 4, 5))
    assert not (root / "evidence").exists()


def test_verifier_needs_a_key(root: Path) -> None:
    with pytest.raises(UsageError, match="key"):
        run_project(str(root), role="verifier")
    assert not (root / "evidence").exists()


@pytest.mark.parametrize("stages", [(2,), (7,), (3, 7)])
def test_unknown_stage_is_a_usage_error(root: Path, stages: tuple[int, ...]) -> None:
    with pytest.raises(UsageError, match="stages 3, 4, 5 and 6"):
        run_project(str(root), stages=stages)


def test_verifier_on_unsealed_data_is_warned(root: Path, key: VerifierKey) -> None:
    report = run_project(str(root), role="verifier", stages=(5,), key=key)
    assert any("[P] is not sealed" in w for w in report.warnings)
    assert set(by_key(report)) == {"stage5/MLR-1/P", "stage5/MLR-2/P"}
    assert all("access_log:P" not in r.inputs for _, r in report.records)


# -- sealed verification data ---------------------------------------------------------------


def test_sealing_removes_the_plaintext_and_marks_the_artefact(root: Path, key: VerifierKey) -> None:
    outcome = seal_dataset(check_project(root).project, "P", key)

    assert outcome.sealed_file == SEALED_P
    assert outcome.access_log == ACCESS_LOG
    assert outcome.plaintext_removed
    assert outcome.artefact_updated
    assert not (root / DATA_FILE["P"]).exists()
    assert (root / SEALED_P).is_file()
    assert DATA["P"] not in (root / SEALED_P).read_bytes()
    text = (root / P_YAML).read_text()
    assert f"sealed:\n  file: {SEALED_P}\n  access_log: {ACCESS_LOG}\n  max_uses: 5\n" in text
    assert "/" + DATA_FILE["P"] in (root / ".gitignore").read_text().splitlines()

    result = check_project(root)
    assert not result.diagnostics.has_errors, [d.format() for d in result.diagnostics]
    assert "D013" not in {d.code for d in result.diagnostics}
    document = result.project.datasets()["P"]
    assert document.sealed is not None
    assert document.sealed.file == SEALED_P

    log = AccessLog(root / ACCESS_LOG)
    assert [e.event for e in log.entries()] == ["seal"]
    assert log.verify(key) == []
    assert log.entries()[0].dataset_sha256 == hashlib.sha256(DATA["P"]).hexdigest()


def test_sealing_twice_is_refused(sealed: Path, key: VerifierKey) -> None:
    with pytest.raises(UsageError, match="already sealed"):
        seal_dataset(check_project(sealed).project, "P", key)


def test_developer_never_reads_sealed_data(sealed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the developer role opened sealed data")

    monkeypatch.setattr(run_module, "open_sealed", refuse)
    log_before = (sealed / ACCESS_LOG).read_bytes()

    report = run_project(str(sealed), stages=(3, 4))

    why = "[P] is sealed: only the verifier role reads it (R15)"
    for what in (
        "DR-1 on [P]",
        "DR-2 on [P]",
        "DR-4 on [P]",
        "independence of [N] and [P]",
        "independence of [O] and [P]",
    ):
        assert (what, why) in report.not_run
    records = by_key(report)
    assert "stage3/independence/N-O" in records
    assert "stage4/MLR-1/O" in records
    assert not any("P" in (r.dataset or "") for r in records.values())
    assert not any(name.endswith(":P") for r in records.values() for name in r.inputs)
    assert (sealed / ACCESS_LOG).read_bytes() == log_before


def test_verifier_decrypts_in_memory_and_logs_every_use(sealed: Path, key: VerifierKey) -> None:
    before = files(sealed)

    report = run_project(str(sealed), role="verifier", key=key)

    assert report.stages == (3, 5)
    assert usage_warnings(report) == []
    created = files(sealed) - before
    assert all(p.startswith(("evidence/", ".amlas/")) for p in created), created
    assert not (sealed / DATA_FILE["P"]).exists()
    for path in files(sealed):
        assert DATA["P"] not in (sealed / path).read_bytes(), path

    records = by_key(report)
    assert {k for k in records if k.startswith("stage5/")} == {"stage5/MLR-1/P", "stage5/MLR-2/P"}
    assert records["stage3/DR-1/P"].verdict == "pass"
    assert records["stage3/independence/O-P"].role == "verifier"
    assert not any(k.startswith("stage4/") for k in records)

    log = AccessLog(sealed / ACCESS_LOG)
    entries = log.entries()
    assert [e.event for e in entries] == ["seal", "unseal", "use"]
    assert log.verify(key) == []
    unseal, use = entries[1], entries[2]
    assert all(e.role == "verifier" and e.dataset == "P" for e in entries)
    assert report.run_id in unseal.purpose
    assert use.details["run_id"] == report.run_id
    assert use.details["stages"] == [3, 5]
    on_p = {d for d, r in report.records if "P" in (r.dataset or "")}
    assert set(use.details["records"]) == on_p  # type: ignore[arg-type]

    for name in ("stage5/MLR-1/P", "stage3/DR-1/P", "stage3/independence/N-P"):
        inputs = records[name].inputs
        assert inputs["access_log:P"] == unseal.hash
        assert inputs["dataset:P"] == hashlib.sha256(DATA["P"]).hexdigest()
    assert "model" in records["stage5/MLR-1/P"].inputs
    assert "access_log:P" not in records["stage3/DR-1/N"].inputs


def test_verifier_with_the_wrong_key_is_refused(sealed: Path, tmp_path: Path) -> None:
    other = generate_key(tmp_path / "keys" / "other.key")
    # the project declares the sealing verifier's public key: another key is refused
    # before any data is read
    with pytest.raises(UsageError, match="declares verifier_key"):
        run_project(str(sealed), role="verifier", stages=(5,), key=other)
    assert not (sealed / "evidence").exists()
    assert [e.event for e in AccessLog(sealed / ACCESS_LOG).entries()] == ["seal"]


def test_using_the_data_past_its_limit_warns(sealed: Path, key: VerifierKey) -> None:
    path = sealed / P_YAML
    path.write_text(path.read_text().replace("max_uses: 5", "max_uses: 1"))

    first = run_project(str(sealed), role="verifier", stages=(5,), key=key)
    assert usage_warnings(first) == []
    assert "D016" not in {d.code for d in check_project(sealed).diagnostics}

    second = run_project(str(sealed), role="verifier", stages=(5,), key=key)
    (warning,) = usage_warnings(second)
    assert "used 2 times (limit 1)" in warning
    assert by_key(second).keys() == by_key(first).keys()

    diagnostics = check_project(sealed).diagnostics
    found = [d for d in diagnostics if d.code == "D016"]
    assert len(found) == 1
    assert found[0].severity is Severity.WARNING
    assert found[0].location.path == P_YAML
    assert not diagnostics.has_errors
    events = [e.event for e in AccessLog(sealed / ACCESS_LOG).entries()]
    assert events == ["seal", "unseal", "use", "unseal", "use"]


def test_a_flipped_byte_in_the_sealed_file_stops_the_verifier(
    sealed: Path, key: VerifierKey
) -> None:
    blob = bytearray((sealed / SEALED_P).read_bytes())
    blob[-1] ^= 0x01
    (sealed / SEALED_P).write_bytes(bytes(blob))

    # the header is intact, but the verifier's signed seal statement shows the change to
    # anyone (issue 12: this once needed the key), so nothing runs on damaged data
    result = check_project(sealed)
    assert result.project.datasets()["P"].sealed is not None
    (found,) = [d for d in result.diagnostics if d.code == "D017"]
    assert "modified after sealing" in found.message
    report = run_project(str(sealed), role="verifier", stages=(5,), key=key)
    assert report.diagnostics is not None
    assert report.records == []
    assert not (sealed / "evidence").exists()
    assert [e.event for e in AccessLog(sealed / ACCESS_LOG).entries()] == ["seal"]
    # the key still catches it on its own (a statement signed over the damaged file)
    (sealed / (SEALED_P + ".sig")).unlink()
    with pytest.raises(TamperError, match="modified after sealing") as raised:
        unseal_file(sealed / SEALED_P, key)
    assert isinstance(raised.value, SealError)
    assert isinstance(raised.value, UsageError)


def test_an_edited_header(sealed: Path, key: VerifierKey) -> None:
    path = sealed / SEALED_P
    blob = path.read_bytes()
    # a hand edit leaves the header out of canonical form: seen without the key
    path.write_bytes(blob.replace(b'"name":"verif.csv"', b'"name": "verif.csv"', 1))
    codes = {d.code for d in check_project(sealed).diagnostics}
    assert "D014" in codes
    report = run_project(str(sealed), role="verifier", stages=(5,), key=key)
    assert report.diagnostics is not None
    assert report.records == []

    # a canonical edit no longer matches the signed seal statement (and fails
    # authentication on unseal)
    path.write_bytes(blob.replace(b'"name":"verif.csv"', b'"name":"verif.txt"', 1))
    assert "D017" in {d.code for d in check_project(sealed).diagnostics}
    with pytest.raises(TamperError):
        unseal_file(path, key)
    assert run_project(str(sealed), role="verifier", stages=(5,), key=key).records == []
    assert not (sealed / "evidence").exists()


def test_an_edited_log_line_is_reported_and_refused(sealed: Path, key: VerifierKey) -> None:
    log = sealed / ACCESS_LOG
    text = log.read_text()
    assert '"purpose":"seal the data' in text
    log.write_text(text.replace('"purpose":"seal the data', '"purpose":"peek at the data'))

    result = check_project(sealed)
    found = [d for d in result.diagnostics if d.code == "D015"]
    assert found, [d.format() for d in result.diagnostics]
    assert found[0].severity is Severity.ERROR
    assert "hash does not match" in found[0].message
    assert found[0].location.path == P_YAML

    report = run_project(str(sealed), role="verifier", stages=(5,), key=key)
    assert report.diagnostics is not None
    assert "D015" in {d.code for d in report.diagnostics}
    assert report.records == []
    assert not (sealed / "evidence").exists()
    # and the library refuses too, whoever calls it
    with pytest.raises(SealError, match="access log is damaged"):
        open_sealed(result.project, "P", key, purpose="test")
    assert log.read_text().count("\n") == 1


def test_a_deleted_log_is_reported_and_refused(sealed: Path, key: VerifierKey) -> None:
    # deleting the log would silently reset the history and the use count
    (sealed / ACCESS_LOG).unlink()

    found = [d for d in check_project(sealed).diagnostics if d.code == "D015"]
    assert len(found) == 1
    assert "missing" in found[0].message
    report = run_project(str(sealed), role="verifier", stages=(5,), key=key)
    assert report.diagnostics is not None
    assert report.records == []
    assert not (sealed / ACCESS_LOG).exists()


def test_plaintext_left_beside_the_sealed_copy(sealed: Path, key: VerifierKey) -> None:
    (sealed / DATA_FILE["P"]).write_bytes(DATA["P"])

    diagnostics = check_project(sealed).diagnostics
    found = [d for d in diagnostics if d.code == "D013"]
    assert len(found) == 1
    assert found[0].severity is Severity.WARNING
    assert not diagnostics.has_errors


def test_keep_plaintext_is_reported(root: Path, key: VerifierKey) -> None:
    outcome = seal_dataset(check_project(root).project, "P", key, keep_plaintext=True)
    assert not outcome.plaintext_removed
    assert (root / DATA_FILE["P"]).read_bytes() == DATA["P"]
    assert "D013" in {d.code for d in check_project(root).diagnostics}


# -- interrupted runs --------------------------------------------------------------------------


@pytest.mark.parametrize("uri", ["fs://evidence", "sqlite:///ev.db"])
def test_an_interrupted_run_leaves_the_store_unchanged(
    root: Path, uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_project(str(root), store=uri)
    before = store_state(root, uri)
    files_before = {p: (root / p).read_bytes() for p in files(root) if p.startswith("evidence")}

    monkeypatch.setenv("MINI_MODEL_RAISE", "O")
    with pytest.raises(ModelError, match="deliberate failure on \\[O\\]"):
        run_project(str(root), store=uri)

    assert store_state(root, uri) == before
    after = {p: (root / p).read_bytes() for p in files(root) if p.startswith("evidence")}
    assert after == files_before


def test_a_bad_store_is_refused_before_any_work(
    sealed: Path, key: VerifierKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the sealed data was opened for a run that cannot be stored")

    monkeypatch.setattr(run_module, "open_sealed", refuse)
    with pytest.raises(StoreError, match="nosuch"):
        run_project(str(sealed), role="verifier", key=key, store="nosuch://x")
    assert [e.event for e in AccessLog(sealed / ACCESS_LOG).entries()] == ["seal"]


def test_an_interrupted_verifier_run_logs_the_unseal_but_no_use(
    sealed: Path, key: VerifierKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_project(str(sealed), role="verifier", stages=(5,), key=key)
    before = store_state(sealed)
    monkeypatch.setenv("MINI_MODEL_RAISE", "P")

    with pytest.raises(ModelError):
        run_project(str(sealed), role="verifier", stages=(3, 5), key=key)

    assert store_state(sealed) == before
    log = AccessLog(sealed / ACCESS_LOG)
    assert [e.event for e in log.entries()] == ["seal", "unseal", "use", "unseal"]
    assert log.verify(key) == []
    assert log.uses(hashlib.sha256(DATA["P"]).hexdigest()) == 1


def test_the_report_serialises(root: Path) -> None:
    from amlas.render import render_run_json

    report = run_project(str(root), stages=(4,))
    payload = json.loads(render_run_json(report))
    assert payload["counts"] == report.counts()
    assert [r["key"] for r in payload["records"]] == ["stage4/MLR-1/O", "stage4/MLR-2/O"]


def key_id_of(root: Path) -> str:
    from amlas.sealing import read_header

    return read_header(root / SEALED_P).key_id


def test_a_use_line_cut_off_the_log_still_counts(sealed: Path, key: VerifierKey) -> None:
    """Found by review: deleting the last 'use' line kept the chain consistent and hid
    the use; unseal entries count too."""
    path = sealed / P_YAML
    path.write_text(path.read_text().replace("max_uses: 5", "max_uses: 1"))
    run_project(str(sealed), role="verifier", stages=(5,), key=key)
    run_project(str(sealed), role="verifier", stages=(5,), key=key)
    log = sealed / ACCESS_LOG
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:-1]))  # the last 'use'
    assert "D016" in {d.code for d in check_project(sealed).diagnostics}


def test_model_classes_must_be_the_component_classes(root: Path) -> None:
    """Found by review: a model answering 'no'/'yes' for classes named otherwise in [D]
    made every 'at most' requirement pass."""
    import yaml

    (root / "other_model.py").write_text(
        "import numpy as np\n"
        "class M:\n"
        "    classes_ = ['no', 'yes']\n"
        "    def predict_proba(self, x): return np.tile([0.9, 0.1], (len(x), 1))\n"
        "def load(): return M()\n"
    )
    path = root / "4-learning/V-model.yaml"
    document = yaml.safe_load(path.read_text())
    document["callable"] = "other_model:load"
    document.pop("class_order", None)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with pytest.raises(UsageError, match=r"not the classes of \[D\]"):
        run_project(str(root), stages=(4,))
    sys.modules.pop("other_model", None)


def test_proportion_threshold_above_one_is_not_evaluated(root: Path) -> None:
    path = root / "2-requirements/H-ml-safety-requirements.yaml"
    import yaml

    document = yaml.safe_load(path.read_text())
    document["requirements"][0].update(
        {"metric": "false_positives_per_sample", "threshold": 1.5, "comparison": "at_most"}
    )
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    report = run_project(str(root), stages=(4,))
    assert report.diagnostics is None
    assert any("outside [0, 1]" in why for what, why in report.not_run if "MLR-1" in what)


def test_issue12_verifier_records_are_signed_over_the_log_head(
    sealed: Path, key: VerifierKey
) -> None:
    from amlas.evidence import VerifierTrust, open_store
    from amlas.sealing import public_key_of

    project = check_project(sealed).project
    assert project.manifest.verifier_key == public_key_of(key)  # 'amlas seal' declared it
    report = run_project(str(sealed), role="verifier", stages=(3, 5), key=key)
    use = AccessLog(sealed / ACCESS_LOG).entries()[-1]
    assert use.event == "use"
    assert sorted(use.details["records"]) == sorted(  # type: ignore[type-var]
        d for d, r in report.records if r.dataset and "P" in r.dataset
    )
    trust = VerifierTrust(project)
    with open_store("fs://evidence", root=sealed) as store:
        for digest, _ in report.records:
            stored = store.get(digest)
            block = stored.metadata["signature"]
            assert isinstance(block, dict)
            assert block["digest"] == digest
            assert block["access_log"] == {"P": use.hash}
            assert trust.problem(stored) is None
    developer = run_project(str(sealed), role="developer", stages=(4,))
    for _, record in developer.records:
        assert "signature" not in record.metadata  # the development team signs nothing
        assert trust.problem(record) is None
