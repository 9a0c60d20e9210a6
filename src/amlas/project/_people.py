"""Write a person's public key into ``amlas.yaml`` (``amlas keygen --signing --person``).

The file is edited as text so that its comments and layout stay: one line ``key: ...``
is added to the person's entry, with the indentation of the entry's ``name:``. The edit is
read back and must declare exactly that key for that person; it is written atomically.
"""

from __future__ import annotations

from pathlib import Path

from amlas.errors import ProblemError
from amlas.fileio import atomic_write_text
from amlas.project._manifest import MANIFEST_FILE

__all__ = ["declare_person_key"]


def declare_person_key(root: Path, person_id: str, public_key: str | None) -> bool:
    """Declare ``public_key`` as the key of person ``person_id`` in ``root/amlas.yaml``;
    returns whether the file changed (False: already declared with this key). With
    ``public_key`` None, only check that a key can be declared for them (nothing written).

    Raises :class:`~amlas.errors.ProblemError` (R110): the project does not load, declares
    no such person, declares another key for them, or writes the entry in a form the
    line cannot be added to (a flow mapping)."""
    from amlas.project._loader import load_project

    manifest_path = root / MANIFEST_FILE
    project = load_project(root).project
    where = str(manifest_path)
    people = project.manifest.people
    index = next((i for i, p in enumerate(people) if p.id == person_id), None)
    if index is None:
        raise ProblemError(
            f"{MANIFEST_FILE} declares no person {person_id!r} under 'people:'",
            code="R110",
            path=where,
            value=person_id,
            expected=" or ".join(p.id for p in people) or "a person declared under 'people:'",
        )
    person = people[index]
    if person.key is not None and person.key != public_key:
        raise ProblemError(
            f"{person_id} already declares the key {person.key}: replacing a person's key "
            "is a change to review, made by hand (every sign-off made with the old key "
            "stops counting)",
            code="R110",
            path=where,
        )
    if person.key is not None:
        return False
    source = project.manifest_source
    assert source is not None
    name_at = source.locate(("people", index, "name"))
    key_at = source.locate(("people", index, "name"), key=True)
    text = manifest_path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    line = lines[key_at.line - 1] if 0 < key_at.line <= len(lines) else ""
    indent = key_at.col - 1
    if name_at.line != key_at.line or "{" in line[:indent] or not line[indent:].startswith("name"):
        raise ProblemError(
            f"{person_id}'s entry is not written as a block mapping with 'name:' on a line "
            "of its own: add 'key: ed25519:...' to it by hand",
            code="R110",
            path=where,
            line=key_at.line,
        )
    if public_key is None:
        return False
    # after the name's value: the following lines indented deeper continue it
    end = key_at.line
    while end < len(lines) and lines[end].strip():
        if len(lines[end]) - len(lines[end].lstrip(" ")) <= indent:
            break
        end += 1
    lines.insert(end, " " * indent + f"key: {public_key}\n")
    atomic_write_text(manifest_path, "".join(lines))
    check = load_project(root).project.manifest.person(person_id)
    if check is None or check.key != public_key:  # pragma: no cover - the edit is checked
        atomic_write_text(manifest_path, text)
        raise ProblemError(
            f"could not add the key to {person_id}'s entry; add 'key: {public_key}' by hand",
            code="R110",
            path=where,
        )
    return True
