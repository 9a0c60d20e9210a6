"""Datasets for the check tests: the small factory project's artefacts bound to tables
built in memory, so each test controls every label, prediction and ODD value. The fixtures
``mini`` and ``make_dataset`` (tests/conftest.py) wrap these functions."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from amlas.adapters import Table
from amlas.checks import Dataset, bind_dataset
from amlas.project import Project, load_project
from factory import write_project

MakeDataset = Callable[..., Dataset]


def load_mini(folder: Path) -> Project:
    return load_project(write_project(folder / "mini")).project


def dataset_maker(mini: Project) -> MakeDataset:
    """``make(labels, sizes, lighting, ids=None, letter="O")`` -> Dataset."""

    def make(
        labels: list[str],
        sizes: list[float],
        lighting: list[str],
        *,
        ids: list[str] | None = None,
        letter: str = "O",
        extra: dict[str, np.ndarray] | None = None,
    ) -> Dataset:
        n = len(labels)
        columns = {
            "sample_id": np.array(ids or [f"{letter}-{i}" for i in range(n)], dtype=np.str_),
            "label": np.array(labels, dtype=np.str_),
            "size_mm": np.array(sizes, dtype=np.float64),
            "lighting": np.array(lighting, dtype=np.str_),
            **(extra or {}),
        }
        table = Table(columns, sha256="0" * 64, source=f"{letter}.csv")
        return bind_dataset(mini, letter, table)

    return make
