"""The monitor's verdicts: ODD membership, low confidence, the JSON file, the wrapped model."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amlas.monitor import (
    Monitor,
    MonitoredModel,
    MonitorFileError,
    MonitorInputError,
    odd_membership,
)

sys.path.insert(0, str(Path(__file__).parent))

from monitor_factory import D, dimensions, inputs, metadata, synthetic_monitor

MONITOR = synthetic_monitor(seed=11, low_confidence=0.8)
CLEAN = inputs(np.random.default_rng(12), 4)


@settings(max_examples=80, deadline=None)
@given(
    size=st.one_of(
        st.floats(-1e9, -1e-9),
        st.floats(100.000001, 1e9),
        st.just(float("nan")),
        st.just(float("inf")),
        st.none(),
    )
)
def test_a_numeric_value_outside_the_range_is_always_flagged(size: float | None) -> None:
    rows = [{"size_mm": size, "lighting": "day"}]
    verdict = MONITOR.check(CLEAN[:1], rows)[0]
    assert verdict.outside_odd
    assert verdict.flagged
    assert "outside_odd" in verdict.flags
    assert verdict.reasons[0].startswith("outside ODD: size (size_mm)")


@settings(max_examples=40, deadline=None)
@given(lighting=st.text(max_size=12).filter(lambda v: v not in ("day", "night")))
def test_an_unknown_category_is_always_flagged(lighting: str) -> None:
    verdict = MONITOR.check(CLEAN[:1], [{"size_mm": 10.0, "lighting": lighting}])[0]
    assert verdict.outside_odd
    assert "not one of [day, night]" in verdict.reasons[0]


def test_values_inside_the_odd_are_not_flagged_even_between_bands() -> None:
    # 55 mm lies in no band (bands stop at 50 and start at 60) but inside the range
    result = odd_membership(
        dimensions(),
        {"size_mm": np.array([0.0, 55.0, 100.0]), "lighting": np.array(["day", "night", "day"])},
        3,
    )
    assert result.inside.tolist() == [True, True, True]
    assert result.reasons == [(), (), ()]


def test_missing_metadata_is_outside_the_odd_with_one_reason_per_dimension() -> None:
    verdicts = MONITOR.check(CLEAN[:2], None)
    assert all(v.outside_odd for v in verdicts)
    assert len(verdicts[0].reasons) >= 2
    assert "size (size_mm) has no value" in verdicts[0].reasons[0]
    assert "lighting (lighting) has no value" in verdicts[0].reasons[1]
    half = MONITOR.check(CLEAN[:2], [{"size_mm": 5.0, "lighting": "day"}, {"size_mm": 5.0}])
    assert [v.outside_odd for v in half] == [False, True]


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        (
            [{"size_mm": "big", "lighting": "day"}],
            r"metadata\[0\]\['size_mm'\] is 'big'; expected a number",
        ),
        ([{"size_mm": 3.0, "lighting": ["day"]}], r"metadata\[0\]\['lighting'\] is \['day'\]"),
        ([{"size_mm": True, "lighting": "day"}], "expected a number"),
        ([["size_mm", 3.0]], r"metadata\[0\] is \['size_mm', 3.0\]; expected a mapping"),
        ({"size_mm": [1.0, 2.0], "lighting": ["day"]}, "has 2 values for 1 samples"),
        ("size_mm=3", "expected one mapping per sample"),
    ],
)
def test_metadata_of_the_wrong_type_is_a_located_error(meta: Any, message: str) -> None:
    with pytest.raises(MonitorInputError, match=message):
        MONITOR.check(CLEAN[:1], meta)


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (np.zeros((2, D + 1)), r"shape \(2, 7\); expected \(n, 6\)"),
        ([[1.0] * D, [1.0] * 3], "cannot be read as numbers"),
        ([["a"] * D], "cannot be read as numbers"),
        (np.zeros(D), r"shape \(6,\); expected \(n, 6\)"),
    ],
)
def test_inputs_of_the_wrong_shape_are_errors(batch: Any, message: str) -> None:
    with pytest.raises(MonitorInputError, match=message):
        MONITOR.check(batch, None)


def test_non_finite_inputs_are_out_of_distribution_not_errors() -> None:
    batch = CLEAN[:2].copy()
    batch[1, 3] = np.nan
    verdicts = MONITOR.check(batch, metadata(2))
    assert not verdicts[0].ood
    assert verdicts[1].ood
    assert verdicts[1].ood_score is None
    assert "NaN or infinite" in verdicts[1].reasons[0]


def test_low_confidence_needs_probabilities_and_a_threshold() -> None:
    proba = np.array([[0.95, 0.05], [0.55, 0.45], [np.nan, 0.5], [0.8, 0.2]])
    batch = inputs(np.random.default_rng(13), 4)
    verdicts = MONITOR.check(batch, metadata(4), probabilities=proba)
    assert [v.low_confidence for v in verdicts] == [False, True, True, False]
    assert verdicts[1].confidence == pytest.approx(0.55)
    assert verdicts[2].confidence is None
    assert "top class probability 0.55 below 0.8" in verdicts[1].reasons[-1]
    assert MONITOR.check(batch, metadata(4))[1].low_confidence is None
    silent = synthetic_monitor(seed=11)  # no threshold configured
    assert silent.check(batch, metadata(4), probabilities=proba)[1].low_confidence is None


def test_json_round_trip_keeps_every_score_and_verdict(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "monitor.json"
    MONITOR.save(path)
    loaded = Monitor.load(path)
    assert loaded.to_json() == MONITOR.to_json() == path.read_text("utf-8")
    assert loaded.sha256 == MONITOR.sha256
    batch = inputs(np.random.default_rng(14), 300)
    a = MONITOR.assess(batch, metadata(300, size=120.0))
    b = loaded.assess(batch, metadata(300, size=120.0))
    assert np.array_equal(a.ood_score, b.ood_score)
    assert np.array_equal(a.ood, b.ood)
    assert a.reasons == b.reasons
    assert loaded.calibration == MONITOR.calibration
    assert loaded.dimensions == MONITOR.dimensions
    document = json.loads(path.read_text("utf-8"))
    assert document["schema"] == "amlas.monitor/1"
    assert document["calibrated_on"] == {"dataset:N": "0" * 64}
    lines = path.read_text("utf-8").splitlines()
    [mean] = [line for line in lines if line.startswith('    "mean": [')]
    assert mean.count(",") == D  # a number list stays on one line


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(schema="amlas.monitor/0"), "expected 'amlas.monitor/1'"),
        (lambda d: d["score"].update(mean=[1.0]), "input.shape"),
        (lambda d: d["score"].update(threshold="high"), "score.threshold"),
        (lambda d: d["settings"].update(target_false_alarm_rate=2), "target_false_alarm_rate"),
        (lambda d: d["odd"][0].update(kind="ordinal"), r"m\.json: odd\.0: Input tag 'ordinal'"),
        (lambda d: d.update(extra=1), "extra"),
    ],
)
def test_a_damaged_monitor_file_is_refused_with_the_field(change: Any, message: str) -> None:
    document = json.loads(MONITOR.to_json())
    change(document)
    with pytest.raises(MonitorFileError, match=message):
        Monitor.from_json(json.dumps(document), source="m.json")


def test_unreadable_monitor_files(tmp_path: Path) -> None:
    with pytest.raises(MonitorFileError, match="amlas monitor calibrate"):
        Monitor.load(tmp_path / "missing.json")
    (tmp_path / "nan.json").write_text('{"schema": NaN}')
    with pytest.raises(MonitorFileError, match="not a JSON monitor file"):
        Monitor.load(tmp_path / "nan.json")


class _Model:
    classes = ("negative", "positive")
    has_proba = True

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-np.asarray(x)[:, 0]))
        return np.stack([1.0 - p, p], axis=1)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes)[np.argmax(self.predict_proba(x), axis=1)]


def test_monitored_model_decides_with_the_threshold_and_flags() -> None:
    guarded = MonitoredModel(_Model(), MONITOR, positive="positive", threshold=0.3)
    batch = inputs(np.random.default_rng(15), 3)
    batch[:, 0] = [-3.0, -0.5, 4.0]  # p(positive) = 0.047, 0.378, 0.982
    out = guarded.predict(batch, metadata(3))
    assert [p.decision for p in out] == ["negative", "positive", "positive"]
    assert out[1].probabilities == pytest.approx({"negative": 0.6225, "positive": 0.3775}, abs=1e-4)
    assert out[1].verdict.low_confidence  # 0.62 < 0.8
    assert not out[2].verdict.low_confidence
    payload = out[1].as_json()
    assert payload["decision"] == "positive"
    assert "low_confidence" in payload["flags"]


def test_monitored_model_refuses_non_finite_inputs() -> None:
    guarded = MonitoredModel(_Model(), MONITOR)
    batch = CLEAN[:2].copy()
    batch[1, 0] = np.inf
    with pytest.raises(MonitorInputError, match=r"inputs\[1\] holds NaN or infinite"):
        guarded.predict(batch, metadata(2))
