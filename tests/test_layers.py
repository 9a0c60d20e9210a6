"""Imports point one way, down the AMLAS pipeline (shared/STYLE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "amlas"

# Lower number = lower layer. A module may import its own layer and the ones below.
LAYERS = {
    "errors": 0,
    "_version": 0,
    "_gc": 0,  # the collector paused while a case is built or written (amlas._gc)
    "diagnostics": 0,
    "hashing": 0,
    "fileio": 0,
    "plugins": 0,  # entry-point registries (amlas.plugins)
    "adapters": 0,  # data and model adapters
    "sealing": 0,  # sealed containers and the access log
    "project": 1,
    "checks": 2,
    "monitor": 2,  # the runtime monitor shipped with the model (ODD, OOD, confidence)
    "evidence": 3,  # records, stores, input hashes, custody
    "verify": 4,  # the run: plan, execute, impact, field-log ingest
    "case": 5,
    "render": 6,
    "bundle": 7,  # the assessor's bundle: write (renders the case) and verify offline
    "_api": 7,  # the Python API over objects (amlas.load, run, build_case, render_report)
    "cli": 7,
    "server": 7,
    "testing": 8,  # conformance suites and fakes for plug-in authors (amlas.testing)
    "__main__": 7,
}
FACADE = 7  # amlas/__init__.py: the Python API, on top of the house (its heavy parts lazily)


def _layer(module: str) -> int:
    parts = module.split(".")
    if parts == ["amlas"]:
        return FACADE
    head = parts[1].removesuffix(".py")
    assert head in LAYERS, f"amlas.{head} has no layer; add it to LAYERS in {__file__}"
    return LAYERS[head]


def _module_name(path: Path) -> str:
    relative = path.relative_to(SRC.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name == "amlas" or name.startswith("amlas.")]


def violations(modules: dict[str, str]) -> list[str]:
    """``module name -> source`` to the imports that point up the pipeline."""
    found = []
    for importer, source in sorted(modules.items()):
        own = _layer(importer)
        for line, imported in _imports(source):
            if _layer(imported) > own:
                found.append(f"{importer}:{line}: imports {imported}")
    return found


def _package() -> dict[str, str]:
    return {_module_name(p): p.read_text("utf-8") for p in sorted(SRC.rglob("*.py"))}


def test_imports_point_down_the_pipeline() -> None:
    found = violations(_package())
    assert not found, "imports must point down the pipeline:\n" + "\n".join(found)


def test_shared_leaves_import_only_leaves() -> None:
    for name, source in _package().items():
        if _layer(name) == 0:
            assert all(_layer(imported) == 0 for _, imported in _imports(source)), name


def test_an_upward_import_is_caught() -> None:
    modules = {
        "amlas.project._loader": "from amlas.render import trace_table\n",
        "amlas.diagnostics._codes": "import amlas\n",
        "amlas.cli._main": "from amlas.project import check_project\nimport amlas\n",
    }
    assert violations(modules) == [
        "amlas.diagnostics._codes:1: imports amlas",
        "amlas.project._loader:1: imports amlas.render",
    ]


# -- no circles, no reaching into another package's private modules (issue 13) ----------------


def _graph(modules: dict[str, str]) -> dict[str, set[str]]:
    """``module -> the amlas modules it imports`` (function-level imports included, since
    those are how circles hide; ``from X import name`` counts X and X.name when a module)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for importer, source in modules.items():
        for node in ast.walk(ast.parse(source)):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            graph[importer] |= {t for t in targets if t in modules and t != importer}
    return graph


def cycles(modules: dict[str, str]) -> list[list[str]]:
    """The import circles (strongly connected components of more than one module), less a
    package and one of its own modules importing each other (``__init__`` re-exports)."""
    graph = _graph(modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    for start in sorted(graph):  # Tarjan's algorithm without recursion
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        while work:
            node, edges = work[-1]
            nxt = next(edges, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                elif nxt in stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    component.append(member)
                    if member == node:
                        break
                found.append(sorted(component))
    return [c for c in found if len(c) > 2 or (len(c) == 2 and not c[1].startswith(c[0] + "."))]


def private_imports(modules: dict[str, str]) -> list[str]:
    """Imports of another top-level package's private ``_module`` (``amlas.case._impact``
    from ``amlas.cli``): packages talk through what their ``__init__`` exports."""
    found = []
    for importer, imported in sorted(_graph(modules).items()):
        for target in sorted(imported):
            parts, own = target.split("."), importer.split(".")
            crosses = len(parts) > 2 and len(own) > 1 and parts[1] != own[1]
            if crosses and any(p.startswith("_") for p in parts[2:]):
                found.append(f"{importer} imports private {target}")
    return found


def test_no_import_cycles() -> None:
    found = cycles(_package())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_private_imports_across_packages() -> None:
    found = private_imports(_package())
    assert not found, "\n".join(found)


def test_a_hidden_cycle_and_a_private_import_are_caught() -> None:
    modules = {
        "amlas.verify": "",
        "amlas.verify._a": "def f():\n    from amlas.verify._b import g\n",
        "amlas.verify._b": "from amlas.verify._a import f\n",
        "amlas.verify._c": "from amlas.verify import plan\n",
        "amlas.case": "",
        "amlas.case._x": "from amlas.verify._c import plan\n",
    }
    assert cycles(modules) == [["amlas.verify._a", "amlas.verify._b"]]
    assert private_imports(modules) == ["amlas.case._x imports private amlas.verify._c"]
