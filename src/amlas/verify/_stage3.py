"""Stage 3 on datasets read in chunks: the data rules of [L] and the independence of two
datasets, in memory bounded by the chunk, with the records of a whole read.

A dataset is read once, in chunks of ``chunk_rows`` rows (sealed data decrypted and
authenticated chunk by chunk), when every stage-3 check on it can be judged that way:

- the counting rules (``within_odd``, ``schema_conformance``, ``min_samples_per_cell``,
  ``class_balance``, ``slice_balance``): each chunk is counted and the counts added
  (the whole read judges its one count);
- ``label_error_rate``: each chunk gives the labels of the audited samples it holds;
- ``duplicates`` and the independence of two datasets: shared ids and groups, and
  samples of equal content, through hash partitions spilled to disk (encrypted for
  sealed data), compared exactly partition by partition; near duplicates through the
  features spilled and searched in ranges of one feature's cells with their neighbours.

The counting, spilling and judging are :class:`~amlas.checks.ChunkedDataset`'s and
:func:`~amlas.checks.chunked_independence`'s; this module decides which datasets are
read in chunks, reads them and checks what only the whole shows.

The samples digest (``samples:X``) is hashed line by line as the chunks come, the file's
SHA-256 before they are read (a sealed file's is its header's, checked once every chunk
has been authenticated), and the sample count and ids repeated anywhere (D020, D022,
D023) are checked over the whole, as stages 4 and 5 check them.

A rule of a plug-in, a detector's objects, inputs that are not tabular, or a format read
whole make the dataset read whole, as before (:func:`stage3_reason` says why).
"""

from __future__ import annotations

import math
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from amlas.adapters import ChunkTypeError, DatasetError, ReaderOptions, chunk_reader
from amlas.checks import (
    CHUNKED_DATA_RULES,
    CheckOutcome,
    ChunkedDataset,
    NotChunkable,
    bind_dataset,
    chunked_independence,
    content_error,
    content_tally,
)
from amlas.checks import data_rules as rules_module
from amlas.errors import AmlasError
from amlas.evidence import chunked_sealed
from amlas.hashing import sha256_file
from amlas.project import read_problems
from amlas.project.artefacts.data import Duplicates
from amlas.sealing import SealError
from amlas.verify._context import RunContext
from amlas.verify._engine import file_stamp
from amlas.verify._planned import PlannedCheck

__all__ = ["Stage3Data", "close_stage3", "stage3_independence", "stage3_reason", "stage3_rule"]

_PARTITIONS = 64
"""The fewest partitions of a spill (as :class:`~amlas.checks.RepeatedValues`)."""


@dataclass
class Stage3Data:
    """What a chunked read of one dataset gave stage 3: its SHA-256, and the outcomes,
    samples digest and spilled partitions of :class:`~amlas.checks.ChunkedDataset`."""

    sha256: str
    chunks: ChunkedDataset

    def close(self) -> None:
        self.chunks.close()


def _stage3_checks(context: RunContext, letter: str | None = None) -> list[PlannedCheck]:
    return [
        p
        for p in context.plan
        if p.kind in ("data_rule", "independence")
        and p.runs_in == "amlas run"
        and p.reason is None
        and (letter is None or letter in p.datasets)
    ]


def _features(context: RunContext, letter: str) -> list[str]:
    """The model input columns of ``letter``, as :func:`bind_dataset` names them."""
    document = context.project.datasets()[letter]
    component = context.project.component
    if document.feature_columns:
        return list(document.feature_columns)
    if component is not None and component.inputs.kind == "tabular":
        return component.feature_names()
    return []


def _own_reason(context: RunContext, letter: str) -> str | None:
    """Why ``letter`` must be read whole for stage 3, leaving its partners aside."""
    project = context.project
    document = project.datasets()[letter]
    if chunk_reader(document.format) is None:
        return f"its format {document.format!r} is read whole"
    if document.objects is not None:
        return "a detector's objects are counted image by image over the whole set"
    component = project.component
    if component is None or component.inputs.kind != "tabular":
        return "its inputs are not tabular"
    if document.sealed is not None and not chunked_sealed(project, letter):
        return "it was sealed whole (format version 1): `amlas seal` it again"
    data = project.data_requirements
    checks = _stage3_checks(context, letter)
    if data is None or not checks:
        return "no stage-3 check reads it"
    for check in checks:
        if check.kind == "independence":
            continue
        requirement = next(r for r in data.requirements if r.id == check.subject)
        rule = requirement.rule
        assert rule is not None
        builtin = getattr(rules_module, rule.check.upper(), None)
        if (
            rule.check not in CHUNKED_DATA_RULES
            or rules_module.get_data_rule(rule.check) is not builtin
        ):
            return f"{check.label}: the rule {rule.check!r} is judged on the whole set"
    return None


