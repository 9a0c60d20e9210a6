"""COCO JSON read as box tables: malformed entries are DatasetError naming the entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amlas.adapters import DatasetError, read_coco


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(document))
    return path


GOOD = {
    "images": [{"id": 1, "file_name": "a.png"}],
    "categories": [{"id": 1, "name": "person"}],
    "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}],
}


def test_annotations_become_rows(tmp_path: Path) -> None:
    table = read_coco(_write(tmp_path, GOOD))
    assert table.text("class").tolist() == ["person"]
    assert table.numeric(["x", "y", "w", "h"]).tolist() == [[1.0, 2.0, 3.0, 4.0]]


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"category_id": "person"}, "category_id is 'person'"),
        ({"iscrowd": "yes"}, "iscrowd is 'yes'"),
        ({"bbox": [1, 2, 3]}, "expected [x, y, width, height]"),
    ],
)
def test_a_malformed_entry_is_a_dataset_error(
    tmp_path: Path, change: dict[str, object], fragment: str
) -> None:
    document = json.loads(json.dumps(GOOD))
    document["annotations"][0].update(change)
    with pytest.raises(DatasetError) as caught:
        read_coco(_write(tmp_path, document))
    assert fragment in str(caught.value)
    assert "entry 1" in str(caught.value)


def test_a_category_without_an_id_is_a_dataset_error(tmp_path: Path) -> None:
    document = json.loads(json.dumps(GOOD))
    document["categories"] = [{"name": "person"}]
    with pytest.raises(DatasetError):
        read_coco(_write(tmp_path, document))
