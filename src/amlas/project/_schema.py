"""JSON Schemas of the manifest and every artefact, for editors and for review.

They are committed under ``schema/``; a test fails when they drift from the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from amlas.errors import UsageError
from amlas.fileio import atomic_write_text
from amlas.project._manifest import Manifest
from amlas.project.artefacts import ARTEFACTS

__all__ = ["MANIFEST_SCHEMA", "schema_documents", "write_schemas"]

MANIFEST_SCHEMA = "manifest.schema.json"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _document(model: type[Any], name: str, title: str) -> str:
    schema: dict[str, Any] = model.model_json_schema(by_alias=True)
    schema["$schema"] = _DIALECT
    schema["$id"] = f"https://amlas.dev/schema/1/{name}"
    schema["title"] = title
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_documents() -> dict[str, str]:
    """File name -> JSON Schema text, for the manifest and every artefact."""
    documents = {MANIFEST_SCHEMA: _document(Manifest, MANIFEST_SCHEMA, "AMLAS project manifest")}
    for letter, spec in ARTEFACTS.items():
        documents[spec.schema_file] = _document(
            spec.model, spec.schema_file, f"[{letter}] {spec.title}"
        )
    return documents


def write_schemas(directory: str | Path) -> list[Path]:
    """Write every schema into ``directory`` (atomically, file by file)."""
    written = []
    for name, text in schema_documents().items():
        path = Path(directory) / name
        try:
            atomic_write_text(path, text)
        except OSError as exc:
            raise UsageError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from exc
        written.append(path)
    return written
