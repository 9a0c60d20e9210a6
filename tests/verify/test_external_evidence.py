"""Results produced outside amlas (issue 14): ``amlas evidence import``.

Counts are judged by amlas itself (figures checked against scipy directly, not against
amlas's own intervals); a claimed verdict without counts is refused; every bad input has
its code and its line; a document's verdict is recorded as the document's statement; the
imported file and the document are inputs, so a change makes the record stale; the case
moves from "awaiting imported evidence" to supported or failed; the report shows an
imported record with its provenance. All on a copy of the bundled breast-cancer example,
whose MLR-7 (inference time, ``data_related: false``) ``amlas run`` can never evaluate.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "evidence"))

from evidence_factory import declare_verifier_key

from amlas.case import build_case, document_targets
from amlas.errors import ProblemError
from amlas.evidence import EvidenceRecord, open_store
from amlas.project import check_project
from amlas.render import render_report
from amlas.sealing import VerifierKey, generate_key
from amlas.testing import example_project
from amlas.verify import analyse_impact, import_evidence, plan
from cli_helpers import run
from report_fragments import expanded

H_FILE = "2-requirements/H-ml-safety-requirements.yaml"
MLR7 = """    kind: other
    traces_to: [AR-5]
    data_related: false"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A copy of the breast-cancer example with imports/ and reports/ folders."""
    made = example_project(tmp_path / "bc", example="breast-cancer-triage")
    (made / "imports").mkdir()
    (made / "reports").mkdir()
    return made


def key_file(root: Path) -> Path:
    return root.parent / "verifier.key"


@pytest.fixture
def key(root: Path) -> VerifierKey:
    made = generate_key(key_file(root))
    declare_verifier_key(root, made)
    return made


def judge_mlr7(root: Path, settings: str) -> None:
    """Give MLR-7 (inference time) the metric, threshold and confidence counts need."""
    path = root / H_FILE
    text = path.read_text("utf-8")
    assert MLR7 in text
    lines = "".join(f"\n    {line}" for line in settings.strip().splitlines())
    path.write_text(
        text.replace(MLR7, MLR7.replace("traces_to: [AR-5]", "traces_to: [AR-5]" + lines))
    )


LATENCY = "metric: within_tolerance_rate\nthreshold: 0.99\nconfidence: 0.95"


def counts_file(root: Path, slices: str, *, name: str = "latency.yaml", head: str = "") -> Path:
    """An import file of kind counts for MLR-7 (``slices`` is the YAML list, indented)."""
    path = root / "imports" / name
    path.write_text(
        "schema: amlas.import/1\n"
        "kind: counts\n"
        "for: MLR-7\n"
        "accountable:\n"
        "  person: Dr Ada Lee\n"
        "  organisation: Platform team\n"
        "tool: {name: svc-bench, version: 2.3.1}\n"
        "date: 2026-03-02\n"
        "data:\n"
        "  description: requests replayed from the verification inputs on the staging VM\n"
        f"{head}"
        "slices:\n"
        f"{slices}",
        "utf-8",
    )
    return path


def document_file(root: Path, target: str, *, verdict: str = "pass") -> Path:
    (root / "reports" / "pilot.txt").write_text("Pilot: 3 months, no missed case.\n", "utf-8")
    path = root / "imports" / f"{target}-document.yaml"
    path.write_text(
        "schema: amlas.import/1\n"
        "kind: document\n"
        f"for: {target}\n"
        "accountable: {person: Sam Roe, organisation: Clinical safety office}\n"
        "tool: {name: trial-db, version: '4.1'}\n"
        "date: 2026-01-15\n"
        "document:\n"
        "  file: reports/pilot.txt\n"
        "  title: Pilot deployment report Q4\n"
        "  kind: test_report\n"
        f"verdict: {verdict}\n"
        "summary: Three months of pilot operation, no missed malignant case.\n",
        "utf-8",
    )
    return path


