"""Generate and check the lock files that `make demo` and `make test` install from.

    python tools/lock.py            # regenerate requirements/*.lock (needs uv and the registry)
    python tools/lock.py --check    # offline: every lock agrees with pyproject.toml

One lock per install set: `demo` (the `examples` extra) and `test` (the `test` extra), each
resolved by uv (`uv pip compile`, pip-tools' format) for CPython 3.11 on Linux x86-64, with
the SHA-256 of every distribution. torch resolves to the local CPU wheel (`/opt/wheels`,
pinned through constraints.txt); any other torch spec pulls gigabytes of CUDA packages.

Each lock starts with the digest of what it was resolved from (the dependencies and extras of
pyproject.toml, the build requirements, constraints.txt and requirements/build.in). `--check`
recomputes it and also checks that every requirement reachable from the install set is pinned
at a version its specifier admits, so a dependency edit without `make lock` fails CI with the
requirement named. The check is offline and deterministic: it never asks the registry.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK_DIR = ROOT / "requirements"
# install set -> the extra of pyproject.toml it installs
SETS = {"demo": "examples", "test": "test"}
WIDEST = "test"  # its extra includes every other set's
PYTHON_VERSION = "3.11"
PLATFORM = "x86_64-manylinux_2_28"
WHEELS = "/opt/wheels"  # the local CPU build of torch
DIGEST_PREFIX = "# amlas-lock-inputs: sha256:"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")


def _lines(path: Path) -> list[str]:
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


def inputs_digest() -> str:
    """The digest of everything a lock is resolved from."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    inputs = {
        "requires-python": project["project"].get("requires-python"),
        "dependencies": project["project"].get("dependencies", []),
        "optional-dependencies": project["project"].get("optional-dependencies", {}),
        "build-system": project.get("build-system", {}).get("requires", []),
        "constraints": _lines(ROOT / "constraints.txt"),
        "build.in": _lines(LOCK_DIR / "build.in"),
        "target": [PYTHON_VERSION, PLATFORM],
    }
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def lock_path(name: str) -> Path:
    return LOCK_DIR / f"{name}.lock"


def _uv() -> str:
    here = Path(sys.executable).parent / "uv"
    return str(here) if here.exists() else "uv"


def generate(names: list[str]) -> None:
    digest = inputs_digest()
    # the widest set first; the others start from its pins, so that shared packages agree
    # (`make test` installs the test set and `make demo` then runs on it)
    for name in sorted(names, key=lambda n: n != WIDEST):
        target = lock_path(name)
        seed = lock_path(WIDEST) if name != WIDEST and lock_path(WIDEST).exists() else target
        with tempfile.TemporaryDirectory(dir=LOCK_DIR) as tmp:
            out = Path(tmp) / "out.txt"
            if seed.exists():  # keep today's pins where they still fit (pip-compile's way)
                lines = seed.read_text(encoding="utf-8").splitlines()
                out.write_text("\n".join(lines[1:]) + "\n", encoding="utf-8")
            cmd = [
                _uv(), "pip", "compile", "pyproject.toml", "requirements/build.in",
                "--extra", SETS[name],
                "--constraint", "constraints.txt",
                "--generate-hashes",
                "--python-version", PYTHON_VERSION,
                "--python-platform", PLATFORM,
                "--find-links", WHEELS,
                "--no-emit-find-links",
                "--custom-compile-command", "make lock",
                "--quiet",
                "--output-file", str(out),
            ]  # fmt: skip
            subprocess.run(cmd, cwd=ROOT, check=True)
            body = out.read_text(encoding="utf-8")
            body = body.replace(str(out), f"requirements/{name}.lock")
            staged = Path(tmp) / "staged"
            staged.write_text(f"{DIGEST_PREFIX}{digest}\n{body}", encoding="utf-8")
            os.replace(staged, target)
        print(f"wrote {target.relative_to(ROOT)}")


def pins(path: Path) -> dict[str, str]:
    """Canonical package name -> pinned version of a lock file."""
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            out[_canonical(match.group(1))] = match.group(3)
    return out


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def direct_requirements(extra: str) -> list[str]:
    """Every requirement string an install of `amlas[extra]` asks for, through self-extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    own = _canonical(project["project"]["name"])
    optional = project["project"].get("optional-dependencies", {})
    found: list[str] = list(project["project"].get("dependencies", []))
    found += project.get("build-system", {}).get("requires", [])
    found += _lines(LOCK_DIR / "build.in")
    seen: set[str] = set()
    todo = [extra]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for spec in optional.get(name, []):
            match = re.match(r"^([A-Za-z0-9._-]+)\[([^\]]+)\]\s*$", spec)
            if match and _canonical(match.group(1)) == own:
                todo += [e.strip() for e in match.group(2).split(",")]
            else:
                found.append(spec)
    return found


def check(names: list[str]) -> list[str]:
    """Problems, one line each; empty when every lock agrees with pyproject.toml."""
    from packaging.requirements import Requirement
    from packaging.version import Version

    problems: list[str] = []
    digest = inputs_digest()
    env = {"python_version": PYTHON_VERSION, "python_full_version": f"{PYTHON_VERSION}.0",
           "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
           "implementation_name": "cpython", "platform_python_implementation": "CPython",
           "os_name": "posix"}  # fmt: skip
    constraints = [Requirement(c) for c in _lines(ROOT / "constraints.txt")]
    for name in names:
        path = lock_path(name)
        where = path.relative_to(ROOT)
        if not path.exists():
            problems.append(f"{where}: missing; run `make lock`")
            continue
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        if not first.startswith(DIGEST_PREFIX):
            problems.append(f"{where}:1: no inputs digest; run `make lock`")
        elif first[len(DIGEST_PREFIX) :].strip() != digest:
            problems.append(
                f"{where}:1: resolved from other inputs than today's pyproject.toml, "
                "constraints.txt or requirements/build.in; run `make lock`"
            )
        pinned = pins(path)
        for spec in direct_requirements(SETS[name]) + [str(c) for c in constraints]:
            req = Requirement(spec)
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            version = pinned.get(_canonical(req.name))
            if version is None:
                problems.append(
                    f"{where}: '{spec}' (pyproject.toml) is not locked; run `make lock`"
                )
            elif not req.specifier.contains(Version(version), prereleases=True):
                problems.append(
                    f"{where}: {req.name}=={version} does not satisfy '{spec}'; run `make lock`"
                )
    if len(names) > 1:  # `make test` installs the test set and serves `make demo` with it
        locked = {name: pins(lock_path(name)) for name in names if lock_path(name).exists()}
        base, *others = sorted(locked) or [""]
        for other in others:
            for package, version in sorted(locked[base].items()):
                theirs = locked[other].get(package)
                if theirs is not None and theirs != version:
                    problems.append(
                        f"requirements/{base}.lock pins {package}=={version} but "
                        f"requirements/{other}.lock pins {theirs}; run `make lock`"
                    )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="check, offline; write nothing")
    parser.add_argument("sets", nargs="*", help="install sets (default: all): " + ", ".join(SETS))
    args = parser.parse_args()
    names = args.sets or list(SETS)
    unknown = [n for n in names if n not in SETS]
    if unknown:
        parser.error(f"unknown install set {unknown[0]!r}; expected one of {', '.join(SETS)}")
    if args.check:
        problems = check(names)
        for line in problems:
            print(line, file=sys.stderr)
        if not problems:
            print("locks agree with pyproject.toml: " + ", ".join(names))
        return 1 if problems else 0
    generate(names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
