"""Records and clock readings for the evidence tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from amlas.evidence import EvidenceRecord
from amlas.sealing import VerifierKey, public_key_of

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    """A fixed clock: ``minutes`` after T0."""
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


def declare_verifier_key(root: Path, key: VerifierKey) -> None:
    """Declare the verifier's public key in the project's amlas.yaml, as 'amlas seal' does;
    without it the safety case accepts no verification result (issue 12)."""
    manifest = root / "amlas.yaml"
    manifest.write_text(manifest.read_text("utf-8") + f"verifier_key: {public_key_of(key)}\n")
