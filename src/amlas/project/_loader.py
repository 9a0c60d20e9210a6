"""Load a project directory: the manifest, then every artefact it names."""

from __future__ import annotations

import contextlib
import os
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from amlas.diagnostics import Diagnostics, Location
from amlas.errors import ProjectNotFoundError
from amlas.plugins import PluginError, registry
from amlas.project._manifest import MANIFEST_FILE, SYSTEM_LETTERS, ComponentProject, Manifest
from amlas.project._paths import path_problem, probe
from amlas.project._project import Project
from amlas.project._validate import validate_document, validate_part
from amlas.project._yaml import MAX_FILE_BYTES, LoadedYaml, SourceMap, load_yaml
from amlas.project.artefacts import ARTEFACTS, MLSafetyRequirements
from amlas.project.artefacts.data import DataRequirements, ExternalRule

__all__ = ["LoadResult", "load_project", "read_text"]

_PLACEHOLDER = re.compile(r"\bTODO\b")


@dataclass
class LoadResult:
    """A project and the problems found while loading it (rules not yet applied)."""

    project: Project
    diagnostics: Diagnostics


def load_project(root: str | Path) -> LoadResult:
    """Load every artefact of the project at ``root``.

    Raises :class:`~amlas.errors.ProjectNotFoundError` when ``root`` is not a project
    directory; every problem *inside* the project becomes a diagnostic instead.
    """
    root = Path(root)
    if not root.is_dir():
        raise ProjectNotFoundError(f"{str(root)!r} is not a directory")
    if not (root / MANIFEST_FILE).is_file():
        raise ProjectNotFoundError(
            f"{str(root)!r} holds no {MANIFEST_FILE}; run 'amlas init {root}' to create a project"
        )
    diagnostics = Diagnostics()
    manifest_yaml = _read_yaml(root, MANIFEST_FILE, diagnostics)
    manifest = None
    if manifest_yaml is not None:
        _scan_placeholders(manifest_yaml.data, (), manifest_yaml.source, diagnostics)
        manifest = validate_document(
            Manifest, manifest_yaml.data, manifest_yaml.source, diagnostics
        )
    if manifest is None:  # keep going so the artefacts still get checked
        manifest = _fallback_manifest(manifest_yaml.data if manifest_yaml else {})
    project = Project(
        root=root.resolve(),
        manifest=manifest,
        manifest_source=manifest_yaml.source if manifest_yaml is not None else None,
    )

    system = _system_of(project, manifest_yaml, diagnostics)
    raw = manifest_yaml.data if manifest_yaml is not None else {}
    # a system whose 'components' has a malformed entry is still a system
    system_like = manifest.is_system or (isinstance(raw, dict) and bool(raw.get("components")))
    for letter, spec in ARTEFACTS.items():
        if system_like and letter not in SYSTEM_LETTERS:
            continue  # each component's own project holds the rest
        relative = manifest.path_of(letter)
        moved = manifest_yaml is not None and letter in manifest.artefacts
        where = (
            manifest_yaml.source.locate(("artefacts", letter))
            if manifest_yaml is not None and moved
            else Location(relative)
        )
        if system is not None and letter in SYSTEM_LETTERS:
            if moved:
                diagnostics.add(
                    "F013",
                    f"[{letter}] {spec.title} of a component project is the system's "
                    f"({manifest.part_of!r}); this project cannot name a file of its own",
                    where,
                    hint=f"remove '{letter}' from 'artefacts:'; move it in the system's "
                    f"{MANIFEST_FILE} instead",
                )
            own = project.root / relative
            if not moved and probe(own) == "file":
                diagnostics.add(
                    "F014",
                    f"{relative!r} is ignored: [{letter}] {spec.title} of a component "
                    f"project is read from the system ({manifest.part_of!r})",
                    Location(relative),
                    hint="delete the file, or move what it adds into the system's",
                )
            system_relative = system[1].path_of(letter)
            problem = path_problem(system[0], system_relative)
            if problem is not None:
                continue  # the system's own check reports it
            relative = os.path.relpath(system[0] / system_relative, project.root)
            where = Location(relative)
        else:
            problem = path_problem(project.root, relative)
        project.files[letter] = relative
        if problem is not None:
            diagnostics.add("F009", f"[{letter}] {spec.title}: {relative!r} {problem}", where)
            continue
        if probe(project.root / relative) == "missing":
            if spec.required:
                diagnostics.add(
                    "F001",
                    f"[{letter}] {spec.title} is required and {relative!r} does not exist",
                    Location(relative),
                    hint=f"'amlas init' writes a template; stage {spec.stage} needs it",
                )
            elif spec.announced:
                diagnostics.add(
                    "F002",
                    f"[{letter}] {spec.title} ({relative!r}) is not written yet; the stage "
                    f"{spec.stage} argument will stay undeveloped",
                    Location(relative),
                )
            continue
        loaded = _read_yaml(project.root, relative, diagnostics)
        if loaded is None:
            continue
        project.sources[letter] = loaded.source
        _scan_placeholders(loaded.data, (), loaded.source, diagnostics)
        declared = loaded.data.get("artefact")
        if declared is not None and str(declared) != letter:
            diagnostics.add(
                "F008",
                f"this file declares artefact {declared!r} but the manifest loads it as "
                f"[{letter}] {spec.title}",
                loaded.source.locate(("artefact",)),
                hint=f"set 'artefact: {letter}' or fix the manifest's 'artefacts:' map",
            )
            continue
        document = validate_document(spec.model, loaded.data, loaded.source, diagnostics)
        if isinstance(document, DataRequirements) and not _plugin_rules_valid(
            document, loaded.source, diagnostics
        ):
            document = None
        if document is not None:
            project.artefacts[letter] = document
        else:
            partial = _partial(spec.model, loaded.data)
            if partial is not None:
                project.partial[letter] = partial[0]
                project.partial_index[letter] = partial[1]
                project.partial_dropped |= _ids_in(
                    [
                        entry
                        for key, kept in partial[1].items()
                        for i, entry in enumerate(loaded.data.get(key) or [])
                        if i not in kept
                    ]
                )
    _attach_defaults(project)
    project.diagnostics = diagnostics
    return LoadResult(project, diagnostics)


