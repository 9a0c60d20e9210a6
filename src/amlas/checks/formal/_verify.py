"""Local robustness of a network's decisions around verification samples (AMLAS stage 5).

For each sample ``x0`` with reference decision ``c`` the question is whether any input
``x`` in the region ``R(x0)`` (see :mod:`._region`: within ``epsilon`` of ``x0`` in the
L-inf or L2 norm, inside the value range, varying only the masked elements) makes the
network decide a class other than ``c``. The decision is ``argmax_j (z_j(x) + o_j)`` over
the logits ``z`` (before a trailing softmax) plus ``offsets`` ``o``. Ties count against
robustness: a point where some ``z_j + o_j`` equals ``z_c + o_c`` is never proven away.

Methods:

``bound_propagation``
    Interval bounds (:mod:`._ibp`) prove the sample when the lower bound of every margin
    ``(z_c + o_c) - (z_j + o_j)`` over the region's box is positive. Otherwise a cheap
    seeded search (:mod:`._falsify`) looks for a point in the region that changes the
    decision: found, the sample has a checked ``counterexample``; not found, it is
    ``unknown`` with the margin bound in the detail.
``complete``
    Marabou (:mod:`._marabou`) answers, for each ``j != c``, "exists x in the box with
    ``z_j + o_j >= z_c + o_c``". Every answer ``unsat`` proves the sample. A ``sat`` point
    is moved into the box (solver rounding) and evaluated with :meth:`Network.forward`:
    it is a ``counterexample`` only if the decision there really differs from ``c``. A
    point that merely ties is followed by a second query asking for a margin of at least
    ``delta = 1e-5 (1 + max |z(x0) + o|)``; if that finds nothing the sample is
    ``unknown`` (the boundary is reached but not crossed by a visible amount).
``auto``
    Bound propagation and the search first; Marabou only for the samples neither settles,
    and only for the classes whose interval margin bound is not already positive, the
    weakest first.

L2 regions: bound propagation and Marabou both work on the region's bounding box, which
contains the ball, so their proofs hold for the ball. Marabou cannot encode an L2
constraint, so a point it finds outside the ball is not a counterexample: the sample is
``unknown`` (unless another class gives a point inside the ball).

Statuses: ``proven``; ``counterexample`` (with the point and the class decided there);
``unknown`` and ``timeout`` (never counted as proven); ``error`` (the solver failed; the
detail says how). Marabou's limit ``timeout_s`` applies to each query, rounded up to whole
seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from amlas.checks.formal._arguments import Method, Options, options, samples
from amlas.checks.formal._errors import FormalError
from amlas.checks.formal._falsify import SEED, falsify
from amlas.checks.formal._ibp import margin_bounds
from amlas.checks.formal._marabou import Solver
from amlas.checks.formal._network import Network, load_network
from amlas.checks.formal._region import Region, decide

__all__ = ["ProofResult", "verify_local_robustness"]

Status = Literal["proven", "counterexample", "unknown", "timeout", "error"]


@dataclass(frozen=True, eq=False)
class ProofResult:
    """The outcome for one sample."""

    index: int
    """Position of the sample in the inputs given."""
    status: Status
    method: Literal["ibp", "marabou"]
    """What settled it: interval bounds with the falsifier, or Marabou."""
    seconds: float
    """Time spent on this sample (the batched bound propagation shared out equally)."""
    margin: float | None
    """IBP: the lower bound of the worst margin (> 0 proves); None for Marabou."""
    counterexample: NDArray[np.float64] | None
    """An input (per-sample shape) in the region where the decision changes."""
    decided: int | None
    """The class decided at the counterexample."""
    detail: str
    """Why: the margin, the classes queried, or why unknown, timeout or error."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the counterexample as nested lists)."""
        return {
            "index": self.index,
            "status": self.status,
            "method": self.method,
            "seconds": self.seconds,
            "margin": self.margin,
            "counterexample": None if self.counterexample is None else self.counterexample.tolist(),
            "decided": self.decided,
            "detail": self.detail,
        }


