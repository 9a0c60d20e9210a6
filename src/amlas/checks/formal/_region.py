"""The input region around one verification sample, and decisions inside it.

For a sample ``x0``, a radius ``epsilon``, a norm, a value range ``[low, high]`` and a mask
of the elements that may vary, the region is::

    linf: { x : |x_i - x0_i| <= epsilon and low <= x_i <= high where mask_i; x_i = x0_i elsewhere }
    l2:   { x : ||x - x0||_2 <= epsilon and low <= x_i <= high where mask_i; x_i = x0_i elsewhere }

Its bounding box (:attr:`Region.lower`, :attr:`Region.upper`) is the same for both norms:
``[max(x0 - epsilon, low), min(x0 + epsilon, high)]`` on masked elements, ``[x0, x0]``
elsewhere. Bound propagation and Marabou work on that box, which contains the L2 ball, so a
proof over the box holds for the ball; a point found in the box may lie outside the ball.

A decision is ``argmax_j (z_j(x) + o_j)`` over the float64 logits ``z`` plus offsets ``o``;
ties go to the lowest index, as numpy's argmax.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from amlas.checks.formal._layers import Array
from amlas.checks.formal._network import Network

__all__ = ["Region", "decide"]

Norm = Literal["linf", "l2"]

# Slack for points returned by a solver: they sit on the region's faces up to rounding.
_SLACK = 1e-9


@dataclass(frozen=True, eq=False)
class Region:
    """The regions of ``n`` samples (see the module doc)."""

    centre: Array
    """``(n, *input_shape)``: the samples."""
    lower: Array
    """``(n, *input_shape)``: the bounding box's lower corner."""
    upper: Array
    """``(n, *input_shape)``: the bounding box's upper corner."""
    epsilon: float
    norm: Norm
    mask: NDArray[np.bool_]
    """``input_shape``: True where an element may vary."""

    @classmethod
    def around(
        cls,
        centre: Array,
        *,
        epsilon: float,
        norm: Norm,
        value_range: tuple[float, float] | None,
        mask: NDArray[np.bool_],
    ) -> Region:
        low, high = value_range if value_range is not None else (-np.inf, np.inf)
        lower = np.where(mask, np.maximum(centre - epsilon, low), centre)
        upper = np.where(mask, np.minimum(centre + epsilon, high), centre)
        return cls(centre, lower, upper, float(epsilon), norm, mask)

    def clip(self, i: int, x: Array) -> Array:
        """``x`` moved into sample ``i``'s bounding box."""
        return np.clip(x, self.lower[i], self.upper[i])

    def outside(self, i: int, x: Array) -> str | None:
        """Why ``x`` is not in sample ``i``'s region, or ``None`` when it is."""
        scale = _SLACK * (1.0 + float(np.max(np.abs(self.centre[i]), initial=0.0)))
        if np.any(x < self.lower[i] - scale) or np.any(x > self.upper[i] + scale):
            return "the point lies outside the region's box"
        if self.norm == "l2":
            distance = float(np.linalg.norm((x - self.centre[i]).ravel()))
            if distance > self.epsilon * (1.0 + _SLACK) + scale:
                return (
                    f"the point lies outside the L2 ball (distance {distance:.6g} > "
                    f"epsilon {self.epsilon:.6g})"
                )
        return None


def decide(network: Network, x: Array, offsets: Array) -> NDArray[np.int64]:
    """The decisions ``argmax_j (z_j + o_j)`` for a batch ``(n, *input_shape)``."""
    decided: NDArray[np.int64] = np.argmax(network.forward(x) + offsets, axis=1).astype(np.int64)
    return decided
