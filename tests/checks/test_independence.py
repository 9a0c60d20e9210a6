"""Duplicates across datasets (independence, R9) and within one dataset (the ``duplicates``
rule): counted by group of equal samples, never by listing pairs, and never invented
when nothing identifies a sample's content (issue 12)."""

from __future__ import annotations

import dataclasses
import itertools
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from check_factory import MakeDataset
from hypothesis import given, settings
from hypothesis import strategies as st

from amlas import Severity, check_project
from amlas.checks import Dataset, check_independence, run_data_rule
from amlas.checks import _duplicates as duplicates
from amlas.checks._duplicates import earlier_near, hash_groups, near_pairs, radius_of, zscore
from amlas.checks._metrics import MAX_LISTED_IDS
from amlas.project import Project
from amlas.project.artefacts import DataRequirement
from amlas.project.artefacts.data import Independence
from factory import documents, write_project


def metadata_only(ds: Dataset, content_columns: list[str] | None = None) -> Dataset:
    """``ds`` as bound for a model whose input is not in the table (images described by a
    metadata table): no model-input feature, no array."""
    document = ds.document.model_copy(update={"content_columns": content_columns or []})
    return dataclasses.replace(ds, document=document, features=[], _memo={})


def with_features(ds: Dataset, features: list[str]) -> Dataset:
    return dataclasses.replace(ds, features=features, _memo={})


def by_kind(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["kind"]: r for r in results}


def table(
    make: MakeDataset, letter: str, rows: np.ndarray, *, hashes: list[str] | None = None
) -> Dataset:
    """A dataset whose features f0, f1, ... are the columns of ``rows``."""
    n = len(rows)
    extra = {f"f{j}": rows[:, j].astype(np.float64) for j in range(rows.shape[1])}
    if hashes is not None:
        extra["file_sha256"] = np.array(hashes, dtype=np.str_)
    ds = make(["positive"] * n, [10.0] * n, ["day"] * n, letter=letter, extra=extra)
    return with_features(ds, [f"f{j}" for j in range(rows.shape[1])])


# -- metadata-only tables (defects 1 and 2) ----------------------------------------------------


def test_metadata_only_sets_report_no_invented_duplicates(
    mini: Project, make_dataset: MakeDataset
) -> None:
    """Found by review: with no model input hashed, every pair of rows (6 x 4 here) was
    listed as an exact duplicate, and a correct split failed like a broken one."""
    n = metadata_only(make_dataset(["positive"] * 6, [10.0] * 6, ["day"] * 6, letter="N"))
    o = metadata_only(make_dataset(["positive"] * 4, [20.0] * 4, ["day"] * 4, letter="O"))
    outcome = check_independence(n, o, Independence())
    assert "exact_duplicates" not in by_kind(outcome.results)
    assert outcome.verdict == "inconclusive"
    assert outcome.resolved["exact_duplicates"].startswith("not compared: [N] has no column")
    assert outcome.resolved["content_columns"] == {"N": [], "O": []}
    assert "content_columns" in outcome.summary
    assert by_kind(outcome.results)["shared_ids"]["count"] == 0  # still compared


def test_metadata_only_sets_compare_declared_content_columns(
    mini: Project, make_dataset: MakeDataset
) -> None:
    def dataset(letter: str, hashes: list[str]) -> Dataset:
        n = len(hashes)
        ds = make_dataset(
            ["positive"] * n,
            [10.0] * n,
            ["day"] * n,
            letter=letter,
            extra={"file_sha256": np.array(hashes, dtype=np.str_)},
        )
        return metadata_only(ds, ["file_sha256"])

    n = dataset("N", ["h1", "h2", "h3"])
    leaked = check_independence(n, dataset("O", ["h9", "h2", "h8"]), Independence())
    exact = by_kind(leaked.results)["exact_duplicates"]
    assert (exact["count"], exact["pairs"]) == (1, [["N-1", "O-1"]])
    assert exact["columns"] == {"N": ["file_sha256"], "O": ["file_sha256"]}
    assert leaked.verdict == "fail"
    # [L] asks for a near-duplicate search by default; with no numeric features it cannot
    # run, so the pair is not shown independent (review finding: it used to pass)
    unsearched = check_independence(n, dataset("O", ["h7", "h8", "h9"]), Independence())
    assert unsearched.verdict == "inconclusive"
    assert "near duplicates not searched" in unsearched.summary
    clean = check_independence(
        n, dataset("O", ["h7", "h8", "h9"]), Independence(near_duplicate_distance=0)
    )
    assert clean.verdict == "pass"
    assert "exact duplicates on file_sha256" in clean.summary
    # one side declares content columns, the other compares its model inputs: not comparable
    tabular = make_dataset(["positive"] * 2, [1.0, 2.0], ["day"] * 2, letter="O")
    mixed = check_independence(n, tabular, Independence(near_duplicate_distance=0))
    assert mixed.verdict == "inconclusive"
    assert "declare 'content_columns' in both" in mixed.resolved["exact_duplicates"]


