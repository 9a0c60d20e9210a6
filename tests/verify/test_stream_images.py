"""Images read in chunks: an image folder (``ImageFolderReader.iter_read``, ``verify/_stream.py``):
the images are decoded a chunk at a time, plaintext or sealed, and the records are those
of a whole read; an ``npz`` archive of images likewise (``NpzReader.iter_read``).

The project is the torch image classifier of ``tests/torch_project.py`` with its [P] (60
grey 4x4 images) written as PNG files and a metadata table; the run keeps to two
proportion requirements (recall, and recall per lighting), which tally. Chunks of 16 rows
(batches of 8) cut [P] into 4 chunks.
"""

from __future__ import annotations

import csv
import io
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from chunk_spy import spy_on_chunked_reads

from amlas.adapters import pack_folder
from amlas.errors import UsageError
from amlas.evidence import seal_dataset
from amlas.hashing import sha256_bytes, sha256_tree
from amlas.project import check_project
from amlas.project.artefacts import ARTEFACTS
from amlas.sealing import SealError, VerifierKey
from amlas.verify import RunReport, plan, run_project
from amlas.verify import _stream as stream_module
from amlas.verify._context import Streamed

pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")

from runnable import rows  # noqa: E402
from torch_project import RECALL, image_project, images  # noqa: E402

KEY = VerifierKey.from_secret(bytes(range(32)))


@pytest.fixture
def chunked(monkeypatch: pytest.MonkeyPatch) -> list[Streamed]:
    """Every chunked read of the test."""
    return spy_on_chunked_reads(monkeypatch)


PER_LIGHTING = {
    **RECALL,
    "id": "MLR-8",
    "text": "Recall on hands at least 0.8 in each lighting",
    "threshold": 0.8,
    "applies_to": {"per": ["lighting"]},
}


