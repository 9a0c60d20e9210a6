"""How long stage 3 (the data rules of [L] and the independence of [N] and [O]) takes on
large tables, against a plain numpy/pyarrow computation of the same answers.

Generates, deterministically, a copy of the bundled breast-cancer-triage project whose
development data [N] (default 1,000,000 rows) and internal test data [O] (default
250,000 rows) are CSV files of 30 float features (two of them the numeric ODD
dimensions), the label, a sample id, a patient (the group column), a categorical ODD
column ``site`` and a text column ``scanner``. Some rows repeat an earlier row exactly
or nearly, and some rows of [O] repeat rows of [N], so that every answer has something
to count. [L] carries every built-in data rule (within_odd, schema_conformance,
min_samples_per_cell with and without a class, class_balance, slice_balance,
label_error_rate from an audit file, duplicates with a near-duplicate distance) and the
default independence settings.

It then times, in the same process:

- amlas: load the project, plan stage 3 for the developer role and execute it (records
  committed to a store in a temporary folder);
- the reference: the same answers computed from the same files with pyarrow, numpy and
  scipy directly (file SHA-256, samples digests, counts, exact duplicates by ``np.unique``
  over row bytes, near duplicates by a k-d tree over distinct rows);

and prints both times, their ratio (target: at most 1.3), the peak memory of the process
(``ru_maxrss``) after each, and whether the answers agree. Asserts nothing about time
(machines are noisy).

    .venv/bin/python benchmarks/data_checks_scale.py [--rows 1000000] [--test-rows 250000]

``--chunked`` runs stage 3 in chunks (``--chunk-rows``, default 262,144) at two sizes
(``--sizes``, default 1M + 250k and 4M + 1M rows), each in its own process, with the
near-duplicate searches at ``--distance`` (default 0.01; 0 turns them off), and prints
each run's time and peak memory from after the project check, whether its answers agree
with the plain computation, and the ratio of the two peaks (a bounded run keeps it near
1).
"""

from __future__ import annotations

import argparse
import binascii
import hashlib
import importlib.resources
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import yaml
from numpy.typing import NDArray
from scipy.spatial import cKDTree

import amlas
from amlas.verify import execute, plan

TARGET_RATIO = 1.3
SITES = ["clinic-a", "clinic-b", "clinic-c", "mobile-unit"]
SCANNERS = [f"scanner-{k}" for k in range(8)]
CLASSES = ["malignant", "benign"]
DISTANCE = 0.01
AUDITED = 400
VERIFICATION_ROWS = 1000


# -- the project ----------------------------------------------------------------------------


def _features(root: Path) -> list[str]:
    component = yaml.safe_load((root / "1-scoping/D-ml-component.yaml").read_text())
    return [f["name"] for f in component["inputs"]["features"]]


