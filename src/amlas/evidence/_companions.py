"""Files that belong with a sealed dataset and are sealed with it: a detector's
ground-truth objects of [P], and the model's predictions on [P] made outside amlas (the
verifier's, imported with ``amlas predictions import``).

A companion of ``location`` is sealed beside it as ``location + ".sealed"`` with the
dataset's verifier key and logged in the dataset's access log (a ``seal`` entry naming
the companion); its plaintext leaves the project as the dataset's does. The run reaches
it only through :func:`open_companion`, which checks the log and the file and logs the
unseal, exactly as for the dataset itself. No artefact is rewritten: the sealed copy's
place follows from the declared location.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from amlas.errors import UsageError
from amlas.evidence._actor import check_verifier_key, current_actor
from amlas.fileio import atomic_write_text
from amlas.project import Project
from amlas.sealing import AccessLog, SealedHeader, SealError, VerifierKey, read_header, seal_file
from amlas.sealing import unseal as unseal_bytes

__all__ = ["companion_sealed", "open_companion", "seal_companion", "sealed_companion_hash"]

SUFFIX = ".sealed"


def companion_sealed(location: str) -> str:
    """Where the sealed copy of the companion file ``location`` lives."""
    return location.rstrip("/") + SUFFIX


def sealed_companion_hash(root: Path, location: str) -> str | None:
    """The plaintext SHA-256 the sealed copy of ``location`` carries in its header
    (readable without the key), or None when there is no readable sealed copy."""
    path = root / companion_sealed(location)
    if not path.is_file():
        return None
    try:
        return read_header(path).plaintext_sha256
    except SealError:
        return None


def _log(project: Project, letter: str, access_log: str | None = None) -> AccessLog:
    if access_log is not None:  # the dataset is being sealed: its block is not read yet
        return AccessLog(project.root / access_log)
    document = project.datasets().get(letter)
    if document is None or document.sealed is None:
        raise UsageError(
            f"[{letter}] is not sealed: seal it first ('amlas seal --dataset {letter}'); its "
            "companion files are sealed with it"
        )
    return AccessLog(project.root / document.sealed.access_log)


def seal_companion(
    project: Project,
    letter: str,
    location: str,
    key: VerifierKey,
    *,
    what: str,
    source: Path | None = None,
    access_log: str | None = None,
    keep_plaintext: bool = False,
    key_checked: bool = False,
    actor: str | None = None,
    now: datetime | None = None,
) -> SealedHeader:
    """Seal ``source`` (default: the project file ``location``) as the companion
    ``location`` of sealed dataset ``letter`` and log it in ``access_log`` (default: the
    dataset's); the plaintext ``location`` is removed unless ``keep_plaintext``.
    ``key_checked``: the caller has just checked (and declared) the key."""
    if not key_checked:
        check_verifier_key(project, key)
    log = _log(project, letter, access_log)
    sealed_rel = companion_sealed(location)
    target = project.root / sealed_rel
    plaintext = project.root / location
    origin = source if source is not None else plaintext
    if target.exists():
        raise UsageError(
            f"{sealed_rel!r} already holds the sealed {what} of [{letter}]; to replace them, "
            "delete it first (the access log keeps the history)"
        )
    if not origin.is_file():
        raise UsageError(f"{origin}: no file of {what} to seal")
    header = seal_file(origin, target, key)
    log.append(
        event="seal",
        actor=actor or current_actor(),
        role="verifier",
        dataset=letter,
        dataset_sha256=header.plaintext_sha256,
        purpose=f"seal the {what} of [{letter}] with it",
        details={"sealed_file": sealed_rel, "companion": what, "size": header.plaintext_size},
        key=key,
        now=now,
    )
    ignore_plaintext(project.root, location)
    if not keep_plaintext and source is None:
        plaintext.unlink()
    return header


def ignore_plaintext(root: Path, location: str) -> None:
    """Keep the plaintext ``location`` out of version control if it ever comes back."""
    ignore = root / ".gitignore"
    line = "/" + location.strip("/")
    existing = ignore.read_text(encoding="utf-8") if ignore.exists() else ""
    if line not in existing.splitlines():
        prefix = "" if not existing or existing.endswith("\n") else "\n"
        atomic_write_text(
            ignore, existing + prefix + "# sealed data: never commit the plaintext\n" + line + "\n"
        )


def open_companion(
    project: Project,
    letter: str,
    location: str,
    key: VerifierKey,
    *,
    what: str,
    purpose: str,
    actor: str | None = None,
    now: datetime | None = None,
) -> bytes:
    """Decrypt the sealed companion ``location`` of dataset ``letter`` in memory after
    checking the access log, then log the unseal."""
    log = _log(project, letter)
    sealed_rel = companion_sealed(location)
    path = project.root / sealed_rel
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise SealError(
            f"{sealed_rel}: cannot read the sealed {what} of [{letter}]: "
            f"{exc.strerror or exc} (the verifier seals them with 'amlas seal' or imports "
            "them with 'amlas predictions import')"
        ) from None
    header = read_header(blob, source=path)
    if header.key_id != key.key_id:
        raise SealError(
            f"{sealed_rel}: sealed for verifier key {header.key_id}, but the key given is "
            f"{key.key_id}"
        )
    problems = log.verify(key)
    if problems:
        listed = "; ".join(str(p) for p in problems[:3])
        raise SealError(f"the access log of [{letter}] is damaged ({listed})")
    data = unseal_bytes(blob, key, source=path)
    log.append(
        event="unseal",
        actor=actor or current_actor(),
        role="verifier",
        dataset=letter,
        dataset_sha256=header.plaintext_sha256,
        purpose=purpose,
        details={"sealed_file": sealed_rel, "companion": what},
        key=key,
        now=now,
    )
    return data
