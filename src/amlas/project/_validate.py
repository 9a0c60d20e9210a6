"""Turn pydantic validation errors into located, stable-coded diagnostics."""

from __future__ import annotations

import re
import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from amlas.diagnostics import Diagnostics, did_you_mean
from amlas.project._yaml import SourceMap

__all__ = ["validate_document", "validate_part"]

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


class _Within:
    """The source map of a document, seen from a part of it at ``prefix``."""

    def __init__(self, source: SourceMap, prefix: tuple[str | int, ...]) -> None:
        self.source = source
        self.prefix = prefix

    def locate(self, at: Any = (), *, key: bool = False) -> Any:
        return self.source.locate((*self.prefix, *tuple(at)), key=key)


def validate_part(
    model: type[M],
    data: Any,
    source: SourceMap,
    prefix: tuple[str | int, ...],
    diagnostics: Diagnostics,
) -> M | None:
    """Validate ``data``, the value at ``prefix`` of a document whose source map is
    ``source``, against ``model`` (a plug-in's parameters, say); every error becomes a
    diagnostic located inside the document."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        within = _Within(source, prefix)
        for error in exc.errors(include_url=False):
            _report(model, data, error, within, diagnostics)  # type: ignore[arg-type]
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
        allowed = _fields_at(model, loc[:-1], data)
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
            listed = [repr(c) for c in choices]
            if not choices and expected:  # numbers: "2, 3 or 4"
                choices = [c for c in re.split(r",\s*|\s+or\s+", str(expected)) if c]
                listed = choices
            hint = did_you_mean(str(found), choices) if choices else None
            message = f"found {found!r}, expected one of {', '.join(listed)}"
        diagnostics.add("S004", f"{subject}: {message}", location, hint=hint)
        return
    if kind in _CONSTRAINT:
        diagnostics.add("S005", f"{subject}: {message}; found {_show(found)}", location)
        return
    if kind.endswith(("_type", "_parsing")) or kind in {"int_from_float", "model_attributes_type"}:
        shown = "null" if found is None else f"{_type_name(found)} {_show(found)}"
        hint = None
        if kind == "string_type" and isinstance(found, int | float) and not isinstance(found, bool):
            hint = f"quote it as '{found}': YAML reads it as a number"
        diagnostics.add("S003", f"{subject}: {message}; found {shown}", location, hint=hint)
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
        found, child = _child(current, part)
        if found:
            cleaned.append(part)
            current = child
        elif last and (missing or isinstance(current, dict)):
            cleaned.append(part)
        # else: a union tag or function name that pydantic adds; not part of the document
    return tuple(cleaned), on_key


def _dotted(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _child(data: Any, part: Any) -> tuple[bool, Any]:
    """``(found, value)`` of ``data[part]`` for a mapping key or a list index."""
    if isinstance(data, dict):
        return part in data, data.get(part)
    if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
        return True, data[part]
    return False, None


def _value_at(data: Any, loc: tuple[str | int, ...]) -> Any:
    for part in loc:
        found, data = _child(data, part)
        if not found:
            return None
    return data


def _agreeing(candidates: list[Any], value: Any) -> list[Any]:
    if not isinstance(value, dict):
        return candidates
    agreeing = []
    for tp in candidates:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            literals = {
                field.alias or name: typing.get_args(field.annotation)
                for name, field in tp.model_fields.items()
                if typing.get_origin(field.annotation) is typing.Literal
            }
            if any(k in value and value[k] not in v for k, v in literals.items()):
                continue
        agreeing.append(tp)
    return agreeing or candidates


def _expand(tp: Any) -> list[Any]:
    """Flatten Annotated, Optional and unions into concrete candidate types."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _expand(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(tp) for t in _expand(arg)]
    return [tp]


def _fields_at(model: type[BaseModel], loc: tuple[str | int, ...], data: Any) -> list[str]:
    """The keys allowed in the mapping at ``loc`` of a ``model`` document. Where a union
    of models applies, only the members whose fixed (literal) keys agree with the data
    count, so a numeric ODD dimension is not offered a categorical one's keys."""
    candidates = _expand(model)
    for depth, part in enumerate(loc):
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
        candidates = _agreeing(following, _value_at(data, loc[: depth + 1]))
    keys: set[str] = set()
    for tp in candidates:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            keys |= {field.alias or name for name, field in tp.model_fields.items()}
    return sorted(keys)
