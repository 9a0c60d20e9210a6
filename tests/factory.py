"""A small, complete and error-free AMLAS project that tests copy and break on purpose.

``write_project(root, changes)`` writes it; each artefact is a plain dict, so a test can
mutate exactly one value and assert the one diagnostic that must follow.
"""

from __future__ import annotations

import copy
import csv
import hashlib
from pathlib import Path
from typing import Any

import yaml

from amlas.evidence import canonical_hash
from amlas.project import ARTEFACTS
from amlas.project.artefacts import Hazard

MANIFEST: dict[str, Any] = {"amlas": 1, "name": "mini", "component": "Widget classifier"}


def _rows(seed: int, n: int) -> list[list[Any]]:
    rows = []
    for i in range(n):
        k = seed * 1000 + i
        label = "positive" if k % 3 == 0 else "negative"
        size = 1.0 + (k * 7919 % 980) / 10.0
        lighting = "day" if k % 2 else "night"
        rows.append([f"S{seed}-{i:04d}", label, f"{size:.1f}", lighting])
    return rows


def _csv_bytes(seed: int, n: int = 60) -> bytes:
    lines = ["sample_id,label,size_mm,lighting"]
    lines += [",".join(map(str, row)) for row in _rows(seed, n)]
    return ("\n".join(lines) + "\n").encode()


DATA = {"N": _csv_bytes(1), "O": _csv_bytes(2), "P": _csv_bytes(3)}
DATA_FILE = {"N": "data/dev.csv", "O": "data/test.csv", "P": "data/verif.csv"}
MODEL_BYTES = b"not a real model; the project checks only hash it\n"


def _item_sha(model: Any, data: dict[str, Any]) -> str:
    """The hash amlas pins for an item (``amlas review pin``)."""
    return canonical_hash(model.model_validate(data))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


