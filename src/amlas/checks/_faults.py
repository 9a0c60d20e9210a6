"""Hardware fault injection campaigns on torch models, for fault-resilience requirements.

A requirement with a :class:`~amlas.project.artefacts.FaultModel` is judged over many
seeded *campaigns*. Each campaign injects ``faults_per_campaign`` faults together, runs
the whole dataset through the faulty network, records the accuracy loss, and undoes the
faults. The evidence is the distribution of losses, and the share of campaigns whose loss
stays within ``max_accuracy_loss`` (judged by the caller with an exact Clopper-Pearson
bound over campaigns, from :func:`tolerance_indicator`).

Exact semantics:

- **Decisions and accuracy.** ``module`` maps float32 inputs ``(n, *sample_shape)`` to
  logits ``(n, k)``; a sample's decision is ``argmax(logits + offsets)`` (in float64) and
  it is correct when that equals its label (a class index). A sample whose logits hold a
  NaN or an infinity is counted wrong, whatever its argmax (``Campaign.nonfinite``).
  ``loss = baseline accuracy - faulty accuracy``, computed from the integer counts as
  ``(correct_baseline - correct_faulty) / n``, so it may be negative (a fault that happens
  to help) and a loss equal to the threshold compares equal to it. A campaign is
  *tolerated* when ``loss <= max_accuracy_loss``.
- **Bits.** Faults hit bits of float32 values: bit 31 is the sign, 23..30 the exponent,
  0..22 the mantissa; ``bits`` restricts the bits that may be hit. ``bit_flip`` XORs the
  bit, ``stuck_at_0`` / ``stuck_at_1`` force it; a stuck-at fault on a bit that already
  has that value changes nothing and is still a campaign (``before == after``). Bits are
  manipulated through a 32-bit integer view of the float32 storage, never by arithmetic.
- **Weights** (``target: weights``). Sites are the module's floating-point parameters and
  floating-point buffers (e.g. BatchNorm's running mean and variance: inference reads them
  from memory just like weights); integer buffers such as ``num_batches_tracked`` are not
  read at inference and are left out. Tied parameters count once. A site is named by its
  ``state_dict`` name (``"0.weight"``); ``layers`` keeps the sites of the listed modules
  and their submodules (the top module's own parameters belong to no named layer, so
  only an empty ``layers`` includes them). The faults of a campaign are
  ``faults_per_campaign`` *distinct* (site, flat index, bit) triples drawn uniformly from
  all eligible bits, so a site is hit in proportion to its element count. The flat index
  is in row-major order of the tensor's shape. Faults are applied together (a fault's
  ``before`` / ``after`` record its own step, in (site, index, bit) order), the dataset is
  evaluated, and the original bits of every touched element are written back, also when
  evaluation raises: afterwards the ``state_dict`` is bit-identical to before. Sites must
  be float32: a float64 (or half) site is refused, with the hint to convert the model
  (``module.float()``).
- **Activations** (``target: activations``). Sites are the leaf modules (Linear, Conv,
  ReLU, Flatten, ...; the module itself when it has no children) whose every output in a
  one-sample probe pass is a float32 tensor with a batch dimension; a module called
  several times in one forward pass is one site whose per-sample output is all its calls'
  outputs concatenated in call order. A fault is a permanent fault of one element of the
  per-sample output (the same element for every sample, like a faulty unit): the bit
  operation is applied to that value of every sample, through a forward hook that returns
  a modified copy (the module's own output tensor, which other layers may share, is never
  written). Elements are drawn as for weights, in proportion to per-sample output sizes;
  ``Fault.before`` and ``Fault.after`` are None. Hooks are removed afterwards, also on
  error.
- **Seeds.** Campaign ``k`` (numbered from 0) draws its faults from
  ``numpy.random.default_rng(campaign_seed(seed, k))``, where :func:`campaign_seed`
  derives a 64-bit seed from ``SeedSequence(seed, spawn_key=(k,))``. The same seed gives
  the same faults on every machine, and one campaign can be replayed from ``Campaign.seed``
  alone.
- **Mode.** Everything runs under :func:`torch.no_grad` with the module in eval mode; each
  submodule's training flag is restored afterwards. Inputs are copied per batch, so a
  module that writes into its input cannot change the dataset between campaigns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from amlas.diagnostics import did_you_mean
from amlas.errors import MissingExtraError, ValueProblem, install_hint
from amlas.project.artefacts import FaultModel

if TYPE_CHECKING:
    import torch

__all__ = [
    "BIT_RANGES",
    "LOSS_BIN_EDGES",
    "Campaign",
    "Fault",
    "FaultCampaigns",
    "campaign_seed",
    "run_fault_campaigns",
    "tolerance_indicator",
]

TORCH_HINT = install_hint("torch")

BIT_RANGES: dict[str, tuple[int, int]] = {
    "any": (0, 31),
    "sign": (31, 31),
    "exponent": (23, 30),
    "mantissa": (0, 22),
}
"""``FaultModel.bits`` -> the inclusive range of float32 bit positions it allows."""

LOSS_BIN_EDGES: tuple[float, ...] = (0.0, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0)
"""Upper edges of the summary histogram: losses below 0, exactly 0, then the right-closed
bins (0, 0.001], (0.001, 0.01], ..., (0.5, 1]. Fixed, so histograms of different runs and
models line up."""

_SHOWN_FAULTS = 20  # faults listed per worst campaign in the summary; the rest are counted


def _json_float(value: float | None) -> float | str | None:
    """JSON has no NaN or infinity: those become the strings 'nan', 'inf', '-inf'."""
    if value is None or math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


@dataclass(frozen=True)
class Fault:
    """One injected fault."""

    site: str
    """The parameter or buffer name (weights) or the module name (activations)."""
    index: int
    """Flat row-major index in the tensor (activations: within one sample's output)."""
    bit: int
    """Bit position 0..31 of the float32 value (31 sign, 23..30 exponent, 0..22 mantissa)."""
    before: float | None
    """The value before this fault (weights); None for activations."""
    after: float | None
    """The value after this fault (weights); None for activations."""

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite values as 'nan', 'inf', '-inf')."""
        return {
            "site": self.site,
            "index": self.index,
            "bit": self.bit,
            "before": _json_float(self.before),
            "after": _json_float(self.after),
        }


@dataclass(frozen=True)
class Campaign:
    """One campaign: its faults and what they did to the accuracy."""

    number: int
    """Campaign number, from 0."""
    seed: int
    """The seed its faults were drawn with: ``default_rng(seed)`` replays the draw."""
    faults: list[Fault]
    accuracy: float
    """Accuracy of the faulty network on the dataset."""
    loss: float
    """Baseline accuracy minus ``accuracy`` (negative when the faults helped)."""
    tolerated: bool
    """``loss <= max_accuracy_loss``."""
    nonfinite: int
    """Samples whose faulty logits held a NaN or an infinity (all counted wrong)."""

    def as_json(self, *, max_faults: int | None = None) -> dict[str, Any]:
        """A JSON-ready dict; with ``max_faults``, only the first that many faults are
        listed and ``faults_omitted`` counts the rest."""
        shown = self.faults if max_faults is None else self.faults[:max_faults]
        record: dict[str, Any] = {
            "number": self.number,
            "seed": self.seed,
            "accuracy": self.accuracy,
            "loss": self.loss,
            "tolerated": self.tolerated,
            "nonfinite": self.nonfinite,
            "faults": [f.as_json() for f in shown],
        }
        if len(shown) < len(self.faults):
            record["faults_omitted"] = len(self.faults) - len(shown)
        return record


@dataclass(frozen=True)
class FaultCampaigns:
    """The result of :func:`run_fault_campaigns`."""

    baseline_accuracy: float
    """Accuracy of the fault-free network on the same dataset."""
    campaigns: list[Campaign]
    """Every campaign, in number order."""
    described: dict[str, Any]
    """What was done, JSON-ready: fault model, seeds, sites with their sizes, bit range,
    dataset size, what counts as tolerated, library versions."""

    def losses(self) -> NDArray[np.float64]:
        """The accuracy loss of every campaign, in number order."""
        return np.array([c.loss for c in self.campaigns], dtype=np.float64)

    def summary(self, *, worst: int = 5) -> dict[str, Any]:
        """Loss quantiles (numpy's default linear interpolation), mean, a histogram on
        :data:`LOSS_BIN_EDGES`, tolerated count and the ``worst`` campaigns (highest loss
        first, ties by number; at most 20 faults listed each). JSON-ready."""
        losses = self.losses()
        levels = {"min": 0.0, "p5": 0.05, "p50": 0.5, "p95": 0.95, "p99": 0.99, "max": 1.0}
        quantiles = {
            name: float(np.quantile(losses, level)) if len(losses) else None
            for name, level in levels.items()
        }
        tolerated = sum(c.tolerated for c in self.campaigns)
        ranked = sorted(self.campaigns, key=lambda c: (-c.loss, c.number))[: max(worst, 0)]
        return {
            "campaigns": len(self.campaigns),
            "baseline_accuracy": self.baseline_accuracy,
            "loss_quantiles": quantiles,
            "loss_mean": float(losses.mean()) if len(losses) else None,
            "loss_histogram": _histogram(losses),
            "tolerated": tolerated,
            "not_tolerated": len(self.campaigns) - tolerated,
            "campaigns_with_nonfinite": sum(c.nonfinite > 0 for c in self.campaigns),
            "worst": [c.as_json(max_faults=_SHOWN_FAULTS) for c in ranked],
        }


def _histogram(losses: NDArray[np.float64]) -> list[dict[str, Any]]:
    bins: list[dict[str, Any]] = [
        {"range": "< 0", "count": int((losses < 0).sum())},
        {"range": "0", "count": int((losses == 0).sum())},
    ]
    for low, high in pairwise(LOSS_BIN_EDGES):
        count = int(((losses > low) & (losses <= high)).sum())
        bins.append({"range": f"({low:g}, {high:g}]", "count": count})
    return bins


def tolerance_indicator(result: FaultCampaigns) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """``(trial, success)`` per campaign, for a Clopper-Pearson verdict over campaigns:
    every campaign is a trial, and a success when its loss was tolerated."""
    trial = np.ones(len(result.campaigns), dtype=bool)
    success = np.array([c.tolerated for c in result.campaigns], dtype=bool)
    return trial, success


def campaign_seed(seed: int, number: int) -> int:
    """The 64-bit seed campaign ``number`` draws its faults with, derived from ``seed``."""
    state = np.random.SeedSequence(seed, spawn_key=(number,)).generate_state(1, np.uint64)
    return int(state[0])


# ---------------------------------------------------------------------------- sites


@dataclass
class _Site:
    name: str
    layer: str
    kind: Literal["parameter", "buffer", "activation"]
    size: int
    tensor: Any = None  # weights: the parameter or buffer
    module: Any = None  # activations: the leaf module
    call_sizes: tuple[int, ...] = ()  # activations: per-sample output size of each call
    call_shapes: tuple[tuple[int, ...], ...] = ()

    def described(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "name": self.name,
            "layer": self.layer,
            "kind": self.kind,
            "size": self.size,
        }
        if self.kind == "activation":
            record["shapes"] = [list(s) for s in self.call_shapes]
        else:
            record["shape"] = list(self.tensor.shape)
        return record


def _in_layers(name: str, layers: Sequence[str]) -> bool:
    return not layers or any(name == layer or name.startswith(layer + ".") for layer in layers)


def _check_layers(
    layers: Sequence[str], module_names: list[str], sites: list[_Site], what: str
) -> None:
    """Every listed layer must name a module, and hold at least one site."""
    for layer in layers:
        if not any(_in_layers(name, [layer]) for name in module_names):
            hint = did_you_mean(layer, module_names)
            available = ", ".join(repr(n) for n in module_names) or "none"
            raise ValueProblem(
                f"layers: unknown module name {layer!r}"
                + (f"; {hint}" if hint else "")
                + f"; the module's names are {available}",
                code="R031",
                path="[H]",
                value=layer,
            )
        if not any(_in_layers(site.layer, [layer]) for site in sites):
            with_sites = sorted({s.layer for s in sites})
            raise ValueProblem(
                f"layers: module {layer!r} holds no {what}; modules that do: "
                + (", ".join(repr(n) for n in with_sites) or "none"),
                code="R031",
                path="[H]",
                value=layer,
            )


def _weight_sites(module: torch.nn.Module, layers: Sequence[str]) -> list[_Site]:
    import torch

    named: list[tuple[str, torch.Tensor, Literal["parameter", "buffer"]]] = [
        (name, p, "parameter") for name, p in module.named_parameters()
    ]
    named += [(name, b, "buffer") for name, b in module.named_buffers() if b.is_floating_point()]
    every: list[_Site] = []
    for name, tensor, kind in named:
        layer = name.rpartition(".")[0]
        every.append(_Site(name, layer, kind, tensor.numel(), tensor=tensor))
    module_names = [name for name, _ in module.named_modules() if name]
    _check_layers(layers, module_names, every, "floating-point parameters or buffers")
    sites = [s for s in every if _in_layers(s.layer, layers) and s.size > 0]
    for site in sites:
        if site.tensor.dtype != torch.float32:
            raise ValueProblem(
                f"{site.kind} {site.name!r} is {site.tensor.dtype}; faults are modelled on "
                "float32 storage (bits 0..31): convert the model with module.float(), or "
                "leave this layer out with 'layers'",
                code="R031",
                value=str(site.tensor.dtype),
            )
    return sites


def _activation_sites(
    module: torch.nn.Module, probe: torch.Tensor, layers: Sequence[str]
) -> tuple[list[_Site], list[dict[str, str]]]:
    """Leaf modules with float32 per-sample outputs, sized by one forward pass on
    ``probe`` (one sample); also the leaves left out and why."""
    import torch

    leaves = [(name, m) for name, m in module.named_modules() if next(m.children(), None) is None]
    seen: dict[str, list[tuple[int, ...] | str]] = {name: [] for name, _ in leaves}

    def recorder(name: str) -> Callable[..., None]:
        def record(_module: Any, _args: Any, output: Any) -> None:
            if not isinstance(output, torch.Tensor):
                seen[name].append(f"its output is a {type(output).__name__}, not a tensor")
            elif output.dtype != torch.float32:
                seen[name].append(f"its output is {output.dtype}, not float32")
            elif output.dim() == 0 or output.shape[0] != 1:
                seen[name].append(f"its output {tuple(output.shape)} has no batch dimension")
            else:
                seen[name].append(tuple(output.shape[1:]))

        return record

    handles = [m.register_forward_hook(recorder(name)) for name, m in leaves]
    try:
        module(probe)
    finally:
        for handle in handles:
            handle.remove()
    every: list[_Site] = []
    skipped: list[dict[str, str]] = []
    for name, leaf in leaves:
        calls = seen[name]
        if not _in_layers(name, layers):
            continue
        problems = [c for c in calls if isinstance(c, str)]
        shapes = [c for c in calls if not isinstance(c, str)]
        if not calls:
            skipped.append({"name": name, "reason": "not called in the forward pass"})
        elif problems:
            skipped.append({"name": name, "reason": problems[0]})
        else:
            sizes = tuple(math.prod(s) for s in shapes)
            if sum(sizes) > 0:
                every.append(
                    _Site(
                        name,
                        name,
                        "activation",
                        sum(sizes),
                        module=leaf,
                        call_sizes=sizes,
                        call_shapes=tuple(shapes),
                    )
                )
    module_names = [name for name, _ in module.named_modules() if name]
    _check_layers(layers, module_names, every, "leaf module with a float32 output")
    return every, skipped


# ---------------------------------------------------------------------------- draws


def _draw(rng: np.random.Generator, total: int, count: int) -> NDArray[np.int64]:
    """``count`` distinct integers in ``[0, total)``, uniform over all such sets, sorted.

    Draws with replacement and tops up until distinct: every set is equally likely by
    symmetry. When most of the range is wanted, a permutation is cheaper.
    """
    if 2 * count > total:
        return np.sort(rng.permutation(total)[:count]).astype(np.int64)
    chosen = np.unique(rng.integers(0, total, size=count, dtype=np.int64))
    while len(chosen) < count:
        more = rng.integers(0, total, size=count - len(chosen), dtype=np.int64)
        chosen = np.unique(np.concatenate([chosen, more]))
    return chosen


@dataclass(frozen=True)
class _Plan:
    """One campaign's faults, grouped by site: element indices and bit positions, sorted
    by (site, index, bit)."""

    by_site: list[tuple[int, NDArray[np.int64], NDArray[np.int64]]]


def _plan(picks: NDArray[np.int64], sites: list[_Site], low: int, high: int) -> _Plan:
    width = high - low + 1
    elements, bits = picks // width, low + picks % width
    ends = np.cumsum([s.size for s in sites])
    which = np.searchsorted(ends, elements, side="right")
    starts = ends - np.array([s.size for s in sites])
    grouped = []
    for site in np.unique(which):
        mask = which == site
        grouped.append((int(site), elements[mask] - starts[site], bits[mask]))
    return _Plan(grouped)


def _mask_bits(bits: NDArray[np.int64]) -> NDArray[np.uint32]:
    return np.left_shift(np.uint32(1), bits.astype(np.uint32))


def _apply(values: NDArray[np.uint32], masks: NDArray[np.uint32], kind: str) -> NDArray[np.uint32]:
    if kind == "bit_flip":
        return values ^ masks
    if kind == "stuck_at_1":
        return values | masks
    return values & ~masks


# ---------------------------------------------------------------------------- injection


@contextmanager
def _weight_faults(
    sites: list[_Site], plan: _Plan, kind: str, faults: list[Fault]
) -> Iterator[None]:
    """Write the planned faults into the weights (appending their records to ``faults``)
    and restore every touched element's original bits on exit, also on error."""
    import torch

    written: list[tuple[Any, tuple[torch.Tensor, ...], torch.Tensor]] = []
    try:
        for site_number, indices, bits in plan.by_site:
            site = sites[site_number]
            ints = site.tensor.detach().view(torch.int32)
            if ints.dim() == 0:
                ints = ints.view(1)
            unique, first = np.unique(indices, return_index=True)
            # Index through the shape, not a flattened copy: works for any strides.
            where = tuple(
                torch.as_tensor(c, device=ints.device)
                for c in np.unravel_index(unique, tuple(ints.shape))
            )
            original = ints[where].clone()
            written.append((ints, where, original))
            start = original.cpu().numpy().view(np.uint32)[np.searchsorted(unique, indices)]
            # Faults on one element compose in (index, bit) order; the bits are distinct,
            # so the state before a fault is the original with the earlier masks applied.
            masks = _mask_bits(bits)
            group_start = np.repeat(first, np.diff(np.append(first, len(indices))))
            cumulative = np.cumsum(masks.astype(np.uint64))
            offset = np.where(group_start > 0, cumulative[group_start - 1], 0)
            after_masks = (cumulative - offset).astype(np.uint32)
            before_masks = after_masks - masks
            before = _apply(start, before_masks, kind)
            after = _apply(start, after_masks, kind)
            final = after[np.append(first[1:], len(indices)) - 1]
            ints[where] = torch.as_tensor(final.view(np.int32), device=ints.device)
            for index, bit, b, a in zip(
                indices.tolist(),
                bits.tolist(),
                before.view(np.float32).tolist(),
                after.view(np.float32).tolist(),
                strict=True,
            ):
                faults.append(Fault(site.name, index, bit, b, a))
        yield
    finally:
        for ints, where, original in reversed(written):
            ints[where] = original


@contextmanager
def _activation_faults(
    module: torch.nn.Module, sites: list[_Site], plan: _Plan, kind: str, faults: list[Fault]
) -> Iterator[None]:
    """Install forward hooks that apply the planned faults to the chosen leaf modules'
    outputs; the hooks are removed on exit, also on error."""
    import torch

    calls: dict[str, int] = {}
    handles: list[Any] = []

    def reset(_module: Any, _args: Any) -> None:
        calls.clear()

    def faulty(site: _Site, indices: NDArray[np.int64], masks: NDArray[np.uint32]) -> Any:
        ends = np.cumsum(site.call_sizes)

        def hook(_module: Any, _args: Any, output: torch.Tensor) -> torch.Tensor | None:
            call = calls.get(site.name, 0)
            calls[site.name] = call + 1
            if call >= len(site.call_sizes):
                return None  # more calls than in the probe: only the probed ones are faulty
            low = int(ends[call]) - site.call_sizes[call]
            chosen = (indices >= low) & (indices < ends[call])
            if not chosen.any():
                return None
            out = output.clone(memory_format=torch.contiguous_format)
            flat = out.view(out.shape[0], -1)
            if flat.shape[1] != site.call_sizes[call]:
                raise ValueProblem(
                    f"module {site.name!r} gave {flat.shape[1]} values per sample, but "
                    f"{site.call_sizes[call]} in the one-sample probe: activation faults "
                    "need a per-sample output size that does not depend on the batch",
                    code="R031",
                )
            ints = flat.view(torch.int32)
            columns = torch.as_tensor(indices[chosen] - low, device=out.device)
            values = ints[:, columns]
            mask = torch.as_tensor(masks[chosen].view(np.int32), device=out.device)
            if kind == "bit_flip":
                values = values ^ mask
            elif kind == "stuck_at_1":
                values = values | mask
            else:
                values = values & ~mask
            ints[:, columns] = values
            return out

        return hook

    try:
        handles.append(module.register_forward_pre_hook(reset))
        for site_number, indices, bits in plan.by_site:
            site = sites[site_number]
            # Several bits of one element act as one combined mask (the bits are distinct).
            unique, inverse = np.unique(indices, return_inverse=True)
            masks = np.zeros(len(unique), dtype=np.uint32)
            np.bitwise_or.at(masks, inverse, _mask_bits(bits))
            handles.append(site.module.register_forward_hook(faulty(site, unique, masks)))
            faults.extend(
                Fault(site.name, i, b, None, None)
                for i, b in zip(indices.tolist(), bits.tolist(), strict=True)
            )
        yield
    finally:
        for handle in handles:
            handle.remove()


# ---------------------------------------------------------------------------- evaluation


@contextmanager
def _eval_mode(module: torch.nn.Module) -> Iterator[None]:
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


@dataclass(frozen=True)
class _Data:
    inputs: NDArray[np.float32]
    labels: NDArray[np.int64]
    offsets: NDArray[np.float64] | None
    batch_size: int
    device: Any


def _evaluate(module: torch.nn.Module, data: _Data) -> tuple[int, int]:
    """(correct, nonfinite) over the dataset."""
    import torch

    correct = nonfinite = 0
    n = len(data.labels)
    for start in range(0, n, data.batch_size):
        stop = min(start + data.batch_size, n)
        batch = torch.from_numpy(np.array(data.inputs[start:stop], dtype=np.float32))
        output = module(batch.to(data.device))
        if not isinstance(output, torch.Tensor) or output.dim() != 2:
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
            raise ValueProblem(
                f"the module returned {type(output).__name__} {shape or ''} for a batch of "
                f"{stop - start}; expected a tensor of logits of shape ({stop - start}, k)",
                code="R021",
                path="[V]",
            )
        logits = output.detach().to("cpu", torch.float64).numpy()
        labels = data.labels[start:stop]
        _check_outputs(logits, labels, data.offsets)
        finite = np.isfinite(logits).all(axis=1)
        scores = logits if data.offsets is None else logits + data.offsets
        decided = np.argmax(scores, axis=1)
        correct += int(((decided == labels) & finite).sum())
        nonfinite += int((~finite).sum())
    return correct, nonfinite


def _check_outputs(
    logits: NDArray[np.float64], labels: NDArray[np.int64], offsets: NDArray[np.float64] | None
) -> None:
    rows, classes = logits.shape
    if rows != len(labels):
        raise ValueProblem(
            f"the module returned {rows} rows of logits for {len(labels)} samples",
            code="R021",
            path="[V]",
            value=rows,
        )
    if offsets is not None and offsets.shape != (classes,):
        raise ValueError(f"offsets has shape {offsets.shape}; expected ({classes},), one per logit")
    if len(labels) and labels.max() >= classes:
        raise ValueProblem(
            f"label {int(labels.max())} is no class index of the module's {classes} logits "
            f"(expected 0..{classes - 1})",
            code="R021",
            path="[V]",
        )


# ---------------------------------------------------------------------------- entry point


def _require_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingExtraError("fault injection needs PyTorch", "torch") from None
    return torch


def _validated(
    inputs: np.ndarray,
    labels: np.ndarray,
    offsets: np.ndarray | None,
    fault: FaultModel,
    seed: int,
    batch_size: int,
) -> tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.float64] | None]:
    if not isinstance(fault, FaultModel):
        raise TypeError(f"fault={fault!r}; expected a FaultModel from an [H] requirement")
    for name, value, minimum in (("seed", seed, 0), ("batch_size", batch_size, 1)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
            raise ValueError(f"{name}={value!r}; expected an integer >= {minimum}")
    x = np.asarray(inputs)
    if x.ndim < 1 or len(x) == 0 or x.dtype.kind not in "biuf":
        raise ValueProblem(
            f"inputs has shape {x.shape} and dtype {x.dtype}; expected a non-empty numeric "
            "array (n, *sample_shape)",
            code="R011",
            value=x.shape,
        )
    y = np.asarray(labels)
    if y.shape != (len(x),) or y.dtype.kind not in "iu":
        raise ValueError(
            f"labels has shape {y.shape} and dtype {y.dtype}; expected {len(x)} integer class "
            "indices, one per input"
        )
    if len(y) and y.min() < 0:
        raise ValueError(f"labels holds {int(y.min())}; class indices are >= 0")
    z = None
    if offsets is not None:
        z = np.asarray(offsets, dtype=np.float64)
        if z.ndim != 1 or not np.isfinite(z).all():
            raise ValueError(
                f"offsets={offsets!r}; expected a 1-D array of finite numbers, one per logit"
            )
    return x.astype(np.float32, copy=False), y.astype(np.int64), z


def run_fault_campaigns(
    module: torch.nn.Module,
    inputs: np.ndarray,
    labels: np.ndarray,
    fault: FaultModel,
    *,
    seed: int,
    batch_size: int = 1024,
    offsets: np.ndarray | None = None,
    progress: Callable[[int], None] | None = None,
) -> FaultCampaigns:
    """Run ``fault.campaigns`` seeded fault campaigns of ``fault`` on ``module`` over the
    dataset ``(inputs, labels)`` (see the module doc for the exact semantics).

    ``progress`` is called with the number of campaigns done after each one. Raises
    :class:`~amlas.errors.UsageError` without torch, ``ValueError`` for inputs, labels,
    offsets, layers or sites it cannot use, and leaves the module as it found it (weights,
    hooks, training flags) whatever happens.
    """
    torch = _require_torch()
    x, y, z = _validated(inputs, labels, offsets, fault, seed, batch_size)
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module is a {type(module).__name__}; expected a torch.nn.Module")
    tensors = [*module.parameters(), *module.buffers()]
    device = tensors[0].device if tensors else torch.device("cpu")
    data = _Data(x, y, z, int(batch_size), device)
    low, high = BIT_RANGES[fault.bits]
    with torch.no_grad(), _eval_mode(module):
        skipped: list[dict[str, str]] = []
        if fault.target == "weights":  # first: a float64 site is refused before any pass
            sites = _weight_sites(module, fault.layers)
        baseline_correct, baseline_nonfinite = _evaluate(module, data)
        if fault.target == "activations":
            probe = torch.from_numpy(np.array(x[:1], dtype=np.float32)).to(device)
            sites, skipped = _activation_sites(module, probe, fault.layers)
        total_bits = sum(s.size for s in sites) * (high - low + 1)
        if fault.faults_per_campaign > total_bits:
            raise ValueProblem(
                f"faults_per_campaign={fault.faults_per_campaign} exceeds the {total_bits} "
                f"eligible bits ({fault.bits!r} bits of {sum(s.size for s in sites)} values)",
                code="R031",
                path="[H]",
                value=fault.faults_per_campaign,
            )
        n = len(y)
        campaigns = []
        for number in range(fault.campaigns):
            derived = campaign_seed(int(seed), number)
            picks = _draw(np.random.default_rng(derived), total_bits, fault.faults_per_campaign)
            plan = _plan(picks, sites, low, high)
            faults: list[Fault] = []
            injected = (
                _weight_faults(sites, plan, fault.kind, faults)
                if fault.target == "weights"
                else _activation_faults(module, sites, plan, fault.kind, faults)
            )
            with injected:
                correct, nonfinite = _evaluate(module, data)
            loss = (baseline_correct - correct) / n
            campaigns.append(
                Campaign(
                    number=number,
                    seed=derived,
                    faults=faults,
                    accuracy=correct / n,
                    loss=loss,
                    tolerated=loss <= fault.max_accuracy_loss,
                    nonfinite=nonfinite,
                )
            )
            if progress is not None:
                progress(number + 1)
    described: dict[str, Any] = {
        "fault_model": fault.model_dump(mode="json"),
        "seed": int(seed),
        "campaign_seeds": "campaign k: numpy default_rng(SeedSequence(seed, spawn_key=(k,))"
        ".generate_state(1, uint64)[0]), k from 0",
        "sampling": "faults_per_campaign distinct (site, index, bit) drawn uniformly over the "
        "eligible bits of all sites",
        "target": fault.target,
        "sites": [s.described() for s in sites],
        "sites_skipped": skipped,
        "eligible_values": sum(s.size for s in sites),
        "eligible_bits": total_bits,
        "bits": {"selection": fault.bits, "range": [low, high]},
        "samples": n,
        "decision": "argmax(logits + offsets)" if z is not None else "argmax(logits)",
        "offsets": None if z is None else z.tolist(),
        "nonfinite": "a sample whose logits hold NaN or infinity counts as wrong",
        "baseline_nonfinite": baseline_nonfinite,
        "loss": "baseline accuracy - faulty accuracy",
        "tolerated_when": f"loss <= {fault.max_accuracy_loss:g}",
        "torch_version": str(torch.__version__),
        "numpy_version": np.__version__,
    }
    return FaultCampaigns(baseline_correct / n, campaigns, described)
