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
- **Several ML components** (a system project): every ML component is a route of its
  own to the hazard, and the routes are added. A component's route is its miss rate (as
  above, from its own records); a safety cage's (a barrier of [C] that *is* an ML
  component: ``component`` and ``failure_from``) is the rate at which it lets through the
  inputs it must reject, from the record of ``failure_from`` (or of another of its
  requirements tracing to the hazard, whichever bound is worst), taken as reaching the hazard
  every time (the share of such inputs and the other components' failures on them are not
  known). A cage is never a factor of another component's route: it acts on inputs
  outside the population the others were verified on, not on their misses. Each route is
  multiplied by the other barriers; a route whose component has no usable result counts
  as failing every time. Every component records the same sum, so the hazard is bounded
  as a whole, not once per component.
- **Worsening**: a barrier whose own wrong action raises a hazard (``worsens`` in [C]: a
  monitor that rejects too much sends cases down a weaker fallback) adds a term, its rate
  of wrong action (a requirement's verified error rate, or a declared value) times the
  probability that the hazard follows (``given``, 1 when not stated).
- Terms are added (a union bound, no independence assumed between them): the upper bound
  is the sum of the terms' upper bounds, the lower bound the largest term's lower bound.
- **Hazard rate per demand** = ML miss rate x the product of the barriers' failure
  probabilities, assuming the barriers fail independently of each other and of the ML
  component (stated in the evidence, because common causes break it). Its bounds are the
  products of the factors' one-sided exact bounds, each recomputed from its counts at
  1 - alpha/k for the k uncertain quantities (every route's rate, every measured barrier
  and every rate of wrong action from a component's results;
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
from amlas.project import Project, other_components, sibling
from amlas.project.artefacts import (
    AllocatedRequirements,
    Barrier,
    MLSafetyRequirement,
    SystemDescription,
    SystemSafetyRequirements,
    Worsening,
)

__all__ = [
    "Factor",
    "HazardChain",
    "MLEvidence",
    "chain_hazards",
    "hazard_chains",
    "hazard_requirements",
    "rated_requirements",
]

MISS_METRICS = frozenset({"recall", "fnr"})
_COUNTS_FAILURES = frozenset({"fnr", "fpr"})
"""Metrics whose record counts the failures as its successes (the others count what went
right: recall's hits, specificity's correct rejections)."""


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
    """'ml', 'barrier', 'worsening' (a barrier's rate of wrong action) or 'given' (the
    probability that the hazard follows it)."""
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
    worsening: list[list[Factor]] = field(default_factory=list)
    """Terms added to the chain, one per barrier that raises this hazard (``worsens``):
    its rate of wrong action and the probability that the hazard follows."""
    notes: list[str] = field(default_factory=list)
    """What the chain left out and why (a barrier that is this ML component)."""
    evidence: list[str] = field(default_factory=list)
    """Digests of the ML evidence used."""
    computable: bool = True
    """False when no requirement gives the ML failure rate (the rate is then unknown)."""
    confidence: float = 0.95
    """The joint confidence of the bounds (each uncertain factor at 1 - alpha/k)."""
    factor_level: float = 0.95
    """The one-sided level of each uncertain factor's bound."""
    routes: list[list[Factor]] = field(default_factory=list)
    """In a system: the other ML components' routes to the hazard (each its rate times
    the barriers), added to ``factors`` (this component's route)."""

    def _terms(self) -> list[list[Factor]]:
        return [self.factors, *self.routes, *self.worsening]

    @property
    def estimate(self) -> float:
        return min(1.0, sum(math.prod(f.estimate for f in t) for t in self._terms()))

    @property
    def lower(self) -> float:
        # P(A or B) >= max(P(A), P(B)): the largest term's lower bound
        return max(math.prod(f.lower for f in t) for t in self._terms())

    @property
    def upper(self) -> float:
        # P(A or B) <= P(A) + P(B): a union bound, no independence assumed
        return min(1.0, sum(math.prod(f.upper for f in t) for t in self._terms()))

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


def _miss_rate(
    requirement: MLSafetyRequirement,
    evidence: MLEvidence,
    level: float,
    *,
    name: str = "",
    kind: str = "ml",
) -> Factor:
    """The worst slice's failure rate of one recall/FNR (misses) or FPR/specificity
    (false alarms) record, its bounds recomputed from the slice's counts at ``level``."""
    worst: tuple[float, float, float, str, int, int] | None = None
    for row in evidence.results:
        successes, trials = row.get("successes"), row.get("samples")
        if not isinstance(successes, int) or not isinstance(trials, int) or trials <= 0:
            continue
        # recall counts hits of the class, specificity correct rejections; FNR counts its
        # misses, FPR its false alarms
        failures = successes if requirement.metric in _COUNTS_FAILURES else trials - successes
        lower, upper = _bounds(failures, trials, level)
        if worst is None or upper > worst[2]:
            worst = (
                failures / trials,
                lower,
                upper,
                str(row.get("slice", "all")),
                failures,
                trials,
            )
    what = "misses" if requirement.metric in MISS_METRICS else "false alarms"
    if worst is None:
        return Factor(
            name or f"{requirement.id} {what}",
            kind,
            1.0,
            1.0,
            1.0,
            evidence.key,
            "no slice has counts: counted as failing every time",
        )
    return Factor(
        name or f"{requirement.id}: {what} '{requirement.class_}'",
        kind,
        worst[0],
        worst[1],
        worst[2],
        evidence.key,
        f"worst slice {worst[3]}: {worst[4]} {what} in {worst[5]}",
    )


def _always(name: str, kind: str, detail: str) -> Factor:
    """A factor taken as certain failure (1 per demand): what is not known counts against."""
    return Factor(name, kind, 1.0, 1.0, 1.0, "none", detail)


def _declared(name: str, kind: str, p: float, source: str = "declared in [C]") -> Factor:
    """A declared point value: taken as given, without an interval."""
    return Factor(name, kind, p, p, p, source, "a declared point value, without an interval")


def _component_requirement(
    project: Project, component: str, requirement_id: str
) -> MLSafetyRequirement | None:
    """[H] item ``requirement_id`` of the ML component ``component`` of ``project``'s
    system (``project`` itself when it is that component)."""
    other = sibling(project, component)
    ml = other.ml_requirements if other is not None else None
    if ml is None:
        return None
    return next((r for r in ml.requirements if r.id == requirement_id), None)


@dataclass(frozen=True)
class _Rated:
    """A rate taken from an ML component's results: the requirement and its record, or
    why there is none."""

    requirement: MLSafetyRequirement | None
    evidence: MLEvidence | None
    problem: str


def _rated(
    project: Project,
    component: str,
    requirement_id: str,
    evidence: Mapping[str, MLEvidence],
    others: Mapping[tuple[str, str], MLEvidence],
) -> _Rated:
    if project.system_root is None:
        return _Rated(None, None, f"this project is not part of a system holding {component}")
    requirement = _component_requirement(project, component, requirement_id)
    if requirement is None:
        return _Rated(None, None, f"{component} has no requirement {requirement_id} in its [H]")
    record = (
        evidence.get(requirement_id)
        if component == project.component_id
        else others.get((component, requirement_id))
    )
    if record is None:
        return _Rated(
            requirement, None, f"{component}'s {requirement_id} has no verification result"
        )
    return _Rated(requirement, record, "")


def _traced_hazards(project: Project) -> set[str]:
    """The hazards the allocated requirements [E] of ``project`` trace to."""
    allocated = project.get("E", AllocatedRequirements)
    return {h for a in allocated.requirements for h in a.hazards} if allocated else set()


def chain_hazards(project: Project) -> list[str]:
    """The hazards of [A] whose chain ``project`` records (``stage6/hazard/HAZ-x``).

    A single project: every hazard. A component of a system: the hazards its [E] traces
    to, those its own barrier's wrong action raises (``worsens``), and any hazard no
    component of the system traces to (so that none is left without a chain: its chain is
    inconclusive, saying no ML failure rate reaches it). A hazard only another component
    controls is that component's to argue."""
    system = project.system_requirements
    hazards = [h.id for h in system.hazards] if system is not None else []
    if project.system_root is None:
        return hazards
    mine = _traced_hazards(project)
    description = project.get("C", SystemDescription)
    if description is not None:
        mine |= {
            w.hazard
            for b in description.barriers
            if b.component == project.component_id
            for w in b.worsens
        }
    others: set[str] = set()
    for component in other_components(project):
        other = sibling(project, component)
        if other is not None:
            others |= _traced_hazards(other)
    return [h for h in hazards if h in mine or h not in others]


def rated_requirements(project: Project) -> list[tuple[str, str]]:
    """(component, requirement) for every rate a hazard chain of ``project`` takes from
    an ML component's results besides its own hazard requirements: every other ML
    component's route (a safety cage's ``failure_from``, else its requirements that trace
    to a hazard) and the ``rate_from`` of every ``worsens`` (this component's own
    included). Empty for a project that is no component of a system."""
    description = project.get("C", SystemDescription)
    if project.system_root is None:
        return []
    barriers = description.barriers if description is not None else []
    system = project.system_requirements
    hazards = [h.id for h in system.hazards] if system is not None else []
    out: list[tuple[str, str]] = []
    for barrier in barriers:
        if barrier.component is None:
            continue
        if barrier.failure_from:
            out.append((barrier.component, barrier.failure_from))
        out += [(barrier.component, w.rate_from) for w in barrier.worsens if w.rate_from]
    for component in other_components(project):
        other = sibling(project, component)
        if other is not None:
            out += [(component, r.id) for h in hazards for r in hazard_requirements(other, h)]
    return sorted(set(out))


def _guard(barriers: list[Barrier], component: str | None, hazard: str) -> Barrier | None:
    """The barrier of [C] that is ML component ``component`` guarding against ``hazard``
    (a safety cage: ``component`` and ``failure_from``), if any."""
    if component is None:
        return None
    return next(
        (
            b
            for b in barriers
            if b.component == component and b.failure_from and hazard in b.mitigates
        ),
        None,
    )


@dataclass(frozen=True)
class _Route:
    """One way an ML failure reaches the hazard: an ML component's misses (of its
    safety-related class; for a safety cage, of the inputs it must reject)."""

    component: str
    """'' for this project's own ML component, else the [C] ID of another."""
    label: str
    sources: list[tuple[MLSafetyRequirement, MLEvidence | None]]
    guard: Barrier | None = None

    @property
    def known(self) -> list[tuple[MLSafetyRequirement, MLEvidence]]:
        return [(r, e) for r, e in self.sources if e is not None]


def _routes(
    project: Project,
    hazard: str,
    barriers: list[Barrier],
    evidence: Mapping[str, MLEvidence],
    others: Mapping[tuple[str, str], MLEvidence],
) -> list[_Route]:
    """This component's route to ``hazard`` (first, when it has one), then every other ML
    component's of the system: a safety cage's is its failure to reject (``failure_from``),
    any other's the misses of its requirements that trace to the hazard."""
    out: list[_Route] = []
    own_guard = _guard(barriers, project.component_id, hazard)
    if own_guard is not None and own_guard.failure_from is not None:
        requirement = _component_requirement(
            project, project.component_id or "", own_guard.failure_from
        )
        if requirement is not None:
            # its other requirements on the class it must catch count too: the worst decides
            also = [r for r in hazard_requirements(project, hazard) if r.id != requirement.id]
            out.append(
                _Route(
                    "",
                    f"inputs {own_guard.id} must reject pass it",
                    [(r, evidence.get(r.id)) for r in (requirement, *also)],
                    own_guard,
                )
            )
    else:
        own = hazard_requirements(project, hazard)
        if own:
            out.append(_Route("", "ML misses", [(r, evidence.get(r.id)) for r in own]))
    for component in other_components(project):
        other = sibling(project, component)
        if other is None:
            continue
        guard = _guard(barriers, component, hazard)
        if guard is not None and guard.failure_from is not None:
            requirement = _component_requirement(project, component, guard.failure_from)
            found = [requirement] if requirement is not None else []
            found += [r for r in hazard_requirements(other, hazard) if r not in found]
            sources = [(r, others.get((component, r.id))) for r in found]
            label = f"inputs {guard.id} must reject pass it"
        else:
            found = hazard_requirements(other, hazard)
            sources = [(r, others.get((component, r.id))) for r in found]
            label = "misses"
        if sources:
            out.append(_Route(component, label, sources, guard))
    return out


def _route_rate(route: _Route, level: float) -> tuple[Factor, list[str]]:
    """The worst of a route's requirements (the largest upper bound), and the digests of
    every record it weighed (a change in any could change which is worst); a route
    without any result counts as failing every time."""

    def name_of(requirement: MLSafetyRequirement) -> str:
        # a cage's route says what it is; a component's misses keep the record's name
        return f"{route.label} ({requirement.id})" if route.guard is not None else ""

    rated = [_miss_rate(r, e, level, name=name_of(r), kind="ml") for r, e in route.known]
    if rated:
        factor = max(rated, key=lambda f: f.upper)
        if route.component:
            factor = replace(factor, name=f"{route.component}: {factor.name}")
        return factor, [e.digest for _, e in route.known]
    missing = ", ".join(r.id for r, _ in route.sources)
    who = route.component or "this component"
    return (
        _always(
            f"{route.label} ({missing})",
            "ml",
            f"{who}'s {missing} has no verification result: counted as failing every time",
        ),
        [],
    )


def hazard_chains(
    project: Project,
    evidence: Mapping[str, MLEvidence],
    measured: Mapping[str, Mapping[str, Any]],
    *,
    confidence: float = 0.95,
    others: Mapping[tuple[str, str], MLEvidence] | None = None,
) -> list[HazardChain]:
    """One chain per hazard of [A] (see the module doc).

    ``evidence`` maps requirement IDs to their verification result; ``measured`` maps
    barrier IDs to the harness's counts (``demands``, ``failures``, ``upper_bound``,
    ``lower_bound``, as :class:`._scenarios.BarrierCount` writes them); ``others`` maps
    (component, requirement) to the results of the system's other ML components
    (:func:`rated_requirements`).
    """
    system = project.get("A", SystemSafetyRequirements)
    description = project.get("C", SystemDescription)
    if system is None:
        return []
    others = others or {}
    barriers = description.barriers if description is not None else []
    chains = []
    for hazard in system.hazards:
        # barriers that are ML components are routes of their own, not factors
        plain = [b for b in barriers if hazard.id in b.mitigates and b.component is None]
        measured_here = [b for b in plain if (measured.get(b.id) or {}).get("demands")]
        routes = _routes(project, hazard.id, barriers, evidence, others)
        own = next((r for r in routes if not r.component), None)
        notes = [
            f"{r.guard.id} is an ML component ({r.guard.component}): the inputs it must "
            "reject reach the hazard when it lets them through, taken as every time (the "
            "share of such inputs and the ML components' failures on them are not known); "
            "a route of its own, added to the others"
            for r in routes
            if r.guard is not None
        ]
        raising = [(b, w) for b in barriers for w in b.worsens if w.hazard == hazard.id]
        worse_rated = {
            id(w): _rated(project, b.component, w.rate_from, evidence, others)
            for b, w in raising
            if w.rate_from is not None and b.component is not None
        }
        # Bonferroni: every uncertain quantity's bound at 1 - alpha/k, so the bounds hold
        # jointly at ``confidence`` (a measured barrier counts once, on every route)
        uncertain = max(
            1,
            sum(1 for r in routes if r.known)
            + len(measured_here)
            + sum(1 for r in worse_rated.values() if r.evidence is not None),
        )
        level = 1.0 - (1.0 - confidence) / uncertain
        used: list[str] = []
        shared = [_barrier_factor(b, measured.get(b.id), level) for b in plain]
        terms: list[list[Factor]] = []
        for route in routes:
            rate, weighed = _route_rate(route, level)
            used += weighed
            terms.append([rate, *shared])
        worsening = []
        for barrier, raised in raising:
            term, digest = _worsening_term(barrier.id, raised, worse_rated.get(id(raised)), level)
            worsening.append(term)
            if digest:
                used.append(digest)
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
        first = (
            terms[0]
            if terms
            else [
                _always(
                    "ML miss rate",
                    "ml",
                    "no recall/FNR requirement on a safety-related class traces to this "
                    "hazard: counted as missing every time",
                )
            ]
        )
        chain = HazardChain(
            hazard.id,
            hazard.description,
            first,
            acceptable,
            per,
            [r.id for r in controlling],
            "inconclusive",
            "",
            worsening,
            notes,
            used,
            confidence=confidence,
            factor_level=level,
            routes=terms[1:],
        )
        # this component's own route must rest on a result; so must there be one at all
        problems = (
            [f"{r.id} has no verification result" for r, e in own.sources if e is None]
            if own
            else []
        )
        if (own is not None and not own.known) or not routes:
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


def _barrier_factor(barrier: Barrier, counts: Mapping[str, Any] | None, level: float) -> Factor:
    """A barrier's failure on demand: measured by the harness (exact bounds at ``level``),
    else declared in [C], else taken as failing on every demand."""
    name = f"{barrier.id} {barrier.name} fails"
    if counts and counts.get("demands"):
        failures, demands = int(counts["failures"]), int(counts["demands"])
        lower, upper = _bounds(failures, demands, level)
        return Factor(
            name,
            "barrier",
            failures / demands,
            lower,
            upper,
            "measured by the integration harness",
            f"{failures} failures in {demands} demands",
        )
    if barrier.failure_on_demand is not None:
        return _declared(name, "barrier", float(barrier.failure_on_demand))
    return _always(name, "barrier", "no failure on demand declared or measured: counted as failing")


def _worsening_term(
    barrier: str, raised: Worsening, rated: _Rated | None, level: float
) -> tuple[list[Factor], str]:
    """The added term of one ``worsens`` entry, and the digest of the record it used."""
    name = f"{barrier} acts wrongly"
    digest = ""
    if rated is not None and rated.evidence is not None and rated.requirement is not None:
        rate = _miss_rate(
            rated.requirement,
            rated.evidence,
            level,
            name=f"{name} ({rated.requirement.id})",
            kind="worsening",
        )
        digest = rated.evidence.digest
    elif rated is not None:
        rate = _always(
            name, "worsening", f"{rated.problem}: counted as acting wrongly on every demand"
        )
    elif raised.rate is not None:
        rate = _declared(name, "worsening", float(raised.rate))
    else:
        rate = _always(
            name,
            "worsening",
            "no rate declared or verified: counted as acting wrongly on every demand",
        )
    given = 1.0 if raised.given is None else float(raised.given)
    follows = Factor(
        f"{raised.hazard} follows",
        "given",
        given,
        given,
        given,
        "declared in [C]" if raised.given is not None else "default",
        (raised.because or "")
        + (
            ""
            if raised.given is not None
            else (" " if raised.because else "")
            + "[C] states no 'given': taken as 1 (every wrong action leads to the hazard)"
        ),
    )
    return [rate, follows], digest


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
