"""Perturbations of image inputs declared in [H], for robustness requirements.

Images are arrays of shape ``(n, h, w, c)`` (any number of channels) whose valid values lie
in ``value_range = (low, high)``, e.g. ``(0, 255)``. With ``unit: relative`` (or
``fraction``) a magnitude is a fraction, with ``unit: %`` (or ``percent``) a percentage;
any other unit is absolute (intensity units, pixels or degrees, as the kind says).

- ``gaussian_noise``: ``x + sigma z`` with ``z`` standard normal, one draw per pixel value;
  ``sigma = m`` in intensity units, or ``m x (high - low)`` for a relative unit.
- ``blur``: a Gaussian blur with standard deviation ``m`` pixels over the two spatial axes
  only (``scipy.ndimage.gaussian_filter``, edges reflected, truncated at 4 sigma); channels
  and samples are never mixed. Relative units are rejected.
- ``brightness``: two copies. For a relative unit, a change of illumination or exposure: a
  gain of ``1 + m`` and ``1 - m`` about ``low`` (``low + (x - low)(1 +- m)``, so ``m = 0.15``
  is "15% brighter or darker"; ``m`` must be below 1). For an absolute unit, an offset of
  ``+m`` and ``-m`` intensity units.
- ``contrast``: two copies, ``mean + f (x - mean)`` with ``f = 1 + m`` and ``f = 1/(1 + m)``
  for a relative unit, ``f = m`` and ``f = 1/m`` otherwise; ``mean`` is each image's mean
  over all its pixels and channels.
- ``rotation``: two copies, rotated by ``+m`` and ``-m`` degrees around the image centre
  (``scipy.ndimage.rotate``, ``reshape=False``, bilinear interpolation, edges extended with
  the nearest pixel); a positive angle turns the image counter-clockwise as displayed with
  row 0 at the top. Relative units are rejected.
- ``occlusion``: one copy in which a square patch of side ``s`` pixels is set to the
  image's mean colour (the per-channel mean of the unperturbed image); ``s = m`` (rounded to
  a whole pixel) for an absolute unit, ``s = round(sqrt(m h w))`` for a relative unit, so
  the patch covers the fraction ``m`` of the image area to within one row of pixels. Its
  top-left corner is drawn uniformly among the positions where the patch fits, per sample.

Every copy is float32 and clipped to ``value_range`` (a perturbation never leaves the
valid input domain), and a sample counts as stable only when its decision is unchanged
under every copy (:func:`amlas.checks._robustness.stable_predictions`). Random draws come
from ``numpy.random.default_rng(seed)`` (PCG64), so the same seed gives the same perturbed
images on every machine. ``features`` has no meaning for images and is rejected.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.errors import ValueProblem
from amlas.project.artefacts import Perturbation

__all__ = ["IMAGE_PERTURBATIONS", "perturb_images"]

IMAGE_PERTURBATIONS = frozenset(
    {"gaussian_noise", "blur", "brightness", "contrast", "rotation", "occlusion"}
)
_RELATIVE = {"relative", "fraction", "%", "percent"}
_PERCENT = {"%", "percent"}
_NOISE_CHUNK = 1 << 22
"""Pixel values drawn per call to the generator, so noise never needs a float64 copy of a
large batch (the stream of draws does not depend on how it is cut)."""


def perturb_images(
    images: NDArray[Any],
    perturbation: Perturbation,
    *,
    seed: int,
    value_range: tuple[float, float],
) -> tuple[list[NDArray[np.float32]], dict[str, Any]]:
    """The perturbed copies of ``images`` (float32, each ``(n, h, w, c)``, one per
    direction) and a description of exactly what was done, for the evidence record.

    Raises ``ValueError`` (a :class:`~amlas.errors.ValueProblem`, R030 or R011 when the
    settings or data chose it) for a perturbation images cannot take, a magnitude it cannot
    use, a value range that is empty, or an array that is not a batch of images.
    """
    if perturbation.kind not in IMAGE_PERTURBATIONS:
        raise ValueProblem(
            f"perturbation {perturbation.kind!r} is not an image perturbation; "
            f"images take {', '.join(sorted(IMAGE_PERTURBATIONS))}",
            code="R030",
            path="[H]",
            value=perturbation.kind,
        )
    if perturbation.features:
        raise ValueProblem(
            f"perturbation {perturbation.kind!r} lists features {perturbation.features}; "
            "images have no named features, remove 'features'",
            code="R030",
            path="[H]",
            value=perturbation.features,
        )
    array = np.asarray(images)
    if array.ndim != 4:
        raise ValueProblem(
            f"images of shape {array.shape}; expected (n, height, width, channels)",
            code="R011",
            value=array.shape,
        )
    if not (np.issubdtype(array.dtype, np.number) and not np.iscomplexobj(array)):
        raise ValueProblem(
            f"images of dtype {array.dtype}; expected real numbers", code="R011", value=array.dtype
        )
    low, high = _checked_range(value_range)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed={seed!r}; expected a non-negative integer")
    unit = perturbation.unit.strip().lower()
    relative = unit in _RELATIVE
    magnitude = perturbation.magnitude / (100.0 if unit in _PERCENT else 1.0)
    described: dict[str, Any] = {
        "kind": perturbation.kind,
        "magnitude": perturbation.magnitude,
        "unit": perturbation.unit,
        "value_range": [low, high],
        "clipped": True,
    }
    base = array.astype(np.float32)
    kind = perturbation.kind
    if kind == "gaussian_noise":
        sigma = magnitude * (high - low) if relative else magnitude
        copies = [_noisy(base, sigma, seed)]
        described.update(
            model="x + sigma z",
            sigma=sigma,
            z="standard normal, one draw per pixel value",
            seed=int(seed),
            generator="numpy PCG64",
        )
    elif kind == "blur":
        _absolute_only(kind, perturbation.unit, relative, "pixels")
        copies = [_blurred(base, magnitude)]
        described.update(
            model="Gaussian blur over height and width",
            sigma_px=magnitude,
            implementation="scipy.ndimage.gaussian_filter",
            mode="reflect",
            truncate=4.0,
        )
    elif kind == "brightness" and relative:
        if not magnitude < 1.0:
            raise ValueProblem(
                f"brightness of {perturbation.magnitude:g} {perturbation.unit}: a relative "
                "brightness change is a gain 1 +- m and needs m below 1 (100%)",
                code="R030",
                path="[H]",
                value=perturbation.magnitude,
            )
        lo = np.float32(low)
        gains = [1.0 + magnitude, 1.0 - magnitude]
        copies = [lo + (base - lo) * np.float32(g) for g in gains]
        described.update(
            model="low + (x - low) g, g = 1 + m and 1 - m", gains=gains, directions=gains
        )
    elif kind == "brightness":
        delta = magnitude
        copies = [base + np.float32(delta), base - np.float32(delta)]
        described.update(model="x + delta, x - delta", delta=delta, directions=[delta, -delta])
    elif kind == "contrast":
        factor = 1.0 + magnitude if relative else magnitude
        copies = [_contrasted(base, factor), _contrasted(base, 1.0 / factor)]
        described.update(
            model="mean + f (x - mean), mean over each image's pixels and channels",
            factors=[factor, 1.0 / factor],
            directions=[factor, 1.0 / factor],
        )
    elif kind == "rotation":
        _absolute_only(kind, perturbation.unit, relative, "degrees")
        copies = [_rotated(base, magnitude), _rotated(base, -magnitude)]
        described.update(
            model="rotation around the image centre",
            degrees=[magnitude, -magnitude],
            directions=[magnitude, -magnitude],
            positive="counter-clockwise as displayed (row 0 at the top)",
            implementation="scipy.ndimage.rotate",
            interpolation="bilinear (spline order 1)",
            mode="nearest",
            reshape=False,
        )
    else:
        side = _patch_side(array.shape[1], array.shape[2], magnitude, relative)
        copies = [_occluded(base, side, seed)]
        described.update(
            model="square patch filled with the image's per-channel mean colour",
            side_px=side,
            area_fraction=side * side / (array.shape[1] * array.shape[2]),
            position="top-left corner uniform over the positions where the patch fits",
            seed=int(seed),
            generator="numpy PCG64",
        )
    for copy in copies:
        np.clip(copy, low, high, out=copy)
    described.update(
        copies=len(copies),
        stable_when="unchanged under every copy" if len(copies) > 1 else "unchanged",
    )
    return copies, described


def _checked_range(value_range: tuple[float, float]) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueProblem(
            f"value_range={value_range!r}; expected two numbers (low, high)",
            code="R030",
            value=value_range,
        ) from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueProblem(
            f"value_range={value_range!r}; expected finite low < high",
            code="R030",
            value=value_range,
        )
    return low, high


def _absolute_only(kind: str, unit: str, relative: bool, expected: str) -> None:
    if relative:
        raise ValueProblem(
            f"{kind} magnitude in unit {unit!r}; {kind} takes a magnitude in {expected}",
            code="R030",
            path="[H]",
            value=unit,
        )


def _noisy(base: NDArray[np.float32], sigma: float, seed: int) -> NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    copy = base.copy()
    flat = copy.reshape(-1)
    scale = np.float32(sigma)
    for start in range(0, flat.size, _NOISE_CHUNK):
        part = flat[start : start + _NOISE_CHUNK]
        part += scale * rng.standard_normal(part.size, dtype=np.float32)
    return copy


def _blurred(base: NDArray[np.float32], sigma: float) -> NDArray[np.float32]:
    from scipy import ndimage

    blurred: NDArray[np.float32] = ndimage.gaussian_filter(
        base, sigma=(0.0, sigma, sigma, 0.0), mode="reflect", truncate=4.0
    )
    return blurred


def _contrasted(base: NDArray[np.float32], factor: float) -> NDArray[np.float32]:
    mean = base.mean(axis=(1, 2, 3), keepdims=True, dtype=np.float64).astype(np.float32)
    scaled: NDArray[np.float32] = mean + np.float32(factor) * (base - mean)
    return scaled


def _rotated(base: NDArray[np.float32], degrees: float) -> NDArray[np.float32]:
    from scipy import ndimage

    # axes (2, 1) is scipy's own 2-D orientation: positive angles turn counter-clockwise
    rotated: NDArray[np.float32] = ndimage.rotate(
        base, degrees, axes=(2, 1), reshape=False, order=1, mode="nearest"
    )
    return rotated


def _patch_side(height: int, width: int, magnitude: float, relative: bool) -> int:
    if relative:
        if magnitude > 1.0:
            raise ValueProblem(
                f"occlusion covering {magnitude:g} of the image area; expected at most 1 "
                "(the whole image)",
                code="R030",
                path="[H]",
                value=magnitude,
            )
        side = round(math.sqrt(magnitude * height * width))
        wanted = f"{magnitude:g} of a {height}x{width} image"
    else:
        side = round(magnitude)
        wanted = f"a side of {magnitude:g} pixels"
    if side < 1:
        raise ValueProblem(
            f"occlusion patch for {wanted} is under one pixel; use a larger one",
            code="R030",
            path="[H]",
            value=magnitude,
        )
    if side > min(height, width):
        raise ValueProblem(
            f"occlusion patch of side {side} px (for {wanted}) does not fit in a "
            f"{height}x{width} image",
            code="R030",
            path="[H]",
            value=magnitude,
        )
    return side


def _occluded(base: NDArray[np.float32], side: int, seed: int) -> NDArray[np.float32]:
    n, height, width, _ = base.shape
    rng = np.random.default_rng(seed)
    tops = rng.integers(0, height - side + 1, size=n)
    lefts = rng.integers(0, width - side + 1, size=n)
    colour = base.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)
    copy = base.copy()
    rows = tops[:, None] + np.arange(side)
    cols = lefts[:, None] + np.arange(side)
    # index every (sample, row, column) of every patch at once
    copy[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]] = colour[:, None, None]
    return copy
