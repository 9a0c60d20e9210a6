"""Loaded artefacts survive a dump and reload unchanged, and so does their YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from amlas import check_project
from amlas.project import ARTEFACTS, load_project
from conftest import EXAMPLE
from factory import write_project


@pytest.mark.parametrize("root_name", ["mini", "example"])
def test_every_artefact_round_trips(root_name: str, tmp_path: Path) -> None:
    root = write_project(tmp_path / "mini") if root_name == "mini" else EXAMPLE
    project = load_project(root).project
    assert set(project.artefacts) == set(ARTEFACTS)
    for letter, document in project.artefacts.items():
        model = ARTEFACTS[letter].model
        dumped = document.model_dump(mode="json", by_alias=True, exclude_unset=True)
        again = model.model_validate(yaml.safe_load(yaml.safe_dump(dumped)))
        assert again == document, letter


def test_project_written_from_dumps_checks_the_same(tmp_path: Path) -> None:
    source = write_project(tmp_path / "a")
    project = load_project(source).project
    copy = write_project(tmp_path / "b")
    for letter, document in project.artefacts.items():
        dumped = document.model_dump(mode="json", by_alias=True, exclude_unset=True)
        (copy / ARTEFACTS[letter].default_path).write_text(yaml.safe_dump(dumped))
    first, second = check_project(source), check_project(copy)
    assert [d.code for d in first.diagnostics] == [d.code for d in second.diagnostics] == []


def test_check_reads_numeric_labels_and_ids_as_the_run_does(tmp_path: Path) -> None:
    """Review finding: check compared raw CSV text ('1.0') where run's reader gives '1',
    so a project with integer-coded classes failed D021 in check and passed in run."""
    from amlas.project._content import as_table_text

    assert as_table_text(["1.0", "0.0", "", "1"]) == ["1", "0", "", "1"]
    assert as_table_text(["007", "0.5"]) == ["7", "0.5"]
    assert as_table_text(["a", "1.0"]) == ["a", "1.0"]  # a text column stays as written
