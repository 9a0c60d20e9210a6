"""Build the data sets and the model of the chess-robot-grasp AMLAS example.

Run from the repository root (or anywhere):

    .venv/bin/python examples/chess-robot-grasp/build.py

What it does, in AMLAS terms:

- Stage 3, Activity 7 (generate data): renders, with the procedural gripper-camera
  simulator of scenes.py, the development data [N] (4500 images), the internal test data
  [O] (1500) and the verification data [P] (1800) from disjoint assets (no hand, piece or
  board asset is in two sets), each with its class, asset, seed and every operating-domain
  parameter, and writes them as data/*.npz.
- Stage 4, Activities 10-11 (create and test the model): trains three candidate MLPs
  (GraspNet, model/net.py: plain, augmented, augmented + adversarial) on [N] only,
  choosing the epoch and the hand-logit offset on a validation split of [N] made of
  held-out assets, and reports all three on [O]: accuracy, hand recall per lighting band
  with its 95% lower bound, the hand false-positive rate, prediction stability under blur
  and brightness changes, accuracy under a PGD attack, verified local robustness
  (interval bounds, then Marabou when maraboupy is installed) and bit-flip fault
  tolerance, i.e. the figures the thresholds of [H] were tuned on. The bounds and the
  last five figures come from the amlas library, computed as `amlas run` computes them,
  with each requirement's perturbation, property or fault model read from [H] (the
  training's own augmentation and FGSM are training, not evaluation, and stay here).
  Saves the selected model as model/grasp-net.pt.
- Records what it chose in model/build-record.json, and writes the SHA-256 and sample
  counts of the files it made into the artefacts ([N] [O] [P] [V]).

The verification data [P] is written and hashed here and never read back: no model
decision and no printed figure depends on its contents beyond its size and class counts.

Everything is seeded; training runs on one CPU thread with deterministic algorithms, and
the .npz files are written with fixed zip timestamps, so a second run changes no file. The
data files depend only on numpy and scipy; the model file also on torch's floating-point
results, so a different torch / CPU may give a different hash (then `amlas check` reports
M004 until the new model is reviewed).
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import re
import sys
import time
import zipfile
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import torch
from numpy.typing import NDArray
from scipy import ndimage

import amlas
from amlas.adapters import TorchModel
from amlas.checks import (
    Dataset,
    Predictions,
    adversarial_predictions,
    clopper_pearson,
    formal_result,
    load_dataset,
    perturb_images,
    perturbation_seed,
    run_fault_campaigns,
    stable_predictions,
)
from amlas.checks import predict as predict_classes
from amlas.checks.formal import FormalError
from amlas.project.artefacts import MLSafetyRequirement

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import scenes  # noqa: E402
from model.net import CLASS_ORDER, GraspNet  # noqa: E402

SEED = 20260314
SET_SEEDS = {"N": 1101, "O": 2202, "P": 3303}
COUNTS = {  # samples per class; every class is spread evenly over the 3 lighting bands
    "N": {"hand": 1800, "piece": 1500, "empty": 1200},
    "O": {"hand": 675, "piece": 525, "empty": 300},
    "P": {"hand": 900, "piece": 540, "empty": 360},  # 300 hands per lighting band
}
DATASETS = {  # letter -> (file, artefact)
    "N": ("data/development.npz", "3-data/N-development-data.yaml"),
    "O": ("data/internal-test.npz", "3-data/O-internal-test-data.yaml"),
    "P": ("data/verification.npz", "3-data/P-verification-data.yaml"),
}
MODEL_FILE = "model/grasp-net.pt"
MODEL_ARTEFACT = "4-learning/V-model.yaml"
RECORD_FILE = "model/build-record.json"

SAFETY_CLASS = "hand"
VALIDATION_ASSET_INDEX = 6  # the 4th development asset of every group is held out
HIDDEN = 32
TRAIN_EPSILON = 3.0  # FGSM budget of adversarial training, intensity levels
CENTRE = 127.5  # training-time input shift, folded into the first bias afterwards
EPOCHS = 80
BATCH = 64
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-4
AUGMENT_COPIES = 4  # augmented copies per training image (CAND-AUG)
AUGMENT_BLUR = (0.0, 1.0)  # Gaussian sigma, pixels
AUGMENT_GAIN = (0.8, 1.2)  # brightness factor
HAND_WEIGHT = 4.0  # loss weight of the hand class (CAND-AUG)
SELECTED = "CAND-ROBUST"
TARGET_VALIDATION_RECALL = 0.98  # hand recall the logit offset must reach on validation
OFFSET_GRID = tuple(round(0.1 * k, 1) for k in range(0, 51))

# The [O] figures of the robustness, formal and fault requirements are computed with the
# amlas library, by the functions `amlas run` calls, with each requirement's own
# perturbation, property or fault model read from [H] and the same seeds: the figures
# printed for the selected model are those of `amlas run --stage 4`.
BLUR_REQUIREMENT = "MLR-3"
BRIGHTNESS_REQUIREMENT = "MLR-4"
FORMAL_REQUIREMENT = "MLR-5"
PGD_REQUIREMENT = "MLR-6"
FAULT_REQUIREMENT = "MLR-7"
ASSESSED = (
    BLUR_REQUIREMENT,
    BRIGHTNESS_REQUIREMENT,
    FORMAL_REQUIREMENT,
    PGD_REQUIREMENT,
    FAULT_REQUIREMENT,
)
RUN_BATCH = 65536  # amlas run's batch size: batching can change float rounding
ATTACK_BATCH = 1024  # amlas run attacks in batches of at most this many
CONFIDENCE = 0.95


# -- files ----------------------------------------------------------------------------------


def write_bytes(path: Path, content: bytes) -> None:
    """Write only when the content changes, so a rebuild leaves the tree untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != content:
        path.write_bytes(content)


