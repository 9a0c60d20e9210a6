"""Build the data sets, the detector and the internal-test predictions of the pedestrian-aeb
AMLAS example.

Run from the repository root (or anywhere):

    .venv/bin/python examples/pedestrian-aeb/build.py

What it does, in AMLAS terms:

- Stage 3, Activity 7 (generate data): renders, with the procedural forward-camera
  simulator of scenes.py, the development data [N] (300 sequences, every second frame:
  1500 frames), the internal test data [O] (50 sequences of 10 frames: 500) and the
  verification data [P] (60 sequences: 600) from disjoint street and person assets, and
  writes each as data/<set>.npz (frames and per-frame metadata) plus data/<letter>-objects.csv
  (one row per pedestrian or ignore region and frame).
- Stage 4, Activities 10-11 (create and test the model): trains the CenterNet-style
  detector of detector.py on [N] only, keeping the epoch with the lowest loss on a
  validation split of [N] made of held-out street assets; writes its detections on [O]
  (every peak scoring at least SCORE_FLOOR) to 4-learning/predictions/O-predictions.csv,
  and reports on [O] the figures the thresholds of [H] were tuned on: object recall per
  distance band at the matching of [D] (IoU 0.5, score 0.5) and at IoU 0.3, with one-sided
  95% Clopper-Pearson bounds; false positives per image (exact Poisson bound) and the share
  of frames with a false positive; the share of matched pedestrians whose box centre lies
  within 3 pixels of the truth; the share of 5-frame windows of a pedestrian within 30 m
  with at most one missed frame; COCO average precision at IoU 0.5 (faster-coco-eval);
  recall by lighting, weather, pedestrian type and occlusion; and the frame time on this
  CPU (informative only: MLR-8 is a platform requirement).
  Every [O] figure is computed from the CSV files as written (rounded as they are), i.e.
  from what `amlas` reads.
- Records what it chose in model/build-record.json, and writes the SHA-256 and sample
  counts of the files it made into the artefacts ([N] [O] [P] [V]).

The verification data [P] is written and hashed here and never read back: no model
decision and no printed figure depends on its contents beyond its size.

Everything is seeded; training runs on one CPU thread with deterministic algorithms, and
the .npz files are written with fixed zip timestamps, so a second run changes no file on
the same machine. The data files depend only on numpy and scipy (and the LZMA library);
the model file also on torch's floating-point results, so a different torch / CPU may give
a different hash (then `amlas check` reports M004 until the new model is reviewed).
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import math
import platform
import re
import sys
import time
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import torch
from numpy.typing import NDArray
from scipy import stats

from amlas.checks import clopper_pearson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import scenes  # noqa: E402
from detector import CLASSES, INPUT_SHAPE, STRIDE, PedestrianDetector, PedestrianNet  # noqa: E402

SEED = 20260406
SET_SEEDS = {"N": 1101, "O": 2202, "P": 3303}
SEQUENCES = {"N": 300, "O": 50, "P": 60}
FRAME_STEP = {"N": 2, "O": 1, "P": 1}  # [N] keeps frames 0, 2, 4, 6, 8 of each sequence
DATASETS = {  # letter -> (images, objects, artefact)
    "N": ("data/development.npz", "data/N-objects.csv", "3-data/N-development-data.yaml"),
    "O": ("data/internal-test.npz", "data/O-objects.csv", "3-data/O-internal-test-data.yaml"),
    "P": ("data/verification.npz", "data/P-objects.csv", "3-data/P-verification-data.yaml"),
}
MODEL_FILE = "model/detector.pt"
MODEL_ARTEFACT = "4-learning/V-model.yaml"
PREDICTIONS_FILE = "4-learning/predictions/O-predictions.csv"
RECORD_FILE = "model/build-record.json"

VALIDATION_ASSET_INDEX = 1  # the street assets of index 1 (one per street type) validate
WIDTH = 32  # channels of the network
EPOCHS = 30
SELECT_FROM_EPOCH = 16  # the epoch is chosen among the later epochs of the schedule
BATCH = 32
LEARNING_RATE = 3e-3  # peak of the one-cycle schedule
WEIGHT_DECAY = 1e-4
SIZE_LOSS_WEIGHT = 1.0
MIN_SIGMA = 0.5  # cells: the heatmap target of the smallest pedestrians
AUGMENT_GAIN = (0.4, 1.4)  # exposure gain
AUGMENT_NOISE = 3.0  # largest extra noise, intensity levels
AUGMENT_SHIFT = 2  # largest horizontal shift, in cells of STRIDE pixels

SCORE_FLOOR = 0.05  # every detection above it is written; the threshold is the requirement's
SCORE_THRESHOLD = 0.5  # [D] detection.matching.score_threshold
IOU_THRESHOLD = 0.5  # [D] detection.matching.iou_threshold
LOOSE_IOU = 0.3  # the matching of the requirements on small, distant pedestrians ([H])
TOLERANCE_PX = 3.0  # [H] localisation: box centre within this many pixels
BRAKING_RANGE_M = 30.0  # near and mid distance bands
WINDOW_FRAMES, WINDOW_MAX_MISSES = 5, 1  # [H] temporal requirement
CONFIDENCE = 0.95
TIMING_FRAMES = 200


# -- files ----------------------------------------------------------------------------------


def write_bytes(path: Path, content: bytes) -> None:
    """Write only when the content changes, so a rebuild leaves the tree untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != content:
        path.write_bytes(content)


