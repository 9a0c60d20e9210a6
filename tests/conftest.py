from __future__ import annotations

import os
import sys
from collections.abc import Iterator

# Tiny torch networks run far slower with a thread pool than without one on a busy 2-core
# machine (measured: a 150-step loop took 3-11 s instead of 0.08 s); set before torch loads.
os.environ.setdefault("OMP_NUM_THREADS", "1")
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from factory import write_project

sys.path.insert(0, str(Path(__file__).parent / "checks"))

from check_factory import MakeDataset, dataset_maker, load_mini

from amlas.project import Project

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "breast-cancer-triage"


@pytest.fixture
def fresh_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A test of the runnable mini project imports that project's own ``mini_model`` and
    starts with no planted mistakes, no verifier key and no debug tracebacks in the
    environment. Test modules use it with ``pytestmark = pytest.mark.usefixtures(...)``."""
    for name in (
        "MINI_MODEL_MISS",
        "MINI_MODEL_RAISE",
        "AMLAS_VERIFIER_KEY_FILE",
        "AMLAS_VERIFIER_KEY",
        "AMLAS_DEBUG",
    ):
        monkeypatch.delenv(name, raising=False)
    sys.modules.pop("mini_model", None)
    yield
    sys.modules.pop("mini_model", None)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of the small error-free project."""
    return write_project(tmp_path / "mini")


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The small project, loaded (shared by a module's tests: do not change it)."""
    return load_mini(Path(tmp_path_factory.mktemp("checks")))


@pytest.fixture(scope="module")
def make_dataset(mini: Project) -> MakeDataset:
    """Build a dataset of the small project from labels, sizes and lighting in memory."""
    return dataset_maker(mini)
