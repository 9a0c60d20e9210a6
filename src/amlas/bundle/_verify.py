"""Verify an assessor's bundle offline (``amlas verify-bundle FILE``).

No project, model, data or network: everything is read from the archive, into a
temporary folder that is removed afterwards. In order, each failure a coded diagnostic
that names the file inside the archive (``FILE!/name``):

1. the archive itself (:mod:`amlas.bundle._archive`: B001 B002 B003, B006 for a CRC);
2. the mark and the manifest (B004), the manifest's signature (B005), every file's
   SHA-256 and size against the manifest and nothing unlisted (B006, B007);
3. the signer: a person the bundled ``amlas.yaml`` declares (B005; the verifier role's
   evidence key: A003), and, when the assessor pins keys (``--expect-key``), one of those;
4. the bundled evidence store (every record's content against its digest: B009), the
   verifier's signature on every record that needs one (reported, as the case does), each
   access log's hash chain and signatures with the declared verifier key (B008);
5. the case rebuilt from the bundled artefacts and records, the data and model files'
   hashes taken as the bundle states them: its digest must equal the bundled
   ``case/case.json``'s and the manifest's (B010, naming what differs), and the case's
   Markdown and JUnit files must be what it renders (B011; the gsn2x, SVG and report files
   are bound by the signed manifest's hashes only);
6. every sign-off, judged against the rebuilt case (A001-A005, as ``amlas check``).

The trust root: the manifest is signed by a key the bundled ``amlas.yaml`` declares; anyone
who rebuilds a bundle can declare a key of their own, so the verdict prints the signer's
key and the verifier's, for the assessor to compare with keys received another way (or to
pin with ``--expect-key``).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amlas.bundle._archive import LIMITS, ArchiveLimits, ArchiveProblem, extract
from amlas.bundle._write import (
    BUNDLE_MARK,
    BUNDLE_SCHEMA,
    EVIDENCE_DIR,
    MANIFEST_NAME,
    MARK_NAME,
    PROJECT_DIR,
    SIGNATURE_NAME,
    STATED_NAME,
)
from amlas.case import (
    Approvals,
    Case,
    SystemCase,
    build_case,
    build_system_case,
    case_digest,
    case_fingerprint,
    changes_between,
    judge_approvals,
)
from amlas.diagnostics import Diagnostics, Location
from amlas.errors import AmlasError
from amlas.evidence import StoreError, open_store
from amlas.project import (
    Project,
    System,
    bind_siblings,
    check_project,
    is_system_dir,
    load_system,
)
from amlas.render import render_case_junit, render_case_markdown
from amlas.sealing import AccessLog, public_key_id, signature_valid

__all__ = ["Verdict", "verify_bundle"]


@dataclass
class Verdict:
    """What :func:`verify_bundle` found: verified or not, why, and the lines an assessor
    can paste into their report."""

    archive: str
    verified: bool = False
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    lines: list[str] = field(default_factory=list)
    """What was checked and found, one statement per line."""
    manifest: dict[str, Any] | None = None
    built: SystemCase | None = None
    """The case rebuilt from the bundle (with its projects), once it got that far."""
    approvals: dict[str, Approvals] = field(default_factory=dict)
    """The bundle's sign-offs judged against the rebuilt case."""

    def text(self) -> str:
        head = (
            f"VERIFIED: {self.archive}"
            if self.verified
            else f"NOT VERIFIED: {self.archive} ({len(self.diagnostics)} problem(s))"
        )
        return "\n".join([head, *(f"  {line}" for line in self.lines)]) + "\n"


class _Stop(Exception):
    """Nothing further can be checked."""


class _Check:
    def __init__(self, archive: Path, verdict: Verdict) -> None:
        self.archive = archive
        self.verdict = verdict

    def at(self, member: str = "") -> Location:
        return Location(f"{self.archive}!/{member}" if member else str(self.archive))

    def add(self, code: str, message: str, member: str = "", hint: str | None = None) -> None:
        self.verdict.diagnostics.add(code, message, self.at(member), hint=hint)


def _read_json(folder: Path, name: str, check: _Check, code: str) -> Any:
    path = folder / name
    if not path.is_file():
        check.add(code, f"{name} is missing: this is not an amlas bundle, or it was cut", name)
        raise _Stop
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        check.add(code, f"{name} is not JSON amlas reads: {why}", name)
        raise _Stop from None