def npz_bytes(columns: dict[str, NDArray[Any]]) -> bytes:
    """An .npz archive that np.load(..., allow_pickle=False) reads, byte-reproducible:
    np.savez_compressed stamps every zip entry with the wall clock, so build it here with
    a fixed date and a fixed entry order."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, array in columns.items():
            if array.dtype.kind == "O":
                raise ValueError(f"column {name!r} is an object array; expected numbers or text")
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buffer.getvalue())
    return out.getvalue()


def torch_bytes(state: dict[str, torch.Tensor]) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def set_fields(artefact: Path, values: dict[str, object]) -> None:
    """Rewrite the top-level `key: value` lines of an artefact, keeping everything else
    (comments included) as it is."""
    if not artefact.exists():
        print(f"  note: {artefact.relative_to(HERE)} not found; skipped")
        return
    text = artefact.read_text(encoding="utf-8")
    for key, value in values.items():
        pattern = re.compile(rf"^{re.escape(key)}:[^\n#]*(#[^\n]*)?$", re.MULTILINE)
        if not pattern.search(text):
            print(f"  note: no '{key}:' line in {artefact.relative_to(HERE)}")
            continue
        text = pattern.sub(
            lambda m, k=key, v=value: f"{k}: {v}" + (f"  {m.group(1)}" if m.group(1) else ""),
            text,
            count=1,
        )
    write_bytes(artefact, text.encode("utf-8"))


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


def band_of(lux: NDArray[np.float64]) -> NDArray[np.str_]:
    names = np.full(lux.shape, "", dtype="<U8")
    for name, (low, high) in scenes.LIGHTING_BANDS.items():
        names[(lux >= low) & (lux < high if high < 1500.0 else lux <= high)] = name
    return names


# -- model ----------------------------------------------------------------------------------


def configure_torch() -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def predict(net: GraspNet, images: NDArray[Any]) -> NDArray[np.int64]:
    with torch.no_grad():
        logits = net(torch.as_tensor(np.asarray(images, dtype=np.float32)))
    return logits.argmax(dim=1).numpy().astype(np.int64)


def augment(images: NDArray[np.uint8], rng: np.random.Generator) -> NDArray[np.float32]:
    """One augmented copy: a random Gaussian blur and a random brightness factor, both
    inside the ranges of the operating domain, on float pixels (clipped to 0..255), and a
    left-right mirror of every second image (hands come from the player's side, which a
    mirror keeps)."""
    out = np.empty(images.shape, dtype=np.float32)
    for i, image in enumerate(images.astype(np.float64)):
        sigma = rng.uniform(*AUGMENT_BLUR)
        blurred = ndimage.gaussian_filter(image, (sigma, sigma, 0.0), mode="nearest")
        blurred = blurred[:, ::-1] if rng.uniform() < 0.5 else blurred
        out[i] = np.clip(blurred * rng.uniform(*AUGMENT_GAIN), 0.0, 255.0)
    return out


def fold_centring(net: GraspNet) -> None:
    """Training feeds ``x - 127.5`` (centred inputs train much faster through the plain
    1/255 scaling); fold that shift into the first layer's bias so that the saved network
    takes raw 0..255 pixels: W (x - 127.5) / 255 + b = W x / 255 + (b - W 1 / 2)."""
    with torch.no_grad():
        net.hidden.bias -= 0.5 * net.hidden.weight.sum(dim=1)


def train(
    name: str,
    images: NDArray[np.uint8],
    labels: NDArray[np.int64],
    validation: tuple[NDArray[np.uint8], NDArray[np.int64]],
    *,
    augmented: bool,
    hand_weight: float,
    adversarial: bool = False,
) -> tuple[GraspNet, dict[str, Any]]:
    """Adam on weighted cross-entropy; keep the epoch with the lowest validation loss.
    With ``adversarial``, every batch is trained on half clean, half FGSM-perturbed inputs
    (budget TRAIN_EPSILON intensity levels, clipped to 0..255)."""
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    x = images.astype(np.float32)
    y = labels
    if augmented:
        copies = [augment(images, rng) for _ in range(AUGMENT_COPIES)]
        x = np.concatenate([x, *copies])
        y = np.concatenate([y] * (AUGMENT_COPIES + 1))
    x_t, y_t = torch.as_tensor(x - CENTRE), torch.as_tensor(y)
    xv = torch.as_tensor(validation[0].astype(np.float32) - CENTRE)
    yv = torch.as_tensor(validation[1])
    weights = torch.ones(len(CLASS_ORDER))
    weights[CLASS_ORDER.index(SAFETY_CLASS)] = hand_weight
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    net = GraspNet(HIDDEN)
    optimiser = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    generator = torch.Generator().manual_seed(SEED)
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    history = []
    for epoch in range(1, EPOCHS + 1):
        net.train()
        order = torch.randperm(len(y_t), generator=generator)
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            xb, yb = x_t[batch], y_t[batch]
            if adversarial:
                xa = xb.clone().requires_grad_(True)
                (grad,) = torch.autograd.grad(loss_fn(net(xa), yb), xa)
                shifted = xb + TRAIN_EPSILON * grad.sign()
                xb = torch.cat([xb, torch.clamp(shifted, -CENTRE, 255.0 - CENTRE)])
                yb = torch.cat([yb, yb])
            optimiser.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            optimiser.step()
        net.eval()
        with torch.no_grad():
            logits = net(xv)
            val_loss = float(loss_fn(logits, yv))
            val_acc = float((logits.argmax(1) == yv).float().mean())
        history.append(
            {"epoch": epoch, "validation_loss": val_loss, "validation_accuracy": val_acc}
        )
        if best is None or val_loss < best[0]:
            best = (val_loss, epoch, {k: v.clone() for k, v in net.state_dict().items()})
    assert best is not None
    net.load_state_dict(best[2])
    fold_centring(net)
    net.eval()
    info = {
        "augmented": augmented,
        "adversarial_training": adversarial,
        "hand_loss_weight": hand_weight,
        "training_images": len(y),
        "best_epoch": best[1],
        "validation_loss": best[0],
        "validation_accuracy": history[best[1] - 1]["validation_accuracy"],
        "validation_curve_every_10_epochs": history[9::10],
    }
    print(f"  {name}: best epoch {best[1]} of {EPOCHS}, validation loss {best[0]:.4f}")
    return net, info


# -- assessment on internal test data [O] -------------------------------------------------------


def hand_offset(net: GraspNet, images: NDArray[np.uint8], labels: NDArray[np.int64]) -> float:
    """The smallest offset on the OFFSET_GRID that, added to the hand logit, gives a hand
    recall of at least TARGET_VALIDATION_RECALL on ``images`` (the validation split of
    [N]); an offset on a logit is a decision threshold on P(hand) against the runner-up."""
    with torch.no_grad():
        logits = net(torch.as_tensor(images.astype(np.float32))).numpy()
    hand = CLASS_ORDER.index(SAFETY_CLASS)
    is_hand = labels == hand
    for offset in OFFSET_GRID:
        shifted = logits.copy()
        shifted[:, hand] += offset
        if (shifted[is_hand].argmax(axis=1) == hand).mean() >= TARGET_VALIDATION_RECALL:
            return float(offset)
    sys.exit(f"no hand-logit offset up to {OFFSET_GRID[-1]} reaches the validation recall target")


def apply_offset(net: GraspNet, offset: float) -> None:
    with torch.no_grad():
        net.out.bias[CLASS_ORDER.index(SAFETY_CLASS)] += offset


@dataclass(frozen=True)
class Plan:
    """What assess() measures, read from the project: the requirements of [H] by ID, the
    input value range of [D], and [O] bound to its file (the formal draw is made on it)."""

    requirements: dict[str, MLSafetyRequirement]
    value_range: tuple[float, float]
    internal_test: Dataset

    def requirement(self, requirement_id: str) -> MLSafetyRequirement:
        if requirement_id not in self.requirements:
            sys.exit(f"[H] has no requirement {requirement_id}; build.py assesses it on [O]")
        return self.requirements[requirement_id]

    def describe(self) -> dict[str, Any]:
        """The requirements assessed and what each applies, for the build record."""
        described: dict[str, Any] = {}
        for rid in ASSESSED:
            requirement = self.requirement(rid)
            part = requirement.perturbation or requirement.property or requirement.faults
            assert part is not None, f"{rid} has no perturbation, property or faults"
            described[rid] = {
                "metric": requirement.metric,
                **part.model_dump(
                    mode="json", exclude={"rationale", "encoding"}, exclude_none=True
                ),
            }
        return {
            "library": f"amlas {amlas.__version__}",
            "value_range": list(self.value_range),
            "confidence": CONFIDENCE,
            "requirements": described,
        }

    def labels(self) -> dict[str, str]:
        """Result key -> how the build prints it."""
        blur = self.requirement(BLUR_REQUIREMENT).perturbation
        brightness = self.requirement(BRIGHTNESS_REQUIREMENT).perturbation
        pgd = self.requirement(PGD_REQUIREMENT).perturbation
        prop = self.requirement(FORMAL_REQUIREMENT).property
        assert blur is not None
        assert brightness is not None
        assert pgd is not None
        assert prop is not None
        formal = f"eps {prop.epsilon:g} ({FORMAL_REQUIREMENT})"
        return {
            "stability_blur": f"stability blur {blur.magnitude:g} px ({BLUR_REQUIREMENT})",
            "stability_brightness": (
                f"stability brightness +-{brightness.magnitude:g} ({BRIGHTNESS_REQUIREMENT})"
            ),
            "robust_accuracy_pgd": f"robust accuracy PGD eps {pgd.magnitude:g} ({PGD_REQUIREMENT})",
            "verified_robustness_interval": f"interval-verified {formal}",
            "verified_robustness_auto": f"{prop.method}-verified {formal}",
            "fault_tolerance": f"fault tolerance ({FAULT_REQUIREMENT})",
        }


def load_plan() -> Plan:
    """Read [H], [D] and [O] (already written) with the amlas library."""
    project = amlas.load_project(HERE).project
    if project.ml_requirements is None or project.component is None:
        sys.exit("the project's [H] or [D] did not load; run `amlas check` on it")
    bounds = project.component.inputs.value_range or (0.0, 255.0)
    return Plan(
        {r.id: r for r in project.ml_requirements.requirements},
        (float(bounds[0]), float(bounds[1])),
        load_dataset(project, "O"),
    )


def decide(model: TorchModel, images: NDArray[Any]) -> NDArray[np.str_]:
    """The class names the model decides, as `amlas run` predicts them."""
    decided = predict_classes(model, images, positive=None, threshold=None, batch_size=RUN_BATCH)
    return decided.labels


def stability(
    model: TorchModel, images: NDArray[Any], reference: NDArray[np.str_], plan: Plan, rid: str
) -> dict[str, Any]:
    """Share of images whose decision no copy under the requirement's perturbation changes;
    with two copies (brightness: gain 1 + m, then 1 - m) also the share per copy."""
    requirement = plan.requirement(rid)
    assert requirement.perturbation is not None
    copies, _ = perturb_images(
        images,
        requirement.perturbation,
        seed=perturbation_seed(requirement.id),
        value_range=plan.value_range,
    )
    n = len(reference)
    same = int((stable_predictions(partial(decide, model), copies, reference) == reference).sum())
    result: dict[str, Any] = {"rate": same / n, "lower_bound_95": lower_bound(same, n)}
    if requirement.perturbation.kind == "brightness":
        brighter, darker = (float((decide(model, c) == reference).mean()) for c in copies)
        result.update(brighter_only=brighter, darker_only=darker)
    return result


def robust_accuracy(
    net: GraspNet, images: NDArray[Any], labels: NDArray[np.int64], plan: Plan
) -> dict[str, Any]:
    """Share of images still classified correctly under the requirement's attack (PGD)."""
    requirement = plan.requirement(PGD_REQUIREMENT)
    assert requirement.perturbation is not None
    decided, _ = adversarial_predictions(
        net,
        images,
        labels,
        requirement.perturbation,
        classes=len(CLASS_ORDER),
        value_range=plan.value_range,
        seed=perturbation_seed(requirement.id),
        batch_size=ATTACK_BATCH,
    )
    robust, n = int((decided == labels).sum()), len(labels)
    return {"rate": robust / n, "lower_bound_95": lower_bound(robust, n)}


