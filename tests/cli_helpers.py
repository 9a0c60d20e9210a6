"""Calling the `amlas` command line in-process, as the CLI tests do."""

from __future__ import annotations

import pytest

from amlas.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``amlas ARGV``; (exit status, stdout, stderr). A traceback anywhere fails."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    code = exit_info.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err
