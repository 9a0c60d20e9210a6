"""One YAML (or JSON) document outside the artefacts, read as the artefacts are: every
value located in its file, duplicate keys and unsafe YAML refused, the pydantic model's
errors turned into the same coded, located diagnostics (``S001`` unknown key, ...).

``amlas evidence import`` reads the file it is given this way, so a problem in that file
is reported exactly like a problem in an artefact: ``file:line:col: CODE severity: ...``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from amlas.diagnostics import Diagnostics, Location
from amlas.project._loader import read_text
from amlas.project._validate import validate_document
from amlas.project._yaml import SourceMap, load_yaml

__all__ = ["ReadDocument", "read_document"]

M = TypeVar("M", bound=BaseModel)

Screen = Callable[[dict[str, Any], SourceMap, Diagnostics], None]
"""Checks of the raw document before the model validates it (problems the model's
generic messages would say less well); their diagnostics go to the third argument."""

_SAID_BETTER = frozenset({"S003", "S004", "S005", "S006"})
"""What the model says about a value (its type, choices, constraints) that a screen has
already reported at the same place, better: left out."""


@dataclass
class ReadDocument(Generic[M]):
    """What :func:`read_document` found."""

    value: M | None
    """The validated document; None when it has errors."""
    data: dict[str, Any] | None
    """The document as plain data (None when it could not be parsed)."""
    source: SourceMap | None
    """Where each value sits in the file (None when it could not be parsed)."""
    sha256: str | None
    """SHA-256 of the bytes read (None when the file could not be read)."""
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


def _at(location: Location) -> tuple[str, int, int]:
    return location.path, location.line, location.col


def read_document(
    path: str | Path,
    model: type[M] | Callable[[dict[str, Any]], type[M]],
    *,
    shown: str | None = None,
    screen: Screen | None = None,
) -> ReadDocument[M]:
    """Read the YAML or JSON file ``path`` (shown in diagnostics as ``shown``, default the
    path as given) and validate it against ``model`` (a pydantic model, or a function
    choosing one from the parsed document, e.g. by its ``kind``).

    ``screen`` checks the raw document first; what the model would say about a value the
    screen has reported is left out (one problem per place). Never raises for a problem
    in the file: every problem is a diagnostic of the result.
    """
    path = Path(path)
    where = shown if shown is not None else str(path)
    diagnostics = Diagnostics()
    read = read_text(path, where, diagnostics)
    if read is None:
        return ReadDocument(None, None, None, None, diagnostics)
    text, raw = read
    digest = hashlib.sha256(raw).hexdigest()
    loaded = load_yaml(text, where, diagnostics)
    if loaded is None:
        return ReadDocument(None, None, None, digest, diagnostics)
    if screen is not None:
        screen(loaded.data, loaded.source, diagnostics)
    flagged = {_at(d.location) for d in diagnostics}
    validation = Diagnostics()
    chosen = model if isinstance(model, type) else model(loaded.data)
    value = validate_document(chosen, loaded.data, loaded.source, validation)
    diagnostics.extend(
        d for d in validation if d.code not in _SAID_BETTER or _at(d.location) not in flagged
    )
    if diagnostics.has_errors:
        value = None
    return ReadDocument(value, loaded.data, loaded.source, digest, diagnostics)