def _system_of(
    project: Project, manifest_yaml: LoadedYaml | None, diagnostics: Diagnostics
) -> tuple[Path, Manifest] | None:
    """For a component project (``part_of``): the system project's directory and its
    manifest, after checking that the system lists this project among its components
    (F012 when not); sets ``project.system_root``, ``project.component_id`` and
    ``project.system_engine``."""
    manifest = project.manifest
    if manifest.part_of is None:
        return None
    where = (
        manifest_yaml.source.locate(("part_of",))
        if manifest_yaml is not None
        else Location(MANIFEST_FILE)
    )
    if manifest.is_system:
        diagnostics.add(
            "F012",
            "a project is either a system (it declares 'components') or a component of one "
            "('part_of'), not both",
            where,
        )
        return None
    problem = None
    try:
        system_root = (project.root / manifest.part_of).resolve()
    except (OSError, RuntimeError, ValueError) as exc:  # NUL bytes, symlink loops
        system_root = project.root
        problem = f"cannot be resolved ({exc})"
    if problem is not None:
        pass
    elif Path(manifest.part_of).is_absolute():
        problem = "is absolute; use a path relative to this project"
    elif not system_root.is_dir() or not (system_root / MANIFEST_FILE).is_file():
        problem = f"holds no {MANIFEST_FILE}"
    elif system_root == project.root or project.root.is_relative_to(system_root) is False:
        problem = "does not contain this project (a component lives inside its system)"
    if problem is not None:
        diagnostics.add("F012", f"part_of {manifest.part_of!r} {problem}", where)
        return None
    quiet = Diagnostics()  # the system's own problems are the system check's to report
    loaded = _read_yaml(system_root, MANIFEST_FILE, quiet)
    system = (
        validate_document(Manifest, loaded.data, loaded.source, quiet)
        if loaded is not None
        else None
    )
    if system is None and loaded is not None and isinstance(loaded.data, dict):
        # a malformed system manifest (its own check says why) still lists its components
        system = _fallback_manifest(loaded.data)
    if system is None or not system.is_system:
        diagnostics.add(
            "F012",
            f"part_of {manifest.part_of!r}: its {MANIFEST_FILE} "
            + ("does not load" if system is None else "declares no 'components'"),
            where,
            hint=f"run 'amlas check {os.path.relpath(system_root)}'",
        )
        return None
    mine = [
        c.id
        for c in system.components
        # an entry the system's own check refuses (X017) names no project
        if path_problem(system_root, c.path) is None
        and (system_root / c.path).resolve() == project.root
    ]
    if not mine:
        diagnostics.add(
            "F012",
            f"part_of {manifest.part_of!r}: the system's 'components' list no project at "
            f"{os.path.relpath(project.root, system_root)!r}",
            where,
            hint="add '- {id: <its [C] component ID>, path: ...}' to the system's components",
        )
        return None
    project.system_root = system_root
    project.component_id = mine[0]
    project.system_engine = system.engine
    return system_root, system


def _attach_defaults(project: Project) -> None:
    """Give every [H] requirement the manifest's ``defaults`` to fall back on (read through
    ``effective_confidence``; what the files say, and so every hash, is unchanged)."""
    defaults = project.manifest.defaults
    level = defaults.confidence if defaults is not None else None
    if level is None:
        return
    # the loaded [H], or the part of it the rules check when some requirement is malformed
    for documents in (project.artefacts, project.partial):
        ml = documents.get("H")
        if isinstance(ml, MLSafetyRequirements):
            requirements = [r.with_defaults(confidence=level) for r in ml.requirements]
            documents["H"] = ml.model_copy(update={"requirements": requirements})


