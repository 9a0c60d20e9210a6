"""Stages 4 and 5 on a dataset read in chunks (``verify/_stream.py``): the records are
those of a whole read, the dataset is never held whole, sealed data is decrypted chunk by
chunk, and what only the whole shows (the sample count, ids repeated across chunks, a
damaged chunk) is still found.

The project is a copy of the bundled breast-cancer example; the runs keep to its
proportion requirements (MLR-1 recall in slices, MLR-2 recall, MLR-3 FPR), which tally.
Chunks of 16 rows (batches of 8) cut its 114 samples into 8 chunks.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from chunk_spy import spy_on_chunked_reads

from amlas.errors import ProblemError
from amlas.evidence import open_evidence_detail, seal_dataset
from amlas.hashing import sha256_bytes
from amlas.project import check_project
from amlas.sealing import (
    TamperError,
    VerifierKey,
    canonical_statement,
    public_key_of,
    read_header,
    seal_file,
    sign,
)
from amlas.verify import RunReport, plan, run_project
from amlas.verify import _stream as stream_module
from amlas.verify._context import Streamed

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "breast-cancer-triage"
KEY = VerifierKey.from_secret(bytes(range(32)))


@pytest.fixture
def chunked(monkeypatch: pytest.MonkeyPatch) -> list[Streamed]:
    """Every chunked read of the test."""
    return spy_on_chunked_reads(monkeypatch)


TALLIED = ("MLR-1", "MLR-2", "MLR-3")
"""MLR-1 recall, MLR-2 recall per nuclear-size band, MLR-3 FPR."""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    target = tmp_path / "breast"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("evidence", ".amlas"))
    return target


def _keys(root: Path, role: str, stage: int) -> list[str]:
    work = plan(check_project(root).project, role=role, stages=(stage,))  # type: ignore[arg-type]
    return [c.key for c in work if c.kind == "requirement" and c.subject in TALLIED]


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


def _whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_module, "stream_reason", lambda *_: "read whole for the test")


def _run(root: Path, role: str, stage: int, **kwargs: Any) -> RunReport:
    key = KEY if role == "verifier" else None
    return run_project(
        root,
        role=role,  # type: ignore[arg-type]
        stages=(stage,),
        key=key,
        only=_keys(root, role, stage),
        batch_size=8,
        **kwargs,
    )


def test_stage_4_in_chunks_gives_the_records_of_a_whole_read(
    root: Path, chunked: list[Streamed], monkeypatch: pytest.MonkeyPatch
) -> None:
    in_chunks = _run(root, "developer", 4, chunk_rows=16)
    assert [(s.chunks, s.samples) for s in chunked] == [(8, 114)]
    with monkeypatch.context() as patch:
        _whole(patch)
        whole = _run(root, "developer", 4)
    assert len(chunked) == 1  # the second run read [O] whole
    assert _comparable(in_chunks) == _comparable(whole)
    assert len(_comparable(whole)) == 3
    # a requirement judged per slice: each slice's counts were added over the chunks
    sliced = [r for _, r in in_chunks.records if len(r.results) > 1]
    assert sliced
    assert sum(int(s["samples"]) for s in sliced[0].results) > 16


def test_sealed_data_is_read_chunk_by_chunk_and_gives_the_same_records(
    root: Path, chunked: list[Streamed], monkeypatch: pytest.MonkeyPatch
) -> None:
    seal_dataset(check_project(root).project, "P", KEY)
    sealed = root / "data" / "verification.csv.sealed"
    assert read_header(sealed).chunk_size is not None  # sealed in chunks (version 2)
    # the content is never unsealed whole
    monkeypatch.setattr(
        "amlas.evidence._custody.unseal",
        lambda *_, **__: pytest.fail("[P] was unsealed whole"),
    )
    in_chunks = _run(root, "verifier", 5, chunk_rows=16)
    assert [(s.chunks, s.samples) for s in chunked] == [(8, 114)]
    monkeypatch.undo()
    with monkeypatch.context() as patch:
        _whole(patch)
        whole = _run(root, "verifier", 5)
    assert _comparable(in_chunks) == _comparable(whole)
    assert set(_comparable(whole)) == {"stage5/MLR-1/P", "stage5/MLR-2/P", "stage5/MLR-3/P"}


def _resign(sealed: Path) -> None:
    """Sign the seal statement again over the sealed file as it is now (what only a holder
    of the key could do), so that `amlas check` sees no change and only the chunks'
    authentication can."""
    sidecar = sealed.with_name(sealed.name + ".sig")
    statement = json.loads(sidecar.read_text())
    statement.update(sealed_sha256=sha256_bytes(sealed.read_bytes()))
    del statement["sig"], statement["public_key"]
    signed = {**statement, "public_key": public_key_of(KEY)}
    signed["sig"] = sign(KEY, canonical_statement(statement))
    sidecar.write_text(json.dumps(signed))


def test_a_damaged_chunk_stops_the_run(root: Path) -> None:
    """A changed byte that the seal statement does not show (it is re-signed here, as
    only a holder of the key could) still fails that chunk's authentication."""
    seal_dataset(check_project(root).project, "P", KEY)
    sealed = root / "data" / "verification.csv.sealed"
    data = bytearray(sealed.read_bytes())
    data[-100] ^= 0x01  # inside the last chunk's ciphertext
    sealed.write_bytes(bytes(data))
    _resign(sealed)
    assert not check_project(root).diagnostics.has_errors  # nothing shows without the key
    with pytest.raises(TamperError, match="modified after sealing"):
        _run(root, "verifier", 5, chunk_rows=16)


