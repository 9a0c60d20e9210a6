"""Where the per-chunk work of a dataset read in chunks runs: in this process, or on the
workers of a Dask cluster (``amlas run --engine dask``, ``--scheduler ADDRESS``).

The work of one chunk is one function, :func:`tally_chunk`: bind the chunk's rows to the
dataset artefact, run the model on them, and tally every requirement. Both engines call
it, so a chunk gives the same tallies wherever it runs; the client adds them in file
order (:mod:`amlas.verify._stream`), so the records of a cluster run are those of a local
run. The client reads the file (decrypting sealed data chunk by chunk, checking the whole
dataset's ids and sample count) and sends each chunk's rows to a worker; a worker loads
the model once (from the project, which it must see at the same path: a shared file
system) and returns counts.

What a cluster must satisfy to hold the verification data [P] (docs/scale.md): the
verifier's key never leaves the client (the workers get decrypted rows, never the key),
so the workers must be the verifier's own machines, and the rows must not cross a network
in clear: amlas refuses a sealed dataset on a scheduler whose address is not ``tls://``.
The ``LocalCluster`` amlas starts uses Dask's throw-away mutual TLS, so that no other
process on the machine can join it.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from amlas.adapters import ArrowReader, Model, Table, chunk_reader
from amlas.checks import bind_dataset, content_tally, predict
from amlas.checks.metrics import MetricContext, get_metric
from amlas.errors import AmlasError, MissingExtraError, ProblemError, UsageError
from amlas.evidence import canonical_hash
from amlas.project import EngineSettings, Project
from amlas.project.artefacts import MLSafetyRequirement
from amlas.verify._context import load_project_model, model_inputs_of

__all__ = [
    "ArrowRows",
    "ChunkJob",
    "DaskEngine",
    "Engine",
    "EngineOptions",
    "EngineSpec",
    "FileRows",
    "LocalEngine",
    "file_stamp",
    "open_engine",
    "resolve_engine",
    "tally_chunk",
]


@dataclass(frozen=True)
class EngineSpec:
    """Which engine a run asks for: ``local`` (this process) or ``dask`` (a cluster at
    ``scheduler``, or a ``LocalCluster`` of ``workers`` processes of one thread each)."""

    name: str = "local"
    scheduler: str | None = None
    workers: int | None = None
    timeout_s: float = 30.0
    """How long to wait for the scheduler to answer."""


@dataclass(frozen=True)
class EngineOptions:
    """What the options of ``amlas run`` say of the engine (None: not given), laid over
    the project's ``engine:`` field by field (:func:`resolve_engine`)."""

    name: str | None = None
    scheduler: str | None = None
    workers: int | None = None


def resolve_engine(
    settings: EngineSettings | None, given: EngineSpec | EngineOptions | None
) -> EngineSpec | None:
    """The engine of a run (None: this process). An :class:`EngineSpec` is used as it is;
    otherwise the manifest's ``engine:`` (``settings``), with each option of ``amlas run``
    in ``given`` replacing what it names:

    - ``--engine`` replaces ``name`` (``--scheduler`` implies ``dask``);
    - ``--scheduler`` replaces ``scheduler``; ``--workers`` asks for a LocalCluster of
      that size, in place of the manifest's scheduler and workers;
    - with the local engine, the manifest's ``scheduler`` and ``workers`` do not apply.

    Options that contradict each other, or ``--workers`` where the engine is local, are
    a :class:`~amlas.errors.UsageError`."""
    if isinstance(given, EngineSpec):
        return given
    options = given or EngineOptions()
    if options.name == "local" and options.scheduler is not None:
        raise UsageError("--scheduler names a Dask cluster: leave out --engine local")
    if options.scheduler is not None and options.workers is not None:
        raise UsageError(
            "--workers sizes the LocalCluster of --engine dask (a scheduler has its own)"
        )
    name = options.name or ("dask" if options.scheduler is not None else None)
    name = name or (settings.engine if settings is not None else "local")
    if name == "local":
        if options.workers is not None:
            raise UsageError(
                "--workers sizes the LocalCluster of --engine dask (a scheduler has its own); "
                "the engine here is local (give --engine dask, or engine: in amlas.yaml)"
            )
        return None
    scheduler, workers = options.scheduler, options.workers
    if scheduler is None and workers is None and settings is not None:
        scheduler, workers = settings.scheduler, settings.workers
    return EngineSpec("dask", scheduler=scheduler, workers=workers)


