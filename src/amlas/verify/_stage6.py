"""``amlas run --stage 6``: integration testing over the operational scenarios [EE] and the
hazard-rate chain of every hazard, as evidence ([FF]).

Records:

- ``stage6/scenario/SC-x``: every run of one scenario through the harness; one result row
  per system safety requirement the scenario exercises (:mod:`amlas.checks._scenarios`).
  It states the scenario's expected outcome from [EE] as text (or that none is stated):
  the harness reports which requirements held, not what happened, so amlas cannot compare
  the two; the verdict rests on the requirements held. It also names the [H] requirements
  the scenario traces to.
- ``stage6/hazard/HAZ-x``: the rate at which an ML failure gets through the barriers to the
  hazard (:mod:`amlas.checks._hazard`), from the latest stage-5 verification results (stage
  4 ones, said so, when the verifier has not run) and the barrier demands the harness
  reported in this run.

Their inputs: [EE] (scenarios, harness name), the harness's source file, [C] (barriers),
[A] (hazards and acceptable rates) and the model; a hazard record also carries the inputs
of the verification records it used, so it goes stale with them.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from amlas.adapters import import_callable
from amlas.checks import (
    BarrierCount,
    MLEvidence,
    ScenarioResult,
    hazard_chains,
    hazard_requirements,
    overall_verdict,
    rated_requirements,
    run_scenario,
)
from amlas.evidence import (
    EvidenceRecord,
    EvidenceStore,
    ProjectInputs,
    VerifierTrust,
    component_input,
    keys,
    open_store,
)
from amlas.hashing import sha256_file
from amlas.project import Project, sibling
from amlas.project.artefacts import (
    OperationalScenario,
    OperationalScenarios,
    SystemDescription,
)
from amlas.verify._context import RunContext, SummaryRow
from amlas.verify._planned import PlannedCheck
from amlas.verify._records import make_record, plain_json, timed

__all__ = ["run_stage6"]


def run_stage6(
    context: RunContext, scenarios_planned: list[PlannedCheck], evidence: EvidenceStore
) -> None:
    """Run the planned scenario and hazard checks (``scenarios_planned``, in plan order);
    ``evidence`` is the open store the verification results are read from."""
    project, report = context.project, context.report
    scenarios = project.get("EE", OperationalScenarios)
    assert scenarios is not None
    assert scenarios.harness is not None
    harness = import_callable(
        scenarios.harness, project.root, f"[EE] harness {scenarios.harness!r}"
    )
    description = project.get("C", SystemDescription)
    barriers = {b.id for b in description.barriers} if description is not None else set()
    model = context.model() if context.model_reference is not None else None
    # [EE], [C], [A], the harness's data and source, the model: hashed once, by the plan
    planned_inputs = scenarios_planned[0].inputs
    inputs = {name: digest for name, digest in planned_inputs.items() if digest is not None}
    by_id = {s.id: s for s in scenarios.scenarios}
    measured: dict[str, BarrierCount] = {}
    ran: list[tuple[PlannedCheck, ScenarioResult, dict[str, Any]]] = []
    for planned in (p for p in scenarios_planned if p.kind == "scenario"):
        scenario = by_id[planned.subject]
        advance = context.reporter.task(f"scenario {scenario.id}", scenario.variations)
        with timed() as meta:
            result = run_scenario(
                scenario,
                harness,
                model=model,
                root=project.root,
                barriers=barriers,
                progress=advance,
            )
        for barrier, count in result.barriers.items():
            total = measured.setdefault(barrier, BarrierCount())
            total.demands += count.demands
            total.failures += count.failures
        ran.append((planned, result, meta))
    # every project-local module the harness brought in (a simulator beside it, say) is
    # part of the harness: changing it makes the scenario records stale
    local = _local_modules(project.root)
    for planned, result, meta in ran:
        context.keep(_scenario_record(context, planned, result, {**inputs, **local}, meta))
        for part in result.slices():
            report.rows.append(
                SummaryRow(
                    6,
                    result.scenario.id,
                    "EE",
                    part.slice,
                    part.estimate,
                    part.bound if math.isfinite(part.bound) else None,
                    f">= {result.scenario.pass_rate(part.slice):g}",
                    part.verdict,
                    part.reason,
                )
            )
    confidence = min((s.confidence for s in scenarios.scenarios), default=0.95)
    counts = {b: c.as_json(confidence) for b, c in measured.items()}
    ml, stage_note, cited = _verification_results(project, evidence, context.records)
    others, other_note, other_cited = _component_results(project)
    if other_note:
        stage_note += "; " + other_note
    cited.update(other_cited)
    hazards = {p.subject: p for p in scenarios_planned if p.kind == "hazard"}
    with timed() as meta:
        chains = hazard_chains(project, ml, counts, confidence=confidence, others=others)
    for chain in chains:
        planned_hazard = hazards.get(chain.hazard)
        if planned_hazard is None:
            continue
        record = make_record(
            planned_hazard,
            role=context.role,
            parameters={"hazard": chain.hazard, "acceptable_from": chain.acceptable_from},
            resolved={
                "description": chain.description,
                "factors": [f.as_json() for f in chain.factors],
                **(
                    {"routes": [[f.as_json() for f in term] for term in chain.routes]}
                    if chain.routes
                    else {}
                ),
                **(
                    {"worsening": [[f.as_json() for f in term] for term in chain.worsening]}
                    if chain.worsening
                    else {}
                ),
                **({"notes": list(chain.notes)} if chain.notes else {}),
                "acceptable": chain.acceptable,
                "acceptable_per": chain.acceptable_per,
                "verification_results": chain.evidence,
                "results_from": stage_note,
                "barrier_counts": counts,
                "confidence": chain.confidence,
                "factor_level": chain.factor_level,
                "method": "products of one-sided Clopper-Pearson bounds, Bonferroni over "
                "the uncertain factors"
                + (
                    "; the terms (each ML component's route, each barrier's wrong action) "
                    "added: a union bound, the upper bound the sum of the terms' upper "
                    "bounds, the lower bound the largest term's"
                    if chain.worsening or chain.routes
                    else ""
                ),
                "assumption": "barriers fail independently of each other and of the ML "
                "component; the rate is per demand (a situation in which the hazard can "
                "arise)"
                + (
                    "; a rate of wrong action (worsens) measured over its requirement's "
                    "population stands for its rate among demands"
                    if chain.worsening
                    else ""
                ),
            },
            # the verification results it rests on: their inputs are its inputs (R23)
            inputs={**inputs, **{k: v for d in chain.evidence for k, v in cited[d].items()}},
            results=[chain.as_slice()],
            verdict=chain.verdict,
            summary=f"{chain.hazard}: {chain.verdict}; {chain.reason}",
            metadata=meta,
        )
        context.keep(record)
        report.rows.append(
            SummaryRow(
                6,
                chain.hazard,
                "A",
                "per demand",
                chain.estimate if chain.computable else None,
                chain.upper if chain.computable else None,
                f"<= {chain.acceptable:g}" if chain.acceptable is not None else "-",
                chain.verdict,
                chain.reason,
            )
        )


def _local_modules(root: Path) -> dict[str, str]:
    """``harness_code:<path>`` -> SHA-256 of every loaded module file inside ``root``."""
    base = root.resolve()
    out = {}
    for module in list(sys.modules.values()):
        origin = getattr(module, "__file__", None)
        if not origin:
            continue
        try:
            relative = Path(origin).resolve().relative_to(base)
        except ValueError:
            continue
        if relative.suffix == ".py" and relative.parts[0] not in (".venv", "venv"):
            out[f"harness_code:{relative.as_posix()}"] = sha256_file(base / relative)
    return dict(sorted(out.items()))


def _scenario_record(
    context: RunContext,
    planned: PlannedCheck,
    result: ScenarioResult,
    inputs: dict[str, str],
    meta: dict[str, Any],
) -> EvidenceRecord:
    scenario = result.scenario
    slices = result.slices()
    verdict = overall_verdict([s.verdict for s in slices])
    held = ", ".join(f"{s.slice} {s.successes}/{s.trials}" for s in slices)
    summary = f"{scenario.id} ({scenario.name}): {verdict}; held in {held} runs"
    if result.errors:
        summary += f"; {len(result.errors)} runs ended in an error"
    scenarios = context.project.get("EE", OperationalScenarios)
    assert scenarios is not None
    return make_record(
        planned,
        role=context.role,
        parameters=plain_json(scenario.model_dump(mode="json", exclude_defaults=True)),
        resolved={
            "harness": scenarios.harness,
            "runs": result.runs,
            "seeds": "perturbation_seed('<scenario>/<variation>')",
            "errors": [{"run": k, "error": e} for k, e in result.errors[:50]],
            "error_count": len(result.errors),
            "barriers": {b: c.as_json(scenario.confidence) for b, c in result.barriers.items()},
            "notes": [{"run": k, "note": n} for k, n in result.notes[:50]],
            "note_counts": dict(Counter(n for _, n in result.notes).most_common()),
            "seconds": round(result.seconds, 6),
            "comparison": "at_least",
            "confidence": scenario.confidence,
            "method": "clopper-pearson (Bonferroni across requirements) where the pass "
            "rate is below 1; every run must hold where it is 1",
            **_expected(scenario),
        },
        inputs=inputs,
        results=[s.as_json() for s in slices],
        verdict=verdict,
        summary=summary,
        metadata=meta,
    )


def _expected(scenario: OperationalScenario) -> dict[str, Any]:
    """What the record says of the scenario's expected outcome and its [H] links."""
    out: dict[str, Any] = {
        "expected_outcome": scenario.expected_outcome,
        "expected_outcome_compared": False,
        "expected_outcome_note": (
            "stated in [EE] and recorded as text, not compared by amlas: the harness "
            "reports which system safety requirements held in each run, and the verdict "
            "rests on those"
            if scenario.expected_outcome is not None
            else "[EE] states no expected outcome for this scenario (Q022)"
        ),
    }
    if scenario.ml_requirements:
        out["ml_requirements"] = list(scenario.ml_requirements)
    return out


