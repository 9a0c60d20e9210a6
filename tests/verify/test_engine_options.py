"""How the engine of a run is chosen (``verify._engine.resolve_engine``): the manifest's
``engine:`` where ``amlas run`` gives no option, each option replacing what it names."""

from __future__ import annotations

import pytest

from amlas.errors import UsageError
from amlas.project import EngineSettings
from amlas.verify import EngineOptions, EngineSpec
from amlas.verify._engine import resolve_engine

CLUSTER = EngineSettings(scheduler="tls://verify-1:8786", chunk_rows=1024)
LOCAL_CLUSTER = EngineSettings(name="dask", workers=4)


@pytest.mark.parametrize(
    ("settings", "options", "expected"),
    [
        (None, None, None),
        (None, EngineOptions(), None),
        (EngineSettings(chunk_rows=10), EngineOptions(), None),
        (CLUSTER, None, EngineSpec("dask", scheduler="tls://verify-1:8786")),
        (CLUSTER, EngineOptions(), EngineSpec("dask", scheduler="tls://verify-1:8786")),
        (CLUSTER, EngineOptions(name="dask"), EngineSpec("dask", scheduler="tls://verify-1:8786")),
        (CLUSTER, EngineOptions(name="local"), None),
        (CLUSTER, EngineOptions(scheduler="tls://b:1"), EngineSpec("dask", scheduler="tls://b:1")),
        (CLUSTER, EngineOptions(workers=3), EngineSpec("dask", workers=3)),
        (LOCAL_CLUSTER, EngineOptions(), EngineSpec("dask", workers=4)),
        (LOCAL_CLUSTER, EngineOptions(workers=1), EngineSpec("dask", workers=1)),
        (LOCAL_CLUSTER, EngineOptions(scheduler="tcp://c:1"), EngineSpec("dask", "tcp://c:1")),
        (None, EngineOptions(name="dask"), EngineSpec("dask")),
        (None, EngineOptions(scheduler="tcp://c:1"), EngineSpec("dask", scheduler="tcp://c:1")),
        (CLUSTER, EngineSpec("dask", workers=2), EngineSpec("dask", workers=2)),
    ],
)
def test_options_override_the_manifest_setting_by_setting(
    settings: EngineSettings | None,
    options: EngineSpec | EngineOptions | None,
    expected: EngineSpec | None,
) -> None:
    assert resolve_engine(settings, options) == expected


@pytest.mark.parametrize(
    ("settings", "options", "says"),
    [
        (None, EngineOptions(workers=2), "the engine here is local"),
        (EngineSettings(chunk_rows=8), EngineOptions(workers=2), "the engine here is local"),
        (CLUSTER, EngineOptions(name="local", workers=2), "the engine here is local"),
        (None, EngineOptions(name="local", scheduler="tcp://c:1"), "leave out --engine local"),
        (None, EngineOptions(scheduler="tcp://c:1", workers=2), "a scheduler has its own"),
    ],
)
def test_contradicting_options_are_usage_errors(
    settings: EngineSettings | None, options: EngineOptions, says: str
) -> None:
    with pytest.raises(UsageError, match=says):
        resolve_engine(settings, options)
