"""Out-of-distribution score and its conformal threshold.

The score
---------
The squared Mahalanobis distance of an input to the development data [N], on inputs
flattened to vectors and standardised with the mean and standard deviation of [N] (a
constant column is left unscaled):

    score(x) = sum_i (u_i . z)^2 / l_i  +  (|z|^2 - sum_i (u_i . z)^2) / r,   z = (x - m) / s

where ``u_i`` are the ``k`` leading eigenvectors of the covariance of [N] (k at most
``max_components``), ``l_i`` their variances after Ledoit-Wolf shrinkage towards the mean
variance (Ledoit and Wolf, 2004, "A well-conditioned estimator for large-dimensional
covariance matrices"), and ``r`` the mean shrunk variance of the remaining ``d - k``
directions (no second term when ``k = d``). That is the Mahalanobis distance under the
shrunk covariance with its trailing eigenvalues pooled, as in probabilistic PCA.

Why this and not a k-nearest-neighbour distance: the score needs only the mean, the
scales, ``k`` directions and ``k + 1`` variances, so the calibrated monitor is a small,
reviewable file that does not carry the development data (k-NN would ship all of [N]),
costs ``O(d k)`` per input, and is deterministic. Shrinkage keeps the covariance
invertible and well conditioned when ``d`` is close to or above the number of samples
(images), and pooling the trailing directions keeps inputs that move along directions
[N] never varied in (a new object, a stuck pixel) far away rather than ignored. It
detects inputs unlike [N] *as a whole*; a shift confined to a low-variance corner of a
class can pass, which is why the monitor is one barrier among several in [DD].

The threshold
-------------
Split conformal calibration on ``n`` scores of the internal test data [O] (which were not
used to fit the score): the threshold is the ``ceil((n + 1)(1 - a))``-th smallest score,
i.e. the empirical quantile at level ``ceil((n + 1)(1 - a)) / n``, and an input is flagged
when its score is strictly above it. For a new input exchangeable with the [O] samples,
``P(flagged) <= a`` (Vovk et al., 2005; Angelopoulos and Bates, 2021, Theorem 1); ties
only lower the rate. It needs ``ceil((n + 1)(1 - a)) <= n``, i.e. ``n >= 1/a - 1``;
otherwise calibration stops with an error that says how many samples are needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from amlas.errors import ProblemError

__all__ = [
    "CalibrationError",
    "MahalanobisScore",
    "conformal_rank",
    "conformal_threshold",
    "fit_mahalanobis",
]

SIGNIFICANT_DIGITS = 9
"""The parameters are rounded to this many digits before the threshold is set, so the
saved file and the threshold it carries agree exactly."""


class CalibrationError(ProblemError):
    """The monitor cannot be fitted or calibrated on the data given."""

    code = "R052"


def _round(values: NDArray[np.float64]) -> NDArray[np.float64]:
    text = np.char.mod(f"%.{SIGNIFICANT_DIGITS}g", values)
    rounded: NDArray[np.float64] = text.astype(np.float64)
    return rounded


@dataclass(frozen=True)
class MahalanobisScore:
    """The fitted score (see the module doc); arrays are read-only by convention."""

    mean: NDArray[np.float64]
    """Mean of every input coordinate over [N], shape ``(d,)``."""
    scale: NDArray[np.float64]
    """Standard deviation of every coordinate (1 where [N] is constant), shape ``(d,)``."""
    components: NDArray[np.float64]
    """The ``k`` leading directions, orthonormal rows, shape ``(k, d)``."""
    variances: NDArray[np.float64]
    """Their shrunk variances, shape ``(k,)``."""
    residual_variance: float
    """Mean shrunk variance of the other ``d - k`` directions (0 when ``k = d``)."""
    shrinkage: float
    """The Ledoit-Wolf shrinkage intensity in [0, 1]."""

    @property
    def dimension(self) -> int:
        return int(self.mean.shape[0])

    def score(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Squared distance of every row of ``x`` (shape ``(n, d)``, finite) to [N]."""
        z = (x - self.mean) / self.scale
        projected = z @ self.components.T
        inside = (projected**2 / self.variances).sum(axis=1)
        if self.residual_variance <= 0.0:
            result: NDArray[np.float64] = inside
            return result
        residual = np.maximum((z**2).sum(axis=1) - (projected**2).sum(axis=1), 0.0)
        total: NDArray[np.float64] = inside + residual / self.residual_variance
        return total

    def rounded(self) -> MahalanobisScore:
        """The same score with every parameter rounded to :data:`SIGNIFICANT_DIGITS`."""
        return MahalanobisScore(
            _round(self.mean),
            _round(self.scale),
            _round(self.components),
            _round(self.variances),
            float(_round(np.array([self.residual_variance]))[0]),
            float(_round(np.array([self.shrinkage]))[0]),
        )


