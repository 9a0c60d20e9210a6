"""Issue 12: user-written text reaches the terminal and Markdown inert.

A text field of a project (here [H]'s ``data_related_reason`` and the component's name)
may hold terminal escapes or Markdown/HTML. ``amlas run``, ``amlas case`` and ``amlas
trace`` print it with every control character written out visibly; ``amlas trace
--format markdown`` escapes it as ``case.md`` does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from amlas.render import markdown_text, terminal_text
from cli_helpers import run
from factory import documents
from runnable import runnable

# retitle the window, clear the screen, a C1 CSI, a bidi override, a bell, a carriage return
ESCAPES = "\x1b]0;pwned\x07 \x1b[2J \x9b31m \u202e \x07 \r \x00 \x7f"
SHOWN = r"\x1b]0;pwned\x07 \x1b[2J \x9b31m \u202e \x07 \x0d \x00 \x7f"


pytestmark = pytest.mark.usefixtures("fresh_model")


def _hostile(root: Path, text: str) -> Path:
    """The runnable mini project with ``text`` in a reason and the component's name."""
    docs: dict[str, Any] = documents()
    docs["D"]["name"] = f"Widget {text}"
    docs["manifest"]["component"] = f"Widget {text}"
    docs["H"]["requirements"].append(
        {
            "id": "MLR-3",
            "text": "Answers within 10 ms",
            "kind": "other",
            "traces_to": ["ALR-1"],
            "data_related": False,
            "data_related_reason": f"latency {text}",
        }
    )
    return runnable(root, docs)


def _no_control(text: str) -> None:
    found = sorted({hex(ord(c)) for c in text if c not in "\n\t" and terminal_text(c) != c})
    assert not found, f"control characters printed raw: {found}"


@pytest.mark.parametrize(
    "argv",
    [("trace",), ("run", "--stage", "3", "--stage", "4"), ("case", "--no-svg")],
    ids=["trace", "run", "case"],
)
def test_terminal_escapes_in_text_fields_are_shown_not_obeyed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    root = _hostile(tmp_path / "mini", ESCAPES)
    status, out, err = run(capsys, argv[0], str(root), *argv[1:])
    assert status in (0, 1), err
    _no_control(out)
    _no_control(err)
    # visible and whole where the field is printed (table cells fold over lines)
    assert re.sub(r"[\s│]", "", SHOWN) in re.sub(r"[\s│]", "", out)


def test_terminal_text_shows_every_control_character() -> None:
    controls = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))] + ["\u202e", "\u2066"]
    for char in controls:
        shown = terminal_text(f"a{char}b")
        if char in "\n\t":
            assert shown == f"a{char}b"
        else:
            assert shown.startswith("a\\"), repr(shown)
            assert shown.endswith("b"), repr(shown)
            assert all(c.isprintable() for c in shown), repr(shown)
    assert terminal_text("plain text, ünïcödé, 日本 | <b>") == "plain text, ünïcödé, 日本 | <b>"


# -- Markdown ---------------------------------------------------------------------------------

MARKDOWN_PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<svg/onload=alert(1)>",
    "<a href='javascript:alert(1)'>x</a>",
    "<iframe src=javascript:alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<!-- hidden -->",
    "[click](javascript:alert(1))",
    "[x]: javascript:alert(1)",
    "![img](javascript:alert(1))",
    "<javascript:alert(1)>",
    "a | b | c",
    "cell\n| forged | row |",
    "line\n\n# heading",
    "`code` and ```fence```",
    "**bold** _em_ ~~strike~~",
    "&lt;script&gt; &#60;img&#62;",
    "\\<img src=x onerror=alert(1)\\>",
    "text\r\n<b>bold</b>",
    "\x1b[2J clear",
]


@pytest.mark.parametrize("payload", MARKDOWN_PAYLOADS)
def test_markdown_text_is_inert(payload: str) -> None:
    text = markdown_text(payload)
    assert not set("<>") & set(text)  # no HTML tag, comment or autolink
    assert not set("\n\r") & set(text)  # one line: no forged rows or headings
    assert "\x1b" not in text
    for ch in "|[]`*_~#!":  # every Markdown metacharacter escaped
        assert text.count(ch) == text.count("\\" + ch), (ch, text)
    assert "&lt;" in text or "<" not in payload


def test_trace_markdown_escapes_like_case_md(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 12: 19 of 27 payloads came out raw in ``amlas trace --format markdown``."""
    joined = " ".join(MARKDOWN_PAYLOADS)
    root = _hostile(tmp_path / "mini", joined)
    status, out, err = run(capsys, "trace", str(root), "--format", "markdown")
    assert status == 0, err
    row = next(line for line in out.splitlines() if "MLR-3" in line)
    assert markdown_text(f"not data-related: latency {joined}") in row
    assert row.count(" | ") == 4  # five cells: no pipe of the payload breaks the table
    for tag in ("<img", "<script", "<svg", "<a ", "<iframe", "<details", "<!--", "<javascript"):
        assert tag not in out
    assert not re.search(r"(?<!\\)\]\(", out)  # no unescaped "](": no link can form
    assert "\x1b" not in out
