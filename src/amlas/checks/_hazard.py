"""The rate at which an ML failure propagates to a hazard through the system's barriers.

The column's Figure 1: an ML failure only harms someone if it gets through the software, the
system and the barriers around the component. For every hazard of [A]:

- **ML failure rate**: the rate at which the component misses the safety-related class
  (a miss is what lets the hazard through), from the verification results [Z] of the
  performance requirements of [H] that trace, through [E], to the hazard and are stated as
  recall or false-negative rate of a class [D] marks safety-related. Per requirement the
  worst slice counts (the largest miss rate, with its exact bounds at the requirement's
  confidence); among several requirements the one with the largest upper bound counts.
- **Barriers**: every barrier of [C] that mitigates the hazard, with its probability of
  failure on demand: measured by the integration harness when it reported demands of the
  barrier (exact bounds over the demands), else declared in [C] (a point value); a barrier
  with neither counts as failing on every demand.
- **Hazard rate per demand** = ML miss rate x the product of the barriers' failure
  probabilities, assuming the barriers fail independently of each other and of the ML
  component (stated in the evidence, because common causes break it). Its bounds are the
  products of the factors' bounds; the upper one is conservative under that assumption.
- **Verdict** (inconclusive, saying so, when no requirement gives the ML failure rate)
  against the smallest acceptable failure rate of the [A] requirements that control the
  hazard: pass when the upper bound is at most that rate, fail when even the
  lower bound exceeds it, inconclusive in between or when [A] states no rate. The rate is
  per demand (per situation in which the hazard can arise); [A]'s own unit is recorded
  beside it, and relating the two is the safety engineer's argument.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from amlas.checks._intervals import Verdict
from amlas.project import Project
from amlas.project.artefacts import (
    AllocatedRequirements,
    MLSafetyRequirement,
    SystemDescription,
    SystemSafetyRequirements,
)

__all__ = ["Factor", "HazardChain", "MLEvidence", "hazard_chains", "hazard_requirements"]

MISS_METRICS = frozenset({"recall", "fnr"})


@dataclass(frozen=True)
class MLEvidence:
    """The verification result of one requirement, as the evidence store holds it."""

    requirement: str
    key: str
    digest: str
    results: list[dict[str, Any]]
    """The record's per-slice results (estimate, lower, upper, slice)."""


@dataclass(frozen=True)
class Factor:
    """One link of the chain: the ML miss rate or a barrier's failure on demand."""

    name: str
    kind: str
    """'ml' or 'barrier'."""
    estimate: float
    lower: float
    upper: float
    source: str
    """Where the figure comes from (a record key, 'declared in [C]', 'measured by ...')."""
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "estimate": self.estimate,
            "lower": self.lower,
            "upper": self.upper,
            "source": self.source,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class HazardChain:
    hazard: str
    description: str
    factors: list[Factor]
    acceptable: float | None
    acceptable_per: str
    acceptable_from: list[str]
    verdict: Verdict
    reason: str
    evidence: list[str] = field(default_factory=list)
    """Digests of the ML evidence used."""
    computable: bool = True
    """False when no requirement gives the ML failure rate (the rate is then unknown)."""

    @property
    def estimate(self) -> float:
        return math.prod(f.estimate for f in self.factors)

    @property
    def lower(self) -> float:
        return math.prod(f.lower for f in self.factors)

    @property
    def upper(self) -> float:
        return math.prod(f.upper for f in self.factors)

    def as_slice(self) -> dict[str, Any]:
        """The chain as one result row (the report draws it like a slice)."""
        known = self.computable
        return {
            "slice": self.hazard,
            "cell": {"hazard": self.hazard},
            "verdict": self.verdict,
            "estimate": self.estimate if known else None,
            "lower": self.lower if known else None,
            "upper": self.upper if known else None,
            "bound": self.upper if known else None,
            "threshold": self.acceptable,
            "comparison": "at_most",
            "samples": 0,
            "reason": self.reason,
            "failing_count": 0,
            "failing_ids": [],
        }


def hazard_requirements(project: Project, hazard: str) -> list[MLSafetyRequirement]:
    """The [H] requirements whose verified miss rate is the ML failure rate for ``hazard``."""
    allocated = project.get("E", AllocatedRequirements)
    ml = project.ml_requirements
    component = project.component
    if allocated is None or ml is None or component is None:
        return []
    through = {a.id for a in allocated.requirements if hazard in a.hazards}
    safety = {c.name for c in component.classes if c.safety_related}
    out = []
    for requirement in ml.requirements:
        if not through & set(requirement.traces_to):
            continue
        if requirement.metric in MISS_METRICS and (requirement.class_ in safety):
            out.append(requirement)
    return out


def _miss_rate(requirement: MLSafetyRequirement, evidence: MLEvidence) -> Factor:
    """The worst slice's miss rate of one recall/FNR record."""
    worst: tuple[float, float, float, str] | None = None
    for row in evidence.results:
        estimate, lower, upper = row.get("estimate"), row.get("lower"), row.get("upper")
        if estimate is None or lower is None or upper is None:
            continue
        if requirement.metric == "recall":
            miss = (1.0 - float(estimate), 1.0 - float(upper), 1.0 - float(lower))
        else:
            miss = (float(estimate), float(lower), float(upper))
        if worst is None or miss[2] > worst[2]:
            worst = (*miss, str(row.get("slice", "all")))
    if worst is None:
        return Factor(
            f"{requirement.id} miss rate",
            "ml",
            1.0,
            1.0,
            1.0,
            evidence.key,
            "no slice has an estimate: counted as missing every time",
        )
    confidence = requirement.confidence or 0.95
    return Factor(
        f"{requirement.id}: misses '{requirement.class_}'",
        "ml",
        worst[0],
        worst[1],
        worst[2],
        evidence.key,
        f"worst slice {worst[3]}; exact {confidence:.0%} interval",
    )


