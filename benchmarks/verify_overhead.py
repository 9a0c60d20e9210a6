"""What `amlas` verification costs on top of the inference a user runs anyway.

Generates a synthetic tabular set (default 1,000,000 rows, 16 float features, a binary
label) with two ODD dimensions, a numeric one in 5 bands and a categorical one with 4
values, so that every requirement is judged in 20 slices. The model is a small numpy MLP
(16 -> 64 -> 64 -> 2, softmax) with seeded weights. Two things are timed on the same
samples:

- bare batched inference: ``predict_batched`` plus the decision threshold;
- `amlas` verification: ``predict`` (one inference pass) plus ``evaluate_requirement`` for
  6 requirements (recall, FNR, FPR, precision, accuracy, false positives per sample), each
  per slice, exact Clopper-Pearson with Holm's correction across the 20 slices.

Prints the median of ``--repeat`` runs of each, their ratio and the breakdown. Binding the
table to the dataset artefact (ODD bands, labels, ids) happens once per dataset and is
shown apart. Target: verification / bare inference <= 1.10. Prints figures and ratios;
asserts nothing (machines are noisy).

    .venv/bin/python benchmarks/verify_overhead.py [--rows N] [--repeat R]
"""

from __future__ import annotations

import argparse
import itertools
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import numpy as np
from numpy.typing import NDArray

from amlas.adapters import Table, predict_batched
from amlas.checks import (
    Dataset,
    Predictions,
    RequirementResult,
    bind_dataset,
    evaluate_requirement,
    predict,
)
from amlas.project import Manifest, Project
from amlas.project.artefacts import (
    MLComponentDescription,
    MLSafetyRequirement,
    OperatingEnvironment,
    VerificationData,
)

TARGET_RATIO = 1.10
BATCH_SIZE = 65536
SEED = 20240601
FEATURES = 16
HIDDEN = 64
CLASSES = ("neg", "pos")
POSITIVE = "pos"
DECISION_THRESHOLD = 0.5
LABEL_NOISE = 0.05
RANGE_BANDS = ("r0", "r1", "r2", "r3", "r4")  # [0, 20), [20, 40), ... [80, 100] m
LIGHTING = ("day", "dusk", "night", "fog")
REQUIREMENTS = (  # metric, class, threshold
    ("recall", POSITIVE, 0.90),
    ("fnr", POSITIVE, 0.10),
    ("fpr", POSITIVE, 0.10),
    ("precision", POSITIVE, 0.90),
    ("accuracy", None, 0.90),
    ("false_positives_per_sample", POSITIVE, 0.06),
)

T = TypeVar("T")
P = ParamSpec("P")


class MLP:
    """A 16 -> 64 -> 64 -> 2 ReLU network with softmax output, weights from a seed; it
    satisfies :class:`amlas.adapters.Model`."""

    classes: tuple[str, ...] = CLASSES
    has_proba: bool = True

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        sizes = (FEATURES, HIDDEN, HIDDEN, len(CLASSES))
        self.weights = [
            rng.normal(0.0, 1.0 / np.sqrt(m), size=(m, k)) for m, k in itertools.pairwise(sizes)
        ]
        self.biases = [rng.normal(0.0, 0.1, size=k) for k in sizes[1:]]
        # centre the output so that both classes are common on standard-normal inputs
        logits = self._logits(rng.standard_normal((4096, FEATURES)))
        self.biases[-1] = self.biases[-1] - np.median(logits, axis=0)

    def _logits(self, x: NDArray[np.generic]) -> NDArray[np.float64]:
        h = np.asarray(x, dtype=np.float64)
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            h = h @ w
            h += b
            np.maximum(h, 0.0, out=h)
        out: NDArray[np.float64] = h @ self.weights[-1] + self.biases[-1]
        return out

    def predict_proba(self, x: NDArray[np.generic]) -> NDArray[np.float64]:
        logits = self._logits(x)
        logits -= logits.max(axis=1, keepdims=True)
        np.exp(logits, out=logits)
        logits /= logits.sum(axis=1, keepdims=True)
        return logits

    def predict(self, x: NDArray[np.generic]) -> NDArray[np.str_]:
        names = np.array(self.classes, dtype=np.str_)
        decided: NDArray[np.str_] = names[np.argmax(self._logits(x), axis=1)]
        return decided


