"""Stage 5 at scale: `amlas run --role verifier --stage 5` on a sealed [P] of millions of
rows, against a plain pyarrow/numpy/scipy computation of the same answers in the same run.

For each size (default 1M and 5M rows; ``--rows 20000000`` for the memory run) it
generates, deterministically, a project (the factory project of ``tests/factory.py``
widened): [P] a Parquet file of ``rows`` x 30 float32 features, a label and two ODD
columns (a numeric one in 5 bands, a categorical one of 4 values), sealed by
``amlas seal`` (chunked, version 2); [H] 6 requirements (recall, FNR, FPR, precision,
accuracy, false positives per sample), each judged per band x value: 20 slices; [V] a
``python_callable`` numpy MLP (30 -> 64 -> 64 -> 2, seeded weights). Then, each in a
fresh process so that its peak memory is its own:

- **amlas**: ``run_project(role="verifier", stages=(5,))``: unseal chunk by chunk, read,
  bind, predict, tally, judge, sign and store 6 records;
- **plain**: the same answers from the plaintext Parquet file (kept aside): pyarrow
  record batches of the same size, the same model, per-slice counts by ``np.bincount``,
  Clopper-Pearson bounds from ``scipy.stats.beta`` with Holm's correction, verdicts.

It prints each side's wall time and peak RSS, their ratio (target: amlas / plain <= 1.3
at 5M rows; amlas's peak under 3 GiB at 20M rows and not growing from 5M to 20M), and
whether the answers agree: every slice's samples and successes, and every verdict, of the
6 records against the plain computation. Asserts nothing about time (machines are noisy).

    .venv/bin/python benchmarks/verification_scale.py [--rows 1000000 5000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

FEATURES = [f"f{i:02d}" for i in range(30)]
SIZE_BANDS = [0, 20, 40, 60, 80, 100]
LIGHTING = ["day", "night", "dusk", "fog"]
METRICS = ["recall", "fnr", "fpr", "precision", "accuracy", "false_positives_per_sample"]
THRESHOLDS = {
    "recall": 0.8,
    "fnr": 0.2,
    "fpr": 0.2,
    "precision": 0.7,
    "accuracy": 0.8,
    "false_positives_per_sample": 0.1,
}
CHUNK_ROWS = 1 << 20
BATCH = 65536
SPEEDUP_BATCH = 8192
"""The batch of the --speedup runs: a chunk is whole batches, so a batch as large as a
chunk leaves the engine no way to cut the last chunks smaller (one worker then works on
while the other waits; verify/_stream.py, _tapered)."""
CONFIDENCE = 0.95

MODEL_SOURCE = '''"""A seeded numpy MLP (30 -> H -> H -> 2) for the stage-5 benchmark."""

import numpy as np

H = {hidden}
_rng = np.random.default_rng(7)
W1 = _rng.normal(0, 0.3, (30, H)).astype(np.float32)
W2 = _rng.normal(0, 0.3 * np.sqrt(64 / H), (H, H)).astype(np.float32)
W3 = _rng.normal(0, 0.3, (H, 2)).astype(np.float32)
W3[:, 1] += np.linspace(-0.2, 0.2, H, dtype=np.float32)


class MLP:
    classes = ("negative", "positive")
    has_proba = True

    def predict_proba(self, x):
        h = np.maximum(np.asarray(x, dtype=np.float32) @ W1, 0)
        h = np.maximum(h @ W2, 0)
        z = h @ W3
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, x):
        return np.asarray(self.classes)[np.argmax(self.predict_proba(x), axis=1)]


def load():
    return MLP()
'''


def _source(hidden: int) -> str:
    return MODEL_SOURCE.replace("{hidden}", str(hidden))


def _model(hidden: int = 64) -> Any:
    space: dict[str, Any] = {}
    exec(_source(hidden), space)  # the same source the project's model module holds
    return space["MLP"]()


def _write_parquet(path: Path, rows: int, seed: int, model: Any) -> None:
    """``rows`` samples in row groups of 256k, labels correlated with the model."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    writer = None
    step = 1 << 18
    try:
        for start in range(0, rows, step):
            n = min(step, rows - start)
            x = rng.normal(size=(n, len(FEATURES))).astype(np.float32)
            p = model.predict_proba(x)[:, 1]
            noisy = np.clip(p + rng.normal(0, 0.25, n), 0, 1)
            label = np.where(noisy >= 0.5, "positive", "negative")
            columns: dict[str, Any] = {
                "sample_id": pa.array([f"S-{start + i:09d}" for i in range(n)]),
                "label": pa.array(label),
                "size_mm": pa.array(rng.uniform(0, 100, n)),
                "lighting": pa.array(np.array(LIGHTING)[rng.integers(0, 4, n)]),
            }
            columns.update({name: pa.array(x[:, j]) for j, name in enumerate(FEATURES)})
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def generate(root: Path, rows: int, hidden: int = 64, unsealed: Path | None = None) -> Path:
    """The project, [P] sealed; returns the plaintext [P] kept aside for the plain side.
    ``hidden`` widens the model (an inference-bound run); ``unsealed``: a copy of the
    project with [P] left in plaintext is kept there."""
    from amlas.evidence import seal_dataset
    from amlas.hashing import sha256_file
    from amlas.project import check_project
    from amlas.sealing import VerifierKey
    from factory import documents, write_project

    model = _model(hidden)
    docs = documents()
    docs["B"]["dimensions"][0]["bands"] = [
        {"name": f"s{i}", "min": lo, "max": hi}
        for i, (lo, hi) in enumerate(itertools.pairwise(SIZE_BANDS))
    ]
    docs["B"]["dimensions"][1]["values"] = LIGHTING
    docs["D"]["inputs"]["features"] = [{"name": f} for f in FEATURES]
    ids = [f"MLR-{i + 1}" for i in range(len(METRICS))]
    docs["H"]["requirements"] = [
        {
            "id": rid,
            "text": f"{metric} per size band and lighting",
            "kind": "performance",
            "traces_to": ["ALR-1"],
            "metric": metric,
            **({"class": "positive"} if metric != "accuracy" else {}),
            "threshold": THRESHOLDS[metric],
            "confidence": CONFIDENCE,
            "applies_to": {"per": ["size", "lighting"]},
        }
        for rid, metric in zip(ids, METRICS, strict=True)
    ]
    for record in docs["J"]["records"]:
        record["requirements"] = ids
    for argument in docs["M"]["arguments"]:
        argument["requirements"] = ids
    for activity in docs["AA"]["activities"]:
        activity["requirements"] = ids
    for requirement in docs["L"]["requirements"]:
        requirement["traces_to"] = ids
    docs["V"].update(format="python_callable", callable="bench_model:load")
    docs["V"]["framework"] = {"name": "numpy", "version": np.__version__}
    data = root / "data"
    data.mkdir(parents=True)
    for letter, n, seed in (("N", 20000, 1), ("O", 20000, 2), ("P", rows, 3)):
        path = data / f"{letter}.parquet"
        _write_parquet(path, n, seed, model)
        docs[letter].update(
            location=f"data/{letter}.parquet",
            format="parquet",
            sha256=sha256_file(path),
            samples=n,
        )
    write_project(root, docs)
    (root / "bench_model.py").write_text(_source(hidden), encoding="utf-8")
    for letter in "NOP":  # write_project wrote the factory's CSVs: not this project's
        (root / "data" / {"N": "dev.csv", "O": "test.csv", "P": "verif.csv"}[letter]).unlink(
            missing_ok=True
        )
    loaded = check_project(root)
    if loaded.diagnostics.has_errors:
        found = [d.format() for d in loaded.diagnostics.items if d.severity.value == "error"]
        raise SystemExit("generated project has errors:\n" + "\n".join(found))
    key = VerifierKey.from_secret(bytes(range(32)))
    (root.parent / "verifier.key").write_bytes(key.secret)
    plain = root.parent / "P-plaintext.parquet"
    shutil.copyfile(data / "P.parquet", plain)
    if unsealed is not None:
        shutil.copytree(root, unsealed)
    seal_dataset(loaded.project, "P", key)
    return plain


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_amlas(root: Path, workers: int = 0) -> dict[str, Any]:
    """amlas's stage 5; with ``workers``, on a LocalCluster of that many 1-thread workers."""
    from amlas.sealing import VerifierKey
    from amlas.verify import EngineSpec, run_project

    key = VerifierKey.from_secret((root.parent / "verifier.key").read_bytes())
    start = time.perf_counter()
    report = run_project(
        root,
        role="verifier",
        stages=(5,),
        key=key,
        batch_size=BATCH if not workers else SPEEDUP_BATCH,
        # on a cluster the engine's default: at least 8 chunks per worker, whole batches
        chunk_rows=CHUNK_ROWS if not workers else None,
        store=f"fs://{root.parent / f'evidence-{root.name}-{workers}'}",
        engine=EngineSpec("dask", workers=workers) if workers else None,
    )
    elapsed = time.perf_counter() - start
    answers = {
        record.subject: {
            "verdict": record.verdict,
            "records": record.results,
            "slices": [
                [s["slice"], s["samples"], s.get("successes"), s["verdict"]] for s in record.results
            ],
        }
        for _, record in report.records
    }
    return {
        "seconds": elapsed,
        "peak_mib": _peak_mib(),
        "answers": answers,
        "warnings": report.warnings,
    }


