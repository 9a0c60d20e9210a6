"""``amlas monitor ingest``: the field log as the records stage6/operation and stage6/monitor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from amlas import check_project
from amlas.evidence import open_store
from amlas.monitor import FieldLogError, calibrate, monitor_path
from amlas.verify import ingest_field_log
from monitor_project import incident, label, log_lines, monitor_project, period

FLAG = {"kind": "flag", "time": "2026-05-02T10:00:00Z", "id": "F-1", "flags": ["ood"]}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = monitor_project(tmp_path / "mini")
    project = check_project(root).project
    calibrate(project).save(monitor_path(project))
    return root


def write_log(root: Path, *entries: dict[str, Any]) -> Path:
    path = root / "6-deployment" / "field-log.jsonl"
    path.write_text(log_lines(*entries), encoding="utf-8")
    return path


def rows(record: Any, kind: str) -> list[dict[str, Any]]:
    return [r for r in record.results if r["kind"] == kind]


def test_ingest_writes_both_records_with_the_counts(root: Path) -> None:
    write_log(
        root,
        period("2026-05-01T00:00:00Z", "2026-05-16T00:00:00Z", 40_000),
        period("2026-05-16T00:00:00Z", "2026-06-01T00:00:00Z", 60_000),
        FLAG,
        {**FLAG, "id": "F-2", "flags": ["outside_odd", "low_confidence"], "outcome": "true_alarm"},
        {"kind": "review", "time": "2026-05-03T00:00:00Z", "flag": "F-1", "outcome": "false_alarm"},
        incident("INC-1", "2026-05-10T08:00:00Z"),
        incident("INC-2", "2026-06-10T08:00:00Z"),  # after the last period
        *[label(f"L-{i}", "in_distribution", 20.0 + i) for i in range(30)],
        label("L-ood", "out_of_distribution", 400.0),
        label("L-odd", "outside_odd", 30.0, lighting="dusk"),
        label("L-miss", "out_of_distribution", 31.0),  # looks normal: not detected
    )
    report = ingest_field_log(root)
    assert report.counts == {"period": 2, "flag": 2, "review": 1, "incident": 2, "label": 33}
    assert [r.key for _, r in report.records] == ["stage6/operation", "stage6/monitor"]
    operation, monitor = (r for _, r in report.records)

    [ssr1] = rows(operation, "requirement")
    assert (ssr1["requirement"], ssr1["incidents"], ssr1["demands"]) == ("SSR-1", 2, 100_000)
    assert ssr1["incident_ids"] == ["INC-1", "INC-2"]
    assert ssr1["bound"] < 0.05  # 2 in 100000, exact 95% upper bound about 6.3e-5
    assert ssr1["verdict"] == operation.verdict == "pass"
    assert [(p["incidents"], p["line"]) for p in rows(operation, "period")] == [(1, 1), (0, 2)]
    assert operation.resolved["incidents_outside_periods"] == 1
    assert operation.parameters["log"] == "6-deployment/field-log.jsonl"
    assert set(operation.inputs) == {"field_log:6-deployment/field-log.jsonl", "artefact:A"}

    [calibration] = rows(monitor, "calibration")
    assert calibration["samples"] == 60
    assert calibration["target_rate"] == 0.1
    [false_alarm] = rows(monitor, "field_false_alarm")
    assert (false_alarm["samples"], false_alarm["false_alarms"]) == (30, 0)
    [detection] = rows(monitor, "detection")
    assert (detection["samples"], detection["detected"]) == (3, 2)
    assert detection["threshold"] == 0.5
    by_truth = {r["truth"]: r for r in rows(monitor, "detection_by_truth")}
    assert by_truth["outside_odd"]["flagged_outside_odd"] == 1
    assert (
        by_truth["out_of_distribution"]["detected"],
        by_truth["out_of_distribution"]["samples"],
    ) == (1, 2)
    [flags] = rows(monitor, "flags")
    assert flags == {
        "kind": "flags",
        "flags": 2,
        "outside_odd": 1,
        "ood": 1,
        "low_confidence": 1,
        "true_alarm": 1,
        "false_alarm": 1,
        "unreviewed": 0,
    }
    assert monitor.verdict == "inconclusive"  # 3 labelled samples cannot show >= 0.5
    assert {
        "monitor",
        "field_log:6-deployment/field-log.jsonl",
        "dataset:N",
        "dataset:O",
        "environment",
    } == set(monitor.inputs)

    with open_store("fs://evidence", root=root) as store:
        assert [key for key, _ in store.list("stage6/")] == ["stage6/monitor", "stage6/operation"]
        [run] = store.runs()
        assert run.stages == [6]


def test_too_many_incidents_fail_against_the_acceptable_rate(root: Path) -> None:
    write_log(
        root,
        period("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z", 100),
        *[incident(f"INC-{i}", "2026-05-10T08:00:00Z") for i in range(20)],
    )
    [operation, _] = [r for _, r in ingest_field_log(root).records]
    assert operation.verdict == "fail"
    assert rows(operation, "requirement")[0]["estimate"] == 0.2


def test_no_demands_in_the_rate_unit_is_inconclusive(root: Path) -> None:
    write_log(
        root, {**period("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z", 5), "demands": {"move": 5}}
    )
    [operation, monitor] = [r for _, r in ingest_field_log(root).records]
    [ssr1] = rows(operation, "requirement")
    assert ssr1["verdict"] == "inconclusive"
    assert "no period of the log counts demands per 'grasp'" in ssr1["reason"]
    assert rows(monitor, "detection")[0]["verdict"] == "inconclusive"


def test_a_malformed_log_writes_nothing(root: Path) -> None:
    path = write_log(root, period("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z", 5), FLAG)
    with path.open("a") as handle:
        handle.write(json.dumps(incident("INC-1", "2026-05-10T08:00:00Z", "SSR-7")) + "\n")
        handle.write(
            json.dumps(label("L-1", "in_distribution", 20.0) | {"inputs": [1.0, 2.0]}) + "\n"
        )
    with pytest.raises(FieldLogError) as info:
        ingest_field_log(root)
    assert info.value.problems == [
        f"{path}:3: requirement = 'SSR-7': not a system safety requirement [A]; "
        "did you mean 'SSR-1'?"
    ]
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:2] + lines[3:]) + "\n")
    with pytest.raises(FieldLogError, match=r"field-log\.jsonl:3: label 'L-1': inputs have shape"):
        ingest_field_log(root)
    assert not (root / "evidence").exists()


def test_a_stale_monitor_still_gives_the_operation_record(root: Path) -> None:
    write_log(root, period("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z", 5))
    monitor_file = root / "6-deployment" / "monitor.json"
    document = json.loads(monitor_file.read_text())
    document["calibrated_on"]["dataset:O"] = "0" * 64
    monitor_file.write_text(json.dumps(document))
    report = ingest_field_log(root)
    assert [r.key for _, r in report.records] == ["stage6/operation"]
    assert report.not_run[0][0] == "stage6/monitor"
    assert "[O] changed since calibration" in report.not_run[0][1]


def test_the_case_cites_the_records_and_they_go_stale_with_the_log(root: Path) -> None:
    from amlas.case import build_case

    path = write_log(
        root,
        period("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z", 100_000),
        *[label(f"L-{i}", "in_distribution", 20.0 + i) for i in range(30)],
    )
    ingest_field_log(root)
    case = build_case(root)
    for solution, key in (("Sn6.7", "stage6/operation"), ("Sn6.8", "stage6/monitor")):
        cited = [case.evidence[d].key for d in case.nodes[solution].evidence]
        assert cited == [key]
        assert case.nodes[solution].status != "stale"
    assert case.nodes["G6.7"].supported_by == ["Sn6.7"]
    # a log that grew since the ingest: both records rest on its old content
    path.write_text(path.read_text() + log_lines(incident("INC-9", "2026-05-20T08:00:00Z")))
    case = build_case(root)
    assert case.nodes["Sn6.7"].status == "stale"
    assert case.nodes["Sn6.8"].status == "stale"


def test_a_log_given_on_the_command_line_is_what_the_records_rest_on(
    root: Path, tmp_path: Path
) -> None:
    from amlas.case import build_case

    other = tmp_path / "elsewhere.jsonl"
    other.write_text(
        log_lines(period("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z", 1000)), encoding="utf-8"
    )
    ingest_field_log(root, other)
    case = build_case(root)
    assert case.nodes["Sn6.7"].status != "stale"  # found in review: it was stale at once
    other.write_text(other.read_text() + log_lines(incident("INC-9", "2026-05-20T08:00:00Z")))
    assert build_case(root).nodes["Sn6.7"].status == "stale"
