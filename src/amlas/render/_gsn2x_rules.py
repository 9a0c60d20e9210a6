"""Check gsn2x YAML modules the way the ``gsn2x`` binary does, without running it.

Mirrors the checks documented for gsn2x v4.3.2 (its ``doc/src/checks.md``, summarised in
the project notes ``GSN2X.md`` §4.2-4.5): per file V01-V13 (V08 only with ``extended``,
V11 only with ``warn_dialectic``) and across files C01-C04 and C06-C16, with gsn2x's
codes and severities. Types come from ``nodeType``, else the ID prefix (CG, G, CSn, Sn,
S, C, A, J; first match wins); relation targets are looked up across all modules.

Where this goes beyond gsn2x, or decides what its documentation leaves open:

- What gsn2x rejects while parsing (an element that is not a mapping, a non-string ID,
  an attribute of the wrong YAML type, a bad ``module`` block) is V01; a badly shaped
  ``acp`` is V09 and a badly shaped ``module.extends`` V07. A file that cannot be
  loaded (missing, not YAML, included circularly through ``uses``) is L01, a code
  gsn2x lacks (it aborts).
- C12-C16 use gsn2x's numbering: C12 an end of a challenged relation does not exist,
  C13 an element challenges itself (or a relation it is an end of), C14 a challenged
  element does not exist, C15 a challenged relation has the same element at both ends,
  C16 the ends of a challenged relation are not related by supportedBy/inContextOf.
  Any element may be challenged (gsn2x's own example has a CounterGoal challenging a
  CounterSolution), so no "challengeable" rule is added.
- V04 and V12 are skipped for elements of unknown type (already V01). V10 counts only
  element challenges, not relation challenges, as gsn2x does. C11 is an unresolved
  reference (C03) containing a comma. Module names without ``module.name`` come from
  the file's base name.
- Graph checks run only where gsn2x reaches them: C01/C02/C04/C08 only when every
  reference resolves (no C03, C09, C10, C12-C16); C04/C08 only with a root that is a
  Goal (or several roots); C08 only without cycles. C04 looks at what the roots reach
  (an unreachable cycle is C08, as in gsn2x) and reports each cycle once (one per
  strongly connected set), where gsn2x stops at the first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = ["Gsn2xFinding", "validate_gsn2x", "validate_gsn2x_files"]

Severity = Literal["error", "warning"]

_COUNTER = ("CounterGoal", "CounterSolution")
# The nodeType values, in the order their ID prefixes are tested: first match wins, so
# CSn1 is a CounterSolution (not a Context) and Sn1 a Solution (not a Strategy).
_ALL_TYPES = (
    *("CounterGoal", "Goal", "CounterSolution", "Solution"),
    *("Strategy", "Context", "Assumption", "Justification"),
)
_PREFIXES = tuple(zip(("CG", "G", "CSn", "Sn", "S", "C", "A", "J"), _ALL_TYPES, strict=True))
_ARGUED = ("Goal", "Strategy", "Solution", *_COUNTER)
_CONTEXT = ("Context", "Assumption", "Justification")
# Target types each source type may name, per relation (no entry: no such relation).
_ALLOWED: dict[str, dict[str, tuple[str, ...]]] = {
    "supportedBy": {"Goal": _ARGUED, "Strategy": _ARGUED, "CounterGoal": _COUNTER},
    "inContextOf": {"Goal": _CONTEXT, "Strategy": _CONTEXT},
}
_DEVELOPERS = ("Goal", "Strategy", "Solution")
_SUFFIXES = (".gsn.yaml", ".gsn.yml", ".yaml", ".yml")
_Edges = Mapping[str, Iterable[str]]
_Problem = tuple[str, dict[str, str]]

# Message templates; the code is the key's first three characters.
_TEXT = {
    "V01": "Element {id} is of unknown type: no nodeType and no known ID prefix (CG, G, CSn, ...).",
    "V01node": "Element {id} is {got}, expected a mapping of attributes ({{}} when empty).",
    "V01attr": "Element {id} has {key} {got}, expected {want}.",
    "V01id": "Element ID {got} in {file} is not a string, expected a string ID.",
    "V01doc": "File {file} holds {got}, expected a mapping of element IDs to elements.",
    "V01module": "The module block of {file} has {key} {got}, expected {want}.",
    "V02": "Element {id} has no supportedBy, expected supporting elements or undeveloped: true.",
    "V03": "Undeveloped element {id} has supportedBy {refs}, expected no supporting elements.",
    "V04": "Element {id} has {key} {ref}, a {got}, expected one of {want}.",
    "V04none": "Element {id} is a {got} and cannot have {key}, but lists {ref}.",
    "V05": "Element {id} lists {ref} twice in {key}, expected each ID once.",
    "V06": "Element {id} references itself in {key}.",
    "V07": "Element {id} develops {foreign} but is a {got}, expected a Goal, Strategy or Solution.",
    "V07missing": "Element {id}, to develop {foreign} of {target}, does not exist in {module}.",
    "V07shape": "module.extends has {got}, expected {{module: M, develops: {{ID: [IDS]}}}} items.",
    "V08": "Element {id} has nodeType {got}, but its ID prefix indicates {want}.",
    "V09": "Element {id} has ACP {acp} on {ref}, expected {id} or an element it is related to.",
    "V09shape": "Element {id} has acp {got}, expected a mapping of ACP names to IDs.",
    "V10": "Element {id} is marked defeated, but no element challenges it.",
    "V11": "Dialectic elements are used: {refs}.",
    "V12": "Element {id} is a {got} but challenges {ref}, expected a CounterGoal/CounterSolution.",
    "V13": "Element {id} marks its relation to {ref} as defeated, but has no relation to {ref}.",
    "C01": "There is no unreferenced element, expected exactly one top goal.",
    "C01many": "There is more than one unreferenced element: {refs}; expected one top goal.",
    "C02": "The top element {id} is a {got}, expected a Goal.",
    "C03": "Element {id} has unresolved {key} {ref}: no element has this ID.",
    "C04": "Cycle detected at element {id}: {refs}; supportedBy must not be circular.",
    "C06": "Module name {module} of {file} is already used by {other}.",
    "C07": "Element {id} of module {module} is already defined in module {other}.",
    "C08": "Element {id} is not reachable from the top element(s) {refs}.",
    "C09": "Module {target}, extended by module {module}, is not found.",
    "C10": "Element {id} {got}, but {module} develops it with {refs}.",
    "C11": "Element {id} has {key} {ref!r}, a comma-separated string; expected a list: [{ref}].",
    "C12": "Element {id} challenges relation {ref}, but {got}{verb} not exist.",
    "C13": "Element {id} challenges {ref}, which is or includes {id} itself.",
    "C14": "Element {id} challenges {ref!r}, but no element has this ID.",
    "C15": "Element {id} challenges relation {ref}, whose two ends are the same element.",
    "C16": "Element {id} challenges relation {ref}, but {a} does not support or contextualise {b}.",
    "L01": "File {file} cannot be loaded: {got}.",
    "L01cycle": "File {file} is included circularly through module.uses: {refs}.",
}
_WARNINGS = {"V02", "V05", "V08", "V11", "C01many", "C11"}


@dataclass(frozen=True)
class Gsn2xFinding:
    """One problem, as gsn2x would report it."""

    code: str  # "V01".."V13", "C01".."C16"; "L01" for a file that cannot be loaded
    severity: Severity
    module: str  # module name the finding is about
    element: str | None  # the element ID, when there is one
    message: str  # one sentence naming the bad value and what was expected

    def __str__(self) -> str:
        label = "Error" if self.severity == "error" else "Warning"
        return f"{label}: ({self.module}) ({self.code}): {self.message}"


class _Findings(list[Gsn2xFinding]):
    def add(self, template: str, module: str, element: str | None = None, /, **fields: Any) -> None:
        message = _TEXT[template].format(id=element, module=module, **fields)
        severity: Severity = "warning" if template in _WARNINGS else "error"
        self.append(Gsn2xFinding(template[:3], severity, module, element, message))


@dataclass
class _Node:
    id: str
    module: str
    type: str | None  # None: unknown (V01 reported)
    given_type: str | None  # a valid nodeType, when one is given
    supported_by: list[str]
    in_context_of: list[str]
    defeated_relation: list[str]
    challenges: str | None
    has_challenges: bool  # any `challenges` value, even a malformed one
    undeveloped: bool
    defeated: bool
    acp: dict[str, list[str]]


@dataclass
class _Module:
    key: str
    name: str
    info: Mapping[str, Any]
    nodes: list[_Node]


def _kind(value: Any) -> str:
    return "null" if value is None else f"{value!r} ({type(value).__name__})"


def _ids(value: Any) -> list[str] | None:
    """An ID or a list of IDs as a list (absent: []); None for any other shape."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and _ids(value) is not None


