"""Reading CSV, Parquet, NPZ and image folders into a Table (src/amlas/adapters/_readers.py)."""

from __future__ import annotations

import io
import os
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from amlas.adapters import ColumnError, DatasetError, Table, pack_folder, read_table
from amlas.errors import UsageError
from amlas.hashing import sha256_bytes, sha256_file, sha256_tree

CSV_TEXT = (
    "sample_id,age,score,group,flag\nP-001,34,0.5,a,true\nP-002,,1.25,,false\nP-003,51,,c,true\n"
)


def _write_parquet(path: Path) -> None:
    table = pa.table(
        {
            "sample_id": ["P-001", "P-002", "P-003"],
            "age": pa.array([34, None, 51], type=pa.int64()),
            "score": [0.5, 1.25, None],
            "group": ["a", None, "c"],
            "flag": [True, False, True],
        }
    )
    pq.write_table(table, path)


def _check_example(table: Table) -> None:
    assert table.names == ["sample_id", "age", "score", "group", "flag"]
    assert len(table) == 3
    assert table.column("sample_id").dtype.kind == "U"
    assert table.column("sample_id").tolist() == ["P-001", "P-002", "P-003"]
    age = table.column("age")
    assert age.dtype == np.float64  # an int column with a null becomes float with NaN
    assert age[[0, 2]].tolist() == [34, 51]
    assert np.isnan(age[1])
    score = table.column("score")
    assert score.dtype == np.float64
    assert score[:2].tolist() == [0.5, 1.25]
    assert np.isnan(score[2])
    assert table.column("group").tolist() == ["a", "", "c"]  # a null text cell is ""
    assert table.column("flag").dtype == np.int64
    assert table.column("flag").tolist() == [1, 0, 1]


def test_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text(CSV_TEXT)
    table = read_table(path, "csv")
    _check_example(table)
    assert table.sha256 == sha256_file(path)
    assert table.source == str(path)


def test_csv_integers_without_nulls_stay_int64(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("id,n\n001,1\nA-2,2\n")
    table = read_table(path, "csv")
    assert table.column("n").dtype == np.int64
    assert table.column("id").tolist() == ["001", "A-2"]  # one non-number keeps the text


def test_parquet_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    _write_parquet(path)
    table = read_table(path, "parquet")
    _check_example(table)
    assert table.sha256 == sha256_file(path)


@pytest.mark.parametrize(
    "values",
    [pa.array([2**53 + 1, None, 3], pa.int64()), pa.array([2**64 - 1, 1], pa.uint64())],
)
def test_integers_float64_cannot_hold_are_refused_not_rounded(
    tmp_path: Path, values: pa.Array
) -> None:
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"count": values}), path)
    with pytest.raises(DatasetError) as raised:
        read_table(path, "parquet")
    assert raised.value.diagnostic.code == "R011"
    assert "'count'" in str(raised.value)
    assert "2**53" in str(raised.value)
    # within 2**53 the missing value is NaN and the others exact
    pq.write_table(pa.table({"count": pa.array([2**53, None], pa.int64())}), path)
    read = read_table(path, "parquet").column("count")
    assert read[0] == 2**53
    assert np.isnan(read[1])


def test_parquet_dictionary_column_reads_as_text(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"band": pa.array(["lo", "hi", "lo"]).dictionary_encode()}), path)
    assert read_table(path, "parquet").column("band").tolist() == ["lo", "hi", "lo"]


def test_equal_rows_hash_equal_across_csv_and_parquet(tmp_path: Path) -> None:
    csv = tmp_path / "data.csv"
    csv.write_text(CSV_TEXT)
    parquet = tmp_path / "data.parquet"
    _write_parquet(parquet)
    from_csv = read_table(csv, "csv").sample_hashes()
    from_parquet = read_table(parquet, "parquet").sample_hashes()
    assert from_csv.tolist() == from_parquet.tolist()
    assert len(set(from_csv.tolist())) == 3


