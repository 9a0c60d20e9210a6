"""Independence of the development [N], internal test [O] and verification [P] data (R9).

For every pair of datasets:

- shared sample ids (when both declare an ``id_column``);
- exact duplicates: samples with identical content, i.e. equal per-sample SHA-256 over
  the columns that identify a sample's content: the datasets' ``content_columns`` (an
  image file's hash, generation parameters), else the model inputs (input features or
  per-sample arrays). A table with neither (images described by a metadata table) has
  nothing to compare: the record says so and the pair is inconclusive, never passed and
  never reported as every row duplicating every other;
- near-duplicates: pairs whose root-mean-square distance over z-scored features is at most
  the declared threshold, found with a k-d tree (scipy); the scale is the first dataset's
  (the development data's) standard deviation, so the threshold means the same whatever
  the second set holds. Exact duplicates are not counted again;
- shared groups (patient, asset, scene) through the declared ``group_column``.

Duplicates are counted by group of equal samples (:mod:`._duplicates`), never by listing
pairs: k identical samples in one set and j in the other are k * j pairs, stated as pairs
with the number of samples involved on each side, in time and memory that grow with the
samples, not the pairs. Findings list the first ``MAX_LISTED_IDS`` pairs of sample ids.

Any finding fails the pair; otherwise a comparison that could not be made (no content to
compare) makes the pair inconclusive, with the reason. The record names the columns
compared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from amlas.checks._data import CheckOutcome, near_resolved
from amlas.checks._datasets import Dataset
from amlas.checks._duplicates import (
    HashGroups,
    content_codes,
    hash_groups,
    near_pairs,
    radius_of,
)
from amlas.checks._intervals import Verdict
from amlas.checks._metrics import MAX_LISTED_IDS
from amlas.project.artefacts.data import Independence

__all__ = ["IndependenceFound", "check_independence", "independence_outcome"]


def _shared(left: Any, right: Any) -> list[str]:
    """The values in both pyarrow text arrays, sorted (a hash join: no Python set of a
    million ids)."""
    import pyarrow.compute as pc

    common = pc.unique(right.filter(pc.is_in(right, value_set=left)))
    return sorted(common.to_pylist())


def _not_comparable(a: Dataset, b: Dataset) -> str | None:
    """Why the two datasets' content cannot be compared, or None when it can."""
    for ds in (a, b):
        if not ds.content_columns:
            return (
                f"{ds.name} has no column that identifies a sample's content (no model-input "
                f"feature or array): every sample would hash the same; declare "
                f"'content_columns' in {ds.name} (e.g. a column of image-file hashes)"
            )
    declared_a, declared_b = bool(a.document.content_columns), bool(b.document.content_columns)
    if declared_a != declared_b:
        by, other = (a, b) if declared_a else (b, a)
        return (
            f"{by.name} identifies content by its content_columns, {other.name} by its model "
            f"inputs; declare 'content_columns' in both"
        )
    if len(a.content_columns) != len(b.content_columns):
        return (
            f"{a.name} and {b.name} identify content by different numbers of columns "
            f"({len(a.content_columns)} and {len(b.content_columns)})"
        )
    return None


@dataclass(frozen=True)
class IndependenceFound:
    """What the comparisons of two datasets found, each None where it is not made: the
    shared ids and the shared groups (how many, and the first in sorted order), the exact
    duplicates (pairs, samples of each set involved, the first pairs of ids)."""

    shared_ids: tuple[int, list[str]] | None
    exact: tuple[int, int, int, list[list[str]]] | None
    shared_groups: tuple[int, list[str]] | None


def check_independence(a: Dataset, b: Dataset, settings: Independence) -> CheckOutcome:
    """All independence findings between two datasets, as one outcome."""
    ids = shared_groups = None
    if a.document.id_column and b.document.id_column:
        shared = _shared(a.arrow_of(a.ids), b.arrow_of(b.ids))
        ids = (len(shared), shared[:MAX_LISTED_IDS])
    groups: HashGroups | None = None
    exact = None
    if _not_comparable(a, b) is None:
        groups = hash_groups(*content_codes([a.content, b.content]))
        named = _named(a, b, groups.examples(MAX_LISTED_IDS))
        exact = (groups.pairs, groups.samples_a, groups.samples_b, named)
    if a.groups is not None and b.groups is not None:
        shared = _shared(a.arrow_of(a.groups), b.arrow_of(b.groups))
        shared_groups = (len(shared), shared[:MAX_LISTED_IDS])

    def near(features: list[str], distance: float, resolved: dict[str, Any]) -> dict[str, Any]:
        return _near(a, b, features, distance, groups, resolved)

    found = IndependenceFound(ids, exact, shared_groups)
    return independence_outcome(a, b, settings, found, near)


