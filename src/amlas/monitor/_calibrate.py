"""Calibrate the monitor on a project's data, and load it (with its model) for use.

:func:`calibrate` reads the ``monitor`` block of [DD], the ODD of [B] and the inputs of
[D]; fits the out-of-distribution score on the development data [N] and sets its
threshold on the internal test data [O] (:mod:`._ood`). Only samples inside the ODD take
part (the score describes the domain, not what lies outside it); how many were left out
is recorded. The calibration false-alarm rate on [O] is recorded with its exact
(Clopper-Pearson) one-sided upper bound at the configured confidence; it is in-sample (the
threshold was set on those scores), so it describes the calibration, not the future rate.

:func:`stale_reasons` compares the hashes a monitor was calibrated on with the project
as it is now; :func:`load_monitor` and :func:`load_monitored_model` refuse a stale
monitor, so a deployed service never runs a monitor fitted to other data or another ODD.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters import load_model
from amlas.checks import Dataset, clopper_pearson, inside_odd, load_dataset
from amlas.errors import ProblemError
from amlas.monitor._monitor import Calibration, Monitor, MonitoredModel, MonitorSettings
from amlas.monitor._odd import Dimension
from amlas.monitor._ood import CalibrationError, conformal_threshold, fit_mahalanobis
from amlas.project import Project, path_problem
from amlas.project.artefacts import ErroneousBehaviourLog
from amlas.project.artefacts.deployment import FieldLog, RuntimeMonitor

__all__ = [
    "calibrate",
    "field_log_path",
    "fit_monitor",
    "load_monitor",
    "load_monitored_model",
    "monitor_config",
    "monitor_path",
    "stale_reasons",
]

_HOW = "add a 'monitor:' block to [DD] (6-deployment/DD-erroneous-behaviour-log.yaml)"


def _canonical(value: Any) -> str:
    """SHA-256 of canonical JSON: the same hash evidence records cite for an artefact."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json", by_alias=True)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def monitor_config(project: Project) -> RuntimeMonitor:
    """The [DD] ``monitor`` block; :class:`UsageError` when there is none."""
    log = project.get("DD", ErroneousBehaviourLog)
    if log is None:
        raise ProblemError(
            f"the project has no erroneous behaviour log [DD]; {_HOW}", code="R050", path="[DD]"
        )
    if log.monitor is None:
        raise ProblemError(f"[DD] configures no runtime monitor; {_HOW}", code="R050", path="[DD]")
    return log.monitor


def _inside(project: Project, relative: str, what: str) -> Path:
    problem = path_problem(project.root, relative)
    if problem is not None:
        raise ProblemError(
            f"[DD] {what} {relative!r} {problem}", code="R050", path="[DD]", value=relative
        )
    return project.root / relative


def monitor_path(project: Project) -> Path:
    """Where the calibrated monitor of [DD] lives."""
    return _inside(project, monitor_config(project).file, "monitor file")


def field_log_path(project: Project) -> tuple[Path, FieldLog] | None:
    """The [DD] field log's path and settings, or None when [DD] names none."""
    log = project.get("DD", ErroneousBehaviourLog)
    if log is None or log.field_log is None:
        return None
    return _inside(project, log.field_log.path, "field log"), log.field_log


def _settings(config: RuntimeMonitor) -> MonitorSettings:
    return MonitorSettings(
        ood_method=config.ood_method,
        target_false_alarm_rate=config.target_false_alarm_rate,
        max_components=config.max_components,
        low_confidence_threshold=config.low_confidence_threshold,
        confidence=config.confidence,
    )


def _dataset(project: Project, letter: str) -> Dataset:
    document = project.datasets().get(letter)
    if document is None:
        raise ProblemError(
            f"the monitor is calibrated on [{letter}], which the project lacks",
            code="R052",
            path=f"[{letter}]",
        )
    if document.sealed is not None:
        raise ProblemError(
            f"[{letter}] is sealed; the monitor is calibrated on plaintext [N], [O]",
            code="R052",
            path=f"[{letter}]",
        )
    return load_dataset(project, letter)


