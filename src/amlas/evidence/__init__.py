"""Evidence: one JSON record per check, kept in a store the safety case points into.

``amlas run`` evaluates each ML safety requirement and data requirement and writes one
:class:`EvidenceRecord` per check: what was checked (``key``, ``check``, ``subject``,
``dataset``), how (``parameters`` as written, ``resolved`` defaults, ``versions``), on
what (``inputs``: name -> SHA-256 of each dataset, model and requirement) and with what
outcome (``results``, ``verdict``, ``summary``).

The hash contract:

* A record's **digest** is the SHA-256 of its canonical JSON: every field except
  ``metadata``, with keys sorted, no whitespace, non-ASCII kept, UTF-8 encoded. It is
  the record's content address: stores file it under it and the safety case cites it.
* Hashed: ``schema``, ``key``, ``check``, ``stage``, ``role``, ``subject``, ``dataset``,
  ``parameters``, ``resolved``, ``inputs``, ``results``, ``verdict``, ``summary``,
  ``versions``, and ``sealed_detail``, ``origin`` and ``provenance`` when present.
  Changing any of them, a single float included, changes the digest.
* Not hashed: ``metadata`` (wall-clock times, host, duration), so re-running an
  unchanged check on another machine gives the same digest.
* ``inputs`` is what makes evidence go stale: the case compares these hashes with the
  current files, and a mismatch marks the claims resting on the record stale.

Stores are opened by URI with :func:`open_store` (``fs://evidence``, ``sqlite:///
evidence.db``, any SQLAlchemy URL, ``memory://NAME``); the backends are plug-ins of the
entry-point group ``amlas.stores`` (:class:`StoreBackend`). A run's records become
current (move the refs) only when the run commits, so an interrupted run never leaves a
half-updated store, and a record whose content no longer matches its digest is reported
(``get`` raises :class:`CorruptRecord`, ``verify`` lists it), never used.

A review record [RV] is pinned by :func:`pin_review` (``amlas review pin``): the hash of
everything it examined goes into the review, so that a later change makes it stale.

A result produced outside amlas (a frame time measured on the target, a simulator
campaign, a test report) comes in through ``amlas evidence import`` as a record of
``origin: external`` with its :class:`Provenance`; counts are judged by amlas itself,
a document's verdict is recorded as the document's statement (:mod:`amlas.verify`).

A record computed from sealed data ([P]) keeps its per-sample detail (sample ids,
values, counterexamples) only encrypted for the verifier key, in ``sealed_detail``;
:func:`open_evidence_detail` puts it back for a key holder (:mod:`amlas.evidence._detail`).

Record keys are built and read by :mod:`amlas.evidence.keys`. The run that makes records
(planning, executing, change impact, field-log ingestion) is :mod:`amlas.verify`.
"""

from amlas.evidence import keys
from amlas.evidence._actor import check_verifier_key, current_actor
from amlas.evidence._companions import (
    companion_sealed,
    open_companion,
    seal_companion,
    sealed_companion_hash,
)
from amlas.evidence._custody import (
    SealOutcome,
    Unsealed,
    chunked_sealed,
    open_sealed,
    record_use,
    seal_dataset,
    verify_custody,
)
from amlas.evidence._detail import detail_status, open_evidence_detail, seal_record_detail
from amlas.evidence._inputs import (
    FILE_INPUTS,
    MODEL_SETTINGS,
    ProjectInputs,
    canonical_hash,
    component_input,
    file_hash,
    model_code_file,
    model_settings,
    module_file,
)
from amlas.evidence._memory import MemoryStore, forget_memory_store
from amlas.evidence._record import (
    Accountable,
    EvidenceRecord,
    ImportedData,
    ImportedDocument,
    Provenance,
    SealedDetail,
    Tool,
)
from amlas.evidence._reviews import Pin, pin_review
from amlas.evidence._signature import (
    VerifierTrust,
    check_signatures,
    sign_record,
    verify_signatures,
)
from amlas.evidence._store import (
    BaseStore,
    CorruptRecord,
    EvidenceStore,
    RecordNotFound,
    Run,
    RunEntry,
    RunSummary,
    StoreBackend,
    StoreError,
    copy_current,
    open_store,
)
from amlas.evidence._use import StoreLike, store_uri, using_store

__all__ = [
    "FILE_INPUTS",
    "MODEL_SETTINGS",
    "Accountable",
    "BaseStore",
    "CorruptRecord",
    "EvidenceRecord",
    "EvidenceStore",
    "ImportedData",
    "ImportedDocument",
    "MemoryStore",
    "Pin",
    "ProjectInputs",
    "Provenance",
    "RecordNotFound",
    "Run",
    "RunEntry",
    "RunSummary",
    "SealOutcome",
    "SealedDetail",
    "StoreBackend",
    "StoreError",
    "StoreLike",
    "Tool",
    "Unsealed",
    "VerifierTrust",
    "canonical_hash",
    "check_signatures",
    "check_verifier_key",
    "chunked_sealed",
    "companion_sealed",
    "component_input",
    "copy_current",
    "current_actor",
    "detail_status",
    "file_hash",
    "forget_memory_store",
    "keys",
    "model_code_file",
    "model_settings",
    "module_file",
    "open_companion",
    "open_evidence_detail",
    "open_sealed",
    "open_store",
    "pin_review",
    "record_use",
    "seal_companion",
    "seal_dataset",
    "seal_record_detail",
    "sealed_companion_hash",
    "sign_record",
    "store_uri",
    "using_store",
    "verify_custody",
    "verify_signatures",
]
