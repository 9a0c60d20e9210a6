"""A small hand-made safety case for the renderer tests: fixed values, every node type and
every status, hostile user text in the places a renderer must escape."""

from __future__ import annotations

from typing import Any

from amlas.case import ArtefactEntry, Case, Module, Node
from amlas.diagnostics import Diagnostic, Diagnostics, Location, Severity
from amlas.evidence import EvidenceRecord
from amlas.project import TraceMatrix, TraceRow

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=2">'
QUOTES = "\"quotes\" & 'apostrophes'"
BREAKOUT = "</script><script>window.__pwned=3</script>"
TEMPLATE = "{{ 7*7 }}"
JS_URL = "javascript:alert(1)"
HOSTILE = (SCRIPT, IMG, QUOTES, BREAKOUT, TEMPLATE, JS_URL)
"""Every hostile string the factory plants; none may reach the output unescaped."""

_INPUTS = {
    "dataset:P": "a" * 64,
    "model": "b" * 64,
}


def _slice(name: str, verdict: str, estimate: float, lower: float, upper: float,
           threshold: float, comparison: str, samples: int, reason: str,
           **extra: Any) -> dict[str, Any]:  # fmt: skip
    bound = lower if comparison == "at_least" else upper
    return {
        "slice": name,
        "cell": dict(part.split("=", 1) for part in name.split(", ")) if "=" in name else {},
        "verdict": verdict,
        "estimate": estimate,
        "lower": lower,
        "upper": upper,
        "bound": bound,
        "threshold": threshold,
        "comparison": comparison,
        "samples": samples,
        "reason": reason,
        "failing_count": extra.pop("failing_count", 0),
        "failing_ids": extra.pop("failing_ids", []),
        **extra,
    }


def records() -> list[EvidenceRecord]:
    """Two metric records, two ``data.min_samples_per_cell`` records (datasets N and O)."""
    recall = EvidenceRecord(
        key="stage5/metric/MLR-1",
        check="metric.recall",
        stage=5,
        role="verifier",
        subject="MLR-1",
        dataset="P",
        parameters={"threshold": 0.95, "confidence": 0.95},
        resolved={"method": "clopper-pearson", "positive": "malignant"},
        inputs={**_INPUTS, "requirement:MLR-1": "c" * 64},
        results=[
            _slice(
                "all",
                "pass",
                0.975,
                0.962,
                0.985,
                0.95,
                "at_least",
                812,
                "lower bound 0.962 >= 0.95",
                successes=792,
                failing_count=20,
                failing_ids=["p-0007", "p-0019"],
            ),
            _slice(
                "nuclear-size=large",
                "pass",
                0.981,
                0.957,
                0.994,
                0.95,
                "at_least",
                310,
                "lower bound 0.957 >= 0.95",
                successes=304,
                failing_count=6,
            ),
        ],
        verdict="pass",
        summary="MLR-1 recall on [P]: 2 of 2 slices pass",
        versions={"amlas": "0.1.0"},
    )
    fnr = EvidenceRecord(
        key="stage5/metric/MLR-2",
        check="metric.false_negative_rate",
        stage=5,
        role="verifier",
        subject="MLR-2",
        dataset="P",
        parameters={"threshold": 0.05},
        resolved={"method": "clopper-pearson"},
        inputs={**_INPUTS, "requirement:MLR-2": "d" * 64},
        results=[
            _slice(
                "nuclear-texture=smooth",
                "pass",
                0.012,
                0.004,
                0.031,
                0.05,
                "at_most",
                402,
                "upper bound 0.031 <= 0.05",
                failing_count=5,
            ),
            _slice(
                "nuclear-texture=coarse",
                "inconclusive",
                0.03,
                0.006,
                0.085,
                0.05,
                "at_most",
                67,
                f"too few samples {IMG}",
                additional_samples=140,
                failing_count=2,
            ),
        ],
        verdict="inconclusive",
        summary=f"MLR-2 false negative rate on [P]: 1 slice inconclusive {IMG}",
        versions={"amlas": "0.1.0"},
    )
    cells = EvidenceRecord(
        key="stage3/data/DR-1/N",
        check="data.min_samples_per_cell",
        stage=3,
        role="developer",
        subject="DR-1",
        dataset="N",
        parameters={"dimensions": ["nuclear-size", "nuclear-texture"]},
        resolved={"min_samples": 30},
        inputs={"dataset:N": "e" * 64},
        results=[
            {
                "cell": f"nuclear-size={size}, nuclear-texture={texture}",
                "met": count >= 30,
                "required": 30,
                "samples": count,
            }
            for (size, texture), count in zip(
                [(s, t) for s in ("small", "medium", "large") for t in ("smooth", "coarse")],
                [58, 41, 120, 33, 12, 75],
                strict=True,
            )
        ],
        verdict="fail",
        summary="DR-1 on [N]: 5 of 6 cells hold at least 30 samples; short: "
        "nuclear-size=large, nuclear-texture=smooth (12)",
        versions={"amlas": "0.1.0"},
    )
    single = EvidenceRecord(
        key="stage3/data/DR-2/O",
        check="data.min_samples_per_cell",
        stage=3,
        role="developer",
        subject="DR-2",
        dataset="O",
        parameters={"dimensions": ["nuclear-size"]},
        resolved={"min_samples": 10},
        inputs={"dataset:O": "f" * 64},
        results=[
            {"cell": f"nuclear-size={size}", "met": True, "required": 10, "samples": count}
            for size, count in (("small", 14), ("medium", 22), ("large", 10))
        ],
        verdict="pass",
        summary="DR-2 on [O]: 3 of 3 cells hold at least 10 samples",
        versions={"amlas": "0.1.0"},
    )
    return [recall, fnr, cells, single]


