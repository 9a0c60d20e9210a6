"""How the independence check (R9) and the duplicates rule scale with repeated rows and
with metadata-only tables.

Cases, each run in a fresh subprocess so that its peak memory is its own (the peak is
read from /proc after the data are built, Linux only):

- distinct: ROWS x ROWS/4 samples of 8 float features, all distinct;
- repeated: the same with 1% of each set identical (all-zero sensor frames);
- metadata: 30k x 20k rows with no model-input column (images described by a metadata
  table), once with nothing to compare and once with a declared content column holding
  each image file's hash (100 shared).

For each case it prints the time and peak memory of ``check_independence`` (the content
hashes included, as ``amlas run`` computes them) and of a plain numpy/scipy computation of
the same answers (exact pairs from ``np.unique`` over row bytes, near pairs from a k-d
tree over distinct rows), their ratio, and whether the answers agree. For distinct and
repeated it also times the ``duplicates`` rule on the first set. Target: the repeated
case within 1.5x the distinct case's time and memory. Prints figures and ratios; asserts
nothing (machines are noisy).

    .venv/bin/python benchmarks/independence_scale.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from amlas.adapters import Table
from amlas.checks import Dataset, check_independence, run_data_rule
from amlas.project.artefacts import DataRequirement
from amlas.project.artefacts.data import DevelopmentData, Independence, InternalTestData

FEATURES = [f"f{j}" for j in range(8)]
DISTANCE = 0.01
TARGET_RATIO = 1.5


# -- data -----------------------------------------------------------------------------------


def _dataset(letter: str, columns: dict[str, Any], features: list[str], **doc: Any) -> Dataset:
    model = DevelopmentData if letter == "N" else InternalTestData
    document = model.model_validate(
        {
            "artefact": letter,
            "version": "1",
            "description": "generated",
            "location": f"data/{letter}.csv",
            "format": "csv",
            "label_column": "label",
            "id_column": "id",
            "source": "generated",
            **doc,
        }
    )
    table = Table(columns, sha256="0" * 64, source=f"{letter}.csv")
    n = len(table)
    return Dataset(letter, document, table, columns["id"], np.full(n, "pos"), features, {}, {})


def _tabular(letter: str, n: int, repeated: float, seed: int) -> tuple[Dataset, NDArray[Any]]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    x[: int(n * repeated)] = 0.0  # identical frames, at the start of the file
    rng.shuffle(x)
    columns: dict[str, Any] = {name: x[:, j].copy() for j, name in enumerate(FEATURES)}
    columns["id"] = np.char.add(f"{letter}-", np.arange(n).astype(np.str_))
    return _dataset(letter, columns, FEATURES), x


def _metadata(letter: str, n: int, shared: int, declared: bool) -> Dataset:
    """Rows describing images: id, file name and the file's hash; no model input. The
    first ``shared`` images of a second set are images of the first."""
    first = 0 if letter == "N" else 10**7
    numbers = np.arange(n) + first
    if letter != "N":
        numbers[:shared] = np.arange(shared)
    columns = {
        "id": np.char.add(f"{letter}-", np.arange(n).astype(np.str_)),
        "file": np.char.add("img-", numbers.astype(np.str_)),
        "file_sha256": np.char.add("sha-", numbers.astype(np.str_)),
    }
    return _dataset(letter, columns, [], content_columns=["file_sha256"] if declared else [])


# -- measuring ------------------------------------------------------------------------------


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) * 1024
    return 0


def _measured(run: Any) -> tuple[Any, float, int]:
    """(result, seconds, peak bytes above the memory in use before: the data are built
    already, so this is what the computation itself holds at its peak)."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to now
    before = _status("VmRSS")
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    return result, seconds, max(_status("VmHWM") - before, 0)


def _reference_exact(xa: NDArray[Any], xb: NDArray[Any]) -> tuple[int, int, int]:
    """(pairs, samples of a, samples of b) with identical rows, by np.unique."""
    width = f"V{8 * xa.shape[1]}"
    ua, ca = np.unique(np.ascontiguousarray(xa + 0.0).view(width).ravel(), return_counts=True)
    ub, cb = np.unique(np.ascontiguousarray(xb + 0.0).view(width).ravel(), return_counts=True)
    _, ia, ib = np.intersect1d(ua, ub, assume_unique=True, return_indices=True)
    return int(np.dot(ca[ia], cb[ib])), int(ca[ia].sum()), int(cb[ib].sum())