def one_slice(successes: int, trials: int) -> str:
    return f"  - name: all\n    successes: {successes}\n    trials: {trials}\n"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- counts: amlas computes the bound -----------------------------------------------------------


def test_counts_are_judged_by_amlas_with_exact_bounds(root: Path, key: VerifierKey) -> None:
    judge_mlr7(root, LATENCY + "\napplies_to: {per: [nuclear-size]}")
    file = counts_file(
        root,
        "  - {name: small, cell: {nuclear-size: small}, successes: 3990, trials: 4000}\n"
        "  - {name: medium, cell: {nuclear-size: medium}, successes: 2985, trials: 3000}\n"
        "  - {name: large, cell: {nuclear-size: large}, successes: 2975, trials: 3000}\n",
    )
    report = import_evidence(root, file, target="MLR-7", role="verifier", key=key)
    record = report.record
    assert report.key == "external/MLR-7"
    assert (record.origin, record.stage, record.role, record.check) == (
        "external",
        5,
        "verifier",
        "import.counts",
    )
    counts = [(3990, 4000), (2985, 3000), (2975, 3000)]
    raw = [stats.binomtest(k, n, 0.99, alternative="greater").pvalue for k, n in counts]
    order = sorted(range(3), key=lambda i: raw[i])
    holm, running = [0.0] * 3, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * raw[i]))
        holm[i] = running
    for result, (k, n), p_pass in zip(record.results, counts, holm, strict=True):
        lower = stats.beta.ppf(0.05, k, n - k + 1)  # one-sided 95% Clopper-Pearson
        assert result["bound"] == pytest.approx(lower, rel=1e-12)
        assert result["p_pass"] == pytest.approx(p_pass, rel=1e-9)
        assert result["verdict"] == ("pass" if p_pass <= 0.05 else "inconclusive")
        assert (result["successes"], result["samples"]) == (k, n)
    # 3990/4000 passes alone; 2975/3000 cannot show 0.99 at all: the whole is inconclusive
    assert [r["verdict"] for r in record.results] == ["pass", "pass", "inconclusive"]
    assert record.verdict == "inconclusive"
    assert record.resolved["method"] == "clopper-pearson"
    assert record.resolved["family"] == "Holm"
    provenance = record.provenance
    assert provenance is not None
    assert (provenance.kind, provenance.file, provenance.sha256) == (
        "counts",
        "imports/latency.yaml",
        sha256(file),
    )
    assert (provenance.accountable.person, provenance.tool.version) == ("Dr Ada Lee", "2.3.1")
    assert record.inputs["import:imports/latency.yaml"] == sha256(file)
    assert {"requirement:MLR-7", "environment", "model"} <= set(record.inputs)
    assert "signature" in record.metadata  # stage-5 evidence: signed by the verifier
    with open_store("fs://evidence", root=root) as store:
        assert store.get(report.digest) == record
        assert store.verify() == []


def test_rates_are_judged_on_the_exact_poisson_bound(root: Path, key: VerifierKey) -> None:
    judge_mlr7(
        root,
        "metric: false_positives_per_sample\nclass: malignant\nthreshold: 0.05\n"
        "comparison: at_most\nconfidence: 0.95",
    )
    file = counts_file(
        root,
        "  - {name: day, events: 3, exposure: 200, unit: sample}\n"
        "  - {name: night, events: 9, exposure: 150, unit: sample}\n",
    )
    record = import_evidence(root, file, target="MLR-7", role="verifier", key=key).record
    day, night = record.results
    # Garwood: the upper bound is the 95% quantile of Gamma(k + 1) over the exposure
    assert day["bound"] == pytest.approx(stats.gamma.ppf(0.95, 4) / 200, rel=1e-10)
    assert night["bound"] == pytest.approx(stats.gamma.ppf(0.95, 10) / 150, rel=1e-10)
    # the interval is the one-sided one the verdict rests on: [0, upper] for 'at most'
    assert day["lower"] == 0.0
    assert "Poisson" in day["assumption"]
    raw_day = stats.poisson.cdf(3, 0.05 * 200)
    raw_night = stats.poisson.cdf(9, 0.05 * 150)
    assert day["p_pass"] == pytest.approx(min(1, 2 * min(raw_day, raw_night)), rel=1e-10)
    assert night["p_pass"] == pytest.approx(max(day["p_pass"], raw_night), rel=1e-10)
    assert (day["verdict"], night["verdict"]) == ("pass", "inconclusive")
    assert record.resolved["method"] == "poisson-exact (Garwood)"
    assert record.resolved["unit"] == "sample"
    assert record.verdict == "inconclusive"


