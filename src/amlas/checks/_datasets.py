"""Bind a dataset artefact ([N], [O], [P]) to its data: ids, labels, model inputs and the
ODD band of every sample, read through :mod:`amlas.adapters`."""

from __future__ import annotations

import binascii
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters import (
    ColumnError,
    CsvLines,
    DatasetError,
    SampleContent,
    Table,
    arrow_text,
    read_table,
)
from amlas.checks._duplicates import FiniteRows, content_codes, finite_rows, scale_of, scaled
from amlas.checks._outputs import (
    GroundTruth,
    image_codes_without,
    read_outputs_table,
    truth_boxes,
)
from amlas.checks._preconditions import describe_terms, precondition_mask
from amlas.checks._slices import SlicePlan, band_codes, banding_codes, labels_of, plan_slices
from amlas.diagnostics import Diagnostics, Location
from amlas.project import ContentProblem, ContentTally, Project, label_classes
from amlas.project.artefacts import (
    CategoricalDimension,
    DatasetDocument,
    MLComponentDescription,
    MLSafetyRequirement,
    OperatingEnvironment,
    Slice,
)
from amlas.project.artefacts.outputs import Matching

__all__ = [
    "Dataset",
    "bind_dataset",
    "content_error",
    "content_tally",
    "load_dataset",
    "text_equals",
]


