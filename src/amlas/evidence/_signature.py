"""Who produced a record: the verifier's signature on verification evidence.

A record's digest proves its content unchanged since someone computed it, not *who*
computed it: anyone can write a record that says ``verdict: pass`` and hash it. The
verifier role therefore signs every record it writes, with the Ed25519 key derived from
its verifier key (:mod:`amlas.sealing._signing`), and the safety case accepts
verification results only when that signature checks against the project's declared
``verifier_key``.

The signature lives in the record's ``metadata`` (left out of the digest, so signing
never changes a record's content address, and both store backends keep it with the
record)::

    "signature": {"schema": "amlas.evidence-signature/1", "digest": <the record's digest>,
                  "access_log": {"P": <hash of the log's last entry after the run>},
                  "public_key": "ed25519:...", "sig": <Ed25519 of the other fields but
                  public_key, as canonical JSON>}

``access_log`` binds the head of each access log the run wrote to (its ``use`` entry) into
the signature: a log cut after that entry no longer holds it, which anyone can see.

Which records must be signed (:func:`needs_verifier_signature`): stage 5, every record of
the verifier role, and every record computed on sealed data. The development team signs
nothing: its records are its own claims, and the independent verifier's signed stage-5
results are what AMLAS R16 rests on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from amlas.diagnostics import Diagnostics, Location
from amlas.evidence._record import EvidenceRecord
from amlas.evidence._store import EvidenceStore, StoreError
from amlas.evidence.keys import key_stage
from amlas.project import MANIFEST_FILE, Project
from amlas.sealing import (
    AccessLog,
    SealError,
    VerifierKey,
    canonical_statement,
    public_key_id,
    public_key_of,
    sign,
    signature_valid,
)

__all__ = [
    "NOT_SIGNED",
    "SignatureProblem",
    "VerifierTrust",
    "check_signatures",
    "needs_verifier_signature",
    "sign_record",
    "signature_problem",
    "verify_signatures",
]

SIGNATURE_SCHEMA = "amlas.evidence-signature/1"
NOT_SIGNED = "not signed by the declared verifier key"
"""The reason every refusal starts with (the case and ``amlas check`` print it)."""
_FIELDS = frozenset({"schema", "digest", "access_log", "public_key", "sig"})


def sign_record(
    record: EvidenceRecord, key: VerifierKey, *, access_log: Mapping[str, str] | None = None
) -> EvidenceRecord:
    """``record`` with the verifier's signature of its digest (and of the access-log heads
    ``access_log``, letter -> entry hash) in its metadata; the digest is unchanged."""
    statement = {
        "schema": SIGNATURE_SCHEMA,
        "digest": record.digest,
        "access_log": dict(sorted((access_log or {}).items())),
    }
    block = {
        **statement,
        "public_key": public_key_of(key),
        "sig": sign(key, canonical_statement(statement)),
    }
    return record.model_copy(update={"metadata": {**record.metadata, "signature": block}})


def _letters(record: EvidenceRecord) -> set[str]:
    letters = set((record.dataset or "").split("+")) - {""}
    letters |= {name.split(":", 1)[1] for name in record.inputs if name.startswith("dataset:")}
    return letters


def needs_verifier_signature(record: EvidenceRecord, sealed: frozenset[str] = frozenset()) -> bool:
    """Whether ``record`` claims verification: stage 5 (by its stage or by its key, which
    is what the case cites: a ``stage5/`` key whose record says another stage is a forgery
    unless signed), the verifier role, or computed on one of the ``sealed`` datasets
    (which only the verifier reads; stage-6 records cite them through the verification
    results they use, whose own signatures the case checks)."""
    return (
        record.stage == 5
        or key_stage(record.key) not in (None, record.stage)
        or record.role == "verifier"
        # stage 6 (integration, either role) cites the verifier's results among its inputs
        # and rests on their signatures; it does not read the sealed data itself
        or (record.stage != 6 and bool(_letters(record) & sealed))
    )


def _block(record: EvidenceRecord) -> dict[str, Any] | None:
    block = record.metadata.get("signature")
    return block if isinstance(block, dict) else None


def signature_problem(record: EvidenceRecord, public_key: str | None) -> str | None:
    """Why ``record`` is not signed by ``public_key`` (the declared verifier key), or None
    when it is. Every reason starts with :data:`NOT_SIGNED`."""
    if "signature" not in record.metadata:
        return f"{NOT_SIGNED} (the record carries no signature)"
    block = _block(record)
    if block is None or set(block) != _FIELDS or not isinstance(block["access_log"], dict):
        return f"{NOT_SIGNED} (its signature block is malformed)"
    if public_key is None:
        return f"{NOT_SIGNED} (amlas.yaml declares no verifier_key)"
    if block["digest"] != record.digest:
        return (
            f"{NOT_SIGNED} (the signature is for record {str(block['digest'])[:12]}..., "
            f"this record is {record.digest[:12]}...: its content was changed)"
        )
    statement = {name: block[name] for name in ("schema", "digest", "access_log")}
    if block["schema"] != SIGNATURE_SCHEMA or not signature_valid(
        public_key, canonical_statement(statement), block["sig"]
    ):
        return (
            f"{NOT_SIGNED} {public_key_id(public_key)} (the signature does not verify: "
            "forged, edited, or made with another key)"
        )
    return None


class VerifierTrust:
    """What a project accepts as the verifier's: its declared key, its sealed datasets
    and their access logs (read once, without any secret)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.public_key = project.manifest.verifier_key
        self.sealed = frozenset(
            letter for letter, document in project.datasets().items() if document.sealed
        )
        self._logs: dict[str, set[str] | None] = {}

    def _log(self, letter: str) -> set[str] | None:
        if letter not in self._logs:
            document = self.project.datasets().get(letter)
            entries: set[str] | None = None
            if document is not None and document.sealed is not None:
                log = AccessLog(self.project.root / document.sealed.access_log)
                try:
                    entries = {entry.hash for entry in log.entries()}
                except SealError:
                    entries = set()  # a damaged log holds no head anyone can trust (D015)
            self._logs[letter] = entries
        return self._logs[letter]

    def problem(self, record: EvidenceRecord) -> str | None:
        """Why the project cannot accept ``record`` as signed evidence, or None. A record
        that needs no signature and carries none is fine; one that carries a signature
        must have a valid one."""
        if "signature" not in record.metadata and not needs_verifier_signature(record, self.sealed):
            return None
        problem = signature_problem(record, self.public_key)
        if problem is not None:
            return problem
        block = _block(record)
        assert block is not None
        for letter, head in sorted(block["access_log"].items()):
            entries = self._log(letter)
            if entries is not None and head not in entries:
                return (
                    f"the access-log entry {str(head)[:12]}... it signed for [{letter}] is no "
                    "longer in the log (entries cut from its end?)"
                )
        return None


