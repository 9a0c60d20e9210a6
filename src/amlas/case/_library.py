"""Argument pattern libraries: the AMLAS stage patterns as reviewable data files.

A library is a folder with ``library.yaml`` (its name, root goal and module files, in
order) and one YAML file per module. Each module file lists pattern nodes: the AMLAS ID,
the GSN type, a text template with ``{placeholders}``, links (``supported_by``,
``context``) and the pattern extensions as data:

* multiplicity: a link ``{id: G2.4, for_each: performance_requirements, as: requirement}``
  instantiates the child (and everything below it) once per item;
* choice: ``choice: {at_least: 1, chosen_by: verification_methods}`` on a strategy whose
  links carry ``option:`` names; only the chosen options are instantiated;
* optionality: a link with ``when: simulation`` is instantiated only when the condition
  holds; ``optional: true`` lets a multiplicity be empty without a diagnostic;
* undeveloped: ``undeveloped: true`` marks a goal the pattern leaves to the team; it is
  developed by a recorded judgement or by the artefact fields named in ``developed_by``.

What a node's status rests on is data too: ``evidence:`` selects evidence records,
``document:`` names artefact fields that must be filled in, ``rationale:`` names where a
justification's text is recorded, and ``assess:`` names one of the few assessments that
need code (``ASSESSMENTS``). The vocabulary is documented in ``docs/case.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from amlas.diagnostics import Diagnostics, Location
from amlas.errors import ProblemError
from amlas.project import MANIFEST_FILE, Project

__all__ = [
    "ASSESSMENTS",
    "COLLECTIONS",
    "CONDITIONS",
    "DEFAULT_LIBRARY",
    "ArtefactInfo",
    "Library",
    "LibraryError",
    "Link",
    "PatternModule",
    "PatternNode",
    "check_library",
    "load_library",
    "project_library",
]

DEFAULT_LIBRARY: Final = "amlas-1.1"

COLLECTIONS: Final = frozenset(
    {
        "performance_requirements",
        "robustness_requirements",
        "other_requirements",
        "ml_requirements",
        "evaluated_requirements",
        "tested_requirements",
        "formal_requirements",
        "assured_conditions",
        "assumed_conditions",
    }
)
"""Item collections a multiplicity or an evidence selector may range over."""

CONDITIONS: Final = frozenset({"simulation", "barriers", "monitor", "field_log"})
"""Conditions a ``when:`` link may test."""

ASSESSMENTS: Final = frozenset({"validation_results", "verification_independence"})
"""Solutions whose status needs more than filled-in fields or evidence verdicts."""

CHOOSERS: Final = frozenset({"verification_methods"})

NodeKind = Literal["goal", "strategy", "solution", "context", "assumption", "justification"]


class LibraryError(ProblemError):
    """A pattern library that cannot be read or is not well formed."""

    code = "G006"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Link(_Model):
    """A link to a child node, with the pattern extensions that govern it."""

    id: str
    for_each: str | None = None
    """Multiplicity: instantiate the child once per item of this collection."""
    as_: str = Field("item", alias="as")
    """The name the item is bound to in placeholders, e.g. 'requirement'."""
    optional: bool = False
    """An empty collection is expected (no diagnostic)."""
    option: str | None = None
    """Choice: the option this link is; instantiated only when chosen."""
    when: str | None = None
    """Optionality: instantiated only when the condition holds."""


class EvidenceSelector(_Model):
    """Which evidence records a solution cites (keys as ``amlas run`` writes them)."""

    key: str | None = None
    """A key template, e.g. 'stage5/{requirement.id}/P'."""
    for_each: str | None = None
    """Expand ``key`` once per item of this collection (bound as 'item')."""
    data_category: Literal["relevance", "completeness", "accuracy", "balance"] | None = None
    """Every stage-3 record of the [L] items of this category, on every dataset they name."""
    prefix: str | None = None
    """Every current record whose key starts with this prefix."""
    dataset: str | None = None
    """With ``prefix``: only records whose dataset names this letter."""

    @model_validator(mode="after")
    def _one_kind(self) -> EvidenceSelector:
        kinds = [self.key is not None, self.data_category is not None, self.prefix is not None]
        if sum(kinds) != 1:
            raise ValueError("an evidence selector has exactly one of key, data_category, prefix")
        if self.for_each is not None and self.key is None:
            raise ValueError("for_each expands a 'key' template")
        return self


class FieldsSpec(_Model):
    """Artefact fields that must be filled in ('a.b', 'list[].field' for every element)."""

    artefact: str
    fields: Annotated[list[str], Field(min_length=1)]


class RationaleSpec(_Model):
    """Where a justification's rationale text is recorded."""

    source: str
    """'LETTER.field' in an artefact, 'activities' ([AA] activities of the requirement),
    or 'case.rationale' (only amlas.yaml ``case.rationale``, which can override any)."""
    method: Literal["test", "formal"] | None = None
    field: str = "rationale"
    fallback: str | None = None
    """'LETTER.field' read when ``source`` holds no text (e.g. the [AA] strategy for J5.1)."""


