"""Valid evidence records and a fixed clock, for tests of stores and pipelines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from amlas.evidence import EvidenceRecord

__all__ = ["T0", "at", "make_record"]

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
"""The fixed clock's origin."""


def at(minutes: int) -> datetime:
    """A fixed clock: ``minutes`` after :data:`T0`."""
    return T0 + timedelta(minutes=minutes)


def make_record(key: str = "stage5/metric/MLR-1", **changes: Any) -> EvidenceRecord:
    """A valid stage-5 verifier record for ``key``; ``changes`` override fields."""
    fields: dict[str, Any] = {
        "key": key,
        "check": "metric.recall",
        "stage": 5,
        "role": "verifier",
        "subject": key.rsplit("/", 1)[-1],
        "dataset": "P",
        "parameters": {"threshold": 0.95},
        "resolved": {"seed": 0},
        "inputs": {"dataset:P": "a" * 64, "model": "b" * 64},
        "results": [{"slice": "all", "value": 0.97}],
        "verdict": "pass",
        "summary": "recall 0.97 >= 0.95",
        "versions": {"amlas": "0.1.0"},
        "metadata": {"host": "ci-1"},
    }
    fields.update(changes)
    return EvidenceRecord(**fields)
