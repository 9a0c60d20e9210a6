"""What a dataset's rows must agree with: its declaration and the component's classes.

One set of rules, applied twice: by ``amlas check`` to the plaintext files it can read (CSV
and Parquet), and by ``amlas run`` to every dataset it binds (sealed [P] included, which only
the verifier can read). Each problem names the data file's row, the value found and what was
expected:

- D020 the file holds another number of samples than [N]/[O]/[P] ``samples`` declares;
- D021 a label is empty, or not a class of [D] (classification tasks);
- D022 a sample id is empty, or repeats (findings, and the shared-id independence check,
  name samples by id, so ids must be unique);
- D023 the file holds no samples at all (a header and no rows).

Samples are located as in the file: a plaintext CSV file's by the line their row starts
on (its header is line 1; blank lines and quoted cells across lines are counted, by
:class:`~amlas.adapters.CsvLines`); a sealed CSV file's by their number (sample 1 is the
first row below the header: its lines cannot be counted again after the run); other
formats count rows from 1.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from amlas.project.artefacts import DatasetDocument, MLComponentDescription

__all__ = [
    "ContentProblem",
    "ContentTally",
    "RepeatSpill",
    "as_table_text",
    "content_problems",
    "label_classes",
    "numeric_cells",
    "read_problems",
]

_SHOWN = 5  # rows quoted per problem; the count is always exact


@dataclass(frozen=True)
class ContentProblem:
    code: str
    field: str
    """The dataset artefact's field the problem is about (where `check` points)."""
    message: str


def label_classes(component: MLComponentDescription | None) -> list[str] | None:
    """The labels a dataset may hold, or None when [D] does not fix them."""
    if component is None or component.task not in (
        "binary_classification",
        "multiclass_classification",
    ):
        return None
    return component.class_names() or None


def content_problems(
    document: DatasetDocument,
    letter: str,
    *,
    ids: Sequence[str] | np.ndarray | None,
    labels: Sequence[str] | np.ndarray | None,
    count: int,
    classes: list[str] | None,
    first_row: int = 2,
    unit: str = "line",
    reveal: bool = True,
    whole: bool = True,
) -> list[ContentProblem]:
    """Every disagreement of a dataset's rows with its declaration. ``first_row`` is the
    number of the first sample in ``unit``s (line 2 of a CSV file, below its header; row 1
    of a Parquet or NumPy file). ``reveal=False`` (sealed data, read by the verifier)
    leaves the values out of the messages: counts and positions only. ``whole=False``
    checks one chunk of a dataset read in pieces: what only the whole can show (no
    samples, the declared count, ids repeated across chunks) is left to the caller
    (:func:`count_problems`, :func:`repeat_problem`), or to a :class:`ContentTally`
    given every chunk."""
    tally = ContentTally(
        document, letter, classes=classes, first_row=first_row, unit=unit, reveal=reveal
    )
    tally.add(ids=ids, labels=labels, count=count, repeats=whole)
    return tally.problems(whole=whole)


