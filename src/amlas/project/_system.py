"""A system project: several ML components, each with its own AMLAS project, sharing the
system's [A] [B] [C].

The system directory holds ``amlas.yaml`` with ``components: [{id, path}]`` and the three
system artefacts; each component is an ordinary project below it whose ``amlas.yaml`` says
``part_of:`` back (the loader then reads [A] [B] [C] from the system). :func:`load_system`
loads (and checks) the system and every component; its diagnostics are located relative to
the system directory, so ``amlas check SYSTEM`` reads like the check of one project. The
rules that need several components at once (a barrier of [C] that *is* an ML component,
rated by that component's own requirements) live here, since no single project can apply
them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from amlas.diagnostics import Diagnostic, Diagnostics, Location
from amlas.project._loader import LoadResult, load_project, read_text
from amlas.project._manifest import MANIFEST_FILE, SYSTEM_LETTERS, Manifest
from amlas.project._paths import path_problem
from amlas.project._project import Project
from amlas.project._rules_apply import apply_rules
from amlas.project._yaml import load_yaml
from amlas.project.artefacts import ARTEFACTS, MLSafetyRequirement, SystemDescription

__all__ = [
    "FAILURE_METRICS",
    "RATE_METRICS",
    "System",
    "bind_siblings",
    "component_rules",
    "is_system_dir",
    "load_system",
    "other_components",
    "relocated",
    "sibling",
]

FAILURE_METRICS = frozenset({"recall", "fnr"})
"""Metrics whose failures are misses of a class: a monitor's failure on demand."""
UNALLOCATED = "X010"
"""A system safety requirement allocated to no ML component (per component project)."""
RATE_METRICS = frozenset({"recall", "fnr", "fpr", "specificity"})
"""Metrics whose failures are a proportion of wrong actions (misses or false alarms)."""


@dataclass
class System:
    """A loaded system project and its ML components."""

    root: Path
    project: Project
    """The system's own project: its manifest and [A] [B] [C]."""
    components: dict[str, Project] = field(default_factory=dict)
    """[C] component ID -> its loaded project, in ``components:`` order; a component
    whose entry is unusable (X017) is absent."""
    paths: dict[str, str] = field(default_factory=dict)
    """[C] component ID -> its project directory relative to the system."""
    missing: dict[str, str] = field(default_factory=dict)
    """[C] component ID (kind ml) -> why it has no usable project."""
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    """Everything found in the system and its components, located relative to ``root``."""

    @property
    def manifest(self) -> Manifest:
        return self.project.manifest

    def order(self) -> list[str]:
        """The components in the order a run takes them: a component whose results
        another's hazard chain uses (a barrier that is an ML component) comes first."""
        description = self.project.get("C", SystemDescription)
        used = (
            {b.component for b in description.barriers if b.component}
            if description is not None
            else set()
        )
        ids = list(self.components)
        return [c for c in ids if c in used] + [c for c in ids if c not in used]


def is_system_dir(root: str | Path) -> bool:
    """True when ``root/amlas.yaml`` declares ``components`` (a look at the manifest alone,
    read as the loader reads it: a file that is no regular file, too large or not YAML is
    left to the project loader to report)."""
    quiet = Diagnostics()
    try:
        read = read_text(Path(root) / MANIFEST_FILE, MANIFEST_FILE, quiet)
    except (OSError, ValueError):
        return False
    loaded = load_yaml(read[0], MANIFEST_FILE, quiet) if read is not None else None
    data = loaded.data if loaded is not None else None
    return isinstance(data, dict) and bool(data.get("components"))