class Choice(_Model):
    at_least: int = 1
    chosen_by: str


class PatternNode(_Model):
    """One node of a pattern."""

    id: str
    type: NodeKind
    text: str
    supported_by: list[str | Link] = Field(default_factory=list)
    context: list[str | Link] = Field(default_factory=list)
    artefacts: list[str] = Field(default_factory=list)
    backed_by: str | None = None
    undeveloped: bool = False
    developed_by: FieldsSpec | None = None
    choice: Choice | None = None
    evidence: list[EvidenceSelector] = Field(default_factory=list)
    document: FieldsSpec | None = None
    rationale: RationaleSpec | None = None
    assess: str | None = None
    extension: bool = False
    note: str = ""

    def links(self, relation: Literal["supported_by", "context"]) -> list[Link]:
        raw = self.supported_by if relation == "supported_by" else self.context
        return [Link(id=x) if isinstance(x, str) else x for x in raw]


class PatternModule(_Model):
    module: str
    stage: int
    title: str
    pattern: str
    argument: str
    root: str
    note: str = ""
    nodes: list[PatternNode]


class ArtefactInfo(_Model):
    """One AMLAS artefact, for the artefact index."""

    letter: str
    title: str
    kind: Literal["EXT", "PAT", "DOC", "DATA", "MODEL", "EVID", "ARG"]
    stage: int
    produced_by: Literal["project", "library", "run", "case"]
    module: str | None = None
    """PAT and ARG: the module that is the pattern or its instantiation."""
    prefix: str | None = None
    """EVID written by amlas run: the record key prefix."""


class _LibraryFile(_Model):
    library: str
    title: str
    root: str
    modules: list[str]
    artefacts: list[ArtefactInfo] = Field(default_factory=list)


@dataclass(frozen=True)
class Library:
    """A loaded, cross-checked pattern library."""

    name: str
    title: str
    root: str
    modules: tuple[PatternModule, ...]
    nodes: dict[str, PatternNode]
    module_of: dict[str, str]
    """Pattern node ID -> module name."""
    files: dict[str, str]
    """Module name -> its file's text (shipped with the case so reviewers can read it)."""
    artefacts: tuple[ArtefactInfo, ...] = ()


_SHIPPED_LOADER: Final[type[yaml.SafeLoader]] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader, for the libraries shipped with amlas only: it reads them several times
faster and to the same data (a test compares them); a project's own library is read by
PyYAML's, whose errors name the place and which stops a deeply nested file cleanly."""


def _read(
    path: Path, model: type[_Model], where: str, *, shipped: bool = False
) -> tuple[_Model, str]:
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=_SHIPPED_LOADER) if shipped else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise LibraryError(f"{where}: cannot be read: {exc}") from None
    except yaml.YAMLError as exc:
        raise LibraryError(f"{where}: not valid YAML: {exc}") from None
    try:
        return model.model_validate(data), text
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise LibraryError(
            f"{where}: {loc}: {first['msg']} (got {first.get('input')!r:.80})"
        ) from None


