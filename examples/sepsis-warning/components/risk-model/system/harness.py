"""Replay harness for the operational scenarios [EE] of the risk model (AMLAS Activity 16).

`amlas run --stage 6` calls :func:`run` once per scenario run; a run is one ward round or
one stretch of an emergency-department shift. It replays records through the integrated
function of [C]: the input monitor (CMP-2, loaded from its own component project and
hash-checked against its [V]), the risk model with the decision threshold of [V], the alert
service's "not scored" path and watchdog, and the nurse's NEWS2 review.

The records are drawn (with replacement, seeded by the run) from the internal test data
[O], restricted to the scenario's ODD conditions: [P] is sealed for the verifiers, and the
integration team replays what it may read. The unfamiliar records of SCN-5 come from the
input monitor's own [O]. What each system safety requirement means per run:

- SSR-1: every patient with sepsis is escalated: an alert, or a NEWS2 of 5 or more that
  the nurse acts on (the NEWS2 part of BR-1; the nurse's judgement beyond the score is not
  simulated, so the replay is pessimistic where NEWS2 misses);
- SSR-2: at most 25% of the run's records without sepsis raise an alert;
- SSR-3: no unfamiliar record is scored (the monitor rejects it);
- SSR-4: every record is scored or marked "not scored" within 5 minutes;
- SSR-5: a tampered model file is refused at start-up (its SHA-256 differs from [V]'s),
  and the records keep their NEWS2 pathway while the service is down.
"""

from __future__ import annotations

import hashlib
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import skops.io

from amlas import load_project
from amlas.checks import load_dataset
from amlas.project import sibling
from amlas.project.artefacts import ModelReference

MONITOR = "CMP-2"  # the input monitor's ID in [C]
WATCHDOG_S = 5 * 60  # SSR-4
ALERT_SHARE = 0.25  # SSR-2
NEWS2_ESCALATE = 5
SESSION = {"SCN-1": 12, "SCN-2": 16, "SCN-3": 12, "SCN-4": 12, "SCN-5": 12, "SCN-6": 12}
UNFAMILIAR_IN_SCN_5 = 3


def news2(x: np.ndarray, features: list[str]) -> np.ndarray:
    """NEWS2 aggregate score of each record (breathing air; GCS below 15 as confusion)."""
    col = {f: x[:, features.index(f)] for f in features}
    rr, sp, sb = col["resp_rate"], col["spo2"], col["systolic_bp"]
    hr, t = col["heart_rate"], col["temperature"]
    score = np.select([rr <= 8, rr <= 11, rr <= 20, rr <= 24], [3, 1, 0, 2], 3)
    score += np.select([sp <= 91, sp <= 93, sp <= 95], [3, 2, 1], 0)
    score += np.select([sb <= 90, sb <= 100, sb <= 110, sb <= 219], [3, 2, 1, 0], 3)
    score += np.select([hr <= 40, hr <= 50, hr <= 90, hr <= 110, hr <= 130], [3, 1, 0, 1, 2], 3)
    score += np.select([t <= 35.0, t <= 36.0, t <= 38.0, t <= 39.0], [3, 1, 0, 1], 2)
    return score + np.where(col["gcs"] < 15, 3, 0)


def _reference(project: Any) -> ModelReference:
    reference = project.get("V", ModelReference)
    if reference is None or reference.location is None:
        raise ValueError(f"{project.root}: no model file in [V]")
    return reference


@lru_cache(maxsize=4)
def _setup(root: str) -> tuple[Any, Any, Any, float, Any]:
    """The risk model's [O] and [V], and the input monitor: its model (refused unless its
    SHA-256 is the one in its [V]), its decision threshold and its [O]."""
    project = load_project(root).project
    monitor = sibling(project, MONITOR)
    if monitor is None:
        raise ValueError(f"no project for the input monitor {MONITOR} in the system")
    reference = _reference(monitor)
    path = Path(monitor.root) / str(reference.location)
    if hashlib.sha256(path.read_bytes()).hexdigest() != reference.sha256:
        raise ValueError(f"{path}: SHA-256 differs from the input monitor's [V]")
    model = skops.io.load(path, trusted=[])
    return (
        load_dataset(project, "O"),
        _reference(project),
        model,
        reference.decision_threshold or 0.5,
        load_dataset(monitor, "O"),
    )