@dataclass(frozen=True)
class ChunkJob:
    """What the work on every chunk of one dataset shares (sent to each worker)."""

    letter: str
    checks: tuple[tuple[str, str], ...]
    """(planned key, requirement id) of every requirement tallied."""
    positive: str | None
    threshold: float | None
    batch_size: int
    classes: tuple[str, ...]
    model_token: str
    """Identifies the model and its settings: a worker loads each model once."""


@dataclass(frozen=True)
class ArrowRows:
    """A chunk's rows as the reader decoded them (a pyarrow table), not yet converted: the
    client ships these to a worker (Arrow buffers are sent as they are, without a Python
    object per value), which converts them as a local run does (:meth:`ArrowReader.convert`)."""

    format: str
    data: Any
    source: str
    sha256: str
    start: int = 0
    """The number of samples before the chunk in the file (for messages)."""

    def table(self) -> Table:
        reader = chunk_reader(self.format)
        assert isinstance(reader, ArrowReader)
        return reader.convert(self.data, source=self.source, sha256=self.sha256, first=self.start)


@dataclass(frozen=True)
class FileRows:
    """A chunk of a plaintext Parquet file by its row range: the worker reads the rows
    itself from the path it shares with the client, which reads only the ids.
    ``stamp`` is the file's size, modification and change times when the client hashed
    it (the change time cannot be set back, as a modification time can): a worker that
    finds another file there, or none, refuses (R101)."""

    path: str
    start: int
    rows: int
    sha256: str
    stamp: tuple[int, int, int]
    letter: str

    def table(self) -> Table:
        try:
            seen: tuple[int, int, int] | None = file_stamp(self.path)
        except OSError:
            seen = None
        if seen != self.stamp:
            raise ProblemError(
                f"the file of [{self.letter}] this worker finds at {self.path} is not the "
                "one the run hashed (missing, or its size, modification or change time "
                "differ)",
                code="R101",
                path=f"[{self.letter}]",
                expected="the workers see the project's files at the same path, unchanged "
                "during the run (a shared file system)",
            )
        reader = chunk_reader("parquet")
        assert isinstance(reader, ArrowReader)
        data = reader.read_rows(Path(self.path), start=self.start, rows=self.rows)
        return reader.convert(data, source=self.path, sha256=self.sha256, first=self.start)


def file_stamp(path: str | Path) -> tuple[int, int, int]:
    """A file's size, modification and change times (nanoseconds): what shows that a file
    hashed once is still the file being read."""
    seen = os.stat(path)
    return seen.st_size, seen.st_mtime_ns, seen.st_ctime_ns


Rows = Table | ArrowRows | FileRows
"""A chunk's rows as the client sends them: converted (the local engine), as Arrow
buffers (sealed data, CSV), or by their range in a shared Parquet file."""

_MODELS: dict[str, Model] = {}
"""A worker's loaded models, by :attr:`ChunkJob.model_token`."""


def _silent(_description: str, _total: int | None) -> Callable[[int], None]:
    return lambda _done: None


def _no_perturbation() -> Any:
    raise AssertionError("a perturbed metric is never judged in chunks")


