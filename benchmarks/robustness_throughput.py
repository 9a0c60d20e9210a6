"""What `amlas` adds to a PGD robustness check over calling ART directly.

Generates seeded random 16x16 RGB images (default 2,000, uint8, values 0..255) with a
lighting band each (3 bands), and a small seeded CNN (conv 3->8, pool, conv 8->16, pool,
linear -> 3 classes) that scales and permutes its input inside ``forward``. The targets are
the model's own clean decisions (prediction stability). Two things are timed on the same
images, with the same attack (PGD, linf, eps 0.5 intensity levels, 20 steps of 2.5 eps / 20,
no random start, batches of 256, clipped to 0..255):

- ART alone: ``PyTorchClassifier`` + ``ProjectedGradientDescent.generate`` over the whole
  set, then ``classifier.predict`` on the adversarial images and the stable fraction;
- `amlas`: ``adversarial_predictions`` (batches, seeded RNG, norm measurement) and the
  per-slice verdict of a prediction-stability requirement (``evaluate_requirement``: exact
  Clopper-Pearson bound per lighting band, Holm's correction).

Prints samples/s for both (median of ``--repeat`` runs), the ratio amlas / ART and whether
the two agree on every decision. Target: throughput ratio >= 0.9. Prints figures and
ratios; asserts nothing (machines are noisy).

    .venv/bin/python benchmarks/robustness_throughput.py [--samples N] [--repeat R] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import numpy as np
import torch
from numpy.typing import NDArray

from amlas.adapters import Table
from amlas.checks import Dataset, Predictions, RequirementResult, bind_dataset, evaluate_requirement
from amlas.checks._adversarial import adversarial_predictions
from amlas.project import Manifest, Project
from amlas.project.artefacts import (
    MLComponentDescription,
    MLSafetyRequirement,
    OperatingEnvironment,
    VerificationData,
)

TARGET_RATIO = 0.9
SEED = 20240715
SIDE = 16
CLASSES = ("car", "cyclist", "pedestrian")
LIGHTING = ("day", "dusk", "night")
VALUE_RANGE = (0.0, 255.0)
EPS = 0.5  # intensity levels: a random-weight CNN is fragile, larger budgets break it all
BATCH_SIZE = 256

T = TypeVar("T")
P = ParamSpec("P")


class SmallCNN(torch.nn.Module):
    """(n, 16, 16, 3) images in 0..255 -> logits of 3 classes; seeded weights, with the
    output bias centred so that every class is common on random images."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.conv2 = torch.nn.Conv2d(8, 16, 3, padding=1)
            self.head = torch.nn.Linear(16 * (SIDE // 4) ** 2, len(CLASSES))
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.permute(0, 3, 1, 2) / 127.5 - 1.0
        h = torch.nn.functional.max_pool2d(torch.relu(self.conv1(h)), 2)
        h = torch.nn.functional.max_pool2d(torch.relu(self.conv2(h)), 2)
        logits: torch.Tensor = self.head(h.flatten(1))
        return logits

    def centre(self, images: NDArray[np.uint8]) -> None:
        with torch.no_grad():
            logits = self(torch.from_numpy(images.astype(np.float32)))
            self.head.bias.sub_(logits.median(dim=0).values)


def generate(n: int, seed: int) -> tuple[Table, NDArray[np.uint8]]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, SIDE, SIDE, 3), dtype=np.uint8)
    columns: dict[str, NDArray[np.generic]] = {
        "id": np.char.add("img-", np.arange(n).astype(np.str_)),
        "label": np.array(CLASSES, dtype=np.str_)[rng.integers(0, len(CLASSES), n)],
        "lighting": np.array(LIGHTING, dtype=np.str_)[rng.integers(0, len(LIGHTING), n)],
    }
    return Table(columns, "0" * 64, "synthetic", arrays={"image": images}), images


def build_project(steps: int) -> tuple[Project, MLSafetyRequirement]:
    environment = OperatingEnvironment.model_validate(
        {
            "artefact": "B",
            "version": "1",
            "description": "synthetic operating domain",
            "dimensions": [
                {
                    "id": "lighting",
                    "name": "lighting",
                    "kind": "categorical",
                    "values": list(LIGHTING),
                    "column": "lighting",
                }
            ],
        }
    )
    component = MLComponentDescription.model_validate(
        {
            "artefact": "D",
            "version": "1",
            "name": "cnn",
            "task": "multiclass_classification",
            "description": "synthetic image classifier",
            "classes": [{"name": c, "description": c} for c in CLASSES],
            "inputs": {
                "kind": "image",
                "shape": [SIDE, SIDE, 3],
                "value_range": list(VALUE_RANGE),
            },
            "outputs": {"kind": "class_probabilities"},
        }
    )
    data = VerificationData.model_validate(
        {
            "artefact": "P",
            "version": "1",
            "description": "synthetic verification images",
            "location": "data/P",
            "format": "npz",
            "label_column": "label",
            "id_column": "id",
            "source": "generated",
        }
    )
    manifest = Manifest.model_validate({"amlas": 1, "name": "throughput", "component": "cnn"})
    project = Project(Path("."), manifest, artefacts={"B": environment, "D": component, "P": data})
    requirement = MLSafetyRequirement.model_validate(
        {
            "id": "MLR-PGD",
            "text": "decisions stable under PGD of half an intensity level, per lighting band",
            "kind": "robustness",
            "metric": "prediction_stability",
            "threshold": 0.6,
            "confidence": 0.95,
            "applies_to": {"per": ["lighting"]},
            "perturbation": {
                "kind": "pgd",
                "magnitude": EPS,
                "unit": "pixel intensity",
                "norm": "linf",
                "steps": steps,
            },
        }
    )
    return project, requirement