def test_a_failing_count_fails_the_requirement_node(root: Path, key: VerifierKey) -> None:
    judge_mlr7(root, LATENCY)
    before = build_case(root).nodes["Sn5.2.MLR-7"]
    assert before.status == "undeveloped"
    assert (
        "awaiting imported evidence (amlas evidence import DIR FILE --for MLR-7 --role "
        "verifier --key-file KEY)" in before.reason
    )
    file = counts_file(root, one_slice(9700, 10000))  # 97%: far below 99%
    record = import_evidence(root, file, target="MLR-7", role="verifier", key=key).record
    assert record.verdict == "fail"
    case = build_case(root)
    solution = case.nodes["Sn5.2.MLR-7"]
    assert solution.status == "failed"
    assert case.nodes["CSn5.2.MLR-7"].challenges == "G5.5.MLR-7"
    assert case.nodes["G5.1.MLR-7"].status == "failed"
    assert any("computed by amlas from counts imported" in note for note in solution.notes)


def test_a_passing_count_supports_the_requirement_node(root: Path, key: VerifierKey) -> None:
    judge_mlr7(root, LATENCY)
    file = counts_file(root, one_slice(9950, 10000))
    record = import_evidence(root, file, target="MLR-7", role="verifier", key=key).record
    assert record.results[0]["bound"] == pytest.approx(stats.beta.ppf(0.05, 9950, 51))
    case = build_case(root)
    assert case.nodes["Sn5.2.MLR-7"].status == "supported"
    assert case.nodes["G5.5.MLR-7"].status == "supported"


def test_a_data_judged_requirement_takes_the_run_key(root: Path, key: VerifierKey) -> None:
    text = counts_file(root, one_slice(41, 43)).read_text("utf-8").replace("MLR-7", "MLR-1")
    file = root / "imports" / "recall.yaml"
    file.write_text(text, "utf-8")
    with pytest.raises(ProblemError) as refused:  # amlas run judges MLR-1: say on what
        import_evidence(root, file, target="MLR-1", role="verifier", key=key)
    assert refused.value.diagnostic.code == "R002"
    report = import_evidence(root, file, target="MLR-1", dataset="P", role="verifier", key=key)
    assert report.key == "stage5/MLR-1/P"
    assert report.record.dataset == "P"
    assert "dataset:P" in report.record.inputs
    assert build_case(root).nodes["Sn5.2.MLR-1"].evidence == [report.digest]


# -- what is refused ---------------------------------------------------------------------------


def test_a_claimed_verdict_without_counts_is_refused(
    root: Path, key: VerifierKey, capsys: pytest.CaptureFixture[str]
) -> None:
    judge_mlr7(root, LATENCY)
    file = counts_file(
        root, "  - name: all\n    estimate: 0.997\n", head="verdict: pass\n"
    )  # line 11: verdict; line 14: the estimate
    status, out, err = run(
        capsys, "evidence", "import", str(root), str(file), "--for", "MLR-7",
        "--role", "verifier", "--key-file", str(key_file(root)),
    )  # fmt: skip
    assert status == 2, out + err
    assert f"{file}:11:1: R081 error: the file states verdict: pass instead of counts" in err
    assert f"{file}:14:5: R081 error: slice 'all' states estimate: 0.997" in err
    assert "give successes and trials" in err
    assert not (root / "evidence").exists()  # nothing recorded


