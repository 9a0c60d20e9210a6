"""A small procedural "simulator" of the chess robot's gripper camera.

The gripper camera looks straight down (up to 25 degrees off vertical) into the board
square the gripper is about to close on. This module renders that view as a 16 x 16 RGB
image (uint8) for one of three classes:

- ``hand``: a human finger or hand in the square (single finger, pinch, flat hand, or a
  hand just entering at the edge of the square), sometimes next to a piece;
- ``piece``: one chess piece (pawn, rook, knight, bishop, queen, king; white or black);
- ``empty``: the bare board square.

What is simulated, and how (every choice is recorded per sample, see :data:`COLUMNS`):

- Assets. Every hand, piece and board is an *asset* with an id (``HAND-F4-05``,
  ``PIECE-KNIGHT-W-03``, ``BOARD-WALNUT-02``) whose appearance is drawn once from its own
  seed: skin tone on the Fitzpatrick scale (I-VI) and finger width for hands; type,
  colour (white/black), wood or lacquer tone, size and detail for pieces; wood species
  and the light/dark square colours for boards. :func:`assign_sets` deals the assets of
  every tone, piece type and wood species round-robin to the development [N], internal
  test [O] and verification [P] sets, so no asset is shared between sets and every set
  covers every tone, type and species.
- Geometry. Shapes are signed-distance functions on the board plane (the square is
  [-1, 1] x [-1, 1]); the scene is evaluated on a 48 x 48 grid (3x supersampling) and
  averaged down to 16 x 16. Pieces are seen from above: a shaded base disc and a
  type-specific top (pawn ball, rook crenellation, knight head, bishop mitre slit, queen
  crown, king cross). Hands are unions of capsules (fingers, thumb, palm; a finger about
  a third of the square wide) entering from the player's side of the square (the image
  bottom, within 35 degrees), with cylindrical shading, nails and knuckle creases; being
  a few centimetres above the board, a hand is nearer the gripper's ring light and is
  drawn 15-35% brighter. Pieces and hands cast a soft shadow on the board.
- Camera angle: 0-25 degrees from vertical, rendered as foreshortening plus keystone
  along a random azimuth (neighbouring squares of the opposite colour come into view).
- Occlusion: 0-30% of the square hidden by the gripper jaw's shadow (darkened), the jaw
  itself (grey metal) or another object (a cable or a sleeve), always from an edge other
  than the one a hand enters by, so the label stays visible.
- Lighting: illuminance 150-1500 lux becomes an exposure gain ``min((lux / 700) ** 0.4,
  1)`` (auto-exposure compensates part of it and holds bright scenes constant) and a
  colour cast from a correlated colour temperature of 2700-6500 K; dim light therefore
  means darker, lower-contrast and noisier images.
- Blur: Gaussian, ``sigma`` 0-1.2 output pixels, either defocus (isotropic) or motion
  (along one image axis, a third of the sigma across it).
- Sensor noise: Gaussian, sigma in intensity levels, larger in dim light
  (``1 + 2.5 * sqrt(700 / lux)``, times a factor 0.8-1.2), then rounding to 8 bits.

What is *not* simulated (the sim-to-real gaps stated in [Q]): a real camera's noise
model (no Bayer demosaicing, fixed-pattern or shot noise, compression), real 3-D piece
and hand geometry (silhouettes are procedural), specular reflections from varnish
beyond a highlight spot, parallax, jewellery, gloves, sleeves over the hand, tattoos,
skin conditions, and any object that is neither a hand nor a piece.

Everything is a deterministic function of integer seeds and numpy's PCG64 generator:
:func:`render` gives the same image for the same (sample seed, label, lux, assets) on
every machine with the same numpy (the float arithmetic is plain IEEE double precision).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

__all__ = [
    "CLASSES",
    "COLUMNS",
    "LIGHTING_BANDS",
    "PIECE_TYPES",
    "POSES",
    "SIZE",
    "SKIN_TONES",
    "Asset",
    "assign_sets",
    "catalogue",
    "generate",
    "render",
]

SIZE = 16  # output image side, pixels
_SS = 3  # supersampling factor
_HI = SIZE * _SS
_PX = 2.0 / _HI  # width of one high-resolution pixel in board units

CLASSES = ("hand", "piece", "empty")
PIECE_TYPES = ("pawn", "rook", "knight", "bishop", "queen", "king")
POSES = ("single_finger", "pinch", "flat_hand", "edge")
SKIN_TONES = ("I", "II", "III", "IV", "V", "VI")
LIGHTING_BANDS = {"dim": (150.0, 300.0), "normal": (300.0, 800.0), "bright": (800.0, 1500.0)}
SETS = ("N", "O", "P")
ASSETS_PER_GROUP = 6
_SET_OF_INDEX = ("N", "O", "P", "N", "N", "N")  # asset index within a group -> set

# Fitzpatrick skin types I-VI as sRGB (approximate palettes for the dorsal hand and the
# finger pad under neutral light; von Luschan / Fitzpatrick chart approximations).
_SKIN_RGB = {
    "I": (247, 215, 196),
    "II": (234, 189, 157),
    "III": (211, 158, 124),
    "IV": (175, 121, 83),
    "V": (124, 80, 50),
    "VI": (75, 48, 33),
}
# Wood species: (light square, dark square) sRGB of a typical board.
_WOODS = {
    "MAPLE": ((226, 201, 157), (150, 100, 60)),
    "WALNUT": ((205, 170, 120), (96, 64, 44)),
    "OAK": ((214, 182, 132), (128, 88, 52)),
    "MAHOGANY": ((222, 190, 150), (112, 52, 38)),
    "EBONY": ((232, 220, 190), (52, 44, 40)),
}
# Piece finishes: white and black sets, sRGB.
_FINISH = {
    "W": ((236, 224, 196), (218, 196, 150), (240, 236, 226)),  # ivory, boxwood, white lacquer
    "B": ((46, 38, 34), (28, 28, 31), (74, 44, 34)),  # ebony, black lacquer, rosewood
}

COLUMNS = (
    "sample_id",
    "label",
    "asset",
    "seed",
    "board",
    "square_colour",
    "piece",
    "piece_type",
    "piece_colour",
    "skin_tone",
    "pose",
    "lux",
    "colour_temperature",
    "blur_sigma",
    "blur_kind",
    "occlusion",
    "occluder",
    "camera_angle",
    "camera_azimuth",
    "noise_sigma",
)
"""The metadata columns of a generated set, in file order (``image`` comes first)."""


# -- assets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Asset:
    """One hand, piece or board: an id, its group (tone, type or species) and the
    appearance parameters drawn from its own seed."""

    id: str
    kind: str  # "hand", "piece" or "board"
    group: str  # skin tone, "<type>-<colour>" or wood species
    index: int  # 1-based index within the group
    params: dict[str, Any]

    @property
    def set(self) -> str:
        """The dataset this asset belongs to (see :func:`assign_sets`)."""
        return _SET_OF_INDEX[(self.index - 1) % len(_SET_OF_INDEX)]


def _asset_rng(name: str) -> np.random.Generator:
    # a stable integer from the id (not Python's salted hash)
    return np.random.default_rng([int.from_bytes(name.encode(), "little") % (2**63), 1])


def _jitter(rgb: tuple[int, int, int], rng: np.random.Generator, scale: float) -> list[float]:
    base = np.asarray(rgb, dtype=float) / 255.0
    tinted = base * (1.0 + rng.normal(0.0, scale, 3)) * (1.0 + rng.normal(0.0, scale))
    return [float(v) for v in np.clip(tinted, 0.02, 1.0)]


def catalogue() -> list[Asset]:
    """Every asset, in a fixed order: hands (tone I..VI), pieces (type, colour), boards."""
    assets: list[Asset] = []
    for tone_number, tone in enumerate(SKIN_TONES, start=1):
        for k in range(1, ASSETS_PER_GROUP + 1):
            name = f"HAND-F{tone_number}-{k:02d}"
            rng = _asset_rng(name)
            params = {
                "skin": _jitter(_SKIN_RGB[tone], rng, 0.04),
                "finger_radius": float(rng.uniform(0.26, 0.36)),
                "nail_tint": float(rng.uniform(0.10, 0.30)),
                "redness": float(rng.uniform(0.0, 0.08)),
            }
            assets.append(Asset(name, "hand", tone, k, params))
    for piece_type in PIECE_TYPES:
        for colour in ("W", "B"):
            for k in range(1, ASSETS_PER_GROUP + 1):
                name = f"PIECE-{piece_type.upper()}-{colour}-{k:02d}"
                rng = _asset_rng(name)
                finish = _FINISH[colour][int(rng.integers(0, 3))]
                params = {
                    "type": piece_type,
                    "colour": "white" if colour == "W" else "black",
                    "rgb": _jitter(finish, rng, 0.04),
                    "radius": float(rng.uniform(0.55, 0.74)),
                    "detail": float(rng.uniform(0.85, 1.15)),
                    "gloss": float(rng.uniform(0.15, 0.45)),
                    "rim": float(rng.uniform(0.15, 0.35)),
                }
                assets.append(Asset(name, "piece", f"{piece_type}-{colour}", k, params))
    for species, (light, dark) in _WOODS.items():
        for k in range(1, ASSETS_PER_GROUP + 1):
            name = f"BOARD-{species}-{k:02d}"
            rng = _asset_rng(name)
            params = {
                "light": _jitter(light, rng, 0.03),
                "dark": _jitter(dark, rng, 0.05),
                "grain": float(rng.uniform(0.03, 0.09)),
                "grain_frequency": float(rng.uniform(6.0, 14.0)),
            }
            assets.append(Asset(name, "board", species, k, params))
    return assets


def assign_sets(assets: list[Asset]) -> dict[str, list[Asset]]:
    """Deal the assets to [N], [O] and [P]: within every group (skin tone, piece type and
    colour, wood species) asset 1 goes to N, 2 to O, 3 to P and 4-6 to N. No asset is in
    two sets and every set has at least one asset of every group."""
    sets: dict[str, list[Asset]] = {name: [] for name in SETS}
    for asset in assets:
        sets[asset.set].append(asset)
    return sets


# -- signed distances on the board plane ------------------------------------------------------


Grid = NDArray[np.float64]


def _cover(sdf: Grid) -> Grid:
    """Anti-aliased coverage in [0, 1] of the region ``sdf < 0``."""
    return np.clip(0.5 - sdf / _PX, 0.0, 1.0)


def _circle(x: Grid, y: Grid, cx: float, cy: float, r: float) -> Grid:
    return np.hypot(x - cx, y - cy) - r


def _segment_distance(
    x: Grid, y: Grid, a: tuple[float, float], b: tuple[float, float]
) -> tuple[Grid, Grid]:
    """Distance to the segment a-b, and the position along it (0 at a, 1 at b)."""
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    length2 = dx * dx + dy * dy
    t = np.clip(((x - ax) * dx + (y - ay) * dy) / length2, 0.0, 1.0)
    return np.hypot(x - ax - t * dx, y - ay - t * dy), t


def _box(x: Grid, y: Grid, cx: float, cy: float, hw: float, hh: float, angle: float) -> Grid:
    c, s = math.cos(angle), math.sin(angle)
    u = (x - cx) * c + (y - cy) * s
    v = -(x - cx) * s + (y - cy) * c
    qx, qy = np.abs(u) - hw, np.abs(v) - hh
    outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
    return outside + np.minimum(np.maximum(qx, qy), 0.0)


def _paint(image: Grid, colour: Grid | NDArray[np.float64], alpha: Grid) -> None:
    """Alpha-blend ``colour`` (per pixel (h, w, 3) or one RGB triple) into ``image``."""
    a = alpha[..., None]
    image *= 1.0 - a
    image += a * colour


def _darken(image: Grid, amount: Grid) -> None:
    image *= 1.0 - amount[..., None]


# -- scene layers ---------------------------------------------------------------------------------


def _board(x: Grid, y: Grid, board: Asset, light: bool, rng: np.random.Generator) -> Grid:
    """The square (and, where the tilted camera sees past its edge, its neighbours, which
    have the opposite colour), with wood grain."""
    p = board.params
    outside = (np.abs(x) > 1.0) ^ (np.abs(y) > 1.0)  # edge neighbours, not diagonal ones
    own = np.asarray(p["light"] if light else p["dark"])
    other = np.asarray(p["dark"] if light else p["light"])
    colour = np.where(outside[..., None], other, own)
    angle = rng.uniform(0.0, math.pi)
    along = x * math.cos(angle) + y * math.sin(angle)
    across = -x * math.sin(angle) + y * math.cos(angle)
    f = p["grain_frequency"]
    phase = rng.uniform(0.0, 2.0 * math.pi)
    grain = np.sin(f * across + 0.8 * np.sin(2.3 * along + phase) + phase)
    fine = np.sin(3.7 * f * across + 1.3 * phase)
    shade = 1.0 + p["grain"] * grain + 0.3 * p["grain"] * fine
    result: Grid = colour * shade[..., None]
    return result


def _piece(
    image: Grid, x: Grid, y: Grid, piece: Asset, rng: np.random.Generator, light_dir: float
) -> None:
    """A chess piece seen from above, centred near (cx, cy), with its cast shadow."""
    p = piece.params
    cx, cy = rng.uniform(-0.15, 0.15, 2)
    rb = p["radius"] * rng.uniform(0.95, 1.05)
    d = p["detail"]
    rgb = np.asarray(p["rgb"])
    spin = rng.uniform(0.0, 2.0 * math.pi)
    lx, ly = math.cos(light_dir), math.sin(light_dir)

    shadow = _cover(_circle(x, y, cx - 0.12 * lx, cy - 0.12 * ly, rb * 1.08) - 0.05)
    _darken(image, 0.45 * ndimage.gaussian_filter(shadow, 2.0))

    r = np.hypot(x - cx, y - cy)
    dome = 1.0 - p["rim"] * (r / rb) ** 2  # darker towards the rim of the base
    base = _cover(r - rb)
    _paint(image, rgb * dome[..., None], base)
    ring = _cover(np.abs(r - 0.72 * rb) - 0.035)
    _paint(image, rgb * 0.7, 0.8 * ring)

    t = p["type"]
    u = (x - cx) * math.cos(spin) + (y - cy) * math.sin(spin)  # piece-aligned axes
    v = -(x - cx) * math.sin(spin) + (y - cy) * math.cos(spin)
    theta = np.arctan2(v, u)
    if t == "pawn":
        _paint(image, rgb * 0.85, _cover(r - 0.5 * rb * d))
        head = np.hypot(x - cx, y - cy) - 0.33 * rb * d
        _paint(image, rgb * (1.05 - 0.3 * (r / (0.33 * rb)) ** 2)[..., None], _cover(head))
    elif t == "rook":
        crenel = 0.62 * rb * d * (1.0 - 0.16 * (np.sin(5.0 * theta) > 0.0))
        _paint(image, rgb * 0.95, _cover(r - crenel))
        _paint(image, rgb * 0.45, _cover(r - 0.36 * rb * d))
    elif t == "knight":
        head = np.hypot((u - 0.22 * rb) / (0.62 * d), v / (0.34 * d)) - rb
        _paint(image, rgb * 0.9, _cover(head))
        mane = _cover(np.abs(v) - 0.05) * _cover(np.abs(u - 0.1 * rb) - 0.45 * rb)
        _paint(image, rgb * 0.55, 0.8 * mane)
        for side in (-1.0, 1.0):
            ear = np.hypot(u - 0.62 * rb * d, v - side * 0.14 * rb) - 0.1 * rb
            _paint(image, rgb * 1.05, _cover(ear))
    elif t == "bishop":
        head = np.hypot(x - cx, y - cy) - 0.45 * rb * d
        _paint(image, rgb * (1.0 - 0.25 * (r / (0.45 * rb)) ** 2)[..., None], _cover(head))
        slit = _cover(np.abs(u * 0.7 + v * 0.7) - 0.04) * _cover(head)
        _paint(image, rgb * 0.4, 0.9 * slit)
        _paint(image, np.minimum(rgb * 1.2, 1.0), _cover(r - 0.1 * rb))
    elif t == "queen":
        crown = r - 0.56 * rb * d * (1.0 + 0.2 * np.cos(8.0 * theta))
        _paint(image, rgb * 0.9, _cover(crown))
        _paint(image, rgb * 0.6, 0.7 * _cover(np.abs(r - 0.32 * rb) - 0.03))
        _paint(image, np.minimum(rgb * 1.15, 1.0), _cover(r - 0.18 * rb))
    else:  # king
        _paint(image, rgb * 0.85, _cover(r - 0.52 * rb * d))
        bar = np.minimum(
            _box(x, y, cx, cy, 0.42 * rb * d, 0.09 * rb, spin),
            _box(x, y, cx, cy, 0.09 * rb, 0.42 * rb * d, spin),
        )
        _paint(image, np.minimum(rgb * 1.15, 1.0), _cover(bar))
    # highlight towards the light
    glint = np.hypot(x - cx - 0.25 * rb * lx, y - cy - 0.25 * rb * ly) - 0.12 * rb
    _paint(image, np.ones(3), p["gloss"] * ndimage.gaussian_filter(_cover(glint), 1.5) * base)


def _hand(
    image: Grid,
    x: Grid,
    y: Grid,
    hand: Asset,
    pose: str,
    entry: float,
    rng: np.random.Generator,
    light_dir: float,
) -> None:
    """A hand entering the square from direction ``entry`` (radians, the direction from
    the square's centre to the edge it comes in by)."""
    p = hand.params
    skin = np.asarray(p["skin"])
    fr = p["finger_radius"] * rng.uniform(0.92, 1.08)
    ex, ey = math.cos(entry), math.sin(entry)  # towards the entry edge
    nx, ny = -ey, ex  # across the hand
    offset = rng.uniform(-0.25, 0.25)
    capsules: list[tuple[tuple[float, float], tuple[float, float], float, bool]] = []

    def from_edge(
        lateral: float, depth: float, radius: float, nail: bool, tilt: float = 0.0
    ) -> None:
        """A capsule from far outside the entry edge to a tip ``depth`` beyond the
        centre's projection (depth 1 = the centre line, 0 = the edge)."""
        start = (3.0 * ex + lateral * nx, 3.0 * ey + lateral * ny)
        tip_lat = lateral + tilt
        tip = ((1.0 - depth) * ex + tip_lat * nx, (1.0 - depth) * ey + tip_lat * ny)
        capsules.append((start, tip, radius, nail))

    if pose == "single_finger":
        from_edge(offset, rng.uniform(0.8, 1.6), fr, True, rng.uniform(-0.3, 0.3))
    elif pose == "pinch":
        depth = rng.uniform(0.7, 1.3)
        from_edge(offset + 0.35, depth, fr, True, -0.3)
        from_edge(offset - 0.55, depth - 0.1, fr * 1.15, True, 0.55)
    elif pose == "flat_hand":
        palm_depth = rng.uniform(0.1, 0.6)
        from_edge(offset, palm_depth, 0.9, False)
        for k, lat in enumerate((-0.75, -0.25, 0.25, 0.75)):
            finger_depth = palm_depth + rng.uniform(0.55, 0.85) - 0.12 * abs(k - 1.5)
            from_edge(offset + lat, finger_depth, fr * 0.95, True, 0.05 * (k - 1.5))
    else:  # "edge": a finger or the side of a hand just inside the square
        if rng.uniform() < 0.5:
            from_edge(offset, rng.uniform(0.3, 0.6), fr, True)
        else:
            from_edge(offset, rng.uniform(-0.4, -0.1), 0.9, False)
            from_edge(offset + 0.3, rng.uniform(0.3, 0.55), fr * 0.95, True)

    lx, ly = math.cos(light_dir), math.sin(light_dir)
    shadow = np.zeros_like(x)
    for start, tip, radius, _ in capsules:
        dist, _t = _segment_distance(x + 0.15 * lx, y + 0.15 * ly, start, tip)
        shadow = np.maximum(shadow, _cover(dist - radius))
    _darken(image, 0.5 * ndimage.gaussian_filter(shadow, 2.5))

    red = np.array([1.0 + p["redness"], 1.0 - 0.3 * p["redness"], 1.0 - 0.4 * p["redness"]])
    # the hand is several centimetres above the board, closer to the gripper's ring light
    red = red * rng.uniform(1.15, 1.35)
    for start, tip, radius, nail in capsules:
        dist, t = _segment_distance(x, y, start, tip)
        cover = _cover(dist - radius)
        across = np.clip(dist / radius, 0.0, 1.0)
        shade = 1.0 - 0.35 * across**2  # round finger: darker at the sides
        along_len = math.hypot(tip[0] - start[0], tip[1] - start[1])
        from_tip = (1.0 - t) * along_len  # distance from the tip along the axis
        if nail:
            crease = sum(_cover(np.abs(from_tip - c * radius) - 0.025) for c in (2.2, 3.6))
            shade = shade * (1.0 - 0.18 * np.minimum(crease, 1.0))
        colour = skin * red * shade[..., None]
        _paint(image, colour, cover)
        if nail:
            nail_tint = np.array([1.0, 0.82, 0.8]) * (0.25 + 0.75 * skin.max())
            nail_mask = cover * _cover(np.abs(from_tip - 0.55 * radius) - 0.4 * radius)
            nail_mask *= _cover(dist - 0.6 * radius)
            _paint(image, nail_tint, p["nail_tint"] * 2.0 * nail_mask)


def _occlude(
    image: Grid, x: Grid, y: Grid, fraction: float, kind: str, edge: float, rng: np.random.Generator
) -> None:
    """Hide ``fraction`` of the square behind a band from the edge at angle ``edge``."""
    if fraction <= 0.0:
        return
    ex, ey = math.cos(edge), math.sin(edge)
    # the band covers the part of the square within distance 2 * fraction of the edge
    depth = (x * ex + y * ey) - (1.0 - 2.0 * fraction)
    mask = _cover(-depth)  # 1 inside the band
    if kind == "jaw_shadow":
        _darken(image, 0.6 * ndimage.gaussian_filter(mask, 2.0))
    elif kind == "jaw":
        metal = np.array([0.55, 0.56, 0.6]) * rng.uniform(0.8, 1.1)
        _paint(image, metal * (0.9 + 0.1 * np.sin(20.0 * depth))[..., None], mask)
    else:  # another object: a cable or the robot's own cable sleeve (black, grey, blue)
        colour = np.array(((0.08, 0.08, 0.09), (0.4, 0.4, 0.42), (0.12, 0.2, 0.45)))
        _paint(image, colour[int(rng.integers(3))] * rng.uniform(0.8, 1.2), mask)


def _camera(angle_deg: float, azimuth_deg: float) -> tuple[Grid, Grid]:
    """Board-plane coordinates of every high-resolution pixel, for a camera tilted by
    ``angle_deg`` from vertical towards ``azimuth_deg``: foreshortening by 1/cos(angle)
    and a keystone along the tilt direction, centred on the square."""
    centres = (np.arange(_HI) + 0.5) / _HI * 2.0 - 1.0
    v, u = np.meshgrid(centres, centres, indexing="ij")  # rows = y, columns = x
    phi = math.radians(azimuth_deg)
    c, s = math.cos(phi), math.sin(phi)
    a = u * c + v * s  # along the tilt
    b = -u * s + v * c
    tilt = math.radians(angle_deg)
    keystone = 1.0 + 0.35 * math.tan(tilt) * a
    a2 = a / (math.cos(tilt) * keystone)
    b2 = b / keystone
    return a2 * c - b2 * s, a2 * s + b2 * c


def _colour_cast(kelvin: float) -> NDArray[np.float64]:
    """RGB gains of an uncorrected white balance at ``kelvin`` (neutral at 5000 K)."""
    warm = (5000.0 - kelvin) / 2300.0  # +1 at 2700 K, -0.65 at 6500 K
    return np.array([1.0 + 0.08 * warm, 1.0, 1.0 - 0.1 * warm])


def _blur(image: Grid, sigma: float, kind: str, axis: int) -> Grid:
    if sigma <= 0.0:
        return image
    hi = sigma * _SS
    sigmas = [hi, hi, 0.0]
    if kind == "motion":
        sigmas[1 - axis] = hi / 3.0
    blurred: Grid = ndimage.gaussian_filter(image, sigmas, mode="nearest")
    return blurred


# -- one sample -----------------------------------------------------------------------------------


def render(
    seed: int,
    label: str,
    lux: float,
    pool: dict[str, list[Asset]],
) -> tuple[NDArray[np.uint8], dict[str, Any]]:
    """Render one sample: its 16 x 16 x 3 uint8 image and its metadata (every column of
    :data:`COLUMNS` except ``sample_id``).

    ``pool`` maps "hand", "piece" and "board" to the assets this sample may use (those
    of its dataset); ``lux`` is drawn by :func:`generate` so that the lighting bands can
    be stratified. Everything else is drawn from ``seed``.
    """
    if label not in CLASSES:
        raise ValueError(f"label={label!r}; expected one of {', '.join(CLASSES)}")
    rng = np.random.default_rng(seed)
    board = pool["board"][int(rng.integers(len(pool["board"])))]
    light_square = bool(rng.uniform() < 0.5)
    angle = float(rng.uniform(0.0, 25.0))
    azimuth = float(rng.uniform(0.0, 360.0))
    x, y = _camera(angle, azimuth)
    light_dir = float(rng.uniform(0.0, 2.0 * math.pi))
    image = _board(x, y, board, light_square, rng)

    meta: dict[str, Any] = {
        "label": label,
        "seed": seed,
        "board": board.id,
        "square_colour": "light" if light_square else "dark",
        "piece": "none",
        "piece_type": "none",
        "piece_colour": "none",
        "skin_tone": "none",
        "pose": "none",
    }
    # hands come from the player's side of the board (image bottom, +y), within 35 deg
    entry = math.pi / 2.0 + math.radians(float(rng.uniform(-35.0, 35.0)))
    with_piece = label == "piece" or (label == "hand" and rng.uniform() < 0.25)
    if with_piece:
        piece = pool["piece"][int(rng.integers(len(pool["piece"])))]
        _piece(image, x, y, piece, rng, light_dir)
        meta.update(
            piece=piece.id,
            piece_type=piece.params["type"],
            piece_colour=piece.params["colour"],
        )
    if label == "hand":
        hand = pool["hand"][int(rng.integers(len(pool["hand"])))]
        pose = POSES[int(rng.integers(len(POSES)))]
        _hand(image, x, y, hand, pose, entry, rng, light_dir)
        meta.update(skin_tone=hand.group, pose=pose)
        meta["asset"] = hand.id
    else:
        meta["asset"] = meta["piece"] if label == "piece" else board.id

    if rng.uniform() < 0.5:
        occlusion, occluder = 0.0, "none"
    else:
        occlusion = float(rng.uniform(0.02, 0.3))
        occluder = ("jaw_shadow", "jaw", "object")[int(rng.integers(3))]
    # from one of the square's edges, never the one the hand comes in by: the label must
    # stay visible
    nearest = round(entry / (math.pi / 2.0)) % 4
    edge = math.pi / 2.0 * ((nearest + int(rng.integers(1, 4))) % 4)
    _occlude(image, x, y, occlusion, occluder, edge, rng)

    kelvin = float(rng.uniform(2700.0, 6500.0))
    gain = min((lux / 700.0) ** 0.4, 1.0)  # auto-exposure holds bright scenes at 1
    image = image * gain * _colour_cast(kelvin)
    # mild vignetting of the gripper's ring light
    image *= (1.0 - 0.12 * (x**2 + y**2) / 2.0)[..., None]

    blur_sigma = float(rng.uniform(0.0, 1.2))
    blur_kind = "defocus" if rng.uniform() < 0.6 else "motion"
    image = _blur(image, blur_sigma, blur_kind, int(rng.integers(2)))
    small = image.reshape(SIZE, _SS, SIZE, _SS, 3).mean(axis=(1, 3))

    noise_sigma = float((1.0 + 2.5 * math.sqrt(700.0 / lux)) * rng.uniform(0.8, 1.2))
    pixels = small * 255.0 + rng.normal(0.0, noise_sigma, small.shape)
    out = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    meta.update(
        lux=float(lux),
        colour_temperature=kelvin,
        blur_sigma=blur_sigma,
        blur_kind=blur_kind,
        occlusion=occlusion,
        occluder=occluder,
        camera_angle=angle,
        camera_azimuth=azimuth,
        noise_sigma=noise_sigma,
    )
    return out, meta


# -- one dataset ----------------------------------------------------------------------------------


def generate(
    name: str,
    seed: int,
    counts: dict[str, int],
    assets: list[Asset],
) -> dict[str, NDArray[Any]]:
    """Generate one dataset as numpy columns: ``image`` (n, 16, 16, 3) uint8 and the
    metadata of :data:`COLUMNS` (text as numpy unicode arrays, numbers as float64 or
    int64).

    ``counts`` gives the number of samples per class. Within every class, the samples
    are spread evenly over the three lighting bands (lux log-uniform inside its band),
    so that every band holds a third of every class; the order of the samples is then
    shuffled. Sample ``i`` is rendered from seed ``seed * 100000 + i`` and named
    ``<name>-<i:05d>``. ``assets`` are the assets of this dataset only.
    """
    unknown = sorted(set(counts) - set(CLASSES))
    if unknown:
        raise ValueError(f"counts has unknown classes {unknown}; expected {CLASSES}")
    rng = np.random.default_rng(seed)
    plan: list[tuple[str, float]] = []
    bands = list(LIGHTING_BANDS.values())
    for label in CLASSES:
        for k in range(counts.get(label, 0)):
            low, high = bands[k % len(bands)]
            plan.append((label, float(np.exp(rng.uniform(math.log(low), math.log(high))))))
    order = rng.permutation(len(plan))
    pool = {kind: [a for a in assets if a.kind == kind] for kind in ("hand", "piece", "board")}
    for kind, members in pool.items():
        if not members:
            raise ValueError(f"dataset {name!r} has no {kind} assets")

    images = np.zeros((len(plan), SIZE, SIZE, 3), dtype=np.uint8)
    rows: list[dict[str, Any]] = []
    for i, j in enumerate(order):
        label, lux = plan[int(j)]
        images[i], meta = render(seed * 100000 + i, label, lux, pool)
        rows.append({"sample_id": f"{name}-{i:05d}", **meta})

    columns: dict[str, NDArray[Any]] = {"image": images}
    for column in COLUMNS:
        values = [row[column] for row in rows]
        if isinstance(values[0], str):
            columns[column] = np.array(values, dtype=np.str_)
        elif isinstance(values[0], int):
            columns[column] = np.array(values, dtype=np.int64)
        else:
            columns[column] = np.array(values, dtype=np.float64)
    return columns
