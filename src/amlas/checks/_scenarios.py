"""Integration testing over operational scenarios (AMLAS Activity 16: [EE] -> [FF]).

The team declares the operational scenarios [EE] and a *harness*: a Python function
(``harness: module:function`` in [EE], importable from the project root) that runs the
integrated system (the ML component with the non-ML software, the system and its barriers)
for one run of one scenario and reports what happened::

    def run(run: amlas.checks.ScenarioRun) -> dict:
        ...
        return {
            "requirements": {"SSR-1": True, "SSR-3": False},   # held or not, this run
            "barriers": {"BAR-1": "held"},                     # only barriers demanded
            "notes": "optional text",
        }

A plain ``{"SSR-1": True}`` mapping is read as the ``requirements`` part. The run gives
the scenario, the variation number, a seed and a ``numpy`` generator seeded from the
scenario ID and the variation (the same on every machine), the loaded ML model and the
project root. The harness must report every system safety requirement the scenario lists
(and no other): a run that leaves one out, returns something else, or raises is an
*error*, listed by run, and never counted as the requirement holding.

Every scenario runs ``variations`` times. Per scenario and requirement, the share of runs in
which it held is judged against ``min_pass_rate`` (one share, or one per requirement) with
the exact one-sided bound at ``confidence`` (Bonferroni-corrected across the scenario's
requirements judged on a bound); with
``min_pass_rate: 1`` a single violation fails and no violation passes, the bound then only
says how small a violation rate the runs support, unless ``max_violation_rate`` asks that
bound to reach a rate (too few runs are then inconclusive). Errors make the result inconclusive.
Barrier outcomes are counted across all runs (demands, failures) for the hazard-rate
analysis (:mod:`._hazard`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from amlas.adapters import Model
from amlas.checks._intervals import clopper_pearson, decide_slices, percent
from amlas.checks._metrics import MAX_LISTED_IDS, SliceResult, overall_verdict
from amlas.checks._robustness import perturbation_seed
from amlas.project.artefacts import OperationalScenario

__all__ = [
    "BarrierCount",
    "ScenarioResult",
    "ScenarioRun",
    "run_scenario",
]

BARRIER_OUTCOMES = ("held", "failed")


@dataclass(frozen=True)
class ScenarioRun:
    """What the harness gets for one run of one scenario."""

    scenario: OperationalScenario
    variation: int
    """0 .. variations - 1."""
    seed: int
    rng: np.random.Generator
    model: Model | None
    """The ML component as [V] loads it (None when the harness brings its own)."""
    root: Path
    """The project folder."""

    @property
    def conditions(self) -> dict[str, str]:
        """ODD dimension ID -> band or category the scenario runs in."""
        return dict(self.scenario.conditions)


@dataclass
class BarrierCount:
    demands: int = 0
    failures: int = 0

    def as_json(self, confidence: float) -> dict[str, Any]:
        out: dict[str, Any] = {"demands": self.demands, "failures": self.failures}
        if self.demands:
            upper = clopper_pearson(
                self.failures, self.demands, confidence=confidence, sided="upper"
            )
            lower = clopper_pearson(
                self.failures, self.demands, confidence=confidence, sided="lower"
            )
            out.update(
                failure_on_demand=self.failures / self.demands,
                upper_bound=upper.upper,
                lower_bound=lower.lower,
                confidence=confidence,
            )
        return out


@dataclass
class ScenarioResult:
    """All runs of one scenario."""

    scenario: OperationalScenario
    held: dict[str, int]
    violated_runs: dict[str, list[int]]
    errors: list[tuple[int, str]]
    barriers: dict[str, BarrierCount]
    seconds: float
    notes: list[tuple[int, str]] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return self.scenario.variations

    def slices(self) -> list[SliceResult]:
        """One slice per system safety requirement of the scenario."""
        ok_runs = self.runs - len(self.errors)
        requirements = list(self.scenario.requirements)
        confidence = self.scenario.confidence
        exact = [r for r in requirements if self.scenario.pass_rate(r) < 1.0]
        # Bonferroni across the requirements judged on a bound (each may have its own rate)
        level = 1.0 - (1.0 - confidence) / max(len(exact), 1)
        decisions = {
            r: decide_slices(
                [(self.held[r], ok_runs)],
                threshold=self.scenario.pass_rate(r),
                comparison="at_least",
                confidence=level,
            )[0]
            for r in exact
        }
        out = []
        for requirement in requirements:
            threshold = self.scenario.pass_rate(requirement)
            held, violated = self.held[requirement], self.violated_runs[requirement]
            interval = clopper_pearson(held, ok_runs, confidence=confidence)
            estimate = held / ok_runs if ok_runs else None
            if requirement in decisions:
                d = decisions[requirement]
                verdict, reason, bound = d.verdict, d.reason, d.bound
            else:
                lower = clopper_pearson(held, ok_runs, confidence=confidence, sided="lower")
                bound = lower.lower if ok_runs else -math.inf
                limit = self.scenario.max_violation_rate
                if violated:
                    verdict, reason = "fail", f"violated in {len(violated)} of {ok_runs} runs"
                elif ok_runs == 0:
                    verdict, reason = "inconclusive", "no run completed"
                elif limit is not None and 1 - bound > limit:
                    needed = required_runs(limit, confidence)
                    verdict = "inconclusive"
                    reason = (
                        f"held in all {ok_runs} runs, but that only shows a violation rate "
                        f"below {1 - bound:.4g} at {percent(confidence)}, not below {limit:g}: "
                        f"{needed} runs without a violation would"
                    )
                else:
                    verdict = "pass"
                    reason = (
                        f"held in all {ok_runs} runs; the violation rate is below "
                        f"{1 - bound:.4g} at {percent(confidence)}"
                    )
            if self.errors and verdict == "pass":
                verdict = "inconclusive"
                reason = f"{len(self.errors)} runs ended in an error; " + reason
            out.append(
                SliceResult(
                    slice=requirement,
                    cell={"requirement": requirement},
                    verdict=verdict,
                    estimate=estimate,
                    lower=interval.lower,
                    upper=interval.upper,
                    bound=bound,
                    threshold=threshold,
                    comparison="at_least",
                    reason=reason,
                    trials=ok_runs,
                    successes=held,
                    failing_count=len(violated),
                    failing_ids=[f"run-{k}" for k in violated[:MAX_LISTED_IDS]],
                )
            )
        return out

    @property
    def verdict(self) -> str:
        return overall_verdict([s.verdict for s in self.slices()])


def required_runs(max_violation_rate: float, confidence: float) -> int:
    """Runs without a violation that show a violation rate below ``max_violation_rate`` at
    ``confidence`` (the exact bound of zero violations: 1 - (1 - c)^(1/n))."""
    return math.ceil(math.log(1.0 - confidence) / math.log(1.0 - max_violation_rate))


def variation_seed(scenario_id: str, variation: int) -> int:
    """The seed of one run: from the scenario ID and the variation, machine-independent."""
    return perturbation_seed(f"{scenario_id}/{variation}")


def _read_outcome(
    outcome: Any, scenario: OperationalScenario, barriers: set[str]
) -> tuple[dict[str, bool], dict[str, str], str]:
    """The harness's answer, checked; raises ValueError saying what is wrong."""
    if not isinstance(outcome, Mapping):
        raise ValueError(
            f"the harness returned a {type(outcome).__name__}; expected a mapping "
            "{'requirements': {SSR-id: bool}, 'barriers': {BAR-id: 'held'|'failed'}}"
        )
    if "requirements" in outcome:
        requirements, barrier_part = outcome["requirements"], outcome.get("barriers", {})
        notes = str(outcome.get("notes", ""))
    else:
        requirements, barrier_part, notes = outcome, {}, ""
    if not isinstance(requirements, Mapping) or not isinstance(barrier_part, Mapping):
        raise ValueError("'requirements' and 'barriers' must be mappings")
    expected = set(scenario.requirements)
    missing, extra = expected - set(requirements), set(requirements) - expected
    if missing or extra:
        raise ValueError(
            f"reported requirements {sorted(requirements)}; expected exactly the scenario's "
            f"{sorted(expected)}"
        )
    held: dict[str, bool] = {}
    for key, value in requirements.items():
        if not isinstance(value, bool | np.bool_):
            raise ValueError(f"requirement {key!r}: {value!r}; expected true or false")
        held[str(key)] = bool(value)
    outcomes: dict[str, str] = {}
    for key, value in barrier_part.items():
        if str(key) not in barriers:
            raise ValueError(f"unknown barrier {key!r}; [C] declares {sorted(barriers)}")
        if value not in BARRIER_OUTCOMES:
            raise ValueError(f"barrier {key!r}: {value!r}; expected 'held' or 'failed'")
        outcomes[str(key)] = str(value)
    return held, outcomes, notes


