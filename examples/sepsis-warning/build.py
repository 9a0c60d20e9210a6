"""Build the data sets and the models of the sepsis-warning AMLAS example (two ML components).

Run from the repository root (or anywhere):

    .venv/bin/python examples/sepsis-warning/build.py

The example is a system project with two ML components, each an AMLAS project of its own
(components/risk-model and components/input-monitor) that reads [A] [B] [C] from the
system. Every record is synthetic: a seeded simulator of adult ward and emergency-department
patients stands in for the hospital's electronic health record (EHR) extract. No download.

What it does, in AMLAS terms, for each component:

- Stage 3, Activity 7 (generate data): draws development data [N], internal test data [O]
  and verification data [P] as three independent seeded cohorts of simulated patients
  (each set its own random stream, so no patient is in two sets). The risk model's records
  carry the adjudicated label sepsis / no_sepsis, recorded with a small simulated
  adjudication error; a label audit of 200 development records compares the recorded label
  with a second adjudication (the simulator's truth) for [L] DR-6. The input monitor's
  records are in-population records (familiar) and records unlike that population
  (unfamiliar: a lactate analyser with a wrong calibration, a vital-sign sensor fault, an
  obstetric patient, a population the risk model was not developed for).
- Stage 4, Activities 10-11 (create and test the model): tunes and fits two candidates per
  component on [N] only (a scaled logistic regression, and one with all pairwise products
  of the inputs), picks the decision threshold from cross-validated predictions on [N], and
  reports both candidates on [O] for the model development log [U], with one-sided 95%
  Clopper-Pearson bounds beside every rate.
- Records what it chose in model/build-record.json of each component, and writes the
  SHA-256 and sample counts of the files it made into the artefacts ([N] [O] [P] [V]).

The verification data [P] of either component are written and hashed here and never read
back: no model decision and no printed figure depends on their contents beyond their size
and class counts. The [P] figures quoted in README.md are `amlas run`'s, as the verifier.

Everything is seeded and written byte-for-byte reproducibly, and a second run changes no
file. The data files are identical on every machine; the model files and the records are
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
from scipy.stats import beta
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler

HERE = Path(__file__).resolve().parent
SEED = 20270301

# The model inputs of both components, in column order ([D] of each component).
FEATURES = (
    "age",
    "heart_rate",
    "resp_rate",
    "temperature",
    "systolic_bp",
    "spo2",
    "gcs",
    "wbc",
    "lactate",
    "creatinine",
)
DECIMALS = {"temperature": 1, "wbc": 1, "lactate": 1}  # the others are whole numbers
AGE_BANDS = (("young", 18, 45), ("middle", 45, 65), ("older", 65, 80), ("oldest", 80, 101))
C_GRID = (0.01, 0.1, 1.0, 10.0)
THRESHOLD_GRID = tuple(round(0.01 * k, 2) for k in range(1, 100))
CONFIDENCE = 0.95
NOISE_FEATURES = ("heart_rate", "resp_rate", "systolic_bp")  # risk model MLR-4
NOISE_SIGMA = 0.03  # MLR-4: 3% relative, one standard deviation
NEWS2_ESCALATE = 5  # NEWS2 aggregate score that calls for an urgent review


class Component:
    """What differs between the two components: names, sizes, label, target recall."""

    def __init__(self, name, prefix, label, positive, negative, sizes, target, stream):
        self.name = name
        self.root = HERE / "components" / name
        self.prefix = prefix
        self.label = label
        self.positive = positive  # the safety-related class
        self.negative = negative
        self.sizes = sizes  # letter -> records (monitor: (familiar, unfamiliar))
        self.target = target  # cross-validated recall the threshold must keep on [N]
        self.stream = stream


RISK = Component(
    "risk-model",
    "SW-R",
    "outcome",
    "sepsis",
    "no_sepsis",
    {"N": 4000, "O": 1500, "P": 3000},
    0.92,  # margin above MLR-1's 0.85 for the drop on unseen data and the lower bound
    1,
)
MONITOR = Component(
    "input-monitor",
    "SW-M",
    "population",
    "unfamiliar",
    "familiar",
    {"N": (2100, 900), "O": (840, 360), "P": (1120, 480)},
    0.98,  # margin above MLR-M1's 0.95
    2,
)
SET_INDEX = {"N": 0, "O": 1, "P": 2}
DATASETS = {  # letter -> (file, artefact), relative to the component
    "N": ("data/development.csv", "3-data/N-development-data.yaml"),
    "O": ("data/internal-test.csv", "3-data/O-internal-test-data.yaml"),
    "P": ("data/verification.csv", "3-data/P-verification-data.yaml"),
}
AUDIT_FILE = "data/label-audit.csv"
AUDIT_SIZE = 200
LABEL_ERROR = (0.08, 0.002)  # adjudication error of the recorded label: borderline, clear
MODEL_FILE = "model/model.skops"
MODEL_ARTEFACT = "4-learning/V-model.yaml"
RECORD_FILE = "model/build-record.json"
UNFAMILIAR_KINDS = ("lactate_calibration", "sensor_fault", "obstetric")
UNFAMILIAR_SHARES = (0.4, 0.35, 0.25)


# -- the patient simulator ------------------------------------------------------------------


def stream(component: Component, letter: str, part: int = 0) -> np.random.Generator:
    """The random stream of one set of one component: sets never share a patient."""
    return np.random.default_rng([SEED, component.stream, SET_INDEX[letter], part])


def patients(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """``n`` simulated adult admissions (the in-population records): vital signs and
    laboratory values charted in one hour, the care setting and the true sepsis status.

    Sepsis raises heart and breathing rate, temperature, white cells, lactate and
    creatinine and lowers blood pressure, oxygen saturation and consciousness in
    proportion to a severity drawn per patient, so mild cases look ordinary. A third of the
    patients without sepsis have another acute illness (heart failure, pneumonitis,
    dehydration) that moves their vital signs the same way. Patients of 80 and over mount
    less fever and fewer white cells, and 4 in 10 patients of 65 and over take
    beta-blockers, which blunt the rise of their heart rate: the atypical presentations.
    """
    emergency = rng.random(n) < 0.4
    age = np.clip(np.rint(rng.normal(62.0, 18.0, n) - 6.0 * emergency), 18, 100)
    logit = -1.75 + 0.025 * (age - 60.0) + 0.5 * emergency
    sepsis = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    s = np.where(sepsis, rng.beta(2.6, 1.6, n), 0.0)  # severity of the sepsis
    ill = (~sepsis) & (rng.random(n) < 0.4)
    o = np.where(ill, rng.beta(2.0, 2.5, n), 0.0)  # severity of another acute illness
    old = age >= 80
    fever = np.where(old, 0.35, 1.0) * np.where(age >= 65, 0.8, 1.0)
    hypothermic = sepsis & old & (rng.random(n) < 0.2)
    blocked = (age >= 65) & (rng.random(n) < 0.4)
    heart = rng.normal(80.0, 11.0, n) + 30.0 * o + 38.0 * s * np.where(blocked, 0.45, 1.0)
    resp = rng.normal(16.5, 2.5, n) + 8.0 * o + 12.0 * s
    temp = (
        rng.normal(36.85, 0.35, n)
        + 0.5 * o * (rng.random(n) < 0.3)
        + 1.7 * s * fever
        - 1.2 * hypothermic * s
    )
    sbp = rng.normal(130.0, 17.0, n) + 0.25 * (age - 60.0) - 16.0 * o - 40.0 * s
    spo2 = np.minimum(100.0, rng.normal(96.8, 1.4, n) - 5.5 * o - 6.0 * s)
    drop = np.clip(rng.normal(0.0, 1.0, n) + 6.0 * s - 3.5 + 0.02 * (age - 60.0), 0.0, 12.0)
    gcs = 15.0 - np.floor(drop * (rng.random(n) < 0.5))
    wbc = (
        np.exp(rng.normal(np.log(7.4), 0.25, n))
        * (1.0 + 0.5 * o * (rng.random(n) < 0.4))
        * (1.0 + 1.1 * s * np.where(old, 0.5, 1.0))
    )
    lactate = np.exp(rng.normal(np.log(1.15), 0.3, n)) + 0.6 * o + 2.8 * s**1.5
    creatinine = (
        np.exp(rng.normal(np.log(80.0 + 0.6 * (age - 60.0)), 0.22, n))
        + 40.0 * o * (rng.random(n) < 0.3)
        + 70.0 * s
    )
    values = {
        "age": age,
        "heart_rate": heart,
        "resp_rate": resp,
        "temperature": temp,
        "systolic_bp": sbp,
        "spo2": spo2,
        "gcs": gcs,
        "wbc": wbc,
        "lactate": lactate,
        "creatinine": creatinine,
    }
    record = {f: np.round(v, DECIMALS.get(f, 0)) for f, v in values.items()}
    record["care_setting"] = np.where(emergency, "emergency", "ward")
    record["sepsis"] = sepsis
    # borderline for an adjudicator: mild sepsis, or another illness that looks like it
    record["borderline"] = (sepsis & (s < 0.35)) | (o > 0.5)
    return record


def unfamiliar(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """``n`` records unlike the risk model's development population, of three kinds (the
    kinds the hospital's incident log names; [Q] of the input monitor):

    - lactate_calibration: a point-of-care lactate analyser whose calibration reads 2.6 to
      3.4 times the laboratory value plus 1 mmol/L;
    - sensor_fault: one vital sign from a faulty sensor: a detached oximeter probe
      (SpO2 55-80% with the other signs unchanged), a monitor counting every beat twice
      (heart rate doubled) or a displaced temperature probe (30.5-34.0 C);
    - obstetric: a pregnant or newly delivered woman of 18-44 (the obstetric early-warning
      chart's population, not the risk model's): higher heart rate and white cells, lower
      blood pressure and creatinine.

    The underlying patient is simulated as in :func:`patients`, so each record keeps the
    true sepsis status of its patient (the stage-6 harness needs it).
    """
    record = patients(rng, n)
    kind = rng.choice(len(UNFAMILIAR_KINDS), size=n, p=UNFAMILIAR_SHARES)
    lab = kind == 0
    record["lactate"] = np.where(
        lab, np.round(record["lactate"] * rng.uniform(2.6, 3.4, n) + 1.0, 1), record["lactate"]
    )
    fault = rng.choice(3, size=n)
    sensor = kind == 1
    record["spo2"] = np.where(
        sensor & (fault == 0), np.rint(rng.uniform(55.0, 80.0, n)), record["spo2"]
    )
    record["heart_rate"] = np.where(
        sensor & (fault == 1), record["heart_rate"] * 2.0, record["heart_rate"]
    )
    record["temperature"] = np.where(
        sensor & (fault == 2), np.round(rng.uniform(30.5, 34.0, n), 1), record["temperature"]
    )
    obstetric = kind == 2
    shifts = {
        "age": np.rint(rng.uniform(18.0, 44.0, n)),
        "heart_rate": record["heart_rate"] + np.rint(rng.normal(14.0, 4.0, n)),
        "systolic_bp": record["systolic_bp"] - np.rint(rng.normal(14.0, 5.0, n)),
        "wbc": np.round(record["wbc"] * rng.uniform(1.4, 1.9, n), 1),
        "creatinine": np.rint(rng.uniform(40.0, 60.0, n)),
        "resp_rate": record["resp_rate"] + 2.0,
    }
    for feature, shifted in shifts.items():
        record[feature] = np.where(obstetric, shifted, record[feature])
    record["kind"] = np.array([UNFAMILIAR_KINDS[k] for k in kind])
    return record


def news2(x: np.ndarray) -> np.ndarray:
    """The NEWS2 aggregate score (Royal College of Physicians, 2017) of each record, from
    the model inputs, breathing air (the record carries no supplemental-oxygen field) and
    counting any GCS below 15 as new confusion. The nurse's fallback pathway of [C]."""
    col = {f: x[:, i] for i, f in enumerate(FEATURES)}
    rr, sp, sb, hr, t = (
        col["resp_rate"],
        col["spo2"],
        col["systolic_bp"],
        col["heart_rate"],
        col["temperature"],
    )
    score = np.select([rr <= 8, rr <= 11, rr <= 20, rr <= 24], [3, 1, 0, 2], 3)
    score += np.select([sp <= 91, sp <= 93, sp <= 95], [3, 2, 1], 0)
    score += np.select([sb <= 90, sb <= 100, sb <= 110, sb <= 219], [3, 2, 1, 0], 3)
    score += np.select([hr <= 40, hr <= 50, hr <= 90, hr <= 110, hr <= 130], [3, 1, 0, 1, 2], 3)
    score += np.select([t <= 35.0, t <= 36.0, t <= 38.0, t <= 39.0], [3, 1, 0, 1], 2)
    score += np.where(col["gcs"] < 15, 3, 0)
    return score


