"""The Dask engine (``verify/_engine.py``): a run whose chunks are worked on by a
2-worker LocalCluster gives the records of a local run, sealed data reaches only a
LocalCluster or a tls:// scheduler, and an unreachable scheduler is a coded error.

The project is the breast-cancer example as in ``test_stream.py`` (its tallied
requirements, 16-row chunks: 8 chunks of [O] and of [P]).
"""

from __future__ import annotations

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
from amlas.verify import EngineSpec, RunReport, run_project
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
    assert len(used) == 8
    assert _comparable(on_cluster) == _comparable(local)
    assert len(_comparable(local)) == 3


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


def test_an_unreachable_scheduler_is_a_coded_error(root: Path) -> None:
    spec = EngineSpec("dask", scheduler="tcp://127.0.0.1:9", timeout_s=2)
    with pytest.raises(ProblemError) as info:
        _run(root, "developer", 4, spec)
    assert info.value.diagnostics[0].code == "R098"
