from __future__ import annotations

import hashlib
import json
import re
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amlas.errors import UsageError
from amlas.sealing import (
    GENESIS,
    AccessLog,
    LogEntry,
    LogProblem,
    SealError,
    TamperError,
    VerifierKey,
    check_usage,
    public_key_of,
)

KEY = VerifierKey.from_secret(bytes(range(32)))
PUBLIC = public_key_of(KEY)
OTHER = VerifierKey.from_secret(bytes(32))
P = "a" * 64
Q = "b" * 64
T0 = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)


def _append(log: AccessLog, event: str = "use", sha: str = P, i: int = 0, **kw: Any) -> LogEntry:
    args: dict[str, Any] = {
        "event": event,
        "actor": "vera",
        "role": "verifier",
        "dataset": "P",
        "dataset_sha256": sha,
        "purpose": f"evaluation {i}",
        "details": {"metric": "recall", "run": i},
        "key": KEY,
        "now": T0 + timedelta(minutes=i),
    }
    args.update(kw)
    return log.append(**args)


def _write_log(path: Path, n: int = 3) -> AccessLog:
    log = AccessLog(path)
    _append(log, "seal", i=0, role="developer", actor="dev")
    for i in range(1, n):
        _append(log, "use", i=i)
    return log


@pytest.fixture
def log(tmp_path: Path) -> AccessLog:
    return _write_log(tmp_path / "P-access-log.jsonl")


def _lines(log: AccessLog) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.path.read_text("utf-8").splitlines()]


def _dump(log: AccessLog, lines: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(d, sort_keys=True, separators=(",", ":")) + "\n" for d in lines)
    log.path.write_text(text, "utf-8")