def independence_outcome(
    a: Dataset,
    b: Dataset,
    settings: Independence,
    found: IndependenceFound,
    near: Callable[[list[str], float, dict[str, Any]], dict[str, Any]],
) -> CheckOutcome:
    """The outcome of :func:`check_independence` from what the comparisons found; ``a``
    and ``b`` are the datasets or one of their chunks each (only what does not depend on
    the rows is read from them: names, declarations, columns); ``near`` runs the
    near-duplicate search when [L] asks for one."""
    pair = f"{a.letter}+{b.letter}"
    results: list[dict[str, Any]] = []
    resolved: dict[str, Any] = {}
    pairs_unit = f"pairs (sample of {a.name}, sample of {b.name})"

    if found.shared_ids is not None:
        count, listed = found.shared_ids
        results.append(
            {
                "kind": "shared_ids",
                "count": count,
                "unit": "sample ids present in both",
                "pairs": [[i, i] for i in listed],
            }
        )
    else:
        resolved["shared_ids"] = "not compared: an id_column is not declared for both"

    columns = {a.letter: a.content_columns, b.letter: b.content_columns}
    resolved["content_columns"] = columns
    unusable = _not_comparable(a, b)
    not_searched: str | None = None
    if unusable is not None or found.exact is None:
        resolved["exact_duplicates"] = f"not compared: {unusable}"
    else:
        pairs, samples_a, samples_b, named = found.exact
        results.append(
            {
                "kind": "exact_duplicates",
                "count": pairs,
                "unit": f"{pairs_unit} with equal content hashes",
                "samples": {a.letter: samples_a, b.letter: samples_b},
                "columns": columns,
                "pairs": named,
            }
        )

    features = settings.features or a.features
    if settings.near_duplicate_distance <= 0:
        resolved["near_duplicates"] = "off (near_duplicate_distance: 0)"
    elif not features or not all(f in a.table.columns and f in b.table.columns for f in features):
        resolved["near_duplicates"] = (
            "not searched: needs numeric features in both datasets ([L] "
            "independence.features, or the model input features)"
        )
        # a search [L] asks for (near_duplicate_distance > 0) that did not run: the pair
        # cannot be shown independent; 'near_duplicate_distance: 0' says it is not wanted
        not_searched = (
            "near duplicates not searched (no numeric features in both datasets; set "
            "[L] independence.near_duplicate_distance: 0 if none is wanted)"
        )
    else:
        results.append(near(features, settings.near_duplicate_distance, resolved))

    if found.shared_groups is not None:
        count, listed = found.shared_groups
        results.append(
            {
                "kind": "shared_groups",
                "count": count,
                "unit": "groups present in both",
                "groups": listed,
                "column": [a.document.group_column, b.document.group_column],
            }
        )
    else:
        resolved["groups"] = "not compared: a group_column is not declared for both"

    failing = [r for r in results if r["count"]]
    gaps = [f"exact duplicates not compared: {unusable}"] if unusable is not None else []
    gaps += [not_searched] if not_searched is not None else []
    verdict: Verdict = "fail" if failing else "inconclusive" if gaps else "pass"
    checked = ", ".join(_checked(r) for r in results)
    summary = f"independence of {a.name} and {b.name}: "
    if failing:
        summary += "; ".join([_phrase(a, b, r) for r in failing] + gaps)
    elif gaps:
        summary += "; ".join(gaps)
        summary += f"; no findings in {checked}" if results else ""
    else:
        summary += f"no findings ({checked})"
    parameters = settings.model_dump(mode="json")
    return CheckOutcome("independence", "independence", pair, verdict, summary, parameters,
                        resolved, results)  # fmt: skip


def _named(a: Dataset, b: Dataset, pairs: list[tuple[int, int]]) -> list[list[str]]:
    return [[str(a.ids[i]), str(b.ids[j])] for i, j in pairs]


def _checked(result: dict[str, Any]) -> str:
    kind = str(result["kind"]).replace("_", " ")
    if result["kind"] == "exact_duplicates":
        names = sorted({c for cs in result["columns"].values() for c in cs})
        return f"{kind} on {', '.join(names)}"
    if result["kind"] == "near_duplicates":
        return f"{kind} on {', '.join(result['features'])}"
    return kind


def _phrase(a: Dataset, b: Dataset, result: dict[str, Any]) -> str:
    kind = str(result["kind"]).replace("_", " ")
    if "samples" not in result:
        return f"{result['count']} {kind}"
    samples = result["samples"]
    return (
        f"{result['count']} {kind.replace('duplicates', 'duplicate pairs')} "
        f"({samples[a.letter]} samples of {a.name}, {samples[b.letter]} of {b.name})"
    )


def _near(
    a: Dataset,
    b: Dataset,
    features: list[str],
    distance: float,
    groups: HashGroups | None,
    resolved: dict[str, Any],
) -> dict[str, Any]:
    """The near-duplicate finding; ``resolved`` receives how it was computed and how many
    samples had a missing (NaN) feature value and could not be compared."""
    za, zb = a.zscores(features), b.zscores(features, a)
    skipped = int((~np.isfinite(za).all(axis=1)).sum() + (~np.isfinite(zb).all(axis=1)).sum())
    near = near_pairs(
        za,
        zb,
        radius_of(distance, len(features)),
        codes_a=groups.codes_a if groups is not None else None,
        codes_b=groups.codes_b if groups is not None else None,
        limit=MAX_LISTED_IDS,
        rows_a=a.zscored_rows(features),
    )
    samples = (int(near.involved_a.sum()), int(near.involved_b.sum()))
    named = _named(a, b, near.examples)
    return near_finding(a, b, features, distance, resolved, near.pairs, samples, named, skipped)


def near_finding(
    a: Dataset,
    b: Dataset,
    features: list[str],
    distance: float,
    resolved: dict[str, Any],
    pairs: int,
    samples: tuple[int, int],
    named: list[list[str]],
    skipped: int,
) -> dict[str, Any]:
    """The near-duplicate finding of :func:`_near` (``a`` and ``b`` are the datasets or
    one of their chunks each: only their names and declarations are read) from what the
    search found: the pairs, the samples of each set in one, the first pairs of ids, the
    samples with a missing value; ``resolved`` receives how it was computed."""
    near_resolved(resolved, distance, features, skipped, scaled_by="the first dataset")
    unit = f"pairs (sample of {a.name}, sample of {b.name}) within the distance"
    unit += (
        ", exact duplicates excluded (counted above)"
        if _not_comparable(a, b) is None
        else ", identical ones included (exact duplicates were not compared)"
    )
    return {
        "kind": "near_duplicates",
        "count": pairs,
        "unit": unit,
        "samples": {a.letter: samples[0], b.letter: samples[1]},
        "features": features,
        "pairs": named,
    }
