"""Plug-in registries: one per kind, each over one Python entry-point group.

A shared leaf (it imports only :mod:`amlas.errors` and :mod:`amlas.diagnostics`). Every kind
of extension amlas knows has a group (:data:`GROUPS`). Built-ins register exactly as a
third party does, in their distribution's ``pyproject.toml``::

    [project.entry-points."amlas.stores"]
    memory = "amlas.evidence._memory:BACKEND"

so the registry has one code path and no list of built-ins of its own.

The contract of :class:`Registry`, the same for every group:

* :meth:`~Registry.names` lists the names from installed metadata and in-process
  registrations, sorted, **without importing** any plug-in (the project model validates
  names and the JSON Schemas list them from this alone).
* :meth:`~Registry.get` imports the entry point on first use and caches the object. An
  unknown name raises :class:`PluginError` with code ``S004`` and a "did you mean"; a name
  claimed by two distributions raises code ``S008`` naming both (neither silently wins);
  an entry point that fails to import raises code ``S009`` naming the entry point, its
  distribution and the error. What the loaded object must be is the kind's own protocol
  (stores: :class:`amlas.evidence.StoreBackend`; model formats:
  :class:`amlas.adapters.ModelFormat`; readers: :class:`amlas.adapters.DatasetReader`);
  the registry does not look inside it.
* :meth:`~Registry.entries` lists every entry (duplicates included) with the distribution
  and version that provide it, for ``amlas plugins``; :meth:`~Registry.problems` loads
  every entry and returns the failures, one :class:`PluginError` each.
* :meth:`~Registry.register` adds an object under a name in this process only (tests,
  notebooks); it shadows nothing: a name already installed is refused unless
  ``replace=True``. :meth:`~Registry.unregister` takes it back.

:func:`registry` returns the one shared registry of a group.

Exceptions::

    UsageError (amlas.errors)
    └── PluginError      unknown name (S004), name claimed twice (S008), failed load (S009)
"""

from __future__ import annotations

import functools
import importlib.metadata as metadata
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from amlas.diagnostics import did_you_mean
from amlas.errors import ProblemError, UsageError

__all__ = [
    "GROUPS",
    "IN_PROCESS",
    "PluginError",
    "PluginInfo",
    "Registry",
    "all_entries",
    "registry",
    "wrong_kind",
]

GROUPS: dict[str, str] = {
    "amlas.metrics": "metric",
    "amlas.data_rules": "data rule",
    "amlas.perturbations": "perturbation",
    "amlas.properties": "formal property",
    "amlas.models": "model format",
    "amlas.readers": "dataset reader",
    "amlas.stores": "evidence store",
}
"""Entry-point group -> what one of its plug-ins is, in words."""

IN_PROCESS = "(registered in this process)"
"""The ``distribution`` shown for an object added with :meth:`Registry.register`."""


class PluginError(ProblemError):
    """A plug-in cannot be found, is claimed twice, fails to load, or is not what its group
    needs; printed as a coded diagnostic like every :class:`~amlas.errors.ProblemError`.

    ``code`` is the diagnostic code (``S004`` unknown name, ``S008`` claimed by two
    distributions, ``S009`` failed to load or not a plug-in of the group); ``group`` and
    ``name`` say which.
    """

    def __init__(self, code: str, message: str, *, group: str, name: str) -> None:
        super().__init__(message, code=code, value=name)
        self.code = code
        self.group = group
        self.name = name


def wrong_kind(group: str, name: str, found: object, needs: str) -> PluginError:
    """The error for an entry point whose object lacks what its group's protocol needs."""
    return PluginError(
        "S009",
        f"the {group} entry point {name!r} gives {type(found).__name__}, not a "
        f"{GROUPS.get(group, 'plug-in')}: it needs {needs}",
        group=group,
        name=name,
    )


