"""Stage 3 on datasets read in chunks (``verify/_stage3.py``): the data rules of [L] and
the independence of the datasets give the records of a whole read, with duplicates, shared
ids and shared groups that span chunks, on plaintext and on sealed data.

The project is a copy of the bundled breast-cancer example, edited so that every
comparison finds something: rows of [N] repeated far apart in [N] (exact duplicates in
other chunks), in [O] and in [P] (under new ids), an id of [N] in [O], a ``patient`` group
column whose groups recur across the sets, a duplicates rule, and (in most tests) no
near-duplicate search. Chunks of 16 rows cut [N]'s 341 samples into 22 chunks.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from amlas.adapters import Table
from amlas.checks._duplicates import content_codes, earlier_exact, hash_groups
from amlas.checks._partitions import (
    Spill,
    byte_codes,
    cross_exact_spilled,
    earlier_exact_spilled,
    row_hashes,
    shared_values,
)
from amlas.errors import ProblemError
from amlas.evidence import open_evidence_detail, seal_dataset
from amlas.hashing import sha256_bytes
from amlas.project import check_project
from amlas.sealing import VerifierKey
from amlas.verify import RunReport, _stage3, run_project

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "breast-cancer-triage"
KEY = VerifierKey.from_secret(bytes(range(32)))
FILES = {"N": "development.csv", "O": "internal-test.csv", "P": "verification.csv"}
DOCS = {
    "N": "N-development-data.yaml",
    "O": "O-internal-test-data.yaml",
    "P": "P-verification-data.yaml",
}


def _rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text())))


def _write(path: Path, rows: list[list[str]]) -> None:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue())


@pytest.fixture
def root(tmp_path: Path) -> Path:
    target = tmp_path / "breast"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("evidence", ".amlas"))
    data = {k: _rows(target / "data" / f) for k, f in FILES.items()}
    n = data["N"]
    # [N]: row 1 again at rows 40 and 300 (other chunks), row 2 at row 170
    for at, source in ((40, 1), (300, 1), (170, 2)):
        n[at] = [n[at][0], *n[source][1:]]
    # [O] and [P]: rows of [N] under their own ids; [O] holds an id of [N]
    data["O"][5] = [data["O"][5][0], *n[1][1:]]
    data["O"][90] = [data["O"][90][0], *n[1][1:]]
    data["P"][60] = [data["P"][60][0], *n[300][1:]]
    data["O"][33][0] = n[77][0]
    for letter, rows in data.items():
        rows[0].append("patient")
        for i, row in enumerate(rows[1:]):
            row.append(f"patient-{(i * 7 + ord(letter)) % 50}")
        _write(target / "data" / FILES[letter], rows)
        doc_path = target / "3-data" / DOCS[letter]
        doc = yaml.safe_load(doc_path.read_text())
        doc["sha256"] = sha256_bytes((target / "data" / FILES[letter]).read_bytes())
        doc["group_column"] = "patient"
        doc_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    requirements_path = target / "3-data" / "L-data-requirements.yaml"
    requirements = yaml.safe_load(requirements_path.read_text())
    requirements["independence"] = {"near_duplicate_distance": 0}
    requirements["requirements"].append(
        {
            "id": "DR-30",
            "category": "balance",
            "text": "At most 2% of the samples duplicate an earlier one.",
            "traces_to": ["MLR-1"],
            "rule": {"check": "duplicates", "max_rate": 0.02},
        }
    )
    requirements_path.write_text(yaml.safe_dump(requirements, sort_keys=False))
    justification_path = target / "3-data" / "M-data-justification.yaml"
    justification = yaml.safe_load(justification_path.read_text())
    justification["arguments"][0]["data_requirements"].append("DR-30")
    justification_path.write_text(yaml.safe_dump(justification, sort_keys=False))
    return target


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The datasets stage 3 read in chunks."""
    seen: list[str] = []
    original = _stage3._read

    def spy(context: Any, letter: str) -> Any:
        seen.append(letter)
        return original(context, letter)

    monkeypatch.setattr(_stage3, "_read", spy)
    return seen


