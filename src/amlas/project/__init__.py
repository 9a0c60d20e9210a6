"""The AMLAS project model: typed artefacts, the loader, the rules and traceability.

A project is a directory with an ``amlas.yaml`` manifest and one YAML file per
user-written AMLAS artefact. :func:`check_project` loads it and applies every rule;
:func:`load_project` only loads it. :func:`read_document` reads any other YAML or JSON
document (a file given to ``amlas evidence import``) the way the artefacts are read.
"""

from amlas.project._check import check_project
from amlas.project._content import (
    ContentProblem,
    ContentTally,
    content_problems,
    count_problems,
    label_classes,
    read_problems,
    repeat_problem,
)
from amlas.project._document import ReadDocument, read_document
from amlas.project._loader import LoadResult, load_project
from amlas.project._manifest import (
    INDEPENDENCE,
    MANIFEST_FILE,
    SYSTEM_LETTERS,
    ApprovalRule,
    ArgumentNode,
    ComponentProject,
    EngineSettings,
    Manifest,
    Person,
)
from amlas.project._paths import path_problem
from amlas.project._people import declare_person_key
from amlas.project._project import Definition, Project, Reference
from amlas.project._reference import render_reference
from amlas.project._scaffold import EXAMPLES, init_project
from amlas.project._schema import schema_documents, write_schemas
from amlas.project._system import (
    FAILURE_METRICS,
    RATE_METRICS,
    System,
    bind_siblings,
    is_system_dir,
    load_system,
    other_components,
    relocated,
    sibling,
)
from amlas.project._trace import ConditionRow, TraceMatrix, TraceRow, build_trace
from amlas.project._yaml import SourceMap
from amlas.project.artefacts import ARTEFACTS, ArtefactSpec
from amlas.project.metrics import CLASSIFICATION, METRICS, MetricSpec, metric_names

__all__ = [
    "ARTEFACTS",
    "CLASSIFICATION",
    "EXAMPLES",
    "FAILURE_METRICS",
    "INDEPENDENCE",
    "MANIFEST_FILE",
    "METRICS",
    "RATE_METRICS",
    "SYSTEM_LETTERS",
    "ApprovalRule",
    "ArgumentNode",
    "ArtefactSpec",
    "ComponentProject",
    "ConditionRow",
    "ContentProblem",
    "ContentTally",
    "Definition",
    "EngineSettings",
    "LoadResult",
    "Manifest",
    "MetricSpec",
    "Person",
    "Project",
    "ReadDocument",
    "Reference",
    "SourceMap",
    "System",
    "TraceMatrix",
    "TraceRow",
    "bind_siblings",
    "build_trace",
    "check_project",
    "content_problems",
    "count_problems",
    "declare_person_key",
    "init_project",
    "is_system_dir",
    "label_classes",
    "load_project",
    "load_system",
    "metric_names",
    "other_components",
    "path_problem",
    "read_document",
    "read_problems",
    "relocated",
    "render_reference",
    "repeat_problem",
    "schema_documents",
    "sibling",
    "write_schemas",
]
