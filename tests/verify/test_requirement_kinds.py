"""Issue 15 end to end, through ``plan`` and ``execute``: robustness across the operating
domain (``across``), preconditions over data columns, and a project-wide default
confidence, on the runnable mini project (a lookup model that answers every sample's
label, except the ids in ``MINI_MODEL_MISS``) and on the detector project of
``test_detection_project.py``.

In the mini project's [O], 20 samples are hands: 10 by day, 10 by night; a band of 10
hands, all found, shows recall >= 0.5 at 95% even after Holm's correction over two bands.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from amlas import Severity, check_project
from amlas.errors import ProblemError
from amlas.evidence import canonical_hash
from amlas.verify import RunReport, analyse_impact, execute, plan
from factory import DATA, documents
from runnable import runnable

pytestmark = pytest.mark.usefixtures("fresh_model")

H_FILE = "2-requirements/H-ml-safety-requirements.yaml"
ACROSS = {
    "id": "MLR-2",
    "text": "Hands are found in every lighting, as well by night as by day",
    "kind": "robustness",
    "traces_to": ["ALR-1"],
    "metric": "recall",
    "class": "positive",
    "threshold": 0.5,
    "confidence": 0.95,
    "across": ["lighting"],
}


def _o_rows() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(DATA["O"].decode())))


def night_hands() -> list[str]:
    return [
        r["sample_id"] for r in _o_rows() if r["label"] == "positive" and r["lighting"] == "night"
    ]


def _project(tmp_path: Path, change: Any = None) -> Path:
    docs = documents()
    docs["H"]["requirements"][1] = dict(ACROSS)
    if change is not None:
        change(docs)
    root = runnable(tmp_path / "mini", docs)
    loaded = check_project(root)
    errors = [d.format() for d in loaded.diagnostics.items if d.severity is Severity.ERROR]
    assert not errors, errors
    return root


def _run(root: Path, **kw: Any) -> dict[str, Any]:
    project = check_project(root).project
    work = plan(project, stages=(4,), **kw)
    report: RunReport = execute(work)
    return {record.key: record for _, record in report.records}


# -- robustness across the operating domain --------------------------------------------------


def test_across_judges_every_band_and_names_the_worst(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path)
    record = _run(root)["stage4/MLR-2/O"]
    assert record.check == "robustness.recall"
    assert record.verdict == "pass"
    assert [(r["slice"], r["samples"], r["verdict"]) for r in record.results] == [
        ("lighting=day", 10, "pass"),
        ("lighting=night", 10, "pass"),
    ]
    assert record.resolved["family"] == "Holm"
    assert record.resolved["across"]["dimensions"] == ["lighting"]
    assert record.resolved["across"]["correction"] == "Holm"
    assert record.parameters["across"] == ["lighting"]

    monkeypatch.setenv("MINI_MODEL_MISS", ",".join(night_hands()))
    failed = _run(root)["stage4/MLR-2/O"]
    assert failed.verdict == "fail"
    worst = failed.resolved["across"]["worst_band"]
    assert worst["slice"] == "lighting=night"
    assert worst["cell"] == {"lighting": "night"}
    assert worst["verdict"] == "fail"
    assert worst["estimate"] == 0.0
    by_band = {r["slice"]: r for r in failed.results}
    assert by_band["lighting=day"]["verdict"] == "pass"  # one good band does not carry it
    assert sorted(by_band["lighting=night"]["failing_ids"]) == sorted(night_hands())


def test_a_band_a_precondition_empties_is_inconclusive(tmp_path: Path) -> None:
    def small_only(docs: dict[str, Any]) -> None:
        docs["H"]["requirements"][1].update(
            across=["size"], precondition=[{"column": "size_mm", "lt": 50.0}]
        )

    record = _run(_project(tmp_path, small_only))["stage4/MLR-2/O"]
    verdicts = {r["slice"]: r["verdict"] for r in record.results}
    assert verdicts == {"size=small": "pass", "size=large": "inconclusive"}
    assert record.verdict == "inconclusive"  # an empty band never passes in silence
    assert record.resolved["across"]["worst_band"]["slice"] == "size=large"
    assert record.resolved["across"]["worst_band"]["samples"] == 0


# -- preconditions ---------------------------------------------------------------------------


def test_a_precondition_is_applied_stated_and_hashed(tmp_path: Path) -> None:
    def by_day(docs: dict[str, Any]) -> None:
        docs["H"]["requirements"][0]["precondition"] = [{"column": "lighting", "eq": "day"}]

    root = _project(tmp_path, by_day)
    records = _run(root)
    record = records["stage4/MLR-1/O"]
    rows = _o_rows()
    day = [r for r in rows if r["lighting"] == "day"]
    assert record.resolved["precondition"] == {
        "terms": [{"column": "lighting", "eq": "day"}],
        "unit": "samples",
        "kept": len(day),
        "excluded": len(rows) - len(day),
        "missing": 0,
    }
    assert sum(r["samples"] for r in record.results) == sum(
        1 for r in day if r["label"] == "positive"
    )
    assert record.parameters["precondition"] == [{"column": "lighting", "eq": "day"}]
    # MLR-2 has none: its record says nothing of preconditions
    assert "precondition" not in records["stage4/MLR-2/O"].resolved

    # a changed precondition makes the record stale, and only that one
    path = root / H_FILE
    path.write_text(path.read_text("utf-8").replace("eq: day", "eq: night"), "utf-8")
    impact = analyse_impact(root)
    assert {s.key: s.inputs for s in impact.stale} == {
        "stage4/MLR-1/O": ("requirement:MLR-1 (changed)",)
    }


def test_a_comparison_the_data_cannot_take_stops_the_run_with_r097(tmp_path: Path) -> None:
    def numeric_on_text(docs: dict[str, Any]) -> None:
        docs["H"]["requirements"][0]["precondition"] = [{"column": "lighting", "lt": 4.0}]

    root = _project(tmp_path, numeric_on_text)
    with pytest.raises(ProblemError) as caught:
        _run(root)
    assert caught.value.diagnostic.code == "R097"
    assert "MLR-1" in caught.value.diagnostic.message


# -- the project's default confidence ----------------------------------------------------------


def test_the_default_confidence_is_applied_said_and_makes_only_its_records_stale(
    tmp_path: Path,
) -> None:
    def defaulted(docs: dict[str, Any]) -> None:
        del docs["H"]["requirements"][0]["confidence"]
        docs["manifest"]["defaults"] = {"confidence": 0.9}

    root = _project(tmp_path, defaulted)
    project = check_project(root).project
    planned = {c.key: c for c in plan(project, stages=(4,)).checks}
    assert "defaults:confidence" in planned["stage4/MLR-1/O"].inputs
    assert "defaults:confidence" not in planned["stage4/MLR-2/O"].inputs

    records = _run(root)
    mlr1, mlr2 = records["stage4/MLR-1/O"], records["stage4/MLR-2/O"]
    assert mlr1.resolved["confidence"] == 0.9
    assert "default" in mlr1.resolved["confidence_source"]
    assert mlr1.inputs["defaults:confidence"] == canonical_hash(0.9)
    assert "confidence" not in mlr1.parameters  # what [H] says, not what was filled in
    # a requirement with a level of its own neither says nor cites the default
    assert mlr2.resolved["confidence"] == 0.95
    assert "confidence_source" not in mlr2.resolved
    assert "defaults:confidence" not in mlr2.inputs
    assert analyse_impact(root).stale == []

    manifest = root / "amlas.yaml"
    manifest.write_text(manifest.read_text("utf-8").replace("0.9", "0.8"), "utf-8")
    impact = analyse_impact(root)
    assert {s.key: s.inputs for s in impact.stale} == {
        "stage4/MLR-1/O": ("defaults:confidence (changed)",)
    }
    assert _run(root)["stage4/MLR-1/O"].resolved["confidence"] == 0.8


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_changed_default_since_a_revision_touches_only_its_checks(tmp_path: Path) -> None:
    def defaulted(docs: dict[str, Any]) -> None:
        del docs["H"]["requirements"][0]["confidence"]
        docs["manifest"]["defaults"] = {"confidence": 0.9}

    root = _project(tmp_path, defaulted)
    identity = ["-c", "user.name=Test", "-c", "user.email=t@example.invalid"]
    for args in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-q", "-m", "one"]):
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    manifest = root / "amlas.yaml"
    manifest.write_text(manifest.read_text("utf-8").replace("0.9", "0.8"), "utf-8")
    impact = analyse_impact(root, since="HEAD")
    assert impact.changed_inputs == ["defaults:confidence"]
    assert {c.key for c in impact.checks} == {"stage4/MLR-1/O", "stage5/MLR-1/P"}


def test_without_a_level_anywhere_the_check_says_q020(tmp_path: Path) -> None:
    docs = documents()
    del docs["H"]["requirements"][0]["confidence"]
    root = runnable(tmp_path / "mini", docs)
    found = [d for d in check_project(root).diagnostics.items if d.code == "Q020"]
    assert len(found) == 1
    assert found[0].location.path == H_FILE
    assert "MLR-1" in found[0].message
    docs["manifest"]["defaults"] = {"confidence": 0.95}
    root = runnable(tmp_path / "again", docs)
    assert not [d for d in check_project(root).diagnostics.items if d.code == "Q020"]
    # with another requirement malformed, the rules check the rest of [H] in the same pass:
    # the default still fills MLR-1
    docs["H"]["requirements"][1]["kind"] = "robustnes"
    root = runnable(tmp_path / "partly", docs)
    codes = {d.code for d in check_project(root).diagnostics.items}
    assert "S004" in codes
    assert "Q020" not in codes


# -- a detector: objects and images --------------------------------------------------------------


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    from test_detection_project import _project as detection_project

    root = tmp_path_factory.mktemp("detector") / "project"
    detection_project(root)
    path = root / H_FILE
    document = yaml.safe_load(path.read_text("utf-8"))
    by_id = {r["id"]: r for r in document["requirements"]}
    # objects closer than 30 (an attribute of the objects)
    by_id["MLR-1"]["precondition"] = [{"column": "size_mm", "lt": 30.0}]
    # images by night (a column of the images' table)
    by_id["MLR-2"]["precondition"] = [{"column": "lighting", "eq": "night"}]
    # an attribute of the objects cannot choose detections
    by_id["MLR-7"]["precondition"] = [{"column": "size_mm", "lt": 30.0}]
    path.write_text(yaml.safe_dump(document, sort_keys=False), "utf-8")
    loaded = check_project(root)
    errors = [d.format() for d in loaded.diagnostics.items if d.severity is Severity.ERROR]
    assert not errors, errors
    project = loaded.project
    work = plan(project, stages=(4,), only={"stage4/MLR-1/O", "stage4/MLR-2/O", "stage4/MLR-7/O"})
    report = execute(work)
    return root, {record.key: record for _, record in report.records}


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_a_detector_precondition_on_an_object_attribute_keeps_those_objects(
    detector: tuple[Path, dict[str, Any]],
) -> None:
    root, records = detector
    objects = _csv_rows(root / "data/O-objects.csv")
    record = records["stage4/MLR-1/O"]
    stated = record.resolved["precondition"]
    assert stated["unit"] == "ground-truth objects"
    assert stated["kept"] == sum(1 for o in objects if float(o["size_mm"]) < 30)
    assert stated["kept"] + stated["excluded"] == len(objects)
    counted = sum(
        1
        for o in objects
        if float(o["size_mm"]) < 30 and o["class"] == "pedestrian" and o["iscrowd"] == "0"
    )
    results = {r["slice"]: r for r in record.results}
    assert results["size=small"]["samples"] == counted
    assert results["size=large"]["samples"] == 0  # every object kept is small
    assert results["size=large"]["verdict"] == "inconclusive"


def test_a_detector_precondition_on_an_image_column_keeps_those_images(
    detector: tuple[Path, dict[str, Any]],
) -> None:
    root, records = detector
    images = _csv_rows(root / "data/test.csv")
    record = records["stage4/MLR-2/O"]
    night = sum(1 for i in images if i["lighting"] == "night")
    assert record.resolved["precondition"]["unit"] == "images"
    assert record.resolved["precondition"]["kept"] == night
    (only,) = record.results
    assert only["exposure"] == night


def test_an_object_attribute_cannot_choose_detections(
    detector: tuple[Path, dict[str, Any]],
) -> None:
    _, records = detector
    record = records["stage4/MLR-7/O"]
    assert record.verdict == "inconclusive"
    assert "cannot choose images" in record.resolved["precondition"]["not_applicable"]
    assert any("cannot choose images" in p for p in record.resolved["problems"])


def test_fault_campaigns_are_measured_on_the_samples_a_precondition_keeps(
    tmp_path: Path,
) -> None:
    pytest.importorskip("torch")
    from torch_project import default_requirements, image_project

    faults = next(r for r in default_requirements() if r["id"] == "MLR-4")
    faults["precondition"] = [{"column": "lighting", "eq": "day"}]
    # npz data: its columns show only in the run (no Q019 before it)
    root = image_project(tmp_path / "p", [faults])
    record = _run(root)["stage4/MLR-4/O"]
    day = sum(1 for r in _o_rows() if r["lighting"] == "day")
    assert record.resolved["samples_evaluated"] == day
    assert record.resolved["precondition"]["kept"] == day