def _prefix_type(eid: str) -> str | None:
    return next((t for prefix, t in _PREFIXES if eid.startswith(prefix)), None)


def _module_name(key: str, info: Any) -> str:
    name = info.get("name") if isinstance(info, Mapping) else None
    if isinstance(name, str) and name:
        return name
    base = Path(key).name
    suffix = next((s for s in _SUFFIXES if base.endswith(s)), "")
    return base[: len(base) - len(suffix)]


def _parse_node(eid: str, mod: str, raw: Any, out: _Findings) -> _Node:
    if not isinstance(raw, Mapping):
        out.add("V01node", mod, eid, got=_kind(raw))
        raw = {}
    refs: list[list[str]] = []
    for key in ("supportedBy", "inContextOf", "defeatedRelation"):
        ids = _ids(raw.get(key))
        if ids is None:
            out.add("V01attr", mod, eid, key=key, got=_kind(raw[key]), want="an ID or a list")
        refs.append(ids or [])
    for key in ("undeveloped", "defeated"):
        if not isinstance(raw.get(key, False), bool):
            out.add("V01attr", mod, eid, key=key, got=_kind(raw[key]), want="true or false")
    for key in ("text", "url", "challenges", "nodeType"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            out.add("V01attr", mod, eid, key=key, got=_kind(raw[key]), want="a string")
    if raw.get("classes") is not None and not _is_str_list(raw["classes"]):
        got = _kind(raw["classes"])
        out.add("V01attr", mod, eid, key="classes", got=got, want="a list of strings")
    declared = raw.get("nodeType")
    given = declared if declared in _ALL_TYPES else None
    if isinstance(declared, str) and given is None:
        want = f"one of {', '.join(_ALL_TYPES)}"
        out.add("V01attr", mod, eid, key="nodeType", got=_kind(declared), want=want)
    node_type = given or (None if isinstance(declared, str) else _prefix_type(eid))
    if declared is None and node_type is None:
        out.add("V01", mod, eid)
    challenges, acp = raw.get("challenges"), _parse_acp(eid, mod, raw.get("acp"), out)
    text = challenges if isinstance(challenges, str) else None
    flags = (challenges is not None, raw.get("undeveloped") is True, raw.get("defeated") is True)
    supported_by, in_context_of, defeated_relation = refs
    relations = (supported_by, in_context_of, defeated_relation)  # typed, unlike *refs
    return _Node(eid, mod, node_type, given, *relations, text, *flags, acp)


def _parse_acp(eid: str, mod: str, raw: Any, out: _Findings) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        out.add("V09shape", mod, eid, got=_kind(raw))
        return {}
    acp: dict[str, list[str]] = {}
    for name, targets in raw.items():
        if not _ids(targets):
            out.add("V09shape", mod, eid, got=_kind({name: targets}))
        acp[str(name)] = _ids(targets) or []
    return acp


def _load_module(key: str, doc: Any, out: _Findings) -> _Module:
    info = doc.get("module") if isinstance(doc, Mapping) else None
    name = _module_name(key, info)
    if not isinstance(doc, Mapping):
        if doc is not None:  # an empty file is an empty module
            out.add("V01doc", name, file=key, got=_kind(doc))
        return _Module(key, name, {}, [])
    if "module" in doc and not isinstance(info, Mapping):
        out.add("V01module", name, file=key, key="value", got=_kind(info), want="a mapping")
    if isinstance(info, Mapping):
        if not isinstance(info.get("name"), str) or not info["name"]:
            got = _kind(info.get("name"))
            out.add("V01module", name, file=key, key="name", got=got, want="a non-empty string")
        for field in ("uses", "stylesheets"):
            if field in info and not _is_str_list(info[field]):
                got = _kind(info[field])
                out.add("V01module", name, file=key, key=field, got=got, want="a list of strings")
    nodes: list[_Node] = []
    for eid, raw in doc.items():
        if not isinstance(eid, str):
            out.add("V01id", name, str(eid), file=key, got=_kind(eid))
        elif eid != "module":
            nodes.append(_parse_node(eid, name, raw, out))
    return _Module(key, name, info if isinstance(info, Mapping) else {}, nodes)


def _check_node(
    n: _Node, nodes: Mapping[str, _Node], challenged: set[str], extended: bool, out: _Findings
) -> None:
    mod, eid = n.module, n.id
    prefix_type = _prefix_type(eid)
    if extended and n.given_type and prefix_type and prefix_type != n.given_type:
        out.add("V08", mod, eid, got=n.given_type, want=prefix_type)
    if n.supported_by and n.undeveloped:
        out.add("V03", mod, eid, refs=", ".join(n.supported_by))
    elif not n.supported_by and not n.undeveloped and n.type in ("Goal", "Strategy"):
        out.add("V02", mod, eid)
    for key, refs in (("supportedBy", n.supported_by), ("inContextOf", n.in_context_of)):
        allowed = _ALLOWED[key].get(n.type or "", ())
        seen: set[str] = set()
        for ref in refs:
            if ref == eid:
                out.add("V06", mod, eid, key=key)
            if ref in seen:
                out.add("V05", mod, eid, ref=ref, key=key)
            seen.add(ref)
            target = nodes.get(ref)
            if n.type is not None and not allowed:
                out.add("V04none", mod, eid, got=n.type, key=key, ref=ref)
            elif target is not None and target.type is not None and target.type not in allowed:
                want = ", ".join(allowed)
                out.add("V04", mod, eid, key=key, ref=ref, got=target.type, want=want)
    related = {eid} | {r for r in (*n.supported_by, *n.in_context_of) if r in nodes}
    for acp, targets in n.acp.items():
        for ref in targets:
            if ref not in related:
                out.add("V09", mod, eid, acp=acp, ref=ref)
    if n.defeated and eid not in challenged:
        out.add("V10", mod, eid)
    if n.challenges is not None and n.type is not None and n.type not in _COUNTER:
        out.add("V12", mod, eid, got=n.type, ref=n.challenges)
    for ref in n.defeated_relation:
        if ref not in n.supported_by and ref not in n.in_context_of and ref != n.challenges:
            out.add("V13", mod, eid, ref=ref)


def _extend(
    mods: list[_Module], nodes: Mapping[str, _Node], support: dict[str, list[str]], out: _Findings
) -> bool:
    """V07, C09, C10; develops foreign goals in `support`. False when C09/C10 fired."""
    ok, names, developed = True, {m.name for m in mods}, set[str]()
    for m in mods:
        extends = m.info.get("extends")
        if extends is not None and not isinstance(extends, list):
            out.add("V07shape", m.name, got=_kind(extends))
            continue
        local = {n.id: n for n in m.nodes}
        for entry in extends or []:
            target = entry.get("module") if isinstance(entry, Mapping) else None
            develops = entry.get("develops") if isinstance(entry, Mapping) else None
            if not isinstance(target, str) or not isinstance(develops, Mapping):
                out.add("V07shape", m.name, got=f"an entry {entry!r}")
                continue
            if target not in names:
                out.add("C09", m.name, target=target)
                ok = False
                continue
            for foreign, raw_locals in develops.items():
                locals_ = _ids(raw_locals)
                if not isinstance(foreign, str) or not locals_:
                    out.add("V07shape", m.name, got=f"develops {foreign!r}: {raw_locals!r}")
                    continue
                for lid in locals_:
                    ltype = local[lid].type if lid in local else _prefix_type(lid)
                    if ltype not in _DEVELOPERS:
                        got = ltype or "element of unknown type"
                        out.add("V07", m.name, lid, foreign=foreign, got=got)
                    elif lid not in local:
                        out.add("V07missing", m.name, lid, foreign=foreign, target=target)
                fnode = nodes.get(foreign)
                if fnode is None:
                    problem = "does not exist"
                elif fnode.module != target:
                    problem = f"is in module {fnode.module}, not in module {target}"
                elif not fnode.undeveloped or foreign in developed:
                    problem = "is not undeveloped"
                else:
                    support[foreign] = list(locals_)
                    developed.add(foreign)
                    continue
                out.add("C10", m.name, foreign, got=problem, refs=", ".join(locals_), target=target)
                ok = False
    return ok


def _challenge_problem(n: _Node, nodes: Mapping[str, _Node], related: _Edges) -> _Problem | None:
    """C12-C16 for one challenging element: (template key, fields), or None when fine."""
    what = n.challenges or ""
    if "->" not in what:
        if what == n.id:
            return "C13", {"ref": what}
        return ("C14", {"ref": what}) if what not in nodes else None
    a, b = (end.strip() for end in what.split("->", 1))
    ref = f"{a} -> {b}"
    missing = [end or "''" for end in dict.fromkeys((a, b)) if end not in nodes]
    if n.id in (a, b):
        return "C13", {"ref": f"relation {ref}"}
    if missing:
        verb = " do" if missing[1:] else " does"
        return "C12", {"ref": ref, "got": " and ".join(missing), "verb": verb}
    if a == b:
        return "C15", {"ref": ref}
    return ("C16", {"ref": ref, "a": a, "b": b}) if b not in related.get(a, set()) else None


def _check_references(
    all_nodes: list[_Node], nodes: Mapping[str, _Node], related: _Edges, out: _Findings
) -> bool:
    """C03, C11, C12-C16. False when any reference does not resolve."""
    ok = True
    for n in all_nodes:
        for key, refs in (("supportedBy", n.supported_by), ("inContextOf", n.in_context_of)):
            for ref in (r for r in refs if r not in nodes):
                ok = False
                out.add("C03", n.module, n.id, key=key, ref=ref)
                if "," in ref:
                    out.add("C11", n.module, n.id, key=key, ref=ref)
        problem = _challenge_problem(n, nodes, related) if n.challenges is not None else None
        if problem:
            ok = False
            out.add(problem[0], n.module, n.id, **problem[1])
    return ok


def _cycles(ids: set[str], support: _Edges) -> list[list[str]]:
    """One cycle path per strongly connected set of `ids` (self-loops are V06, not here)."""
    edges = {i: [t for t in support.get(i, []) if t in ids and t != i] for i in ids}

    def descendants(start: str) -> set[str]:
        seen: set[str] = set()
        stack = list(edges[start])
        while stack:
            cur = stack.pop()
            if cur not in seen:
                seen.add(cur)
                stack += edges[cur]
        return seen

    desc = {i: descendants(i) for i in ids}
    found: list[list[str]] = []
    done: set[str] = set()
    for start in sorted(i for i in ids if i in desc[i]):
        if start in done:
            continue
        group = {j for j in desc[start] if start in desc[j]}
        done |= group
        prev: dict[str, str] = {}
        queue = [start]
        for cur in queue:  # breadth first, inside the group, back to start
            if start in edges[cur]:
                path = [cur]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                found.append([*reversed(path), start])
                break
            for nxt in edges[cur]:
                if nxt in group and nxt not in prev and nxt != start:
                    prev[nxt] = cur
                    queue.append(nxt)
    return found


def _check_graph(
    nodes: Mapping[str, _Node], support: _Edges, context: _Edges, out: _Findings
) -> None:
    """C01, C02, C04, C08 over all modules, after extension."""
    referenced = {r for refs in (*support.values(), *context.values()) for r in refs}
    roots = sorted(i for i, n in nodes.items() if i not in referenced and not n.has_challenges)
    if not roots:
        if nodes:
            out.add("C01", min(n.module for n in nodes.values()))
        return
    first = nodes[roots[0]]
    if len(roots) > 1:
        out.add("C01many", first.module, refs=", ".join(roots))
    elif first.type != "Goal":
        out.add("C02", first.module, first.id, got=first.type or "element of unknown type")
        return
    reach: set[str] = set()
    stack = list(roots)
    while stack:  # supportedBy and inContextOf, then what challenges something reachable
        while stack:
            cur = stack.pop()
            if cur not in reach and cur in nodes:
                reach.add(cur)
                stack += [*support.get(cur, ()), *context.get(cur, ())]
        stack = [
            i
            for i, n in nodes.items()
            if i not in reach and n.challenges and n.challenges.split("->")[0].strip() in reach
        ]
    cycles = _cycles(reach, support)
    for cycle in cycles:
        out.add("C04", nodes[cycle[0]].module, cycle[0], refs=" -> ".join(cycle))
    for eid in [] if cycles else sorted(set(nodes) - reach):
        out.add("C08", nodes[eid].module, eid, refs=", ".join(roots))


def _order(f: Gsn2xFinding) -> tuple[str, str, str, str]:
    return (f.module, f.code, f.element or "", f.message)


def validate_gsn2x(
    modules: Mapping[str, Mapping[str, Any]], *, extended: bool = True, warn_dialectic: bool = False
) -> list[Gsn2xFinding]:
    """Check parsed gsn2x modules (file name -> ``yaml.safe_load`` result) as gsn2x would.

    Runs V01-V13 (V08 only when `extended`, V11 only when `warn_dialectic`) and C01-C04,
    C06-C16; returns the findings sorted by (module, code, element). Never raises on
    malformed input: every shape problem is a finding.
    """
    out = _Findings()
    mods = [_load_module(str(key), doc, out) for key, doc in modules.items()]
    files: dict[str, str] = {}
    nodes: dict[str, _Node] = {}
    for m in mods:
        if m.name in files:
            out.add("C06", m.name, file=m.key, other=files[m.name])
        files.setdefault(m.name, m.key)
        for n in m.nodes:
            if n.id in nodes:
                out.add("C07", m.name, n.id, other=nodes[n.id].module)
            nodes.setdefault(n.id, n)
    all_nodes = [n for m in mods for n in m.nodes]
    challenged = {n.challenges for n in all_nodes if n.challenges and "->" not in n.challenges}
    for n in all_nodes:
        _check_node(n, nodes, challenged, extended, out)
    for m in mods if warn_dialectic else []:
        counter = [n.id for n in m.nodes if n.type in _COUNTER]
        if counter:
            out.add("V11", m.name, refs=", ".join(counter))
    support = {i: list(n.supported_by) for i, n in nodes.items()}
    context = {i: list(n.in_context_of) for i, n in nodes.items()}
    extension_ok = _extend(mods, nodes, support, out)
    related = {i: {*support[i], *context[i]} for i in nodes}
    if _check_references(all_nodes, nodes, related, out) and extension_ok:
        _check_graph(nodes, support, context, out)
    return sorted(out, key=_order)


def _load_file(
    path: Path, docs: dict[str, Any], stack: tuple[Path, ...], includer: str | None, out: _Findings
) -> None:
    resolved = path.resolve()
    key = str(resolved)
    module = includer or _module_name(key, None)
    if resolved in stack:
        chain = " -> ".join(p.name for p in (*stack, resolved))
        out.add("L01cycle", module, file=path, refs=chain)
        return
    if key in docs:
        return
    try:
        doc = yaml.safe_load(resolved.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        out.add("L01", module, file=path, got=f"{type(exc).__name__}: {' '.join(str(exc).split())}")
        return
    docs[key] = doc
    info = doc.get("module") if isinstance(doc, Mapping) else None
    uses = info.get("uses") if isinstance(info, Mapping) else None
    name = _module_name(key, info)
    for use in uses if isinstance(uses, list) else []:
        if isinstance(use, str):
            _load_file(resolved.parent / use, docs, (*stack, resolved), name, out)


def validate_gsn2x_files(
    paths: Iterable[Path], *, extended: bool = True, warn_dialectic: bool = False
) -> list[Gsn2xFinding]:
    """Load gsn2x files and validate them together, as ``validate_gsn2x`` does.

    Follows ``module.uses`` relative to each file, recursively; a file that cannot be
    loaded, or is included circularly, is an L01 finding against the including module.
    """
    docs: dict[str, Any] = {}
    out = _Findings()
    for path in paths:
        _load_file(Path(path), docs, (), None, out)
    found = validate_gsn2x(docs, extended=extended, warn_dialectic=warn_dialectic)
    return sorted([*found, *out], key=_order)