def make_case() -> Case:
    """18 nodes over stage1, stage2 and stage5; the same values on every call."""
    recall, fnr, cells, single = records()
    n = Node
    nodes = [
        n("G1.1", "G1.1", "goal", f"The ML component is acceptably safe {TEMPLATE}", "stage1",
          "failed", "G5.3.MLR-2 failed", supported_by=["S1.1"],
          in_context_of=["C1.1", "A1.1"]),
        n("C1.1", "C1.1", "context", f"System safety requirements [A] {SCRIPT}", "stage1",
          "supported", artefacts=["A"]),
        n("A1.1", "A1.1", "assumption", "The operating environment [D] is complete",
          "stage1", "supported", artefacts=["D"]),
        n("S1.1", "S1.1", "strategy", "Argument over the AMLAS stages", "stage1", "failed",
          "G5.3.MLR-2 failed", supported_by=["G2.1", "G5.1.MLR-1", "G5.1.MLR-2"],
          in_context_of=["J1.1"]),
        n("J1.1", "J1.1", "justification", f"AMLAS v1.1 stages cover the lifecycle {QUOTES}",
          "stage1", "supported", rationale=f"Assessor agreed {QUOTES} {JS_URL}"),
        n("G2.1", "G2.1", "goal", "ML safety requirements are sufficient", "stage2", "stale",
          "Sn2.1 cites a stale record", supported_by=["Sn2.1", "G2.2"],
          in_context_of=["C2.2"]),
        n("C2.2", "C2.2", "context", "Data requirements [L]", "stage2", "supported",
          artefacts=["L"], backed_by="G3.1"),
        n("Sn2.1", "Sn2.1", "solution", f"ML safety requirements [H] {IMG}", "stage2",
          "stale", "an input changed", artefacts=["H"],
          notes=["requirement:MLR-2 changed since the record was made"]),
        n("G2.2", "G2.2", "goal", f"Hazards from ML failure are identified {JS_URL}",
          "stage2", "undeveloped", "nothing supports it", undeveloped=True),
        n("G5.1.MLR-1", "G5.1", "goal", f"MLR-1: recall >= 0.95 on [P] {BREAKOUT}", "stage5",
          "supported", supported_by=["Sn5.1.MLR-1"], in_context_of=["C5.1"],
          binding={"requirement": "MLR-1"}),
        n("Sn5.1.MLR-1", "Sn5.1", "solution", "Verification results [Z] for MLR-1", "stage5",
          "supported", artefacts=["Z"], evidence=[recall.digest],
          binding={"requirement": "MLR-1"}),
        n("C5.1", "C5.1", "context", "Verification data [P]", "stage5", "supported",
          artefacts=["P"]),
        n("G5.1.MLR-2", "G5.1", "goal", "MLR-2: false negative rate <= 0.05 on [P]",
          "stage5", "failed", "G5.3.MLR-2 failed", supported_by=["S5.1.MLR-2"],
          binding={"requirement": "MLR-2"}),
        n("S5.1.MLR-2", "S5.1", "strategy", "Argument over test results and data coverage",
          "stage5", "failed", "G5.3.MLR-2 failed",
          supported_by=["Sn5.1.MLR-2", "G5.3.MLR-2"], binding={"requirement": "MLR-2"}),
        n("Sn5.1.MLR-2", "Sn5.1", "solution", "Verification results [Z] for MLR-2", "stage5",
          "inconclusive", "1 slice inconclusive: needs 140 more samples", artefacts=["Z"],
          evidence=[fnr.digest], binding={"requirement": "MLR-2"}),
        n("G5.3.MLR-2", "G5.3", "goal", "Verification data covers every ODD cell", "stage5",
          "failed", "challenged by CSn5.1; DR-1 short in 1 cell",
          supported_by=["Sn5.3.MLR-2"], defeated=True, binding={"requirement": "MLR-2"},
          extension=True),
        n("Sn5.3.MLR-2", "Sn5.3", "solution", "Data coverage checks [N] [O]", "stage5",
          "failed", "DR-1 short in 1 cell", artefacts=["N", "O"],
          evidence=[cells.digest, single.digest], binding={"requirement": "MLR-2"}),
        n("CSn5.1", "CSn5.1", "counter_solution",
          "Near-duplicate check found 3 [P] images similar to training images", "stage5",
          "failed", "counter-evidence stands", challenges="G5.3.MLR-2"),
    ]  # fmt: skip
    diagnostics = Diagnostics(
        [
            Diagnostic("F002", Severity.WARNING, f"artefact [Y] not written yet {SCRIPT}",
                       Location("amlas.yaml", 12, 3), "run `amlas init`"),
            Diagnostic("X001", Severity.ERROR, "MLR-9 is not an [H] requirement",
                       Location("requirements/data.yaml", 4, 7)),
        ]
    )  # fmt: skip
    return Case(
        project="Breast cancer triage",
        component=f"Triage classifier {QUOTES}",
        library="amlas-1.1",
        root="G1.1",
        modules=[
            Module("stage1", 1, "Stage 1: Safety assurance scoping", "F", "G", "G1.1"),
            Module("stage2", 2, "Stage 2: Safety requirements", "I", "J", "G2.1"),
            Module("stage5", 5, "Stage 5: Model verification", "U", "V", "G5.1.MLR-1"),
        ],
        nodes={node.id: node for node in nodes},
        evidence={r.digest: r for r in sorted((recall, fnr, cells, single), key=_digest)},
        artefacts=[
            ArtefactEntry(
                "A", "System safety requirements", "EXT", 1, "system/safety.yaml", "1" * 64, True
            ),
            ArtefactEntry(
                "D", "Operating environment", "EXT", 1, "system/environment.yaml", "2" * 64, True
            ),
            ArtefactEntry(
                "H",
                "ML safety requirements",
                "DOC",
                2,
                "requirements/ml.yaml",
                "3" * 64,
                True,
                note=SCRIPT,
            ),
            ArtefactEntry(
                "L", "Data requirements", "DOC", 3, "requirements/data.yaml", None, False
            ),
            ArtefactEntry(
                "P", "Verification data", "DATA", 5, "data/verification.parquet", "4" * 64, True
            ),
            ArtefactEntry("V", "ML verification argument", "ARG", 5, None, None, True),
        ],
        trace=TraceMatrix(
            rows=(
                TraceRow(("SSR-1",), "AR-1", "MLR-1", "performance", ("DR-1",)),
                TraceRow(
                    ("SSR-1",),
                    "AR-1",
                    "MLR-2",
                    "performance",
                    (),
                    (),
                    ("MLR-2 is covered by no [L] requirement",),
                ),
                TraceRow(("SSR-2",), "AR-2", None, None, (), (f"deferred to system: {IMG}",)),
            ),
            missing=(),
        ),
        diagnostics=diagnostics,
        stale_inputs={fnr.digest: ["requirement:MLR-2"]},
    )


def _digest(record: EvidenceRecord) -> str:
    return record.digest
