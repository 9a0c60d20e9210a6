"""Pin a review record [RV]: write into it the hash of everything it examined.

A review holds only for the versions it examined. ``amlas review pin DIR ID`` is the
reviewer's statement that the items and documents the review names are, as they are now,
what was reviewed: it writes their SHA-256 (the same hashes the case compares,
:meth:`~amlas.evidence.ProjectInputs.review_pin`: for a verification review, together with
the data or model the item was judged on) into the review's ``sha256`` fields. The file is
edited in place, as text, so comments and layout stay; the edit is read back and must
give exactly the intended hashes, and it is written atomically.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from amlas.errors import ProblemError
from amlas.evidence._inputs import ProjectInputs
from amlas.fileio import atomic_write_text
from amlas.project import Project, check_project, read_document
from amlas.project.artefacts import ReviewRecords

__all__ = ["Pin", "pin_review"]

_TOKEN = re.compile(r"""(["']?)(pending|[0-9a-f]{64})\1""")


@dataclass(frozen=True)
class Pin:
    """One hash written into a review: what, the hash before and after."""

    review: str
    subject: str
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def pin_review(root: str | Path | Project, review_id: str) -> list[Pin]:
    """Write the current hash of every item and document review ``review_id`` names
    into its file; returns one :class:`Pin` per entry (changed or not).

    Raises :class:`~amlas.errors.ProblemError` (R100) when the project has no loadable
    [RV], names no such review, or a named item or document does not exist now."""
    project = root if isinstance(root, Project) else check_project(root).project
    reviews = project.get("RV", ReviewRecords)
    relative = project.files.get("RV", "")
    if reviews is None or "RV" not in project.sources:
        raise ProblemError(
            f"the project has no review records [RV] that load ({relative}): "
            "'amlas check' lists what is wrong",
            code="R100",
            path=relative,
        )
    found = [i for i, r in enumerate(reviews.reviews) if r.id == review_id]
    if not found:
        known = ", ".join(r.id for r in reviews.reviews)
        raise ProblemError(
            f"[RV] has no review {review_id!r}",
            code="R100",
            path=relative,
            value=review_id,
            expected=f"one of {known}",
        )
    index = found[0]
    review = reviews.reviews[index]
    source = project.sources["RV"]
    inputs = ProjectInputs(project)
    wanted: list[tuple[tuple[str | int, ...], str, str, str]] = []  # path, subject, before, now
    for j, item in enumerate(review.items):
        now = inputs.review_pin(item.item, review.purpose)
        if now is None:
            raise ProblemError(
                f"review {review_id} names {item.item!r}, which is no item of the project now",
                code="R100",
                at=source.locate(("reviews", index, "items", j, "item")),
                value=item.item,
            )
        wanted.append((("reviews", index, "items", j), item.item, item.sha256, now))
    for j, document in enumerate(review.documents):
        now = inputs.current(f"file:{document.file}")
        if now is None:
            raise ProblemError(
                f"review {review_id} names document {document.file!r}, which is no file of "
                "the project",
                code="R100",
                at=source.locate(("reviews", index, "documents", j, "file")),
                value=document.file,
            )
        wanted.append((("reviews", index, "documents", j), document.file, document.sha256, now))
    path = project.root / relative
    text = path.read_text("utf-8-sig")
    lines = text.split("\n")
    edits: list[tuple[int, int, int, str]] = []  # line index, start col, end col, replacement
    for at, subject, _before, now in wanted:
        edits.append(_edit(lines, source, at, subject, now, relative))
    for line, start, end, replacement in sorted(edits, reverse=True):
        if start < 0:  # a new line after ``line``
            lines.insert(line + 1, replacement)
        else:
            lines[line] = lines[line][:start] + replacement + lines[line][end:]
    edited = "\n".join(lines)
    _confirm(project, edited, relative, index, [w[3] for w in wanted])
    atomic_write_text(path, edited)
    return [Pin(review_id, subject, before, now) for _, subject, before, now in wanted]


def _edit(
    lines: list[str],
    source: object,
    at: tuple[str | int, ...],
    subject: str,
    now: str,
    relative: str,
) -> tuple[int, int, int, str]:
    values = source.values  # type: ignore[attr-defined]
    keys = source.keys  # type: ignore[attr-defined]
    if (*at, "sha256") in values:  # replace the value in place
        line, col = values[(*at, "sha256")]
        match = _TOKEN.match(lines[line - 1], col - 1)
        if match is None:
            raise ProblemError(
                f"cannot pin {subject}: the sha256 at {relative}:{line}:{col} is not written "
                "as a plain value",
                code="R100",
                path=relative,
                line=line,
            )
        return line - 1, match.start(), match.end(), now
    name = "item" if at[-2] == "items" else "file"
    entry_line, entry_col = values[at]
    first = lines[entry_line - 1][entry_col - 1 :]
    key_line, key_col = keys[(*at, name)]
    value_line, value_col = values[(*at, name)]
    if first.startswith("{"):  # a flow mapping: add ', sha256: ...' after its value
        row = lines[value_line - 1]
        end = _scalar_end(row, value_col - 1)
        return value_line - 1, end, end, f", sha256: {now}"
    if value_line != key_line:
        raise ProblemError(
            f"cannot pin {subject}: write its '{name}:' on one line, or add 'sha256: pending'",
            code="R100",
            path=relative,
            line=key_line,
        )
    return value_line - 1, -1, -1, " " * (key_col - 1) + f"sha256: {now}"


def _scalar_end(row: str, start: int) -> int:
    """The end of the scalar that starts at ``start`` of a flow mapping's row."""
    if row[start : start + 1] in ('"', "'"):
        quote = row[start]
        end = row.find(quote, start + 1)
        return end + 1 if end >= 0 else len(row)
    end = start
    while end < len(row) and row[end] not in ",}":
        end += 1
    while end > start and row[end - 1] == " ":
        end -= 1
    return end


def _confirm(project: Project, edited: str, relative: str, index: int, hashes: list[str]) -> None:
    """Read the edited text back: it must load as [RV] with exactly the new hashes."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "RV.yaml"
        copy.write_text(edited, "utf-8")
        read = read_document(copy, ReviewRecords, shown=relative)
    review = read.value.reviews[index] if read.value is not None else None
    pinned = (
        [x.sha256 for x in review.items] + [x.sha256 for x in review.documents]
        if review is not None
        else None
    )
    if pinned != hashes:  # a layout the in-place edit cannot handle: nothing is written
        raise ProblemError(
            f"cannot pin {relative} in place (a comment inside a flow mapping, a value over "
            "several lines?): write each pinned entry as 'item: ID' or 'file: PATH' on a "
            "line of its own, or add 'sha256: pending' to it, and pin again",
            code="R100",
            path=relative,
        )
