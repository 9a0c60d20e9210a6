"""Per-sample detail of evidence computed from sealed data: taken out, sealed, put back.

A record computed from a sealed dataset (its ``inputs`` cite ``dataset:P`` and [P] is
sealed) is read by the whole project, so it may carry only counts, estimates, bounds and
verdicts (AMLAS R15). :func:`seal_record_detail` is the one step every such record goes
through before it is kept: it takes out

* every value under a name in :data:`DETAIL_FIELDS` (ids of failing samples, out-of-ODD
  values, duplicate pairs, shared groups, label disagreements, formal queries and
  counterexamples, fault campaigns), at any depth of ``results`` and ``resolved``;
* every other value that is, or is a list holding, a sample or group id of the sealed
  datasets (a safety net for a check that names samples under another field name);

and seals them together for the verifier key into the record's ``sealed_detail``
(:func:`amlas.sealing.seal_detail`, bound to the record's identity). Empty values (``[]``,
``{}``, None) stay: they say nothing. Without a key (a development-team run whose record
cites sealed evidence) the values are withheld instead, and ``resolved.detail_withheld``
lists them. :func:`open_record_detail` puts the values back for a key holder (the verifier,
the assessor) when a report or case is built with ``--key-file``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Collection, Mapping
from typing import Any, Final

from amlas.evidence._record import EvidenceRecord, SealedDetail
from amlas.sealing import (
    DETAIL_ALGORITHM,
    DETAIL_KDF,
    SealError,
    TamperError,
    VerifierKey,
    open_detail,
    seal_detail,
)

__all__ = [
    "DETAIL_FIELDS",
    "WITHHELD",
    "detail_status",
    "open_evidence_detail",
    "open_record_detail",
    "seal_record_detail",
    "sealed_datasets",
]

DETAIL_FIELDS: Final = frozenset(
    {
        "failing_ids",  # metrics, data checks, formal: the samples that failed
        "values",  # within_odd: the out-of-ODD values themselves
        "pairs",  # independence: (sample, sample) duplicates across datasets
        "groups",  # independence: shared group ids (patients, assets)
        "disagreements",  # label audit: sample, recorded and audited label
        "examples",  # duplicates within a dataset: sample and the one it repeats
        "misclassified",  # formal: samples left out as misclassified
        "queries",  # formal: one entry per queried sample
        "counterexample",
        "counterexamples",
        "campaigns",  # faults: per-campaign accuracy on the data
        "worst",  # faults: the worst campaigns, with their accuracy
    }
)
"""Names whose values are per-sample detail in a record computed from sealed data."""

WITHHELD: Final = "detail_withheld"
"""The ``resolved`` entry listing values withheld (not sealed) for want of a key."""


SEALED_SAMPLE: Final = "(sealed sample)"
"""What a sealed record's summary shows in place of a sample id."""


def sealed_datasets(record: EvidenceRecord, sealed: Collection[str]) -> list[str]:
    """The letters of ``sealed`` datasets whose content ``record`` cites as an input."""
    return sorted(letter for letter in sealed if f"dataset:{letter}" in record.inputs)


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {} or value == ""


_TOKENS = re.compile(r"[\s,;()\[\]{}'\"`=]+")


def _mentions(text: str, ids: Collection[str]) -> bool:
    """Whether ``text`` is, or holds as a word, one of the sample ``ids``."""
    if not ids:
        return False
    return text in ids or any(token in ids for token in _TOKENS.split(text) if token)


def _names_sample(value: Any, ids: Collection[str]) -> bool:
    """Whether ``value`` names a sample: an id, a text holding one as a word, a list (of
    lists) holding one, or a mapping keyed by one."""
    if isinstance(value, str):
        return _mentions(value, ids)
    if isinstance(value, list):
        return any(_names_sample(item, ids) for item in value if isinstance(item, str | list))
    if isinstance(value, dict):
        return any(isinstance(name, str) and _mentions(name, ids) for name in value)
    return False


def _take(value: Any, pointer: str, ids: Collection[str], out: dict[str, Any]) -> Any:
    """``value`` without its detail; what was taken goes into ``out`` by JSON pointer."""
    if isinstance(value, dict):
        kept = {}
        for name, item in value.items():
            here = f"{pointer}/{_escape(str(name))}"
            # a plain string under a detail name is an explanation ("not compared: ...");
            # a string that is a sample id is caught by the safety net
            detail = name in DETAIL_FIELDS and not _empty(item) and not isinstance(item, str)
            if detail or _names_sample(item, ids):
                out[here] = item
            else:
                kept[name] = _take(item, here, ids, out)
        return kept
    if isinstance(value, list):
        return [_take(item, f"{pointer}/{index}", ids, out) for index, item in enumerate(value)]
    return value


def _aad(record: EvidenceRecord, datasets: list[str], fields: list[str]) -> bytes:
    """What the ciphertext is bound to: the record's identity and the pointers sealed."""
    bound = {
        "key": record.key,
        "check": record.check,
        "stage": record.stage,
        "role": record.role,
        "subject": record.subject,
        "dataset": record.dataset,
        "datasets": datasets,
        "fields": fields,
    }
    return json.dumps(bound, sort_keys=True, separators=(",", ":")).encode("utf-8")


