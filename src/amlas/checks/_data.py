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
    dimensions = rule.dimensions or list(ds.odd_codes)
    units = _units(ds, dimensions, None)
    outside = np.zeros(len(units), dtype=bool)
    results = []
    for dim_id in dimensions:
        mask = units.codes[dim_id] == OUTSIDE_CODE
        outside |= mask
        raw = ds.odd_values.get(dim_id)
        values = raw[mask][:MAX_LISTED_IDS] if raw is not None and len(raw) == len(mask) else []
        results.append(
            {
                "dimension": dim_id,
                "outside": int(mask.sum()),
                "failing_ids": [str(x) for x in units.ids[mask][:MAX_LISTED_IDS]],
                "values": [v if isinstance(v, str) else _num(v) for v in list(values)],
            }
        )
    fraction = float(outside.mean()) if len(units) else 0.0
    verdict: Verdict = "pass" if fraction <= rule.max_outside_fraction else "fail"
    summary = (
        f"{subject} on [{ds.letter}]: {int(outside.sum())} of {len(units)} {units.name} "
        f"({fraction:.2%}) outside the ODD on {', '.join(dimensions)}; "
        f"at most {rule.max_outside_fraction:.2%} allowed"
    )
    resolved = {"dimensions": dimensions, "outside_fraction": fraction, "unit": units.name}
    return CheckOutcome(
        subject, "data.within_odd", ds.letter, verdict, summary, parameters, resolved, results
    )


def _num(value: Any) -> float | None:
    number = float(value)
    return number if np.isfinite(number) else None


