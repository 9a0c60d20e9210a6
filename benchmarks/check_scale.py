"""How long `amlas check` and `amlas trace` take on a large generated project.

Generates a project with N allocated requirements, 2N ML safety requirements and 4N data
requirements (defaults: N=500, so 1,000 [H] items) and prints the load, rule and trace
times. Target: the whole check under 5 s for 1,000 [H] items on the 2-core reference
machine. Prints figures and ratios; asserts nothing (machines are noisy).

    .venv/bin/python benchmarks/check_scale.py [N]
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from pathlib import Path

import yaml

from amlas.project import ARTEFACTS, build_trace, check_project, load_project

TARGET_SECONDS = 5.0


def _write(root: Path, letter: str, data: dict[str, object]) -> None:
    path = root / ARTEFACTS[letter].default_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def generate(root: Path, n: int) -> None:
    (root / "amlas.yaml").write_text("amlas: 1\nname: scale\ncomponent: scale test\n")
    _write(
        root,
        "A",
        {
            "artefact": "A",
            "version": "1",
            "source": "generated",
            "hazards": [
                {"id": f"HAZ-{i}", "description": "h", "severity": "major"} for i in range(n)
            ],
            "requirements": [
                {"id": f"SSR-{i}", "text": "t", "controls": [f"HAZ-{i}"]} for i in range(n)
            ],
        },
    )
    _write(
        root,
        "B",
        {
            "artefact": "B",
            "version": "1",
            "description": "d",
            "dimensions": [
                {
                    "id": "size",
                    "name": "size",
                    "kind": "numeric",
                    "unit": "mm",
                    "min": 0,
                    "max": 10,
                    "column": "size",
                    "bands": [
                        {"name": "s", "min": 0, "max": 5},
                        {"name": "l", "min": 5, "max": 10},
                    ],
                }
            ],
        },
    )
    _write(
        root,
        "C",
        {"artefact": "C", "version": "1", "system": "s", "description": "d", "architecture": "a"},
    )
    _write(
        root,
        "D",
        {
            "artefact": "D",
            "version": "1",
            "name": "n",
            "task": "binary_classification",
            "description": "d",
            "classes": [{"name": "pos", "description": "p"}, {"name": "neg", "description": "n"}],
            "inputs": {"kind": "tabular", "features": [{"name": "size"}]},
            "outputs": {"kind": "class_probabilities"},
        },
    )
    _write(
        root,
        "E",
        {
            "artefact": "E",
            "version": "1",
            "requirements": [
                {
                    "id": f"ALR-{i}",
                    "text": "t",
                    "traces_to": [f"SSR-{i}"],
                    "hazard_contribution": "c",
                }
                for i in range(n)
            ],
        },
    )
    _write(
        root,
        "H",
        {
            "artefact": "H",
            "version": "1",
            "requirements": [
                {
                    "id": f"MLR-{i}",
                    "text": "t",
                    "kind": "performance",
                    "traces_to": [f"ALR-{i // 2}"],
                    "metric": "recall",
                    "class": "pos",
                    "threshold": 0.9,
                    "confidence": 0.95,
                    "applies_to": {"per": ["size"]},
                }
                for i in range(2 * n)
            ],
        },
    )
    categories = ["relevance", "completeness", "accuracy", "balance"]
    _write(
        root,
        "L",
        {
            "artefact": "L",
            "version": "1",
            "requirements": [
                {
                    "id": f"DR-{i}",
                    "category": categories[i % 4],
                    "text": "t",
                    "traces_to": [f"MLR-{i // 2}"],
                }
                for i in range(4 * n)
            ],
        },
    )
    for letter, seed in (("N", 1), ("O", 2), ("P", 3)):
        data = "id,label,size\n" + "".join(f"{seed}-{i},pos,{i % 10}\n" for i in range(1000))
        (root / "data").mkdir(exist_ok=True)
        (root / f"data/{letter}.csv").write_text(data)
        _write(
            root,
            letter,
            {
                "artefact": letter,
                "version": "1",
                "description": "d",
                "location": f"data/{letter}.csv",
                "format": "csv",
                "sha256": hashlib.sha256(data.encode()).hexdigest(),
                "label_column": "label",
                "id_column": "id",
                "source": "generated",
            },
        )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "scale"
        root.mkdir()
        generate(root, n)
        start = time.perf_counter()
        loaded = load_project(root)
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        result = check_project(root)
        check_s = time.perf_counter() - start
        start = time.perf_counter()
        matrix = build_trace(result.project)
        trace_s = time.perf_counter() - start
    errors = sum(1 for d in result.diagnostics if d.severity.value == "error")
    print(
        f"[H] items: {2 * n}, [L] items: {4 * n}, artefacts loaded: {len(loaded.project.artefacts)}"
    )
    print(f"load only:            {load_s:7.3f} s")
    print(f"check (load + rules): {check_s:7.3f} s  (errors found: {errors})")
    print(f"trace matrix:         {trace_s:7.3f} s  ({len(matrix.rows)} rows)")
    print(f"check / target ({TARGET_SECONDS:.0f} s): {check_s / TARGET_SECONDS:.2f}")


if __name__ == "__main__":
    main()