def _write_npz(path: Path) -> dict[str, np.ndarray]:
    arrays = {
        "sample_id": np.array(["a", "b", "c"]),
        "code": np.array([b"x", b"y", b"z"]),
        "label": np.array([0, 1, 1], dtype=np.int32),
        "value": np.array([0.5, np.nan, 2.0], dtype=np.float32),
        "image": np.arange(3 * 2 * 2 * 3, dtype=np.uint8).reshape(3, 2, 2, 3),
    }
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return arrays


def test_npz_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    arrays = _write_npz(path)
    table = read_table(path, "npz")
    assert table.names == ["sample_id", "code", "label", "value"]
    assert table.column("sample_id").tolist() == ["a", "b", "c"]
    assert table.column("code").dtype.kind == "U"
    assert table.column("code").tolist() == ["x", "y", "z"]
    assert table.column("label").dtype == np.int64
    assert table.column("value").dtype == np.float64
    assert np.isnan(table.column("value")[1])
    assert list(table.arrays) == ["image"]
    np.testing.assert_array_equal(table.arrays["image"], arrays["image"])
    assert table.sha256 == sha256_file(path)


def _png(mode: str, size: tuple[int, int], value: int) -> Image.Image:
    colour: int | tuple[int, int, int] = value if mode == "L" else (value, 0, 255 - value)
    return Image.new(mode, size, colour)


def _image_folder(root: Path, modes: list[str], size: tuple[int, int] = (4, 3)) -> Path:
    """A folder of tiny PNGs plus labels.csv inside it."""
    (root / "img" / "sub").mkdir(parents=True)
    lines = ["file,label,sample_id"]
    for i, mode in enumerate(modes):
        name = f"img/sub/{i:03d}.png" if i % 2 else f"img/{i:03d}.png"
        _png(mode, size, 10 * i).save(root / name)
        lines.append(f"{name},{'cat' if i % 2 else 'dog'},S-{i}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root / "labels.csv"


def test_image_folder_rgb(tmp_path: Path) -> None:
    root = tmp_path / "images"
    meta = _image_folder(root, ["RGB", "L", "RGB"])  # mixed modes: converted to RGB
    table = read_table(root, "image_folder", metadata_table=meta)
    images = table.arrays["image"]
    assert images.shape == (3, 3, 4, 3)
    assert images.dtype == np.uint8
    assert images[0, 0, 0].tolist() == [0, 0, 255]
    assert images[1, 0, 0].tolist() == [10, 10, 10]  # grayscale copied to every channel
    assert images[2, 0, 0].tolist() == [20, 0, 235]
    assert table.column("label").tolist() == ["dog", "cat", "dog"]
    assert table.column("sample_id").tolist() == ["S-0", "S-1", "S-2"]
    assert table.column("file").tolist()[1] == "img/sub/001.png"
    assert table.sha256 == sha256_tree(root)
    assert table.source == str(root)


def test_image_folder_grayscale(tmp_path: Path) -> None:
    root = tmp_path / "images"
    meta = _image_folder(root, ["L", "L"])
    table = read_table(root, "image_folder", metadata_table=meta)
    assert table.arrays["image"].shape == (2, 3, 4, 1)
    assert table.arrays["image"][1, 2, 3, 0] == 10


def test_image_folder_metadata_outside_folder_and_parquet(tmp_path: Path) -> None:
    root = tmp_path / "images"
    _image_folder(root, ["RGB", "RGB"])
    meta = tmp_path / "meta.parquet"
    pq.write_table(pa.table({"path": ["img/000.png", "img/sub/001.png"], "y": [1, 0]}), meta)
    table = read_table(root, "image_folder", metadata_table=meta, image_column="path")
    assert table.arrays["image"].shape == (2, 3, 4, 3)
    assert table.column("y").tolist() == [1, 0]


# --- reading from bytes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "format", "write"),
    [
        (".csv", "csv", lambda p: p.write_text(CSV_TEXT)),
        (".parquet", "parquet", _write_parquet),
    ],
)
def test_tables_read_from_bytes(
    tmp_path: Path, suffix: str, format: str, write: Callable[[Path], None]
) -> None:
    path = tmp_path / f"data{suffix}"
    write(path)
    data = path.read_bytes()
    path.unlink()  # the bytes alone are read
    table = read_table(path, format, data=data)  # type: ignore[arg-type]
    _check_example(table)
    assert table.sha256 == sha256_bytes(data)
    assert table.source == str(path)


