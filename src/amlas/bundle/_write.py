"""Write an assessor's bundle (``amlas bundle DIR -o FILE --key-file K``).

Layout of the zip archive::

    AMLAS-BUNDLE            the mark "amlas-bundle/1" (first, stored: how a bundle is known)
    project/                (a system: its own files, each ML component in its folder)
                            amlas.yaml, every artefact file, the pattern library when it is
                            the project's own, the review records' documents, the access
                            logs and seal statements of sealed data, signoffs/, and
                            evidence/ (the current records, run by run, as an fs:// store)
    stated-inputs.json      the hashes of the data, model and code files the bundle does
                            not hold, as they are now (FILE_INPUTS kinds), per project
                            folder ("" for the project itself, a system's components by
                            their paths)
    case/                   the safety case as `amlas case` writes it (case.json, case.md,
                            case.junit.xml, gsn/, svg/)
    report.html             the report, with the approvals
    MANIFEST.json           every file above: SHA-256 and size; the case digest; who
                            bundled it, when, with which amlas
    MANIFEST.sig            the bundler's Ed25519 signature of MANIFEST.json's bytes

Never in it: the sealed verification data [P] (its access log and seal statement only),
any key, any file the project does not name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amlas._version import __version__
from amlas.case import Approvals, SystemCase
from amlas.errors import ProblemError
from amlas.evidence import FILE_INPUTS, ProjectInputs, copy_current, open_store
from amlas.fileio import atomic_stream
from amlas.project import MANIFEST_FILE, Project
from amlas.project.artefacts import ReviewRecords
from amlas.render import render_case_files, render_report
from amlas.sealing import SigningKey, public_key_id
from amlas.verify import plan

__all__ = [
    "BUNDLE_MARK",
    "BUNDLE_SCHEMA",
    "MANIFEST_NAME",
    "MARK_NAME",
    "SIGNATURE_NAME",
    "STATED_NAME",
    "Written",
    "bundle_files",
    "bundled_projects",
    "stated_inputs",
    "write_bundle",
]

BUNDLE_SCHEMA = "amlas.bundle/1"
SIGNATURE_SCHEMA = "amlas.bundle-signature/1"
MARK_NAME = "AMLAS-BUNDLE"
BUNDLE_MARK = b"amlas-bundle/1\n"
"""The first entry's content: in the first bytes of every bundle (what marks it as one)."""
MANIFEST_NAME = "MANIFEST.json"
SIGNATURE_NAME = "MANIFEST.sig"
STATED_NAME = "stated-inputs.json"
PROJECT_DIR = "project"
EVIDENCE_DIR = "evidence"
"""Where the bundled records are, in the bundled project (an ``fs://`` store)."""


@dataclass(frozen=True)
class Written:
    """What :func:`write_bundle` wrote."""

    path: Path
    files: int
    """Files the manifest lists (the manifest and its signature besides)."""
    size: int
    case_digest: str
    records: int
    stated: int
    signer: str


def bundle_files(project: Project) -> list[str]:
    """The project-relative files a bundle holds of ``project`` (sorted): amlas.yaml,
    every artefact file, the project's own pattern library, the documents its review
    records examined, the access logs and seal statements of its sealed datasets, its
    sign-offs. Never a data file, a model, or a key."""
    root = project.root
    names = {MANIFEST_FILE}
    # a component's [A] [B] [C] are its system's files (``../..``): the system bundles them
    names.update(
        rel
        for rel in project.files.values()
        if (root / rel).is_file() and not os.path.normpath(rel).startswith("..")
    )
    library = project.manifest.case.library
    if (root / library).is_dir():
        names.update(
            p.relative_to(root).as_posix() for p in (root / library).rglob("*") if p.is_file()
        )
    reviews = project.get("RV", ReviewRecords)
    for review in reviews.reviews if reviews is not None else []:
        names.update(d.file for d in review.documents if (root / d.file).is_file())
    for document in project.datasets().values():
        sealed = document.sealed
        if sealed is None:
            continue
        for rel in (sealed.access_log, f"{sealed.file}.sig"):
            if (root / rel).is_file():
                names.add(rel)
    folder = root / "signoffs"
    if folder.is_dir():
        names.update(p.relative_to(root).as_posix() for p in folder.glob("*.json") if p.is_file())
    return sorted(names)


def stated_inputs(project: Project) -> dict[str, str | None]:
    """The hashes, as they are now, of every file input (:data:`FILE_INPUTS` kinds) that
    the case of ``project`` may compare: those its current records cite, those the plan
    lists for every check, each dataset and the model (what review pins rest on)."""
    names: set[str] = {f"dataset:{letter}" for letter in project.datasets()} | {"model"}
    with open_store(project.manifest.evidence, root=project.root) as store:
        for _key, digest in store.list():
            names.update(store.get(digest).inputs)
    for check in plan(project, role="verifier", stages=(3, 4, 5, 6)).checks:
        names.update(check.inputs)
    inputs = ProjectInputs(project)
    return {
        name: inputs.current(name)
        for name in sorted(names)
        if name.partition(":")[0] in FILE_INPUTS
    }


