"""The rate at which an ML failure propagates to a hazard through the system's barriers.

The column's Figure 1: an ML failure only harms someone if it gets through the software, the
system and the barriers around the component. For every hazard of [A]:

- **ML failure rate**: the rate at which the component misses the safety-related class
  (a miss is what lets the hazard through), from the verification results [Z] of the
  performance requirements of [H] that trace, through [E] (directly or through the [H]
  requirement they refine), to the hazard and are stated as
  recall or false-negative rate of a class [D] marks safety-related. Per requirement the
  worst slice counts (the largest upper bound of its miss rate); among several
  requirements the one with the largest upper bound counts.
- **Barriers**: every barrier of [C] that mitigates the hazard, with its probability of
  failure on demand: measured by the integration harness when it reported demands of the
  barrier (exact bounds over the demands), else declared in [C] (a point value); a barrier
  with neither counts as failing on every demand.
- **Hazard rate per demand** = ML miss rate x the product of the barriers' failure
  probabilities, assuming the barriers fail independently of each other and of the ML
  component (stated in the evidence, because common causes break it). Its bounds are the
  products of the factors' one-sided exact bounds, each recomputed from its counts at
  1 - alpha/k for the k uncertain factors (the ML rate and every measured barrier;
  declared values are taken as given), so they hold jointly at the confidence (Bonferroni).
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
from dataclasses import dataclass, field, replace
from typing import Any

from amlas.checks._intervals import Verdict, clopper_pearson, percent
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
    confidence: float = 0.95
    """The joint confidence of the bounds (each uncertain factor at 1 - alpha/k)."""
    factor_level: float = 0.95
    """The one-sided level of each uncertain factor's bound."""

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
    tree = ml.tree()  # a child traces to what its parent traces to (refines)
    out = []
    for requirement in ml.requirements:
        if not through & set(tree.traces_of(requirement.id)):
            continue
        if requirement.metric in MISS_METRICS and (requirement.class_ in safety):
            out.append(requirement)
    return out


def _bounds(failures: int, trials: int, level: float) -> tuple[float, float]:
    """One-sided exact lower and upper bounds of a failure proportion, each at ``level``."""
    lower = clopper_pearson(failures, trials, confidence=level, sided="lower").lower
    upper = clopper_pearson(failures, trials, confidence=level, sided="upper").upper
    return lower, upper


def _miss_rate(requirement: MLSafetyRequirement, evidence: MLEvidence, level: float) -> Factor:
    """The worst slice's miss rate of one recall/FNR record, its bounds recomputed from the
    slice's counts at ``level``."""
    worst: tuple[float, float, float, str, int, int] | None = None
    for row in evidence.results:
        successes, trials = row.get("successes"), row.get("samples")
        if not isinstance(successes, int) or not isinstance(trials, int) or trials <= 0:
            continue
        # recall counts hits of the class; FNR counts its misses
        misses = trials - successes if requirement.metric == "recall" else successes
        lower, upper = _bounds(misses, trials, level)
        if worst is None or upper > worst[2]:
            worst = (misses / trials, lower, upper, str(row.get("slice", "all")), misses, trials)
    if worst is None:
        return Factor(
            f"{requirement.id} miss rate",
            "ml",
            1.0,
            1.0,
            1.0,
            evidence.key,
            "no slice has counts: counted as missing every time",
        )
    return Factor(
        f"{requirement.id}: misses '{requirement.class_}'",
        "ml",
        worst[0],
        worst[1],
        worst[2],
        evidence.key,
        f"worst slice {worst[3]}: {worst[4]} misses in {worst[5]}",
    )


def hazard_chains(
    project: Project,
    evidence: Mapping[str, MLEvidence],
    measured: Mapping[str, Mapping[str, Any]],
    *,
    confidence: float = 0.95,
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
        mine = [b for b in barriers if hazard.id in b.mitigates]
        measured_here = [b for b in mine if (measured.get(b.id) or {}).get("demands")]
        # Bonferroni: every uncertain factor's bound at 1 - alpha/k, so the product's bounds
        # hold jointly at ``confidence``
        uncertain = 1 + len(measured_here)
        level = 1.0 - (1.0 - confidence) / uncertain
        factors: list[Factor] = []
        used: list[str] = []
        problems: list[str] = []
        candidates = []
        for requirement in hazard_requirements(project, hazard.id):
            record = evidence.get(requirement.id)
            if record is None:
                problems.append(f"{requirement.id} has no verification result")
                continue
            candidates.append((_miss_rate(requirement, record, level), record.digest))
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
                failures, demands = int(counts["failures"]), int(counts["demands"])
                lower, upper = _bounds(failures, demands, level)
                factors.append(
                    Factor(
                        f"{barrier.id} {barrier.name} fails",
                        "barrier",
                        failures / demands,
                        lower,
                        upper,
                        "measured by the integration harness",
                        f"{failures} failures in {demands} demands",
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
            confidence=confidence,
            factor_level=level,
        )
        if not candidates:
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
    upper, lower = chain.upper, chain.lower
    joint = f" (bounds jointly at {percent(chain.confidence)})"
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
            reason=f"upper bound {upper:.3g} per demand <= acceptable {limit:.3g}{unit}{joint}",
        )
    if lower > limit:
        return replace(
            chain,
            verdict="fail",
            reason=f"even the lower bound {lower:.3g} per demand exceeds {limit:.3g}{unit}{joint}",
        )
    return replace(
        chain,
        verdict="inconclusive",
        reason=(
            f"the rate lies in [{lower:.3g}, {upper:.3g}] per demand, which cannot decide "
            f"<= {limit:.3g}{unit}{joint}: more verification data or measured barriers would"
        ),
    )
