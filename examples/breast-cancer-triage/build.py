"""Build the data sets and the model of the breast-cancer-triage AMLAS example.

Run from the repository root (or anywhere):

    .venv/bin/python examples/breast-cancer-triage/build.py

What it does, in AMLAS terms:

- Stage 3, Activity 7 (generate data): loads the Wisconsin Diagnostic Breast Cancer data
  bundled with scikit-learn, names every row (WDBC-0001 ...), and splits it, seeded and
  stratified by diagnosis, into development data [N] (60%), internal test data [O] (20%)
  and verification data [P] (20%). Writes a simulated label audit for [L].
- Stage 4, Activities 10-11 (create and test the model): tunes and trains a scaled
  logistic regression on [N] only, picks the decision threshold from cross-validated
  predictions on [N], compares it with a shallow random forest, and reports both on [O]
  for the model development log [U].
- Records what it chose in model/build-record.json, and writes the SHA-256 and sample
  counts of the files it made into the artefacts ([N] [O] [P] [V]).

The verification data [P] is written and hashed here and never read back: no model
decision and no printed figure depends on its contents beyond its size and class counts.

Everything is seeded and written byte-for-byte reproducibly, and a second run changes no
file. The data files are identical on every machine; the model file and the record are
identical wherever the same numpy / scikit-learn / BLAS produce the same floating-point
fit (they also record the library versions).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import platform
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
import scipy
import sklearn
import skops
import skops.io
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_predict,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).resolve().parent
SEED = 20210201

LABEL = "diagnosis"
SAFETY_CLASS = "malignant"  # the class whose miss is hazardous (HAZ-1)
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
TARGET_CV_RECALL = 0.98  # recall margin above the 0.95 of MLR-1/MLR-2, kept on [N]
THRESHOLD_GRID = tuple(round(0.01 * k, 2) for k in range(1, 100))
AUDIT_SIZE = 40
NOISE_FEATURES = (
    "mean_radius",
    "mean_texture",
    "mean_perimeter",
    "mean_area",
    "mean_smoothness",
)  # as in MLR-5
SCALE_FEATURES = (
    "mean_radius",
    "mean_perimeter",
    "radius_error",
    "perimeter_error",
    "worst_radius",
    "worst_perimeter",
)  # MLR-6: lengths scale with magnification
NOISE_SIGMA = 0.02  # MLR-5
SCALE_FACTOR = 1.02  # MLR-6
SECOND_READING_BAND = (0.10, 0.90)  # P(malignant) range sent for a second reading ([C] BAR-1)

DATASETS = {  # letter -> (file, artefact)
    "N": ("data/development.csv", "3-data/N-development-data.yaml"),
    "O": ("data/internal-test.csv", "3-data/O-internal-test-data.yaml"),
    "P": ("data/verification.csv", "3-data/P-verification-data.yaml"),
}
AUDIT_FILE = "data/label-audit.csv"
MODEL_FILE = "model/model.skops"
MODEL_ARTEFACT = "4-learning/V-model.yaml"
RECORD_FILE = "model/build-record.json"


# -- data -----------------------------------------------------------------------------------


def snake(name: str) -> str:
    """sklearn's 'mean concave points' -> 'mean_concave_points'."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def load() -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    bunch = load_breast_cancer(as_frame=False)
    features = [snake(n) for n in bunch.feature_names]
    # sklearn: target 0 = malignant, 1 = benign; target_names says so, check rather than trust
    names = [str(n) for n in bunch.target_names]
    if names != ["malignant", "benign"]:
        sys.exit(f"unexpected target names {names}")
    labels = np.array([names[t] for t in bunch.target])
    ids = [f"WDBC-{i + 1:04d}" for i in range(len(labels))]
    return ids, np.asarray(bunch.data, dtype=float), labels, features


def split(labels: np.ndarray) -> dict[str, np.ndarray]:
    """60/20/20, stratified by diagnosis, seeded; row indices sorted so files read in id order."""
    rows = np.arange(len(labels))
    dev, rest = train_test_split(rows, test_size=0.4, stratify=labels, random_state=SEED)
    internal, verification = train_test_split(
        rest, test_size=0.5, stratify=labels[rest], random_state=SEED
    )
    return {"N": np.sort(dev), "O": np.sort(internal), "P": np.sort(verification)}


def number(x: float) -> str:
    """Shortest text that reads back as exactly the same float (Python repr)."""
    return repr(float(x))


