"""Stage 3 made fast at scale gives the answers it gave before (issue 16): exact duplicate
groups that a key collision cannot fool, the samples digest and per-sample SHA-256 of the
line-by-line definition, the near-duplicate search over a few features equal to the search
over all of them, cell counts by bincount equal to counts by band name."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np
import pytest
from check_factory import MakeDataset

from amlas.adapters import Table
from amlas.checks import Dataset, check_independence, run_data_rule
from amlas.checks import _data as data
from amlas.checks import _duplicates as duplicates
from amlas.checks._duplicates import (
    content_codes,
    earlier_exact,
    earlier_near,
    hash_groups,
    near_pairs,
    radius_of,
    zscore,
)
from amlas.project import Project
from amlas.project.artefacts import DataRequirement
from amlas.project.artefacts.data import Independence


def _sha_lines(ds: Dataset) -> str:
    """The samples digest as first defined: one line per sample, hashed in a loop."""
    digest = hashlib.sha256()
    for i in range(len(ds)):
        row = Table(
            {name: ds.table.columns[name][i : i + 1] for name in ds.features},
            sha256="0" * 64,
            source="row",
        )
        digest.update(f"{row.sample_hashes()[0]}:{ds.labels[i]}\n".encode())
    return digest.hexdigest()


def _one_by_one(columns: dict[str, Any], names: list[str] | None = None) -> list[str]:
    """Per-sample SHA-256 as first defined: each value's canonical bytes, row by row."""
    selected = list(columns) if names is None else names
    out = []
    for i in range(len(next(iter(columns.values())))):
        head, tail = b"", b""
        for name in selected:
            value = columns[name][i]
            if np.asarray(columns[name]).dtype.kind in "biuf":
                head += np.array([float(value) + 0.0], dtype="<f8").tobytes()
            else:
                text = str(value).encode()
                tail += len(text).to_bytes(8, "little") + text
        out.append(hashlib.sha256(head + tail).hexdigest())
    return out


def test_sample_hashes_equal_the_row_by_row_definition() -> None:
    rng = np.random.default_rng(7)
    n = 50
    columns = {
        "x": rng.normal(size=n),
        "k": rng.integers(-3, 3, n),
        "t": np.array(["", "é", "abc", "a\x00b", "日本"])[rng.integers(0, 5, n)],
        "y": np.where(rng.random(n) < 0.3, -0.0, 1.5),
    }
    table = Table(columns, sha256="0" * 64, source="t")
    for names in (None, ["t"], ["y", "t", "x"], []):
        assert table.sample_hashes(names).tolist() == _one_by_one(columns, names)


def test_samples_digest_equals_the_line_by_line_definition(make_dataset: MakeDataset) -> None:
    made = make_dataset(["positive"] * 5, [10.0, -0.0, 10.0, 55.5, 3.25], ["day"] * 5)
    # labels of any text (a regression target, an embedded NUL), as the digest must take
    labels = np.array(["positive", "negative", "positive", "négatif\x00x", ""])
    ds = dataclasses.replace(made, labels=labels, _memo={})
    assert ds.samples_digest == _sha_lines(ds)
    empty_table = Table({"size_mm": np.zeros(0)}, sha256="0" * 64, source="e")
    empty = dataclasses.replace(
        ds, table=empty_table, ids=np.zeros(0, np.str_), labels=np.zeros(0, np.str_), _memo={}
    )
    assert empty.samples_digest == hashlib.sha256().hexdigest()