OUTCOMES = ("misclassified", "counterexample", "unknown", "timeout", "error")


def verified(
    model: TorchModel, predictions: Predictions, plan: Plan, *, method: str | None = None
) -> dict[str, Any] | None:
    """The formal requirement's local-robustness property on its seeded draw of [O], as
    `amlas run` proves it (``method`` overrides the property's, e.g. 'bound_propagation'
    for interval bounds only); None, with a note, when the formal extra is missing."""
    requirement = plan.requirement(FORMAL_REQUIREMENT)
    prop = requirement.property
    assert prop is not None
    if method is not None and method != prop.method:
        prop = prop.model_copy(update={"method": method})
        requirement = requirement.model_copy(update={"property": prop})
    try:
        result = formal_result(
            requirement,
            plan.internal_test,
            predictions,
            model,
            classes=list(CLASS_ORDER),
            features_mask=None,
            value_range=plan.value_range,
        )
    except FormalError as exc:
        print(f"  note: {requirement.id} ({prop.method}) not verified: {exc}")
        return None
    for problem in result.problems:
        print(f"  note: {requirement.id}: {problem}")
    (total,) = result.slices
    outcomes = result.resolved["outcomes"]
    by_method = Counter(q["method"] for q in result.resolved["queries"] if q["status"] == "proven")
    return {
        "samples": total.trials,
        "proven": total.successes,
        "interval": by_method["ibp"],
        "marabou": by_method["marabou"],
        **{k: outcomes[k] for k in OUTCOMES},
        "rate": total.estimate,
        "lower_bound_95": total.bound,
    }