def _table(n: int, seed: int, letter: str, features: list[str]) -> pa.Table:
    """One dataset: features on a 1e-4 grid (as a lab writes them), 0.5% exact repeats of
    an earlier row, 0.2% near repeats."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(features)))
    x[:, 0] = rng.uniform(6.0, 29.0, n)  # mean_radius: nuclear-size in [5, 30]
    x[:, 1] = rng.uniform(9.0, 41.0, n)  # mean_texture: nuclear-texture in [8, 42]
    x = np.round(x, 4)
    exact = rng.choice(np.arange(n // 2, n), n // 200, replace=False)
    x[exact] = x[rng.integers(0, n // 2, len(exact))]
    near = rng.choice(np.arange(n // 2, n), n // 500, replace=False)
    x[near] = x[rng.integers(0, n // 2, len(near))]
    x[near, 2] += 1e-4
    label = np.where(rng.random(n) < 0.37, 0, 1)
    columns: dict[str, Any] = {
        "sample_id": pa.array(np.char.add(f"{letter}-", np.arange(n).astype(np.str_))),
        "diagnosis": pa.DictionaryArray.from_arrays(label, CLASSES).dictionary_decode(),
        "patient": pa.array(
            np.char.add(f"{letter}P-", rng.integers(0, max(n // 3, 1), n).astype(np.str_))
        ),
        "site": pa.DictionaryArray.from_arrays(
            rng.integers(0, len(SITES), n), SITES
        ).dictionary_decode(),
        "scanner": pa.DictionaryArray.from_arrays(
            rng.integers(0, len(SCANNERS), n), SCANNERS
        ).dictionary_decode(),
    }
    for j, name in enumerate(features):
        columns[name] = pa.array(x[:, j])
    return pa.table(columns)


def _dump(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def generate(root: Path, rows: int, test_rows: int, distance: float = DISTANCE) -> dict[str, Path]:
    """The project at ``root`` with generated [N] and [O] (near duplicates searched within
    ``distance``; 0: not searched); returns their files."""
    example = importlib.resources.files("amlas") / "_examples" / "breast-cancer-triage"
    with importlib.resources.as_file(example) as source:
        shutil.copytree(source, root)
    features = _features(root)
    environment = yaml.safe_load((root / "1-scoping/B-operating-environment.yaml").read_text())
    environment["dimensions"].append(
        {
            "id": "site",
            "name": "Referring site",
            "description": "Where the aspirate was taken.",
            "column": "site",
            "kind": "categorical",
            "values": SITES,
        }
    )
    _dump(root / "1-scoping/B-operating-environment.yaml", environment)
    files = {
        "N": root / "data/development.csv",
        "O": root / "data/internal-test.csv",
        "P": root / "data/verification.csv",
    }
    n = _table(rows, 1, "N", features)
    o = _table(test_rows, 2, "O", features)
    # leakage: a few rows of [N] reappear in [O] (new ids), and a few ids are shared
    leak = min(100, test_rows // 10, rows)
    o_rows = {name: o.column(name).to_numpy(zero_copy_only=False).copy() for name in features}
    for name in features:
        o_rows[name][:leak] = n.column(name).to_numpy()[:leak]
    o = pa.table(
        {
            name: (pa.array(o_rows[name]) if name in o_rows else o.column(name))
            for name in o.column_names
        }
    )
    ids = o.column("sample_id").to_numpy(zero_copy_only=False).copy()
    ids[leak : leak + 3] = [f"N-{k}" for k in range(3)][: len(ids[leak : leak + 3])]
    o = o.set_column(0, "sample_id", pa.array(ids))
    pa_csv.write_csv(n, files["N"])
    pa_csv.write_csv(o, files["O"])
    pa_csv.write_csv(_table(VERIFICATION_ROWS, 3, "P", features), files["P"])
    audit_ids = n.column("sample_id").to_numpy(zero_copy_only=False)[: min(AUDITED, rows)]
    audit_labels = n.column("diagnosis").to_numpy(zero_copy_only=False)[: len(audit_ids)].copy()
    audit_labels[:2] = ["benign" if v == "malignant" else "malignant" for v in audit_labels[:2]]
    pa_csv.write_csv(
        pa.table({"sample_id": audit_ids, "audited_label": audit_labels}),
        root / "data/label-audit.csv",
    )
    counts = {"N": rows, "O": test_rows, "P": VERIFICATION_ROWS}
    for letter, name in (
        ("N", "N-development-data.yaml"),
        ("O", "O-internal-test-data.yaml"),
        ("P", "P-verification-data.yaml"),
    ):
        path = root / "3-data" / name
        document = yaml.safe_load(path.read_text())
        with files[letter].open("rb") as handle:
            document["sha256"] = hashlib.file_digest(handle, "sha256").hexdigest()
        document["samples"] = counts[letter]
        document["group_column"] = "patient"
        _dump(path, document)
    requirements = yaml.safe_load((root / "3-data/L-data-requirements.yaml").read_text())
    extra = [
        {
            "id": "DR-20",
            "category": "completeness",
            "text": "Every site and nuclear-size band holds 50 malignant samples.",
            "traces_to": ["MLR-2"],
            "rule": {
                "check": "min_samples_per_cell",
                "dimensions": ["nuclear-size", "site"],
                "class": "malignant",
                "min_samples": 50,
            },
        },
        {
            "id": "DR-21",
            "category": "balance",
            "text": "Each site holds at least 10% of the samples.",
            "traces_to": ["MLR-2"],
            "rule": {"check": "slice_balance", "dimension": "site", "min_fraction": 0.1},
        },
        {
            "id": "DR-22",
            "category": "balance",
            "text": "At most 2% of the samples duplicate another, nearly or exactly.",
            "traces_to": ["MLR-1"],
            "rule": {
                "check": "duplicates",
                "max_rate": 0.02,
                "near_duplicate_distance": distance,
            },
        },
    ]
    requirements["requirements"].extend(extra)
    for item in requirements["requirements"]:
        if item["id"] == "DR-1":
            item["rule"]["dimensions"] = ["nuclear-size", "nuclear-texture", "site"]
    requirements["independence"] = {"near_duplicate_distance": distance}
    _dump(root / "3-data/L-data-requirements.yaml", requirements)
    justification = yaml.safe_load((root / "3-data/M-data-justification.yaml").read_text())
    justification["arguments"][0]["data_requirements"].extend(r["id"] for r in extra)
    _dump(root / "3-data/M-data-justification.yaml", justification)
    return files


# -- amlas ----------------------------------------------------------------------------------


def run_amlas(project: Any, store: Path) -> dict[str, dict[str, Any]]:
    """Stage 3 as `amlas run --stages 3` runs it on a loaded project."""
    work = plan(project, role="developer", stages=[3])
    report = execute(work, store=f"fs://{store}")
    return {f"{r.subject}@{r.dataset}": r.model_dump(mode="json") for _, r in report.records}


# -- the reference --------------------------------------------------------------------------


def _read(path: Path) -> pa.Table:
    return pa_csv.read_csv(path)


def _codes(column: pa.ChunkedArray) -> tuple[NDArray[np.int64], list[str]]:
    encoded = pc.dictionary_encode(column).combine_chunks()
    return encoded.indices.to_numpy().astype(np.int64), encoded.dictionary.to_pylist()


def _digest(x: NDArray[np.float64], labels: pa.ChunkedArray) -> str:
    """The samples digest: SHA-256 over 'row SHA-256 hex:label\\n' for every row."""
    buffer = np.ascontiguousarray(x + 0.0, dtype="<f8")
    view = memoryview(buffer).cast("B")
    width = 8 * x.shape[1]
    sha = hashlib.sha256
    raw = b"".join([sha(view[i * width : (i + 1) * width]).digest() for i in range(len(x))])
    hexes = pa.array(np.frombuffer(binascii.hexlify(raw), dtype=f"S{64}").astype(object))
    lines = pc.binary_join_element_wise(
        hexes.cast(pa.string()), pc.binary_join_element_wise(labels, "\n", ""), ":"
    ).combine_chunks()
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[: len(lines) + 1]
    data = lines.buffers()[2]
    return hashlib.sha256(memoryview(data)[offsets[0] : offsets[-1]]).hexdigest()


def _rows(x: NDArray[np.float64]) -> NDArray[Any]:
    return np.ascontiguousarray(x + 0.0).view(f"V{8 * x.shape[1]}").ravel()


def _earlier(x: NDArray[np.float64], radius: float) -> tuple[int, int]:
    """(exact, near-only) samples duplicating an earlier sample (no near search when
    ``radius`` is 0)."""
    _, first, inverse = np.unique(_rows(x), return_index=True, return_inverse=True)
    exact = int((first[inverse] < np.arange(len(x))).sum())
    if radius <= 0:
        return exact, 0
    mean, std = x.mean(axis=0), x.std(axis=0)
    z = (x[first] - mean) / std
    tree = cKDTree(z)
    second, _ = tree.query(z, k=2, distance_upper_bound=radius * (1 + 1e-12))
    hits = np.flatnonzero(np.isfinite(second[:, 1]))
    earliest = first.copy()
    for u, ball in zip(hits.tolist(), tree.query_ball_point(z[hits], r=radius), strict=True):
        earliest[u] = first[ball].min()
    near = int((earliest[inverse] < np.arange(len(x))).sum()) - exact
    return exact, near


def _cross(xa: NDArray[np.float64], xb: NDArray[np.float64], radius: float) -> tuple[int, int]:
    """(exact pairs, near pairs that are not exact) across two sets."""
    ua, ca = np.unique(_rows(xa), return_counts=True)
    ub, cb = np.unique(_rows(xb), return_counts=True)
    _, ia, ib = np.intersect1d(ua, ub, assume_unique=True, return_indices=True)
    exact = int(np.dot(ca[ia], cb[ib]))
    if radius <= 0:
        return exact, 0
    width = xa.shape[1]
    va = ua.view(np.float64).reshape(-1, width)
    vb = ub.view(np.float64).reshape(-1, width)
    mean, std = xa.mean(axis=0), xa.std(axis=0)
    tree = cKDTree((vb - mean) / std)
    za = (va - mean) / std
    nearest, _ = tree.query(za, k=1, distance_upper_bound=radius * (1 + 1e-12))
    hits = np.flatnonzero(np.isfinite(nearest))
    near = 0
    for i, ball in zip(hits.tolist(), tree.query_ball_point(za[hits], r=radius), strict=True):
        for j in ball:
            if ua[i] != ub[j]:
                near += int(ca[i] * cb[j])
    return exact, near


def reference(root: Path, files: dict[str, Path], distance: float = DISTANCE) -> dict[str, Any]:
    """The answers amlas's stage 3 gives, computed directly: every rule on [N], [O] and
    [P] (the developer may read all three here: [P] is not sealed in this example), the
    label audit on [N], and the independence of every pair."""
    features = _features(root)
    radius = distance * np.sqrt(len(features))
    out: dict[str, Any] = {}
    data: dict[str, Any] = {}
    for letter, path in files.items():
        with path.open("rb") as handle:
            out[f"sha256@{letter}"] = hashlib.file_digest(handle, "sha256").hexdigest()
        table = _read(path)
        x = np.column_stack([table.column(f).to_numpy() for f in features])
        label, classes = _codes(table.column("diagnosis"))
        site, sites = _codes(table.column("site"))
        site_code = np.array([SITES.index(s) if s in SITES else -1 for s in sites])[site]
        size = np.digitize(x[:, 0], [13.0, 17.0])
        texture = np.digitize(x[:, 1], [17.0, 21.0])
        malignant = label == classes.index("malignant")
        inside = (x[:, 0] >= 5) & (x[:, 0] <= 30) & (x[:, 1] >= 8) & (x[:, 1] <= 42)
        out[f"DR-1@{letter}"] = int((~inside | (site_code < 0)).sum())
        out[f"DR-2@{letter}"] = int((~np.isfinite(x)).any(axis=0).sum())
        out[f"DR-4@{letter}"] = np.bincount(size[malignant], minlength=3).tolist()
        out[f"DR-5@{letter}"] = np.bincount(size * 3 + texture, minlength=9).tolist()
        out[f"DR-8@{letter}"] = int(malignant.sum())
        out[f"DR-9@{letter}"] = np.bincount(size, minlength=3).tolist()
        cell = size * len(SITES) + site_code
        out[f"DR-20@{letter}"] = np.bincount(cell[malignant], minlength=12).tolist()
        out[f"DR-21@{letter}"] = np.bincount(site_code, minlength=len(SITES)).tolist()
        out[f"DR-22@{letter}"] = _earlier(x, radius)
        out[f"samples@{letter}"] = _digest(x, table.column("diagnosis"))
        data[letter] = (table, x)
    audit = _read(root / "data/label-audit.csv")
    n_table = data["N"][0]
    at = pc.index_in(audit.column("sample_id"), n_table.column("sample_id"))
    found = pc.take(n_table.column("diagnosis"), pc.drop_null(at))
    out["DR-6@N"] = int(pc.sum(pc.not_equal(found, audit.column("audited_label"))).as_py())
    for first, second in (("N", "O"), ("N", "P"), ("O", "P")):
        (a, xa), (b, xb) = data[first], data[second]
        pair = f"{first}+{second}"
        shared = pc.is_in(b.column("sample_id"), value_set=a.column("sample_id"))
        out[f"ids@{pair}"] = int(pc.sum(shared).as_py() or 0)
        groups_a, groups_b = pc.unique(a.column("patient")), pc.unique(b.column("patient"))
        out[f"groups@{pair}"] = int(pc.sum(pc.is_in(groups_b, value_set=groups_a)).as_py() or 0)
        out[f"dup@{pair}"] = _cross(xa, xb, radius)
    return out


# -- comparing ------------------------------------------------------------------------------


def amlas_answers(records: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, record in records.items():
        subject, letter = key.split("@")
        results = record["results"]
        inputs = record["inputs"]
        if subject == "independence":
            kinds = {r["kind"]: r for r in results}
            out[f"ids@{letter}"] = kinds["shared_ids"]["count"]
            out[f"groups@{letter}"] = kinds["shared_groups"]["count"]
            out[f"dup@{letter}"] = (
                kinds["exact_duplicates"]["count"],
                kinds["near_duplicates"]["count"] if "near_duplicates" in kinds else 0,
            )
            for one in letter.split("+"):
                out[f"samples@{one}"] = inputs[f"samples:{one}"]
                out[f"sha256@{one}"] = inputs[f"dataset:{one}"]
        elif subject == "DR-1":
            out[key] = round(record["resolved"]["outside_fraction"] * _count(records, letter))
        elif subject == "DR-2":
            out[key] = len(results)
        elif subject in ("DR-4", "DR-5", "DR-9", "DR-20", "DR-21"):
            out[key] = [r["samples"] for r in results]
        elif subject == "DR-8":
            out[key] = results[0]["samples"]
        elif subject == "DR-6":
            out[key] = results[0]["errors"]
        elif subject == "DR-22":
            out[key] = (results[0]["exact"], results[0]["near"])
    return out


def _count(records: dict[str, dict[str, Any]], letter: str) -> int:
    return int(records[f"DR-8@{letter}"]["results"][0]["of"])


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _hwm_gib(field: str = "VmHWM") -> float:
    """The process's peak resident memory since it was last reset (``VmRSS``: its
    resident memory now)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 2**20
    return _peak_gib()


