"""Adversarial attacks (FGSM, PGD through ART) on a tiny seeded torch model."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
art = pytest.importorskip("art")

from amlas.checks._adversarial import (  # noqa: E402
    ADVERSARIAL_PERTURBATIONS,
    adversarial_examples,
    adversarial_predictions,
)
from amlas.errors import UsageError  # noqa: E402
from amlas.project.artefacts import Perturbation  # noqa: E402

CLASSES = 3
FEATURES = 6
RANGE = (0.0, 1.0)
EPS = 0.15


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny tensors gain nothing from more threads, and spinning threads on a busy 2-core
    machine can make these tests many times slower; the setting is restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    """300 samples in [0, 1]^6 around three seeded centres, one class each."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, CLASSES, 300)
    centres = rng.uniform(0.2, 0.8, (CLASSES, FEATURES))
    x = np.clip(centres[labels] + rng.normal(0.0, 0.07, (300, FEATURES)), *RANGE)
    return x.astype(np.float32), labels


@pytest.fixture(scope="module")
def model(data: tuple[np.ndarray, np.ndarray]) -> Any:
    """A 6-32-3 MLP trained for 150 full-batch Adam steps: every sample is learnt."""
    x, y = data
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Linear(FEATURES, 32), torch.nn.Tanh(), torch.nn.Linear(32, CLASSES)
        )
        optimiser = torch.optim.Adam(net.parameters(), lr=0.03)
        inputs, targets = torch.from_numpy(x), torch.from_numpy(y)
        for _ in range(150):
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(net(inputs), targets).backward()
            optimiser.step()
        optimiser.zero_grad(set_to_none=True)
    net.eval()
    return net


