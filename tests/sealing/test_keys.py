from __future__ import annotations

import base64
import os
import stat
import sys
import threading
from pathlib import Path

import pytest

from amlas.errors import UsageError
from amlas.sealing import (
    ENV_KEY,
    ENV_KEY_FILE,
    SealError,
    VerifierKey,
    generate_key,
    load_key,
    resolve_key,
)
from amlas.sealing._keys import key_id_of

SECRET = bytes(range(32))
KEY = VerifierKey.from_secret(SECRET)
ENCODED = base64.urlsafe_b64encode(SECRET).decode()
GOOD = f"amlas-verifier-key/1\n{KEY.key_id}\n{ENCODED}\n"


def test_generate_then_load_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "verifier.key"
    key = generate_key(path)
    assert load_key(path) == key
    lines = path.read_text("ascii").splitlines()
    assert lines == ["amlas-verifier-key/1", key.key_id, key.encoded_secret()]
    assert key.key_id == key_id_of(key.secret)
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
def test_key_file_is_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        generate_key(tmp_path / "verifier.key")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "verifier.key").stat().st_mode) == 0o600


def test_generate_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "verifier.key"
    path.write_text("precious")
    with pytest.raises(SealError, match="refusing to overwrite"):
        generate_key(path)
    assert path.read_text() == "precious"


def test_two_keys_differ(tmp_path: Path) -> None:
    assert generate_key(tmp_path / "a.key") != generate_key(tmp_path / "b.key")


def test_repr_never_shows_the_secret() -> None:
    for text in (repr(KEY), str(KEY), f"{KEY}", repr([KEY])):
        assert ENCODED not in text
        assert SECRET.hex() not in text
        assert repr(SECRET) not in text
        assert KEY.key_id in text


def test_key_checks_its_id_and_size() -> None:
    with pytest.raises(SealError, match="32 bytes"):
        VerifierKey.from_secret(b"short")
    with pytest.raises(SealError, match="does not belong"):
        VerifierKey(key_id="0" * 16, secret=SECRET)


OTHER_ID = key_id_of(bytes(32))
BAD_FILES = [
    pytest.param(b"", ":1: not a verifier key file", id="empty"),
    pytest.param(b"\xff\xfe", "not ASCII", id="binary"),
    pytest.param(GOOD.replace("key/1", "key/2").encode(), ":1: not a verifier key", id="header"),
    pytest.param(f"amlas-verifier-key/1\n{KEY.key_id}\n".encode(), ":3: .*ends early", id="short"),
    pytest.param((GOOD + "extra\n").encode(), ":4: unexpected", id="extra"),
    pytest.param(GOOD.replace(KEY.key_id, "XYZ").encode(), ":2: .*16 lower-case", id="key-id"),
    pytest.param(GOOD.replace(KEY.key_id, OTHER_ID).encode(), ":2: .*does not match", id="mixed"),
    pytest.param(GOOD.replace(ENCODED, "not base64!").encode(), ":3: .*base64", id="alphabet"),
    pytest.param(GOOD.replace(ENCODED, ENCODED[:20]).encode(), ":3: .*15 bytes", id="too-short"),
    pytest.param(GOOD.replace(ENCODED, "A").encode(), ":3: .*base64", id="bad-length"),
]


@pytest.mark.parametrize(("content", "message"), BAD_FILES)
def test_bad_key_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "verifier.key"
    path.write_bytes(content)
    with pytest.raises(SealError, match=message) as info:
        load_key(path)
    assert str(path) in str(info.value)
    assert ENCODED not in str(info.value)
    assert isinstance(info.value, UsageError)


def test_key_file_tolerates_crlf_and_no_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "verifier.key"
    path.write_bytes(GOOD.replace("\n", "\r\n").rstrip().encode())
    assert load_key(path) == KEY


def test_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(SealError, match="not found"):
        load_key(tmp_path / "nope.key")


def _load_with_timeout(path: Path, env: dict[str, str] | None = None) -> BaseException:
    """What loading the key at ``path`` (or through ``env``) raises, failing the test when
    it blocks (a FIFO opened without O_NONBLOCK waits for a writer for ever)."""
    found: list[BaseException] = []

    def load() -> None:
        try:
            if env is None:
                load_key(path)
            else:
                resolve_key(None, env)
        except BaseException as exc:  # handed to the test thread
            found.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # release the blocked reader, then fail
        if stat.S_ISFIFO(path.stat().st_mode):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=5)
        pytest.fail(f"loading the key file {path} blocked")
    assert found, f"{path} was accepted as a key file"
    return found[0]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX devices and FIFOs")
@pytest.mark.parametrize("via_env", [False, True], ids=["path", "env"])
def test_key_files_that_are_not_regular_files_are_refused(tmp_path: Path, via_env: bool) -> None:
    """Issue 12: /dev/zero ran out of memory (exit 3) and a FIFO hung ``amlas``."""
    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo)
    # the FIFO first: before the fix it blocks, and the test fails before /dev/zero is read
    cases = [(fifo, "a FIFO"), (tmp_path, "a directory"), (Path("/dev/zero"), "a character device")]
    for path, kind in cases:
        error = _load_with_timeout(path, {ENV_KEY_FILE: str(path)} if via_env else None)
        assert isinstance(error, SealError), repr(error)
        message = str(error)
        # issue 13: the code travels as a diagnostic, printed as `amlas check` prints one
        assert error.diagnostic.format().startswith(
            f"{path}: F003 error: the key file is {kind}"
        ), error.diagnostic.format()
        assert "expected a verifier key file" in message


def test_a_key_file_that_is_too_large_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.key"
    path.write_bytes(GOOD.encode() + b"#" * 5000)
    with pytest.raises(SealError, match=r"the key file is too large") as raised:
        load_key(path)
    assert raised.value.diagnostic.code == "F003"


def test_resolve_key_order(tmp_path: Path) -> None:
    explicit = tmp_path / "explicit.key"
    named = tmp_path / "named.key"
    first, second = generate_key(explicit), generate_key(named)
    env = {ENV_KEY_FILE: str(named), ENV_KEY: ENCODED}
    assert resolve_key(explicit, env) == first
    assert resolve_key(None, env) == second
    assert resolve_key(None, {ENV_KEY: ENCODED}) == KEY
    assert resolve_key(None, {ENV_KEY: ENCODED.rstrip("=")}) == KEY  # padding optional
    assert resolve_key(None, {ENV_KEY_FILE: "", ENV_KEY: ""}) is None
    assert resolve_key(None, {}) is None


def test_resolve_key_reports_a_bad_environment_secret() -> None:
    with pytest.raises(SealError, match=ENV_KEY) as info:
        resolve_key(None, {ENV_KEY: ENCODED[:-6]})
    assert ENCODED[:-6] not in str(info.value)


def test_generate_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(src: object, dst: object) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "verifier.key"
    key = generate_key(path)
    assert load_key(path) == key
    assert list(tmp_path.iterdir()) == [path]
    if sys.platform != "win32":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_generate_loses_a_race_safely(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "verifier.key"
    real_link = os.link

    def racing_link(src: str, dst: str) -> None:
        Path(dst).write_text("written by someone else")  # appears after the exists() check
        real_link(src, dst)

    monkeypatch.setattr(os, "link", racing_link)
    with pytest.raises(SealError, match="refusing to overwrite"):
        generate_key(path)
    assert path.read_text() == "written by someone else"
    assert list(tmp_path.iterdir()) == [path]
