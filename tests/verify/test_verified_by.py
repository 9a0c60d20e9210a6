"""Issue 15: a requirement ``verified_by`` a platform test, simulation, analysis or review is
not judged on data by ``amlas run``: the plan lists it as awaiting imported evidence, its
reason and import command name the method, the case claims nothing for it until evidence
comes, and imported evidence lands where the case looks for it. On a copy of the bundled
breast-cancer example, whose MLR-7 (inference time) becomes a performance requirement
verified by a platform test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evidence"))

from evidence_factory import declare_verifier_key

from amlas.case import build_case
from amlas.errors import ProblemError
from amlas.project import check_project
from amlas.sealing import VerifierKey, generate_key
from amlas.testing import example_project
from amlas.verify import import_command, import_evidence, plan

H_FILE = "2-requirements/H-ml-safety-requirements.yaml"
MLR7 = """    kind: other
    traces_to: [AR-5]"""


def verified_by(root: Path, method: str, extra: str = "") -> None:
    path = root / H_FILE
    text = path.read_text("utf-8")
    assert MLR7 in text
    lines = "".join(f"\n    {line}" for line in extra.strip().splitlines())
    path.write_text(
        text.replace(
            MLR7,
            f"    kind: performance\n    traces_to: [AR-5]\n    verified_by: {method}{lines}",
        ),
        "utf-8",
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    made = example_project(tmp_path / "bc", example="breast-cancer-triage")
    (made / "imports").mkdir()
    (made / "reports").mkdir()
    return made


@pytest.fixture
def key(root: Path) -> VerifierKey:
    made = generate_key(root.parent / "verifier.key")
    declare_verifier_key(root, made)
    return made


def test_the_import_command_names_the_method() -> None:
    assert import_command("MLR-7", verifier=False) == ("amlas evidence import DIR FILE --for MLR-7")
    assert import_command("MLR-7", verifier=True, method="platform_test") == (
        "amlas evidence import DIR PLATFORM_TEST_FILE --for MLR-7 --role verifier --key-file KEY"
    )


@pytest.mark.parametrize(
    ("method", "said", "file", "awaiting"),
    [
        ("platform_test", "a platform test", "PLATFORM_TEST_FILE", "imported evidence"),
        ("simulation", "simulation", "SIMULATION_FILE", "imported evidence"),
        ("analysis", "analysis", "ANALYSIS_FILE", "imported evidence"),
        ("review", "review", "REVIEW_FILE", "a review record or imported evidence"),
    ],
)
def test_the_plan_awaits_evidence_of_the_method(
    root: Path, method: str, said: str, file: str, awaiting: str
) -> None:
    verified_by(root, method)
    result = check_project(root)
    assert [d.format() for d in result.diagnostics if d.severity.value != "info"] == []
    planned = plan(result.project, role="verifier", stages=(4, 5))
    keys = {c.key: c for c in planned}
    assert "stage4/MLR-7/O" not in keys
    assert "stage5/MLR-7/P" not in keys
    external = keys["external/MLR-7"]
    assert external.runs_in == "amlas evidence import"
    assert external.reason == (
        f"not evaluated on data: verified by {said}; awaiting {awaiting} (amlas evidence "
        f"import DIR {file} --for MLR-7 --role verifier --key-file KEY)"
    )
    notes = {what: why for _, what, why in planned.not_planned}
    assert notes["MLR-7"] == external.reason


def test_the_case_claims_nothing_until_the_platform_test_is_imported(
    root: Path, key: VerifierKey
) -> None:
    verified_by(root, "platform_test")
    before = build_case(root).nodes["Sn5.2.MLR-7"]
    assert before.status == "undeveloped"
    (root / "reports" / "bench.txt").write_text("99.7% of frames within 200 ms\n", "utf-8")
    document = root / "imports" / "bench.yaml"
    document.write_text(
        "schema: amlas.import/1\n"
        "kind: document\n"
        "for: MLR-7\n"
        "accountable: {person: Ines Moreau, organisation: Platform team}\n"
        "tool: {name: svc-bench, version: '2.3'}\n"
        "date: 2026-03-02\n"
        "document:\n"
        "  file: reports/bench.txt\n"
        "  title: Platform benchmark\n"
        "  kind: test_report\n"
        "verdict: pass\n"
        "summary: Within 200 ms in 99.7% of 10,000 requests on the deployment VM.\n",
        "utf-8",
    )
    report = import_evidence(root, document, target="MLR-7", role="verifier", key=key)
    assert report.key == "external/MLR-7"
    after = build_case(root).nodes["Sn5.2.MLR-7"]
    assert after.status == "supported"


def test_a_metric_beside_it_judges_imported_counts(root: Path, key: VerifierKey) -> None:
    verified_by(
        root, "platform_test", "metric: within_tolerance_rate\nthreshold: 0.99\nconfidence: 0.95"
    )
    result = check_project(root)
    assert [d.code for d in result.diagnostics if d.severity.value != "info"] == ["Q021"]
    planned = {c.key for c in plan(result.project, role="verifier", stages=(5,))}
    assert "stage5/MLR-7/P" not in planned  # not judged on [P], though it has a metric
    counts = root / "imports" / "latency.yaml"
    counts.write_text(
        "schema: amlas.import/1\n"
        "kind: counts\n"
        "for: MLR-7\n"
        "accountable: {person: Ines Moreau, organisation: Platform team}\n"
        "tool: {name: svc-bench, version: '2.3'}\n"
        "date: 2026-03-02\n"
        "data: {description: requests replayed on the deployment VM}\n"
        "slices:\n"
        "  - {name: all, successes: 9990, trials: 10000}\n",
        "utf-8",
    )
    report = import_evidence(root, counts, target="MLR-7", role="verifier", key=key)
    assert report.key == "external/MLR-7"
    assert report.record.verdict == "pass"  # judged by amlas against 0.99


def test_counts_for_a_review_are_refused(root: Path, key: VerifierKey) -> None:
    verified_by(root, "review", "metric: within_tolerance_rate\nthreshold: 0.99\nconfidence: 0.95")
    counts = root / "imports" / "review-counts.yaml"
    counts.write_text(
        "schema: amlas.import/1\n"
        "kind: counts\n"
        "for: MLR-7\n"
        "accountable: {person: Ines Moreau, organisation: Platform team}\n"
        "tool: {name: svc-bench, version: '2.3'}\n"
        "date: 2026-03-02\n"
        "data: {description: a count nobody should bring for a review}\n"
        "slices:\n"
        "  - {name: all, successes: 9990, trials: 10000}\n",
        "utf-8",
    )
    with pytest.raises(ProblemError) as raised:
        import_evidence(root, counts, target="MLR-7", role="verifier", key=key)
    (problem,) = raised.value.diagnostics
    assert problem.code == "R086"
    assert "verified by review" in problem.message
    assert problem.location.line == 2  # kind: counts
