"""The hashes evidence records cite as ``inputs``, computed from the project as it is now.

``amlas run`` writes these hashes into every record; the safety case recomputes them to
find records that are *stale*: computed from a dataset, a model, a requirement or an
operating environment that has changed since (AMLAS R23). Both sides use the functions
here, so they cannot drift apart.

Input names and what they hash:

* ``dataset:X``: the file (or folder tree) of [X]; for a sealed dataset, the plaintext
  hash its sealed header carries (readable without the key).
* ``samples:X``: a digest of the per-sample input hashes. Derived from the dataset's
  content, so it is current whenever ``dataset:X`` is; not recomputed here.
* ``model``: the model file of [V] (with predictions only, the ``produced_by`` hash
  [V] declares); ``model_code``: a python callable's module source;
  ``model_settings``: the canonical JSON of what [V] says of how predictions are made
  from the model (format, callable, outputs, decision threshold, class order): a new
  decision threshold changes every verdict the model's predictions gave.
* ``objects:X``: the file of [X]'s ground-truth objects (a detector's boxes).
* ``predictions:X``: the file of predictions [V] declares for [X] (made outside amlas).
  Both, when sealed with [X], by the plaintext hash their sealed header carries.
* ``requirement:ID``: the canonical JSON of the [H] or [L] item.
* ``item:ID``: the canonical JSON of any item with an ID (what a review record [RV]
  pins: ``amlas review pin`` writes it, the case compares it).
* ``environment``: the canonical JSON of [B].
* ``access_log:X``: an entry of [X]'s access log; current while the log still holds it.
* ``file:PATH``: a project file a check reads besides its dataset (the audit file of a
  ``label_error_rate`` rule), by its SHA-256.
* ``import:PATH``: a project file imported evidence rests on (the file given to ``amlas
  evidence import`` and the document it names), by its SHA-256: change it and the
  imported record is stale.
* ``defaults:confidence``: the canonical JSON of amlas.yaml's ``defaults.confidence``,
  cited only by the records of requirements that state no confidence of their own.
* ``component:ID/NAME``: the input ``NAME`` of another ML component ``ID`` of the same
  system (a hazard record citing that component's verification result cites its inputs
  this way), computed by that component's project.

The kinds in :data:`FILE_INPUTS` hash files outside the artefacts (data, model, code,
logs, documents). An assessor's bundle holds none of them: it states their hashes as
they were when it was made, and a project read back from it
(:attr:`~amlas.project.Project.stated_inputs`) takes those instead of hashing files that
are not there; every other kind is computed from the bundled artefacts as usual.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from amlas.evidence._companions import sealed_companion_hash
from amlas.evidence._record import EvidenceRecord
from amlas.hashing import sha256_file
from amlas.project import Definition, Project, sibling
from amlas.sealing import AccessLog, SealError, read_header

__all__ = [
    "FILE_INPUTS",
    "MODEL_SETTINGS",
    "ProjectInputs",
    "canonical_hash",
    "component_input",
    "file_hash",
    "model_code_file",
    "model_settings",
    "module_file",
]

_UNCHECKED = frozenset({"samples"})

FILE_INPUTS = frozenset(
    {
        "dataset",
        "model",
        "model_code",
        "objects",
        "predictions",
        "field_log",
        "monitor",
        "file",
        "import",
        "harness_code",
    }
)
"""Input kinds hashed from files outside the artefacts (what an assessor's bundle states)."""


MODEL_SETTINGS = "model_settings"
_SETTINGS = ("format", "callable", "outputs", "decision_threshold", "class_order")


def model_settings(project: Project) -> str | None:
    """The hash of how [V] says predictions are made from the model (see the module
    doc); None without [V]."""
    from amlas.project.artefacts import ModelReference

    ref = project.get("V", ModelReference)
    if ref is None:
        return None
    return canonical_hash({name: getattr(ref, name) for name in _SETTINGS})


def component_input(component: str, name: str) -> str:
    """The input ``name`` of the system's ML component ``component``, as a record of
    another component cites it."""
    return f"component:{component}/{name}"


def file_hash(root: Path, relative: str) -> str | None:
    """SHA-256 of the project file ``relative``; None unless it is a regular file (a FIFO
    or device is never opened)."""
    path = root / relative
    return sha256_file(path) if path.is_file() else None


def canonical_hash(value: BaseModel | Any) -> str:
    """SHA-256 of the canonical JSON of an artefact item (or None, or plain JSON)."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def module_file(root: Path, spec: str) -> Path | None:
    """The source file of the module of ``"module:function"``, when ``root`` holds it
    (``module.py`` or ``module/__init__.py``)."""
    relative = Path(*spec.split(":")[0].split("."))
    for candidate in (relative.with_suffix(".py"), relative / "__init__.py"):
        if (root / candidate).is_file():
            return root / candidate
    return None


def model_code_file(project: Project) -> Path | None:
    """The module file of a ``python_callable`` model, or of a torch model's loader
    callable (the network's architecture), if the project holds it."""
    from amlas.project.artefacts import ModelReference

    ref = project.get("V", ModelReference)
    if ref is None or ref.format not in ("python_callable", "python_detector", "torch"):
        return None
    if not ref.callable:
        return None
    return module_file(project.root, ref.callable)


class ProjectInputs:
    """Current input hashes of a project, computed lazily and cached."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._cache: dict[str, str | None] = {}
        self._logs: dict[str, set[str] | None] = {}
        self._items: dict[str, BaseModel] | None = None
        self._definitions: dict[str, Definition] | None = None
        self._others: dict[str, ProjectInputs | None] = {}

    def _other(self, component: str) -> ProjectInputs | None:
        """The inputs of another ML component of this project's system."""
        if component not in self._others:
            other = sibling(self.project, component)
            self._others[component] = (
                None if other is None or other is self.project else ProjectInputs(other)
            )
        return self._others[component]

    def _items_by_id(self) -> dict[str, BaseModel]:
        if self._items is None:
            items: dict[str, BaseModel] = {}
            if self.project.ml_requirements is not None:
                items.update({r.id: r for r in self.project.ml_requirements.requirements})
            if self.project.data_requirements is not None:
                items.update({r.id: r for r in self.project.data_requirements.requirements})
            self._items = items
        return self._items

    def _index(self) -> dict[str, Definition]:
        if self._definitions is None:
            self._definitions = self.project.index()
        return self._definitions

    def _compute(self, name: str) -> str | None:
        kind, _, arg = name.partition(":")
        project = self.project
        if kind == "component":
            component, _, inner = arg.partition("/")
            other = self._other(component)
            return other.current(inner) if other is not None and inner else None
        if kind == "dataset":
            document = project.datasets().get(arg)
            if document is None:
                return None
            if document.sealed is not None:
                try:
                    return read_header(project.root / document.sealed.file).plaintext_sha256
                except (OSError, SealError):
                    return None
            path = project.root / document.location
            return project.content_hash(path) if path.exists() else None
        if kind == "model":
            from amlas.project.artefacts import ModelReference

            ref = project.get("V", ModelReference)
            if ref is None:
                return None
            if not ref.location:
                return ref.produced_by
            path = project.root / ref.location
            return project.content_hash(path) if path.exists() else None
        if kind in ("objects", "predictions"):
            from amlas.project.artefacts import ModelReference

            relative = None
            if kind == "objects":
                document = project.datasets().get(arg)
                if document is not None and document.objects is not None:
                    relative = document.objects.location
            else:
                ref = project.get("V", ModelReference)
                spec = ref.predictions_for(arg) if ref is not None else None
                relative = spec.location if spec is not None else None
            if relative is None:
                return None
            sealed = sealed_companion_hash(project.root, relative)
            if sealed is not None:  # sealed with [X]: the plaintext hash its header carries
                return sealed
            if not (project.root / relative).exists():
                return None
            return project.content_hash(project.root / relative)
        if kind == MODEL_SETTINGS:
            return model_settings(project)
        if kind == "model_code":
            file = model_code_file(project)
            return sha256_file(file) if file is not None else None
        if kind == "requirement":
            item = self._items_by_id().get(arg)
            return canonical_hash(item) if item is not None else None
        if kind == "item":  # any item with an ID, e.g. one a review examined
            definition = self._index().get(arg)
            return canonical_hash(definition.item) if definition is not None else None
        if kind == "environment":
            return canonical_hash(project.environment)
        if kind == "defaults" and arg == "confidence":
            defaults = project.manifest.defaults
            level = defaults.confidence if defaults is not None else None
            return canonical_hash(level) if level is not None else None
        if kind == "artefact":
            artefact = project.artefacts.get(arg)
            return canonical_hash(artefact) if artefact is not None else None
        if kind == "field_log" and arg:
            # the log the record was made from, by its path (project-relative when inside)
            path = Path(arg) if Path(arg).is_absolute() else project.root / arg
            return sha256_file(path) if path.is_file() else None
        if kind in ("field_log", "monitor"):
            from amlas.project.artefacts import ErroneousBehaviourLog

            log = project.get("DD", ErroneousBehaviourLog)
            relative = None
            if log is not None and kind == "field_log" and log.field_log is not None:
                relative = log.field_log.path
            if log is not None and kind == "monitor" and log.monitor is not None:
                relative = log.monitor.file
            if relative is None or not (project.root / relative).is_file():
                return None
            return sha256_file(project.root / relative)
        if kind in ("file", "import") and arg:
            return file_hash(project.root, arg)
        if kind == "harness_code" and arg:
            path = project.root / arg
            return sha256_file(path) if path.is_file() else None
        if kind == "harness_code":
            from amlas.project.artefacts import OperationalScenarios

            scenarios = project.get("EE", OperationalScenarios)
            if scenarios is None or scenarios.harness is None:
                return None
            file = module_file(project.root, scenarios.harness)
            return sha256_file(file) if file is not None else None
        return None

    def review_pin(self, item_id: str, purpose: str) -> str | None:
        """What a review record [RV] pins for an item it examined (``amlas review pin``
        writes it, the case compares it): the item's own hash and, for a review that
        verifies the item is met, the hashes of what it was judged on: every dataset of a
        data requirement [L], the model of an ML safety requirement [H]. New data or a new
        model makes the review stale, as it makes a check's record stale. None when the
        item does not exist."""
        definition = self._index().get(item_id)
        if definition is None:
            return None
        own = canonical_hash(definition.item)
        names: list[str] = []
        if purpose == "verification" and definition.kind == "data_requirement":
            names = [f"dataset:{x}" for x in getattr(definition.item, "datasets", [])]
        elif purpose == "verification" and definition.kind == "ml_requirement":
            names = ["model"]
        judged_on = {n: h for n in names if (h := self.current(n)) is not None}
        if not judged_on:
            return own
        payload = json.dumps({"item": own, **judged_on}, sort_keys=True).encode("utf-8")
        return hashlib.sha256(payload).hexdigest()

    def current(self, name: str) -> str | None:
        """The hash ``name`` has now; None when the input no longer exists. In a project
        read back from a bundle, a file input the bundle states takes the stated hash when
        its file is not there (a file the bundle holds is hashed as it is)."""
        if name not in self._cache:
            value = self._compute(name)
            stated = self.project.stated_inputs
            if (
                value is None  # only a file that is not there takes the stated hash
                and stated is not None
                and name in stated
                and name.partition(":")[0] in FILE_INPUTS
            ):
                value = stated[name]
            self._cache[name] = value
        return self._cache[name]

    def _log_entries(self, letter: str) -> set[str] | None:
        if letter not in self._logs:
            document = self.project.datasets().get(letter)
            entries: set[str] | None = None
            if document is not None and document.sealed is not None:
                try:
                    log = AccessLog(self.project.root / document.sealed.access_log)
                    entries = {entry.hash for entry in log.entries()}
                except (OSError, SealError):
                    entries = set()
            self._logs[letter] = entries
        return self._logs[letter]

    def stale(self, record: EvidenceRecord) -> list[str]:
        """The names of ``record``'s inputs that no longer match the project, each with
        why, e.g. 'model (changed)' or 'requirement:MLR-3 (removed)'."""
        out = []
        for name, recorded in sorted(record.inputs.items()):
            why = self._stale(name, recorded)
            if why is not None:
                out.append(f"{name} ({why})")
        return out

    def _stale(self, name: str, recorded: str) -> str | None:
        kind, _, arg = name.partition(":")
        if kind == "component":  # another ML component's input: its project judges it
            component, _, inner = arg.partition("/")
            other = self._other(component)
            if other is None or not inner:
                return "removed"
            return other._stale(inner, recorded)
        if kind in _UNCHECKED:
            return None
        if kind == "access_log":
            entries = self._log_entries(arg)
            if entries is not None and recorded not in entries:
                return "entry no longer in the log"
            return None
        now = self.current(name)
        if now is None:
            return "removed"
        return "changed" if now != recorded else None