def seal_record_detail(
    record: EvidenceRecord,
    *,
    sealed: Collection[str],
    key: VerifierKey | None,
    sample_ids: Collection[str] = (),
) -> EvidenceRecord:
    """``record`` with its per-sample detail sealed for ``key`` (see the module doc).

    ``sealed`` are the letters of the project's sealed datasets; ``sample_ids`` the sample
    and group ids of those the record was computed from (the safety net). A record that
    cites no sealed dataset, or whose detail is all empty, is returned unchanged; so is a
    record already sealed (sealing is idempotent).
    """
    datasets = sealed_datasets(record, sealed)
    if not datasets or record.sealed_detail is not None:
        return record
    ids = frozenset(sample_ids)
    taken: dict[str, Any] = {}
    results = _take(record.results, "/results", ids, taken)
    resolved = _take(record.resolved, "/resolved", ids, taken)
    summary = record.summary
    if _mentions(summary, ids):  # the one-line verdict names a sample: say it is sealed
        taken["/summary"] = summary
        summary = " ".join(
            SEALED_SAMPLE if word.strip(",;()[]{}'\"`=") in ids else word
            for word in summary.split(" ")
        )
    if not taken:
        return record
    fields = list(taken)
    if key is None:
        resolved[WITHHELD] = {
            "fields": fields,
            "why": f"computed from sealed [{'+'.join(datasets)}] without the verifier key: "
            "per-sample detail is not kept",
        }
        return record.model_copy(
            update={"results": results, "resolved": resolved, "summary": summary}
        )
    bare = record.model_copy(update={"results": results, "resolved": resolved, "summary": summary})
    plaintext = json.dumps(taken, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    nonce, ciphertext = seal_detail(
        plaintext.encode("utf-8"), key, aad=_aad(bare, datasets, fields)
    )
    detail = SealedDetail(
        algorithm=DETAIL_ALGORITHM,
        kdf=DETAIL_KDF,
        key_id=key.key_id,
        datasets=datasets,
        fields=fields,
        nonce=nonce,
        ciphertext=ciphertext,
    )
    # validated again: the sealed form must be a valid record in its own right
    return EvidenceRecord.model_validate(
        {**bare.model_dump(by_alias=True), "sealed_detail": detail.model_dump()}
    )


def _put(target: dict[str, Any], pointer: str, value: Any) -> None:
    parts = [_unescape(p) for p in pointer.split("/")[1:]]
    where: Any = target
    for part in parts[:-1]:
        where = where[int(part)] if isinstance(where, list) else where[part]
    if not isinstance(where, dict):
        raise SealError(f"sealed detail pointer {pointer!r} does not lead into an object")
    where[parts[-1]] = value


def open_record_detail(record: EvidenceRecord, key: VerifierKey) -> EvidenceRecord:
    """``record`` with its sealed detail put back in place, for display to a key holder.

    The result keeps ``sealed_detail`` (so a renderer can say the detail was opened), and
    is not a stored record: its own digest is not the store's. Records without sealed
    detail come back unchanged.

    Raises:
        SealError: ``key`` is not the key the detail was sealed for.
        TamperError: the sealed detail fails authentication.
    """
    detail = record.sealed_detail
    if detail is None:
        return record
    bare = record.model_copy(update={"sealed_detail": None})
    plaintext = open_detail(
        detail.nonce,
        detail.ciphertext,
        key,
        key_id=detail.key_id,
        aad=_aad(bare, list(detail.datasets), list(detail.fields)),
    )
    document: dict[str, Any] = {
        "results": copy.deepcopy(record.results),
        "resolved": copy.deepcopy(record.resolved),
        "summary": record.summary,
    }
    try:
        values = json.loads(plaintext)
        for pointer in detail.fields:
            _put(document, pointer, values[pointer])
    except (ValueError, LookupError, TypeError, AttributeError, SealError) as exc:
        # authentic detail that no longer fits the record around it: the record's own
        # results were edited after sealing
        raise TamperError(
            f"evidence record {record.key!r}: its sealed detail no longer fits its results "
            f"({type(exc).__name__} at a sealed field); the record was changed after sealing"
        ) from None
    return record.model_copy(update=document)


def open_evidence_detail(
    evidence: Mapping[str, EvidenceRecord], key: VerifierKey
) -> dict[str, EvidenceRecord]:
    """Every record of ``evidence`` (by digest) with its sealed detail opened for ``key``.

    Raises:
        SealError: a record's detail is sealed for another key, or fails authentication;
            the message names the record.
    """
    out = {}
    for digest, record in evidence.items():
        try:
            out[digest] = open_record_detail(record, key)
        except SealError as exc:
            raise type(exc)(f"evidence record {record.key} ({digest[:12]}...): {exc}") from None
    return out


def detail_status(record: EvidenceRecord) -> str | None:
    """'sealed' when the record's detail is sealed and not opened here, 'opened' when it
    was put back (:func:`open_record_detail`), 'withheld' when it was never kept, None
    when the record has no per-sample detail to hide."""
    detail = record.sealed_detail
    if detail is not None:
        document = {"results": record.results, "resolved": record.resolved}
        fields = [p for p in detail.fields if p != "/summary"]
        if fields:
            return "opened" if all(_has(document, p) for p in fields) else "sealed"
        return "sealed" if SEALED_SAMPLE in record.summary else "opened"
    if isinstance(record.resolved.get(WITHHELD), dict):
        return "withheld"
    return None


def _has(document: Any, pointer: str) -> bool:
    where = document
    for part in (_unescape(p) for p in pointer.split("/")[1:]):
        if isinstance(where, dict) and part in where:
            where = where[part]
        elif isinstance(where, list) and part.isdigit() and int(part) < len(where):
            where = where[int(part)]
        else:
            return False
    return True
