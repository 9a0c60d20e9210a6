"""Change impact (AMLAS R23): which evidence a change makes stale, and what must (re-)run.

:func:`analyse_impact` answers for the project at ``root`` in one of two ways.

* **Against the evidence store** (``since=None``): every current record whose ``inputs``
  no longer match the project is *stale* (:meth:`ProjectInputs.stale`, the comparison
  that also marks claims stale in the safety case), and its check must re-run; a record
  that no longer matches its digest must re-run too. Every check ``amlas run`` would
  record (:func:`planned_checks`) that has no record yet is *never run*.
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
any artefact                                   also ``artefact:X`` when its canonical JSON
                                               differs (stage-6 records cite [A], [C], [EE])
``.amlas/`` (hash cache), the project's        ignored
``fs://`` evidence store
anything else                                  listed as an other changed file
=============================================  ==============================================

Records of stages 3-5 whose key no planned check produces any more (their requirement,
rule or dataset was removed) are *obsolete*: listed apart, nothing re-runs them, and they
do not count in the exit status.

Roles (R15): a check of stage 5, or on a sealed dataset, needs the verifier; any other
check the developer can run. :meth:`Impact.exit_code` is 0 when no check must (re-)run,
1 otherwise.
"""

from __future__ import annotations

import io
import itertools
import posixpath
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from amlas.checks._metrics import BOOTSTRAP_METRICS, PROPORTIONS
from amlas.checks._verify import perturbation_unfit
from amlas.diagnostics import Diagnostics
from amlas.errors import ProjectNotFoundError, UsageError
from amlas.evidence._inputs import ProjectInputs, canonical_hash, model_code_file, module_file
from amlas.evidence._store import StoreError, open_store
from amlas.project import Project, check_project, load_project
from amlas.project.artefacts import (
    ErroneousBehaviourLog,
    MLSafetyRequirement,
    ModelReference,
    OperationalScenarios,
)

__all__ = [
    "CheckToRun",
    "Impact",
    "PlannedCheck",
    "StaleRecord",
    "analyse_impact",
    "planned_checks",
]

Role = Literal["developer", "verifier"]
Reason = Literal["stale", "never run", "changed"]

# the data rules whose stage-3 records cite [B] (as amlas run writes them)
_ENVIRONMENT_RULES: Final = frozenset({"within_odd", "min_samples_per_cell", "slice_balance"})
_CACHE_DIR: Final = ".amlas"  # amlas.project's content-hash cache
_YAML: Final = (".yaml", ".yml")


@dataclass(frozen=True)
class PlannedCheck:
    """A check ``amlas run`` records for the project: its key and the inputs it cites."""

    key: str
    stage: int
    needs: Role
    """Who can run it: the verifier for stage 5 and for checks on sealed data."""
    inputs: frozenset[str]
    """The input names the record cites (``samples:`` and ``access_log:`` left out)."""


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
                }
                for c in self.checks
            ],
            "obsolete": [record(r) for r in self.obsolete],
        }


# -- what amlas run records -----------------------------------------------------------------


def _needs(project: Project, stage: int, letters: list[str]) -> Role:
    datasets = project.datasets()
    sealed = any(x in datasets and datasets[x].sealed is not None for x in letters)
    return "verifier" if stage == 5 or sealed else "developer"


def _tabular(project: Project, letter: str) -> bool:
    document = project.datasets()[letter]
    component = project.component
    if document.feature_columns:
        return True
    return component is not None and component.inputs.kind == "tabular"


def _unavailable(requirement: MLSafetyRequirement, model_format: str, tabular: bool) -> bool:
    """The reasons ``amlas run`` gives for not evaluating a requirement on data that show
    without loading the model or the data (its ``not_evaluable``)."""
    metric = requirement.metric or ""
    if metric not in PROPORTIONS | BOOTSTRAP_METRICS | {"fault_tolerance_rate"}:
        return True
    threshold = requirement.threshold
    if metric in PROPORTIONS and threshold is not None and not 0.0 <= threshold <= 1.0:
        return True
    if metric == "fault_tolerance_rate":
        return requirement.faults is None or model_format != "torch"
    if metric not in ("robust_accuracy", "prediction_stability"):
        return False
    perturbation = requirement.perturbation
    if perturbation is None:
        return True
    unfit = perturbation_unfit(
        perturbation.kind, tabular=tabular, differentiable=model_format == "torch"
    )
    return unfit is not None