def _decide(
    successes: np.ndarray, trials: np.ndarray, threshold: float, at_least: bool
) -> list[str]:
    """Exact one-sided binomial tests at the threshold (the Clopper-Pearson bound rule),
    Holm's step-down across the slices, as verdicts."""
    from scipy.stats import binom

    m = len(trials)
    alpha = 1 - CONFIDENCE
    k, n = successes, trials
    above = np.where(n > 0, binom.sf(k - 1, n, threshold), 1.0)  # P(X >= k)
    below = np.where(n > 0, binom.cdf(k, n, threshold), 1.0)  # P(X <= k)
    p_pass, p_fail = (above, below) if at_least else (below, above)

    def holm(p: np.ndarray) -> np.ndarray:
        order = np.argsort(p)
        rejected = np.zeros(m, dtype=bool)
        for rank, index in enumerate(order):
            if p[index] <= alpha / (m - rank):
                rejected[index] = True
            else:
                break
        return rejected

    passes, fails = holm(p_pass), holm(p_fail)
    return [
        "pass" if a else "fail" if b else "inconclusive" for a, b in zip(passes, fails, strict=True)
    ]


def child_plain(root: Path, plain: Path) -> dict[str, Any]:
    import pyarrow.parquet as pq

    model = _model()
    start = time.perf_counter()
    n_slices = (len(SIZE_BANDS) - 1) * len(LIGHTING)
    counts = {m: np.zeros((n_slices, 2), dtype=np.int64) for m in METRICS}
    edges = np.array(SIZE_BANDS[1:-1], dtype=np.float64)
    source = pq.ParquetFile(plain, pre_buffer=False, buffer_size=4 << 20)  # as amlas reads
    for batch in source.iter_batches(batch_size=CHUNK_ROWS):
        x = np.column_stack([batch.column(f).to_numpy() for f in FEATURES]).astype(np.float64)
        proba = np.concatenate(
            [model.predict_proba(x[i : i + BATCH]) for i in range(0, len(x), BATCH)]
        )
        positive_pred = proba[:, 1] >= 0.5
        truth = batch.column("label").to_numpy(zero_copy_only=False) == "positive"
        size = batch.column("size_mm").to_numpy()
        band = np.searchsorted(edges, size, side="right")
        light = np.unique(
            batch.column("lighting").to_numpy(zero_copy_only=False), return_inverse=True
        )
        order = np.array([LIGHTING.index(v) for v in light[0]])[light[1]]
        code = band * len(LIGHTING) + order
        pairs = {
            "recall": (truth, positive_pred),
            "fnr": (truth, ~positive_pred),
            "fpr": (~truth, positive_pred),
            "precision": (positive_pred, truth),
            "accuracy": (np.ones(len(truth), bool), positive_pred == truth),
            "false_positives_per_sample": (np.ones(len(truth), bool), positive_pred & ~truth),
        }
        for metric, (trial, success) in pairs.items():
            counts[metric][:, 0] += np.bincount(code[trial], minlength=n_slices)
            counts[metric][:, 1] += np.bincount(code[trial & success], minlength=n_slices)
    answers = {}
    for i, metric in enumerate(METRICS):
        at_least = metric in ("recall", "precision", "accuracy")
        verdicts = _decide(counts[metric][:, 1], counts[metric][:, 0], THRESHOLDS[metric], at_least)
        answers[f"MLR-{i + 1}"] = {
            "counts": counts[metric].tolist(),
            "verdicts": verdicts,
        }
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "peak_mib": _peak_mib(), "answers": answers}


