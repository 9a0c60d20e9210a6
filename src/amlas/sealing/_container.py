"""The sealed file: data encrypted with AES-256-GCM under a verifier key.

Layout (version 1)::

    AMLAS-SEALED/1\\n
    <header: one line of canonical JSON (sorted keys, no spaces, ASCII)>\\n
    <ciphertext, ending in the 16-byte GCM tag>

The header is readable without the key, so ``amlas check`` can compare the sealed content's
SHA-256 with the dataset's declared hash. The exact header bytes are the AEAD associated
data: editing the header (say, its declared hash) makes decryption fail just as editing the
ciphertext does.

Decryption needs the key, so a signed sidecar lets anyone else see tampering too:
``<sealed file>.sig`` is one JSON object (the *seal statement*)::

    {"schema": "amlas.sealed-file/1", "name": ..., "key_id": ..., "plaintext_sha256": ...,
     "sealed_sha256": <SHA-256 of the whole sealed file>, "sealed_size": ...,
     "public_key": "ed25519:...", "sig": <Ed25519 signature of the rest>}

written by :func:`seal_file` and checked by :func:`check_seal` with the project's declared
verifier public key: one flipped or cut byte of the sealed file changes its SHA-256, and
nobody without the verifier key can sign a new statement.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Annotated, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from amlas.fileio import atomic_write_bytes
from amlas.hashing import sha256_bytes
from amlas.sealing._errors import SealError, TamperError
from amlas.sealing._keys import VerifierKey
from amlas.sealing._signing import canonical_statement, public_key_of, sign, signature_valid

__all__ = [
    "ALGORITHM",
    "MAGIC",
    "MAX_PLAINTEXT_SIZE",
    "SEAL_SIGNATURE_SUFFIX",
    "SealedHeader",
    "check_seal",
    "read_header",
    "seal",
    "seal_file",
    "unseal",
    "unseal_file",
]

MAGIC = b"AMLAS-SEALED/1\n"
ALGORITHM = "AES-256-GCM"
NONCE_SIZE = 12
TAG_SIZE = 16
# One-shot AES-GCM in `cryptography` takes at most 2**31 - 1 bytes; larger verification
# sets would also not decrypt "in memory only" comfortably.
MAX_PLAINTEXT_SIZE = 2**31 - 1 - TAG_SIZE
# A header is a few hundred bytes; the cap stops read_header() from slurping a large file
# that merely starts with the magic line.
_MAX_HEADER = 64 * 1024
_FAMILY = b"AMLAS-SEALED/"
SEAL_SIGNATURE_SUFFIX = ".sig"
"""The seal statement of ``x.sealed`` is ``x.sealed.sig``."""
_STATEMENT_SCHEMA = "amlas.sealed-file/1"
_STATEMENT_FIELDS = frozenset(
    {"schema", "name", "key_id", "plaintext_sha256", "sealed_sha256", "sealed_size"}
)

Kind = Literal["file", "tar"]
"""What a sealed file holds: one file, or a folder packed as a tar archive."""


def _check_name(value: str) -> str:
    if value in (".", "..") or any(ch in value for ch in "/\\\0"):
        raise ValueError("must be a plain file name, without a folder")
    return value


def _check_nonce(value: str) -> str:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be base64") from None
    if len(raw) != NONCE_SIZE:
        raise ValueError(f"must encode {NONCE_SIZE} bytes, got {len(raw)}")
    return value


class SealedHeader(BaseModel):
    """The public header of a sealed file: what was sealed, with which key, how."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    alg: Literal["AES-256-GCM"] = Field(description="The AEAD algorithm: always AES-256-GCM.")
    key_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")] = Field(
        description="Public id of the verifier key that opens the file."
    )
    nonce: str = Field(description="Base64 of the 12-byte random GCM nonce.")
    plaintext_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="SHA-256 of the sealed content (for a folder: of its tar archive)."
    )
    plaintext_size: Annotated[int, Field(ge=0)] = Field(
        description="Size of the sealed content in bytes."
    )
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)] = Field(
        description="Name of the original file or folder, without its path."
    )
    kind: Kind = Field(
        description="'file' for one file, 'tar' for a folder packed as a tar archive."
    )

    @field_validator("name")
    @classmethod
    def _name_is_plain(cls, value: str) -> str:
        return _check_name(value)

    @field_validator("nonce")
    @classmethod
    def _nonce_is_base64(cls, value: str) -> str:
        return _check_nonce(value)

    def canonical(self) -> bytes:
        """The header line exactly as written and authenticated (without its newline)."""
        return _canonical_json(self.model_dump(mode="json"))


def _canonical_json(value: object) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def _where(source: str | Path | None) -> str:
    return f"{source}: " if source is not None else ""