def _rehash(fields: dict[str, Any]) -> dict[str, Any]:
    """What a developer without the key can do: recompute the hash, keep or guess the sig."""
    body = {k: v for k, v in fields.items() if k not in ("hash", "sig")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {**fields, "hash": hashlib.sha256(canonical.encode()).hexdigest()}


def _lines_with_problems(problems: list[LogProblem]) -> set[int]:
    return {p.line for p in problems}


# -- an intact log ---------------------------------------------------------------------------


def test_chain_verifies(log: AccessLog) -> None:
    assert log.verify() == []
    assert log.verify(KEY) == []
    entries = log.entries()
    assert [e.seq for e in entries] == [0, 1, 2]
    assert entries[0].prev == GENESIS
    assert [e.prev for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert log.head() == entries[-1].hash
    assert entries[1].time == "2025-01-31T12:01:00.000000Z"
    assert entries[1].details == {"metric": "recall", "run": 1}


def test_lines_are_canonical_json(log: AccessLog) -> None:
    for line in log.path.read_text("utf-8").splitlines():
        assert line == json.dumps(
            json.loads(line), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )


def test_empty_log(tmp_path: Path) -> None:
    log = AccessLog(tmp_path / "none.jsonl")
    assert (log.entries(), log.head(), log.verify(KEY), log.uses(P)) == ([], None, [], 0)


def test_append_returns_what_it_wrote(log: AccessLog) -> None:
    entry = _append(log, "note", i=9, details={"text": "café ☕", "n": [1, 2.5, None]})
    assert log.entries()[-1] == entry
    assert entry.details == {"text": "café ☕", "n": [1, 2.5, None]}
    assert log.verify(KEY) == []


def test_time_is_converted_to_utc(log: AccessLog) -> None:
    later = datetime(2025, 2, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    assert _append(log, now=later).time == "2025-02-01T07:30:00.000000Z"
    assert _append(log, now=None).time.endswith("Z")


# -- tampering ---------------------------------------------------------------------------------

EDITS: dict[str, Any] = {
    "seq": 7,
    "prev": "c" * 64,
    "event": "note",
    "actor": "mallory",
    "role": "developer",
    "dataset": "O",
    "dataset_sha256": Q,
    "purpose": "nothing to see",
    "details": {"metric": "precision"},
    "time": "2024-01-01T00:00:00.000000Z",
    "hash": "d" * 64,
}


@pytest.mark.parametrize("line", [0, 1, 2])
@pytest.mark.parametrize("field", sorted(EDITS))
def test_editing_any_field_of_any_line_is_detected(log: AccessLog, field: str, line: int) -> None:
    lines = _lines(log)
    lines[line][field] = EDITS[field] if lines[line][field] != EDITS[field] else "other"
    _dump(log, lines)
    problems = log.verify()
    assert line + 1 in _lines_with_problems(problems), problems


@pytest.mark.parametrize("line", [0, 1, 2])
def test_editing_a_sig_is_detected_with_the_public_key(log: AccessLog, line: int) -> None:
    lines = _lines(log)
    lines[line]["sig"] = "A" * 86 + "=="
    _dump(log, lines)
    assert log.verify() == []  # the signature is checked against the declared public key
    assert _lines_with_problems(log.verify(public_key=PUBLIC)) == {line + 1}
    assert _lines_with_problems(log.verify(KEY)) == {line + 1}


@pytest.mark.parametrize("line", [0, 1])
def test_deleting_a_line_is_detected(log: AccessLog, line: int) -> None:
    lines = _lines(log)
    del lines[line]
    _dump(log, lines)
    problems = log.verify()
    assert problems
    assert {p.line for p in problems} == {line + 1}
    assert any("seq" in p.message for p in problems)


def test_cutting_the_last_line_is_caught_by_the_recorded_head(log: AccessLog) -> None:
    recorded = log.head()
    _dump(log, _lines(log)[:-1])
    assert log.verify(KEY) == []  # a shorter chain is still a chain ...
    assert recorded not in {e.hash for e in log.entries()}  # ... without the recorded head


def test_swapping_two_lines_is_detected(log: AccessLog) -> None:
    lines = _lines(log)
    lines[1], lines[2] = lines[2], lines[1]
    _dump(log, lines)
    assert _lines_with_problems(log.verify()) >= {2, 3}


def test_inserting_a_copied_line_is_detected(log: AccessLog) -> None:
    lines = _lines(log)
    _dump(log, [*lines[:2], lines[1], lines[2]])
    assert log.verify()


def test_forged_line_with_recomputed_hash_is_caught_without_the_key(log: AccessLog) -> None:
    """Issue 12, reproduction 4: a forged entry on a rebuilt chain; the declared public key
    (no secret) shows it, whatever signature the forger copies."""
    lines = _lines(log)
    for sig in ("A" * 86 + "==", lines[-1]["sig"]):
        forged = _rehash(
            {**lines[-1], "seq": 3, "prev": lines[-1]["hash"], "purpose": "forged", "sig": sig}
        )
        _dump(log, [*lines, forged])
        assert log.verify() == []  # the chain is consistent: anyone could have built it
        problems = log.verify(public_key=PUBLIC)
        assert [(p.line, "sig does not verify" in p.message) for p in problems] == [(4, True)]


def test_rewritten_chain_is_caught_without_the_key(log: AccessLog) -> None:
    """Editing a use away and recomputing every later link fools only a reader that does
    not check signatures."""
    lines = _lines(log)
    lines[1] = _rehash({**lines[1], "event": "note"})
    lines[2] = _rehash({**lines[2], "prev": lines[1]["hash"]})
    _dump(log, lines)
    assert log.verify() == []
    assert _lines_with_problems(log.verify(public_key=PUBLIC)) == {2, 3}
    assert _lines_with_problems(log.verify(KEY)) == {2, 3}


def test_entries_signed_with_another_key_are_detected(tmp_path: Path) -> None:
    other = AccessLog(tmp_path / "other.jsonl")
    _append(other, i=0, key=OTHER)
    assert other.verify() == []
    assert _lines_with_problems(other.verify(KEY)) == {1}
    with pytest.raises(TamperError, match="sig does not verify"):
        _append(other, i=1, key=KEY)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda text: text + "\n", "blank line"),
        (lambda text: text + "{not json\n", "not valid JSON"),
        (lambda text: text + "[1, 2]\n", "not a JSON object"),
        (lambda text: text.rstrip("\n"), "no newline"),
        (lambda text: text.replace('"seq":0', '"seq":0,"seq":0'), "duplicate key 'seq'"),
        (lambda text: text.replace('"seq":0', '"extra":1,"seq":0'), "unknown field 'extra'"),
        (lambda text: text.replace('"actor":"dev",', ""), "missing field 'actor'"),
        (lambda text: text.replace('"run":1', '"run":NaN'), "NaN is not a JSON value"),
        (lambda text: text.replace('"seq":0', '"seq":"0"'), "field 'seq'"),
        (lambda text: text.replace("12:00:00.000000Z", "12:00:00"), "field 'time'"),
    ],
)
def test_damaged_lines_are_reported_not_raised(log: AccessLog, damage: Any, message: str) -> None:
    log.path.write_text(damage(log.path.read_text("utf-8")), "utf-8")
    problems = log.verify(KEY)
    assert any(message in p.message for p in problems), problems
    assert all(p.line >= 1 for p in problems)
    with pytest.raises(TamperError, match=re.escape(str(log.path))):
        log.entries()
    with pytest.raises(TamperError, match="refusing to append"):
        _append(log, i=9)


