"""Who may touch sealed data: the person running a command (for the access log) and the
check that a verifier key is the one the project declares."""

from __future__ import annotations

import getpass
import os

from amlas.errors import UsageError
from amlas.project import MANIFEST_FILE, Project
from amlas.sealing import VerifierKey, public_key_id, public_key_of

__all__ = ["check_verifier_key", "current_actor"]


def current_actor() -> str:
    """Who is running the command, for the access log (``AMLAS_ACTOR`` overrides)."""
    explicit = os.environ.get("AMLAS_ACTOR")
    if explicit:
        return explicit
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def check_verifier_key(project: Project, key: VerifierKey) -> None:
    """Refuse a verifier key whose public key is not the one the project declares.

    Raises:
        UsageError: the project declares another verifier key.
    """
    declared = project.manifest.verifier_key
    mine = public_key_of(key)
    if declared is not None and declared != mine:
        raise UsageError(
            f"{MANIFEST_FILE} declares verifier_key {public_key_id(declared)}, but verifier "
            f"key {key.key_id} has public key {public_key_id(mine)}; use the project's "
            "verifier key (a new verifier's key replaces the old one only by a reviewed edit "
            f"of {MANIFEST_FILE})"
        )
    if declared is None and _declared_in_text(project):
        raise UsageError(
            f"{MANIFEST_FILE} has a verifier_key line that does not load; fix it "
            "('amlas check' says how) before using the verifier key"
        )


def _declared_in_text(project: Project) -> bool:
    path = project.root / MANIFEST_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return any(line.startswith("verifier_key:") for line in text.splitlines())
