"""The mini project of ``tests/factory.py`` as an image classifier with a torch network whose
robustness is known in closed form.

Every sample is a 4x4 grey image of one flat intensity plus a fixed pattern: hands
(``positive``) lie in 140..240, widgets (``negative``) in 20..120. The network is

    h = relu([mean - 128, 128 - mean]);  logits = [h2, h1]   (class_order: negative, positive)

so its decision is ``mean >= 128`` and a sample of mean ``m`` keeps its decision under any
change of less than ``|m - 128|`` per pixel (L-inf): the robust radius of every sample is
known (:func:`radius`), which the formal, adversarial and perturbation tests compare with.
"""

from __future__ import annotations

import hashlib
import io
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from factory import DATA, DATA_FILE, documents, write_project
from runnable import rows

NET_SOURCE = '''"""The closed-form network of tests/torch_project.py."""

from pathlib import Path

import torch
from torch import nn


def build():
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 2), nn.ReLU(), nn.Linear(2, 2))
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[1 / 16] * 16, [-1 / 16] * 16]))
        net[1].bias.copy_(torch.tensor([-128.0, 128.0]))
        net[3].weight.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
        net[3].bias.zero_()
    return net


def load():
    net = build()
    weights = Path(__file__).parent / "model" / "weights.pt"
    net.load_state_dict(torch.load(weights, weights_only=True))
    return net.eval()
'''

PATTERN = np.array([[-3, 3, -3, 3], [3, -3, 3, -3], [-3, 3, -3, 3], [3, -3, 3, -3]])


def images(letter: str) -> np.ndarray:
    """One flat intensity per sample plus a checker pattern and, in the last pixel, the
    sample's index (so no two samples of the three datasets are equal)."""
    out = []
    for i, (_, label, _) in enumerate(rows(letter)):
        offset = (i * 37 + ord(letter)) % 101 - 50
        image = (190 if label == "positive" else 70) + offset + PATTERN
        image[3, 3] += i % 50
        out.append(image)
    return np.clip(np.array(out), 0, 255).astype(np.uint8)[..., None]


def radius(letter: str) -> np.ndarray:
    """The robust L-inf radius of every sample: |mean - 128|."""
    return np.abs(images(letter).reshape(-1, 16).mean(axis=1) - 128.0)


def _npz(letter: str) -> bytes:
    table = rows(letter)
    lines = DATA[letter].decode().strip().splitlines()[1:]
    lighting = [line.split(",")[3] for line in lines]
    buffer = io.BytesIO()
    np.savez(
        buffer,
        sample_id=np.array([r[0] for r in table]),
        label=np.array([r[1] for r in table]),
        size_mm=np.array([r[2] for r in table]),
        lighting=np.array(lighting),
        image=images(letter),
    )
    return buffer.getvalue()


def image_project(
    root: Path,
    requirements: list[dict[str, Any]] | None = None,
    *,
    edit: Callable[[dict[str, Any]], None] | None = None,
    files: dict[str, str] | None = None,
) -> Path:
    """Write the project; ``requirements`` replace the [H] requirements (and [AA]'s lists),
    ``edit`` may change any artefact before writing, ``files`` adds files (path -> text)."""
    import torch

    docs = documents()
    docs["D"]["inputs"] = {"kind": "image", "shape": [4, 4, 1], "value_range": [0, 255]}
    use_requirements(docs, requirements or default_requirements())
    if edit is not None:
        edit(docs)
    namespace: dict[str, Any] = {}
    exec(compile(NET_SOURCE, "net.py", "exec"), namespace)
    buffer = io.BytesIO()
    torch.save(namespace["build"]().state_dict(), buffer)
    weights = buffer.getvalue()
    docs["V"].update(
        format="torch",
        callable="net:load",
        location="model/weights.pt",
        sha256=hashlib.sha256(weights).hexdigest(),
        framework={"name": "torch", "version": str(torch.__version__)},
    )
    data = {letter: _npz(letter) for letter in ("N", "O", "P")}
    for letter, content in data.items():
        docs[letter].update(
            location=DATA_FILE[letter].replace(".csv", ".npz"),
            format="npz",
            sha256=hashlib.sha256(content).hexdigest(),
        )
    write_project(root, docs)
    for letter, content in data.items():
        (root / DATA_FILE[letter]).unlink()
        (root / DATA_FILE[letter].replace(".csv", ".npz")).write_bytes(content)
    (root / "model" / "model.bin").unlink()
    (root / "model" / "weights.pt").write_bytes(weights)
    (root / "net.py").write_text(NET_SOURCE, encoding="utf-8")
    for relative, text in (files or {}).items():
        (root / relative).write_text(text, encoding="utf-8")
    return root


