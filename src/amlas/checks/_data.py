"""Stage 3 data checks: each machine-checkable [L] rule run on one dataset, producing the
data validation results [S].

A rule describes the dataset itself (its composition, coverage, label quality), so most
checks are a census: the dataset meets the bound or it does not. The one estimate is the
label error rate, known only from an audited subset, which is decided on its exact upper
confidence bound like any other proportion. Findings name the offending samples by id.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters import ColumnError, DatasetError, arrow_text, read_table
from amlas.checks._datasets import Dataset
from amlas.checks._duplicates import earlier_exact, earlier_near, radius_of
from amlas.checks._intervals import Verdict, decide_proportion, percent, required_samples
from amlas.checks._metrics import MAX_LISTED_IDS
from amlas.checks._slices import OUTSIDE, OUTSIDE_CODE, Dimension, labels_of
from amlas.project import METRICS, Project
from amlas.project.artefacts.data import (
    ClassBalance,
    Duplicates,
    LabelErrorRate,
    MinSamplesPerCell,
    SliceBalance,
    WithinOdd,
)

__all__ = ["AUDIT_LABEL_COLUMN", "CheckOutcome"]

AUDIT_LABEL_COLUMN = "audited_label"
"""Column of an audit file holding the re-checked label; the id column is the dataset's."""


@dataclass(frozen=True)
class CheckOutcome:
    """The result of one check that is not an [H] requirement: a data rule on one dataset
    or the independence of two datasets."""

    subject: str
    """The [L] requirement ID, or ``independence``."""
    check: str
    dataset: str
    verdict: Verdict
    summary: str
    parameters: dict[str, Any]
    resolved: dict[str, Any] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)


def _ids(dataset: Dataset, mask: NDArray[np.bool_]) -> list[str]:
    return [str(x) for x in dataset.ids[mask][:MAX_LISTED_IDS]]


@dataclass(frozen=True)
class _Units:
    """What a data rule counts: the samples, or a detector's ground-truth objects (crowd
    and ignore regions included: they are data too) when the rule names a dimension only
    objects carry (a pedestrian's distance) or a class (the class of an object)."""

    name: str
    codes: dict[str, NDArray[np.int64]]
    classes: NDArray[np.str_]
    counted: NDArray[np.bool_]
    ids: NDArray[np.str_]
    banded: dict[str, dict[str, NDArray[np.int64]]] = field(default_factory=dict)
    """Band codes of the named bandings (dimension ID -> banding -> codes)."""

    def __len__(self) -> int:
        return len(self.ids)

    def codes_in(self, dimension: Dimension, banding: str | None) -> NDArray[np.int64]:
        """The band code of every unit on ``dimension`` in ``banding`` (None: the default):
        its position in ``dimension.slice_values(banding)``, negative for none."""
        if banding is None:
            return self.codes[dimension.id]
        return self.banded[dimension.id][banding]

    def labels_in(self, dimension: Dimension, banding: str | None) -> NDArray[np.str_]:
        """The band of every unit on ``dimension`` in ``banding`` (None: the default)."""
        return labels_of(self.codes_in(dimension, banding), dimension, banding)

    def counts(
        self,
        dims: dict[str, Dimension],
        dimensions: list[str],
        banding: dict[str, str | None],
        counted: NDArray[np.bool_],
    ) -> list[int]:
        """The units where ``counted`` holds in every cell of ``dimensions`` (every
        combination of their bands, in ``itertools.product`` order): one ``bincount``
        over the cell codes, no comparison of band names per cell."""
        values = [dims[d].slice_values(banding[d]) for d in dimensions]
        if any(
            len(set(v)) < len(v) or OUTSIDE in v or "" in v for v in values
        ):  # a band named twice (or like no band) counts by name, as written
            return self._counts_by_name(dims, dimensions, banding, counted, values)
        cell = np.zeros(len(self), dtype=np.int64)
        keep = counted.copy()
        for d, bands in zip(dimensions, values, strict=True):
            codes = self.codes_in(dims[d], banding[d])
            keep &= codes >= 0
            cell = cell * len(bands) + np.maximum(codes, 0)
        size = int(np.prod([len(v) for v in values])) if values else 1
        counts: list[int] = np.bincount(cell[keep], minlength=size).tolist()
        return counts

    def _counts_by_name(
        self,
        dims: dict[str, Dimension],
        dimensions: list[str],
        banding: dict[str, str | None],
        counted: NDArray[np.bool_],
        values: list[list[str]],
    ) -> list[int]:
        labels = {d: self.labels_in(dims[d], banding[d]) for d in dimensions}
        counts = []
        for combo in itertools.product(*values):
            mask = counted.copy()
            for dim_id, band in zip(dimensions, combo, strict=True):
                mask &= labels[dim_id] == band
            counts.append(int(mask.sum()))
        return counts