def _folder(target: Path, *, colour_at: int | None = None) -> None:
    """[P] as an image folder: one PNG per sample and ``meta.csv``; ``colour_at`` saves
    that sample in RGB (the whole folder is then read as RGB)."""
    target.mkdir(parents=True)
    pictures = images("P")[..., 0]
    lines = [("sample_id", "label", "size_mm", "lighting", "file")]
    lighting = ["day", "night"]
    for i, ((sample, label, size), picture) in enumerate(zip(rows("P"), pictures, strict=True)):
        name = f"img/{i:03d}.png"
        (target / "img").mkdir(exist_ok=True)
        image = Image.fromarray(picture, mode="L")
        if i == colour_at:
            image = image.convert("RGB")
        image.save(target / name)
        lines.append((sample, label, str(size), lighting[i % 2], name))
    with (target / "meta.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(lines)


def _project(root: Path, *, archive_digest: bool = False) -> Path:
    """The project; [P] declares its folder's tree hash, or with ``archive_digest`` the
    hash of the archive ``amlas seal`` packs it into (either is accepted)."""
    image_project(root, [RECALL, PER_LIGHTING])
    target = root / "data" / "verif-images"
    _folder(target)
    path = root / ARTEFACTS["P"].default_path
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document.update(
        location="data/verif-images",
        format="image_folder",
        metadata_table="data/verif-images/meta.csv",
        sha256=sha256_bytes(pack_folder(target)) if archive_digest else sha256_tree(target),
        id_column="sample_id",
    )
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    (root / "data" / "verif.npz").unlink()
    return root


def _run(root: Path, **kwargs: Any) -> RunReport:
    work = plan(check_project(root).project, role="verifier", stages=(5,))
    only = [c.key for c in work if c.kind == "requirement"]
    assert len(only) == 2
    return run_project(
        root, role="verifier", stages=(5,), key=KEY, only=only, batch_size=8, **kwargs
    )


def _comparable(report: RunReport) -> dict[str, Any]:
    out = {}
    for _, record in report.records:
        inputs = {k: v for k, v in record.inputs.items() if not k.startswith("access_log:")}
        out[record.key] = (record.verdict, record.summary, record.results, inputs)
    return out


def _whole(root: Path, monkeypatch: pytest.MonkeyPatch) -> RunReport:
    with monkeypatch.context() as patch:
        patch.setattr(stream_module, "stream_reason", lambda *_: "read whole for the test")
        return _run(root)


@pytest.mark.parametrize(
    ("sealed", "archive_digest"),
    [(False, False), (True, False), (True, True)],
    ids=["plaintext", "sealed", "sealed-declared-by-archive"],
)
def test_an_image_folder_in_chunks_gives_the_records_of_a_whole_read(
    tmp_path: Path,
    chunked: list[Streamed],
    monkeypatch: pytest.MonkeyPatch,
    sealed: bool,
    archive_digest: bool,
) -> None:
    root = _project(tmp_path / "project", archive_digest=archive_digest)
    if sealed:
        seal_dataset(check_project(root).project, "P", KEY)
    checked = check_project(root).diagnostics
    assert not checked.has_errors, [str(d) for d in checked]
    if sealed:
        assert not (root / "data" / "verif-images").exists()
        monkeypatch.setattr(
            "amlas.evidence._custody.unseal",
            lambda *_, **__: pytest.fail("[P] was unsealed whole"),
        )
    in_chunks = _run(root, chunk_rows=16)
    assert [(s.chunks, s.samples) for s in chunked] == [(4, 60)]
    monkeypatch.undo()
    whole = _whole(root, monkeypatch)
    assert len(chunked) == 1
    assert _comparable(in_chunks) == _comparable(whole)
    assert set(_comparable(whole)) == {"stage5/MLR-9/P", "stage5/MLR-8/P"}
    # recall per lighting: both slices counted over the 4 chunks, adding up to [P]'s hands
    per_lighting = next(r for _, r in in_chunks.records if r.key == "stage5/MLR-8/P")
    hands = sum(label == "positive" for _, label, _ in rows("P"))
    assert len(per_lighting.results) == 2
    assert sum(int(s["samples"]) for s in per_lighting.results) == hands > 16


def test_one_colour_image_in_a_later_chunk_makes_every_chunk_rgb(tmp_path: Path) -> None:
    """The grayscale-or-RGB decision is the whole folder's, as in a whole read."""
    from amlas.adapters import ReaderOptions, dataset_reader

    folder = tmp_path / "folder"
    _folder(folder, colour_at=50)
    reader = dataset_reader("image_folder")
    options = ReaderOptions(metadata_table=folder / "meta.csv")
    whole = reader.read(folder, options)
    pieces = list(reader.iter_read(folder, options, rows=16, sha256=whole.sha256))
    assert whole.arrays["image"].shape == (60, 4, 4, 3)
    assert [p.arrays["image"].shape for p in pieces] == [(16, 4, 4, 3)] * 3 + [(12, 4, 4, 3)]
    assert np.array_equal(
        np.concatenate([p.arrays["image"] for p in pieces]), whole.arrays["image"]
    )


def test_an_image_of_another_size_in_a_later_chunk_is_found_before_any_is_decoded(
    tmp_path: Path,
) -> None:
    from amlas.adapters import DatasetError, ReaderOptions, dataset_reader

    folder = tmp_path / "folder"
    _folder(folder)
    Image.new("L", (5, 4)).save(folder / "img" / "055.png")
    reader = dataset_reader("image_folder")
    options = ReaderOptions(metadata_table=folder / "meta.csv")
    pieces = reader.iter_read(folder, options, rows=16, sha256="0" * 64)
    with pytest.raises(DatasetError, match=r"meta\.csv:line 57: image 'img/055\.png' is 5x4"):
        next(pieces)


def test_a_folder_changed_since_review_is_not_sealed(tmp_path: Path) -> None:
    root = _project(tmp_path / "project")
    Image.new("L", (4, 4), color=9).save(root / "data" / "verif-images" / "img" / "007.png")
    with pytest.raises(UsageError, match=r"folder 'data/verif-images' has sha256 .* reviewed"):
        seal_dataset(check_project(root).project, "P", KEY)
    assert not list((root / "data").glob("*.sealed"))


def test_an_npz_of_images_in_chunks_gives_the_records_of_a_whole_read(
    tmp_path: Path, chunked: list[Streamed], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = image_project(tmp_path / "project", [RECALL, PER_LIGHTING])
    seal_dataset(check_project(root).project, "P", KEY)
    in_chunks = _run(root, chunk_rows=16)
    assert [(s.chunks, s.samples) for s in chunked] == [(4, 60)]
    whole = _whole(root, monkeypatch)
    assert _comparable(in_chunks) == _comparable(whole)
    assert len(_comparable(whole)) == 2


def _declare(root: Path, **fields: Any) -> None:
    path = root / ARTEFACTS["P"].default_path
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    for name, value in fields.items():
        if isinstance(value, dict):
            document.setdefault(name, {}).update(value)
        else:
            document[name] = value
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def _other(root: Path) -> Path:
    """The project with one image of [P] changed (and declared): another folder."""
    _project(root)
    folder = root / "data" / "verif-images"
    Image.new("L", (4, 4), color=200).save(folder / "img" / "003.png")
    _declare(root, sha256=sha256_tree(folder))
    return root


def _codes(root: Path) -> list[str]:
    return [d.code for d in check_project(root).diagnostics]


def test_a_sealed_folder_swapped_for_another_is_found(tmp_path: Path) -> None:
    """Two folders sealed with one key: the second's sealed archive (and its signed
    statement) in the first project is D014 without the key, from the access log's
    record of the seal; with the first project's log swapped too, the verifier run
    refuses it, having hashed the folder inside the archive."""
    one, two = _project(tmp_path / "one"), _other(tmp_path / "two")
    for root in (one, two):
        seal_dataset(check_project(root).project, "P", KEY)
    assert "D014" not in _codes(one)
    sealed = "data/verif-images.tar.sealed"
    for suffix in ("", ".sig"):
        shutil.copy(two / (sealed + suffix), one / (sealed + suffix))
    assert "D014" in _codes(one)
    log = yaml.safe_load((one / ARTEFACTS["P"].default_path).read_text())["sealed"]["access_log"]
    shutil.copy(two / log, one / log)
    assert "D014" not in _codes(one)  # without the key, only the archive's hash is seen
    with pytest.raises(SealError, match=r"seals a folder with sha256 .*, but \[P\] declares"):
        _run(one, chunk_rows=16)
    with pytest.raises(SealError, match=r"seals a folder with sha256 .*, but \[P\] declares"):
        _run(one)


def test_the_uses_of_a_sealed_folder_are_counted(tmp_path: Path) -> None:
    """The access log counts a sealed folder by its archive's hash; `amlas check` counts
    the same uses though the artefact declares the folder's tree hash (D016)."""
    root = _project(tmp_path / "project")
    seal_dataset(check_project(root).project, "P", KEY)
    _declare(root, sealed={"max_uses": 1})
    _run(root, chunk_rows=16)
    assert "D016" not in _codes(root)
    _run(root, chunk_rows=16)
    assert "D016" in _codes(root)


class _Watched(io.BytesIO):
    """A handle that fails when two threads read it at once (pyarrow reads a table ahead
    on threads of its own while amlas reads images)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self._busy = threading.Lock()

    def read(self, size: int | None = -1) -> bytes:
        if not self._busy.acquire(blocking=False):
            raise AssertionError("two threads read the handle at once")
        try:
            time.sleep(0.002)
            return super().read(size)
        finally:
            self._busy.release()


@pytest.mark.parametrize("table_format", ["csv", "parquet"])
def test_a_sealed_folder_is_read_through_one_reader_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table_format: str
) -> None:
    """The metadata table inside the archive is read by pyarrow on threads of its own
    (a CSV's next block ahead, a Parquet file's column chunks) while amlas reads the
    images between its chunks: the handle is read by one at a time."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from amlas.adapters import ReaderOptions, dataset_reader

    monkeypatch.setattr("amlas.adapters._readers.CSV_BLOCK_SIZE", 200)  # blocks read ahead
    folder = tmp_path / "folder"
    _folder(folder)
    meta = folder / "meta.csv"
    if table_format == "parquet":
        table = pa_csv.read_csv(meta)
        for j in range(24):  # column chunks that pyarrow reads on its threads
            table = table.append_column(f"x{j}", pa.array(np.arange(len(table)) * (j + 1.5)))
        meta.unlink()
        meta = folder / "meta.parquet"
        pq.write_table(table, meta, row_group_size=8, compression="none")
    reader = dataset_reader("image_folder")
    options = ReaderOptions(metadata_table=meta)
    whole = reader.read(folder, options)
    handle = _Watched(pack_folder(folder))
    pieces = list(reader.iter_read(folder, options, rows=8, sha256="0" * 64, handle=handle))
    images = np.concatenate([p.arrays["image"] for p in pieces])
    assert np.array_equal(images, whole.arrays["image"])
    assert list(np.concatenate([p.columns["file"] for p in pieces])) == list(whole.columns["file"])
