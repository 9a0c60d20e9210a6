"""Sealed verification data and its access log (AMLAS R15, R16; a shared leaf).

AMLAS asks that the verification data [P] stay unseen by the development team until the
model is released for verification, and that its handling be recorded in the verification
log [AA]. ``amlas seal`` encrypts [P] under a key only the verifier role holds
(:func:`seal_file`); ``amlas run --role verifier`` decrypts it in memory (:func:`unseal`).
Every seal, unseal and use is appended to a hash-chained, signed :class:`AccessLog`, and
:func:`check_usage` warns when [P] has been used so often that the model may be tuned
to it.

What this protects against:

- accidental or casual access by the development team: without the verifier key the
  sealed file is AES-256-GCM ciphertext, and its header tells only its name, size and hash;
- silent tampering: editing any byte of a sealed file, header included, fails
  authentication on unseal, and anyone sees it against the seal statement the verifier
  signed (:func:`check_seal`); editing, deleting, inserting or reordering log lines breaks
  the hash chain for anyone, and a forged entry on a rebuilt chain fails its Ed25519
  signature, checked with the verifier's declared public key (:mod:`._signing`);
- unrecorded use through ``amlas``: its commands reach the sealed data only through code
  that logs the unseal and each use, and the count of uses is checked against a limit.

What it does not protect against:

- a developer who obtains the verifier key (keep it out of the repository and off the
  developers' machines: ``AMLAS_VERIFIER_KEY_FILE`` or ``AMLAS_VERIFIER_KEY``);
- a copy of the plaintext taken before sealing: the plaintext must be deleted from the
  development checkout *and* purged from version-control history;
- a key holder who decrypts the data with their own code, keeps a plaintext copy, or does
  not log: the log records what ``amlas`` was asked to do, not everything that happened;
- cutting entries off the end of the log: the chain stays consistent, so the verifier's
  evidence records sign :meth:`AccessLog.head` and a later log must still contain it;
- a developer who replaces the project's declared public key with their own: every
  earlier signature then fails, but new ones could be made; review changes to it;
- a developer deleting the whole log or the sealed file: their absence is visible to
  ``amlas check``, not prevented.

Exceptions::

    UsageError (amlas.errors)
    └── SealError      a key, sealed file or access log cannot be used as asked
        └── TamperError   it was modified after it was written, or is damaged
"""

from amlas.sealing._container import (
    ALGORITHM,
    DEFAULT_CHUNK_SIZE,
    MAGIC,
    MAGIC_CHUNKED,
    Kind,
    SealedHeader,
    SealedReader,
    check_seal,
    read_header,
    seal,
    seal_file,
    seal_stream,
    unseal,
    unseal_file,
)
from amlas.sealing._detail import DETAIL_ALGORITHM, DETAIL_KDF, open_detail, seal_detail
from amlas.sealing._errors import SealError, TamperError
from amlas.sealing._keys import (
    ENV_KEY,
    ENV_KEY_FILE,
    VerifierKey,
    generate_key,
    load_key,
    resolve_key,
)
from amlas.sealing._log import (
    GENESIS,
    AccessLog,
    Event,
    LogEntry,
    LogProblem,
    Role,
    check_usage,
)
from amlas.sealing._personal import SigningKey, generate_signing_key, load_signing_key
from amlas.sealing._signing import (
    canonical_statement,
    check_public_key,
    public_key_id,
    public_key_of,
    sign,
    signature_valid,
)

__all__ = [
    "ALGORITHM",
    "DEFAULT_CHUNK_SIZE",
    "DETAIL_ALGORITHM",
    "DETAIL_KDF",
    "ENV_KEY",
    "ENV_KEY_FILE",
    "GENESIS",
    "MAGIC",
    "MAGIC_CHUNKED",
    "AccessLog",
    "Event",
    "Kind",
    "LogEntry",
    "LogProblem",
    "Role",
    "SealError",
    "SealedHeader",
    "SealedReader",
    "SigningKey",
    "TamperError",
    "VerifierKey",
    "canonical_statement",
    "check_public_key",
    "check_seal",
    "check_usage",
    "generate_key",
    "generate_signing_key",
    "load_key",
    "load_signing_key",
    "open_detail",
    "public_key_id",
    "public_key_of",
    "read_header",
    "resolve_key",
    "seal",
    "seal_detail",
    "seal_file",
    "seal_stream",
    "sign",
    "signature_valid",
    "unseal",
    "unseal_file",
]