def _units(ds: Dataset, dimensions: list[str], cls: str | None) -> _Units:
    truth = ds.truth
    per_object = set(ds.document.objects.odd_columns) if ds.document.objects else set()
    environment = ds.environment
    if truth is None or environment is None or not (per_object & set(dimensions) or cls):
        everyone = np.ones(len(ds), dtype=bool)
        return _Units("samples", ds.odd_codes, ds.labels, everyone, ds.ids, ds.banded_codes)
    codes = truth.odd_codes
    names = np.asarray(ds.class_names, dtype=np.str_)
    boxes = truth.boxes
    rank = np.arange(len(boxes)).astype(np.str_)
    return _Units(
        "ground-truth objects",
        codes,
        names[boxes.cls] if len(names) else np.full(len(boxes), "", dtype=np.str_),
        np.ones(len(boxes), dtype=bool),
        np.char.add(np.char.add(ds.ids[boxes.image], "#object-"), rank),
        truth.banded_codes,
    )


def _within_odd(
    project: Project, subject: str, rule: WithinOdd, ds: Dataset, parameters: dict[str, Any]
) -> CheckOutcome:
    return _odd_judge(subject, rule, ds.letter, _odd_tally(rule, ds), parameters)


def _odd_tally(rule: WithinOdd, ds: Dataset) -> dict[str, Any]:
    """What :func:`_within_odd` counts in ``ds`` (a whole dataset or one chunk)."""
    dimensions = rule.dimensions or list(ds.odd_codes)
    units = _units(ds, dimensions, None)
    outside = np.zeros(len(units), dtype=bool)
    dims = []
    for dim_id in dimensions:
        mask = units.codes[dim_id] == OUTSIDE_CODE
        outside |= mask
        raw = ds.odd_values.get(dim_id)
        values = raw[mask][:MAX_LISTED_IDS] if raw is not None and len(raw) == len(mask) else []
        dims.append(
            {
                "dimension": dim_id,
                "outside": int(mask.sum()),
                "failing_ids": [str(x) for x in units.ids[mask][:MAX_LISTED_IDS]],
                "values": [v if isinstance(v, str) else _num(v) for v in list(values)],
            }
        )
    return {
        "dimensions": dimensions,
        "unit": units.name,
        "n": len(units),
        "outside": int(outside.sum()),
        "results": dims,
    }


def _odd_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    results = [
        {
            "dimension": x["dimension"],
            "outside": x["outside"] + y["outside"],
            "failing_ids": _first(x["failing_ids"], y["failing_ids"]),
            "values": _first(x["values"], y["values"]),
        }
        for x, y in zip(a["results"], b["results"], strict=True)
    ]
    return {**a, "n": a["n"] + b["n"], "outside": a["outside"] + b["outside"], "results": results}


def _odd_judge(
    subject: str, rule: WithinOdd, letter: str, tally: dict[str, Any], parameters: dict[str, Any]
) -> CheckOutcome:
    n, dimensions, unit = tally["n"], tally["dimensions"], tally["unit"]
    # the mean of a boolean array is its (exact) count over n, correctly rounded
    fraction = tally["outside"] / n if n else 0.0
    verdict: Verdict = "pass" if fraction <= rule.max_outside_fraction else "fail"
    summary = (
        f"{subject} on [{letter}]: {tally['outside']} of {n} {unit} "
        f"({fraction:.2%}) outside the ODD on {', '.join(dimensions)}; "
        f"at most {rule.max_outside_fraction:.2%} allowed"
    )
    resolved = {"dimensions": dimensions, "outside_fraction": fraction, "unit": unit}
    return CheckOutcome(
        subject, "data.within_odd", letter, verdict, summary, parameters, resolved,
        [dict(r) for r in tally["results"]],
    )  # fmt: skip


def _first(a: list[Any], b: list[Any]) -> list[Any]:
    """The first listed values of two consecutive parts of a dataset."""
    return (a + b)[:MAX_LISTED_IDS]


def _num(value: Any) -> float | None:
    number = float(value)
    return number if np.isfinite(number) else None