def run_child(root: Path, chunk_rows: int, out: Path) -> None:
    """Stage 3 of the project at ``root`` in chunks of ``chunk_rows``, in this process:
    its peak memory (from after the project check: Linux resets the peak on writing 5
    to /proc/self/clear_refs), time, warnings and answers, written to ``out`` as JSON."""
    project = amlas.load(root)
    Path("/proc/self/clear_refs").write_text("5")
    before = _hwm_gib("VmRSS")
    start = time.perf_counter()
    work = plan(project, role="developer", stages=[3])
    report = execute(work, store=f"fs://{root.parent / 'store'}", chunk_rows=chunk_rows)
    seconds = time.perf_counter() - start
    records = {f"{r.subject}@{r.dataset}": r.model_dump(mode="json") for _, r in report.records}
    out.write_text(
        json.dumps(
            {
                "peak_gib": _hwm_gib(),
                "before_gib": before,
                "seconds": seconds,
                "warnings": list(report.warnings),
                "answers": amlas_answers(records),
            }
        )
    )


def chunked(sizes: list[tuple[int, int]], chunk_rows: int, distance: float) -> None:
    """``--chunked``: stage 3 in chunks on each size, each run in its own process, its
    peak memory printed and its answers compared with the plain computation's."""
    searched = f"near_duplicate_distance {distance}" if distance > 0 else "no near search"
    print(f"stage 3 in chunks of {chunk_rows:,} rows; {searched}")
    peaks = []
    for rows, test_rows in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "project"
            files = generate(root, rows, test_rows, distance=distance)
            size = sum(p.stat().st_size for p in files.values()) / 2**20
            out = Path(tmp) / "child.json"
            subprocess.run(
                [sys.executable, __file__, "--child", str(root), "--chunk-rows", str(chunk_rows),
                 "--child-out", str(out)],
                check=True,
            )  # fmt: skip
            child = json.loads(out.read_text())
            expected = reference(root, files, distance=distance)
        got = {k: tuple(v) if isinstance(v, list) and k.startswith(("dup@", "DR-22@")) else v
               for k, v in child["answers"].items()}  # fmt: skip
        disagree = sorted(k for k in expected if got.get(k) != expected[k])
        peaks.append(child["peak_gib"])
        print(
            f"[N] {rows:,} + [O] {test_rows:,} rows ({size:,.0f} MiB of CSV): stage 3 "
            f"{child['seconds']:.1f} s, peak memory {child['peak_gib']:.2f} GiB "
            f"({child['before_gib']:.2f} GiB resident when it starts, after the project "
            f"check); load {os.getloadavg()[0]:.2f}"
        )
        for warning in child["warnings"]:
            print(f"  warning: {warning}")
        if disagree:
            for key in disagree:
                print(f"  DISAGREE {key}: amlas {got.get(key)!r}, reference {expected[key]!r}")
        else:
            print(f"  answers agree with the plain computation ({len(expected)} compared)")
    ratio = peaks[-1] / peaks[0]
    grown = (sum(sizes[-1]) / sum(sizes[0])) if sizes else 1.0
    print(f"peak memory ratio {ratio:.2f} for {grown:.1f}x the rows (bounded: about 1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of [N]")
    parser.add_argument("--test-rows", type=int, default=250_000, help="rows of [O]")
    parser.add_argument(
        "--chunked",
        action="store_true",
        help="stage 3 in chunks at two sizes (--sizes): peak memory and answers",
    )
    parser.add_argument("--chunk-rows", type=int, default=262_144)
    parser.add_argument(
        "--distance", type=float, default=0.01, help="near-duplicate distance of --chunked"
    )
    parser.add_argument(
        "--sizes",
        default="1000000:250000,4000000:1000000",
        help="rows of [N]:[O] per run of --chunked",
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        run_child(args.child, args.chunk_rows, args.child_out)
        return
    if args.chunked:
        sizes = [tuple(int(x) for x in pair.split(":")) for pair in args.sizes.split(",")]
        chunked(sizes, args.chunk_rows, args.distance)  # type: ignore[arg-type]
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        start = time.perf_counter()
        files = generate(root, args.rows, args.test_rows)
        size = sum(p.stat().st_size for p in files.values()) / 2**20
        print(
            f"[N] {args.rows:,} + [O] {args.test_rows:,} rows x 30 features "
            f"({size:,.0f} MiB of CSV), generated in {time.perf_counter() - start:.1f} s"
        )
        start = time.perf_counter()
        project = amlas.load(root)
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        records = run_amlas(project, Path(tmp) / "store")
        amlas_s = time.perf_counter() - start
        amlas_peak = _peak_gib()
        start = time.perf_counter()
        expected = reference(root, files)
        reference_s = time.perf_counter() - start
    got = amlas_answers(records)
    disagree = sorted(k for k in expected if got.get(k) != expected[k])
    print(f"amlas load + project check (not timed below): {load_s:7.2f} s")
    print(f"amlas stage 3 (developer, {len(records)} records): {amlas_s:7.2f} s")
    print(f"plain numpy/pyarrow, same answers:          {reference_s:7.2f} s")
    print(f"ratio amlas / plain: {amlas_s / reference_s:.2f} (target at most {TARGET_RATIO})")
    print(
        f"peak memory (ru_maxrss): {amlas_peak:.2f} GiB after amlas, {_peak_gib():.2f} GiB in all"
    )
    if disagree:
        for key in disagree:
            print(f"DISAGREE {key}: amlas {got.get(key)!r}, reference {expected[key]!r}")
    else:
        print(f"answers agree ({len(expected)} compared)")


if __name__ == "__main__":
    main()
