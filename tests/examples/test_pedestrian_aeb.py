"""The pedestrian-aeb example: it checks clean, its detection records carry IoU-matched
counts that faster-coco-eval re-derives from the same committed files, and its detector
keeps the python_detector contract."""

from __future__ import annotations

import contextlib
import csv
import io
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from amlas import Severity, check_project
from amlas.evidence import open_store
from amlas.verify import run_project
from conftest import REPO

AEB = REPO / "examples" / "pedestrian-aeb"
SCORE, IOU = 0.5, 0.5  # [D] detection.matching


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_example_checks_without_errors() -> None:
    loaded = check_project(AEB)
    errors = [str(d) for d in loaded.diagnostics.items if d.severity is Severity.ERROR]
    assert errors == []


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("aeb") / "project"
    shutil.copytree(AEB, root, ignore=shutil.ignore_patterns("evidence", ".amlas"))
    keys = ["stage4/MLR-1/O", "stage4/MLR-4/O", "stage4/MLR-5/O"]
    run_project(root, stages=(4,), only=keys)
    with open_store("fs://evidence", root=root) as store:
        return {key: store.latest(key) for key in keys}


def _faster_coco_eval() -> tuple[dict[int, dict[str, str]], list[tuple[int, int]], int, int]:
    """faster-coco-eval on the committed [O] objects and predictions: annotation rows by
    id, the matched (detection id, annotation id) pairs, the detections kept and images."""
    fce = pytest.importorskip("faster_coco_eval")
    objects = _rows(AEB / "data/O-objects.csv")
    detections = _rows(AEB / "4-learning/predictions/O-predictions.csv")
    frames = sorted({o["sample_id"] for o in objects} | {d["sample_id"] for d in detections})
    images = np.load(AEB / "data/internal-test.npz")["sample_id"]
    number = {str(s): i + 1 for i, s in enumerate(images)}
    assert set(frames) <= set(number)
    truth = {
        "images": [{"id": i, "width": 96, "height": 56} for i in number.values()],
        "categories": [{"id": 1, "name": "pedestrian"}],
        "annotations": [
            {
                "id": j + 1,
                "image_id": number[o["sample_id"]],
                "category_id": 1,
                "bbox": [float(o[k]) for k in ("x", "y", "w", "h")],
                "area": float(o["w"]) * float(o["h"]),
                "iscrowd": int(o["iscrowd"]),
            }
            for j, o in enumerate(objects)
        ],
    }
    kept = [
        {
            "image_id": number[d["sample_id"]],
            "category_id": 1,
            "bbox": [float(d[k]) for k in ("x", "y", "w", "h")],
            "score": float(d["score"]),
        }
        for d in detections
        if float(d["score"]) >= SCORE
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        ground = fce.COCO(truth)
        evaluation = fce.COCOeval_faster(
            ground, ground.loadRes(kept), "bbox", print_function=lambda *_: None,
            extra_calc=True, ranges={},
        )  # fmt: skip
        evaluation.params.maxDets = [100000]
        evaluation.params.iouThrs = np.array([IOU])
        evaluation.evaluate()
        evaluation.accumulate()
    pairs = [tuple(int(x) for x in key.split("_")) for key in evaluation.eval["matched"]]
    by_id = {j + 1: o for j, o in enumerate(objects)}
    return by_id, pairs, len(kept), len(number)  # type: ignore[return-value]


def test_detection_counts_agree_with_faster_coco_eval(records: dict[str, Any]) -> None:
    objects, pairs, kept, images = _faster_coco_eval()
    near = {
        j for j, o in objects.items() if not int(o["iscrowd"]) and 5 <= float(o["distance_m"]) < 15
    }
    found = {gt for _, gt in pairs}
    recall = records["stage4/MLR-1/O"].results[0]  # MLR-1: the near band
    assert recall["samples"] == len(near)
    assert recall["successes"] == len(near & found)
    rate = records["stage4/MLR-4/O"].results[0]  # false positives per frame
    false_positives = kept - len({dt for dt, _ in pairs})
    assert rate["events"] == false_positives
    assert rate["exposure"] == images


def test_the_detector_keeps_the_python_detector_contract() -> None:
    from amlas.adapters import detect_batched, load_model

    model = load_model(
        AEB / "model/detector.pt", "python_detector", callable="detector:load", search_path=AEB
    )
    frames = np.load(AEB / "data/internal-test.npz")["image"][:8]
    found = detect_batched(model, frames)
    assert model.classes == ("pedestrian",)
    assert found.xyxy.shape == (len(found.image), 4)
    assert found.image.max() < 8
    assert (found.score >= 0.05).all()