def test_metadata_only_sets_of_30k_and_20k_rows_finish(
    mini: Project, make_dataset: MakeDataset
) -> None:
    """Found by review: 30k x 20k metadata rows ended in a MemoryError (exit 3) building
    600 million pairs."""
    n = metadata_only(make_dataset(["positive"] * 30_000, [1.0] * 30_000, ["day"] * 30_000))
    o = metadata_only(
        make_dataset(["positive"] * 20_000, [2.0] * 20_000, ["day"] * 20_000, letter="P")
    )
    tracemalloc.start()
    try:
        outcome = check_independence(n, o, Independence())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert outcome.verdict == "inconclusive"
    assert peak < 64 * 2**20


# -- repeated rows (defect 3) -------------------------------------------------------------------


def test_repeated_rows_are_counted_by_group_not_listed(
    mini: Project, make_dataset: MakeDataset
) -> None:
    """Found by review: identical rows in both sets (all-zero frames) built every matching
    pair in memory; 500 x 500 identical rows are 250,000 pairs."""
    zeros_a, zeros_b = np.zeros((500, 1)), np.zeros((500, 1))
    n = table(make_dataset, "N", np.vstack([zeros_a, np.arange(1, 11)[:, None]]))
    o = table(make_dataset, "O", np.vstack([np.arange(100, 105)[:, None], zeros_b]))
    tracemalloc.start()
    try:
        outcome = check_independence(n, o, Independence())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    exact = by_kind(outcome.results)["exact_duplicates"]
    assert exact["count"] == 500 * 500
    assert exact["samples"] == {"N": 500, "O": 500}
    assert "pairs" in exact["unit"]
    assert len(exact["pairs"]) == MAX_LISTED_IDS
    assert exact["pairs"][:2] == [["N-0", "O-5"], ["N-0", "O-6"]]  # a's order, then b's
    near = by_kind(outcome.results)["near_duplicates"]
    assert (near["count"], near["pairs"]) == (0, [])  # exact pairs are not found again
    assert "500 samples of [N], 500 of [O]" in outcome.summary
    assert peak < 16 * 2**20  # the code before the fix, listing every pair, went past it


def test_near_duplicates_of_repeated_rows_exclude_the_exact_ones(
    mini: Project, make_dataset: MakeDataset
) -> None:
    rows_a = np.vstack([np.zeros((60, 1)), np.arange(1, 41)[:, None]])
    rows_b = np.vstack([np.zeros((3, 1)), np.full((2, 1), 1e-6), [[500.0]]])
    outcome = check_independence(
        table(make_dataset, "N", rows_a), table(make_dataset, "O", rows_b), Independence()
    )
    found = by_kind(outcome.results)
    assert (found["exact_duplicates"]["count"], found["exact_duplicates"]["samples"]) == (
        180,
        {"N": 60, "O": 3},
    )
    near = found["near_duplicates"]
    assert (near["count"], near["samples"]) == (120, {"N": 60, "O": 2})
    assert near["pairs"][:3] == [["N-0", "O-3"], ["N-0", "O-4"], ["N-1", "O-3"]]
    assert len(near["pairs"]) == MAX_LISTED_IDS
    assert "exact duplicates excluded" in near["unit"]