SignatureProblem = tuple[str, str, str]
"""(record key, digest, why) for one current record the project cannot accept."""


def verify_signatures(project: Project, store: EvidenceStore) -> list[SignatureProblem]:
    """Every current record (the refs) whose signature the project cannot accept, sorted
    by key. Damaged refs and records are the store's own ``verify()``'s to report."""
    trust = VerifierTrust(project)
    try:
        current = store.list()
    except StoreError:
        return []
    problems = []
    for key, digest in current:
        try:
            record = store.get(digest)
        except StoreError:
            continue
        why = trust.problem(record)
        if why is not None:
            problems.append((key, digest, why))
    return problems


def check_signatures(project: Project, diagnostics: Diagnostics) -> None:
    """Add an M013 diagnostic for every current record of the project's evidence store
    whose signature it cannot accept (``amlas check``). A store that does not exist yet is
    not created; one that cannot be read is left to ``amlas evidence --verify``."""
    from amlas.evidence._fs import FileStore
    from amlas.evidence._store import open_store

    uri = project.manifest.evidence
    scheme, _, rest = uri.partition("://")
    if scheme == "fs" and not (project.root / (rest or "evidence")).is_dir():
        return
    if scheme.startswith("sqlite"):
        path = Path(rest.lstrip("/") if not rest.startswith("//") else rest[1:])
        if not (path if path.is_absolute() else project.root / path).is_file():
            return
    try:
        with open_store(uri, root=project.root) as store:
            found = verify_signatures(project, store)
            files = store.path if isinstance(store, FileStore) else None
    except StoreError:
        return
    source = project.manifest_source
    at_store = source.locate(("evidence",)) if source is not None else Location(MANIFEST_FILE)
    for key, digest, why in found:
        at = at_store
        if files is not None:
            record_file = files / "objects" / digest[:2] / f"{digest}.json"
            with contextlib.suppress(ValueError):
                at = Location(record_file.relative_to(project.root).as_posix())
        diagnostics.add(
            "M013",
            f"evidence record {key!r} ({digest[:12]}...): {why}",
            at,
            hint="re-run the check as the verifier ('amlas run --role verifier'); a record "
            "the verifier did not sign never supports the safety case",
        )
