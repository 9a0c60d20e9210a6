"""The field log of the deployed component as stage-6 evidence (``amlas monitor ingest``).

Two records, committed as one run (role ``developer``, stage 6) by :mod:`._ingest`:

``stage6/operation`` (G6.7, operational achievement)
    For every system safety requirement of [A] with an ``acceptable_failure_rate``: the
    incidents of the log that name it, over the demands the log's periods count in the
    rate's unit (``per``), judged on the exact (Clopper-Pearson) one-sided upper bound:
    ``pass`` when the bound is at most the acceptable rate, ``fail`` when even the lower
    bound is above it, ``inconclusive`` otherwise (with the demands that would decide).
    The rows share the configured confidence by Bonferroni (each row at
    ``1 - (1 - c) / m``). One informational row per period gives its demands and
    incidents. Without a stated rate, or without demands in its unit, a requirement
    cannot be judged and the record says so.

``stage6/monitor`` (G6.8, monitoring of erroneous inputs)
    The calibration of the monitor file (false alarms on [O] and their exact upper
    bound, against the target rate of the conformal threshold); then the monitor re-run
    on the *labelled* field samples of the log: its false-alarm rate on samples labelled
    in distribution (judged ``<=`` the target rate) and its detection rate on samples
    labelled out of distribution or outside the ODD (judged ``>=`` [DD]
    ``min_detection_rate``, and only reported when that is unset). Labels come from
    reviews independent of the monitor's decision (e.g. audit samples): flagged inputs
    alone would overstate detection, so flags only give counts and reviewed outcomes.

A malformed log line stops ingestion before anything is written (``file:line``, the
value, what was expected).
"""

from __future__ import annotations

from typing import Any

from amlas.checks import Decision, Verdict, decide_proportion, overall_verdict
from amlas.evidence import EvidenceRecord, canonical_hash
from amlas.monitor import FieldLogError, FieldLogRecords, Monitor, MonitorInputError
from amlas.project import Project
from amlas.project.artefacts.deployment import RuntimeMonitor
from amlas.verify._planned import PlannedCheck
from amlas.verify._records import make_record

__all__ = ["monitor_record", "operation_record"]

OUT_OF_DOMAIN = ("out_of_distribution", "outside_odd")


def _unit(text: str) -> str:
    return " ".join(text.lower().split())


def _decision_row(decision: Decision) -> dict[str, Any]:
    return {
        "successes": decision.successes,
        "trials": decision.trials,
        "estimate": decision.estimate,
        "bound": decision.bound,
        "threshold": decision.threshold,
        "comparison": decision.comparison,
        "confidence": decision.interval.confidence,
        "verdict": decision.verdict,
        "reason": decision.reason,
        "additional_samples": decision.additional_samples,
    }


def _overall(rows: list[dict[str, Any]]) -> Verdict:
    judged: list[Verdict] = [r["verdict"] for r in rows if r.get("verdict") is not None]
    return overall_verdict(judged)


# -- G6.7 ------------------------------------------------------------------------------------


