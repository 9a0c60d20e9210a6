"""The Dask engine (``verify/_engine.py``): a run whose chunks are worked on by a
2-worker LocalCluster gives the records of a local run, sealed data reaches only a
LocalCluster or a tls:// scheduler, and an unreachable scheduler is a coded error.

The project is the breast-cancer example as in ``test_stream.py`` (its tallied
requirements, 16-row chunks: 8 chunks of [O] and of [P]).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_stream import KEY, _comparable, _keys
from test_stream import root as root

from amlas.adapters import read_table
from amlas.errors import ProblemError
from amlas.evidence import seal_dataset
from amlas.project import check_project
from amlas.verify import EngineOptions, EngineSpec, RunReport, run_project
from amlas.verify import _engine as engine_module

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A 2-worker LocalCluster (one thread each) shared by the tests: its address."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield local.scheduler_address


def _run(root: Path, role: str, stage: int, engine: EngineSpec | None) -> RunReport:
    return run_project(
        root,
        role=role,  # type: ignore[arg-type]
        stages=(stage,),
        key=KEY if role == "verifier" else None,
        only=_keys(root, role, stage),
        batch_size=8,
        chunk_rows=16,
        engine=engine,
    )


def test_a_cluster_run_gives_the_records_of_a_local_run(
    root: Path, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = _run(root, "developer", 4, None)
    used: list[int] = []
    original = engine_module.DaskEngine.run

    def counted(self: Any, *args: Any) -> Any:
        for result in original(self, *args):
            used.append(result["samples"])
            yield result

    monkeypatch.setattr(engine_module.DaskEngine, "run", counted)
    on_cluster = _run(root, "developer", 4, EngineSpec("dask", scheduler=cluster))
    assert sum(used) == 114  # every sample went through the cluster
    assert len(used) == 9  # chunks of 16, the last 18 rows before the end in 8, 8 and 2
    assert _comparable(on_cluster) == _comparable(local)
    assert len(_comparable(local)) == 3


def _as_parquet(root: Path) -> Path:
    """[O] rewritten as Parquet in row groups of 10 rows (a 16-row chunk spans two or
    three of them); returns the file."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pa_parquet

    from amlas.hashing import sha256_file

    target = root / "data" / "internal-test.parquet"
    pa_parquet.write_table(
        pa_csv.read_csv(root / "data" / "internal-test.csv"), target, row_group_size=10
    )
    document = root / "3-data" / "O-internal-test-data.yaml"
    text = document.read_text(encoding="utf-8")
    text = text.replace("location: data/internal-test.csv", "location: data/internal-test.parquet")
    text = text.replace("format: csv", "format: parquet")
    text = re.sub(r"sha256: [0-9a-f]{64}", f"sha256: {sha256_file(target)}", text, count=1)
    document.write_text(text, encoding="utf-8")
    return target


