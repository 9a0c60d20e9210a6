"""Position-aware YAML loading.

We compose the YAML node graph ourselves (PyYAML's composer keeps a start mark on every
node) instead of using a plain ``safe_load``: every diagnostic needs ``line:col`` for any
value, duplicate keys must be reported instead of silently overwritten, and only plain
data may come in (no tags beyond the core schema, bounded alias expansion). Scalars follow
YAML 1.2 booleans: ``yes``/``no``/``on``/``off`` stay strings, so an ODD category called
``no`` is not turned into ``False``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from amlas.diagnostics import Diagnostics, Location

__all__ = ["MAX_FILE_BYTES", "LoadedYaml", "SourceMap", "load_yaml"]

MAX_FILE_BYTES = 5 * 1024 * 1024
_MAX_NODES = 200_000  # bounds alias expansion ("billion laughs")

Path_ = tuple[str | int, ...]

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}
_BOOL_WORDS = {"true", "false"}

try:  # the C loader composes the same node graph, with marks, several times faster
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader


@dataclass
class SourceMap:
    """Where each value (and each mapping key) of a document sits in its file."""

    path: str
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)

    def locate(self, at: Path_ = (), *, key: bool = False) -> Location:
        """The location of the value at ``at`` (or of its key), falling back to the
        nearest enclosing node that exists, so a missing key points at its parent."""
        at = tuple(at)
        if key and at in self.keys:
            line, col = self.keys[at]
            return Location(self.path, line, col)
        while at:
            if at in self.values:
                line, col = self.values[at]
                return Location(self.path, line, col)
            at = at[:-1]
        line, col = self.values.get((), (1, 1))
        return Location(self.path, line, col)


@dataclass
class LoadedYaml:
    data: dict[str, Any]
    source: SourceMap


class _Unsupported(Exception):
    def __init__(self, message: str, node: yaml.Node) -> None:
        super().__init__(message)
        self.node = node


class _Builder:
    def __init__(self, source: SourceMap, diagnostics: Diagnostics) -> None:
        self.source = source
        self.diagnostics = diagnostics
        self.nodes = 0
        self.constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, at: Path_) -> Any:
        self.nodes += 1
        if self.nodes > _MAX_NODES:
            raise _Unsupported(
                f"document expands to more than {_MAX_NODES} values through anchors and aliases",
                node,
            )
        self.source.values.setdefault(at, _mark(node))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != f"{_CORE}seq":
                raise _Unsupported(f"unsupported tag {node.tag!r}", node)
            return [self.build(child, (*at, i)) for i, child in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, at)
        raise _Unsupported(f"unsupported YAML node {type(node).__name__}", node)  # pragma: no cover

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise _Unsupported(
                f"unsupported tag {node.tag!r}; artefacts hold plain data only "
                "(strings, numbers, booleans, null, dates)",
                node,
            )
        if node.tag == f"{_CORE}bool" and node.value.lower() not in _BOOL_WORDS:
            return node.value  # YAML 1.2: 'yes', 'no', 'on', 'off' are strings
        try:
            return self.constructor.construct_object(node)
        except (ValueError, OverflowError):
            return node.value  # e.g. the date 2026-13-45: the schema reports it, located

    def _mapping(self, node: yaml.MappingNode, at: Path_) -> dict[str, Any]:
        if node.tag != f"{_CORE}map":
            raise _Unsupported(f"unsupported tag {node.tag!r}", node)
        result: dict[str, Any] = {}
        first_seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == f"{_CORE}merge":
                raise _Unsupported(
                    "merge keys ('<<') are not supported; write the keys out", key_node
                )
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Unsupported("mapping keys must be plain strings", key_node)
            key = str(key_node.value)
            if key in first_seen:
                line, col = _mark(key_node)
                first_line, _ = _mark(first_seen[key])
                self.diagnostics.add(
                    "F005",
                    f"duplicate key {key!r} (first defined on line {first_line})",
                    Location(self.source.path, line, col),
                    hint="remove one of them; YAML would silently keep the last",
                )
                continue
            first_seen[key] = key_node
            self.source.keys[(*at, key)] = _mark(key_node)
            result[key] = self.build(value_node, (*at, key))
        return result


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load_yaml(text: str, path: str, diagnostics: Diagnostics) -> LoadedYaml | None:
    """Parse one artefact document. Problems go to ``diagnostics``; ``None`` when unusable."""
    source = SourceMap(path)
    try:
        documents = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = exc.problem or exc.context or "invalid YAML"
        diagnostics.add("F004", f"YAML syntax error: {problem}", Location(path, line, col))
        return None
    except yaml.YAMLError as exc:  # reader errors: control characters and the like
        diagnostics.add("F004", f"YAML error: {exc}", Location(path, 1, 1))
        return None
    if not documents:
        diagnostics.add(
            "F007",
            "the file is empty; expected a mapping with an 'artefact:' header",
            Location(path, 1, 1),
        )
        return None
    if len(documents) > 1:
        line, col = _mark(documents[1])
        diagnostics.add(
            "F007",
            f"the file holds {len(documents)} YAML documents; expected exactly one",
            Location(path, line, col),
        )
        return None
    root = documents[0]
    if not isinstance(root, yaml.MappingNode):
        line, col = _mark(root)
        kind = "a list" if isinstance(root, yaml.SequenceNode) else f"the scalar {root.value!r}"
        diagnostics.add(
            "F007",
            f"the top level is {kind}; expected a mapping of keys to values",
            Location(path, line, col),
        )
        return None
    builder = _Builder(source, diagnostics)
    try:
        data = builder.build(root, ())
    except _Unsupported as exc:
        line, col = _mark(exc.node)
        diagnostics.add("F006", str(exc), Location(path, line, col))
        return None
    return LoadedYaml(data, source)