BAD = [
    ("more-successes-than-trials", one_slice(101, 100), "R083", 13, "successes 101 exceed"),
    ("negative-count", one_slice(-1, 100), "R082", 13, "-1, a negative number"),
    ("decimal-count", one_slice(99, 100).replace("99", "99.5"), "R082", 13, "not a whole"),
    ("percentage", "  - name: all\n    successes: 99%\n    trials: 100\n", "R082", 13, "99%"),
    ("no-trials", "  - name: all\n    successes: 99\n", "R081", 12, "but no trials"),
    (
        "slice-twice",
        one_slice(99, 100) + one_slice(99, 100),
        "R084",
        15,
        "slice 'all' is named twice",
    ),
    (
        "unknown-band",
        "  - {name: x, cell: {nuclear-size: huge}, successes: 1, trials: 1}\n",
        "R085",
        12,
        "has no band or category 'huge'",
    ),
    (
        "rate-for-a-proportion",
        "  - {name: all, events: 1, exposure: 10, unit: hour}\n",
        "R086",
        12,
        "not judged from events over an exposure",
    ),
]


@pytest.mark.parametrize(
    ("slices", "code", "line", "says"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_each_bad_count_has_its_code_and_line(
    root: Path, slices: str, code: str, line: int, says: str
) -> None:
    judge_mlr7(root, LATENCY)
    file = counts_file(root, slices)
    with pytest.raises(ProblemError) as refused:
        import_evidence(root, file, target="MLR-7", role="verifier")
    found = {(d.code, d.location.line) for d in refused.value.diagnostics}
    assert (code, line) in found, refused.value.diagnostics
    assert any(says in d.message for d in refused.value.diagnostics), refused.value.diagnostics
    assert all(d.location.path == str(file) for d in refused.value.diagnostics)


def test_a_requirement_that_does_not_exist(root: Path) -> None:
    file = counts_file(root, one_slice(1, 1))
    file.write_text(file.read_text("utf-8").replace("for: MLR-7", "for: MLR-77"), "utf-8")
    with pytest.raises(ProblemError) as refused:
        import_evidence(root, file, target="MLR-77", role="verifier")
    problem = refused.value.diagnostic
    assert (problem.code, problem.location.line) == ("R085", 3)
    assert "MLR-7" in str(problem.hint)


def test_counts_need_a_metric_that_counts_them(root: Path) -> None:
    file = counts_file(root, one_slice(1, 1))  # MLR-7 as shipped: no metric, no threshold
    with pytest.raises(ProblemError) as refused:
        import_evidence(root, file, target="MLR-7", role="verifier")
    assert refused.value.diagnostic.code == "R086"
    assert refused.value.diagnostic.location.path == H_FILE
    # MLR-4 sets a threshold on the expected calibration error: no count judges it
    text = file.read_text("utf-8").replace("for: MLR-7", "for: MLR-4")
    file.write_text(text, "utf-8")
    with pytest.raises(ProblemError) as refused:
        import_evidence(root, file, target="MLR-4", dataset="P", role="verifier")
    assert refused.value.diagnostic.code == "R086"
    assert "expected_calibration_error" in refused.value.diagnostic.message


def test_every_band_the_requirement_holds_in_is_counted(root: Path) -> None:
    file = counts_file(
        root, "  - {name: small, cell: {nuclear-size: small}, successes: 9, trials: 9}\n"
    )
    file.write_text(file.read_text("utf-8").replace("for: MLR-7", "for: MLR-2"), "utf-8")
    with pytest.raises(ProblemError) as refused:  # MLR-2: recall per nuclear-size
        import_evidence(root, file, target="MLR-2", dataset="P", role="verifier")
    problem = refused.value.diagnostic
    assert problem.code == "R086"
    assert "nuclear-size=medium; nuclear-size=large" in problem.message


def test_counts_from_other_data_are_refused(root: Path) -> None:
    file = counts_file(root, one_slice(41, 43), head=f"model_sha256: '{'0' * 64}'\n")
    text = file.read_text("utf-8").replace("for: MLR-7", "for: MLR-1")
    text = text.replace("staging VM\n", f"staging VM\n  sha256: '{'1' * 64}'\n")
    file.write_text(text, "utf-8")
    with pytest.raises(ProblemError) as refused:
        import_evidence(root, file, target="MLR-1", dataset="P", role="verifier")
    problems = {(d.code, d.location.line) for d in refused.value.diagnostics}
    assert problems == {("R087", 11), ("R087", 12)}


def test_files_outside_the_project_and_missing_documents(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "latency.yaml"
    shutil.copy(counts_file(root, one_slice(1, 1)), outside)
    with pytest.raises(ProblemError) as refused:
        import_evidence(root, outside, target="MLR-7", role="verifier")
    assert refused.value.diagnostic.code == "R080"
    file = document_file(root, "G6.7")
    (root / "reports" / "pilot.txt").unlink()
    with pytest.raises(ProblemError) as refused:
        import_evidence(root, file, target="G6.7", nodes={"G6.7": 6})
    assert (refused.value.diagnostic.code, refused.value.diagnostic.location.line) == ("R080", 8)


def test_roles_and_targets(root: Path, key: VerifierKey) -> None:
    judge_mlr7(root, LATENCY)
    file = counts_file(root, one_slice(9950, 10000))
    with pytest.raises(ProblemError) as refused:  # stage 5 is the verifier's (R16)
        import_evidence(root, file, target="MLR-7")
    assert refused.value.diagnostic.code == "R002"
    with pytest.raises(ProblemError) as refused:
        import_evidence(root, file, target="MLR-7", role="verifier")
    assert refused.value.diagnostic.code == "R060"
    with pytest.raises(ProblemError) as refused:
        import_evidence(root, file, target="MLR-7", role="assessor")  # type: ignore[arg-type]
    assert refused.value.diagnostic.code == "R002"
    with pytest.raises(ProblemError) as refused:  # --for must say what the file says
        import_evidence(root, file, target="MLR-1", dataset="P", role="verifier", key=key)
    assert (refused.value.diagnostic.code, refused.value.diagnostic.location.line) == ("R002", 3)
    nodes = document_targets(build_case(root))
    assert (nodes["G6.7"], nodes["G2.3"], nodes.get("S6.3")) == (6, 2, None)
    document = document_file(root, "G2.3")
    with pytest.raises(ProblemError) as refused:
        import_evidence(root, document, target="G2.3", nodes=nodes)
    assert refused.value.diagnostic.code == "R086"


# -- documents ------------------------------------------------------------------------------------


def test_a_document_keeps_its_own_verdict_marked_as_such(root: Path) -> None:
    file = document_file(root, "G6.7", verdict="pass")
    nodes = document_targets(build_case(root))
    report = import_evidence(root, file, target="G6.7", nodes=nodes)
    record = report.record
    assert (report.key, record.stage, record.role) == ("external/node/G6.7", 6, "developer")
    assert record.check == "import.document"
    assert record.verdict == "pass"
    assert "a document's statement, not computed by amlas" in record.summary
    assert record.provenance is not None
    assert record.provenance.document is not None
    assert record.provenance.document.sha256 == sha256(root / "reports" / "pilot.txt")
    assert record.inputs["import:reports/pilot.txt"] == sha256(root / "reports" / "pilot.txt")
    case = build_case(root)
    solution = case.nodes["Sn-ext-G6.7"]
    assert "Sn-ext-G6.7" in case.nodes["G6.7"].supported_by
    assert solution.status == "supported"
    assert "a document's statement, not computed by amlas" in solution.reason
    assert any("the document's own statement" in note for note in solution.notes)
    assert solution.evidence == [report.digest]


def test_a_document_stands_in_for_the_records_a_solution_lacks(root: Path) -> None:
    before = build_case(root).nodes["Sn6.2"]  # integration test results: no scenario run
    assert before.status == "undeveloped"
    assert "no evidence record stage6/scenario/SCN-1, " in before.reason  # every planned one
    file = document_file(root, "Sn6.2")
    report = import_evidence(root, file, target="Sn6.2", nodes=document_targets(build_case(root)))
    solution = build_case(root).nodes["Sn6.2"]
    assert solution.status == "supported"
    assert solution.evidence == [report.digest]
    assert any(
        "stage6/scenario/SCN-1" in n
        and "the imported documents attached to this node stand in" in n
        for n in solution.notes
    )


def test_a_failing_document_challenges_its_node(root: Path) -> None:
    file = document_file(root, "G6.7", verdict="fail")
    import_evidence(root, file, target="G6.7", nodes={"G6.7": 6})
    case = build_case(root)
    assert case.nodes["Sn-ext-G6.7"].status == "failed"
    assert case.nodes["G6.7"].status == "failed"
    assert case.nodes["CSn-ext-G6.7"].challenges == "G6.7"


def test_a_document_for_a_requirement(root: Path, key: VerifierKey) -> None:
    file = document_file(root, "MLR-7")
    report = import_evidence(root, file, target="MLR-7", role="verifier", key=key)
    assert report.key == "external/MLR-7"
    solution = build_case(root).nodes["Sn5.2.MLR-7"]
    assert solution.status == "supported"
    assert "(1 a document's statement, not computed by amlas)" in solution.reason


# -- staleness -------------------------------------------------------------------------------------


def test_a_changed_file_makes_the_record_stale(root: Path, key: VerifierKey) -> None:
    judge_mlr7(root, LATENCY)
    file = counts_file(root, one_slice(9950, 10000))
    import_evidence(root, file, target="MLR-7", role="verifier", key=key)
    assert not any(c.key == "external/MLR-7" for c in analyse_impact(root).checks)
    file.write_text(file.read_text("utf-8") + "notes: recounted\n", "utf-8")
    impact = analyse_impact(root)
    stale = [r for r in impact.stale if r.key == "external/MLR-7"]
    assert [r.inputs for r in stale] == [("import:imports/latency.yaml (changed)",)]
    check = next(c for c in impact.checks if c.key == "external/MLR-7")
    assert check.command == (
        "amlas evidence import DIR DIR/imports/latency.yaml --for MLR-7 --role verifier "
        "--key-file KEY"
    )
    assert build_case(root).nodes["Sn5.2.MLR-7"].status == "stale"


def test_a_changed_document_makes_the_record_stale(root: Path) -> None:
    file = document_file(root, "G6.7")
    import_evidence(root, file, target="G6.7", nodes={"G6.7": 6})
    (root / "reports" / "pilot.txt").write_text("Pilot, revised.\n", "utf-8")
    impact = analyse_impact(root)
    assert [r.inputs for r in impact.stale] == [("import:reports/pilot.txt (changed)",)]
    assert build_case(root).nodes["Sn-ext-G6.7"].status == "stale"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_since_a_revision_the_imported_file_is_an_input(root: Path) -> None:
    file = document_file(root, "G6.7")
    import_evidence(root, file, target="G6.7", nodes={"G6.7": 6})

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)

    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "import")
    file.write_text(file.read_text("utf-8").replace("Three months", "Four months"), "utf-8")
    impact = analyse_impact(root, since="HEAD")
    assert "import:imports/G6.7-document.yaml" in impact.changed_inputs
    assert "imports/G6.7-document.yaml" not in impact.other_files
    assert [c.key for c in impact.checks if c.reason == "changed"] == ["external/node/G6.7"]


# -- the plan, the CLI, the report ------------------------------------------------------------


def test_the_plan_says_what_awaits_imported_evidence(root: Path) -> None:
    project = check_project(root).project
    work = plan(project, role="verifier", stages=(5,))
    awaiting = work.get("external/MLR-7")
    assert awaiting is not None
    assert (awaiting.kind, awaiting.runs_in, awaiting.runnable) == (
        "external",
        "amlas evidence import",
        False,
    )
    assert "amlas evidence import DIR FILE --for MLR-7" in str(awaiting.reason)
    notes = {what: why for _, what, why in work.not_planned}
    assert "awaiting imported evidence" in notes["MLR-7"]
    # awaiting an import is not a check amlas must run
    assert not any(c.key == "external/MLR-7" for c in analyse_impact(root).checks)


def test_the_command_line(root: Path, key: VerifierKey, capsys: pytest.CaptureFixture[str]) -> None:
    judge_mlr7(root, LATENCY)
    file = counts_file(root, one_slice(9950, 10000))
    status, out, err = run(
        capsys, "evidence", "import", str(root), str(file), "--for", "MLR-7",
        "--role", "verifier", "--key-file", str(key_file(root)),
    )  # fmt: skip
    assert status == 0, out + err
    assert "imported counts for MLR-7 as external/MLR-7: pass" in out
    assert "slice all: 9950 of 10000, bound 0.993676 >= 0.99: pass" in out
    document = document_file(root, "G6.7", verdict="fail")
    status, out, err = run(capsys, "evidence", "import", str(root), str(document), "--for", "G6.7")
    assert status == 1, out + err  # a failed verdict, as amlas run
    assert "the verdict is the document's own statement" in out
    status, out, err = run(capsys, "evidence", str(root))  # the listing, unchanged
    assert status == 0, out + err
    assert re.search(r"external/MLR-7\s+pass", out)
    assert re.search(r"external/node/G6.7\s+fail", out)
    assert "(imported)" in out
    status, out, err = run(capsys, "evidence", str(root), "--verify")
    assert status == 0, out + err
    unknown = document_file(root, "G9.9")
    status, out, err = run(capsys, "evidence", "import", str(root), str(unknown), "--for", "G9.9")
    assert status == 2
    assert (
        f"{unknown}:3:6: R085 error: G9.9 names neither an [H] requirement nor a goal or "
        "solution of the safety case" in err
    )


def test_the_report_shows_the_provenance(root: Path, key: VerifierKey) -> None:
    judge_mlr7(root, LATENCY)
    file = counts_file(root, one_slice(9950, 10000))
    record = import_evidence(root, file, target="MLR-7", role="verifier", key=key).record
    import_evidence(root, document_file(root, "G6.7"), target="G6.7", nodes={"G6.7": 6})
    html = expanded(render_report(build_case(root), svgs={}))  # the case data inflated
    section = html[html.index("Evidence produced outside amlas") :]
    section = section[: section.index("</table>")]
    assert section.count('<tr class="external">') == 2
    assert "Dr Ada Lee, Platform team" in section
    assert "svc-bench 2.3.1, 2026-03-02" in section
    assert "<code>imports/latency.yaml</code>" in section
    assert sha256(file)[:12] in section
    assert "the document&#39;s statement" in section or "the document's statement" in section
    assert '"origin":"external"' in html  # the evidence panel styles it apart
    assert record.digest in html


def test_records_without_origin_keep_their_digest() -> None:
    plain = EvidenceRecord(
        key="stage5/MLR-1/P",
        check="metric.recall",
        stage=5,
        role="verifier",
        subject="MLR-1",
        dataset="P",
        parameters={},
        resolved={},
        inputs={},
        results=[],
        verdict="pass",
        summary="s",
        versions={},
    )
    assert "origin" not in plain.canonical_json()
    assert "provenance" not in plain.canonical_json()
    assert plain.digest == hashlib.sha256(plain.canonical_json().encode()).hexdigest()
    with pytest.raises(ValueError, match="come together"):
        EvidenceRecord.model_validate({**plain.model_dump(by_alias=True), "origin": "external"})
