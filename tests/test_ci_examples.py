"""The worked CI pipelines of docs/ci.md (examples/ci/): they parse, and every `amlas`
command and option they call exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
import yaml

from amlas.cli._main import cli

CI = Path(__file__).resolve().parents[1] / "examples" / "ci"
_CALL = re.compile(r"\bamlas ([a-z][a-z-]*)([^\n|;&>)]*)")


def _scripts(value: object) -> list[str]:
    if isinstance(value, str):  # without its comment lines
        return ["\n".join(x for x in value.splitlines() if not x.strip().startswith("#"))]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _scripts(v)]
    if isinstance(value, list):
        return [s for v in value for s in _scripts(v)]
    return []


def _options(command: click.Command) -> set[str]:
    return {o for p in command.params for o in getattr(p, "opts", [])}


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_pipeline_calls_only_what_exists(name: str) -> None:
    document = yaml.safe_load((CI / name).read_text("utf-8"))
    calls = [m for script in _scripts(document) for m in _CALL.finditer(script)]
    assert {m.group(1) for m in calls} >= {
        "check", "run", "case", "report", "diff", "bundle", "verify-bundle", "gate",
    }  # fmt: skip
    assert isinstance(cli, click.Group)
    for call in calls:
        command = cli.commands.get(call.group(1))
        assert command is not None, call.group(0)
        words = shlex.split(call.group(2).replace("\\", " "), posix=True, comments=False)
        for word in words:
            if word.startswith("--"):
                assert word.split("=")[0] in _options(command), (name, call.group(0), word)
