"""EvidenceRecord: canonical JSON, the digest contract, strict validation, exact round trips."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import JsonValue, ValidationError

from amlas.evidence import EvidenceRecord
from amlas.hashing import sha256_bytes

SHA_A = "a" * 64
SHA_B = "b" * 64


def make_record(**changes: Any) -> EvidenceRecord:
    fields: dict[str, Any] = {
        "key": "stage5/metric/MLR-1",
        "check": "metric.recall",
        "stage": 5,
        "role": "verifier",
        "subject": "MLR-1",
        "dataset": "P",
        "parameters": {"metric": "recall", "threshold": 0.95},
        "resolved": {"positive_class": "malignant", "method": "clopper-pearson", "seed": 0},
        "inputs": {"dataset:P": SHA_A, "model": SHA_B},
        "results": [{"slice": "all", "value": 0.97, "n": 120, "lower": 0.93}],
        "verdict": "pass",
        "summary": "recall 0.97 (95% CI lower bound 0.93) >= 0.95",
        "versions": {"amlas": "0.1.0", "numpy": "2.0.0"},
        "metadata": {"started": "2024-05-01T10:00:00Z", "host": "ci-1", "duration_s": 1.5},
    }
    fields.update(changes)
    return EvidenceRecord(**fields)


# Pinned: if this changes, every stored digest in every project goes stale at once.
CANONICAL = (
    '{"check":"metric.recall","dataset":"P","inputs":{"dataset:P":"' + SHA_A + '",'
    '"model":"' + SHA_B + '"},"key":"stage5/metric/MLR-1","parameters":{"metric":"recall",'
    '"threshold":0.95},"resolved":{"method":"clopper-pearson","positive_class":"malignant",'
    '"seed":0},"results":[{"lower":0.93,"n":120,"slice":"all","value":0.97}],'
    '"role":"verifier","schema":"amlas.evidence/1","stage":5,"subject":"MLR-1",'
    '"summary":"recall 0.97 (95% CI lower bound 0.93) >= 0.95","verdict":"pass",'
    '"versions":{"amlas":"0.1.0","numpy":"2.0.0"}}'
)


def test_canonical_json_is_pinned() -> None:
    record = make_record()
    assert record.canonical_json() == CANONICAL
    assert record.digest == sha256_bytes(CANONICAL.encode("utf-8"))


def test_canonical_json_ignores_insertion_order() -> None:
    shuffled = make_record(
        parameters={"threshold": 0.95, "metric": "recall"},
        inputs={"model": SHA_B, "dataset:P": SHA_A},
    )
    assert shuffled.canonical_json() == CANONICAL


def test_canonical_json_keeps_non_ascii() -> None:
    record = make_record(summary="rappel ≥ 0,95 — µ")
    assert "rappel ≥ 0,95 — µ" in record.canonical_json()
    assert record.digest == sha256_bytes(record.canonical_json().encode("utf-8"))


def test_metadata_is_left_out_of_the_digest() -> None:
    record = make_record()
    other = make_record(metadata={"host": "laptop", "duration_s": 99.0})
    bare = make_record(metadata={})
    assert "metadata" not in record.canonical_json()
    assert record.digest == other.digest == bare.digest
    assert record != other  # the records still differ; only the content address agrees


HASHED_CHANGES: dict[str, Any] = {
    "key": "stage5/metric/MLR-2",
    "check": "metric.precision",
    "stage": 4,
    "role": "developer",
    "subject": "MLR-2",
    "dataset": None,
    "parameters": {"metric": "recall", "threshold": 0.96},
    "resolved": {"positive_class": "malignant", "method": "clopper-pearson", "seed": 1},
    "inputs": {"dataset:P": SHA_B, "model": SHA_B},
    "results": [{"slice": "all", "value": 0.9700000000000001, "n": 120, "lower": 0.93}],
    "verdict": "fail",
    "summary": "recall 0.97",
    "versions": {"amlas": "0.1.1", "numpy": "2.0.0"},
    # the sealed per-sample detail is hashed, so it cannot be swapped for another
    "sealed_detail": {
        "algorithm": "AES-256-GCM",
        "kdf": "HKDF-SHA256 amlas/evidence-detail/1",
        "key_id": "0123456789abcdef",
        "datasets": ["P"],
        "fields": ["/results/0/failing_ids"],
        "nonce": "AAAAAAAAAAAAAAAA",
        "ciphertext": "AAAA",
    },
    # imported evidence: where it came from is hashed with what it says (set together)
    "origin": "external",
    "provenance": {
        "kind": "document",
        "accountable": {"person": "A. Lee", "organisation": "Lab"},
        "tool": {"name": "bench", "version": "1"},
        "date": "2026-03-02",
        "file": "imports/report.yaml",
        "sha256": SHA_A,
        "document": {
            "file": "reports/r.pdf",
            "sha256": SHA_B,
            "title": "Report",
            "kind": "test_report",
        },
    },
}
_TOGETHER = ("origin", "provenance")


def test_every_field_but_metadata_is_hashed() -> None:
    fields = {info.alias or name for name, info in EvidenceRecord.model_fields.items()}
    # 'schema' has one allowed value, so it cannot change; it is in the canonical JSON.
    assert fields - {"metadata", "schema"} == set(HASHED_CHANGES)
    assert '"schema":"amlas.evidence/1"' in make_record().canonical_json()


@pytest.mark.parametrize(("field", "value"), HASHED_CHANGES.items(), ids=list(HASHED_CHANGES))
def test_changing_a_hashed_field_changes_the_digest(field: str, value: Any) -> None:
    if field in _TOGETHER:  # an external record differs from one with other provenance
        external = {name: HASHED_CHANGES[name] for name in _TOGETHER}
        assert make_record(**external).digest != make_record().digest
        other = dict(external)
        if field == "origin":  # the only other origin is none at all
            return
        other["provenance"] = {**HASHED_CHANGES["provenance"], "date": "2026-03-03"}
        assert make_record(**other).digest != make_record(**external).digest
        return
    assert make_record(**{field: value}).digest != make_record().digest


def test_int_and_float_hash_differently() -> None:
    # 1 and 1.0 are different JSON texts; the record keeps what the check produced.
    assert make_record(results=[{"n": 1}]).digest != make_record(results=[{"n": 1.0}]).digest


def test_to_json_is_pretty_sorted_and_keeps_metadata() -> None:
    record = make_record()
    text = record.to_json()
    assert text.endswith("}\n")
    assert text.startswith('{\n  "check": "metric.recall",\n')
    assert json.loads(text) == {**json.loads(CANONICAL), "metadata": record.metadata}
    assert list(json.loads(text)) == sorted(json.loads(text))


def test_round_trip() -> None:
    record = make_record()
    assert EvidenceRecord.from_json(record.to_json()) == record
    from_canonical = EvidenceRecord.from_json(record.canonical_json())
    assert from_canonical.digest == record.digest
    assert from_canonical.metadata == {}


def test_dump_uses_the_schema_alias() -> None:
    assert make_record().model_dump()["schema"] == "amlas.evidence/1"


@pytest.mark.parametrize(
    "key",
    ["stage5/metric/MLR-1", "stage3/data/DR-4/N", "stage3/independence/N-O", "a", "9.x_y"],
)
def test_good_keys(key: str) -> None:
    assert make_record(key=key).key == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/stage5/x",
        ".hidden",
        "-x",
        "_x",
        "stage5/../x",
        "a..b",
        "..",
        "with space",
        "back\\slash",
        "colon:x",
        "stage5/MLR-1\n",
        "é",
        "x" * 513,
    ],
)
def test_bad_keys_are_rejected(key: str) -> None:
    with pytest.raises(ValidationError, match="key"):
        make_record(key=key)


@pytest.mark.parametrize(
    "changes",
    [
        {"parameters": {"threshold": math.nan}},
        {"resolved": {"alpha": math.inf}},
        {"results": [{"slice": "all", "value": -math.inf}]},
        {"results": [{"nested": [1.0, {"deep": math.nan}]}]},
        {"metadata": {"duration_s": math.nan}},
    ],
)
def test_non_finite_numbers_are_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        make_record(**changes)


def test_nan_in_json_text_is_rejected() -> None:
    text = make_record().to_json().replace('"value": 0.97', '"value": NaN')
    assert "NaN" in text
    with pytest.raises(ValidationError, match="finite"):
        EvidenceRecord.from_json(text)


def test_lone_surrogate_is_rejected() -> None:
    with pytest.raises(ValidationError, match="not valid Unicode"):
        make_record(summary="bad \ud800 text")


@pytest.mark.parametrize(
    "changes",
    [
        {"metadata": {"host": "bad \ud800"}},  # not hashed, but stored: it must encode too
        {"results": [{"slice": "all \udfff", "value": 0.97}]},
        {"parameters": {"metric": ["recall", "\ud800"]}},
    ],
)
def test_a_lone_surrogate_anywhere_in_the_stored_form_is_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="not valid Unicode"):
        make_record(**changes)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"inputs": {"model": "abc"}}, "inputs"),
        ({"inputs": {"model": SHA_A.upper()}}, "inputs"),
        ({"stage": 2}, "stage"),
        ({"role": "tester"}, "role"),
        ({"verdict": "passed"}, "verdict"),
        ({"schema": "amlas.evidence/2"}, "schema"),
        ({"surprise": 1}, "surprise"),
        ({"check": ""}, "check"),
    ],
)
def test_bad_fields_are_rejected(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        make_record(**changes)


def test_required_fields_are_required() -> None:
    fields = json.loads(make_record().to_json())
    del fields["dataset"]  # None is allowed but must be said
    with pytest.raises(ValidationError, match="dataset"):
        EvidenceRecord.model_validate(fields)


def test_from_json_does_not_coerce() -> None:
    text = make_record().to_json().replace('"stage": 5', '"stage": "5"')
    with pytest.raises(ValidationError, match="stage"):
        EvidenceRecord.from_json(text)


def test_records_are_immutable() -> None:
    record = make_record()
    with pytest.raises(ValidationError):
        record.verdict = "fail"  # type: ignore[misc]


# -- property: any JSON results survive both serialisations bit for bit ------------------

finite_floats = st.floats(allow_nan=False, allow_infinity=False)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    finite_floats,
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=6), children, max_size=4),
    ),
    max_leaves=10,
)
results_strategy = st.lists(
    st.dictionaries(
        st.text(max_size=6),
        st.one_of(finite_floats, json_values),
        max_size=5,
    ),
    max_size=4,
)


def _same_json(a: Any, b: Any) -> bool:
    """Equal, and every float bit-identical (0.0 == -0.0, but not here)."""
    if isinstance(a, float) or isinstance(b, float):
        return type(a) is type(b) and a.hex() == b.hex()
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=200, deadline=None, derandomize=True)
@given(results=results_strategy, threshold=finite_floats)
def test_round_trip_preserves_floats_exactly(
    results: list[dict[str, JsonValue]], threshold: float
) -> None:
    record = make_record(results=results, parameters={"threshold": threshold})
    for text in (record.to_json(), record.canonical_json()):
        loaded = EvidenceRecord.from_json(text)
        assert loaded.digest == record.digest
        assert loaded.canonical_json() == record.canonical_json()
        assert _same_json(loaded.results, record.results)
        assert _same_json(loaded.parameters, record.parameters)
