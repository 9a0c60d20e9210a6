"""The project manifest, ``amlas.yaml``: what the project is and where its artefacts are."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from amlas.project.artefacts import ARTEFACTS
from amlas.project.artefacts._base import Item, Text

__all__ = ["MANIFEST_FILE", "Manifest"]

MANIFEST_FILE = "amlas.yaml"
FORMAT_VERSION = 1

Letter = Literal[
    "A", "B", "C", "D", "E", "H", "J", "L", "M", "N", "O", "P", "Q", "U", "V", "AA", "DD", "EE"
]
"""The user-written artefacts (``ARTEFACTS`` keys)."""


class Manifest(Item):
    """``amlas.yaml``: the root of an AMLAS project."""

    amlas: Literal[1]
    """Project format version; this release reads format 1."""
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    """Short project name (lower case, digits and dashes)."""
    component: Text
    """The ML component this safety case is about."""
    description: str = ""
    """What the project covers, in a sentence or two."""
    criticality: Literal["low", "medium", "high", "very_high"] = "high"
    """How critical the component is; later stages scale independence and rigour with it."""
    evidence: Annotated[str, Field(pattern=r"^[a-z][a-z0-9+]*://")] = "fs://evidence"
    """Evidence store URI: ``fs://evidence`` (files in the project, the default) or an
    SQLAlchemy URL such as ``sqlite:///evidence.db``."""
    artefacts: dict[Letter, Text] = Field(default_factory=dict)
    """Artefact letter -> project-relative file, for files not at their default location."""

    def path_of(self, letter: str) -> str:
        overrides: dict[str, str] = {str(k): v for k, v in self.artefacts.items()}
        return overrides.get(letter, ARTEFACTS[letter].default_path)
