"""`amlas check` reads a plaintext CSV file's ids and labels a block of rows at a time
(it held every id and label of the file before: memory grew with the data), and
:class:`ContentTally` gives over the blocks exactly the problems :func:`content_problems`
gives over the whole file, message for message."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest

import amlas.project.rules.data as data_rules
from amlas.adapters._spill import RepeatedValues
from amlas.project import ContentTally, check_project, content_problems, load_project
from conftest import EXAMPLE

CODES = {"D020", "D021", "D022", "D023"}


def _content(root: Path) -> list[tuple[str, str, str]]:
    found = check_project(root).diagnostics
    return sorted((d.code, d.location.path, d.message) for d in found if d.code in CODES)


def _rewrite(root: Path, name: str, edit: dict[int, tuple[str | None, str | None]]) -> None:
    """Row ``i`` (0-based, below the header) gets the id and label given (None: kept)."""
    path = root / "data" / name
    lines = path.read_text("utf-8").splitlines()
    for i, (new_id, new_label) in edit.items():
        cells = lines[i + 1].split(",")
        cells[0] = cells[0] if new_id is None else new_id
        cells[1] = cells[1] if new_label is None else new_label
        lines[i + 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", "utf-8")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("evidence", ".amlas"))
    return target


def test_check_in_blocks_reports_what_a_whole_read_reports(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Problems spread over many blocks of 7 rows: empty and unknown labels (more than
    the five rows a message quotes, unknown values in no sorted order), empty ids, ids
    repeated across blocks; each message is the one a single block gives."""
    edit: dict[int, tuple[str | None, str | None]] = {
        3: (None, ""),
        9: (None, "zeta"),
        15: ("", None),
        20: ("WDBC-0009", None),  # the first id of [O], repeated two blocks later
        30: (None, "alpha"),
        44: (None, ""),
        51: (None, "mid"),
        60: (None, "zeta"),
        66: ("", "beta"),
        71: ("WDBC-0009", None),
        80: (None, "gamma"),
        95: (None, ""),
        101: (None, "delta"),
        110: (None, "epsilon"),
    }
    _rewrite(root, "internal-test.csv", edit)
    whole = _content(root)
    monkeypatch.setattr(data_rules, "_CHECK_ROWS", 7)
    assert _content(root) == whole
    messages = " ".join(m for _, _, m in whole)
    assert "8 sample(s) have a label that is not a class" in messages
    assert "'alpha', 'beta', 'delta', 'epsilon', 'gamma'" in messages
    assert "1 sample id(s) repeat" in messages
    assert "'WDBC-0009' x3" in messages


