"""Stage 3 (AMLAS [S]): the data rules of [L] and the independence of [N], [O], [P]."""

from __future__ import annotations

from amlas.checks import CheckOutcome, check_independence, run_data_rule
from amlas.evidence import canonical_hash, file_hash
from amlas.verify._context import RunContext, SummaryRow
from amlas.verify._planned import PlannedCheck
from amlas.verify._records import make_record, timed
from amlas.verify._stage3 import stage3_independence, stage3_rule

__all__ = ["run_data_rule_check", "run_independence_check"]


def run_data_rule_check(context: RunContext, planned: PlannedCheck) -> None:
    """Data rule ``planned.subject`` of [L] on its dataset."""
    project = context.project
    data = project.data_requirements
    assert data is not None
    requirement = next(r for r in data.requirements if r.id == planned.subject)
    assert requirement.rule is not None
    (letter,) = planned.datasets
    with timed() as meta:
        outcome = stage3_rule(context, planned)
        if outcome is None:  # read whole
            outcome = run_data_rule(project, requirement, context.dataset(letter))
    inputs = context.data_inputs(letter)
    inputs[f"requirement:{requirement.id}"] = canonical_hash(requirement)
    if "environment" in planned.inputs:
        inputs["environment"] = canonical_hash(project.environment)
    audit = getattr(requirement.rule, "audit_file", None)
    # label_error_rate: the audit is data the verdict rests on (the hash of what the check
    # read; the project check refuses a missing audit file)
    audited = audit and (outcome.resolved.get("audit_sha256") or file_hash(project.root, audit))
    if audited:
        inputs[f"file:{audit}"] = audited
    _keep(context, planned, outcome, inputs, meta)


def run_independence_check(context: RunContext, planned: PlannedCheck) -> None:
    """Independence of two of [N], [O], [P] (R9)."""
    a, b = planned.datasets
    data = context.project.data_requirements
    assert data is not None
    chunked = stage3_independence(context, planned)
    advance = context.reporter.task(f"independence [{a}]-[{b}]", None)
    with timed() as meta:
        if chunked is not None:
            outcome, digest_a, digest_b = chunked
        else:  # read whole
            first, second = context.dataset(a), context.dataset(b)
            outcome = check_independence(first, second, data.independence)
            digest_a, digest_b = first.samples_digest, second.samples_digest
    advance(1)
    inputs = {**context.data_inputs(a), **context.data_inputs(b)}
    inputs[f"samples:{a}"] = digest_a
    inputs[f"samples:{b}"] = digest_b
    _keep(context, planned, outcome, inputs, meta)


def _keep(
    context: RunContext,
    planned: PlannedCheck,
    outcome: CheckOutcome,
    inputs: dict[str, str],
    meta: dict[str, object],
) -> None:
    record = make_record(
        planned,
        role=context.role,
        check=outcome.check,
        dataset=outcome.dataset,
        parameters=outcome.parameters,
        resolved=outcome.resolved,
        inputs=inputs,
        results=list(outcome.results),
        verdict=outcome.verdict,
        summary=outcome.summary,
        metadata=meta,
    )
    context.keep(record)
    context.report.rows.append(
        SummaryRow(
            planned.stage,
            outcome.subject,
            outcome.dataset,
            "-",
            None,
            None,
            "-",
            outcome.verdict,
            outcome.summary,
        )
    )
