"""Calibration from a project's [N] and [O], staleness, and the monitored model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from amlas import check_project
from amlas.errors import UsageError
from amlas.monitor import (
    CalibrationError,
    Monitor,
    calibrate,
    load_monitor,
    load_monitored_model,
    monitor_path,
    stale_reasons,
)
from factory import DATA, DATA_FILE
from monitor_project import monitor_documents, monitor_project


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return monitor_project(tmp_path / "mini")


def test_calibrate_fits_on_n_and_sets_the_threshold_on_o(root: Path) -> None:
    project = check_project(root).project
    built = calibrate(project)
    assert built.input_kind == "tabular"
    assert built.features == ("size_mm",)
    assert built.input_shape == (1,)
    assert built.calibration.fit_samples == 60
    assert built.calibration.samples == 60
    assert built.calibration.rank == 55  # ceil(61 * 0.9)
    assert built.calibration.false_alarms <= 60 - 55
    assert built.calibration.upper > built.calibration.rate
    assert set(built.calibrated_on) == {"dataset:N", "dataset:O", "environment", "component"}
    assert [d.id for d in built.dimensions] == ["size", "lighting"]
    assert stale_reasons(project, built) == []


def test_samples_outside_the_odd_are_left_out_and_counted(root: Path) -> None:
    lines = DATA["O"].decode().splitlines()
    lines[1] = lines[1].replace(",day", ",dusk").replace(",night", ",dusk")
    (root / DATA_FILE["O"]).write_text("\n".join(lines) + "\n")
    project = check_project(root).project
    built = calibrate(project)
    assert built.calibration.samples == 59
    assert built.calibration.excluded_outside_odd == 1


def test_too_few_calibration_samples_stop_calibration(tmp_path: Path) -> None:
    root = monitor_project(tmp_path / "mini", monitor_documents(target_false_alarm_rate=0.01))
    with pytest.raises(CalibrationError, match="needs at least 99 calibration samples"):
        calibrate(check_project(root).project)


def test_a_changed_dataset_or_setting_makes_the_monitor_stale(root: Path) -> None:
    project = check_project(root).project
    calibrate(project).save(monitor_path(project))
    assert load_monitor(project).settings.target_false_alarm_rate == 0.1
    dd = root / "6-deployment" / "DD-erroneous-behaviour-log.yaml"
    dd.write_text(
        dd.read_text().replace("target_false_alarm_rate: 0.1", "target_false_alarm_rate: 0.2")
    )
    (root / DATA_FILE["N"]).write_text(DATA["N"].decode().replace("S1-0001", "S1-9999"))
    project = check_project(root).project
    reasons = stale_reasons(project, Monitor.load(monitor_path(project)))
    assert reasons == [
        "[N] changed since calibration",
        "[DD] monitor target_false_alarm_rate is 0.2, the monitor file was calibrated with 0.1",
    ]
    with pytest.raises(UsageError, match=r"the monitor is stale.*amlas monitor calibrate"):
        load_monitor(project)
    assert load_monitor(project, allow_stale=True).threshold > 0


def test_low_confidence_settings_follow_dd_without_recalibration(root: Path) -> None:
    project = check_project(root).project
    calibrate(project).save(monitor_path(project))
    dd = root / "6-deployment" / "DD-erroneous-behaviour-log.yaml"
    dd.write_text(
        dd.read_text().replace("low_confidence_threshold: 0.9", "low_confidence_threshold: 0.6")
    )
    assert load_monitor(check_project(root).project).settings.low_confidence_threshold == 0.6


def test_monitored_model_from_the_project(root: Path) -> None:
    project = check_project(root).project
    calibrate(project).save(monitor_path(project))
    guarded = load_monitored_model(project)
    assert guarded.classes == ("negative", "positive")
    assert guarded.positive == "positive"  # the one safety-related class of [D]
    out = guarded.predict(np.array([[80.0], [51.0], [150.0]]), [{"lighting": "day"}] * 3)
    assert [p.decision for p in out] == ["positive", "positive", "positive"]
    assert [p.verdict.flags for p in out] == [(), ("low_confidence",), ("outside_odd", "ood")]
    assert "size (size_mm) = 150 mm, outside [0, 100]" in out[2].verdict.reasons[0]


def test_missing_configuration_is_a_usage_error(tmp_path: Path) -> None:
    docs = monitor_documents()
    del docs["DD"]["monitor"]
    project = check_project(monitor_project(tmp_path / "mini", docs)).project
    with pytest.raises(UsageError, match="configures no runtime monitor"):
        calibrate(project)
    document = json.dumps({"schema": "amlas.monitor/1"})
    with pytest.raises(UsageError, match="settings"):
        Monitor.from_json(document)