def _comparable(report: RunReport) -> dict[str, Any]:
    """Each record as it must not change: all but the time-stamped access-log entry and
    the run's metadata."""
    out = {}
    for _, record in report.records:
        inputs = {k: v for k, v in record.inputs.items() if not k.startswith("access_log:")}
        opened = open_evidence_detail({"r": record}, KEY)["r"] if record.sealed_detail else None
        out[record.key] = (
            record.verdict,
            record.summary,
            record.results,
            record.resolved,
            inputs,
            record.sealed_detail.fields if record.sealed_detail is not None else None,
            (opened.results, opened.resolved, opened.summary) if opened is not None else None,
        )
    return out


def _run(root: Path, role: str, **kwargs: Any) -> RunReport:
    key = KEY if role == "verifier" else None
    return run_project(root, role=role, stages=(3,), key=key, **kwargs)  # type: ignore[arg-type]


def _whole(root: Path, role: str, monkeypatch: pytest.MonkeyPatch) -> RunReport:
    with monkeypatch.context() as patch:
        patch.setattr(_stage3, "stage3_reason", lambda *_: "read whole for the test")
        return _run(root, role)


def _findings(report: RunReport) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for _, record in report.records:
        if record.subject == "independence":
            for result in record.results:
                out[f"{result['kind']}@{record.dataset}"] = result["count"]
        elif record.subject == "DR-30":
            out[f"DR-30@{record.dataset}"] = record.results[0]["exact"]
    return out


