"""Software-in-the-loop harness for the operational scenarios [EE] (AMLAS Activity 16).

`amlas run --stage 6` calls :func:`run` once per scenario run. It plays the integrated
system around the grasp-safety classifier: the gripper camera's view is rendered by the
scene generator (``scenes.py``, verification-set assets and seeds of their own, so nothing
here was seen in development), the classifier decides, and the grasp controller with its
barriers acts on that decision:

- the classifier says ``hand``: the arm retracts and looks again (the move is delayed);
- otherwise the gripper closes. With a finger in the square, the slow-closing policy
  (BAR-2) is demanded and, if it fails, the force limiter (BAR-1). Both are hardware: the
  harness draws their failures with the probabilities declared in [C], so it does not
  report them as measured barrier outcomes (that would be circular); the hazard-rate
  analysis uses the declared values.
- the ambient-light interlock (BAR-3) is the controller's rule "lux outside 150-1500:
  stop and explain" and is exercised as code; the weight checksum (SSR-6) is computed on
  a copy of the weights with one bit flipped, as the controller does before each grasp.

A run is one grasp (one robot move). What each system safety requirement means per run:
SSR-1 the gripper did not close on a finger with more than 20 N; SSR-2 the jaws stayed
within 20 N and the slow-closing policy; SSR-3 the move was not delayed by a false hand;
SSR-4 the arm stopped when the light was out of range; SSR-5 the decision came within
20 ms of the image; SSR-6 a flipped weight bit was caught before the grasp.
"""

from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parents[1]
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import scenes  # noqa: E402  (the project's own simulator, beside this folder)

SEED_BASE = 7_000_000  # integration scenes: seeds no dataset uses (N/O/P use 1101-3303 x 1e5)
FORCE_LIMITER_PFD = 0.001  # BAR-1, as declared in [C]
SLOW_CLOSE_PFD = 0.01  # BAR-2, as declared in [C]
LATENCY_LIMIT_S = 0.020  # SSR-5
LIGHT_RANGE = (150.0, 1500.0)  # BAR-3, [B] lighting range

_POOL = {
    kind: [a for a in scenes.assign_sets(scenes.catalogue())["P"] if a.kind == kind]
    for kind in ("hand", "piece", "board")
}


def _lux(run: Any, rng: np.random.Generator) -> float:
    band = run.conditions.get("lighting")
    low, high = scenes.LIGHTING_BANDS[band] if band else LIGHT_RANGE
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _scene(run: Any, label: str, rng: np.random.Generator) -> np.ndarray:
    """A camera view of ``label`` in the scenario's conditions (pose, lighting)."""
    lux = _lux(run, rng)
    pose = run.conditions.get("pose")
    for attempt in range(200):
        seed = SEED_BASE + run.seed % 1_000_000 * 200 + attempt
        image, meta = scenes.render(seed, label, lux, _POOL)
        if label != "hand" or pose is None or meta.get("pose") == pose:
            return image
    raise RuntimeError(f"no {pose!r} pose rendered in 200 attempts")


def _decide(model: Any, image: np.ndarray) -> tuple[str, float]:
    started = time.perf_counter()
    decision = str(model.predict(image[None].astype(np.float32))[0])
    return decision, time.perf_counter() - started


def _grasp_with_finger(model: Any, run: Any, rng: np.random.Generator) -> dict[str, bool]:
    decision, latency = _decide(model, _scene(run, "hand", rng))
    if decision == "hand":
        return {"SSR-1": True, "SSR-2": True, "latency": latency < LATENCY_LIMIT_S}
    slow_close_fails = bool(rng.random() < SLOW_CLOSE_PFD)
    limiter_fails = slow_close_fails and bool(rng.random() < FORCE_LIMITER_PFD)
    return {
        "SSR-1": not limiter_fails,
        # SSR-2 is the barriers' own requirement: 20 N *and* the stop on contact
        "SSR-2": not (slow_close_fails or limiter_fails),
        "latency": latency < LATENCY_LIMIT_S,
    }


def _ordinary_move(model: Any, run: Any, rng: np.random.Generator) -> dict[str, bool]:
    label = "piece" if rng.random() < 0.7 else "empty"
    decision, latency = _decide(model, _scene(run, label, rng))
    return {"SSR-3": decision != "hand", "latency": latency < LATENCY_LIMIT_S}


def _checksum_catches_a_flipped_bit(model: Any, rng: np.random.Generator) -> bool:
    module = getattr(model, "module", None)
    if module is None:
        return False
    state = {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}
    reference = hashlib.sha256(b"".join(v.tobytes() for v in state.values())).hexdigest()
    name = sorted(state)[int(rng.integers(len(state)))]
    flat = state[name].reshape(-1).view(np.uint32)
    flat[int(rng.integers(flat.size))] ^= np.uint32(1 << int(rng.integers(32)))
    corrupted = hashlib.sha256(b"".join(v.tobytes() for v in state.values())).hexdigest()
    return corrupted != reference


def run(run: Any) -> dict[str, Any]:
    """One run of one scenario of [EE] (see the module doc)."""
    rng, model, wanted = run.rng, run.model, set(run.scenario.requirements)
    held: dict[str, bool] = {}
    if wanted & {"SSR-4", "SSR-6"}:  # lighting failure and weight corruption
        lux = float(rng.uniform(40.0, LIGHT_RANGE[0]))
        held["SSR-4"] = not (LIGHT_RANGE[0] <= lux <= LIGHT_RANGE[1])  # the interlock stops
        held["SSR-6"] = _checksum_catches_a_flipped_bit(model, rng)
    elif "SSR-2" in wanted or ("SSR-1" in wanted and "SSR-3" not in wanted):
        outcome = _grasp_with_finger(model, run, rng)
        held.update({k: outcome[k] for k in ("SSR-1", "SSR-2") if k in wanted})
    elif wanted == {"SSR-1", "SSR-3"}:  # a game with a finger in one move in five
        if rng.random() < 0.2:
            finger = _grasp_with_finger(model, run, rng)
            held = {"SSR-1": finger["SSR-1"], "SSR-3": True}
        else:
            move = _ordinary_move(model, run, rng)
            held = {"SSR-1": True, "SSR-3": move["SSR-3"]}
    else:  # an ordinary move
        move = _ordinary_move(model, run, rng)
        held = {"SSR-3": move["SSR-3"], "SSR-5": move["latency"]}
    return {"requirements": {k: v for k, v in held.items() if k in wanted}}