# -- the data sets --------------------------------------------------------------------------


def number(value: float, feature: str) -> str:
    places = DECIMALS.get(feature, 0)
    return f"{value:.{places}f}" if places else str(int(value))


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


class Table:
    """One data set as the build holds it: ids, labels, inputs and the other columns."""

    def __init__(self, ids, labels, x, columns):
        self.ids = ids
        self.labels = labels
        self.x = x
        self.columns = columns  # extra columns: name -> array of text

    def __len__(self) -> int:
        return len(self.ids)


def risk_set(letter: str) -> tuple[Table, np.ndarray]:
    """One set of the risk model and the true (unrecorded) sepsis status of its records."""
    rng = stream(RISK, letter)
    n = RISK.sizes[letter]
    record = patients(rng, n)
    truth = record["sepsis"]
    error = np.where(record["borderline"], *LABEL_ERROR)
    wrong = stream(RISK, letter, part=1).random(n) < error  # adjudication errors
    recorded = truth ^ wrong
    ids = [f"{RISK.prefix}{SET_INDEX[letter] + 1}-{i + 1:05d}" for i in range(n)]
    labels = np.where(recorded, RISK.positive, RISK.negative)
    x = np.column_stack([record[f] for f in FEATURES]).astype(float)
    return Table(ids, labels, x, {"care_setting": record["care_setting"]}), truth