def verify_bundle(
    archive: str | Path,
    *,
    expect_keys: Sequence[str] = (),
    expect_signers: Mapping[str, str] | None = None,
    limits: ArchiveLimits = LIMITS,
) -> Verdict:
    """Verify the bundle at ``archive`` (see the module doc); ``expect_keys`` are the
    public keys the assessor accepts as the bundler's (any declared person's when empty);
    ``expect_signers`` (person ID -> public key) the people whose sign-offs count (every
    declared person's when None)."""
    path = Path(archive)
    verdict = Verdict(str(path))
    check = _Check(path, verdict)
    if not path.is_file():
        check.add("B001", "no such file (or not a regular file)")
        return verdict
    with tempfile.TemporaryDirectory(prefix="amlas-verify-") as tmp:
        folder = Path(tmp) / "bundle"
        folder.mkdir()
        with contextlib.suppress(_Stop):
            _verify(folder, check, list(expect_keys), expect_signers, limits)
    verdict.verified = not verdict.diagnostics.has_errors
    return verdict


def _verify(
    folder: Path,
    check: _Check,
    expect: list[str],
    signers: Mapping[str, str] | None,
    limits: ArchiveLimits,
) -> None:
    verdict = check.verdict
    try:
        extracted = {e.name: e for e in extract(check.archive, folder, limits)}
    except ArchiveProblem as problem:
        check.add(problem.code, problem.message, problem.member)
        raise _Stop from None
    if MARK_NAME not in extracted or (folder / MARK_NAME).read_bytes() != BUNDLE_MARK:
        check.add(
            "B004", f"no {MARK_NAME} entry saying amlas-bundle/1: not an amlas bundle", MARK_NAME
        )
        raise _Stop
    manifest = _read_json(folder, MANIFEST_NAME, check, "B004")
    signature = _read_json(folder, SIGNATURE_NAME, check, "B005")
    if not isinstance(manifest, dict):
        check.add("B004", f"{MANIFEST_NAME} is not an {BUNDLE_SCHEMA} manifest", MANIFEST_NAME)
        raise _Stop
    files = manifest.get("files")
    signer = manifest.get("bundled_by")
    if (
        manifest.get("schema") != BUNDLE_SCHEMA
        or not isinstance(files, dict)
        or not isinstance(signer, dict)
        or not isinstance(manifest.get("case"), dict)
    ):
        check.add("B004", f"{MANIFEST_NAME} is not an {BUNDLE_SCHEMA} manifest", MANIFEST_NAME)
        raise _Stop
    verdict.manifest = manifest
    public_key = signature.get("public_key") if isinstance(signature, dict) else None
    if not isinstance(public_key, str) or public_key != signer.get("public_key"):
        check.add(
            "B005",
            f"{SIGNATURE_NAME} names another key than the bundler's in {MANIFEST_NAME} "
            "(or none): the signature was replaced",
            SIGNATURE_NAME,
        )
        raise _Stop
    if not signature_valid(
        public_key, (folder / MANIFEST_NAME).read_bytes(), signature.get("signature")
    ):
        check.add(
            "B005",
            f"the signature in {SIGNATURE_NAME} does not verify {MANIFEST_NAME} with the "
            f"bundler's key: {MANIFEST_NAME} was changed after signing, or the signature "
            "was, or both were forged",
            MANIFEST_NAME,
        )
        raise _Stop
    key_id = public_key_id(public_key)
    _files(folder, check, files, extracted)
    if verdict.diagnostics.has_errors:
        raise _Stop  # nothing is rebuilt from files that are not what was signed
    verdict.lines.append(
        f"{len(files)} files, each with the SHA-256 and size the signed manifest lists; "
        "nothing else in the archive"
    )
    project_dir = folder / PROJECT_DIR
    stated = _read_json(folder, STATED_NAME, check, "B004")
    if not isinstance(stated, dict) or not all(isinstance(v, dict) for v in stated.values()):
        check.add(
            "B004", f"{STATED_NAME} is not a mapping of project folders to hashes", STATED_NAME
        )
        raise _Stop
    try:
        projects, system = _load(project_dir, stated)
    except AmlasError as exc:
        check.add("B004", f"the bundled project does not load: {exc}", f"{PROJECT_DIR}/amlas.yaml")
        raise _Stop from None
    declared = projects[""].manifest
    person = declared.person_with_key(public_key)
    if public_key == declared.verifier_key:
        check.add(
            "A003",
            "the manifest is signed with the verifier role's evidence-signing key, which "
            "never signs a bundle (a key used outside its role)",
            SIGNATURE_NAME,
        )
    elif person is None:
        check.add(
            "B005",
            f"the manifest is signed by key {key_id}, which no person the bundled "
            "amlas.yaml declares holds (re-signed by someone else?)",
            SIGNATURE_NAME,
        )
    if expect and public_key not in expect:
        check.add(
            "B005",
            f"the manifest is signed by key {public_key}, not by one you expect "
            f"({', '.join(expect)})",
            SIGNATURE_NAME,
        )
    if person is not None:
        verdict.lines.append(
            f"bundled {manifest.get('created_at', '?')} by {person.name} ({person.id}"
            + (f", {person.organisation}" if person.organisation else "")
            + f"), key {public_key} ({key_id}"
            + (", as you expected" if expect and public_key in expect else ", not pinned")
            + ")"
        )
    for prefix, project in projects.items():
        if not project.manifest.is_system:
            member = f"{PROJECT_DIR}/{prefix}/" if prefix else f"{PROJECT_DIR}/"
            _evidence(project, check, member, prefix)
            _logs(project, check, member)
    if system is not None:
        built = build_system_case(
            system, stores=dict.fromkeys(system.components, f"fs://{EVIDENCE_DIR}")
        )
    else:
        built = SystemCase(
            build_case(projects[""], store=f"fs://{EVIDENCE_DIR}"), project=projects[""]
        )
    verdict.built = built
    digest = _rebuild(folder, built.case, manifest, projects, check)
    _signoffs(built, digest, check, signers)