def _near_features(context: RunContext, letter: str) -> list[str]:
    """The features the near-duplicate searches on ``letter`` compare: its duplicates
    rules' and those of its independence checks (the first dataset's features)."""
    data = context.project.data_requirements
    assert data is not None
    wanted: list[str] = []
    for check in _stage3_checks(context, letter):
        if check.kind == "independence":
            if data.independence.near_duplicate_distance > 0:
                wanted += data.independence.features or _features(context, check.datasets[0])
            continue
        rule = next(r for r in data.requirements if r.id == check.subject).rule
        if isinstance(rule, Duplicates) and rule.near_duplicate_distance > 0:
            wanted += rule.features or _features(context, letter)
    return list(dict.fromkeys(wanted))


def stage3_reason(context: RunContext, letter: str) -> str | None:
    """Why ``letter`` must be read whole for stage 3 in this run, or None when it is
    read in chunks: its own checks allow it, and so do those of every dataset its
    independence is checked against (a pair is compared in chunks or whole)."""
    reasons: dict[str, str | None] = context.stage3_reasons
    if not reasons:
        letters = sorted({x for p in _stage3_checks(context) for x in p.datasets})
        reasons.update({x: _own_reason(context, x) for x in letters})
        changed = True
        while changed:
            changed = False
            for p in _stage3_checks(context):
                if p.kind != "independence":
                    continue
                a, b = p.datasets
                for one, other in ((a, b), (b, a)):
                    if reasons[one] is None and reasons[other] is not None:
                        reasons[one] = f"{p.label}: [{other}] is read whole"
                        changed = True
        # datasets compared in chunks with each other that all fit in one chunk are read
        # whole: the same memory, and stages 4-5 reuse the read (sealed data is then
        # unsealed once, not once per stage)
        fits = {x: _fits(context, x) for x in letters}
        linked = {x: {x} for x in letters}
        for p in _stage3_checks(context):
            if p.kind == "independence" and all(reasons[x] is None for x in p.datasets):
                joined = linked[p.datasets[0]] | linked[p.datasets[1]]
                for x in joined:
                    linked[x] = joined
        for x in letters:
            if reasons[x] is None and all(fits[y] for y in linked[x]):
                reasons[x] = "it fits in one chunk"
    return reasons.get(letter, "no stage-3 check reads it")


_SMALL_FILE = 64 << 20
"""A dataset that declares no sample count fits in one chunk when its file is this small."""


def _fits(context: RunContext, letter: str) -> bool:
    """Whether ``letter`` holds no more than one chunk: its declared samples, or (none
    declared) its file's size (the sealed file's), at most :data:`_SMALL_FILE` bytes."""
    document = context.project.datasets()[letter]
    if document.samples is not None:
        return document.samples <= context.chunk_rows
    file = document.sealed.file if document.sealed is not None else document.location
    try:
        return (context.project.root / file).stat().st_size <= _SMALL_FILE
    except OSError:
        return False  # the read reports it


def _data(context: RunContext, letter: str) -> Stage3Data | None:
    """The chunked read of ``letter`` for stage 3, made on first use; None when it is
    read whole (with the run's warning, as stages 4 and 5 give it)."""
    if letter not in context.stage3:
        reason = stage3_reason(context, letter)
        retried = False
        if reason is None:
            try:
                context.stage3[letter] = _read(context, letter)
            except (ChunkTypeError, NotChunkable) as exc:  # nothing recorded yet
                reason, retried = str(exc), True
        if reason is not None:
            context.stage3[letter] = None
            document = context.project.datasets()[letter]
            if retried:
                context.report.warnings.append(f"[{letter}] is read whole: {reason}")
            elif document.samples is not None and document.samples > context.chunk_rows:
                context.report.warnings.append(
                    f"[{letter}] ({document.samples} samples) is read whole for stage 3, not "
                    f"in chunks of {context.chunk_rows}: {reason}"
                )
    found: Stage3Data | None = context.stage3[letter]
    return found