def _schema(
    project: Project, subject: str, ds: Dataset, parameters: dict[str, Any]
) -> CheckOutcome:
    component = project.component
    features = component.inputs.features if component else []
    results: list[dict[str, Any]] = []
    for feature in features:
        if feature.name not in ds.table.columns:
            results.append({"feature": feature.name, "problem": "missing column"})
            continue
        values = ds.table.columns[feature.name]
        if feature.dtype in ("float", "int"):
            if values.dtype.kind not in "biuf":
                results.append(
                    {"feature": feature.name, "problem": f"expected numbers, found {values.dtype}"}
                )
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
        if bad.any():
            results.append(
                {
                    "feature": feature.name,
                    "problem": problem,
                    "count": int(bad.sum()),
                    "failing_ids": _ids(ds, bad),
                }
            )
    verdict: Verdict = "fail" if results else "pass"
    summary = f"{subject} on [{ds.letter}]: " + (
        f"all {len(features)} input features of [D] present with the declared types"
        if not results
        else f"{len(results)} of {len(features)} input features do not conform: "
        + ", ".join(f"{r['feature']} ({r['problem']})" for r in results[:5])
    )
    return CheckOutcome(
        subject,
        "data.schema_conformance",
        ds.letter,
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
    resolved: dict[str, Any] = {}
    k = rule.min_samples
    if k is None:
        requirement = _ml_requirement(project, rule.from_requirement or "")
        spec = METRICS.get(requirement.metric or "") if requirement else None
        if requirement is None or spec is None or requirement.threshold is None:
            return CheckOutcome(
                subject, "data.min_samples_per_cell", ds.letter, "inconclusive",
                f"{subject}: {rule.from_requirement} states no threshold to derive k from",
                parameters,
            )  # fmt: skip
        comparison = requirement.comparison or spec.comparison
        confidence = requirement.effective_confidence
        if confidence is None:
            return CheckOutcome(
                subject, "data.min_samples_per_cell", ds.letter, "inconclusive",
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
                subject, "data.min_samples_per_cell", ds.letter, "inconclusive",
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
    units = _units(ds, rule.dimensions, rule.class_)
    resolved["unit"] = units.name
    counted = units.counted.copy()
    if rule.class_ is not None:
        counted &= units.classes == rule.class_
    if rule.banding:
        resolved["banding"] = dict(rule.banding)
    bandings = {d: rule.banding_of(d) for d in rule.dimensions}
    combos = list(itertools.product(*(dims[d].slice_values(bandings[d]) for d in rule.dimensions)))
    counts = units.counts(dims, rule.dimensions, bandings, counted)
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
        f"{subject} on [{ds.letter}]: {len(combos) - short} of {len(combos)} cells{banding} "
        f"hold at least {k} {units.name}{of}"
    )
    if short:
        summary += "; short: " + ", ".join(
            f"{r['cell']} ({r['samples']})" for r in results if not r["met"]
        )
    return CheckOutcome(
        subject, "data.min_samples_per_cell", ds.letter, verdict, summary, parameters, resolved,
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
    count = int(ds.label_is(rule.class_).sum())
    fraction = count / len(ds)
    ok = rule.min_fraction <= fraction <= rule.max_fraction
    summary = (
        f"{subject} on [{ds.letter}]: class {rule.class_!r} is {count} of {len(ds)} samples "
        f"({fraction:.1%}); allowed {rule.min_fraction:.1%} to {rule.max_fraction:.1%}"
    )
    results = [{"class": rule.class_, "samples": count, "of": len(ds), "fraction": fraction}]
    return CheckOutcome(
        subject, "data.class_balance", ds.letter, "pass" if ok else "fail", summary, parameters,
        {}, results,
    )  # fmt: skip


def _slice_balance(
    project: Project, subject: str, rule: SliceBalance, ds: Dataset, parameters: dict[str, Any]
) -> CheckOutcome:
    environment = project.environment
    assert environment is not None
    dimension = next(d for d in environment.dimensions if d.id == rule.dimension)
    units = _units(ds, [rule.dimension], None)
    total = int(units.counted.sum())
    dims = {rule.dimension: dimension}
    counts = units.counts(dims, [rule.dimension], {rule.dimension: rule.banding}, units.counted)
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
        f"{subject} on [{ds.letter}]: {len(results) - len(short)} of {len(results)} "
        f"{rule.dimension}{banding} bands hold at least {rule.min_fraction:.1%} of the samples"
    )
    if short:
        summary += "; short: " + ", ".join(f"{r['band']} ({r['fraction']:.1%})" for r in short)
    resolved = {"banding": rule.banding} if rule.banding else {}
    return CheckOutcome(
        subject, "data.slice_balance", ds.letter, "fail" if short else "pass", summary,
        parameters, resolved, results,
    )  # fmt: skip


def _label_errors(
    project: Project, subject: str, rule: LabelErrorRate, ds: Dataset, parameters: dict[str, Any]
) -> CheckOutcome:
    id_column = ds.document.id_column
    name = "data.label_error_rate"
    if id_column is None:
        return CheckOutcome(
            subject, name, ds.letter, "inconclusive",
            f"{subject}: [{ds.letter}] declares no id_column to match the audit with", parameters,
        )  # fmt: skip
    try:
        audit = read_table(Path(project.root / rule.audit_file), "csv")
        audit_ids = audit.text(id_column)
        audited = audit.text(AUDIT_LABEL_COLUMN)
    except (DatasetError, ColumnError) as exc:  # the message names the file and column
        return CheckOutcome(
            subject, name, ds.letter, "inconclusive", f"{subject}: audit file: {exc}", parameters
        )
    repeated = _repeated(audit_ids.tolist())
    if repeated:
        return CheckOutcome(
            subject, name, ds.letter, "inconclusive",
            f"{subject}: the audit lists {len(repeated)} sample id(s) more than once "
            f"(e.g. {', '.join(repeated[:5])}); each audited sample may count once",
            parameters,
        )  # fmt: skip
    repeated = _repeated_ids(ds)
    if repeated:
        return CheckOutcome(
            subject, name, ds.letter, "inconclusive",
            f"{subject}: [{ds.letter}] repeats sample id(s) {', '.join(repeated[:5])}; the "
            "audit cannot be matched to one sample",
            parameters,
        )  # fmt: skip
    import pyarrow.compute as pc

    # the position of each audited id among the dataset's (unique) ids: a hash join, no
    # dictionary of a million ids
    at = pc.index_in(arrow_text(audit_ids), value_set=ds.arrow_of(ds.ids))
    matched = np.asarray(at.is_valid(), dtype=bool)
    position = np.asarray(at.fill_null(0), dtype=np.int64)
    n = int(matched.sum())
    resolved = {
        "audit_file": rule.audit_file,
        "audit_sha256": audit.sha256,
        "audited_in_dataset": n,
        "audited_total": len(audit),
    }
    if n == 0:
        return CheckOutcome(
            subject, name, ds.letter, "inconclusive",
            f"{subject}: none of the {len(audit)} audited samples is in [{ds.letter}]; the "
            "audit says nothing about its labels",
            parameters, resolved,
        )  # fmt: skip
    recorded = ds.labels[position].tolist()
    wrong = [
        (i, r, a)
        for i, r, a, m in zip(
            audit_ids.tolist(), recorded, audited.tolist(), matched.tolist(), strict=True
        )
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
        f"{subject} on [{ds.letter}]: {len(wrong)} label error(s) in {n} audited samples; "
        f"{percent(rule.confidence)} upper bound {decision.interval.upper:.4f} vs "
        f"{rule.max_rate:g}: {decision.verdict}"
    )
    resolved["method"] = "clopper-pearson"
    return CheckOutcome(
        subject, name, ds.letter, decision.verdict, summary, parameters, resolved, results
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
    name = "data.duplicates"
    n = len(ds)
    resolved: dict[str, Any] = {
        "unit": "samples that duplicate an earlier sample of the dataset, in file order",
        "content_columns": ds.content_columns,
    }
    exact = np.full(n, -1, dtype=np.int64)
    if ds.content_columns:
        exact = earlier_exact(ds.content_codes)
    else:
        resolved["exact_duplicates"] = (
            f"not compared: {ds.name} has no column that identifies a sample's content (no "
            f"model-input feature or array); declare 'content_columns' in {ds.name}"
        )
    near = np.full(n, -1, dtype=np.int64)
    uncompared: NDArray[np.bool_] = np.zeros(n, dtype=bool)  # near search skipped (NaN)
    features = rule.features or ds.features
    distance = rule.near_duplicate_distance
    searched = distance > 0 and bool(features)
    if distance <= 0:
        resolved["near_duplicates"] = "off (near_duplicate_distance: 0)"
    elif not features:
        resolved["near_duplicates"] = "not searched: no numeric features to compare"
    else:
        z = ds.zscores(features)
        uncompared = np.asarray(~np.isfinite(z).all(axis=1), dtype=bool)
        skipped = int(uncompared.sum())
        if skipped:
            resolved["near_duplicates_not_compared"] = (
                f"{skipped} sample(s) with a missing (NaN) feature value"
            )
        near = earlier_near(z, radius_of(distance, len(features)), rows=ds.zscored_rows(features))
        resolved.update(
            near_duplicate_distance=distance,
            distance="RMS over features z-scored by this dataset's mean and std",
            features=features,
        )
    is_exact = exact >= 0
    is_near = (near >= 0) & ~is_exact
    duplicates = is_exact | is_near
    k = int(duplicates.sum())
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
    elif verdict == "pass" and (uncompared & ~duplicates).any():
        # rows the near search could not compare, counted as duplicates: the verdict must
        # hold both ways (as unknown proofs are counted in the formal leg)
        worst = k + int((uncompared & ~duplicates).sum())
        upper = decide_proportion(
            worst, n, threshold=rule.max_rate, comparison="at_most", confidence=rule.confidence
        )
        if upper.verdict != "pass":
            verdict = "inconclusive"
            resolved["why_not_pass"] = (
                f"with the {worst - k} sample(s) the near search could not compare counted "
                "as duplicates the rate is not shown at most max_rate"
            )
    rows = np.flatnonzero(duplicates)[:MAX_LISTED_IDS]
    examples = [
        {
            "id": str(ds.ids[i]),
            "duplicates": str(ds.ids[exact[i] if is_exact[i] else near[i]]),
            "kind": "exact" if is_exact[i] else "near",
        }
        for i in rows.tolist()
    ]
    result: dict[str, Any] = {
        "duplicates": k,
        "samples": n,
        "exact": int(is_exact.sum()),
        "near": int(is_near.sum()),
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
    exact_part = f"{int(is_exact.sum())} exact" if ds.content_columns else "exact not compared"
    kinds = f"{exact_part}, {int(is_near.sum())} near" if searched else exact_part
    summary = (
        f"{subject} on {ds.name}: {k} of {n} samples duplicate an earlier sample ({kinds}); "
        f"{percent(rule.confidence)} upper bound {decision.interval.upper:.4f} vs "
        f"{rule.max_rate:g}: {verdict}"
    )
    if verdict != decision.verdict:
        summary += f" ({resolved['why_not_pass']})"
    return CheckOutcome(subject, name, ds.letter, verdict, summary, parameters, resolved, [result])
