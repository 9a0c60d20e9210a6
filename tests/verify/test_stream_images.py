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
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from amlas.adapters import pack_folder
from amlas.errors import UsageError
from amlas.evidence import seal_dataset
from amlas.hashing import sha256_bytes, sha256_tree
from amlas.project import check_project
from amlas.project.artefacts import ARTEFACTS
from amlas.sealing import VerifierKey
from amlas.verify import RunContext, RunReport, plan, run_project
from amlas.verify import _stream as stream_module
from amlas.verify._context import Streamed

pytest.importorskip("torch")
Image = pytest.importorskip("PIL.Image")

from runnable import rows  # noqa: E402
from torch_project import RECALL, image_project, images  # noqa: E402

KEY = VerifierKey.from_secret(bytes(range(32)))
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


@pytest.fixture
def chunked(monkeypatch: pytest.MonkeyPatch) -> list[Streamed]:
    seen: list[Streamed] = []
    original = stream_module.stream_dataset

    def spy(context: RunContext, letter: str) -> Streamed:
        out = original(context, letter)
        seen.append(out)
        return out

    monkeypatch.setattr(stream_module, "stream_dataset", spy)
    return seen


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
