"""Formal verification of local robustness (AMLAS stage 5, the formal leg).

For each verification sample ``x0`` with reference decision ``c``: does any input within
``epsilon`` of ``x0`` (L-inf or L2, inside the valid value range, varying only the allowed
elements) make the network decide another class? Answers are honest per sample:
``proven``, ``counterexample`` (a checked point), ``unknown``, ``timeout`` or ``error``;
unknown and timeout never count as proven.

- :mod:`._network`: the network read from ONNX (with ``onnx``) into float64 layers;
- :mod:`._onnx`: the ONNX graph walked into a chain of layers;
- :mod:`._layers`: those layers, with exact forward passes and sound interval bounds;
- :mod:`._ibp`: interval bound propagation, sound and incomplete (hand-written: auto_LiRPA
  on PyPI is broken with the pinned torch);
- :mod:`._region`: the region around a sample, and decisions;
- :mod:`._falsify`: a cheap, seeded search for counterexamples;
- :mod:`._marabou`: complete queries answered by Marabou (maraboupy);
- :mod:`._arguments`: the arguments, checked;
- :mod:`._verify`: the per-sample verdicts;
- :mod:`._describe`: the property exactly as queried, for the verification log.

Exceptions: :class:`FormalError` (a :class:`amlas.errors.ProblemError`, code R040, or R001
for a missing ``onnx`` / ``maraboupy``: the formal extra) for an unsupported network or bad
arguments.
"""

from amlas.checks.formal._describe import describe_encoding
from amlas.checks.formal._errors import FormalError
from amlas.checks.formal._ibp import interval_bounds, margin_bounds
from amlas.checks.formal._network import SUPPORTED_OPS, Network, load_network
from amlas.checks.formal._verify import ProofResult, verify_local_robustness

__all__ = [
    "SUPPORTED_OPS",
    "FormalError",
    "Network",
    "ProofResult",
    "describe_encoding",
    "interval_bounds",
    "load_network",
    "margin_bounds",
    "verify_local_robustness",
]
