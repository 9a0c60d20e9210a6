"""amlas: carry one ML component through AMLAS and come out with a checked safety case.

The package reads like the AMLAS pipeline; imports point one way, down this list
(``docs/architecture.md`` draws it):

- :mod:`amlas.project`: typed AMLAS artefacts, the loader, rules and traceability
- :mod:`amlas.checks`: the statistics and verification that produce evidence
- :mod:`amlas.evidence`: records, stores, input hashes, custody of sealed data
- :mod:`amlas.verify`: the run: one plan for ``run``, ``impact`` and ``monitor ingest``
- :mod:`amlas.case`: the AMLAS patterns instantiated into one GSN case
- :mod:`amlas.render`: HTML, SVG, gsn2x YAML, Markdown, JSON, JUnit
- :mod:`amlas.cli`, :mod:`amlas.server`: thin front ends

Shared leaves, importing nothing above them: :mod:`amlas.errors`,
:mod:`amlas.diagnostics`, :mod:`amlas.hashing`, :mod:`amlas.fileio`,
:mod:`amlas.adapters`, :mod:`amlas.sealing`.

The Python API over objects (``docs/api.md``): :func:`load`, :func:`run`,
:func:`build_case`, :func:`render_report`. They load the layers they need on first use,
so ``import amlas`` stays light.
"""

from typing import TYPE_CHECKING, Any

from amlas._version import __version__
from amlas.diagnostics import Diagnostic, Diagnostics, Location, Severity
from amlas.errors import AmlasError, ProjectInvalid, ProjectNotFoundError, UsageError
from amlas.project import (
    ARTEFACTS,
    LoadResult,
    Project,
    check_project,
    load_project,
)

if TYPE_CHECKING:
    from amlas._api import build_case, load, render_report, run

_API = frozenset({"build_case", "load", "render_report", "run"})

__all__ = [
    "ARTEFACTS",
    "AmlasError",
    "Diagnostic",
    "Diagnostics",
    "LoadResult",
    "Location",
    "Project",
    "ProjectInvalid",
    "ProjectNotFoundError",
    "Severity",
    "UsageError",
    "__version__",
    "build_case",
    "check_project",
    "load",
    "load_project",
    "render_report",
    "run",
]


def __getattr__(name: str) -> Any:
    if name in _API:
        from amlas import _api

        return getattr(_api, name)
    raise AttributeError(f"module 'amlas' has no attribute {name!r}")
