"""Change impact (AMLAS R23): which evidence a change makes stale, and what must (re-)run.

:func:`analyse_impact` answers for the project at ``root`` in one of two ways.

* **Against the evidence store** (``since=None``): every current record whose ``inputs``
  no longer match the project is *stale* (:meth:`ProjectInputs.stale`, the comparison
  that also marks claims stale in the safety case), and its check must re-run; a record
  that no longer matches its digest must re-run too. Every check ``amlas run`` would
  record (the plan, :func:`amlas.verify.plan`, of stages 3-5) that has no record yet
  is *never run*.
* **Against git** (``since=REV``): the files under the project that differ between REV
  and the working tree (``git diff --name-only REV`` plus untracked files not ignored)
  are mapped to the inputs records cite, and every planned check citing a changed input,
  and every record in the store citing one, must re-run, whether it was ever run or not.

How ``since`` maps changed files to inputs:

=============================================  ==============================================
changed file                                   inputs
=============================================  ==============================================
[H] or [L] artefact                            ``requirement:ID`` of each item whose canonical
                                               JSON differs from the item at REV (added and
                                               removed items count; the artefacts at REV are
                                               unpacked with ``git archive`` into a
                                               temporary directory and loaded)
[B] artefact                                   ``environment``, when its canonical JSON
                                               differs from REV's
[N] [O] [P] artefact, data file or folder,     ``dataset:X`` (the whole artefact counts: it
sealed copy                                    says how the data is read)
[V] artefact, model file or folder             ``model``
the model's python module                      ``model_code``
the [EE] harness module                        ``harness_code``
the audit file of a ``label_error_rate`` rule  ``file:PATH``
a file an imported record rests on             ``import:PATH``
any artefact                                   also ``artefact:X`` when its canonical JSON
                                               differs (stage-6 records cite [A], [C], [EE])
``.amlas/`` (hash cache), the project's        ignored
``fs://`` evidence store
anything else                                  listed as an other changed file
=============================================  ==============================================

Records of stages 3-5 whose key no planned check produces any more (their requirement,
rule or dataset was removed) are *obsolete*: listed apart, nothing re-runs them, and they
do not count in the exit status.

Imported evidence (``amlas evidence import``, ``origin: external``) cites the imported file
and the document it names as ``import:PATH``: changed, the record is stale, and the check
to redo carries the import command (``CheckToRun.command``). A requirement that awaits
imported evidence and has none is not listed as never run: the plan, the run and the case
say what it awaits.

Roles (R15): a check of stage 5, or on a sealed dataset, needs the verifier; any other
check the developer can run. :meth:`Impact.exit_code` is 0 when no check must (re-)run,
1 otherwise.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from amlas.diagnostics import Diagnostics
from amlas.evidence import EvidenceRecord, ProjectInputs, StoreError, keys, open_store
from amlas.project import Project, check_project
from amlas.verify._changes import changed_inputs
from amlas.verify._plan import plan
from amlas.verify._planned import PlannedCheck, Role, role_needed

__all__ = [
    "CheckToRun",
    "Impact",
    "StaleRecord",
    "analyse_impact",
]

Reason = Literal["stale", "never run", "changed"]


@dataclass(frozen=True)
class StaleRecord:
    """A current record whose inputs changed."""

    key: str
    digest: str
    stage: int
    role: str
    """The role that wrote it."""
    verdict: str
    inputs: tuple[str, ...]
    """The changed inputs, each with why, e.g. ``model (changed)``."""


@dataclass(frozen=True)
class CheckToRun:
    """A check that must run: its record is stale or damaged, was never written, or cites
    an input changed since the git revision."""

    key: str
    stage: int
    needs: Role
    reason: Reason
    why: tuple[str, ...]
    command: str | None = None
    """For an imported record, the ``amlas evidence import`` command that replaces it
    (``amlas run`` re-runs it only when it is a check amlas runs itself)."""


@dataclass
class Impact:
    """What :func:`analyse_impact` found; lists sorted by stage, then key."""

    root: Path
    store: str
    since: str | None
    project: Project
    diagnostics: Diagnostics
    stale: list[StaleRecord] = field(default_factory=list)
    """Current records with changed inputs."""
    checks: list[CheckToRun] = field(default_factory=list)
    """Every check that must (re-)run."""
    obsolete: list[StaleRecord] = field(default_factory=list)
    """Records of stages 3-5 that no check produces any more."""
    changed_inputs: list[str] = field(default_factory=list)
    """Input names that changed: ``model``, ``requirement:MLR-1``, ..."""
    changed_files: list[str] = field(default_factory=list)
    """``since`` only: project-relative files that differ from the revision."""
    changed_artefacts: list[str] = field(default_factory=list)
    """``since`` only: letters of the artefacts whose file changed."""
    other_files: list[str] = field(default_factory=list)
    """``since`` only: changed files that are no artefact, data, model or model code."""

    def keys(self) -> set[str]:
        """The record keys of every check that must (re-)run (``run_project(only=...)``)."""
        return {check.key for check in self.checks}

    @property
    def never_run(self) -> list[CheckToRun]:
        return [check for check in self.checks if check.reason == "never run"]

    def exit_code(self) -> int:
        """0 when no check must (re-)run, else 1."""
        return 1 if self.checks else 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (``amlas.impact/1``)."""

        def record(r: StaleRecord) -> dict[str, Any]:
            return {
                "key": r.key,
                "digest": r.digest,
                "stage": r.stage,
                "role": r.role,
                "verdict": r.verdict,
                "inputs": list(r.inputs),
            }

        return {
            "schema": "amlas.impact/1",
            "root": str(self.root),
            "store": self.store,
            "since": self.since,
            "changed_files": list(self.changed_files),
            "changed_artefacts": list(self.changed_artefacts),
            "other_files": list(self.other_files),
            "changed_inputs": list(self.changed_inputs),
            "stale": [record(r) for r in self.stale],
            "checks": [
                {
                    "key": c.key,
                    "stage": c.stage,
                    "needs": c.needs,
                    "reason": c.reason,
                    "why": list(c.why),
                    **({"command": c.command} if c.command else {}),
                }
                for c in self.checks
            ],
            "obsolete": [record(r) for r in self.obsolete],
        }


