"""The local-robustness property exactly as it is queried, for the verification log."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from amlas._version import __version__
from amlas.checks.formal._arguments import Method, options
from amlas.checks.formal._falsify import SEED, STEPS, TARGETS
from amlas.checks.formal._marabou import marabou_version
from amlas.checks.formal._network import Network

__all__ = ["describe_encoding"]


def describe_encoding(
    network: Network,
    *,
    epsilon: float,
    norm: Literal["linf", "l2"] = "linf",
    value_range: tuple[float, float] | None = None,
    mask: NDArray[np.bool_] | None = None,
    offsets: NDArray[np.float64] | None = None,
    method: Method = "auto",
    timeout_s: float = 30.0,
) -> dict[str, Any]:
    """The property exactly as :func:`verify_local_robustness` queries it, JSON-ready,
    for the verification log."""
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
    clip = ""
    if opts.value_range is not None:
        clip = f" and {opts.value_range[0]!r} <= x_i <= {opts.value_range[1]!r}"
    ball = "|x_i - x0_i| <= epsilon" if opts.norm == "linf" else "||x - x0||_2 <= epsilon"
    region: dict[str, Any] = {
        "norm": opts.norm,
        "epsilon": opts.epsilon,
        "value_range": None if opts.value_range is None else list(opts.value_range),
        "formula": (
            f"R(x0) = {{x : {ball}{clip} for every varied element i; x_i = x0_i for every other i}}"
        ),
        "box": "[max(x0_i - epsilon, low), min(x0_i + epsilon, high)] on varied elements, "
        "[x0_i, x0_i] elsewhere",
    }
    if opts.norm == "l2":
        region["note"] = (
            "bound propagation and Marabou use the box, which contains the L2 ball (sound for "
            "proofs); a point Marabou finds outside the ball is reported unknown"
        )
    described: dict[str, Any] = {
        "property": "local_robustness",
        "statement": "for every verification sample x0 with reference decision c: "
        "for all x in R(x0), decision(x) = c",
        "decision": "argmax_j (z_j(x) + o_j), z the network's float64 logits (before any softmax), "
        "o the offsets; ties go to the lowest index and count against robustness",
        "variables": {
            "input_shape": list(network.input_shape),
            "elements": int(math.prod(network.input_shape)),
            "varied": int(opts.mask.sum()),
            "outputs": network.outputs,
        },
        "region": region,
        "offsets": opts.offsets.tolist(),
        "method": opts.method,
        "network": network.summary(),
    }
    tools: list[dict[str, Any]] = []
    if opts.method != "complete":
        described["bound_propagation"] = {
            "proves": "min over j != c of the lower bound of (z_c + o_c) - (z_j + o_j) "
            "over the box > 0",
            "falsifier": f"x0, {STEPS} projected-gradient steps towards each of the "
            f"{TARGETS} classes j with the weakest margin bounds, random points "
            f"(seed {SEED}); "
            "a point deciding another class is a counterexample",
        }
        tools.append({"name": "interval bound propagation (amlas)", "version": __version__})
    if opts.method != "bound_propagation":
        described["queries"] = {
            "per_sample": (
                "for each sample interval bounds and the falsifier leave open: one query per "
                "class j != c whose interval margin bound is not positive, weakest first"
                if opts.method == "auto"
                else "one query per class j != c"
            ),
            "negated_property": "exists x in box(x0): z_j(x) + o_j >= z_c(x) + o_c",
            "encoding": f"the ONNX file read by maraboupy up to {network.logits_name!r}; where "
            "maraboupy cannot read it, or its logits differ from the network's at the first "
            "queried sample, the layers amlas read written as Marabou equations (each "
            "result's detail says which)",
            "sat": "counterexample once the point, evaluated by the network, decides another "
            "class; "
            "a tie is re-queried with z_j + o_j >= z_c + o_c + delta, "
            "delta = 1e-5 (1 + max_j |z_j(x0) + o_j|)",
            "all_unsat": "proven",
            "timeout_s": opts.timeout_s,
            "marabou_timeout_s": max(1, math.ceil(opts.timeout_s)),
        }
        tools.append({"name": "Marabou", "package": "maraboupy", "version": marabou_version()})
    described["tools"] = tools
    return described
