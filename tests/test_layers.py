"""Imports point one way, down the AMLAS pipeline (shared/STYLE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "amlas"

# Lower number = lower layer. A module may import its own layer and the ones below.
LAYERS = {
    "errors": 0,
    "diagnostics": 0,
    "hashing": 0,
    "fileio": 0,
    "plugins": 0,  # entry-point registries (amlas.plugins)
    "adapters": 0,  # data and model adapters
    "sealing": 0,  # sealed containers and the access log
    "project": 1,
    "checks": 2,
    "monitor": 2,  # the runtime monitor shipped with the model (ODD, OOD, confidence)
    "evidence": 3,
    "case": 4,
    "render": 5,
    "cli": 6,
    "server": 6,
    "testing": 7,  # conformance suites and fakes for plug-in authors (amlas.testing)
    "__main__": 6,
}
FACADE = 1  # amlas/__init__.py re-exports the layers up to the project model


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