def brute_force(
    za: np.ndarray, zb: np.ndarray, ha: list[str], hb: list[str], radius: float
) -> tuple[int, list[tuple[int, int]], int, list[tuple[int, int]]]:
    """Exact and near pairs by comparing every pair: (count, pairs) for each."""
    exact = [(i, j) for i, j in itertools.product(range(len(ha)), range(len(hb))) if ha[i] == hb[j]]
    near = [
        (i, j)
        for i, j in itertools.product(range(len(za)), range(len(zb)))
        if np.all(np.isfinite(za[i]))
        and np.all(np.isfinite(zb[j]))
        and np.linalg.norm(za[i] - zb[j]) <= radius
        and ha[i] != hb[j]
    ]
    return len(exact), exact, len(near), near


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 30),
    st.integers(1, 30),
    st.sampled_from([1, 2]),
)
def test_group_counts_equal_the_pairs_a_full_comparison_finds(
    seed: int, size_a: int, size_b: int, dims: int
) -> None:
    rng = np.random.default_rng(seed)
    # few distinct values, so rows repeat within and across the sets, and some are close
    grid = np.array([0.0, 0.0005, 1.0, 2.0, np.nan])
    xa = grid[rng.integers(0, 5, (size_a, dims))]
    xb = grid[rng.integers(0, 5, (size_b, dims))]
    za, zb = zscore(xa, xa), zscore(xb, xa)
    # content hashes that only partly follow the features (as declared content_columns
    # may): equal features with different content are near-duplicates, not exact ones
    ha = [repr(r.tolist()) + t for r, t in zip(xa, rng.choice(["x", "y"], size_a), strict=True)]
    hb = [repr(r.tolist()) + t for r, t in zip(xb, rng.choice(["x", "y"], size_b), strict=True)]
    groups = hash_groups(np.array(ha, dtype=np.str_), np.array(hb, dtype=np.str_))
    radius = radius_of(0.01, dims)
    near = near_pairs(za, zb, radius, codes_a=groups.codes_a, codes_b=groups.codes_b, limit=5)
    n_exact, exact, n_near, pairs = brute_force(za, zb, ha, hb, radius)
    assert groups.pairs == n_exact
    assert (groups.samples_a, groups.samples_b) == (
        len({i for i, _ in exact}),
        len({j for _, j in exact}),
    )
    assert groups.examples(5) == exact[:5]
    assert near.pairs == n_near
    assert set(np.flatnonzero(near.involved_a)) == {i for i, _ in pairs}
    assert set(np.flatnonzero(near.involved_b)) == {j for _, j in pairs}
    assert near.examples == pairs[:5]


# -- duplicates within one dataset (defect 4) ---------------------------------------------------


def duplicates_rule(**fields: Any) -> DataRequirement:
    return DataRequirement.model_validate(
        {
            "id": "DR-7",
            "category": "balance",
            "text": "Few repeated samples",
            "rule": {"check": "duplicates", "max_rate": 0.01, **fields},
        }
    )


def test_ten_identical_rows_planted_in_a_dataset_fail_the_duplicates_rule(
    mini: Project, make_dataset: MakeDataset
) -> None:
    """Found by review: ten identical rows planted inside [N] passed every rule."""
    sizes = [float(s) for s in range(1, 201)] + [42.5] * 10
    data = make_dataset(["positive"] * 210, sizes, ["day"] * 210, letter="N")
    outcome = run_data_rule(mini, duplicates_rule(), data)
    found = outcome.results[0]
    assert (found["duplicates"], found["samples"], found["exact"]) == (9, 210, 9)
    assert found["failing_ids"] == [f"N-{i}" for i in range(201, 210)]
    assert found["examples"][0] == {"id": "N-201", "duplicates": "N-200", "kind": "exact"}
    assert outcome.verdict == "fail"  # 9 of 210: even the lower bound exceeds 1%
    assert outcome.resolved["content_columns"] == ["size_mm"]
    assert outcome.resolved["unit"].startswith("samples that duplicate an earlier sample")
    assert outcome.resolved["method"] == "clopper-pearson"


def test_distinct_rows_pass_on_the_exact_bound(mini: Project, make_dataset: MakeDataset) -> None:
    sizes = [float(s) for s in range(1000)]
    data = make_dataset(["positive"] * 1000, sizes, ["day"] * 1000, letter="N")
    outcome = run_data_rule(mini, duplicates_rule(), data)
    assert outcome.verdict == "pass"  # 0 of 1000: the 95% upper bound is 0.003
    assert outcome.results[0]["upper"] == pytest.approx(1 - 0.05 ** (1 / 1000))
    small = make_dataset(["positive"] * 50, sizes[:50], ["day"] * 50, letter="N")
    assert run_data_rule(mini, duplicates_rule(), small).verdict == "inconclusive"


def test_near_duplicates_within_a_dataset_use_the_declared_distance(
    mini: Project, make_dataset: MakeDataset
) -> None:
    sizes = [float(s) for s in range(300)] + [7.00001, 7.00002]
    data = make_dataset(["positive"] * 302, sizes, ["day"] * 302, letter="N")
    exact_only = run_data_rule(mini, duplicates_rule(), data)
    assert exact_only.results[0]["duplicates"] == 0
    near = run_data_rule(mini, duplicates_rule(near_duplicate_distance=0.001), data)
    found = near.results[0]
    assert (found["duplicates"], found["exact"], found["near"]) == (2, 0, 2)
    assert [e["duplicates"] for e in found["examples"]] == ["N-7", "N-7"]
    assert near.resolved["features"] == ["size_mm"]


def test_bounded_evidence_for_many_duplicates(mini: Project, make_dataset: MakeDataset) -> None:
    data = make_dataset(["positive"] * 500, [3.0] * 500, ["day"] * 500, letter="N")
    outcome = run_data_rule(mini, duplicates_rule(near_duplicate_distance=0.01), data)
    found = outcome.results[0]
    assert (found["duplicates"], found["exact"], found["near"]) == (499, 499, 0)
    assert len(found["examples"]) == MAX_LISTED_IDS
    assert outcome.verdict == "fail"