@dataclass(frozen=True, order=True)
class PluginInfo:
    """One registered entry: ``name = value`` in ``group``, from ``distribution``."""

    group: str
    name: str
    value: str
    """``module:attribute`` of the entry point (for in-process ones, the object's)."""
    distribution: str
    """The providing distribution's name, or :data:`IN_PROCESS`."""
    version: str | None


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


_Installed = list[tuple[str, str | None, metadata.EntryPoints]]

_INSTALLED: dict[tuple[str, ...], _Installed] = {}
_INSTALLED_LOCK = threading.Lock()


def _installed(path: Sequence[str] | None) -> _Installed:
    """Each distribution on ``path`` (None: ``sys.path``) once, the first copy of a name
    winning as :mod:`importlib.metadata` does: its name, version and entry points.

    One walk per path for every group, not one per group: reading a distribution's
    metadata parses its whole METADATA file, and seven groups over a hundred installed
    distributions cost each process (every Dask worker too) most of a second. The walk
    is kept per path; :meth:`Registry.refresh` forgets it."""
    import sys

    where = tuple(sys.path if path is None else path)
    with _INSTALLED_LOCK:
        if where in _INSTALLED:
            return _INSTALLED[where]
        found: _Installed = []
        seen: set[str] = set()
        dists = (
            metadata.distributions() if path is None else metadata.distributions(path=list(where))
        )
        for dist in dists:
            meta = dist.metadata
            dist_name = meta["Name"] or "unknown"
            if _normalise(dist_name) in seen:
                continue  # shadowed by an earlier copy on the path
            seen.add(_normalise(dist_name))
            found.append((dist_name, meta["Version"], dist.entry_points))
        _INSTALLED[where] = found
        return found


