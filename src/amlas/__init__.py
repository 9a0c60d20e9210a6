"""amlas: carry one ML component through AMLAS and come out with a checked safety case.

The package reads like the AMLAS pipeline; imports point one way, down this list:

- :mod:`amlas.project`: typed AMLAS artefacts, the loader, rules and traceability
- :mod:`amlas.cli`: the thin ``amlas`` command line

Shared leaves, importing nothing above them: :mod:`amlas.errors`,
:mod:`amlas.diagnostics`, :mod:`amlas.hashing`.
"""

from amlas.diagnostics import Diagnostic, Diagnostics, Location, Severity
from amlas.errors import AmlasError, ProjectNotFoundError, UsageError
from amlas.project import (
    ARTEFACTS,
    LoadResult,
    Project,
    check_project,
    load_project,
)

__version__ = "0.1.0"

__all__ = [
    "ARTEFACTS",
    "AmlasError",
    "Diagnostic",
    "Diagnostics",
    "LoadResult",
    "Location",
    "Project",
    "ProjectNotFoundError",
    "Severity",
    "UsageError",
    "__version__",
    "check_project",
    "load_project",
]