def test_workers_read_a_plaintext_parquet_file_themselves(
    root: Path, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client reads only the ids of a plaintext Parquet file and sends each worker a
    row range (:class:`FileRows`); the records are a local run's."""
    _as_parquet(root)
    local = _run(root, "developer", 4, None)
    sent: list[Any] = []
    original = engine_module.DaskEngine.run

    def spied(self: Any, job: Any, project: Any, chunks: Any, progress: Any) -> Any:
        def seen() -> Any:
            for rows, offset in chunks:
                sent.append((type(rows).__name__, offset))
                yield rows, offset

        yield from original(self, job, project, seen(), progress)

    monkeypatch.setattr(engine_module.DaskEngine, "run", spied)
    on_cluster = _run(root, "developer", 4, EngineSpec("dask", scheduler=cluster))
    # chunks of 16 rows, tapered at the end (verify/_stream.py, _tapered)
    assert sent == [("FileRows", offset) for offset in [0, 16, 32, 48, 64, 80, 96, 104, 112]]
    assert _comparable(on_cluster) == _comparable(local)
    assert len(_comparable(local)) == 3


@pytest.mark.parametrize("known", ["declared", "parquet footer"])
def test_default_chunks_keep_every_worker_busy(
    root: Path, cluster: str, monkeypatch: pytest.MonkeyPatch, known: str
) -> None:
    """With the default chunk size (a million rows: one chunk for [O]'s 114), the Dask
    engine cuts a dataset of known size into at least 8 chunks per worker, of whole
    batches, or one batch per chunk where it holds fewer batches: 114 rows, 2 workers,
    batches of 8 (14.25 batches, fewer than 16) -> chunks of 8 rows. The size is the
    declared ``samples`` or, without it, a plaintext Parquet file's footer. A chunk size
    the run gives is kept (the chunks are only cut smaller towards the end, as every
    cluster run's are); the local engine keeps the default."""
    if known == "parquet footer":
        _as_parquet(root)
        document = root / "3-data" / "O-internal-test-data.yaml"
        text = document.read_text(encoding="utf-8")
        document.write_text(re.sub(r"\nsamples: 114\n", "\n", text), encoding="utf-8")
    sizes: list[tuple[str, list[int]]] = []

    def sized(self: Any, job: Any, project: Any, chunks: Any, progress: Any) -> Any:
        def seen() -> Any:
            offsets = []
            for rows, offset in chunks:
                offsets.append(offset)
                yield rows, offset
            sizes.append((type(self).__name__, offsets))

        yield from original[type(self)](self, job, project, seen(), progress)

    original = {
        engine_module.DaskEngine: engine_module.DaskEngine.run,
        engine_module.LocalEngine: engine_module.LocalEngine.run,
    }
    for engine in original:
        monkeypatch.setattr(engine, "run", sized)

    def run(spec: EngineSpec | None, chunk_rows: int | None) -> RunReport:
        return run_project(
            root,
            role="developer",
            stages=(4,),
            only=_keys(root, "developer", 4),
            batch_size=8,
            chunk_rows=chunk_rows,
            engine=spec,
        )

    local = run(None, None)
    on_cluster = run(EngineSpec("dask", scheduler=cluster), None)
    given = run(EngineSpec("dask", scheduler=cluster), 40)
    # each run's chunks by offset: one locally, 8-row chunks on the cluster; chunks of the
    # 40 rows given, each cut to at most a quarter of the rows left (2 workers: _tapered)
    assert sizes == [
        ("LocalEngine", [0]),
        ("DaskEngine", list(range(0, 114, 8))),
        ("DaskEngine", [0, 32, 40, 64, 80, 96, 104, 112]),
    ]
    assert _comparable(on_cluster) == _comparable(local) == _comparable(given)
    assert len(_comparable(local)) == 3


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_chunks_are_cut_smaller_towards_the_end_in_whole_batches(workers: int) -> None:
    """The pieces a cluster run ships cover the dataset in order, each starts on a batch
    boundary and holds at most the chunk read and at most a ``2 * workers``-th of the rows
    left (so that the workers finish together); an Arrow piece is copied out of its
    chunk (pickled as a slice it would carry the whole chunk), a file's piece is its row
    range; the ids go with their rows."""
    import pickle

    import numpy as np
    import pyarrow as pa

    from amlas.verify._stream import _compact, _tapered

    samples, batch, rows = 1000, 8, 96
    table = pa.table({"x": np.arange(samples, dtype=np.float64)})
    ids = np.array([f"s{i}" for i in range(samples)])
    stamp = (0, 0, 0)

    def chunks(kind: str) -> Any:
        for start in range(0, samples, rows):
            count = min(rows, samples - start)
            if kind == "arrow":
                data = _compact(table.slice(start, count))  # as _shipped sends a chunk
                payload: Any = engine_module.ArrowRows("parquet", data, "f", "0" * 64, start)
            else:
                payload = engine_module.FileRows("f", start, count, "0" * 64, stamp, "P")
            yield payload, ids[start : start + count], count

    view = table.slice(100, 50).combine_chunks()  # refers to the 1000 rows' buffers
    assert len(pickle.dumps(view)) > 8 * samples
    assert len(pickle.dumps(_compact(view))) < 8 * 50 + 2048
    assert _compact(view).equals(view)
    assert _compact(table) is table  # nothing to drop: no copy
    for kind in ("arrow", "file"):
        at = 0
        sizes = []
        for payload, part, count in _tapered(chunks(kind), samples, workers, batch):
            assert at % batch == 0
            assert count <= rows
            share = -(-(samples - at) // (2 * workers))  # of the rows left, in whole batches
            assert count <= max(batch, -(-share // batch) * batch)
            assert part.tolist() == [f"s{i}" for i in range(at, at + count)]
            if kind == "arrow":
                assert payload.start == at
                assert payload.data.column("x").to_pylist() == list(range(at, at + count))
                assert len(pickle.dumps(payload.data)) < 8 * count + 2048  # not the table's
            else:
                assert (payload.start, payload.rows) == (at, count)
            sizes.append(count)
            at += count
        assert at == samples
        assert sizes[0] == rows  # whole chunks first, small pieces last
        assert sizes[-1] < rows
        assert sizes[-2] <= -(-samples // (2 * workers))


def test_a_worker_refuses_a_data_file_changed_after_the_client_hashed_it(root: Path) -> None:
    path = _as_parquet(root)
    size, modified, changed = engine_module.file_stamp(path)
    for stamp in ((size + 1, modified, changed), (size, modified, changed + 1)):
        rows = engine_module.FileRows(str(path), 0, 16, "0" * 64, stamp, "O")
        with pytest.raises(ProblemError) as info:
            rows.table()
        assert info.value.diagnostics[0].code == "R101"
    gone = engine_module.FileRows(str(path) + ".gone", 0, 16, "0" * 64, (size, 0, 0), "O")
    with pytest.raises(ProblemError) as info:
        gone.table()
    assert info.value.diagnostics[0].code == "R101"
    same = engine_module.FileRows(str(path), 16, 16, "0" * 64, (size, modified, changed), "O")
    expected = read_table(path, "parquet")
    assert same.table().columns["sample_id"].tolist() == expected.text("sample_id")[16:32].tolist()


def test_a_worker_with_another_model_refuses(root: Path) -> None:
    """The model a worker finds must be the one the records cite (R101)."""
    project = check_project(root).project
    job = engine_module.ChunkJob("O", (), None, None, 8, (), model_token="0" * 64)
    table = read_table(root / "data" / "internal-test.csv", "csv")
    with pytest.raises(ProblemError) as info:
        engine_module.tally_chunk(job, project, table, 0)
    assert info.value.diagnostics[0].code == "R101"


def test_sealed_data_goes_to_a_local_cluster_only(root: Path, cluster: str) -> None:
    seal_dataset(check_project(root).project, "P", KEY)
    with pytest.raises(ProblemError) as info:
        _run(root, "verifier", 5, EngineSpec("dask", scheduler=cluster))  # tcp://
    assert info.value.diagnostics[0].code == "R099"
    local = _run(root, "verifier", 5, None)
    on_cluster = _run(root, "verifier", 5, EngineSpec("dask", workers=2))  # a LocalCluster
    assert _comparable(on_cluster) == _comparable(local)


def test_sealed_data_goes_only_to_workers_that_do_not_spill(cluster: str) -> None:
    """Dask's default workers may write what they hold to disk; amlas's LocalCluster is
    started without spilling, and a sealed dataset is refused elsewhere (R099)."""
    default = engine_module.DaskEngine(EngineSpec("dask", scheduler=cluster))
    try:
        assert default.spills()
    finally:
        default.close()
    own = engine_module.DaskEngine(EngineSpec("dask", workers=1))
    try:
        assert not own.spills()
    finally:
        own.close()


def test_an_unreachable_scheduler_is_a_coded_error(root: Path) -> None:
    spec = EngineSpec("dask", scheduler="tcp://127.0.0.1:9", timeout_s=2)
    with pytest.raises(ProblemError) as info:
        _run(root, "developer", 4, spec)
    assert info.value.diagnostics[0].code == "R098"


def _engine_in_manifest(root: Path, text: str) -> None:
    manifest = root / "amlas.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + text, encoding="utf-8")


def _counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The engines the run's chunks went to, one entry per chunk."""
    went: list[str] = []
    for name in ("DaskEngine", "LocalEngine"):
        engine = getattr(engine_module, name)

        def counted(self: Any, *args: Any, _name: str = name, _run: Any = engine.run) -> Any:
            for result in _run(self, *args):
                went.append(_name)
                yield result

        monkeypatch.setattr(engine, "run", counted)
    return went


def test_the_manifest_chooses_the_engine_and_the_chunks(
    root: Path, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``engine:`` in amlas.yaml: its scheduler and chunk_rows are used where the run
    gives none; the records are a local run's."""
    local = _run(root, "developer", 4, None)
    _engine_in_manifest(root, f"engine:\n  name: dask\n  scheduler: {cluster}\n  chunk_rows: 40\n")
    went = _counted(monkeypatch)
    report = run_project(
        root, role="developer", stages=(4,), only=_keys(root, "developer", 4), batch_size=8
    )
    assert went == ["DaskEngine"] * 8  # 114 rows in chunks of 40, tapered: 32, 8, 24, 16...
    assert _comparable(report) == _comparable(local)


def test_the_options_of_amlas_run_override_the_manifest(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scheduler that cannot be reached in amlas.yaml is R098, unless the options of
    `amlas run` choose the local engine; --chunk-rows overrides chunk_rows."""
    _engine_in_manifest(root, "engine:\n  scheduler: tcp://127.0.0.1:9\n  chunk_rows: 40\n")
    with pytest.raises(ProblemError) as info:
        _run(root, "developer", 4, EngineOptions())
    assert info.value.diagnostics[0].code == "R098"
    went = _counted(monkeypatch)
    report = _run(root, "developer", 4, EngineOptions(name="local"))  # chunk_rows=16
    assert went == ["LocalEngine"] * 8
    assert len(_comparable(report)) == 3


def test_progress_advances_as_each_result_comes_back_from_the_workers(
    root: Path, cluster: str
) -> None:
    """The run's progress bar advances by a chunk's rows when its result is gathered from
    a worker, before the next result is waited for, and reaches the dataset's size."""
    events: list[tuple[str, int]] = []

    class Recorder:
        def task(self, description: str, total: int | None) -> Any:
            events.append(("task", total or 0))
            return lambda done: events.append(("advance", done))

    original = engine_module.DaskEngine._next

    def gathered(pending: Any, progress: Any) -> Any:
        result = original(pending, progress)
        events.append(("gathered", result["samples"]))
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine_module.DaskEngine, "_next", staticmethod(gathered))
        run_project(
            root,
            role="developer",
            stages=(4,),
            only=_keys(root, "developer", 4),
            batch_size=8,
            chunk_rows=16,
            engine=EngineSpec("dask", scheduler=cluster),
            reporter=Recorder(),
        )
    chunked = events[events.index(("task", 114)) + 1 :]
    sizes = [16] * 6 + [8, 8, 2]  # the last chunks tapered (verify/_stream.py, _tapered)
    assert chunked[: 2 * len(sizes)] == [
        event for size in sizes for event in (("advance", size), ("gathered", size))
    ]