def load_system(root: str | Path, *, check: bool = True) -> System:
    """Load the system project at ``root`` and each of its components (with every rule
    applied when ``check``), and apply the rules across components (X017, X018, X019).

    Raises :class:`~amlas.errors.ProjectNotFoundError` when ``root`` is no project.
    """
    load: Callable[[str | Path], LoadResult] = _checked if check else load_project
    own = load(root)
    system = System(own.project.root, own.project)
    system.diagnostics.extend(own.diagnostics)
    manifest = own.project.manifest
    description = own.project.get("C", SystemDescription)
    kinds = {c.id: c.kind for c in description.components} if description is not None else {}
    source = own.project.manifest_source
    seen_paths: dict[Path, str] = {}
    unallocated: dict[tuple[Location, str], list[Diagnostic]] = {}
    for i, entry in enumerate(manifest.components):
        where = source.locate(("components", i)) if source is not None else Location("")
        problem = _entry_problem(system, entry.id, entry.path, kinds, seen_paths, description)
        if problem is not None:
            system.diagnostics.add("X017", f"component {entry.id!r}: {problem}", where)
            system.missing.setdefault(entry.id, problem)
            continue
        directory = (system.root / entry.path).resolve()
        seen_paths[directory] = entry.id
        result = load(directory)
        component = result.project
        prefix = PurePosixPath(Path(entry.path)).as_posix().rstrip("/")
        if component.system_root != system.root or component.component_id != entry.id:
            problem = f"{entry.path}/{MANIFEST_FILE} does not say 'part_of:' back to this system"
            system.diagnostics.add("X017", f"component {entry.id!r}: {problem}", where)
            system.missing[entry.id] = problem
            # what its own loading found says why (F012)
            system.diagnostics.extend(
                relocated(d, prefix) for d in result.diagnostics if d.code.startswith("F")
            )
            continue
        system.components[entry.id] = component
        system.paths[entry.id] = prefix
        for diagnostic in result.diagnostics:
            moved = relocated(diagnostic, prefix)
            if moved.code == UNALLOCATED:
                unallocated.setdefault((moved.location, moved.message), []).append(moved)
            else:
                system.diagnostics.items.append(moved)
    # a system requirement is unallocated only when no component takes it
    for found in unallocated.values():
        if len(found) == len(system.components):
            system.diagnostics.items.append(found[0])
    for component_id, kind in kinds.items():
        if kind == "ml" and component_id not in {*system.components, *system.missing}:
            system.missing[component_id] = "no project in the system's 'components'"
            system.diagnostics.add(
                "X018",
                f"[C] component {component_id!r} is an ML component without a project in "
                f"the system's 'components': nothing argues it is safe",
                own.project.locate("C", _component_path(description, component_id)),
                hint=f"add '- {{id: {component_id}, path: components/...}}' to {MANIFEST_FILE}",
            )
    _shared_stores(system)
    _unused_settings(system)
    _barrier_rules(system, system.diagnostics)
    system.diagnostics.items = system.diagnostics.sorted()
    return system


def _checked(root: str | Path) -> LoadResult:
    """A component loaded with every rule of its own (the system applies the rules across
    components once, for all of them)."""
    result = load_project(root)
    apply_rules(result)
    return result


def component_rules(result: LoadResult) -> None:
    """The rules across the system's components that concern the component ``result``
    loaded (X019 on the barriers of [C]), located as the component sees the files, so
    that checking or running a component on its own refuses what the system's check
    refuses."""
    project = result.project
    if project.system_root is None:
        return
    system = load_system(project.system_root, check=False)
    found = Diagnostics()
    _barrier_rules(system, found)
    for diagnostic in found:
        where = diagnostic.location
        path = os.path.relpath(project.system_root / where.path, project.root)
        moved = replace(where, path=PurePosixPath(Path(path)).as_posix())
        result.diagnostics.items.append(replace(diagnostic, location=moved))


def sibling(project: Project, component_id: str) -> Project | None:
    """The loaded project of another ML component of ``project``'s system (None when
    ``project`` is no component, or the system has no usable project for it). Loaded once
    per project object."""
    if project.system_root is None:
        return None
    if component_id == project.component_id:
        return project
    _load_siblings(project)
    return project.siblings.get(component_id)


def other_components(project: Project) -> list[str]:
    """The [C] IDs of the other ML components of ``project``'s system that have a usable
    project, in the system's order (empty for a project that is no component)."""
    if project.system_root is None:
        return []
    _load_siblings(project)
    return list(project.sibling_ids or [])


def bind_siblings(system: System) -> None:
    """Make each ML component's siblings the other components of ``system`` as loaded
    here (not loaded again from its directory): a project read back from a bundle or a git
    revision carries what it was given (its stated input hashes) to the components whose
    inputs its records cite."""
    for component_id, project in system.components.items():
        others = {c: p for c, p in system.components.items() if c != component_id}
        project.siblings.update(others)
        project.sibling_ids = list(others)


def _load_siblings(project: Project) -> None:
    if project.sibling_ids is not None or project.system_root is None:
        return
    try:
        system = load_system(project.system_root, check=False)
    except Exception:  # the system's own check reports what is wrong
        project.sibling_ids = []
        return
    others = {c: p for c, p in system.components.items() if c != project.component_id}
    project.siblings.update(others)
    project.sibling_ids = list(others)