def text_equals(values: NDArray[np.str_], name: str) -> NDArray[np.bool_]:
    """``values == name``, exactly as numpy compares text (trailing NUL characters do not
    count), but as integer comparisons of the code points: a native fixed-width text array
    is ``width`` 32-bit code points per value, compared column by column. A million
    labels compare in about a third of the time numpy's text comparison takes, and every
    metric compares labels to a class."""
    width = values.dtype.itemsize // 4
    if (
        values.ndim != 1
        or values.dtype != np.dtype(f"U{width}")  # native byte order only
        or not values.flags.c_contiguous
        or width == 0
    ):
        same: NDArray[np.bool_] = np.asarray(values == name, dtype=bool)
        return same
    wanted = name.rstrip("\x00")
    if len(wanted) > width:
        return np.zeros(len(values), dtype=bool)
    points = np.zeros(width, dtype=np.uint32)
    points[: len(wanted)] = np.frombuffer(wanted.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    columns = values.view(np.uint32).reshape(len(values), width)
    equal: NDArray[np.bool_] = columns[:, 0] == points[0]
    for j in range(1, width):
        equal &= columns[:, j] == points[j]
    return equal


@dataclass(frozen=True)
class Dataset:
    """One dataset, ready for the checks."""

    letter: str
    document: DatasetDocument
    table: Table
    ids: NDArray[np.str_]
    labels: NDArray[np.str_]
    features: list[str]
    """Model input columns (tabular data); empty for array inputs such as images."""
    odd_codes: dict[str, NDArray[np.int64]]
    """ODD dimension ID -> band code of every sample (see :func:`._slices.band_codes`)."""
    odd_values: dict[str, NDArray[np.generic]]
    """ODD dimension ID -> the raw values the bands were read from."""
    environment: OperatingEnvironment | None = None
    groups: NDArray[np.str_] | None = None
    truth: GroundTruth | None = None
    """A detector's ground-truth objects (``objects`` of the dataset artefact)."""
    sequences: tuple[NDArray[np.str_], NDArray[np.float64]] | None = None
    """The sequence and the frame number of every sample, when the dataset declares them."""
    component: MLComponentDescription | None = None
    """[D]: the classes, and a detector's default matching."""
    banded_codes: dict[str, dict[str, NDArray[np.int64]]] = field(default_factory=dict)
    """ODD dimension ID -> named banding of [B] -> band code of every sample in it (see
    :func:`._slices.banding_codes`); only dimensions that declare ``bandings``."""
    _memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.table)

    @property
    def name(self) -> str:
        return f"[{self.letter}]"

    @property
    def class_names(self) -> list[str]:
        """The classes of [D], in their declared order (class codes index this list)."""
        return self.component.class_names() if self.component is not None else []

    @property
    def component_matching(self) -> Matching | None:
        """[D]'s matching of detections to objects (None without [D])."""
        return self.component.matching if self.component is not None else None

    @property
    def sha256(self) -> str:
        return self.table.sha256

    @cached_property
    def odd(self) -> dict[str, NDArray[np.str_]]:
        """ODD dimension ID -> band or category of every sample, as text."""
        if self.environment is None:
            return {}
        dims = {d.id: d for d in self.environment.dimensions}
        return {d: labels_of(codes, dims[d]) for d, codes in self.odd_codes.items()}

    def codes_in(self, dimension_id: str, banding: str | None = None) -> NDArray[np.int64]:
        """The band code of every sample on ``dimension_id`` in ``banding`` (None: the
        default ``bands``)."""
        if banding is None:
            return self.odd_codes[dimension_id]
        return self.banded_codes[dimension_id][banding]

    def plan(self, applies_to: Slice) -> SlicePlan:
        """The slices of ``applies_to`` on this dataset, computed once per distinct slice."""
        key = "plan:" + applies_to.model_dump_json()
        if key not in self._memo:
            assert self.environment is not None
            self._memo[key] = plan_slices(
                applies_to, self.odd_codes, self.environment, len(self), self.banded_codes
            )
        plan: SlicePlan = self._memo[key]
        return plan

    def plan_of(self, requirement: MLSafetyRequirement) -> SlicePlan:
        """The slices ``requirement`` is judged in over this dataset's samples (a
        detector's images): its ``applies_to``, with ``across`` judged like ``per``
        (``judged_slice``), over the samples its ``precondition`` keeps. A precondition on
        an attribute only a detector's objects carry cannot choose images: the plan then
        holds no sample, and its ``precondition`` statement says why
        (``not_applicable``)."""
        judged = requirement.judged_slice
        if not requirement.precondition:
            return self.plan(judged)
        key = f"plan:{judged.model_dump_json()}:{_terms_key(requirement)}:{requirement.id}"
        if key not in self._memo:
            assert self.environment is not None
            keep, stated = self._sample_precondition(requirement)
            self._memo[key] = plan_slices(
                judged,
                self.odd_codes,
                self.environment,
                len(self),
                self.banded_codes,
                keep=keep,
                precondition=stated,
            )
        plan: SlicePlan = self._memo[key]
        return plan

    def kept_by(self, requirement: MLSafetyRequirement) -> NDArray[np.bool_]:
        """The samples ``requirement``'s precondition keeps (every sample without one)."""
        if not requirement.precondition:
            return np.ones(len(self), dtype=bool)
        keep, _ = self._sample_precondition(requirement)
        return keep

    def object_plan(self, requirement: MLSafetyRequirement) -> SlicePlan:
        """The slices ``requirement`` is judged in over a detector's ground-truth objects,
        over the objects its ``precondition`` keeps: a term names an attribute of the
        objects (``objects.attributes``) or a column of their images' table."""
        truth = self.truth
        assert truth is not None
        assert self.environment is not None
        judged = requirement.judged_slice
        if not requirement.precondition:
            return truth.plan(judged, self.environment)
        image = truth.boxes.image
        attributes = truth.boxes.attributes

        def lookup(name: str) -> NDArray[np.generic] | None:
            if name in attributes:
                return np.asarray(attributes[name])
            if name in self.table.columns:
                return self.table.column(name)[image]
            return None

        keep, stated = precondition_mask(
            requirement.precondition,
            lookup,
            len(image),
            subject=requirement.id,
            where=f"[{self.letter}] (its objects' attributes and its images' table)",
            unit="ground-truth objects",
            columns=[*attributes, *self.table.columns],
        )
        return truth.plan(
            judged,
            self.environment,
            keep=keep,
            precondition=stated,
            key=f"{_terms_key(requirement)}:{requirement.id}",
        )

    def _sample_precondition(
        self, requirement: MLSafetyRequirement
    ) -> tuple[NDArray[np.bool_], dict[str, Any]]:
        unit = "images" if self.truth is not None else "samples"
        attributes = self.truth.boxes.attributes if self.truth is not None else {}
        only_objects = [
            t.column
            for t in requirement.precondition
            if t.column not in self.table.columns and t.column in attributes
        ]
        if only_objects:
            # a false positive has no object, and an image many: no image is chosen by them
            keep, stated = precondition_mask(
                [t for t in requirement.precondition if t.column not in only_objects],
                self.table.columns.get,
                len(self),
                subject=requirement.id,
                where=f"[{self.letter}] {self.document.location}",
                unit=unit,
                columns=list(self.table.columns),
            )
            stated["terms"] = describe_terms(requirement.precondition)
            stated["not_applicable"] = (
                f"the precondition on {', '.join(repr(c) for c in only_objects)} (an attribute "
                f"of the objects) cannot choose {unit}: no {unit} is judged"
            )
            keep = np.zeros(len(self), dtype=bool)
            stated.update(kept=0, excluded=len(self))
            return keep, stated
        return precondition_mask(
            requirement.precondition,
            self.table.columns.get,
            len(self),
            subject=requirement.id,
            where=f"[{self.letter}] {self.document.location}",
            unit=unit,
            columns=list(self.table.columns),
        )

    def label_is(self, name: str) -> NDArray[np.bool_]:
        """``labels == name`` (:func:`text_equals`), computed once per class."""
        key = "label:" + name
        if key not in self._memo:
            self._memo[key] = text_equals(self.labels, name)
        mask: NDArray[np.bool_] = self._memo[key]
        return mask

    def unknown_labels(self, classes: list[str]) -> NDArray[np.bool_]:
        """Samples whose label is none of ``classes``."""
        key = "unknown:" + "\x00".join(classes)
        if key not in self._memo:
            known = np.zeros(len(self), dtype=bool)
            for name in classes:
                known |= self.label_is(name)
            self._memo[key] = ~known
        mask: NDArray[np.bool_] = self._memo[key]
        return mask

    @cached_property
    def inputs(self) -> NDArray[np.generic]:
        """What the model is called on: the feature matrix, or the per-sample array."""
        if self.features:
            return self.table.numeric(self.features)
        if self.table.arrays:
            return next(iter(self.table.arrays.values()))
        raise ColumnError(f"{self.table.source}: no input features and no array input")

    def scale(self, names: list[str]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The mean and standard deviation :func:`._duplicates.zscore` scales the named
        columns by, computed once per list of names."""
        # keyed by the table too: dataclasses.replace shares the memo with a copy
        key = f"scale:{id(self.table)}:" + "\x00".join(names)
        held = self._memo.get(key)
        if held is None or held[0] is not self.table:
            held = self._memo[key] = (self.table, scale_of(self.table.numeric(names)))
        found: tuple[NDArray[np.float64], NDArray[np.float64]] = held[1]
        return found

    def arrow_of(self, values: NDArray[np.str_]) -> Any:
        """``values`` (one of this dataset's text arrays: ids, labels, groups) as a pyarrow
        array (:func:`~amlas.adapters.arrow_text`), converted once."""
        key = f"arrow:{id(values)}"
        held = self._memo.get(key)
        if held is None or held[0] is not values:
            held = self._memo[key] = (values, arrow_text(values))
        return held[1]

    def zscores(self, names: list[str], reference: Dataset | None = None) -> NDArray[np.float64]:
        """The named numeric columns z-scored by ``reference``'s mean and standard
        deviation (default: this dataset's; :func:`._duplicates.zscore`); this dataset's own
        are computed once per list of names."""
        by = self if reference is None else reference
        if by is not self:  # used once per pair of datasets: not kept
            return scaled(self.table.numeric(names), *by.scale(names))
        key = f"zscores:{id(self.table)}:" + "\x00".join(names)
        held = self._memo.get(key)
        if held is None or held[0] is not self.table:
            z = scaled(self.table.numeric(names), *self.scale(names))
            held = self._memo[key] = (self.table, z)
        matrix: NDArray[np.float64] = held[1]
        return matrix

    def zscored_rows(self, names: list[str]) -> FiniteRows:
        """:func:`._duplicates.finite_rows` of :meth:`zscores` of ``names`` (this
        dataset's own scale), computed once: the duplicates rule and every independence
        check with this dataset first search the same rows."""
        z = self.zscores(names)
        key = "zrows:" + "\x00".join(names)
        held = self._memo.get(key)
        if held is None or held[0] is not z:
            held = self._memo[key] = (z, finite_rows(z))
        rows: FiniteRows = held[1]
        return rows

    @cached_property
    def content_codes(self) -> NDArray[np.int64]:
        """One code per sample, equal exactly when two samples' :attr:`content` is equal
        (:func:`._duplicates.content_codes`)."""
        (codes,) = content_codes([self.content])
        return codes

    @cached_property
    def input_hashes(self) -> NDArray[np.str_]:
        """SHA-256 per sample over its model input only: equal inputs, equal hash."""
        return self.table.sample_hashes(self.features)

    @property
    def content_columns(self) -> list[str]:
        """What identifies a sample's content for the duplicate checks: the declared
        ``content_columns``, else the model input features and per-sample arrays (named
        ``array:NAME``). Empty for a table of metadata only, where nothing does."""
        if self.document.content_columns:
            return list(self.document.content_columns)
        return [*self.features, *(f"array:{name}" for name in sorted(self.table.arrays))]

    @cached_property
    def content(self) -> SampleContent:
        """The canonical bytes of every sample over :attr:`content_columns`, the content
        :attr:`content_hashes` hashes (compared without hashing by
        :func:`._duplicates.content_codes`)."""
        if not self.document.content_columns:
            return self.table.sample_content(self.features)
        declared = {name: self.table.column(name) for name in self.document.content_columns}
        return Table(declared, self.table.sha256, self.table.source).sample_content()

    @cached_property
    def content_hashes(self) -> NDArray[np.str_]:
        """SHA-256 per sample over :attr:`content_columns` only: equal content, equal
        hash. When :attr:`content_columns` is empty every sample hashes the same empty
        content, so callers must not compare these hashes then."""
        if not self.document.content_columns:
            return self.input_hashes
        declared = {name: self.table.column(name) for name in self.document.content_columns}
        return Table(declared, self.table.sha256, self.table.source).sample_hashes()

    @cached_property
    def samples_digest(self) -> str:
        """One hash over every sample's input and label, in order, independent of the file
        format: evidence records it beside the file hash.

        The SHA-256 of the lines ``<SHA-256 of the sample's input, hex>:<label>\\n``, one
        per sample (:attr:`input_hashes`), built in one buffer rather than line by line."""
        import pyarrow as pa
        import pyarrow.compute as pc

        n = len(self)
        if not n:
            return hashlib.sha256().hexdigest()
        hexes = binascii.hexlify(self.table.sample_digests(self.features))
        inputs = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(64), n, [None, pa.py_buffer(hexes)]
        ).cast(pa.large_string())
        text = pa.large_string()
        ended = pc.binary_join_element_wise(
            self.arrow_of(self.labels), pa.scalar("\n", text), pa.scalar("", text)
        )
        lines = pc.binary_join_element_wise(inputs, ended, pa.scalar(":", text))
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
        first, last = int(offsets[lines.offset]), int(offsets[lines.offset + n])
        return hashlib.sha256(memoryview(lines.buffers()[2])[first:last]).hexdigest()


def _terms_key(requirement: MLSafetyRequirement) -> str:
    return "|".join(t.model_dump_json(by_alias=True) for t in requirement.precondition)


def _band_codes(values: NDArray[np.generic], dimension: Any) -> NDArray[np.int64]:
    """:func:`._slices.band_codes` of ``values``; a text column is banded by its distinct
    values only (pyarrow's dictionary), then indexed: the same codes, without sorting a
    million strings."""
    if (
        not isinstance(dimension, CategoricalDimension)
        or values.dtype.kind != "U"
        or not len(values)
    ):
        return band_codes(values, dimension)
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(arrow_text(values.astype(np.str_, copy=False)))
    categories = np.asarray(encoded.dictionary.to_pylist(), dtype=values.dtype)
    codes: NDArray[np.int64] = band_codes(categories, dimension)[
        np.asarray(encoded.indices, dtype=np.intp)
    ]
    return codes


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def content_error(project: Project, letter: str, problems: list[ContentProblem]) -> DatasetError:
    """The error a run raises for data that disagrees with its declaration: the codes
    `amlas check` gives on plaintext data, located in the dataset artefact."""
    found = Diagnostics()
    for problem in problems:
        where = project.locate(letter, (problem.field,))
        at = Location(str(project.root / where.path), where.line, where.col)
        found.add(problem.code, problem.message, at)
    error = DatasetError(
        "; ".join(f"{p.message} ({p.code})" for p in problems)
        + f" (see [{letter}] '{problems[0].field}'; `amlas check` reports these on "
        "plaintext data)",
        code=problems[0].code,
    )
    error.diagnostics = tuple(found.items)
    return error


def content_tally(project: Project, letter: str) -> ContentTally:
    """An empty :class:`ContentTally` of the dataset ``letter``, located as a bound
    dataset locates its rows (lines of a CSV file, rows of the other formats)."""
    document = project.datasets()[letter]
    csv_file = document.format == "csv" and document.sealed is None
    return ContentTally(
        document,
        letter,
        classes=label_classes(project.component),
        first_row=2 if csv_file else 1,
        # a sealed CSV file's lines cannot be counted again after the run: its samples
        # are quoted by their number, which needs no second read
        unit="line" if csv_file else "sample" if document.format == "csv" else "row",
        reveal=document.sealed is None,  # a verifier's log is no place for [P]'s values
        locate=CsvLines(project.root / document.location) if csv_file else None,
    )


def bind_dataset(
    project: Project,
    letter: str,
    table: Table,
    *,
    objects: Table | None = None,
    offset: int = 0,
    whole: bool = True,
    content: ContentTally | None = None,
) -> Dataset:
    """Bind an already-read table (and, for a detector, its table of ground-truth
    ``objects``, read from the artefact's file when not given) to the dataset artefact
    ``letter``.

    A chunk of a dataset read in pieces is bound with ``whole=False`` and ``offset``, the
    number of samples before it: its rows are named by their place in the whole file, and
    what only the whole can show (the sample count, ids repeated across chunks) is left to
    the caller. Rows that disagree with the declaration (D020-D023) raise a
    :class:`DatasetError`, unless ``content`` (:func:`content_tally`) is given: they are
    tallied there, for the caller to report over every chunk at once."""
    document = project.datasets()[letter]
    environment = project.environment
    component = project.component
    n = len(table)
    ids = (
        table.text(document.id_column)
        if document.id_column
        else np.array([f"row-{offset + i + 1}" for i in range(n)], dtype=np.str_)
    )
    labels = (
        table.text(document.label_column)
        if document.label_column
        else np.full(n, "", dtype=np.str_)
    )
    tally = content if content is not None else content_tally(project, letter)
    tally.add(
        ids=ids if document.id_column else None,
        labels=labels if document.label_column else None,
        count=n,
        offset=offset,
        repeats=whole,
    )
    if content is None and (problems := tally.problems(whole=whole)):
        raise content_error(project, letter, problems)
    if document.feature_columns:
        features = list(document.feature_columns)
    elif component is not None and component.inputs.kind == "tabular":
        features = component.feature_names()
    else:
        features = []
    for name in [*features, *document.content_columns]:
        table.column(name)  # a missing column is reported now, with a did-you-mean
    odd: dict[str, NDArray[np.int64]] = {}
    banded: dict[str, dict[str, NDArray[np.int64]]] = {}
    odd_values: dict[str, NDArray[np.generic]] = {}
    per_object = set(document.objects.odd_columns) if document.objects is not None else set()
    if environment is not None:
        for dimension in environment.dimensions:
            column = document.odd_columns.get(dimension.id, dimension.column)
            if dimension.id in per_object and (column is None or column not in table.columns):
                # a dimension only the objects carry (a pedestrian's distance): an image
                # has no band of it, in any banding
                odd[dimension.id] = image_codes_without(n)
                if dimension.kind == "numeric" and dimension.bandings:
                    banded[dimension.id] = {b: image_codes_without(n) for b in dimension.bandings}
                continue
            if column is None:
                raise ColumnError(
                    f"{document.location}: no column for ODD dimension {dimension.id!r}; "
                    f"set 'column' in [B] or 'odd_columns' in [{letter}]"
                )
            values = table.column(column)
            odd_values[dimension.id] = values
            if dimension.kind == "numeric" and values.dtype.kind not in "biuf":
                bad = next((str(v) for v in values.astype(np.str_) if not _is_number(str(v))), "?")
                raise ColumnError(
                    f"{table.source}: column {column!r} of numeric ODD dimension "
                    f"{dimension.id!r} holds text such as {bad!r}; expected numbers"
                )
            odd[dimension.id] = _band_codes(values, dimension)
            if others := banding_codes(values, dimension):
                banded[dimension.id] = others
    groups = table.text(document.group_column) if document.group_column else None
    sequences = None
    if document.sequence_column and document.frame_column:
        sequences = (
            table.text(document.sequence_column),
            table.numeric([document.frame_column])[:, 0],
        )
    truth = None
    if document.objects is not None:
        spec = document.objects
        truth = truth_boxes(
            objects if objects is not None else read_outputs_table(project.root, spec),
            spec,
            ids=ids,
            classes=component.class_names() if component is not None else [],
            image_odd=odd,
            image_banded=banded,
            environment=environment,
            arrays=table.arrays,
            reveal=document.sealed is None,
        )
    return Dataset(
        letter,
        document,
        table,
        ids,
        labels,
        features,
        odd,
        odd_values,
        environment,
        groups,
        truth,
        sequences,
        component,
        banded,
    )


def load_dataset(
    project: Project, letter: str, *, data: bytes | None = None, objects: Table | None = None
) -> Dataset:
    """Read and bind the dataset ``letter``; ``data`` holds decrypted bytes of a sealed
    dataset, which are read in memory and never written to disk."""
    document = project.datasets()[letter]
    root = project.root
    metadata = Path(root / document.metadata_table) if document.metadata_table else None
    table = read_table(
        root / document.location, document.format, metadata_table=metadata, data=data
    )
    return bind_dataset(project, letter, table, objects=objects)