class ContentTally:
    """:func:`content_problems` over a dataset given in chunks (in file order), in memory
    bounded by a chunk: each problem keeps its exact count, the first rows it quotes and,
    for labels that are not classes, the first values in sorted order, so that the
    problems of the whole are those of :func:`content_problems` on the whole, message
    for message. Ids repeated across chunks need the whole set: :meth:`add` gives each
    chunk's ids to ``repeats`` (an object with ``add(values, first_row)`` and
    ``repeats()``, such as :class:`~amlas.adapters.RepeatedValues`, which spills
    them to disk) when one is given, or finds the repeats within the chunk
    (``repeats=True``, a whole dataset given as one chunk)."""

    def __init__(
        self,
        document: DatasetDocument,
        letter: str,
        *,
        classes: list[str] | None,
        first_row: int = 2,
        unit: str = "line",
        reveal: bool = True,
        spill: RepeatSpill | None = None,
        locate: Callable[[list[int]], Mapping[int, int]] | None = None,
    ) -> None:
        self.document, self.letter, self.classes = document, letter, classes
        self.first_row, self.unit, self.reveal, self.spill = first_row, unit, reveal, spill
        self.locate = locate
        """Where the rows quoted are in the file (0-based sample -> line), for a file
        whose samples are not one per line from ``first_row`` (a CSV file with blank lines
        or cells across lines: :class:`~amlas.adapters.CsvLines`); rows it cannot place
        are quoted as samples (1-based) instead."""
        self.count = 0
        self._empty_labels = _Rows()
        self._unknown_labels = _Rows()
        self._unknown_values: list[str] = []
        self._empty_ids = _Rows()
        self._repeated: list[tuple[str, int]] | None = None

    def add(
        self,
        *,
        ids: Sequence[str] | np.ndarray | None,
        labels: Sequence[str] | np.ndarray | None,
        count: int,
        repeats: bool = False,
        offset: int | None = None,
    ) -> None:
        """The next chunk: its ``count`` samples' ids and labels (None: not checked);
        ``offset``: the number of samples before it in the dataset, where chunks are
        tallied apart and merged (:meth:`merge`; default: the samples given so far)."""
        at = self.count if offset is None else offset
        self.count += count
        if labels is not None:
            text = np.asarray(labels, dtype=np.str_)
            stripped = np.char.strip(text)
            self._empty_labels.add(np.flatnonzero(stripped == ""), at)
            if self.classes is not None:
                known = np.isin(text, np.asarray(self.classes, dtype=np.str_))
                unknown = np.flatnonzero(~known & (stripped != ""))
                self._unknown_labels.add(unknown, at)
                if len(unknown):
                    values = {str(v) for v in text[unknown]} | set(self._unknown_values)
                    self._unknown_values = sorted(values)[:_SHOWN]
        if ids is not None and self.document.id_column:
            id_text = np.asarray(ids, dtype=np.str_)
            self._empty_ids.add(np.flatnonzero(np.char.strip(id_text) == ""), at)
            if self.spill is not None:
                self.spill.add(id_text, at)
            elif repeats:
                distinct, first, counts = np.unique(id_text, return_index=True, return_counts=True)
                repeated = (counts > 1) & (np.char.strip(distinct) != "")
                order = np.argsort(first[repeated])
                self._repeated = list(
                    zip(
                        [str(v) for v in distinct[repeated][order]],
                        [int(c) for c in counts[repeated][order]],
                        strict=True,
                    )
                )

    def merge(self, other: ContentTally) -> ContentTally:
        """This tally and ``other``'s, of other chunks of the same dataset, as one (in
        any order: what is kept of each problem is its count, its first rows and its
        first values in sorted order). Ids repeated across chunks are not merged: give
        every chunk's ids to one ``spill`` for those."""
        merged = copy.copy(self)
        merged.count = self.count + other.count
        merged._empty_labels = self._empty_labels.merge(other._empty_labels)
        merged._unknown_labels = self._unknown_labels.merge(other._unknown_labels)
        merged._unknown_values = sorted({*self._unknown_values, *other._unknown_values})[:_SHOWN]
        merged._empty_ids = self._empty_ids.merge(other._empty_ids)
        return merged

    def found(self) -> bool:
        """Whether the rows given so far disagree with the declaration (what
        ``problems(whole=False)`` reports), without writing the messages (nor reading
        the file again to place the rows quoted)."""
        return bool(self._empty_labels.count or self._unknown_labels.count or self._empty_ids.count)

    def _where(self, rows: _Rows, lines: Mapping[int, int] | None) -> str:
        """The rows quoted, as "line 5, 9" (or the file's own unit), or as "sample 4, 8"
        where :attr:`locate` placed (``lines``) not every one of them."""
        if self.locate is None:
            return f"{self.unit} {rows.text(lambda i: i + self.first_row)}"
        if lines is not None and all(i in lines for i in rows.first):
            return f"{self.unit} {rows.text(lambda i: lines[i])}"
        return f"sample {rows.text(lambda i: i + 1)}"

    def problems(self, *, whole: bool = True) -> list[ContentProblem]:
        """What the chunks given disagree with, in :func:`content_problems`' order;
        ``whole=False``: without what only the whole dataset can show."""
        document = self.document
        where = f"[{self.letter}] {document.location}"
        problems: list[ContentProblem] = []
        if whole:
            problems.extend(count_problems(document, self.letter, self.count))
            if self.count == 0:
                return problems
        quoted = self._empty_labels.first + self._unknown_labels.first + self._empty_ids.first
        lines = self.locate(sorted(set(quoted))) if self.locate and quoted else None
        if self._empty_labels.count:
            problems.append(
                ContentProblem(
                    "D021",
                    "label_column",
                    f"{where}: {self._empty_labels.count} sample(s) have an empty label in "
                    f"column {document.label_column!r} ({self._where(self._empty_labels, lines)}); "
                    "expected a label for every sample",
                )
            )
        if self._unknown_labels.count:
            assert self.classes is not None
            shown = ", ".join(repr(v) for v in self._unknown_values) if self.reveal else "(sealed)"
            problems.append(
                ContentProblem(
                    "D021",
                    "label_column",
                    f"{where}: {self._unknown_labels.count} sample(s) have a label that is not "
                    f"a class of [D]: {shown} ({self._where(self._unknown_labels, lines)}); "
                    f"expected one of {', '.join(self.classes)}",
                )
            )
        if self._empty_ids.count:
            problems.append(
                ContentProblem(
                    "D022",
                    "id_column",
                    f"{where}: {self._empty_ids.count} sample(s) have an empty id in column "
                    f"{document.id_column!r} ({self._where(self._empty_ids, lines)}); "
                    "expected a unique id for every sample",
                )
            )
        repeated = self._repeated
        if whole and self.spill is not None:
            repeated = [(r.value, r.count) for r in self.spill.repeats() if r.value.strip()]
        if whole and repeated:
            problems.append(
                repeat_problem(
                    document,
                    self.letter,
                    [v for v, _ in repeated],
                    [c for _, c in repeated],
                    reveal=self.reveal,
                )
            )
        return problems