def _agree(amlas: dict[str, Any], plain: dict[str, Any]) -> list[str]:
    problems = []
    for subject, expected in plain.items():
        got = amlas.get(subject)
        if got is None:
            problems.append(f"{subject}: no amlas record")
            continue
        mine = [(s[1], s[2], s[3]) for s in got["slices"]]
        theirs = [
            (n, k, v) for (n, k), v in zip(expected["counts"], expected["verdicts"], strict=True)
        ]
        if mine != theirs:
            problems.append(f"{subject}: amlas {mine[:3]}... plain {theirs[:3]}...")
    return problems


def _child(kind: str, root: Path, plain: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(root), str(plain)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def child_model(plain: Path, hidden: int) -> dict[str, Any]:
    """The model alone on every row of ``plain``, on one core (the parent sets
    OPENBLAS_NUM_THREADS=1, as Dask's nanny does for its workers): the work a worker
    cannot avoid, read and converted beforehand, untimed."""
    import pyarrow.parquet as pq

    model = _model(hidden)
    batches = [
        np.column_stack([b.column(f).to_numpy() for f in FEATURES]).astype(np.float64)
        for b in pq.ParquetFile(plain).iter_batches(batch_size=SPEEDUP_BATCH)
    ]
    start = time.perf_counter()
    for x in batches:
        model.predict_proba(x)
    return {"seconds": time.perf_counter() - start, "peak_mib": _peak_mib(), "answers": {}}


def _load() -> str:
    """The 1-minute load average, for the printed figures (the machine is shared)."""
    with open("/proc/loadavg", encoding="ascii") as handle:
        return handle.read().split()[0]


def speedup(rows: int, keep: Path | None, hidden: list[int], repeat: int = 1) -> None:
    """The Dask engine on 1 and on 2 workers (one thread each), on [P] sealed (the client
    decrypts and ships the rows as Arrow buffers) and in plaintext (the workers read their
    own row ranges from the shared path), for each model width in ``hidden``: the model's
    own time on one core, and its share of the 1-worker run, say how inference-bound
    each run is (the criterion of issue 16 is about an inference-bound run; a light model
    measures the reading as much as the model, and its figure is printed as well).

    With ``repeat`` > 1 the 1-worker and 2-worker runs alternate ``repeat`` times and
    each pair's speed-up is printed, then their median: on a shared machine (a virtual
    one here) the same run's time drifts by up to 20% within the hour, and a pair of
    neighbouring runs shares the drift that two runs minutes apart do not."""
    import os
    import statistics

    for width in hidden:
        base = Path(tempfile.mkdtemp(prefix="amlas-engine-speedup-", dir=keep))
        try:
            plain = generate(base / "project", rows, hidden=width, unsealed=base / "plaintext")
            os.environ["OPENBLAS_NUM_THREADS"] = "1"  # for the model-alone child only
            alone = _child(f"model{width}", base / "project", plain)
            del os.environ["OPENBLAS_NUM_THREADS"]
            print(
                f"{rows:,} rows, a 30-{width}-{width}-2 MLP, batches of {SPEEDUP_BATCH:,}, "
                "chunks of the engine's default size (at least 8 per worker, whole batches)"
            )
            print(f"  the model alone, one core : {alone['seconds']:7.2f} s (load {_load()})")
            for name, label in (("project", "sealed [P]"), ("plaintext", "plaintext [P]")):
                print(f"  {label}:")
                ratios = []
                same = True
                first: dict[str, Any] | None = None
                for _ in range(repeat):
                    one = _child("dask1", base / name, plain)
                    load_one = _load()
                    two = _child("dask2", base / name, plain)
                    load_two = _load()
                    first = first or one
                    same = same and one["answers"] == two["answers"] == first["answers"]
                    ratios.append(one["seconds"] / two["seconds"])
                    share = alone["seconds"] / one["seconds"]
                    print(
                        f"    1 worker {one['seconds']:6.2f} s (load {load_one}; the model is "
                        f"{share:.0%} of it), 2 workers {two['seconds']:6.2f} s (load "
                        f"{load_two}): speed-up {ratios[-1]:.2f}"
                    )
                ratio = statistics.median(ratios)
                print(
                    f"    speed-up {ratio:.2f}{' (median)' if repeat > 1 else ''}, efficiency "
                    f"{ratio / 2:.2f} (target >= 1.6, 0.8); lowest {min(ratios):.2f}"
                )
                print(f"    records identical: {'yes' if same else 'NO'}")
        finally:
            if keep is None:
                shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--keep", type=Path, default=None, help="keep the projects here")
    parser.add_argument(
        "--speedup",
        type=int,
        default=0,
        metavar="ROWS",
        help="instead: inference-bound runs (30-H-H-2 MLPs, --hidden) of ROWS rows on a "
        "LocalCluster of 1 and of 2 one-thread workers; their speed-up and records",
    )
    parser.add_argument(
        "--hidden",
        type=int,
        nargs="+",
        default=[512, 1024],
        metavar="H",
        help="with --speedup: the widths of the MLP's hidden layers, one run each "
        "(default 512, the benchmark's model, and 1024, about four times its arithmetic)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="with --speedup: alternate the 1-worker and 2-worker runs N times and print "
        "the median speed-up (the runs of a shared machine drift)",
    )
    parser.add_argument("--child", nargs=3, metavar=("KIND", "ROOT", "PLAIN"), default=None)
    args = parser.parse_args()
    if args.child is not None:
        kind, root, plain = args.child
        if kind.startswith("model"):
            out = child_model(Path(plain), hidden=int(kind[5:]))
        elif kind.startswith("dask"):
            out = child_amlas(Path(root), workers=int(kind[4:]))
        elif kind == "amlas":
            out = child_amlas(Path(root))
        else:
            out = child_plain(Path(root), Path(plain))
        print(json.dumps(out))
        return
    if args.speedup:
        if args.repeat < 1:
            parser.error(f"--repeat {args.repeat}: expected at least 1")
        speedup(args.speedup, args.keep, args.hidden, args.repeat)
        return
    base = Path(tempfile.mkdtemp(prefix="amlas-verification-scale-", dir=args.keep))
    peaks = {}
    try:
        for rows in args.rows:
            folder = base / f"rows-{rows}"
            start = time.perf_counter()
            plain = generate(folder / "project", rows)
            made = time.perf_counter() - start
            amlas = _child("amlas", folder / "project", plain)
            reference = _child("plain", folder / "project", plain)
            problems = _agree(amlas["answers"], reference["answers"])
            ratio = amlas["seconds"] / reference["seconds"]
            peaks[rows] = amlas["peak_mib"]
            print(
                f"{rows:>11,} rows x 30 features, 6 requirements x 20 slices "
                f"(generated and sealed in {made:.1f} s)"
            )
            print(
                f"  amlas stage 5 : {amlas['seconds']:7.2f} s, "
                f"peak RSS {amlas['peak_mib']:7.0f} MiB"
            )
            print(
                f"  plain numpy   : {reference['seconds']:7.2f} s, peak RSS "
                f"{reference['peak_mib']:7.0f} MiB"
            )
            print(f"  ratio amlas / plain: {ratio:.2f} (target <= 1.30)")
            print(f"  answers agree: {'yes' if not problems else 'NO: ' + '; '.join(problems)}")
            for warning in amlas["warnings"]:
                print(f"  amlas warned: {warning}")
            shutil.rmtree(folder, ignore_errors=True)
        if len(peaks) > 1:
            sizes = sorted(peaks)
            print(
                f"peak RSS from {sizes[0]:,} to {sizes[-1]:,} rows: {peaks[sizes[0]]:.0f} -> "
                f"{peaks[sizes[-1]]:.0f} MiB (target: under 3072 MiB, not growing with the rows)"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
