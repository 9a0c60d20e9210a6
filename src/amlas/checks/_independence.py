"""Independence of the development [N], internal test [O] and verification [P] data (R9).

For every pair of datasets:

- shared sample ids (when both declare an ``id_column``);
- exact duplicates: samples whose model inputs are identical (equal per-sample SHA-256);
- near-duplicates: pairs whose root-mean-square distance over z-scored features is at most
  the declared threshold, found with a k-d tree (scipy); the scale is the first dataset's
  (the development data's) standard deviation, so the threshold means the same whatever
  the second set holds;
- shared groups (patient, asset, scene) through the declared ``group_column``.

Any finding fails the pair; every finding names the sample ids on both sides.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from amlas.checks._data import CheckOutcome
from amlas.checks._datasets import Dataset
from amlas.checks._intervals import Verdict
from amlas.checks._metrics import MAX_LISTED_IDS
from amlas.project.artefacts.data import Independence

__all__ = ["check_independence"]


def _shared(a: NDArray[np.str_], b: NDArray[np.str_]) -> list[str]:
    return sorted(set(a.tolist()) & set(b.tolist()))


def _pairs_by_value(
    a: Dataset, b: Dataset, values_a: NDArray[np.str_], values_b: NDArray[np.str_]
) -> list[list[str]]:
    """(id in a, id in b) for every pair of samples with equal values, in a's order."""
    index: dict[str, list[str]] = {}
    for value, sample in zip(values_b.tolist(), b.ids.tolist(), strict=True):
        index.setdefault(value, []).append(sample)
    pairs = []
    for value, sample in zip(values_a.tolist(), a.ids.tolist(), strict=True):
        for other in index.get(value, ()):
            pairs.append([sample, other])
    return pairs


def check_independence(a: Dataset, b: Dataset, settings: Independence) -> CheckOutcome:
    """All independence findings between two datasets, as one outcome."""
    pair = f"{a.letter}+{b.letter}"
    results: list[dict[str, Any]] = []
    resolved: dict[str, Any] = {}

    if a.document.id_column and b.document.id_column:
        shared = _shared(a.ids, b.ids)
        results.append(_finding("shared_ids", len(shared), [[i, i] for i in shared]))

    exact = _pairs_by_value(a, b, a.input_hashes, b.input_hashes)
    results.append(_finding("exact_duplicates", len(exact), exact))

    features = settings.features or a.features
    if settings.near_duplicate_distance <= 0:
        resolved["near_duplicates"] = "off (near_duplicate_distance: 0)"
    elif not features or not all(f in b.table.columns for f in features):
        resolved["near_duplicates"] = "not searched: needs tabular features in both datasets"
    else:
        skipped = [0]
        near = _near_duplicates(a, b, features, settings.near_duplicate_distance, skipped)
        if skipped[0]:
            resolved["near_duplicates_not_compared"] = (
                f"{skipped[0]} sample(s) with a missing (NaN) feature value"
            )
        exact_set = {tuple(p) for p in exact}
        near = [p for p in near if tuple(p) not in exact_set]
        results.append(_finding("near_duplicates", len(near), near))
        resolved.update(
            near_duplicate_distance=settings.near_duplicate_distance,
            distance="RMS over features z-scored by the first dataset's mean and std",
            features=features,
        )

    if a.groups is not None and b.groups is not None:
        shared_groups = _shared(a.groups, b.groups)
        results.append(
            {
                "kind": "shared_groups",
                "count": len(shared_groups),
                "groups": shared_groups[:MAX_LISTED_IDS],
                "column": [a.document.group_column, b.document.group_column],
            }
        )
    else:
        resolved["groups"] = "not compared: a group_column is not declared for both"

    failing = [r for r in results if r["count"]]
    verdict: Verdict = "fail" if failing else "pass"
    checked = ", ".join(r["kind"].replace("_", " ") for r in results)
    summary = f"independence of [{a.letter}] and [{b.letter}]: " + (
        "; ".join(f"{r['count']} {r['kind'].replace('_', ' ')}" for r in failing)
        if failing
        else f"no findings ({checked})"
    )
    parameters = settings.model_dump(mode="json")
    return CheckOutcome("independence", "independence", pair, verdict, summary, parameters,
                        resolved, results)  # fmt: skip


def _finding(kind: str, count: int, pairs: list[list[str]]) -> dict[str, Any]:
    return {"kind": kind, "count": count, "pairs": pairs[:MAX_LISTED_IDS]}


def _near_duplicates(
    a: Dataset, b: Dataset, features: list[str], distance: float, skipped: list[int]
) -> list[list[str]]:
    """Pairs within ``distance``; ``skipped[0]`` receives the number of samples with a
    missing feature, which cannot be compared (reported, never dropped in silence)."""
    xa = a.table.numeric(features)
    xb = b.table.numeric(features)
    mean = np.nanmean(xa, axis=0) if len(xa) else np.zeros(len(features))
    std = np.nanstd(xa, axis=0) if len(xa) else np.ones(len(features))
    std[~np.isfinite(std) | (std == 0)] = 1.0
    za = np.nan_to_num((xa - mean) / std, nan=np.inf)
    zb = np.nan_to_num((xb - mean) / std, nan=np.inf)
    finite_a = np.isfinite(za).all(axis=1)
    finite_b = np.isfinite(zb).all(axis=1)
    skipped[0] = int((~finite_a).sum() + (~finite_b).sum())
    if not finite_a.any() or not finite_b.any():
        return []
    radius = distance * np.sqrt(len(features))  # RMS distance -> Euclidean radius
    tree = cKDTree(zb[finite_b])
    ids_b = b.ids[finite_b]
    points, ids_a = za[finite_a], a.ids[finite_a]
    # a nearest-neighbour pass (bounded memory) finds the few samples with any match,
    # and only those are asked for all their matches
    nearest, _ = tree.query(points, k=1, distance_upper_bound=radius * (1 + 1e-12))
    hits = np.flatnonzero(np.isfinite(nearest))
    pairs = []
    matches = tree.query_ball_point(points[hits], r=radius) if len(hits) else []
    for sample, found in zip(ids_a[hits].tolist(), matches, strict=True):
        for j in sorted(found):
            pairs.append([sample, str(ids_b[j])])
    return pairs
