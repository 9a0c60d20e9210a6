"""User-written text made inert for where it is shown: Markdown and the terminal.

Any text field of a project (a requirement, a reason, a dataset name, a value found in a
data file) can hold markup or control characters. Two functions, one per destination, are
shared by every renderer and by the command line, so the rules cannot drift apart:

* :func:`markdown_text` for Markdown (``case.md``, ``amlas trace --format markdown``,
  ``amlas impact --format markdown``): no HTML, no table breaks, no links or emphasis,
  one line;
* :func:`terminal_text` for text a terminal shows: control characters (C0, DEL, C1 and
  the Unicode bidirectional overrides) are written out visibly as ``\\x1b`` or ``\\u202e``,
  so a field cannot move the cursor, clear the screen, retitle the window or reorder
  what is shown. Newlines and tabs stay.
"""

from __future__ import annotations

import re

__all__ = ["markdown_text", "terminal_text"]

# C0 controls, DEL, C1 controls, and the bidirectional embeddings, overrides and isolates
# ("Trojan Source": text that reads differently from what it is).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_TERMINAL_KEEP = frozenset("\n\t")
_MARKDOWN_KEEP = frozenset("\t\n\r\x0b\x0c")  # whitespace: collapsed to one space below


def _shown(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def _visible(text: str, keep: frozenset[str]) -> str:
    return _CONTROL.sub(lambda m: m[0] if m[0] in keep else _shown(m[0]), text)


def terminal_text(text: str) -> str:
    """``text`` safe to print on a terminal: every control character but newline and tab
    written out visibly (``ESC`` as ``\\x1b``); printable text unchanged."""
    return _visible(text, _TERMINAL_KEEP)


def markdown_text(text: str) -> str:
    """User text made inert in Markdown: no HTML, no table breaks, no links or emphasis,
    no control characters, all whitespace (newlines included) collapsed to one space."""
    out = " ".join(_visible(text, _MARKDOWN_KEEP).split()).replace("\\", "\\\\")
    for ch in "`*_[]#!|~":
        out = out.replace(ch, "\\" + ch)
    for ch, repl in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        out = out.replace(ch, repl)
    return out