def tally_chunk(
    job: ChunkJob, project: Project, rows: Rows, offset: int, model: Model | None = None
) -> dict[str, Any]:
    """The tallies of one chunk (``rows``, whose first row is row ``offset`` of the
    dataset), and why a metric cannot judge a requirement on this data (from the chunk
    at offset 0). ``model`` is the loaded model, or None to load it here (once). A chunk
    whose rows disagree with the declaration gives no tallies, only its ``content``
    problems (:class:`~amlas.project.ContentTally`), merged by the client over every
    chunk so that the run reports them all at once (even when the chunk cannot be bound
    otherwise: a whole read reports the rows' problems first)."""
    table = rows if isinstance(rows, Table) else rows.table()
    if model is None:
        model = _MODELS.get(job.model_token)
        if model is None:
            seen = canonical_hash(model_inputs_of(project))
            if seen != job.model_token:
                raise ProblemError(
                    f"the model this worker finds under {project.root} (its file, code or "
                    "settings) is not the one the run's records cite",
                    code="R101",
                    path="[V]",
                    expected="the workers see the project's files at the same path, "
                    "unchanged (a shared file system)",
                )
            model = _MODELS[job.model_token] = load_project_model(project)
    content = content_tally(project, job.letter)
    try:
        dataset = bind_dataset(
            project, job.letter, table, offset=offset, whole=False, content=content
        )
    except AmlasError:
        if not content.found():
            raise
        dataset = None  # a whole read reports the rows' problems first: so does this
    if content.found():
        # the run will stop on the data, with every chunk's problems: no model for this one
        return {"tallies": {}, "unavailable": {}, "samples": len(table), "content": content}
    assert dataset is not None
    ml = project.ml_requirements
    assert ml is not None
    by_id = {r.id: r for r in ml.requirements}
    unavailable: dict[str, str] = {}
    metrics: dict[str, tuple[Any, MLSafetyRequirement]] = {}
    for key, requirement_id in job.checks:
        metric = get_metric(by_id[requirement_id].metric or "")
        reason = metric.unavailable_with(by_id[requirement_id], model, dataset)
        if reason is not None:
            unavailable[key] = reason
        else:
            metrics[key] = (metric, by_id[requirement_id])
    predictions = predict(
        model,
        dataset.inputs,
        positive=job.positive,
        threshold=job.threshold,
        batch_size=job.batch_size,
    )
    offered = MetricContext(
        classes=list(job.classes),
        model=lambda: model,
        batch_size=job.batch_size,
        task=_silent,
        perturbed=_no_perturbation,
    )
    tallies = {
        key: metric.tally(requirement, dataset, predictions, offered)
        for key, (metric, requirement) in metrics.items()
    }
    return {
        "tallies": tallies,
        "unavailable": unavailable,
        "samples": len(dataset),
        "content": None,
    }


class Engine(Protocol):
    """Runs :func:`tally_chunk` over the chunks, giving the results in chunk order."""

    def run(
        self,
        job: ChunkJob,
        project: Project,
        chunks: Iterator[tuple[Rows, int]],
        progress: Callable[[int], None],
    ) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None: ...


class LocalEngine:
    """Every chunk in this process, with the run's loaded model."""

    def __init__(self, model: Callable[[], Model]) -> None:
        self._model = model

    def run(
        self,
        job: ChunkJob,
        project: Project,
        chunks: Iterator[tuple[Rows, int]],
        progress: Callable[[int], None],
    ) -> Iterator[dict[str, Any]]:
        for table, offset in chunks:
            result = tally_chunk(job, project, table, offset, self._model())
            progress(result["samples"])
            yield result

    def close(self) -> None:
        pass