def _verification_results(
    project: Project,
    evidence: EvidenceStore,
    fresh: list[EvidenceRecord],
    *,
    wanted: list[str] | None = None,
) -> tuple[dict[str, MLEvidence], str, dict[str, dict[str, str]]]:
    """The latest stage-5 result of every requirement a hazard chain can use (stage 4
    where stage 5 has none), from this run's ``fresh`` records first, then the store; a
    stored record that is stale (its model, data or requirement changed since) is not
    used, and the note says so."""
    current = {r.key: r for r in fresh}
    out: dict[str, MLEvidence] = {}
    cited: dict[str, dict[str, str]] = {}
    fallback, stale = [], []
    checker = ProjectInputs(project)
    trust = VerifierTrust(project)  # a stored stage-5 result counts only when verifier-signed
    if wanted is None:
        system = project.system_requirements
        hazards = [h.id for h in system.hazards] if system is not None else []
        wanted = [r.id for h in hazards for r in hazard_requirements(project, h)]
        # the rates barriers take from this very component's results (its false alarms)
        wanted += [r for c, r in rated_requirements(project) if c == project.component_id]
    for rid in sorted(set(wanted)):
        for key in (keys.requirement_key(5, rid, "P"), keys.requirement_key(4, rid, "O")):
            record = current.get(key)
            if record is None:
                exact = [d for k, d in evidence.list(key) if k == key]
                if not exact:
                    continue
                record = evidence.get(exact[-1])
                changed = checker.stale(record)
                unsigned = trust.problem(record)
                if unsigned is not None:
                    changed.append(unsigned)
                if changed:
                    stale.append(f"{key} ({', '.join(changed)})")
                    continue
            out[rid] = MLEvidence(rid, key, record.digest, list(record.results))
            cited[record.digest] = dict(record.inputs)
            if keys.key_stage(key) == 4:
                fallback.append(rid)
            break
    note = "stage 5 verification results [Z]"
    if fallback:
        note += f"; stage 4 internal test results [X] for {', '.join(fallback)} (no stage 5 yet)"
    if stale:
        note += "; not used, stale: " + "; ".join(stale)
    return out, note, cited