def stage3_rule(context: RunContext, planned: PlannedCheck) -> CheckOutcome | None:
    """The outcome of data rule ``planned`` from its dataset read in chunks, or None when
    that dataset is read whole."""
    (letter,) = planned.datasets
    found = _data(context, letter)
    return None if found is None else found.chunks.outcomes[planned.key]


def stage3_independence(
    context: RunContext, planned: PlannedCheck
) -> tuple[CheckOutcome, str, str] | None:
    """The independence outcome of ``planned`` and the two samples digests, from its
    datasets read in chunks, or None when they are read whole."""
    a, b = planned.datasets
    first, second = _data(context, a), _data(context, b)
    if first is None or second is None:
        return None
    data = context.project.data_requirements
    assert data is not None
    outcome = chunked_independence(first.chunks, second.chunks, data.independence)
    return outcome, first.chunks.digest, second.chunks.digest


def close_stage3(context: RunContext) -> None:
    """Remove every spilled partition of the run."""
    for found in context.stage3.values():
        if found is not None:
            found.close()


def _partitions(context: RunContext) -> int:
    """Partitions per spill: enough that one holds about a quarter of a chunk of the
    largest dataset declared (at least 64), so that comparing a
    partition needs less memory than reading a chunk, whatever the data's size."""
    declared = [d.samples or 0 for d in context.project.datasets().values()]
    return max(_PARTITIONS, 4 * math.ceil(max(declared, default=0) / context.chunk_rows))


def _read(context: RunContext, letter: str) -> Stage3Data:
    """Read ``letter`` in chunks and judge every stage-3 data rule on it, keeping what
    its independence checks compare (see the module docs)."""
    project = context.project
    document = project.datasets()[letter]
    data = project.data_requirements
    assert data is not None
    reader = chunk_reader(document.format)
    assert reader is not None
    checks = _stage3_checks(context, letter)
    rules: dict[str, tuple[str, Any, dict[str, Any]]] = {}
    for p in checks:
        if p.kind == "data_rule":
            requirement = next(r for r in data.requirements if r.id == p.subject)
            assert requirement.rule is not None
            parameters = requirement.rule.model_dump(mode="json", by_alias=True)
            rules[p.key] = (p.subject, requirement.rule, parameters)
    path = project.root / document.location
    # the spills outlive the read (the independence checks compare them): close_stage3
    # removes them at the end of the run, and this function when it fails
    chunks = ChunkedDataset(
        project,
        letter,
        rules,
        paired=any(p.kind == "independence" for p in checks),
        partitions=_partitions(context),
        secret=document.sealed is not None,
        near=_near_features(context, letter),
        range_rows=max(context.chunk_rows // 2, 1),
    )
    try:
        with ExitStack() as stack:
            handle = None
            seen = None
            if document.sealed is not None:
                unsealed = context.unseal(letter, chunked=True)
                handle = stack.enter_context(unsealed.reader())
                sha256 = unsealed.header.plaintext_sha256
            else:
                seen = file_stamp(path)
                sha256 = sha256_file(path)
            meta = project.root / document.metadata_table if document.metadata_table else None
            options = ReaderOptions(metadata_table=meta)
            content = content_tally(project, letter)
            read = 0
            for table in reader.iter_read(
                path, options, rows=context.chunk_rows, sha256=sha256, handle=handle
            ):
                try:
                    bound = bind_dataset(
                        project, letter, table, offset=read, whole=False, content=content
                    )
                    if not content.found():
                        chunks.add(bound)
                    elif chunks.ids is not None:
                        chunks.ids.add(bound.ids, read)  # for the repeats reported with them
                except AmlasError as exc:
                    if not content.found() or isinstance(exc, SealError):
                        raise
                    # a whole read reports the rows' problems first: so does this, with
                    # those of the chunks read until the other error
                    raise content_error(project, letter, content.problems(whole=False)) from None
                read += len(table)
            if handle is not None:
                handle.verify()  # every chunk authenticated (a TamperError is R061)
            if seen is not None and file_stamp(path) != seen:
                # hashed before it was read: the records would cite a hash of other content
                raise DatasetError(
                    f"{document.location}: the file changed while the run read it; run again"
                )
        repeats = chunks.ids.repeats() if chunks.ids is not None and read else []
        problems = read_problems(
            document, letter, read, content, repeats, reveal=document.sealed is None
        )
        if problems:
            raise content_error(project, letter, problems)
        chunks.judge(repeated_ids=bool(repeats))
    except BaseException:
        chunks.close()
        raise
    return Stage3Data(sha256, chunks)
