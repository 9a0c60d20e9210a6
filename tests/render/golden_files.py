"""Golden-file comparison shared by the renderer tests."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest


def assert_golden(text: str, path: Path) -> None:
    """Compare with the golden file; ``AMLAS_UPDATE_GOLDEN=1`` rewrites it instead."""
    if os.environ.get("AMLAS_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8", newline="")
        return
    assert path.exists(), f"{path} is missing: run with AMLAS_UPDATE_GOLDEN=1 to write it"
    expected = path.read_text("utf-8")
    if text != expected:
        diff = difflib.unified_diff(
            expected.splitlines(), text.splitlines(), "golden", "rendered", lineterm=""
        )
        excerpt = "\n".join(list(diff)[:60])
        pytest.fail(
            f"{path.name} differs (AMLAS_UPDATE_GOLDEN=1 rewrites it if intended):\n{excerpt}"
        )
