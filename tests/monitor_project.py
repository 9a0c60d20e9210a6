"""The mini project of ``tests/factory.py`` with a runtime monitor configured in [DD], an
acceptable failure rate in [A], and a per-sample model (``simple_model.py``):
p(positive) = 1 / (1 + exp(-(size_mm - 50) / 5)).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from factory import documents, write_project

MODEL_SOURCE = '''"""A per-sample logistic model of size_mm (tests/monitor_project.py)."""

import numpy as np


class Logistic:
    classes = ("negative", "positive")
    has_proba = True

    def predict_proba(self, x):
        p = 1.0 / (1.0 + np.exp(-(np.asarray(x, dtype=float)[:, 0] - 50.0) / 5.0))
        return np.stack([1.0 - p, p], axis=1)

    def predict(self, x):
        return np.asarray(self.classes)[np.argmax(self.predict_proba(x), axis=1)]


def load():
    return Logistic()
'''

MONITOR = {
    "file": "6-deployment/monitor.json",
    "target_false_alarm_rate": 0.1,
    "low_confidence_threshold": 0.9,
    "min_detection_rate": 0.5,
    "behaviours": ["EB-1"],
}


def monitor_documents(**monitor: Any) -> dict[str, Any]:
    docs = documents()
    docs["A"]["requirements"][0]["acceptable_failure_rate"] = {"rate": 0.05, "per": "grasp"}
    docs["DD"]["monitor"] = {**MONITOR, **monitor}
    docs["DD"]["field_log"] = {"path": "6-deployment/field-log.jsonl"}
    docs["V"]["format"] = "python_callable"
    docs["V"]["callable"] = "simple_model:load"
    return docs


def monitor_project(root: Path, docs: dict[str, Any] | None = None) -> Path:
    write_project(root, docs or monitor_documents())
    (root / "simple_model.py").write_text(MODEL_SOURCE, encoding="utf-8")
    return root


def log_lines(*entries: dict[str, Any]) -> str:
    return "".join(json.dumps(e) + "\n" for e in entries)


def period(start: str, end: str, grasps: int) -> dict[str, Any]:
    return {"kind": "period", "start": start, "end": end, "demands": {"grasp": grasps}}


def incident(ident: str, time: str, requirement: str = "SSR-1") -> dict[str, Any]:
    return {
        "kind": "incident",
        "time": time,
        "id": ident,
        "description": "Closed on a hand",
        "requirement": requirement,
        "behaviour": "EB-1",
    }


def label(ident: str, truth: str, size: float, lighting: str = "day") -> dict[str, Any]:
    return {
        "kind": "label",
        "time": "2026-05-20T12:00:00Z",
        "id": ident,
        "truth": truth,
        "inputs": [size],
        "metadata": {"lighting": lighting},
    }
