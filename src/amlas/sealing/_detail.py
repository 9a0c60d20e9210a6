"""Encryption of per-sample detail computed from sealed data, for the verifier only.

Evidence computed from the sealed verification data [P] is read by everyone who can read
the project; the ids of the samples that failed, their values, counterexamples and other
per-sample outcomes would show the development team exactly which verification samples to
tune to (AMLAS R15). Such detail is encrypted here with AES-256-GCM under a key derived
from the verifier's secret (HKDF-SHA256, info :data:`DETAIL_INFO`), a key of its own: it
never encrypts anything else, and the secret itself is never used directly.

The nonce is synthetic (the first 12 bytes of HMAC-SHA256 over the associated data and the
plaintext, under a second derived key), so the same detail sealed for the same record gives
the same ciphertext and a re-run gives the same record digest. What that reveals is only
whether two sealed details are equal; a nonce is reused only for an identical message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from amlas.sealing._container import ALGORITHM
from amlas.sealing._errors import SealError, TamperError
from amlas.sealing._keys import VerifierKey

__all__ = ["DETAIL_ALGORITHM", "DETAIL_INFO", "DETAIL_KDF", "open_detail", "seal_detail"]

DETAIL_INFO: Final = b"amlas/evidence-detail/1"
"""The HKDF info label of the detail key: no other key of amlas is derived with it."""

DETAIL_ALGORITHM: Final = ALGORITHM  # the same AEAD as the sealed files
DETAIL_KDF: Final = "HKDF-SHA256 amlas/evidence-detail/1"
"""How the detail key comes from the verifier secret, as a record names it."""

_NONCE_SIZE: Final = 12


def _derived(key: VerifierKey) -> tuple[bytes, bytes]:
    """(AES-256 key, nonce MAC key), both from one HKDF expansion of the secret."""
    material = key.derive(DETAIL_INFO, 64)
    return material[:32], material[32:]


def seal_detail(plaintext: bytes, key: VerifierKey, *, aad: bytes) -> tuple[str, str]:
    """Encrypt ``plaintext`` for ``key``, bound to ``aad``.

    Returns ``(nonce, ciphertext)``, both standard base64 (the ciphertext ends in the GCM
    tag). Deterministic: equal inputs give equal output.
    """
    cipher_key, nonce_key = _derived(key)
    framed = len(aad).to_bytes(8, "big") + aad + plaintext
    nonce = hmac.new(nonce_key, framed, hashlib.sha256).digest()[:_NONCE_SIZE]
    ciphertext = AESGCM(cipher_key).encrypt(nonce, plaintext, aad)
    return base64.b64encode(nonce).decode("ascii"), base64.b64encode(ciphertext).decode("ascii")


def open_detail(nonce: str, ciphertext: str, key: VerifierKey, *, key_id: str, aad: bytes) -> bytes:
    """Decrypt what :func:`seal_detail` sealed for the key ``key_id``.

    Raises:
        SealError: ``key`` is not the key ``key_id`` names.
        TamperError: the nonce or ciphertext is not base64, or fails authentication (the
            ciphertext, or the record it is bound to by ``aad``, was changed).
    """
    if key.key_id != key_id:
        raise SealError(
            f"the detail is sealed for verifier key {key_id}, not for the key given ({key.key_id})"
        )
    try:
        raw_nonce = base64.b64decode(nonce, validate=True)
        raw = base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError):
        raise TamperError("the sealed detail is not base64: it was damaged") from None
    if len(raw_nonce) != _NONCE_SIZE:
        raise TamperError(f"the sealed detail's nonce is {len(raw_nonce)} bytes, not 12")
    cipher_key, _ = _derived(key)
    try:
        return AESGCM(cipher_key).decrypt(raw_nonce, raw, aad)
    except InvalidTag:
        raise TamperError(
            "the sealed detail fails authentication: it, or the record it belongs to, was "
            "changed after sealing"
        ) from None
