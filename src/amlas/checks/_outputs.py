"""The truth and the predictions of components that are not plain classifiers, read from
their tables: the ground-truth objects of a detector's dataset, and predictions made
outside amlas (the team's own pipeline) for any task.

Every row is tied to a sample of the dataset by its sample id: an id the dataset does not
hold, a class [D] does not declare, a box of negative size or non-finite coordinates, a
NaN score, a detection listed twice, a sample predicted twice or not at all: each is a
:class:`OutputsError` (D024 for the truth, D025 for predictions) naming the file, the
rows and the values, never a silent drop. Boxes are held in ``xyxy`` form in the unit of
the truth; a table in the other unit is scaled by the size of the dataset's images.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters import ColumnError, Table, coco_categories, read_coco, read_table
from amlas.checks._box_problems import box_problems
from amlas.checks._boxes import Boxes, to_xyxy
from amlas.checks._slices import NO_BAND, SlicePlan, band_codes, banding_codes, plan_slices
from amlas.errors import ProblemError
from amlas.project.artefacts import OperatingEnvironment, Slice
from amlas.project.artefacts.outputs import ObjectTable, PredictionsFile

__all__ = [
    "GroundTruth",
    "OutputsError",
    "image_codes_without",
    "predicted_boxes",
    "predicted_labels",
    "predicted_values",
    "read_outputs_table",
    "sample_positions",
    "truth_boxes",
]

_SHOWN = 5


class OutputsError(ProblemError):
    """A table of ground-truth objects or of predictions does not fit its dataset."""

    code = "D025"


def _rows(index: NDArray[np.int64], first_row: int) -> str:
    shown = ", ".join(str(int(i) + first_row) for i in index[:_SHOWN])
    more = f" and {len(index) - _SHOWN} more" if len(index) > _SHOWN else ""
    return shown + more


def read_outputs_table(
    root: Path,
    spec: ObjectTable | PredictionsFile,
    *,
    data: bytes | None = None,
    truth: ObjectTable | None = None,
    truth_data: bytes | None = None,
) -> Table:
    """Read the table ``spec`` names (CSV, Parquet or COCO JSON); ``data`` holds the
    decrypted bytes of a sealed one. For a COCO results list, ``truth`` (a COCO
    ground-truth table of the same dataset; ``truth_data``, its decrypted bytes when it is
    sealed) names the categories."""
    path = root / spec.location
    if spec.format == "coco_json":
        categories = None
        if truth is not None and truth.format == "coco_json":
            categories = coco_categories(root / truth.location, truth_data)
        return read_coco(path, data=data, categories=categories)
    return read_table(path, spec.format, data=data)


def sample_positions(
    ids: NDArray[np.str_], wanted: NDArray[np.str_]
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """The position in ``ids`` of every value of ``wanted`` and whether it was found
    (sorted search: no Python loop)."""
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    at = np.searchsorted(ordered, wanted)
    at = np.minimum(at, max(len(ids) - 1, 0))
    found = (ordered[at] == wanted) if len(ids) else np.zeros(len(wanted), dtype=bool)
    return order[at].astype(np.int64), found


def _numbers(
    table: Table,
    columns: list[str],
    spec: ObjectTable | PredictionsFile,
    code: str,
    reveal: bool,
) -> NDArray[np.float64]:
    """The named columns as numbers; a column of text is ``code``, naming the column but,
    for sealed data, none of its values."""
    try:
        return table.numeric(columns)
    except ColumnError as exc:
        missing = [c for c in columns if c not in table.columns]
        if reveal or missing:  # a missing column names columns, never values
            raise _fail(code, spec, str(exc).removeprefix(f"{table.source}: ")) from None
        bad = next((c for c in columns if c in table.columns and table.columns[c].dtype.kind
                    not in "biuf"), columns[0])  # fmt: skip
        raise _fail(
            code, spec, f"column {bad!r} holds text (values sealed); expected numbers"
        ) from None


def _first_row(spec: ObjectTable | PredictionsFile) -> tuple[int, str]:
    if spec.format == "csv":
        return 2, "line"
    return 1, "entry" if spec.format == "coco_json" else "row"


def _fail(code: str, spec: ObjectTable | PredictionsFile, message: str) -> OutputsError:
    return OutputsError(f"{spec.location}: {message}", code=code, path=spec.location)


def _image_size(arrays: Mapping[str, NDArray[np.generic]]) -> tuple[float, float] | None:
    for values in arrays.values():
        if values.ndim >= 3:
            return float(values.shape[2]), float(values.shape[1])
    return None


_PROBLEMS = {
    "coordinates": "have a missing or infinite coordinate; expected four finite numbers",
    "size": "have a negative width or height; expected boxes of size >= 0",
    "score": "have a missing or non-finite score; expected a finite number",
    "duplicate": "repeat an earlier one exactly (same sample, class, box and score); "
    "expected each detection once",
}


def _refuse_problems(
    boxes: Boxes, spec: ObjectTable | PredictionsFile, code: str, *, reveal: bool
) -> None:
    """The first error :func:`~amlas.checks._box_problems.box_problems` finds, as ``code``
    located by the rows of the file (zero-size boxes, a warning there, pass)."""
    first, word = _first_row(spec)
    for problem in box_problems(boxes):
        if problem.severity != "error":
            continue
        what = _PROBLEMS.get(problem.kind, problem.message)
        shown = ""
        if reveal and problem.kind in ("coordinates", "size"):
            shown = f", e.g. {boxes.xyxy[problem.rows[0]].tolist()} as xyxy"
        raise _fail(
            code,
            spec,
            f"{len(problem.rows)} box(es) {what} ({word} {_rows(problem.rows, first)}{shown})",
        )


def _boxes_of(
    table: Table,
    spec: ObjectTable | PredictionsFile,
    *,
    code: str,
    ids: NDArray[np.str_],
    classes: list[str],
    unit: str,
    image_size: tuple[float, float] | None,
    reveal: bool,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    first, word = _first_row(spec)
    n = len(table)
    sample = table.text(spec.sample_column) if n else np.array([], dtype=np.str_)
    image, found = sample_positions(ids, sample)
    if not found.all():
        bad = np.flatnonzero(~found)
        values = ", ".join(repr(str(v)) for v in sample[bad][:_SHOWN]) if reveal else "(sealed)"
        raise _fail(
            code,
            spec,
            f"{len(bad)} row(s) name a sample the dataset does not hold: {values} "
            f"({word} {_rows(bad, first)}); expected ids of column {spec.sample_column!r}",
        )
    names = table.text(spec.class_column) if n else np.array([], dtype=np.str_)
    known = np.asarray(classes, dtype=np.str_)
    cls_order = np.argsort(known)
    at = np.searchsorted(known[cls_order], names)
    at = np.minimum(at, max(len(known) - 1, 0))
    ok = known[cls_order][at] == names if len(known) else np.zeros(n, dtype=bool)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        unknown = sorted({str(v) for v in names[bad]})[:_SHOWN]
        raise _fail(
            code,
            spec,
            f"{len(bad)} row(s) have a class that is not a class of [D]: "
            f"{', '.join(repr(v) for v in unknown)} ({word} {_rows(bad, first)}); expected one "
            f"of {', '.join(classes)}",
        )
    cls = cls_order[at].astype(np.int64)
    raw = _numbers(table, list(spec.box_columns), spec, code, reveal) if n else np.zeros((0, 4))
    xyxy = to_xyxy(raw, spec.box_format)
    if spec.box_unit != unit:
        if image_size is None:
            raise _fail(
                code,
                spec,
                f"boxes are in {spec.box_unit} units and the truth in {unit}, and the dataset "
                "holds no images to scale them by; expected the same box_unit",
            )
        width, height = image_size
        scale = np.array([width, height, width, height])
        xyxy = xyxy * scale if spec.box_unit == "normalised" else xyxy / scale
    return image, cls, xyxy


@dataclass(frozen=True)
class GroundTruth:
    """The ground-truth objects of one dataset and the ODD band of every object: its own
    where the object table gives the dimension (a pedestrian's distance), else its
    image's."""

    boxes: Boxes
    odd_codes: dict[str, NDArray[np.int64]]
    sha256: str
    source: str
    unit: str
    banded_codes: dict[str, dict[str, NDArray[np.int64]]] = field(default_factory=dict)
    """ODD dimension ID -> named banding of [B] -> band code of every object in it."""
    _memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def codes_in(self, dimension_id: str, banding: str | None = None) -> NDArray[np.int64]:
        """The band code of every object on ``dimension_id`` in ``banding`` (None: the
        default ``bands``)."""
        if banding is None:
            return self.odd_codes[dimension_id]
        return self.banded_codes[dimension_id][banding]

    def plan(
        self,
        applies_to: Slice,
        environment: OperatingEnvironment,
        *,
        keep: NDArray[np.bool_] | None = None,
        precondition: dict[str, Any] | None = None,
        key: str = "",
    ) -> SlicePlan:
        """The slices of ``applies_to`` over the objects (those ``keep`` keeps: a
        requirement's precondition, stated by ``precondition`` and told apart by
        ``key``)."""
        memo = applies_to.model_dump_json() + (f":{key}" if key else "")
        if memo not in self._memo:
            self._memo[memo] = plan_slices(
                applies_to,
                self.odd_codes,
                environment,
                len(self.boxes.image),
                self.banded_codes,
                keep=keep,
                precondition=precondition,
            )
        plan: SlicePlan = self._memo[memo]
        return plan


def truth_boxes(
    table: Table,
    spec: ObjectTable,
    *,
    ids: NDArray[np.str_],
    classes: list[str],
    image_odd: Mapping[str, NDArray[np.int64]],
    environment: OperatingEnvironment | None,
    arrays: Mapping[str, NDArray[np.generic]],
    reveal: bool = True,
    image_banded: Mapping[str, Mapping[str, NDArray[np.int64]]] | None = None,
) -> GroundTruth:
    """Bind the object table ``spec`` to a dataset's sample ``ids`` (D024 on a problem)."""
    image, cls, xyxy = _boxes_of(
        table,
        spec,
        code="D024",
        ids=ids,
        classes=classes,
        unit=spec.box_unit,
        image_size=_image_size(arrays),
        reveal=reveal,
    )
    n = len(table)
    crowd = (
        _numbers(table, [spec.crowd_column], spec, "D024", reveal)[:, 0] > 0
        if spec.crowd_column and n
        else np.zeros(n, dtype=bool)
    )
    attributes = {name: table.column(name) for name in spec.attributes} if n else {}
    odd: dict[str, NDArray[np.int64]] = {d: codes[image] for d, codes in image_odd.items()}
    banded: dict[str, dict[str, NDArray[np.int64]]] = {
        d: {name: codes[image] for name, codes in by_name.items()}
        for d, by_name in (image_banded or {}).items()
    }
    if environment is not None:
        dimensions = {d.id: d for d in environment.dimensions}
        for dim_id, column in spec.odd_columns.items():
            if dim_id not in dimensions:
                raise _fail("D024", spec, f"odd_columns names {dim_id!r}, no dimension of [B]")
            values = table.column(column) if n else np.zeros(0)
            blank = (
                np.isnan(values.astype(np.float64))
                if values.dtype.kind in "fiub"
                else np.char.strip(values.astype(np.str_)) == ""
            )
            if blank.any():
                first, word = _first_row(spec)
                bad = np.flatnonzero(blank)
                raise _fail(
                    "D024",
                    spec,
                    f"{len(bad)} object(s) have no value in column {column!r} of ODD dimension "
                    f"{dim_id!r} ({word} {_rows(bad, first)}); expected one for every object",
                )
            odd[dim_id] = band_codes(values, dimensions[dim_id])
            banded.pop(dim_id, None)
            if others := banding_codes(values, dimensions[dim_id]):
                banded[dim_id] = others
    boxes = Boxes(
        image=image,
        cls=cls,
        xyxy=xyxy,
        score=None,
        crowd=crowd,
        attributes=attributes,
        n_images=len(ids),
    )
    _refuse_problems(boxes, spec, "D024", reveal=reveal)
    return GroundTruth(boxes, odd, table.sha256, table.source, spec.box_unit, banded)


def image_codes_without(n: int) -> NDArray[np.int64]:
    """Band codes of images for a dimension only objects carry: no band."""
    return np.full(n, NO_BAND, dtype=np.int64)


def predicted_boxes(
    table: Table,
    spec: PredictionsFile,
    *,
    ids: NDArray[np.str_],
    classes: list[str],
    unit: str,
    arrays: Mapping[str, NDArray[np.generic]],
    reveal: bool = True,
) -> Boxes:
    """The detections of a predictions file, in the truth's ``unit`` (D025 on a
    problem: unknown samples or classes, bad boxes, a missing or non-finite score, a
    detection listed twice)."""
    image, cls, xyxy = _boxes_of(
        table,
        spec,
        code="D025",
        ids=ids,
        classes=classes,
        unit=unit,
        image_size=_image_size(arrays),
        reveal=reveal,
    )
    n = len(table)
    if spec.score_column is None:
        raise _fail("D025", spec, "detections need 'score_column' (the score of each box)")
    score = _numbers(table, [spec.score_column], spec, "D025", reveal)[:, 0] if n else np.zeros(0)
    boxes = Boxes(image=image, cls=cls, xyxy=xyxy, score=score, n_images=len(ids))
    _refuse_problems(boxes, spec, "D025", reveal=reveal)
    return boxes


def _one_per_sample(
    table: Table, spec: PredictionsFile, ids: NDArray[np.str_], reveal: bool
) -> NDArray[np.int64]:
    """For every sample of the dataset, the row of the predictions file that predicts it
    (D025 unless each sample is predicted exactly once)."""
    first, word = _first_row(spec)
    sample = table.text(spec.sample_column)
    position, found = sample_positions(ids, sample)
    if not found.all():
        bad = np.flatnonzero(~found)
        values = ", ".join(repr(str(v)) for v in sample[bad][:_SHOWN]) if reveal else "(sealed)"
        raise _fail(
            "D025",
            spec,
            f"{len(bad)} prediction(s) name a sample the dataset does not hold: {values} "
            f"({word} {_rows(bad, first)})",
        )
    counts = np.bincount(position, minlength=len(ids))
    if (counts > 1).any():
        twice = np.flatnonzero(counts[position] > 1)
        raise _fail(
            "D025",
            spec,
            f"{int((counts > 1).sum())} sample(s) are predicted more than once ({word} "
            f"{_rows(twice, first)}); expected one prediction per sample",
        )
    if (counts == 0).any():
        missing = np.flatnonzero(counts == 0)
        values = ", ".join(repr(str(v)) for v in ids[missing][:_SHOWN]) if reveal else "(sealed)"
        raise _fail(
            "D025",
            spec,
            f"{len(missing)} sample(s) of the dataset have no prediction: {values}; expected "
            "a prediction for every sample",
        )
    row_of = np.empty(len(ids), dtype=np.int64)
    row_of[position] = np.arange(len(position))
    return row_of


def predicted_labels(
    table: Table,
    spec: PredictionsFile,
    *,
    ids: NDArray[np.str_],
    classes: list[str],
    reveal: bool = True,
) -> tuple[NDArray[np.str_] | None, NDArray[np.float64] | None]:
    """A classifier's predicted classes and/or class probabilities (in ``classes``
    order) for every sample, in the dataset's order."""
    row_of = _one_per_sample(table, spec, ids, reveal)
    labels = table.text(spec.label_column)[row_of] if spec.label_column else None
    proba = None
    if spec.probability_columns:
        missing = [c for c in classes if c not in spec.probability_columns]
        if missing:
            raise _fail(
                "D025",
                spec,
                f"probability_columns name no column for class(es) {', '.join(missing)}; "
                "expected one per class of [D]",
            )
        columns = [spec.probability_columns[c] for c in classes]
        proba = _numbers(table, columns, spec, "D025", reveal)[row_of]
    if labels is None and proba is None:
        raise _fail(
            "D025", spec, "a classifier's predictions need 'label_column' or 'probability_columns'"
        )
    return labels, proba


def predicted_values(
    table: Table, spec: PredictionsFile, *, ids: NDArray[np.str_], reveal: bool = True
) -> NDArray[np.float64]:
    """A regressor's predicted value for every sample, in the dataset's order (NaN where
    the file says NaN: such samples are unusable, not dropped)."""
    if spec.value_column is None:
        raise _fail("D025", spec, "a regressor's predictions need 'value_column'")
    row_of = _one_per_sample(table, spec, ids, reveal)
    values: NDArray[np.float64] = _numbers(table, [spec.value_column], spec, "D025", reveal)[
        row_of, 0
    ]
    return values
