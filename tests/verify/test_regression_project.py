"""A regression mini project judged from predictions made elsewhere: the factory project
of ``tests/factory.py`` turned into a size estimator whose [V] gives only a predictions
file for [O] (no model amlas can run).

Every figure is re-derived here with numpy and scipy from the same files."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from amlas import Severity, check_project
from amlas.evidence import ProjectInputs, open_store
from amlas.verify import plan, run_project
from factory import documents, write_project

N = 400


def _data(seed: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = [f"R{seed}-{i:04d}" for i in range(N)]
    size = rng.uniform(1, 99, N).round(1)
    target = (size * 0.5 + rng.normal(0, 0.2, N)).round(3)
    predicted = (target + rng.normal(0, 0.3, N)).round(3)
    return ids, size, target, predicted


def _write(path: Path, header: str, rows: list[tuple[Any, ...]]) -> bytes:
    text = header + "\n" + "".join(",".join(str(v) for v in row) + "\n" for row in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode())
    return text.encode()


def _project(root: Path, *, predictions: dict[str, Any] | None = None) -> dict[str, Any]:
    docs = documents()
    docs["D"].update(
        task="regression",
        classes=[],
        description="Estimates the widget's width from its size",
        outputs={"kind": "value"},
    )
    docs["H"]["requirements"] = [
        {
            "id": "MLR-1",
            "text": "Mean absolute error at most 0.5 mm in every size band",
            "kind": "performance",
            "traces_to": ["ALR-1"],
            "metric": "mean_absolute_error",
            "threshold": 0.5,
            "confidence": 0.95,
            "applies_to": {"per": ["size"]},
        },
        {
            "id": "MLR-2",
            "text": "RMSE at most 0.2 mm",
            "kind": "performance",
            "traces_to": ["ALR-1"],
            "metric": "root_mean_squared_error",
            "threshold": 0.2,
            "confidence": 0.95,
        },
        {
            "id": "MLR-3",
            "text": "At least 80% of estimates within 0.75 mm",
            "kind": "performance",
            "traces_to": ["ALR-1"],
            "metric": "within_tolerance_rate",
            "tolerance": {"value": 0.75, "unit": "mm"},
            "threshold": 0.8,
            "confidence": 0.95,
        },
        {
            "id": "MLR-4",
            "text": "The 90th percentile of the absolute error at most 0.6 mm",
            "kind": "performance",
            "traces_to": ["ALR-1"],
            "metric": "absolute_error_quantile",
            "quantile": 0.9,
            "threshold": 0.6,
            "confidence": 0.95,
        },
        {
            "id": "MLR-5",
            "text": "In 95% of sequences, at most 1 estimate in any 5 consecutive frames "
            "is off by more than 0.75 mm",
            "kind": "performance",
            "traces_to": ["ALR-1"],
            "metric": "sequence_window_rate",
            "window": {"frames": 5, "max_failures": 1, "failure": "out_of_tolerance"},
            "tolerance": {"value": 0.75, "unit": "mm"},
            "threshold": 0.5,
            "confidence": 0.95,
        },
    ]
    judged = ["MLR-1", "MLR-2", "MLR-3", "MLR-4", "MLR-5"]
    docs["J"]["records"][0]["requirements"] = judged
    # a regressor has no classes: the class-bound rules become rules on the ODD
    by_id = {r["id"]: r for r in docs["L"]["requirements"]}
    del by_id["DR-2"]["rule"]["class"]
    by_id["DR-4"]["rule"] = {"check": "slice_balance", "dimension": "size", "min_fraction": 0.2}
    for requirement in docs["L"]["requirements"]:
        requirement["traces_to"] = judged
    docs["M"]["arguments"][0]["requirements"] = judged
    docs["M"]["arguments"][0]["data_requirements"] = [r["id"] for r in docs["L"]["requirements"]]
    docs["AA"]["activities"][0]["requirements"] = judged
    model_sha = hashlib.sha256(b"the team's regressor").hexdigest()
    docs["V"] = {
        "artefact": "V",
        "version": "1.0.0",
        "name": "widget-width",
        "framework": {"name": "their-pipeline", "version": "3.1"},
        "trained_on": ["N"],
        "candidate": "CAND-1",
        "predictions": predictions
        or {"O": {"location": "predictions/O.csv", "value_column": "predicted"}},
        "produced_by": model_sha,
    }
    for letter in "NOP":
        docs[letter]["label_column"] = "target"
        docs[letter]["sequence_column"] = "drive"
        docs[letter]["frame_column"] = "frame"
        docs[letter].pop("sha256")
    write_project(root, docs)
    for seed, letter in enumerate("NOP", start=1):
        ids, size, target, predicted = _data(seed)
        lighting = ["day" if i % 2 else "night" for i in range(N)]
        drive = [f"drive-{i // 10}" for i in range(N)]
        frame = [i % 10 for i in range(N)]
        _write(
            root / docs[letter]["location"],
            "sample_id,target,size_mm,lighting,drive,frame",
            list(zip(ids, target, size, lighting, drive, frame, strict=True)),
        )
        if letter == "O":
            _write(
                root / "predictions/O.csv",
                "sample_id,predicted",
                list(zip(ids, predicted, strict=True))[::-1],  # any order: matched by id
            )
    return docs


def _records(root: Path) -> dict[str, Any]:
    with open_store("fs://evidence", root=root) as store:
        return {
            key: store.latest(key) for key, _ in store.list("stage4/") if key.startswith("stage4/")
        }


def test_a_regressor_is_judged_from_its_predictions_file(tmp_path: Path) -> None:
    root = tmp_path / "project"
    _project(root)
    loaded = check_project(root)
    errors = [d for d in loaded.diagnostics.items if d.severity is Severity.ERROR]
    assert not errors, [str(d) for d in errors]
    report = run_project(root, stages=(4,))
    records = _records(root)
    assert sorted(records) == [f"stage4/MLR-{i}/O" for i in range(1, 6)]
    _, size, target, predicted = _data(2)
    error = np.abs(predicted - target)

    mae = records["stage4/MLR-1/O"]
    assert mae.resolved["unit"] == "samples"
    assert mae.resolved["predictions"] == "predictions/O.csv"
    assert [r["slice"] for r in mae.results] == ["size=small", "size=large"]
    for result, band in zip(mae.results, (size < 50, size >= 50), strict=True):
        assert result["samples"] == int(band.sum())
        assert result["estimate"] == pytest.approx(float(error[band].mean()), rel=1e-12)
        assert result["upper"] < 0.5
        assert result["verdict"] == "pass"
    assert mae.verdict == "pass"

    rmse = records["stage4/MLR-2/O"]
    rmse_value = math.sqrt(float(np.mean(error**2)))
    assert rmse.results[0]["estimate"] == pytest.approx(rmse_value, rel=1e-12)
    assert rmse_value > 0.2
    assert rmse.verdict == "fail"

    within = records["stage4/MLR-3/O"]
    k, n = int((error <= 0.75).sum()), N
    assert within.results[0]["successes"] == k
    assert within.results[0]["samples"] == n
    lower = stats.beta.ppf(0.05, k, n - k + 1)
    assert within.results[0]["lower"] == pytest.approx(lower, rel=1e-9)
    assert within.verdict == ("pass" if lower >= 0.8 else "fail")
    quantile = records["stage4/MLR-4/O"]
    ordered = np.sort(error)
    # the exact upper bound of the 0.9-quantile: the k-th order statistic with k the
    # smallest rank such that P(Binomial(n, 0.9) <= k - 1) >= 0.95
    k = int(np.argmax(stats.binom.cdf(np.arange(N), N, 0.9) >= 0.95)) + 1
    assert quantile.resolved["unit"] == "samples"
    assert quantile.results[0]["bound"] == pytest.approx(float(ordered[k - 1]))
    assert quantile.verdict == ("pass" if ordered[k - 1] <= 0.6 else "fail")

    windows = records["stage4/MLR-5/O"]
    assert windows.resolved["unit"] == "sequences"
    off = (error > 0.75).reshape(-1, 10)  # 40 drives of 10 frames, in file order
    sliding = np.lib.stride_tricks.sliding_window_view(off, 5, axis=1).sum(axis=2)
    passing = int((sliding.max(axis=1) <= 1).sum())
    assert windows.results[0]["samples"] == N // 10
    assert windows.results[0]["successes"] == passing
    assert windows.results[0]["windows"] == (N // 10) * 6
    assert windows.results[0]["windows_failing"] == int((sliding > 1).sum())
    for record in records.values():
        assert "predictions:O" in record.inputs
        assert record.inputs["model"] == hashlib.sha256(b"the team's regressor").hexdigest()
    assert report.counts()["fail"] >= 1


def test_a_new_predictions_file_makes_the_records_stale(tmp_path: Path) -> None:
    root = tmp_path / "project"
    _project(root)
    run_project(root, stages=(4,))
    record = _records(root)["stage4/MLR-1/O"]
    project = check_project(root).project
    assert ProjectInputs(project).stale(record) == []
    path = root / "predictions/O.csv"
    path.write_bytes(path.read_bytes().replace(b",", b", ", 1))
    project = check_project(root).project
    assert ProjectInputs(project).stale(record) == ["predictions:O (changed)"]


def test_checks_that_need_the_model_are_planned_with_why(tmp_path: Path) -> None:
    root = tmp_path / "project"
    _project(root)
    work = plan(check_project(root).project, stages=(4,))
    assert all(c.reason is None for c in work.checks if c.kind == "requirement")
    # [P] has no predictions and there is no model to run: the verifier's stage 5 says so
    work = plan(check_project(root).project, role="verifier", stages=(5,))
    reasons = {c.reason for c in work.checks if c.kind == "requirement"}
    assert reasons == {
        "[V] gives no model to run and no predictions on [P] (add 'predictions: {P: ...}' "
        "or the model's 'location' and 'format')"
    }


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ([("R2-0000", 1.0), ("R2-0000", 2.0)], "predicted more than once"),
        ([("nobody", 1.0)], "name a sample the dataset does not hold: 'nobody'"),
        ([("R2-0000", 1.0)], "399 sample(s) of the dataset have no prediction"),
    ],
)
def test_a_predictions_file_that_does_not_fit_is_d025(
    tmp_path: Path, rows: list[tuple[str, float]], fragment: str
) -> None:
    from amlas.errors import ProblemError

    root = tmp_path / "project"
    _project(root)
    _write(root / "predictions/O.csv", "sample_id,predicted", rows)
    with pytest.raises(ProblemError) as caught:
        run_project(root, stages=(4,))
    assert caught.value.diagnostic.code == "D025"
    assert "predictions/O.csv" in str(caught.value)
    assert fragment in str(caught.value)