class DaskEngine:
    """Chunks on the workers of a Dask cluster, at most two per worker in flight (the
    client's memory stays a few chunks), results gathered in chunk order."""

    def __init__(self, spec: EngineSpec) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise MissingExtraError("the Dask engine needs Dask and distributed", "dask") from None
        self.local = spec.scheduler is None
        self.secure = spec.scheduler is not None and spec.scheduler.startswith("tls://")
        self._cluster: Any = None
        try:
            if self.local:
                import dask

                # security=True: a throw-away mutual-TLS setup, so that no other process
                # on the machine can join the cluster or run code in it (it holds rows);
                # no spilling: a worker never writes the rows it holds to its disk; no
                # statistical profiler sampling every worker's stack 100 times a second
                # for a dashboard nobody reads (the workers take the config as they start)
                with dask.config.set({**_NO_SPILL, **_NO_PROFILER}):
                    self._cluster = LocalCluster(  # type: ignore[no-untyped-call]
                        n_workers=spec.workers or 2,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=":0",
                        security=True,
                    )
                self.client: Any = Client(self._cluster)  # type: ignore[no-untyped-call]
                self.secure = str(self._cluster.scheduler_address).startswith("tls://")
            else:
                timeout = f"{spec.timeout_s}s"
                self.client = Client(spec.scheduler, timeout=timeout)  # type: ignore[no-untyped-call]
        except Exception as exc:  # distributed raises OSError, TimeoutError, TypeError...
            self.close()
            raise ProblemError(
                f"cannot reach the Dask scheduler {spec.scheduler or '(LocalCluster)'!r} "
                f"(waited at most {spec.timeout_s:g} s): {type(exc).__name__}: {exc}",
                code="R098",
                value=spec.scheduler,
                expected="the address of a running Dask scheduler (tcp://host:8786, or "
                "tls://host:8786 with the distributed.comm.tls settings of the Dask config), "
                "or no address for a LocalCluster",
            ) from None
        self.workers = len(self.client.scheduler_info().get("workers", {})) or 1

    def spills(self) -> bool:
        """Whether a worker may write the data it holds to its disk (Dask's spilling):
        decrypted [P] must not be sent to such a cluster."""
        try:
            answers = self.client.run(_may_spill)
        except Exception as exc:  # the cluster's own errors
            raise _cluster_failed(exc) from None
        return any(answers.values())

    def run(
        self,
        job: ChunkJob,
        project: Project,
        chunks: Iterator[tuple[Rows, int]],
        progress: Callable[[int], None],
    ) -> Iterator[dict[str, Any]]:
        try:
            yield from self._run(job, project, chunks, progress)
        except AmlasError:
            raise  # amlas's own, raised on a worker or here (bad data, a model that fails)
        except Exception as exc:  # the cluster's: a worker died, a connection closed
            raise _cluster_failed(exc) from None

    def _run(
        self,
        job: ChunkJob,
        project: Project,
        chunks: Iterator[tuple[Rows, int]],
        progress: Callable[[int], None],
    ) -> Iterator[dict[str, Any]]:
        shared = self.client.scatter(project, broadcast=True)
        pending: deque[tuple[Any, str]] = deque()
        addresses = sorted(self.client.scheduler_info().get("workers", {})) or [None]
        limit = 2 * len(addresses)
        for rows, offset in chunks:
            # the chunk goes to the worker with the fewest chunks in flight, straight from
            # the client for a LocalCluster (not inside the task through the scheduler: one
            # transfer, not two); a remote scheduler passes it on, over TLS for [P]
            # (a result not yet collected, the results being taken in chunk order, does
            # not keep its worker busy)
            held = [address for future, address in pending if not future.done()]
            worker = min(addresses, key=held.count)
            where = [worker] if worker is not None else None
            data = self.client.scatter(rows, workers=where, direct=self.local or None, hash=False)
            future = self.client.submit(
                tally_chunk, job, shared, data, offset, pure=False, workers=where
            )
            pending.append((future, worker))
            while len(pending) >= limit:
                yield self._next(pending, progress)
        while pending:
            yield self._next(pending, progress)

    @staticmethod
    def _next(pending: deque[tuple[Any, str]], progress: Callable[[int], None]) -> dict[str, Any]:
        result: dict[str, Any] = pending.popleft()[0].result()
        progress(result["samples"])
        return result

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self._cluster is not None:
            self._cluster.close()


_NO_SPILL = {"distributed.worker.memory.target": False, "distributed.worker.memory.spill": False}
"""Dask's settings for workers that keep what they hold in memory."""

_NO_PROFILER = {"distributed.worker.profile.enabled": False}
"""Dask's setting that stops a worker's sampling profiler (some 3% of a busy worker's
time, spent walking the stack of the thread that runs the model)."""


def _may_spill(dask_worker: Any) -> bool:
    """On a worker: whether it may spill the data it holds to disk."""
    memory = dask_worker.memory_manager
    return bool(
        memory.memory_limit and (memory.memory_target_fraction or memory.memory_spill_fraction)
    )


def _cluster_failed(exc: BaseException) -> ProblemError:
    return ProblemError(
        f"the Dask cluster failed during the run: {type(exc).__name__}: {exc}",
        code="R098",
        expected="workers that stay up for the run (enough memory for two chunks each: "
        "lower --chunk-rows)",
    )


def open_engine(spec: EngineSpec | None, model: Callable[[], Model]) -> Engine:
    """The engine ``spec`` asks for (the local one when None)."""
    if spec is None or spec.name == "local":
        return LocalEngine(model)
    if spec.name == "dask":
        return DaskEngine(spec)
    raise UsageError(f"unknown engine {spec.name!r}; expected 'local' or 'dask'")
