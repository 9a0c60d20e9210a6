"""The monitor service: answers, field-log lines, and 4xx (never 500) for bad requests."""

from __future__ import annotations

import json
import logging
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
    # issue 12: metadata is held to the columns of [B] (these were 200s, copied to the log)
    (
        {"inputs": [ROW], "metadata": [{"lighting": "<script>"}]},
        422,
        "metadata[0]['lighting'] is '<script>'; expected a category of [B] (day, night;",
    ),
    (
        {"inputs": [ROW], "metadata": [{"lighting": "day\x1b[2J"}]},
        422,
        "metadata[0]['lighting'] is 'day\\x1b[2J'; expected a category",
    ),
    ({"inputs": [ROW], "metadata": [{"lighting": ["day"]}]}, 422, "is ['day']; expected a cat"),
    ({"inputs": [ROW], "metadata": [{"lighting": {"a": 1}}]}, 422, "is {'a': 1}; expected a cat"),
    ({"inputs": [ROW], "metadata": [{"lighting": True}]}, 422, "is True; expected a category"),
    ({"inputs": [ROW], "metadata": [{"lighting": "x" * 65}]}, 422, "expected a category"),
    ({"inputs": [ROW], "metadata": [{"size_mm": [30]}]}, 422, "is [30]; expected a number"),
    ({"inputs": [ROW], "metadata": [{"size_mm": False}]}, 422, "is False; expected a number"),
    (
        {"inputs": [ROW], "metadata": [{"size": 30.0}]},
        422,
        "metadata[0] has the unknown key 'size'; expected the ODD columns of [B]: size_mm, "
        "lighting (did you mean 'size_mm'?)",
    ),
    (
        {"inputs": [ROW], "metadata": [{"size_mm": 30.0, "note": "<img src=x onerror=alert(1)>"}]},
        422,
        "metadata[0] has the unknown key 'note'",
    ),
    ({"inputs": [ROW], "metadata": [{"comment": None}]}, 422, "unknown key 'comment'"),
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
        (
            '{"inputs": [[1, 1, 1, 1, 1, 1]], "metadata": [{"size_mm": NaN}]}',
            {},
            422,
            "metadata[0]['size_mm'] is nan; expected a number (finite, in mm;",
        ),
        (
            '{"inputs": [[1, 1, 1, 1, 1, 1]], "metadata": [{"lighting": -Infinity}]}',
            {},
            422,
            "metadata[0]['lighting'] is -inf; expected a category",
        ),
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


def test_refused_metadata_never_reaches_the_field_log(served: tuple[TestClient, Path]) -> None:
    client, log = served
    before = log.read_bytes() if log.exists() else b""
    for metadata in (
        [{"lighting": "<script>alert(1)</script>"}],
        [{"size_mm": 30.0, "lighting": "day", "operator": "<img src=x onerror=alert(1)>"}],
    ):
        response = client.post("/check", json={"inputs": [ROW], "metadata": metadata})
        assert response.status_code == 422, response.text
    assert (log.read_bytes() if log.exists() else b"") == before


def test_a_missing_or_undeclared_odd_value_is_flagged_not_refused(
    served: tuple[TestClient, Path],
) -> None:
    """null (and an absent key) means the value is missing; a category name [B] does not
    declare is outside the ODD: both are flagged, logged and answered, as documented."""
    client, _ = served
    meta = [{"size_mm": None, "lighting": "day"}, {"size_mm": 30.0, "lighting": "fog"}]
    body = client.post("/check", json={"inputs": GOOD[[0, 2]].tolist(), "metadata": meta}).json()
    assert [r["flags"] for r in body["results"]] == [["outside_odd"], ["outside_odd"]]
    assert "size (size_mm) has no value" in body["results"][0]["reasons"][0]
    assert "'fog', not one of [day, night]" in body["results"][1]["reasons"][0]
    assert len(body["logged"]) == 2


# -- issue 12: a value the model cannot take was a 500, logged nowhere ------------------------


class _Scaled(_Model):
    """Like a scikit-learn pipeline: standardise with a small scale, then refuse
    non-finite values (1e306 / 1e-3 overflows to inf)."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            z = (np.asarray(x, dtype=float) - MEAN) / 1e-3
        if not np.isfinite(z).all():
            raise ValueError("Input contains infinity or a value too large for dtype('float64').")
        return super().predict_proba(x)


class _Broken(_Model):
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        raise RuntimeError("the model file is corrupt")


def _client(model: _Model, log: Path) -> TestClient:
    app = create_app(monitored=MonitoredModel(model, MONITOR), field_log=log, clock=lambda: CLOCK)
    return TestClient(app, raise_server_exceptions=False)


def test_a_value_the_model_cannot_take_is_a_422_naming_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    huge = GOOD[1].tolist()
    huge[3] = 1e306
    with (
        caplog.at_level(logging.INFO, logger="amlas.server"),
        _client(_Scaled(), tmp_path / "log.jsonl") as client,
    ):
        alone = client.post("/check", json={"inputs": [huge], "metadata": META[:1]})
        batch = client.post(
            "/check", json={"inputs": [GOOD[0].tolist(), huge], "metadata": META[:2]}
        )
        fine = client.post("/check", json={"inputs": GOOD.tolist(), "metadata": META})
    assert alone.status_code == batch.status_code == 422, alone.text
    message = batch.json()["error"]
    assert message.startswith("inputs[1][3] is 1e+306: the model cannot evaluate inputs[1]")
    assert "ValueError: Input contains infinity" in message
    assert "out of distribution" in message
    assert alone.json()["error"].startswith("inputs[0][3] is 1e+306")
    assert fine.status_code == 200
    warned = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 2
    assert "422: inputs[0][3] is 1e+306" in warned[0].getMessage()
    assert (
        not (tmp_path / "log.jsonl").exists()
        or b"1e+306" not in (tmp_path / "log.jsonl").read_bytes()
    )


def test_a_model_failure_on_an_accepted_input_is_a_logged_500(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.INFO, logger="amlas.server"),
        _client(_Broken(), tmp_path / "log.jsonl") as client,
    ):
        response = client.post("/check", json={"inputs": GOOD[:1].tolist(), "metadata": META[:1]})
    assert response.status_code == 500
    assert response.json() == {"error": "internal error (RuntimeError); the service logged it"}
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "POST /check: 500: RuntimeError: the model file is corrupt" in record.getMessage()
    assert record.exc_info is not None


def test_every_refusal_is_logged(
    served: tuple[TestClient, Path], caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = served
    with caplog.at_level(logging.INFO, logger="amlas.server"):
        client.post("/check", json={"inputs": [ROW], "metadata": [{"size": 1}]})
        client.post("/check", json={"inputs": "abc"})
    messages = [r.getMessage() for r in caplog.records if r.name == "amlas.server"]
    assert messages == [
        "POST /check: 422: metadata[0] has the unknown key 'size'; expected the ODD columns of "
        "[B]: size_mm, lighting (did you mean 'size_mm'?)",
        "POST /check: 422: inputs: Input should be a valid list",
    ]