def test_npz_read_from_bytes(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    arrays = _write_npz(path)
    data = path.read_bytes()
    path.unlink()
    table = read_table(path, "npz", data=data)
    np.testing.assert_array_equal(table.arrays["image"], arrays["image"])
    assert table.sha256 == sha256_bytes(data)


def test_image_folder_read_from_tar_bytes(tmp_path: Path) -> None:
    root = tmp_path / "images"
    meta = _image_folder(root, ["RGB", "L", "RGB"])
    on_disk = read_table(root, "image_folder", metadata_table=meta)
    data = pack_folder(root)
    sealed = tmp_path / "sealed"  # the folder itself need not exist
    table = read_table(sealed, "image_folder", metadata_table=sealed / "labels.csv", data=data)
    np.testing.assert_array_equal(table.arrays["image"], on_disk.arrays["image"])
    assert table.names == on_disk.names
    assert table.sample_hashes().tolist() == on_disk.sample_hashes().tolist()
    assert table.sha256 == sha256_bytes(data)


def test_sealed_image_folder_needs_its_metadata_inside(tmp_path: Path) -> None:
    root = tmp_path / "images"
    _image_folder(root, ["RGB"])
    with pytest.raises(DatasetError, match="must lie inside the folder"):
        read_table(root, "image_folder", metadata_table=tmp_path / "x.csv", data=pack_folder(root))


# --- pack_folder ---------------------------------------------------------------------


def test_pack_folder_is_deterministic(tmp_path: Path) -> None:
    root = tmp_path / "images"
    _image_folder(root, ["RGB", "L", "RGB"])
    first = pack_folder(root)
    assert pack_folder(root) == first
    for file in root.rglob("*"):
        os.utime(file, (time.time() + 1000, time.time() + 5000))
    assert pack_folder(root) == first

    with tarfile.open(fileobj=io.BytesIO(first), mode="r:") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    assert {m.mode for m in members if m.isdir()} == {0o755}
    assert {m.mode for m in members if m.isfile()} == {0o644}
    assert {"labels.csv", "img/sub/001.png"} <= set(names)


def test_pack_folder_independent_of_creation_order(tmp_path: Path) -> None:
    for name, order in (("one", ["b.txt", "a.txt"]), ("two", ["a.txt", "b.txt"])):
        (tmp_path / name).mkdir()
        for file in order:
            (tmp_path / name / file).write_text(file)
    assert pack_folder(tmp_path / "one") == pack_folder(tmp_path / "two")


# --- large data ----------------------------------------------------------------------


@pytest.mark.slow
def test_million_row_csv_reads_whole(tmp_path: Path) -> None:
    """A million rows read completely (speed is measured in benchmarks/, not asserted:
    a timed assertion fails whenever the machine is busy)."""
    rng = np.random.default_rng(0)
    values = rng.normal(size=(1_000_000, 30)).round(4)  # smaller file, same row count
    path = tmp_path / "big.csv"
    pa_table = pa.table({f"f{j}": values[:, j] for j in range(30)})
    import pyarrow.csv as pa_csv

    pa_csv.write_csv(pa_table, path)
    table = read_table(path, "csv")
    assert len(table) == 1_000_000
    assert table.numeric(["f0", "f29"]).shape == (1_000_000, 2)
    assert np.array_equal(table.numeric(["f29"])[:, 0], values[:, 29])


# --- bad inputs ----------------------------------------------------------------------


def _missing_file(tmp: Path) -> Table:
    return read_table(tmp / "nope.csv", "csv")


def _missing_folder(tmp: Path) -> Table:
    return read_table(tmp / "nope", "image_folder", metadata_table=tmp / "m.csv")


def _ragged_npz(tmp: Path) -> Table:
    np.savez(tmp / "r.npz", a=np.zeros(3), b=np.zeros((4, 2)))
    return read_table(tmp / "r.npz", "npz")


def _scalar_npz(tmp: Path) -> Table:
    np.savez(tmp / "s.npz", a=np.zeros(3), b=np.float64(1.0))
    return read_table(tmp / "s.npz", "npz")


def _pickled_npz(tmp: Path) -> Table:
    np.savez(tmp / "o.npz", a=np.array([{"x": 1}, None], dtype=object))
    return read_table(tmp / "o.npz", "npz")


def _not_npz(tmp: Path) -> Table:
    (tmp / "x.npz").write_bytes(b"not a zip at all")
    return read_table(tmp / "x.npz", "npz")


def _ragged_csv(tmp: Path) -> Table:
    (tmp / "r.csv").write_text("a,b\n1,2\n3\n")
    return read_table(tmp / "r.csv", "csv")


def _not_parquet(tmp: Path) -> Table:
    (tmp / "x.parquet").write_text("a,b\n1,2\n")
    return read_table(tmp / "x.parquet", "parquet")


def _image_size(tmp: Path) -> Table:
    root = tmp / "images"
    meta = _image_folder(root, ["RGB", "RGB", "RGB"])
    _png("RGB", (5, 3), 0).save(root / "img" / "sub" / "001.png")
    return read_table(root, "image_folder", metadata_table=meta)


def _missing_image(tmp: Path) -> Table:
    root = tmp / "images"
    meta = _image_folder(root, ["RGB", "RGB"])
    (root / "img" / "sub" / "001.png").unlink()
    return read_table(root, "image_folder", metadata_table=meta)


def _missing_sealed_image(tmp: Path) -> Table:
    root = tmp / "images"
    meta = _image_folder(root, ["RGB", "RGB"])
    (root / "img" / "sub" / "001.png").unlink()
    return read_table(root, "image_folder", metadata_table=meta, data=pack_folder(root))


def _sealed_not_tar(tmp: Path) -> Table:
    root = tmp / "images"
    return read_table(root, "image_folder", metadata_table=root / "m.csv", data=b"x" * 600)


def _sealed_without_metadata(tmp: Path) -> Table:
    root = tmp / "images"
    _image_folder(root, ["RGB"])
    data = pack_folder(root)
    return read_table(root, "image_folder", metadata_table=root / "other.csv", data=data)


def _escaping_path(tmp: Path) -> Table:
    root = tmp / "images"
    _image_folder(root, ["RGB"])
    _png("RGB", (4, 3), 0).save(tmp / "outside.png")
    (root / "m.csv").write_text("file,label\nimg/000.png,a\n../outside.png,b\n")
    return read_table(root, "image_folder", metadata_table=root / "m.csv")


def _absolute_path(tmp: Path) -> Table:
    root = tmp / "images"
    _image_folder(root, ["RGB"])
    (root / "m.csv").write_text(f"file,label\n{root / 'img' / '000.png'},a\n")
    return read_table(root, "image_folder", metadata_table=root / "m.csv")


def _not_an_image(tmp: Path) -> Table:
    root = tmp / "images"
    meta = _image_folder(root, ["RGB", "RGB"])
    (root / "img" / "sub" / "001.png").write_text("hello")
    return read_table(root, "image_folder", metadata_table=meta)


def _no_image_column(tmp: Path) -> Table:
    root = tmp / "images"
    meta = _image_folder(root, ["RGB"])
    return read_table(root, "image_folder", metadata_table=meta, image_column="files")


def _no_metadata(tmp: Path) -> Table:
    root = tmp / "images"
    _image_folder(root, ["RGB"])
    return read_table(root, "image_folder")


def _not_numeric(tmp: Path) -> Table:
    (tmp / "d.csv").write_text(CSV_TEXT)
    table = read_table(tmp / "d.csv", "csv")
    table.numeric(["age", "group"])
    return table


def _unknown_column(tmp: Path) -> Table:
    (tmp / "d.csv").write_text(CSV_TEXT)
    table = read_table(tmp / "d.csv", "csv")
    table.column("scor")
    return table


def _invalid_utf8(tmp: Path) -> Table:
    (tmp / "u.csv").write_bytes(b"a,b\n1,ok\n2,\xff\xfe\n")
    return read_table(tmp / "u.csv", "csv")


def _duplicate_columns(tmp: Path) -> Table:
    (tmp / "d.csv").write_text("a,a\n1,2\n")
    return read_table(tmp / "d.csv", "csv")


BAD_INPUTS: list[tuple[Callable[[Path], Table], type[Exception], str]] = [
    (_missing_file, DatasetError, r"nope\.csv: dataset file not found"),
    (_missing_folder, DatasetError, r"nope: image folder not found"),
    (_ragged_npz, DatasetError, r"r\.npz: arrays differ in length along axis 0 \(a=3, b=4\)"),
    (_scalar_npz, DatasetError, r"array 'b' is a scalar"),
    (_pickled_npz, DatasetError, r"o\.npz: array 'a' cannot be read: Object arrays"),
    (_not_npz, DatasetError, r"x\.npz: cannot read as NPZ"),
    (_ragged_csv, DatasetError, r"r\.csv: cannot read as CSV: .*Expected 2 columns, got 1"),
    (_not_parquet, DatasetError, r"x\.parquet: cannot read as Parquet"),
    (
        _image_size,
        DatasetError,
        r"labels\.csv:line 3: image 'img/sub/001\.png' is 5x3 pixels; expected 4x3 "
        r"like 'img/000\.png'",
    ),
    (_missing_image, DatasetError, r"labels\.csv:line 3: image 'img/sub/001\.png' not found"),
    (_missing_sealed_image, DatasetError, r"labels\.csv:line 3: image 'img/sub/001\.png' not"),
    (_sealed_not_tar, DatasetError, r"images: sealed image folder is not an uncompressed tar"),
    (_sealed_without_metadata, DatasetError, r"holds no metadata table 'other\.csv'"),
    (_escaping_path, DatasetError, r"m\.csv:line 3: image path '\.\./outside\.png' leaves"),
    (_absolute_path, DatasetError, r"m\.csv:line 2: image path .* is absolute"),
    (_not_an_image, DatasetError, r"labels\.csv:line 3: 'img/sub/001\.png' is not an image"),
    (_no_image_column, DatasetError, r"no column 'files' naming the images; did you mean 'file'"),
    (_no_metadata, DatasetError, r"needs a metadata table"),
    (_not_numeric, ColumnError, r"column 'group' holds <U1 values \(e\.g\. np\.str_\('a'\)\)"),
    (_unknown_column, ColumnError, r"no column 'scor'; did you mean 'score'\?"),
    (_invalid_utf8, DatasetError, r"u\.csv:line 3: column 'b' holds b'\\xff\\xfe'"),
    (_duplicate_columns, DatasetError, r"duplicate column name\(s\) 'a'"),
]


@pytest.mark.parametrize(
    ("make", "error", "message"), BAD_INPUTS, ids=[make.__name__[1:] for make, *_ in BAD_INPUTS]
)
def test_bad_input_gives_located_error(
    tmp_path: Path, make: Callable[[Path], Table], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        make(tmp_path)
    assert isinstance(caught.value, UsageError)
    assert "\n" not in str(caught.value)


def test_missing_pillow_gives_install_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    root = tmp_path / "images"
    meta = _image_folder(root, ["RGB"])
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(DatasetError, match=r"pip install 'amlas\[images\]'"):
        read_table(root, "image_folder", metadata_table=meta)


def test_sample_hashes_do_not_depend_on_the_other_rows() -> None:
    """Equal rows hash equal in two tables whatever else they hold (no string padding),
    and -0.0 equals 0.0."""
    short = Table({"t": np.array(["abc"]), "x": np.array([0.0])}, sha256="0" * 64, source="a")
    wide = Table(
        {"t": np.array(["abc", "a much longer value"]), "x": np.array([-0.0, 1.0])},
        sha256="0" * 64,
        source="b",
    )
    assert short.sample_hashes()[0] == wide.sample_hashes()[0]
    assert wide.sample_hashes()[0] != wide.sample_hashes()[1]


def test_empty_cells_read_as_empty_text_not_nan_or_none(tmp_path: Path) -> None:
    """An empty id or label is missing: it must read as '' (which `amlas check` and
    `amlas run` refuse, D021/D022), never as the text 'nan' or 'None'."""
    path = tmp_path / "gaps.csv"
    path.write_text("sample_id,label,code\n,positive,1\n,,\n,negative,3\n", encoding="utf-8")
    table = read_table(path, "csv")
    assert table.text("sample_id").tolist() == ["", "", ""]  # an all-empty column
    assert table.text("label").tolist() == ["positive", "", "negative"]
    assert table.text("code").tolist() == ["1", "", "3"]


@pytest.mark.parametrize("distinct", [3, 5000])
def test_text_columns_read_through_their_dictionary_equal_the_plain_conversion(
    distinct: int,
) -> None:
    """A text column of few distinct values is converted through its dictionary: the same
    strings, in the same numpy width, as converting every cell (nulls as "")."""
    import pyarrow.compute as pc

    from amlas.adapters._readers import _column_to_numpy

    rng = np.random.default_rng(1)
    values = np.array(["day", "", "nuit é", "a\x00b", *map(str, range(distinct))])
    cells = [None if k % 97 == 0 else str(values[k % len(values)]) for k in range(6000)]
    rng.shuffle(cells)
    column = pa.chunked_array([pa.array(cells[:2500]), pa.array(cells[2500:])])
    expected = np.asarray(pc.fill_null(column, "").to_numpy(zero_copy_only=False), dtype=np.str_)
    got = _column_to_numpy(column, "t.csv", "c", "line")
    assert got.dtype == expected.dtype
    assert got.tolist() == expected.tolist()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet=st.sampled_from("aZ7 -~\x00\x01\x7fé"), max_size=9), min_size=1),
    st.data(),
)
def test_ascii_text_built_from_the_buffers_equals_the_value_by_value_conversion(
    cells: list[str], data: st.DataObject
) -> None:
    """The ASCII fast path gives the value-by-value conversion's array to the byte (the
    same width, embedded and trailing NULs kept), on sliced arrays too, and declines
    anything else (non-ASCII text, only empty values)."""
    from amlas.adapters._readers import _ascii_strings, _strings

    column = pa.array(cells, pa.large_string())
    start = data.draw(st.integers(0, len(cells) - 1))
    column = column.slice(start, data.draw(st.integers(1, len(cells) - start)))
    expected = _strings(column)
    got = _ascii_strings(column)
    kept = column.to_pylist()
    if all(v.isascii() for v in kept) and any(kept):
        assert got is not None
        assert got.dtype == expected.dtype
        assert got.tobytes() == expected.tobytes()
    else:
        assert got is None


def test_long_ascii_text_is_gathered_in_blocks_to_the_same_array() -> None:
    """Values long enough that the gather's index is cut in blocks of rows."""
    from amlas.adapters._readers import _ascii_strings, _strings

    rng = np.random.default_rng(3)
    cells = ["x" * int(k) + "\x00" * int(k % 3) for k in rng.integers(0, 6000, 3000)]
    column = pa.array(cells, pa.large_string()).slice(7)
    got = _ascii_strings(column)
    expected = _strings(column)
    assert got is not None
    assert got.dtype == expected.dtype
    assert got.tobytes() == expected.tobytes()