def fault_tolerance(
    net: GraspNet, images: NDArray[Any], labels: NDArray[np.int64], plan: Plan
) -> dict[str, Any]:
    """The requirement's seeded fault campaigns; a campaign is tolerated when the accuracy
    drops by at most the requirement's max_accuracy_loss."""
    requirement = plan.requirement(FAULT_REQUIREMENT)
    assert requirement.faults is not None
    result = run_fault_campaigns(
        net,
        images,
        labels,
        requirement.faults,
        seed=perturbation_seed(requirement.id + "/faults"),
        batch_size=RUN_BATCH,
    )
    tolerated = sum(c.tolerated for c in result.campaigns)
    n = len(result.campaigns)
    return {
        "campaigns": n,
        "tolerated": tolerated,
        "rate": tolerated / n,
        "lower_bound_95": lower_bound(tolerated, n),
        "worst_accuracy_loss": float(result.losses().max()),
    }


def assess(
    net: GraspNet, data: dict[str, NDArray[Any]], plan: Plan, *, complete: bool = False
) -> dict[str, Any]:
    images = data["image"]
    labels = np.array([CLASS_ORDER.index(v) for v in data["label"]], dtype=np.int64)
    model = TorchModel(net, CLASS_ORDER, "logits", "GraspNet (build.py)")
    predictions = predict_classes(
        model, images, positive=None, threshold=None, batch_size=RUN_BATCH
    )
    pred = np.array([CLASS_ORDER.index(v) for v in predictions.labels], dtype=np.int64)
    hand = CLASS_ORDER.index(SAFETY_CLASS)
    is_hand = labels == hand
    bands = band_of(data["lux"])
    result: dict[str, Any] = {"accuracy": float((pred == labels).mean())}
    result["recall"] = {
        c: float((pred[labels == k] == k).mean()) for k, c in enumerate(CLASS_ORDER)
    }
    per_band = {}
    for band in scenes.LIGHTING_BANDS:
        inside = is_hand & (bands == band)
        hits = int((pred[inside] == hand).sum())
        per_band[band] = {
            "hands": int(inside.sum()),
            "missed": int(inside.sum()) - hits,
            "recall": hits / max(int(inside.sum()), 1),
            "lower_bound_95": lower_bound(hits, int(inside.sum())),
            "accuracy": float((pred[bands == band] == labels[bands == band]).mean()),
        }
    result["hand_recall_per_lighting"] = per_band
    false_hand = int((pred[~is_hand] == hand).sum())
    result["hand_fpr"] = {
        "false_hand": false_hand,
        "negatives": int((~is_hand).sum()),
        "rate": false_hand / int((~is_hand).sum()),
        "upper_bound_95": upper_bound(false_hand, int((~is_hand).sum())),
    }
    result["missed_hands_by_pose"] = {
        pose: int(((data["pose"] == pose) & is_hand & (pred != hand)).sum())
        for pose in scenes.POSES
    }
    result["missed_hands_by_skin_tone"] = {
        tone: int(((data["skin_tone"] == tone) & is_hand & (pred != hand)).sum())
        for tone in scenes.SKIN_TONES
    }
    reference = predictions.labels
    result["stability_blur"] = stability(model, images, reference, plan, BLUR_REQUIREMENT)
    result["stability_brightness"] = stability(
        model, images, reference, plan, BRIGHTNESS_REQUIREMENT
    )
    result["robust_accuracy_pgd"] = robust_accuracy(net, images, labels, plan)
    interval = verified(model, predictions, plan, method="bound_propagation")
    if interval is not None:
        result["verified_robustness_interval"] = interval
    if complete:
        # the property's own method (interval bounds, then Marabou) for the selected
        # candidate only: a query that runs into the time limit depends on the machine's
        # speed, and the other candidates' hard queries do
        auto = verified(model, predictions, plan)
        if auto is not None:
            result["verified_robustness_auto"] = auto
    result["fault_tolerance"] = fault_tolerance(net, images, labels, plan)
    return result