# -- the analysis -------------------------------------------------------------------------------

_NEVER_RUN_STAGES = (3, 4, 5)
"""Stage 6 runs only when asked for: a stage-6 check without a record is not listed as
never run (a stale stage-6 record is)."""


def _stage_letters(key: str) -> tuple[int | None, list[str]]:
    return keys.key_stage(key), keys.key_letters(key)


def _order(item: CheckToRun | StaleRecord) -> tuple[int, str]:
    return item.stage, item.key


def _to_run(project: Project) -> tuple[dict[str, PlannedCheck], dict[str, PlannedCheck]]:
    """Every check the project calls for that can run (for the role able to run it), and
    every requirement awaiting imported evidence (``amlas evidence import``)."""
    work = plan(project, role="verifier", stages=(3, 4, 5, 6))
    runnable = {check.key: check for check in work if check.runnable}
    return runnable, {check.key: check for check in work if check.kind == "external"}


def _reimport(record: EvidenceRecord) -> str | None:
    """The command that imports a stale imported record again (None for any other)."""
    if record.origin != "external" or record.provenance is None:
        return None
    dataset = f" --dataset {record.dataset}" if record.dataset else ""
    role = " --role verifier --key-file KEY" if record.role == "verifier" else ""
    file = shlex.quote(f"DIR/{record.provenance.file}")
    return f"amlas evidence import DIR {file} --for {record.subject}{dataset}{role}"


def analyse_impact(
    root: str | Path, *, since: str | None = None, store: str | None = None
) -> Impact:
    """What must (re-)run in the project at ``root``: see the module docs.

    ``since`` is a git revision (commit, branch, tag, ``HEAD~1``): compare the working
    tree with it instead of the evidence with the project. ``store`` overrides the
    manifest's evidence store URI. The project's diagnostics come with the result (a
    project with errors is analysed as far as it loaded). Raises
    :class:`~amlas.errors.UsageError` for a missing project, an unreadable store, and,
    with ``since``, a directory outside any git repository or a revision git does not know.
    """
    loaded = check_project(root)
    project = loaded.project
    uri = store or project.manifest.evidence
    result = Impact(project.root, uri, since, project, loaded.diagnostics)
    planned, awaiting = _to_run(project)
    changed: set[str] = set()
    if since is not None:
        changes = changed_inputs(project, since, uri)
        result.changed_files = changes.files
        result.changed_artefacts = sorted(changes.artefacts)
        result.other_files = changes.other
        changed = set(changes.inputs)
    checks: dict[str, CheckToRun] = {}
    current = ProjectInputs(project)
    with open_store(uri, root=project.root) as evidence:
        recorded = evidence.list()
        for key, digest in recorded:
            check = planned.get(key) or awaiting.get(key)
            # a stored record no plan names: who may re-run it, by what its key says
            needs = check.needs if check else role_needed(project, *_stage_letters(key))
            try:
                record = evidence.get(digest)
            except StoreError as exc:
                stage = keys.key_stage(key) or 0
                checks[key] = CheckToRun(key, stage, needs, "stale", (f"record damaged: {exc}",))
                continue
            if since is None:
                why = tuple(current.stale(record))
            else:
                why = tuple(
                    f"{name} (changed since {since})"
                    for name in sorted(record.inputs)
                    if name in changed
                )
            if not why:
                continue
            entry = StaleRecord(key, digest, record.stage, record.role, record.verdict, why)
            # an imported record attached to a node stays the node's (the case decides)
            node = key.startswith(keys.external_node_key(""))
            if check is None and record.stage in _NEVER_RUN_STAGES and not node:
                result.obsolete.append(entry)
                continue
            result.stale.append(entry)
            if keys.is_external(key):
                needs = record.role
            checks[key] = CheckToRun(
                key,
                record.stage,
                needs,
                "stale" if since is None else "changed",
                why,
                _reimport(record),
            )
            if since is None:
                changed |= {name.rsplit(" (", 1)[0] for name in why}
    have = {key for key, _ in recorded}
    for key, check in planned.items():
        if key in checks or check.stage not in _NEVER_RUN_STAGES:
            continue
        if since is None:
            if key not in have:
                checks[key] = CheckToRun(key, check.stage, check.needs, "never run", ())
            continue
        hit = tuple(
            f"{name} (changed since {since})" for name in sorted(set(check.inputs) & changed)
        )
        if hit:
            reason: Reason = "changed" if key in have else "never run"
            checks[key] = CheckToRun(key, check.stage, check.needs, reason, hit)
    result.checks = sorted(checks.values(), key=_order)
    result.stale.sort(key=_order)
    result.obsolete.sort(key=_order)
    result.changed_inputs = sorted(changed)
    return result