def monitor_set(letter: str) -> Table:
    """One set of the input monitor: familiar records, then unfamiliar ones, shuffled."""
    familiar_n, unfamiliar_n = MONITOR.sizes[letter]
    familiar = patients(stream(MONITOR, letter, part=0), familiar_n)
    familiar["kind"] = np.full(familiar_n, "in_population")
    odd = unfamiliar(stream(MONITOR, letter, part=1), unfamiliar_n)
    joined = {k: np.concatenate([familiar[k], odd[k]]) for k in familiar}
    labels = np.array([MONITOR.negative] * familiar_n + [MONITOR.positive] * unfamiliar_n)
    order = stream(MONITOR, letter, part=2).permutation(familiar_n + unfamiliar_n)
    ids = [f"{MONITOR.prefix}{SET_INDEX[letter] + 1}-{i + 1:05d}" for i in range(len(order))]
    x = np.column_stack([joined[f] for f in FEATURES]).astype(float)[order]
    columns = {
        "kind": joined["kind"][order],
        "sepsis": np.where(joined["sepsis"][order], "yes", "no"),
        "care_setting": joined["care_setting"][order],
    }
    return Table(ids, labels[order], x, columns)


def write_table(path: Path, label: str, table: Table) -> None:
    extra = list(table.columns)
    rows = [
        [
            table.ids[i],
            str(table.labels[i]),
            *(str(table.columns[c][i]) for c in extra),
            *(number(v, f) for v, f in zip(table.x[i], FEATURES, strict=True)),
        ]
        for i in range(len(table))
    ]
    write_csv(path, ["record_id", label, *extra, *FEATURES], rows)


