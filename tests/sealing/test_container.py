from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amlas.hashing import sha256_bytes
from amlas.sealing import (
    DEFAULT_CHUNK_SIZE,
    MAGIC,
    MAGIC_CHUNKED,
    SealedHeader,
    SealedReader,
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


def _tags(sealed: bytes) -> int:
    """How many 16-byte GCM tags a sealed file holds."""
    header = read_header(sealed)
    return header.chunks if header.chunk_size is not None else 1


CHUNKS = [None, DEFAULT_CHUNK_SIZE, 7]
"""Version 1 (one message), version 2 with the default chunks (one here), and version 2
with 7-byte chunks (this data in 5 chunks)."""


@pytest.mark.parametrize("chunk_size", CHUNKS)
def test_round_trip_and_header(chunk_size: int | None) -> None:
    sealed = seal(DATA, KEY, name="P.csv", chunk_size=chunk_size)
    assert sealed.startswith(MAGIC if chunk_size is None else MAGIC_CHUNKED)
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
        chunk_size=chunk_size,
    )
    assert sealed.split(b"\n")[1] == header.canonical()  # canonical: sorted, no spaces
    assert (b"chunk_size" in header.canonical()) == (chunk_size is not None)
    assert unseal(sealed, KEY) == DATA


def test_version_1_is_written_on_request_and_its_header_is_unchanged() -> None:
    """Files sealed before version 2 keep their exact header (no chunk_size key)."""
    header = read_header(seal(DATA, KEY, name="P.csv", chunk_size=None))
    assert set(json.loads(header.canonical())) == {
        "alg", "key_id", "nonce", "plaintext_sha256", "plaintext_size", "name", "kind"
    }  # fmt: skip


def test_a_format_line_that_does_not_fit_the_header_is_tampering() -> None:
    chunked = seal(DATA, KEY, name="P.csv")
    with pytest.raises(TamperError, match="does not fit its format line"):
        read_header(MAGIC + chunked[len(MAGIC_CHUNKED) :])
    whole = seal(DATA, KEY, name="P.csv", chunk_size=None)
    with pytest.raises(TamperError, match="does not fit its format line"):
        read_header(MAGIC_CHUNKED + whole[len(MAGIC) :])


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 64), st.data())
def test_chunked_reader_reads_any_range(data: bytes, chunk_size: int, draw: st.DataObject) -> None:
    """Random access through the reader gives the plaintext's bytes, and verify() passes
    whatever order the chunks were read in."""
    sealed = seal(data, KEY, name="d.bin", chunk_size=chunk_size)
    reader = SealedReader(io.BytesIO(sealed), KEY)
    for _ in range(5):
        start = draw.draw(st.integers(0, len(data) + 3))
        length = draw.draw(st.integers(-1, len(data) + 3))
        reader.seek(start)
        assert reader.read(length) == data[start : start + length if length >= 0 else None]
    reader.verify()
    assert reader.seek(0, io.SEEK_END) == len(data)


@pytest.mark.parametrize("what", ["swap", "drop", "repeat", "extend"])
def test_chunks_cannot_be_reordered_dropped_or_repeated(what: str) -> None:
    sealed = seal(DATA, KEY, name="P.csv", chunk_size=7)
    body = len(sealed) - len(DATA) - 16 * read_header(sealed).chunks
    head, chunks = sealed[:body], sealed[body:]
    size = 7 + 16
    pieces = [chunks[i : i + size] for i in range(0, len(chunks), size)]
    if what == "swap":
        pieces[0], pieces[1] = pieces[1], pieces[0]
    elif what == "drop":  # the last full chunk gone, the short last one moved up
        del pieces[-2]
    elif what == "repeat":
        pieces[2] = pieces[1]
    else:  # a chunk appended after the last
        pieces.append(pieces[0])
    with pytest.raises(TamperError, match="modified after sealing"):
        unseal(head + b"".join(pieces), KEY)


def test_a_reader_that_skipped_chunks_still_verifies_all_of_them() -> None:
    sealed = bytearray(seal(DATA, KEY, name="P.csv", chunk_size=7))
    sealed[-30] ^= 0x01  # inside the second-to-last chunk
    reader = SealedReader(io.BytesIO(bytes(sealed)), KEY)
    assert reader.read(7) == DATA[:7]  # the first chunk is intact
    with pytest.raises(TamperError, match="authentication failed in chunk"):
        reader.verify()


def test_version_1_cannot_be_read_chunk_by_chunk() -> None:
    with pytest.raises(SealError, match="version-1 sealed file"):
        SealedReader(io.BytesIO(seal(DATA, KEY, name="P.csv", chunk_size=None)), KEY)


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


@pytest.mark.parametrize("chunk_size", CHUNKS)
@pytest.mark.parametrize("offset", [0, 7, -17, -1])
def test_flipped_bit_in_ciphertext_is_tampering(offset: int, chunk_size: int | None) -> None:
    sealed = bytearray(seal(DATA, KEY, name="P.csv", chunk_size=chunk_size))
    body_start = len(sealed) - len(DATA) - 16 * _tags(bytes(sealed))
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
@pytest.mark.parametrize("chunk_size", CHUNKS)
def test_edited_header_is_tampering(changes: dict[str, object], chunk_size: int | None) -> None:
    sealed = _with_header(seal(DATA, KEY, name="P.csv", chunk_size=chunk_size), **changes)
    read_header(sealed)  # still a well-formed header: only the key can tell
    # version 2 sees a changed size before decrypting (the file is not as long as it says)
    with pytest.raises(TamperError, match=r"authentication failed|modified after sealing"):
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
    sealed = seal(DATA, KEY, name="P.csv", chunk_size=None)
    with pytest.raises(TamperError, match=message):
        unseal(sealed[:cut], KEY)


@pytest.mark.parametrize("cut", [-1, -16, -17, -len(DATA), "body"])
@pytest.mark.parametrize("chunk_size", [DEFAULT_CHUNK_SIZE, 7])
def test_truncated_chunked_file(cut: int | str, chunk_size: int) -> None:
    """A version-2 file cut anywhere, even between chunks, is seen before decryption."""
    sealed = seal(DATA, KEY, name="P.csv", chunk_size=chunk_size)
    if cut == "body":  # nothing left after the header line
        cut = sealed.index(b"\n", len(MAGIC_CHUNKED)) + 1
    assert isinstance(cut, int)
    with pytest.raises(TamperError, match=r"modified after sealing \(cut short"):
        unseal(sealed[:cut], KEY)
    with pytest.raises(TamperError, match="cut short"):
        SealedReader(io.BytesIO(sealed[:cut]), KEY)


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (DATA, SealError, "not an AMLAS sealed file"),
        (b"", SealError, "not an AMLAS sealed file"),
        (b"AMLAS-SEALED/9\n{}\n", SealError, "version '9'"),
        (MAGIC_CHUNKED + b"not json\n", TamperError, "header is damaged"),
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