def test_not_utf8_is_reported(log: AccessLog) -> None:
    log.path.write_bytes(log.path.read_bytes() + b"\xff\xfe\n")
    assert [str(p) for p in log.verify()] == ["line 4: not UTF-8 text"]


def test_unreadable_log_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "dir.jsonl").mkdir()
    log = AccessLog(tmp_path / "dir.jsonl")
    [problem] = log.verify()
    assert problem.line == 0
    assert "cannot read" in problem.message
    assert log.uses(P) == 0
    with pytest.raises(SealError, match="cannot read"):
        log.entries()


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_changed_byte_is_detected_with_the_key(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as folder:
        log = _write_log(Path(folder) / "log.jsonl", n=2)
        raw = bytearray(log.path.read_bytes())
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255).filter(lambda b: b != raw[at]))
        log.path.write_bytes(bytes(raw))
        assert log.verify(KEY)


# -- appending -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"role": "admin"}, "field 'role'"),
        ({"event": "peek"}, "field 'event'"),
        ({"actor": ""}, "field 'actor'"),
        ({"dataset_sha256": "xyz"}, "field 'dataset_sha256'"),
        ({"details": {"x": float("nan")}}, "cannot log"),
        ({"now": datetime(2025, 1, 1)}, "no time zone"),
    ],
)
def test_append_rejects_bad_arguments(
    log: AccessLog, changes: dict[str, Any], message: str
) -> None:
    before = log.path.read_bytes()
    with pytest.raises(SealError, match=message):
        _append(log, i=9, **changes)
    assert log.path.read_bytes() == before


def test_append_creates_folders(tmp_path: Path) -> None:
    log = AccessLog(tmp_path / "a" / "b" / "log.jsonl")
    _append(log)
    assert len(log.entries()) == 1
    assert sorted(p.name for p in log.path.parent.iterdir()) == ["log.jsonl"]


# -- uses --------------------------------------------------------------------------------------


def test_uses_counts_use_events_for_that_data(log: AccessLog) -> None:
    assert log.uses(P) == 2  # the seal event is not a use
    _append(log, "unseal", i=3)
    _append(log, "use", sha=Q, i=4)
    _append(log, "use", i=5)
    assert (log.uses(P), log.uses(Q), log.uses("c" * 64)) == (3, 1, 0)


def test_uses_still_counts_in_a_damaged_log(log: AccessLog) -> None:
    log.path.write_text(log.path.read_text("utf-8") + "garbage\n", "utf-8")
    assert log.uses(P) == 2


def test_check_usage() -> None:
    assert check_usage(0, 5) is None
    assert check_usage(5, 5) is None
    warning = check_usage(6, 5)
    assert warning == (
        "the verification data has been used 6 times (limit 5): repeated evaluation on [P] "
        "risks tuning the model to it; collect fresh verification data or justify in [AA]"
    )
    assert check_usage(1, 0) is not None
    assert "used 1 time " in str(check_usage(1, 0))
    with pytest.raises(UsageError, match="limit=-1"):
        check_usage(1, -1)