def timed(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> tuple[float, T]:
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="images (default 2,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (median)")
    parser.add_argument("--quick", action="store_true", help="400 images, 10 steps, 1 run")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    n, repeat, steps = args.samples, max(1, args.repeat), 20
    if args.quick:
        n, repeat, steps = min(n, 400), 1, 10
    if n < 1:
        parser.error("--samples must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)

    from art import __version__ as art_version
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    table, images = generate(n, SEED)
    model = SmallCNN(SEED)
    model.centre(images[:512])
    project, requirement = build_project(steps)
    dataset: Dataset = bind_dataset(project, "P", table)
    perturbation = requirement.perturbation
    assert perturbation is not None
    x = images.astype(np.float32)
    with torch.no_grad():
        targets = model(torch.from_numpy(x)).argmax(dim=1).numpy()
    names = np.array(CLASSES, dtype=np.str_)
    predictions = Predictions(names[targets], None, CLASSES, None, None, np.zeros(n, dtype=bool))
    eps_step = 2.5 * EPS / steps

    def art_alone() -> NDArray[np.int64]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            classifier = PyTorchClassifier(
                model=model,
                loss=torch.nn.CrossEntropyLoss(),
                input_shape=x.shape[1:],
                nb_classes=len(CLASSES),
                clip_values=VALUE_RANGE,
                device_type="cpu",
            )
            attack = ProjectedGradientDescent(
                classifier,
                norm=np.inf,
                eps=EPS,
                eps_step=eps_step,
                max_iter=steps,
                num_random_init=0,
                batch_size=BATCH_SIZE,
                verbose=False,
            )
            adversarial = attack.generate(x=x, y=np.eye(len(CLASSES))[targets])
            decided: NDArray[np.int64] = classifier.predict(
                adversarial, batch_size=BATCH_SIZE
            ).argmax(axis=1)
        model.zero_grad(set_to_none=True)  # ART leaves weight gradients behind
        return decided

    def through_amlas() -> tuple[NDArray[np.int64], RequirementResult]:
        decided, described = adversarial_predictions(
            model,
            images,
            targets,
            perturbation,
            classes=len(CLASSES),
            value_range=VALUE_RANGE,
            seed=SEED,
            batch_size=BATCH_SIZE,
        )
        result = evaluate_requirement(
            requirement,
            dataset,
            predictions,
            classes=list(CLASSES),
            perturbed=names[decided],
            perturbation=described,
        )
        return decided, result

    art_alone()  # warm-up: lazy imports, thread pools, allocator
    through_amlas()
    art_s: list[float] = []
    amlas_s: list[float] = []
    art_decided: NDArray[np.int64] | None = None
    amlas_out: tuple[NDArray[np.int64], RequirementResult] | None = None
    for _ in range(repeat):  # interleaved, so drifting machine load hits both alike
        seconds, art_decided = timed(art_alone)
        art_s.append(seconds)
        seconds, amlas_out = timed(through_amlas)
        amlas_s.append(seconds)
    assert art_decided is not None
    assert amlas_out is not None
    amlas_decided, result = amlas_out

    art_rate = n / statistics.median(art_s)
    amlas_rate = n / statistics.median(amlas_s)
    stable = float(np.mean(art_decided == targets))
    agree = float(np.mean(art_decided == amlas_decided))
    print(
        f"images: {n} x {SIDE}x{SIDE}x3, PGD linf eps {EPS:g}, {steps} steps of {eps_step:g}, "
        f"batch {BATCH_SIZE}, torch threads {torch.get_num_threads()}, ART {art_version}, "
        f"runs {repeat}"
    )
    print(f"ART generate + predict:        {art_rate:9.1f} samples/s  (median {spread(art_s)})")
    print(f"amlas attack + slice verdict:  {amlas_rate:9.1f} samples/s  (median {spread(amlas_s)})")
    print(f"throughput amlas / ART: {amlas_rate / art_rate:.2f}  (target >= {TARGET_RATIO})")
    print(f"stable under PGD: {stable:.3f}; decisions agreeing between the two: {agree:.4f}")
    for s in result.slices:
        print(
            f"  {s.slice:<16} {s.verdict:<12} {s.successes}/{s.trials} stable, "
            f"lower bound {s.lower:.3f} vs {s.threshold:g}"
        )


def spread(seconds: list[float]) -> str:
    text = f"{statistics.median(seconds):.3f} s"
    if len(seconds) > 1:
        text += f", {min(seconds):.3f} .. {max(seconds):.3f}"
    return text


if __name__ == "__main__":
    main()