def npz_bytes(columns: dict[str, NDArray[Any]]) -> bytes:
    """An .npz archive that np.load(..., allow_pickle=False) reads, byte-reproducible: a
    fixed date and entry order, every entry compressed with LZMA (about a fifth smaller than
    np.savez_compressed's deflate on these noisy frames, which keeps the example within its
    size budget; Python's zipfile, and so np.load, reads it)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_LZMA) as zf:
        for name, array in columns.items():
            if array.dtype.kind == "O":
                raise ValueError(f"column {name!r} is an object array; expected numbers or text")
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_LZMA
            info.external_attr = 0o644 << 16
            zf.writestr(info, buffer.getvalue())
    return out.getvalue()


_DECIMALS = {  # CSV precision: boxes to 1/100 pixel, distances to 1 cm, fractions to 1/1000
    "x": 2,
    "y": 2,
    "w": 2,
    "h": 2,
    "distance_m": 2,
    "lateral_m": 2,
    "height_m": 2,
    "height_px": 2,
    "occlusion": 3,
    "truncation": 3,
    "score": 4,
}


def _cell(name: str, value: Any) -> str:
    if isinstance(value, float):
        text = f"{round(value, _DECIMALS.get(name, 4)):.{_DECIMALS.get(name, 4)}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)


def csv_bytes(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(c, row[c]) for c in columns])
    return out.getvalue().encode("utf-8")


def read_csv(path: Path) -> dict[str, NDArray[Any]]:
    """A CSV as numpy columns: numbers where every value parses as one, text otherwise."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    columns: dict[str, NDArray[Any]] = {}
    for k, name in enumerate(header):
        values = [r[k] for r in body]
        try:
            columns[name] = np.array([float(v) for v in values], dtype=np.float64)
        except ValueError:
            columns[name] = np.array(values, dtype=np.str_)
    return columns


