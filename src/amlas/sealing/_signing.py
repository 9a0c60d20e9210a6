"""Signatures of the verifier role: Ed25519, derived from the verifier key.

The verifier key file holds one 32-byte secret (:mod:`amlas.sealing._keys`). Its Ed25519
signing key is derived from that secret with HKDF-SHA256 (no salt, info
``b"amlas/verifier-signing/1"``), so the one key file both opens sealed data and signs,
and the two uses stay cryptographically independent. The *public* key is what a project
declares (``verifier_key`` in ``amlas.yaml``); anyone can check a signature with it, nobody
can make one without the secret.

A public key is written as text: ``ed25519:`` then the 32 raw bytes in URL-safe base64
with padding (44 characters). A signature is the 64 raw bytes in standard base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from amlas.sealing._keys import VerifierKey

__all__ = [
    "PUBLIC_KEY_PATTERN",
    "SIGNING_INFO",
    "canonical_statement",
    "check_public_key",
    "public_key_id",
    "public_key_of",
    "sign",
    "signature_valid",
]

SIGNING_INFO = b"amlas/verifier-signing/1"
"""The HKDF info label of the verifier's Ed25519 signing key."""

_PREFIX = "ed25519:"
PUBLIC_KEY_PATTERN = r"^ed25519:[A-Za-z0-9_-]{43}=$"
_PUBLIC = re.compile(PUBLIC_KEY_PATTERN)
_SIGNATURE = re.compile(r"^[A-Za-z0-9+/]{86}==$")


def _signing_key(key: VerifierKey) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(key.derive(SIGNING_INFO, 32))


def public_key_of(key: VerifierKey) -> str:
    """The verifier's public key as a project declares it: ``ed25519:<base64url>``."""
    raw = _signing_key(key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return _PREFIX + base64.urlsafe_b64encode(raw).decode("ascii")


def public_key_id(public_key: str) -> str:
    """A short fingerprint of a public key (16 hex characters of its SHA-256), for messages."""
    return hashlib.sha256(public_key.encode("ascii", "replace")).hexdigest()[:16]


def check_public_key(text: str) -> str:
    """``text`` if it is a well-formed Ed25519 public key, else ValueError saying why."""
    if not _PUBLIC.match(text):
        raise ValueError(
            "must be 'ed25519:' followed by 44 characters of URL-safe base64 "
            "(what 'amlas keygen' prints)"
        )
    raw = _load_public(text).public_bytes(Encoding.Raw, PublicFormat.Raw)
    canonical = _PREFIX + base64.urlsafe_b64encode(raw).decode("ascii")
    if canonical != text:
        # the last character carries 2 unused bits: 4 spellings of one key, which would
        # compare unequal as text (one key declared twice, as two people)
        raise ValueError(f"is not written in its canonical form; write {canonical}")
    return text


def _load_public(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.urlsafe_b64decode(text[len(_PREFIX) :])
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError):
        raise ValueError("is not an Ed25519 public key") from None


def canonical_statement(value: object) -> bytes:
    """The exact bytes signed for a JSON statement: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def sign(key: VerifierKey, message: bytes) -> str:
    """The verifier's Ed25519 signature of ``message``, base64."""
    return base64.b64encode(_signing_key(key).sign(message)).decode("ascii")


def signature_valid(public_key: str, message: bytes, signature: object) -> bool:
    """Whether ``signature`` (base64) signs ``message`` under ``public_key``.

    Never raises: a malformed key or signature is simply not valid.
    """
    if not isinstance(signature, str) or not _SIGNATURE.match(signature):
        return False
    try:
        verifier = _load_public(public_key)
        verifier.verify(base64.b64decode(signature, validate=True), message)
    except (ValueError, binascii.Error, InvalidSignature):
        return False
    return True
