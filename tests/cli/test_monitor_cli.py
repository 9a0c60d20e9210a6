"""``amlas monitor calibrate | check | serve | ingest``: exit statuses, output, no traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import run
from factory import DATA_FILE
from monitor_project import incident, label, log_lines, monitor_project, period


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return monitor_project(tmp_path / "mini")


@pytest.fixture
def calibrated(root: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    code, out, _ = run(capsys, "monitor", "calibrate", str(root))
    assert code == 0, out
    return root


def test_calibrate_writes_the_monitor_file(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "monitor", "calibrate", str(root))
    assert code == 0, err
    assert "fitted on 60 [N] samples (1 of 1 directions" in out
    assert "the 55-th smallest of 60 [O] scores (target false-alarm rate 0.1)" in out
    assert "false alarms on [O]: " in out
    document = json.loads((root / "6-deployment" / "monitor.json").read_text())
    assert document["schema"] == "amlas.monitor/1"
    assert document["calibration"]["samples"] == 60


def test_check_lists_flagged_samples(calibrated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = calibrated / "data" / "field.csv"
    data.write_text(
        "sample_id,label,size_mm,lighting\n"
        "A,negative,20.0,day\n"
        "B,positive,140.0,day\n"
        "C,negative,30.0,dusk\n"
        "D,positive,52.0,night\n"
    )
    code, out, err = run(
        capsys, "monitor", "check", str(calibrated), str(data), "--id-column", "sample_id"
    )
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("B: outside_odd, ood: outside ODD: size (size_mm) = 140 mm")
    assert lines[1].startswith("C: outside_odd: outside ODD: lighting (lighting) = 'dusk'")
    assert lines[2].startswith(
        "D: low_confidence: low confidence: top class probability 0.599 below 0.9"
    )
    assert lines[3].endswith(
        "3 of 4 samples flagged (2 outside the ODD, 1 out of distribution, 1 low confidence)"
    )
    code, out, _ = run(
        capsys, "monitor", "check", str(calibrated), str(data), "--no-model", "--format", "json"
    )
    assert code == 0
    samples = json.loads(out)["samples"]
    assert [s["id"] for s in samples] == ["row-1", "row-2", "row-3", "row-4"]
    assert [s["flagged"] for s in samples] == [False, True, True, False]
    assert samples[3]["low_confidence"] is None


def test_check_of_o_flags_its_calibration_false_alarms(
    calibrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    alarms = json.loads((calibrated / "6-deployment" / "monitor.json").read_text())["calibration"][
        "false_alarms"
    ]
    data = str(calibrated / DATA_FILE["O"])
    code, out, _ = run(capsys, "monitor", "check", str(calibrated), data, "--no-model")
    assert code == 0
    assert out.splitlines()[-1].endswith(
        f"{alarms} of 60 samples flagged (0 outside the ODD, {alarms} out of distribution)"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "{root}", "{root}/data/nothing.txt"], "cannot tell the format from the suffix"),
        (["check", "{root}", "{root}/data/missing.csv"], "missing.csv"),
        (["serve", "{root}/nowhere"], "does not exist"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    calibrated: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, "monitor", *[a.format(root=calibrated) for a in argv])
    assert code == 2
    assert message in out + err


def test_check_without_a_calibrated_monitor(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "monitor", "check", str(root), str(root / DATA_FILE["O"]))
    assert code == 2
    assert "no monitor file; write it with 'amlas monitor calibrate'" in err


def test_a_project_with_errors_prints_diagnostics_and_exits_1(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dd = root / "6-deployment" / "DD-erroneous-behaviour-log.yaml"
    dd.write_text(
        dd.read_text().replace("target_false_alarm_rate: 0.1", "target_false_alarm_rate: 2")
    )
    code, out, err = run(capsys, "monitor", "calibrate", str(root))
    assert code == 1
    assert "target_false_alarm_rate" in out
    assert "the project has errors; nothing was done" in err


def test_serve_binds_localhost_by_default(
    calibrated: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    code, out, _ = run(capsys, "monitor", "serve", str(calibrated))
    assert code == 0
    assert calls[0]["host"] == "127.0.0.1"
    assert calls[0]["port"] == 8000
    assert "serving" in out
    run(capsys, "monitor", "serve", str(calibrated), "--host", "0.0.0.0", "--port", "9001")
    assert (calls[1]["host"], calls[1]["port"]) == ("0.0.0.0", 9001)


def _log(root: Path, *entries: dict[str, Any]) -> Path:
    path = root / "6-deployment" / "field-log.jsonl"
    path.write_text(log_lines(*entries))
    return path


def test_ingest_records_operation_and_monitor_evidence(
    calibrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _log(
        calibrated,
        period("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z", 50_000),
        incident("INC-1", "2026-05-10T08:00:00Z"),
        label("L-1", "in_distribution", 30.0),
        label("L-2", "outside_odd", 30.0, lighting="dusk"),
    )
    code, out, err = run(capsys, "monitor", "ingest", str(calibrated), "--format", "json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["entries"] == {"period": 1, "flag": 0, "review": 0, "incident": 1, "label": 2}
    assert [(r["key"], r["verdict"]) for r in payload["records"]] == [
        ("stage6/operation", "pass"),
        ("stage6/monitor", "inconclusive"),
    ]
    code, out, _ = run(capsys, "evidence", str(calibrated))
    assert "stage6/operation" in out
    assert "stage6/monitor" in out


def test_ingest_exits_1_on_a_failed_verdict(
    calibrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _log(
        calibrated,
        period("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z", 10),
        *[incident(f"INC-{i}", "2026-05-10T08:00:00Z") for i in range(5)],
    )
    code, out, _ = run(capsys, "monitor", "ingest", str(calibrated))
    assert code == 1
    assert "stage6/operation     fail" in out


def test_ingest_refuses_a_malformed_log_with_file_and_line(
    calibrated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _log(
        calibrated,
        period("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z", 10),
        {**period("2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z", 10), "demands": {"grasp": -1}},
    )
    code, _, err = run(capsys, "monitor", "ingest", str(calibrated), str(path))
    assert code == 2
    assert (
        f"{path}:2:1: R053 error: demands.grasp = -1: Input should be greater than or equal to 0"
        in err
    )
    assert "nothing was written" in err
    assert not (calibrated / "evidence").exists()
