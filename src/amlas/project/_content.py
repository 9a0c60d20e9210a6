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

Samples are located as in the file: a CSV file's header is line 1 and its first sample
line 2; other formats count rows from 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from amlas.project.artefacts import DatasetDocument, MLComponentDescription

__all__ = ["ContentProblem", "as_table_text", "content_problems", "label_classes"]

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


def _rows(indices: np.ndarray, first_row: int) -> str:
    shown = ", ".join(str(int(i) + first_row) for i in indices[:_SHOWN])
    more = f" and {len(indices) - _SHOWN} more" if len(indices) > _SHOWN else ""
    return shown + more


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
    (:func:`count_problems`, :func:`repeat_problem`)."""
    where = f"[{letter}] {document.location}"
    problems: list[ContentProblem] = []
    if whole:
        problems.extend(count_problems(document, letter, count))
        if count == 0:
            return problems
    if labels is not None:
        text = np.asarray(labels, dtype=np.str_)
        stripped = np.char.strip(text)
        empty = np.flatnonzero(stripped == "")
        if len(empty):
            problems.append(
                ContentProblem(
                    "D021",
                    "label_column",
                    f"{where}: {len(empty)} sample(s) have an empty label in column "
                    f"{document.label_column!r} ({unit} {_rows(empty, first_row)}); expected "
                    "a label for every sample",
                )
            )
        if classes is not None:
            unknown_mask = ~np.isin(text, np.asarray(classes, dtype=np.str_)) & (stripped != "")
            unknown = np.flatnonzero(unknown_mask)
            if len(unknown):
                values = sorted({str(v) for v in text[unknown]})
                shown = ", ".join(repr(v) for v in values[:_SHOWN]) if reveal else "(sealed)"
                problems.append(
                    ContentProblem(
                        "D021",
                        "label_column",
                        f"{where}: {len(unknown)} sample(s) have a label that is not a class "
                        f"of [D]: {shown} ({unit} {_rows(unknown, first_row)}); expected one "
                        f"of {', '.join(classes)}",
                    )
                )
    if ids is not None and document.id_column:
        id_text = np.asarray(ids, dtype=np.str_)
        empty = np.flatnonzero(np.char.strip(id_text) == "")
        if len(empty):
            problems.append(
                ContentProblem(
                    "D022",
                    "id_column",
                    f"{where}: {len(empty)} sample(s) have an empty id in column "
                    f"{document.id_column!r} ({unit} {_rows(empty, first_row)}); expected a "
                    "unique id for every sample",
                )
            )
        if whole:
            distinct, first, counts = np.unique(id_text, return_index=True, return_counts=True)
            repeated = (counts > 1) & (np.char.strip(distinct) != "")
            if repeated.any():
                order = np.argsort(first[repeated])
                problems.append(
                    repeat_problem(
                        document,
                        letter,
                        [str(v) for v in distinct[repeated][order]],
                        [int(c) for c in counts[repeated][order]],
                        reveal=reveal,
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


def as_table_text(values: list[str]) -> list[str]:
    """Raw CSV cells as the table readers give them to `amlas run` (``Table.text``): a
    column of numbers reads as numbers, so '1.0' and '001' are the label or id '1'."""
    numbers: list[float] = []
    for value in values:
        if value.strip() == "":
            numbers.append(float("nan"))
            continue
        try:
            numbers.append(float(value))
        except ValueError:
            return values  # a text column: compared as written
    out = []
    for number in numbers:
        if number != number:  # NaN: an empty cell
            out.append("")
        elif number.is_integer() and abs(number) < 2**63:
            out.append(str(int(number)))
        else:
            out.append(str(number))
    return out
