"""The monitored model as a small HTTP service (FastAPI; the ``monitor`` extra).

``POST /check``
    Request ``{"inputs": [sample, ...], "metadata": [{column: value}, ...]}``: each sample
    a list of numbers of the model's input shape (30 features, or 16 x 16 x 3 nested
    lists for an image), ``metadata`` optional, one mapping per sample with the ODD values
    of [B] by column name. Response ``{"results": [...], "flagged": k, "logged": [ids]}``
    with, per sample, the ``decision``, the class ``probabilities`` and the monitor's
    verdict (``flagged``, ``flags``, ``outside_odd``, ``ood``, ``low_confidence``,
    ``ood_score``, ``ood_threshold``, ``confidence``, ``reasons``). Every flagged sample
    is appended to the [DD] field log (one JSON line each, see
    :mod:`amlas.monitor._fieldlog`) before the response is sent.
``GET /health``
    The classes, the input shape, and the SHA-256 of the model and of the monitor.

Malformed requests get a 4xx answer with a message that names the value and what was
expected, never a 500: 413 for a body above ``max_body_bytes`` (checked on the declared
length and on the bytes actually received) or more than ``max_samples`` samples; 422 for
JSON that does not parse, missing or unknown fields, wrong types or shapes, NaN or
infinite inputs, metadata that :func:`amlas.monitor.check_metadata` refuses (a key that is
no column of [B], a value of the wrong type, NaN), and a sample the model cannot evaluate
(it raises on it, alone) that the monitor flags as outside the ODD or out of distribution,
such as 1e306 where [N] held values of ordinary size. A 503 says that a flagged input could not be
logged (its verdict is then not returned, so no flagged answer goes unrecorded). A model
failure on an input the monitor accepts is a 500: a fault to investigate, not the client's.

Every 4xx answer is logged at INFO, a model refusal at WARNING, and every 5xx at ERROR
(with the traceback for a 500), on the logger ``amlas.server``.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from amlas.errors import MissingExtraError, UsageError
from amlas.monitor import (
    FlagEntry,
    MonitoredModel,
    MonitoredPrediction,
    MonitorInputError,
    append_field_log,
    check_metadata,
    field_log_path,
    load_monitored_model,
)
from amlas.project import check_project
from amlas.render import terminal_text

try:
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
except ImportError as _missing:  # pragma: no cover - exercised without the extra only
    raise MissingExtraError(
        "the monitor service needs FastAPI and uvicorn", "monitor"
    ) from _missing

__all__ = ["DEFAULT_MAX_BODY_BYTES", "DEFAULT_MAX_SAMPLES", "CheckRequest", "create_app"]

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_SAMPLES = 256

logger = logging.getLogger("amlas.server")


class CheckRequest(BaseModel):
    """The body of ``POST /check``."""

    model_config = ConfigDict(extra="forbid")

    inputs: list[Any] = Field(min_length=1, description="One entry per sample.")
    metadata: list[dict[str, Any]] | None = Field(
        None, description="One mapping of ODD column -> value per sample."
    )


class _TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds {limit} bytes; send fewer samples")


class _BodyLimit:
    """Refuse bodies above ``limit`` bytes: on Content-Length before reading, and on the
    bytes received for chunked bodies (raised inside ``receive``, which FastAPI passes
    on as the HTTP error it is)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _send_json(send, scope, 400, f"Content-Length {declared!r} is not a number")
                return
            if size > self.limit:
                await _send_json(send, scope, 413, _TooLarge(self.limit).detail)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _TooLarge(self.limit)
            return message

        await self.app(scope, limited, send)


