"""The IDs of a project are read once from its documents and again whenever the
documents in ``artefacts`` change (one added, removed or replaced)."""

from __future__ import annotations

from pathlib import Path

from amlas import check_project
from amlas.project._project import _walk
from factory import documents, write_project


def _fresh(project: object) -> list[tuple[str, str, str]]:
    """The definitions walked afresh, as (id, kind, letter)."""
    out = []
    for letter, document in project.artefacts.items():  # type: ignore[attr-defined]
        for _, item in _walk(document, ()):
            kind = getattr(type(item), "id_kind", None)
            if kind and isinstance(getattr(item, "id", None), str):
                out.append((item.id, kind, letter))
    return out


def test_the_index_follows_the_documents(tmp_path: Path) -> None:
    project = check_project(write_project(tmp_path / "p", documents())).project
    listed = [(d.id, d.kind, d.letter) for d in project.definitions()]
    assert listed == _fresh(project)
    assert "H" in {letter for _, _, letter in listed}
    index = project.index()
    index.clear()  # a caller's copy: the next one is whole
    assert project.index()
    # a document removed, then put back as another object equal to it
    h = project.artefacts.pop("H")
    assert not [d for d in project.definitions() if d.letter == "H"]
    assert [(d.id, d.kind, d.letter) for d in project.definitions()] == _fresh(project)
    project.artefacts["H"] = h.model_copy(
        update={"requirements": h.requirements[:1]}  # type: ignore[attr-defined]
    )
    ids = {d.id for d in project.definitions() if d.letter == "H"}
    assert h.requirements[0].id in ids  # type: ignore[attr-defined]
    assert h.requirements[1].id not in ids  # type: ignore[attr-defined]
    assert [(d.id, d.kind, d.letter) for d in project.definitions()] == _fresh(project)
