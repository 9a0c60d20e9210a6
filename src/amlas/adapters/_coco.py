"""COCO JSON as tables: the annotations of a ground-truth file (one row per object) and
a results file (one row per detection), with the columns amlas's box tables use.

A ground-truth file holds ``images``, ``annotations`` and ``categories``; each
annotation becomes a row with ``image_id``, ``file_name`` (of its image), ``class`` (the
category's name), ``x``, ``y``, ``w``, ``h`` (COCO's ``bbox``, pixels, xywh) and
``iscrowd``; any other scalar field of an annotation (``attributes`` flattened one level)
becomes a column too. A results file is a list of ``{image_id, category_id, bbox,
score}``; its ``class`` is the category's name when ``categories`` are given (from the
ground truth), else the id as text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters._reader import DatasetError
from amlas.adapters._table import Table
from amlas.hashing import sha256_bytes

__all__ = ["coco_categories", "read_coco"]


def _load(path: Path, data: bytes | None) -> tuple[Any, str]:
    try:
        raw = data if data is not None else path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the COCO file: {exc.strerror or exc}") from None
    try:
        return json.loads(raw), sha256_bytes(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: not JSON ({exc}); expected a COCO file") from None


def coco_categories(path: Path, data: bytes | None = None) -> dict[int, str]:
    """Category id -> name of a COCO ground-truth file."""
    document, _ = _load(path, data)
    if not isinstance(document, dict):
        return {}
    return _category_names(document, path)


def _category_names(document: dict[str, Any], path: Path) -> dict[int, str]:
    try:
        return {int(c["id"]): str(c["name"]) for c in document.get("categories", [])}
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(
            f"{path}: a category without a whole-number 'id' and a 'name' ({exc!r}); expected "
            "COCO categories"
        ) from None


def _bbox(value: Any, where: str) -> list[float]:
    if not isinstance(value, list) or len(value) != 4:
        raise DatasetError(f"{where}: bbox is {value!r}; expected [x, y, width, height]")
    try:
        return [float(v) for v in value]
    except (TypeError, ValueError):
        raise DatasetError(f"{where}: bbox is {value!r}; expected four numbers") from None


def _columns(rows: list[dict[str, Any]], source: str) -> dict[str, NDArray[np.generic]]:
    names: list[str] = []
    for row in rows:
        names.extend(n for n in row if n not in names)
    out: dict[str, NDArray[np.generic]] = {}
    for name in names:
        values = [row.get(name) for row in rows]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            out[name] = np.asarray(values, dtype=np.float64)
        else:
            out[name] = np.asarray(["" if v is None else str(v) for v in values], dtype=np.str_)
    return out


def read_coco(
    path: Path, *, data: bytes | None = None, categories: Mapping[int, str] | None = None
) -> Table:
    """The annotations (or the detections of a results list) of the COCO file at ``path``
    as a table; :class:`DatasetError` naming the entry on any malformed one."""
    document, digest = _load(path, data)
    rows: list[dict[str, Any]] = []
    if isinstance(document, dict):
        names = _category_names(document, path)
        try:
            files = {str(i["id"]): str(i.get("file_name", "")) for i in document["images"]}
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(
                f"{path}: 'images' and 'categories' need an 'id' each ({exc}); expected a "
                "COCO ground-truth file"
            ) from None
        entries = document.get("annotations", [])
    elif isinstance(document, list):
        names, files, entries = dict(categories or {}), {}, document
    else:
        raise DatasetError(f"{path}: expected a COCO object or a list of detections")
    for index, entry in enumerate(entries):
        where = f"{path}: entry {index + 1}"
        if not isinstance(entry, dict) or "image_id" not in entry or "bbox" not in entry:
            raise DatasetError(f"{where} has no image_id and bbox")
        x, y, w, h = _bbox(entry["bbox"], where)
        category = entry.get("category_id")
        if category is not None and not (isinstance(category, int) and category >= 0):
            raise DatasetError(f"{where}: category_id is {category!r}; expected a whole number")
        row: dict[str, Any] = {
            "image_id": str(entry["image_id"]),
            "class": names.get(category, str(category)) if category is not None else "",
            "x": x,
            "y": y,
            "w": w,
            "h": h,
        }
        if isinstance(document, dict):
            row["file_name"] = files.get(str(entry["image_id"]), "")
            crowd = entry.get("iscrowd", 0)
            if crowd not in (0, 1, None, True, False):
                raise DatasetError(f"{where}: iscrowd is {crowd!r}; expected 0 or 1")
            row["iscrowd"] = float(crowd or 0)
        if "score" in entry:
            row["score"] = entry["score"] if entry["score"] is not None else float("nan")
        extra = dict(entry.get("attributes") or {})
        for name, value in {**entry, **extra}.items():
            skipped = name in row or name in ("bbox", "segmentation", "attributes")
            if not skipped and isinstance(value, str | int | float | None):
                row[name] = float(value) if isinstance(value, bool) else value
        rows.append(row)
    if not rows:
        return Table({}, digest, str(path))
    return Table(_columns(rows, str(path)), digest, str(path))