def _component_path(
    description: SystemDescription | None, component_id: str
) -> tuple[str | int, ...]:
    if description is None:
        return ()
    for i, component in enumerate(description.components):
        if component.id == component_id:
            return ("components", i, "id")
    return ()


def _entry_problem(
    system: System,
    component_id: str,
    path: str,
    kinds: Mapping[str, str],
    seen_paths: dict[Path, str],
    description: SystemDescription | None,
) -> str | None:
    if description is None:
        return "[C] did not load, so it cannot say this is an ML component"
    if component_id not in kinds:
        return "is no component of [C]"
    if kinds[component_id] != "ml":
        return f"is a component of kind {kinds[component_id]!r} in [C], not 'ml'"
    if component_id in system.components or component_id in system.missing:
        return "is listed twice"
    problem = path_problem(system.root, path)
    if problem is not None:
        return f"path {path!r} {problem}"
    directory = (system.root / path).resolve()
    if directory == system.root:
        return "its path is the system itself"
    if directory in seen_paths:
        return f"path {path!r} is also {seen_paths[directory]!r}'s"
    if not (directory / MANIFEST_FILE).is_file():
        return f"path {path!r} holds no {MANIFEST_FILE}"
    return None


def relocated(diagnostic: Diagnostic, prefix: str) -> Diagnostic:
    """``diagnostic`` of the component project at ``prefix`` (relative to the system
    directory) with its file relative to the system directory (a component's view
    of the system's [A] becomes the system's own path again)."""
    joined = os.path.normpath(os.path.join(prefix, diagnostic.location.path))
    return replace(
        diagnostic, location=replace(diagnostic.location, path=PurePosixPath(joined).as_posix())
    )


_COMPONENT_SETTINGS = ("case", "defaults", "verifier_key", "evidence")
"""Manifest keys that belong to each component, never to the system."""


def _store_place(project: Project) -> str:
    """Where a component's evidence store lives (a folder or a database file resolved
    against the component, else the URI itself)."""
    uri = project.manifest.evidence
    for scheme in ("fs://", "sqlite:///"):
        if uri.startswith(scheme):
            rest = uri[len(scheme) :] or "evidence"
            try:
                return str((project.root / rest).resolve())
            except (OSError, RuntimeError, ValueError):
                return uri
    return uri


def _shared_stores(system: System) -> None:
    """X017: two components cannot share an evidence store (record keys such as
    'stage5/MLR-1/P' name no component, so one would read the other's records)."""
    source = system.project.manifest_source
    seen: dict[str, str] = {}
    for i, entry in enumerate(system.manifest.components):
        component = system.components.get(entry.id)
        if component is None:
            continue
        place = _store_place(component)
        if place in seen:
            system.diagnostics.add(
                "X017",
                f"component {entry.id!r}: its evidence store {component.manifest.evidence!r} "
                f"is also {seen[place]!r}'s; record keys name no component, so each keeps its "
                "own store",
                source.locate(("components", i)) if source is not None else Location(""),
            )
        else:
            seen[place] = entry.id


def _unused_settings(system: System) -> None:
    """F015: settings in the system's amlas.yaml that only a component's can hold; F016:
    a component's artefact file in the system directory."""
    source = system.project.manifest_source
    for letter in system.manifest.artefacts:
        if str(letter) in SYSTEM_LETTERS:
            continue
        system.diagnostics.add(
            "F015",
            f"'artefacts: {letter}' in a system project's {MANIFEST_FILE} is not used: "
            f"[{letter}] is each ML component's own",
            source.locate(("artefacts", letter), key=True) if source else Location(""),
            hint=f"move it into the components' {MANIFEST_FILE}",
        )
    for other, spec in ARTEFACTS.items():
        if other in SYSTEM_LETTERS or not (system.root / spec.default_path).is_file():
            continue
        system.diagnostics.add(
            "F016",
            f"{spec.default_path!r} is ignored: [{other}] {spec.title} belongs to each ML "
            "component's project, not to the system",
            Location(spec.default_path),
            hint="move it into the component it belongs to",
        )
    written = set(system.manifest.model_fields_set)
    for name in _COMPONENT_SETTINGS:
        if name not in written:
            continue
        where = source.locate((name,), key=True) if source is not None else Location("")
        if name == "case":
            # the approvals of the system's case are the system's own (docs/signoff.md)
            unused = sorted(system.manifest.case.model_fields_set - {"approvals"})
            if not unused:
                continue
            system.diagnostics.add(
                "F015",
                f"'case: {', '.join(unused)}' in a system project's {MANIFEST_FILE} is not "
                "used: each ML component's own amlas.yaml holds it (only 'case.approvals', "
                "the sign-offs of the system's case, belongs here)",
                where,
                hint=f"move it into the components' {MANIFEST_FILE}",
            )
            continue
        system.diagnostics.add(
            "F015",
            f"'{name}' in a system project's {MANIFEST_FILE} is not used: each ML "
            "component's own amlas.yaml holds it",
            where,
            hint=f"move '{name}' into the components' {MANIFEST_FILE}",
        )


