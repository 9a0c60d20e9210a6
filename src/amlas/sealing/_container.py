"""The sealed file: data encrypted with AES-256-GCM under a verifier key.

Layout (version 2, written by default)::

    AMLAS-SEALED/2\\n
    <header: one line of canonical JSON (sorted keys, no spaces, ASCII), with chunk_size>\\n
    <chunk 0 ciphertext + 16-byte tag><chunk 1 ciphertext + tag>...<last chunk + tag>

The content is cut into chunks of ``chunk_size`` bytes (the last may be shorter; empty
content is one empty chunk), each encrypted on its own with the STREAM construction
(Hoang, Reyhanitabar, Rogaway, Vizar 2015): chunk ``i``'s nonce is the first 7 bytes of
the header's random nonce, ``i`` as 4 big-endian bytes, and one byte that is 1 for the
last chunk only. Reordering, dropping or duplicating chunks, or cutting the file after any
chunk, fails authentication, so the content can be read, and checked, chunk by chunk
(:class:`SealedReader`): a verifier opens a dataset larger than memory without ever
holding it whole, and a Parquet file inside is read by random access (its footer, then
its row groups). Version 1 (one GCM message over the whole content, at most 2 GiB) is
still read, and written with ``chunk_size=None``::

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
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Annotated, Any, Literal

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

from amlas.fileio import atomic_stream, atomic_write_bytes
from amlas.hashing import sha256_bytes
from amlas.sealing._errors import SealError, TamperError
from amlas.sealing._keys import VerifierKey
from amlas.sealing._signing import canonical_statement, public_key_of, sign, signature_valid

__all__ = [
    "ALGORITHM",
    "DEFAULT_CHUNK_SIZE",
    "MAGIC",
    "MAX_PLAINTEXT_SIZE",
    "SEAL_SIGNATURE_SUFFIX",
    "SealedHeader",
    "SealedReader",
    "check_seal",
    "read_header",
    "seal",
    "seal_file",
    "seal_stream",
    "unseal",
    "unseal_file",
]

MAGIC = b"AMLAS-SEALED/1\n"
MAGIC_CHUNKED = b"AMLAS-SEALED/2\n"
DEFAULT_CHUNK_SIZE = 1 << 20
"""1 MiB: small enough that random access (a Parquet footer, one row group's columns)
decrypts little it does not need, large enough that the 16-byte tags cost nothing."""
_MAX_CHUNK_SIZE = 1 << 30
_PREFIX_SIZE = 7  # STREAM: nonce prefix, 4-byte chunk counter, 1-byte last-chunk flag
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
    chunk_size: Annotated[int, Field(ge=1, le=_MAX_CHUNK_SIZE)] | None = Field(
        default=None,
        description="Version 2: the content is encrypted in chunks of this many bytes, "
        "each authenticated on its own (absent in version 1: one message).",
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
        return _canonical_json(self.model_dump(mode="json", exclude_none=True))

    @property
    def chunks(self) -> int:
        """How many chunks a version-2 file holds (empty content: one empty chunk)."""
        assert self.chunk_size is not None
        return max(1, -(-self.plaintext_size // self.chunk_size))

    @property
    def magic(self) -> bytes:
        return MAGIC if self.chunk_size is None else MAGIC_CHUNKED


def _canonical_json(value: object) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def _where(source: str | Path | None) -> str:
    return f"{source}: " if source is not None else ""


def _split(data: bytes, source: str | Path | None) -> tuple[SealedHeader, bytes, bytes]:
    """Split a sealed file into (header, header line bytes, ciphertext)."""
    where = _where(source)
    magic = next((m for m in (MAGIC, MAGIC_CHUNKED) if data.startswith(m)), None)
    if magic is None:
        if data.startswith(_FAMILY):
            version = data[len(_FAMILY) : data.find(b"\n")].decode("ascii", "replace")
            raise SealError(
                f"{where}sealed with format version {version!r}, which this version of "
                "amlas cannot read (it reads versions 1 and 2); upgrade amlas"
            )
        raise SealError(
            f"{where}not an AMLAS sealed file (it does not start with {MAGIC.decode().strip()!r})"
        )
    end = data.find(b"\n", len(magic))
    if end < 0:
        raise TamperError(f"{where}the sealed file is cut short inside its header")
    line = data[len(magic) : end]
    header = _parse_header(line, where)
    if header.magic != magic:
        raise TamperError(
            f"{where}the sealed file's header does not fit its format line "
            f"({magic.decode().strip()!r} with chunk_size {header.chunk_size})"
        )
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


def _chunk_nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def _new_header(
    key: VerifierKey,
    *,
    sha256: str,
    size: int,
    name: str,
    kind: Kind,
    chunk_size: int | None,
) -> tuple[SealedHeader, bytes]:
    # version 1 uses all 96 random bits; version 2 the first 56 as the STREAM prefix of the
    # file (chunk counter and last flag fill the rest): distinct per file with overwhelming
    # probability for any number of seals one verifier key will see
    nonce = os.urandom(NONCE_SIZE)
    try:
        header = SealedHeader(
            alg="AES-256-GCM",
            key_id=key.key_id,
            nonce=base64.b64encode(nonce).decode("ascii"),
            plaintext_sha256=sha256,
            plaintext_size=size,
            name=name,
            kind=kind,
            chunk_size=chunk_size,
        )
    except (ValidationError, ValueError) as exc:
        raise SealError(f"cannot seal {name!r}: {_summary(exc)}") from None
    if chunk_size is not None and header.chunks >= 1 << 32:
        raise SealError(f"{name}: {size} bytes need more than 2**32 chunks; use larger chunks")
    return header, nonce


def _encrypt_chunks(
    chunks: Iterator[bytes], header: SealedHeader, nonce: bytes, key: VerifierKey
) -> Iterator[bytes]:
    """Encrypt the content, given as ``header.chunks`` pieces in order (STREAM)."""
    aead, line, prefix = AESGCM(key.secret), header.canonical(), nonce[:_PREFIX_SIZE]
    count = header.chunks
    for index, piece in enumerate(chunks):
        yield aead.encrypt(_chunk_nonce(prefix, index, index == count - 1), piece, line)


def seal(
    plaintext: bytes,
    key: VerifierKey,
    *,
    name: str,
    kind: Kind = "file",
    chunk_size: int | None = DEFAULT_CHUNK_SIZE,
) -> bytes:
    """Encrypt ``plaintext`` under ``key``; returns the complete sealed file.

    ``name`` is the original file (or folder) name, without its path; ``kind`` is "file",
    or "tar" for a folder the caller packed into a tar archive. ``chunk_size`` (version 2,
    the default) encrypts in chunks that can be read one at a time; None writes version 1.

    Raises:
        SealError: ``name``, ``kind`` or ``chunk_size`` is invalid, or a version-1
            plaintext is too large.
    """
    if chunk_size is None and len(plaintext) > MAX_PLAINTEXT_SIZE:
        raise SealError(
            f"{name}: {len(plaintext)} bytes is too large to seal in one piece "
            f"(at most {MAX_PLAINTEXT_SIZE} bytes); seal it in chunks"
        )
    header, nonce = _new_header(
        key,
        sha256=sha256_bytes(plaintext),
        size=len(plaintext),
        name=name,
        kind=kind,
        chunk_size=chunk_size,
    )
    line = header.canonical()
    if chunk_size is None:
        ciphertext = AESGCM(key.secret).encrypt(nonce, plaintext, line)
        return MAGIC + line + b"\n" + ciphertext
    view = memoryview(plaintext)
    pieces = (bytes(view[i * chunk_size : (i + 1) * chunk_size]) for i in range(header.chunks))
    return MAGIC_CHUNKED + line + b"\n" + b"".join(_encrypt_chunks(pieces, header, nonce, key))


def seal_stream(
    source: str | Path | Callable[[], Iterable[bytes]],
    key: VerifierKey,
    *,
    name: str | None = None,
    kind: Kind = "file",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> tuple[SealedHeader, Iterator[bytes]]:
    """Seal the file ``source`` chunk by chunk, in bounded memory: its header, and the
    sealed file's bytes as an iterator (the file is read twice: once for its SHA-256,
    which the header carries, once to encrypt it).

    ``source`` may instead be a function that gives the content's bytes, the same each
    time it is called (a folder packed as a tar archive as it is read); ``name`` is then
    required. Content that differs between the two passes is refused.

    Raises:
        SealError: ``source`` cannot be read, or the arguments are bad.
    """
    if callable(source):
        if name is None:
            raise SealError("sealing a stream of content needs the name to record")
        content, shown = source, name
    else:
        path = Path(source)
        content, shown = (lambda: _file_blocks(path, chunk_size)), str(path)
    try:
        digest, size = hashlib.sha256(), 0
        for block in content():
            digest.update(block)
            size += len(block)
    except OSError as exc:
        raise SealError(f"{shown}: cannot read the file to seal: {exc}") from exc
    header, nonce = _new_header(
        key,
        sha256=digest.hexdigest(),
        size=size,
        name=name or Path(shown).name,
        kind=kind,
        chunk_size=chunk_size,
    )

    def pieces() -> Iterator[bytes]:
        again, read = hashlib.sha256(), 0
        # the header promises this content's hash: content changed between the two
        # passes must not be sealed under it (the caller writes nothing then)
        changed = SealError(f"{shown}: the content changed while it was being sealed")
        for piece in _rechunk(content(), chunk_size):
            again.update(piece)
            read += len(piece)
            if read > size:
                raise changed
            yield piece
        if read != size or again.hexdigest() != header.plaintext_sha256:
            raise changed

    def body() -> Iterator[bytes]:
        yield MAGIC_CHUNKED + header.canonical() + b"\n"
        yield from _encrypt_chunks(pieces(), header, nonce, key)

    return header, body()


def _file_blocks(path: Path, size: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(size):
            yield block


def _rechunk(blocks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """``blocks`` cut and joined into pieces of exactly ``size`` bytes (the last may be
    shorter)."""
    held = bytearray()
    for block in blocks:
        held += block
        while len(held) >= size:
            yield bytes(held[:size])
            del held[:size]
    if held:
        yield bytes(held)


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
    _check_key(header, key, where)
    if header.chunk_size is not None:
        reader = SealedReader(io.BytesIO(data), key, source=source)
        plaintext = reader.read()
        reader.verify()
        return plaintext
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


def _check_key(header: SealedHeader, key: VerifierKey, where: str) -> None:
    if header.key_id != key.key_id:
        raise SealError(
            f"{where}sealed with verifier key {header.key_id}, but the key given is "
            f"{key.key_id}; use the verifier key this file was sealed with"
        )


class SealedReader(io.RawIOBase):
    """A version-2 sealed file read as its plaintext: seekable, decrypted one chunk at a
    time (a few chunks are kept), never whole. pyarrow reads a Parquet or CSV file
    through it as through the plain file.

    Every chunk is authenticated when it is decrypted (a changed byte raises
    :class:`TamperError` at that read), under the header as associated data, which holds
    the content's SHA-256 and size. :meth:`verify` authenticates every chunk the reader
    did not need, so that the whole file is proven to be the one sealed under that header;
    when the chunks were read in order it also compares their SHA-256 with the header's.
    Call it after reading, before trusting the answer as the one for this content.
    """

    _KEPT = 16
    """Chunks kept decrypted (16 MiB at the default size): pyarrow reads several
    columns of a row group at once, out of order."""

    def __init__(
        self, handle: IO[bytes], key: VerifierKey, *, source: str | Path | None = None
    ) -> None:
        super().__init__()
        self._where = _where(source)
        self._handle = handle
        handle.seek(0)
        start = handle.read(len(MAGIC_CHUNKED) + _MAX_HEADER)
        header, line, _ = _split(start, source)
        if header.chunk_size is None:
            raise SealError(
                f"{self._where}a version-1 sealed file cannot be read chunk by chunk; "
                "`amlas seal` it again to write version 2"
            )
        _check_key(header, key, self._where)
        self.header = header
        self._line = line
        self._body = len(header.magic) + len(line) + 1
        self._aead = AESGCM(key.secret)
        self._prefix = base64.b64decode(header.nonce)[:_PREFIX_SIZE]
        size, chunk = header.plaintext_size, header.chunk_size
        expected = self._body + size + TAG_SIZE * header.chunks
        actual = handle.seek(0, io.SEEK_END)
        if actual != expected:
            what = "cut short" if actual < expected else "longer than sealed"
            raise TamperError(
                f"{self._where}the sealed file was modified after sealing ({what}: "
                f"{actual} bytes, the header promises {expected})"
            )
        self._chunk = chunk
        self._size = size
        self._position = 0
        self._kept: dict[int, bytes] = {}
        self._digest = hashlib.sha256()
        self._hashed = 0  # chunks 0.._hashed-1 are in the digest
        self._authenticated = bytearray(header.chunks)  # 1 once a chunk authenticated

    @classmethod
    def open(cls, path: str | Path, key: VerifierKey) -> SealedReader:
        """Open the sealed file at ``path`` for reading (close it when done)."""
        source = Path(path)
        try:
            handle = source.open("rb")
        except OSError as exc:
            raise SealError(f"{source}: cannot read the sealed file: {exc}") from exc
        try:
            return cls(handle, key, source=source)
        except BaseException:
            handle.close()
            raise

    # -- io.RawIOBase ----------------------------------------------------------------------

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def size(self) -> int:
        return self._size

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._position < self._size:
            index, offset = divmod(self._position, self._chunk)
            piece = self._plain(index)
            count = min(len(view) - done, len(piece) - offset)
            view[done : done + count] = piece[offset : offset + count]
            done += count
            self._position += count
        return done

    def readall(self) -> bytes:
        out = bytearray()
        while self._position < self._size:
            index, offset = divmod(self._position, self._chunk)
            piece = self._plain(index)
            out += piece[offset:]
            self._position += len(piece) - offset
        return bytes(out)

    def close(self) -> None:
        if not self.closed:
            self._handle.close()
            self._kept.clear()
        super().close()

    # -- chunks ----------------------------------------------------------------------------

    def _plain(self, index: int) -> bytes:
        piece = self._kept.get(index)
        if piece is None:
            piece = self._decrypt(index)
            if len(self._kept) >= self._KEPT:
                self._kept.pop(next(iter(self._kept)))
            self._kept[index] = piece
        return piece

    def _decrypt(self, index: int) -> bytes:
        count = self.header.chunks
        length = min(self._chunk, self._size - index * self._chunk) if self._size else 0
        self._handle.seek(self._body + index * (self._chunk + TAG_SIZE))
        ciphertext = self._handle.read(length + TAG_SIZE)
        try:
            piece = self._aead.decrypt(
                _chunk_nonce(self._prefix, index, index == count - 1), ciphertext, self._line
            )
        except InvalidTag:
            raise TamperError(
                f"{self._where}the sealed file was modified after sealing (authentication "
                f"failed in chunk {index + 1} of {count})"
            ) from None
        self._authenticated[index] = 1
        if index == self._hashed:
            self._digest.update(piece)
            self._hashed += 1
        return piece

    def verify(self) -> None:
        """Prove the whole content unmodified: authenticate every chunk not yet read (each
        under the header, which carries the content's SHA-256), and where every chunk was
        read in order, compare their SHA-256 with the header's too.

        Raises:
            TamperError: a chunk fails authentication, or the content's SHA-256 is not
                the header's.
        """
        for index in range(self.header.chunks):
            if not self._authenticated[index]:
                self._decrypt(index)
        if self._hashed == self.header.chunks and (
            self._digest.hexdigest() != self.header.plaintext_sha256
        ):
            raise TamperError(f"{self._where}the content's SHA-256 does not match the header")


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
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    name: str | None = None,
    content: Callable[[], Iterable[bytes]] | None = None,
) -> SealedHeader:
    """Seal the file ``src`` (or ``data``, or the stream ``content`` gives each time it
    is called, e.g. ``src`` packed as a tar archive) into ``dst``, written atomically;
    returns the header written.

    The header records ``name``, by default ``src``'s name. Removing the plaintext
    afterwards is the caller's job (and the project's version-control history is the
    user's).

    Raises:
        SealError: ``src`` cannot be read, ``dst`` cannot be written, or arguments are bad.
    """
    source, target = Path(src), Path(dst)
    if content is not None:
        header, pieces = seal_stream(
            content, key, name=name or source.name, kind=kind, chunk_size=chunk_size
        )
    elif data is None:
        if source.is_dir():
            raise SealError(
                f"{source}: is a folder; pack it (kind='tar') and pass the archive as data"
            )
        header, pieces = seal_stream(source, key, name=name, kind=kind, chunk_size=chunk_size)
    else:
        sealed = seal(data, key, name=name or source.name, kind=kind, chunk_size=chunk_size)
        header, pieces = read_header(sealed, source=target), iter((sealed,))
    digest, size = hashlib.sha256(), 0
    try:
        with atomic_stream(target) as out:
            for piece in pieces:
                out.write(piece)
                digest.update(piece)
                size += len(piece)
    except OSError as exc:
        raise SealError(f"{target}: cannot write the sealed file: {exc}") from exc
    statement = {
        "schema": _STATEMENT_SCHEMA,
        "name": header.name,
        "key_id": header.key_id,
        "plaintext_sha256": header.plaintext_sha256,
        "sealed_sha256": digest.hexdigest(),
        "sealed_size": size,
    }
    signed = {
        **statement,
        "public_key": public_key_of(key),
        "sig": sign(key, canonical_statement(statement)),
    }
    sidecar = target.with_name(target.name + SEAL_SIGNATURE_SUFFIX)
    try:
        # the sealed file first (above): a crash in between leaves a sealed file without
        # its statement, which 'amlas check' reports, never a statement vouching for nothing
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
    try:  # streamed: a sealed [P] may be larger than memory
        digest, size = hashlib.sha256(), 0
        with source.open("rb") as handle:
            while block := handle.read(DEFAULT_CHUNK_SIZE * 8):
                digest.update(block)
                size += len(block)
    except OSError as exc:
        return [f"cannot read the sealed file: {exc}"]
    if size != value["sealed_size"] or digest.hexdigest() != value["sealed_sha256"]:
        return [
            f"the sealed file was modified after sealing: {size} bytes with sha256 "
            f"{digest.hexdigest()[:12]}..., the verifier sealed {value['sealed_size']} bytes "
            f"with sha256 {str(value['sealed_sha256'])[:12]}..."
        ]
    return []