class Registry:
    """The plug-ins of one entry-point group; see the module docs for the contract.

    ``path`` restricts discovery to distributions found on those folders (tests);
    by default every distribution on ``sys.path`` counts, the first of a name winning
    as :mod:`importlib.metadata` does.
    """

    def __init__(
        self, group: str, *, kind: str | None = None, path: Sequence[str] | None = None
    ) -> None:
        self.group = group
        self.kind = kind or GROUPS.get(group, "plug-in")
        self._path = list(path) if path is not None else None
        self._lock = threading.RLock()
        self._discovered: dict[str, list[tuple[PluginInfo, metadata.EntryPoint]]] | None = None
        self._local: dict[str, tuple[PluginInfo, Any]] = {}
        self._loaded: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<Registry {self.group!r}: {', '.join(self.names())}>"

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    # discovery (metadata only) -------------------------------------------------------

    def _discover(self) -> dict[str, list[tuple[PluginInfo, metadata.EntryPoint]]]:
        with self._lock:
            if self._discovered is None:
                found: dict[str, list[tuple[PluginInfo, metadata.EntryPoint]]] = {}
                for dist_name, version, entry_points in _installed(self._path):
                    for ep in entry_points.select(group=self.group):
                        info = PluginInfo(self.group, ep.name, ep.value, dist_name, version)
                        found.setdefault(ep.name, []).append((info, ep))
                self._discovered = found
            return self._discovered

    def refresh(self) -> None:
        """Forget what was discovered and loaded (after installing a distribution)."""
        with self._lock:
            self._discovered = None
            self._loaded.clear()
        with _INSTALLED_LOCK:
            _INSTALLED.clear()

    def names(self) -> tuple[str, ...]:
        """Every registered name, sorted; imports no plug-in."""
        return tuple(sorted(set(self._discover()) | set(self._local)))

    def entries(self) -> list[PluginInfo]:
        """Every entry, a name claimed twice once per claimant, sorted by name."""
        found = [info for claims in self._discover().values() for info, _ in claims]
        found += [info for info, _ in self._local.values()]
        return sorted(found)

    def duplicates(self) -> dict[str, list[PluginInfo]]:
        """Names claimed by more than one distribution, with each claimant."""
        return {
            name: [info for info, _ in claims]
            for name, claims in sorted(self._discover().items())
            if name not in self._local and len(claims) > 1
        }

    # loading --------------------------------------------------------------------------

    def _unknown(self, name: str) -> PluginError:
        names = self.names()
        hint = did_you_mean(str(name), names)
        listed = ", ".join(names) if names else "none is installed"
        return PluginError(
            "S004",
            f"unknown {self.kind} {name!r} (entry-point group {self.group!r}); "
            f"expected one of: {listed}" + (f"; {hint}" if hint else ""),
            group=self.group,
            name=str(name),
        )

    def get(self, name: str) -> Any:
        """The plug-in object registered as ``name``, imported once and cached."""
        with self._lock:
            if name in self._local:
                return self._local[name][1]
            if name in self._loaded:
                return self._loaded[name]
            claims = self._discover().get(name) if isinstance(name, str) else None
            if not claims:
                raise self._unknown(name)
            if len(claims) > 1:
                who = " and ".join(f"{i.distribution} {i.version} ({i.value})" for i, _ in claims)
                raise PluginError(
                    "S008",
                    f"{self.kind} {name!r} (entry-point group {self.group!r}) is registered "
                    f"by {who}; uninstall one of them, or rename the entry point",
                    group=self.group,
                    name=name,
                )
            info, ep = claims[0]
            try:
                loaded = ep.load()
            except Exception as exc:  # a third party's import raises anything
                raise PluginError(
                    "S009",
                    f"{self.kind} {name!r} failed to load: entry point '{ep.name} = {ep.value}' "
                    f"in group {self.group!r} of {info.distribution} {info.version}: "
                    f"{_one_line(exc)}; fix or uninstall that package",
                    group=self.group,
                    name=name,
                ) from exc
            self._loaded[name] = loaded
            return loaded

    def load_all(self) -> dict[str, Any]:
        """Every plug-in that loads, by name; the failures are :meth:`problems`."""
        loaded = {}
        for name in self.names():
            try:
                loaded[name] = self.get(name)
            except PluginError:
                continue
        return loaded

    def problems(self) -> list[PluginError]:
        """The names that cannot be used (claimed twice, failing to load), by name."""
        found = []
        for name in self.names():
            try:
                self.get(name)
            except PluginError as error:
                found.append(error)
        return found

    # in-process registration ----------------------------------------------------------

    def register(self, name: str, obj: Any, *, replace: bool = False) -> None:
        """Add ``obj`` as ``name`` in this process only (tests, notebooks)."""
        if not isinstance(name, str) or not name:
            raise UsageError(f"name={name!r}; expected a non-empty string")
        with self._lock:
            if not replace and name in self.names():
                raise UsageError(
                    f"{self.kind} {name!r} is already registered in {self.group!r}; "
                    "pass replace=True to shadow it in this process"
                )
            target = getattr(obj, "__qualname__", type(obj).__qualname__)
            value = f"{getattr(obj, '__module__', '?')}:{target}"
            self._local[name] = (PluginInfo(self.group, name, value, IN_PROCESS, None), obj)

    def unregister(self, name: str) -> None:
        """Take back an in-process registration; installed entries are not touched."""
        with self._lock:
            if name not in self._local:
                raise UsageError(f"{self.kind} {name!r} was not registered in this process")
            del self._local[name]


@functools.cache
def registry(group: str) -> Registry:
    """The process-wide registry of ``group`` (one of :data:`GROUPS`)."""
    if group not in GROUPS:
        hint = did_you_mean(group, GROUPS)
        raise UsageError(
            f"group={group!r} is not an amlas entry-point group; expected one of "
            f"{', '.join(GROUPS)}" + (f"; {hint}" if hint else "")
        )
    return Registry(group)


def all_entries(groups: Iterable[str] = GROUPS) -> list[PluginInfo]:
    """Every entry of ``groups``, in group order then by name (for ``amlas plugins``)."""
    return [info for group in groups for info in registry(group).entries()]
