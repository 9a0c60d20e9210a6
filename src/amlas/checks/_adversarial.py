"""Adversarial perturbations declared in [H] (FGSM, PGD), for robustness requirements,
computed with the Adversarial Robustness Toolbox (ART) on a PyTorch module.

The module maps float32 inputs of the dataset's layout ``(n, *sample_shape)`` to logits
``(n, classes)``. Each sample is attacked away from its target class (the true label for
robust accuracy, the model's own decision for prediction stability), untargeted, with the
cross-entropy loss of the logits, inside a budget ``eps`` in the perturbation's norm
(``linf`` by default, or ``l2``, over all the values of one sample):

- ``fgsm``: ART ``FastGradientMethod``: one step of size ``eps`` from the clean input along
  the sign of the loss gradient (linf) or the normalised gradient (l2); ``steps``,
  ``step_size`` and ``restarts`` apply to PGD only and are recorded as 1, ``eps`` and 0.
- ``pgd``: ART ``ProjectedGradientDescent``: ``max_iter = steps`` (default 20) steps of
  size ``eps_step = step_size`` (default ``2.5 eps / max_iter``), each projected back onto
  the ``eps`` ball; ``num_random_init = restarts`` (0: one run from the clean input; k > 0:
  k runs from random starts in the ball, a sample keeping the last run that changes its
  decision, or the first run when none does).

``eps`` and ``step_size`` are in input units (e.g. pixel intensity), or fractions of the
valid range ``high - low`` with ``unit: relative`` (``%``: percentages). With a
``value_range`` every adversarial input stays inside it (ART ``clip_values``). The decision
on an adversarial input is ``argmax(logits + offsets)``; ``offsets`` (per class, or per
sample and class) let the caller reproduce a decision rule such as a threshold, while the
attack itself climbs the plain cross-entropy.

Runs are deterministic for a seed: numpy's global generator (ART draws its random starts
from it) and torch's are seeded inside a context that restores both afterwards. The module
is attacked on the CPU (ART ``device_type="cpu"``) in eval mode with its parameters
frozen (no weight gradients are computed); its training flags, ``requires_grad`` and
``.grad`` are restored when the attack ends.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from amlas.errors import MissingExtraError, ValueProblem
from amlas.project.artefacts import Perturbation

if TYPE_CHECKING:
    import torch

__all__ = ["ADVERSARIAL_PERTURBATIONS", "adversarial_examples", "adversarial_predictions"]

ADVERSARIAL_PERTURBATIONS = frozenset({"fgsm", "pgd"})
DEFAULT_STEPS = 20
_ART_NAMES = {"fgsm": "FastGradientMethod", "pgd": "ProjectedGradientDescent"}
_RELATIVE = {"relative", "fraction", "%", "percent"}
_PERCENT = {"%", "percent"}


def adversarial_predictions(
    module: torch.nn.Module,
    inputs: NDArray[Any],
    targets: NDArray[np.integer[Any]],
    perturbation: Perturbation,
    *,
    classes: int,
    value_range: tuple[float, float] | None,
    seed: int,
    batch_size: int = 256,
    offsets: NDArray[np.floating[Any]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[NDArray[np.int64], dict[str, Any]]:
    """The class decided on each sample's adversarial input, and a description of exactly
    what was done (attack, ART version, norm, budget, steps, seed, measured perturbation
    norms), for the evidence record.

    ``progress`` is called after each batch with the number of samples in that batch.
    Raises ``UsageError`` when torch or ART is missing and ``ValueError`` for arguments
    the attack cannot use.
    """
    decided, _, described = _attack(
        module,
        inputs,
        targets,
        perturbation,
        classes=classes,
        value_range=value_range,
        seed=seed,
        batch_size=batch_size,
        offsets=offsets,
        progress=progress,
        keep=False,
    )
    return decided, described


def adversarial_examples(
    module: torch.nn.Module,
    inputs: NDArray[Any],
    targets: NDArray[np.integer[Any]],
    perturbation: Perturbation,
    *,
    classes: int,
    value_range: tuple[float, float] | None,
    seed: int,
    batch_size: int = 256,
    offsets: NDArray[np.floating[Any]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.int64], dict[str, Any]]:
    """As :func:`adversarial_predictions`, also returning the adversarial inputs themselves
    (float32, the shape of ``inputs``), for review or for tests. Holds them all in memory."""
    decided, adversarial, described = _attack(
        module,
        inputs,
        targets,
        perturbation,
        classes=classes,
        value_range=value_range,
        seed=seed,
        batch_size=batch_size,
        offsets=offsets,
        progress=progress,
        keep=True,
    )
    assert adversarial is not None
    return adversarial, decided, described


def _attack(
    module: torch.nn.Module,
    inputs: NDArray[Any],
    targets: NDArray[np.integer[Any]],
    perturbation: Perturbation,
    *,
    classes: int,
    value_range: tuple[float, float] | None,
    seed: int,
    batch_size: int,
    offsets: NDArray[np.floating[Any]] | None,
    progress: Callable[[int], None] | None,
    keep: bool,
) -> tuple[NDArray[np.int64], NDArray[np.float32] | None, dict[str, Any]]:
    torch, art = _import()
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    if perturbation.kind not in ADVERSARIAL_PERTURBATIONS:
        raise ValueProblem(
            f"perturbation {perturbation.kind!r} is not an adversarial attack; "
            f"attacks available: {', '.join(sorted(ADVERSARIAL_PERTURBATIONS))}",
            code="R030",
            path="[H]",
            value=perturbation.kind,
        )
    x_all, y_all, shift, clip = _checked(
        inputs, targets, classes, value_range, seed, batch_size, offsets
    )
    params = _parameters(perturbation, clip)
    n = len(x_all)
    described: dict[str, Any] = {
        "kind": perturbation.kind,
        "attack": _ART_NAMES[perturbation.kind],
        "library": "adversarial-robustness-toolbox",
        "art_version": str(art.__version__),
        "magnitude": perturbation.magnitude,
        "unit": perturbation.unit,
        **params,
        "targeted": False,
        "loss": "cross-entropy of the logits",
        "value_range": None if clip is None else list(clip),
        "seed": int(seed),
        "batch_size": batch_size,
        "decision": "argmax(logits + offsets)" if shift is not None else "argmax(logits)",
        "samples": n,
    }
    decided = np.zeros(n, dtype=np.int64)
    adversarial = np.empty(x_all.shape, dtype=np.float32) if keep else None
    norm_max, norm_sum = 0.0, 0.0
    if n == 0:
        described["perturbation_norm"] = {"norm": params["norm"], "max": None, "mean": None}
        return decided, adversarial, described

    with _quiet_module(module), _seeded(torch, seed), warnings.catch_warnings():
        # ART warns about its own configuration choices; none of them changes the result
        warnings.simplefilter("ignore")
        _probe(torch, module, x_all[: min(2, n)], classes)
        classifier = PyTorchClassifier(
            model=module,
            loss=torch.nn.CrossEntropyLoss(),
            input_shape=tuple(x_all.shape[1:]),
            nb_classes=classes,
            clip_values=clip,
            device_type="cpu",
        )
        norm = np.inf if params["norm"] == "linf" else 2
        attack: Any
        if perturbation.kind == "fgsm":
            attack = FastGradientMethod(
                classifier,
                norm=norm,
                eps=params["eps"],
                eps_step=params["eps"],
                targeted=False,
                num_random_init=0,
                batch_size=batch_size,
            )
        else:
            attack = ProjectedGradientDescent(
                classifier,
                norm=norm,
                eps=params["eps"],
                eps_step=params["eps_step"],
                max_iter=params["max_iter"],
                targeted=False,
                num_random_init=params["num_random_init"],
                batch_size=batch_size,
                verbose=False,
            )
        eye = np.eye(classes, dtype=np.float32)
        for start in range(0, n, batch_size):
            x = np.ascontiguousarray(x_all[start : start + batch_size], dtype=np.float32)
            y = eye[y_all[start : start + batch_size]]
            x_adv = np.asarray(attack.generate(x=x, y=y), dtype=np.float32)
            with torch.no_grad():
                logits = module(torch.from_numpy(x_adv)).detach().cpu().numpy()
            scores = logits.astype(np.float64)
            if shift is not None:
                scores = scores + (shift if shift.ndim == 1 else shift[start : start + len(x)])
            decided[start : start + len(x)] = np.argmax(np.nan_to_num(scores, nan=-np.inf), axis=1)
            sizes = _norms(x_adv, x, params["norm"])
            norm_max = max(norm_max, float(sizes.max()))
            norm_sum += float(sizes.sum())
            if adversarial is not None:
                adversarial[start : start + len(x)] = x_adv
            if progress is not None:
                progress(len(x))
    described["perturbation_norm"] = {
        "norm": params["norm"],
        "max": norm_max,
        "mean": norm_sum / n,
        "measured": "||x_adv - x|| per sample, over all its values",
    }
    return decided, adversarial, described


def _import() -> tuple[Any, Any]:
    try:
        import torch
    except ImportError:
        raise MissingExtraError("adversarial attacks need torch", "adversarial") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import art
            import art.attacks.evasion
            import art.estimators.classification
    except ImportError:
        raise MissingExtraError(
            "adversarial attacks need the Adversarial Robustness Toolbox", "adversarial"
        ) from None
    return torch, art


def _checked(
    inputs: NDArray[Any],
    targets: NDArray[np.integer[Any]],
    classes: int,
    value_range: tuple[float, float] | None,
    seed: int,
    batch_size: int,
    offsets: NDArray[np.floating[Any]] | None,
) -> tuple[NDArray[Any], NDArray[np.int64], NDArray[np.float64] | None, tuple[float, float] | None]:
    """Validate the arguments; return the inputs, targets, offsets and clip range to use."""
    if isinstance(classes, bool) or not isinstance(classes, (int, np.integer)) or classes < 2:
        raise ValueError(f"classes={classes!r}; expected the number of classes, at least 2")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ValueError(f"batch_size={batch_size!r}; expected a positive number of samples")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}; expected a positive number of samples")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r}; expected a non-negative integer")
    x = np.asarray(inputs)
    if x.ndim < 2 or not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise ValueProblem(
            f"inputs of shape {x.shape} and dtype {x.dtype}; expected real numbers of shape "
            "(n, *sample_shape)",
            code="R011",
            value=x.shape,
        )
    y = np.asarray(targets)
    if y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"targets of shape {y.shape} and dtype {y.dtype}; expected {len(x)} class "
            "indices (integers), one per input"
        )
    if len(y) and (y.min() < 0 or y.max() >= classes):
        raise ValueError(
            f"targets range over {int(y.min())}..{int(y.max())}; expected class indices "
            f"0..{classes - 1}"
        )
    if len(x) and not np.isfinite(x).all():
        raise ValueProblem(
            "inputs hold NaN or infinite values; an attack needs finite inputs", code="R013"
        )
    clip: tuple[float, float] | None = None
    if value_range is not None:
        try:
            low, high = (float(v) for v in value_range)
        except (TypeError, ValueError):
            raise ValueProblem(
                f"value_range={value_range!r}; expected two numbers (low, high) or None",
                code="R030",
                value=value_range,
            ) from None
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueProblem(
                f"value_range={value_range!r}; expected finite low < high",
                code="R030",
                value=value_range,
            )
        if len(x) and (float(x.min()) < low or float(x.max()) > high):
            raise ValueProblem(
                f"inputs range over {float(x.min()):g}..{float(x.max()):g}, outside "
                f"value_range {value_range!r}; the attack would move them beyond its budget",
                code="R030",
                value=value_range,
            )
        clip = (low, high)
    shift: NDArray[np.float64] | None = None
    if offsets is not None:
        shift = np.asarray(offsets, dtype=np.float64)
        if shift.shape not in ((classes,), (len(x), classes)):
            raise ValueError(
                f"offsets of shape {shift.shape}; expected ({classes},) or ({len(x)}, {classes})"
            )
        if not np.isfinite(shift).all():
            raise ValueError("offsets hold NaN or infinite values; expected finite numbers")
    return x, y.astype(np.int64), shift, clip


def _parameters(perturbation: Perturbation, clip: tuple[float, float] | None) -> dict[str, Any]:
    """The attack's norm, budget and steps, resolved in input units."""
    unit = perturbation.unit.strip().lower()
    scale = 1.0
    if unit in _RELATIVE:
        if clip is None:
            raise ValueProblem(
                f"{perturbation.kind} magnitude in unit {perturbation.unit!r} is a fraction "
                "of the input range, but no value_range was given",
                code="R030",
                path="[H]",
                value=perturbation.unit,
            )
        scale = (clip[1] - clip[0]) / (100.0 if unit in _PERCENT else 1.0)
    eps = perturbation.magnitude * scale
    norm = perturbation.norm or "linf"
    if perturbation.kind == "fgsm":
        return {
            "norm": norm,
            "eps": eps,
            "eps_step": eps,
            "max_iter": 1,
            "num_random_init": 0,
        }
    steps = perturbation.steps or DEFAULT_STEPS
    if perturbation.step_size is not None:
        step = perturbation.step_size * scale
        step_rule = "step_size"
    else:
        step = 2.5 * eps / steps
        step_rule = "2.5 x eps / max_iter"
    return {
        "norm": norm,
        "eps": eps,
        "eps_step": step,
        "eps_step_rule": step_rule,
        "max_iter": steps,
        "num_random_init": perturbation.restarts,
    }