def operation_record(
    planned: PlannedCheck,
    project: Project,
    log: FieldLogRecords,
    *,
    confidence: float = 0.95,
    name: str | None = None,
) -> EvidenceRecord:
    """The ``stage6/operation`` record of ``log`` (see the module doc); ``name`` is how
    the record names the log (default: its ``source``)."""
    system = project.system_requirements
    demands: dict[str, int] = {}
    spelled: dict[str, str] = {}
    for _, period in log.periods:
        for unit, count in period.demands.items():
            demands[_unit(unit)] = demands.get(_unit(unit), 0) + count
            spelled.setdefault(_unit(unit), unit)
    incidents = [entry for _, entry in log.incidents]
    rated = [
        r for r in (system.requirements if system else []) if r.acceptable_failure_rate is not None
    ]
    judgeable = sum(
        demands.get(_unit(r.acceptable_failure_rate.per), 0) > 0
        for r in rated
        if r.acceptable_failure_rate is not None
    )
    per_row = 1.0 - (1.0 - confidence) / max(judgeable, 1)
    rows: list[dict[str, Any]] = []
    for requirement in rated:
        rate = requirement.acceptable_failure_rate
        assert rate is not None
        named = [i for i in incidents if i.requirement == requirement.id]
        row: dict[str, Any] = {
            "kind": "requirement",
            "requirement": requirement.id,
            "per": rate.per,
            "acceptable_rate": rate.rate,
            "incidents": len(named),
            "hazardous_incidents": sum(i.hazardous for i in named),
            "incident_ids": [i.id for i in named][:50],
        }
        exposure = demands.get(_unit(rate.per), 0)
        if exposure == 0:
            row.update(
                demands=0,
                verdict="inconclusive",
                reason=f"no period of the log counts demands per {rate.per!r}; add "
                f'"{rate.per}" to the periods\' demands',
            )
        elif len(named) > exposure:
            row.update(
                demands=exposure,
                verdict="fail",
                reason=f"{len(named)} incidents in only {exposure} demands per {rate.per!r}: "
                "the periods under-count the demands",
            )
        else:
            decision = decide_proportion(
                len(named),
                exposure,
                threshold=rate.rate,
                comparison="at_most",
                confidence=per_row,
            )
            row.update(demands=exposure, **_decision_row(decision))
        rows.append(row)
    unrated = sorted(
        {i.requirement for i in incidents if i.requirement}
        - {r.id for r in rated}  # named, but [A] states no acceptable rate for them
    )
    for requirement_id in unrated:
        named = [i for i in incidents if i.requirement == requirement_id]
        rows.append(
            {
                "kind": "requirement",
                "requirement": requirement_id,
                "incidents": len(named),
                "hazardous_incidents": sum(i.hazardous for i in named),
                "incident_ids": [i.id for i in named][:50],
                "verdict": None,
                "reason": "[A] states no acceptable failure rate for it: reported, not judged",
            }
        )
    outside = 0
    for number, period in log.periods:
        inside = [i for i in incidents if period.start <= i.time < period.end]
        rows.append(
            {
                "kind": "period",
                "line": number,
                "start": period.start.isoformat(),
                "end": period.end.isoformat(),
                "demands": dict(period.demands),
                "incidents": len(inside),
                "hazardous_incidents": sum(i.hazardous for i in inside),
            }
        )
    for incident in incidents:
        if not any(p.start <= incident.time < p.end for _, p in log.periods):
            outside += 1
    verdict = _overall(rows)
    judged = [r for r in rows if r["kind"] == "requirement" and r.get("verdict") is not None]
    if not rated:
        summary = (
            f"{len(incidents)} incident(s) over {len(log.periods)} period(s); [A] states no "
            "acceptable failure rate to judge them against"
        )
    else:
        parts = [
            f"{r['requirement']} {r['incidents']}/{r.get('demands', 0)} per {r['per']} "
            f"({r['verdict']})"
            for r in judged
        ]
        summary = f"{len(incidents)} incident(s) over {len(log.periods)} period(s): " + (
            "; ".join(parts)
        )
    return make_record(
        planned,
        role="developer",
        parameters={"confidence": confidence, "log": name or log.source},
        resolved=(
            {
                "per_row_confidence": per_row,
                "family": "Bonferroni over the requirements judged",
                "demands": {spelled[u]: n for u, n in sorted(demands.items())},
                "periods": len(log.periods),
                "incidents": len(incidents),
                "incidents_outside_periods": outside,
                "counting": "an incident counts against the [A] requirement it names; "
                "demands are summed over the periods per unit (units compared ignoring case)",
            }
        ),
        inputs={
            f"field_log:{name or log.source}": log.sha256,
            **({"artefact:A": canonical_hash(system)} if system is not None else {}),
        },
        results=rows,
        verdict=verdict,
        summary=summary,
    )


# -- G6.8 ------------------------------------------------------------------------------------


def _label_flags(monitor: Monitor, log: FieldLogRecords) -> list[tuple[str, bool, bool, bool]]:
    """(truth, outside_odd, ood, flagged) of every labelled sample, re-run through the
    monitor; a label whose inputs do not fit the monitor is a located error."""
    out: list[tuple[str, bool, bool, bool]] = []
    problems = []
    for number, label in log.labels:
        try:
            assessment = monitor.assess([label.inputs], [label.metadata])
        except MonitorInputError as exc:
            problems.append(f"{log.source}:{number}: label {label.id!r}: {exc}")
            continue
        outside, ood = bool(assessment.outside_odd[0]), bool(assessment.ood[0])
        out.append((label.truth, outside, ood, outside or ood))
    if problems:
        raise FieldLogError(log.source, problems)
    return out