def _collide(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row gets one key: only the row-by-row confirmation tells rows apart."""
    monkeypatch.setattr(duplicates, "_row_keys", lambda bits: np.zeros(len(bits), np.uint64))


def _table_dataset(ds: Dataset, x: np.ndarray, text: np.ndarray) -> Dataset:
    columns = dict(ds.table.columns)
    columns["size_mm"] = x
    columns["tag"] = text
    table = Table(columns, sha256="0" * 64, source="t")
    document = ds.document.model_copy(update={"content_columns": ["size_mm", "tag"]})
    return dataclasses.replace(ds, table=table, document=document, _memo={})


@pytest.mark.parametrize("collide", [False, True])
def test_a_key_collision_never_makes_a_false_duplicate(
    collide: bool, make_dataset: MakeDataset, mini: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    if collide:
        _collide(monkeypatch)
    grid = [1.0, 2.0, 1.0, -0.0, 0.0, 3.0, 2.0, 2.0]
    tags = np.array(["a", "a", "a", "b", "b", "a", "b", "a"])
    base = make_dataset(["positive"] * 8, grid, ["day"] * 8, letter="N")
    a = _table_dataset(base, np.array(grid), tags)
    other = make_dataset(["positive"] * 4, [1.0, 2.0, 9.0, 0.0], ["day"] * 4, letter="O")
    b = _table_dataset(other, np.array([1.0, 2.0, 9.0, 0.0]), np.array(["a", "b", "a", "b"]))
    # the definition: equal SHA-256 over the content columns
    assert earlier_exact(a.content_codes).tolist() == earlier_exact(a.content_hashes).tolist()
    assert earlier_exact(a.content_codes).tolist() == [-1, -1, 0, -1, 3, -1, -1, 1]
    codes_a, codes_b = content_codes([a.content, b.content])
    by_codes = hash_groups(codes_a, codes_b)
    by_sha = hash_groups(a.content_hashes, b.content_hashes)
    assert (by_codes.pairs, by_codes.samples_a, by_codes.samples_b) == (5, 5, 3)
    assert (by_codes.pairs, by_codes.examples(10)) == (by_sha.pairs, by_sha.examples(10))
    rule = DataRequirement.model_validate(
        {"id": "DR-9", "category": "balance", "text": "t",
         "rule": {"check": "duplicates", "max_rate": 0.5}}
    )  # fmt: skip
    outcome = run_data_rule(mini, rule, a)
    assert outcome.results[0]["exact"] == 3
    found = {r["kind"]: r for r in check_independence(a, b, Independence()).results}
    assert found["exact_duplicates"]["count"] == 5


def test_contents_of_different_layouts_compare_their_bytes() -> None:
    """A number in one set where the other has text: no shared words, so the canonical
    bytes themselves are compared (0.0 is eight zero bytes, as is the length of '')."""
    numbers = Table({"c": np.array([0.0, 1.0])}, sha256="0" * 64, source="a")
    texts = Table({"c": np.array(["", "x"])}, sha256="0" * 64, source="b")
    codes_a, codes_b = content_codes([numbers.sample_content(), texts.sample_content()])
    same = hash_groups(codes_a, codes_b)
    by_sha = hash_groups(numbers.sample_hashes(), texts.sample_hashes())
    assert (same.pairs, same.examples(5)) == (by_sha.pairs, by_sha.examples(5)) == (1, [(0, 0)])


def _full_search(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duplicates, "SUBSPACE", 10**6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_search_over_a_few_features_equals_the_search_over_all(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(seed)
    n, d = 3000, 20
    x = np.round(rng.normal(size=(n, d)), 2)
    x[:, :4] = rng.integers(0, 2, (n, 4))  # features that separate nothing
    later = rng.choice(np.arange(n // 2, n), 200, replace=False)
    x[later] = x[rng.integers(0, n // 2, 200)]
    x[later[:100], 7] += rng.choice([0.0, 0.001, 0.01, 0.2], 100)
    x[rng.integers(0, n, 20), 5] = np.nan
    z = zscore(x, x)
    y = np.round(rng.normal(size=(800, d)), 2)
    y[:4] = x[:4]
    y[4:60] = x[rng.integers(0, n, 56)] + rng.choice([0.0, 0.001, 0.05], (56, 1))
    zb = zscore(y, x)
    radius = radius_of(0.01, d)
    codes_a, codes_b = content_codes(
        [
            Table({f"f{j}": x[:, j] for j in range(d)}, "0" * 64, "a").sample_content(),
            Table({f"f{j}": y[:, j] for j in range(d)}, "0" * 64, "b").sample_content(),
        ]
    )
    fast_self = earlier_near(z, radius)
    fast_pairs = near_pairs(z, zb, radius, codes_a=codes_a, codes_b=codes_b, limit=50)
    with monkeypatch.context() as patched:
        _full_search(patched)
        full_self = earlier_near(z, radius)
        full_pairs = near_pairs(z, zb, radius, codes_a=codes_a, codes_b=codes_b, limit=50)
    assert (fast_self >= 0).sum() > 100
    assert fast_self.tolist() == full_self.tolist()
    assert fast_pairs.pairs == full_pairs.pairs > 0
    assert fast_pairs.examples == full_pairs.examples
    assert fast_pairs.involved_a.tolist() == full_pairs.involved_a.tolist()
    assert fast_pairs.involved_b.tolist() == full_pairs.involved_b.tolist()


def test_a_pair_on_the_distance_is_decided_as_scipy_decides_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows whose distance is the radius to the last bit: the confirmation over all
    features agrees with a k-d tree over all features."""
    d = 12
    base = np.zeros((2, d))
    base[1, 0] = 0.25
    base[1, 5] = 0.25
    base[1, 9] = np.nextafter(0.25, 1.0)
    far = np.tile(np.arange(6.0)[:, None] * 10.0, (1, d))
    points = np.vstack([far, base])
    radius = float(np.sqrt(3 * 0.25**2))
    fast = earlier_near(points, radius)
    with monkeypatch.context() as patched:
        _full_search(patched)
        assert fast.tolist() == earlier_near(points, radius).tolist()


def test_z_scores_agree_with_nanmean_and_nanstd() -> None:
    """The scale is summed in fixed blocks (so chunks merge bit for bit), not by numpy's
    nanmean/nanstd: it agrees with them to rounding, at any magnitude."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200_000, 7)) * [1, 1e-8, 1e8, 3, 1, 1, 2] + [0, 0, 0, 1e6, 0, 0, 0]
    x[::7, 5] = np.nan
    mean, std = duplicates.scale_of(x)
    np.testing.assert_allclose(mean, np.nanmean(x, axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(std, np.nanstd(x, axis=0), rtol=1e-10)


def test_cells_counted_by_codes_equal_cells_counted_by_name(make_dataset: MakeDataset) -> None:
    rng = np.random.default_rng(5)
    n = 400
    ds = make_dataset(
        list(rng.choice(["positive", "negative"], n)),
        list(rng.uniform(-10, 110, n)),  # some outside the ODD
        list(rng.choice(["day", "night", "dusk"], n)),
    )
    assert ds.environment is not None
    units = data._units(ds, ["size", "lighting"], None)
    dims = {d.id: d for d in ds.environment.dimensions}
    bandings = {"size": None, "lighting": None}
    values = [dims[d].slice_values(None) for d in ("size", "lighting")]
    counted = ds.labels == "positive"
    by_codes = units.counts(dims, ["size", "lighting"], bandings, counted)
    by_name = units._counts_by_name(dims, ["size", "lighting"], bandings, counted, values)
    assert by_codes == by_name
    assert sum(by_codes) < int(counted.sum())  # the samples outside and at dusk count nowhere
