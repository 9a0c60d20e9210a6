"""Imported results judged: counts by amlas's own exact bounds, a document's verdict as
the document's statement.

**Counts** are judged against the requirement's metric, threshold, comparison and
confidence in [H], never against anything the imported file says: successes of trials by
the exact Clopper-Pearson bound (:func:`amlas.checks.decide_slices`, Holm across slices),
events over an exposure by the exact Poisson (Garwood) bound
(:func:`amlas.checks.decide_rates`; imported counts carry no per-unit counts, so the bound
rests on the Poisson model alone, and the record says so). Before that, the counts must
fit: the metric is one judged from such counts (:data:`PROPORTION_METRICS`,
:data:`RATE_METRICS`), the slices count alike, their ODD cells are [B]'s and inside the
requirement's ``applies_to`` (every band of ``per`` counted), and the data and model the
file names are the project's now.

**A document** is a project file; its SHA-256 is taken, and its verdict kept as what it
is: the document's statement, not a computation.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

from amlas.checks import SliceResult, decide_rates, decide_slices, overall_verdict
from amlas.diagnostics import did_you_mean
from amlas.evidence import ImportedDocument, ProjectInputs
from amlas.hashing import sha256_file
from amlas.project import METRICS, Project, SourceMap, path_problem
from amlas.project.artefacts import MLSafetyRequirement
from amlas.project.metrics import BUILTIN_SPECS
from amlas.verify._import_file import CountsImport, DocumentImport, Problems

__all__ = [
    "PROPORTION_METRICS",
    "RATE_METRICS",
    "document_file",
    "judge_counts",
    "statement",
]

PROPORTION_METRICS = frozenset(
    {
        "recall",
        "fnr",
        "fpr",
        "specificity",
        "precision",
        "npv",
        "accuracy",
        "robust_accuracy",
        "prediction_stability",
        "verified_robustness",
        "fault_tolerance_rate",
        "within_tolerance_rate",
        "false_positives_per_sample",
        # detection and sequences (issue 14): proportions of images, objects, sequences
        "image_recall",
        "image_false_positive_rate",
        "sequence_window_rate",
    }
)
"""Metrics that are a proportion of counted trials, so successes of trials judge them.
A metric's plug-in does not say yet how it counts; until it does, this list does."""

RATE_METRICS = frozenset({"false_positives_per_sample", "false_positives_per_image"})
"""Metrics that are events per unit of exposure, so events over an exposure judge them."""


# -- counts ---------------------------------------------------------------------------------


def _cell_problems(
    project: Project,
    requirement: MLSafetyRequirement,
    document: CountsImport,
    source: SourceMap,
    problems: Problems,
) -> None:
    """Every slice's cell names dimensions and bands of [B], inside the requirement's
    ``applies_to``; with ``per``, every band (combination) the requirement is judged in
    has a slice."""
    environment = project.environment
    judged = requirement.judged_slice  # applies_to, with 'across' judged like 'per'
    values: dict[str, list[str]] = {}
    for d in environment.dimensions if environment else []:
        try:  # a cell names bands of the banding the requirement is judged in
            values[d.id] = d.slice_values(judged.banding_of(d.id))
        except KeyError:  # an unknown banding: Q016 in `amlas check`
            values[d.id] = []
    where = judged.where
    for index, part in enumerate(document.slices):
        for dimension, value in part.cell.items():
            at = source.locate(("slices", index, "cell", dimension))
            if dimension not in values:
                hint = did_you_mean(dimension, values)
                problems.add(
                    "R085", f"slice {part.name!r}: [B] has no ODD dimension {dimension!r}", at, hint
                )
            elif value not in values[dimension]:
                hint = did_you_mean(value, values[dimension]) or (
                    f"{dimension}: {', '.join(values[dimension])}"
                )
                problems.add(
                    "R085",
                    f"slice {part.name!r}: {dimension!r} has no band or category {value!r}",
                    at,
                    hint,
                )
            elif dimension in where and value not in where[dimension]:
                problems.add(
                    "R086",
                    f"slice {part.name!r}: {dimension}={value} lies outside {requirement.id}'s "
                    f"applies_to ({dimension} in {', '.join(where[dimension])})",
                    at,
                )
    per = judged.per
    if not per or any(p not in values for p in per):
        return
    bands = [[v for v in values[p] if p not in where or v in where[p]] for p in per]
    given = {tuple(part.cell.get(p) for p in per) for part in document.slices}
    missing = [combo for combo in itertools.product(*bands) if combo not in given]
    if missing:
        shown = [", ".join(f"{p}={v}" for p, v in zip(per, c, strict=True)) for c in missing]
        more = f" and {len(shown) - 4} more" if len(shown) > 4 else ""
        problems.add(
            "R086",
            f"{requirement.id} must hold in every band of {', '.join(per)}, but no slice "
            f"counts {'; '.join(shown[:4])}{more}",
            source.locate(("slices",)),
            hint="give one slice per band, its ODD cell in 'cell:'",
        )