def _sealed_with(root: Path, edit: Any) -> None:
    """[P] edited, its declared hash updated, then sealed: `amlas check` cannot read it,
    so only the run sees what is wrong with it."""
    path = root / "data" / "verification.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")
    p_yaml = root / "3-data" / "P-verification-data.yaml"
    text = p_yaml.read_text()
    old = next(line for line in text.splitlines() if line.startswith("sha256:"))
    p_yaml.write_text(text.replace(old, f"sha256: {sha256_bytes(path.read_bytes())}"))
    seal_dataset(check_project(root).project, "P", KEY)


def test_an_id_repeated_in_another_chunk_is_found(root: Path) -> None:
    """Row 3's id given to row 100 (chunks 1 and 7): each chunk alone is clean."""

    def repeat(lines: list[str]) -> list[str]:
        first = lines[3].split(",", 1)[0]
        cells = lines[100].split(",", 1)
        lines[100] = first + "," + cells[1]
        return lines

    _sealed_with(root, repeat)
    with pytest.raises(ProblemError) as info:
        _run(root, "verifier", 5, chunk_rows=16)
    assert info.value.diagnostics[0].code == "D022"
    assert "1 sample id(s) repeat" in str(info.value)
    assert "(1 extra row(s)): (sealed)" in str(info.value)  # no value of [P] in the message