def use_requirements(docs: dict[str, Any], requirements: list[dict[str, Any]]) -> None:
    """Replace the [H] requirements of ``docs`` and every list that names them."""
    docs["H"]["requirements"] = requirements
    ids = [r["id"] for r in requirements]
    formal = [r["id"] for r in requirements if "property" in r]
    docs["J"]["records"][0]["requirements"] = ids
    docs["M"]["arguments"][0]["requirements"] = ids
    for rule in docs["L"]["requirements"]:
        rule["traces_to"] = ids if rule["id"] == "DR-1" else ids[:1]
    docs["AA"]["activities"] = [
        {"id": "VER-1", "requirements": ids, "method": "test", "description": "Run on [P]"}
    ]
    if formal:
        docs["AA"]["activities"].append(
            {
                "id": "VER-2",
                "requirements": formal,
                "method": "formal",
                "description": "Local robustness proofs around samples of [P]",
                "property_encoding": "A per-pixel change of 4 grey levels is sensor noise",
            }
        )


def default_requirements() -> list[dict[str, Any]]:
    base = {"kind": "robustness", "traces_to": ["ALR-1"], "confidence": 0.95}
    return [
        {
            **base,
            "id": "MLR-1",
            "text": "Stable under brightness changes of 5 grey levels",
            "metric": "prediction_stability",
            "threshold": 0.9,
            "perturbation": {"kind": "brightness", "magnitude": 5.0, "unit": "grey level"},
        },
        {
            **base,
            "id": "MLR-2",
            "text": "Correct under PGD of 4 grey levels",
            "metric": "robust_accuracy",
            "threshold": 0.9,
            "perturbation": {"kind": "pgd", "magnitude": 4.0, "norm": "linf", "steps": 5},
        },
        {
            **base,
            "id": "MLR-3",
            "text": "Proven locally robust within 4 grey levels",
            "metric": "verified_robustness",
            "threshold": 0.9,
            "property": {
                "kind": "local_robustness",
                "epsilon": 4.0,
                "samples": 30,
                "timeout_s": 10,
                "encoding": "decision unchanged within 4 grey levels per pixel",
            },
        },
        {
            **base,
            "id": "MLR-4",
            "text": "Accuracy survives single bit flips in the weights",
            "metric": "fault_tolerance_rate",
            "threshold": 0.5,
            "faults": {"kind": "bit_flip", "campaigns": 40, "max_accuracy_loss": 0.05},
        },
    ]


# -- stage 6: a toy press around the network ------------------------------------------

HARNESS = textwrap.dedent(
    '''
    """A toy press: it closes unless the classifier sees a hand; the force limiter BAR-1
    stops it on 19 demands in 20 (decided by the run's own generator)."""

    import numpy as np

    def run(run):
        rng = run.rng
        if run.scenario.id == "SC-2":
            if run.variation % 10 == 0:
                raise RuntimeError("the simulator lost its connection")
            if run.variation % 10 == 1:
                return {"requirements": {"SSR-9": True}}
        hand = bool(rng.random() < 0.5)
        mean = rng.uniform(129, 200) if hand else rng.uniform(20, 127)
        image = np.clip(mean + rng.normal(0, 25, (1, 4, 4, 1)), 0, 255)
        decided = str(run.model.predict(image)[0])
        barriers = {}
        held = True
        if hand and decided != "positive":
            limiter = "failed" if rng.random() < 0.05 else "held"
            barriers["BAR-1"] = limiter
            held = limiter == "held"
        return {"requirements": {"SSR-1": held}, "barriers": barriers}
    '''
)

RECALL = {
    "id": "MLR-9",
    "text": "Recall on hands at least 0.9",
    "kind": "performance",
    "traces_to": ["ALR-1"],
    "metric": "recall",
    "class": "positive",
    "threshold": 0.9,
    "confidence": 0.95,
}


def stage6_edit(variations: int, *, acceptable: float = 0.05) -> Any:
    def edit(docs: dict[str, Any]) -> None:
        docs["A"]["requirements"][0]["acceptable_failure_rate"] = {
            "rate": acceptable,
            "per": "grasp with a hand present",
        }
        docs["EE"]["harness"] = "harness:run"
        docs["EE"]["scenarios"] = [
            {
                "id": "SC-1",
                "name": "Day shift",
                "description": "Hands and widgets under the press",
                "requirements": ["SSR-1"],
                "conditions": {"lighting": "day"},
                "variations": variations,
                "min_pass_rate": 0.9,
            },
            {
                "id": "SC-2",
                "name": "Flaky simulator",
                "description": "The same, with a simulator that drops runs",
                "requirements": ["SSR-1"],
                "variations": 20,
            },
        ]

    return edit


def stage6_project(root: Path, variations: int = 400, acceptable: float = 0.05) -> Path:
    """The project with a recall requirement, the toy press harness and two scenarios."""
    return image_project(
        root,
        [*default_requirements()[:1], RECALL],
        edit=stage6_edit(variations, acceptable=acceptable),
        files={"harness.py": HARNESS},
    )
