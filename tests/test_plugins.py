"""The plug-in registries (src/amlas/plugins.py): discovery from metadata, loading,
unknown names, names claimed twice, failing third-party plug-ins, in-process registration,
and the built-ins amlas registers through its own entry points."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from amlas.errors import UsageError
from amlas.plugins import GROUPS, IN_PROCESS, PluginError, Registry, registry

ROOT = Path(__file__).resolve().parents[1]


def _distribution(folder: Path, name: str, version: str, entry_points: str) -> None:
    """An installed distribution as importlib.metadata finds it: a .dist-info folder."""
    info = folder / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", "utf-8"
    )
    (info / "entry_points.txt").write_text(entry_points, "utf-8")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """Three third-party packages: one sound, two claiming the same name, one broken."""
    (tmp_path / "good_plugin.py").write_text("FORMAT = 'the good one'\n", "utf-8")
    (tmp_path / "never_imported.py").write_text("raise RuntimeError('imported!')\n", "utf-8")
    _distribution(
        tmp_path,
        "good-plugin",
        "1.2",
        "[amlas.models]\ngood = good_plugin:FORMAT\nshared = good_plugin:FORMAT\n",
    )
    _distribution(tmp_path, "rival", "0.3", "[amlas.models]\nshared = never_imported:X\n")
    _distribution(
        tmp_path,
        "broken-plugin",
        "2.0",
        "[amlas.models]\nbroken = never_imported:FORMAT\n"
        "[amlas.readers]\nelsewhere = never_imported:READER\n",
    )
    return tmp_path


@pytest.fixture
def models(site: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.syspath_prepend(str(site))
    yield Registry("amlas.models", path=[str(site)])
    for module in ("good_plugin", "never_imported"):
        sys.modules.pop(module, None)


def test_names_come_from_metadata_without_importing(models: Registry) -> None:
    assert models.names() == ("broken", "good", "shared")
    assert "never_imported" not in sys.modules
    assert "good" in models
    assert Registry("amlas.readers", path=[str(models._path[0])]).names() == ("elsewhere",)


def test_get_loads_once_and_caches(models: Registry) -> None:
    assert models.get("good") == "the good one"
    sys.modules["good_plugin"].FORMAT = "changed"  # type: ignore[attr-defined]
    assert models.get("good") == "the good one"


def test_unknown_name_suggests_a_close_one(models: Registry) -> None:
    with pytest.raises(PluginError, match="did you mean 'good'") as raised:
        models.get("godo")
    assert raised.value.code == "S004"
    assert "amlas.models" in str(raised.value)
    assert "broken, good, shared" in str(raised.value)


def test_a_name_claimed_twice_is_reported_not_resolved(models: Registry) -> None:
    with pytest.raises(PluginError) as raised:
        models.get("shared")
    assert raised.value.code == "S008"
    message = str(raised.value)
    assert "good-plugin 1.2" in message
    assert "rival 0.3" in message
    assert [i.distribution for i in models.duplicates()["shared"]] == ["good-plugin", "rival"]
    assert "never_imported" not in sys.modules  # neither claimant was imported


def test_a_failing_third_party_plugin_names_its_entry_point(models: Registry) -> None:
    with pytest.raises(PluginError) as raised:
        models.get("broken")
    assert raised.value.code == "S009"
    message = str(raised.value)
    assert "'broken = never_imported:FORMAT'" in message
    assert "broken-plugin 2.0" in message
    assert "RuntimeError: imported!" in message
    assert [(e.name, e.code) for e in models.problems()] == [("broken", "S009"), ("shared", "S008")]
    assert set(models.load_all()) == {"good"}


def test_entries_name_the_distribution_and_version(models: Registry) -> None:
    listed = [(i.name, i.value, i.distribution, i.version) for i in models.entries()]
    assert listed == [
        ("broken", "never_imported:FORMAT", "broken-plugin", "2.0"),
        ("good", "good_plugin:FORMAT", "good-plugin", "1.2"),
        ("shared", "good_plugin:FORMAT", "good-plugin", "1.2"),
        ("shared", "never_imported:X", "rival", "0.3"),
    ]


def test_register_in_process(models: Registry) -> None:
    sentinel = object()
    models.register("local", sentinel)
    assert models.get("local") is sentinel
    assert "local" in models.names()
    (info,) = [i for i in models.entries() if i.name == "local"]
    assert (info.distribution, info.version) == (IN_PROCESS, None)
    with pytest.raises(UsageError, match="already registered"):
        models.register("good", sentinel)
    models.register("shared", sentinel, replace=True)  # shadows both claimants here
    assert models.get("shared") is sentinel
    models.unregister("local")
    models.unregister("shared")
    with pytest.raises(PluginError, match="unknown model format 'local'"):
        models.get("local")
    with pytest.raises(UsageError, match="not registered in this process"):
        models.unregister("good")


def test_registry_knows_only_amlas_groups() -> None:
    assert registry("amlas.stores") is registry("amlas.stores")
    with pytest.raises(UsageError, match=r"did you mean 'amlas\.stores'"):
        registry("amlas.store")


# -- the built-ins ------------------------------------------------------------------------


BUILT_IN = {
    "amlas.stores": {"fs", "memory", "sql"},
    "amlas.models": {
        "onnx",
        "python_callable",
        "python_detector",
        "sklearn_joblib",
        "skops",
        "torch",
    },
    "amlas.readers": {"csv", "image_folder", "npz", "parquet"},
}


@pytest.mark.parametrize("group", sorted(BUILT_IN))
def test_built_ins_are_registered_by_amlas_itself(group: str) -> None:
    found = registry(group)
    ours = {i.name for i in found.entries() if i.distribution == "amlas"}
    assert ours == BUILT_IN[group]
    assert found.problems() == []


def test_built_ins_come_from_pyproject_entry_points() -> None:
    """One mechanism: the installed metadata is amlas's own pyproject table."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    declared = project["entry-points"]
    assert set(declared) <= set(GROUPS)
    for group, entries in declared.items():
        installed = {
            i.name: i.value for i in registry(group).entries() if i.distribution == "amlas"
        }
        assert installed == entries, group


def test_two_readers_claiming_a_suffix_are_reported_not_chosen(tmp_path: Path) -> None:
    import copy

    from amlas.adapters import DatasetError, dataset_reader, reader_for

    readers = registry("amlas.readers")
    csv = dataset_reader("csv")
    assert reader_for(tmp_path / "x.csv") is csv
    twin = copy.copy(csv)
    twin.name = "csv_too"
    readers.register("csv_too", twin)
    try:
        with pytest.raises(DatasetError) as raised:
            reader_for(tmp_path / "x.csv")
    finally:
        readers.unregister("csv_too")
    assert raised.value.diagnostic.code == "S008"
    assert "'csv', 'csv_too'" in str(raised.value)