def write_audit(path: Path, table: Table, truth: np.ndarray) -> dict[str, int]:
    """The label audit of [L] DR-6: a second, blinded adjudication of 200 development
    records drawn at random. Here the simulator's true status plays the second
    adjudicator, so the audit finds exactly the simulated adjudication errors."""
    rng = np.random.default_rng([SEED, RISK.stream, 9])
    chosen = np.sort(rng.choice(len(table), size=AUDIT_SIZE, replace=False))
    audited = np.where(truth[chosen], RISK.positive, RISK.negative)
    write_csv(
        path,
        ["record_id", "audited_label"],
        [[table.ids[i], str(a)] for i, a in zip(chosen, audited, strict=True)],
    )
    disagree = int((audited != table.labels[chosen]).sum())
    return {"audited": AUDIT_SIZE, "disagreements": disagree}


# -- statistics -----------------------------------------------------------------------------


def lower(k: int, n: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson lower bound of a proportion k/n."""
    return 0.0 if k == 0 else float(beta.ppf(1.0 - confidence, k, n - k + 1))


def upper(k: int, n: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson upper bound of a proportion k/n."""
    return 1.0 if k == n else float(beta.ppf(confidence, k + 1, n - k))


def share(hit: np.ndarray) -> dict[str, float | int]:
    k, n = int(hit.sum()), int(hit.size)
    return {
        "k": k,
        "n": n,
        "rate": k / n if n else float("nan"),
        "lower": lower(k, n),
        "upper": upper(k, n),
    }


# -- models ---------------------------------------------------------------------------------


def folds() -> StratifiedKFold:
    return StratifiedKFold(n_splits=5, shuffle=True, random_state=SEED)


def linear() -> Pipeline:
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(class_weight="balanced", max_iter=10000)),
        ]
    )


