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
MAX_DEPTH = 64  # artefacts nest a handful of levels; libyaml's composer recurses without limit

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
        self.resolver = yaml.resolver.Resolver()
        self.open: set[int] = set()  # nodes being built: an alias back into one is a cycle

    def build(self, node: yaml.Node, at: Path_) -> Any:
        self.nodes += 1
        if self.nodes > _MAX_NODES:
            raise _Unsupported(
                f"document expands to more than {_MAX_NODES} values through anchors and aliases",
                node,
            )
        if len(at) > MAX_DEPTH:
            raise _Unsupported(f"values nest deeper than {MAX_DEPTH} levels", node)
        self.source.values.setdefault(at, _mark(node))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node)
        if id(node) in self.open:
            raise _Unsupported("an alias refers to a value that contains it (a cycle)", node)
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                if node.tag != f"{_CORE}seq":
                    raise _Unsupported(f"unsupported tag {node.tag!r}", node)
                return [self.build(child, (*at, i)) for i, child in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, at)
        finally:
            self.open.discard(id(node))
        raise _Unsupported(f"unsupported YAML node {type(node).__name__}", node)  # pragma: no cover

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag not in _SCALAR_TAGS:
            raise _Unsupported(
                f"unsupported tag {node.tag!r}; artefacts hold plain data only "
                "(strings, numbers, booleans, null, dates)",
                node,
            )
        if node.tag == f"{_CORE}str":
            return node.value  # most scalars: nothing to construct or second-guess
        resolved = self.resolver.resolve(  # type: ignore[no-untyped-call]
            yaml.ScalarNode, node.value, (True, False)
        )
        implicit = node.tag == resolved
        if implicit and not node.style:  # plain scalar (the C loader reports '' for plain)
            if node.tag == f"{_CORE}bool" and node.value.lower() not in _BOOL_WORDS:
                return node.value  # YAML 1.2: 'yes', 'no', 'on', 'off' are strings
            if node.tag in (f"{_CORE}int", f"{_CORE}float") and ":" in node.value:
                return node.value  # YAML 1.2: no base-60 numbers ('1:30' is not 90)
        try:
            return self.constructor.construct_object(node)
        except Exception as exc:  # PyYAML raises assorted errors on malformed scalars
            if implicit:
                return node.value  # e.g. the date 2026-13-45: the schema reports it, located
            kind = node.tag.rsplit(":", 1)[-1]
            raise _Unsupported(f"{node.value!r} is not a valid {kind}", node) from exc

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


def _too_deep(text: str) -> tuple[int, int] | None:
    """Where the nesting first exceeds :data:`MAX_DEPTH`, from the event stream, which the
    parser produces without recursion (composing a deeply nested document can crash).

    PyYAML 6.0.3 and later stop at a nesting limit of their own (1000 levels) while
    scanning ahead, before our count reaches its limit; that error is a too-deep document
    too, so F006 does not depend on which PyYAML is installed."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                mark = event.start_mark
                if depth > MAX_DEPTH and mark is not None:
                    return mark.line + 1, mark.column + 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        if not _is_depth_limit(exc):
            raise
        mark = exc.problem_mark or exc.context_mark
        return (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return None


def _is_depth_limit(exc: yaml.MarkedYAMLError) -> bool:
    words = f"{exc.problem or ''} {exc.context or ''}".lower()
    return "nesting" in words or "depth" in words or ("level" in words and "exceed" in words)


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def load_yaml(text: str, path: str, diagnostics: Diagnostics) -> LoadedYaml | None:
    """Parse one artefact document. Problems go to ``diagnostics``; ``None`` when unusable."""
    source = SourceMap(path)
    try:
        deep = _too_deep(text)
        if deep is not None:
            diagnostics.add(
                "F006", f"values nest deeper than {MAX_DEPTH} levels", Location(path, *deep)
            )
            return None
        documents = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = exc.problem or exc.context or "invalid YAML"
        diagnostics.add("F004", f"YAML syntax error: {problem}", Location(path, line, col))
        return None
    except yaml.reader.ReaderError as exc:  # control characters and the like
        before = text[: exc.position]
        line, col = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        diagnostics.add(
            "F004",
            f"YAML does not allow the character {chr(exc.character)!r} (U+{exc.character:04X})"
            if isinstance(exc.character, int)
            else f"YAML reader error: {exc.reason}",
            Location(path, line, col),
            hint="remove it, or write it as an escape inside a double-quoted string",
        )
        return None
    except yaml.YAMLError as exc:
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
