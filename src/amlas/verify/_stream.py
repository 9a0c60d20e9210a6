"""Stages 4 and 5 on a dataset read in chunks: memory bounded by the chunk, not the data.

When every check a run plans on a dataset is a requirement whose metric tallies
(:class:`~amlas.checks.metrics.ChunkedMetric`), the dataset is read once, in chunks of
``chunk_rows`` rows (Parquet record batches, CSV blocks, an image folder's images in
batches; sealed data decrypted and authenticated chunk by chunk, never whole), and for
each chunk: its rows are bound and checked against [D] and the dataset artefact, the
model predicts it, and every requirement tallies it. The tallies are added in file
order and judged once, so each record is the one a whole read gives (same verdicts,
estimates, bounds, listed ids and input hashes): :mod:`amlas.checks._tally` says why.
What only the whole dataset shows is checked over it: the number of samples, and ids
repeated anywhere in it (exactly, through hash partitions spilled to disk,
:class:`~amlas.checks.RepeatedValues`); the sealed content's SHA-256 is verified once
every chunk has been read.

Anything else on the dataset (a formal proof, a perturbation, a bootstrap metric,
sequences, a detector's objects, predictions read from a file, a reader that cannot give
chunks) needs it whole, and the dataset is then read whole, as before;
the run says why (:func:`stream_reason`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters import (
    ArrowReader,
    ChunkedReader,
    ChunkTypeError,
    DatasetError,
    ReaderOptions,
    chunk_reader,
)
from amlas.checks import RepeatedValues, RequirementResult, content_error
from amlas.checks.metrics import ChunkedMetric, MetricContext, get_metric
from amlas.errors import AmlasError, ProblemError
from amlas.evidence import canonical_hash, chunked_sealed
from amlas.hashing import sha256_file, sha256_tree
from amlas.project import ContentTally, read_problems
from amlas.project.artefacts import MLSafetyRequirement
from amlas.sealing import SealError
from amlas.verify._context import RunContext, Streamed
from amlas.verify._engine import (
    ArrowRows,
    ChunkJob,
    DaskEngine,
    Engine,
    FileRows,
    Rows,
    file_stamp,
    open_engine,
)
from amlas.verify._planned import PlannedCheck
from amlas.verify._stage3 import stage3_reason

__all__ = [
    "close_engine",
    "open_engine_now",
    "stream_dataset",
    "stream_reason",
    "streamed_result",
]


def streamed_result(context: RunContext, planned: PlannedCheck) -> RequirementResult | str | None:
    """The result of ``planned`` from its dataset read in chunks (or why its metric
    cannot judge it), or None when that dataset is read whole. The first call for a
    dataset decides (:func:`stream_reason`) and, if it can, reads it."""
    (letter,) = planned.datasets
    if letter not in context.streamed:
        reason = stream_reason(context, letter)
        retried = False
        if reason is None:
            try:
                context.streamed[letter] = stream_dataset(context, letter)
            except ChunkTypeError as exc:  # nothing recorded yet: read it whole instead
                reason, retried = str(exc), True
        if reason is not None:
            context.streamed[letter] = None
            document = context.project.datasets()[letter]
            spec = context.engine_spec
            if retried:
                context.report.warnings.append(f"[{letter}] is read whole: {reason}")
            elif spec is not None and spec.name != "local":
                context.report.warnings.append(
                    f"[{letter}] is read whole in this process, not on the {spec.name} "
                    f"engine: {reason}"
                )
            elif document.samples is not None and document.samples > context.chunk_rows:
                context.report.warnings.append(
                    f"[{letter}] ({document.samples} samples) is read whole, not in "
                    f"chunks of {context.chunk_rows}: {reason}"
                )
    streamed = context.streamed[letter]
    return None if streamed is None else streamed.results.get(planned.key)


def _requirement(context: RunContext, planned: PlannedCheck) -> MLSafetyRequirement:
    ml = context.project.ml_requirements
    assert ml is not None
    return next(r for r in ml.requirements if r.id == planned.subject)


def _planned_on(context: RunContext, letter: str) -> list[PlannedCheck]:
    """The checks this run will execute that read ``letter`` (stage 3's aside when stage
    3 reads it in chunks itself: ``verify/_stage3.py``)."""
    own = stage3_reason(context, letter) is not None
    return [
        p
        for p in context.plan
        if p.runs_in == "amlas run"
        and p.reason is None
        and letter in p.datasets
        and (own or p.kind not in ("data_rule", "independence"))
    ]


def stream_reason(context: RunContext, letter: str) -> str | None:
    """Why ``letter`` must be read whole in this run, or None when it can be read in
    chunks (see the module docs)."""
    project = context.project
    document = project.datasets()[letter]
    if chunk_reader(document.format) is None:
        return f"its format {document.format!r} is read whole"
    if document.objects is not None:
        return "a detector's objects are matched image by image over the whole set"
    if document.sequence_column:
        return "its samples form sequences, judged over whole sequences"
    ref = context.model_reference
    if ref is None or not ref.loadable or ref.predictions_for(letter) is not None:
        return "its predictions are read from a file"
    component = project.component
    if component is None or component.inputs.kind not in ("tabular", "image"):
        return "its inputs are neither tabular nor images"
    if document.sealed is not None and not chunked_sealed(project, letter):
        return "it was sealed whole (format version 1): `amlas seal` it again"
    planned = _planned_on(context, letter)
    if not planned:
        return "no check reads it"
    for check in planned:
        if check.kind != "requirement":
            return f"{check.label} needs it whole"
        requirement = _requirement(context, check)
        metric = get_metric(requirement.metric or "")
        if not isinstance(metric, ChunkedMetric) or not metric.streams(requirement):
            return f"{check.label}: the metric {requirement.metric!r} is judged on the whole set"
    return None


def stream_dataset(context: RunContext, letter: str) -> Streamed:
    """Read ``letter`` in chunks and judge every requirement the run plans on it (see the
    module docs); the caller checked :func:`stream_reason`. The work on each chunk runs
    on the run's engine (this process, or a Dask cluster: :mod:`amlas.verify._engine`)."""
    project = context.project
    document = project.datasets()[letter]
    reader = chunk_reader(document.format)
    assert reader is not None
    planned = _planned_on(context, letter)
    requirements = {p.key: _requirement(context, p) for p in planned}
    metrics: dict[str, Any] = {k: get_metric(r.metric or "") for k, r in requirements.items()}
    positive, _ = context.positive_class()
    ref = context.model_reference
    assert ref is not None
    inputs = context.model_inputs()
    job = ChunkJob(
        letter=letter,
        checks=tuple((p.key, p.subject) for p in planned),
        positive=positive,
        threshold=ref.decision_threshold if positive is not None else None,
        batch_size=context.batch_size,
        classes=tuple(context.classes()),
        model_token=canonical_hash(inputs),
    )
    engine = _engine(context)
    if document.sealed is not None and isinstance(engine, DaskEngine) and not engine.secure:
        raise ProblemError(
            f"[{letter}] is sealed: its decrypted rows would cross the network in clear to "
            "the Dask workers",
            code="R099",
            path=f"[{letter}]",
            expected="a tls:// scheduler on the verifier's own machines, or a LocalCluster "
            "(--engine dask without --scheduler); see docs/scale.md",
        )
    if document.sealed is not None and isinstance(engine, DaskEngine) and engine.spills():
        raise ProblemError(
            f"[{letter}] is sealed: the Dask workers may spill the decrypted rows they hold "
            "to their disks",
            code="R099",
            path=f"[{letter}]",
            expected="workers started with distributed.worker.memory.target and .spill set "
            "to false (the LocalCluster of --engine dask is); see docs/scale.md",
        )
    path = project.root / document.location
    known = document.samples
    footer = None  # a plaintext Parquet file's, read once for the Dask engine
    if document.format == "parquet" and document.sealed is None and isinstance(engine, DaskEngine):
        footer = _parquet_footer(path)
        if footer is not None:
            known = int(footer.num_rows)  # the file's own count over the declaration
    rows = _chunk_rows(context, engine, known)
    advance = context.reporter.task(f"predict [{letter}] in chunks", document.samples)
    tallies: dict[str, Any] = {}
    with ExitStack() as stack:
        handle = None
        seen = None
        if document.sealed is not None:
            unsealed = context.unseal(letter, chunked=True)
            handle = stack.enter_context(unsealed.reader())
            sha256 = unsealed.header.plaintext_sha256
        else:
            seen = None if path.is_dir() else file_stamp(path)
            sha256 = sha256_tree(path) if path.is_dir() else sha256_file(path)
        streamed = Streamed(sha256)
        id_column = document.id_column
        secret = document.sealed is not None
        repeats = (
            stack.enter_context(RepeatedValues(secret=secret, buffer=REPEATS_BUFFER))
            if id_column
            else None
        )
        meta = project.root / document.metadata_table if document.metadata_table else None
        options = ReaderOptions(metadata_table=meta)
        if isinstance(engine, DaskEngine) and isinstance(reader, ArrowReader):
            source = _shipped(reader, path, letter, rows, sha256, handle, id_column, seen, footer)
            if known is not None:
                source = _tapered(source, known, engine.workers, context.batch_size)
        else:
            source = _converted(reader, path, options, rows, sha256, handle, id_column)

        def chunks() -> Iterator[tuple[Rows, int]]:
            offset = 0
            for payload, ids, count in source:
                if repeats is not None and ids is not None:
                    repeats.add(ids, offset)
                yield payload, offset
                offset += count

        content: ContentTally | None = None  # rows that disagree with the declaration
        try:
            for result in engine.run(job, project, chunks(), advance):
                if result["content"] is not None:
                    found = result["content"]
                    content = found if content is None else content.merge(found)
                if streamed.chunks == 0:
                    streamed.results.update(result["unavailable"])
                for key, part in result["tallies"].items():
                    if key in streamed.results:
                        continue  # the metric cannot judge it on this data
                    tallies[key] = part if key not in tallies else tallies[key].merge(part)
                streamed.samples += result["samples"]
                streamed.chunks += 1
        except AmlasError as exc:
            if content is None or isinstance(exc, SealError):
                raise  # tampered or unreadable sealed data: its rows mean nothing
            # a whole read reports the rows' problems before anything else: so does this,
            # with those of the chunks read until the other error
            raise content_error(project, letter, content.problems(whole=False)) from None
        if handle is not None:
            handle.verify()  # every chunk authenticated (a TamperError is R061)
        if seen is not None and file_stamp(path) != seen:
            # hashed before it was read: the records would cite a hash of other content
            raise DatasetError(
                f"{document.location}: the file changed while the run read it; run again"
            )
        problems = read_problems(
            document,
            letter,
            streamed.samples,
            content,
            repeats.repeats() if repeats is not None and streamed.samples else None,
            reveal=document.sealed is None,
        )
        if problems:
            raise content_error(project, letter, problems)
    offered = MetricContext(
        classes=context.classes(),
        model=context.model,
        batch_size=context.batch_size,
        task=context.reporter.task,
        perturbed=_no_perturbation,
    )
    for key, requirement in requirements.items():
        if key in tallies and key not in streamed.results:
            tally = tallies[key]
            streamed.results[key] = metrics[key].judge(requirement, tally, letter, offered)
            streamed.listed |= tally.listed_ids
    return streamed