def verify_local_robustness(
    network_path: Path,
    inputs: NDArray[Any],
    decisions: NDArray[Any],
    *,
    epsilon: float,
    norm: Literal["linf", "l2"] = "linf",
    value_range: tuple[float, float] | None = None,
    mask: NDArray[np.bool_] | None = None,
    offsets: NDArray[np.float64] | None = None,
    method: Method = "auto",
    timeout_s: float = 30.0,
    progress: Callable[[int], None] | None = None,
) -> list[ProofResult]:
    """One :class:`ProofResult` per input, in input order (see the module doc).

    ``inputs`` is ``(n, *input_shape)`` of any numeric dtype and must lie in
    ``value_range``; ``decisions`` the reference class per sample; ``mask`` a bool array
    (broadcast to the input shape) of the elements that may vary; ``offsets`` one number
    per logit added before the argmax. ``progress`` is called with 1 as each sample's
    result becomes final. Raises :class:`FormalError` for an unreadable or unsupported
    network, bad arguments, or a missing maraboupy when Marabou is needed.
    """
    path = Path(network_path)
    network = load_network(path)
    opts = options(
        network,
        epsilon=epsilon,
        norm=norm,
        value_range=value_range,
        mask=mask,
        offsets=offsets,
        method=method,
        timeout_s=timeout_s,
    )
    x, c = samples(network, inputs, decisions, opts.value_range)
    if progress is not None and not callable(progress):
        raise FormalError(f"progress={progress!r} is not callable")
    solver = (
        None
        if opts.method == "bound_propagation"
        else Solver(network, path, timeout_s=opts.timeout_s)
    )
    region = Region.around(
        x, epsilon=opts.epsilon, norm=opts.norm, value_range=opts.value_range, mask=opts.mask
    )
    results: dict[int, ProofResult] = {}

    def done(result: ProofResult) -> None:
        results[result.index] = result
        if progress is not None:
            progress(1)

    left = list(range(len(x)))
    margins: NDArray[np.float64] | None = None
    if opts.method != "complete":
        left, margins = _bounds_stage(network, region, c, opts, done)
    if solver is not None:
        for i in left:
            done(
                _complete(
                    solver,
                    network,
                    region,
                    i,
                    int(c[i]),
                    opts,
                    None if margins is None else margins[i],
                )
            )
    return [results[i] for i in range(len(x))]


def _bounds_stage(
    network: Network,
    region: Region,
    c: NDArray[np.int64],
    opts: Options,
    done: Callable[[ProofResult], None],
) -> tuple[list[int], NDArray[np.float64]]:
    """Prove what interval bounds prove, refute what the search refutes; the rest."""
    start = time.perf_counter()
    margins = margin_bounds(network, region.lower, region.upper, c, opts.offsets)
    worst = margins.min(axis=1) if len(c) else np.zeros(0)
    share = (time.perf_counter() - start) / max(len(c), 1)
    open_ = [i for i in range(len(c)) if not worst[i] > 0]
    for i in range(len(c)):
        if worst[i] > 0:
            detail = (
                f"interval bounds prove every margin positive; margin lower bound {worst[i]:.6g}"
            )
            done(ProofResult(i, "proven", "ibp", share, float(worst[i]), None, None, detail))
    start = time.perf_counter()
    found = falsify(network, region, c, opts.offsets, open_, margins=margins, seed=SEED)
    share += (time.perf_counter() - start) / max(len(open_), 1)
    left = []
    for i in open_:
        weakest = int(np.argmin(margins[i]))
        bound = f"margin lower bound {worst[i]:.6g} (class {weakest})"
        if i in found:
            point, decided, how = found[i]
            detail = (
                f"counterexample: {how} is decided {decided}, not {c[i]} (checked with the "
                f"network's forward pass); interval {bound}"
            )
            done(
                ProofResult(
                    i, "counterexample", "ibp", share, float(worst[i]), point, decided, detail
                )
            )
        elif opts.method == "bound_propagation":
            detail = (
                f"interval bounds cannot decide; {bound}; the falsifier found no counterexample"
            )
            done(ProofResult(i, "unknown", "ibp", share, float(worst[i]), None, None, detail))
        else:
            left.append(i)
    return left, margins


