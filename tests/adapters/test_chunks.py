"""Reading a dataset in chunks (``ChunkedReader.iter_read``): exact chunk sizes, the same
columns as a whole read, from a file or from a sealed file read chunk by chunk."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from amlas.adapters import ChunkTypeError, DatasetError, ReaderOptions, chunk_reader, read_table
from amlas.sealing import SealedReader, VerifierKey, seal

KEY = VerifierKey.from_secret(bytes(range(32)))


def _table(n: int) -> pa.Table:
    rng = np.random.default_rng(1)
    return pa.table(
        {
            "id": [f"S-{i:05d}" for i in range(n)],
            "label": rng.choice(["a", "b"], size=n),
            "x": rng.normal(size=n),
            "k": rng.integers(0, 5, size=n),
        }
    )


def _npz(path: Path, table: pa.Table, *, compressed: bool = False, **more: np.ndarray) -> None:
    columns = {name: table.column(name).to_numpy() for name in table.column_names}
    columns["id"] = columns["id"].astype(np.str_)
    columns["label"] = columns["label"].astype("S1")  # bytes: decoded as text, per chunk
    columns["flag"] = columns["k"] > 2  # booleans: read as integers
    columns["image"] = np.arange(len(table) * 6, dtype=np.uint8).reshape(-1, 2, 3)
    (np.savez_compressed if compressed else np.savez)(path, **columns, **more)


@pytest.fixture(params=["parquet", "csv", "npz", "npz-compressed"])
def data_file(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    fmt = request.param
    path = tmp_path / f"d.{fmt.split('-')[0]}"
    if fmt.startswith("npz"):
        _npz(path, _table(1000), compressed=fmt.endswith("compressed"))
        return path, "npz"
    if fmt == "parquet":
        pq.write_table(_table(1000), path, row_group_size=300)
    else:
        import pyarrow.csv as pa_csv

        pa_csv.write_csv(_table(1000), path)
    return path, fmt


def _same(chunks: list[dict[str, np.ndarray]], whole: dict[str, np.ndarray]) -> None:
    assert all(list(c) == list(whole) for c in chunks)
    for name, values in whole.items():
        joined = np.concatenate([c[name] for c in chunks])
        assert joined.dtype == values.dtype
        assert np.array_equal(joined, values)


@pytest.mark.parametrize("rows", [1, 128, 300, 999, 1000, 5000])
def test_chunks_are_exact_and_add_up_to_the_whole(data_file: tuple[Path, str], rows: int) -> None:
    path, fmt = data_file
    reader = chunk_reader(fmt)
    assert reader is not None
    chunks = list(reader.iter_read(path, ReaderOptions(), rows=rows, sha256="0" * 64))
    sizes = [len(c) for c in chunks]
    assert all(size == rows for size in sizes[:-1])
    assert sum(sizes) == 1000
    assert all(c.sha256 == "0" * 64 for c in chunks)
    whole = read_table(path, fmt)
    _same([dict(c.columns) for c in chunks], dict(whole.columns))
    _same([dict(c.arrays) for c in chunks], dict(whole.arrays))


def test_chunks_from_a_sealed_file(data_file: tuple[Path, str]) -> None:
    path, fmt = data_file
    sealed = seal(path.read_bytes(), KEY, name=path.name, chunk_size=4096)
    reader = chunk_reader(fmt)
    assert reader is not None
    with SealedReader(io.BytesIO(sealed), KEY) as handle:
        chunks = list(
            reader.iter_read(path, ReaderOptions(), rows=256, sha256="0" * 64, handle=handle)
        )
        handle.verify()
    _same([dict(c.columns) for c in chunks], dict(read_table(path, fmt).columns))


def test_an_npz_array_in_fortran_order_is_read_whole(tmp_path: Path) -> None:
    """Its samples are not contiguous: the chunked read stops before giving anything
    (ChunkTypeError: the run then reads the archive whole)."""
    path = tmp_path / "d.npz"
    _npz(path, _table(10), extra=np.asfortranarray(np.ones((10, 3))))
    reader = chunk_reader("npz")
    assert reader is not None
    with pytest.raises(ChunkTypeError, match=r"array 'extra' is stored in Fortran order"):
        list(reader.iter_read(path, ReaderOptions(), rows=4, sha256="0" * 64))
    assert read_table(path, "npz").arrays["extra"].shape == (10, 3)


@pytest.mark.parametrize(
    ("more", "message"),
    [
        ({"extra": np.array([1, 2], dtype=object)}, r"array 'extra' cannot be read: .*objects"),
        ({"extra": np.float64(3.0)}, r"array 'extra' is a scalar"),
        ({"extra": np.ones(9)}, r"arrays differ in length along axis 0 \(.*extra=9"),
    ],
)
def test_a_bad_npz_array_is_a_located_error(
    tmp_path: Path, more: dict[str, np.ndarray], message: str
) -> None:
    path = tmp_path / "d.npz"
    _npz(path, _table(10), **more)
    reader = chunk_reader("npz")
    assert reader is not None
    with pytest.raises(DatasetError, match=r"d\.npz: " + message):
        list(reader.iter_read(path, ReaderOptions(), rows=4, sha256="0" * 64))


def test_a_truncated_npz_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    _npz(path, _table(1000))
    path.write_bytes(path.read_bytes()[:5000])
    reader = chunk_reader("npz")
    assert reader is not None
    with pytest.raises(DatasetError, match=r"d\.npz: "):
        list(reader.iter_read(path, ReaderOptions(), rows=4, sha256="0" * 64))


def test_a_broken_file_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1 not really")
    reader = chunk_reader("parquet")
    assert reader is not None
    with pytest.raises(DatasetError, match=r"d\.parquet: cannot read as Parquet"):
        list(reader.iter_read(path, ReaderOptions(), rows=10, sha256="0" * 64))


@pytest.mark.parametrize("compressed", [False, True], ids=["stored", "deflated"])
def test_a_damaged_npz_member_is_a_located_error(tmp_path: Path, compressed: bool) -> None:
    """A byte changed inside an array's data (a bad CRC, a broken deflate stream) is a
    DatasetError naming the file, read whole or in chunks."""
    path = tmp_path / "d.npz"
    _npz(path, _table(2000), compressed=compressed)
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 64] = bytes(64)
    path.write_bytes(bytes(data))
    reader = chunk_reader("npz")
    assert reader is not None
    with pytest.raises(DatasetError, match=r"d\.npz: "):
        list(reader.iter_read(path, ReaderOptions(), rows=100, sha256="0" * 64))
    with pytest.raises(DatasetError, match=r"d\.npz: "):
        read_table(path, "npz")


def test_a_bad_cell_in_a_later_chunk_is_named_by_its_line_in_the_file(tmp_path: Path) -> None:
    """A cell that is not UTF-8 in the third chunk: the message gives the file's line, as
    a whole read does, not the line within the chunk."""
    path = tmp_path / "d.csv"
    lines = [b"id,note"] + [f"S-{i},ok".encode() for i in range(30)]
    lines[26] = b"S-25,\xff\xfe"  # line 27 of the file
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(DatasetError, match=r"d\.csv:line 27: column 'note'"):
        read_table(path, "csv")
    reader = chunk_reader("csv")
    assert reader is not None
    with pytest.raises(DatasetError, match=r"d\.csv:line 27: column 'note'"):
        list(reader.iter_read(path, ReaderOptions(), rows=10, sha256="0" * 64))


def test_every_chunk_gives_its_samples_the_text_of_a_whole_read(tmp_path: Path) -> None:
    """Ids and labels are compared as text: a chunk's values read as the whole read reads
    them, whatever the other chunks hold. An integer column with an empty cell only in a
    later chunk reads as int64 in the first chunks and as float64 where the gap is (the
    whole read: float64 throughout), and a float column with a fraction only in a later
    chunk: their text must not change with that (before, one 2.5 anywhere made every 1.0
    read "1.0", so the same id read "1" in one chunk and "1.0" in another)."""
    n = 1000
    code = pa.array([None if i == 950 else i % 7 for i in range(n)], pa.int64())
    ids = pa.array([i + 0.5 if i == 900 else float(i) for i in range(n)], pa.float64())
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"id": ids, "code": code}), path, row_group_size=250)
    whole = read_table(path, "parquet")
    reader = chunk_reader("parquet")
    assert reader is not None
    chunks = list(reader.iter_read(path, ReaderOptions(), rows=250, sha256="0" * 64))
    assert [c.column("code").dtype.kind for c in chunks] == ["i", "i", "i", "f"]
    for name in ("id", "code"):
        joined = np.concatenate([c.text(name) for c in chunks])
        assert joined.tolist() == whole.text(name).tolist()
    assert whole.text("id")[[0, 1, 900]].tolist() == ["0", "1", "900.5"]
    assert whole.text("code")[[1, 950]].tolist() == ["1", ""]


def test_a_models_classes_read_as_text_as_the_labels_do() -> None:
    """A model's class values and a dataset's labels are compared as text: both write a
    number value by value (the model's ``[1.0, 2.5]`` read "1.0", "2.5" while the labels
    read "1", "2.5": no label matched class 1)."""
    from amlas.adapters import Table
    from amlas.adapters._outputs import class_names

    values = np.array([1.0, 2.5, 0.0])
    labels = Table(columns={"y": values}, sha256="0" * 64, source="t").text("y")
    assert class_names(values).tolist() == labels.tolist() == ["1", "2.5", "0"]


def test_a_csv_file_is_not_read_far_ahead_of_the_chunks_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyarrow's streaming CSV reader reads the whole file ahead of the batches taken
    unless held back: the file is read at most a few blocks ahead, and read whole."""
    import time

    from amlas.adapters import _readers

    block = 4096
    monkeypatch.setattr(_readers, "CSV_BLOCK_SIZE", block)
    path = tmp_path / "big.csv"
    lines = ["id,x,y"] + [f"s{i},{i * 0.5},{i % 7}" for i in range(40_000)]
    path.write_text("\n".join(lines) + "\n")
    gates: list[Any] = []
    original = _readers._ReadGate.__init__

    def spy(self: Any, raw: Any, *, ahead: int) -> None:
        original(self, raw, ahead=ahead)
        gates.append(self)

    monkeypatch.setattr(_readers._ReadGate, "__init__", spy)
    chunks = _readers._arrow_batches(path, "big.csv", "csv", None, 1000)
    first = next(chunks)
    time.sleep(0.3)  # time for a reader running ahead to run far
    (gate,) = gates
    assert first.num_rows == 1000
    assert gate._read <= 3 * block + 2 * block * 5  # the blocks that hold 1,000 rows
    assert gate._read < path.stat().st_size / 10
    rows = first.num_rows + sum(chunk.num_rows for chunk in chunks)
    assert rows == 40_000
