"""The monitor service: answers, field-log lines, and 4xx (never 500) for bad requests."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from amlas import check_project
from amlas.errors import UsageError
from amlas.monitor import MonitoredModel, calibrate, monitor_path, read_field_log
from amlas.server import create_app
from monitor_project import monitor_project

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitor"))

from monitor_factory import MEAN, D, inputs, synthetic_monitor

with warnings.catch_warnings():
    # starlette's TestClient warns on import that httpx is deprecated in favour of httpx2
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

CLOCK = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
MEAN0 = float(MEAN[0])
MONITOR = synthetic_monitor(seed=21, low_confidence=0.8)


def _p(x: np.ndarray) -> np.ndarray:
    """p(positive) of the test model: logistic in the first coordinate around its mean."""
    return 1.0 / (1.0 + np.exp(-4.0 * (np.asarray(x, dtype=float)[:, 0] - MEAN0)))


class _Model:
    classes = ("negative", "positive")
    has_proba = True

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = _p(x)
        return np.stack([1.0 - p, p], axis=1)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes)[np.argmax(self.predict_proba(x), axis=1)]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    log = tmp_path_factory.mktemp("server") / "field-log.jsonl"
    guarded = MonitoredModel(_Model(), MONITOR)
    app = create_app(monitored=guarded, field_log=log, clock=lambda: CLOCK, max_body_bytes=200_000)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, log


META = [{"size_mm": 30.0, "lighting": "day"}] * 3


def _pick() -> np.ndarray:
    """Three in-distribution inputs: confident, unsure (p in 0.3..0.7), confident."""
    pool = inputs(np.random.default_rng(22), 400)
    pool = pool[~MONITOR.assess(pool, {"size_mm": [30.0] * 400, "lighting": ["day"] * 400}).ood]
    p = _p(pool)
    sure = pool[np.abs(p - 0.5) > 0.45]
    unsure = pool[np.abs(p - 0.5) < 0.2]
    return np.stack([sure[0], unsure[0], sure[1]])


GOOD = _pick()


def test_health_describes_the_service(served: tuple[TestClient, Path]) -> None:
    client, _ = served
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["classes"] == ["negative", "positive"]
    assert body["input"] == {"kind": "other", "shape": [D]}
    assert len(body["monitor"]) == 64
    assert body["field_log"] is True


def test_check_answers_and_logs_only_flagged_inputs(served: tuple[TestClient, Path]) -> None:
    client, log = served
    before = len(read_field_log(log).flags) if log.exists() else 0
    batch = GOOD
    meta = [*META[:2], {"size_mm": 140.0, "lighting": "day"}]
    response = client.post("/check", json={"inputs": batch.tolist(), "metadata": meta})
    assert response.status_code == 200
    body = response.json()
    results = body["results"]
    p = _p(batch)
    assert [r["decision"] for r in results] == ["positive" if q >= 0.5 else "negative" for q in p]
    assert [r["flags"] for r in results] == [[], ["low_confidence"], ["outside_odd"]]
    assert results[1]["probabilities"]["positive"] == pytest.approx(p[1])
    assert body["flagged"] == 2
    assert body["logged"] == [results[1]["log_id"], results[2]["log_id"]]
    flags = read_field_log(log).flags[before:]
    assert [f.id for _, f in flags] == body["logged"]
    assert flags[1][1].flags == ["outside_odd"]
    assert flags[1][1].metadata == {"size_mm": 140.0, "lighting": "day"}
    assert flags[1][1].inputs == pytest.approx(batch[2].tolist())
    assert flags[1][1].time == CLOCK


def test_nothing_is_logged_when_nothing_is_flagged(served: tuple[TestClient, Path]) -> None:
    client, log = served
    size = log.stat().st_size if log.exists() else 0
    batch = GOOD[[0, 2, 0]]
    body = client.post("/check", json={"inputs": batch.tolist(), "metadata": META}).json()
    assert body["flagged"] == 0
    assert (log.stat().st_size if log.exists() else 0) == size


ROW = [1.0] * D
BAD_JSON: list[tuple[Any, int, str]] = [
    ({}, 422, "inputs: Field required"),
    ({"inputs": []}, 422, "inputs: List should have at least 1 item"),
    ({"inputs": "abc"}, 422, "inputs: Input should be a valid list"),
    ({"inputs": [ROW], "extra": 1}, 422, "extra: Extra inputs are not permitted"),
    ({"inputs": [ROW[:-1]]}, 422, f"inputs have shape (1, {D - 1}); expected (n, {D})"),
    ({"inputs": [ROW, ROW[:2]]}, 422, "inputs are ragged"),
    ({"inputs": [[*ROW[:5], [1.0]]]}, 422, "inputs[0][5] is [1.0]; expected a number"),
    ({"inputs": [[ROW]]}, 422, f"inputs have shape (1, 1, {D})"),
    ({"inputs": [["a", *ROW[1:]]]}, 422, "inputs[0][0] is 'a'; expected a number"),
    ({"inputs": [[*ROW[:3], True, *ROW[4:]]]}, 422, "inputs[0][3] is True; expected a number"),
    ({"inputs": [[*ROW[:2], None, *ROW[3:]]]}, 422, "inputs[0][2] is None"),
    ({"inputs": [ROW], "metadata": [1]}, 422, "metadata[0]: Input should be a valid dictionary"),
    ({"inputs": [ROW], "metadata": {"size_mm": 1}}, 422, "metadata: Input should be a valid list"),
    ({"inputs": [ROW], "metadata": [{}, {}]}, 422, "metadata has 2 entries for 1 samples"),
    (
        {"inputs": [ROW], "metadata": [{"size_mm": "big"}]},
        422,
        "metadata[0]['size_mm'] is 'big'; expected a number",
    ),
    ({"inputs": [ROW] * 300}, 413, "300 samples in one request; send at most 256"),
    # integers beyond float64 (found in review: they used to raise OverflowError, a 500)
    ({"inputs": [[10**400, *ROW[1:]]]}, 422, "expected a number within the float64 range"),
    (
        {"inputs": [ROW], "metadata": [{"size_mm": 10**400}]},
        422,
        "metadata[0]['size_mm'] is",
    ),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD_JSON)
def test_malformed_requests_get_a_4xx_with_a_clear_message(
    served: tuple[TestClient, Path], body: Any, status: int, message: str
) -> None:
    client, _ = served
    response = client.post("/check", json=body)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


@pytest.mark.parametrize(
    ("content", "headers", "status", "message"),
    [
        ('{"inputs": [[NaN, 1, 1, 1, 1, 1]]}', {}, 422, "inputs[0][0] is nan; expected a finite"),
        ('{"inputs": [[Infinity, 1, 1, 1, 1, 1]]}', {}, 422, "expected a finite number"),
        ('{"inputs": [[1e400, 1, 1, 1, 1, 1]]}', {}, 422, "inputs[0][0] is inf"),
        ('{"inputs": [[1', {}, 422, "the body is not valid JSON at character"),
        ("", {}, 422, "Field required"),
        ("inputs=1", {"content-type": "text/plain"}, 422, "valid dictionary"),
        ("x" * 300_000, {}, 413, "exceeds 200000 bytes"),
        ("1", {"content-length": "ten"}, 400, "is not a number"),
        ("[" * 100_000, {}, 400, "error parsing the body"),
    ],
)
def test_raw_bodies_that_are_not_requests(
    served: tuple[TestClient, Path],
    content: str,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    client, _ = served
    headers = {"content-type": "application/json", **headers}
    response = client.post("/check", content=content, headers=headers)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def test_a_chunked_body_is_cut_off_at_the_limit(served: tuple[TestClient, Path]) -> None:
    client, _ = served

    def chunks() -> Iterator[bytes]:
        yield b'{"inputs": ['
        for _ in range(10_000):
            yield (json.dumps(ROW) + ",").encode()

    response = client.post("/check", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_unknown_paths_and_methods_are_4xx(served: tuple[TestClient, Path]) -> None:
    client, _ = served
    assert client.get("/check").status_code == 405
    assert client.get("/nowhere").status_code == 404


def test_an_unwritable_log_is_a_503_not_a_silent_loss(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    guarded = MonitoredModel(_Model(), synthetic_monitor(seed=21))
    app = create_app(monitored=guarded, field_log=blocker / "log.jsonl")
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/check", json={"inputs": [ROW]})  # no metadata: outside ODD
    assert response.status_code == 503
    assert "cannot be written" in response.json()["error"]


def test_app_from_a_project_reads_its_model_monitor_and_log(tmp_path: Path) -> None:
    root = monitor_project(tmp_path / "mini")
    project = check_project(root).project
    calibrate(project).save(monitor_path(project))
    with TestClient(create_app(root), raise_server_exceptions=False) as client:
        assert client.get("/health").json()["input"] == {"kind": "tabular", "shape": [1]}
        body = client.post(
            "/check", json={"inputs": [[20.0], [250.0]], "metadata": [{"lighting": "day"}] * 2}
        ).json()
    assert [r["decision"] for r in body["results"]] == ["negative", "positive"]
    assert body["results"][1]["flags"] == ["outside_odd", "ood"]
    [(_, flag)] = read_field_log(root / "6-deployment" / "field-log.jsonl").flags
    assert flag.inputs == [250.0]
    assert flag.id == body["logged"][0]


def test_app_refuses_a_project_with_errors_or_no_monitor(tmp_path: Path) -> None:
    root = monitor_project(tmp_path / "mini")
    with pytest.raises(UsageError, match="no monitor file"):
        create_app(root)
    (root / "1-scoping" / "B-operating-environment.yaml").write_text("artefact: B\n")
    with pytest.raises(UsageError, match="the project has errors"):
        create_app(root)
    with pytest.raises(UsageError, match="one"):
        create_app()