def _load(project_dir: Path, stated: dict[str, Any]) -> tuple[dict[str, Project], System | None]:
    """The bundled project (or system and components, by folder), each taking the hashes
    the bundle states for the files it does not hold."""
    if not is_system_dir(project_dir):
        project = check_project(project_dir).project
        project.stated_inputs = dict(stated.get("", {}))
        return {"": project}, None
    system = load_system(project_dir)
    for component_id, project in system.components.items():
        project.stated_inputs = dict(stated.get(system.paths[component_id], {}))
    bind_siblings(system)  # a hazard record cites a sibling's inputs: the bundled ones
    projects = {"": system.project}
    projects.update({system.paths[c]: p for c, p in system.components.items()})
    return projects, system


def _files(folder: Path, check: _Check, files: dict[str, Any], extracted: dict[str, Any]) -> None:
    for name, entry in sorted(files.items()):
        found = extracted.get(name)
        if found is None:
            check.add(
                "B007", f"{name} is listed in the manifest and missing from the archive", name
            )
            continue
        sha = entry.get("sha256") if isinstance(entry, dict) else None
        size = entry.get("size") if isinstance(entry, dict) else None
        if found.sha256 != sha or found.size != size:
            check.add(
                "B006",
                f"{name} changed after it was bundled: sha256 {found.sha256[:16]}... "
                f"({found.size} bytes), the signed manifest says {str(sha)[:16]}... "
                f"({size} bytes)",
                name,
            )
    for name in sorted(set(extracted) - set(files) - {MANIFEST_NAME, SIGNATURE_NAME}):
        check.add("B007", f"{name} is in the archive but not in the signed manifest", name)


def _evidence(project: Project, check: _Check, member: str, prefix: str) -> None:
    verdict = check.verdict
    where = f"{member}{EVIDENCE_DIR}"
    try:
        with open_store(f"fs://{EVIDENCE_DIR}", root=project.root) as store:
            problems = store.verify()
            current = store.list()
    except StoreError as exc:
        check.add("B009", f"the bundled evidence store cannot be read: {exc}", where)
        raise _Stop from None
    for problem in problems:
        check.add("B009", f"bundled evidence: {problem}", where)
    signed = project.manifest.verifier_key
    verdict.lines.append(
        (f"{prefix}: " if prefix else "")
        + f"{len(current)} evidence records, each matching its digest"
        + (
            "; the case counts a verification record only when signed by the declared "
            f"verifier key {signed} ({public_key_id(signed)})"
            if signed
            else "; the project declares no verifier key"
        )
    )


def _logs(project: Project, check: _Check, member: str) -> None:
    for letter, document in sorted(project.datasets().items()):
        sealed = document.sealed
        if sealed is None:
            continue
        where = f"{member}{sealed.access_log}"
        path = project.root / sealed.access_log
        if not path.is_file():
            check.add("B008", f"the access log of sealed [{letter}] is not in the bundle", where)
            continue
        log = AccessLog(path)
        problems = log.verify(public_key=project.manifest.verifier_key)
        for problem in problems[:20]:
            check.add("B008", f"access log of [{letter}]: {problem}", where)
        if not problems:
            check.verdict.lines.append(
                f"access log of sealed [{letter}] ({where.removeprefix(PROJECT_DIR + '/')}): "
                f"{len(log.entries())} entries, hash chain intact, every entry signed by the "
                "declared verifier key; the data itself is not in the bundle"
            )