def _partial(model: type[Any], data: Any) -> tuple[Any, dict[str, list[int]]] | None:
    """The document without the list elements that do not validate, when only those are
    wrong, and for each list the original positions of the elements kept: the rules
    check the rest in the same pass (``amlas check``), while the project treats the
    artefact as not loaded (a case over part of [H] would over-claim)."""
    if not isinstance(data, dict):
        return None
    kept = dict(data)
    positions: dict[str, list[int]] = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        value = data.get(key)
        element = _list_element(field.annotation)
        if element is None or not isinstance(value, list):
            continue
        adapter = TypeAdapter(element)
        good = []
        positions[key] = []
        for i, entry in enumerate(value):
            try:
                adapter.validate_python(entry)
            except ValidationError:
                continue
            good.append(entry)
            positions[key].append(i)
        kept[key] = good
    try:
        return model.model_validate(kept), positions
    except ValidationError:
        return None


def _ids_in(value: Any) -> set[str]:
    """Every ``id`` written anywhere in ``value`` (the elements a partial load left out)."""
    if isinstance(value, dict):
        own = {str(value["id"])} if isinstance(value.get("id"), str | int) else set()
        return own.union(*(_ids_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_ids_in(v) for v in value))
    return set()


def _list_element(annotation: Any) -> Any | None:
    """The element type of a ``list[X]`` annotation (through ``Annotated``), else None."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is list:
        return typing.get_args(annotation)[0]
    return None


def _fallback_manifest(data: dict[str, Any]) -> Manifest:
    """A stand-in for an invalid manifest that keeps its file map if that part is valid,
    so one typo in ``amlas.yaml`` does not turn every moved artefact into 'missing'."""
    components = []
    for entry in data.get("components") or [] if isinstance(data.get("components"), list) else []:
        with contextlib.suppress(ValueError, TypeError):
            components.append(ComponentProject.model_validate(entry))
    try:
        return Manifest(
            amlas=1,
            name="unnamed",
            component="unnamed",
            artefacts=data.get("artefacts") or {},
            components=components,
        )
    except (ValueError, TypeError):
        return Manifest(amlas=1, name="unnamed", component="unnamed", components=components)


def _read_yaml(root: Path, relative: str, diagnostics: Diagnostics) -> LoadedYaml | None:
    read = read_text(root / relative, relative, diagnostics)
    return load_yaml(read[0], relative, diagnostics) if read is not None else None


def read_text(path: Path, shown: str, diagnostics: Diagnostics) -> tuple[str, bytes] | None:
    """The UTF-8 text of the YAML file ``path`` (shown as ``shown``) and its bytes; None,
    with an F003 diagnostic, when it is no regular file, too large or not UTF-8."""
    where = Location(shown)
    kind = probe(path)
    if kind != "file":
        what = {"directory": "a directory", "special": "not a regular file (FIFO, device?)"}
        diagnostics.add(
            "F003",
            f"{shown!r} is {what.get(kind, kind)}; expected a YAML file",
            where,
        )
        return None
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            diagnostics.add(
                "F003",
                f"{shown!r} is {size} bytes; artefact files are limited to "
                f"{MAX_FILE_BYTES} bytes (keep data in dataset files)",
                where,
            )
            return None
        raw = path.read_bytes()
    except OSError as exc:
        diagnostics.add("F003", f"cannot read {shown!r}: {exc.strerror or exc}", where)
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        diagnostics.add(
            "F003",
            f"{shown!r} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            Location(shown, line, 1),
        )
        return None
    return text, raw


def _scan_placeholders(
    value: Any, at: tuple[str | int, ...], source: SourceMap, diagnostics: Diagnostics
) -> None:
    if isinstance(value, str):
        if _PLACEHOLDER.search(value):
            shown = value if len(value) <= 50 else value[:47] + "..."
            diagnostics.add("S007", f"placeholder left: {shown!r}", source.locate(at))
    elif isinstance(value, dict):
        for key, element in value.items():
            _scan_placeholders(element, (*at, key), source, diagnostics)
    elif isinstance(value, list):
        for i, element in enumerate(value):
            _scan_placeholders(element, (*at, i), source, diagnostics)


def _plugin_rules_valid(
    document: DataRequirements, source: SourceMap, diagnostics: Diagnostics
) -> bool:
    """The rules of data-rule plug-ins amlas does not ship, checked against each
    plug-in's own parameters (the built-ins' were checked with the document); False when
    one is wrong, so that [L] counts as not loaded, as with any schema error."""
    valid = True
    for i, requirement in enumerate(document.requirements):
        rule = requirement.rule
        if not isinstance(rule, ExternalRule):
            continue
        at: tuple[str | int, ...] = ("requirements", i, "rule")
        try:
            plugin = registry("amlas.data_rules").get(rule.check)
        except PluginError as exc:
            diagnostics.add(exc.code, str(exc), source.locate((*at, "check")))
            valid = False
            continue
        data = rule.model_dump(mode="json", by_alias=True)
        parameters = getattr(plugin, "parameters", None)
        if not isinstance(parameters, type) or not issubclass(parameters, BaseModel):
            diagnostics.add(
                "S009",
                f"data rule {rule.check!r}: its plug-in declares no pydantic 'parameters' "
                "model to validate the rule with",
                source.locate((*at, "check")),
            )
            valid = False
            continue
        if validate_part(parameters, data, source, at, diagnostics) is None:
            valid = False
    return valid
