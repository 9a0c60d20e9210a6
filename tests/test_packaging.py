"""The built wheel carries everything `amlas init` needs (templates, the example's data).

Editable installs read the source tree, so only a real wheel shows what users get.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO


@pytest.mark.slow
def test_wheel_ships_templates_and_the_complete_example(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("amlas-*.whl")
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    code = (
        "import amlas, sys; from amlas.cli import main; "
        f"assert amlas.__file__.startswith({str(unpacked)!r}), amlas.__file__; "
        "main(sys.argv[1:])"
    )
    for args, name in ((["--example", "breast-cancer-triage"], "example"), ([], "templates")):
        target = tmp_path / name
        done = subprocess.run(
            [sys.executable, "-c", code, "init", *args, str(target)],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
    check = subprocess.run(
        [sys.executable, "-c", code, "check", "--strict", str(tmp_path / "example")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # the pattern library and the report's assets ship as package data
    for command in (["case", "--no-svg"], ["report"]):
        built = subprocess.run(
            [sys.executable, "-c", code, *command, str(tmp_path / "example")],
            env=env,
            capture_output=True,
            text=True,
        )
        assert built.returncode == 0, built.stdout + built.stderr
    assert (tmp_path / "example" / "safety-case" / "gsn" / "stage5.gsn.yaml").is_file()
    assert (tmp_path / "example" / "safety-case" / "report.html").stat().st_size > 10_000
    assert (tmp_path / "example" / "model" / "model.skops").is_file()
    assert (tmp_path / "templates" / "6-deployment" / "EE-operational-scenarios.yaml").is_file()
