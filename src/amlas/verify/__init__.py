"""Verification: the run that turns a project's requirements into evidence records.

One plan, several consumers::

    plan(project, role=..., stages=...)      every check the project calls for (_plan)
      -> execute(plan, store=..., key=...)   amlas run, run --stale-only   (_execute)
      -> analyse_impact(root)                amlas impact                  (_impact)
      -> ingest_field_log(root)              amlas monitor ingest          (_ingest)
    import_evidence(root, file, target=...)  amlas evidence import         (_external)

Each :class:`PlannedCheck` carries its record key (:mod:`amlas.evidence.keys`), check
name, subject, datasets, the role that may run it, the inputs its record rests on with
their current hashes, and why it cannot run where it cannot. Executors per kind of check
(:mod:`._data` for stage 3, :mod:`._evaluate` for stages 4 and 5, :mod:`._stage6`,
:mod:`._operation`) turn outcomes into records through one builder (:mod:`._records`);
results produced outside amlas come in through :func:`import_evidence` (counts judged
by amlas, or a document's own verdict marked as such), through the same builder;
a plan's parts are in :mod:`._planned`; what the checks of one run share (data read
once, the model loaded once, R15 custody of sealed data) is :class:`RunContext`
(:mod:`._context`); a dataset whose checks all tally is read in chunks
(:mod:`._stream`).

The statistics and the checks themselves live in :mod:`amlas.checks`; records, stores,
input hashes and custody in :mod:`amlas.evidence`.
"""

from amlas.verify._changes import revision_tree
from amlas.verify._context import (
    DEFAULT_CHUNK_ROWS,
    Reporter,
    RunContext,
    RunReport,
    SummaryRow,
)
from amlas.verify._engine import EngineOptions, EngineSpec
from amlas.verify._execute import execute, run_project
from amlas.verify._external import ImportReport, awaits_import, import_command, import_evidence
from amlas.verify._impact import CheckToRun, Impact, StaleRecord, analyse_impact
from amlas.verify._ingest import IngestReport, ingest_field_log
from amlas.verify._plan import plan
from amlas.verify._planned import DEFAULT_STAGES, Plan, PlannedCheck

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "DEFAULT_STAGES",
    "CheckToRun",
    "EngineOptions",
    "EngineSpec",
    "Impact",
    "ImportReport",
    "IngestReport",
    "Plan",
    "PlannedCheck",
    "Reporter",
    "RunContext",
    "RunReport",
    "StaleRecord",
    "SummaryRow",
    "analyse_impact",
    "awaits_import",
    "execute",
    "import_command",
    "import_evidence",
    "ingest_field_log",
    "plan",
    "revision_tree",
    "run_project",
]