def _draw(run: Any, dataset: Any, size: int) -> np.ndarray:
    """Indices of ``size`` records matching the scenario's conditions (with replacement)."""
    keep = np.ones(len(dataset), dtype=bool)
    for dimension, band in run.conditions.items():
        keep &= dataset.odd[dimension] == band
    pool = np.flatnonzero(keep)
    if len(pool) == 0:
        raise ValueError(f"no record of [O] matches {run.conditions}")
    if run.scenario.id == "SCN-2":  # an evening surge: half the arrivals are septic
        sepsis = pool[dataset.labels[pool] == "sepsis"]
        other = pool[dataset.labels[pool] != "sepsis"]
        half = size // 2
        return np.concatenate([run.rng.choice(sepsis, half), run.rng.choice(other, size - half)])
    return run.rng.choice(pool, size, replace=True)


def run(run: Any) -> dict[str, Any]:
    """One ward round or ED stretch of one scenario of [EE] (see the module doc)."""
    dataset, reference, monitor, monitor_threshold, monitor_data = _setup(str(run.root))
    wanted = set(run.scenario.requirements)
    held: dict[str, bool] = {}
    size = SESSION.get(run.scenario.id, 12)
    chosen = _draw(run, dataset, size)
    x = np.asarray(dataset.inputs, dtype=float)[chosen]
    sepsis = dataset.labels[chosen] == "sepsis"
    unfamiliar = np.zeros(size, dtype=bool)
    if run.scenario.id == "SCN-5":  # a ward's new lactate analyser reads far too high
        kinds = np.asarray(monitor_data.table.column("kind")).astype(str)
        pool = np.flatnonzero(kinds == "lactate_calibration")
        picked = run.rng.choice(pool, UNFAMILIAR_IN_SCN_5, replace=False)
        x[:UNFAMILIAR_IN_SCN_5] = np.asarray(monitor_data.inputs, dtype=float)[picked]
        truth = np.asarray(monitor_data.table.column("sepsis")).astype(str)[picked]
        sepsis[:UNFAMILIAR_IN_SCN_5] = truth == "yes"
        unfamiliar[:UNFAMILIAR_IN_SCN_5] = True
    score = news2(x, dataset.features)
    if run.scenario.id == "SCN-6":  # the service restarts with a tampered model file
        tampered = (run.root / str(reference.location)).read_bytes() + b"\x00"
        held["SSR-5"] = hashlib.sha256(tampered).hexdigest() != reference.sha256
        held["SSR-4"] = True  # refused at start-up: every record is marked "not scored"
        return {"requirements": {k: v for k, v in held.items() if k in wanted}}
    started = time.perf_counter()
    p_unfamiliar = monitor.predict_proba(x)[:, list(monitor.classes_).index("unfamiliar")]
    rejected = p_unfamiliar >= monitor_threshold
    p = run.model.predict_proba(x)[:, list(run.model.classes).index("sepsis")]
    seconds = time.perf_counter() - started
    alert = ~rejected & (p >= (reference.decision_threshold or 0.5))
    escalated = alert | (score >= NEWS2_ESCALATE)
    held["SSR-1"] = bool(np.all(escalated[sepsis]))
    without = ~sepsis & ~unfamiliar
    held["SSR-2"] = bool(without.sum() == 0 or alert[without].mean() <= ALERT_SHARE)
    held["SSR-3"] = bool(np.all(rejected[unfamiliar]))
    held["SSR-4"] = seconds < WATCHDOG_S
    late = int((sepsis & ~escalated).sum())
    note = (
        f"{int(sepsis.sum())} with sepsis, {late} not escalated; {int(rejected.sum())} not scored"
    )
    return {"requirements": {k: v for k, v in held.items() if k in wanted}, "notes": note}
