"""A detector amlas runs itself (``format: python_detector``): images in an npz dataset,
a ground-truth object table, and a blob detector (scipy's connected components) loaded
from the project; stage 4 on [O] and stage 5 on sealed [P], where the ground truth is
sealed with the images."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from amlas import Severity, check_project
from amlas.evidence import open_store, seal_dataset
from amlas.sealing import generate_key
from amlas.verify import run_project
from factory import documents, write_project

DETECTOR = '''"""Finds bright rectangles: every connected bright region is one 'box' detection."""

from pathlib import Path

import numpy as np
from scipy import ndimage


class Blobs:
    classes = ("box",)

    def __init__(self, path):
        self.threshold = float(Path(path).read_text())

    def detect(self, images):
        image, cls, xyxy, score = [], [], [], []
        for i, picture in enumerate(images):
            labelled, _ = ndimage.label(picture[..., 0] > self.threshold)
            for found in ndimage.find_objects(labelled):
                y, x = found
                image.append(i)
                cls.append(0)
                xyxy.append([x.start, y.start, x.stop, y.stop])
                score.append(0.9)
        return (np.array(image, dtype=int), np.array(cls, dtype=int),
                np.array(xyxy, dtype=float).reshape(-1, 4), np.array(score))


def load(path):
    return Blobs(path)
'''


def _images(seed: int, n: int = 40) -> tuple[bytes, list[list[Any]]]:
    rng = np.random.default_rng(seed)
    pictures = np.zeros((n, 32, 48, 1), dtype=np.uint8)
    objects = []
    for i in range(n):
        for slot in range(int(rng.integers(0, 3))):  # apart: one slot of 16 pixels each
            x = 16 * slot + int(rng.integers(0, 4))
            y = int(rng.integers(0, 16))
            w, h = int(rng.integers(4, 10)), int(rng.integers(4, 14))
            pictures[i, y : y + h, x : x + w, 0] = 200
            objects.append([f"S{seed}-{i:03d}", "box", x, y, w, h, 0, w * h / 2])
    buffer = io.BytesIO()
    np.savez(
        buffer,
        image=pictures,
        sample_id=np.array([f"S{seed}-{i:03d}" for i in range(n)]),
        lighting=np.array(["day" if i % 2 else "night" for i in range(n)]),
    )
    return buffer.getvalue(), objects


def _project(root: Path) -> None:
    docs = documents()
    docs["B"]["dimensions"][0].pop("column")
    docs["D"].update(
        task="object_detection",
        description="Finds boxes",
        classes=[{"name": "box", "description": "a box", "safety_related": True}],
        inputs={"kind": "image", "shape": [32, 48, 1]},
        outputs={"kind": "boxes"},
    )
    docs["H"]["requirements"] = [
        {"id": "MLR-1", "text": "Finds boxes", "kind": "performance", "traces_to": ["ALR-1"],
         "metric": "recall", "class": "box", "threshold": 0.9, "confidence": 0.95},
        {"id": "MLR-2", "text": "Still finds them in dim light", "kind": "robustness",
         "traces_to": ["ALR-1"], "metric": "prediction_stability", "threshold": 0.5,
         "confidence": 0.95,
         "perturbation": {"kind": "brightness", "magnitude": 0.6, "unit": "relative"}},
        {"id": "MLR-3", "text": "Finds boxes through noise", "kind": "robustness",
         "traces_to": ["ALR-1"], "metric": "recall", "class": "box", "threshold": 0.5,
         "confidence": 0.95,
         "perturbation": {"kind": "gaussian_noise", "magnitude": 20, "unit": "intensity"}},
    ]  # fmt: skip
    for doc, field in (("J", "records"), ("M", "arguments"), ("AA", "activities")):
        docs[doc][field][0]["requirements"] = ["MLR-1", "MLR-2", "MLR-3"]
    by_id = {r["id"]: r for r in docs["L"]["requirements"]}
    del by_id["DR-2"]["rule"]["class"]
    by_id["DR-2"]["rule"]["dimensions"] = ["lighting"]
    by_id["DR-4"]["rule"] = {"check": "slice_balance", "dimension": "lighting", "min_fraction": 0.2}
    for requirement in docs["L"]["requirements"]:
        requirement["traces_to"] = ["MLR-1", "MLR-2", "MLR-3"]
    docs["V"] = {
        "artefact": "V",
        "version": "1.0.0",
        "name": "blobs",
        "location": "model/threshold.txt",
        "format": "python_detector",
        "callable": "blobs:load",
        "framework": {"name": "scipy", "version": "1"},
        "trained_on": ["N"],
        "candidate": "CAND-1",
    }
    for letter in "NOP":
        doc = docs[letter]
        doc.pop("sha256")
        doc.pop("label_column")
        doc.update(location=f"data/{letter}.npz", format="npz")
        doc["objects"] = {
            "location": f"data/{letter}-objects.csv",
            "crowd_column": "iscrowd",
            "odd_columns": {"size": "area"},
        }
    write_project(root, docs)
    (root / "blobs.py").write_text(DETECTOR, encoding="utf-8")
    (root / "model/threshold.txt").write_text("100\n", encoding="utf-8")
    for seed, letter in enumerate("NOP", start=1):
        data, objects = _images(seed)
        (root / f"data/{letter}.npz").write_bytes(data)
        lines = ["sample_id,class,x,y,w,h,iscrowd,area"]
        lines += [",".join(str(v) for v in row) for row in objects]
        (root / f"data/{letter}-objects.csv").write_text("\n".join(lines) + "\n")


def _recall(root: Path, key: str) -> Any:
    with open_store("fs://evidence", root=root) as store:
        return store.latest(key)


def test_amlas_runs_the_detector_on_the_images(tmp_path: Path) -> None:
    root = tmp_path / "project"
    _project(root)
    loaded = check_project(root)
    errors = [d for d in loaded.diagnostics.items if d.severity is Severity.ERROR]
    assert not errors, [str(d) for d in errors]
    run_project(root, stages=(4,))
    record = _recall(root, "stage4/MLR-1/O")
    _, objects = _images(2)
    result = record.results[0]
    assert result["samples"] == len(objects)
    assert result["successes"] == len(objects)  # rectangles apart: every one found exactly
    assert (
        record.inputs["model_code"] == hashlib.sha256((root / "blobs.py").read_bytes()).hexdigest()
    )
    assert record.resolved["predictions"] == "model"


def test_image_corruptions_apply_to_the_detector(tmp_path: Path) -> None:
    """Dimming by 60% takes every rectangle (200) below the detector's threshold (100):
    nothing found on the clean images is found any more; noise of sigma 20 changes
    nothing."""
    root = tmp_path / "project"
    _project(root)
    run_project(root, stages=(4,))
    _, objects = _images(2)
    stability = _recall(root, "stage4/MLR-2/O")
    assert stability.check == "robustness.prediction_stability"
    assert stability.resolved["perturbation"]["kind"] == "brightness"
    assert stability.results[0]["samples"] == len(objects)  # found on the clean images
    assert stability.results[0]["successes"] == 0
    assert stability.verdict == "fail"
    noisy = _recall(root, "stage4/MLR-3/O")
    assert noisy.check == "robustness.recall"
    assert noisy.results[0]["samples"] == len(objects)
    # noise of sigma 20 stays far inside the margin (rectangles 200, threshold 100, black 0)
    assert noisy.results[0]["successes"] == len(objects)
    assert noisy.verdict == "pass"


def test_stage5_runs_it_on_sealed_images_and_sealed_truth(tmp_path: Path) -> None:
    root = tmp_path / "project"
    _project(root)
    key = generate_key(tmp_path / "verifier.key")
    seal_dataset(check_project(root).project, "P", key)
    assert not (root / "data/P-objects.csv").exists()
    run_project(root, role="verifier", stages=(5,), key=key)
    record = _recall(root, "stage5/MLR-1/P")
    _, objects = _images(3)
    assert record.results[0]["samples"] == len(objects)
    assert record.verdict == "pass"


def test_a_detector_that_breaks_the_contract_is_r021(tmp_path: Path) -> None:
    from amlas.errors import ProblemError

    root = tmp_path / "project"
    _project(root)
    source = (root / "blobs.py").read_text()
    (root / "blobs.py").write_text(
        source.replace("score.append(0.9)", "score.append(float('nan'))")
    )
    with pytest.raises(ProblemError) as caught:
        run_project(root, stages=(4,))
    assert caught.value.diagnostic.code == "R021"
    assert "NaN or infinite" in str(caught.value)


def test_the_detector_format_needs_a_callable(tmp_path: Path) -> None:
    root = tmp_path / "project"
    _project(root)
    path = root / "4-learning/V-model.yaml"
    document = yaml.safe_load(path.read_text())
    del document["callable"]
    path.write_text(yaml.safe_dump(document))
    messages = [str(d) for d in check_project(root).diagnostics.items]
    assert any("format 'python_detector' needs 'callable" in m for m in messages)


def _blob_rows(seed: int) -> list[list[Any]]:
    """What the blob detector finds on [O], as a predictions file (xyxy, pixels)."""
    from scipy import ndimage

    data, _ = _images(seed)
    arrays = np.load(io.BytesIO(data))
    rows = []
    for sample, picture in zip(arrays["sample_id"], arrays["image"], strict=True):
        labelled, _ = ndimage.label(picture[..., 0] > 100)
        for y, x in ndimage.find_objects(labelled):
            rows.append([str(sample), "box", x.start, y.start, x.stop, y.stop, 0.9])
    return rows


def _with_predictions(root: Path, rows: list[list[Any]]) -> None:
    path = root / "4-learning/V-model.yaml"
    document = yaml.safe_load(path.read_text())
    document["predictions"] = {
        "O": {
            "location": "predictions/O.csv",
            "box_columns": ["x1", "y1", "x2", "y2"],
            "box_format": "xyxy",
            "score_column": "score",
            "agreement": {"samples": 25},
        }
    }
    document["produced_by"] = hashlib.sha256(b"100\n").hexdigest()
    path.write_text(yaml.safe_dump(document))
    lines = ["sample_id,class,x1,y1,x2,y2,score"] + [",".join(map(str, r)) for r in rows]
    (root / "predictions").mkdir(exist_ok=True)
    (root / "predictions/O.csv").write_text("\n".join(lines) + "\n")


def test_predictions_made_elsewhere_are_checked_against_the_model(tmp_path: Path) -> None:
    root = tmp_path / "project"
    _project(root)
    _with_predictions(root, _blob_rows(2))
    run_project(root, stages=(4,))
    record = _recall(root, "stage4/predictions/O")
    assert record.check == "predictions.agreement"
    assert record.verdict == "pass"
    assert record.results[0]["sampled"] == 25
    assert record.results[0]["disagreeing"] == 0
    assert record.results[0]["upper"] == pytest.approx(1 - 0.05 ** (1 / 25))
    assert record.inputs["predictions:O"]
    # the requirement itself is judged from the file
    assert _recall(root, "stage4/MLR-1/O").resolved["predictions"] == "predictions/O.csv"


def test_a_predictions_file_from_another_model_fails_the_check(tmp_path: Path) -> None:
    root = tmp_path / "project"
    _project(root)
    rows = _blob_rows(2)
    shifted = [[*r[:2], r[2] + 2, r[3], r[4] + 2, r[5], r[6]] for r in rows]  # moved 2 px
    _with_predictions(root, shifted)
    run_project(root, stages=(4,))
    record = _recall(root, "stage4/predictions/O")
    assert record.verdict == "fail"
    assert record.results[0]["disagreeing"] > 0
