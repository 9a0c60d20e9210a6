from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from factory import write_project

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "breast-cancer-triage"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of the small error-free project."""
    return write_project(tmp_path / "mini")