async def _send_json(send: Send, scope: Scope, status: int, message: str) -> None:
    _log(scope.get("method", "?"), scope.get("path", "?"), status, message)
    body = JSONResponse({"error": message}, status_code=status).body
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _numbers(inputs: list[Any], shape: tuple[int, ...]) -> NDArray[np.float64]:
    """``inputs`` as floats of shape ``(n, *shape)``; :class:`MonitorInputError` naming
    the first value that is not a finite number, or the shape found."""
    expected = "(n, " + ", ".join(str(s) for s in shape) + ")"
    try:
        array = np.array(inputs, dtype=object)
    except ValueError:
        raise MonitorInputError(
            f"inputs are ragged (samples of different shapes); expected {expected}"
        ) from None
    if tuple(array.shape[1:]) != shape:
        if any(isinstance(v, list) for v in array.ravel()):
            raise MonitorInputError(
                f"inputs are ragged (samples of different shapes); expected {expected}"
            )
        raise MonitorInputError(f"inputs have shape {tuple(array.shape)}; expected {expected}")
    flat = array.ravel()
    numeric = np.fromiter(
        (type(v) is float or type(v) is int for v in flat), dtype=bool, count=len(flat)
    )
    if not numeric.all():
        index = int(np.flatnonzero(~numeric)[0])
        raise MonitorInputError(
            f"inputs{_where(index, array.shape)} is {_show(flat[index])}; expected a number"
        )
    try:
        values = flat.astype(np.float64)
    except OverflowError:  # a JSON integer beyond float64 (e.g. 400 digits)
        index = next(i for i, v in enumerate(flat) if type(v) is int and abs(v) > 2**1023)
        raise MonitorInputError(
            f"inputs{_where(index, array.shape)} is {_show(flat[index])}; expected a number "
            "within the float64 range"
        ) from None
    finite = np.isfinite(values)
    if not finite.all():
        index = int(np.flatnonzero(~finite)[0])
        raise MonitorInputError(
            f"inputs{_where(index, array.shape)} is {_show(flat[index])}; expected a finite number"
        )
    return values.reshape(array.shape)


def _where(index: int, shape: tuple[int, ...]) -> str:
    return "".join(f"[{int(i)}]" for i in np.unravel_index(index, shape))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Unevaluable(MonitorInputError):
    """A sample the model cannot evaluate and the monitor flags (a 422, logged as a warning)."""


def _predict(
    service: MonitoredModel, x: NDArray[np.float64], metadata: list[dict[str, Any]] | None
) -> list[MonitoredPrediction]:
    """``service.predict``, with a model failure traced to the sample that causes it.

    Raises:
        MonitorInputError: a sample the model fails on alone and the monitor flags as
            outside the ODD or out of distribution (naming its most extreme value).
        Exception: the model's own error when no such sample explains it (a 500).
    """
    try:
        return service.predict(x, metadata)
    except MonitorInputError:
        raise
    except Exception as failure:
        for i in range(len(x)):
            one = metadata[i : i + 1] if metadata else None
            try:
                service.predict(x[i : i + 1], one)
                continue
            except MonitorInputError:
                raise
            except Exception as exc:  # this sample alone makes the model fail
                refused = _refusal(service, x, i, one, exc)
            if refused is not None:
                raise refused from failure
            break
        raise


def _refusal(
    service: MonitoredModel,
    x: NDArray[np.float64],
    i: int,
    metadata: list[dict[str, Any]] | None,
    exc: Exception,
) -> _Unevaluable | None:
    """The 422 for sample ``i``, on which the model raised ``exc``, when the monitor flags
    it; None for a sample the monitor accepts (then the failure is the model's)."""
    monitor = service.monitor
    sample = x[i : i + 1]
    with np.errstate(all="ignore"):
        verdict = monitor.assess(sample.reshape(1, *monitor.input_shape), metadata)
        if not verdict.input_flagged[0]:
            return None
        flat = sample.reshape(-1)
        spread = np.abs(flat - monitor.score.mean) / monitor.score.scale
        worst = int(np.nanargmax(np.where(np.isfinite(spread), spread, np.inf)))
    where = _where(i * flat.size + worst, x.shape)
    why = f"{type(exc).__name__}: {exc}"
    why = why if len(why) <= 160 else why[:157] + "..."
    held = (
        f" (its [D] value range is [{monitor.value_range[0]:g}, {monitor.value_range[1]:g}])"
        if monitor.value_range is not None
        else ""
    )
    reasons = verdict.reasons[0]
    flagged = reasons[0] + (f"; and {len(reasons) - 1} more" if len(reasons) > 1 else "")
    return _Unevaluable(
        f"inputs{where} is {_show(float(flat[worst]))}: the model cannot evaluate inputs[{i}] "
        f"({why}), which the monitor flags ({flagged}); send values the model can take{held}"
    )


def _log(
    method: str,
    path: str,
    status: int,
    message: str,
    *,
    warn: bool = False,
    exc_info: BaseException | None = None,
) -> None:
    """Log an error answer: 5xx as errors, a model refusal as a warning, other 4xx as info."""
    level = logging.ERROR if status >= 500 else logging.WARNING if warn else logging.INFO
    shown = terminal_text(message)  # request text must not drive the operator's terminal
    logger.log(level, "%s %s: %d: %s", method, path, status, shown, exc_info=exc_info)


def _answer(request: Request, status: int, message: str, *, warn: bool = False) -> JSONResponse:
    """The JSON error answer, logged (:func:`_log`)."""
    _log(request.method, request.url.path, status, message, warn=warn)
    return JSONResponse({"error": message}, status_code=status)