def _settings(
    project: Project, requirement: MLSafetyRequirement, problems: Problems
) -> tuple[str, float, str, float] | None:
    """(metric, threshold, comparison, confidence) of ``requirement``, or a problem."""
    settings = {
        "metric": requirement.metric,
        "threshold": requirement.threshold,
        "confidence": requirement.effective_confidence,  # its own, else the project's default
    }
    missing = [name for name, value in settings.items() if value is None]
    ml = project.ml_requirements
    listed = [r.id for r in ml.requirements] if ml is not None else []
    index = listed.index(requirement.id) if requirement.id in listed else 0
    if missing:
        problems.add(
            "R086",
            f"{requirement.id} has no {' and no '.join(missing)}, so no count can be judged "
            "against it; write them in [H] (e.g. metric: within_tolerance_rate, threshold: "
            "0.999, confidence: 0.95), or import a document",
            project.locate("H", ("requirements", index)),
        )
        return None
    metric, threshold, confidence = (
        requirement.metric,
        requirement.threshold,
        requirement.effective_confidence,
    )
    if metric is None or threshold is None or confidence is None:  # pragma: no cover
        return None  # reported above
    spec = METRICS.get(metric) or BUILTIN_SPECS.get(metric)
    comparison = requirement.comparison or (spec.comparison if spec is not None else None)
    if comparison is None:  # a plug-in that does not load: its direction is unknown
        problems.add(
            "R086",
            f"{requirement.id}: the direction of {metric} is unknown (its plug-in does not "
            "load); write 'comparison: at_least' or 'at_most' in [H]",
            project.locate("H", ("requirements", index)),
        )
        return None
    return metric, threshold, comparison, confidence


def judge_counts(
    project: Project,
    requirement: MLSafetyRequirement,
    document: CountsImport,
    letter: str | None,
    source: SourceMap,
    problems: Problems,
    hashes: ProjectInputs,
) -> tuple[list[dict[str, Any]], str, str, dict[str, Any]]:
    """(results, verdict, summary, resolved) of the counts, judged by amlas."""
    _cell_problems(project, requirement, document, source, problems)
    _same_data(document, letter, source, problems, hashes)
    settings = _settings(project, requirement, problems)
    rate = document.slices[0].events is not None
    if settings is None:
        return [], "inconclusive", "", {}
    metric, threshold, comparison, confidence = settings
    fits = RATE_METRICS if rate else PROPORTION_METRICS
    if metric not in fits:
        counted = "events over an exposure (a rate)" if rate else "successes of trials"
        wanted = (
            "successes and trials"
            if metric in PROPORTION_METRICS
            else "events, exposure and unit"
            if metric in RATE_METRICS
            else "a document (amlas cannot recompute this metric's bound from counts)"
        )
        problems.add(
            "R086",
            f"{requirement.id} sets a threshold on {metric}, which is not judged from "
            f"{counted}; give {wanted}",
            source.locate(("slices", 0)),
        )
    kinds = {part.events is not None for part in document.slices}
    units = sorted({part.unit for part in document.slices if part.unit is not None})
    if len(kinds) > 1 or len(units) > 1:
        problems.add(
            "R086",
            "the slices count in different ways ("
            + (", ".join(f"per {u}" for u in units) if len(units) > 1 else "proportions and rates")
            + "); one import judges one requirement, all slices alike",
            source.locate(("slices",)),
        )
    if problems.found.has_errors:
        return [], "inconclusive", "", {}
    resolved: dict[str, Any] = {
        "metric": metric,
        "comparison": comparison,
        "confidence": confidence,
        "class": requirement.class_,
        "slices": [part.name for part in document.slices],
        "family": "Holm" if len(document.slices) > 1 else "none",
        "computed_by": "amlas, from the imported counts",
    }
    if requirement.precondition:
        resolved["precondition"] = {
            "terms": [
                t.model_dump(mode="json", by_alias=True, exclude_none=True)
                for t in requirement.precondition
            ],
            "applied_by": "whoever counted (outside amlas): amlas does not see the units",
        }
    if rate:
        unit = units[0]
        decisions = decide_rates(
            [(int(p.events or 0), float(p.exposure or 0.0)) for p in document.slices],
            threshold=threshold,
            comparison=comparison,  # type: ignore[arg-type]
            confidence=confidence,
        )
        # imported counts carry no per-unit counts: the bound rests on the Poisson model
        # alone, and the record says so (decision.assumption)
        resolved.update(method="poisson-exact (Garwood)", unit=unit)
        results = [
            {
                "slice": part.name,
                "cell": dict(part.cell),
                "verdict": d.verdict,
                "estimate": d.estimate,
                "lower": d.interval.lower,
                "upper": d.interval.upper if math.isfinite(d.interval.upper) else None,
                "bound": d.bound if math.isfinite(d.bound) else None,
                "threshold": threshold,
                "comparison": comparison,
                "events": part.events,
                "exposure": part.exposure,
                "unit": unit,
                "reason": d.reason,
                "assumption": d.assumption,
                "p_pass": d.p_pass,
                "p_fail": d.p_fail,
            }
            for part, d in zip(document.slices, decisions, strict=True)
        ]
        verdicts = [d.verdict for d in decisions]
    else:
        try:
            chosen = decide_slices(
                [(int(p.successes or 0), int(p.trials or 0)) for p in document.slices],
                threshold=threshold,
                comparison=comparison,  # type: ignore[arg-type]
                confidence=confidence,
            )
        except ValueError as exc:  # a proportion's threshold outside [0, 1]
            problems.add("R086", f"{requirement.id}: {exc}", source.locate(("for",)))
            return [], "inconclusive", "", {}
        resolved.update(method="clopper-pearson")
        results = [
            SliceResult(
                slice=part.name,
                cell=dict(part.cell),
                verdict=d.verdict,
                estimate=d.estimate,
                lower=d.interval.lower,
                upper=d.interval.upper,
                bound=d.bound,
                threshold=threshold,
                comparison=d.comparison,
                reason=d.reason,
                trials=d.trials,
                successes=d.successes,
                additional_samples=d.additional_samples,
                p_pass=d.p_pass,
                p_fail=d.p_fail,
                failing_count=(d.trials - d.successes) if comparison == "at_least" else d.successes,
            ).as_json()
            for part, d in zip(document.slices, chosen, strict=True)
        ]
        verdicts = [d.verdict for d in chosen]
    verdict = overall_verdict(verdicts)
    passed = sum(v == "pass" for v in verdicts)
    failed = sum(v == "fail" for v in verdicts)
    on = f" on [{letter}]" if letter else ""
    summary = (
        f"{requirement.id}{on}: {verdict}; {passed}/{len(verdicts)} slices pass"
        + (f", {failed} fail" if failed else "")
        + f"; bound computed by amlas from counts imported from {document.tool.name} "
        f"{document.tool.version} ({document.accountable.person}, "
        f"{document.accountable.organisation})"
    )
    return results, verdict, summary, resolved


