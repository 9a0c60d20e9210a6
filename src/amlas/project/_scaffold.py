"""``init``: scaffold a new project from the templates, or copy a bundled example.

The project is assembled in a temporary sibling directory and renamed into place, so an
interrupted ``init`` never leaves a half-written project.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from amlas.errors import UsageError
from amlas.fileio import atomic_write_text
from amlas.project._schema import write_schemas

__all__ = ["EXAMPLES", "init_project"]

EXAMPLES = ("breast-cancer-triage",)
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".amlas", "out", "schema")


def _package_dir(name: str) -> Path:
    return Path(str(resources.files("amlas") / name))


def init_project(target: str | Path, *, example: str | None = None) -> Path:
    """Create a project at ``target`` (which must not exist or be empty).

    With ``example``, copy that bundled example; otherwise write commented templates of
    every artefact. Either way, the JSON Schemas go to ``schema/`` for editor completion.
    """
    target = Path(target)
    try:
        return _init(target, example)
    except OSError as exc:
        raise UsageError(
            f"cannot create a project at {str(target)!r}: {exc.strerror or exc}"
        ) from exc


def _init(target: Path, example: str | None) -> Path:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{str(target)!r} already exists and is not empty")
    if example is not None and example not in EXAMPLES:
        raise UsageError(f"unknown example {example!r}; bundled: {', '.join(EXAMPLES)}")
    name = re.sub(r"[^a-z0-9-]+", "-", target.resolve().name.lower()).strip("-") or "project"
    if not name[0].isalnum():
        name = "project-" + name
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.init-", dir=target.parent))
    try:
        build = staging / "project"
        if example is not None:
            shutil.copytree(_package_dir("_examples") / example, build, ignore=_IGNORE)
        else:
            shutil.copytree(_package_dir("templates") / "project", build)
            manifest = build / "amlas.yaml"
            atomic_write_text(manifest, manifest.read_text("utf-8").replace("{{name}}", name))
        write_schemas(build / "schema")
        ignore = build / ".gitignore"
        if not ignore.exists():  # caches and local evidence stay out of version control
            atomic_write_text(ignore, ".amlas/\n")
        if target.exists():
            target.rmdir()
        build.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
