"""Per-sample detail of evidence computed from sealed data: sealed for the verifier key,
kept out of everything the development team reads, put back only with the key (R15)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from amlas import check_project
from amlas.evidence import (
    EvidenceRecord,
    detail_status,
    open_evidence_detail,
    seal_dataset,
)
from amlas.evidence._detail import WITHHELD, _aad, open_record_detail, seal_record_detail
from amlas.sealing import SealError, TamperError, VerifierKey, generate_key
from amlas.sealing._detail import DETAIL_INFO
from amlas.verify import run_project
from runnable import rows, runnable

SHA = "a" * 64


@pytest.fixture
def key(tmp_path: Path) -> VerifierKey:
    return generate_key(tmp_path / "keys" / "verifier.key")


def make_record(**changes: Any) -> EvidenceRecord:
    fields: dict[str, Any] = {
        "key": "stage5/MLR-1/P",
        "check": "metric.recall",
        "stage": 5,
        "role": "verifier",
        "subject": "MLR-1",
        "dataset": "P",
        "parameters": {"metric": "recall"},
        "resolved": {
            "slices": ["all", "size=small"],
            "groups": "not compared: a group_column is not declared for both",
            "queries": [{"sample": "S-0007", "status": "counterexample", "margin": -0.25}],
        },
        "inputs": {"dataset:P": SHA, "model": SHA},
        "results": [
            {"slice": "all", "failing_count": 2, "failing_ids": ["S-0001", "S-0002"]},
            {"slice": "size=small", "failing_count": 0, "failing_ids": []},
            {"dimension": "lux", "outside": 1, "values": [12345.678], "worst": {"x": "S-0009"}},
            {"kind": "odd", "note": "S-0003"},
        ],
        "verdict": "fail",
        "summary": "MLR-1 on [P]: 2 of 40 missed",
        "versions": {"amlas": "0"},
    }
    fields.update(changes)
    return EvidenceRecord(**fields)


PER_SAMPLE = ("S-0001", "S-0002", "S-0003", "S-0007", "S-0009", "12345.678", "-0.25")


def test_detail_is_sealed_and_only_counts_stay(key: VerifierKey) -> None:
    record = make_record()
    sealed = seal_record_detail(record, sealed=["P"], key=key, sample_ids={"S-0003"})

    text = sealed.to_json()
    for value in PER_SAMPLE:
        assert value not in text, value
    assert sealed.results[0]["failing_count"] == 2
    assert sealed.results[1]["failing_ids"] == []  # empty: nothing to hide
    assert sealed.resolved["slices"] == ["all", "size=small"]
    # an explanation under a detail name is not detail
    assert sealed.resolved["groups"].startswith("not compared")
    detail = sealed.sealed_detail
    assert detail is not None
    assert detail.key_id == key.key_id
    assert detail.datasets == ["P"]
    assert detail.fields == [
        "/results/0/failing_ids",
        "/results/2/values",
        "/results/2/worst",
        "/results/3/note",  # the safety net: a sample id under a name no check uses
        "/resolved/queries",
    ]
    assert detail_status(sealed) == "sealed"
    # the digest covers the ciphertext
    assert "ciphertext" in sealed.canonical_json()
    assert EvidenceRecord.from_json(sealed.to_json()) == sealed


def test_the_key_puts_every_value_back(key: VerifierKey) -> None:
    record = make_record()
    sealed = seal_record_detail(record, sealed=["P"], key=key, sample_ids={"S-0003"})

    opened = open_record_detail(sealed, key)

    assert opened.results == record.results
    assert opened.resolved == record.resolved
    assert detail_status(opened) == "opened"
    assert open_evidence_detail({"d": sealed}, key)["d"].results == record.results


def test_sealing_is_deterministic_and_idempotent(key: VerifierKey) -> None:
    first = seal_record_detail(make_record(), sealed=["P"], key=key)
    again = seal_record_detail(make_record(), sealed=["P"], key=key)
    assert first.digest == again.digest
    assert seal_record_detail(first, sealed=["P"], key=key) is first


def test_records_not_computed_from_sealed_data_are_untouched(key: VerifierKey) -> None:
    on_o = make_record(inputs={"dataset:O": SHA})
    assert seal_record_detail(on_o, sealed=["P"], key=key) is on_o
    unsealed_p = make_record()
    assert seal_record_detail(unsealed_p, sealed=[], key=key) is unsealed_p
    quiet = make_record(
        results=[{"slice": "all", "failing_count": 0, "failing_ids": []}], resolved={}
    )
    assert seal_record_detail(quiet, sealed=["P"], key=key) is quiet


def test_without_a_key_the_detail_is_withheld() -> None:
    record = seal_record_detail(make_record(), sealed=["P"], key=None)
    assert record.sealed_detail is None
    for value in ("S-0001", "S-0002", "S-0007", "12345.678"):
        assert value not in record.to_json()
    assert "/results/0/failing_ids" in record.resolved[WITHHELD]["fields"]
    assert detail_status(record) == "withheld"


def test_another_key_cannot_open_it(key: VerifierKey, tmp_path: Path) -> None:
    sealed = seal_record_detail(make_record(), sealed=["P"], key=key)
    other = generate_key(tmp_path / "other.key")
    with pytest.raises(SealError, match="sealed for verifier key"):
        open_record_detail(sealed, other)
    with pytest.raises(SealError, match=r"stage5/MLR-1/P"):
        open_evidence_detail({"d" * 64: sealed}, other)


def test_the_detail_key_is_derived_not_the_secret(key: VerifierKey) -> None:
    sealed = seal_record_detail(make_record(), sealed=["P"], key=key)
    detail = sealed.sealed_detail
    assert detail is not None
    nonce, ciphertext = base64.b64decode(detail.nonce), base64.b64decode(detail.ciphertext)
    aad = _aad(sealed.model_copy(update={"sealed_detail": None}), detail.datasets, detail.fields)
    # the derived key opens it (so the failure below is the key's, not the AAD's) ...
    assert AESGCM(key.derive(DETAIL_INFO, 64)[:32]).decrypt(nonce, ciphertext, aad)
    with pytest.raises(InvalidTag):  # ... and the raw secret, which seals [P], does not
        AESGCM(key.secret).decrypt(nonce, ciphertext, aad)


def test_a_changed_ciphertext_or_a_moved_detail_is_refused(key: VerifierKey) -> None:
    sealed = seal_record_detail(make_record(), sealed=["P"], key=key)
    detail = sealed.sealed_detail
    assert detail is not None
    raw = bytearray(base64.b64decode(detail.ciphertext))
    raw[0] ^= 1
    flipped = sealed.model_copy(
        update={
            "sealed_detail": detail.model_copy(
                update={"ciphertext": base64.b64encode(bytes(raw)).decode()}
            )
        }
    )
    assert flipped.digest != sealed.digest
    with pytest.raises(TamperError):
        open_record_detail(flipped, key)
    # the same detail pasted into another record does not open there
    elsewhere = make_record(key="stage5/MLR-2/P", subject="MLR-2")
    moved = elsewhere.model_copy(update={"sealed_detail": detail})
    with pytest.raises(TamperError):
        open_record_detail(moved, key)


def test_ids_in_texts_keys_and_the_summary_are_sealed_too(key: VerifierKey) -> None:
    """Review finding: the safety net missed an id inside a longer text, a mapping keyed by
    ids, and the summary line."""
    record = make_record(
        summary="MLR-1 on [P]: first failing S-0001",
        resolved={"per_sample": {"S-0001": 0.2}, "note": "worst is id S-0002, then more"},
    )
    ids = {"S-0001", "S-0002"}
    sealed = seal_record_detail(record, sealed=["P"], key=key, sample_ids=ids)
    text = sealed.to_json()
    assert "S-0001" not in text
    assert "S-0002" not in text
    assert sealed.summary == "MLR-1 on [P]: first failing (sealed sample)"
    assert detail_status(sealed) == "sealed"
    opened = open_record_detail(sealed, key)
    assert opened.summary == record.summary
    assert opened.resolved == record.resolved
    assert detail_status(opened) == "opened"


def test_results_edited_after_sealing_are_tamper_not_a_crash(key: VerifierKey) -> None:
    """Review finding: emptying a sealed record's results made opening it an IndexError
    (exit 3 in `amlas case --key-file`); it is a TamperError naming the record."""
    sealed = seal_record_detail(make_record(), sealed=["P"], key=key)
    edited = sealed.model_copy(update={"results": []})
    with pytest.raises(TamperError, match="changed after sealing"):
        open_record_detail(edited, key)


# -- amlas run ------------------------------------------------------------------------------


pytestmark = pytest.mark.usefixtures("fresh_model")


def _contents(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): p.read_bytes().decode("utf-8", "replace")
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_a_verifier_run_keeps_no_sample_of_p_readable(
    tmp_path: Path, key: VerifierKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = runnable(tmp_path / "mini")
    seal_dataset(check_project(root).project, "P", key)
    p_ids = [i for i, _, _ in rows("P")]
    missed = [i for i, label, _ in rows("P") if label == "positive"][:3]
    monkeypatch.setenv("MINI_MODEL_MISS", ",".join(missed))
    before = _contents(root)  # the lookup model holds the ids: only what the run writes counts

    report = run_project(str(root), role="verifier", key=key)

    records = {r.key: r for _, r in report.records}
    recall = records["stage5/MLR-1/P"]
    assert recall.verdict == "fail"
    assert sum(s["failing_count"] for s in recall.results) == 3
    assert recall.sealed_detail is not None
    # the independence of [P] with [N] and [O] finds shared sizes: pairs of ids, sealed
    assert records["stage3/independence/N-P"].verdict == "fail"
    assert records["stage3/independence/N-P"].sealed_detail is not None
    # nothing the run wrote (evidence store, access log) names a sample of [P]
    written = {p: t for p, t in _contents(root).items() if before.get(p) != t}
    assert any(p.startswith("evidence/") for p in written)
    for path, text in written.items():
        leaked = [i for i in p_ids if i in text]
        assert not leaked, (path, leaked[:5])
    # [N] and [O] are not sealed: their records are untouched
    assert records["stage3/DR-1/N"].sealed_detail is None
    # the verifier sees them again with the key
    opened = open_record_detail(recall, key)
    assert sorted(i for s in opened.results for i in s["failing_ids"]) == sorted(missed)
    pairs = open_record_detail(records["stage3/independence/N-P"], key).results
    assert any(p in json.dumps(pairs) for p in p_ids)
    # a re-run seals the same detail to the same bytes (its digest differs all the same:
    # it cites the new unseal entry of the access log)
    again = {r.key: r for _, r in run_project(str(root), role="verifier", key=key).records}
    assert again["stage5/MLR-1/P"].sealed_detail == recall.sealed_detail