# -- main -----------------------------------------------------------------------------------


def main() -> None:
    started = time.perf_counter()
    configure_torch()
    assets = scenes.catalogue()
    by_set = scenes.assign_sets(assets)
    data = {
        letter: scenes.generate(letter, SET_SEEDS[letter], COUNTS[letter], by_set[letter])
        for letter in DATASETS
    }
    for letter, (location, _) in DATASETS.items():
        write_bytes(HERE / location, npz_bytes(data[letter]))
    # independence by construction: no asset of any kind in two sets
    for a, b in (("N", "O"), ("N", "P"), ("O", "P")):
        used = [
            set(data[s]["asset"]) | set(data[s]["board"]) | set(data[s]["piece"]) for s in (a, b)
        ]
        shared = (used[0] & used[1]) - {"none"}
        if shared:
            sys.exit(f"assets shared between [{a}] and [{b}]: {sorted(shared)[:5]}")
    generated = time.perf_counter()

    # Stage 4 sees development data [N] and internal test data [O]; never [P].
    plan = load_plan()
    dev = data["N"]
    del data["P"]
    index = {a.id: a.index for a in assets}
    held_out = np.array([index[a] == VALIDATION_ASSET_INDEX for a in dev["asset"]])
    y_dev = np.array([CLASS_ORDER.index(v) for v in dev["label"]], dtype=np.int64)
    train_x, train_y = dev["image"][~held_out], y_dev[~held_out]
    validation = (dev["image"][held_out], y_dev[held_out])

    candidates = {}
    infos = {}
    for name, augmented, weight, adversarial in (
        ("CAND-PLAIN", False, 1.0, False),
        ("CAND-AUG", True, HAND_WEIGHT, False),
        ("CAND-ROBUST", True, HAND_WEIGHT, True),
    ):
        net, info = train(
            name,
            train_x,
            train_y,
            validation,
            augmented=augmented,
            hand_weight=weight,
            adversarial=adversarial,
        )
        offset = hand_offset(net, *validation)
        apply_offset(net, offset)
        candidates[name] = net
        info["hand_logit_offset"] = offset
        info["validation_hand_recall_at_offset"] = float(
            (predict(net, validation[0])[validation[1] == 0] == 0).mean()
        )
        infos[name] = {
            **info,
            "internal_test": assess(net, data["O"], plan, complete=name == SELECTED),
        }
    trained = time.perf_counter()

    net = candidates[SELECTED]
    blob = torch_bytes(net.state_dict())
    reloaded = GraspNet(HIDDEN)
    reloaded.load_state_dict(torch.load(io.BytesIO(blob), weights_only=True))
    reloaded.eval()
    if not np.array_equal(predict(reloaded, data["O"]["image"]), predict(net, data["O"]["image"])):
        sys.exit("the saved model does not reproduce the trained one")
    write_bytes(HERE / MODEL_FILE, blob)

    record = {
        "seed": SEED,
        "set_seeds": SET_SEEDS,
        "sets": {
            letter: {
                "file": DATASETS[letter][0],
                "samples": sum(COUNTS[letter].values()),
                "per_class": COUNTS[letter],
                "assets": len(by_set[letter]),
            }
            for letter in DATASETS
        },
        "development_split": {
            "training_images": int((~held_out).sum()),
            "validation_images": int(held_out.sum()),
            "validation_assets": f"asset index {VALIDATION_ASSET_INDEX} of every group",
        },
        "settings": {
            "hidden_units": HIDDEN,
            "epochs": EPOCHS,
            "batch": BATCH,
            "learning_rate": LEARNING_RATE,
            "weight_decay": WEIGHT_DECAY,
            "augment_copies": AUGMENT_COPIES,
            "augment_blur_sigma": list(AUGMENT_BLUR),
            "augment_gain": list(AUGMENT_GAIN),
        },
        "assessment": plan.describe(),
        "candidates": infos,
        "selected": SELECTED,
        "class_order": list(CLASS_ORDER),
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

    hashes = {}
    for letter, (location, artefact) in DATASETS.items():
        hashes[location] = sha256(HERE / location)
        set_fields(
            HERE / artefact,
            {"sha256": hashes[location], "samples": sum(COUNTS[letter].values())},
        )
    hashes[MODEL_FILE] = sha256(HERE / MODEL_FILE)
    set_fields(HERE / MODEL_ARTEFACT, {"sha256": hashes[MODEL_FILE]})

    print("chess-robot-grasp build")
    for letter, info in record["sets"].items():
        counts = ", ".join(f"{v} {k}" for k, v in info["per_class"].items())
        print(f"  [{letter}] {info['file']:<24} {info['samples']:>5} samples ({counts})")
    for name, info in infos.items():
        it = info["internal_test"]
        print(f"  {name} on internal test [O]{'  <- selected' if name == SELECTED else ''}")
        recall = ", ".join(f"{c} {v:.3f}" for c, v in it["recall"].items())
        print(f"    accuracy {it['accuracy']:.3f}; recall {recall}")
        for band, b in it["hand_recall_per_lighting"].items():
            print(
                f"    hand recall {band:<6} {b['recall']:.3f} ({b['missed']} of {b['hands']} "
                f"missed, 95% lower bound {b['lower_bound_95']:.3f}); band accuracy "
                f"{b['accuracy']:.3f}"
            )
        fpr = it["hand_fpr"]
        print(
            f"    hand false positives {fpr['false_hand']} of {fpr['negatives']} "
            f"({fpr['rate']:.3f}, 95% upper bound {fpr['upper_bound_95']:.3f})"
        )
        print(f"    missed hands by pose {it['missed_hands_by_pose']}")
        print(f"    missed hands by skin tone {it['missed_hands_by_skin_tone']}")
        for key, label in plan.labels().items():
            if key not in it:
                continue
            v = it[key]
            detail = ""
            if key.startswith("verified_robustness"):
                detail = (
                    f"; {v['proven']} of {v['samples']} proven ({v['interval']} by intervals, "
                    f"{v['marabou']} by Marabou), {v['misclassified']} misclassified, "
                    f"{v['counterexample']} with a counterexample, "
                    f"{v['unknown'] + v['timeout'] + v['error']} unknown or timed out"
                )
            elif key == "fault_tolerance":
                detail = (
                    f"; {v['tolerated']} of {v['campaigns']} tolerated, worst accuracy loss "
                    f"{v['worst_accuracy_loss']:.3f}"
                )
            elif key == "stability_brightness":
                detail = f"; brighter {v['brighter_only']:.3f}, darker {v['darker_only']:.3f}"
            print(
                f"    {label}: {v['rate']:.3f} (95% lower bound {v['lower_bound_95']:.3f}){detail}"
            )
    for path, digest in hashes.items():
        print(f"  sha256 {digest}  {path}")
    print(
        f"  time: data {generated - started:.1f} s, training and assessment "
        f"{trained - generated:.1f} s"
    )


if __name__ == "__main__":
    main()