def test_a_column_with_text_only_in_a_late_block_reads_as_text(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether a column reads as numbers is decided over the whole column: with a word in
    its last block, '001' and '1' are two different ids in every block, not the id 1."""
    path = root / "data" / "internal-test.csv"
    lines = path.read_text("utf-8").splitlines()
    for i in range(1, len(lines)):
        cells = lines[i].split(",")
        cells[0] = str(i) if i != 2 else "001"
        lines[i] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", "utf-8")
    numeric = _content(root)
    assert [c for c, _, m in numeric if "repeat" in m] == ["D022"]  # 001 is 1
    cells = lines[-1].split(",")
    cells[0] = "last"
    lines[-1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", "utf-8")
    monkeypatch.setattr(data_rules, "_CHECK_ROWS", 7)
    assert not [c for c, _, m in _content(root) if "repeat" in m]


@pytest.mark.parametrize("seed", range(6))
def test_a_tally_over_chunks_equals_the_whole(root: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    ids = rng.choice([f"S{k}" for k in range(int(rng.integers(1, 2 * n + 2)))], size=n)
    ids[rng.random(n) < 0.03] = " "
    labels = rng.choice(["benign", "malignant", "", "Benign", "x", "y", "z", "q", "r"], size=n)
    project = load_project(root).project
    document = project.datasets()["O"]
    classes = ["benign", "malignant"]
    whole = content_problems(document, "O", ids=ids, labels=labels, count=n, classes=classes)
    cuts = np.sort(rng.choice(np.arange(1, max(n, 2)), size=min(5, n - 1), replace=False))
    with RepeatedValues(partitions=4) as spill:
        tally = ContentTally(document, "O", classes=classes, spill=spill)
        for part_ids, part_labels in zip(np.split(ids, cuts), np.split(labels, cuts), strict=True):
            tally.add(ids=part_ids, labels=part_labels, count=len(part_ids))
        assert tally.problems() == whole


@pytest.mark.parametrize("seed", range(4))
def test_tallies_of_chunks_merge_in_any_order_to_the_whole(root: Path, seed: int) -> None:
    """As the chunks of a run come back from the workers: each tallied apart at its
    offset, merged in any order; the values are revealed (plaintext), so the first five
    unknown labels in sorted order must survive the merge."""
    rng = np.random.default_rng(100 + seed)
    n = 300
    ids = np.array([f"S{k}" for k in range(n)])
    ids[rng.random(n) < 0.05] = ""
    labels = rng.choice(["benign", "malignant", "", *[f"u{k}" for k in range(12)]], size=n)
    document = load_project(root).project.datasets()["O"]
    classes = ["benign", "malignant"]
    whole = content_problems(
        document, "O", ids=ids, labels=labels, count=n, classes=classes, whole=False
    )
    cuts = [0, *sorted(rng.choice(np.arange(1, n), size=6, replace=False)), n]
    parts = []
    for start, end in itertools.pairwise(cuts):
        part = ContentTally(document, "O", classes=classes)
        part.add(ids=ids[start:end], labels=labels[start:end], count=end - start, offset=start)
        parts.append(part)
    rng.shuffle(parts)  # type: ignore[arg-type]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged.merge(part)
    assert merged.problems(whole=False) == whole
    assert "'u0', 'u1', 'u10', 'u11', 'u2'" in " ".join(p.message for p in whole)


def test_rows_are_located_on_their_lines_after_blank_lines_and_cells_across_lines(
    root: Path,
) -> None:
    """Blank lines (no sample to the readers) and a quoted id across two lines put a
    sample's line further down than its index plus two: the problems quote the lines the
    rows are on (the samples of a sealed file are quoted by their number: its lines cannot
    be counted again after the run; tests/verify/test_stream.py)."""
    path = root / "data" / "internal-test.csv"
    lines = path.read_text("utf-8").splitlines()
    cells = lines[2].split(",")  # sample 1: its id across two lines
    cells[0] = f'"{cells[0]}\nsecond line"'
    lines[2] = ",".join(cells)
    for row in (6, 41):  # samples 5 and 40: an empty label
        cells = lines[row].split(",")
        cells[1] = ""
        lines[row] = ",".join(cells)
    lines[4:4] = ["", ""]  # two blank lines before sample 3
    path.write_text("\n".join(lines) + "\n\n", "utf-8")
    (found,) = [m for code, _, m in _content(root) if code == "D021"]
    # sample 5: line 7 without the blanks and the extra line of sample 1's id; 10 with them
    assert "2 sample(s) have an empty label" in found
    assert "(line 10, 45)" in found


def test_csv_lines_follow_the_readers_rows(tmp_path: Path) -> None:
    """Blank lines before the header and between rows, CRLF line ends, a quoted cell
    across three lines: each sample's line is where its row starts, as pyarrow counts the
    rows (blank lines are no rows); an index beyond the file is left out."""
    import pyarrow.csv as pa_csv

    from amlas.adapters import CsvLines

    path = tmp_path / "rows.csv"
    path.write_bytes(b'\r\n\r\nid,label\r\na,x\r\n\r\n"b\r\nb\r\nb",y\r\nc,z\r\n\r\n')
    assert pa_csv.read_csv(path).column("id").to_pylist() == ["a", "b\r\nb\r\nb", "c"]
    assert CsvLines(path)([0, 1, 2, 3]) == {0: 4, 1: 6, 2: 9}


def test_the_rows_of_every_problem_are_placed_with_one_read_of_the_file(root: Path) -> None:
    """The messages of a tally place all the rows they quote with one call of
    ``locate`` (each call reads the file again), and asking whether there are problems
    (``found``) reads nothing."""
    calls: list[list[int]] = []

    def locate(indices: list[int]) -> dict[int, int]:
        calls.append(indices)
        return {i: 100 + i for i in indices}

    document = next(iter(load_project(root).project.datasets().values()))
    tally = ContentTally(document, "N", classes=["a", "b"], locate=locate)
    tally.add(ids=["i0", "", "i2"], labels=["a", "", "zzz"], count=3)
    assert tally.found()
    assert calls == []
    messages = " ".join(p.message for p in tally.problems(whole=False))
    assert calls == [[1, 2]]
    assert "(line 101)" in messages
    assert "(line 102)" in messages
