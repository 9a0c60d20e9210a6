"""``amlas plugins``: every registered plug-in, per entry-point group, with its package.

Thin: the listing is :func:`amlas.plugins.all_entries`; each entry is loaded so that one
that fails to import, or a name two packages claim, is shown with its problem. Exit 0,
or 1 when any entry has a problem.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from amlas.cli._output import echo
from amlas.plugins import GROUPS, PluginError, registry

__all__ = ["plugins", "plugins_listing"]


def plugins_listing(groups: list[str]) -> list[dict[str, Any]]:
    """One row per entry: group, kind, name, value, distribution, version, status, problem."""
    rows = []
    for group in groups:
        found = registry(group)
        problems = {error.name: error for error in found.problems()}
        for info in found.entries():
            problem: PluginError | None = problems.get(info.name)
            rows.append(
                {
                    "group": group,
                    "kind": found.kind,
                    "name": info.name,
                    "value": info.value,
                    "distribution": info.distribution,
                    "version": info.version,
                    "status": "ok" if problem is None else problem.code,
                    "problem": None if problem is None else str(problem),
                }
            )
    return rows


@click.command("plugins")
@click.option(
    "--group",
    "groups",
    multiple=True,
    type=click.Choice(list(GROUPS)),
    help="Only this entry-point group (repeatable); default: all of them.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
def plugins(groups: tuple[str, ...], fmt: str) -> None:
    """List the installed plug-ins (stores, model formats, dataset readers, ...) per
    entry-point group, with the package and version that provide each."""
    chosen = list(groups) or list(GROUPS)
    rows = plugins_listing(chosen)
    if fmt == "json":
        click.echo(json.dumps({"plugins": rows}, indent=2, sort_keys=True))
    else:
        for group in chosen:
            members = [row for row in rows if row["group"] == group]
            echo(f"{group} ({GROUPS[group]}): {len(members) or 'none registered'}")
            for row in members:
                where = row["distribution"] + (f" {row['version']}" if row["version"] else "")
                echo(f"  {row['name']:<18} {where:<24} {row['value']}")
                if row["problem"]:
                    echo(f"    {row['status']} {row['problem']}")
    if any(row["problem"] for row in rows):
        sys.exit(1)  # EXIT_ERRORS: an installed package needs fixing