def _rebuild(
    folder: Path,
    case: Case,
    manifest: dict[str, Any],
    projects: dict[str, Project],
    check: _Check,
) -> str:
    """The rebuilt case's digest, after comparing it with the bundled case."""
    verdict = check.verdict
    rebuilt = case.digest()
    bundled_text = (
        (folder / "case" / "case.json").read_bytes()
        if (folder / "case" / "case.json").is_file()
        else None
    )
    if bundled_text is None:
        check.add("B007", "case/case.json is not in the bundle", "case/case.json")
        raise _Stop
    try:
        bundled = json.loads(bundled_text)
        bundled_digest = case_digest(bundled)
        changes = (
            changes_between(case_fingerprint(bundled), case_fingerprint(case))
            if rebuilt != bundled_digest
            else []
        )
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else f"{exc!r}"
        check.add("B010", f"case/case.json is not a case amlas reads: {why}", "case/case.json")
        raise _Stop from None
    stated = manifest["case"].get("digest")
    if rebuilt != bundled_digest:
        check.add(
            "B010",
            "the case rebuilt from the bundled artefacts and records differs from the "
            "bundled case: " + "; ".join(changes),
            "case/case.json",
        )
    elif stated != rebuilt:
        check.add(
            "B010",
            f"the manifest states case digest {str(stated)[:16]}..., the bundled case is "
            f"{rebuilt[:16]}...",
            MANIFEST_NAME,
        )
    else:
        counts = ", ".join(f"{n} {s}" for s, n in case.counts().items() if n)
        verdict.lines.append(
            f"case {rebuilt} rebuilt from the bundled artefacts and records: identical to "
            f"the bundled case; top claim {case.root} {case.top.status} (claims: {counts})"
        )
    # the readable forms re-rendered; the gsn2x, SVG and report files are bound by the
    # signed manifest only (re-rendering them would double the time at 1,000 requirements)
    rendered = {"case.md": render_case_markdown(case), "case.junit.xml": render_case_junit(case)}
    for name, text in sorted(rendered.items()):
        member = f"case/{name}"
        path = folder / member
        if not path.is_file():
            check.add("B011", f"{member} is not in the bundle", member)
        elif path.read_bytes() != text.encode("utf-8"):
            check.add(
                "B011",
                f"{member} is not what the rebuilt case renders (edited after it was made?)",
                member,
            )
    taken = sorted(
        (f"{prefix}:{name}" if prefix else name)
        for prefix, project in projects.items()
        for name in (project.stated_inputs or {})
    )
    verdict.lines.append(
        f"taken as the bundle states them (files it does not hold): {len(taken)} "
        "hashes of data, model and code ("
        + ", ".join(taken[:6])
        + (" ..." if len(taken) > 6 else "")
        + ")"
    )
    verdict.lines.append(
        "case/case.md and case/case.junit.xml rendered again from the rebuilt case and "
        "compared; report.html, case/gsn/ and case/svg/ are bound by the signed manifest's "
        "hashes only, not rendered again: read them as the bundler's"
    )
    return rebuilt


def _signoffs(
    built: SystemCase, digest: str, check: _Check, signers: Mapping[str, str] | None
) -> None:
    folders = {"": ""}
    if built.system is not None:
        folders.update(built.system.paths)
    check.verdict.approvals = judge_approvals(built, digest=digest, pinned=signers)
    for component, judged in check.verdict.approvals.items():
        prefix = folders.get(component, "")
        base = f"{PROJECT_DIR}/{prefix}/" if prefix else f"{PROJECT_DIR}/"
        for diagnostic in judged.diagnostics:
            if diagnostic.code in ("A001", "A002", "A003", "A004"):
                check.add(
                    diagnostic.code,
                    diagnostic.message,
                    base + diagnostic.location.path,
                    hint=diagnostic.hint,
                )
        where = f" ({component})" if component else ""
        for one in judged.signoffs:
            if one.status == "current":
                check.verdict.lines.append(
                    f"sign-off{where}: {one.decision} of {one.scope} by {one.name} "
                    f"({one.signer}, {one.role}, key {one.key_id}) on {one.signed_at}"
                    + (f": {one.comment}" if one.comment else "")
                )
        stale = [s for s in judged.signoffs if s.status == "stale"]
        if stale:
            check.verdict.lines.append(
                f"{len(stale)} sign-off(s){where} over an earlier case (stale, not counted): "
                + ", ".join(f"{s.signer} on {s.scope}" for s in stale)
            )
        for required in judged.required:
            check.verdict.lines.append(
                f"approval required: {required.role} on {required.where}: {required.status} "
                f"({required.reason})"
            )