def write_bytes(path: Path, content: bytes) -> None:
    """Write only when the content changes, so a rebuild leaves the tree untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != content:
        path.write_bytes(content)


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_bytes(path, buffer.getvalue().encode("utf-8"))


def write_dataset(path: Path, ids, X, labels, features, rows: np.ndarray) -> None:
    write_csv(
        path,
        ["sample_id", LABEL, *features],
        [[ids[i], str(labels[i]), *(number(v) for v in X[i])] for i in rows],
    )


def write_audit(path: Path, ids, labels, dev_rows: np.ndarray) -> None:
    """A simulated audit: WDBC publishes no second reading of its labels, so the 'audited'
    label is the recorded one. [Q] says so."""
    rng = np.random.default_rng(SEED)
    chosen = np.sort(rng.choice(dev_rows, size=AUDIT_SIZE, replace=False))
    write_csv(path, ["sample_id", "audited_label"], [[ids[i], str(labels[i])] for i in chosen])


# -- model ----------------------------------------------------------------------------------


def folds() -> StratifiedKFold:
    return StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)


def logistic() -> Pipeline:
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(class_weight="balanced", max_iter=5000, random_state=SEED)),
        ]
    )


def forest() -> RandomForestClassifier:
    return RandomForestClassifier(
        n_estimators=200, max_depth=4, class_weight="balanced", random_state=SEED, n_jobs=1
    )


def column(proba: np.ndarray, classes) -> np.ndarray:
    """The safety class's column of a predict_proba output."""
    return proba[:, list(classes).index(SAFETY_CLASS)]


def p_safety(model, X: np.ndarray) -> np.ndarray:
    return column(model.predict_proba(X), model.classes_)


def rates(p: np.ndarray, y: np.ndarray, threshold: float) -> dict[str, float]:
    positive = y == SAFETY_CLASS
    flagged = p >= threshold
    low, high = SECOND_READING_BAND
    return {
        "recall_malignant": float(flagged[positive].mean()),
        "specificity_malignant": float((~flagged[~positive]).mean()),
        "fpr_malignant": float(flagged[~positive].mean()),
        "missed_malignant": int((positive & ~flagged).sum()),
        "benign_to_priority": int((~positive & flagged).sum()),
        "second_reading_fraction": float(((p >= low) & (p < high)).mean()),
    }


def named(ids: list[str], rows: np.ndarray, mask: np.ndarray) -> list[str]:
    return [ids[i] for i in rows[mask]]


