"""Where the commands' outputs may go: what they never replace, and the layout cache."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import NoReturn

import click

from amlas.cli._common import EXIT_USAGE, print_diagnostic_lines
from amlas.errors import AmlasError
from amlas.evidence import open_store
from amlas.fileio import OutputRefused
from amlas.project import is_system_dir, load_project, load_system
from amlas.sealing import VerifierKey

__all__ = ["LAYOUT_CACHE", "layout_cache", "project_paths", "refused"]

LAYOUT_CACHE = ".amlas"  # the project's cache folder: the diagrams' layouts (amlas.render._svg)


def layout_cache(directory: Path, key: VerifierKey | None) -> Path | None:
    """Where ``case`` and ``report`` share the diagrams' layouts: the project's ``.amlas/``;
    none with the verifier key (nothing built with it is written into the project)."""
    return None if key is not None else directory / LAYOUT_CACHE


_PATH_FIELDS = frozenset({"location", "file", "access_log", "path"})


def project_paths(directory: Path, store: str | None) -> list[Path]:
    """What an output must never replace, hold or lie inside: amlas.yaml, .amlas/, every
    artefact file, every file an artefact names (data, sealed copies, access logs, model,
    monitor, field log) and a file evidence store; of a system, every component's too."""
    if is_system_dir(directory):
        system = load_system(directory, check=False)
        inside = [p for c in system.paths.values() for p in project_paths(directory / c, None)]
        return sorted({*_singleproject_paths(directory, store), *inside})
    return _singleproject_paths(directory, store)


def _singleproject_paths(directory: Path, store: str | None) -> list[Path]:
    loaded = load_project(directory).project
    paths = {directory / "amlas.yaml", directory / ".amlas"}
    paths.update(directory / relative for relative in loaded.files.values())

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in _PATH_FIELDS and isinstance(item, str) and item.strip(" ./"):
                    paths.add(directory / item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for document in loaded.artefacts.values():
        walk(document.model_dump(mode="json"))
    uri = store or loaded.manifest.evidence
    with contextlib.suppress(AmlasError), open_store(uri, root=directory) as opened:
        where = getattr(opened, "path", None)  # a folder of files (fs://), else None
        if isinstance(where, Path):
            paths.add(where)
    return sorted(paths)


def refused(error: OutputRefused) -> NoReturn:
    """A refused output: one located, coded line, exit 2, nothing written."""
    print_diagnostic_lines(error.diagnostics, stderr=True)
    click.echo("amlas: nothing was written", err=True)
    sys.exit(EXIT_USAGE)