def monitor_record(
    planned: PlannedCheck,
    project: Project,
    monitor: Monitor,
    monitor_sha256: str,
    log: FieldLogRecords,
    *,
    config: RuntimeMonitor,
    name: str | None = None,
) -> EvidenceRecord:
    """The ``stage6/monitor`` record (see the module doc); ``name`` as for
    :func:`operation_record`."""
    log_name = name or log.source
    target = monitor.settings.target_false_alarm_rate
    confidence = config.confidence
    labelled = _label_flags(monitor, log)
    judged = 1 + (config.min_detection_rate is not None)
    per_row = 1.0 - (1.0 - confidence) / judged
    c = monitor.calibration
    rows: list[dict[str, Any]] = [
        {
            "kind": "calibration",
            "dataset": "O",
            "samples": c.samples,
            "false_alarms": c.false_alarms,
            "rate": c.rate,
            "upper": c.upper,
            "confidence": c.confidence,
            "target_rate": target,
            "threshold": monitor.threshold,
            "rank": c.rank,
            "fit_samples": c.fit_samples,
            "verdict": None,
            "reason": f"conformal threshold: the {c.rank}-th smallest of {c.samples} [O] "
            f"scores, so P(false alarm) <= {target:g} on inputs exchangeable with [O]",
        }
    ]
    in_dist = [x for x in labelled if x[0] == "in_distribution"]
    row: dict[str, Any] = {"kind": "field_false_alarm", "samples": len(in_dist)}
    if in_dist:
        alarms = sum(x[3] for x in in_dist)
        decision = decide_proportion(
            alarms, len(in_dist), threshold=target, comparison="at_most", confidence=per_row
        )
        row.update(false_alarms=alarms, **_decision_row(decision))
    else:
        row.update(
            verdict="inconclusive",
            reason="no field sample labelled in_distribution: the false-alarm rate in "
            "operation is unmeasured",
        )
    rows.append(row)
    out_dom = [x for x in labelled if x[0] in OUT_OF_DOMAIN]
    row = {"kind": "detection", "samples": len(out_dom)}
    detected = sum(x[3] for x in out_dom)
    if not out_dom:
        row.update(
            verdict="inconclusive",
            reason="no field sample labelled out_of_distribution or outside_odd: detection "
            "is unmeasured",
        )
    elif config.min_detection_rate is None:
        row.update(
            detected=detected,
            estimate=detected / len(out_dom),
            verdict="inconclusive",
            reason="reported, not judged: set min_detection_rate in [DD] monitor",
        )
    else:
        decision = decide_proportion(
            detected,
            len(out_dom),
            threshold=config.min_detection_rate,
            comparison="at_least",
            confidence=per_row,
        )
        row.update(detected=detected, **_decision_row(decision))
    rows.append(row)
    for truth in OUT_OF_DOMAIN:
        chosen = [x for x in out_dom if x[0] == truth]
        rows.append(
            {
                "kind": "detection_by_truth",
                "truth": truth,
                "samples": len(chosen),
                "detected": sum(x[3] for x in chosen),
                "flagged_outside_odd": sum(x[1] for x in chosen),
                "flagged_ood": sum(x[2] for x in chosen),
            }
        )
    counts = dict.fromkeys(("outside_odd", "ood", "low_confidence"), 0)
    outcomes = {"true_alarm": 0, "false_alarm": 0, "unreviewed": 0}
    for _, flag in log.flags:
        for flag_name in flag.flags:
            counts[flag_name] += 1
        outcomes[log.outcome(flag) or "unreviewed"] += 1
    rows.append({"kind": "flags", "flags": len(log.flags), **counts, **outcomes})
    verdict = _overall(rows)
    fa, det = rows[1], rows[2]
    summary = (
        f"calibration {c.false_alarms}/{c.samples} false alarms on [O] (target {target:g}); "
        f"field false alarms {fa.get('false_alarms', 0)}/{fa['samples']}, detection "
        f"{detected}/{det['samples']}; {len(log.flags)} flag(s) logged"
    )
    inputs = {"monitor": monitor_sha256, f"field_log:{log_name}": log.sha256}
    inputs.update({k: v for k, v in monitor.calibrated_on.items() if k != "component"})
    return make_record(
        planned,
        role="developer",
        dataset="N+O",
        parameters={
            "target_false_alarm_rate": target,
            "min_detection_rate": config.min_detection_rate,
            "confidence": confidence,
            "log": log_name,
        },
        resolved=(
            {
                "ood_method": monitor.settings.ood_method,
                "per_row_confidence": per_row,
                "family": "Bonferroni over the false-alarm and detection rows",
                "detected_means": "flagged outside the ODD or out of distribution",
                "labels": len(labelled),
                "behaviours": list(config.behaviours),
            }
        ),
        inputs=inputs,
        results=rows,
        verdict=verdict,
        summary=summary,
    )
