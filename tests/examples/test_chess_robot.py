"""The chess-robot-grasp example: checks clean, its committed data is what the seeded
scene generator renders (the images and text exactly, lux to the last bits of numpy's
exp), the three datasets share no asset and no seed, and `amlas run` gives evidence for
both stage-5 legs on it."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import yaml

from amlas import check_project
from amlas.case import build_case
from amlas.project import build_trace
from amlas.project.artefacts import DatasetDocument
from amlas.sealing import generate_key, public_key_of
from amlas.verify import run_project
from conftest import REPO
from overclaim import overclaims

CHESS = REPO / "examples" / "chess-robot-grasp"
SET_SEEDS = {"N": 1101, "O": 2202, "P": 3303}


def _scenes() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chess_scenes", CHESS / "scenes.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["chess_scenes"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _fresh_model_package() -> Iterator[None]:
    """The example's loader is ``model.net:load``: no other ``model`` may answer for it."""

    def forget() -> None:
        for top in ("model", "system", "scenes"):
            for name in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
                del sys.modules[name]

    forget()
    yield
    forget()


def _data(letter: str) -> dict[str, np.ndarray]:
    document = check_project(CHESS).project.datasets()[letter]
    with np.load(CHESS / document.location, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def test_example_has_no_errors_and_no_warnings() -> None:
    result = check_project(CHESS)
    serious = [d.format() for d in result.diagnostics if d.severity.value != "info"]
    assert serious == []
    assert len(result.project.artefacts) == 19  # [A]..[EE] and the review records [RV]


def test_example_traces_without_gaps() -> None:
    matrix = build_trace(check_project(CHESS).project)
    assert matrix.gap_count == 0
    kinds = {row.ml_kind for row in matrix.rows if row.ml}
    assert kinds == {"performance", "robustness", "other"}


def test_datasets_share_no_asset_no_seed_and_record_every_odd_parameter() -> None:
    project = check_project(CHESS).project
    assert project.environment is not None
    columns = {d.column for d in project.environment.dimensions}
    assets, seeds = {}, {}
    for letter in ("N", "O", "P"):
        document = project.datasets()[letter]
        assert isinstance(document, DatasetDocument)
        data = _data(letter)
        assert document.samples == len(data["label"]) == len(data["image"])
        assert columns <= set(data)
        assert data["image"].shape[1:] == (16, 16, 3)
        assert data["image"].dtype == np.uint8
        assets[letter] = set(data["asset"].tolist())
        seeds[letter] = set(data["seed"].tolist())
    for a, b in (("N", "O"), ("N", "P"), ("O", "P")):
        assert not assets[a] & assets[b], f"[{a}] and [{b}] share assets"
        assert not seeds[a] & seeds[b], f"[{a}] and [{b}] share generator seeds"


@pytest.mark.parametrize("letter", ["O", "P"])
def test_the_scene_generator_reproduces_the_committed_data(letter: str) -> None:
    scenes = _scenes()
    data = _data(letter)
    counts = {c: int(np.sum(data["label"] == c)) for c in scenes.CLASSES}
    by_set = scenes.assign_sets(scenes.catalogue())
    fresh = scenes.generate(letter, SET_SEEDS[letter], counts, by_set[letter])
    assert set(fresh) == set(data)
    for name, values in data.items():
        if values.dtype.kind == "f":
            # numpy's float64 exp takes a different SIMD path on CPUs with and without
            # AVX-512 and the two differ in the last bit: 65 of [O]'s 1,500 lux values on
            # an AMD EPYC without AVX-512 (2026-12-04) against the committed data.
            np.testing.assert_array_max_ulp(fresh[name], values, maxulp=2)
        else:
            np.testing.assert_array_equal(fresh[name], values, err_msg=name)


def _quick_copy(tmp_path: Path) -> Path:
    """The example with fewer formal queries and fault campaigns, so the suite stays fast."""
    root = tmp_path / "chess"
    shutil.copytree(CHESS, root, ignore=shutil.ignore_patterns("evidence", ".amlas"))
    path = root / "2-requirements" / "H-ml-safety-requirements.yaml"
    text = path.read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    for requirement in document["requirements"]:
        if "property" in requirement:
            requirement["property"]["samples"] = 12
        if "faults" in requirement:
            requirement["faults"]["campaigns"] = 30
            requirement["threshold"] = 0.8
        if requirement["id"] == "MLR-5":
            requirement["threshold"] = 0.5
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return root


@pytest.mark.slow
def test_run_and_case_give_evidence_for_both_stage5_legs(tmp_path: Path) -> None:
    root = _quick_copy(tmp_path)
    developer = run_project(str(root), stages=(4,))
    records = {r.key: r for _, r in developer.records}
    verdicts = {key: r.verdict for key, r in records.items()}
    assert "fail" not in verdicts.values(), verdicts
    expected = {f"stage4/MLR-{i}/O" for i in (1, 2, 3, 4, 6, 7)} | {"stage4/MLR-5/formal"}
    assert set(verdicts) == expected
    formal = records["stage4/MLR-5/formal"]
    assert formal.resolved["network"]["decisions_agree"] == formal.resolved["samples_queried"]
    assert formal.resolved["samples_drawn"] == 12

    key = generate_key(tmp_path / "v.key")
    manifest = root / "amlas.yaml"  # declared, as 'amlas seal' would: issue 12
    manifest.write_text(manifest.read_text() + f"verifier_key: {public_key_of(key)}\n")
    verifier = run_project(str(root), role="verifier", stages=(5,), key=key)
    assert {r.key for _, r in verifier.records} == {
        key.replace("stage4", "stage5").replace("/O", "/P") for key in expected
    }
    integration = {r.key: r for _, r in run_project(str(root), stages=(6,)).records}
    assert set(integration) == {f"stage6/scenario/SCN-{i}" for i in range(1, 6)} | {
        "stage6/hazard/HAZ-1",
        "stage6/hazard/HAZ-2",
    }
    assert integration["stage6/scenario/SCN-2"].verdict == "pass"
    hazard = integration["stage6/hazard/HAZ-1"]
    assert hazard.resolved["factors"][0]["source"] == "stage5/MLR-1/P"
    assert hazard.verdict == "pass"  # the barriers of [C] take the miss rate below 1e-5
    case = build_case(root)
    assert case.nodes["G6.4"].status in ("supported", "inconclusive")
    assert case.nodes["Sn5.3.MLR-5"].status in ("supported", "inconclusive")
    assert case.nodes["Sn5.2.MLR-6"].status in ("supported", "inconclusive")
    assert "G5.3.MLR-5" not in case.nodes  # MLR-5 is verified formally only ([AA])
    # no supported claim over a set has a member that is not (issue 15)
    assert overclaims(case, check_project(root).project) == []
    assert case.nodes["Sn3.4"].reviews == ["RV-1"]  # DR-9 (no rule) by the review of [RV]