def _barrier_rules(system: System, diagnostics: Diagnostics) -> None:
    """X019: a barrier that is an ML component is rated by that component's results."""
    description = system.project.get("C", SystemDescription)
    if description is None:
        return
    kinds = {c.id: c.kind for c in description.components}
    for i, barrier in enumerate(description.barriers):
        at = ("barriers", i)

        def bad(message: str, path: tuple[str | int, ...], *, barrier_id: str = barrier.id) -> None:
            diagnostics.add(
                "X019", f"barrier {barrier_id}: {message}", system.project.locate("C", path)
            )

        component = None
        if barrier.component is not None:
            if kinds.get(barrier.component) != "ml":
                bad(
                    f"component {barrier.component!r} is no ML component of [C]", (*at, "component")
                )
            elif barrier.component not in system.components:
                if barrier.component not in system.missing:
                    bad(
                        f"component {barrier.component!r} has no project in the system",
                        (*at, "component"),
                    )
            else:
                component = system.components[barrier.component]
            if barrier.failure_from is None:
                bad(
                    "names an ML component but no 'failure_from' (the requirement of "
                    f"{barrier.component} whose miss rate is its failure on demand)",
                    (*at, "component"),
                )
            if barrier.failure_on_demand is not None:
                bad(
                    "declares 'failure_on_demand' beside 'component': the rate comes from "
                    f"{barrier.component}'s own results, so the declared value would be "
                    "ignored",
                    (*at, "failure_on_demand"),
                )
        elif barrier.failure_from is not None:
            bad("'failure_from' needs 'component' (the ML component it is)", (*at, "failure_from"))
        if component is not None and barrier.failure_from is not None:
            problem = _rate_problem(component, barrier.failure_from, FAILURE_METRICS, True)
            if problem is not None:
                bad(problem, (*at, "failure_from"))
        for j, worsening in enumerate(barrier.worsens):
            here = (*at, "worsens", j)
            if (worsening.rate is None) == (worsening.rate_from is None):
                bad(
                    f"worsens {worsening.hazard}: give exactly one of 'rate' (declared) and "
                    "'rate_from' (a requirement of its ML component)",
                    here,
                )
            elif worsening.rate_from is not None:
                if barrier.component is None:
                    bad(
                        f"worsens {worsening.hazard}: 'rate_from' needs 'component'",
                        (*here, "rate_from"),
                    )
                elif component is not None:
                    problem = _rate_problem(component, worsening.rate_from, RATE_METRICS, False)
                    if problem is not None:
                        bad(f"worsens {worsening.hazard}: {problem}", (*here, "rate_from"))


def _rate_problem(
    component: Project, requirement_id: str, metrics: frozenset[str], safety_class: bool
) -> str | None:
    """Why ``requirement_id`` of ``component``'s [H] cannot give the rate, or None."""
    ml = component.ml_requirements
    name = component.component_id
    if ml is None:
        return f"{name}'s [H] did not load, so {requirement_id!r} cannot be found"
    requirement: MLSafetyRequirement | None = next(
        (r for r in ml.requirements if r.id == requirement_id), None
    )
    if requirement is None:
        return f"{requirement_id!r} is no ML safety requirement of {name}'s [H]"
    if requirement.metric not in metrics:
        return (
            f"{requirement_id} of {name} is stated as {requirement.metric!r}; expected one of "
            + ", ".join(sorted(metrics))
        )
    if safety_class:
        described = component.component
        safety = {c.name for c in described.classes if c.safety_related} if described else set()
        if requirement.class_ not in safety:
            return (
                f"{requirement_id} of {name} is on class {requirement.class_!r}, which {name}'s "
                "[D] does not mark safety-related (its misses are not the barrier failing)"
            )
    return None