def calibrate(project: Project, config: RuntimeMonitor | None = None) -> Monitor:
    """Fit on [N], calibrate on [O] (see the module doc) and return the monitor;
    ``config`` defaults to the [DD] ``monitor`` block. Nothing is written."""
    config = config or monitor_config(project)
    environment = project.environment
    component = project.component
    if environment is None or component is None:
        raise ProblemError(
            "calibrating the monitor needs the ODD [B] and the component [D]", code="R052"
        )
    settings = _settings(config)
    development, internal = _dataset(project, "N"), _dataset(project, "O")
    x_dev = np.asarray(development.inputs, dtype=np.float64)
    x_test = np.asarray(internal.inputs, dtype=np.float64)
    if tuple(x_test.shape[1:]) != tuple(x_dev.shape[1:]):
        raise CalibrationError(
            f"[N] inputs have shape {tuple(x_dev.shape[1:])} per sample and [O] "
            f"{tuple(x_test.shape[1:])}"
        )
    keep_dev = inside_odd(development.odd_codes, len(development))
    keep_test = inside_odd(internal.odd_codes, len(internal))
    value_range = component.inputs.value_range
    return fit_monitor(
        x_dev[keep_dev],
        x_test[keep_test],
        dimensions=environment.dimensions,
        settings=settings,
        input_kind=component.inputs.kind,
        features=development.features,
        value_range=(value_range[0], value_range[1]) if value_range else None,
        excluded=(int((~keep_dev).sum()), int((~keep_test).sum())),
        calibrated_on=current_hashes(project, development.sha256, internal.sha256),
    )


def fit_monitor(
    fit_inputs: NDArray[np.generic],
    calibration_inputs: NDArray[np.generic],
    *,
    dimensions: Sequence[Dimension],
    settings: MonitorSettings | None = None,
    input_kind: str = "other",
    features: Sequence[str] = (),
    value_range: tuple[float, float] | None = None,
    excluded: tuple[int, int] = (0, 0),
    calibrated_on: Mapping[str, str] | None = None,
) -> Monitor:
    """A monitor from arrays: the score fitted on ``fit_inputs`` (in-ODD development
    samples, shape ``(n, *shape)``), its threshold set on ``calibration_inputs`` (in-ODD
    samples not used to fit, same shape). ``excluded`` records how many samples of each
    were left out as outside the ODD. :func:`calibrate` calls this with [N] and [O]."""
    settings = settings or MonitorSettings()
    x_fit = np.asarray(fit_inputs, dtype=np.float64)
    x_cal = np.asarray(calibration_inputs, dtype=np.float64)
    shape = tuple(int(s) for s in x_fit.shape[1:])
    if tuple(x_cal.shape[1:]) != shape:
        raise CalibrationError(
            f"fit inputs have shape {shape} per sample and calibration inputs "
            f"{tuple(x_cal.shape[1:])}"
        )
    score = fit_mahalanobis(
        x_fit.reshape(len(x_fit), -1), max_components=settings.max_components
    ).rounded()
    flat = x_cal.reshape(len(x_cal), -1)
    if not np.isfinite(flat).all():
        raise CalibrationError("the calibration inputs hold NaN or infinite values")
    scores = score.score(flat)
    threshold, rank = conformal_threshold(scores, settings.target_false_alarm_rate)
    alarms = int((scores > threshold).sum())
    n = len(scores)
    bound = clopper_pearson(alarms, n, confidence=settings.confidence, sided="upper")
    calibration = Calibration(
        samples=n,
        excluded_outside_odd=excluded[1],
        rank=rank,
        false_alarms=alarms,
        rate=alarms / n,
        upper=bound.upper,
        confidence=settings.confidence,
        fit_samples=len(x_fit),
        excluded_fit=excluded[0],
    )
    return Monitor(
        settings=settings,
        input_kind=input_kind,
        input_shape=shape,
        features=tuple(features),
        value_range=value_range,
        dimensions=tuple(dimensions),
        score=score,
        threshold=threshold,
        calibration=calibration,
        calibrated_on=dict(calibrated_on or {}),
    )