def quadratic() -> Pipeline:
    return Pipeline(
        [
            ("scale", StandardScaler()),
            ("pairs", PolynomialFeatures(degree=2)),
            ("clf", LogisticRegression(class_weight="balanced", max_iter=10000)),
        ]
    )


def column(proba: np.ndarray, classes, positive: str) -> np.ndarray:
    return proba[:, list(classes).index(positive)]


def pick_threshold(p: np.ndarray, y: np.ndarray, target: float) -> float:
    """The largest grid threshold whose recall of the positive class stays >= target."""
    ok = [t for t in THRESHOLD_GRID if (p[y] >= t).mean() >= target]
    if not ok:
        sys.exit("no threshold reaches the target cross-validated recall")
    return max(ok)


def fit_candidate(make, x, labels, component: Component) -> dict:
    """Tune C by 5-fold CV log-loss on [N], fit, and choose the threshold on the same folds."""
    search = GridSearchCV(
        make(), {"clf__C": list(C_GRID)}, cv=folds(), scoring="neg_log_loss", refit=True
    )
    search.fit(x, labels)
    model = search.best_estimator_
    cv = cross_val_predict(clone(model), x, labels, cv=folds(), method="predict_proba")
    p = column(cv, model.classes_, component.positive)
    y = labels == component.positive
    threshold = pick_threshold(p, y, component.target)
    return {
        "model": model,
        "C": float(search.best_params_["clf__C"]),
        "cv_log_loss": [
            {"C": c, "log_loss": -float(s)}
            for c, s in zip(C_GRID, search.cv_results_["mean_test_score"], strict=True)
        ],
        "threshold": threshold,
        "cv": {
            "recall": share(p[y] >= threshold),
            "fpr": share(p[~y] >= threshold),
        },
    }


