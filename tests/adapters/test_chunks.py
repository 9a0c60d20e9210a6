"""Reading a dataset in chunks (``ChunkedReader.iter_read``): exact chunk sizes, the same
columns as a whole read, from a file or from a sealed file read chunk by chunk."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from amlas.adapters import DatasetError, ReaderOptions, chunk_reader, read_table
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


@pytest.fixture(params=["parquet", "csv"])
def data_file(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, str]:
    fmt = request.param
    path = tmp_path / f"d.{fmt}"
    if fmt == "parquet":
        pq.write_table(_table(1000), path, row_group_size=300)
    else:
        import pyarrow.csv as pa_csv

        pa_csv.write_csv(_table(1000), path)
    return path, fmt


def _same(chunks: list[dict[str, np.ndarray]], whole: dict[str, np.ndarray]) -> None:
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
    _same([dict(c.columns) for c in chunks], dict(read_table(path, fmt).columns))


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


def test_npz_is_read_whole() -> None:
    assert chunk_reader("npz") is None


def test_a_broken_file_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1 not really")
    reader = chunk_reader("parquet")
    assert reader is not None
    with pytest.raises(DatasetError, match=r"d\.parquet: cannot read as Parquet"):
        list(reader.iter_read(path, ReaderOptions(), rows=10, sha256="0" * 64))
