"""Personal signing keys: the Ed25519 keys people sign approvals and bundles with.

A safety case is accepted by people (an independent verifier, a safety assessor), each
declared in ``amlas.yaml`` with the *public* half of an Ed25519 key (``ed25519:`` and 44
characters, the form of :mod:`amlas.sealing._signing`). The private half stays with the
person, in a file outside the project, in one of the usual formats:

- PKCS#8 PEM (``-----BEGIN PRIVATE KEY-----``), what ``amlas keygen --signing`` writes
  (mode 0600) and ``openssl genpkey -algorithm ed25519`` makes;
- an OpenSSH private key (``ssh-keygen -t ed25519``), unencrypted.

A verifier key file (``amlas-verifier-key/1``) loads too, as the key the verifier role
signs its *evidence* with (:func:`~amlas.sealing.public_key_of`): :attr:`SigningKey.kind`
says so, and whoever checks an approval refuses that key outside its role.

The private key never appears in a ``repr``, a message or a file amlas writes.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_ssh_private_key,
)

from amlas.sealing._errors import SealError
from amlas.sealing._keys import KEY_FILE_HEADER, _read_key_file, create_key_file, load_key
from amlas.sealing._signing import SIGNING_INFO

__all__ = ["SigningKey", "generate_signing_key", "load_signing_key"]

_WHAT = "signing key file"


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key and its public key as a project declares it."""

    public_key: str
    """``ed25519:`` and the raw public key in URL-safe base64 (44 characters)."""
    kind: Literal["personal", "verifier"]
    """``personal`` (a person's key) or ``verifier`` (the verifier role's evidence key,
    derived from a verifier key file): the second never signs approvals or bundles."""
    private: Ed25519PrivateKey = field(repr=False, compare=False)

    @classmethod
    def of(cls, private: Ed25519PrivateKey, kind: Literal["personal", "verifier"]) -> SigningKey:
        raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return cls("ed25519:" + base64.urlsafe_b64encode(raw).decode("ascii"), kind, private)

    def sign(self, message: bytes) -> str:
        """The Ed25519 signature of ``message``, standard base64 (88 characters)."""
        return base64.b64encode(self.private.sign(message)).decode("ascii")

    def __repr__(self) -> str:
        return f"SigningKey(public_key={self.public_key!r}, kind={self.kind!r})"

    __str__ = __repr__


def generate_signing_key(path: str | Path) -> SigningKey:
    """Create a new personal signing key at ``path`` (PKCS#8 PEM, mode 0600). The file
    appears complete or not at all and never replaces an existing one.

    Raises:
        SealError: ``path`` exists or cannot be written.
    """
    private = Ed25519PrivateKey.from_private_bytes(secrets.token_bytes(32))
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    create_key_file(Path(path), pem, "signing key")
    return SigningKey.of(private, "personal")


def load_signing_key(path: str | Path) -> SigningKey:
    """Read a signing key file: PKCS#8 PEM or OpenSSH (Ed25519, unencrypted), or a
    verifier key file (then ``kind`` is ``verifier``).

    Raises:
        SealError: the file is missing, unreadable, not a key, encrypted, or not Ed25519;
            the message names the file, never the key.
    """
    source = Path(path)
    raw = _read_key_file(source, _WHAT, 16 * 1024)
    expected = (
        "expected an Ed25519 private key: PKCS#8 PEM ('amlas keygen --signing', 'openssl "
        "genpkey -algorithm ed25519') or OpenSSH ('ssh-keygen -t ed25519'), unencrypted"
    )
    if raw.startswith(KEY_FILE_HEADER.encode("ascii")):
        verifier = load_key(source)
        return SigningKey.of(
            Ed25519PrivateKey.from_private_bytes(verifier.derive(SIGNING_INFO, 32)), "verifier"
        )
    loaded: object
    try:
        if raw.lstrip().startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----"):
            loaded = load_ssh_private_key(raw, password=None)
        elif raw.lstrip().startswith(b"-----BEGIN"):
            loaded = load_pem_private_key(raw, password=None)
        else:
            raise SealError(f"{source}: not a key file; {expected}", code="R110", path=source)
    except TypeError:  # a password-protected key
        raise SealError(
            f"{source}: the key is encrypted with a passphrase; {expected}",
            code="R110",
            path=source,
        ) from None
    except (ValueError, IndexError):  # malformed or unsupported
        raise SealError(
            f"{source}: cannot read the key; {expected}", code="R110", path=source
        ) from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise SealError(
            f"{source}: a {type(loaded).__name__.removesuffix('PrivateKey').removeprefix('_')} "
            f"key, not Ed25519; {expected}",
            code="R110",
            path=source,
        )
    return SigningKey.of(loaded, "personal")
