"""Verifier keys: the one secret that opens sealed verification data and signs its access log.

A key file is three lines of UTF-8 text::

    amlas-verifier-key/1
    <key id: 16 lower-case hex characters, the start of SHA-256 of the secret>
    <the 32-byte secret, URL-safe base64 with padding>

The key id is public: sealed files and messages name it so that a wrong key is reported as
a wrong key, not as a damaged file. The secret never appears in a ``repr`` or a message.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from amlas.sealing._errors import SealError

__all__ = [
    "ENV_KEY",
    "ENV_KEY_FILE",
    "KEY_FILE_HEADER",
    "KEY_SIZE",
    "VerifierKey",
    "create_key_file",
    "generate_key",
    "key_id_of",
    "load_key",
    "resolve_key",
]

KEY_FILE_HEADER = "amlas-verifier-key/1"
KEY_SIZE = 32
MAX_KEY_FILE_BYTES = 1024
"""A key file is 83 bytes; anything much larger is not one (and is never read whole)."""
ENV_KEY_FILE = "AMLAS_VERIFIER_KEY_FILE"
ENV_KEY = "AMLAS_VERIFIER_KEY"

_KEY_ID = re.compile(r"^[0-9a-f]{16}$")
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


def key_id_of(secret: bytes) -> str:
    """The public id of a secret: the first 16 hex characters of its SHA-256."""
    return hashlib.sha256(secret).hexdigest()[:16]


@dataclass(frozen=True)
class VerifierKey:
    """A verifier's AES-256 key and its public id.

    Construct with :meth:`from_secret` (or :func:`load_key`); the constructor rejects an id
    that does not belong to the secret, so a key never carries a misleading id.
    """

    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_SIZE:
            raise SealError(
                f"a verifier key must be {KEY_SIZE} bytes, got {len(self.secret)} bytes"
            )
        if self.key_id != key_id_of(self.secret):
            raise SealError(
                f"key id {self.key_id!r} does not belong to this secret "
                f"(its id is {key_id_of(self.secret)!r})"
            )

    @classmethod
    def from_secret(cls, secret: bytes) -> VerifierKey:
        """The key for a 32-byte secret, its id computed."""
        return cls(key_id=key_id_of(secret), secret=secret)

    @classmethod
    def generate(cls) -> VerifierKey:
        """A new key from the operating system's secure random source."""
        return cls.from_secret(secrets.token_bytes(KEY_SIZE))

    def derive(self, info: bytes, length: int) -> bytes:
        """A subkey of ``length`` bytes for one purpose, named by ``info`` (HKDF-SHA256 of
        the secret): signing and detail sealing each get their own, never the secret."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(
            self.secret
        )

    def encoded_secret(self) -> str:
        """The secret as URL-safe base64 (what a key file and ``AMLAS_VERIFIER_KEY`` hold)."""
        return base64.urlsafe_b64encode(self.secret).decode("ascii")

    def __repr__(self) -> str:
        # Keys end up in tracebacks, logs and debugger views; only the public id may show.
        return f"VerifierKey(key_id={self.key_id!r})"

    __str__ = __repr__


def _decode_secret(text: str) -> bytes:
    """Decode URL-safe base64 (padding optional) into a 32-byte secret.

    Raises ValueError with a message that never repeats the text: it may be most of a key.
    """
    if not _BASE64URL.match(text):
        raise ValueError("is not URL-safe base64 (letters, digits, '-', '_', '=' padding)")
    try:
        secret = base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64") from None
    if len(secret) != KEY_SIZE:
        raise ValueError(f"decodes to {len(secret)} bytes; a verifier key has {KEY_SIZE}")
    return secret


def _key_file_text(key: VerifierKey) -> str:
    return f"{KEY_FILE_HEADER}\n{key.key_id}\n{key.encoded_secret()}\n"


def generate_key(path: str | Path) -> VerifierKey:
    """Create a new verifier key file at ``path``, readable by its owner only (mode 0o600).

    The file appears complete or not at all, and an existing file is never overwritten:
    replacing a key would make every copy sealed with it unreadable.

    Raises:
        SealError: ``path`` already exists, or cannot be written.
    """
    key = VerifierKey.generate()
    create_key_file(Path(path), _key_file_text(key).encode("ascii"), "verifier key")
    return key


def create_key_file(target: Path, data: bytes, what: str) -> None:
    """Write a new key file (``what``: 'verifier key', 'signing key') at ``target``:
    owner-only, complete or not at all, never over an existing file.

    Raises:
        SealError: ``target`` exists, or cannot be written.
    """
    if target.exists() or target.is_symlink():
        raise SealError(f"{target}: already exists; refusing to overwrite a {what}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_new(target, data)
    except FileExistsError:
        raise SealError(f"{target}: already exists; refusing to overwrite a {what}") from None
    except OSError as exc:
        raise SealError(f"{target}: cannot write the {what}: {exc}") from exc


def _write_new(target: Path, data: bytes) -> None:
    """Write a new owner-only file that appears complete or not at all, never replacing one.

    Raises:
        FileExistsError: ``target`` exists.
    """
    # mkstemp creates the file with mode 0o600 whatever the umask, so the secret is never
    # readable by others, not even for a moment.
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        try:
            # link() fails if the target exists, unlike replace(): no race overwrites a key.
            os.link(tmp, target)
        except FileExistsError:
            raise
        except OSError:
            # Some file systems (FAT on a USB stick, say) have no hard links: fall back to
            # exclusive creation, which still never overwrites but could leave a partial
            # file on a crash; load_key() rejects such a file.
            _write_exclusive(target, data)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _write_exclusive(target: Path, data: bytes) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((what for test, what in kinds if test(mode)), "not a regular file")


def _read_key_file(
    source: Path, what: str = "verifier key file", limit: int = MAX_KEY_FILE_BYTES
) -> bytes:
    """The bytes of the key file at ``source``, refusing anything but a small regular file.

    A device such as ``/dev/zero`` would be read without end and a FIFO would block for
    ever, so the type is checked before opening, the file is opened without blocking and
    checked again on the open descriptor (it may have been swapped in between), and at
    most ``limit + 1`` bytes are ever read.
    """
    expected = (
        f"expected a {what} (3 lines, at most {limit} bytes)"
        if what == "verifier key file"
        else f"expected a {what} (at most {limit} bytes)"
    )
    try:
        mode = source.stat().st_mode
    except FileNotFoundError:
        raise SealError(f"{source}: {what} not found") from None
    except OSError as exc:
        raise SealError(f"{source}: cannot read the {what}: {exc}") from exc
    if not stat.S_ISREG(mode):
        raise SealError(
            f"{source}: the key file is {_file_kind(mode)}; {expected}", code="F003", path=source
        )
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(source, flags | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise SealError(f"{source}: cannot read the {what}: {exc}") from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise SealError(
                f"{source}: the key file is {_file_kind(mode)}; {expected}",
                code="F003",
                path=source,
            )
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise SealError(f"{source}: cannot read the {what}: {exc}") from exc
    finally:
        os.close(fd)
    if size > limit:
        raise SealError(
            f"{source}: the key file is too large; {expected}", code="F003", path=source
        )
    return b"".join(chunks)


def load_key(path: str | Path) -> VerifierKey:
    """Read and validate a verifier key file written by :func:`generate_key`.

    Only a regular file of at most ``MAX_KEY_FILE_BYTES`` is read: a device, FIFO, socket
    or directory is refused before anything is read from it.

    Raises:
        SealError: the file is missing or unreadable, not a regular file, too large, or not
            a key file; the message names the path and the line at fault, never the secret.
    """
    source = Path(path)
    raw = _read_key_file(source)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise SealError(f"{source}: not a verifier key file (it is not ASCII text)") from None
    lines = [line.strip() for line in text.splitlines()]
    if not lines or lines[0] != KEY_FILE_HEADER:
        raise SealError(
            f"{source}:1: not a verifier key file (expected the first line {KEY_FILE_HEADER!r})"
        )
    if len(lines) < 3:
        raise SealError(
            f"{source}:{len(lines) + 1}: the key file ends early; expected 3 lines "
            f"({KEY_FILE_HEADER!r}, the key id, the secret)"
        )
    if len(lines) > 3:
        raise SealError(f"{source}:4: unexpected content after the secret")
    key_id, encoded = lines[1], lines[2]
    if not _KEY_ID.match(key_id):
        raise SealError(f"{source}:2: the key id must be 16 lower-case hex characters")
    try:
        secret = _decode_secret(encoded)
    except ValueError as exc:
        raise SealError(f"{source}:3: the secret {exc}") from None
    if key_id_of(secret) != key_id:
        raise SealError(
            f"{source}:2: key id {key_id!r} does not match the secret on line 3 "
            f"(its id is {key_id_of(secret)!r}); the file was edited or mixed up"
        )
    return VerifierKey(key_id=key_id, secret=secret)


def resolve_key(key_file: str | Path | None, env: Mapping[str, str]) -> VerifierKey | None:
    """The verifier key from, in order: ``key_file``; the file named by the environment
    variable ``AMLAS_VERIFIER_KEY_FILE``; the secret itself in ``AMLAS_VERIFIER_KEY``.

    Returns None when none is given (empty variables count as unset), so the caller can
    say that the verifier role needs a key.

    Raises:
        SealError: a key was given but is unusable.
    """
    if key_file is not None:
        return load_key(key_file)
    named = env.get(ENV_KEY_FILE, "")
    if named:
        return load_key(Path(named))
    encoded = env.get(ENV_KEY, "").strip()
    if encoded:
        try:
            return VerifierKey.from_secret(_decode_secret(encoded))
        except ValueError as exc:
            raise SealError(f"environment variable {ENV_KEY}: the secret {exc}") from None
    return None
