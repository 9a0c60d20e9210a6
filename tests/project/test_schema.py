"""The committed JSON Schemas match the models, and agree with them on real files."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from amlas.project import ARTEFACTS, MANIFEST_FILE, schema_documents
from conftest import EXAMPLE, REPO
from factory import write_project

DOCUMENTS = schema_documents()


@pytest.mark.parametrize(
    "directory", [REPO / "schema", EXAMPLE / "schema"], ids=["repo", "example"]
)
def test_committed_schemas_match_the_models(directory: Path) -> None:
    committed = {p.name: p.read_text("utf-8") for p in directory.glob("*.schema.json")}
    assert set(committed) == set(DOCUMENTS), "run 'make schema'"
    stale = sorted(name for name, text in DOCUMENTS.items() if committed[name] != text)
    assert not stale, f"schemas drifted from the models ({stale}); run 'make schema'"


def _files(root: Path) -> list[tuple[str, Path]]:
    files = [("manifest.schema.json", root / MANIFEST_FILE)]
    files += [(spec.schema_file, root / spec.default_path) for spec in ARTEFACTS.values()]
    return files


@pytest.mark.parametrize("which", ["mini", "example"])
def test_valid_projects_validate_against_the_json_schemas(which: str, tmp_path: Path) -> None:
    root = write_project(tmp_path / "mini") if which == "mini" else EXAMPLE
    for schema_name, path in _files(root):
        schema = yaml.safe_load(DOCUMENTS[schema_name])
        instance = yaml.safe_load(path.read_text("utf-8"))
        jsonschema.validate(_jsonable(instance), schema)


def test_json_schema_rejects_unknown_keys() -> None:
    schema = yaml.safe_load(DOCUMENTS["H.schema.json"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"artefact": "H", "version": "1", "requirements": [], "x": 1}, schema)


def _jsonable(value: object) -> object:
    """YAML dates are strings in JSON."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def test_reference_docs_are_generated_and_current() -> None:
    from amlas.project import render_reference

    committed = (REPO / "docs" / "artefacts.md").read_text("utf-8")
    assert committed == render_reference(), "run 'make docs'"
    for letter, spec in ARTEFACTS.items():
        assert f"## [{letter}] {spec.title}" in committed
    assert "| `recall` | [0, 1] | higher | yes |" in committed