def test_every_chunks_problems_are_reported_at_once_as_a_whole_read_reports_them(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows that disagree with sealed [P]'s declaration in chunks 1, 4 and 7, an id
    repeated across chunks and a row missing: a run in chunks of 16 stops with every
    problem, in the words of a whole read (it stopped at the first chunk's, and said
    nothing of the rest until that was fixed). (A plaintext CSV file never gets this far:
    `amlas check` finds the same problems, and a run refuses a project with errors.)"""

    def spoil(lines: list[str]) -> list[str]:
        def cell(row: int, column: int, value: str) -> None:
            cells = lines[row].split(",")
            cells[column] = value
            lines[row] = ",".join(cells)

        cell(2, 1, "")  # chunk 1: an empty label
        for row in (50, 55, 60, 61, 62, 63):  # chunk 4: labels that are no class
            cell(row, 1, f"class-{row}")
        cell(100, 0, "")  # chunk 7: an empty id
        cell(101, 0, lines[3].split(",")[0])  # chunk 7: chunk 1's id again
        return lines[:-1]  # 113 samples, [P] declares 114

    _sealed_with(root, spoil)
    streamed: list[str] = []
    stream = stream_module.stream_dataset
    monkeypatch.setattr(
        stream_module,
        "stream_dataset",
        lambda context, letter: streamed.append(letter) or stream(context, letter),
    )
    found = {}
    for rows in (16, 1 << 20):
        with pytest.raises(ProblemError) as info:
            _run(root, "verifier", 5, chunk_rows=rows)
        found[rows] = [(d.code, d.message) for d in info.value.diagnostics]
    assert streamed == ["P", "P"]  # both runs read [P] in chunks: 8 chunks, then one
    assert found[16] == found[1 << 20]
    assert [code for code, _ in found[16]] == ["D020", "D021", "D021", "D022", "D022"]
    text = " ".join(message for _, message in found[16])
    assert "6 sample(s) have a label that is not a class" in text
    assert "(sample 50, 55, 60, 61, 62 and 1 more)" in text  # sealed: by number, not line
    assert "class-50" not in text  # the values of sealed data stay out of the log


@pytest.mark.parametrize("other", ["a feature left empty", "a feature column missing"])
def test_the_rows_problems_are_reported_before_another_error_as_a_whole_read_does(
    root: Path, other: str
) -> None:
    """A label that is no class in chunk 1 and, later or in the same chunk, something
    else wrong (an empty feature the model fails on in chunk 7; a column missing from
    every chunk): a whole read reports the label, and so does a run in chunks (it
    reported only the other error, blaming the model or the columns)."""

    def spoil(lines: list[str]) -> list[str]:
        cells = lines[2].split(",")
        cells[1] = "nonclass"
        lines[2] = ",".join(cells)
        if other == "a feature left empty":
            cells = lines[100].split(",")
            cells[3] = ""
            lines[100] = ",".join(cells)
        else:
            lines = [",".join(line.split(",")[:2] + line.split(",")[3:]) for line in lines]
        return lines

    _sealed_with(root, spoil)
    for rows in (16, 1 << 20):
        with pytest.raises(ProblemError) as info:
            _run(root, "verifier", 5, chunk_rows=rows)
        assert [d.code for d in info.value.diagnostics] == ["D021"], rows
        assert "(sample 2)" in str(info.value)


def test_the_sample_count_is_of_the_whole_dataset(root: Path) -> None:
    _sealed_with(root, lambda lines: lines[:-1])  # 113 samples, [P] declares 114
    with pytest.raises(ProblemError) as info:
        _run(root, "verifier", 5, chunk_rows=16)
    assert info.value.diagnostics[0].code == "D020"
    assert "holds 113 samples" in str(info.value)


def test_a_check_that_needs_the_whole_set_reads_it_whole(
    root: Path, chunked: list[Streamed]
) -> None:
    """MLR-5 (prediction stability under noise) perturbs the whole set: [O] is read
    whole for every check of the run, and the records are the usual ones."""
    keys = [*_keys(root, "developer", 4), "stage4/MLR-5/O"]
    report = run_project(root, stages=(4,), only=keys, chunk_rows=16, batch_size=8)
    assert chunked == []
    assert "stage4/MLR-5/O" in {r.key for _, r in report.records}


def _reseal_in_small_chunks(root: Path) -> None:
    """[P] sealed again in 512-byte chunks (the example's file is under 1 MiB: one chunk
    at the default size), so that a run reads many encrypted chunks."""
    seal_dataset(check_project(root).project, "P", KEY, keep_plaintext=True)
    plain = root / "data" / "verification.csv"
    seal_file(plain, root / "data" / "verification.csv.sealed", KEY, chunk_size=512)
    plain.unlink()


def test_many_encrypted_chunks_give_the_records_of_a_whole_read(
    root: Path, chunked: list[Streamed], monkeypatch: pytest.MonkeyPatch
) -> None:
    _reseal_in_small_chunks(root)
    assert read_header(root / "data" / "verification.csv.sealed").chunks > 20
    in_chunks = _run(root, "verifier", 5, chunk_rows=16)
    assert [(s.chunks, s.samples) for s in chunked] == [(8, 114)]
    with monkeypatch.context() as patch:
        _whole(patch)
        whole = _run(root, "verifier", 5)
    assert _comparable(in_chunks) == _comparable(whole)


def test_a_damaged_chunk_among_many_is_r061(root: Path) -> None:
    _reseal_in_small_chunks(root)
    sealed = root / "data" / "verification.csv.sealed"
    data = bytearray(sealed.read_bytes())
    data[len(data) // 2] ^= 0x01
    sealed.write_bytes(bytes(data))
    _resign(sealed)
    with pytest.raises(TamperError) as info:
        _run(root, "verifier", 5, chunk_rows=16)
    assert info.value.diagnostics[0].code == "R061"


def test_a_csv_whose_later_block_widens_a_column_is_read_whole(
    root: Path, chunked: list[Streamed], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A column of whole numbers in the first block and a decimal later: pyarrow fixes
    the type on the first block, so the run reads [O] whole, as `amlas check` does."""
    path = root / "data" / "internal-test.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    column = header.index("mean_area")
    rows = [line.split(",") for line in lines[1:]]
    for row in rows[:-1]:
        row[column] = str(round(float(row[column])))
    path.write_text("\n".join([lines[0], *(",".join(r) for r in rows)]) + "\n")
    o_yaml = root / "3-data" / "O-internal-test-data.yaml"
    text = o_yaml.read_text()
    old = next(line for line in text.splitlines() if line.startswith("sha256:"))
    o_yaml.write_text(text.replace(old, f"sha256: {sha256_bytes(path.read_bytes())}"))
    monkeypatch.setattr("amlas.adapters._readers.CSV_BLOCK_SIZE", 2048)
    report = _run(root, "developer", 4, chunk_rows=16)
    assert chunked == []  # the chunked read gave up before any record
    assert any("read whole" in w and "later block" in w for w in report.warnings)
    with monkeypatch.context() as patch:
        _whole(patch)
        whole = _run(root, "developer", 4)
    assert _comparable(report) == _comparable(whole)