REPEATS_BUFFER = 64 << 20
"""The bytes of ids (with their hashes and rows) the repeat check holds in memory before
it writes them to its partitions on disk (about a million ids of ten characters): a
dataset's ids are written once per this many bytes, not once per chunk."""

Chunk = tuple[Rows, NDArray[np.str_] | None, int]
"""What the client sends for a chunk, the chunk's ids (for the whole dataset's check of
repeated ids) and its number of rows."""


CHUNKS_PER_WORKER = 8
"""With the default chunk size, the Dask engine cuts a dataset into at least this many
chunks per worker: a worker's last chunk may end after the others' (the run waits for it),
so the more chunks per worker, the less of the run one busy worker holds up (at most an
eighth of a worker's share here)."""


def _chunk_rows(context: RunContext, engine: Engine, samples: int | None) -> int:
    """The rows of each chunk: ``chunk_rows`` rounded to whole batches (the model sees the
    same batches however the file is cut). Where the run and the manifest leave the size
    to the default and a Dask engine works on the chunks, a dataset of known size
    (``samples``) is cut into at least :data:`CHUNKS_PER_WORKER` chunks per worker, of
    whole batches (fewer where it holds fewer batches): a million rows in default chunks
    would be one chunk, on one worker, with the others idle."""
    batch = context.batch_size
    rows = max(batch, context.chunk_rows // batch * batch)
    if context.chunk_rows_given or not isinstance(engine, DaskEngine) or samples is None:
        return rows
    share = samples // (CHUNKS_PER_WORKER * engine.workers) // batch * batch
    return min(rows, max(batch, share))


def _tapered(source: Iterator[Chunk], samples: int, workers: int, batch: int) -> Iterator[Chunk]:
    """The chunks cut smaller towards the end of the dataset, so that the workers finish
    together: each piece is at most a ``2 * workers``-th of the samples left (``samples``
    the dataset's size, as declared or in the Parquet footer), in whole batches, and
    never more than the chunk read. Without it the last chunks are as large as the
    first, and the run waits for one worker's last while the others have nothing to do
    (up to a whole chunk: with 16 chunks on 2 workers, a sixteenth of the run). The
    pieces are slices of the chunk read: Arrow rows copied out of the chunk's buffers
    (:func:`_compact`), or a row range of a Parquet file (whose worker decodes the row
    group from its start, as for any chunk); every piece starts on a batch boundary."""
    done = 0
    for payload, ids, count in source:
        at = 0
        while at < count:
            left = samples - done
            if left < count - at:  # more rows than declared (D020 at the end): as read
                piece = count - at
            else:
                piece = -(-left // (2 * workers))
                piece = min(count - at, max(batch, -(-piece // batch) * batch))
            if at == 0 and piece == count:
                yield payload, ids, count
            else:
                part = None if ids is None else ids[at : at + piece]
                yield _piece(payload, at, piece), part, piece
            at += piece
            done += piece


def _piece(payload: Rows, at: int, rows: int) -> Rows:
    """``rows`` rows of a shipped chunk from its row ``at``. An Arrow slice is copied out
    of the chunk's buffers: pickled as it is, a slice carries the whole chunk's buffers
    to the worker (Dask pickles the :class:`ArrowRows` around it)."""
    if isinstance(payload, ArrowRows):
        data = _compact(payload.data.slice(at, rows))
        return replace(payload, data=data, start=payload.start + at)
    assert isinstance(payload, FileRows)
    return replace(payload, start=payload.start + at, rows=rows)


def _compact(data: Any) -> Any:
    """An Arrow table whose buffers hold its rows only: a slice of a larger table (a
    chunk cut from a CSV block, a piece of a chunk) refers to the whole of its buffers,
    and Dask, which pickles the :class:`ArrowRows` around it, would send them all to the
    worker. A table that is not such a slice is returned as it is (no copy)."""
    if data.get_total_buffer_size() <= data.nbytes + (data.nbytes >> 3) + 4096:
        return data
    import pyarrow as pa

    columns = [
        pa.concat_arrays(column.chunks if isinstance(data, pa.Table) else [column])
        for column in data.columns
    ]  # concatenating copies, even one array (pa.concat_batches needs pyarrow 19)
    return pa.Table.from_arrays(columns, schema=data.schema)


def _converted(
    reader: ChunkedReader,
    path: Path,
    options: ReaderOptions,
    rows: int,
    sha256: str,
    handle: Any,
    id_column: str | None,
) -> Iterator[Chunk]:
    """The chunks as tables, converted here (the local engine works on them here; an
    image folder's or an NPZ archive's decoded arrays are sent as they are)."""
    for table in reader.iter_read(path, options, rows=rows, sha256=sha256, handle=handle):
        yield table, table.text(id_column) if id_column else None, len(table)


def _shipped(
    reader: ArrowReader,
    path: Path,
    letter: str,
    rows: int,
    sha256: str,
    handle: Any,
    id_column: str | None,
    seen: tuple[int, int, int] | None,
    footer: Any,
) -> Iterator[Chunk]:
    """The chunks as the Dask engine sends them to its workers, who convert them (the
    client converts only the ids): a plaintext Parquet file by row ranges, which the
    workers read from the shared path while the client reads only the id column; sealed
    data (decrypted here only: the key never leaves the client) and CSV as Arrow tables.
    ``footer``: the plaintext Parquet file's, as :func:`stream_dataset` read it (None
    where it could not: then it is read as sealed data is, and fails, located, as a local
    run does)."""
    source = str(path)
    if seen is not None and reader.name == "parquet":
        names = [] if footer is None else list(footer.schema.to_arrow_schema().names)
        if names and (not id_column or id_column in names):
            start = 0
            for batch in reader.iter_arrow(path, rows=rows, columns=[id_column or names[0]]):
                count = batch.num_rows
                ids = _ids(reader, batch, source, sha256, id_column, start)
                where = FileRows(source, start, count, sha256, seen, letter)
                yield where, ids, count
                start += count
            return
    start = 0
    for batch in reader.iter_arrow(path, rows=rows, handle=handle):
        ids = _ids(reader, batch, source, sha256, id_column, start)
        shipped = ArrowRows(reader.name, _compact(batch), source, sha256, start)
        yield shipped, ids, batch.num_rows
        start += batch.num_rows


def _ids(
    reader: ArrowReader,
    batch: Any,
    source: str,
    sha256: str,
    id_column: str | None,
    first: int,
) -> NDArray[np.str_] | None:
    """The chunk's ids as a local run reads them (only that column converted; a missing
    one is the local run's ColumnError)."""
    if not id_column:
        return None
    if id_column in batch.schema.names:
        batch = batch.select([id_column])
    return reader.convert(batch, source=source, sha256=sha256, first=first).text(id_column)


def _parquet_footer(path: Path) -> Any:
    """A Parquet file's footer (``pyarrow.parquet.FileMetaData``), or None when it cannot
    be read: the chunks are then read as the client reads sealed data, and fail, located,
    as a local run does."""
    import pyarrow as pa
    import pyarrow.parquet as pa_parquet

    try:
        return pa_parquet.read_metadata(str(path))
    except (pa.ArrowException, OSError, ValueError):
        return None


def _engine(context: RunContext) -> Engine:
    """The run's engine, opened on first use (a Dask cluster is reached only when a
    dataset is read in chunks); :func:`close_engine` closes it."""
    if context.engine is None:
        context.engine = open_engine(context.engine_spec, context.model)
    engine: Engine = context.engine
    return engine


def open_engine_now(context: RunContext) -> None:
    """Open the run's engine before any work (a cluster that cannot be reached is R098
    at once, not after stage 3)."""
    _engine(context)


def close_engine(context: RunContext) -> None:
    if context.engine is not None:
        context.engine.close()
        context.engine = None


def _no_perturbation() -> Any:
    raise AssertionError("a perturbed metric is never judged in chunks")
