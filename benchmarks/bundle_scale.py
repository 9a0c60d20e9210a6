"""The assessor's bundle at scale: ``amlas verify-bundle`` on a 1,000-requirement bundle.

The project of ``case_scale.py`` (the breast-cancer example with 1,000 ML safety
requirements, a current stage-4 and stage-5 record for each) gets a declared assessor, a
sign-off and a bundle (``write_bundle``, diagrams left out as ``--no-svg`` does). Then it
times :func:`amlas.bundle.verify_bundle` on the archive, and, in the same run, the floor any
verifier of the same answers pays with plain libraries: ``zipfile`` extracting every entry
and ``hashlib`` hashing it, plus ``build_case`` on the original project (the rebuild the
bundle's verdict rests on). Prints both, the ratio to the floor and to the target.

Target (issue 17): ``amlas verify-bundle`` on a 1,000-requirement bundle takes at most 10 s
on the 2-core reference machine. Asserts nothing about time; the load average is printed.

    .venv/bin/python benchmarks/bundle_scale.py [--requirements 1000]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
import zipfile
from pathlib import Path

import yaml
from case_scale import generate, seed_evidence

from amlas.bundle import verify_bundle, write_bundle
from amlas.case import SystemCase, build_case, judge_approvals, sign_case
from amlas.project import check_project
from amlas.sealing import generate_signing_key

TARGET_S = 10.0


def _declare(root: Path, public_key: str) -> None:
    manifest = root / "amlas.yaml"
    data = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    data["people"] = [
        {
            "id": "ASSESSOR-1",
            "name": "A. Assessor",
            "roles": ["safety-assessor"],
            "independence": "independent_organisation",
            "key": public_key,
        }
    ]
    data.setdefault("case", {})["approvals"] = [{"require": ["safety-assessor"]}]
    manifest.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _floor(archive: Path, folder: Path) -> tuple[float, int]:
    """zipfile + hashlib over every entry: what reading and hashing the archive costs."""
    start = time.perf_counter()
    count = 0
    with zipfile.ZipFile(archive) as handle:
        handle.extractall(folder)
        for info in handle.infolist():
            hashlib.sha256((folder / info.filename).read_bytes()).hexdigest()
            count += 1
    return time.perf_counter() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", type=int, default=1000)
    args = parser.parse_args()
    before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "scale"
        ids = generate(root, args.requirements)
        records = seed_evidence(root, ids)
        key = generate_signing_key(Path(tmp) / "keys" / "assessor.pem")
        _declare(root, key.public_key)
        project = check_project(root).project
        case = build_case(project)
        sign_case(project, case, key, decision="approve")
        built = SystemCase(case, project=project)
        archive = Path(tmp) / "bundle.zip"
        start = time.perf_counter()
        written = write_bundle(built, key, archive, approvals=judge_approvals(built), svg=False)
        bundling = time.perf_counter() - start
        start, cpu = time.perf_counter(), time.process_time()
        verdict = verify_bundle(archive)
        verifying, verifying_cpu = time.perf_counter() - start, time.process_time() - cpu
        assert verdict.verified, verdict.diagnostics.items[:3]
        unzip, entries = _floor(archive, Path(tmp) / "plain")
        start = time.perf_counter()
        rebuilt = build_case(root)
        rebuild = time.perf_counter() - start
        assert rebuilt.digest() == case.digest()
    floor = unzip + rebuild
    load = [", ".join(f"{x:.2f}" for x in loads) for loads in (before, os.getloadavg())]
    print(f"requirements          {len(ids)}")
    print(f"evidence records      {records}; case nodes {len(case.nodes)}")
    print(f"bundle                {written.size / 2**20:7.2f} MiB, {written.files} files")
    print(f"amlas bundle          {bundling:7.2f} s  (no diagrams)")
    print(
        f"amlas verify-bundle   {verifying:7.2f} s  (CPU {verifying_cpu:.2f} s)  "
        f"target {TARGET_S:.0f} s  ratio {verifying / TARGET_S:.2f}"
    )
    print(
        f"plain floor           {floor:7.2f} s  (zipfile + hashlib over {entries} entries "
        f"{unzip:.2f} s, build_case on the project {rebuild:.2f} s)  "
        f"verify-bundle / floor {verifying / floor:.2f}"
    )
    print(f"load average          {load[0]} before, {load[1]} after  (1, 5, 15 min)")
    print(f"CPUs                  {os.cpu_count()}")


if __name__ == "__main__":
    main()
