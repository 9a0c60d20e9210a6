"""`amlas check` reports every error it can find in one pass (issue 15): a malformed
element of a list does not hide the problems of the other elements until it is fixed,
and nothing it reports rests on the element it had to leave out."""

from __future__ import annotations

from pathlib import Path

from amlas import check_project
from factory import documents, write_project


def test_one_bad_requirement_does_not_hide_the_others(tmp_path: Path) -> None:
    docs = documents()
    docs["H"]["requirements"][0]["metric"] = "recal"  # MLR-1: a schema error
    docs["H"]["requirements"][1]["threshold"] = 1.5  # MLR-2: a rule error (Q001)
    root = write_project(tmp_path / "p", docs)
    result = check_project(root)
    codes = {d.code for d in result.diagnostics}
    assert "S004" in codes or "S003" in codes
    (q001,) = [d for d in result.diagnostics if d.code == "Q001"]
    lines = (root / "2-requirements/H-ml-safety-requirements.yaml").read_text().splitlines()
    assert "threshold: 1.5" in lines[q001.location.line - 1]  # MLR-2's own line, not MLR-1's
    # [H] still counts as not loaded: the case and the run never see a part of it
    assert "H" not in result.project.artefacts
    # nothing rests on the left-out MLR-1: the references to it are not 'unknown'
    assert not [d for d in result.diagnostics if d.code == "X002" and "MLR-1" in d.message]


def test_fixing_the_first_error_reveals_no_second_wave(tmp_path: Path) -> None:
    docs = documents()
    docs["H"]["requirements"][0]["metric"] = "recal"
    docs["H"]["requirements"][1]["threshold"] = 1.5
    first = {d.code for d in check_project(write_project(tmp_path / "a", docs)).diagnostics}
    docs["H"]["requirements"][0]["metric"] = "recall"
    second = {d.code for d in check_project(write_project(tmp_path / "b", docs)).diagnostics}
    assert second <= first, second - first


def test_nothing_reported_rests_on_a_left_out_element(tmp_path: Path) -> None:
    """Review finding: MLR-2 refining a malformed MLR-1, and SSR-1 controlling a malformed
    HAZ-1, were reported as naming unknown IDs."""
    docs = documents()
    docs["H"]["requirements"][0]["threshold"] = "high"
    docs["H"]["requirements"][1]["refines"] = "MLR-1"
    docs["A"]["hazards"][0]["severity"] = "dreadful"
    result = check_project(write_project(tmp_path / "p", docs))
    unknown = [d.format() for d in result.diagnostics if d.code in ("X002", "X003")]
    assert unknown == []
    assert "H" in result.project.partial  # [A] without its only hazard loads not at all
