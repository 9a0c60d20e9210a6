"""Identifier rules: IDs are unique across the project and every reference resolves to an
item of the right kind (X001-X003)."""

from __future__ import annotations

from collections import defaultdict

from amlas.diagnostics import Diagnostics, did_you_mean
from amlas.project._project import Definition, Project
from amlas.project.artefacts import ID_KINDS
from amlas.project.rules._registry import rule


def kind_name(kind: str) -> str:
    """The kind with its article, e.g. 'an ML safety requirement [H]'."""
    return ID_KINDS[kind].named()


@rule
def unique_ids(project: Project, diagnostics: Diagnostics) -> None:
    seen: dict[str, list[Definition]] = defaultdict(list)
    for definition in project.definitions():
        seen[definition.id].append(definition)
    for item_id, definitions in seen.items():
        first = definitions[0]
        first_at = project.locate(first.letter, first.path).format()
        for duplicate in definitions[1:]:
            diagnostics.add(
                "X001",
                f"ID {item_id!r} ({kind_name(duplicate.kind)}) is already defined as "
                f"{kind_name(first.kind)} at {first_at}",
                project.locate(duplicate.letter, duplicate.path),
            )


@rule
def references_resolve(project: Project, diagnostics: Diagnostics) -> None:
    index = project.index()
    for ref in project.references():
        at = project.locate(ref.letter, ref.path, key=ref.on_key)
        wanted = " or ".join(kind_name(k) for k in ref.kinds)
        target = index.get(ref.id)
        # A reference into an artefact that failed to load cannot be resolved, and the
        # load failure has been reported already.
        if target is None and any(ID_KINDS[k].letter not in project.artefacts for k in ref.kinds):
            continue
        if target is None:
            same_kind = [d.id for d in index.values() if d.kind in ref.kinds]
            diagnostics.add(
                "X002",
                f"unknown ID {ref.id!r}; expected {wanted}",
                at,
                hint=did_you_mean(ref.id, same_kind)
                or (f"known: {', '.join(sorted(same_kind)[:8])}" if same_kind else None),
            )
        elif target.kind not in ref.kinds:
            diagnostics.add(
                "X003",
                f"{ref.id!r} is {kind_name(target.kind)}; expected {wanted}",
                at,
            )
