"""The people who sign the case (``people:`` of ``amlas.yaml``) and the approvals the gate
requires (``case.approvals``): each person and key declared once, the verifier's
evidence key never a person's, every required role held by someone (A006, A007, A008).
Whether a sign-off holds is the case's to judge (:mod:`amlas.case._signoff`)."""

from __future__ import annotations

from amlas.diagnostics import Diagnostics, Location, did_you_mean
from amlas.project._manifest import MANIFEST_FILE
from amlas.project._project import Project
from amlas.project.rules._registry import rule


def _at(project: Project, path: tuple[str | int, ...]) -> Location:
    source = project.manifest_source
    return source.locate(path) if source is not None else Location(MANIFEST_FILE)


@rule
def people_are_declared_once(project: Project, diagnostics: Diagnostics) -> None:
    manifest = project.manifest
    ids: dict[str, int] = {}
    keys: dict[str, str] = {}
    for i, person in enumerate(manifest.people):
        if person.id in ids:
            diagnostics.add(
                "A007",
                f"people[{i}] repeats the ID {person.id!r} of people[{ids[person.id]}]",
                _at(project, ("people", i, "id")),
                hint="each person is declared once, with all their roles",
            )
        ids.setdefault(person.id, i)
        if person.key is None:
            diagnostics.add(
                "A008",
                f"{person.id} ({person.name}) has no key: they cannot sign the case",
                _at(project, ("people", i)),
                hint=f"'amlas keygen --signing KEYFILE --person {person.id} --project DIR' "
                "makes one outside the project and declares its public half here",
            )
            continue
        if person.key == manifest.verifier_key:
            diagnostics.add(
                "A007",
                f"{person.id}'s key is the verifier_key: the verifier role's evidence-signing "
                "key signs verification records and may not sign approvals",
                _at(project, ("people", i, "key")),
                hint="give the person a key of their own ('amlas keygen --signing')",
            )
        if person.key in keys:
            diagnostics.add(
                "A007",
                f"{person.id} declares the key of {keys[person.key]}: a key identifies one person",
                _at(project, ("people", i, "key")),
            )
        keys.setdefault(person.key, person.id)


@rule
def required_roles_are_held(project: Project, diagnostics: Diagnostics) -> None:
    manifest = project.manifest
    held = sorted({role for person in manifest.people for role in person.roles})
    for i, approval in enumerate(manifest.case.approvals):
        for j, role in enumerate(approval.require):
            holders = [p for p in manifest.people if role in p.roles]
            if not holders:
                diagnostics.add(
                    "A006",
                    f"case.approvals[{i}] requires a {role!r}, a role no declared person "
                    "holds: the gate can never open",
                    _at(project, ("case", "approvals", i, "require", j)),
                    hint=did_you_mean(role, held)
                    or "declare who holds it under 'people:' (with their roles)",
                )
        if len(set(approval.require)) != len(approval.require):
            diagnostics.add(
                "A006",
                f"case.approvals[{i}] names a role twice ({', '.join(approval.require)})",
                _at(project, ("case", "approvals", i, "require")),
            )
