"""The AMLAS project model: typed artefacts, the loader, the rules and traceability.

A project is a directory with an ``amlas.yaml`` manifest and one YAML file per
user-written AMLAS artefact. :func:`check_project` loads it and applies every rule;
:func:`load_project` only loads it.
"""

from amlas.project._check import check_project
from amlas.project._content import ContentProblem, content_problems, label_classes
from amlas.project._loader import LoadResult, load_project
from amlas.project._manifest import MANIFEST_FILE, Manifest
from amlas.project._paths import path_problem
from amlas.project._project import Definition, Project, Reference
from amlas.project._reference import render_reference
from amlas.project._scaffold import EXAMPLES, init_project
from amlas.project._schema import schema_documents, write_schemas
from amlas.project._trace import TraceMatrix, TraceRow, build_trace
from amlas.project.artefacts import ARTEFACTS, ArtefactSpec
from amlas.project.metrics import CLASSIFICATION, METRICS, MetricSpec, metric_names

__all__ = [
    "ARTEFACTS",
    "CLASSIFICATION",
    "EXAMPLES",
    "MANIFEST_FILE",
    "METRICS",
    "ArtefactSpec",
    "ContentProblem",
    "Definition",
    "LoadResult",
    "Manifest",
    "MetricSpec",
    "Project",
    "Reference",
    "TraceMatrix",
    "TraceRow",
    "build_trace",
    "check_project",
    "content_problems",
    "init_project",
    "label_classes",
    "load_project",
    "metric_names",
    "path_problem",
    "render_reference",
    "schema_documents",
    "write_schemas",
]
