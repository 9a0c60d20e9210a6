"""Stage 6: [DD] erroneous behaviour log and [EE] operational scenarios."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from amlas.project.artefacts._base import ArtefactDocument, Id, Item, Text

__all__ = [
    "ErroneousBehaviour",
    "ErroneousBehaviourLog",
    "FieldLog",
    "OperationalScenario",
    "OperationalScenarios",
    "RuntimeMonitor",
]


class ErroneousBehaviour(Item):
    """An erroneous input, output or violated assumption the system must handle (R20)."""

    id_kind: ClassVar[str | None] = "erroneous_behaviour"
    id_title: ClassVar[str] = "erroneous behaviour"
    refs: ClassVar[dict[str, tuple[str, ...]]] = {
        "requirements": ("ml_requirement",),
        "hazards": ("hazard",),
    }

    id: Id
    kind: Literal["erroneous_input", "erroneous_output", "assumption_violation"]
    """erroneous_input, erroneous_output or assumption_violation."""
    description: Text
    """What the behaviour is and when it occurs."""
    source: Literal["internal_test", "verification", "odd_limit", "assumption", "field", "analysis"]
    """Where the behaviour was identified."""
    requirements: list[Id] = Field(default_factory=list)
    """IDs of the ML safety requirements it threatens."""
    hazards: list[Id] = Field(default_factory=list)
    """IDs of the hazards it can lead to."""
    monitoring: str = ""
    """How the system detects it (G6.8)."""
    response: str = ""
    """How the system responds acceptably (G6.9)."""


class Incident(Item):
    id_kind: ClassVar[str | None] = "incident"
    id_title: ClassVar[str] = "incident"
    refs: ClassVar[dict[str, tuple[str, ...]]] = {"behaviour": ("erroneous_behaviour",)}

    id: Id
    date: dt.date
    description: Text
    """What happened."""
    behaviour: Id | None = None
    """The erroneous behaviour this incident is an instance of, if known."""


class RuntimeMonitor(Item):
    """The runtime monitor shipped with the model (G6.8): it flags inputs outside the ODD
    of [B], inputs unlike the development data [N] (out of distribution) and outputs of
    low confidence. ``amlas monitor calibrate`` fits it on [N], sets its threshold on the
    internal test data [O] and writes ``file``; see docs/deployment.md."""

    refs: ClassVar[dict[str, tuple[str, ...]]] = {"behaviours": ("erroneous_behaviour",)}

    file: Annotated[str, Field(min_length=1, pattern=r"^[^\x00]+\.json$")]
    """Project-relative path of the calibrated monitor that `amlas monitor calibrate`
    writes and `amlas monitor serve` loads, e.g. '6-deployment/monitor.json'."""
    ood_method: Literal["mahalanobis"] = "mahalanobis"
    """Out-of-distribution score: 'mahalanobis' (squared Mahalanobis distance to [N] on
    standardised inputs, shrinkage covariance)."""
    target_false_alarm_rate: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.01
    """The out-of-distribution alarm rate allowed on in-distribution inputs; the threshold
    is the conformal quantile of the [O] scores, so the rate is at most this on inputs
    exchangeable with [O]. [O] needs at least 1/rate - 1 samples inside the ODD."""
    max_components: Annotated[int, Field(ge=1, le=512)] = 32
    """Principal directions of [N] kept with their own variance; the rest share one."""
    low_confidence_threshold: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    """Flag an output whose highest class probability is below this; none when unset."""
    min_detection_rate: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    """The share of labelled out-of-domain field samples the monitor must flag, judged on
    its exact lower bound by `amlas monitor ingest`; without it detection is reported,
    not judged."""
    confidence: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.95
    """Confidence level of the bounds `amlas monitor` reports."""
    behaviours: list[Id] = Field(default_factory=list)
    """IDs of the erroneous behaviours of this log the monitor detects."""


class FieldLog(Item):
    """The append-only field log of the deployed component (G6.7, G6.8): one JSON object
    per line, for flagged inputs, operating periods, field incidents, reviews and
    labelled field samples (format in docs/deployment.md)."""

    path: Annotated[str, Field(min_length=1, pattern=r"^[^\x00]+$")]
    """Project-relative path of the JSONL log, e.g. '6-deployment/field-log.jsonl'."""
    log_inputs: bool = True
    """Whether `amlas monitor serve` writes each flagged input and its ODD values into the
    log, so that it can be reviewed and labelled later."""
    confidence: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.95
    """Confidence level of the incident-rate bounds `amlas monitor ingest` records."""


class ErroneousBehaviourLog(ArtefactDocument):
    """[DD] Erroneous behaviour log."""

    letter: ClassVar[str] = "DD"
    title: ClassVar[str] = "Erroneous behaviour log"

    artefact: Literal["DD"]
    behaviours: Annotated[list[ErroneousBehaviour], Field(min_length=1)]
    """The erroneous behaviours identified (R20)."""
    sufficiency_rationale: str = ""
    """Why the identified erroneous behaviour is sufficient (J6.2)."""
    incidents: list[Incident] = Field(default_factory=list)
    """Field incidents, appended during operation."""
    monitor: RuntimeMonitor | None = None
    """The runtime monitor of the ML component and its calibration settings (G6.8)."""
    field_log: FieldLog | None = None
    """The append-only log of flagged inputs and field incidents (G6.7)."""


class OperationalScenario(Item):
    """An imagined sequence of events the integrated system is tested on."""

    quiet_when_unset: ClassVar[frozenset[str]] = frozenset({"ml_requirements", "expected_outcome"})

    id_kind: ClassVar[str | None] = "scenario"
    id_title: ClassVar[str] = "operational scenario"
    refs: ClassVar[dict[str, tuple[str, ...]]] = {
        "requirements": ("system_requirement",),
        "ml_requirements": ("ml_requirement",),
        "conditions": ("odd_dimension",),
    }

    id: Id
    name: Text
    """Short name of the scenario."""
    description: Text
    """The sequence of events, interactions and conditions."""
    requirements: Annotated[list[Id], Field(min_length=1)]
    """The system safety requirements [A] this scenario exercises."""
    ml_requirements: list[Id] = Field(default_factory=list)
    """The ML safety requirements [H] this scenario exercises in the integrated system:
    traceability (the trace matrix and the scenario's record show them); the harness
    still reports the [A] requirements only."""
    expected_outcome: Text | None = None
    """What the integrated system is expected to do in this scenario (e.g. 'brakes to a
    stop at least 2 m before the pedestrian'), stated before the runs; the scenario's
    record carries it. Left out, `amlas check` warns (Q022)."""
    conditions: dict[Id, Text] = Field(default_factory=dict)
    """ODD dimension ID -> band or category the scenario runs in."""
    variations: Annotated[int, Field(ge=1, le=10_000_000)] = 1
    """Number of seeded variations to run."""

    def pass_rate(self, requirement: str) -> float:
        """The share of runs ``requirement`` must hold in."""
        if isinstance(self.min_pass_rate, dict):
            return self.min_pass_rate.get(requirement, 1.0)
        return self.min_pass_rate

    min_pass_rate: (
        Annotated[float, Field(gt=0.0, le=1.0)] | dict[Id, Annotated[float, Field(gt=0.0, le=1.0)]]
    ) = 1.0
    """The share of runs in which each of its requirements must hold, or one share per
    requirement ID (others: 1.0); judged on the one-sided bound at ``confidence`` (1.0: a
    single violation fails)."""
    confidence: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.95
    """Confidence level of that bound."""
    max_violation_rate: Annotated[float, Field(gt=0.0, lt=1.0)] | None = None
    """For requirements that must hold in every run (pass rate 1): pass only when, with
    no violation seen, the one-sided upper bound of the violation rate at ``confidence`` is
    at most this; fewer runs give 'inconclusive', with how many would do."""


class OperationalScenarios(ArtefactDocument):
    """[EE] Operational scenarios."""

    letter: ClassVar[str] = "EE"
    title: ClassVar[str] = "Operational scenarios"

    artefact: Literal["EE"]
    scenarios: Annotated[list[OperationalScenario], Field(min_length=1)]
    """The scenarios integration testing runs (AMLAS Activity 16)."""
    sufficiency_rationale: Text
    """Why these scenarios represent real operation (J6.1)."""
    simulation: bool = False
    """True when integration tests run in simulation (G6.5 then needs development)."""
    simulator: str = ""
    """The simulator used, when `simulation` is true."""
    harness: Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")] | None = None
    """'module:function' (importable from the project root) that runs the integrated system
    for one scenario run and reports which system safety requirements held; see
    docs/deployment.md. Without it, `amlas run --stage 6` has nothing to run."""
    simulation_rationale: str = ""
    """Why the simulation represents the operational system (G6.5), when `simulation`."""
    harness_data: list[Literal["N", "O", "P"]] = Field(default_factory=list)
    """Datasets the harness reads (e.g. cases it replays): the scenario records rest on
    them and go stale when they change."""