def _component_results(
    project: Project,
) -> tuple[dict[tuple[str, str], MLEvidence], str, dict[str, dict[str, str]]]:
    """The latest stage-5 result (stage 4 where stage 5 has none) of every requirement of
    the system's other ML components that the hazard chains weigh (their routes, a
    barrier's rate of wrong action), read from each component's own store and judged by
    its own project (a stale or unsigned record is not used, and the note says so). Their
    inputs are cited under ``component:<ID>/<input>``, so a change in the other component
    makes the hazard record stale too."""
    out: dict[tuple[str, str], MLEvidence] = {}
    cited: dict[str, dict[str, str]] = {}
    used, missing = [], []
    wanted: dict[str, list[str]] = {}
    for component, rid in rated_requirements(project):
        if component != project.component_id:  # its own come with its own results
            wanted.setdefault(component, []).append(rid)
    for component, rids in wanted.items():
        other = sibling(project, component)
        if other is None:
            missing.append(f"{component} (no usable project)")
            continue
        with open_store(other.manifest.evidence, root=other.root) as store:
            found, note, inputs = _verification_results(other, store, [], wanted=rids)
        for rid in rids:
            if rid not in found:
                missing.append(f"{component} {rid} ({note})")
                continue
            out[(component, rid)] = found[rid]
            digest = found[rid].digest
            cited[digest] = {component_input(component, k): v for k, v in inputs[digest].items()}
            used.append(f"{component} {found[rid].key}")
    parts = []
    if used:
        parts.append("other ML components: " + ", ".join(used))
    if missing:
        parts.append("no result from " + "; ".join(missing))
    return out, "; ".join(parts), cited
