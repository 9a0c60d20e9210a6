"""Replay harness for the operational scenarios [EE] of the input monitor (AMLAS Activity 16).

`amlas run --stage 6` calls :func:`run` once per scenario run. It replays records of the
monitor's internal test data [O] (drawn with replacement, seeded by the run, in the
scenario's care setting) through the integrated function of [C]: the monitor with the
decision threshold of [V], then, for the records it lets through, the risk model (CMP-1,
loaded from its own component project and hash-checked against its [V]) with its
threshold, and the nurse's NEWS2 review. Each record of [O] keeps the true sepsis status
of its patient (column ``sepsis``) and what made it unfamiliar (column ``kind``).

- SSR-1: every patient with sepsis is escalated: an alert on a scored record, or a NEWS2
  of 5 or more that the nurse acts on (a rejected record relies on NEWS2 alone; the
  nurse's judgement beyond the score is not simulated);
- SSR-3: no unfamiliar record is scored;
- SSR-4: every record is scored or marked "not scored" within 5 minutes.
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

RISK_MODEL = "CMP-1"  # the risk model's ID in [C]
WATCHDOG_S = 5 * 60  # SSR-4
NEWS2_ESCALATE = 5
# scenario -> (records in the run, the kind of unfamiliar record, how many of them)
PLAN = {
    "SCN-M1": (16, "lactate_calibration", 4),
    "SCN-M2": (16, "sensor_fault", 4),
    "SCN-M3": (12, "obstetric", 1),
    "SCN-M4": (24, None, 0),
}


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
def _setup(root: str) -> tuple[Any, float, Any, float]:
    """The monitor's [O] and threshold, and the risk model (refused unless its SHA-256 is
    the one in its [V]) with its threshold."""
    project = load_project(root).project
    risk = sibling(project, RISK_MODEL)
    if risk is None:
        raise ValueError(f"no project for the risk model {RISK_MODEL} in the system")
    reference = _reference(risk)
    path = Path(risk.root) / str(reference.location)
    if hashlib.sha256(path.read_bytes()).hexdigest() != reference.sha256:
        raise ValueError(f"{path}: SHA-256 differs from the risk model's [V]")
    return (
        load_dataset(project, "O"),
        _reference(project).decision_threshold or 0.5,
        skops.io.load(path, trusted=[]),
        reference.decision_threshold or 0.5,
    )


def _draw(run: Any, dataset: Any) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the run's records (unfamiliar ones first) and which are unfamiliar."""
    size, kind, count = PLAN[run.scenario.id]
    keep = np.ones(len(dataset), dtype=bool)
    for dimension, band in run.conditions.items():
        keep &= dataset.odd[dimension] == band
    kinds = np.asarray(dataset.table.column("kind")).astype(str)
    familiar = np.flatnonzero(keep & (kinds == "in_population"))
    chosen = run.rng.choice(familiar, size - count, replace=True)
    if kind is not None:
        odd = np.flatnonzero(keep & (kinds == kind))
        if len(odd) == 0:
            raise ValueError(f"no {kind} record of [O] matches {run.conditions}")
        chosen = np.concatenate([run.rng.choice(odd, count, replace=True), chosen])
    return chosen, np.arange(size) < count


def run(run: Any) -> dict[str, Any]:
    """One run of one scenario of [EE] (see the module doc)."""
    dataset, threshold, risk, risk_threshold = _setup(str(run.root))
    wanted = set(run.scenario.requirements)
    chosen, unfamiliar = _draw(run, dataset)
    x = np.asarray(dataset.inputs, dtype=float)[chosen]
    sepsis = np.asarray(dataset.table.column("sepsis")).astype(str)[chosen] == "yes"
    started = time.perf_counter()
    p = run.model.predict_proba(x)[:, list(run.model.classes).index("unfamiliar")]
    rejected = p >= threshold
    p_sepsis = risk.predict_proba(x)[:, list(risk.classes_).index("sepsis")]
    seconds = time.perf_counter() - started
    alert = ~rejected & (p_sepsis >= risk_threshold)
    escalated = alert | (news2(x, dataset.features) >= NEWS2_ESCALATE)
    held = {
        "SSR-1": bool(np.all(escalated[sepsis])),
        "SSR-3": bool(np.all(rejected[unfamiliar])),
        "SSR-4": seconds < WATCHDOG_S,
    }
    note = (
        f"{int(rejected[unfamiliar].sum())} of {int(unfamiliar.sum())} unfamiliar rejected, "
        f"{int(rejected[~unfamiliar].sum())} familiar rejected; "
        f"{int((sepsis & ~escalated).sum())} of {int(sepsis.sum())} with sepsis not escalated"
    )
    return {"requirements": {k: v for k, v in held.items() if k in wanted}, "notes": note}
