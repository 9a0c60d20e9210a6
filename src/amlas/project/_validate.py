"""Turn pydantic validation errors into located, stable-coded diagnostics."""

from __future__ import annotations

import re
import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from amlas.diagnostics import Diagnostics, did_you_mean
from amlas.project._yaml import SourceMap

__all__ = ["validate_document"]

M = TypeVar("M", bound=BaseModel)

_CONSTRAINT = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "too_short",
    "too_long",
    "string_too_short",
    "string_too_long",
    "string_pattern_mismatch",
    "multiple_of",
    "finite_number",
}
_CHOICE = {"literal_error", "enum", "union_tag_invalid", "unknown_choice"}
_MISSING = {"missing", "amlas_missing", "union_tag_not_found"}


def validate_document(
    model: type[M], data: Any, source: SourceMap, diagnostics: Diagnostics
) -> M | None:
    """Validate ``data`` against ``model``; every error becomes a diagnostic."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            _report(model, data, error, source, diagnostics)
        return None


def _report(
    model: type[BaseModel],
    data: Any,
    error: Any,
    source: SourceMap,
    diagnostics: Diagnostics,
) -> None:
    kind: str = error["type"]
    loc, on_key = _clean_loc(data, tuple(error["loc"]), missing=kind in _MISSING)
    where = _dotted(loc)
    found = error.get("input")
    message = error["msg"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = _fields_at(model, loc[:-1])
        hint = did_you_mean(key, allowed) if allowed else None
        if hint is None and allowed:
            hint = "allowed keys: " + ", ".join(sorted(allowed))
        diagnostics.add(
            "S001",
            f"unknown key {key!r} in {_dotted(loc[:-1]) or 'the document'}",
            source.locate(loc, key=True),
            hint=hint,
        )
        return
    if kind in _MISSING:
        if kind == "missing":
            text = f"missing required key {str(loc[-1])!r} in {_dotted(loc[:-1]) or 'the document'}"
            at = source.locate(loc[:-1])
        elif kind == "union_tag_not_found":
            tag = error.get("ctx", {}).get("discriminator", "").strip("'")
            text = f"{where or 'the document'}: missing required key {tag!r}"
            at = source.locate(loc)
        else:
            text = f"{where or 'the document'}: {message}"
            at = source.locate(loc)
        diagnostics.add("S002", text, at)
        return
    location = source.locate(loc, key=on_key)
    subject = where or "the document"
    if kind in _CHOICE:
        hint = None
        if kind == "union_tag_invalid":
            ctx = error.get("ctx", {})
            tag_key = str(ctx.get("discriminator", "")).strip("'")
            found = ctx.get("tag", found)
            if tag_key:
                location = source.locate((*loc, tag_key))
                subject = _dotted((*loc, tag_key))
        if kind != "unknown_choice":
            expected = error.get("ctx", {}).get("expected", "") or error.get("ctx", {}).get(
                "expected_tags", ""
            )
            choices = re.findall(r"'([^']*)'", str(expected))
            if not choices and expected:
                choices = [c.strip() for c in str(expected).split(",")]
            hint = did_you_mean(str(found), choices) if choices else None
            message = f"found {found!r}, expected one of {', '.join(repr(c) for c in choices)}"
        diagnostics.add("S004", f"{subject}: {message}", location, hint=hint)
        return
    if kind in _CONSTRAINT:
        diagnostics.add("S005", f"{subject}: {message}; found {_show(found)}", location)
        return
    if kind.endswith(("_type", "_parsing")) or kind in {"int_from_float", "model_attributes_type"}:
        diagnostics.add(
            "S003", f"{subject}: {message}; found {_type_name(found)} {_show(found)}", location
        )
        return
    message = re.sub(r"^(Value|Assertion) error, ", "", message)
    diagnostics.add("S006", f"{subject}: {message}", location)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return type(value).__name__


def _clean_loc(
    data: Any, loc: tuple[Any, ...], *, missing: bool
) -> tuple[tuple[str | int, ...], bool]:
    """Drop the parts of a pydantic ``loc`` that are not in the document (union tags,
    ``[key]`` markers), keeping a final missing key. Returns the path and whether the
    error is about a mapping key rather than its value."""
    cleaned: list[str | int] = []
    current = data
    on_key = False
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if part == "[key]":
            on_key = True
            continue
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            cleaned.append(part)
            current = current[part]
        elif last and (missing or isinstance(current, dict)):
            cleaned.append(part)
        # else: a union tag or function name that pydantic adds; not part of the document
    return tuple(cleaned), on_key


def _dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _expand(tp: Any) -> list[Any]:
    """Flatten Annotated, Optional and unions into concrete candidate types."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _expand(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(tp) for t in _expand(arg)]
    return [tp]


def _fields_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys allowed in the mapping at ``loc`` of a ``model`` document."""
    candidates = _expand(model)
    for part in loc:
        following: list[Any] = []
        for tp in candidates:
            origin = typing.get_origin(tp)
            if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
                for name, field in tp.model_fields.items():
                    if part in (name, field.alias):
                        following += _expand(field.annotation)
            elif origin is list and isinstance(part, int):
                following += _expand(typing.get_args(tp)[0])
            elif origin is dict and isinstance(part, str):
                following += _expand(typing.get_args(tp)[1])
        candidates = following
    keys: set[str] = set()
    for tp in candidates:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            keys |= {field.alias or name for name, field in tp.model_fields.items()}
    return sorted(keys)