def test_rows_the_near_search_cannot_compare_never_help_a_pass(
    mini: Project, make_dataset: MakeDataset
) -> None:
    """A row with a missing feature escapes the near search; counted as a duplicate it must
    not change the verdict, else the rule is inconclusive (0 of 1000 passes 0.0031 at 95%,
    1 of 1000 does not)."""
    rule = duplicates_rule(max_rate=0.0031, near_duplicate_distance=0.001)
    sizes = [float(s) for s in range(1000)]
    whole = make_dataset(["positive"] * 1000, sizes, ["day"] * 1000, letter="N")
    assert run_data_rule(mini, rule, whole).verdict == "pass"
    holed = make_dataset(["positive"] * 1000, [np.nan, *sizes[1:]], ["day"] * 1000, letter="N")
    outcome = run_data_rule(mini, rule, holed)
    assert outcome.verdict == "inconclusive"
    assert "could not compare" in outcome.resolved["why_not_pass"]
    assert outcome.resolved["why_not_pass"] in outcome.summary


def test_a_near_search_asked_for_and_impossible_is_inconclusive(
    mini: Project, make_dataset: MakeDataset
) -> None:
    hashes = np.array([f"h{i}" for i in range(300)], dtype=np.str_)
    ds = make_dataset(["positive"] * 300, [3.0] * 300, ["day"] * 300, extra={"file_sha256": hashes})
    data = metadata_only(ds, ["file_sha256"])
    exact_only = run_data_rule(mini, duplicates_rule(max_rate=0.05), data)
    assert exact_only.verdict == "pass"
    outcome = run_data_rule(
        mini, duplicates_rule(max_rate=0.05, near_duplicate_distance=0.01), data
    )
    assert outcome.verdict == "inconclusive"
    assert "not searched" in outcome.resolved["why_not_pass"]
    assert "not searched" in outcome.summary


def test_duplicates_rule_without_content_is_inconclusive(
    mini: Project, make_dataset: MakeDataset
) -> None:
    data = metadata_only(make_dataset(["positive"] * 30, [3.0] * 30, ["day"] * 30))
    outcome = run_data_rule(mini, duplicates_rule(max_rate=0.5), data)
    assert outcome.verdict == "inconclusive"
    assert "nothing to compare" in outcome.summary
    assert outcome.results == []  # no invented duplicates


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.sampled_from([1, 2]))
def test_earliest_near_duplicate_equals_a_full_comparison(seed: int, n: int, dims: int) -> None:
    rng = np.random.default_rng(seed)
    grid = np.array([0.0, 0.0005, 0.002, 1.0, np.nan])
    z = zscore(grid[rng.integers(0, 5, (n, dims))], grid[rng.integers(0, 4, (n, dims))])
    radius = radius_of(0.003, dims)
    expected = []
    for i in range(n):
        earlier = [
            j
            for j in range(i)
            if np.all(np.isfinite(z[i]))
            and np.all(np.isfinite(z[j]))
            and np.linalg.norm(z[i] - z[j]) <= radius
        ]
        expected.append(earlier[0] if earlier else -1)
    assert earlier_near(z, radius).tolist() == expected


def test_a_project_declaring_the_duplicates_rule_and_content_columns_checks_clean(
    tmp_path: Path,
) -> None:
    docs = documents()
    docs["L"]["requirements"][3]["rule"] = {
        "check": "duplicates",
        "max_rate": 0.01,
        "near_duplicate_distance": 0.001,
        "features": ["size_mm"],
    }
    for letter in ("N", "O", "P"):
        docs[letter]["content_columns"] = ["size_mm", "lighting"]
    result = check_project(write_project(tmp_path / "p", docs))
    assert [d.format() for d in result.diagnostics if d.severity is not Severity.INFO] == []


@pytest.mark.parametrize("collide", [False, True])
def test_identical_rows_are_grouped_exactly_even_when_keys_collide(
    collide: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if collide:  # every row gets the same key: the row-by-row check must notice
        monkeypatch.setattr(duplicates, "_row_keys", lambda bits: np.zeros(len(bits), np.uint64))
    points = np.array([[1.0, 2.0], [0.0, -0.0], [1.0, 2.0], [-0.0, 0.0], [3.0, 1.0]])
    rows = duplicates._distinct(points)
    groups = sorted(rows.members(u).tolist() for u in range(len(rows.rows)))
    assert groups == [[0, 2], [1, 3], [4]]
    assert all((rows.rows[rows.inverse[i]] == points[i]).all() for i in range(5))