def current_hashes(
    project: Project, n_hash: str | None = None, o_hash: str | None = None
) -> dict[str, str]:
    """The hashes a monitor calibrated on this project now would record."""
    out: dict[str, str] = {}
    for letter, known in (("N", n_hash), ("O", o_hash)):
        document = project.datasets().get(letter)
        if known is not None:
            out[f"dataset:{letter}"] = known
        elif document is not None and document.sealed is None:
            path = project.root / document.location
            if path.exists():
                out[f"dataset:{letter}"] = project.content_hash(path)
    out["environment"] = _canonical(project.environment)
    out["component"] = _canonical(project.component)
    return out


def stale_reasons(project: Project, monitor: Monitor) -> list[str]:
    """Why ``monitor`` no longer fits the project (empty when it does): a changed [N],
    [O], [B] or [D], or settings that differ from the [DD] ``monitor`` block."""
    now = current_hashes(project)
    names = {
        "dataset:N": "[N]",
        "dataset:O": "[O]",
        "environment": "[B]",
        "component": "[D]",
    }
    out = [
        f"{names.get(name, name)} changed since calibration"
        for name, recorded in sorted(monitor.calibrated_on.items())
        if now.get(name) != recorded
    ]
    config = monitor_config(project)
    wanted = _settings(config)
    for name in ("ood_method", "target_false_alarm_rate", "max_components"):
        if getattr(wanted, name) != getattr(monitor.settings, name):
            out.append(
                f"[DD] monitor {name} is {getattr(wanted, name)!r}, the monitor file was "
                f"calibrated with {getattr(monitor.settings, name)!r}"
            )
    return out


def load_monitor(project: Project, *, allow_stale: bool = False) -> Monitor:
    """The calibrated monitor of [DD]; :class:`UsageError` when it is stale (unless
    ``allow_stale``). Low-confidence settings come from [DD] as it is now."""
    path = monitor_path(project)
    monitor = Monitor.load(path)
    problems = stale_reasons(project, monitor)
    if problems and not allow_stale:
        raise ProblemError(
            f"{path}: the monitor is stale ({'; '.join(problems)}); recalibrate with "
            f"'amlas monitor calibrate {project.root}'",
            code="R050",
        )
    config = monitor_config(project)
    settings = monitor.settings.model_copy(
        update={
            "low_confidence_threshold": config.low_confidence_threshold,
            "confidence": config.confidence,
        }
    )
    return dataclasses.replace(monitor, settings=settings)


def load_monitored_model(project: Project, *, allow_stale: bool = False) -> MonitoredModel:
    """The model of [V] with the calibrated monitor of [DD], decided as ``amlas run``
    decides: a binary classifier with a [V] ``decision_threshold`` decides its positive
    class (the single safety-related class of [D], else the second class) at that
    threshold."""
    from amlas.project.artefacts import ModelReference

    monitor = load_monitor(project, allow_stale=allow_stale)
    ref = project.get("V", ModelReference)
    if ref is None or ref.format is None:
        raise ProblemError(
            "the runtime monitor needs the model itself ([V] 'location' and 'format')",
            code="R020",
            path="[V]",
        )
    path = project.root / ref.location if ref.location else None
    model = load_model(
        path,
        ref.format,
        callable=ref.callable,
        class_order=ref.class_order,
        search_path=project.root,
        outputs=ref.outputs,
        timeout_s=ref.timeout_s,
    )
    classes = list(model.classes)
    component = project.component
    declared = component.class_names() if component else []
    if declared and set(classes) != set(declared):
        raise ProblemError(
            f"the model's classes {classes} are not the classes of [D] {declared}; set "
            "'class_order' in [V]",
            code="M010",
            path="[V]",
            value=classes,
        )
    positive = None
    if len(classes) == 2:
        related = [c.name for c in component.classes if c.safety_related] if component else []
        positive = related[0] if len(related) == 1 and related[0] in classes else classes[1]
    sha = project.content_hash(path) if path is not None and path.exists() else None
    return MonitoredModel(
        model,
        monitor,
        positive=positive,
        threshold=ref.decision_threshold if positive is not None else None,
        model_sha256=sha,
    )