def _probe(torch: Any, module: torch.nn.Module, x: NDArray[Any], classes: int) -> None:
    """Fail early, with the shapes, when the module does not give (n, classes) logits."""
    with torch.no_grad():
        out = module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    shape = tuple(getattr(out, "shape", ()))
    if shape != (len(x), classes):
        raise ValueProblem(
            f"the module maps inputs of shape {x.shape} to {type(out).__name__} of shape "
            f"{shape}; expected logits of shape ({len(x)}, {classes})",
            code="R021",
            path="[V]",
            value=shape,
        )


def _norms(x_adv: NDArray[np.float32], x: NDArray[np.float32], norm: str) -> NDArray[np.float64]:
    delta = (x_adv.astype(np.float64) - x.astype(np.float64)).reshape(len(x), -1)
    if norm == "linf":
        sizes: NDArray[np.float64] = np.abs(delta).max(axis=1)
    else:
        sizes = np.sqrt(np.square(delta).sum(axis=1))
    return sizes


@contextmanager
def _seeded(torch: Any, seed: int) -> Iterator[None]:
    """Seed numpy's global generator and torch's; restore both on exit."""
    state = np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        np.random.seed(np.random.SeedSequence(int(seed)).generate_state(4))
        torch.manual_seed(int(seed) % (1 << 64))
        try:
            yield
        finally:
            np.random.set_state(state)


@contextmanager
def _quiet_module(module: torch.nn.Module) -> Iterator[None]:
    """Eval mode and frozen parameters for the attack; every flag and gradient restored."""
    modes = [(m, m.training) for m in module.modules()]
    params = [(p, p.requires_grad, p.grad) for p in module.parameters()]
    module.eval()
    for p, _, _ in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode
        for p, requires, grad in params:
            p.requires_grad_(requires)
            p.grad = grad
