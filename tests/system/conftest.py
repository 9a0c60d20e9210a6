"""A system project made of two copies of the breast-cancer example: CMP-ML (the triage
classifier) and CMP-ML2 (a second classifier standing in for a monitor), with a barrier
of [C] that is CMP-ML2, rated by its MLR-1 (misses) and worsening HAZ-1 by its MLR-3
(false alarms)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

SYSTEM_FILES = ("A", "B", "C")

BARRIER = """\
  - id: BAR-ML
    name: Second classifier as a safety cage
    kind: ml_monitor
    description: >-
      A case the second classifier calls malignant goes to the priority queue whatever the
      triage classifier said.
    mitigates: [HAZ-1]
    component: CMP-ML2
    failure_from: MLR-1
    worsens:
      - hazard: HAZ-1
        rate_from: MLR-3
        given: 0.5
        because: >-
          A false alarm puts a benign case in the priority queue, delaying the malignant
          cases behind it.
"""

ML2 = """\
  - id: CMP-ML2
    name: Second classifier
    kind: ml
    description: A second classifier guarding the first.
"""


def _component(example: Path, target: Path, name: str) -> None:
    shutil.copytree(
        example, target, ignore=shutil.ignore_patterns(".amlas", "evidence", "schema", "out")
    )
    for letter in SYSTEM_FILES:
        for file in (target / "1-scoping").glob(f"{letter}-*.yaml"):
            file.unlink()
    manifest = target / "amlas.yaml"
    text = manifest.read_text("utf-8")
    text = text.replace("name: breast-cancer-triage", f"name: {name}", 1)
    manifest.write_text(text.replace("\namlas: 1\n", "\namlas: 1\npart_of: ../..\n", 1), "utf-8")


def build_system(root: Path) -> Path:
    example = Path(__file__).resolve().parents[2] / "examples" / "breast-cancer-triage"
    (root / "1-scoping").mkdir(parents=True)
    for letter in SYSTEM_FILES:
        for file in (example / "1-scoping").glob(f"{letter}-*.yaml"):
            text = file.read_text("utf-8")
            if letter == "C":
                text = text.replace("\ncomponents:\n", "\ncomponents:\n" + ML2, 1)
                text = text.replace("\nbarriers:\n", "\nbarriers:\n" + BARRIER, 1)
            (root / "1-scoping" / file.name).write_text(text, "utf-8")
    (root / "amlas.yaml").write_text(
        "amlas: 1\n"
        "name: two-classifiers\n"
        "component: Triage with a second classifier as its safety cage\n"
        "components:\n"
        "  - id: CMP-ML\n"
        "    path: components/triage\n"
        "  - id: CMP-ML2\n"
        "    path: components/cage\n",
        "utf-8",
    )
    _component(example, root / "components" / "triage", "triage")
    _component(example, root / "components" / "cage", "cage")
    return root


@pytest.fixture
def system_dir(tmp_path: Path) -> Callable[[], Path]:
    return lambda: build_system(tmp_path / "system")
