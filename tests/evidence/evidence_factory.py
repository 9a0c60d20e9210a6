"""Records and clock readings for the evidence tests (the record and the clock are
``amlas.testing``'s, which plug-in authors use too)."""

from __future__ import annotations

from pathlib import Path

from amlas.sealing import VerifierKey, public_key_of
from amlas.testing import T0, at, make_record

__all__ = ["T0", "at", "declare_verifier_key", "make_record"]


def declare_verifier_key(root: Path, key: VerifierKey) -> None:
    """Declare the verifier's public key in the project's amlas.yaml, as 'amlas seal' does;
    without it the safety case accepts no verification result (issue 12)."""
    manifest = root / "amlas.yaml"
    manifest.write_text(manifest.read_text("utf-8") + f"verifier_key: {public_key_of(key)}\n")