BASE: dict[str, dict[str, Any]] = {
    "A": {
        "artefact": "A",
        "version": "1.0.0",
        "source": "Hazard log HL-7",
        "hazards": [
            {"id": "HAZ-1", "description": "Widget crushes a hand", "severity": "critical"}
        ],
        "requirements": [{"id": "SSR-1", "text": "Never close on a hand", "controls": ["HAZ-1"]}],
    },
    "B": {
        "artefact": "B",
        "version": "1.0.0",
        "description": "Factory floor",
        "dimensions": [
            {
                "id": "size",
                "name": "Object size",
                "kind": "numeric",
                "unit": "mm",
                "min": 0,
                "max": 100,
                "column": "size_mm",
                "bands": [
                    {"name": "small", "min": 0, "max": 50},
                    {"name": "large", "min": 50, "max": 100},
                ],
            },
            {
                "id": "lighting",
                "name": "Lighting",
                "kind": "categorical",
                "values": ["day", "night"],
                "column": "lighting",
            },
        ],
    },
    "C": {
        "artefact": "C",
        "version": "1.0.0",
        "system": "Widget press",
        "description": "A press that closes on widgets",
        "architecture": "Camera -> classifier -> press controller",
        "barriers": [
            {
                "id": "BAR-1",
                "name": "Force limiter",
                "kind": "limiter",
                "description": "Caps closing force",
                "mitigates": ["HAZ-1"],
                "failure_on_demand": 0.001,
            }
        ],
    },
    "D": {
        "artefact": "D",
        "version": "1.0.0",
        "name": "Widget classifier",
        "task": "binary_classification",
        "description": "Tells a widget from a hand",
        "classes": [
            {"name": "positive", "description": "a hand", "safety_related": True},
            {"name": "negative", "description": "a widget"},
        ],
        "inputs": {"kind": "tabular", "features": [{"name": "size_mm", "unit": "mm"}]},
        "outputs": {"kind": "class_probabilities"},
    },
    "E": {
        "artefact": "E",
        "version": "1.0.0",
        "requirements": [
            {
                "id": "ALR-1",
                "text": "Identify every hand before the press closes",
                "traces_to": ["SSR-1"],
                "hazard_contribution": "A missed hand lets the press close on it",
                "hazards": ["HAZ-1"],
            }
        ],
    },
    "H": {
        "artefact": "H",
        "version": "1.0.0",
        "development_rationale": "ALR-1 becomes a recall floor and a stability floor",
        "requirements": [
            {
                "id": "MLR-1",
                "text": "Recall on hands at least 0.99",
                "kind": "performance",
                "traces_to": ["ALR-1"],
                "metric": "recall",
                "class": "positive",
                "threshold": 0.99,
                "confidence": 0.95,
                "applies_to": {"per": ["size"], "where": {"lighting": ["day", "night"]}},
            },
            {
                "id": "MLR-2",
                "text": "Stable under measurement noise",
                "kind": "robustness",
                "traces_to": ["ALR-1"],
                "metric": "prediction_stability",
                "threshold": 0.95,
                "confidence": 0.95,
                "perturbation": {
                    "kind": "measurement_noise",
                    "magnitude": 0.02,
                    "unit": "relative",
                    "features": ["size_mm"],
                },
            },
        ],
    },
    "J": {
        "artefact": "J",
        "version": "1.0.0",
        "approach_rationale": "Expert review",
        "records": [
            {
                "id": "VAL-1",
                "requirements": ["MLR-1", "MLR-2"],
                "method": "review",
                "date": "2026-01-05",
                "participants": [{"name": "R. Expert", "role": "safety engineer"}],
                "outcome": "accepted",
                "summary": "Both preserve the intent of ALR-1",
            }
        ],
    },
    "L": {
        "artefact": "L",
        "version": "1.0.0",
        "requirements": [
            {
                "id": "DR-1",
                "category": "relevance",
                "text": "Samples inside the ODD",
                "traces_to": ["MLR-1", "MLR-2"],
                "rule": {"check": "within_odd"},
            },
            {
                "id": "DR-2",
                "category": "completeness",
                "text": "Each size band has 10 hands",
                "traces_to": ["MLR-1"],
                "rule": {
                    "check": "min_samples_per_cell",
                    "dimensions": ["size"],
                    "min_samples": 10,
                    "class": "positive",
                },
            },
            {
                "id": "DR-3",
                "category": "accuracy",
                "text": "Labels are right",
                "traces_to": ["MLR-1"],
            },
            {
                "id": "DR-4",
                "category": "balance",
                "text": "Enough hands",
                "traces_to": ["MLR-1"],
                "rule": {
                    "check": "class_balance",
                    "class": "positive",
                    "min_fraction": 0.2,
                    "max_fraction": 0.5,
                },
            },
        ],
    },
    "M": {
        "artefact": "M",
        "version": "1.0.0",
        "summary": "Sufficient",
        "category_rationale": "All four categories are covered",
        "author": "D. Data",
        "date": "2026-01-06",
        "arguments": [
            {
                "requirements": ["MLR-1", "MLR-2"],
                "data_requirements": ["DR-1", "DR-2", "DR-3", "DR-4"],
                "rationale": "Covers the ODD",
            }
        ],
    },
    "Q": {
        "artefact": "Q",
        "version": "1.0.0",
        "sources": [{"name": "Line 3", "description": "Camera", "rationale": "Target line"}],
        "entries": [
            {
                "date": "2026-01-02",
                "sub_process": "splitting",
                "decision": "Split by seed",
                "rationale": "Independence",
                "datasets": ["N", "O", "P"],
            }
        ],
    },
    "U": {
        "artefact": "U",
        "version": "1.0.0",
        "model_type": {"choice": "logistic regression", "rationale": "simple"},
        "toolchain": [{"name": "scikit-learn", "version": "1.9"}],
        "data_used": ["N"],
        "hyperparameters": [{"name": "C", "value": 1.0, "rationale": "CV", "chosen_on": "N"}],
        "thresholds": [{"name": "t", "value": 0.3, "rationale": "recall", "chosen_on": "N"}],
        "candidates": [{"id": "CAND-1", "description": "LR"}],
        "selection": {"candidate": "CAND-1", "rationale": "best", "chosen_on": "O"},
    },
    "V": {
        "artefact": "V",
        "version": "1.0.0",
        "name": "widget-lr",
        "location": "model/model.bin",
        "format": "skops",
        "sha256": _sha(MODEL_BYTES),
        "framework": {"name": "scikit-learn", "version": "1.9"},
        "trained_on": ["N"],
        "candidate": "CAND-1",
        "class_order": ["negative", "positive"],
    },
    "AA": {
        "artefact": "AA",
        "version": "1.0.0",
        "strategy": "Test on sealed data",
        "verifiers": [
            {"name": "V. Erifier", "role": "verifier", "organisation": "QA", "independent": True}
        ],
        "platform": "The production controller board",
        "data_access": "Sealed",
        "activities": [
            {
                "id": "VER-1",
                "requirements": ["MLR-1", "MLR-2"],
                "method": "test",
                "description": "Run on [P]",
            }
        ],
    },
    "DD": {
        "artefact": "DD",
        "version": "1.0.0",
        "sufficiency_rationale": "From an FMEA of the camera path",
        "behaviours": [
            {
                "id": "EB-1",
                "kind": "erroneous_input",
                "description": "Object outside size range",
                "source": "odd_limit",
                "monitoring": "Range check",
                "response": "Stop the press",
            }
        ],
    },
    "EE": {
        "artefact": "EE",
        "version": "1.0.0",
        "sufficiency_rationale": "Covers shifts",
        "scenarios": [
            {
                "id": "SC-1",
                "name": "Day shift",
                "description": "Normal work",
                "requirements": ["SSR-1"],
                "conditions": {"lighting": "day"},
            }
        ],
    },
}
BASE["RV"] = {
    "artefact": "RV",
    "version": "1.0.0",
    "reviews": [
        {
            "id": "RV-1",
            "title": "Walkthrough of the hazard",
            "date": "2026-01-06",
            "method": "walkthrough",
            "reviewers": [
                {"name": "R. Expert", "role": "safety engineer", "independence": "same_team"}
            ],
            # an item every project built from the factory keeps, pinned as amlas pins it
            "items": [{"item": "HAZ-1", "sha256": _item_sha(Hazard, BASE["A"]["hazards"][0])}],
            "summary": "The hazard was walked through with the line engineers",
            "findings": [
                {
                    "id": "F1",
                    "text": "Severity rests on one incident report",
                    "severity": "minor",
                    "disposition": "accepted",
                    "resolution": "Two more reports are requested from the plant",
                }
            ],
            "decision": "accepted",
        }
    ],
}
for _letter in ("N", "O", "P"):
    BASE[_letter] = {
        "artefact": _letter,
        "version": "1.0.0",
        "description": f"Dataset {_letter}",
        "location": DATA_FILE[_letter],
        "format": "csv",
        "sha256": _sha(DATA[_letter]),
        "label_column": "label",
        "id_column": "sample_id",
        "source": "Line 3 camera",
    }


def documents() -> dict[str, dict[str, Any]]:
    """A deep copy of every artefact, by letter, plus the manifest under 'manifest'."""
    docs = copy.deepcopy(BASE)
    docs["manifest"] = copy.deepcopy(MANIFEST)
    return docs


def dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_project(root: Path, docs: dict[str, Any] | None = None) -> Path:
    """Write the project (``docs`` from :func:`documents`, possibly changed) to ``root``."""
    docs = documents() if docs is None else docs
    root.mkdir(parents=True, exist_ok=True)
    for key, data in docs.items():
        relative = "amlas.yaml" if key == "manifest" else ARTEFACTS[key].default_path
        if data is None:
            continue
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data if isinstance(data, str) else dump(data), encoding="utf-8")
    for letter, relative in DATA_FILE.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(DATA[letter])
    (root / "model").mkdir(exist_ok=True)
    (root / "model/model.bin").write_bytes(MODEL_BYTES)
    return root


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))
