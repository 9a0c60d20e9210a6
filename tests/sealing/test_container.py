from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amlas.hashing import sha256_bytes
from amlas.sealing import (
    MAGIC,
    SealedHeader,
    SealError,
    TamperError,
    VerifierKey,
    read_header,
    seal,
    seal_file,
    unseal,
    unseal_file,
)

KEY = VerifierKey.from_secret(bytes(range(32)))
OTHER = VerifierKey.from_secret(bytes(32))
DATA = b"id,label\n1,benign\n2,malignant\n"


def _parts(sealed: bytes) -> tuple[bytes, dict[str, object], bytes]:
    magic, header, body = sealed.split(b"\n", 2)
    return magic + b"\n", json.loads(header), body


def _with_header(sealed: bytes, **changes: object) -> bytes:
    magic, header, body = _parts(sealed)
    header.update(changes)
    line = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    return magic + line + b"\n" + body


def test_round_trip_and_header() -> None:
    sealed = seal(DATA, KEY, name="P.csv")
    assert sealed.startswith(MAGIC)
    assert DATA not in sealed
    header = read_header(sealed)
    assert header == SealedHeader(
        alg="AES-256-GCM",
        key_id=KEY.key_id,
        nonce=header.nonce,
        plaintext_sha256=sha256_bytes(DATA),
        plaintext_size=len(DATA),
        name="P.csv",
        kind="file",
    )
    assert sealed.split(b"\n")[1] == header.canonical()  # canonical: sorted, no spaces
    assert unseal(sealed, KEY) == DATA


def test_every_seal_uses_a_fresh_nonce() -> None:
    first, second = seal(DATA, KEY, name="P.csv"), seal(DATA, KEY, name="P.csv")
    assert read_header(first).nonce != read_header(second).nonce
    assert first != second


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=4096), st.sampled_from(["file", "tar"]))
def test_round_trips_arbitrary_bytes(data: bytes, kind: str) -> None:
    sealed = seal(data, KEY, name="data.bin", kind=kind)  # type: ignore[arg-type]
    assert unseal(sealed, KEY) == data
    assert read_header(sealed).plaintext_size == len(data)


def test_wrong_key_is_named_as_such() -> None:
    sealed = seal(DATA, KEY, name="P.csv")
    with pytest.raises(SealError, match=f"{KEY.key_id}.*{OTHER.key_id}") as info:
        unseal(sealed, OTHER, source="P.sealed")
    assert not isinstance(info.value, TamperError)
    assert "P.sealed" in str(info.value)


def test_a_wrong_key_with_a_forged_id_fails_authentication() -> None:
    sealed = _with_header(seal(DATA, KEY, name="P.csv"), key_id=OTHER.key_id)
    with pytest.raises(TamperError, match="authentication failed"):
        unseal(sealed, OTHER)


@pytest.mark.parametrize("offset", [0, 7, -17, -1])
def test_flipped_bit_in_ciphertext_is_tampering(offset: int) -> None:
    sealed = bytearray(seal(DATA, KEY, name="P.csv"))
    body_start = len(sealed) - len(DATA) - 16
    sealed[body_start + offset if offset >= 0 else offset] ^= 0x01
    with pytest.raises(TamperError, match="modified after sealing"):
        unseal(bytes(sealed), KEY)


@pytest.mark.parametrize(
    "changes",
    [
        {"plaintext_sha256": sha256_bytes(b"other data")},
        {"plaintext_size": len(DATA) + 1},
        {"name": "Q.csv"},
        {"kind": "tar"},
    ],
    ids=lambda c: next(iter(c)),
)
def test_edited_header_is_tampering(changes: dict[str, object]) -> None:
    sealed = _with_header(seal(DATA, KEY, name="P.csv"), **changes)
    read_header(sealed)  # still a well-formed header: only the key can tell
    with pytest.raises(TamperError, match="authentication failed"):
        unseal(sealed, KEY)


def test_hand_edited_header_is_seen_without_the_key() -> None:
    magic, header, body = _parts(seal(DATA, KEY, name="P.csv"))
    spaced = json.dumps(header, sort_keys=True).encode()
    with pytest.raises(TamperError, match="canonical"):
        read_header(magic + spaced + b"\n" + body)


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (len(MAGIC) + 10, "cut short inside its header"),
        (-1, "authentication failed"),
        (-len(DATA), "authentication failed"),
        (-len(DATA) - 10, "no authentication tag"),
    ],
)
def test_truncated_file(cut: int, message: str) -> None:
    sealed = seal(DATA, KEY, name="P.csv")
    with pytest.raises(TamperError, match=message):
        unseal(sealed[:cut], KEY)


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (DATA, SealError, "not an AMLAS sealed file"),
        (b"", SealError, "not an AMLAS sealed file"),
        (b"AMLAS-SEALED/9\n{}\n", SealError, "version '9'"),
        (MAGIC + b"not json\n", TamperError, "header is damaged"),
        (MAGIC + b'{"alg":"AES-256-GCM"}\n', TamperError, "missing field 'key_id'"),
    ],
)
def test_not_a_sealed_file(data: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        read_header(data)
    with pytest.raises(error, match=message):
        unseal(data, KEY)


def test_header_rejects_unknown_fields_and_paths() -> None:
    sealed = seal(DATA, KEY, name="P.csv")
    with pytest.raises(TamperError, match="unknown field 'comment'"):
        read_header(_with_header(sealed, comment="hi"))
    with pytest.raises(TamperError, match="plain file name"):
        read_header(_with_header(sealed, name="../P.csv"))
    with pytest.raises(SealError, match="plain file name"):
        seal(DATA, KEY, name="data/P.csv")
    with pytest.raises(SealError, match="kind"):
        seal(DATA, KEY, name="P.csv", kind="zip")  # type: ignore[arg-type]


def test_seal_file_and_read_header_from_path(tmp_path: Path) -> None:
    src = tmp_path / "P.csv"
    src.write_bytes(DATA)
    dst = tmp_path / "sealed" / "P.csv.sealed"
    header = seal_file(src, dst, KEY)
    assert header == read_header(dst)
    assert header.name == "P.csv"
    assert header.plaintext_sha256 == sha256_bytes(DATA)
    assert unseal_file(dst, KEY) == DATA
    assert sorted(p.name for p in dst.parent.iterdir()) == ["P.csv.sealed", "P.csv.sealed.sig"]


def test_seal_file_with_packed_data(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    with pytest.raises(SealError, match="is a folder"):
        seal_file(folder, tmp_path / "images.sealed", KEY)
    header = seal_file(folder, tmp_path / "images.sealed", KEY, kind="tar", data=b"tar bytes")
    assert (header.name, header.kind) == ("images", "tar")
    assert unseal_file(tmp_path / "images.sealed", KEY) == b"tar bytes"


def test_errors_name_the_path(tmp_path: Path) -> None:
    plain = tmp_path / "P.csv"
    plain.write_bytes(DATA)
    with pytest.raises(SealError, match=r"P\.csv: not an AMLAS sealed file"):
        read_header(plain)
    with pytest.raises(SealError, match=r"missing\.sealed: cannot read"):
        read_header(tmp_path / "missing.sealed")
    sealed = tmp_path / "P.sealed"
    sealed.write_bytes(seal(DATA, KEY, name="P.csv")[:-1])
    with pytest.raises(TamperError, match=r"P\.sealed: the sealed file was modified"):
        unseal_file(sealed, KEY)