def planned_checks(project: Project) -> list[PlannedCheck]:
    """Every check of stages 3 to 5 that ``amlas run`` records for ``project`` (for the
    role that may run it), with the inputs its record cites.

    Mirrors the record keys of :mod:`amlas.evidence._run`: ``stage3/DR-x/X`` per data
    rule and dataset it names, ``stage3/independence/A-B`` per pair of [N] [O] [P],
    ``stage{4,5}/MLR-x/{O,P}`` and ``stage{4,5}/MLR-x/formal`` per evaluated [H] item.
    Checks that ``amlas run`` would list as not run for a reason visible without loading
    the model or the data (a metric it cannot compute, a perturbation that does not fit
    the inputs, an attack or fault injection without a torch model, a formal property
    without a network) are left out; stages 4 and 5 need [V].
    """
    out: list[PlannedCheck] = []
    datasets = project.datasets()
    environment = {"environment"}
    data = project.data_requirements
    if data is not None:
        for rule in data.requirements:
            if rule.rule is None:
                continue
            for letter in rule.datasets:
                if letter not in datasets:
                    continue
                names = {f"dataset:{letter}", f"requirement:{rule.id}"}
                if rule.rule.check in _ENVIRONMENT_RULES:
                    names |= environment
                audit = getattr(rule.rule, "audit_file", None)
                if audit is not None:
                    names.add(f"file:{audit}")
                out.append(
                    PlannedCheck(
                        f"stage3/{rule.id}/{letter}",
                        3,
                        _needs(project, 3, [letter]),
                        frozenset(names),
                    )
                )
        letters = [x for x in ("N", "O", "P") if x in datasets]
        for a, b in itertools.combinations(letters, 2):
            out.append(
                PlannedCheck(
                    f"stage3/independence/{a}-{b}",
                    3,
                    _needs(project, 3, [a, b]),
                    frozenset({f"dataset:{a}", f"dataset:{b}"}),
                )
            )
    ml = project.ml_requirements
    model = project.get("V", ModelReference)
    if ml is None or model is None:
        return out
    model_inputs = {"model"} | ({"model_code"} if model_code_file(project) else set())
    for stage, letter in ((4, "O"), (5, "P")):
        if letter not in datasets:
            continue
        tabular = _tabular(project, letter)
        for requirement in ml.requirements:
            if requirement.kind == "other" or requirement.metric is None:
                continue
            cited = frozenset(
                {f"dataset:{letter}", f"requirement:{requirement.id}", "environment"} | model_inputs
            )
            needs = _needs(project, stage, [letter])
            prop = requirement.property
            if (
                prop is not None
                and prop.kind == "local_robustness"
                and model.format in ("torch", "onnx")
            ):
                key = f"stage{stage}/{requirement.id}/formal"
                out.append(PlannedCheck(key, stage, needs, cited))
            if requirement.metric == "verified_robustness":
                continue
            if _unavailable(requirement, model.format, tabular):
                continue
            out.append(PlannedCheck(f"stage{stage}/{requirement.id}/{letter}", stage, needs, cited))
    return out


# -- git --------------------------------------------------------------------------------------