def _same_data(
    document: CountsImport,
    letter: str | None,
    source: SourceMap,
    problems: Problems,
    hashes: ProjectInputs,
) -> None:
    """The data and model the file says the counts come from are the project's now."""
    stated = document.data.sha256
    if stated is not None and letter is not None:
        current = hashes.current(f"dataset:{letter}")
        if current is not None and current != stated:
            problems.add(
                "R087",
                f"the counts were computed on data of sha256 {stated[:12]}..., but [{letter}] "
                f"is {current[:12]}... now: they are not evidence about [{letter}]",
                source.locate(("data", "sha256")),
                hint=f"recompute the counts on [{letter}] as it is, or import without "
                "--dataset and describe the data",
            )
    model = document.model_sha256
    if model is not None:
        current = hashes.current("model")
        if current != model:
            now = f"{current[:12]}..." if current else "none"
            problems.add(
                "R087",
                f"the counts were produced with the model of sha256 {model[:12]}..., but the "
                f"model [V] names is {now}: they are not evidence about this model",
                source.locate(("model_sha256",)),
                hint="recompute the counts with the model [V] names",
            )


# -- documents ------------------------------------------------------------------------------


def document_file(
    project: Project, document: DocumentImport, source: SourceMap, problems: Problems
) -> ImportedDocument | None:
    relative = document.document.file
    at = source.locate(("document", "file"))
    problem = path_problem(project.root, relative)
    path = project.root / relative
    if problem is None and not path.is_file():
        problem = "is not a file" if path.exists() else "does not exist"
    if problem is not None:
        problems.add(
            "R080",
            f"document file {relative!r} {problem}",
            at,
            hint="name the document by its path inside the project, and commit it",
        )
        return None
    return ImportedDocument(
        file=Path(relative).as_posix(),
        sha256=sha256_file(path),
        title=document.document.title,
        kind=document.document.kind,
    )


def statement(
    document: DocumentImport, named: ImportedDocument, target: str, letter: str | None
) -> tuple[list[dict[str, Any]], str, str, dict[str, Any]]:
    """(results, verdict, summary, resolved): the document's own verdict, marked as its
    statement."""
    who = f"{document.accountable.person}, {document.accountable.organisation}"
    on = f" on [{letter}]" if letter else ""
    results: list[dict[str, Any]] = [
        {
            "document": named.title,
            "kind": named.kind,
            "file": named.file,
            "sha256": named.sha256,
            "verdict": document.verdict,
            "summary": document.summary,
            "stated_by": "the document (not computed by amlas)",
        }
    ]
    summary = (
        f"{target}{on}: {document.verdict}, as stated by the {named.kind.replace('_', ' ')} "
        f"{named.title!r} ({who}); a document's statement, not computed by amlas"
    )
    resolved = {"verdict_source": "the document's own statement; amlas did not compute it"}
    return results, document.verdict, summary, resolved
