"""What importing amlas costs: the heavy scientific modules are imported where they are
used, not when amlas is imported, so that an `amlas` command and a Dask worker (which
only tallies chunks) do not pay for them at start (scipy.stats alone took 0.7 s)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("scipy.stats", "scipy.optimize", "scipy.spatial")


@pytest.mark.parametrize("module", ["amlas.verify", "amlas.cli"])
def test_importing_amlas_leaves_the_heavy_modules_for_later(module: str) -> None:
    code = (
        f"import json, sys, {module}; "
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert json.loads(out.stdout) == []