def generate(rows: int, model: MLP, seed: int) -> tuple[Table, NDArray[np.float64]]:
    """The table (features, label, id, ODD columns) and its feature matrix."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, FEATURES))
    # ground truth: the model's own decision with LABEL_NOISE of the labels flipped, so
    # that every metric sits a known distance from its threshold
    decided = predict_batched(model, x, batch_size=BATCH_SIZE)[:, 1] >= DECISION_THRESHOLD
    truth = decided ^ (rng.random(rows) < LABEL_NOISE)
    columns: dict[str, NDArray[np.generic]] = {
        f"f{j}": np.ascontiguousarray(x[:, j]) for j in range(FEATURES)
    }
    columns["label"] = np.where(truth, POSITIVE, "neg").astype(np.str_)
    width = len(str(max(rows - 1, 0))) + 2
    columns["id"] = np.char.add("s-", np.arange(rows).astype(np.str_)).astype(f"<U{width}")
    columns["range_m"] = rng.uniform(0.0, 100.0, rows)
    columns["lighting"] = np.array(LIGHTING, dtype=np.str_)[rng.integers(0, len(LIGHTING), rows)]
    return Table(columns, sha256="0" * 64, source="synthetic"), x


def build_project() -> tuple[Project, list[MLSafetyRequirement]]:
    environment = OperatingEnvironment.model_validate(
        {
            "artefact": "B",
            "version": "1",
            "description": "synthetic operating domain",
            "dimensions": [
                {
                    "id": "range",
                    "name": "distance to object",
                    "kind": "numeric",
                    "unit": "m",
                    "min": 0,
                    "max": 100,
                    "column": "range_m",
                    "bands": [
                        {"name": name, "min": 20 * i, "max": 20 * (i + 1)}
                        for i, name in enumerate(RANGE_BANDS)
                    ],
                },
                {
                    "id": "lighting",
                    "name": "lighting",
                    "kind": "categorical",
                    "values": list(LIGHTING),
                    "column": "lighting",
                },
            ],
        }
    )
    component = MLComponentDescription.model_validate(
        {
            "artefact": "D",
            "version": "1",
            "name": "mlp",
            "task": "binary_classification",
            "description": "synthetic classifier",
            "classes": [{"name": c, "description": c} for c in CLASSES],
            "inputs": {
                "kind": "tabular",
                "features": [{"name": f"f{j}"} for j in range(FEATURES)],
            },
            "outputs": {"kind": "class_probabilities"},
        }
    )
    data = VerificationData.model_validate(
        {
            "artefact": "P",
            "version": "1",
            "description": "synthetic verification data",
            "location": "data/P.npz",
            "format": "npz",
            "label_column": "label",
            "id_column": "id",
            "source": "generated",
        }
    )
    manifest = Manifest.model_validate({"amlas": 1, "name": "overhead", "component": "mlp"})
    project = Project(Path("."), manifest, artefacts={"B": environment, "D": component, "P": data})
    requirements = [
        MLSafetyRequirement.model_validate(
            {
                "id": f"MLR-{i}",
                "text": f"{metric} per range band and lighting",
                "kind": "performance",
                "metric": metric,
                **({"class": cls} if cls else {}),
                "threshold": threshold,
                "confidence": 0.95,
                "applies_to": {"per": ["range", "lighting"]},
            }
        )
        for i, (metric, cls, threshold) in enumerate(REQUIREMENTS, start=1)
    ]
    return project, requirements


def timed(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> tuple[float, T]:
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def spread(seconds: list[float]) -> str:
    """The median, with the range over the runs when there are several."""
    text = f"{statistics.median(seconds):7.3f} s"
    if len(seconds) > 1:
        text += f"  ({min(seconds):.3f} .. {max(seconds):.3f})"
    return text


def peak_mib() -> float:
    # ru_maxrss is KiB on Linux, bytes on macOS
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="samples (default 1e6)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (median)")
    args = parser.parse_args()
    rows, repeat = args.rows, max(1, args.repeat)
    if rows < 1:
        parser.error("--rows must be at least 1")

    model = MLP(SEED)
    table, x = generate(rows, model, SEED + 1)
    project, requirements = build_project()
    environment = project.environment
    assert environment is not None
    classes = list(CLASSES)
    pos = CLASSES.index(POSITIVE)
    memory = {"data": peak_mib()}
    predict_batched(model, x[:BATCH_SIZE], batch_size=BATCH_SIZE)  # warm BLAS threads up

    def bare() -> NDArray[np.bool_]:
        proba = predict_batched(model, x, batch_size=BATCH_SIZE)
        decided: NDArray[np.bool_] = proba[:, pos] >= DECISION_THRESHOLD
        return decided

    def bind() -> Dataset:
        dataset = bind_dataset(project, "P", table)
        dataset.inputs  # noqa: B018 - the cached feature matrix the model is called on
        return dataset

    def verify(dataset: Dataset, predictions: Predictions) -> list[RequirementResult]:
        return [
            evaluate_requirement(r, dataset, predictions, classes=classes) for r in requirements
        ]

    bare_s, bind_s, predict_s, metrics_s = [], [], [], []
    results: list[RequirementResult] = []
    agree = True
    for _ in range(repeat):
        seconds, decided = timed(bare)
        bare_s.append(seconds)
        memory.setdefault("bare", peak_mib())
        seconds, dataset = timed(bind)
        bind_s.append(seconds)
        seconds, predictions = timed(
            predict, model, dataset.inputs, positive=POSITIVE, threshold=DECISION_THRESHOLD
        )
        predict_s.append(seconds)
        seconds, results = timed(verify, dataset, predictions)
        metrics_s.append(seconds)
        memory.setdefault("verify", peak_mib())
        agree = agree and bool(np.array_equal(predictions.labels == POSITIVE, decided))

    verify_s = [p + m for p, m in zip(predict_s, metrics_s, strict=True)]
    bare_t, verify_t = statistics.median(bare_s), statistics.median(verify_s)
    metrics_t = statistics.median(metrics_s)
    ratio = verify_t / bare_t
    slices = {len(r.slices) for r in results}
    verdicts = [s.verdict for r in results for s in r.slices]
    print(
        f"rows: {rows:,}, features: {FEATURES}, slices per requirement: "
        f"{'/'.join(map(str, sorted(slices)))}, requirements: {len(requirements)}, "
        f"repeat: {repeat} (medians)"
    )
    print(f"bare batched inference:     {spread(bare_s)}")
    print(f"amlas verification:         {spread(verify_s)}")
    print(f"  inference (predict):      {spread(predict_s)}")
    print(
        f"  metrics and statistics:   {spread(metrics_s)}  "
        f"{metrics_t / len(requirements) * 1000:.1f} ms per requirement"
    )
    print(f"dataset binding (once):     {spread(bind_s)}  ODD bands, labels, ids, inputs")
    print(
        f"verdicts: {verdicts.count('pass')} pass, {verdicts.count('fail')} fail, "
        f"{verdicts.count('inconclusive')} inconclusive; "
        f"predictions agree with bare inference: {'yes' if agree else 'NO'}"
    )
    print(
        f"peak RSS: {memory['data']:.0f} MiB after data, {memory['bare']:.0f} MiB after bare "
        f"inference, {memory['verify']:.0f} MiB after verification"
    )
    met = "met" if ratio <= TARGET_RATIO else "not met"
    print(f"verification / bare: ratio {ratio:.2f} (target <= {TARGET_RATIO:.2f}): {met}")
    bind_t = statistics.median(bind_s)
    print(f"(verification + binding) / bare: {(verify_t + bind_t) / bare_t:.2f}")


if __name__ == "__main__":
    main()