def _signer(project: Project, key: SigningKey) -> dict[str, Any]:
    manifest = project.manifest
    if key.kind == "verifier" or key.public_key == manifest.verifier_key:
        raise ProblemError(
            f"the key {public_key_id(key.public_key)} is the verifier role's evidence-signing "
            "key: it signs verification records, never a bundle (a key used outside its role)",
            code="A003",
            path=str(project.root / MANIFEST_FILE),
        )
    person = manifest.person_with_key(key.public_key)
    if person is None:
        raise ProblemError(
            f"the key {key.public_key} is no declared person's: whoever bundles the case is "
            f"declared under 'people:' in {MANIFEST_FILE}, so that the assessor can tell "
            "who vouches for the bundle",
            code="A004",
            path=str(project.root / MANIFEST_FILE),
        )
    return {
        "id": person.id,
        "name": person.name,
        "organisation": person.organisation,
        "roles": list(person.roles),
        "public_key": key.public_key,
    }


def bundled_projects(built: SystemCase) -> dict[str, Project]:
    """The projects a bundle of ``built`` holds, by folder relative to the bundled project
    (``""`` for the project itself; a system's ML components by their paths)."""
    if built.system is not None:
        return {
            "": built.system.project,
            **{built.system.paths[c]: p for c, p in built.system.components.items()},
        }
    assert built.project is not None
    return {"": built.project}


def write_bundle(
    built: SystemCase,
    key: SigningKey,
    target: Path,
    *,
    approvals: Mapping[str, Approvals] | None = None,
    svg: bool = True,
    layout_cache: Path | None = None,
    now: str | None = None,
) -> Written:
    """Write the assessor's bundle of a project, or of a system and its ML components
    (``built``: its case as built without the verifier key, and the projects), to
    ``target``, signed with ``key``; see the module doc. The file appears whole or not at
    all.

    Raises :class:`~amlas.errors.ProblemError`: the key is no person's the project (the
    system) declares (A004) or the verifier's (A003); the evidence store cannot be copied."""
    projects = bundled_projects(built)
    case = built.case
    signer = _signer(projects[""], key)
    created = now or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    entries: dict[str, bytes] = {MARK_NAME: BUNDLE_MARK}
    stated: dict[str, dict[str, str | None]] = {}
    records = 0
    for prefix, project in projects.items():
        base = f"{PROJECT_DIR}/{prefix}/" if prefix else f"{PROJECT_DIR}/"
        for rel in bundle_files(project):
            entries[base + rel] = (project.root / rel).read_bytes()
        if project.manifest.is_system:
            continue  # the system holds [A] [B] [C]; its components hold the evidence
        with tempfile.TemporaryDirectory(prefix="amlas-bundle-") as tmp:
            with (
                open_store(project.manifest.evidence, root=project.root) as source,
                open_store(f"fs://{EVIDENCE_DIR}", root=Path(tmp)) as copy,
            ):
                records += copy_current(source, copy)
            folder = Path(tmp) / EVIDENCE_DIR
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    entries[f"{base}{EVIDENCE_DIR}/{path.relative_to(folder).as_posix()}"] = (
                        path.read_bytes()
                    )
        stated[prefix] = stated_inputs(project)
    entries[STATED_NAME] = _json(stated)
    for name, text in render_case_files(case, svg=svg, layout_cache=layout_cache).items():
        entries[f"case/{name}"] = text.encode("utf-8")
    report = render_report(
        case, svgs=None if svg else {}, layout_cache=layout_cache, approvals=approvals
    )
    entries["report.html"] = report.encode("utf-8")
    manifest = {
        "schema": BUNDLE_SCHEMA,
        "created_at": created,
        "amlas": __version__,
        "project": case.project,
        "component": case.component,
        "components": {c: built.system.paths[c] for c in built.system.components}
        if built.system is not None
        else {},
        "case": {
            "digest": case.digest(),
            "root": case.root,
            "status": case.top.status,
            "counts": case.counts(),
        },
        "bundled_by": signer,
        "evidence": f"{records} current records, each project's in its {EVIDENCE_DIR}/ "
        f"(fs://{EVIDENCE_DIR})",
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in sorted(entries.items())
        },
    }
    manifest_bytes = _json(manifest)
    signature = {
        "schema": SIGNATURE_SCHEMA,
        "public_key": key.public_key,
        "signature": key.sign(manifest_bytes),
    }
    stamp = _zip_time(created)
    with atomic_stream(target) as handle, zipfile.ZipFile(handle, "w") as archive:
        archive.writestr(zipfile.ZipInfo(MARK_NAME, stamp), BUNDLE_MARK, zipfile.ZIP_STORED)
        for name, data in sorted(entries.items()):
            if name != MARK_NAME:
                info = zipfile.ZipInfo(name, stamp)
                info.external_attr = 0o644 << 16
                archive.writestr(info, data, zipfile.ZIP_DEFLATED, compresslevel=6)
        for name, data in ((MANIFEST_NAME, manifest_bytes), (SIGNATURE_NAME, _json(signature))):
            archive.writestr(zipfile.ZipInfo(name, stamp), data, zipfile.ZIP_DEFLATED)
    return Written(
        target,
        len(entries),
        target.stat().st_size,
        case.digest(),
        records,
        sum(len(v) for v in stated.values()),
        f"{signer['name']} ({signer['id']})",
    )


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _zip_time(created: str) -> tuple[int, int, int, int, int, int]:
    moment = dt.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ")
    return (
        max(moment.year, 1980),
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
    )
