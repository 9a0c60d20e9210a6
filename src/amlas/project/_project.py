"""A loaded AMLAS project: the manifest, every artefact that validated, and where each
value came from."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from amlas.diagnostics import Diagnostics, Location
from amlas.hashing import HashCache
from amlas.project._manifest import EngineSettings, Manifest
from amlas.project._yaml import SourceMap
from amlas.project.artefacts import (
    ARTEFACTS,
    AllocatedRequirements,
    ArtefactDocument,
    DataRequirements,
    DatasetDocument,
    MLComponentDescription,
    MLSafetyRequirements,
    OperatingEnvironment,
    SystemSafetyRequirements,
)

__all__ = ["CACHE_DIR", "Definition", "Project", "Reference"]

CACHE_DIR = ".amlas"
"""Per-project folder for caches and, later, evidence; never committed."""

D = TypeVar("D", bound=ArtefactDocument)
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Definition:
    """An item that carries an ID: its kind, and the artefact and path that define it."""

    id: str
    kind: str
    letter: str
    path: Path_
    item: BaseModel


@dataclass(frozen=True)
class Reference:
    """One ID named in a reference field, with the kinds of item it may name."""

    id: str
    kinds: tuple[str, ...]
    letter: str
    path: Path_
    on_key: bool = False


@dataclass
class Project:
    """An AMLAS project as loaded from ``root``.

    ``artefacts`` holds the documents that passed schema validation, by letter; an
    artefact with errors, or without a file, is absent. ``files`` maps each letter to its
    project-relative file, and ``sources`` to where each value sits in that file.
    """

    root: Path
    manifest: Manifest
    artefacts: dict[str, ArtefactDocument] = field(default_factory=dict)
    partial: dict[str, ArtefactDocument] = field(default_factory=dict, repr=False)
    """Artefacts that did not validate as a whole, without the list elements that are
    wrong: only the rules read them (so ``amlas check`` reports every error of the other
    elements in the same pass); everything else treats the artefact as not loaded."""
    partial_index: dict[str, dict[str, list[int]]] = field(default_factory=dict, repr=False)
    """For each partial artefact, list field -> the file positions of the elements kept."""
    partial_dropped: set[str] = field(default_factory=set, repr=False)
    """The IDs written in the elements the partial artefacts left out."""
    files: dict[str, str] = field(default_factory=dict)
    sources: dict[str, SourceMap] = field(default_factory=dict)
    manifest_source: SourceMap | None = None
    """Where each value of ``amlas.yaml`` sits, when it loaded."""
    hashes: HashCache | None = None
    """Content hashes of data and model files, cached under ``.amlas/`` between runs."""
    system_root: Path | None = None
    """For a component project of a system (``part_of``): the system project's directory,
    where [A] [B] [C] come from."""
    component_id: str | None = None
    """For a component project: its ID in the system's [C] and ``components``."""
    system_engine: EngineSettings | None = None
    """For a component project: the system's ``engine:``, which the component's own
    ``engine:`` overrides (:attr:`engine_settings`)."""
    siblings: dict[str, Project | None] = field(default_factory=dict, repr=False, compare=False)
    """The other ML components of the system, loaded on first use (``sibling()``)."""
    sibling_ids: list[str] | None = field(default=None, repr=False, compare=False)
    """The [C] IDs of the system's other ML components with a usable project, once
    loaded (``other_components()``)."""
    stated_inputs: dict[str, str | None] | None = field(default=None, repr=False, compare=False)
    """A project read back from an assessor's bundle (``amlas verify-bundle``): the hashes
    of the files the bundle does not hold (data, model, code: the input kinds of
    :data:`amlas.evidence.FILE_INPUTS`), as stated when it was made; taken for those
    inputs instead of hashing files that are not there. None for a project on disk."""
    diagnostics: Diagnostics = field(default_factory=Diagnostics, repr=False, compare=False)
    """What loading (and, after :func:`~amlas.project.check_project`, every rule) found;
    the same object as the :class:`LoadResult`'s."""
    _walked: tuple[tuple[tuple[str, ArtefactDocument], ...], list[Definition]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    """:meth:`definitions` of the documents it was read from (each kept, compared by
    identity): the rules, the plan, the inputs and the case each ask for the index, and a
    project of 1,000 requirements holds tens of thousands of items to walk."""

    def content_hash(self, path: Path) -> str:
        """SHA-256 of a file (or a directory tree) inside the project."""
        if self.hashes is None:
            self.hashes = HashCache(self.root / CACHE_DIR / "hashes.json")
        return self.hashes.sha256(path)

    def get(self, letter: str, kind: type[D]) -> D | None:
        """The artefact ``letter`` as ``kind`` if it loaded, else None."""
        document = self.artefacts.get(letter)
        return document if isinstance(document, kind) else None

    @property
    def engine_settings(self) -> EngineSettings | None:
        """Where ``amlas run`` works on this project's chunks: its own ``engine:``, laid
        over the system's for a component (:meth:`EngineSettings.over`)."""
        own = self.manifest.engine
        if self.system_engine is None:
            return own
        return self.system_engine if own is None else own.over(self.system_engine)

    # Typed shortcuts for the artefacts rules use most.
    @property
    def system_requirements(self) -> SystemSafetyRequirements | None:
        return self.get("A", SystemSafetyRequirements)

    @property
    def environment(self) -> OperatingEnvironment | None:
        return self.get("B", OperatingEnvironment)

    @property
    def component(self) -> MLComponentDescription | None:
        return self.get("D", MLComponentDescription)

    @property
    def allocated(self) -> AllocatedRequirements | None:
        return self.get("E", AllocatedRequirements)

    @property
    def ml_requirements(self) -> MLSafetyRequirements | None:
        return self.get("H", MLSafetyRequirements)

    @property
    def data_requirements(self) -> DataRequirements | None:
        return self.get("L", DataRequirements)

    def datasets(self) -> dict[str, DatasetDocument]:
        """The datasets [N] [O] [P] that loaded, by letter."""
        return {
            letter: doc
            for letter in ("N", "O", "P")
            if isinstance(doc := self.artefacts.get(letter), DatasetDocument)
        }

    def locate(self, letter: str, path: Path_ = (), *, key: bool = False) -> Location:
        """Where the value at ``path`` of artefact ``letter`` is written."""
        if letter in self.sources:
            return self.sources[letter].locate(path, key=key)
        return Location(self.files.get(letter, ARTEFACTS[letter].default_path))

    def definitions(self) -> Iterator[Definition]:
        """Every item with an ID, in artefact then document order.

        Read once for the documents in ``artefacts``: they are immutable, and any change
        to ``artefacts`` (a document added, removed or replaced) reads them again."""
        documents = tuple(self.artefacts.items())
        if self._walked is not None:
            read, found = self._walked
            if len(read) == len(documents) and all(
                a == b and x is y for (a, x), (b, y) in zip(read, documents, strict=True)
            ):
                return iter(found)
        found = [
            Definition(item_id, kind, letter, (*path, "id"), item)
            for letter, document in documents
            for path, item in _walk(document, ())
            if (kind := getattr(type(item), "id_kind", None))
            and isinstance(item_id := getattr(item, "id", None), str)
        ]
        self._walked = (documents, found)
        return iter(found)

    def references(self) -> Iterator[Reference]:
        """Every ID named in a reference field, in artefact then document order."""
        for letter, document in self.artefacts.items():
            for path, item in _walk(document, ()):
                for name, kinds in getattr(type(item), "refs", {}).items():
                    field_info = type(item).model_fields[name]
                    key = field_info.alias or name
                    value = getattr(item, name)
                    if isinstance(value, str):
                        yield Reference(value, kinds, letter, (*path, key))
                    elif isinstance(value, list):
                        for i, ref in enumerate(value):
                            yield Reference(ref, kinds, letter, (*path, key, i))
                    elif isinstance(value, dict):
                        for ref in value:
                            yield Reference(ref, kinds, letter, (*path, key, ref), on_key=True)

    def index(self) -> dict[str, Definition]:
        """ID -> its first definition."""
        found: dict[str, Definition] = {}
        for definition in self.definitions():
            found.setdefault(definition.id, definition)
        return found


def _walk(item: BaseModel, path: Path_) -> Iterator[tuple[Path_, BaseModel]]:
    yield path, item
    for name, field_info in type(item).model_fields.items():
        key = field_info.alias or name
        value = getattr(item, name)
        if isinstance(value, BaseModel):
            yield from _walk(value, (*path, key))
        elif isinstance(value, list):
            for i, element in enumerate(value):
                if isinstance(element, BaseModel):
                    yield from _walk(element, (*path, key, i))
        elif isinstance(value, dict):
            for k, element in value.items():
                if isinstance(element, BaseModel):
                    yield from _walk(element, (*path, key, k))