def canonical_skops(model) -> bytes:
    """skops output with the run-dependent parts made stable (as breast-cancer-triage does).

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


def save_model(component: Component, model, x_check: np.ndarray) -> None:
    blob = canonical_skops(model)
    reloaded = skops.io.loads(blob, trusted=[])  # only skops' default-trusted types inside
    if not np.array_equal(reloaded.predict_proba(x_check), model.predict_proba(x_check)):
        sys.exit(f"{component.name}: the saved model does not reproduce the fitted one")
    write_bytes(component.root / MODEL_FILE, blob)


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


def toolchain() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
    }


def write_record(component: Component, record: dict) -> None:
    write_bytes(
        component.root / RECORD_FILE,
        (json.dumps(rounded(record), indent=2, sort_keys=True) + "\n").encode(),
    )


def write_hashes(component: Component, sets: dict[str, Table], extra=()) -> dict[str, str]:
    hashes = {}
    for letter, (location, artefact) in DATASETS.items():
        hashes[location] = sha256(component.root / location)
        set_fields(
            component.root / artefact,
            {"sha256": hashes[location], "samples": len(sets[letter])},
        )
    for location in extra:
        hashes[location] = sha256(component.root / location)
    return hashes


def candidate_records(candidates: dict, assess, internal: Table) -> dict:
    """Each candidate as [U] records it: its settings, cross-validation and [O] figures."""
    return {
        cid: {
            "C": c["C"],
            "cv_log_loss_by_C": c["cv_log_loss"],
            "threshold": c["threshold"],
            "cv_development": c["cv"],
            "internal_test": assess(c, internal),
        }
        for cid, c in candidates.items()
    }


def publish(
    component: Component,
    record: dict,
    candidates: dict,
    internal: Table,
    sets: dict[str, Table],
    extra=(),
) -> dict[str, str]:
    """Write the selected model, the build record and every hash and threshold the
    artefacts state; the hashes, by file."""
    chosen = candidates[record["selected"]]
    save_model(component, chosen["model"], internal.x)
    write_record(component, record)
    hashes = write_hashes(component, sets, extra=extra)
    set_fields(
        component.root / MODEL_ARTEFACT,
        {"sha256": hashes[MODEL_FILE], "decision_threshold": chosen["threshold"]},
    )
    return hashes


def fmt(s: dict) -> str:
    return f"{s['rate']:.3f} ({s['k']}/{s['n']}; 95% bounds {s['lower']:.3f}-{s['upper']:.3f})"


# -- the risk model -------------------------------------------------------------------------


def age_band(age: np.ndarray) -> np.ndarray:
    out = np.full(age.shape, "", dtype=object)
    for name, low, high in AGE_BANDS:
        out[(age >= low) & (age < high)] = name
    return out


def stability(model, x: np.ndarray, threshold: float) -> dict:
    """MLR-4 as build.py estimates it: one draw of 3% relative noise on heart rate,
    breathing rate and systolic pressure per record (amlas draws its own)."""
    rng = np.random.default_rng([SEED, RISK.stream, 7])
    cols = [FEATURES.index(f) for f in NOISE_FEATURES]
    base = column(model.predict_proba(x), model.classes_, RISK.positive) >= threshold
    noisy = x.copy()
    noisy[:, cols] *= 1.0 + rng.normal(0.0, NOISE_SIGMA, size=(len(x), len(cols)))
    again = column(model.predict_proba(noisy), model.classes_, RISK.positive) >= threshold
    return share(again == base)


def assess_risk(candidate: dict, table: Table) -> dict:
    model, threshold = candidate["model"], candidate["threshold"]
    p = column(model.predict_proba(table.x), model.classes_, RISK.positive)
    y = table.labels == RISK.positive
    alert = p >= threshold
    bands = age_band(table.x[:, FEATURES.index("age")])
    score = news2(table.x)
    missed = y & ~alert
    return {
        "recall_sepsis": share(alert[y]),
        "fpr_sepsis": share(alert[~y]),
        "recall_no_sepsis": share(~alert[~y]),  # the specificity of the alert
        "recall_sepsis_by_age_band": {
            name: share(alert[y & (bands == name)]) for name, _, _ in AGE_BANDS
        },
        "recall_sepsis_by_care_setting": {
            s: share(alert[y & (table.columns["care_setting"] == s)]) for s in ("ward", "emergency")
        },
        "stability_noise": stability(model, table.x, threshold),
        "news2_escalates_missed_sepsis": share(score[missed] >= NEWS2_ESCALATE),
        "missed_sepsis_ids": [table.ids[i] for i in np.flatnonzero(missed)][:20],
    }


def build_risk() -> dict:
    sets, truths = {}, {}
    for letter, (location, _) in DATASETS.items():
        sets[letter], truths[letter] = risk_set(letter)
        write_table(RISK.root / location, RISK.label, sets[letter])
    audit = write_audit(RISK.root / AUDIT_FILE, sets["N"], truths["N"])

    # Stage 4 sees development data [N] and internal test data [O]; never [P].
    dev, internal = sets["N"], sets["O"]
    candidates = {
        "CAND-LR": fit_candidate(linear, dev.x, dev.labels, RISK),
        "CAND-PAIRS": fit_candidate(quadratic, dev.x, dev.labels, RISK),
    }
    dev_y = dev.labels == RISK.positive
    dev_news2 = news2(dev.x)
    record = {
        "seed": SEED,
        "sets": {
            letter: {
                "file": DATASETS[letter][0],
                "samples": len(t),
                "sepsis": int((t.labels == RISK.positive).sum()),
                "no_sepsis": int((t.labels == RISK.negative).sum()),
            }
            for letter, t in sets.items()
        },
        "label_audit": audit,
        "news2_on_development": {  # the nurse's fallback pathway of [C], on [N]
            "sensitivity_sepsis": share(dev_news2[dev_y] >= NEWS2_ESCALATE),
            "escalates_no_sepsis": share(dev_news2[~dev_y] >= NEWS2_ESCALATE),
        },
        "settings": {
            "C_grid": list(C_GRID),
            "target_cv_recall": RISK.target,
            "threshold_grid": [THRESHOLD_GRID[0], THRESHOLD_GRID[-1], 0.01],
            "noise_sigma_relative": NOISE_SIGMA,
            "noise_features": list(NOISE_FEATURES),
            "age_bands": [list(b) for b in AGE_BANDS],
            "news2_escalation_score": NEWS2_ESCALATE,
        },
        "candidates": candidate_records(candidates, assess_risk, internal),
        "selected": "CAND-LR",
        "class_order": [str(c) for c in candidates["CAND-LR"]["model"].classes_],
        "toolchain": toolchain(),
    }
    hashes = publish(RISK, record, candidates, internal, sets, extra=[AUDIT_FILE, MODEL_FILE])

    print("risk-model (CMP-1)")
    for letter, info in record["sets"].items():
        print(
            f"  [{letter}] {info['file']:<24} {info['samples']:>5} records "
            f"({info['sepsis']} sepsis, {info['no_sepsis']} no_sepsis)"
        )
    print(
        f"  label audit: {audit['disagreements']} of {audit['audited']} recorded labels differ "
        f"from the second adjudication (95% upper bound "
        f"{upper(audit['disagreements'], audit['audited']):.3f}) -> {AUDIT_FILE}"
    )
    n2 = record["news2_on_development"]
    print(
        f"  NEWS2 >= {NEWS2_ESCALATE} on [N]: sepsis {fmt(n2['sensitivity_sepsis'])}; "
        f"no_sepsis {fmt(n2['escalates_no_sepsis'])}"
    )
    for cid, c in record["candidates"].items():
        it = c["internal_test"]
        print(
            f"  {cid}: C = {c['C']:g}, threshold P(sepsis) >= {c['threshold']:g} "
            f"(largest with CV recall >= {RISK.target})"
        )
        print(
            f"    CV on [N]:  recall {fmt(c['cv_development']['recall'])}, "
            f"fpr {fmt(c['cv_development']['fpr'])}"
        )
        print(f"    [O] recall sepsis (MLR-1)      {fmt(it['recall_sepsis'])}")
        for band, s in it["recall_sepsis_by_age_band"].items():
            print(f"    [O] recall sepsis, age {band:<7} {fmt(s)}  (MLR-2)")
        for setting, s in it["recall_sepsis_by_care_setting"].items():
            print(f"    [O] recall sepsis, {setting:<10}  {fmt(s)}")
        print(f"    [O] recall no_sepsis (MLR-3)   {fmt(it['recall_no_sepsis'])}")
        print(f"    [O] fpr sepsis                 {fmt(it['fpr_sepsis'])}")
        print(f"    [O] stability, 3% noise (MLR-4) {fmt(it['stability_noise'])}")
        print(
            f"    [O] NEWS2 >= {NEWS2_ESCALATE} among missed sepsis "
            f"{fmt(it['news2_escalates_missed_sepsis'])}"
        )
    print(f"  selected {record['selected']}; class order {record['class_order']}")
    for path, digest in hashes.items():
        print(f"  sha256 {digest}  components/risk-model/{path}")
    return record


# -- the input monitor ----------------------------------------------------------------------


def assess_monitor(candidate: dict, table: Table) -> dict:
    model, threshold = candidate["model"], candidate["threshold"]
    p = column(model.predict_proba(table.x), model.classes_, MONITOR.positive)
    y = table.labels == MONITOR.positive
    flag = p >= threshold
    kinds = table.columns["kind"]
    settings = table.columns["care_setting"]
    sepsis = table.columns["sepsis"] == "yes"
    return {
        "recall_unfamiliar": share(flag[y]),
        "fpr_unfamiliar": share(flag[~y]),
        "recall_unfamiliar_by_kind": {k: share(flag[kinds == k]) for k in UNFAMILIAR_KINDS},
        "recall_unfamiliar_by_care_setting": {
            s: share(flag[y & (settings == s)]) for s in ("ward", "emergency")
        },
        "fpr_unfamiliar_among_sepsis": share(flag[~y & sepsis]),
        "missed_unfamiliar_ids": [table.ids[i] for i in np.flatnonzero(y & ~flag)][:20],
    }


def build_monitor() -> dict:
    sets = {}
    for letter, (location, _) in DATASETS.items():
        sets[letter] = monitor_set(letter)
        write_table(MONITOR.root / location, MONITOR.label, sets[letter])

    dev, internal = sets["N"], sets["O"]
    candidates = {
        "CAND-M-LR": fit_candidate(linear, dev.x, dev.labels, MONITOR),
        "CAND-M-PAIRS": fit_candidate(quadratic, dev.x, dev.labels, MONITOR),
    }
    record = {
        "seed": SEED,
        "sets": {
            letter: {
                "file": DATASETS[letter][0],
                "samples": len(t),
                "familiar": int((t.labels == MONITOR.negative).sum()),
                "unfamiliar": int((t.labels == MONITOR.positive).sum()),
                "by_kind": {
                    k: int((t.columns["kind"] == k).sum())
                    for k in ("in_population", *UNFAMILIAR_KINDS)
                },
            }
            for letter, t in sets.items()
        },
        "settings": {
            "C_grid": list(C_GRID),
            "target_cv_recall": MONITOR.target,
            "threshold_grid": [THRESHOLD_GRID[0], THRESHOLD_GRID[-1], 0.01],
            "unfamiliar_kinds": dict(zip(UNFAMILIAR_KINDS, UNFAMILIAR_SHARES, strict=True)),
        },
        "candidates": candidate_records(candidates, assess_monitor, internal),
        "selected": "CAND-M-PAIRS",
        "class_order": [str(c) for c in candidates["CAND-M-PAIRS"]["model"].classes_],
        "toolchain": toolchain(),
    }
    hashes = publish(MONITOR, record, candidates, internal, sets, extra=[MODEL_FILE])

    print("input-monitor (CMP-2)")
    for letter, info in record["sets"].items():
        kinds = ", ".join(f"{k} {v}" for k, v in info["by_kind"].items())
        print(
            f"  [{letter}] {info['file']:<24} {info['samples']:>5} records "
            f"({info['familiar']} familiar, {info['unfamiliar']} unfamiliar: {kinds})"
        )
    for cid, c in record["candidates"].items():
        it = c["internal_test"]
        print(
            f"  {cid}: C = {c['C']:g}, threshold P(unfamiliar) >= {c['threshold']:g} "
            f"(largest with CV recall >= {MONITOR.target})"
        )
        print(
            f"    CV on [N]:  recall {fmt(c['cv_development']['recall'])}, "
            f"fpr {fmt(c['cv_development']['fpr'])}"
        )
        print(f"    [O] recall unfamiliar (MLR-M1)  {fmt(it['recall_unfamiliar'])}")
        print(f"    [O] fpr unfamiliar (MLR-M2)     {fmt(it['fpr_unfamiliar'])}")
        for setting, s in it["recall_unfamiliar_by_care_setting"].items():
            print(f"    [O] recall unfamiliar, {setting:<10} {fmt(s)}  (MLR-M3)")
        for kind, s in it["recall_unfamiliar_by_kind"].items():
            print(f"    [O] recall, {kind:<20} {fmt(s)}")
        print(f"    [O] fpr among familiar sepsis   {fmt(it['fpr_unfamiliar_among_sepsis'])}")
    print(f"  selected {record['selected']}; class order {record['class_order']}")
    for path, digest in hashes.items():
        print(f"  sha256 {digest}  components/input-monitor/{path}")
    return record


def main() -> None:
    build_risk()
    build_monitor()


if __name__ == "__main__":
    main()
