"""Calling the `amlas` command line in-process, as the CLI tests do."""

from __future__ import annotations

import contextlib
import io

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


def run_quietly(*argv: str) -> tuple[int, str]:
    """Run ``amlas ARGV`` in-process without capsys (module fixtures); (exit status,
    stdout + stderr). A traceback anywhere fails."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            main(list(argv))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    text = out.getvalue()
    assert "Traceback" not in text, text
    return code, text
