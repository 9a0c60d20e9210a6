"""What a plan is made of: :class:`PlannedCheck` (one check the project calls for) and
:class:`Plan` (all of them, in run order); :func:`amlas.verify.plan` makes one."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from amlas.project import Project

__all__ = [
    "ALL_STAGES",
    "DEFAULT_STAGES",
    "INGESTED",
    "NO_FIELD_LOG",
    "Kind",
    "Plan",
    "PlannedCheck",
    "Role",
    "role_needed",
]

Role = Literal["developer", "verifier"]
Kind = Literal[
    "data_rule",
    "independence",
    "requirement",
    "formal",
    "agreement",
    "scenario",
    "hazard",
    "operation",
    "monitor",
    "external",
]
DEFAULT_STAGES: Final[dict[str, tuple[int, ...]]] = {"developer": (3, 4), "verifier": (3, 5)}
ALL_STAGES: Final = (3, 4, 5, 6)


INGESTED: Final = frozenset({"operation", "monitor"})
NO_FIELD_LOG: Final = "[DD] names no field log ('field_log: {path: ...}')"
"""Why the field-log checks cannot run, unless ``amlas monitor ingest`` is given a log."""


@dataclass(frozen=True)
class PlannedCheck:
    """One check the project calls for (see the module docs)."""

    key: str
    kind: Kind
    check: str
    """The registered check the record will name, e.g. ``metric.recall``."""
    stage: int
    subject: str
    """What the check is about: DR-1, MLR-3, SCN-2, HAZ-1, ``independence``, G6.7 (the
    operational record), G6.8 (the monitor's), or the requirement or node imported
    evidence is for."""
    datasets: tuple[str, ...]
    needs: Role
    """Who may run it: the verifier for stage 5 and for anything reading sealed data (R15)."""
    inputs: Mapping[str, str | None]
    """The input names its record cites -> their hash now (None: missing now)."""
    reason: str | None = None
    """Why it cannot run, or None."""
    runs_in: Literal["amlas run", "amlas monitor ingest", "amlas evidence import"] = "amlas run"
    quiet: bool = False
    """Not listed as not run by itself: a note for its whole stage says why."""

    @property
    def dataset(self) -> str | None:
        """The record's ``dataset`` field: ``P``, ``N+O``, or None."""
        return "+".join(self.datasets) or None

    @property
    def runnable(self) -> bool:
        return self.reason is None

    @property
    def label(self) -> str:
        """How a person names it: ``MLR-1 on [P]``, ``independence of [N] and [P]``."""
        if self.kind == "independence":
            return "independence of " + " and ".join(f"[{x}]" for x in self.datasets)
        if self.kind == "formal":
            return f"{self.subject} formal on [{self.dataset}]"
        if self.kind in ("data_rule", "requirement"):
            return f"{self.subject} on [{self.dataset}]"
        if self.kind == "external":
            return f"{self.subject} (imported evidence)"
        return self.key


@dataclass(frozen=True)
class Plan:
    """The checks of ``stages`` for ``role`` (all of them, runnable or not), in run order."""

    project: Project
    role: Role
    stages: tuple[int, ...]
    checks: tuple[PlannedCheck, ...]
    not_planned: tuple[tuple[int, str, str], ...] = ()
    """(position, what, why) for whole parts the project gives nothing to plan from (no
    [H], no [EE], a requirement with no metric, a stage whose data the role may not read):
    said once, not per check, before the check at ``position`` in :attr:`checks`."""
    only: frozenset[str] | None = field(default=None)
    """The keys the plan was narrowed to (``amlas run --stale-only``), or None."""
    needs_model: bool = False
    """Stage 4 or 5 has requirements to judge on data but the project has no [V]: the run
    refuses (R020) rather than record nothing."""

    def __iter__(self) -> Iterator[PlannedCheck]:
        return iter(self.checks)

    def __len__(self) -> int:
        return len(self.checks)

    def get(self, key: str) -> PlannedCheck | None:
        return next((c for c in self.checks if c.key == key), None)

    def of(self, *kinds: Kind) -> list[PlannedCheck]:
        return [c for c in self.checks if c.kind in kinds]

    def keys(self) -> set[str]:
        return {c.key for c in self.checks}


# -- what each check rests on -------------------------------------------------------------


def role_needed(project: Project, stage: int | None, letters: Collection[str]) -> Role:
    """Who may run a check of ``stage`` on datasets ``letters``: the verifier for stage 5
    and for anything reading sealed data (R15), else the developer."""
    datasets = project.datasets()
    sealed = any(x in datasets and datasets[x].sealed is not None for x in letters)
    return "verifier" if stage == 5 or sealed else "developer"