def _schema(
    project: Project, subject: str, ds: Dataset, parameters: dict[str, Any]
) -> CheckOutcome:
    return _schema_judge(project, subject, ds.letter, _schema_tally(project, ds), parameters)


def _schema_tally(project: Project, ds: Dataset) -> list[dict[str, Any]]:
    """Per input feature of [D], what :func:`_schema` finds in ``ds`` (a whole dataset or
    one chunk): its problem, and for a problem of values how many and which."""
    component = project.component
    features = component.inputs.features if component else []
    found: list[dict[str, Any]] = []
    for feature in features:
        if feature.name not in ds.table.columns:
            found.append({"feature": feature.name, "problem": "missing column"})
            continue
        values = ds.table.columns[feature.name]
        if feature.dtype in ("float", "int"):
            if values.dtype.kind not in "biuf":
                found.append({"feature": feature.name, "dtype": values.dtype})
                continue
            numbers = values.astype(np.float64)
            bad = ~np.isfinite(numbers)
            if feature.dtype == "int":
                bad |= np.isfinite(numbers) & (np.round(numbers) != numbers)
            problem = "not a finite number" if feature.dtype == "float" else "not an integer"
        elif feature.dtype == "bool":
            text = np.char.lower(values.astype(np.str_))
            bad = ~np.isin(text, np.array(["0", "1", "true", "false", "0.0", "1.0"]))
            problem = "not a boolean"
        else:
            bad = np.char.str_len(values.astype(np.str_)) == 0
            problem = "empty"
        found.append(
            {
                "feature": feature.name,
                "problem": problem,
                "count": int(bad.sum()),
                "failing_ids": _ids(ds, bad),
            }
        )
    return found