def _split(data: bytes, source: str | Path | None) -> tuple[SealedHeader, bytes, bytes]:
    """Split a sealed file into (header, header line bytes, ciphertext)."""
    where = _where(source)
    if not data.startswith(MAGIC):
        if data.startswith(_FAMILY):
            version = data[len(_FAMILY) : data.find(b"\n")].decode("ascii", "replace")
            raise SealError(
                f"{where}sealed with format version {version!r}, which this version of "
                "amlas cannot read (it reads version 1); upgrade amlas"
            )
        raise SealError(
            f"{where}not an AMLAS sealed file (it does not start with {MAGIC.decode().strip()!r})"
        )
    end = data.find(b"\n", len(MAGIC))
    if end < 0:
        raise TamperError(f"{where}the sealed file is cut short inside its header")
    line = data[len(MAGIC) : end]
    header = _parse_header(line, where)
    return header, line, data[end + 1 :]


def _parse_header(line: bytes, where: str) -> SealedHeader:
    try:
        header = SealedHeader.model_validate_json(line)
    except (ValidationError, ValueError) as exc:
        raise TamperError(f"{where}the sealed file's header is damaged: {_summary(exc)}") from None
    if header.canonical() != line:
        # Only a hand edit produces a non-canonical header; say so without needing the key.
        raise TamperError(
            f"{where}the sealed file's header was edited (it is not in canonical form)"
        )
    return header


def _summary(exc: Exception) -> str:
    if not isinstance(exc, ValidationError):
        return str(exc)
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        place = ".".join(str(p) for p in error["loc"])
        if error["type"] == "extra_forbidden":
            parts.append(f"unknown field {place!r}")
        elif error["type"] == "missing":
            parts.append(f"missing field {place!r}")
        else:
            parts.append(f"{place}: {error['msg']}" if place else error["msg"])
    return "; ".join(parts)


def seal(plaintext: bytes, key: VerifierKey, *, name: str, kind: Kind = "file") -> bytes:
    """Encrypt ``plaintext`` under ``key``; returns the complete sealed file.

    ``name`` is the original file (or folder) name, without its path; ``kind`` is "file",
    or "tar" for a folder the caller packed into a tar archive.

    Raises:
        SealError: ``name`` or ``kind`` is invalid, or the plaintext is too large.
    """
    if len(plaintext) > MAX_PLAINTEXT_SIZE:
        raise SealError(
            f"{name}: {len(plaintext)} bytes is too large to seal in one piece "
            f"(at most {MAX_PLAINTEXT_SIZE} bytes)"
        )
    nonce = os.urandom(NONCE_SIZE)  # random 96-bit nonces: safe for far more seals than needed
    try:
        header = SealedHeader(
            alg="AES-256-GCM",
            key_id=key.key_id,
            nonce=base64.b64encode(nonce).decode("ascii"),
            plaintext_sha256=sha256_bytes(plaintext),
            plaintext_size=len(plaintext),
            name=name,
            kind=kind,
        )
    except (ValidationError, ValueError) as exc:
        raise SealError(f"cannot seal {name!r}: {_summary(exc)}") from None
    line = header.canonical()
    ciphertext = AESGCM(key.secret).encrypt(nonce, plaintext, line)
    return MAGIC + line + b"\n" + ciphertext


def read_header(data: bytes | str | Path, *, source: str | Path | None = None) -> SealedHeader:
    """The header of a sealed file (its bytes, or its path), read without the key.

    Only the start of a file is read. The header is *not* authenticated here: only
    :func:`unseal` proves it unmodified.

    Raises:
        SealError: not a sealed file, or unreadable.
        TamperError: the header is damaged or visibly edited.
    """
    if isinstance(data, bytes):
        return _split(data, source)[0]
    path = Path(data)
    try:
        with path.open("rb") as handle:
            start = handle.read(len(MAGIC) + _MAX_HEADER)
    except OSError as exc:
        raise SealError(f"{path}: cannot read the sealed file: {exc}") from exc
    if start.startswith(MAGIC) and start.find(b"\n", len(MAGIC)) < 0 and len(start) > _MAX_HEADER:
        raise TamperError(f"{path}: the sealed file's header is damaged (no end of line)")
    return _split(start, path)[0]


def unseal(data: bytes, key: VerifierKey, *, source: str | Path | None = None) -> bytes:
    """Decrypt a sealed file in memory and prove it unmodified; returns the plaintext.

    ``source`` (the file's path, if any) only names the file in messages.

    Raises:
        SealError: not a sealed file, or ``key`` is not the key it was sealed with.
        TamperError: the header or ciphertext was modified, or the file was cut short.
    """
    where = _where(source)
    header, line, ciphertext = _split(data, source)
    if header.key_id != key.key_id:
        raise SealError(
            f"{where}sealed with verifier key {header.key_id}, but the key given is "
            f"{key.key_id}; use the verifier key this file was sealed with"
        )
    if len(ciphertext) < TAG_SIZE:
        raise TamperError(f"{where}the sealed file is cut short (no authentication tag)")
    nonce = base64.b64decode(header.nonce)
    try:
        plaintext = AESGCM(key.secret).decrypt(nonce, ciphertext, line)
    except InvalidTag:
        raise TamperError(
            f"{where}the sealed file was modified after sealing (authentication failed)"
        ) from None
    # GCM already authenticated the header, so these only fail if sealing itself was wrong;
    # checking is cheap and keeps the header's promise independent of the cipher.
    if len(plaintext) != header.plaintext_size:
        raise TamperError(
            f"{where}the content is {len(plaintext)} bytes, the header says {header.plaintext_size}"
        )
    if sha256_bytes(plaintext) != header.plaintext_sha256:
        raise TamperError(f"{where}the content's SHA-256 does not match the header")
    return plaintext


