"""The mini project of ``tests/factory.py`` made runnable: its [V] switched to a
``python_callable`` lookup model (``mini_model.py`` in the project root).

The factory's labels are not a function of ``size_mm``, so the model recognises which
dataset it is called on (every call gets a whole dataset, in file order, possibly
perturbed) and answers each sample's recorded label. Deliberate mistakes and failures come
from two environment variables read at prediction time: ``MINI_MODEL_MISS`` (sample ids
answered wrongly) and ``MINI_MODEL_RAISE`` (dataset letters on which the model raises).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from factory import DATA, documents, write_project

MODEL_SOURCE = '''"""A lookup model for the mini project (written by tests/evidence/test_run.py)."""

import os

import numpy as np

TABLES = {tables!r}


def _dataset(x):
    """The dataset whose sizes, in order, are closest to the batch (perturbed or not)."""
    best, letter = None, None
    for name, rows in TABLES.items():
        if len(rows) == len(x):
            gap = float(np.mean(np.abs(x[:, 0] - np.array([r[2] for r in rows]))))
            if best is None or gap < best:
                best, letter = gap, name
    if letter is None:
        raise ValueError("the lookup model answers whole datasets only")
    return letter


class Lookup:
    classes = ("negative", "positive")
    has_proba = True

    def predict_proba(self, x):
        x = np.asarray(x, dtype=np.float64)
        letter = _dataset(x)
        if letter in os.environ.get("MINI_MODEL_RAISE", "").split(","):
            raise RuntimeError("deliberate failure on [" + letter + "]")
        misses = set(os.environ.get("MINI_MODEL_MISS", "").split(","))
        p = np.array([float(r[1] == "positive") for r in TABLES[letter]])
        wrong = np.array([r[0] in misses for r in TABLES[letter]])
        p[wrong] = 1.0 - p[wrong]
        return np.stack([1.0 - p, p], axis=1)

    def predict(self, x):
        return np.asarray(self.classes)[np.argmax(self.predict_proba(x), axis=1)]


def load():
    return Lookup()
'''


def rows(letter: str) -> list[tuple[str, str, float]]:
    """(sample id, label, size) of every sample of a factory dataset, in file order."""
    table = list(csv.reader(io.StringIO(DATA[letter].decode())))[1:]
    return [(r[0], r[1], float(r[2])) for r in table]


def runnable(root: Path, docs: dict[str, Any] | None = None) -> Path:
    """The factory project with the lookup model as its [V]."""
    docs = documents() if docs is None else docs
    docs["V"]["format"] = "python_callable"
    docs["V"]["callable"] = "mini_model:load"
    write_project(root, docs)
    tables = {letter: rows(letter) for letter in DATA}
    (root / "mini_model.py").write_text(MODEL_SOURCE.format(tables=tables), encoding="utf-8")
    return root