def _reference_near(xa: NDArray[Any], xb: NDArray[Any]) -> int:
    """Pairs within DISTANCE that are not identical, over distinct rows with counts."""
    ua, ca = np.unique(xa, axis=0, return_counts=True)
    ub, cb = np.unique(xb, axis=0, return_counts=True)
    mean, std = xa.mean(axis=0), xa.std(axis=0)
    za, zb = (ua - mean) / std, (ub - mean) / std
    radius = DISTANCE * np.sqrt(xa.shape[1])
    tree = cKDTree(zb)
    found, _ = tree.query(za, k=1, distance_upper_bound=radius * (1 + 1e-12))
    hits = np.flatnonzero(np.isfinite(found))
    total = 0
    for i, ball in zip(hits.tolist(), tree.query_ball_point(za[hits], r=radius), strict=True):
        for j in ball:
            if not np.array_equal(ua[i], ub[j]):
                total += int(ca[i] * cb[j])
    return total


def child(case: str, rows: int) -> dict[str, Any]:
    if case in ("distinct", "repeated"):
        share = 0.01 if case == "repeated" else 0.0
        a, xa = _tabular("N", rows, share, 1)
        b, xb = _tabular("O", rows // 4, share, 2)
        outcome, seconds, peak = _measured(lambda: check_independence(a, b, Independence()))
        found = {r["kind"]: r for r in outcome.results}
        got = [
            found["exact_duplicates"]["count"],
            found["exact_duplicates"]["samples"]["N"],
            found["exact_duplicates"]["samples"]["O"],
            found["near_duplicates"]["count"],
        ]
        expected, ref_seconds, ref_peak = _measured(
            lambda: [*_reference_exact(xa, xb), _reference_near(xa, xb)]
        )
        rule = DataRequirement.model_validate(
            {
                "id": "DR-1",
                "category": "balance",
                "text": "t",
                "rule": {"check": "duplicates", "max_rate": 0.02, "near_duplicate_distance": 0.01},
            }
        )
        within, rule_seconds, rule_peak = _measured(
            lambda: run_data_rule(None, rule, a)  # type: ignore[arg-type]  # unused by this rule
        )
        return {
            "seconds": seconds,
            "peak": peak,
            "ref_seconds": ref_seconds,
            "ref_peak": ref_peak,
            "agree": got == expected,
            "answer": f"exact {got[0]} pairs ({got[1]} + {got[2]} samples), near {got[3]} pairs",
            "verdict": outcome.verdict,
            "rule": f"{within.results[0]['duplicates']} of {rows} duplicate an earlier sample",
            "rule_seconds": rule_seconds,
            "rule_peak": rule_peak,
        }
    declared = case == "metadata+content"
    a, b = _metadata("N", 30_000, 100, declared), _metadata("O", 20_000, 100, declared)
    outcome, seconds, peak = _measured(lambda: check_independence(a, b, Independence()))
    found = {r["kind"]: r for r in outcome.results}
    got = found["exact_duplicates"]["count"] if "exact_duplicates" in found else None

    def reference() -> int | None:
        np.intersect1d(a.ids, b.ids)  # the shared ids, which both compare
        if not declared:
            return None
        ua, ca = np.unique(a.table.columns["file_sha256"], return_counts=True)
        ub, cb = np.unique(b.table.columns["file_sha256"], return_counts=True)
        _, ia, ib = np.intersect1d(ua, ub, assume_unique=True, return_indices=True)
        return int(np.dot(ca[ia], cb[ib]))

    expected, ref_seconds, ref_peak = _measured(reference)
    return {
        "seconds": seconds,
        "peak": peak,
        "ref_seconds": ref_seconds,
        "ref_peak": ref_peak,
        "agree": got == expected,
        "answer": outcome.summary[:150],
        "verdict": outcome.verdict,
    }


def _run(case: str, rows: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", case, "--rows", str(rows)]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.splitlines()[-1])
    return result


def _mib(size: float) -> str:
    return f"{size / 2**20:8.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="samples of the first set")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.rows)))
        return
    rows = args.rows
    print(f"independence of {rows:,} x {rows // 4:,} samples, 8 features, distance {DISTANCE}")
    results = {}
    for case in ("distinct", "repeated", "metadata", "metadata+content"):
        r = results[case] = _run(case, rows)
        print(
            f"{case:17} amlas {r['seconds']:7.2f} s {_mib(r['peak'])} | numpy/scipy "
            f"{r['ref_seconds']:6.2f} s {_mib(r['ref_peak'])} | ratio "
            f"{r['seconds'] / max(r['ref_seconds'], 1e-9):5.1f} | answers agree: {r['agree']}"
        )
        print(f"{'':17} {r['verdict']}: {r['answer']}")
        if "rule" in r:
            print(
                f"{'':17} duplicates rule on [N]: {r['rule_seconds']:.2f} s "
                f"{_mib(r['rule_peak'])} ({r['rule']})"
            )
    distinct, repeated = results["distinct"], results["repeated"]
    time_ratio = repeated["seconds"] / distinct["seconds"]
    memory_ratio = repeated["peak"] / max(distinct["peak"], 1)
    print(
        f"repeated / distinct: time {time_ratio:.2f}, peak memory {memory_ratio:.2f} "
        f"(target <= {TARGET_RATIO})"
    )


if __name__ == "__main__":
    main()
