"""The field log: every malformed line located, appends whole and locked."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from amlas.errors import UsageError
from amlas.monitor import FieldLogError, FlagEntry, append_field_log, read_field_log

PERIOD = {
    "kind": "period",
    "start": "2026-05-01T00:00:00Z",
    "end": "2026-06-01T00:00:00Z",
    "demands": {"grasp": 1000},
}
FLAG = {"kind": "flag", "time": "2026-05-02T10:00:00Z", "id": "F-1", "flags": ["ood"]}
INCIDENT = {
    "kind": "incident",
    "time": "2026-05-03T10:00:00+02:00",
    "id": "INC-1",
    "description": "Closed on a glove",
    "requirement": "SSR-1",
    "behaviour": "EB-1",
}
LABEL = {
    "kind": "label",
    "time": "2026-05-04T10:00:00Z",
    "id": "L-1",
    "truth": "in_distribution",
    "inputs": [1.0, 2.0],
    "metadata": {"size_mm": 3.0},
}
REVIEW = {"kind": "review", "time": "2026-05-05T10:00:00Z", "flag": "F-1", "outcome": "false_alarm"}


def write(path: Path, *lines: Any) -> Path:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def test_a_valid_log_parses_into_its_kinds(tmp_path: Path) -> None:
    log = write(tmp_path / "log.jsonl", PERIOD, FLAG, "", INCIDENT, LABEL, REVIEW)
    records = read_field_log(log, requirements=["SSR-1"], behaviours=["EB-1"])
    assert [n for n, _ in records.periods] == [1]
    assert [n for n, _ in records.incidents] == [4]
    assert [n for n, _ in records.labels] == [5]
    assert records.incidents[0][1].hazardous is True
    assert records.outcome(records.flags[0][1]) == "false_alarm"
    assert [n for n, _ in records.entries()] == [1, 2, 4, 5, 6]
    assert len(records.sha256) == 64


BAD: list[tuple[Any, str]] = [
    ("{not json", "not JSON"),
    ("[1, 2]", "the line is [1, 2]; expected a JSON object with a 'kind'"),
    ({**FLAG, "kind": "flagg"}, "kind = \"flagg\": did you mean 'flag'?"),
    ({"kind": 3}, "kind = 3: expected one of period, flag, review, incident, label"),
    ({**PERIOD, "demands": {"grasp": -3}}, "demands.grasp = -3: Input should be greater than"),
    ({**PERIOD, "demands": {"grasp": 10**23}}, "Input should be less than or equal to"),
    (
        {**PERIOD, "demands": {"grasp": "12"}},
        'demands.grasp = "12": Input should be a valid integer',
    ),
    ({**PERIOD, "end": "2026-04-01T00:00:00Z"}, "is not after start"),
    ({**FLAG, "time": "2026-05-02T10:00:00"}, 'time = "2026-05-02T10:00:00": '),
    ({**FLAG, "time": "yesterday"}, "an ISO 8601 time such as 2026-05-04T09:30:00Z"),
    ({**FLAG, "flags": ["weird"]}, "flags.0 = \"weird\": Input should be 'outside_odd'"),
    ({**FLAG, "colour": "red"}, "unknown field 'colour'; expected one of"),
    ({**FLAG, "flgs": ["ood"]}, "unknown field 'flgs'; did you mean 'flags'?"),
    (
        {k: v for k, v in INCIDENT.items() if k != "description"},
        "description is missing; a 'incident' line needs it",
    ),
    (
        '{"kind": "flag", "time": "2026-05-02T10:00:00Z", "id": "F-9", "flags": ["ood"], '
        '"ood_score": NaN}',
        "NaN is not a JSON number",
    ),
]


@pytest.mark.parametrize(("line", "message"), BAD)
def test_a_malformed_line_is_located_with_its_value(
    tmp_path: Path, line: Any, message: str
) -> None:
    log = write(tmp_path / "log.jsonl", PERIOD, line)
    with pytest.raises(FieldLogError) as info:
        read_field_log(log)
    assert info.value.problems[0].startswith(f"{log}:2: ")
    assert message in info.value.problems[0], info.value.problems
    assert "nothing was written" in str(info.value)


def test_every_problem_is_listed_with_its_line(tmp_path: Path) -> None:
    log = write(
        tmp_path / "log.jsonl",
        PERIOD,
        {**PERIOD, "start": "2026-05-15T00:00:00Z", "end": "2026-06-15T00:00:00Z"},
        FLAG,
        {**FLAG, "time": "2026-05-03T00:00:00Z"},
        {**REVIEW, "flag": "F-2"},
        {**INCIDENT, "requirement": "SSR-9", "behaviour": "EB-7"},
    )
    with pytest.raises(FieldLogError) as info:
        read_field_log(log, requirements=["SSR-1", "SSR-2"], behaviours=["EB-1"])
    problems = info.value.problems
    assert [p.split(": ")[0] for p in problems] == [
        f"{log}:2",
        f"{log}:4",
        f"{log}:5",
        f"{log}:6",
        f"{log}:6",
    ]
    assert "overlaps the period on line 1" in problems[0]
    assert "id = 'F-1': already used on line 3" in problems[1]
    assert "flag = 'F-2': no such flag; did you mean 'F-1'?" in problems[2]
    assert "requirement = 'SSR-9': not a system safety requirement [A]; did you mean" in problems[3]
    assert "behaviour = 'EB-7': not an erroneous behaviour of [DD]" in problems[4]


def test_unreadable_logs(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no field log"):
        read_field_log(tmp_path / "missing.jsonl")
    (tmp_path / "latin.jsonl").write_bytes(b'{"kind": "period"}\n{"x": "\xe9"}\n')
    with pytest.raises(FieldLogError, match=r"latin\.jsonl:2: not UTF-8"):
        read_field_log(tmp_path / "latin.jsonl")


def test_appended_entries_read_back(tmp_path: Path) -> None:
    log = tmp_path / "new" / "log.jsonl"
    append_field_log(log, [PERIOD, FLAG])
    append_field_log(log, [FlagEntry.model_validate({**FLAG, "id": "F-2"}, strict=False)])
    lines = log.read_text().splitlines()
    assert len(lines) == 3
    assert json.loads(lines[1])["id"] == "F-1"
    assert "null" not in lines[1]  # unset fields are left out
    assert [e.id for _, e in read_field_log(log).flags] == ["F-1", "F-2"]


def test_an_invalid_entry_is_never_appended(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    with pytest.raises(ValueError, match="flags"):
        append_field_log(log, [{**FLAG, "flags": []}])
    assert not log.exists()


def test_a_torn_last_line_stays_one_bad_line(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps(PERIOD) + "\n" + '{"kind": "flag", "ti')
    append_field_log(log, [FLAG])
    with pytest.raises(FieldLogError) as info:
        read_field_log(log)
    assert [p.split(": ")[0] for p in info.value.problems] == [f"{log}:2"]
    assert json.loads(log.read_text().splitlines()[2])["id"] == "F-1"


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"

    def writer(k: int) -> None:
        for i in range(20):
            append_field_log(log, [{**FLAG, "id": f"F-{k}-{i}", "reasons": ["x" * 5000]}])

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(read_field_log(log).flags) == 80
