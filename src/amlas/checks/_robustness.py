"""Perturbations of tabular inputs declared in [H], for robustness requirements.

- ``measurement_noise`` / ``gaussian_noise``: independent Gaussian noise per value; with
  ``unit: relative`` (or ``%``) the standard deviation is a fraction of each value
  (``x * (1 + m z)``), otherwise it is absolute in the feature's unit (``x + m z``).
- ``scaling``: every listed feature multiplied by the factor ``m`` and, separately, by
  ``1/m`` (with ``unit: relative`` or ``%``, the factor is ``1 + m``); a sample counts as
  stable only when neither direction changes its decision.

Noise is drawn from a generator seeded by the requirement's ID, so the same project gives
the same perturbed inputs on every machine. Image and adversarial perturbations (blur,
brightness, FGSM, PGD, ...) live in :mod:`._images` and :mod:`._adversarial`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.errors import ValueProblem
from amlas.project.artefacts import Perturbation

__all__ = ["TABULAR_PERTURBATIONS", "perturb", "perturbation_seed", "stable_predictions"]

TABULAR_PERTURBATIONS = frozenset({"measurement_noise", "gaussian_noise", "scaling"})
_RELATIVE = {"relative", "%", "percent", "fraction"}


def perturbation_seed(requirement_id: str) -> int:
    """A stable seed from the requirement ID (not Python's salted ``hash``)."""
    return int.from_bytes(hashlib.sha256(requirement_id.encode()).digest()[:8], "little")


def perturb(
    inputs: NDArray[np.float64],
    features: list[str],
    perturbation: Perturbation,
    *,
    seed: int,
) -> tuple[list[NDArray[np.float64]], dict[str, Any]]:
    """The perturbed copies of ``inputs`` (one per direction or draw) and a description
    of exactly what was done, for the evidence record.

    Raises ``ValueError`` for a perturbation tabular inputs cannot take, or for listed
    features the model does not use.
    """
    if perturbation.kind not in TABULAR_PERTURBATIONS:
        raise ValueProblem(
            f"perturbation {perturbation.kind!r} needs image or adversarial support; "
            f"tabular inputs take {', '.join(sorted(TABULAR_PERTURBATIONS))}",
            code="R030",
            path="[H]",
            value=perturbation.kind,
        )
    chosen = perturbation.features or features
    unknown = [f for f in chosen if f not in features]
    if unknown:
        raise ValueProblem(
            f"perturbed features {unknown} are not model inputs {features}",
            code="Q011",
            path="[H]",
            value=unknown,
        )
    columns = np.array([features.index(f) for f in chosen], dtype=np.int64)
    relative = perturbation.unit.strip().lower() in _RELATIVE
    percent = perturbation.unit.strip().lower() in ("%", "percent")
    magnitude = perturbation.magnitude / (100.0 if percent else 1.0)
    described: dict[str, Any] = {
        "kind": perturbation.kind,
        "magnitude": perturbation.magnitude,
        "unit": perturbation.unit,
        "features": list(chosen),
    }
    if perturbation.kind == "scaling":
        factor = 1.0 + magnitude if relative else magnitude
        copies = [_scaled(inputs, columns, factor), _scaled(inputs, columns, 1.0 / factor)]
        described.update(factors=[factor, 1.0 / factor], stable_when="unchanged under both")
        return copies, described
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((inputs.shape[0], len(columns)))
    copy = inputs.copy()
    if relative:
        copy[:, columns] *= 1.0 + magnitude * noise
    else:
        copy[:, columns] += magnitude * noise
    described.update(
        model="x * (1 + m z)" if relative else "x + m z",
        z="standard normal, one draw per value",
        seed=seed,
        generator="numpy PCG64",
    )
    return [copy], described


def _scaled(
    inputs: NDArray[np.float64], columns: NDArray[np.int64], factor: float
) -> NDArray[np.float64]:
    copy = inputs.copy()
    copy[:, columns] *= factor
    return copy


def stable_predictions(
    decide: Callable[[NDArray[Any]], NDArray[np.str_]],
    copies: Sequence[NDArray[Any]],
    reference: NDArray[np.str_],
) -> NDArray[np.str_]:
    """The decision under perturbation per sample: the reference decision when every
    copy agrees with it, otherwise the first differing decision."""
    result = reference.copy()
    changed = np.zeros(len(reference), dtype=bool)
    for copy in copies:
        decided = decide(copy)
        differs = (decided != reference) & ~changed
        result[differs] = decided[differs]
        changed |= differs
    return result