def ece(proba: np.ndarray, classes: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: 10 equal-width bins over the top-class probability."""
    confidence = proba.max(axis=1)
    correct = classes[proba.argmax(axis=1)] == y
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(total)


def pick_threshold(p: np.ndarray, y: np.ndarray) -> float:
    """The largest grid threshold whose recall for the safety class stays >= the target."""
    positive = p[y == SAFETY_CLASS]
    ok = [t for t in THRESHOLD_GRID if (positive >= t).mean() >= TARGET_CV_RECALL]
    if not ok:
        sys.exit("no threshold reaches the target cross-validated recall")
    return max(ok)


def stability(model, X, features, threshold, *, noise=None, scale=None) -> float:
    """Fraction of triage decisions unchanged under a perturbation (information only)."""
    base = p_safety(model, X) >= threshold
    if noise is not None:
        rng = np.random.default_rng(SEED)
        cols = [features.index(f) for f in NOISE_FEATURES]
        same = []
        for _ in range(20):
            Xp = X.copy()
            Xp[:, cols] *= 1.0 + rng.normal(0.0, noise, size=(len(X), len(cols)))
            same.append((p_safety(model, Xp) >= threshold) == base)
        return float(np.mean(same))
    cols = [features.index(f) for f in SCALE_FEATURES]
    worst = 1.0
    for factor in (scale, 1.0 / scale):
        Xp = X.copy()
        Xp[:, cols] *= factor
        worst = min(worst, float(((p_safety(model, Xp) >= threshold) == base).mean()))
    return worst


def canonical_skops(model) -> bytes:
    """skops output with the run-dependent parts made stable.

    skops names objects by their CPython id() and stamps zip entries with the wall clock;
    both change on every run. Renumber the ids 1, 2, ... in order of first appearance
    (a bijection, so shared objects stay shared) and give every entry a fixed date.
    """
    raw = zipfile.ZipFile(io.BytesIO(skops.io.dumps(model)))
    schema = json.loads(raw.read("schema.json"))
    renumber: dict[int, int] = {}

    def walk(node):
        if isinstance(node, dict):
            if "__id__" in node:
                node["__id__"] = renumber.setdefault(node["__id__"], len(renumber) + 1)
            if isinstance(node.get("file"), str) and node["file"].endswith(".npy"):
                old = int(node["file"][:-4])
                node["file"] = f"{renumber.setdefault(old, len(renumber) + 1)}.npy"
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    entries = {
        f"{renumber[int(info.filename[:-4])]}.npy": raw.read(info)
        for info in raw.infolist()
        if info.filename.endswith(".npy")
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        items = sorted(entries.items(), key=lambda kv: int(kv[0][:-4]))
        for name, data in [*items, ("schema.json", json.dumps(schema, indent=2).encode())]:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


# -- artefacts ------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def set_fields(artefact: Path, values: dict[str, object]) -> None:
    """Rewrite the top-level `key: value` lines of an artefact, keeping everything else
    (comments included) as it is."""
    if not artefact.exists():
        print(f"  note: {artefact.relative_to(HERE)} not found; skipped")
        return
    text = artefact.read_text(encoding="utf-8")
    for key, value in values.items():
        pattern = re.compile(rf"^{re.escape(key)}:[^\n#]*(#[^\n]*)?$", re.MULTILINE)
        if not pattern.search(text):
            print(f"  note: no '{key}:' line in {artefact.relative_to(HERE)}")
            continue
        text = pattern.sub(
            lambda m, k=key, v=value: f"{k}: {v}" + (f"  {m.group(1)}" if m.group(1) else ""),
            text,
            count=1,
        )
    write_bytes(artefact, text.encode("utf-8"))


def rounded(value):
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


# -- main -----------------------------------------------------------------------------------


def main() -> None:
    ids, X, labels, features = load()
    sets = split(labels)

    for letter, (location, _) in DATASETS.items():
        write_dataset(HERE / location, ids, X, labels, features, sets[letter])
    write_audit(HERE / AUDIT_FILE, ids, labels, sets["N"])

    # Stage 4 sees development data [N] and internal test data [O]; never [P].
    X_dev, y_dev = X[sets["N"]], labels[sets["N"]]
    X_int, y_int = X[sets["O"]], labels[sets["O"]]

    search = GridSearchCV(
        logistic(), {"clf__C": list(C_GRID)}, cv=folds(), scoring="neg_log_loss", refit=True
    )
    search.fit(X_dev, y_dev)
    best_c = float(search.best_params_["clf__C"])
    cv_log_loss = [
        {"C": c, "log_loss": -float(score)}
        for c, score in zip(C_GRID, search.cv_results_["mean_test_score"], strict=True)
    ]
    model = search.best_estimator_

    cv_lr = cross_val_predict(clone(model), X_dev, y_dev, cv=folds(), method="predict_proba")
    threshold = pick_threshold(column(cv_lr, model.classes_), y_dev)

    rf = forest()
    cv_rf = cross_val_predict(clone(rf), X_dev, y_dev, cv=folds(), method="predict_proba")
    rf.fit(X_dev, y_dev)
    rf_threshold = pick_threshold(column(cv_rf, rf.classes_), y_dev)

    def assess(candidate, cv_proba, t):
        p_int = p_safety(candidate, X_int)
        return {
            "threshold": t,
            "cv_development": {
                **rates(column(cv_proba, candidate.classes_), y_dev, t),
                "ece": ece(cv_proba, candidate.classes_, y_dev),
                "recall_malignant_at_0.5": rates(column(cv_proba, candidate.classes_), y_dev, 0.5)[
                    "recall_malignant"
                ],
            },
            "internal_test": {
                **rates(p_int, y_int, t),
                "ece": ece(candidate.predict_proba(X_int), candidate.classes_, y_int),
                "stability_noise": stability(candidate, X_int, features, t, noise=NOISE_SIGMA),
                "stability_scale": stability(candidate, X_int, features, t, scale=SCALE_FACTOR),
                "missed_malignant_ids": named(
                    ids, sets["O"], (y_int == SAFETY_CLASS) & (p_int < t)
                ),
                "benign_to_priority_ids": named(
                    ids, sets["O"], (y_int != SAFETY_CLASS) & (p_int >= t)
                ),
            },
        }

    record = {
        "seed": SEED,
        "sets": {
            letter: {
                "file": DATASETS[letter][0],
                "samples": len(rows),
                "malignant": int((labels[rows] == "malignant").sum()),
                "benign": int((labels[rows] == "benign").sum()),
            }
            for letter, rows in sets.items()
        },
        "settings": {
            "C_grid": list(C_GRID),
            "target_cv_recall": TARGET_CV_RECALL,
            "threshold_grid": [THRESHOLD_GRID[0], THRESHOLD_GRID[-1], 0.01],
            "noise_sigma_relative": NOISE_SIGMA,
            "noise_features": list(NOISE_FEATURES),
            "scale_factor": SCALE_FACTOR,
            "scale_features": list(SCALE_FEATURES),
            "second_reading_band": list(SECOND_READING_BAND),
        },
        "candidates": {
            "CAND-LR": {
                "C": best_c,
                "cv_log_loss_by_C": cv_log_loss,
                **assess(model, cv_lr, threshold),
            },
            "CAND-RF": {"n_estimators": 200, "max_depth": 4, **assess(rf, cv_rf, rf_threshold)},
        },
        "selected": "CAND-LR",
        "class_order": [str(c) for c in model.classes_],
        "toolchain": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
            "skops": skops.__version__,
        },
    }

    blob = canonical_skops(model)
    reloaded = skops.io.loads(blob, trusted=[])  # only skops' default-trusted types inside
    if not np.array_equal(reloaded.predict_proba(X_int), model.predict_proba(X_int)):
        sys.exit("the saved model does not reproduce the fitted one")
    write_bytes(HERE / MODEL_FILE, blob)
    write_bytes(
        HERE / RECORD_FILE, (json.dumps(rounded(record), indent=2, sort_keys=True) + "\n").encode()
    )

    hashes = {}
    for letter, (location, artefact) in DATASETS.items():
        hashes[location] = sha256(HERE / location)
        set_fields(HERE / artefact, {"sha256": hashes[location], "samples": len(sets[letter])})
    hashes[AUDIT_FILE] = sha256(HERE / AUDIT_FILE)
    hashes[MODEL_FILE] = sha256(HERE / MODEL_FILE)
    set_fields(
        HERE / MODEL_ARTEFACT, {"sha256": hashes[MODEL_FILE], "decision_threshold": threshold}
    )

    lr = record["candidates"]["CAND-LR"]
    print("breast-cancer-triage build")
    for letter, info in record["sets"].items():
        print(
            f"  [{letter}] {info['file']:<24} {info['samples']:>4} samples "
            f"({info['malignant']} malignant, {info['benign']} benign)"
        )
    print(f"  label audit: {AUDIT_SIZE} development rows -> {AUDIT_FILE}")
    print(
        f"  CAND-LR: C = {best_c:g} (5-fold CV log-loss on [N]), decision threshold "
        f"P(malignant) >= {threshold:g} (largest with CV recall >= {TARGET_CV_RECALL})"
    )
    print(
        f"    CV on [N]:        recall {lr['cv_development']['recall_malignant']:.3f}, "
        f"specificity {lr['cv_development']['specificity_malignant']:.3f}, "
        f"ECE {lr['cv_development']['ece']:.3f}"
    )
    it = lr["internal_test"]
    print(
        f"    internal test [O]: recall {it['recall_malignant']:.3f} "
        f"({it['missed_malignant']} missed), specificity "
        f"{it['specificity_malignant']:.3f} ({it['benign_to_priority']} benign to priority), "
        f"ECE {it['ece']:.3f}, stability noise {it['stability_noise']:.3f} / "
        f"scale {it['stability_scale']:.3f}"
    )
    rf_it = record["candidates"]["CAND-RF"]["internal_test"]
    print(
        f"  CAND-RF: threshold {rf_threshold:g}; internal test [O]: recall "
        f"{rf_it['recall_malignant']:.3f}, specificity {rf_it['specificity_malignant']:.3f}, "
        f"ECE {rf_it['ece']:.3f}, stability noise {rf_it['stability_noise']:.3f} / "
        f"scale {rf_it['stability_scale']:.3f}"
    )
    print(f"  class order of predict_proba: {record['class_order']}")
    for path, digest in hashes.items():
        print(f"  sha256 {digest}  {path}")


if __name__ == "__main__":
    main()
