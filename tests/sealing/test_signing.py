"""The verifier's Ed25519 signatures (issue 12): derived from the verifier key, checked
with the public key alone, and the signed seal statement of a sealed file."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from amlas.hashing import sha256_bytes
from amlas.sealing import (
    VerifierKey,
    check_public_key,
    check_seal,
    public_key_of,
    seal_file,
    sign,
    signature_valid,
)

KEY = VerifierKey.from_secret(bytes(range(32)))
OTHER = VerifierKey.from_secret(bytes(32))
DATA = b"id,label\n" + b"".join(b"%d,benign\n" % i for i in range(400))


def test_the_signing_key_is_hkdf_of_the_secret_under_its_own_label() -> None:
    seed = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"amlas/verifier-signing/1"
    ).derive(KEY.secret)
    raw = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    expected = base64.urlsafe_b64encode(raw.public_bytes(Encoding.Raw, PublicFormat.Raw))
    assert public_key_of(KEY) == "ed25519:" + expected.decode()
    assert public_key_of(KEY) == public_key_of(VerifierKey.from_secret(bytes(range(32))))
    assert public_key_of(OTHER) != public_key_of(KEY)
    assert check_public_key(public_key_of(KEY)) == public_key_of(KEY)


@pytest.mark.parametrize(
    "text", ["", "ed25519:", "ed25519:abc", "rsa:" + "A" * 43 + "=", "ed25519:" + "!" * 43 + "="]
)
def test_a_malformed_public_key_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="ed25519"):
        check_public_key(text)


def test_anyone_checks_a_signature_with_the_public_key_only() -> None:
    signature = sign(KEY, b"message")
    public = public_key_of(KEY)
    assert signature_valid(public, b"message", signature)
    assert not signature_valid(public, b"messagE", signature)
    assert not signature_valid(public_key_of(OTHER), b"message", signature)
    for junk in (None, "", "x" * 88, signature[:-4] + "AA==", 7):
        assert not signature_valid(public, b"message", junk)  # never raises
    assert not signature_valid("ed25519:nonsense", b"message", signature)


@pytest.fixture
def sealed(tmp_path: Path) -> Path:
    src = tmp_path / "P.csv"
    src.write_bytes(DATA)
    target = tmp_path / "P.csv.sealed"
    seal_file(src, target, KEY)
    return target


def test_an_intact_seal_checks_with_the_public_key(sealed: Path) -> None:
    assert check_seal(sealed, public_key_of(KEY)) == []
    (problem,) = check_seal(sealed, public_key_of(OTHER))
    assert "not signed by the declared verifier key" in problem


@pytest.mark.parametrize("damage", ["flip", "cut"])
def test_issue12_a_changed_or_cut_byte_is_seen_without_the_key(sealed: Path, damage: str) -> None:
    """Reproduction 3: one flipped ciphertext byte, or 500 bytes cut off the end."""
    blob = bytearray(sealed.read_bytes())
    if damage == "flip":
        blob[-40] ^= 0x01
    else:
        del blob[-500:]
    sealed.write_bytes(bytes(blob))
    (problem,) = check_seal(sealed, public_key_of(KEY))
    assert "modified after sealing" in problem


def test_a_rewritten_statement_is_not_signed(sealed: Path) -> None:
    """Who changes the file and recomputes its hash in the statement cannot re-sign it."""
    blob = sealed.read_bytes()[:-500]
    sealed.write_bytes(blob)
    statement_file = sealed.with_name(sealed.name + ".sig")
    statement = json.loads(statement_file.read_text())
    statement.update(sealed_sha256=sha256_bytes(blob), sealed_size=len(blob))
    statement_file.write_text(json.dumps(statement))
    (problem,) = check_seal(sealed, public_key_of(KEY))
    assert "not signed by the declared verifier key" in problem


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "is missing"), (b"{not json", "not JSON"), (b'{"schema": 1}', "malformed")],
)
def test_a_missing_or_damaged_statement_is_a_problem(
    sealed: Path, content: bytes | None, message: str
) -> None:
    statement_file = sealed.with_name(sealed.name + ".sig")
    if content is None:
        statement_file.unlink()
    else:
        statement_file.write_bytes(content)
    (problem,) = check_seal(sealed, public_key_of(KEY))
    assert message in problem