def _schema_merge(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for x, y in zip(a, b, strict=True):
        if "dtype" in x or "dtype" in y:
            dx, dy = x.get("dtype"), y.get("dtype")
            if dx is None or dy is None or dx.kind != dy.kind or (dx != dy and dx.kind != "U"):
                raise NotChunkable(f"column {x['feature']!r} is read as different types")
            # a text column's width is its longest value's: the wider of the two
            out.append({**x, "dtype": max(dx, dy, key=lambda d: d.itemsize)})
        elif "count" in x:
            out.append(
                {
                    **x,
                    "count": x["count"] + y["count"],
                    "failing_ids": _first(x["failing_ids"], y["failing_ids"]),
                }
            )
        else:
            out.append(x)
    return out


def _schema_judge(
    project: Project,
    subject: str,
    letter: str,
    found: list[dict[str, Any]],
    parameters: dict[str, Any],
) -> CheckOutcome:
    component = project.component
    features = component.inputs.features if component else []
    results: list[dict[str, Any]] = []
    for entry in found:
        if "dtype" in entry:
            problem = f"expected numbers, found {entry['dtype']}"
            results.append({"feature": entry["feature"], "problem": problem})
        elif "count" not in entry or entry["count"]:
            results.append(dict(entry))
    verdict: Verdict = "fail" if results else "pass"
    summary = f"{subject} on [{letter}]: " + (
        f"all {len(features)} input features of [D] present with the declared types"
        if not results
        else f"{len(results)} of {len(features)} input features do not conform: "
        + ", ".join(f"{r['feature']} ({r['problem']})" for r in results[:5])
    )
    return CheckOutcome(
        subject,
        "data.schema_conformance",
        letter,
        verdict,
        summary,
        parameters,
        {"features": [f.name for f in features]},
        results,
    )


def _cells(
    project: Project,
    subject: str,
    rule: MinSamplesPerCell,
    ds: Dataset,
    parameters: dict[str, Any],
) -> CheckOutcome:
    tally = _cells_tally(project, rule, ds)
    return _cells_judge(project, subject, rule, ds.letter, tally, parameters)


def _cells_tally(project: Project, rule: MinSamplesPerCell, ds: Dataset) -> dict[str, Any]:
    """The units :func:`_cells` counts in every cell, in ``ds`` (a whole dataset or one
    chunk)."""
    environment = project.environment
    assert environment is not None
    dims = {d.id: d for d in environment.dimensions}
    units = _units(ds, rule.dimensions, rule.class_)
    counted = units.counted.copy()
    if rule.class_ is not None:
        counted &= units.classes == rule.class_
    bandings = {d: rule.banding_of(d) for d in rule.dimensions}
    return {"unit": units.name, "counts": units.counts(dims, rule.dimensions, bandings, counted)}


def _counts_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    counts = [x + y for x, y in zip(a["counts"], b["counts"], strict=True)]
    return {**a, "counts": counts, **({"total": a["total"] + b["total"]} if "total" in a else {})}


def _cells_judge(
    project: Project,
    subject: str,
    rule: MinSamplesPerCell,
    letter: str,
    tally: dict[str, Any],
    parameters: dict[str, Any],
) -> CheckOutcome:
    resolved: dict[str, Any] = {}
    k = rule.min_samples
    if k is None:
        requirement = _ml_requirement(project, rule.from_requirement or "")
        spec = METRICS.get(requirement.metric or "") if requirement else None
        if requirement is None or spec is None or requirement.threshold is None:
            return CheckOutcome(
                subject, "data.min_samples_per_cell", letter, "inconclusive",
                f"{subject}: {rule.from_requirement} states no threshold to derive k from",
                parameters,
            )  # fmt: skip
        comparison = requirement.comparison or spec.comparison
        confidence = requirement.effective_confidence
        if confidence is None:
            return CheckOutcome(
                subject, "data.min_samples_per_cell", letter, "inconclusive",
                f"{subject}: {rule.from_requirement} states no confidence level (Q020)",
                parameters,
            )  # fmt: skip
        # a requirement judged in m slices is decided at the Holm family level: its
        # strictest step is alpha/m, so each cell needs the sample size at that level
        environment = project.environment
        assert environment is not None
        dims = {d.id: d for d in environment.dimensions}
        judged = requirement.judged_slice
        m = 1
        for dim_id in judged.per:
            allowed = judged.where.get(dim_id)
            bands = dims[dim_id].slice_values(judged.banding_of(dim_id))
            m *= len([b for b in bands if allowed is None or b in allowed])
        m = max(m, 1)
        k = required_samples(
            requirement.threshold,
            comparison="at_least" if comparison == "at_least" else "at_most",
            confidence=1.0 - (1.0 - confidence) / m,
        )
        if k is None:
            return CheckOutcome(
                subject, "data.min_samples_per_cell", letter, "inconclusive",
                f"{subject}: no sample size can show {requirement.id}'s threshold",
                parameters,
            )  # fmt: skip
        family = f", Holm over {m} slices" if m > 1 else ""
        default = " (the project's default)" if requirement.confidence_defaulted else ""
        resolved["k_derivation"] = (
            f"{requirement.id}: {requirement.metric} {comparison} {requirement.threshold:g} at "
            f"{percent(confidence)} confidence{default}{family} needs {k} samples with no "
            "failure (exact binomial)"
        )
    resolved["min_samples"] = k
    environment = project.environment
    assert environment is not None
    dims = {d.id: d for d in environment.dimensions}
    unit = tally["unit"]
    resolved["unit"] = unit
    if rule.banding:
        resolved["banding"] = dict(rule.banding)
    bandings = {d: rule.banding_of(d) for d in rule.dimensions}
    combos = list(itertools.product(*(dims[d].slice_values(bandings[d]) for d in rule.dimensions)))
    counts = tally["counts"]
    results = []
    short = 0
    for combo, count in zip(combos, counts, strict=True):
        ok = count >= k
        short += not ok
        cell = ", ".join(f"{d}={b}" for d, b in zip(rule.dimensions, combo, strict=True))
        results.append({"cell": cell, "samples": count, "required": k, "met": ok})
    verdict: Verdict = "pass" if short == 0 else "fail"
    of = f" of class {rule.class_!r}" if rule.class_ else ""
    banding = (
        " (banding " + ", ".join(f"{d}: {b}" for d, b in rule.banding.items()) + ")"
        if rule.banding
        else ""
    )
    summary = (
        f"{subject} on [{letter}]: {len(combos) - short} of {len(combos)} cells{banding} "
        f"hold at least {k} {unit}{of}"
    )
    if short:
        summary += "; short: " + ", ".join(
            f"{r['cell']} ({r['samples']})" for r in results if not r["met"]
        )
    return CheckOutcome(
        subject, "data.min_samples_per_cell", letter, verdict, summary, parameters, resolved,
        results,
    )  # fmt: skip


def _repeated(values: list[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for value in values:
        if value in seen and value not in repeated:
            repeated.append(value)
        seen.add(value)
    return repeated


def _repeated_ids(ds: Dataset) -> list[str]:
    """:func:`_repeated` of the dataset's ids; a million distinct ids are told distinct by
    pyarrow without a Python set."""
    import pyarrow.compute as pc

    if pc.count_distinct(ds.arrow_of(ds.ids)).as_py() == len(ds.ids):
        return []
    return _repeated(ds.ids.tolist())


def _ml_requirement(project: Project, req_id: str) -> Any:
    ml = project.ml_requirements
    if ml is None:
        return None
    return next((r for r in ml.requirements if r.id == req_id), None)


def _class_balance(
    subject: str, rule: ClassBalance, ds: Dataset, parameters: dict[str, Any]
) -> CheckOutcome:
    return _class_judge(subject, rule, ds.letter, _class_tally(rule, ds), parameters)


def _class_tally(rule: ClassBalance, ds: Dataset) -> dict[str, Any]:
    return {"count": int(ds.label_is(rule.class_).sum()), "n": len(ds)}


def _class_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {"count": a["count"] + b["count"], "n": a["n"] + b["n"]}


def _class_judge(
    subject: str, rule: ClassBalance, letter: str, tally: dict[str, Any], parameters: dict[str, Any]
) -> CheckOutcome:
    count, n = tally["count"], tally["n"]
    fraction = count / n
    ok = rule.min_fraction <= fraction <= rule.max_fraction
    summary = (
        f"{subject} on [{letter}]: class {rule.class_!r} is {count} of {n} samples "
        f"({fraction:.1%}); allowed {rule.min_fraction:.1%} to {rule.max_fraction:.1%}"
    )
    results = [{"class": rule.class_, "samples": count, "of": n, "fraction": fraction}]
    return CheckOutcome(
        subject, "data.class_balance", letter, "pass" if ok else "fail", summary, parameters,
        {}, results,
    )  # fmt: skip


def _slice_balance(
    project: Project, subject: str, rule: SliceBalance, ds: Dataset, parameters: dict[str, Any]
) -> CheckOutcome:
    tally = _slice_tally(project, rule, ds)
    return _slice_judge(project, subject, rule, ds.letter, tally, parameters)


def _slice_tally(project: Project, rule: SliceBalance, ds: Dataset) -> dict[str, Any]:
    environment = project.environment
    assert environment is not None
    dimension = next(d for d in environment.dimensions if d.id == rule.dimension)
    units = _units(ds, [rule.dimension], None)
    dims = {rule.dimension: dimension}
    counts = units.counts(dims, [rule.dimension], {rule.dimension: rule.banding}, units.counted)
    return {"counts": counts, "total": int(units.counted.sum())}


def _slice_judge(
    project: Project,
    subject: str,
    rule: SliceBalance,
    letter: str,
    tally: dict[str, Any],
    parameters: dict[str, Any],
) -> CheckOutcome:
    environment = project.environment
    assert environment is not None
    dimension = next(d for d in environment.dimensions if d.id == rule.dimension)
    total, counts = tally["total"], tally["counts"]
    results = []
    for band, count in zip(dimension.slice_values(rule.banding), counts, strict=True):
        fraction = count / total if total else 0.0
        results.append(
            {
                "band": band,
                "samples": count,
                "fraction": fraction,
                "met": fraction >= rule.min_fraction,
            }
        )
    short = [r for r in results if not r["met"]]
    banding = f" (banding {rule.banding!r})" if rule.banding else ""
    summary = (
        f"{subject} on [{letter}]: {len(results) - len(short)} of {len(results)} "
        f"{rule.dimension}{banding} bands hold at least {rule.min_fraction:.1%} of the samples"
    )
    if short:
        summary += "; short: " + ", ".join(f"{r['band']} ({r['fraction']:.1%})" for r in short)
    resolved = {"banding": rule.banding} if rule.banding else {}
    return CheckOutcome(
        subject, "data.slice_balance", letter, "fail" if short else "pass", summary,
        parameters, resolved, results,
    )  # fmt: skip


def _label_errors(
    project: Project, subject: str, rule: LabelErrorRate, ds: Dataset, parameters: dict[str, Any]
) -> CheckOutcome:
    audit = _audit_of(project, subject, rule, ds.letter, ds.document.id_column, parameters)
    if isinstance(audit, CheckOutcome):
        return audit
    repeated = _repeated_ids(ds)
    tally = _label_tally(audit, ds)
    return _label_judge(subject, rule, ds.letter, audit, repeated, tally, parameters)


@dataclass(frozen=True)
class _Audit:
    table: Any
    ids: NDArray[np.str_]
    labels: NDArray[np.str_]


def _audit_of(
    project: Project,
    subject: str,
    rule: LabelErrorRate,
    letter: str,
    id_column: str | None,
    parameters: dict[str, Any],
) -> _Audit | CheckOutcome:
    """The audit of :func:`_label_errors`, or the outcome when it cannot be matched with
    any dataset (no id column, an unreadable audit, an audit that repeats ids)."""
    name = "data.label_error_rate"
    if id_column is None:
        return CheckOutcome(
            subject, name, letter, "inconclusive",
            f"{subject}: [{letter}] declares no id_column to match the audit with", parameters,
        )  # fmt: skip
    try:
        audit = read_table(Path(project.root / rule.audit_file), "csv")
        audit_ids = audit.text(id_column)
        audited = audit.text(AUDIT_LABEL_COLUMN)
    except (DatasetError, ColumnError) as exc:  # the message names the file and column
        return CheckOutcome(
            subject, name, letter, "inconclusive", f"{subject}: audit file: {exc}", parameters
        )
    repeated = _repeated(audit_ids.tolist())
    if repeated:
        return CheckOutcome(
            subject, name, letter, "inconclusive",
            f"{subject}: the audit lists {len(repeated)} sample id(s) more than once "
            f"(e.g. {', '.join(repeated[:5])}); each audited sample may count once",
            parameters,
        )  # fmt: skip
    return _Audit(audit, audit_ids, audited)


def _label_tally(audit: _Audit, ds: Dataset) -> list[str | None]:
    """The label ``ds`` (a whole dataset or one chunk) records for each audited sample,
    None for one it does not hold."""
    import pyarrow.compute as pc

    if not len(ds):
        return [None] * len(audit.ids)
    # the position of each audited id among the dataset's ids: a hash join, no dictionary
    # of a million ids
    at = pc.index_in(arrow_text(audit.ids), value_set=ds.arrow_of(ds.ids))
    matched = np.asarray(at.is_valid(), dtype=bool)
    position = np.asarray(at.fill_null(0), dtype=np.int64)
    recorded = ds.labels[position].tolist()
    return [r if m else None for r, m in zip(recorded, matched.tolist(), strict=True)]


def _label_merge(a: list[str | None], b: list[str | None]) -> list[str | None]:
    return [x if x is not None else y for x, y in zip(a, b, strict=True)]


def _label_judge(
    subject: str,
    rule: LabelErrorRate,
    letter: str,
    prepared: _Audit,
    repeated: list[str],
    tally: list[str | None],
    parameters: dict[str, Any],
) -> CheckOutcome:
    name = "data.label_error_rate"
    audit, audit_ids, audited = prepared.table, prepared.ids, prepared.labels
    if repeated:
        return CheckOutcome(
            subject, name, letter, "inconclusive",
            f"{subject}: [{letter}] repeats sample id(s) {', '.join(repeated[:5])}; the "
            "audit cannot be matched to one sample",
            parameters,
        )  # fmt: skip
    matched = [r is not None for r in tally]
    n = sum(matched)
    resolved = {
        "audit_file": rule.audit_file,
        "audit_sha256": audit.sha256,
        "audited_in_dataset": n,
        "audited_total": len(audit),
    }
    if n == 0:
        return CheckOutcome(
            subject, name, letter, "inconclusive",
            f"{subject}: none of the {len(audit)} audited samples is in [{letter}]; the "
            "audit says nothing about its labels",
            parameters, resolved,
        )  # fmt: skip
    recorded = tally
    wrong = [
        (i, r, a)
        for i, r, a, m in zip(audit_ids.tolist(), recorded, audited.tolist(), matched, strict=True)
        if m and r != a
    ]
    decision = decide_proportion(
        len(wrong), n, threshold=rule.max_rate, comparison="at_most", confidence=rule.confidence
    )
    results: list[dict[str, Any]] = [
        {
            "audited": n,
            "errors": len(wrong),
            "estimate": decision.estimate,
            "upper": decision.interval.upper,
            "threshold": rule.max_rate,
            "reason": decision.reason,
            "failing_ids": [w[0] for w in wrong[:MAX_LISTED_IDS]],
            "disagreements": [
                {"id": i, "recorded": r, "audited": a} for i, r, a in wrong[:MAX_LISTED_IDS]
            ],
        }
    ]
    if decision.additional_samples is not None:
        results[0]["additional_samples"] = decision.additional_samples
    summary = (
        f"{subject} on [{letter}]: {len(wrong)} label error(s) in {n} audited samples; "
        f"{percent(rule.confidence)} upper bound {decision.interval.upper:.4f} vs "
        f"{rule.max_rate:g}: {decision.verdict}"
    )
    resolved["method"] = "clopper-pearson"
    return CheckOutcome(
        subject, name, letter, decision.verdict, summary, parameters, resolved, results
    )


def _duplicates(
    subject: str, rule: Duplicates, ds: Dataset, parameters: dict[str, Any]
) -> CheckOutcome:
    """The share of samples that duplicate an earlier sample, bounded exactly.

    A sample duplicates an earlier one when its content hash equals that sample's, or
    (with a distance) when the RMS distance over its z-scored features is at most the
    distance. Counting samples, not pairs, keeps the rate a proportion of the dataset:
    ten copies of one frame are nine duplicates, whatever order they come in.
    """
    n = len(ds)
    resolved = duplicates_resolved(ds.name, ds.content_columns)
    exact = np.full(n, -1, dtype=np.int64)
    if ds.content_columns:
        exact = earlier_exact(ds.content_codes)
    near = np.full(n, -1, dtype=np.int64)
    uncompared: NDArray[np.bool_] = np.zeros(n, dtype=bool)  # near search skipped (NaN)
    features = rule.features or ds.features
    distance = rule.near_duplicate_distance
    if distance <= 0:
        resolved["near_duplicates"] = "off (near_duplicate_distance: 0)"
    elif not features:
        resolved["near_duplicates"] = "not searched: no numeric features to compare"
    else:
        z = ds.zscores(features)
        uncompared = np.asarray(~np.isfinite(z).all(axis=1), dtype=bool)
        near = earlier_near(z, radius_of(distance, len(features)), rows=ds.zscored_rows(features))
        near_resolved(resolved, distance, features, int(uncompared.sum()))
    is_exact = exact >= 0
    is_near = (near >= 0) & ~is_exact
    duplicates = is_exact | is_near
    rows = np.flatnonzero(duplicates)[:MAX_LISTED_IDS]
    examples = [
        {
            "id": str(ds.ids[i]),
            "duplicates": str(ds.ids[exact[i] if is_exact[i] else near[i]]),
            "kind": "exact" if is_exact[i] else "near",
        }
        for i in rows.tolist()
    ]
    found = DuplicatesFound(
        exact=int(is_exact.sum()),
        near=int(is_near.sum()),
        unchecked=int((uncompared & ~duplicates).sum()),
        examples=examples,
    )
    return duplicates_judge(subject, rule, ds, n, features, resolved, found, parameters)


def near_resolved(
    resolved: dict[str, Any],
    distance: float,
    features: list[str],
    skipped: int,
    scaled_by: str = "this dataset",
) -> None:
    """What a near-duplicate search that ran resolves (the duplicates rule's, and the
    independence check's with ``scaled_by`` the first dataset): ``skipped`` samples had a
    missing value."""
    if skipped:
        resolved["near_duplicates_not_compared"] = (
            f"{skipped} sample(s) with a missing (NaN) feature value"
        )
    resolved.update(
        near_duplicate_distance=distance,
        distance=f"RMS over features z-scored by {scaled_by}'s mean and std",
        features=features,
    )


def duplicates_resolved(name: str, content_columns: list[str]) -> dict[str, Any]:
    """What :func:`_duplicates` resolves before it compares anything."""
    resolved: dict[str, Any] = {
        "unit": "samples that duplicate an earlier sample of the dataset, in file order",
        "content_columns": content_columns,
    }
    if not content_columns:
        resolved["exact_duplicates"] = (
            f"not compared: {name} has no column that identifies a sample's content (no "
            f"model-input feature or array); declare 'content_columns' in {name}"
        )
    return resolved


@dataclass(frozen=True)
class DuplicatesFound:
    """What the duplicates rule found: samples that duplicate an earlier one exactly, and
    only nearly; samples the near search could not compare that duplicate nothing; the
    first duplicates in file order (id, the earlier sample's id, kind)."""

    exact: int
    near: int
    unchecked: int
    examples: list[dict[str, str]]


def duplicates_judge(
    subject: str,
    rule: Duplicates,
    ds: Dataset,
    n: int,
    features: list[str],
    resolved: dict[str, Any],
    found: DuplicatesFound,
    parameters: dict[str, Any],
) -> CheckOutcome:
    """The outcome of :func:`_duplicates` from what it found; ``ds`` is the dataset or one
    of its chunks (only what does not depend on the rows is read from it)."""
    name = "data.duplicates"
    distance = rule.near_duplicate_distance
    searched = distance > 0 and bool(features)
    k = found.exact + found.near
    if not ds.content_columns and not searched:
        return CheckOutcome(
            subject, name, ds.letter, "inconclusive",
            f"{subject} on {ds.name}: nothing to compare: no column identifies a sample's "
            f"content and no near-duplicate search runs; declare 'content_columns' in "
            f"{ds.name}",
            parameters, resolved,
        )  # fmt: skip
    decision = decide_proportion(
        k, n, threshold=rule.max_rate, comparison="at_most", confidence=rule.confidence
    )
    verdict = decision.verdict
    if verdict == "pass" and not ds.content_columns:
        verdict = "inconclusive"  # identical content may hide behind different features
        resolved["why_not_pass"] = resolved["exact_duplicates"]
    elif verdict == "pass" and distance > 0 and not features:
        verdict = "inconclusive"  # [L] asks for a near search that cannot run
        resolved["why_not_pass"] = resolved["near_duplicates"]
    elif verdict == "pass" and found.unchecked:
        # rows the near search could not compare, counted as duplicates: the verdict must
        # hold both ways (as unknown proofs are counted in the formal leg)
        worst = k + found.unchecked
        upper = decide_proportion(
            worst, n, threshold=rule.max_rate, comparison="at_most", confidence=rule.confidence
        )
        if upper.verdict != "pass":
            verdict = "inconclusive"
            resolved["why_not_pass"] = (
                f"with the {worst - k} sample(s) the near search could not compare counted "
                "as duplicates the rate is not shown at most max_rate"
            )
    examples = found.examples
    result: dict[str, Any] = {
        "duplicates": k,
        "samples": n,
        "exact": found.exact,
        "near": found.near,
        "estimate": decision.estimate,
        "upper": decision.interval.upper,
        "threshold": rule.max_rate,
        "reason": decision.reason,
        "failing_ids": [e["id"] for e in examples],
        "examples": examples,
    }
    if decision.additional_samples is not None:
        result["additional_samples"] = decision.additional_samples
    resolved["method"] = "clopper-pearson"
    exact_part = f"{found.exact} exact" if ds.content_columns else "exact not compared"
    kinds = f"{exact_part}, {found.near} near" if searched else exact_part
    summary = (
        f"{subject} on {ds.name}: {k} of {n} samples duplicate an earlier sample ({kinds}); "
        f"{percent(rule.confidence)} upper bound {decision.interval.upper:.4f} vs "
        f"{rule.max_rate:g}: {verdict}"
    )
    if verdict != decision.verdict:
        summary += f" ({resolved['why_not_pass']})"
    return CheckOutcome(subject, name, ds.letter, verdict, summary, parameters, resolved, [result])


class NotChunkable(Exception):
    """What one chunk holds cannot be added to the others' exactly (a column read as
    another type): the dataset is read whole instead."""


@dataclass(frozen=True)
class ChunkedRule:
    """A built-in data rule judged over chunks: ``tally`` counts a chunk (a bound
    :class:`Dataset`), ``merge`` adds two consecutive parts' tallies, ``judge`` decides
    from the whole's. The whole-read rule is ``judge(tally(dataset))``, so a one-chunk
    read is the whole read."""

    tally: Any
    merge: Any
    judge: Any


CHUNKED_RULES: dict[str, ChunkedRule] = {
    "within_odd": ChunkedRule(
        lambda project, rule, ds: _odd_tally(rule, ds),
        _odd_merge,
        lambda project, subject, rule, letter, t, p: _odd_judge(subject, rule, letter, t, p),
    ),
    "schema_conformance": ChunkedRule(
        lambda project, rule, ds: _schema_tally(project, ds),
        _schema_merge,
        lambda project, subject, rule, letter, t, p: _schema_judge(project, subject, letter, t, p),
    ),
    "min_samples_per_cell": ChunkedRule(
        lambda project, rule, ds: _cells_tally(project, rule, ds), _counts_merge, _cells_judge
    ),
    "class_balance": ChunkedRule(
        lambda project, rule, ds: _class_tally(rule, ds),
        _class_merge,
        lambda project, subject, rule, letter, t, p: _class_judge(subject, rule, letter, t, p),
    ),
    "slice_balance": ChunkedRule(
        lambda project, rule, ds: _slice_tally(project, rule, ds), _counts_merge, _slice_judge
    ),
}
"""The rules whose every count adds up over chunks (the label audit and the duplicates
rule need more: :mod:`amlas.verify._stage3`)."""