def _check(library: Library) -> None:
    """Every link target exists and every vocabulary name is known."""
    problems = []
    for module in library.modules:
        if module.root not in library.nodes:
            problems.append(f"{module.module}: root {module.root!r} is not a node")
        for node in module.nodes:
            where = f"{module.module}: {node.id}"
            for relation in ("supported_by", "context"):
                for link in node.links(relation):
                    if link.id not in library.nodes:
                        problems.append(f"{where}: {relation} names unknown node {link.id!r}")
                    if link.for_each is not None and link.for_each not in COLLECTIONS:
                        problems.append(f"{where}: unknown collection {link.for_each!r}")
                    if link.when is not None and link.when not in CONDITIONS:
                        problems.append(f"{where}: unknown condition {link.when!r}")
                    if link.option is not None and node.choice is None:
                        problems.append(f"{where}: link option {link.option!r} needs a choice")
            if node.choice is not None and node.choice.chosen_by not in CHOOSERS:
                problems.append(f"{where}: unknown chooser {node.choice.chosen_by!r}")
            if node.assess is not None and node.assess not in ASSESSMENTS:
                problems.append(f"{where}: unknown assessment {node.assess!r}")
            if node.backed_by is not None and node.backed_by not in library.nodes:
                problems.append(f"{where}: backed_by names unknown node {node.backed_by!r}")
            for selector in node.evidence:
                if selector.for_each is not None and selector.for_each not in COLLECTIONS:
                    problems.append(f"{where}: unknown collection {selector.for_each!r}")
    if library.root not in library.nodes:
        problems.append(f"root {library.root!r} is not a node")
    cycle = _support_cycle(library)
    if cycle:
        problems.append(
            "supported_by links form a cycle: "
            + " -> ".join(f"{library.module_of.get(n, '?')}: {n}" for n in cycle)
            + "; an argument must end in solutions or undeveloped goals"
        )
    if problems:
        raise LibraryError(f"pattern library {library.name}: " + "; ".join(problems))


def _support_cycle(library: Library) -> list[str]:
    """A cycle of ``supported_by`` links (its node IDs, the first repeated at the end), or
    an empty list. Iterative depth-first search: a library may be deep."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in library.nodes:
        if start in state:
            continue
        path: list[str] = [start]
        todo: list[list[str]] = [
            [link.id for link in library.nodes[start].links("supported_by")][::-1]
        ]
        state[start] = 1
        while path:
            children = todo[-1]
            if not children:
                state[path.pop()] = 2
                todo.pop()
                continue
            child = children.pop()
            if child not in library.nodes or state.get(child) == 2:
                continue
            if state.get(child) == 1:
                return [*path[path.index(child) :], child]
            state[child] = 1
            path.append(child)
            todo.append([link.id for link in library.nodes[child].links("supported_by")][::-1])
    return []


def project_library(project: Project, library: str | Path | None = None) -> Library:
    """The pattern library a project's case is built from (``case.library`` of amlas.yaml:
    a shipped name, or a folder in the project), or ``library`` when given."""
    chosen = library if library is not None else project.manifest.case.library
    if isinstance(chosen, str) and (project.root / chosen).is_dir():
        chosen = project.root / chosen
    return load_library(chosen)


def check_library(project: Project, diagnostics: Diagnostics) -> None:
    """G006 when the project's pattern library cannot be loaded or is not well formed, so
    `amlas check` reports what `amlas case` would refuse."""
    try:
        project_library(project)
    except LibraryError as exc:
        source = project.manifest_source
        at = source.locate(("case", "library")) if source is not None else Location(MANIFEST_FILE)
        diagnostics.add("G006", str(exc), at)


def load_library(source: str | Path = DEFAULT_LIBRARY) -> Library:
    """Load a pattern library: a name shipped with amlas ('amlas-1.1') or a folder path.

    Raises :class:`LibraryError` naming the file, the place and the bad value.
    """
    if isinstance(source, Path) or "/" in str(source) or Path(str(source)).is_dir():
        folder = Path(source)
    else:
        folder = Path(str(resources.files("amlas.case") / "patterns" / str(source)))
        if not folder.is_dir():
            shipped = sorted(
                p.name for p in Path(str(resources.files("amlas.case") / "patterns")).iterdir()
            )
            raise LibraryError(f"no pattern library {source!r}; shipped: {', '.join(shipped)}")
    own = folder == Path(source)  # a folder of the project's, not one shipped with amlas
    index, _ = _read(
        folder / "library.yaml", _LibraryFile, f"{folder}/library.yaml", shipped=not own
    )
    assert isinstance(index, _LibraryFile)
    modules: list[PatternModule] = []
    nodes: dict[str, PatternNode] = {}
    module_of: dict[str, str] = {}
    files: dict[str, str] = {}
    for name in index.modules:
        module, text = _read(folder / name, PatternModule, f"{folder.name}/{name}", shipped=not own)
        assert isinstance(module, PatternModule)
        for node in module.nodes:
            if node.id in nodes:
                raise LibraryError(
                    f"{folder.name}/{name}: node {node.id!r} is also defined in "
                    f"{module_of[node.id]}; node IDs are unique across a library"
                )
            nodes[node.id] = node
            module_of[node.id] = module.module
        modules.append(module)
        files[module.module] = text
    library = Library(
        index.library,
        index.title,
        index.root,
        tuple(modules),
        nodes,
        module_of,
        files,
        tuple(index.artefacts),
    )
    _check(library)
    return library