def run_scenario(
    scenario: OperationalScenario,
    harness: Callable[[ScenarioRun], Any],
    *,
    model: Model | None,
    root: Path,
    barriers: set[str],
    progress: Callable[[int], None] | None = None,
) -> ScenarioResult:
    """Run every variation of ``scenario`` through ``harness`` (see the module doc)."""
    held = dict.fromkeys(scenario.requirements, 0)
    violated: dict[str, list[int]] = {r: [] for r in scenario.requirements}
    counts = {b: BarrierCount() for b in sorted(barriers)}
    errors: list[tuple[int, str]] = []
    notes: list[tuple[int, str]] = []
    started = time.perf_counter()
    for k in range(scenario.variations):
        seed = variation_seed(scenario.id, k)
        run = ScenarioRun(scenario, k, seed, np.random.default_rng(seed), model, root)
        try:
            outcome = harness(run)
            result, barrier_outcomes, note = _read_outcome(outcome, scenario, barriers)
        except Exception as exc:  # the harness is user code: any failure is an error run
            lines = str(exc).strip().splitlines()
            errors.append((k, f"{type(exc).__name__}: {lines[0] if lines else ''}".strip()))
        else:
            for requirement, ok in result.items():
                if ok:
                    held[requirement] += 1
                else:
                    violated[requirement].append(k)
            for barrier, state in barrier_outcomes.items():
                counts[barrier].demands += 1
                counts[barrier].failures += state == "failed"
            if note:
                notes.append((k, note))
        if progress is not None:
            progress(1)
    return ScenarioResult(
        scenario,
        held,
        violated,
        errors,
        {b: c for b, c in counts.items() if c.demands},
        time.perf_counter() - started,
        notes,
    )