def _finite(value: Any) -> Any:
    """JSON-safe: non-finite floats become None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def create_app(
    project: str | Path | None = None,
    *,
    monitored: MonitoredModel | None = None,
    field_log: str | Path | None = None,
    log_inputs: bool = True,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The service for the project at ``project`` (its [V] model, the calibrated monitor
    and the field log of [DD]), or for ``monitored`` with ``field_log`` (None: nothing is
    logged). ``clock`` stamps log entries (UTC now by default).

    Raises :class:`UsageError` when the project has errors or its monitor is stale.
    """
    if (project is None) == (monitored is None):
        raise UsageError("create_app needs a project directory or a monitored model (one)")
    if project is not None:
        loaded = check_project(project)
        if loaded.diagnostics.has_errors:
            raise UsageError(
                f"{project}: the project has errors ({loaded.diagnostics.summary()}); run "
                f"'amlas check {project}'"
            )
        monitored = load_monitored_model(loaded.project)
        configured = field_log_path(loaded.project)
        if configured is not None:
            field_log, log_inputs = configured[0], configured[1].log_inputs
    assert monitored is not None
    service = monitored
    log_file = Path(field_log) if field_log is not None else None
    now = clock or (lambda: datetime.now(UTC))
    monitor_sha = service.monitor.sha256
    shape = service.monitor.input_shape
    lock = threading.Lock()

    app = FastAPI(
        title="amlas monitor",
        description="The ML component with its runtime monitor (AMLAS stage 6).",
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(_BodyLimit, limit=max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            loc = [p for p in error.get("loc", ()) if p != "body"]
            if error.get("type") == "json_invalid":
                at = f" at character {loc[0]}" if loc else ""
                why = (error.get("ctx") or {}).get("error", "")
                problems.append(f"the body is not valid JSON{at}: {why}".rstrip(": "))
                continue
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
            where = where.lstrip(".") or "body"
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
        return _answer(request, 422, "; ".join(problems[:10]))

    @app.exception_handler(MonitorInputError)
    async def _bad_input(request: Request, exc: MonitorInputError) -> JSONResponse:
        return _answer(request, 422, str(exc), warn=isinstance(exc, _Unevaluable))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return _answer(request, exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _fault(request: Request, exc: Exception) -> JSONResponse:
        message = f"{type(exc).__name__}: {exc}"  # may quote the request: _log escapes it
        _log(request.method, request.url.path, 500, message, exc_info=exc)
        return JSONResponse(
            {"error": f"internal error ({type(exc).__name__}); the service logged it"},
            status_code=500,
        )

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "classes": list(service.classes),
            "input": {"kind": service.monitor.input_kind, "shape": list(shape)},
            "model": service.model_sha256,
            "monitor": monitor_sha,
            "target_false_alarm_rate": service.monitor.settings.target_false_alarm_rate,
            "field_log": log_file is not None,
        }

    @app.post("/check")
    def check(request: CheckRequest) -> JSONResponse:
        if len(request.inputs) > max_samples:
            raise HTTPException(
                413, f"{len(request.inputs)} samples in one request; send at most {max_samples}"
            )
        x = _numbers(request.inputs, shape)
        check_metadata(service.monitor.dimensions, request.metadata)
        predictions = _predict(service, x, request.metadata)
        results = [_finite(p.as_json()) for p in predictions]
        entries = []
        for i, prediction in enumerate(predictions):
            if not prediction.verdict.flagged:
                continue
            stamp = now()
            entry_id = f"F-{stamp.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}"
            results[i]["log_id"] = entry_id if log_file is not None else None
            entries.append(
                FlagEntry(
                    kind="flag",
                    time=stamp,
                    id=entry_id,
                    flags=list(prediction.verdict.flags),
                    decision=prediction.decision,
                    probabilities=_finite(prediction.probabilities),
                    confidence=_finite(prediction.verdict.confidence),
                    ood_score=prediction.verdict.ood_score,
                    reasons=list(prediction.verdict.reasons),
                    inputs=x[i].tolist() if log_inputs else None,
                    metadata=(
                        _finite(request.metadata[i]) if log_inputs and request.metadata else None
                    ),
                    model=service.model_sha256,
                    monitor=monitor_sha,
                )
            )
        logged: list[str] = []
        if log_file is not None and entries:
            try:
                with lock:
                    append_field_log(log_file, entries)
            except OSError as exc:
                raise HTTPException(
                    503, f"the field log {log_file} cannot be written ({exc.strerror or exc})"
                ) from None
            logged = [e.id for e in entries]
        return JSONResponse(
            {"results": results, "flagged": len(entries), "logged": logged}, status_code=200
        )

    return app
