"""The terminal boundary: everything ``amlas`` prints as text goes through here.

Text printed by the commands carries user-written fields (requirement texts, reasons,
names, values found in data). A control character in one of them (``ESC]0;...BEL``
retitling the window, ``ESC[2J`` clearing the screen, a C1 ``CSI``, a bidirectional
override) must not reach the terminal as a command, so :class:`SafeConsole` writes every
control character of printed text out visibly (:func:`amlas.render.terminal_text`), and
:func:`echo` does the same for plain lines. Rich's own codes (colours, the cursor moves of
progress bars) are not text and pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import click
from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.text import Text

from amlas.render import terminal_text

__all__ = ["SafeConsole", "echo"]


class SafeConsole(Console):
    """A rich console whose printed text can hold no live control character.

    Strings are made safe before rich reads them (rich would silently drop a bell or a
    carriage return, and measure an escape as zero-width); whatever else is rendered is
    made safe segment by segment on its way out.
    """

    def render_str(self, text: str, **kwargs: Any) -> Text:
        return super().render_str(terminal_text(text), **kwargs)

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control or not segment.text:  # rich's own cursor and screen codes
                yield segment
            else:
                yield Segment(terminal_text(segment.text), segment.style)


def echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """``click.echo`` for text output: control characters written out visibly."""
    click.echo(terminal_text(message), err=err, nl=nl)