def hazard_chains(
    project: Project,
    evidence: Mapping[str, MLEvidence],
    measured: Mapping[str, Mapping[str, Any]],
) -> list[HazardChain]:
    """One chain per hazard of [A] (see the module doc).

    ``evidence`` maps requirement IDs to their verification result; ``measured`` maps
    barrier IDs to the harness's counts (``demands``, ``failures``, ``upper_bound``,
    ``lower_bound``, as :class:`._scenarios.BarrierCount` writes them).
    """
    system = project.get("A", SystemSafetyRequirements)
    description = project.get("C", SystemDescription)
    if system is None:
        return []
    barriers = description.barriers if description is not None else []
    chains = []
    for hazard in system.hazards:
        factors: list[Factor] = []
        used: list[str] = []
        problems: list[str] = []
        candidates = []
        for requirement in hazard_requirements(project, hazard.id):
            record = evidence.get(requirement.id)
            if record is None:
                problems.append(f"{requirement.id} has no verification result")
                continue
            candidates.append((_miss_rate(requirement, record), record.digest))
        if candidates:
            factor, digest = max(candidates, key=lambda c: c[0].upper)
            factors.append(factor)
            used.append(digest)
        else:
            factors.append(
                Factor(
                    "ML miss rate",
                    "ml",
                    1.0,
                    1.0,
                    1.0,
                    "none",
                    "no recall/FNR requirement on a safety-related class traces to this hazard"
                    + (f" with a result ({'; '.join(problems)})" if problems else "")
                    + ": counted as missing every time",
                )
            )
        for barrier in barriers:
            if hazard.id not in barrier.mitigates:
                continue
            counts = measured.get(barrier.id)
            if counts and counts.get("demands"):
                factors.append(
                    Factor(
                        f"{barrier.id} {barrier.name} fails",
                        "barrier",
                        float(counts["failure_on_demand"]),
                        float(counts["lower_bound"]),
                        float(counts["upper_bound"]),
                        "measured by the integration harness",
                        f"{counts['failures']} failures in {counts['demands']} demands",
                    )
                )
            elif barrier.failure_on_demand is not None:
                p = float(barrier.failure_on_demand)
                factors.append(
                    Factor(
                        f"{barrier.id} {barrier.name} fails",
                        "barrier",
                        p,
                        p,
                        p,
                        "declared in [C]",
                        "a declared point value, without an interval",
                    )
                )
            else:
                factors.append(
                    Factor(
                        f"{barrier.id} {barrier.name} fails",
                        "barrier",
                        1.0,
                        1.0,
                        1.0,
                        "none",
                        "no failure on demand declared or measured: counted as failing",
                    )
                )
        controlling = [
            r
            for r in system.requirements
            if hazard.id in r.controls and r.acceptable_failure_rate is not None
        ]
        acceptable = min(
            (r.acceptable_failure_rate.rate for r in controlling if r.acceptable_failure_rate),
            default=None,
        )
        per = next(
            (
                r.acceptable_failure_rate.per
                for r in controlling
                if r.acceptable_failure_rate and r.acceptable_failure_rate.rate == acceptable
            ),
            "",
        )
        chain = HazardChain(
            hazard.id,
            hazard.description,
            factors,
            acceptable,
            per,
            [r.id for r in controlling],
            "inconclusive",
            "",
            used,
        )
        if not candidates:
            from dataclasses import replace

            chain = replace(
                chain,
                verdict="inconclusive",
                computable=False,
                reason=(
                    "no ML failure rate for this hazard: no verified recall/FNR requirement on "
                    "a safety-related class traces to it through [E]"
                    + (f" ({'; '.join(problems)})" if problems else "")
                ),
            )
            chains.append(chain)
            continue
        chains.append(_judged(chain))
    return chains


def _judged(chain: HazardChain) -> HazardChain:
    from dataclasses import replace

    upper, lower = chain.upper, chain.lower
    if chain.acceptable is None:
        return replace(
            chain,
            verdict="inconclusive",
            reason=(
                f"the hazard rate per demand is at most {upper:.3g}, but no system safety "
                "requirement in [A] states an acceptable failure rate for it"
            ),
        )
    limit = chain.acceptable
    unit = f" per {chain.acceptable_per}" if chain.acceptable_per else ""
    if upper <= limit:
        return replace(
            chain,
            verdict="pass",
            reason=f"upper bound {upper:.3g} per demand <= acceptable {limit:.3g}{unit}",
        )
    if lower > limit:
        return replace(
            chain,
            verdict="fail",
            reason=f"even the lower bound {lower:.3g} per demand exceeds {limit:.3g}{unit}",
        )
    return replace(
        chain,
        verdict="inconclusive",
        reason=(
            f"the rate lies in [{lower:.3g}, {upper:.3g}] per demand, which cannot decide "
            f"<= {limit:.3g}{unit}: more verification data or measured barriers would"
        ),
    )
