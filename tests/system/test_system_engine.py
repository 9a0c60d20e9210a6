"""``engine:`` in a system's amlas.yaml is where every component's chunks are worked on,
unless the component's own ``engine:`` says otherwise (it was read by nobody before: a
system's cluster settings were silently ignored)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import amlas.verify._engine as engine_module
from amlas.project import check_project, load_project
from amlas.project._manifest import EngineSettings
from amlas.verify import plan, run_project
from system.conftest import build_system


def _append(manifest: Path, text: str) -> None:
    manifest.write_text(manifest.read_text("utf-8") + text, "utf-8")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return build_system(tmp_path / "system")


def test_a_component_takes_the_systems_engine(root: Path) -> None:
    _append(root / "amlas.yaml", "engine:\n  scheduler: tls://verify-1:8786\n  chunk_rows: 4096\n")
    assert not check_project(root).diagnostics.has_errors  # no F015: the system's to say
    triage = load_project(root / "components" / "triage").project
    assert triage.engine_settings == EngineSettings(
        scheduler="tls://verify-1:8786", chunk_rows=4096
    )


def test_a_components_own_engine_overrides_the_systems_setting_by_group(root: Path) -> None:
    """Where the chunks go (name, scheduler, workers) comes whole from the component when
    it says any of it, so a component's workers never meet the system's scheduler;
    chunk_rows falls back on the system's."""
    _append(root / "amlas.yaml", "engine:\n  scheduler: tls://verify-1:8786\n  chunk_rows: 4096\n")
    _append(root / "components" / "cage" / "amlas.yaml", "engine:\n  workers: 3\n")
    _append(root / "components" / "triage" / "amlas.yaml", "engine:\n  chunk_rows: 64\n")
    cage = load_project(root / "components" / "cage").project
    triage = load_project(root / "components" / "triage").project
    assert cage.engine_settings == EngineSettings(workers=3, chunk_rows=4096)
    assert cage.engine_settings is not None
    assert cage.engine_settings.engine == "dask"
    assert triage.engine_settings == EngineSettings(scheduler="tls://verify-1:8786", chunk_rows=64)
    # the component says local: the system's scheduler does not apply, its chunks do
    local = root / "components" / "triage" / "amlas.yaml"
    text = local.read_text("utf-8").replace("engine:\n", "engine:\n  name: local\n")
    local.write_text(text, "utf-8")
    triage = load_project(local.parent).project
    assert triage.engine_settings == EngineSettings(name="local", chunk_rows=64)


def test_a_component_of_a_system_without_engine_has_none(root: Path) -> None:
    cage = load_project(root / "components" / "cage").project
    assert cage.system_engine is None
    assert cage.engine_settings is None


def test_a_component_run_reads_in_the_systems_chunks(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run itself follows the system's setting: [O]'s 114 rows in chunks of 40."""
    _append(root / "amlas.yaml", "engine:\n  chunk_rows: 40\n")
    chunks: list[int] = []
    engine = engine_module.LocalEngine
    original = engine.run

    def counted(self: Any, *args: Any) -> Any:
        for result in original(self, *args):
            chunks.append(1)
            yield result

    monkeypatch.setattr(engine, "run", counted)
    cage = root / "components" / "cage"
    work = plan(check_project(cage).project, role="developer", stages=(4,))
    tallied = [c.key for c in work if c.kind == "requirement" and c.subject in ("MLR-1", "MLR-3")]
    report = run_project(cage, stages=(4,), only=tallied, batch_size=8)
    assert len(report.records) == 2
    assert len(chunks) == 3
