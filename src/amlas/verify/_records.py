"""The one place an evidence record is made: plain JSON values, versions, timing.

Every executor of a planned check (stage 3 to stage 6, ``amlas monitor ingest`` and
``amlas evidence import``) hands
its outcome to :func:`make_record` with the :class:`~amlas.verify.PlannedCheck` it ran, so
key, check, stage, subject and dataset come from the plan and never from a second spelling.
"""

from __future__ import annotations

import contextlib
import platform
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import numpy as np

from amlas.evidence import EvidenceRecord, Provenance, canonical_hash
from amlas.project.artefacts import MLSafetyRequirement
from amlas.verify._planned import PlannedCheck

__all__ = [
    "DEFAULT_CONFIDENCE",
    "make_record",
    "new_run_id",
    "plain_json",
    "state_defaults",
    "timed",
    "versions",
]

DEFAULT_CONFIDENCE = "defaults:confidence"
"""The input a record cites when its requirement is decided at the project's default
confidence level (amlas.yaml ``defaults.confidence``)."""


def versions(distributions: Iterable[str] = ()) -> dict[str, str]:
    """The versions a record cites: Python, amlas, numpy, scipy and ``distributions``."""
    out = {"python": platform.python_version()}
    for name in ("amlas", "numpy", "scipy", *distributions):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_run_id() -> str:
    """A run id: UTC time to the second and six random hex digits."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def plain_json(value: Any) -> Any:
    """Plain JSON values: numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


@contextlib.contextmanager
def timed() -> Iterator[dict[str, Any]]:
    """Wall-clock metadata of a check (kept out of the record's digest)."""
    meta: dict[str, Any] = {"started": now()}
    start = time.perf_counter()
    yield meta
    meta["finished"] = now()
    meta["duration_s"] = round(time.perf_counter() - start, 6)


def state_defaults(
    requirement: MLSafetyRequirement, resolved: dict[str, Any], inputs: dict[str, str]
) -> None:
    """Where ``requirement`` states no confidence and the project's default decides it,
    the record says so (``resolved.confidence_source``) and cites the default as an input,
    so that a changed default makes the record stale. A requirement with a level of its
    own changes neither: existing records stay current."""
    if not requirement.confidence_defaulted:
        return
    level = requirement.effective_confidence
    resolved["confidence"] = level
    resolved["confidence_source"] = (
        "the project's default (amlas.yaml 'defaults.confidence'): the requirement states "
        "no confidence of its own"
    )
    inputs[DEFAULT_CONFIDENCE] = canonical_hash(level)


def make_record(
    planned: PlannedCheck,
    *,
    role: str,
    check: str | None = None,
    dataset: str | None = None,
    parameters: Mapping[str, Any],
    resolved: Mapping[str, Any],
    inputs: Mapping[str, str],
    results: list[Any],
    verdict: str,
    summary: str,
    distributions: Iterable[str] = (),
    metadata: Mapping[str, Any] | None = None,
    origin: str | None = None,
    provenance: Provenance | None = None,
) -> EvidenceRecord:
    """The record of ``planned`` as run by ``role``. ``check`` and ``dataset`` default to
    the plan's; a check that reports its own name (a metric that names its method) passes
    it, and must agree with the plan's for the case to find it. A result produced outside
    amlas (``amlas evidence import``) passes ``origin='external'`` and its ``provenance``."""
    return EvidenceRecord(
        key=planned.key,
        check=check or planned.check,
        stage=planned.stage,
        role=role,
        subject=planned.subject,
        dataset=dataset if dataset is not None else planned.dataset,
        parameters=plain_json(dict(parameters)),
        resolved=plain_json(dict(resolved)),
        inputs=dict(inputs),
        results=plain_json(list(results)),
        verdict=verdict,
        summary=summary,
        versions=versions(distributions),
        origin=origin,
        provenance=provenance,
        metadata=dict(metadata or {}),
    )