def fit_mahalanobis(x: NDArray[np.float64], *, max_components: int = 32) -> MahalanobisScore:
    """Fit the score on the rows of ``x`` (shape ``(n, d)``, finite, ``n >= 2``)."""
    n, d = x.shape
    if n < 2:
        raise CalibrationError(f"the development data [N] hold {n} usable samples; need >= 2")
    if not np.isfinite(x).all():
        raise CalibrationError("the development data [N] hold NaN or infinite inputs")
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    scale = np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)
    z = (x - mean) / scale
    cov = (z.T @ z) / n
    mu = float(np.trace(cov)) / d
    if mu <= 0.0:
        raise CalibrationError("the development data [N] do not vary: every input is the same")
    frob = float((cov**2).sum())
    delta = max(frob - mu * mu * d, 0.0) / d
    row_norms = (z**2).sum(axis=1)
    beta = max(float((row_norms**2).sum()) - n * frob, 0.0) / (n * n * d)
    shrinkage = 1.0 if delta <= 0.0 else min(beta, delta) / delta
    eigenvalues, eigenvectors = np.linalg.eigh(cov)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues = np.maximum(eigenvalues[order], 0.0)
    eigenvectors = eigenvectors[:, order]
    shrunk = (1.0 - shrinkage) * eigenvalues + shrinkage * mu
    shrunk = np.maximum(shrunk, 1e-9 * mu)
    k = min(max_components, d)
    residual = float(shrunk[k:].mean()) if k < d else 0.0
    # a fixed sign per direction (largest coordinate positive): the same data, the same file
    components = eigenvectors[:, :k].T.copy()
    flip = np.sign(components[np.arange(k), np.argmax(np.abs(components), axis=1)])
    components *= np.where(flip == 0, 1.0, flip)[:, None]
    return MahalanobisScore(mean, scale, components, shrunk[:k].copy(), residual, shrinkage)


def conformal_rank(n: int, alpha: float) -> int:
    """``ceil((n + 1)(1 - alpha))``: the rank (1-based, ascending) of the threshold score."""
    if not 0.0 < alpha < 1.0:
        raise CalibrationError(f"target false-alarm rate {alpha!r}; expected a rate in (0, 1)")
    # the tolerance keeps 10 * (1 - 0.7) (3.0000000000000004 in floating point) at 3, not 4
    return max(1, math.ceil((n + 1) * (1.0 - alpha) - 1e-9))


def conformal_threshold(scores: NDArray[np.float64], alpha: float) -> tuple[float, int]:
    """The conformal threshold of ``scores`` at false-alarm rate ``alpha`` and its rank.

    Raises :class:`CalibrationError` when there are too few scores to reach ``alpha``.
    """
    n = len(scores)
    rank = conformal_rank(n, alpha)
    if rank > n:
        needed = math.ceil(1.0 / alpha - 1.0 - 1e-9)
        raise CalibrationError(
            f"a false-alarm rate of {alpha:g} needs at least {needed} calibration samples "
            f"inside the ODD in [O]; it has {n}. Raise target_false_alarm_rate in [DD] "
            f"monitor to at least {1.0 / (n + 1):.4g}, or add internal test data"
        )
    if not np.isfinite(scores).all():
        raise CalibrationError("the internal test data [O] give NaN or infinite scores")
    ordered = np.sort(scores)
    return float(ordered[rank - 1]), rank
