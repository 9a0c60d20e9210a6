"""A detector's mini project judged from predictions made elsewhere: the factory project of
``tests/factory.py`` turned into a pedestrian and cyclist detector whose [V] gives a
predictions file for [O]. The ground truth is a table of boxes with a per-object size (an
ODD dimension only objects carry), crowd regions, and images in drives of frames.

Every count the records hold is re-derived here with faster-coco-eval from the same files,
and the bounds with scipy."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy import stats

from amlas import Severity, check_project
from amlas.errors import ProblemError
from amlas.evidence import open_store
from amlas.verify import run_project
from factory import documents, write_project

IMAGES = 300
SCORE = 0.3


def _generate(seed: int) -> tuple[list[list[Any]], list[list[Any]], list[list[Any]]]:
    """(images, objects, detections) rows: every coordinate a multiple of 1/4 pixel."""
    rng = np.random.default_rng(seed)
    images, objects, detections = [], [], []
    for i in range(IMAGES):
        sample = f"F{seed}-{i:04d}"
        images.append([sample, "day" if i % 3 else "night", f"drive-{i // 10}", i % 10])
        for _ in range(int(rng.integers(0, 5))):
            cls = "pedestrian" if rng.random() < 0.7 else "cyclist"
            size = float(rng.uniform(1, 99))
            w, h = (float(rng.integers(8, 60)) / 4 * 4 for _ in range(2))
            x, y = float(rng.integers(0, 400)), float(rng.integers(0, 200))
            crowd = int(rng.random() < 0.05)
            objects.append([sample, cls, x, y, w, h, crowd, round(size, 1)])
            if rng.random() < 0.8 + 0.1 * (size > 50):  # found; larger ones more often
                jitter = rng.integers(-3, 4, 4) / 4
                score = float(rng.integers(10, 40)) / 40
                detections.append(
                    [sample, cls, x + jitter[0], y + jitter[1], w + jitter[2], h + jitter[3], score]
                )
        for _ in range(int(rng.poisson(0.3))):  # spurious detections
            x, y = float(rng.integers(0, 400)), float(rng.integers(0, 200))
            detections.append(
                [sample, "pedestrian", x, y, 20.0, 40.0, float(rng.integers(0, 40)) / 40]
            )
    return images, objects, detections


def _csv(path: Path, header: str, rows: list[list[Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [header] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


REQUIREMENTS: list[dict[str, Any]] = [
    {"id": "MLR-1", "metric": "recall", "class": "pedestrian", "threshold": 0.7,
     "applies_to": {"per": ["size"]}},
    {"id": "MLR-2", "metric": "false_positives_per_image", "class": "pedestrian",
     "threshold": 0.6},
    {"id": "MLR-3", "metric": "image_false_positive_rate", "class": "pedestrian",
     "threshold": 0.5},
    {"id": "MLR-4", "metric": "within_tolerance_rate", "class": "pedestrian",
     "tolerance": {"value": 1.0, "unit": "pixel", "measure": "centre_distance"},
     "threshold": 0.5},
    {"id": "MLR-5", "metric": "average_precision", "class": "pedestrian", "threshold": 0.5},
    {"id": "MLR-6", "metric": "image_recall", "class": "pedestrian", "threshold": 0.5,
     "applies_to": {"per": ["size"]}},
    {"id": "MLR-7", "metric": "precision", "class": "pedestrian", "threshold": 0.6},
    {"id": "MLR-8", "metric": "sequence_window_rate", "class": "pedestrian", "threshold": 0.3,
     "window": {"frames": 3, "max_failures": 1, "failure": "missed_object"}},
    {"id": "MLR-9", "metric": "fnr", "class": "pedestrian", "threshold": 0.3},
]  # fmt: skip


def _project(root: Path, *, coco: bool = False) -> dict[str, Any]:
    docs = documents()
    docs["B"]["dimensions"][0].pop("column")  # the size is an object's, not an image's
    docs["D"].update(
        task="object_detection",
        description="Finds pedestrians and cyclists in front of the press",
        classes=[
            {"name": "pedestrian", "description": "a person on foot", "safety_related": True},
            {"name": "cyclist", "description": "a person on a bicycle"},
        ],
        inputs={"kind": "image", "shape": [240, 440, 1]},
        outputs={"kind": "boxes"},
        detection={"matching": {"iou_threshold": 0.5, "score_threshold": SCORE}},
    )
    ids = [r["id"] for r in REQUIREMENTS]
    docs["H"]["requirements"] = [
        {"text": f"requirement {r['id']}", "kind": "performance", "traces_to": ["ALR-1"],
         "confidence": 0.95, **r}
        for r in REQUIREMENTS
    ]  # fmt: skip
    for doc, field in (("J", "records"), ("M", "arguments"), ("AA", "activities")):
        docs[doc][field][0]["requirements"] = ids
    by_id = {r["id"]: r for r in docs["L"]["requirements"]}
    del by_id["DR-2"]["rule"]["class"]
    by_id["DR-2"]["rule"]["dimensions"] = ["lighting"]
    by_id["DR-4"]["rule"] = {"check": "slice_balance", "dimension": "lighting", "min_fraction": 0.2}
    for requirement in docs["L"]["requirements"]:
        requirement["traces_to"] = ids
    suffix = "json" if coco else "csv"
    fmt = "coco_json" if coco else "csv"
    docs["V"] = {
        "artefact": "V",
        "version": "1.0.0",
        "name": "people-finder",
        "framework": {"name": "their-pipeline", "version": "3.1"},
        "trained_on": ["N"],
        "candidate": "CAND-1",
        "predictions": {"O": {"location": f"predictions/O.{suffix}", "format": fmt,
                              "sample_column": "image_id" if coco else "sample_id",
                              "score_column": "score"}},
        "produced_by": "a" * 64,
    }  # fmt: skip
    for letter in "NOP":
        doc = docs[letter]
        doc.pop("sha256")
        doc.pop("label_column")
        doc.update(sequence_column="drive", frame_column="frame")
        doc["objects"] = {
            "location": f"data/{letter}-objects.{suffix}",
            "format": fmt,
            "sample_column": "image_id" if coco else "sample_id",
            "crowd_column": "iscrowd",
            "attributes": ["size_mm"],
            "odd_columns": {"size": "size_mm"},
        }
    write_project(root, docs)
    for seed, letter in enumerate("NOP", start=1):
        images, objects, detections = _generate(seed)
        _csv(root / docs[letter]["location"], "sample_id,lighting,drive,frame", images)
        if coco:
            truth, results = _as_coco(images, objects, detections)
            (root / f"data/{letter}-objects.json").write_text(json.dumps(truth))
            if letter == "O":
                (root / "predictions/O.json").parent.mkdir(exist_ok=True)
                (root / "predictions/O.json").write_text(json.dumps(results))
            continue
        _csv(
            root / f"data/{letter}-objects.csv",
            "sample_id,class,x,y,w,h,iscrowd,size_mm",
            objects,
        )
        if letter == "O":
            _csv(root / "predictions/O.csv", "sample_id,class,x,y,w,h,score", detections)
    return docs


def _as_coco(
    images: list[list[Any]], objects: list[list[Any]], detections: list[list[Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """COCO ground truth and results for the same rows; COCO image ids are the sample ids."""
    categories = [{"id": 1, "name": "pedestrian"}, {"id": 2, "name": "cyclist"}]
    category = {"pedestrian": 1, "cyclist": 2}
    truth = {
        "images": [{"id": row[0], "file_name": f"{row[0]}.png", "width": 440, "height": 240}
                   for row in images],
        "categories": categories,
        "annotations": [
            {"id": j + 1, "image_id": o[0], "category_id": category[o[1]],
             "bbox": [o[2], o[3], o[4], o[5]], "area": o[4] * o[5], "iscrowd": o[6],
             "attributes": {"size_mm": o[7]}}
            for j, o in enumerate(objects)
        ],
    }  # fmt: skip
    results = [
        {"image_id": d[0], "category_id": category[d[1]], "bbox": [d[2], d[3], d[4], d[5]],
         "score": d[6]}
        for d in detections
    ]  # fmt: skip
    return truth, results


def _records(root: Path) -> dict[str, Any]:
    with open_store("fs://evidence", root=root) as store:
        return {key: store.latest(key) for key, _ in store.list("stage4/")}


def _faster_coco_eval(seed: int) -> dict[str, int]:
    """TP, FN (non-crowd pedestrians) and FP (pedestrian detections scoring at least
    SCORE) counted by faster-coco-eval on the same rows, with integer COCO ids."""
    fce = pytest.importorskip("faster_coco_eval")
    images, objects, detections = _generate(seed)
    number = {row[0]: i + 1 for i, row in enumerate(images)}
    truth, results = _as_coco(images, objects, detections)
    for image in truth["images"]:
        image["id"] = number[image["id"]]
    for annotation in truth["annotations"]:
        annotation["image_id"] = number[annotation["image_id"]]
    kept = [r for r in results if r["score"] >= SCORE]
    for result in kept:
        result["image_id"] = number[result["image_id"]]
    with contextlib.redirect_stdout(io.StringIO()):
        ground = fce.COCO(truth)
        evaluation = fce.COCOeval_faster(
            ground, ground.loadRes(kept), "bbox", print_function=lambda *_: None,
            extra_calc=True, ranges={},
        )  # fmt: skip
        evaluation.params.maxDets = [100000]
        evaluation.params.iouThrs = np.array([0.5])
        evaluation.params.catIds = [1]
        evaluation.evaluate()
        evaluation.accumulate()
    # extra_calc records every matched pair as "<detection id>_<annotation id>"; results
    # get ids 1.. in list order, annotations carry theirs (j + 1 for objects[j])
    pairs = [tuple(int(x) for x in key.split("_")) for key in evaluation.eval["matched"]]
    crowd = {j + 1 for j, o in enumerate(objects) if o[6]}
    pedestrians = {j + 1 for j, o in enumerate(objects) if o[1] == "pedestrian" and not o[6]}
    tp = sum(1 for _, gt in pairs if gt in pedestrians)
    fn = len(pedestrians) - tp
    detections_kept = sum(1 for r in kept if r["category_id"] == 1)
    fp = detections_kept - len({dt for dt, _ in pairs})
    assert all(gt in pedestrians or gt in crowd for _, gt in pairs)
    return {"tp": tp, "fn": fn, "fp": fp}


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("detection") / "project"
    _project(root)
    loaded = check_project(root)
    errors = [d for d in loaded.diagnostics.items if d.severity is Severity.ERROR]
    assert not errors, [str(d) for d in errors]
    run_project(root, stages=(4,))
    return _records(root)


def test_every_detection_metric_is_recorded_with_its_unit(judged: dict[str, Any]) -> None:
    assert sorted(judged) == sorted(f"stage4/{r['id']}/O" for r in REQUIREMENTS)
    units = {key.split("/")[1]: record.resolved["unit"] for key, record in judged.items()}
    assert units["MLR-1"] == "ground-truth objects"
    assert units["MLR-2"] == "images (false positives per image)"
    assert units["MLR-3"] == "images"
    assert units["MLR-4"] == "matched ground-truth objects"
    assert units["MLR-7"] == "detections"
    assert units["MLR-8"] == "sequences"
    for record in judged.values():
        assert record.inputs["objects:O"]
        assert record.inputs["predictions:O"]


def test_counts_agree_with_faster_coco_eval(judged: dict[str, Any]) -> None:
    reference = _faster_coco_eval(2)
    recall = judged["stage4/MLR-1/O"]
    assert [r["slice"] for r in recall.results] == ["size=small", "size=large"]
    assert sum(r["successes"] for r in recall.results) == reference["tp"]
    assert sum(r["samples"] for r in recall.results) == reference["tp"] + reference["fn"]
    miss = judged["stage4/MLR-9/O"].results[0]
    assert miss["successes"] == reference["fn"]
    rate = judged["stage4/MLR-2/O"].results[0]
    assert rate["events"] == reference["fp"]
    assert rate["exposure"] == IMAGES
    precision = judged["stage4/MLR-7/O"].results[0]
    assert precision["successes"] == reference["tp"]
    assert precision["samples"] == reference["tp"] + reference["fp"]


def test_bounds_are_exact(judged: dict[str, Any]) -> None:
    for result in judged["stage4/MLR-1/O"].results:
        k, n = result["successes"], result["samples"]
        # the one-sided 95% Clopper-Pearson bound (Holm adjusts the p-values, not it)
        lower = stats.beta.ppf(0.05, k, n - k + 1)
        assert result["lower"] == pytest.approx(lower, rel=1e-9)
    rate = judged["stage4/MLR-2/O"].results[0]
    upper = stats.chi2.ppf(0.95, 2 * (rate["events"] + 1)) / 2 / IMAGES  # Garwood, one-sided
    assert rate["upper"] == pytest.approx(upper, rel=1e-9)
    assert "Poisson" in rate["assumption"]
    assert rate["dispersion"]["df"] == IMAGES - 1


def test_an_image_metric_sliced_by_an_object_attribute_counts_image_band_pairs(
    judged: dict[str, Any],
) -> None:
    _images, objects, _detections = _generate(2)
    pedestrians = [o for o in objects if o[1] == "pedestrian" and not o[6]]
    pairs = {(o[0], "small" if o[7] < 50 else "large") for o in pedestrians}
    results = judged["stage4/MLR-6/O"].results
    assert sum(r["samples"] for r in results) == len(pairs)


def test_coco_json_files_give_the_same_records(tmp_path: Path, judged: dict[str, Any]) -> None:
    root = tmp_path / "project"
    _project(root, coco=True)
    run_project(root, stages=(4,))
    again = _records(root)
    for key, record in judged.items():
        assert again[key].results == record.results, key


@pytest.mark.parametrize(
    ("row", "code", "fragment"),
    [
        (["nobody", "pedestrian", 1, 1, 5, 5, 0.5], "D025", "sample the dataset does not hold"),
        (["F2-0000", "pedestrian", 1, 1, -5, 5, 0.5], "D025", "negative width or height"),
        (["F2-0000", "pedestrian", 1, 1, 5, 5, "nan"], "D025", "non-finite score"),
        (["F2-0000", "bus", 1, 1, 5, 5, 0.5], "D025", "not a class of [D]: 'bus'"),
    ],
)
def test_bad_predictions_are_d025(tmp_path: Path, row: list[Any], code: str, fragment: str) -> None:
    root = tmp_path / "project"
    _project(root)
    with (root / "predictions/O.csv").open("a") as handle:
        handle.write(",".join(str(v) for v in row) + "\n")
    with pytest.raises(ProblemError) as caught:
        run_project(root, stages=(4,))
    assert caught.value.diagnostic.code == code
    assert fragment in str(caught.value)


def test_a_detection_listed_twice_is_d025(tmp_path: Path) -> None:
    root = tmp_path / "project"
    _project(root)
    lines = (root / "predictions/O.csv").read_text().splitlines()
    (root / "predictions/O.csv").write_text("\n".join([*lines, lines[1]]) + "\n")
    with pytest.raises(ProblemError) as caught:
        run_project(root, stages=(4,))
    assert caught.value.diagnostic.code == "D025"
    assert "repeat an earlier one exactly" in str(caught.value)


def test_bad_ground_truth_is_d024(tmp_path: Path) -> None:
    root = tmp_path / "project"
    _project(root)
    with (root / "data/O-objects.csv").open("a") as handle:
        handle.write("F2-0001,pedestrian,10,10,4,-1,0,20\n")
    with pytest.raises(ProblemError) as caught:
        run_project(root, stages=(4,))
    assert caught.value.diagnostic.code == "D024"
    assert "O-objects.csv" in str(caught.value)


def test_the_verifiers_predictions_on_sealed_data_are_imported_sealed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from amlas.evidence import ProjectInputs, seal_dataset
    from amlas.sealing import AccessLog, generate_key
    from cli_helpers import run

    root = tmp_path / "project"
    docs = _project(root)
    docs["V"]["predictions"]["P"] = {"location": "predictions/P.csv", "score_column": "score"}
    (root / "4-learning/V-model.yaml").write_text(yaml.safe_dump(docs["V"]), encoding="utf-8")
    key_path = tmp_path / "verifier.key"
    key = generate_key(key_path)
    seal_dataset(check_project(root).project, "P", key)
    assert not (root / "data/P-objects.csv").exists()  # sealed with [P]
    assert (root / "data/P-objects.csv.sealed").is_file()
    _, _, detections = _generate(3)
    outside = tmp_path / "their-pipeline-P.csv"
    _csv(outside, "sample_id,class,x,y,w,h,score", detections)

    # a file that does not fit [P] is refused before anything is sealed
    bad = tmp_path / "bad.csv"
    _csv(bad, "sample_id,class,x,y,w,h,score", [["nobody", "pedestrian", 1, 1, 2, 2, 0.5]])
    code, _, err = run(
        capsys, "predictions", "import", str(root), str(bad), "--key-file", str(key_path)
    )
    assert code == 2
    assert "D025" in err
    assert not (root / "predictions/P.csv.sealed").exists()

    code, out, _ = run(
        capsys, "predictions", "import", str(root), str(outside), "--key-file", str(key_path)
    )
    assert code == 0, out
    assert "predictions/P.csv.sealed" in out
    assert not (root / "predictions/P.csv").exists()
    loaded = check_project(root)
    assert not [d for d in loaded.diagnostics.items if d.severity is Severity.ERROR]

    run_project(root, role="verifier", stages=(5,), key=key)
    with open_store("fs://evidence", root=root) as store:
        record = store.latest("stage5/MLR-1/P")
    assert record is not None
    import hashlib

    assert record.inputs["predictions:P"] == hashlib.sha256(outside.read_bytes()).hexdigest()
    assert record.inputs["objects:P"]
    events = [
        (e.event, e.details.get("companion"))
        for e in AccessLog(root / "5-verification/P-access-log.jsonl").entries()
    ]
    assert ("seal", "ground-truth objects") in events
    assert ("seal", "predictions") in events
    assert ("unseal", "predictions") in events
    assert ProjectInputs(check_project(root).project).stale(record) == []

    # the developer never reads them: stage 4 runs, stage 5 is the verifier's
    run_project(root, stages=(4,))
    # a plaintext copy in the project is an error of the project
    _csv(root / "predictions/P.csv", "sample_id,class,x,y,w,h,score", detections)
    codes = {d.code for d in check_project(root).diagnostics.items}
    assert "D013" in codes


def test_the_hazard_chain_takes_a_detectors_verified_miss_rate(
    judged: dict[str, Any], tmp_path: Path
) -> None:
    """Stage 6 reads a detector's object recall of its safety-related class as it reads a
    classifier's: the worst slice's misses over objects, bounds recomputed."""
    from amlas.checks import clopper_pearson
    from amlas.checks._hazard import MLEvidence, hazard_chains, hazard_requirements

    root = tmp_path / "project"
    _project(root)
    project = check_project(root).project
    used = {r.id for r in hazard_requirements(project, "HAZ-1")}
    assert {"MLR-1", "MLR-9"} <= used  # object recall and miss rate of 'pedestrian'
    record = judged["stage4/MLR-1/O"]
    evidence = {"MLR-1": MLEvidence("MLR-1", record.key, "d" * 64, record.results)}
    (chain,) = hazard_chains(project, evidence, {})
    ml = chain.factors[0]
    worst = max(
        record.results,
        key=lambda r: (
            clopper_pearson(
                r["samples"] - r["successes"], r["samples"], confidence=0.975, sided="upper"
            ).upper
        ),
    )
    misses, objects = worst["samples"] - worst["successes"], worst["samples"]
    assert ml.estimate == pytest.approx(misses / objects)
    assert ml.source == record.key


def test_class_agnostic_matching_still_counts_only_the_requirements_class(tmp_path: Path) -> None:
    root = tmp_path / "project"
    docs = _project(root)
    docs["D"]["detection"]["matching"]["class_agnostic"] = True
    (root / "1-scoping/D-ml-component.yaml").write_text(yaml.safe_dump(docs["D"]))
    run_project(root, stages=(4,), only=["stage4/MLR-1/O", "stage4/MLR-7/O"])
    records = _records(root)
    _, objects, _ = _generate(2)
    pedestrians = [o for o in objects if o[1] == "pedestrian" and not o[6]]
    assert sum(r["samples"] for r in records["stage4/MLR-1/O"].results) == len(pedestrians)
    _, _, detections = _generate(2)
    kept = [d for d in detections if d[1] == "pedestrian" and d[6] >= SCORE]
    assert records["stage4/MLR-7/O"].results[0]["samples"] <= len(kept)


def test_units_of_one_sequence_are_not_taken_as_independent(judged: dict[str, Any]) -> None:
    record = judged["stage4/MLR-1/O"]
    assert "sequences" in record.resolved["clusters"]
    for result in record.results:
        assert result["sequences"] == IMAGES // 10  # every drive holds pedestrians
    # a verdict the exact bound reaches stands only with the bootstrap over drives beside it
    decided = [r for r in record.results if r["verdict"] != "inconclusive"]
    assert all("sequence_bootstrap" in r for r in decided)
    rate = judged["stage4/MLR-2/O"].results[0]
    assert rate["sequences"] == IMAGES // 10
    windows = judged["stage4/MLR-8/O"].results[0]
    _, objects, _ = _generate(2)
    with_pedestrians = {int(o[0].split("-")[1]) // 10 for o in objects if o[1] == "pedestrian"}
    assert windows["samples"] <= len(with_pedestrians)


def test_an_object_without_its_odd_value_is_d024(tmp_path: Path) -> None:
    root = tmp_path / "project"
    _project(root)
    with (root / "data/O-objects.csv").open("a") as handle:
        handle.write("F2-0001,pedestrian,10,10,4,4,0,\n")
    with pytest.raises(ProblemError) as caught:
        run_project(root, stages=(4,))
    assert caught.value.diagnostic.code == "D024"
    assert "no value in column 'size_mm'" in str(caught.value)


def test_a_tolerance_in_another_unit_is_not_judged(tmp_path: Path) -> None:
    root = tmp_path / "project"
    docs = _project(root)
    for requirement in docs["H"]["requirements"]:
        if requirement["id"] == "MLR-4":
            requirement["tolerance"]["unit"] = "normalised"
    (root / "2-requirements/H-ml-safety-requirements.yaml").write_text(yaml.safe_dump(docs["H"]))
    run_project(root, stages=(4,), only=["stage4/MLR-4/O"])
    record = _records(root)["stage4/MLR-4/O"]
    assert record.verdict == "inconclusive"
    assert "state the tolerance in the boxes' unit" in str(record.resolved["problems"])


def test_a_text_column_of_sealed_predictions_names_no_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A score column of text in the verifier's predictions on sealed [P] is D025 naming
    the column, never one of its values."""
    from amlas.evidence import seal_dataset
    from amlas.sealing import generate_key
    from cli_helpers import run

    root = tmp_path / "project"
    docs = _project(root)
    docs["V"]["predictions"]["P"] = {"location": "predictions/P.csv", "score_column": "score"}
    (root / "4-learning/V-model.yaml").write_text(yaml.safe_dump(docs["V"]), encoding="utf-8")
    key_path = tmp_path / "verifier.key"
    seal_dataset(check_project(root).project, "P", generate_key(key_path))
    bad = tmp_path / "bad.csv"
    _csv(bad, "sample_id,class,x,y,w,h,score", [["F3-0000", "pedestrian", 1, 1, 2, 2, "SECRET"]])
    code, _, err = run(
        capsys, "predictions", "import", str(root), str(bad), "--key-file", str(key_path)
    )
    assert code == 2
    assert "D025" in err
    assert "'score' holds text (values sealed)" in err
    assert "SECRET" not in err
    assert "F3-0000" not in err