def torch_bytes(state: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def set_field(artefact: Path, keys: tuple[str, ...], value: object) -> None:
    """Rewrite the ``key: value`` line at ``keys`` (a path of nested block keys, two spaces
    of indentation per level) in an artefact, keeping everything else as it is."""
    if not artefact.exists():
        print(f"  note: {artefact.relative_to(HERE)} not found; skipped")
        return
    lines = artefact.read_text(encoding="utf-8").split("\n")
    start, end = 0, len(lines)
    for depth, key in enumerate(keys):
        pattern = re.compile(rf"^{' ' * (2 * depth)}{re.escape(key)}:(\s|$)")
        found = next((i for i in range(start, end) if pattern.match(lines[i])), None)
        if found is None:
            print(f"  note: no '{'.'.join(keys)}' in {artefact.relative_to(HERE)}")
            return
        if depth == len(keys) - 1:
            comment = re.search(r"\s(#.*)$", lines[found])
            lines[found] = f"{' ' * (2 * depth)}{key}: {value}" + (
                f"  {comment.group(1)}" if comment else ""
            )
            break
        # the block ends at the next line indented as much as this key or less
        inner = 2 * (depth + 1)
        start = found + 1
        end = next(
            (
                i
                for i in range(start, len(lines))
                if lines[i].strip() and len(lines[i]) - len(lines[i].lstrip()) < inner
            ),
            len(lines),
        )
    write_bytes(artefact, "\n".join(lines).encode("utf-8"))


def rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


# -- statistics -----------------------------------------------------------------------------


def lower_bound(successes: int, n: int) -> float:
    """One-sided Clopper-Pearson lower bound on a proportion (0 when n is 0)."""
    return clopper_pearson(successes, n, confidence=CONFIDENCE, sided="lower").lower


def upper_bound(successes: int, n: int) -> float:
    """One-sided Clopper-Pearson upper bound on a proportion (1 when n is 0)."""
    return clopper_pearson(successes, n, confidence=CONFIDENCE, sided="upper").upper


def poisson_upper(count: int, exposure: int) -> float:
    """One-sided exact (Garwood) upper bound on a Poisson rate per unit of exposure."""
    return float(stats.chi2.ppf(CONFIDENCE, 2 * (count + 1)) / 2.0 / exposure)


def proportion(successes: int, n: int) -> dict[str, Any]:
    return {
        "successes": successes,
        "n": n,
        "rate": successes / n if n else float("nan"),
        "lower_bound_95": lower_bound(successes, n),
        "upper_bound_95": upper_bound(successes, n),
    }


# -- ground truth and detections as arrays ----------------------------------------------------


@dataclass(frozen=True)
class Truth:
    """The objects table of one set, indexed by frame."""

    image: NDArray[np.int64]  # frame index of every object
    box: NDArray[np.float64]  # (k, 4) xyxy pixels
    crowd: NDArray[np.bool_]
    distance: NDArray[np.float64]
    columns: dict[str, NDArray[Any]]

    @classmethod
    def read(cls, path: Path, sample_ids: NDArray[np.str_]) -> Truth:
        cols = read_csv(path)
        index = {s: i for i, s in enumerate(sample_ids)}
        x, y, w, h = (cols[c] for c in ("x", "y", "w", "h"))
        return cls(
            np.array([index[s] for s in cols["sample_id"]], dtype=np.int64),
            np.stack([x, y, x + w, y + h], axis=1),
            cols["iscrowd"].astype(bool),
            cols["distance_m"],
            cols,
        )


def band_of(distance: NDArray[np.float64]) -> NDArray[np.str_]:
    """The distance band of every distance (the last band includes its upper end)."""
    names = np.full(distance.shape, "", dtype="<U8")
    for name, low, high in scenes.DISTANCE_BANDS:
        last = high == scenes.DISTANCE_RANGE[1]
        names[(distance >= low) & ((distance < high) | (last & (distance == high)))] = name
    return names


def iou_matrix(a: NDArray[np.float64], b: NDArray[np.float64]) -> tuple[NDArray[Any], NDArray[Any]]:
    """IoU of every box of ``a`` with every box of ``b`` (xyxy), and the share of each
    ``a`` box inside each ``b`` box (COCO's overlap with a crowd region)."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0.0, None) * np.clip(y1 - y0, 0.0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return inter / np.maximum(union, 1e-12), inter / np.maximum(area_a[:, None], 1e-12)


def match(
    truth: Truth,
    det_image: NDArray[np.int64],
    det_box: NDArray[np.float64],
    det_score: NDArray[np.float64],
    *,
    iou_threshold: float,
    score_threshold: float,
    images: int,
) -> tuple[NDArray[np.int64], NDArray[np.int8]]:
    """COCO-style greedy matching, frame by frame: detections scoring at least
    ``score_threshold``, highest score first, each to the unmatched non-crowd object of
    highest IoU (at least ``iou_threshold``); a detection left over that lies inside a crowd
    region (share at least ``iou_threshold``) is ignored, any other is a false positive.

    Returns, per object, the index of its detection (-1: missed; crowd regions -1), and
    per detection 1 (matched), 0 (false positive), -1 (ignored) or -2 (below the score
    threshold)."""
    matched = np.full(len(truth.image), -1, dtype=np.int64)
    outcome = np.full(len(det_image), -2, dtype=np.int8)
    by_image_truth = defaultdict(list)
    for k, i in enumerate(truth.image):
        by_image_truth[int(i)].append(k)
    kept = np.nonzero(det_score >= score_threshold)[0]
    by_image_det = defaultdict(list)
    for d in kept:
        by_image_det[int(det_image[d])].append(int(d))
    for i in range(images):
        dets = sorted(by_image_det.get(i, []), key=lambda k: (-det_score[k], k))
        if not dets:
            continue
        objs = np.array(by_image_truth.get(i, []), dtype=np.int64)
        if len(objs) == 0:
            outcome[dets] = 0
            continue
        iou, inside = iou_matrix(det_box[dets], truth.box[objs])
        crowd = truth.crowd[objs]
        taken = np.zeros(len(objs), dtype=bool)
        for row, k in enumerate(dets):
            candidates = np.where(~crowd & ~taken & (iou[row] >= iou_threshold), iou[row], -1.0)
            best = int(np.argmax(candidates))
            if candidates[best] >= 0.0:
                taken[best] = True
                matched[objs[best]] = k
                outcome[k] = 1
            elif crowd.any() and (inside[row][crowd] >= iou_threshold).any():
                outcome[k] = -1
            else:
                outcome[k] = 0
    return matched, outcome


def average_precision(
    truth: Truth,
    det_image: NDArray[np.int64],
    det_box: NDArray[np.float64],
    det_score: NDArray[np.float64],
    images: int,
) -> float:
    """COCO AP at IoU 0.5 of all detections above the floor, by faster-coco-eval."""
    from faster_coco_eval import COCO, COCOeval_faster

    gt = COCO()
    gt.dataset = {
        "images": [
            {"id": i + 1, "width": INPUT_SHAPE[1], "height": INPUT_SHAPE[0]} for i in range(images)
        ],
        "categories": [{"id": 1, "name": CLASSES[0]}],
        "annotations": [
            {
                "id": k + 1,
                "image_id": int(truth.image[k]) + 1,
                "category_id": 1,
                "bbox": [float(v) for v in (b[0], b[1], b[2] - b[0], b[3] - b[1])],
                "area": float((b[2] - b[0]) * (b[3] - b[1])),
                "iscrowd": int(truth.crowd[k]),
            }
            for k, b in enumerate(truth.box)
        ],
    }
    gt.createIndex()
    dt = gt.loadRes(
        [
            {
                "image_id": int(det_image[k]) + 1,
                "category_id": 1,
                "bbox": [float(v) for v in (b[0], b[1], b[2] - b[0], b[3] - b[1])],
                "score": float(det_score[k]),
            }
            for k, b in enumerate(det_box)
        ]
    )
    evaluation = COCOeval_faster(gt, dt, iouType="bbox", print_function=lambda *_: None)
    evaluation.params.iouThrs = np.array([0.5])
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    return float(evaluation.stats[0])


# -- training -------------------------------------------------------------------------------


def configure_torch() -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def targets(truth: Truth, images: int) -> dict[str, torch.Tensor]:
    """CenterNet targets at stride 4: a Gaussian heatmap around each pedestrian's centre
    cell (standard deviation 0.15 of its larger side, at least MIN_SIGMA cells), box size (log
    pixels) and centre offset on every cell where its Gaussian is at least 0.3 (regression
    weight = the Gaussian), and an ignore mask over crowd and hidden regions."""
    rows, cols = INPUT_SHAPE[0] // STRIDE, INPUT_SHAPE[1] // STRIDE
    heat = np.zeros((images, rows, cols), np.float32)
    ignore = np.zeros((images, rows, cols), np.float32)
    centre = np.zeros((images, rows, cols), np.float32)
    weight = np.zeros((images, rows, cols), np.float32)
    size = np.zeros((images, 2, rows, cols), np.float32)
    offset = np.zeros((images, 2, rows, cols), np.float32)
    yy, xx = np.mgrid[0:rows, 0:cols]
    for k in range(len(truth.image)):
        i = int(truth.image[k])
        x0, y0, x1, y1 = truth.box[k]
        if truth.crowd[k]:
            r0, r1 = int(y0 // STRIDE), math.ceil(y1 / STRIDE)
            c0, c1 = int(x0 // STRIDE), math.ceil(x1 / STRIDE)
            ignore[i, r0:r1, c0:c1] = 1.0
            continue
        cx, cy = (x0 + x1) / 2.0 / STRIDE, (y0 + y1) / 2.0 / STRIDE
        ci, ri = min(int(cx), cols - 1), min(int(cy), rows - 1)
        sigma = max(MIN_SIGMA, 0.15 * max(x1 - x0, y1 - y0) / STRIDE)
        g = np.exp(-((xx - ci) ** 2 + (yy - ri) ** 2) / (2.0 * sigma * sigma)).astype(np.float32)
        heat[i] = np.maximum(heat[i], g)
        own = (g >= 0.3) & (g > weight[i])
        own[ri, ci] = True
        weight[i][own] = g[own]
        size[i, 0][own] = math.log(max(x1 - x0, 0.5))
        size[i, 1][own] = math.log(max(y1 - y0, 0.5))
        offset[i, 0][own] = cx - xx[own]
        offset[i, 1][own] = cy - yy[own]
        centre[i, ri, ci] = 1.0
    ignore *= heat < 0.99  # a pedestrian's own centre is never ignored
    return {
        "heat": torch.from_numpy(heat),
        "ignore": torch.from_numpy(ignore),
        "centre": torch.from_numpy(centre),
        "weight": torch.from_numpy(weight),
        "size": torch.from_numpy(size),
        "offset": torch.from_numpy(offset),
    }


def loss_of(net: PedestrianNet, x: torch.Tensor, t: dict[str, torch.Tensor]) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss on the heatmap (ignore regions left out) plus
    L1 on log size and offset, weighted by the target Gaussian."""
    heat, size, offset = net(x)
    p = torch.sigmoid(heat[:, 0]).clamp(1e-4, 1.0 - 1e-4)
    positive = t["centre"]
    negative = (1.0 - positive) * (1.0 - t["ignore"])
    n = positive.sum().clamp(min=1.0)
    focal = -(torch.log(p) * (1.0 - p) ** 2 * positive).sum()
    focal = focal - (torch.log(1.0 - p) * p**2 * (1.0 - t["heat"]) ** 4 * negative).sum()
    w = t["weight"]
    m = w.sum().clamp(min=1.0)
    size_loss = (torch.abs(size - t["size"]).sum(1) * w).sum() / m
    offset_loss = (torch.abs(offset - t["offset"]).sum(1) * w).sum() / m
    return focal / n + SIZE_LOSS_WEIGHT * size_loss + offset_loss


def _shift(t: torch.Tensor, cells: int, *, edge: bool) -> torch.Tensor:
    """Shift along the last axis by ``cells`` (positive: right), filling with the edge
    value (images) or zeros (targets)."""
    out = torch.roll(t, cells, dims=-1)
    if cells > 0:
        out[..., :cells] = out[..., cells : cells + 1] if edge else 0.0
    elif cells < 0:
        out[..., cells:] = out[..., cells - 1 : cells] if edge else 0.0
    return out


def augment(
    x: torch.Tensor, t: dict[str, torch.Tensor], g: torch.Generator
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Mirror half the frames (a mirrored street is still a street), an exposure gain and
    extra noise per frame, and a horizontal shift by whole cells for the batch."""
    n = len(x)
    flip = torch.rand(n, generator=g) < 0.5
    f4, f3 = flip[:, None, None, None], flip[:, None, None]
    x = torch.where(f4, x.flip(-1), x)
    t = dict(t)
    for key in ("heat", "ignore", "centre", "weight"):
        t[key] = torch.where(f3, t[key].flip(-1), t[key])
    t["size"] = torch.where(f4, t["size"].flip(-1), t["size"])
    mirrored = t["offset"].flip(-1).clone()
    mirrored[:, 0] = 1.0 - mirrored[:, 0]  # cell c -> C-1-c, centre cx -> C-cx
    t["offset"] = torch.where(f4, mirrored, t["offset"])
    low, high = AUGMENT_GAIN
    gain = low + (high - low) * torch.rand(n, 1, 1, 1, generator=g)
    sigma = AUGMENT_NOISE * torch.rand(n, 1, 1, 1, generator=g)
    x = (x * gain + sigma * torch.randn(x.shape, generator=g)).clamp(0.0, 255.0)
    cells = int(torch.randint(-AUGMENT_SHIFT, AUGMENT_SHIFT + 1, (1,), generator=g))
    if cells:
        x = _shift(x, STRIDE * cells, edge=True)
        t = {k: _shift(v, cells, edge=False) for k, v in t.items()}
    return x, t


def as_input(images: NDArray[np.uint8]) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32))


def train(
    images: NDArray[np.uint8],
    truth: Truth,
    validation: NDArray[np.bool_],
) -> tuple[PedestrianNet, dict[str, Any]]:
    """Adam with a one-cycle learning rate on the training frames of [N]. From epoch
    SELECT_FROM_EPOCH on, the detector is scored on the validation frames (held-out streets)
    by COCO AP at IoU 0.5, and the epoch with the highest AP is kept."""
    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED)
    all_targets = targets(truth, len(images))
    x = as_input(images)
    train_idx = torch.from_numpy(np.nonzero(~validation)[0])
    val_frames = np.nonzero(validation)[0]
    renumber = np.full(len(images), -1, dtype=np.int64)
    renumber[val_frames] = np.arange(len(val_frames))
    keep = validation[truth.image]
    val_truth = Truth(
        renumber[truth.image[keep]],
        truth.box[keep],
        truth.crowd[keep],
        truth.distance[keep],
        {k: v[keep] for k, v in truth.columns.items()},
    )
    net = PedestrianNet(WIDTH)
    optimiser = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    steps = EPOCHS * math.ceil(len(train_idx) / BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=LEARNING_RATE, total_steps=steps, pct_start=0.2
    )
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    history = []
    for epoch in range(1, EPOCHS + 1):
        net.train()
        order = train_idx[torch.randperm(len(train_idx), generator=g)]
        total = 0.0
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            xb, tb = augment(x[batch], {k: v[batch] for k, v in all_targets.items()}, g)
            loss = loss_of(net, xb, tb)
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(batch)
        entry: dict[str, Any] = {"epoch": epoch, "train_loss": total / len(train_idx)}
        if epoch >= SELECT_FROM_EPOCH:
            found = PedestrianDetector(net, score_floor=SCORE_FLOOR).detect(images[val_frames])
            ap = average_precision(val_truth, found[0], found[2], found[3], len(val_frames))
            entry["validation_ap50"] = ap
            if best is None or ap > best[0]:
                best = (ap, epoch, copy.deepcopy(net.state_dict()))
        history.append(entry)
    assert best is not None
    net.load_state_dict(best[2])
    net.eval()
    return net, {"epoch": best[1], "validation_ap50": best[0], "history": history}


# -- assessment on [O] ----------------------------------------------------------------------


def recall_by(
    truth: Truth, matched: NDArray[np.int64], groups: NDArray[Any], order: tuple[str, ...]
) -> dict[str, Any]:
    keep = ~truth.crowd
    return {
        name: proportion(
            int((matched[keep & (groups == name)] >= 0).sum()), int((keep & (groups == name)).sum())
        )
        for name in order
    }


def window_rate(
    truth: Truth, matched: NDArray[np.int64], data: dict[str, NDArray[Any]]
) -> dict[str, Any]:
    """Windows of WINDOW_FRAMES consecutive frames in which one pedestrian (a track of a
    sequence) is a non-ignored object within the braking range in every frame; a window
    holds when at most WINDOW_MAX_MISSES of its frames miss the pedestrian."""
    sequence = data["sequence"][truth.image]
    frame = data["frame"][truth.image]
    track = truth.columns["track_id"].astype(int)
    tracks: dict[tuple[str, int], dict[int, bool]] = defaultdict(dict)
    for k in np.nonzero(~truth.crowd & (truth.distance < BRAKING_RANGE_M))[0]:
        tracks[(str(sequence[k]), int(track[k]))][int(frame[k])] = bool(matched[k] >= 0)
    windows = held = 0
    tracks_ok = tracks_with_windows = 0
    for frames in tracks.values():
        ok = True
        counted = False
        for first in range(0, scenes.FRAMES - WINDOW_FRAMES + 1):
            span = range(first, first + WINDOW_FRAMES)
            if all(f in frames for f in span):
                counted = True
                windows += 1
                misses = sum(not frames[f] for f in span)
                held += misses <= WINDOW_MAX_MISSES
                ok &= misses <= WINDOW_MAX_MISSES
        tracks_with_windows += counted
        tracks_ok += counted and ok
    return {**proportion(held, windows), "tracks": tracks_with_windows, "tracks_held": tracks_ok}


def assess(
    data: dict[str, NDArray[Any]], truth: Truth, predictions: dict[str, NDArray[Any]]
) -> dict[str, Any]:
    """The [O] figures of the selected detector, from the predictions as written."""
    images = len(data["sample_id"])
    index = {s: i for i, s in enumerate(data["sample_id"])}
    det_image = np.array([index[s] for s in predictions["sample_id"]], dtype=np.int64)
    x, y, w, h = (predictions[c] for c in ("x", "y", "w", "h"))
    det_box = np.stack([x, y, x + w, y + h], axis=1) if len(x) else np.zeros((0, 4))
    det_score = predictions["score"]
    bands = band_of(truth.distance)
    band_names = tuple(name for name, _, _ in scenes.DISTANCE_BANDS)
    result: dict[str, Any] = {
        "frames": images,
        "objects": int((~truth.crowd).sum()),
        "ignore_regions": int(truth.crowd.sum()),
        "detections_above_floor": len(det_score),
    }
    matched, outcome = match(
        truth,
        det_image,
        det_box,
        det_score,
        iou_threshold=IOU_THRESHOLD,
        score_threshold=SCORE_THRESHOLD,
        images=images,
    )
    loose, _ = match(
        truth,
        det_image,
        det_box,
        det_score,
        iou_threshold=LOOSE_IOU,
        score_threshold=SCORE_THRESHOLD,
        images=images,
    )
    result["recall_iou50"] = recall_by(truth, matched, bands, band_names)
    result["recall_iou30"] = recall_by(truth, loose, bands, band_names)
    false = int((outcome == 0).sum())
    result["false_positives"] = {
        "count": false,
        "frames": images,
        "per_image": false / images,
        "upper_bound_95": poisson_upper(false, images),
    }
    with_false = len(set(det_image[outcome == 0].tolist()))
    result["image_false_positive_rate"] = proportion(with_false, images)
    near = ~truth.crowd & (truth.distance < BRAKING_RANGE_M)
    has_near = np.zeros(images, dtype=bool)
    has_near[truth.image[near]] = True
    for key, found in (("iou50", matched), ("iou30", loose)):
        hit_frames = np.zeros(images, dtype=bool)
        hit_frames[truth.image[near & (found >= 0)]] = True
        result[f"image_recall_braking_range_{key}"] = proportion(
            int(hit_frames.sum()), int(has_near.sum())
        )
        result[f"sequence_windows_{key}"] = window_rate(truth, found, data)
    # localisation: centre distance of the matched pedestrians in the braking range
    hit = np.nonzero(near & (matched >= 0))[0]
    gt_c = (truth.box[hit, :2] + truth.box[hit, 2:]) / 2.0
    dt_c = (det_box[matched[hit], :2] + det_box[matched[hit], 2:]) / 2.0
    centre = np.hypot(*(gt_c - dt_c).T) if len(hit) else np.zeros(0)
    result["within_tolerance"] = {
        **proportion(int((centre <= TOLERANCE_PX).sum()), len(hit)),
        "median_centre_distance_px": float(np.median(centre)) if len(hit) else float("nan"),
    }
    result["average_precision_iou50"] = average_precision(
        truth, det_image, det_box, det_score, images
    )
    frame_light = data["lighting"][truth.image]
    frame_weather = data["weather"][truth.image]
    in_range = np.where(truth.distance < BRAKING_RANGE_M, "braking", "beyond")
    result["recall_iou50_braking_range_by_lighting"] = recall_by(
        truth,
        matched,
        np.char.add(np.char.add(in_range, "/"), frame_light),
        tuple(f"braking/{v}" for v in scenes.LIGHTINGS),
    )
    result["recall_iou50_braking_range_by_weather"] = recall_by(
        truth,
        matched,
        np.char.add(np.char.add(in_range, "/"), frame_weather),
        tuple(f"braking/{v}" for v in scenes.WEATHERS),
    )
    result["recall_iou50_braking_range_by_type"] = recall_by(
        truth,
        matched,
        np.char.add(np.char.add(in_range, "/"), truth.columns["kind"]),
        ("braking/adult", "braking/child"),
    )
    occ = np.where(
        truth.columns["occlusion"] < 0.1,
        "visible",
        np.where(truth.columns["occlusion"] < 0.5, "partial", "heavy"),
    )
    result["recall_iou50_braking_range_by_occlusion"] = recall_by(
        truth,
        matched,
        np.char.add(np.char.add(in_range, "/"), occ),
        ("braking/visible", "braking/partial", "braking/heavy"),
    )
    return result


def frame_time(detector: PedestrianDetector, images: NDArray[np.uint8]) -> dict[str, float]:
    """Wall time of detect() on one frame at a time, on this machine's CPU (one thread)."""
    times = []
    for i in range(min(TIMING_FRAMES, len(images))):
        started = time.perf_counter()
        detector.detect(images[i : i + 1])
        times.append(time.perf_counter() - started)
    t = np.array(times) * 1000.0
    return {
        "median_ms": float(np.median(t)),
        "p99_ms": float(np.percentile(t, 99)),
        "frames": len(t),
    }


# -- main -----------------------------------------------------------------------------------


def prediction_rows(
    data: dict[str, NDArray[Any]], detections: tuple[NDArray[Any], ...]
) -> list[dict[str, Any]]:
    image, cls, boxes, scores = detections
    rows = []
    for k in range(len(image)):
        x0, y0, x1, y1 = (float(v) for v in boxes[k])
        rows.append(
            {
                "sample_id": str(data["sample_id"][image[k]]),
                "class": CLASSES[int(cls[k])],
                "x": x0,
                "y": y0,
                "w": x1 - x0,
                "h": y1 - y0,
                "score": float(scores[k]),
            }
        )
    return rows


def main() -> None:
    started = time.perf_counter()
    configure_torch()
    assets = scenes.catalogue()
    by_set = scenes.assign_sets(assets)
    data: dict[str, dict[str, NDArray[Any]]] = {}
    for letter, (images_file, objects_file, _) in DATASETS.items():
        columns, objects = scenes.generate(
            letter,
            SET_SEEDS[letter],
            SEQUENCES[letter],
            by_set[letter],
            frame_step=FRAME_STEP[letter],
        )
        write_bytes(HERE / images_file, npz_bytes(columns))
        write_bytes(
            HERE / objects_file, csv_bytes(objects, ("sample_id", *scenes.OBJECT_COLUMNS[1:]))
        )
        used = {str(s) for s in columns["street"]} | {o["person"] for o in objects}
        data[letter] = {**columns, "_assets": np.array(sorted(used - {"crowd"}))}
    # independence by construction: no street or person of any set in another
    for a, b in (("N", "O"), ("N", "P"), ("O", "P")):
        shared = set(data[a]["_assets"]) & set(data[b]["_assets"])
        if shared:
            sys.exit(f"assets shared between [{a}] and [{b}]: {sorted(shared)[:5]}")
    generated = time.perf_counter()

    # Stage 4 sees development data [N] and internal test data [O]; never [P].
    samples = {letter: len(data[letter]["sample_id"]) for letter in DATASETS}
    del data["P"]
    dev = data["N"]
    truth_n = Truth.read(HERE / DATASETS["N"][1], dev["sample_id"])
    index_of = {a.id: a.index for a in assets}
    validation = np.array([index_of[s] == VALIDATION_ASSET_INDEX for s in dev["street"]])
    net, info = train(dev["image"], truth_n, validation)
    trained = time.perf_counter()

    blob = torch_bytes(net.state_dict())
    reloaded = PedestrianNet(WIDTH)
    reloaded.load_state_dict(torch.load(io.BytesIO(blob), weights_only=True))
    detector = PedestrianDetector(reloaded, score_floor=SCORE_FLOOR)
    internal = data["O"]
    detections = detector.detect(internal["image"])
    again = PedestrianDetector(net, score_floor=SCORE_FLOOR).detect(internal["image"])
    if not all(np.array_equal(a, b) for a, b in zip(detections, again, strict=True)):
        sys.exit("the saved model does not reproduce the trained one")
    write_bytes(HERE / MODEL_FILE, blob)
    write_bytes(
        HERE / PREDICTIONS_FILE,
        csv_bytes(
            prediction_rows(internal, detections),
            ("sample_id", "class", "x", "y", "w", "h", "score"),
        ),
    )
    truth_o = Truth.read(HERE / DATASETS["O"][1], internal["sample_id"])
    figures = assess(internal, truth_o, read_csv(HERE / PREDICTIONS_FILE))
    timing = frame_time(detector, internal["image"])
    assessed = time.perf_counter()

    hashes = {}
    for letter, (images_file, objects_file, artefact) in DATASETS.items():
        hashes[images_file] = sha256(HERE / images_file)
        hashes[objects_file] = sha256(HERE / objects_file)
        set_field(HERE / artefact, ("sha256",), hashes[images_file])
        set_field(HERE / artefact, ("samples",), samples[letter])
        set_field(HERE / artefact, ("objects", "sha256"), hashes[objects_file])
    hashes[MODEL_FILE] = sha256(HERE / MODEL_FILE)
    hashes[PREDICTIONS_FILE] = sha256(HERE / PREDICTIONS_FILE)
    set_field(HERE / MODEL_ARTEFACT, ("sha256",), hashes[MODEL_FILE])
    set_field(HERE / MODEL_ARTEFACT, ("predictions", "O", "sha256"), hashes[PREDICTIONS_FILE])
    set_field(HERE / MODEL_ARTEFACT, ("produced_by",), hashes[MODEL_FILE])

    record = {
        "seed": SEED,
        "set_seeds": SET_SEEDS,
        "sets": {
            letter: {
                "images": DATASETS[letter][0],
                "objects": DATASETS[letter][1],
                "frames": samples[letter],
                "sequences": SEQUENCES[letter],
                "frame_step": FRAME_STEP[letter],
            }
            for letter in DATASETS
        },
        "development_split": {
            "training_frames": int((~validation).sum()),
            "validation_frames": int(validation.sum()),
            "validation_assets": (
                f"street asset index {VALIDATION_ASSET_INDEX} of every street type"
            ),
        },
        "settings": {
            "width": WIDTH,
            "epochs": EPOCHS,
            "batch": BATCH,
            "learning_rate": LEARNING_RATE,
            "weight_decay": WEIGHT_DECAY,
            "augment_gain": list(AUGMENT_GAIN),
            "augment_noise": AUGMENT_NOISE,
            "augment_shift_cells": AUGMENT_SHIFT,
            "score_floor": SCORE_FLOOR,
        },
        "training": info,
        "internal_test": {
            "matching": {
                "iou_threshold": IOU_THRESHOLD,
                "score_threshold": SCORE_THRESHOLD,
                "loose_iou_threshold": LOOSE_IOU,
            },
            **figures,
        },
        "toolchain": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "torch": torch.__version__,
        },
    }
    write_bytes(
        HERE / RECORD_FILE, (json.dumps(rounded(record), indent=2, sort_keys=True) + "\n").encode()
    )
    # the frame time is printed, not recorded: it changes from run to run
    report(record, timing, hashes, started, generated, trained, assessed)


def report(
    record: dict[str, Any], timing: dict[str, float], hashes: dict[str, str], *times: float
) -> None:
    started, generated, trained, assessed = times
    it = record["internal_test"]
    print("pedestrian-aeb build")
    for letter, s in record["sets"].items():
        size = (HERE / s["images"]).stat().st_size + (HERE / s["objects"]).stat().st_size
        print(
            f"  [{letter}] {s['images']:<24} {s['frames']:>5} frames, {s['sequences']} "
            f"sequences ({size / 1e6:.2f} MB with objects)"
        )
    t = record["training"]
    print(
        f"  detector: epoch {t['epoch']} of {EPOCHS} "
        f"(validation AP at IoU 0.5 {t['validation_ap50']:.3f})"
    )
    print(
        f"  internal test [O]: {it['objects']} pedestrians, {it['ignore_regions']} ignore regions, "
        f"{it['frames']} frames, {it['detections_above_floor']} detections above {SCORE_FLOOR}"
    )
    for key, label in (("recall_iou50", "IoU 0.5"), ("recall_iou30", "IoU 0.3")):
        for band, r in it[key].items():
            print(
                f"    recall {label} score {SCORE_THRESHOLD} {band:<8} {r['rate']:.3f} "
                f"({r['successes']} of {r['n']}, 95% lower bound {r['lower_bound_95']:.3f})"
            )
    fp = it["false_positives"]
    print(
        f"    false positives per image {fp['per_image']:.3f} "
        f"({fp['count']} in {fp['frames']} frames, "
        f"95% upper bound {fp['upper_bound_95']:.3f})"
    )
    r = it["image_false_positive_rate"]
    print(
        f"    frames with a false positive {r['rate']:.3f} "
        f"(95% upper bound {r['upper_bound_95']:.3f})"
    )
    r = it["within_tolerance"]
    print(
        f"    matched within {BRAKING_RANGE_M:.0f} m with centre within {TOLERANCE_PX:.0f} px "
        f"{r['rate']:.3f} "
        f"({r['successes']} of {r['n']}, lower bound {r['lower_bound_95']:.3f}; median "
        f"{r['median_centre_distance_px']:.2f} px)"
    )
    for key, label in (("iou50", "IoU 0.5"), ("iou30", "IoU 0.3")):
        r = it[f"image_recall_braking_range_{key}"]
        print(
            f"    {label}: frames with a pedestrian within {BRAKING_RANGE_M:.0f} m in which one is "
            f"found {r['rate']:.3f} ({r['successes']} of {r['n']}, "
            f"lower bound {r['lower_bound_95']:.3f})"
        )
        r = it[f"sequence_windows_{key}"]
        print(
            f"    {label}: 5-frame windows within {BRAKING_RANGE_M:.0f} m with at most 1 miss "
            f"{r['rate']:.3f} "
            f"({r['successes']} of {r['n']}, lower bound {r['lower_bound_95']:.3f}; "
            f"{r['tracks_held']} of {r['tracks']} tracks hold every window)"
        )
    print(f"    COCO AP at IoU 0.5 {it['average_precision_iou50']:.3f}")
    for key in ("lighting", "weather", "type", "occlusion"):
        parts = ", ".join(
            f"{k.split('/')[1]} {v['rate']:.3f} (n {v['n']})"
            for k, v in it[f"recall_iou50_braking_range_by_{key}"].items()
        )
        print(f"    recall within {BRAKING_RANGE_M:.0f} m by {key}: {parts}")
    ft = timing
    print(
        f"    frame time on this CPU, one thread: median {ft['median_ms']:.2f} ms, "
        f"p99 {ft['p99_ms']:.2f} ms"
    )
    for path, digest in hashes.items():
        print(f"  sha256 {digest}  {path}")
    print(
        f"  time: data {generated - started:.1f} s, training {trained - generated:.1f} s, "
        f"assessment {assessed - trained:.1f} s"
    )


if __name__ == "__main__":
    main()
