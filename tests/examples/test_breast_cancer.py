"""The bundled example: checks clean, and its committed data is exactly what its seeded
build produces from the data bundled with scikit-learn."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from amlas import check_project
from amlas.hashing import sha256_file
from amlas.project import build_trace
from amlas.project.artefacts import DatasetDocument
from conftest import EXAMPLE


def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bct_build", EXAMPLE / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_has_no_errors_and_no_warnings() -> None:
    result = check_project(EXAMPLE)
    serious = [d.format() for d in result.diagnostics if d.severity.value != "info"]
    assert serious == []
    assert len(result.project.artefacts) == 19  # [A]..[EE] and the review records [RV]


def test_example_traces_without_gaps() -> None:
    matrix = build_trace(check_project(EXAMPLE).project)
    assert matrix.gap_count == 0
    assert not matrix.missing
    kinds = {row.ml_kind for row in matrix.rows if row.ml}
    assert kinds == {"performance", "robustness", "other"}


def test_the_three_datasets_are_disjoint_and_complete() -> None:
    project = check_project(EXAMPLE).project
    ids: dict[str, set[str]] = {}
    for letter, dataset in project.datasets().items():
        assert isinstance(dataset, DatasetDocument)
        lines = (EXAMPLE / dataset.location).read_text().splitlines()
        header = lines[0].split(",")
        column = header.index(dataset.id_column or "")
        ids[letter] = {line.split(",")[column] for line in lines[1:]}
        assert dataset.samples == len(ids[letter])
    assert not ids["N"] & ids["O"]
    assert not ids["N"] & ids["P"]
    assert not ids["O"] & ids["P"]
    assert sum(len(v) for v in ids.values()) == 569


@pytest.mark.parametrize("letter", ["N", "O", "P"])
def test_committed_split_is_reproduced_by_the_seeded_build(letter: str, tmp_path: Path) -> None:
    build = _build_module()
    ids, features_x, labels, features = build.load()
    sets = build.split(labels)
    location, _ = build.DATASETS[letter]
    target = tmp_path / Path(location).name
    build.write_dataset(target, ids, features_x, labels, features, sets[letter])
    assert sha256_file(target) == sha256_file(EXAMPLE / location)
