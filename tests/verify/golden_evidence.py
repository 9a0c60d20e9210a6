"""The evidence of a bundled example as the demo makes it, reduced to what must not change
when the engine is restructured: every current record's key, check, stage, role, subject,
dataset, parameters, verdict, summary, per-slice results and input hashes.

Only the CLI and the ``fs://`` store layout are used, so the collector measures the engine
from outside. Left out because they differ between two identical runs: the access-log
entries a record cites (time-stamped), metadata, versions, signatures and sealed detail.
The verifier key is fixed, so that [P] seals the same way every time. The per-query time
limit of the formal leg ([H] ``property.timeout_s``) is raised to 600 s in the copy: on a
loaded machine a proof that takes longer than its limit counts as not proven, and the
evidence compared here must not depend on the clock.

``python tests/verify/golden_evidence.py NAME OUT.json`` writes the golden file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"
NAMES = ("breast-cancer-triage", "chess-robot-grasp")
_FIXED_SECRET = bytes(range(32))


def _amlas(*args: str, ok: tuple[int, ...] = (0, 1)) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "amlas", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    if done.returncode not in ok:
        raise AssertionError(
            f"amlas {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )


def _key_file(path: Path) -> Path:
    digest = hashlib.sha256(_FIXED_SECRET).hexdigest()[:16]
    text = base64.urlsafe_b64encode(_FIXED_SECRET).decode("ascii")
    path.write_text(f"amlas-verifier-key/1\n{digest}\n{text}\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def _reduced(record: dict[str, Any]) -> dict[str, Any]:
    inputs = {k: v for k, v in record["inputs"].items() if not k.startswith("access_log:")}
    return {
        "check": record["check"],
        "stage": record["stage"],
        "role": record["role"],
        "subject": record["subject"],
        "dataset": record["dataset"],
        "parameters": record["parameters"],
        "verdict": record["verdict"],
        "summary": record["summary"],
        "results": record["results"],
        "inputs": dict(sorted(inputs.items())),
    }


def collect(name: str, work: Path) -> dict[str, Any]:
    """Run the demo's sequence on a copy of example ``name`` in ``work``; the reduced
    current records by key."""
    project = work / "project"
    shutil.copytree(EXAMPLES / name, project, ignore=shutil.ignore_patterns(".amlas", "evidence"))
    for h in (project / "2-requirements").glob("H-*.yaml"):
        h.write_text(
            re.sub(r"(?m)^(\s+timeout_s:) [0-9.]+$", r"\1 600", h.read_text(encoding="utf-8")),
            encoding="utf-8",
        )
    key = str(_key_file(work / "verifier.key"))
    _amlas("seal", str(project), "--key-file", key, ok=(0,))
    _amlas("run", str(project), "--role", "developer")
    _amlas("run", str(project), "--role", "verifier", "--key-file", key)
    _amlas("run", str(project), "--stage", "6")
    _amlas("monitor", "ingest", str(project))
    store = project / "evidence"
    refs = json.loads((store / "refs.json").read_text(encoding="utf-8"))
    out = {}
    for record_key, digest in sorted(refs.items()):
        path = store / "objects" / digest[:2] / f"{digest}.json"
        out[record_key] = _reduced(json.loads(path.read_text(encoding="utf-8")))
    return out


def golden(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    return data


if __name__ == "__main__":
    example, target = sys.argv[1], Path(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:
        result = collect(example, Path(tmp))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"{example}: {len(result)} records -> {target}")