def unseal_file(path: str | Path, key: VerifierKey) -> bytes:
    """:func:`unseal` the file at ``path``; the plaintext stays in memory only."""
    source = Path(path)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise SealError(f"{source}: cannot read the sealed file: {exc}") from exc
    return unseal(data, key, source=source)


def seal_file(
    src: str | Path,
    dst: str | Path,
    key: VerifierKey,
    *,
    kind: Kind = "file",
    data: bytes | None = None,
) -> SealedHeader:
    """Seal the file ``src`` (or ``data``, e.g. ``src`` packed as a tar archive) into
    ``dst``, written atomically; returns the header written.

    The header records ``src``'s name. Removing the plaintext afterwards is the caller's
    job (and the project's version-control history is the user's).

    Raises:
        SealError: ``src`` cannot be read, ``dst`` cannot be written, or arguments are bad.
    """
    source, target = Path(src), Path(dst)
    if data is None:
        if source.is_dir():
            raise SealError(
                f"{source}: is a folder; pack it (kind='tar') and pass the archive as data"
            )
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise SealError(f"{source}: cannot read the file to seal: {exc}") from exc
    sealed = seal(data, key, name=source.name, kind=kind)
    header = read_header(sealed, source=target)
    statement = {
        "schema": _STATEMENT_SCHEMA,
        "name": header.name,
        "key_id": header.key_id,
        "plaintext_sha256": header.plaintext_sha256,
        "sealed_sha256": sha256_bytes(sealed),
        "sealed_size": len(sealed),
    }
    signed = {
        **statement,
        "public_key": public_key_of(key),
        "sig": sign(key, canonical_statement(statement)),
    }
    sidecar = target.with_name(target.name + SEAL_SIGNATURE_SUFFIX)
    try:
        # the sealed file first: a crash in between leaves a sealed file without its
        # statement, which 'amlas check' reports, never a statement vouching for nothing
        atomic_write_bytes(target, sealed)
        atomic_write_bytes(sidecar, _canonical_json(signed) + b"\n")
    except OSError as exc:
        raise SealError(f"{target}: cannot write the sealed file: {exc}") from exc
    return header


def check_seal(path: str | Path, public_key: str) -> list[str]:
    """Problems with the sealed file at ``path`` seen without the key: its seal statement
    (``path`` + ``.sig``) is missing, malformed or not signed by ``public_key``, or the file
    is no longer the one the verifier sealed (a changed or cut byte). Empty when intact.
    """
    source = Path(path)
    sidecar = source.with_name(source.name + SEAL_SIGNATURE_SUFFIX)
    try:
        raw = sidecar.read_bytes()
    except FileNotFoundError:
        return [
            f"the seal statement {sidecar.name!r} is missing: nothing shows the sealed file "
            "is the one the verifier sealed"
        ]
    except OSError as exc:
        return [f"cannot read the seal statement {sidecar.name!r}: {exc}"]
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return [f"the seal statement {sidecar.name!r} is not JSON: {exc}"]
    expected = _STATEMENT_FIELDS | {"public_key", "sig"}
    if not isinstance(value, dict) or set(value) != expected:
        return [
            f"the seal statement {sidecar.name!r} is malformed (expected the fields "
            f"{', '.join(sorted(expected))})"
        ]
    statement = {name: value[name] for name in _STATEMENT_FIELDS}
    if value["schema"] != _STATEMENT_SCHEMA or not signature_valid(
        public_key, canonical_statement(statement), value["sig"]
    ):
        return [
            f"the seal statement {sidecar.name!r} is not signed by the declared verifier key "
            "(forged, edited, or sealed with another key)"
        ]
    try:
        data = source.read_bytes()
    except OSError as exc:
        return [f"cannot read the sealed file: {exc}"]
    if len(data) != value["sealed_size"] or sha256_bytes(data) != value["sealed_sha256"]:
        return [
            f"the sealed file was modified after sealing: {len(data)} bytes with sha256 "
            f"{sha256_bytes(data)[:12]}..., the verifier sealed {value['sealed_size']} bytes "
            f"with sha256 {str(value['sealed_sha256'])[:12]}..."
        ]
    return []
