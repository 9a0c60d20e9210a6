"""Fault injection campaigns on torch models (src/amlas/checks/_faults.py)."""

from __future__ import annotations

import json
import sys
from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

from amlas.checks._faults import (
    BIT_RANGES,
    Campaign,
    FaultCampaigns,
    campaign_seed,
    run_fault_campaigns,
    tolerance_indicator,
)
from amlas.errors import UsageError
from amlas.project.artefacts import FaultModel

torch = pytest.importorskip("torch")
nn = torch.nn


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Any:
    """Tiny networks gain nothing from threads, and on a busy 2-core machine torch's
    thread pool makes each pass wait for the other processes' time slices."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _faults(**fields: Any) -> FaultModel:
    fields.setdefault("max_accuracy_loss", 0.01)
    return FaultModel(**fields)


def _blobs(n: int = 150, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three well separated classes in 4 dimensions."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    inputs = np.eye(3, 4, dtype=np.float32)[labels] * 4 + rng.normal(0, 0.7, (n, 4))
    return inputs.astype(np.float32), labels


def _mlp(*, norm: bool = False) -> Any:
    torch.manual_seed(0)
    layers: OrderedDict[str, Any] = OrderedDict(hidden=nn.Linear(4, 16))
    if norm:
        layers["norm"] = nn.BatchNorm1d(16)
    layers["act"] = nn.ReLU()
    layers["out"] = nn.Linear(16, 3)
    return nn.Sequential(layers)


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    return _blobs()


@pytest.fixture(scope="module")
def trained(blobs: tuple[np.ndarray, np.ndarray]) -> Any:
    """A small MLP with perfect accuracy and a wide margin on the blobs: a seeded random
    hidden layer and a least-squares readout (no autograd: fast and the same everywhere)."""
    net = _mlp()
    inputs, labels = blobs
    with torch.no_grad():
        hidden = net.act(net.hidden(torch.from_numpy(inputs))).numpy().astype(np.float64)
        design = np.hstack([hidden, np.ones((len(labels), 1))])
        solution = np.linalg.lstsq(design, 4.0 * np.eye(3)[labels], rcond=None)[0]
        net.out.weight.copy_(torch.from_numpy(solution[:-1].T))
        net.out.bias.copy_(torch.from_numpy(solution[-1]))
        logits = np.sort(net(torch.from_numpy(inputs)).numpy(), axis=1)
    assert (net(torch.from_numpy(inputs)).argmax(1).numpy() == labels).all()
    assert (logits[:, -1] - logits[:, -2]).min() > 0.5
    net.eval()
    return net


class Scaled(nn.Module):  # type: ignore[misc]
    """logits (x s, -x s) with one weight s: class 0 exactly when x s > 0."""

    def __init__(self, scale: float = 2.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor([scale]))

    def forward(self, x: Any) -> Any:
        z = x[:, 0] * self.scale
        return torch.stack([z, -z], dim=1)


def _signs(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(-3, 3, n, dtype=np.float32).reshape(n, 1)
    x[x == 0] = 0.5
    return x, (x[:, 0] < 0).astype(np.int64)


def _float_bits(value: float) -> int:
    return int(np.array([value], dtype=np.float32).view(np.uint32)[0])


def _from_bits(bits: int) -> float:
    return float(np.array([bits], dtype=np.uint32).view(np.float32)[0])


def _state_bytes(module: Any) -> dict[str, bytes]:
    return {k: v.detach().numpy().tobytes() for k, v in module.state_dict().items()}


# ---------------------------------------------------------------- known single weight


def test_sign_flip_of_the_only_weight_inverts_every_decision() -> None:
    x, y = _signs()
    result = run_fault_campaigns(
        Scaled(), x, y, _faults(kind="bit_flip", bits="sign", campaigns=3), seed=1
    )
    assert result.baseline_accuracy == 1.0
    for campaign in result.campaigns:
        (fault,) = campaign.faults
        assert (fault.site, fault.index, fault.bit) == ("scale", 0, 31)
        assert (fault.before, fault.after) == (2.0, -2.0)
        assert campaign.accuracy == 0.0
        assert campaign.loss == 1.0
        assert not campaign.tolerated


def test_exponent_flips_match_a_reference_evaluation() -> None:
    x, y = _signs()
    result = run_fault_campaigns(
        Scaled(), x, y, _faults(kind="bit_flip", bits="exponent", campaigns=24), seed=5
    )
    seen_bits = set()
    for campaign in result.campaigns:
        (fault,) = campaign.faults
        seen_bits.add(fault.bit)
        assert 23 <= fault.bit <= 30
        assert fault.after == _from_bits(_float_bits(2.0) ^ (1 << fault.bit))
        z = x[:, 0] * np.float32(fault.after)
        logits = np.stack([z, -z], axis=1)
        finite = np.isfinite(logits).all(axis=1)
        expected = np.mean(finite & (logits.argmax(1) == y))
        assert campaign.accuracy == expected
        assert campaign.nonfinite == int((~finite).sum())
    assert 30 in seen_bits  # 2.0 -> 0.0: every logit 0, decision 0
    assert max(c.loss for c in result.campaigns) == pytest.approx(np.mean(y == 1))


def test_stuck_at_0_on_zero_bits_changes_nothing() -> None:
    # 2.0 is 0x40000000: every mantissa bit is already 0.
    x, y = _signs()
    module = Scaled()
    result = run_fault_campaigns(
        module,
        x,
        y,
        _faults(kind="stuck_at_0", bits="mantissa", faults_per_campaign=3, campaigns=10),
        seed=2,
    )
    assert len(result.campaigns) == 10
    for campaign in result.campaigns:
        assert len(campaign.faults) == 3
        assert all(f.before == f.after == 2.0 for f in campaign.faults)
        assert campaign.loss == 0.0
        assert campaign.tolerated
    assert module.scale.item() == 2.0


def test_nonfinite_logits_count_as_wrong() -> None:
    # All 8 exponent bits stuck at 1 turn 2.0 into +inf: every logit pair is (inf, -inf)
    # or (-inf, inf), whose argmax alone would still be right.
    x, y = _signs()
    result = run_fault_campaigns(
        Scaled(),
        x,
        y,
        _faults(kind="stuck_at_1", bits="exponent", faults_per_campaign=8, campaigns=2),
        seed=0,
    )
    for campaign in result.campaigns:
        assert campaign.nonfinite == len(y)
        assert campaign.accuracy == 0.0
        assert [f.bit for f in campaign.faults] == list(range(23, 31))
        # Faults on one value compose in bit order, each recording its own step.
        for earlier, later in zip(campaign.faults, campaign.faults[1:], strict=False):
            assert later.before == earlier.after
        assert campaign.faults[0].before == 2.0
        assert campaign.faults[-1].after == float("inf")
        assert campaign.faults[-1].as_json()["after"] == "inf"
    json.dumps(result.summary(), allow_nan=False)


def test_offsets_shift_decisions() -> None:
    x, y = _signs()
    result = run_fault_campaigns(
        Scaled(),
        x,
        y,
        _faults(kind="bit_flip", bits="sign", campaigns=1),
        seed=0,
        offsets=np.array([0.0, 100.0]),
    )
    assert result.baseline_accuracy == np.mean(y == 1)  # always class 1
    assert result.campaigns[0].loss == 0.0
    assert result.described["offsets"] == [0.0, 100.0]


def test_more_faults_than_eligible_bits_is_refused() -> None:
    x, y = _signs()
    with pytest.raises(ValueError, match=r"faults_per_campaign=9 exceeds the 8 eligible bits"):
        run_fault_campaigns(
            Scaled(), x, y, _faults(kind="bit_flip", bits="exponent", faults_per_campaign=9), seed=0
        )


# ---------------------------------------------------------------- trained MLP, weights


def test_same_seed_same_campaigns(trained: Any, blobs: tuple[np.ndarray, np.ndarray]) -> None:
    model = _faults(kind="bit_flip", faults_per_campaign=3, campaigns=15)
    first = run_fault_campaigns(trained, *blobs, model, seed=3)
    again = run_fault_campaigns(trained, *blobs, model, seed=3, batch_size=7)
    other = run_fault_campaigns(trained, *blobs, model, seed=4)
    # as JSON: a fault may leave a NaN, which equals nothing
    assert [c.as_json() for c in first.campaigns] == [c.as_json() for c in again.campaigns]
    assert first.described == again.described
    assert [c.faults for c in first.campaigns] != [c.faults for c in other.campaigns]
    assert [c.seed for c in first.campaigns] == [campaign_seed(3, k) for k in range(15)]
    assert [c.number for c in first.campaigns] == list(range(15))
    order = [s["name"] for s in first.described["sites"]]
    assert order == ["hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    for campaign in first.campaigns:
        keys = [(order.index(f.site), f.index, f.bit) for f in campaign.faults]
        assert len(set(keys)) == 3
        assert keys == sorted(keys)


def test_weights_restored_bit_for_bit() -> None:
    x, y = _blobs(60)
    net = _mlp(norm=True)
    net.train()
    with torch.no_grad():  # non-trivial BatchNorm statistics
        net(torch.from_numpy(x))
    net.norm.running_var[3] = float("nan")  # a NaN payload must survive too
    before = _state_bytes(net)
    model = _faults(kind="bit_flip", faults_per_campaign=40, campaigns=8)
    result = run_fault_campaigns(net, x, y, model, seed=9)
    assert _state_bytes(net) == before
    assert net.training
    assert all(m.training for m in net.modules())
    kinds = {s["name"]: s["kind"] for s in result.described["sites"]}
    assert kinds["norm.running_mean"] == kinds["norm.running_var"] == "buffer"
    assert kinds["hidden.weight"] == "parameter"
    assert "norm.num_batches_tracked" not in kinds
    hit = {f.site for c in result.campaigns for f in c.faults}
    assert hit <= set(kinds)
    assert len(hit) > 3


class Failing(nn.Module):  # type: ignore[misc]
    """Wraps a network and raises on the n-th call."""

    def __init__(self, inner: Any, fail_on: int) -> None:
        super().__init__()
        self.inner, self.calls, self.fail_on = inner, 0, fail_on

    def forward(self, x: Any) -> Any:
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError("simulated failure")
        return self.inner(x)


@pytest.mark.parametrize("target", ["weights", "activations"])
def test_failure_mid_campaign_leaves_the_module_unchanged(
    trained: Any, blobs: tuple[np.ndarray, np.ndarray], target: str
) -> None:
    before = _state_bytes(trained)
    wrapped = Failing(trained, fail_on=3)  # baseline, (probe), then a faulty pass
    hooks = [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in wrapped.modules()]
    model = _faults(kind="bit_flip", faults_per_campaign=20, target=target, campaigns=3)
    with pytest.raises(RuntimeError, match="simulated failure"):
        run_fault_campaigns(wrapped, *blobs, model, seed=0, batch_size=1000)
    assert _state_bytes(trained) == before
    assert [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in wrapped.modules()] == (
        hooks
    )


def test_exponent_flips_hurt_where_mantissa_flips_do_not(
    trained: Any, blobs: tuple[np.ndarray, np.ndarray]
) -> None:
    def max_loss(bits: str) -> float:
        model = _faults(kind="bit_flip", bits=bits, campaigns=60)
        return float(run_fault_campaigns(trained, *blobs, model, seed=11).losses().max())

    mantissa, exponent = max_loss("mantissa"), max_loss("exponent")
    assert mantissa <= 0.01
    assert exponent >= 0.3
    assert exponent > mantissa


def test_layers_filter(trained: Any, blobs: tuple[np.ndarray, np.ndarray]) -> None:
    model = _faults(kind="bit_flip", faults_per_campaign=5, campaigns=10, layers=["out"])
    result = run_fault_campaigns(trained, *blobs, model, seed=0)
    assert [s["name"] for s in result.described["sites"]] == ["out.weight", "out.bias"]
    assert [s["size"] for s in result.described["sites"]] == [48, 3]
    assert result.described["eligible_bits"] == 51 * 32
    assert all(f.site.startswith("out.") for c in result.campaigns for f in c.faults)


@pytest.mark.parametrize(
    ("layers", "target", "message"),
    [
        (["hiden"], "weights", r"unknown module name 'hiden'; did you mean 'hidden'\?.*'act'"),
        (["output"], "activations", r"unknown module name 'output'.*'hidden', 'act', 'out'"),
        (["act"], "weights", r"module 'act' holds no floating-point parameters"),
    ],
)
def test_bad_layers_are_rejected(
    trained: Any, blobs: tuple[np.ndarray, np.ndarray], layers: list[str], target: str, message: str
) -> None:
    model = _faults(kind="bit_flip", layers=layers, target=target, campaigns=1)
    with pytest.raises(ValueError, match=message):
        run_fault_campaigns(trained, *blobs, model, seed=0)


def test_float64_weights_are_refused(blobs: tuple[np.ndarray, np.ndarray]) -> None:
    net = _mlp().double()
    with pytest.raises(ValueError, match=r"'hidden.weight' is torch.float64.*module.float\(\)"):
        run_fault_campaigns(net, *blobs, _faults(kind="bit_flip", campaigns=1), seed=0)


# ---------------------------------------------------------------- activations


def test_activation_faults_hit_only_the_chosen_layer(
    trained: Any, blobs: tuple[np.ndarray, np.ndarray]
) -> None:
    """Each leaf's own output (seen by a hook registered first) is compared with what the
    next module receives: they differ only for the chosen layer, in one column, by the bit."""
    names = ["hidden", "act", "out"]
    own: dict[str, Any] = {}
    passed: dict[str, Any] = {}
    handles = []
    for i, name in enumerate(names):
        module = trained.get_submodule(name)
        handles.append(
            module.register_forward_hook(lambda _m, _a, out, n=name: own.__setitem__(n, out))
        )
        if i + 1 < len(names):
            receiver = trained.get_submodule(names[i + 1])
            handles.append(
                receiver.register_forward_pre_hook(
                    lambda _m, args, n=name: passed.__setitem__(n, args[0])
                )
            )
    handles.append(
        trained.register_forward_hook(lambda _m, _a, out: passed.__setitem__("out", out))
    )
    hooks = [len(m._forward_hooks) + len(m._forward_pre_hooks) for m in trained.modules()]
    try:
        model = _faults(kind="bit_flip", target="activations", layers=["hidden"], campaigns=1)
        result = run_fault_campaigns(trained, *blobs, model, seed=4, batch_size=1000)
    finally:
        after = [len(m._forward_hooks) + len(m._forward_pre_hooks) for m in trained.modules()]
        for handle in handles:
            handle.remove()
    assert after == hooks  # the run's own hooks are gone
    (fault,) = result.campaigns[0].faults
    assert fault.site == "hidden"
    assert fault.before is fault.after is None
    assert result.described["sites"] == [
        {"name": "hidden", "layer": "hidden", "kind": "activation", "size": 16, "shapes": [[16]]}
    ]
    for name in names:  # the last call is the faulty campaign, on all samples
        raw = own[name].numpy().view(np.uint32)
        sent = passed[name].numpy().view(np.uint32)
        assert raw.shape == (len(blobs[1]), 16 if name != "out" else 3)
        changed = raw ^ sent
        if name == "hidden":
            assert (changed[:, fault.index] == 1 << fault.bit).all()
            changed[:, fault.index] = 0
        assert not changed.any(), name


def test_activation_sign_stuck_at_1_on_logits(
    trained: Any, blobs: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = blobs
    with torch.no_grad():
        logits = trained(torch.from_numpy(x)).numpy()
    model = _faults(
        kind="stuck_at_1", bits="sign", target="activations", layers=["out"], campaigns=30
    )
    result = run_fault_campaigns(trained, x, y, model, seed=0)
    assert {f.bit for c in result.campaigns for f in c.faults} == {31}
    for campaign in result.campaigns:
        (fault,) = campaign.faults
        faulty = logits.copy()
        faulty[:, fault.index] = -np.abs(faulty[:, fault.index])
        assert campaign.accuracy == np.mean(faulty.argmax(1) == y)
    assert max(c.loss for c in result.campaigns) > 0.2


def test_a_reused_module_is_one_site_over_all_its_calls(
    blobs: tuple[np.ndarray, np.ndarray],
) -> None:
    torch.manual_seed(0)
    relu = nn.ReLU()
    net = nn.Sequential(nn.Linear(4, 6), relu, nn.Linear(6, 5), relu, nn.Linear(5, 3))
    model = _faults(kind="bit_flip", target="activations", layers=["1"], campaigns=30)
    result = run_fault_campaigns(net, *blobs, model, seed=0)
    assert result.described["sites"] == [
        {"name": "1", "layer": "1", "kind": "activation", "size": 11, "shapes": [[6], [5]]}
    ]
    assert {f.index for c in result.campaigns for f in c.faults} > set(range(6))


# ---------------------------------------------------------------- results and inputs


def test_summary_and_tolerance_indicator(
    trained: Any, blobs: tuple[np.ndarray, np.ndarray]
) -> None:
    model = _faults(kind="bit_flip", bits="exponent", campaigns=40, max_accuracy_loss=0.02)
    done: list[int] = []
    result = run_fault_campaigns(trained, *blobs, model, seed=1, progress=done.append)
    assert done == list(range(1, 41))
    losses = result.losses()
    assert losses.tolist() == [c.loss for c in result.campaigns]
    summary = result.summary(worst=3)
    expected = np.quantile(losses, [0, 0.05, 0.5, 0.95, 0.99, 1])
    assert list(summary["loss_quantiles"].values()) == pytest.approx(expected.tolist())
    assert list(summary["loss_quantiles"]) == ["min", "p5", "p50", "p95", "p99", "max"]
    assert summary["loss_mean"] == pytest.approx(losses.mean())
    assert sum(b["count"] for b in summary["loss_histogram"]) == 40
    assert summary["loss_histogram"][1] == {"range": "0", "count": int((losses == 0).sum())}
    assert summary["tolerated"] == int((losses <= 0.02).sum())
    assert [w["loss"] for w in summary["worst"]] == sorted(losses, reverse=True)[:3]
    trial, success = tolerance_indicator(result)
    assert trial.all()
    assert len(trial) == 40
    assert success.tolist() == (losses <= 0.02).tolist()
    json.dumps([result.described, summary], allow_nan=False)
    assert result.described["bits"] == {"selection": "exponent", "range": [23, 30]}
    assert result.described["samples"] == len(blobs[1])


def test_loss_equal_to_the_threshold_is_tolerated() -> None:
    # 40 samples, sign flip: loss 1.0 exactly
    x, y = _signs()
    model = _faults(kind="bit_flip", bits="sign", campaigns=1, max_accuracy_loss=1.0)
    assert run_fault_campaigns(Scaled(), x, y, model, seed=0).campaigns[0].tolerated


def test_empty_summary() -> None:
    summary = FaultCampaigns(1.0, [], {}).summary()
    assert summary["loss_quantiles"]["p50"] is None
    assert summary["campaigns"] == 0


def test_campaign_json_limits_faults() -> None:
    campaign = run_fault_campaigns(
        Scaled(),
        *_signs(),
        _faults(kind="bit_flip", faults_per_campaign=30, campaigns=1),
        seed=0,
    ).campaigns[0]
    assert isinstance(campaign, Campaign)
    record = campaign.as_json(max_faults=20)
    assert len(record["faults"]) == 20
    assert record["faults_omitted"] == 10


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"labels": np.zeros(5, dtype=np.int64)}, r"labels has shape \(5,\).*expected 40"),
        ({"labels": np.zeros(40)}, r"dtype float64; expected 40 integer class indices"),
        ({"labels": np.full(40, 2)}, r"label 2 is no class index.*expected 0..1"),
        ({"labels": np.full(40, -1)}, r"labels holds -1"),
        ({"inputs": np.zeros((0, 1), np.float32)}, r"inputs has shape \(0, 1\)"),
        ({"offsets": np.zeros(3)}, r"offsets has shape \(3,\); expected \(2,\)"),
        ({"offsets": np.array([0.0, np.nan])}, r"finite numbers"),
        ({"seed": -1}, r"seed=-1; expected an integer >= 0"),
        ({"seed": 1.5}, r"seed=1.5"),
        ({"batch_size": 0}, r"batch_size=0; expected an integer >= 1"),
    ],
)
def test_bad_arguments(change: dict[str, Any], message: str) -> None:
    x, y = _signs()
    arguments: dict[str, Any] = {"inputs": x, "labels": y, "seed": 0} | change
    with pytest.raises(ValueError, match=message):
        run_fault_campaigns(Scaled(), fault=_faults(kind="bit_flip", campaigns=1), **arguments)


def test_missing_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    x, y = _signs()
    with pytest.raises(UsageError, match=r"pip install 'amlas\[torch\]'"):
        run_fault_campaigns(object(), x, y, _faults(kind="bit_flip"), seed=0)  # type: ignore[arg-type]


def test_bit_ranges() -> None:
    assert BIT_RANGES == {
        "any": (0, 31),
        "sign": (31, 31),
        "exponent": (23, 30),
        "mantissa": (0, 22),
    }
