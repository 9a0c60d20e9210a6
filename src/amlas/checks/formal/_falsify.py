"""A cheap search for counterexamples before (or instead of) a complete verifier.

For each sample it evaluates, in float64 with :meth:`Network.forward`:

1. the sample ``x0`` itself;
2. a short projected-gradient descent on the margins ``(z_c + o_c) - (z_j + o_j)``
   of up to :data:`TARGETS` classes ``j != c``: given interval margin bounds, only
   classes whose bound is not positive (the others cannot win), the weakest first
   (:data:`STEPS` steps of ``epsilon / 4``: the sign of the gradient for L-inf,
   the normalised gradient for L2; each step projected back into the region); the
   gradients are exact for the piecewise-linear network (backpropagation through the
   layers);
3. a few random points drawn from a generator seeded by ``(seed, sample index)``: corners
   and interior points of the box for L-inf, points on the sphere (clipped into the value
   range) for L2.

Every point lies in the sample's region; any point whose decision differs from ``c`` is a
genuine counterexample. Finding none proves nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from amlas.checks.formal._layers import Array, Relu
from amlas.checks.formal._network import Network
from amlas.checks.formal._region import Region, decide

__all__ = ["SEED", "STEPS", "TARGETS", "Found", "falsify", "gradients"]

SEED = 0
"""Default seed of the random points."""
STEPS = 8
TARGETS = 3
_RANDOM = 4  # random points of each kind per sample
_BATCH_ENTRIES = 2_000_000

Found = tuple[Array, int, str]
"""A counterexample, the decision there, and how it was found."""


def gradients(network: Network, x: Array, cotangents: Array) -> Array:
    """``J(x)^T v`` for each row: the gradient of ``v . z`` at ``x`` (ReLU'(0) = 0)."""
    active: list[NDArray[np.bool_]] = []
    h = x
    for layer in network.layers:
        if isinstance(layer, Relu):
            active.append(h > 0)
        h = layer.apply(h)
    g = cotangents
    for layer in reversed(network.layers):
        g = g * active.pop() if isinstance(layer, Relu) else layer.vjp(g)
    return g


def _step(region: Region, rows: NDArray[np.int64], x: Array, grad: Array, size: float) -> Array:
    mask = region.mask
    grad = np.where(mask, grad, 0.0)
    if region.norm == "linf":
        x = x - size * np.sign(grad)
    else:
        norms = np.sqrt(np.sum(grad.reshape(len(grad), -1) ** 2, axis=1))
        scale = np.where(norms > 0, size / np.where(norms > 0, norms, 1.0), 0.0)
        x = x - grad * scale.reshape((-1,) + (1,) * (grad.ndim - 1))
        delta = (x - region.centre[rows]).reshape(len(x), -1)
        length = np.sqrt(np.sum(delta**2, axis=1))
        shrink = np.minimum(1.0, region.epsilon / np.where(length > 0, length, 1.0))
        x = region.centre[rows] + (x - region.centre[rows]) * shrink.reshape(
            (-1,) + (1,) * (grad.ndim - 1)
        )
    return np.clip(x, region.lower[rows], region.upper[rows])


def _descend(
    network: Network,
    region: Region,
    samples: NDArray[np.int64],
    decisions: NDArray[np.int64],
    offsets: Array,
    margins: Array | None,
    found: dict[int, Found],
) -> None:
    pairs = [(int(i), j) for i in samples for j in _targets(network, int(decisions[i]), margins, i)]
    if not pairs:
        return
    rows = np.array([i for i, _ in pairs], dtype=np.int64)
    targets = np.array([j for _, j in pairs], dtype=np.int64)
    cot = np.zeros((len(pairs), network.outputs))
    cot[np.arange(len(pairs)), decisions[rows]] = 1.0
    cot[np.arange(len(pairs)), targets] -= 1.0
    x = region.centre[rows].copy()
    for step in range(1, STEPS + 1):
        x = _step(region, rows, x, gradients(network, x, cot), region.epsilon / 4)
        decided = decide(network, x, offsets)
        for p in np.flatnonzero(decided != decisions[rows]):
            i = int(rows[p])
            if i not in found and region.outside(i, x[p]) is None:
                found[i] = (
                    x[p].copy(),
                    int(decided[p]),
                    f"gradient step {step} towards class {targets[p]}",
                )


def _targets(network: Network, c: int, margins: Array | None, i: int) -> list[int]:
    if margins is None:
        return [j for j in range(network.outputs) if j != c][:TARGETS]
    order = [int(j) for j in np.argsort(margins[i], kind="stable") if j != c and margins[i, j] <= 0]
    return order[:TARGETS]


def _random_points(region: Region, i: int, seed: int) -> Array:
    rng = np.random.default_rng([seed, i])
    lo, hi, x0 = region.lower[i], region.upper[i], region.centre[i]
    if region.norm == "linf":
        corners = np.where(rng.random((_RANDOM, *x0.shape)) < 0.5, lo, hi)
        inside = lo + (hi - lo) * rng.random((_RANDOM, *x0.shape))
        return np.concatenate([corners, inside])
    directions = np.where(region.mask, rng.standard_normal((2 * _RANDOM, *x0.shape)), 0.0)
    norms = np.sqrt(np.sum(directions.reshape(2 * _RANDOM, -1) ** 2, axis=1))
    norms = np.where(norms > 0, norms, 1.0).reshape((-1,) + (1,) * x0.ndim)
    points: Array = np.clip(x0 + region.epsilon * directions / norms, lo, hi)
    return points


def falsify(
    network: Network,
    region: Region,
    decisions: NDArray[np.int64],
    offsets: Array,
    samples: Sequence[int],
    *,
    margins: Array | None = None,
    seed: int = SEED,
) -> dict[int, Found]:
    """Counterexamples found for some of ``samples`` (indices into the region);
    ``margins`` are :func:`margin_bounds` for all samples, when known."""
    found: dict[int, Found] = {}
    chosen = np.asarray(samples, dtype=np.int64)
    if not len(chosen):
        return found
    size = int(np.prod(network.input_shape)) * max(network.outputs, 2 * _RANDOM)
    step = max(1, _BATCH_ENTRIES // max(size, 1))
    for start in range(0, len(chosen), step):
        part = chosen[start : start + step]
        at_centre = decide(network, region.centre[part], offsets)
        for i, d in zip(part, at_centre, strict=True):
            if d != decisions[i]:
                found[int(i)] = (region.centre[i].copy(), int(d), "the sample itself")
        left = part[[int(i) not in found for i in part]]
        _descend(network, region, left, decisions, offsets, margins, found)
        rest = [int(i) for i in part if int(i) not in found]
        if not rest:
            continue
        points = np.stack([_random_points(region, i, seed) for i in rest])
        per = points.shape[1]
        decided = decide(network, points.reshape(-1, *network.input_shape), offsets).reshape(
            len(rest), per
        )
        for r, i in enumerate(rest):
            hits = np.flatnonzero(decided[r] != decisions[i])
            if len(hits):
                kind = (
                    "random corner"
                    if region.norm == "linf" and hits[0] < _RANDOM
                    else "random point"
                )
                found[i] = (points[r, hits[0]].copy(), int(decided[r, hits[0]]), kind)
    return found
