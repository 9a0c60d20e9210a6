"""Image perturbations: every kind on a small synthetic batch, against its stated semantics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import ndimage

from amlas.checks._images import IMAGE_PERTURBATIONS, perturb_images
from amlas.project.artefacts import Perturbation

RANGE = (0.0, 255.0)
SEED = 7


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """8 RGB images of 12x12, uint8, with values from 0 to 255 (some saturated)."""
    rng = np.random.default_rng(20240101)
    batch = rng.integers(0, 256, size=(8, 12, 12, 3), dtype=np.uint8)
    batch[0] = 0
    batch[1] = 255
    return batch


def run(
    images: np.ndarray, kind: str, magnitude: float, unit: str = "", seed: int = SEED
) -> tuple[list[np.ndarray], dict[str, object]]:
    perturbation = Perturbation(kind=kind, magnitude=magnitude, unit=unit)  # type: ignore[arg-type]
    return perturb_images(images, perturbation, seed=seed, value_range=RANGE)


CASES = [
    ("gaussian_noise", 10.0, "pixel intensity", 1),
    ("gaussian_noise", 5.0, "%", 1),
    ("blur", 1.0, "px", 1),
    ("brightness", 0.1, "relative", 2),
    ("contrast", 0.2, "relative", 2),
    ("contrast", 1.5, "", 2),
    ("rotation", 10.0, "deg", 2),
    ("occlusion", 0.25, "relative", 1),
    ("occlusion", 4.0, "px", 1),
]


@pytest.mark.parametrize(("kind", "magnitude", "unit", "copies"), CASES)
def test_copies_are_float32_clipped_batches(
    images: np.ndarray, kind: str, magnitude: float, unit: str, copies: int
) -> None:
    out, described = run(images, kind, magnitude, unit)
    assert len(out) == copies == described["copies"]
    for copy in out:
        assert copy.shape == images.shape
        assert copy.dtype == np.float32
        assert copy.min() >= RANGE[0]
        assert copy.max() <= RANGE[1]
        # the perturbation did something
        assert not np.array_equal(copy, images.astype(np.float32))
    assert described["kind"] == kind
    assert described["magnitude"] == magnitude
    assert described["unit"] == unit
    assert described["value_range"] == [0.0, 255.0]
    json.dumps(described)  # JSON-ready for the evidence record


@pytest.mark.parametrize(("kind", "magnitude", "unit", "copies"), CASES)
def test_deterministic_for_a_seed(
    images: np.ndarray, kind: str, magnitude: float, unit: str, copies: int
) -> None:
    first, described = run(images, kind, magnitude, unit)
    again, _ = run(images, kind, magnitude, unit)
    other, _ = run(images, kind, magnitude, unit, seed=SEED + 1)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    seeded = "seed" in described
    assert seeded == (kind in ("gaussian_noise", "occlusion"))
    if seeded:
        assert described["seed"] == SEED
        assert not np.array_equal(first[0], other[0])
    else:
        for a, b in zip(first, other, strict=True):
            np.testing.assert_array_equal(a, b)


def test_input_is_left_unchanged(images: np.ndarray) -> None:
    before = images.copy()
    for kind, magnitude, unit, _ in CASES:
        run(images, kind, magnitude, unit)
    np.testing.assert_array_equal(images, before)


def test_gaussian_noise_sigma_in_units_and_relative() -> None:
    flat = np.full((4, 32, 32, 1), 128, dtype=np.uint8)
    (copy,), described = run(flat, "gaussian_noise", 10.0, "pixel intensity")
    assert described["sigma"] == 10.0
    assert described["model"] == "x + sigma z"
    assert abs(float(np.std(copy - 128.0)) - 10.0) < 0.5
    assert abs(float(np.mean(copy - 128.0))) < 0.5
    (copy,), described = run(flat, "gaussian_noise", 2.0, "%")
    assert described["sigma"] == pytest.approx(0.02 * 255.0)
    assert abs(float(np.std(copy - 128.0)) - 5.1) < 0.3


def test_relative_brightness_is_a_gain(images: np.ndarray) -> None:
    (up, down), described = run(images, "brightness", 0.1, "relative")
    assert described["gains"] == [pytest.approx(1.1), pytest.approx(0.9)]
    base = images.astype(np.float32)
    inside_up = base * 1.1 <= 255.0
    np.testing.assert_allclose(up[inside_up], base[inside_up] * 1.1, rtol=1e-5)
    np.testing.assert_allclose(down, base * 0.9, rtol=1e-5)
    # clipped where the gain leaves the range
    assert (up[~inside_up] == 255.0).all()
    assert inside_up.any()
    assert (~inside_up).any()
    with pytest.raises(ValueError, match="needs m below 1"):
        run(images, "brightness", 1.0, "relative")


def test_brightness_absolute_copies_differ_by_plus_minus_delta(images: np.ndarray) -> None:
    (up, down), described = run(images, "brightness", 25.5, "grey levels")
    delta = 25.5
    assert described["directions"] == [pytest.approx(delta), pytest.approx(-delta)]
    base = images.astype(np.float32)
    inside_up = base + delta <= 255.0
    inside_down = base - delta >= 0.0
    np.testing.assert_allclose(up[inside_up] - base[inside_up], delta, atol=1e-4)
    np.testing.assert_allclose(base[inside_down] - down[inside_down], delta, atol=1e-4)
    assert (up[~inside_up] == 255.0).all()
    assert (down[~inside_down] == 0.0).all()


def test_brightness_absolute_delta(images: np.ndarray) -> None:
    (up, _), described = run(images, "brightness", 3.0, "pixel intensity")
    assert described["delta"] == 3.0
    assert float(up[2, 0, 0, 0]) == min(255.0, float(images[2, 0, 0, 0]) + 3.0)


def test_contrast_scales_around_each_image_mean() -> None:
    rng = np.random.default_rng(3)
    mid = rng.integers(100, 156, size=(3, 6, 6, 3), dtype=np.uint8)  # never clipped
    (more, less), described = run(mid, "contrast", 0.2, "relative")
    assert described["factors"] == [pytest.approx(1.2), pytest.approx(1 / 1.2)]
    base = mid.astype(np.float64)
    mean = base.mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(more, mean + 1.2 * (base - mean), atol=1e-3)
    np.testing.assert_allclose(less, mean + (base - mean) / 1.2, atol=1e-3)
    # the mean is kept, the spread changes
    np.testing.assert_allclose(more.mean(axis=(1, 2, 3)), mean.ravel(), atol=1e-3)
    assert (more.std(axis=(1, 2, 3)) > base.std(axis=(1, 2, 3))).all()
    (_, half), described = run(mid, "contrast", 2.0)
    assert described["factors"] == [2.0, 0.5]
    np.testing.assert_allclose(half, mean + 0.5 * (base - mean), atol=1e-3)


def test_rotation_by_a_tiny_angle_is_near_identity(images: np.ndarray) -> None:
    (plus, minus), described = run(images, "rotation", 1e-4, "deg")
    assert described["degrees"] == [1e-4, -1e-4]
    base = images.astype(np.float32)
    np.testing.assert_allclose(plus, base, atol=0.1)
    np.testing.assert_allclose(minus, base, atol=0.1)


def test_rotation_turns_counter_clockwise_around_the_centre() -> None:
    image = np.zeros((1, 5, 5, 1), dtype=np.uint8)
    image[0, 0, 2, 0] = 200  # top middle
    (plus, minus), _ = run(image, "rotation", 90.0, "deg")
    assert plus[0, 2, 0, 0] == pytest.approx(200.0)  # to the left middle
    assert minus[0, 2, 4, 0] == pytest.approx(200.0)  # to the right middle
    assert plus[0, 2, 2, 0] == 0.0  # the centre stays


def test_rotation_matches_scipy_per_image(images: np.ndarray) -> None:
    (plus, _), _ = run(images, "rotation", 17.0, "deg")
    expected = ndimage.rotate(
        images[3, :, :, 1].astype(np.float32), 17.0, reshape=False, order=1, mode="nearest"
    )
    np.testing.assert_allclose(plus[3, :, :, 1], np.clip(expected, 0, 255), atol=1e-3)


def test_blur_lowers_the_variance_of_a_checkerboard() -> None:
    board = ((np.indices((12, 12)).sum(axis=0) % 2) * 255).astype(np.uint8)
    batch = np.stack([board, 255 - board])[..., None].repeat(3, axis=3)
    (blurred,), described = run(batch, "blur", 1.0, "px")
    assert described["sigma_px"] == 1.0
    assert (blurred.var(axis=(1, 2, 3)) < 0.1 * batch.astype(np.float32).var(axis=(1, 2, 3))).all()
    # spatial only: channels are not mixed (all three stay equal), samples are not mixed
    np.testing.assert_array_equal(blurred[..., 0], blurred[..., 2])
    np.testing.assert_allclose(blurred[0] + blurred[1], 255.0, atol=1e-3)


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5])
def test_occlusion_patch_covers_the_requested_fraction(fraction: float) -> None:
    rng = np.random.default_rng(5)
    # values away from any image's mean colour, so every patch pixel is visible as a change
    batch = rng.choice(np.array([0, 255], dtype=np.uint8), size=(8, 12, 12, 3))
    (copy,), described = run(batch, "occlusion", fraction, "relative")
    side = described["side_px"]
    assert isinstance(side, int)
    colour = batch.astype(np.float32).mean(axis=(1, 2))
    for i in range(len(batch)):
        changed = np.flatnonzero((copy[i] != batch[i]).any(axis=2))
        rows, cols = np.unravel_index(changed, (12, 12))
        # one square of side `side`, filled with the image's mean colour
        assert rows.max() - rows.min() + 1 == side
        assert cols.max() - cols.min() + 1 == side
        assert len(changed) == side * side
        patch = copy[i, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        np.testing.assert_allclose(patch, np.broadcast_to(colour[i], patch.shape), atol=1e-3)
        # the area is the requested fraction, to within one row of pixels
        assert abs(side * side - fraction * 144) <= side
    assert described["area_fraction"] == pytest.approx(side * side / 144)


def test_occlusion_positions_are_spread_and_sized_in_pixels() -> None:
    batch = np.zeros((64, 12, 12, 1), dtype=np.uint8)
    batch[..., 0] = 255
    batch[:, 0, 0, 0] = 0  # the mean colour is just below 255, so the patch is visible
    (copy,), described = run(batch, "occlusion", 3.0, "px")
    assert described["side_px"] == 3
    corners = set()
    for i in range(len(batch)):
        rows, cols = np.nonzero((copy[i, ..., 0] != batch[i, ..., 0]) & (copy[i, ..., 0] < 255))
        assert len(rows) >= 8  # 9 pixels, one of which may be the dark corner
        corners.add((int(rows.min()), int(cols.min())))
    assert len(corners) > 20  # uniform over 10 x 10 positions, not one fixed place


def test_percent_units_divide_by_a_hundred(images: np.ndarray) -> None:
    relative, _ = run(images, "brightness", 0.1, "relative")
    percent, _ = run(images, "brightness", 10.0, "%")
    np.testing.assert_allclose(relative[0], percent[0], atol=1e-4)


def test_single_channel_images() -> None:
    gray = np.random.default_rng(1).integers(0, 256, size=(4, 10, 10, 1), dtype=np.uint8)
    for kind in sorted(IMAGE_PERTURBATIONS):
        unit = "relative" if kind == "occlusion" else ""
        out, _ = run(gray, kind, 0.2 if kind == "occlusion" else 2.0, unit)
        assert all(c.shape == gray.shape for c in out)
        assert not np.array_equal(out[0], gray.astype(np.float32))


def test_an_empty_batch_gives_empty_copies() -> None:
    empty = np.zeros((0, 8, 8, 3), dtype=np.uint8)
    for kind in sorted(IMAGE_PERTURBATIONS):
        out, _ = run(empty, kind, 2.0)
        assert all(c.shape == empty.shape for c in out)


@pytest.mark.parametrize(
    ("kind", "magnitude", "unit", "message"),
    [
        ("fgsm", 1.0, "", "images take blur, brightness"),
        ("scaling", 1.1, "", "not an image perturbation"),
        ("blur", 0.1, "relative", "blur takes a magnitude in pixels"),
        ("rotation", 5.0, "%", "rotation takes a magnitude in degrees"),
        ("occlusion", 1.5, "relative", "expected at most 1"),
        ("occlusion", 20.0, "px", "does not fit in a 12x12 image"),
        ("occlusion", 0.001, "relative", "under one pixel"),
    ],
)
def test_bad_perturbations_are_explained(
    images: np.ndarray, kind: str, magnitude: float, unit: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        run(images, kind, magnitude, unit)


def test_bad_arguments_are_explained(images: np.ndarray) -> None:
    noise = Perturbation(kind="gaussian_noise", magnitude=1.0)
    with pytest.raises(ValueError, match=r"expected \(n, height, width, channels\)"):
        perturb_images(images[0], noise, seed=1, value_range=RANGE)
    with pytest.raises(ValueError, match="expected finite low < high"):
        perturb_images(images, noise, seed=1, value_range=(255.0, 0.0))
    with pytest.raises(ValueError, match="non-negative integer"):
        perturb_images(images, noise, seed=-1, value_range=RANGE)
    with pytest.raises(ValueError, match="images have no named features"):
        perturb_images(
            images,
            Perturbation(kind="blur", magnitude=1.0, features=["red"]),
            seed=1,
            value_range=RANGE,
        )


def test_noise_is_reproducible_from_the_record(images: np.ndarray) -> None:
    """The record says enough to redo the draw: PCG64 seeded with `seed`, one standard
    normal per value, in C order, times sigma, clipped."""
    (copy,), described = run(images, "gaussian_noise", 4.0, "pixel intensity")
    rng = np.random.default_rng(described["seed"])  # type: ignore[arg-type]
    z = rng.standard_normal(images.size, dtype=np.float32).reshape(images.shape)
    expected = np.clip(images.astype(np.float32) + np.float32(4.0) * z, 0, 255)
    np.testing.assert_array_equal(copy, expected)
    assert math.isclose(described["sigma"], 4.0)  # type: ignore[arg-type]
