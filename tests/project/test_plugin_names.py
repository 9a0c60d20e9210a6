"""Plug-in names in artefacts ([V] format, the datasets' format) are validated against the
installed registries, and the JSON Schemas list what is installed."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, ValidationError

from amlas.diagnostics import Diagnostics
from amlas.plugins import registry
from amlas.project import schema_documents
from amlas.project._validate import validate_document
from amlas.project._yaml import SourceMap
from amlas.project.artefacts._base import DatasetFormatName, ModelFormatName


class _Doc(BaseModel):
    model: ModelFormatName
    data: DatasetFormatName


def _format_enum(schema_file: str) -> list[str]:
    schema = json.loads(schema_documents()[schema_file])
    field = schema["properties"]["format"]
    # an optional format ([V] with predictions only) is "one of the names, or null"
    named = next((x for x in field.get("anyOf", []) if "enum" in x), field)
    enum: list[str] = named["enum"]
    return enum


@pytest.mark.parametrize(
    ("schema_file", "group"),
    [
        ("V.schema.json", "amlas.models"),
        ("N.schema.json", "amlas.readers"),
        ("O.schema.json", "amlas.readers"),
        ("P.schema.json", "amlas.readers"),
    ],
)
def test_json_schema_lists_the_installed_formats(schema_file: str, group: str) -> None:
    assert _format_enum(schema_file) == list(registry(group).names())


def test_a_newly_registered_format_is_valid_and_in_the_schema() -> None:
    models = registry("amlas.models")
    models.register("tflite", object())
    try:
        assert "tflite" in _format_enum("V.schema.json")
        assert _Doc(model="tflite", data="csv").model == "tflite"
    finally:
        models.unregister("tflite")
    assert "tflite" not in _format_enum("V.schema.json")
    with pytest.raises(ValidationError):
        _Doc(model="tflite", data="csv")


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("model", "onx", "unknown model format 'onx'; did you mean 'onnx'?"),
        ("data", "parqet", "unknown dataset format 'parqet'; did you mean 'parquet'?"),
        (
            "model",
            "zzz",
            "installed: onnx, python_callable, python_detector, sklearn_joblib, skops, torch",
        ),
    ],
)
def test_an_unknown_name_is_s004_with_a_suggestion(field: str, value: str, expected: str) -> None:
    data = {"model": "onnx", "data": "csv", field: value}
    diagnostics = Diagnostics()
    assert validate_document(_Doc, data, SourceMap("doc.yaml"), diagnostics) is None
    (found,) = diagnostics.items
    assert found.code == "S004"
    assert expected in found.message
    assert "amlas plugins" in found.message
