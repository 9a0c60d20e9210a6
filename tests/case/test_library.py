"""The pattern library: the shipped AMLAS v1.1 patterns, and malformed libraries refused
with the file, the place and the bad value."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest

from amlas.case import DEFAULT_LIBRARY, LibraryError, load_library

SHIPPED = Path(str(resources.files("amlas.case") / "patterns" / DEFAULT_LIBRARY))

# ../shared/AMLAS.md §3: the node IDs of each stage's pattern
AMLAS_IDS = {
    "stage1": {"G1.1", "C1.1", "C1.2", "C1.3", "C1.4", "A1.1", "S1.1"},
    "stage2": {"G2.1", "S2.1", "C2.1", "J2.1", "G2.2", "C2.2", "C2.3", "S2.2", "G2.4"}
    | {"C2.4", "G2.5", "C2.5", "G2.3", "J2.2", "Sn2.1"},
    "stage3": {"G3.1", "C3.1", "C3.2", "C3.3", "S3.1", "C3.4", "G3.2", "Sn3.1", "G3.3"}
    | {"C3.5", "S3.2", "J3.1", "G3.4", "G3.5", "G3.6", "G3.7", "Sn3.2", "Sn3.3", "Sn3.4"}
    | {"Sn3.5"},
    "stage4": {"G4.1", "C4.1", "S4.1", "C4.2", "G4.2", "C4.3", "J4.1", "Sn4.1", "G4.3"}
    | {"G4.5", "G4.6", "G4.7", "Sn4.2", "Sn4.3", "Sn4.4"},
    "stage5": {"G5.1", "G5.2", "Sn5.1", "S5.1", "J5.1", "G5.3", "C5.1", "G5.5", "Sn5.2"}
    | {"G5.9", "Sn5.4", "G5.6", "G5.4", "C5.2", "J5.2", "G5.7", "Sn5.3", "G5.8"},
    "stage6": {"G6.1", "S6.1", "G6.2", "C6.1", "J6.1", "S6.2", "G6.4", "Sn6.2", "G6.5"}
    | {"G6.3", "S6.3", "G6.6", "S6.4", "C6.3", "J6.2", "G6.8", "G6.9", "G6.7"},
}


def test_shipped_library_holds_every_amlas_node() -> None:
    library = load_library()
    assert library.name == "amlas-1.1"
    assert library.root == "G1.1"
    assert [m.module for m in library.modules] == list(AMLAS_IDS)
    for module in library.modules:
        ids = {n.id for n in module.nodes if not n.extension}
        assert ids == AMLAS_IDS[module.module], module.module
    # the extension nodes say so, and why
    extensions = [n for n in library.nodes.values() if n.extension]
    assert {n.id for n in extensions} == {
        *("G2.X", "C2.X", "G6.X", "Sn6.X", "Sn6.7", "Sn6.8"),
        *("C1.5", "A1.2"),  # the fixed conditions of [B] (issue 15)
    }
    assert all(n.note or n.type == "context" for n in extensions)
    assert [a.letter for a in library.artefacts][:3] == ["A", "B", "C"]
    assert len(library.artefacts) == 34


def test_pattern_extensions_are_data() -> None:
    library = load_library()
    s22 = {link.id: link for link in library.nodes["S2.2"].links("supported_by")}
    assert s22["G2.4"].for_each == "performance_requirements"
    assert s22["G2.4"].as_ == "requirement"
    s51 = library.nodes["S5.1"]
    assert s51.choice is not None
    assert s51.choice.at_least == 1
    assert {link.option for link in s51.links("supported_by")} == {"test", "formal"}
    assert library.nodes["G5.8"].undeveloped
    g65 = [link for link in library.nodes["S6.2"].links("supported_by") if link.id == "G6.5"]
    assert g65[0].when == "simulation"


def copy_library(tmp_path: Path) -> Path:
    target = tmp_path / "lib"
    shutil.copytree(SHIPPED, target)
    return target


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        ("stage1.yaml", "supported_by: [S1.1]", "supported_by: [S1.9]", "unknown node 'S1.9'"),
        ("stage2.yaml", "for_each: robustness_requirements", "for_each: robots", "'robots'"),
        ("stage5.yaml", "chosen_by: verification_methods", "chosen_by: coin", "'coin'"),
        ("stage2.yaml", "assess: validation_results", "assess: vibes", "'vibes'"),
        ("stage6.yaml", "when: simulation", "when: raining", "'raining'"),
        ("stage3.yaml", "type: strategy", "type: stratagem", "stage3.yaml: nodes."),
        ("stage4.yaml", "id: G4.5", "id: G4.2", "also defined in stage4"),
        ("stage3.yaml", "module: stage3", "module: stage3\nsurprise: 1", "surprise"),
        ("library.yaml", "root: G1.1", "root: G0", "root 'G0' is not a node"),
        ("stage1.yaml", "nodes:", "nodes: [\n", "not valid YAML"),
        # a link from the root's strategy back up to the root closes a cycle
        (
            "stage1.yaml",
            "supported_by: [G2.1, G6.1]",
            "supported_by: [G2.1, G6.1, G1.1]",
            "supported_by links form a cycle: stage1: G1.1 -> stage1: S1.1 -> stage1: G1.1",
        ),
    ],
)
def test_malformed_library_is_refused_with_its_place(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    folder = copy_library(tmp_path)
    path = folder / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(LibraryError) as error:
        load_library(folder)
    assert message in str(error.value)


def test_unknown_shipped_name_lists_the_shipped_ones() -> None:
    with pytest.raises(LibraryError, match=r"shipped: amlas-1\.1"):
        load_library("amlas-0.9")


def test_a_copied_library_loads_from_its_folder(tmp_path: Path) -> None:
    folder = copy_library(tmp_path)
    (folder / "library.yaml").write_text(
        (folder / "library.yaml").read_text().replace("library: amlas-1.1", "library: acme-1")
    )
    assert load_library(folder).name == "acme-1"


@pytest.mark.parametrize("path", sorted(SHIPPED.parent.glob("*/*.yaml")), ids=lambda p: p.name)
def test_a_shipped_library_file_reads_the_same_through_libyaml(path: Path) -> None:
    """The shipped libraries are read by libyaml's loader (faster): the same data as
    PyYAML's safe_load, which reads a project's own library."""
    import yaml

    from amlas.case._library import _SHIPPED_LOADER

    text = path.read_text("utf-8")
    assert yaml.load(text, Loader=_SHIPPED_LOADER) == yaml.safe_load(text)


def test_shipped_and_copied_libraries_load_alike(tmp_path: Path) -> None:
    assert load_library(DEFAULT_LIBRARY) == load_library(copy_library(tmp_path))