class RepeatSpill(Protocol):
    """Where a :class:`ContentTally` keeps the ids of the chunks to find those that repeat
    over the whole (:class:`~amlas.adapters.RepeatedValues`)."""

    def add(self, values: np.ndarray, first_row: int) -> None: ...

    def repeats(self) -> Sequence[_Repeat]: ...


class _Repeat(Protocol):
    @property
    def value(self) -> str: ...

    @property
    def count(self) -> int: ...


class _Rows:
    """The rows of one problem: how many, and the first :data:`_SHOWN` (0-based)."""

    def __init__(self) -> None:
        self.count = 0
        self.first: list[int] = []

    def add(self, indices: np.ndarray, at: int) -> None:
        self.count += len(indices)
        if len(self.first) < _SHOWN:
            self.first += [int(i) + at for i in indices[: _SHOWN - len(self.first)]]

    def merge(self, other: _Rows) -> _Rows:
        merged = _Rows()
        merged.count = self.count + other.count
        merged.first = sorted(self.first + other.first)[:_SHOWN]
        return merged

    def text(self, number: Callable[[int], int]) -> str:
        shown = ", ".join(str(number(i)) for i in self.first)
        more = f" and {self.count - _SHOWN} more" if self.count > _SHOWN else ""
        return shown + more


def read_problems(
    document: DatasetDocument,
    letter: str,
    count: int,
    content: ContentTally | None,
    repeats: Sequence[_Repeat] | None,
    *,
    reveal: bool,
) -> list[ContentProblem]:
    """What a dataset read in chunks disagrees with, as :func:`content_problems` reports
    it for a whole read: the count (and nothing else when there are no samples), the
    rows' problems merged over the chunks (``content``), then the ids that repeat
    (``repeats``, from the spill every chunk's ids went to)."""
    problems = count_problems(document, letter, count)
    if count == 0:
        return problems
    if content is not None:
        problems.extend(content.problems(whole=False))
    found = [r for r in repeats or () if r.value.strip()]
    if found:
        problems.append(
            repeat_problem(
                document, letter, [r.value for r in found], [r.count for r in found], reveal=reveal
            )
        )
    return problems


def count_problems(document: DatasetDocument, letter: str, count: int) -> list[ContentProblem]:
    """A dataset of ``count`` samples against its declaration: none at all, or not the
    number [``letter``] declares."""
    where = f"[{letter}] {document.location}"
    if count == 0:
        return [
            ContentProblem(
                "D023",
                "location",
                f"{where} holds no samples (a header and no rows); expected at least one",
            )
        ]
    if document.samples is not None and document.samples != count:
        return [
            ContentProblem(
                "D020",
                "samples",
                f"{where} holds {count} samples; [{letter}] declares samples: {document.samples}",
            )
        ]
    return []


def repeat_problem(
    document: DatasetDocument,
    letter: str,
    values: list[str],
    counts: list[int],
    *,
    reveal: bool,
) -> ContentProblem:
    """The ids that repeat (non-empty, in order of first row) and how often each."""
    where = f"[{letter}] {document.location}"
    shown = (
        "(sealed)"
        if not reveal
        else ", ".join(f"{v!r} x{c}" for v, c in zip(values[:_SHOWN], counts[:_SHOWN], strict=True))
    )
    extra = sum(counts) - len(counts)
    return ContentProblem(
        "D022",
        "id_column",
        f"{where}: {len(values)} sample id(s) repeat in column {document.id_column!r} "
        f"({extra} extra row(s)): {shown}; expected a unique id per sample",
    )


def as_table_text(values: list[str], *, numeric: bool | None = None) -> list[str]:
    """Raw CSV cells as the table readers give them to `amlas run` (``Table.text``): a
    column of numbers reads as numbers, so '1.0' and '001' are the label or id '1'.
    ``numeric`` says whether the whole column is numbers (:func:`numeric_cells`), for a
    column given in pieces; None: decided from ``values``."""
    if numeric is None:
        numeric = numeric_cells(values)
    if not numeric:
        return values  # a text column: compared as written
    out = []
    for value in values:
        if value.strip() == "":
            out.append("")
            continue
        number = float(value)
        if number != number:  # NaN written out: read as an empty cell
            out.append("")
        elif number.is_integer() and abs(number) < 2**63:
            out.append(str(int(number)))
        else:
            out.append(str(number))
    return out


def numeric_cells(values: Iterable[str]) -> bool:
    """Whether every non-empty cell is a number (the column then reads as numbers)."""
    for value in values:
        if value.strip() == "":
            continue
        try:
            float(value)
        except ValueError:
            return False
    return True
