"""A small procedural "simulator" of the forward camera of an automatic emergency brake.

The camera sits behind the windscreen, 1.3 m above a flat road, looking straight ahead. This
module renders what it sees as short **sequences** of grayscale images (``HEIGHT x WIDTH``
pixels, one channel, uint8) at 10 frames per second while the car drives along a street,
and records, for every frame, the ground truth of every pedestrian in view.

What is simulated, and how (every choice is recorded per image or per object):

- Camera: a pinhole with focal length ``FOCAL_PX`` pixels and the horizon at row
  ``HORIZON_ROW``; a point at lateral offset ``X`` metres, height ``Y`` metres and distance
  ``Z`` metres ahead lands at column ``cx + f X / Z`` and row ``horizon + f (1.3 - Y) / Z``,
  so a pedestrian of height ``h`` metres at ``Z`` metres is ``f h / Z`` pixels tall (an adult
  is about 58 px tall at 5 m and 3.6 px at 80 m). Scenes are drawn at 2x resolution and
  averaged down (anti-aliasing).
- Streets (background assets): each street asset fixes the road layout (lane and road
  widths, sidewalks), the surface tones, the skyline behind (building blocks with windows),
  and how densely cars are parked and posts (bollards, sign and lamp posts) stand along it.
  :func:`assign_sets` deals the street assets and the pedestrian assets to the development
  [N], internal test [O] and verification [P] sets, so no asset is in two sets.
- Pedestrians (person assets): adults (1.50-1.95 m) and children (1.00-1.40 m), with a
  build, a walking gait and clothing of a brightness class (dark, mid, bright) for the upper
  and the lower body. A pedestrian is drawn as a figure of signed-distance shapes in metres
  (head, torso, two arms, two legs) seen from the side (crossing) or from the front
  (walking along the street or standing), with the legs and arms swinging with the gait.
- Motion: the car drives at 5-14 m/s (18-50 km/h); pedestrians cross the road (0.8-1.8 m/s),
  walk along the sidewalk, or stand. Every object's distance shrinks with the car's motion
  from frame to frame, so a sequence of 10 frames shows a pedestrian approaching.
- Occlusion: parked cars, posts and other pedestrians nearer to the camera hide part of a
  pedestrian; ``occlusion`` is the hidden fraction of the pedestrian's figure inside the
  image. ``truncation`` is the fraction of the figure outside the image (near pedestrians at
  the image border). Both are computed from the rendered coverage, not guessed.
- Groups: distant groups of 4-8 people (40-80 m) standing close together on a sidewalk are
  marked as one *crowd region* (COCO ``iscrowd=1``): a detector need not separate them, and a
  detection inside the region is neither a hit nor a false positive. A pedestrian hidden
  beyond ``MAX_OCCLUSION`` or ``MAX_TRUNCATION`` is also an ignore region (``iscrowd=1``,
  kind ``hidden``): nothing in the image shows it, yet a detection of it is no error.
- Lighting: ``day``, ``dusk`` (less light, more noise) or ``night`` (dark; the headlights
  light the road and whatever stands on it with a fall-off in distance, street lamps add a
  little; lit windows and tail lights). Weather: ``clear``, ``rain`` (a veil of lower
  contrast, streaks and a slight blur) or ``fog`` (contrast falls as ``exp(-3 Z / V)`` with
  the visibility ``V`` of 60-200 m, towards a grey airlight).
- Sensor: Gaussian noise (standard deviation in intensity levels, larger in poor light),
  then rounding to 8 bits.

What is *not* simulated (the sim-to-real gaps stated in [Q]): real human shapes, clothing
texture and colour, real camera noise, lens distortion, glare, reflections on wet roads,
shadows cast by objects, cyclists, prams, wheelchairs, animals, people lying on or bending
over the road, hills and curves, other moving vehicles, and the pitch and roll of the car.

Everything is a deterministic function of integer seeds and numpy's PCG64 generator:
:func:`render_sequence` gives the same frames for the same arguments on every machine with
the same numpy.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

__all__ = [
    "DISTANCE_BANDS",
    "DISTANCE_RANGE",
    "FOCAL_PX",
    "FRAMES",
    "FRAME_RATE_HZ",
    "HEIGHT",
    "HORIZON_ROW",
    "IMAGE_COLUMNS",
    "LIGHTINGS",
    "OBJECT_COLUMNS",
    "WEATHERS",
    "WIDTH",
    "Asset",
    "assign_sets",
    "catalogue",
    "generate",
    "render_sequence",
]

HEIGHT, WIDTH = 56, 96  # output image, pixels
FOCAL_PX = 200.0  # focal length in output pixels (horizontal field of view 27 degrees)
HORIZON_ROW = 17.0  # row of the horizon (the camera looks slightly down)
CAMERA_HEIGHT_M = 1.3
FRAME_RATE_HZ = 10.0
FRAMES = 10  # frames per sequence
DISTANCE_RANGE = (5.0, 80.0)  # metres: the pedestrians of the operating domain
MAX_OCCLUSION = 0.8  # beyond this, a pedestrian is an ignore region
MAX_TRUNCATION = 0.6
IN_PATH_HALF_WIDTH = 1.5  # metres: the car's half width (0.9 m) and a margin of 0.6 m
DISTANCE_BANDS = (  # name, from, to (metres): the bands of [B]
    ("near", 5.0, 15.0),
    ("mid", 15.0, 30.0),
    ("far", 30.0, 50.0),
    ("distant", 50.0, 80.0),
)
_SS = 2  # supersampling factor
_HI_H, _HI_W = HEIGHT * _SS, WIDTH * _SS
_F_HI = FOCAL_PX * _SS
_CX_HI = _HI_W / 2.0
_CY_HI = HORIZON_ROW * _SS

LIGHTINGS = ("day", "dusk", "night")
WEATHERS = ("clear", "rain", "fog")
SETS = ("N", "O", "P")
_SET_OF_INDEX = ("N", "O", "P", "N", "P", "N")  # asset index within a group -> set
CLOTHING = ("dark", "mid", "bright")
_CLOTHING_ALBEDO = {"dark": (0.06, 0.18), "mid": (0.25, 0.5), "bright": (0.6, 0.9)}

IMAGE_COLUMNS = (
    "sample_id",
    "sequence",
    "frame",
    "scene_seed",
    "street",
    "lighting",
    "weather",
    "visibility_m",
    "ego_speed_mps",
    "noise_sigma",
    "blur_sigma",
    "pedestrians",
    "crowds",
)
"""The per-image columns of a generated set, in file order (``image`` comes first)."""

OBJECT_COLUMNS = (
    "sample_id",
    "class",
    "x",
    "y",
    "w",
    "h",
    "iscrowd",
    "kind",
    "track_id",
    "distance_m",
    "lateral_m",
    "height_m",
    "height_px",
    "occlusion",
    "truncation",
    "occluder",
    "motion",
    "view",
    "clothing",
    "person",
    "in_path",
)
"""The columns of the ground-truth object table, one row per object and frame."""


# -- assets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Asset:
    """One street or person: an id, its group and the appearance drawn from its own seed."""

    id: str
    kind: str  # "street" or "person"
    group: str  # street type, or "adult-<clothing>" / "child-<clothing>"
    index: int  # 1-based index within the group
    params: dict[str, Any] = field(hash=False)

    @property
    def set(self) -> str:
        """The dataset this asset belongs to (see :func:`assign_sets`)."""
        return _SET_OF_INDEX[(self.index - 1) % len(_SET_OF_INDEX)]


def _asset_rng(name: str) -> np.random.Generator:
    # a stable integer from the whole id (not Python's salted hash, and not a truncation of
    # the id's bytes, which would give assets sharing a prefix the same appearance)
    digest = hashlib.sha256(name.encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


STREET_TYPES = ("residential", "shopping", "arterial")
_LANE_M = 3.3
ASSETS_PER_GROUP = 12


def catalogue() -> list[Asset]:
    """Every asset, in a fixed order: streets (by type), then people (adults, children, by
    the brightness of their upper clothing)."""
    assets: list[Asset] = []
    for street_type in STREET_TYPES:
        for k in range(1, ASSETS_PER_GROUP + 1):
            name = f"STREET-{street_type.upper()}-{k:02d}"
            rng = _asset_rng(name)
            wide = street_type == "arterial"
            both_sides = bool(rng.uniform() < 0.5)
            # the car drives in the middle of a 3.3 m lane (lateral -1.65..1.65 m), with a
            # parking lane on its right; the road continues left over one lane (two on an
            # arterial road) in its direction and one the other way
            lanes_left = 3 if wide else 1
            params: dict[str, Any] = {
                "right_edge": _LANE_M / 2.0 + float(rng.uniform(2.0, 2.5)),
                "left_edge": -_LANE_M / 2.0
                - _LANE_M * lanes_left
                - (float(rng.uniform(2.0, 2.5)) if both_sides else 0.3),
                "sidewalk": float(rng.uniform(2.0, 4.5)),
                "road": float(rng.uniform(0.22, 0.38)),
                "pavement": float(rng.uniform(0.4, 0.6)),
                "marking": float(rng.uniform(0.7, 0.9)),
                "parked_gap": float(rng.uniform(6.0, 16.0) * (1.6 if wide else 1.0)),
                "parked_both_sides": both_sides,
                "post_gap": float(rng.uniform(8.0, 25.0)),
                "skyline_seed": int(rng.integers(2**31)),
                "building": float(rng.uniform(0.3, 0.6)),
                "building_height": float(rng.uniform(6.0, 20.0)),
                "lamps": bool(rng.uniform() < (0.9 if street_type != "residential" else 0.5)),
            }
            assets.append(Asset(name, "street", street_type, k, params))
    for age in ("adult", "child"):
        for clothing in CLOTHING:
            for k in range(1, ASSETS_PER_GROUP + 1):
                name = f"PERSON-{age.upper()}-{clothing.upper()}-{k:02d}"
                rng = _asset_rng(name)
                low, high = _CLOTHING_ALBEDO[clothing]
                lower = CLOTHING[int(rng.integers(3))]
                params = {
                    "age": age,
                    "height_m": float(
                        rng.uniform(1.5, 1.95) if age == "adult" else rng.uniform(1.0, 1.4)
                    ),
                    "build": float(rng.uniform(0.85, 1.2)),
                    "upper": float(rng.uniform(low, high)),
                    "lower": float(rng.uniform(*_CLOTHING_ALBEDO[lower])),
                    "clothing": clothing,
                    "head": float(rng.uniform(0.15, 0.55)),
                    "stride": float(rng.uniform(0.25, 0.45)),
                    "cadence": float(rng.uniform(1.6, 2.2)),  # steps per second / 2
                    "coat": bool(rng.uniform() < 0.25),  # a long coat hides the legs' gap
                }
                assets.append(Asset(name, "person", f"{age}-{clothing}", k, params))
    return assets


def assign_sets(assets: list[Asset]) -> dict[str, list[Asset]]:
    """Deal the assets to [N], [O] and [P]: within every group (street type; age and
    clothing class), assets 1, 4, 6, 7, 10, 12 go to N, 2 and 8 to O, 3, 5, 9 and 11 to P.
    No asset is in two sets, and every set has assets of every group."""
    sets: dict[str, list[Asset]] = {name: [] for name in SETS}
    for asset in assets:
        sets[asset.set].append(asset)
    return sets


# -- drawing helpers --------------------------------------------------------------------------

Grid = NDArray[np.float64]


def _capsule(x: Grid, y: Grid, a: tuple[float, float], b: tuple[float, float], r: float) -> Grid:
    """Signed distance to a capsule of radius ``r`` around the segment a-b."""
    ax, ay = a
    dx, dy = b[0] - ax, b[1] - ay
    length2 = dx * dx + dy * dy
    t = np.clip(((x - ax) * dx + (y - ay) * dy) / max(length2, 1e-12), 0.0, 1.0)
    result: Grid = np.hypot(x - ax - t * dx, y - ay - t * dy) - r
    return result


def _rect(x: Grid, y: Grid, x0: float, x1: float, y0: float, y1: float, r: float = 0.0) -> Grid:
    """Signed distance to an axis-aligned rectangle with corners rounded by ``r``."""
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    hw, hh = (x1 - x0) / 2.0 - r, (y1 - y0) / 2.0 - r
    qx, qy = np.abs(x - cx) - hw, np.abs(y - cy) - hh
    outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
    result: Grid = outside + np.minimum(np.maximum(qx, qy), 0.0) - r
    return result


def _cover(sdf: Grid, pixel: float) -> Grid:
    """Anti-aliased coverage in [0, 1] of ``sdf < 0`` for pixels ``pixel`` wide."""
    return np.clip(0.5 - sdf / pixel, 0.0, 1.0)


@dataclass
class _Patch:
    """A billboard at distance ``z``: where it lands in the 2x image, and its coverage
    (alpha) and radiance (before fog and exposure) there."""

    z: float
    rows: slice
    cols: slice
    alpha: Grid
    radiance: Grid


def _window(
    x0: float, x1: float, y0: float, y1: float, z: float
) -> tuple[slice, slice, Grid, Grid, float] | None:
    """The 2x-resolution pixels covering the object-plane rectangle [x0, x1] x [y0, y1]
    (metres; y is height above the road) at distance ``z``, clipped to the image, with
    the object-plane coordinates of their centres and the pixel size in metres."""
    c0 = math.floor(_CX_HI + _F_HI * x0 / z) - 1
    c1 = math.ceil(_CX_HI + _F_HI * x1 / z) + 1
    r0 = math.floor(_CY_HI + _F_HI * (CAMERA_HEIGHT_M - y1) / z) - 1
    r1 = math.ceil(_CY_HI + _F_HI * (CAMERA_HEIGHT_M - y0) / z) + 1
    c0, c1, r0, r1 = max(c0, 0), min(c1, _HI_W), max(r0, 0), min(r1, _HI_H)
    if c0 >= c1 or r0 >= r1:
        return None
    cols = (np.arange(c0, c1) + 0.5 - _CX_HI) * z / _F_HI
    rows = CAMERA_HEIGHT_M - (np.arange(r0, r1) + 0.5 - _CY_HI) * z / _F_HI
    yy, xx = np.meshgrid(rows, cols, indexing="ij")
    return slice(r0, r1), slice(c0, c1), xx, yy, z / _F_HI


# -- objects ----------------------------------------------------------------------------------


def _pedestrian_sdf(
    x: Grid, y: Grid, p: dict[str, Any], view: str, phase: float
) -> tuple[Grid, Grid, Grid]:
    """Signed distances (metres, feet centre at the origin) of the figure's head, upper
    body (torso and arms) and lower body (legs)."""
    h = p["height_m"]
    child = p["age"] == "child"
    b = p["build"]
    head_r = (0.075 if child else 0.064) * h
    head = np.hypot(x, y - (h - head_r)) - head_r
    neck = h - 2.0 * head_r
    hip = (0.50 if child else 0.52) * h
    shoulder = 0.11 * h * b if view == "front" else 0.06 * h * b
    torso = _rect(x, y, -shoulder, shoulder, hip - 0.02 * h, neck, 0.04 * h)
    swing = math.sin(phase) * p["stride"]
    limb = 0.038 * h * b
    if view == "side":
        legs = np.minimum(
            _capsule(x, y, (0.0, hip), (hip * math.sin(swing), limb), limb),
            _capsule(x, y, (0.0, hip), (-hip * math.sin(swing), limb), limb),
        )
        arm = 0.34 * h
        arms = np.minimum(
            _capsule(
                x, y, (0.0, neck - 0.03 * h), (-arm * math.sin(0.8 * swing), neck - arm), limb * 0.8
            ),
            _capsule(
                x, y, (0.0, neck - 0.03 * h), (arm * math.sin(0.8 * swing), neck - arm), limb * 0.8
            ),
        )
    else:
        spread = 0.045 * h * b
        lift = 0.04 * h * max(math.sin(phase), 0.0)
        legs = np.minimum(
            _capsule(x, y, (-spread, hip), (-spread * 1.1, limb + lift), limb * 1.1),
            _capsule(x, y, (spread, hip), (spread * 1.1, limb + 0.04 * h - lift), limb * 1.1),
        )
        arms = np.minimum(
            _capsule(
                x,
                y,
                (-shoulder, neck - 0.04 * h),
                (-shoulder - 0.03 * h, hip - 0.02 * h),
                limb * 0.8,
            ),
            _capsule(
                x, y, (shoulder, neck - 0.04 * h), (shoulder + 0.03 * h, hip - 0.02 * h), limb * 0.8
            ),
        )
    upper = np.minimum(torso, arms)
    if p["coat"]:
        coat = _rect(x, y, -shoulder * 1.05, shoulder * 1.05, 0.3 * h, hip + 0.05 * h, 0.03 * h)
        upper = np.minimum(upper, coat)
    return head, upper, legs


def _pedestrian_patch(
    p: dict[str, Any], lateral: float, z: float, view: str, phase: float
) -> _Patch | None:
    h = p["height_m"]
    win = _window(lateral - 0.45 * h, lateral + 0.45 * h, 0.0, h + 0.05, z)
    if win is None:
        return None
    rows, cols, xx, yy, px = win
    head, upper, legs = _pedestrian_sdf(xx - lateral, yy, p, view, phase)
    a_head, a_upper, a_legs = _cover(head, px), _cover(upper, px), _cover(legs, px)
    alpha = np.maximum(np.maximum(a_head, a_upper), a_legs)
    # paint order inside the figure: legs, then upper body, then head
    radiance = np.full(alpha.shape, p["lower"])
    radiance = radiance * (1.0 - a_upper) + p["upper"] * a_upper
    radiance = radiance * (1.0 - a_head) + p["head"] * a_head
    radiance = radiance * (1.0 - 0.25 * np.clip((yy - h) / h + 0.5, 0.0, 1.0) ** 2)
    return _Patch(z, rows, cols, alpha, radiance)


def _car_patch(lateral: float, z: float, tone: float, night: bool) -> _Patch | None:
    """A car seen from behind, 1.8 m wide and 1.45 m high, centred at ``lateral``."""
    win = _window(lateral - 0.95, lateral + 0.95, 0.0, 1.5, z)
    if win is None:
        return None
    rows, cols, xx, yy, px = win
    u = xx - lateral
    body = _rect(u, yy, -0.9, 0.9, 0.25, 0.95, 0.08)
    cabin = _rect(u, yy, -0.72, 0.72, 0.9, 1.45, 0.15)
    wheels = np.minimum(
        _rect(u, yy, -0.85, -0.55, 0.0, 0.4, 0.05), _rect(u, yy, 0.55, 0.85, 0.0, 0.4, 0.05)
    )
    a_body = _cover(np.minimum(body, cabin), px)
    a_wheels = _cover(wheels, px)
    alpha = np.maximum(a_body, a_wheels)
    glass = _cover(_rect(u, yy, -0.62, 0.62, 0.98, 1.38, 0.1), px)
    lights = _cover(
        np.minimum(_rect(u, yy, -0.86, -0.62, 0.7, 0.85), _rect(u, yy, 0.62, 0.86, 0.7, 0.85)), px
    )
    radiance = tone * (1.0 - 0.5 * glass) * (1.0 - 0.2 * (yy < 0.5))
    radiance = radiance * (1.0 - a_wheels) + 0.05 * a_wheels
    radiance = radiance * (1.0 - lights) + (0.9 if night else 0.35) * lights
    return _Patch(z, rows, cols, alpha, radiance)


def _post_patch(lateral: float, z: float, kind: str, tone: float) -> _Patch | None:
    """A bollard (1 m), a sign post (2.6 m, with a plate) or a lamp post (5 m)."""
    height = {"bollard": 1.0, "sign": 2.6, "lamp": 5.0}[kind]
    radius = {"bollard": 0.1, "sign": 0.04, "lamp": 0.07}[kind]
    win = _window(lateral - 0.4, lateral + 0.4, 0.0, height + 0.1, z)
    if win is None:
        return None
    rows, cols, xx, yy, px = win
    u = xx - lateral
    sdf = _rect(u, yy, -radius, radius, 0.0, height, radius * 0.5)
    radiance = np.full(sdf.shape, tone)
    if kind == "sign":
        plate = _rect(u, yy, -0.3, 0.3, 1.9, 2.5, 0.02)
        sdf = np.minimum(sdf, plate)
        radiance = np.where(plate < 0, 0.85, radiance)
    if kind == "lamp":
        arm = _rect(u, yy, -0.4, 0.0, height - 0.1, height, 0.02)
        sdf = np.minimum(sdf, arm)
    return _Patch(z, rows, cols, _cover(sdf, px), radiance)


# -- one sequence -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Walker:
    """A pedestrian of a sequence: where it is at frame 0 and how it moves."""

    person: Asset
    track: int
    lateral0: float  # metres, positive to the right
    distance0: float  # metres ahead of the camera at frame 0
    v_lateral: float  # metres per second
    v_along: float  # metres per second, away from the car positive
    motion: str  # crossing, along or standing
    view: str  # side (crossing) or front
    phase0: float  # gait phase at frame 0, radians


@dataclass(frozen=True)
class _Crowd:
    """A distant group: its members (person, lateral, distance at frame 0, gait phase)."""

    members: tuple[tuple[Asset, float, float, float], ...]
    track: int


@dataclass(frozen=True)
class _Furniture:
    kind: str  # car, bollard, sign, lamp
    lateral: float
    distance: float  # metres along the road from the car's position at frame 0
    tone: float


_DURATION_S = (FRAMES - 1) / FRAME_RATE_HZ
_NOISE = {"day": (0.2, 0.5), "dusk": (0.5, 1.0), "night": (1.0, 2.0)}
_SKY = {"day": 0.85, "dusk": 0.45, "night": 0.04}
_FACADE_LIGHT = {"day": 0.9, "dusk": 0.4, "night": 0.03}
_AIRLIGHT = {"day": 0.75, "dusk": 0.4, "night": 0.08}
# the camera's auto-exposure: a gain that brings dusk back to about daylight brightness and
# lifts the night as far as the sensor allows (the noise is added after it)
_EXPOSURE = {"day": 1.0, "dusk": 2.0, "night": 2.5}


def _illumination(lighting: str, z: Any, lamps: bool) -> Any:
    """Light falling on a surface at distance ``z`` metres (1 = full daylight): constant
    by day and at dusk; at night the low-beam headlights (falling off beyond about 30 m)
    plus street lamps on streets that have them."""
    z = np.asarray(z, dtype=float)
    if lighting == "day":
        return np.ones_like(z)
    if lighting == "dusk":
        return np.full_like(z, 0.42)
    return 0.05 + (0.08 if lamps else 0.0) + 0.85 / (1.0 + (z / 30.0) ** 2)


def _plan_walkers(
    rng: np.random.Generator, people: list[Asset], street: Asset, speed: float
) -> list[_Walker]:
    """0-5 pedestrians (mean 2.7). The distance band of each is drawn first (the four bands
    of :data:`DISTANCE_BANDS` equally often), then a distance inside it for the middle of
    the sequence, kept so that every frame stays inside :data:`DISTANCE_RANGE`."""
    count = int(rng.choice(6, p=[0.05, 0.15, 0.25, 0.25, 0.2, 0.1]))
    s = street.params
    walkers = []
    for track in range(count):
        person = people[int(rng.integers(len(people)))]
        motion = ("crossing", "along", "standing")[int(rng.choice(3, p=[0.45, 0.35, 0.2]))]
        v_along = float(rng.uniform(1.0, 1.7)) * (1.0 if rng.uniform() < 0.5 else -1.0)
        if motion != "along":
            v_along = 0.0
        closing = speed - v_along  # the distance shrinks by this many metres per second
        band, low, high = DISTANCE_BANDS[int(rng.integers(len(DISTANCE_BANDS)))]
        half = closing * _DURATION_S / 2.0
        middle = float(rng.uniform(low, high))
        middle = min(max(middle, DISTANCE_RANGE[0] + 0.2 + half), DISTANCE_RANGE[1] - 0.2 - half)
        # lateral position at the middle of the sequence
        if motion == "crossing":
            v_lateral = float(rng.uniform(0.8, 1.8)) * (1.0 if rng.uniform() < 0.5 else -1.0)
            # somewhere on the road or just off it, inside the field of view
            seen = 0.9 * middle * (WIDTH / 2.0) / FOCAL_PX
            low_x, high_x = max(s["left_edge"] - 1.0, -seen), min(s["right_edge"] + 1.5, seen)
            lateral = float(rng.uniform(low_x, high_x))
            view = "side"
        else:
            v_lateral = 0.0
            edge = s["right_edge"] if rng.uniform() < 0.6 else s["left_edge"]
            # near the car, a pedestrian who is not crossing waits at the kerb or steps
            # out between the parked cars
            low_o, high_o = (0.2, s["sidewalk"] - 0.3) if band != "near" else (-1.2, 0.5)
            offset = float(rng.uniform(low_o, high_o))
            lateral = edge + (offset if edge > 0 else -offset)
            view = "front"
        walkers.append(
            _Walker(
                person,
                track,
                lateral - v_lateral * _DURATION_S / 2.0,
                middle + half,
                v_lateral,
                v_along,
                motion,
                view,
                float(rng.uniform(0.0, 2.0 * math.pi)),
            )
        )
    return walkers


def _plan_crowd(
    rng: np.random.Generator, people: list[Asset], street: Asset, speed: float, track: int
) -> _Crowd | None:
    """In a quarter of the sequences, a group of 4-8 people standing on a sidewalk 40-80 m
    ahead (over the whole sequence)."""
    if rng.uniform() >= 0.25:
        return None
    s = street.params
    centre = float(rng.uniform(41.5 + speed * _DURATION_S, 78.5))
    side = s["right_edge"] + 1.0 if rng.uniform() < 0.5 else s["left_edge"] - 1.0
    members = tuple(
        (
            people[int(rng.integers(len(people)))],
            side + float(rng.uniform(-0.9, 0.9)),
            centre + float(rng.uniform(-1.2, 1.2)),
            float(rng.uniform(0.0, 2.0 * math.pi)),
        )
        for _ in range(int(rng.integers(4, 9)))
    )
    return _Crowd(members, track)


def _plan_furniture(rng: np.random.Generator, street: Asset) -> list[_Furniture]:
    """Parked cars (in the parking lane on one or both sides) and posts (bollards, sign
    and lamp posts at the kerb) along the first 140 m of the street."""
    s = street.params
    furniture = []
    lanes = [s["right_edge"] - 1.1]
    if s["parked_both_sides"]:
        lanes.append(s["left_edge"] + 1.1)
    for lateral in lanes:
        d = float(rng.uniform(2.0, s["parked_gap"]))
        while d < 140.0:
            if rng.uniform() < 0.4:
                tone = float(rng.choice([0.12, 0.3, 0.5, 0.75]) * rng.uniform(0.85, 1.15))
                furniture.append(
                    _Furniture("car", lateral + float(rng.uniform(-0.15, 0.15)), d, tone)
                )
            d += float(rng.uniform(5.0, 5.0 + s["parked_gap"]))
    for edge, sign in ((s["right_edge"], 1.0), (s["left_edge"], -1.0)):
        d = float(rng.uniform(2.0, s["post_gap"]))
        while d < 140.0:
            kind = ("bollard", "sign", "lamp")[int(rng.integers(3))]
            lateral = edge + sign * float(rng.uniform(0.3, 0.6))
            furniture.append(_Furniture(kind, lateral, d, float(rng.uniform(0.15, 0.5))))
            d += float(rng.uniform(0.5, 1.5) * s["post_gap"])
    return furniture


def _background(street: Asset, lighting: str, travelled: float, visibility: float) -> Grid:
    """Sky, skyline and road surface at 2x resolution (radiance, fog included)."""
    s = street.params
    rows = np.arange(_HI_H) + 0.5
    cols = np.arange(_HI_W) + 0.5
    below = rows - _CY_HI
    ground_rows = below > 0
    z = np.where(ground_rows, _F_HI * CAMERA_HEIGHT_M / np.maximum(below, 1e-3), 1e6)[:, None]
    lateral = (cols[None, :] - _CX_HI) * z / _F_HI
    image = np.empty((_HI_H, _HI_W))
    image[:] = _SKY[lighting] * (0.85 + 0.15 * np.minimum(rows / _CY_HI, 1.0))[:, None]
    # skyline: blocks of buildings about 110 m ahead, with windows (a fifth lit at night)
    sk = np.random.default_rng(s["skyline_seed"])
    edges = np.sort(sk.uniform(0, _HI_W, 14))
    heights = sk.uniform(0.3, 1.0, 15) * s["building_height"]
    tones = s["building"] * sk.uniform(0.7, 1.2, 15)
    block = np.searchsorted(edges, cols)
    top = _CY_HI - _F_HI * (heights[block] - CAMERA_HEIGHT_M) / _SKYLINE_M
    building = (rows[:, None] >= top[None, :]) & ~ground_rows[:, None]
    facade = np.broadcast_to(tones[block][None, :] * _FACADE_LIGHT[lighting], image.shape)
    windows = (np.floor(rows / 3.0) % 2 == 0)[:, None] & (np.floor(cols / 3.0 + block) % 2 == 0)
    windows &= building
    lit = sk.uniform(size=(_HI_H // 3 + 1, _HI_W // 3 + 1)) < (0.2 if lighting == "night" else 0.0)
    lit = lit[(rows // 3).astype(int)][:, (cols // 3).astype(int)] & windows
    image = np.where(building, np.where(windows, 0.85 * facade, facade), image)
    image = np.where(lit, 0.3, image)
    # ground: road between the edges (lane lines), sidewalks, then the building line
    on_road = (lateral > s["left_edge"]) & (lateral < s["right_edge"])
    dashed = (np.abs(lateral + _LANE_M / 2.0) < 0.08) & (((z + travelled) % 9.0) < 3.0)
    if s["right_edge"] - s["left_edge"] > 4.0 * _LANE_M:  # an arterial road: a centre line
        dashed |= np.abs(lateral + 1.5 * _LANE_M + _LANE_M) < 0.08
    edge_line = np.abs(lateral - _LANE_M / 2.0) < 0.06
    surface = np.where(on_road, s["road"], s["pavement"])
    surface = np.where(on_road & (dashed | edge_line), s["marking"], surface)
    beyond = (lateral > s["right_edge"] + s["sidewalk"]) | (
        lateral < s["left_edge"] - s["sidewalk"]
    )
    surface = np.where(beyond, s["building"] * 0.9, surface)
    image = np.where(ground_rows[:, None], surface * _illumination(lighting, z, s["lamps"]), image)
    if visibility < _CLEAR_VISIBILITY:  # fog: the sky is the airlight itself
        far = np.where(building, math.exp(-3.0 * _SKYLINE_M / visibility), 0.0)
        transmission = np.where(ground_rows[:, None], np.exp(-3.0 * z / visibility), far)
        image = image * transmission + _AIRLIGHT[lighting] * (1.0 - transmission)
    return image


_CLEAR_VISIBILITY = 1e9  # metres: no fog
_SKYLINE_M = 110.0  # distance of the skyline's facades


def _visible_box(patch: _Patch, threshold: float) -> tuple[int, int, int, int] | None:
    """The 2x-pixel box (x0, y0, x1, y1) of the patch's pixels with alpha above
    ``threshold``, or None."""
    r = np.nonzero(patch.alpha.max(axis=1) > threshold)[0]
    c = np.nonzero(patch.alpha.max(axis=0) > threshold)[0]
    if len(r) == 0:
        return None
    return (
        patch.cols.start + int(c[0]),
        patch.rows.start + int(r[0]),
        patch.cols.start + int(c[-1]) + 1,
        patch.rows.start + int(r[-1]) + 1,
    )


def _full_extent(
    p: dict[str, Any], lateral: float, z: float, view: str, phase: float
) -> tuple[tuple[float, float, float, float], float]:
    """The figure's amodal box in 2x pixels (possibly beyond the image: the pixels with
    coverage above one half, rendered on an unclipped grid) and its total coverage."""
    h = p["height_m"]
    px = z / _F_HI
    c0 = math.floor(_CX_HI + _F_HI * (lateral - 0.45 * h) / z) - 1
    c1 = math.ceil(_CX_HI + _F_HI * (lateral + 0.45 * h) / z) + 1
    r0 = math.floor(_CY_HI + _F_HI * (CAMERA_HEIGHT_M - h - 0.05) / z) - 1
    r1 = math.ceil(_CY_HI + _F_HI * CAMERA_HEIGHT_M / z) + 1
    cols = (np.arange(c0, c1) + 0.5 - _CX_HI) * px
    rows = CAMERA_HEIGHT_M - (np.arange(r0, r1) + 0.5 - _CY_HI) * px
    yy, xx = np.meshgrid(rows, cols, indexing="ij")
    head, upper, legs = _pedestrian_sdf(xx - lateral, yy, p, view, phase)
    alpha = _cover(np.minimum(np.minimum(head, upper), legs), px)
    inside_r = np.nonzero(alpha.max(axis=1) > 0.5)[0]
    inside_c = np.nonzero(alpha.max(axis=0) > 0.5)[0]
    if len(inside_r) == 0 or len(inside_c) == 0:
        # thinner than half a 2x pixel (a far child): the figure's nominal box
        top = _CY_HI + _F_HI * (CAMERA_HEIGHT_M - h) / z
        bottom = _CY_HI + _F_HI * CAMERA_HEIGHT_M / z
        half = _F_HI * 0.12 * h / z
        centre = _CX_HI + _F_HI * lateral / z
        return (centre - half, top, centre + half, bottom), float(alpha.sum())
    box = (
        float(c0 + inside_c[0]),
        float(r0 + inside_r[0]),
        float(c0 + inside_c[-1] + 1),
        float(r0 + inside_r[-1] + 1),
    )
    return box, float(alpha.sum())


def render_sequence(
    seed: int,
    street: Asset,
    people: list[Asset],
    lighting: str,
    weather: str,
    *,
    frames: tuple[int, ...] = tuple(range(FRAMES)),
) -> tuple[NDArray[np.uint8], list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """Render the ``frames`` (indices into the FRAMES frames of the sequence, default all)
    of one sequence: their images ``(len(frames), HEIGHT, WIDTH, 1)`` uint8, the metadata
    of every frame (the columns of :data:`IMAGE_COLUMNS` except ``sample_id``, ``sequence``
    and ``frame``) and the ground-truth objects of every frame (the columns of
    :data:`OBJECT_COLUMNS` except ``sample_id``).

    ``street`` and ``people`` are assets of the sequence's dataset; everything else (the
    car's speed, the parked cars and posts, the pedestrians and their motion, the noise) is
    drawn from ``seed``.
    """
    if lighting not in LIGHTINGS or weather not in WEATHERS:
        raise ValueError(
            f"lighting={lighting!r}, weather={weather!r}; expected one of {LIGHTINGS} "
            f"and one of {WEATHERS}"
        )
    rng = np.random.default_rng(seed)
    lamps = bool(street.params["lamps"])
    speed = float(rng.uniform(5.0, 14.0))
    visibility = float(rng.uniform(60.0, 200.0)) if weather == "fog" else _CLEAR_VISIBILITY
    airlight = _AIRLIGHT[lighting]
    noise_sigma = float(rng.uniform(*_NOISE[lighting]))
    blur_sigma = float(rng.uniform(0.0, 0.4) + (0.4 if weather == "rain" else 0.0))
    veil = float(rng.uniform(0.08, 0.18)) if weather == "rain" else 0.0
    furniture = _plan_furniture(rng, street)
    walkers = _plan_walkers(rng, people, street, speed)
    crowd = _plan_crowd(rng, people, street, speed, len(walkers))
    streaks = rng.uniform(size=(FRAMES, 40, 3)) if weather == "rain" else None

    images = np.zeros((len(frames), HEIGHT, WIDTH, 1), dtype=np.uint8)
    metas: list[dict[str, Any]] = []
    objects: list[list[dict[str, Any]]] = []
    for slot, frame in enumerate(frames):
        t = frame / FRAME_RATE_HZ
        travelled = speed * t
        image = _background(street, lighting, travelled, visibility)

        # (patch, key, kind): key indexes `figures` for pedestrians, None for the rest
        patches: list[tuple[_Patch, int | None, str]] = []
        for item in furniture:
            z = item.distance - travelled
            if z < 1.5:
                continue
            if item.kind == "car":
                patch = _car_patch(item.lateral, z, item.tone, lighting == "night")
            else:
                patch = _post_patch(item.lateral, z, item.kind, item.tone)
            if patch is not None:
                patches.append((patch, None, "car" if item.kind == "car" else "post"))
        figures: list[dict[str, Any]] = []
        for w in walkers:
            z = w.distance0 + (w.v_along - speed) * t
            lateral = w.lateral0 + w.v_lateral * t
            moving = w.motion != "standing"
            phase = w.phase0 + (2.0 * math.pi * w.person.params["cadence"] * t if moving else 0.0)
            figures.append({"walker": w, "z": z, "lateral": lateral, "phase": phase})
        if crowd is not None:
            for person, lateral, d, phase in crowd.members:
                figures.append(
                    {"person": person, "z": d - travelled, "lateral": lateral, "phase": phase}
                )
        for key, fig in enumerate(figures):
            person = fig["walker"].person if "walker" in fig else fig["person"]
            view = fig["walker"].view if "walker" in fig else "front"
            patch = _pedestrian_patch(person.params, fig["lateral"], fig["z"], view, fig["phase"])
            if patch is not None:
                patches.append((patch, key, "pedestrian"))

        # painter's algorithm, far to near; a nearer patch hides part of every farther one
        patches.sort(key=lambda item: -item[0].z)
        painted: dict[int, tuple[_Patch, Grid, dict[str, float]]] = {}
        for patch, owner, kind in patches:
            radiance = patch.radiance * _illumination(lighting, patch.z, lamps)
            if visibility < _CLEAR_VISIBILITY:
                tr = math.exp(-3.0 * patch.z / visibility)
                radiance = radiance * tr + airlight * (1.0 - tr)
            region = image[patch.rows, patch.cols]
            region *= 1.0 - patch.alpha
            region += patch.alpha * radiance
            for other, visible, hidden_by in painted.values():
                r0, r1 = (
                    max(other.rows.start, patch.rows.start),
                    min(other.rows.stop, patch.rows.stop),
                )
                c0, c1 = (
                    max(other.cols.start, patch.cols.start),
                    min(other.cols.stop, patch.cols.stop),
                )
                if r0 >= r1 or c0 >= c1:
                    continue
                mine = visible[
                    r0 - other.rows.start : r1 - other.rows.start,
                    c0 - other.cols.start : c1 - other.cols.start,
                ]
                cover = patch.alpha[
                    r0 - patch.rows.start : r1 - patch.rows.start,
                    c0 - patch.cols.start : c1 - patch.cols.start,
                ]
                hidden_by[kind] = hidden_by.get(kind, 0.0) + float((mine * cover).sum())
                mine *= 1.0 - cover
            if owner is not None:
                painted[owner] = (patch, patch.alpha.copy(), {})

        # weather and sensor
        image = image * (1.0 - veil) + veil * airlight
        if streaks is not None:
            for u, v, length in streaks[frame]:
                r, c, n = int(v * (_HI_H - 8)), int(u * (_HI_W - 2)), 3 + int(length * 5)
                image[r : r + n, c] = image[r : r + n, c] * 0.6 + 0.4 * min(airlight + 0.25, 1.0)
        if blur_sigma > 0.0:
            image = ndimage.gaussian_filter(image, blur_sigma * _SS, mode="nearest")
        small = image.reshape(HEIGHT, _SS, WIDTH, _SS).mean(axis=(1, 3))
        pixels = small * (255.0 * _EXPOSURE[lighting]) + rng.normal(0.0, noise_sigma, small.shape)
        images[slot, :, :, 0] = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)

        frame_objects = _objects(figures, painted, crowd)
        objects.append(frame_objects)
        metas.append(
            {
                "scene_seed": seed,
                "street": street.id,
                "lighting": lighting,
                "weather": weather,
                "visibility_m": min(visibility, 1000.0),
                "ego_speed_mps": speed,
                "noise_sigma": noise_sigma,
                "blur_sigma": blur_sigma,
                "pedestrians": sum(1 for o in frame_objects if o["iscrowd"] == 0),
                "crowds": sum(1 for o in frame_objects if o["kind"] == "crowd"),
            }
        )
    return images, metas, objects


def _objects(
    figures: list[dict[str, Any]],
    painted: dict[int, tuple[_Patch, Grid, dict[str, float]]],
    crowd: _Crowd | None,
) -> list[dict[str, Any]]:
    """The ground-truth rows of one frame (boxes in output pixels, xywh, top-left origin,
    clipped to the image)."""
    rows: list[dict[str, Any]] = []
    for key, fig in enumerate(figures):
        if "walker" not in fig or key not in painted:
            continue  # crowd members, and pedestrians wholly outside the image
        w: _Walker = fig["walker"]
        p = w.person.params
        patch, visible, hidden_by = painted[key]
        (x0, y0, x1, y1), total = _full_extent(p, fig["lateral"], fig["z"], w.view, fig["phase"])
        in_image = float(patch.alpha.sum())
        if in_image < 0.5 or total <= 0.0:
            continue  # less than half a 2x pixel inside the image
        truncation = float(np.clip(1.0 - in_image / total, 0.0, 1.0))
        occlusion = float(np.clip(1.0 - visible.sum() / in_image, 0.0, 1.0))
        hidden = occlusion > MAX_OCCLUSION or truncation > MAX_TRUNCATION
        occluder = max(hidden_by, key=lambda k: hidden_by[k]) if occlusion > 0.05 else "none"
        bx0, by0 = max(x0, 0.0) / _SS, max(y0, 0.0) / _SS
        bx1, by1 = min(x1, float(_HI_W)) / _SS, min(y1, float(_HI_H)) / _SS
        if bx1 <= bx0 or by1 <= by0:
            continue
        rows.append(
            {
                "class": "pedestrian",
                "x": bx0,
                "y": by0,
                "w": bx1 - bx0,
                "h": by1 - by0,
                "iscrowd": int(hidden),
                "kind": "hidden" if hidden else p["age"],
                "track_id": w.track,
                "distance_m": fig["z"],
                "lateral_m": fig["lateral"],
                "height_m": p["height_m"],
                "height_px": FOCAL_PX * p["height_m"] / fig["z"],
                "occlusion": occlusion,
                "truncation": truncation,
                "occluder": occluder,
                "motion": w.motion,
                "view": w.view,
                "clothing": p["clothing"],
                "person": w.person.id,
                "in_path": int(abs(fig["lateral"]) < IN_PATH_HALF_WIDTH),
            }
        )
    if crowd is not None:
        members = [k for k, fig in enumerate(figures) if "walker" not in fig and k in painted]
        boxes = [box for k in members if (box := _visible_box(painted[k][0], 0.3)) is not None]
        if boxes:
            corners = np.asarray(boxes, dtype=float) / _SS
            x0, y0 = corners[:, 0].min(), corners[:, 1].min()
            x1, y1 = corners[:, 2].max(), corners[:, 3].max()
            rows.append(
                {
                    "class": "pedestrian",
                    "x": float(x0),
                    "y": float(y0),
                    "w": float(x1 - x0),
                    "h": float(y1 - y0),
                    "iscrowd": 1,
                    "kind": "crowd",
                    "track_id": crowd.track,
                    "distance_m": float(np.mean([figures[k]["z"] for k in members])),
                    "lateral_m": float(np.mean([figures[k]["lateral"] for k in members])),
                    "height_m": float(
                        np.mean([figures[k]["person"].params["height_m"] for k in members])
                    ),
                    "height_px": float(y1 - y0),
                    "occlusion": 0.0,
                    "truncation": 0.0,
                    "occluder": "none",
                    "motion": "standing",
                    "view": "front",
                    "clothing": "mixed",
                    "person": "crowd",
                    "in_path": 0,
                }
            )
    return rows


# -- one dataset ----------------------------------------------------------------------------------


def generate(
    name: str,
    seed: int,
    sequences: int,
    assets: list[Asset],
    *,
    frame_step: int = 1,
) -> tuple[dict[str, NDArray[Any]], list[dict[str, Any]]]:
    """Generate one dataset: its image columns (``image`` (n, HEIGHT, WIDTH, 1) uint8, then
    :data:`IMAGE_COLUMNS`, text as numpy unicode arrays and numbers as int64 or float64)
    and its ground-truth object rows (:data:`OBJECT_COLUMNS`).

    The sequences are spread evenly over the 9 lighting x weather conditions, in a seeded
    random order; sequence ``k`` is rendered from seed ``seed * 100000 + k`` on a street
    drawn from the set's street assets, and its frames are named
    ``<name>-<k:04d>-<frame:02d>``. Every ``frame_step``-th frame is kept (frames 0, 2, 4,
    6, 8 for a step of 2: the same scene at 5 Hz). ``assets`` are the assets of this
    dataset only.
    """
    rng = np.random.default_rng(seed)
    conditions = [(lighting, weather) for lighting in LIGHTINGS for weather in WEATHERS]
    plan = [conditions[k % len(conditions)] for k in range(sequences)]
    order = rng.permutation(sequences)
    streets = [a for a in assets if a.kind == "street"]
    people = [a for a in assets if a.kind == "person"]
    if not streets or not people:
        raise ValueError(f"dataset {name!r} needs street and person assets")
    kept = tuple(range(0, FRAMES, frame_step))
    images = np.zeros((sequences * len(kept), HEIGHT, WIDTH, 1), dtype=np.uint8)
    rows: list[dict[str, Any]] = []
    objects: list[dict[str, Any]] = []
    for k in range(sequences):
        lighting, weather = plan[int(order[k])]
        street = streets[int(rng.integers(len(streets)))]
        scene_seed = seed * 100000 + k
        frames, metas, frame_objects = render_sequence(
            scene_seed, street, people, lighting, weather, frames=kept
        )
        images[k * len(kept) : (k + 1) * len(kept)] = frames
        for frame, meta, found in zip(kept, metas, frame_objects, strict=True):
            sample_id = f"{name}-{k:04d}-{frame:02d}"
            rows.append(
                {"sample_id": sample_id, "sequence": f"{name}-{k:04d}", "frame": frame, **meta}
            )
            objects.extend({"sample_id": sample_id, **obj} for obj in found)
    columns: dict[str, NDArray[Any]] = {"image": images}
    for column in IMAGE_COLUMNS:
        values = [row[column] for row in rows]
        if isinstance(values[0], str):
            columns[column] = np.array(values, dtype=np.str_)
        elif isinstance(values[0], int):
            columns[column] = np.array(values, dtype=np.int64)
        else:
            columns[column] = np.array(values, dtype=np.float64)
    return columns, objects
