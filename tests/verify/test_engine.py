"""The Dask engine (``verify/_engine.py``): a run whose chunks are worked on by a
2-worker LocalCluster gives the records of a local run, sealed data reaches only a
LocalCluster or a tls:// scheduler, and an unreachable scheduler is a coded error.

The project is the breast-cancer example as in ``test_stream.py`` (its tallied
requirements, 16-row chunks: 8 chunks of [O] and of [P]).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_stream import KEY, _comparable, _keys
from test_stream import root as root

from amlas.errors import ProblemError
from amlas.evidence import seal_dataset
from amlas.project import check_project
from amlas.verify import EngineSpec, RunReport, run_project

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


def test_a_cluster_run_gives_the_records_of_a_local_run(root: Path, cluster: str) -> None:
    local = _run(root, "developer", 4, None)
    on_cluster = _run(root, "developer", 4, EngineSpec("dask", scheduler=cluster))
    assert _comparable(on_cluster) == _comparable(local)
    assert len(_comparable(local)) == 3


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
