"""The public API changes only on purpose (see httpx's test_exported_members)."""

from __future__ import annotations

import amlas
import amlas.checks
import amlas.diagnostics
import amlas.project
import amlas.render

PUBLIC = {
    amlas: {
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
    },
    amlas.diagnostics: {
        "CODES",
        "Code",
        "Diagnostic",
        "Diagnostics",
        "Location",
        "Severity",
        "did_you_mean",
        "render_markdown",
        "suggest",
    },
    amlas.project: {
        "ARTEFACTS",
        "EXAMPLES",
        "MANIFEST_FILE",
        "METRICS",
        "ArtefactSpec",
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
        "init_project",
        "load_project",
        "render_reference",
        "schema_documents",
        "write_schemas",
    },
    amlas.checks: {
        "Comparison",
        "Decision",
        "Interval",
        "Verdict",
        "bootstrap_interval",
        "clopper_pearson",
        "decide_proportion",
        "decide_slices",
        "holm_adjust",
        "required_samples",
        "samples_to_decide",
    },
    amlas.render: {"render_trace_json", "render_trace_markdown", "trace_table"},
}


def test_exported_members() -> None:
    for module, expected in PUBLIC.items():
        assert set(module.__all__) == expected, module.__name__
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