def test_stage_3_in_chunks_gives_the_records_of_a_whole_read(
    root: Path, reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    chunked = _run(root, "developer", chunk_rows=16)
    assert sorted(reads) == ["N", "O", "P"]
    whole = _whole(root, "developer", monkeypatch)
    assert len(reads) == 3  # the whole run read nothing in chunks
    assert _comparable(chunked) == _comparable(whole)
    found = _findings(chunked)
    # every comparison found something that spans chunks or sets
    assert found["DR-30@N"] == 3
    assert found["exact_duplicates@N+O"] == 6  # 3 rows of [N] x 2 rows of [O]
    assert found["exact_duplicates@N+P"] == 3
    assert found["shared_ids@N+O"] == 1
    assert found["shared_groups@N+O"] > 0
    # one chunk is the whole read too
    assert _comparable(_run(root, "developer", chunk_rows=1 << 20)) == _comparable(whole)


def test_datasets_that_fit_in_one_chunk_are_read_whole_unless_compared_with_a_larger_one(
    root: Path, reads: list[str]
) -> None:
    _run(root, "developer", chunk_rows=1 << 20)
    assert reads == []  # all fit: read whole, and stages 4-5 may reuse the read
    samples = {x: check_project(root).project.datasets()[x].samples for x in "NOP"}
    assert samples["N"] > 200 > max(samples["O"], samples["P"])
    # [N] does not fit in 200 rows: [O] and [P], compared with it, are read in chunks too
    _run(root, "developer", chunk_rows=200)
    assert sorted(reads) == ["N", "O", "P"]


def test_sealed_data_in_chunks_gives_the_records_of_a_whole_read(
    root: Path, reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seal_dataset(check_project(root).project, "P", KEY)
    with monkeypatch.context() as patch:
        patch.setattr(
            "amlas.evidence._custody.unseal",
            lambda *_, **__: pytest.fail("[P] was unsealed whole"),
        )
        chunked = _run(root, "verifier", chunk_rows=16)
    assert sorted(reads) == ["N", "O", "P"]
    whole = _whole(root, "verifier", monkeypatch)
    assert _comparable(chunked) == _comparable(whole)
    assert _findings(chunked)["exact_duplicates@N+P"] == 3


def _near_copy(row: list[str], new_id: str, scale: float) -> list[str]:
    """``row`` under ``new_id`` with every feature moved by ``scale`` of itself."""
    return [new_id, row[1], *[repr(float(v) * (1 + scale)) for v in row[2:-1]], row[-1]]


@pytest.mark.parametrize("role", ["developer", "verifier"])
def test_near_duplicate_searches_in_chunks_give_the_records_of_a_whole_read(
    root: Path, role: str, reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = {k: _rows(root / "data" / f) for k, f in FILES.items()}
    n = data["N"]
    assert n[0][:2] == ["sample_id", "diagnosis"]
    assert n[0][-1] == "patient"
    # near copies of [N]'s rows, far apart in [N] and in [O] and [P]
    for at, source in ((12, 250), (200, 5), (320, 100)):
        n[at] = _near_copy(n[source], n[at][0], 1e-4)
    for letter, at, source in (("O", 7, 30), ("O", 80, 31), ("P", 50, 333), ("P", 51, 2)):
        data[letter][at] = _near_copy(n[source], data[letter][at][0], -2e-4)
    for letter, rows in data.items():
        _write(root / "data" / FILES[letter], rows)
        doc_path = root / "3-data" / DOCS[letter]
        doc = yaml.safe_load(doc_path.read_text())
        doc["sha256"] = sha256_bytes((root / "data" / FILES[letter]).read_bytes())
        doc_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path = root / "3-data" / "L-data-requirements.yaml"
    requirements = yaml.safe_load(path.read_text())
    requirements["independence"] = {"near_duplicate_distance": 0.01}
    for requirement in requirements["requirements"]:
        if requirement["id"] == "DR-30":
            requirement["rule"]["near_duplicate_distance"] = 0.01
    path.write_text(yaml.safe_dump(requirements, sort_keys=False))
    if role == "verifier":
        seal_dataset(check_project(root).project, "P", KEY)
    chunked = _run(root, role, chunk_rows=16)
    assert sorted(reads) == ["N", "O", "P"]
    assert not any("read whole" in w for w in chunked.warnings)
    whole = _whole(root, role, monkeypatch)
    assert _comparable(chunked) == _comparable(whole)
    near = {
        (record.subject, record.dataset): record.results
        for _, record in whole.records
        if record.subject in ("independence", "DR-30")
    }
    assert near["DR-30", "N"][0]["near"] >= 3
    if role == "developer":  # the verifier's records of [P] are sealed
        found = {r["kind"]: r["count"] for r in near["independence", "N+P"]}
        assert found["near_duplicates"] >= 2
    found = {r["kind"]: r["count"] for r in near["independence", "N+O"]}
    assert found["near_duplicates"] >= 2
    assert found["exact_duplicates"] == 6


# -- the spilled comparisons against the whole-set functions ---------------------------------


def _content(rng: np.random.Generator, n: int, texts: bool) -> Table:
    columns: dict[str, Any] = {"x": rng.integers(0, 4, n).astype(np.float64)}
    columns["y"] = np.where(rng.random(n) < 0.1, -0.0, rng.integers(0, 3, n).astype(np.float64))
    if texts:
        columns["t"] = np.array(["", "a", "ab", "é"], dtype=np.str_)[rng.integers(0, 4, n)]
    return Table(columns, "0" * 64, "test")


def _spilled(table: Table, chunk: int, partitions: int, secret: bool) -> Spill:
    spill = Spill(partitions, secret=secret)
    content = table.sample_content()
    buffer, offsets = content.row_bytes()
    raw = np.frombuffer(buffer, dtype=np.uint8)[offsets[0] : offsets[-1]]
    lengths = np.diff(offsets).astype(np.int64)
    starts = offsets[:-1] - offsets[0]
    ids = np.array([f"id-{i}" for i in range(len(table))], dtype=np.str_)
    for first in range(0, len(table), chunk):
        stop = min(first + chunk, len(table))
        piece = raw[starts[first] : (starts[stop] if stop < len(table) else len(raw))]
        spill.spill(
            row_hashes(piece, lengths[first:stop]),
            rows=np.arange(first, stop, dtype=np.int64),
            ids=ids[first:stop],
            lengths=lengths[first:stop],
            data=piece,
        )
    return spill


@pytest.mark.parametrize(("texts", "secret"), [(False, False), (True, True)])
def test_spilled_exact_duplicates_are_those_of_the_whole_set(texts: bool, secret: bool) -> None:
    rng = np.random.default_rng(7)
    a, b = _content(rng, 300, texts), _content(rng, 200, texts)
    # 3 partitions: many distinct rows share each one, as hash collisions would
    with _spilled(a, 37, 3, secret) as spill_a, _spilled(b, 23, 3, secret) as spill_b:
        earlier = earlier_exact(content_codes([a.sample_content()])[0])
        spilled = earlier_exact_spilled(spill_a, 50)
        assert spilled.count == int((earlier >= 0).sum())
        rows = np.flatnonzero(earlier >= 0)[:50]
        assert spilled.first == [(int(i), f"id-{i}", f"id-{earlier[i]}") for i in rows]
        groups = hash_groups(*content_codes([a.sample_content(), b.sample_content()]))
        cross = cross_exact_spilled(spill_a, spill_b, 50)
        assert (cross.pairs, cross.samples_a, cross.samples_b) == (
            groups.pairs,
            groups.samples_a,
            groups.samples_b,
        )
        assert cross.first == [[f"id-{i}", f"id-{j}"] for i, j in groups.examples(50)]


def test_equal_bytes_share_a_code_and_a_hash() -> None:
    data = np.frombuffer(b"abcabxabcab", dtype=np.uint8)
    lengths = np.array([3, 3, 3, 0, 2], dtype=np.int64)
    codes = byte_codes(data, lengths)
    assert codes[0] == codes[2]
    assert len(set(codes.tolist())) == 4
    hashes = row_hashes(data, lengths)
    assert hashes[0] == hashes[2] != hashes[1]


def test_shared_values_are_the_sorted_intersection() -> None:
    with Spill(4) as a, Spill(4, secret=True) as b:
        a.add(np.array(["b", "a", "c", "zz", "a"]), 0)
        a.add(np.array(["q", "é"]), 5)
        b.add(np.array(["zz", "é", "x"]), 0)
        b.add(np.array(["a", "b"]), 3)
        assert shared_values(a, b, 3) == (4, ["a", "b", "zz"])


def test_stages_3_and_5_both_read_sealed_data_in_chunks(
    root: Path, reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run of stages 3 and 5 reads [P] in chunks in each (its stage-3 checks no longer
    make stage 5 read it whole), with the records of whole reads."""
    from amlas.verify import _stream, plan

    seal_dataset(check_project(root).project, "P", KEY)
    work = plan(check_project(root).project, role="verifier", stages=(3, 5))
    keys = [c.key for c in work if c.stage == 3 or c.subject in ("MLR-1", "MLR-2", "MLR-3")]
    streamed: list[str] = []
    original = _stream.stream_dataset

    def spy(context: Any, letter: str) -> Any:
        streamed.append(letter)
        return original(context, letter)

    def run() -> RunReport:
        return _run_stages(root, (3, 5), only=keys, chunk_rows=16, batch_size=8)

    with monkeypatch.context() as patch:
        patch.setattr(_stream, "stream_dataset", spy)
        chunked = run()
    assert streamed == ["P"]
    assert sorted(reads) == ["N", "O", "P"]
    with monkeypatch.context() as patch:
        patch.setattr(_stage3, "stage3_reason", lambda *_: "read whole for the test")
        patch.setattr(_stream, "stream_reason", lambda *_: "read whole for the test")
        whole = run()
    assert _comparable(chunked) == _comparable(whole)
    assert any(r.stage == 5 for _, r in chunked.records)


def _run_stages(root: Path, stages: tuple[int, ...], **kwargs: Any) -> RunReport:
    return run_project(root, role="verifier", stages=stages, key=KEY, **kwargs)


def test_every_chunks_problems_are_reported_as_a_whole_read_reports_them(
    root: Path, reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sealed [P] with rows that disagree with its declaration in chunks 1, 4 and 7 and a
    row missing: stage 3 in chunks stops with every problem, in a whole read's words (it
    stopped at the first chunk's)."""
    path = root / "data" / FILES["P"]
    rows = _rows(path)
    rows[3][1] = ""
    for at in (50, 52, 54, 55, 56, 57):
        rows[at][1] = f"class-{at}"
    rows[100][0] = ""
    _write(path, rows[:-1])
    doc_path = root / "3-data" / DOCS["P"]
    doc = yaml.safe_load(doc_path.read_text())
    doc["sha256"] = sha256_bytes(path.read_bytes())
    doc_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    seal_dataset(check_project(root).project, "P", KEY)
    with pytest.raises(ProblemError) as chunked:
        _run(root, "verifier", chunk_rows=16)
    assert "P" in reads
    with pytest.raises(ProblemError) as whole:
        _whole(root, "verifier", monkeypatch)
    found = [(d.code, d.message) for d in chunked.value.diagnostics]
    assert found == [(d.code, d.message) for d in whole.value.diagnostics]
    assert [code for code, _ in found] == ["D020", "D021", "D021", "D022"]
    assert "(sample 50, 52, 54, 55, 56 and 1 more)" in str(chunked.value)  # sealed: by number