def _complete(
    solver: Solver,
    network: Network,
    region: Region,
    i: int,
    c: int,
    opts: Options,
    margins: NDArray[np.float64] | None,
) -> ProofResult:
    start = time.perf_counter()

    def result(
        status: Status, detail: str, point: Any = None, decided: int | None = None
    ) -> ProofResult:
        return ProofResult(
            i, status, "marabou", time.perf_counter() - start, None, point, decided, detail
        )

    if not solver.prepare(region.centre[i]):
        return result("error", f"Marabou could not be used on this network: {solver.problem}")
    classes = [j for j in range(network.outputs) if j != c]
    notes = [f"Marabou on {solver.how}"]
    if margins is not None:
        excluded = [j for j in classes if margins[j] > 0]
        classes = sorted((j for j in classes if margins[j] <= 0), key=lambda j: float(margins[j]))
        notes.append(
            f"interval margin lower bound {float(np.min(margins)):.6g}; the falsifier found no "
            "counterexample"
        )
        if excluded:
            notes.append(f"interval bounds exclude classes {excluded}")
    scale = float(np.max(np.abs(network.forward(region.centre[i][None])[0] + opts.offsets)))
    delta = 1e-5 * (1.0 + scale)
    unsat: list[int] = []
    timeouts: list[int] = []
    unknown: list[str] = []
    errors: list[str] = []
    for j in classes:
        found = _query(
            solver, network, region, i, c, j, opts.offsets, delta, unsat, timeouts, unknown, errors
        )
        if found is not None:
            point, decided, how = found
            return result(
                "counterexample",
                "; ".join(
                    [
                        *notes,
                        f"{how}: class {j} reaches class {c}; the network decides {decided} "
                        "there (checked with its forward pass)",
                    ]
                ),
                point,
                decided,
            )
    if unsat:
        notes.append(f"unsat for classes {unsat}")
    if timeouts:
        notes.append(f"timeout ({solver.timeout} s) for classes {timeouts}")
    notes += unknown + errors
    status: Status = (
        "error" if errors else "timeout" if timeouts else "unknown" if unknown else "proven"
    )
    return result(status, "; ".join(notes))


def _query(
    solver: Solver,
    network: Network,
    region: Region,
    i: int,
    c: int,
    j: int,
    offsets: NDArray[np.float64],
    delta: float,
    unsat: list[int],
    timeouts: list[int],
    unknown: list[str],
    errors: list[str],
) -> tuple[NDArray[np.float64], int, str] | None:
    """Ask about class ``j``; a validated counterexample, or None with the answer noted."""
    for margin in (0.0, delta):
        try:
            answer = solver.query(region.lower[i], region.upper[i], c, j, offsets, margin)
        except Exception as exc:  # maraboupy surfaces C++ failures as RuntimeError and kin
            errors.append(f"class {j}: Marabou failed ({type(exc).__name__}: {exc})")
            return None
        if answer.code == "unsat":
            if margin == 0.0:
                unsat.append(j)
            else:
                unknown.append(
                    f"class {j}: Marabou reaches a tie with class {c} but no point where class {j} "
                    f"leads by {delta:.3g}; ties are not counted as proven"
                )
            return None
        if answer.code == "TIMEOUT":
            timeouts.append(j)
            return None
        if answer.code != "sat" or answer.point is None:
            unknown.append(f"class {j}: Marabou answered {answer.code!r}")
            return None
        point = region.clip(i, answer.point)
        outside = region.outside(i, point)
        if outside is not None:
            if region.norm == "l2":
                outside += "; Marabou cannot encode an L2 region, only its bounding box"
            unknown.append(f"class {j}: Marabou's point is no counterexample: {outside}")
            return None
        decided = int(decide(network, point[None], offsets)[0])
        if decided != c:
            how = "Marabou sat" if margin == 0.0 else f"Marabou sat with margin {delta:.3g}"
            return point, decided, how
    unknown.append(
        f"class {j}: Marabou's point does not change the decision when evaluated "
        f"(solver rounding), even asking for a margin of {delta:.3g}"
    )
    return None
