"""What every rendering says about per-sample detail sealed for the verifier.

Evidence computed from sealed data ([P]) keeps its per-sample detail (sample ids, values,
counterexamples) encrypted for the verifier key (:mod:`amlas.evidence._detail`); a case
built without the key shows counts, estimates, bounds and verdicts only, and every output
says so, so that a reader does not take the missing ids for "none failed". Built with the
key, the detail is shown, and the output says it must not reach the development team.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from amlas.case import Case

__all__ = ["detail_note"]


def detail_note(case: Case, digests: Iterable[str] | None = None) -> str | None:
    """One sentence on the sealed detail of the records ``digests`` (all cited records
    when None), or None when none of them has any."""
    info = case.sealed_detail()
    chosen = info if digests is None else {d: info[d] for d in digests if d in info}
    if not chosen:
        return None
    by_status: dict[str, list[dict[str, Any]]] = {}
    for entry in chosen.values():
        by_status.setdefault(str(entry["status"]), []).append(entry)
    parts = []
    sealed = by_status.get("sealed", [])
    if sealed:
        datasets = sorted({str(d) for e in sealed for d in e.get("datasets", [])})
        keys = sorted({str(e["key_id"]) for e in sealed})
        parts.append(
            f"per-sample detail (sample ids, values, counterexamples) of {len(sealed)} "
            f"evidence record(s) computed from sealed [{'], ['.join(datasets)}] is sealed "
            f"for the verifier (key {', '.join(keys)}) and not shown; build with the "
            "verifier key (--key-file) to see it"
        )
    opened = by_status.get("opened", [])
    if opened:
        datasets = sorted({str(d) for e in opened for d in e.get("datasets", [])})
        parts.append(
            f"per-sample detail of {len(opened)} evidence record(s) computed from sealed "
            f"[{'], ['.join(datasets)}] is shown, opened with the verifier key: keep this "
            "output from the development team"
        )
    withheld = by_status.get("withheld", [])
    if withheld:
        parts.append(
            f"per-sample detail of {len(withheld)} evidence record(s) computed from sealed "
            "data was not kept (no verifier key when they were computed)"
        )
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."
