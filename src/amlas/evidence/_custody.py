"""Custody of sealed data: ``amlas seal`` for a dataset artefact, and the only way the run
reaches sealed data (unseal in memory, logged).

The crypto and the log format live in :mod:`amlas.sealing`; this module binds them to the
project: which file a dataset artefact names, where its sealed copy and access log go, and
the ``sealed:`` block that tells every later command the data is sealed.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from amlas.adapters import DatasetError, FolderArchive, archive_tree_sha256
from amlas.errors import UsageError
from amlas.evidence._actor import check_verifier_key, current_actor
from amlas.evidence._companions import ignore_plaintext, seal_companion
from amlas.evidence._store import EvidenceStore, StoreError
from amlas.fileio import atomic_write_text
from amlas.hashing import sha256_file
from amlas.project import MANIFEST_FILE, Project
from amlas.project.artefacts import DatasetDocument
from amlas.sealing import (
    AccessLog,
    LogEntry,
    SealedHeader,
    SealedReader,
    SealError,
    TamperError,
    VerifierKey,
    check_usage,
    public_key_of,
    read_header,
    seal_file,
    unseal,
)

__all__ = [
    "DEFAULT_ACCESS_LOG",
    "SealOutcome",
    "Unsealed",
    "check_verifier_key",
    "chunked_sealed",
    "current_actor",
    "declare_verifier_key",
    "open_sealed",
    "record_use",
    "seal_dataset",
    "verify_custody",
]

DEFAULT_ACCESS_LOG = "5-verification/P-access-log.jsonl"


@dataclass(frozen=True)
class SealOutcome:
    header: SealedHeader
    sealed_file: str
    access_log: str
    entry: LogEntry
    plaintext_removed: bool
    artefact_updated: bool
    """False when the artefact already had a ``sealed:`` block and was left as it was."""


def seal_dataset(
    project: Project,
    letter: str,
    key: VerifierKey,
    *,
    actor: str | None = None,
    keep_plaintext: bool = False,
    now: datetime | None = None,
) -> SealOutcome:
    """Encrypt dataset ``letter`` under ``key``, log it, mark the artefact sealed and
    remove the plaintext (unless ``keep_plaintext``).

    The steps run in an order that is safe to interrupt: the sealed copy is written
    (atomically) before the log entry, the artefact is updated after both, and the
    plaintext goes last, so no interruption loses the data.
    """
    datasets = project.datasets()
    if letter not in datasets:
        raise UsageError(f"the project has no dataset [{letter}] to seal")
    document = datasets[letter]
    source = project.root / document.location
    sealed_rel = (
        document.sealed.file
        if document.sealed
        else document.location.rstrip("/") + (".tar.sealed" if source.is_dir() else ".sealed")
    )
    log_rel = (
        document.sealed.access_log
        if document.sealed
        else f"5-verification/{letter}-access-log.jsonl"
    )
    target = project.root / sealed_rel
    check_verifier_key(project, key)
    if target.exists():
        raise UsageError(
            f"[{letter}] is already sealed in {sealed_rel!r}; to re-seal new data, delete it "
            "first (the access log keeps the history)"
        )
    if not source.exists():
        raise UsageError(f"[{letter}] data {document.location!r} does not exist; nothing to seal")
    companion = document.objects
    if companion is not None and (project.root / companion.location).is_file():
        # checked before anything is sealed: a half-sealed [P] helps no one
        if (project.root / (companion.location + ".sealed")).exists():
            raise UsageError(
                f"[{letter}] objects are already sealed in {companion.location + '.sealed'!r}; "
                "delete it first (the access log keeps the history)"
            )
        actual = sha256_file(project.root / companion.location)
        if companion.sha256 is not None and actual != companion.sha256:
            raise UsageError(
                f"[{letter}] objects {companion.location!r} have sha256 {actual[:12]}..., but "
                f"the reviewed objects have {companion.sha256[:12]}...; review the change and "
                "update 'objects.sha256' before sealing"
            )
    if source.is_dir():
        # packed as it is sealed (twice: for the header's hash, then to encrypt), in
        # memory bounded by the largest file and with no plaintext archive on disk; the
        # folder hashed from the bytes packed, so what is compared is what is sealed
        archive = FolderArchive(source)
        declared = document.sha256

        def content() -> Iterator[bytes]:
            yield from archive.blocks()
            # a folder is declared by its tree hash (as a plaintext run reads it), or by
            # the hash of the archive amlas seals (the sealed header's)
            if declared is not None and declared not in (
                archive.tree_sha256,
                archive.archive_sha256,
            ):
                raise UsageError(
                    f"[{letter}] folder {document.location!r} has sha256 "
                    f"{(archive.tree_sha256 or '')[:12]}..., but the reviewed data has "
                    f"{declared[:12]}...; review the change and update 'sha256' before "
                    "sealing"
                )

        try:
            header = seal_file(source, target, key, kind="tar", content=content)
        except DatasetError as exc:
            raise SealError(f"{source}: cannot pack the folder to seal: {exc}") from exc
    else:
        actual = sha256_file(source)
        if document.sha256 is not None and actual != document.sha256:
            raise UsageError(
                f"[{letter}] {document.location!r} has sha256 {actual[:12]}..., but the "
                f"reviewed data has {document.sha256[:12]}...; review the change and update "
                "'sha256' before sealing"
            )
        header = seal_file(source, target, key)
    declare_verifier_key(project, key)
    entry = AccessLog(project.root / log_rel).append(
        event="seal",
        actor=actor or current_actor(),
        role="verifier",
        dataset=letter,
        dataset_sha256=header.plaintext_sha256,
        purpose="seal the data before it is released to the development team's project",
        details={"sealed_file": sealed_rel, "kind": header.kind, "size": header.plaintext_size},
        key=key,
        now=now,
    )
    updated = False
    if document.sealed is None:
        _append_sealed_block(project, letter, sealed_rel, log_rel)
        updated = True
    objects = document.objects
    if objects is not None and (project.root / objects.location).is_file():
        # a detector's ground truth is as much [P] as its images
        seal_companion(
            project,
            letter,
            objects.location,
            key,
            what="ground-truth objects",
            access_log=log_rel,
            keep_plaintext=keep_plaintext,
            key_checked=True,
            actor=actor,
            now=now,
        )
    ignore_plaintext(project.root, document.location)
    if not keep_plaintext:
        if source.is_dir():
            shutil.rmtree(source)
        else:
            source.unlink()
    return SealOutcome(header, sealed_rel, log_rel, entry, not keep_plaintext, updated)


def declare_verifier_key(project: Project, key: VerifierKey) -> bool:
    """Write the verifier's public key into ``amlas.yaml`` when it declares none; returns
    whether it wrote. The private key never enters the project.

    Raises:
        UsageError: the project declares another verifier key.
    """
    check_verifier_key(project, key)
    if project.manifest.verifier_key is not None:
        return False
    _append_block(
        project.root / MANIFEST_FILE,
        "# Written by amlas: the verifier's public signing key. Verification evidence, the\n"
        "# seal of [P] and its access log count only when signed by it (docs/verification.md).\n"
        f"verifier_key: {public_key_of(key)}\n",
    )
    return True


def _append_sealed_block(project: Project, letter: str, sealed: str, log: str) -> None:
    _append_block(
        project.root / project.files[letter],
        "# Written by 'amlas seal': the data is encrypted for the verifier role; the\n"
        "# plaintext was removed from the project.\n"
        f"sealed:\n  file: {sealed}\n  access_log: {log}\n  max_uses: 5\n",
    )


def _append_block(path: Path, block: str) -> None:
    """Append ``block`` (YAML, with its comment) to an artefact file, atomically."""
    text = path.read_text(encoding="utf-8")
    atomic_write_text(path, text + ("" if text.endswith("\n") else "\n") + block)


@dataclass(frozen=True)
class Unsealed:
    """Decrypted data, in memory only, and the log entry that authorised reading it.

    ``data`` is the whole content, or None when the data is read chunk by chunk through
    :meth:`reader` (a version-2 sealed file opened with ``chunked=True``)."""

    data: bytes | None
    header: SealedHeader
    entry: LogEntry
    log: AccessLog
    path: Path | None = None
    key: VerifierKey | None = None

    def reader(self) -> SealedReader:
        """A fresh reader of the content, decrypted chunk by chunk (close it after use;
        call its ``verify()`` once it has been read)."""
        if self.path is None or self.key is None:
            raise SealError("this data was unsealed whole; read its 'data'")
        reader = SealedReader.open(self.path, self.key)
        if reader.header.canonical() != self.header.canonical():
            reader.close()  # replaced since it was checked and its unseal logged
            raise TamperError(
                f"{self.path.name}: the sealed file changed after it was opened and logged"
            )
        return reader


def _sealed(project: Project, letter: str) -> DatasetDocument:
    document = project.datasets().get(letter)
    if document is None or document.sealed is None:
        raise UsageError(f"[{letter}] is not sealed")
    return document


def open_sealed(
    project: Project,
    letter: str,
    key: VerifierKey,
    *,
    purpose: str,
    actor: str | None = None,
    now: datetime | None = None,
    chunked: bool = False,
) -> Unsealed:
    """Decrypt the sealed dataset ``letter`` in memory after checking the sealed file and
    the whole access log, then log the unseal. A damaged log or file stops here.

    ``chunked`` (a version-2 file only, see :func:`chunked_sealed`) decrypts nothing yet:
    the content is read, and authenticated, chunk by chunk through
    :meth:`Unsealed.reader`, and never held whole."""
    document = _sealed(project, letter)
    assert document.sealed is not None
    path = project.root / document.sealed.file
    blob: bytes | None = None
    try:
        if chunked:
            header = read_header(path)
        else:
            blob = path.read_bytes()
            header = read_header(blob, source=path)
    except OSError as exc:
        raise SealError(f"{document.sealed.file}: cannot read the sealed data: {exc}") from None
    if header.key_id != key.key_id:  # before the log, whose MACs would fail the same way
        raise SealError(
            f"{document.sealed.file}: sealed for verifier key {header.key_id}, but the key "
            f"given is {key.key_id}"
        )
    log = AccessLog(project.root / document.sealed.access_log)
    problems = log.verify(key)
    if problems:
        listed = "; ".join(str(p) for p in problems[:3])
        raise SealError(
            f"{document.sealed.access_log}: the access log is damaged ({listed}); restore it "
            "from version control before using the verification data"
        )
    declared = document.sha256
    if declared is not None and header.kind == "file" and header.plaintext_sha256 != declared:
        raise SealError(
            f"{document.sealed.file}: seals data with sha256 "
            f"{header.plaintext_sha256[:12]}..., but [{letter}] declares {declared[:12]}..."
        )
    if chunked:
        if header.chunk_size is None:
            raise SealError(
                f"{document.sealed.file}: sealed whole (format version 1); it cannot be "
                "read chunk by chunk"
            )
        SealedReader.open(path, key).close()  # the key opens it and the size is right
        data = None
    else:
        assert blob is not None
        data = unseal(blob, key, source=path)
    if declared is not None and header.kind == "tar" and header.plaintext_sha256 != declared:
        _check_folder(document.sealed.file, letter, declared, path, key, data)
    entry = log.append(
        event="unseal",
        actor=actor or current_actor(),
        role="verifier",
        dataset=letter,
        dataset_sha256=header.plaintext_sha256,
        purpose=purpose,
        details={"sealed_file": document.sealed.file},
        key=key,
        now=now,
    )
    return Unsealed(data, header, entry, log, path if chunked else None, key if chunked else None)


def _check_folder(
    shown: str, letter: str, declared: str, path: Path, key: VerifierKey, data: bytes | None
) -> None:
    """A sealed folder declared by its tree hash: the archive's folder, hashed as it is
    decrypted (a stream; ``data`` when unsealed whole), must be the declared one. Without
    the key only the archive's hash is seen; this is where the declared folder is
    proved."""
    try:
        if data is not None:
            found = archive_tree_sha256(io.BytesIO(data), shown)
        else:
            with SealedReader.open(path, key) as reader:
                found = archive_tree_sha256(reader, shown)
                reader.verify()
    except DatasetError as exc:
        raise TamperError(str(exc)) from exc
    if found != declared:
        raise SealError(
            f"{shown}: seals a folder with sha256 {found[:12]}..., but [{letter}] declares "
            f"{declared[:12]}..."
        )


def chunked_sealed(project: Project, letter: str) -> bool:
    """Whether the sealed dataset ``letter`` can be read chunk by chunk (sealed in format
    version 2); read from its public header, without the key."""
    document = _sealed(project, letter)
    assert document.sealed is not None
    try:
        return read_header(project.root / document.sealed.file).chunk_size is not None
    except SealError:
        return False  # reading it whole reports the problem


def record_use(
    project: Project,
    letter: str,
    unsealed: Unsealed,
    key: VerifierKey,
    *,
    purpose: str,
    details: dict[str, object],
    actor: str | None = None,
    now: datetime | None = None,
) -> tuple[LogEntry, str | None]:
    """Log one use of unsealed data; returns the entry and a warning when the data has
    now been used more often than its declared limit."""
    document = _sealed(project, letter)
    assert document.sealed is not None
    entry = unsealed.log.append(
        event="use",
        actor=actor or current_actor(),
        role="verifier",
        dataset=letter,
        dataset_sha256=unsealed.header.plaintext_sha256,
        purpose=purpose,
        details=details,  # type: ignore[arg-type]
        key=key,
        now=now,
    )
    return entry, check_usage(count_uses(unsealed.log, unsealed.header.plaintext_sha256),
                              document.sealed.max_uses)  # fmt: skip


def count_uses(log: AccessLog, dataset_sha256: str) -> int:
    """Uses of the data: 'use' entries, or 'unseal' entries where there are more (a run
    that crashed, or a 'use' line cut off the end of the log, still counts)."""
    return max(log.uses(dataset_sha256), log.unseals(dataset_sha256))


def verify_custody(project: Project, evidence: EvidenceStore) -> list[str]:
    """Evidence computed from sealed data cites the access-log entry that unsealed it;
    every such entry must still be in the log (cutting the log's tail keeps the chain
    consistent, so this is how truncation shows)."""
    problems = []
    logs: dict[str, set[str]] = {}
    for letter, document in project.datasets().items():
        if document.sealed is not None:
            log = AccessLog(project.root / document.sealed.access_log)
            try:
                logs[letter] = {entry.hash for entry in log.entries()}
            except SealError as exc:
                problems.append(f"{document.sealed.access_log}: {exc}")
    try:
        current = evidence.list()
    except StoreError:
        current = []  # damaged refs: the store's own verify() lists them
    for key, digest in current:
        try:
            record = evidence.get(digest)
        except StoreError:
            continue  # a missing or changed record: the store's own verify() lists it
        for name, value in record.inputs.items():
            if not name.startswith("access_log:"):
                continue
            letter = name.split(":", 1)[1]
            if letter in logs and value not in logs[letter]:
                problems.append(
                    f"{key}: cites access-log entry {value[:12]}... for [{letter}], which the "
                    "log no longer holds (entries removed from its end?)"
                )
    return problems