def _git(root: Path, *args: str) -> bytes:
    """Run git in ``root``; raise a UsageError carrying git's message when it fails."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, check=False, timeout=120
        )
    except FileNotFoundError as exc:
        raise UsageError("--since needs git, which is not installed or not on PATH") from exc
    except subprocess.TimeoutExpired as exc:
        raise UsageError(f"git {' '.join(args[:2])} in {root} took over 120 s") from exc
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"git {args[0]} failed in {root}: {message[-1] if message else '?'}")
    return done.stdout


def _names(output: bytes) -> list[str]:
    return [name for name in output.decode("utf-8", "surrogateescape").split("\0") if name]


def _check_revision(root: Path, since: str) -> None:
    try:
        _git(root, "rev-parse", "--show-prefix")
    except UsageError as exc:
        raise UsageError(
            f"{root} is not inside a git repository, so --since {since} cannot be answered; "
            "run 'amlas impact' without --since to compare the evidence with the project "
            "as it is now"
        ) from exc
    if not since or since.startswith("-"):
        raise UsageError(f"--since {since!r} is not a git revision (e.g. HEAD~1, a tag, a hash)")
    try:
        _git(root, "rev-parse", "--verify", "--quiet", f"{since}^{{commit}}")
    except UsageError as exc:
        raise UsageError(
            f"--since {since!r} names no commit of the git repository at {root}; "
            "give a commit, branch or tag (e.g. HEAD~1, main, v1.0)"
        ) from exc


def _changed_files(root: Path, since: str, uri: str) -> list[str]:
    """Project-relative files that differ between ``since`` and the working tree, less
    those amlas writes itself (the hash cache, an ``fs://`` store inside the project)."""
    diff = _git(root, "diff", "--name-only", "--no-renames", "--relative", "-z", since, "--")
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z", "--", ".")
    store = _store_folder(uri)
    return sorted(
        path
        for path in set(_names(diff)) | set(_names(untracked))
        if not _under(path, _CACHE_DIR) and not (store is not None and _under(path, store))
    )


def _project_at(root: Path, since: str, into: Path) -> Project | None:
    """The project's YAML files at ``since``, unpacked into ``into`` and loaded (no data or
    model files: only the artefacts' content is compared); None when there was none."""
    listed = _names(_git(root, "ls-tree", "-r", "-z", "--name-only", since, "--", "."))
    wanted = [name for name in listed if name.endswith(_YAML)]
    if not wanted:
        return None
    archive = _git(root, "archive", "--format=tar", since, "--", *wanted)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    try:
        return load_project(into).project
    except ProjectNotFoundError:
        return None


def _under(path: str, location: str | None) -> bool:
    if not location:
        return False
    base = posixpath.normpath(location)
    return path == base or path.startswith(base.rstrip("/") + "/")


def _store_folder(uri: str) -> str | None:
    """The project-relative folder of an ``fs://`` store inside the project, if any."""
    if not uri.startswith("fs://"):
        return None
    rest = uri.removeprefix("fs://") or "evidence"
    return None if rest.startswith("/") else posixpath.normpath(rest)


def _item_changes(now: Project, before: Project | None) -> set[str]:
    """``requirement:ID`` of every [H] or [L] item whose canonical JSON differs at REV."""
    current = ProjectInputs(now)
    previous = ProjectInputs(before) if before is not None else None
    ids: set[str] = set()
    for project in (now, before):
        if project is None:
            continue
        for document in (project.ml_requirements, project.data_requirements):
            if document is not None:
                ids |= {item.id for item in document.requirements}
    out = set()
    for item in ids:
        name = f"requirement:{item}"
        was = previous.current(name) if previous is not None else None
        if current.current(name) != was:
            out.add(name)
    return out


def _artefact_changes(now: Project, before: Project | None, letter: str) -> set[str]:
    """The inputs a change to the file of artefact ``letter`` touches."""
    out = set()
    if letter in ("H", "L"):
        out |= _item_changes(now, before)
    elif letter == "B":
        was = before.environment if before is not None else None
        if canonical_hash(now.environment) != canonical_hash(was):
            out.add("environment")
    elif letter in ("N", "O", "P"):
        out.add(f"dataset:{letter}")
    elif letter == "V":
        out.add("model")
    # stage-6 records cite whole artefacts ([A], [C], [EE]) by their canonical JSON
    was_doc = before.artefacts.get(letter) if before is not None else None
    now_doc = now.artefacts.get(letter)
    if canonical_hash(now_doc) != canonical_hash(was_doc):
        out.add(f"artefact:{letter}")
    return out


def _map_changes(
    project: Project, before: Project | None, files: list[str]
) -> tuple[set[str], set[str], list[str]]:
    """Changed files -> (changed inputs, changed artefact letters, other changed files)."""
    sources = [p for p in (before, project) if p is not None]
    artefact_files = {
        posixpath.normpath(path): letter for p in sources for letter, path in p.files.items()
    }
    owners: list[tuple[str, str]] = []  # (project-relative file or folder, input name)
    for p in sources:
        for x, document in p.datasets().items():
            owners.append((document.location, f"dataset:{x}"))
            if document.sealed is not None:
                owners.append((document.sealed.file, f"dataset:{x}"))
        reference = p.get("V", ModelReference)
        if reference is not None and reference.location:
            owners.append((reference.location, "model"))
        scenarios = p.get("EE", OperationalScenarios)
        if scenarios is not None and scenarios.harness:
            harness = module_file(p.root, scenarios.harness)
            if harness is not None:
                owners.append((harness.relative_to(p.root).as_posix(), "harness_code"))
        log = p.get("DD", ErroneousBehaviourLog)
        if log is not None and log.field_log is not None:
            owners.append((log.field_log.path, "field_log"))
            owners.append((log.field_log.path, f"field_log:{log.field_log.path}"))
        if log is not None and log.monitor is not None:
            owners.append((log.monitor.file, "monitor"))
        if p.data_requirements is not None:  # the audit file of a label_error_rate rule
            for requirement in p.data_requirements.requirements:
                audit = getattr(requirement.rule, "audit_file", None)
                if audit is not None:
                    owners.append((posixpath.normpath(audit), f"file:{audit}"))
    code = model_code_file(project)
    if code is not None:
        owners.append((code.relative_to(project.root).as_posix(), "model_code"))
    inputs: set[str] = set()
    letters: set[str] = set()
    other: list[str] = []
    for path in files:
        hits = {name for location, name in owners if _under(path, location)}
        if path.endswith(".py"):  # a module the stage-6 harness loaded (harness_code:<path>)
            hits.add(f"harness_code:{posixpath.normpath(path)}")
        letter = artefact_files.get(posixpath.normpath(path))
        if letter is not None:
            letters.add(letter)
            hits |= _artefact_changes(project, before, letter)
        elif not hits:
            other.append(path)
        inputs |= hits
    return inputs, letters, other


# -- the analysis -------------------------------------------------------------------------------


def _stage_of(key: str) -> int:
    head = key.split("/", 1)[0]
    return int(head.removeprefix("stage")) if head.removeprefix("stage").isdigit() else 0


def _letters_of(key: str) -> list[str]:
    """The dataset letters a key names last (``stage3/independence/N-P`` -> N, P)."""
    last = key.rsplit("/", 1)[-1]
    return [x for x in last.split("-") if x in ("N", "O", "P")]


def _order(item: CheckToRun | StaleRecord) -> tuple[int, str]:
    return item.stage, item.key


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
    planned = {check.key: check for check in planned_checks(project)}
    changed: set[str] = set()
    if since is not None:
        _check_revision(project.root, since)
        result.changed_files = _changed_files(project.root, since, uri)
        with tempfile.TemporaryDirectory(prefix="amlas-impact-") as tmp:
            before = _project_at(project.root, since, Path(tmp))
            changed, letters, other = _map_changes(project, before, result.changed_files)
        result.changed_artefacts = sorted(letters)
        result.other_files = other
    checks: dict[str, CheckToRun] = {}
    current = ProjectInputs(project)
    with open_store(uri, root=project.root) as evidence:
        recorded = evidence.list()
        for key, digest in recorded:
            stage = _stage_of(key)
            plan = planned.get(key)
            needs = plan.needs if plan else _needs(project, stage, _letters_of(key))
            try:
                record = evidence.get(digest)
            except StoreError as exc:
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
            if plan is None and record.stage in (3, 4, 5):
                result.obsolete.append(entry)
                continue
            result.stale.append(entry)
            checks[key] = CheckToRun(
                key, record.stage, needs, "stale" if since is None else "changed", why
            )
            if since is None:
                changed |= {name.rsplit(" (", 1)[0] for name in why}
    have = {key for key, _ in recorded}
    for key, plan in planned.items():
        if key in checks:
            continue
        if since is None:
            if key not in have:
                checks[key] = CheckToRun(key, plan.stage, plan.needs, "never run", ())
            continue
        hit = tuple(f"{name} (changed since {since})" for name in sorted(plan.inputs & changed))
        if hit:
            reason: Reason = "changed" if key in have else "never run"
            checks[key] = CheckToRun(key, plan.stage, plan.needs, reason, hit)
    result.checks = sorted(checks.values(), key=_order)
    result.stale.sort(key=_order)
    result.obsolete.sort(key=_order)
    result.changed_inputs = sorted(changed)
    return result