def attack(
    model: Any,
    data: tuple[np.ndarray, np.ndarray],
    kind: str,
    eps: float = EPS,
    **options: Any,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    x, y = data
    fields = {
        k: options.pop(k)
        for k in ("norm", "steps", "step_size", "restarts", "unit")
        if k in options
    }
    perturbation = Perturbation(kind=kind, magnitude=eps, **fields)
    kwargs: dict[str, Any] = {"classes": CLASSES, "value_range": RANGE, "seed": 11}
    kwargs.update(options)
    return adversarial_examples(model, x, y, perturbation, **kwargs)


def clean_decisions(model: Any, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).argmax(dim=1).numpy()


def test_pgd_is_at_least_as_strong_as_fgsm(model: Any, data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    clean = float(np.mean(clean_decisions(model, x) == y))
    _, fgsm, _ = attack(model, data, "fgsm")
    _, pgd, _ = attack(model, data, "pgd")
    fgsm_accuracy, pgd_accuracy = float(np.mean(fgsm == y)), float(np.mean(pgd == y))
    assert clean == 1.0
    # strict on this data: the attacks move samples, and 20 PGD steps find more than one
    assert pgd_accuracy < fgsm_accuracy < clean
    assert fgsm_accuracy < 0.6


def test_decisions_equal_the_module_on_the_adversarial_inputs(
    model: Any, data: tuple[np.ndarray, np.ndarray]
) -> None:
    adversarial, decided, _ = attack(model, data, "pgd")
    np.testing.assert_array_equal(decided, clean_decisions(model, adversarial))
    only, _ = adversarial_predictions(
        model,
        data[0],
        data[1],
        Perturbation(kind="pgd", magnitude=EPS),
        classes=CLASSES,
        value_range=RANGE,
        seed=11,
    )
    np.testing.assert_array_equal(only, decided)


@pytest.mark.parametrize("kind", sorted(ADVERSARIAL_PERTURBATIONS))
def test_a_tiny_budget_gives_the_clean_predictions(
    model: Any, data: tuple[np.ndarray, np.ndarray], kind: str
) -> None:
    adversarial, decided, described = attack(model, data, kind, eps=1e-6)
    np.testing.assert_array_equal(decided, clean_decisions(model, data[0]))
    assert described["perturbation_norm"]["max"] <= 1e-6 + 1e-7
    assert np.abs(adversarial - data[0]).max() <= 1e-6 + 1e-7


def _norms(delta: np.ndarray, norm: str) -> np.ndarray:
    flat = delta.reshape(len(delta), -1).astype(np.float64)
    return np.abs(flat).max(axis=1) if norm == "linf" else np.sqrt((flat**2).sum(axis=1))


@pytest.mark.parametrize("kind", sorted(ADVERSARIAL_PERTURBATIONS))
@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_the_budget_is_respected_in_its_norm(
    model: Any, data: tuple[np.ndarray, np.ndarray], kind: str, norm: str
) -> None:
    x, _ = data
    eps = 0.2
    adversarial, _, described = attack(model, data, kind, eps=eps, norm=norm)
    sizes = _norms(adversarial - x, norm)
    tolerance = 4 * np.finfo(np.float32).eps * (1.0 if norm == "linf" else np.sqrt(FEATURES))
    assert sizes.max() <= eps + tolerance
    assert described["norm"] == norm
    assert described["eps"] == eps
    measured = described["perturbation_norm"]
    assert measured["norm"] == norm
    assert measured["max"] == pytest.approx(sizes.max(), abs=1e-12)
    assert measured["mean"] == pytest.approx(sizes.mean(), rel=1e-9)
    assert measured["max"] <= eps + tolerance
    # the attacks use their budget: most samples are moved close to its edge
    assert np.median(sizes) > 0.5 * eps


def test_the_l2_attack_spreads_the_budget(model: Any, data: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = data
    adversarial, _, _ = attack(model, data, "pgd", eps=0.2, norm="l2")
    # an l2 ball of 0.2 allows no single value to move by more than 0.2, and most move less
    assert np.abs(adversarial - x).max() <= 0.2 + 1e-6
    assert np.median(np.abs(adversarial - x).max(axis=1)) < 0.2


def test_value_range_bounds_the_adversarial_inputs(
    model: Any, data: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = data
    assert (x == 0.0).any()  # samples on the edge of the range, where clipping matters
    adversarial, _, described = attack(model, data, "fgsm", eps=0.3)
    assert adversarial.min() >= 0.0
    assert adversarial.max() <= 1.0
    assert described["value_range"] == [0.0, 1.0]
    free, _, described = attack(model, data, "fgsm", eps=0.3, value_range=None)
    assert described["value_range"] is None
    assert free.min() < 0.0 or free.max() > 1.0


def test_same_seed_same_result_other_seed_other_random_starts(
    model: Any, data: tuple[np.ndarray, np.ndarray]
) -> None:
    first = attack(model, data, "pgd", restarts=2, steps=5)
    again = attack(model, data, "pgd", restarts=2, steps=5)
    other = attack(model, data, "pgd", restarts=2, steps=5, seed=12)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert first[2] == again[2]
    assert first[2]["num_random_init"] == 2
    assert not np.array_equal(first[0], other[0])


def test_global_random_states_are_restored(model: Any, data: tuple[np.ndarray, np.ndarray]) -> None:
    np.random.seed(123)
    torch.manual_seed(456)
    expected_np = np.random.random(3)
    expected_torch = torch.rand(3)
    np.random.seed(123)
    torch.manual_seed(456)
    attack(model, data, "pgd", restarts=1, steps=2)
    np.testing.assert_array_equal(np.random.random(3), expected_np)
    assert torch.equal(torch.rand(3), expected_torch)


def test_the_module_is_left_as_it_was(model: Any, data: tuple[np.ndarray, np.ndarray]) -> None:
    first, second = model[0], model[2]
    marker = torch.full_like(first.weight, 0.5)
    first.weight.grad = marker
    second.bias.requires_grad_(False)
    assert second.weight.grad is None
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    try:
        _, decided, _ = attack(model, data, "pgd", steps=3)
        assert model.training
        assert first.weight.requires_grad
        assert not second.bias.requires_grad
        assert first.weight.grad is marker
        assert second.weight.grad is None
        for key, value in model.state_dict().items():
            assert torch.equal(value, before[key])
    finally:
        model.eval()
        first.weight.grad = None
        second.bias.requires_grad_(True)
    assert len(decided) == len(data[0])


def test_offsets_shift_the_decisions(model: Any, data: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = data
    _, plain, described = attack(model, data, "fgsm", eps=1e-6)
    assert described["decision"] == "argmax(logits)"
    _, pushed, described = attack(model, data, "fgsm", eps=1e-6, offsets=np.array([0.0, 0.0, 1e3]))
    assert described["decision"] == "argmax(logits + offsets)"
    assert (pushed == 2).all()
    assert (plain != 2).any()
    per_sample = np.zeros((len(x), CLASSES))
    per_sample[: len(x) // 2, 1] = 1e3
    _, mixed, _ = attack(model, data, "fgsm", eps=1e-6, offsets=per_sample, batch_size=64)
    assert (mixed[: len(x) // 2] == 1).all()
    np.testing.assert_array_equal(mixed[len(x) // 2 :], plain[len(x) // 2 :])


def test_batches_report_progress(model: Any, data: tuple[np.ndarray, np.ndarray]) -> None:
    seen: list[int] = []
    _, decided, described = attack(model, data, "fgsm", batch_size=128, progress=seen.append)
    assert seen == [128, 128, 44]
    assert described["batch_size"] == 128
    _, whole, _ = attack(model, data, "fgsm")
    np.testing.assert_array_equal(decided, whole)  # FGSM has no randomness to batch


def test_described_records_the_attack(model: Any, data: tuple[np.ndarray, np.ndarray]) -> None:
    _, _, pgd = attack(model, data, "pgd", steps=8)
    json.dumps(pgd)
    assert pgd["attack"] == "ProjectedGradientDescent"
    assert pgd["art_version"] == art.__version__
    assert pgd["norm"] == "linf"
    assert pgd["eps"] == EPS
    assert pgd["max_iter"] == 8
    assert pgd["eps_step"] == pytest.approx(2.5 * EPS / 8)
    assert pgd["num_random_init"] == 0
    assert pgd["seed"] == 11
    assert pgd["batch_size"] == 256
    assert pgd["samples"] == 300
    _, _, stepped = attack(model, data, "pgd", step_size=0.01)
    assert stepped["max_iter"] == 20
    assert stepped["eps_step"] == 0.01
    _, _, fgsm = attack(model, data, "fgsm")
    assert fgsm["attack"] == "FastGradientMethod"
    assert (fgsm["max_iter"], fgsm["eps_step"], fgsm["num_random_init"]) == (1, EPS, 0)


def test_relative_budgets_are_fractions_of_the_range(
    model: Any, data: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = data
    scaled = (x * 255.0).astype(np.float32)

    class Scaled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, batch: Any) -> Any:
            return self.inner(batch / 255.0)

    perturbation = Perturbation(kind="pgd", magnitude=EPS * 100, unit="%", step_size=1.0)
    net = Scaled()
    adversarial, decided, described = adversarial_examples(
        net, scaled, y, perturbation, classes=CLASSES, value_range=(0.0, 255.0), seed=11
    )
    np.testing.assert_array_equal(decided, clean_decisions(net, adversarial))
    assert np.mean(decided == y) < 0.6  # the budget is 15% of the range, not 15 / 255
    assert described["eps"] == pytest.approx(EPS * 255.0)
    assert described["eps_step"] == pytest.approx(0.01 * 255.0)
    assert np.abs(adversarial - scaled).max() <= EPS * 255.0 + 1e-3
    assert adversarial.max() <= 255.0


def test_images_in_their_dataset_layout() -> None:
    """uint8 (n, h, w, c) images, a CNN that permutes and scales inside forward()."""

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)
            self.head = torch.nn.Linear(4 * 4 * 4, 2)

        def forward(self, batch: Any) -> Any:
            features = torch.relu(self.conv(batch.permute(0, 3, 1, 2) / 255.0))
            return self.head(features.flatten(1))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        net = Net().eval()
    images = np.random.default_rng(2).integers(0, 256, size=(20, 6, 6, 3), dtype=np.uint8)
    targets = clean_decisions(net, images.astype(np.float32))
    adversarial, decided, described = adversarial_examples(
        net,
        images,
        targets,
        Perturbation(kind="pgd", magnitude=8.0, unit="pixel intensity", steps=4),
        classes=2,
        value_range=(0.0, 255.0),
        seed=3,
    )
    assert adversarial.shape == images.shape
    assert adversarial.dtype == np.float32
    assert adversarial.min() >= 0.0
    assert adversarial.max() <= 255.0
    assert np.abs(adversarial - images).max() <= 8.0 + 1e-4
    assert described["perturbation_norm"]["max"] > 7.0
    np.testing.assert_array_equal(decided, clean_decisions(net, adversarial))


def test_an_empty_dataset_gives_no_decisions(model: Any) -> None:
    decided, described = adversarial_predictions(
        model,
        np.zeros((0, FEATURES), dtype=np.float32),
        np.zeros(0, dtype=np.int64),
        Perturbation(kind="pgd", magnitude=0.1),
        classes=CLASSES,
        value_range=RANGE,
        seed=1,
    )
    assert decided.shape == (0,)
    assert described["perturbation_norm"]["max"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "blur"}, "attacks available: fgsm, pgd"),
        ({"targets": np.full(300, 3)}, r"expected class indices 0\.\.2"),
        ({"targets": np.zeros(299, dtype=np.int64)}, "expected 300 class indices"),
        ({"targets": np.zeros(300)}, "expected 300 class indices"),
        ({"inputs": np.zeros(300, dtype=np.float32)}, r"shape \(n, \*sample_shape\)"),
        ({"offsets": np.zeros(2)}, r"expected \(3,\) or \(300, 3\)"),
        ({"value_range": (0.0, 0.5)}, "outside value_range"),
        ({"value_range": (1.0, 0.0)}, "finite low < high"),
        ({"classes": 4}, r"expected logits of shape \(2, 4\)"),
        ({"classes": 1}, "at least 2"),
        ({"batch_size": 0}, "positive number of samples"),
        ({"seed": -3}, "non-negative integer"),
        ({"unit": "relative", "value_range": None}, "no value_range was given"),
    ],
)
def test_bad_arguments_are_explained(
    model: Any, data: tuple[np.ndarray, np.ndarray], change: dict[str, Any], message: str
) -> None:
    x, y = data
    args: dict[str, Any] = {
        "inputs": x,
        "targets": y,
        "classes": CLASSES,
        "value_range": RANGE,
        "seed": 1,
        "batch_size": 256,
        "offsets": None,
    }
    kind = change.pop("kind", "fgsm")
    unit = change.pop("unit", "")
    args.update(change)
    perturbation = Perturbation(kind=kind, magnitude=0.1, unit=unit)
    inputs, targets = args.pop("inputs"), args.pop("targets")
    with pytest.raises(ValueError, match=message):
        adversarial_predictions(model, inputs, targets, perturbation, **args)


@pytest.mark.parametrize("missing", ["torch", "art"])
def test_a_missing_extra_names_it(
    model: Any, data: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)
    with pytest.raises(UsageError, match=r"pip install 'amlas\[adversarial\]'"):
        attack(model, data, "fgsm")
