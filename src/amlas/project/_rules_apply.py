"""Every rule over a loaded project, once more over the artefacts that loaded in part."""

from __future__ import annotations

import re

from amlas.diagnostics import Diagnostics, Location
from amlas.project._loader import LoadResult
from amlas.project._yaml import SourceMap
from amlas.project.rules import run_rules

__all__ = ["apply_rules"]


def apply_rules(result: LoadResult) -> None:
    """Run every rule over what loaded (and over the partly loaded artefacts, see
    :func:`_rules_over_partial`), keep the file hashes, and sort the diagnostics."""
    run_rules(result.project, result.diagnostics)
    _rules_over_partial(result)
    if result.project.hashes is not None:
        result.project.hashes.save()
    result.diagnostics.items = result.diagnostics.sorted()


def _rules_over_partial(result: LoadResult) -> None:
    """The rules once more with the artefacts that loaded only in part, keeping what they
    find inside those artefacts' own files: a problem of one requirement does not hide
    the problems of the others until it is fixed. Findings elsewhere are left out, since
    they could rest on the elements that were dropped (an [E] item 'refined by nothing'
    whose refining [H] item is the malformed one)."""
    project = result.project
    if not project.partial:
        return
    files = {project.files[letter] for letter in project.partial if letter in project.files}
    sources = dict(project.sources)
    seen = {(d.code, d.location, d.message) for d in result.diagnostics}
    extra = Diagnostics()
    project.artefacts.update(project.partial)
    for letter, positions in project.partial_index.items():
        if letter in sources:  # locations of the kept elements are their places in the file
            project.sources[letter] = _Renumbered(sources[letter], positions)  # type: ignore[assignment]
    try:  # the datasets are read again only if a dataset artefact is itself partial
        run_rules(project, extra, data=bool(set(project.partial) & {"N", "O", "P"}))
    finally:
        for letter in project.partial:
            project.artefacts.pop(letter, None)
        project.sources.update(sources)
    spans = {
        project.files[letter]: _kept_spans(sources[letter], project.partial_index[letter])
        for letter in project.partial
        if letter in sources and letter in project.files
    }
    # a finding that names an ID of a left-out element rests on its absence ('unknown ID')
    dropped = re.compile(
        r"\b(" + "|".join(re.escape(i) for i in sorted(project.partial_dropped)) + r")\b"
    )
    for diagnostic in extra:
        key = (diagnostic.code, diagnostic.location, diagnostic.message)
        where = diagnostic.location
        inside = any(a <= where.line < b for a, b in spans.get(where.path, []))
        names_dropped = project.partial_dropped and dropped.search(diagnostic.message)
        if where.path in files and inside and key not in seen and not names_dropped:
            result.diagnostics.items.append(diagnostic)
            seen.add(key)


def _kept_spans(source: SourceMap, positions: dict[str, list[int]]) -> list[tuple[int, int]]:
    """The line ranges of the kept list elements in the file: a finding there is about
    that element; one about the document as a whole (say 'no completeness requirement')
    could rest on the elements left out, so it is not reported from the partial run."""
    starts = sorted(
        line
        for path, (line, _) in source.values.items()
        if len(path) == 1 or (len(path) == 2 and isinstance(path[1], int))
    )
    out = []
    for field, kept in positions.items():
        for i in kept:
            begin = source.values.get((field, i))
            if begin is None:
                continue
            later = [line for line in starts if line > begin[0]]
            out.append((begin[0], later[0] if later else 10**9))
    return out


class _Renumbered:
    """A source map seen through a partial document: list position i of the kept
    elements is position ``positions[field][i]`` in the file."""

    def __init__(self, source: SourceMap, positions: dict[str, list[int]]) -> None:
        self.source = source
        self.positions = positions

    def locate(self, at: tuple[str | int, ...] = (), *, key: bool = False) -> Location:
        at = tuple(at)
        if len(at) >= 2 and isinstance(at[0], str) and isinstance(at[1], int):
            kept = self.positions.get(at[0])
            if kept is not None and at[1] < len(kept):
                at = (at[0], kept[at[1]], *at[2:])
        return self.source.locate(at, key=key)
