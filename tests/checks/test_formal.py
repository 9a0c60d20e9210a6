"""Formal verification of local robustness (src/amlas/checks/formal/)."""

from __future__ import annotations

import importlib.metadata
import json
import math
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from numpy.typing import NDArray
from onnx import TensorProto, helper

import amlas
import amlas.checks.formal
import amlas.checks.formal._marabou as marabou_module
from amlas.checks.formal import (
    FormalError,
    Network,
    ProofResult,
    describe_encoding,
    interval_bounds,
    load_network,
    margin_bounds,
    verify_local_robustness,
)
from amlas.checks.formal._falsify import gradients
from amlas.checks.formal._layers import Affine, Conv, Layer, Permute, Relu, Reshape, Scale, fuse
from amlas.errors import UsageError

Array = NDArray[np.float64]


# --- networks -----------------------------------------------------------------------------


def _tensor(name: str, value: Array) -> onnx.TensorProto:
    array = np.asarray(value, dtype=np.float32)
    return helper.make_tensor(name, TensorProto.FLOAT, array.shape, array.ravel())


def _save(
    path: Path,
    nodes: list[onnx.NodeProto],
    inits: dict[str, Array],
    input_shape: Sequence[int],
    output: str,
    outputs: int,
) -> Path:
    graph = helper.make_graph(
        nodes,
        "net",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", *input_shape])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["n", outputs])],
        initializer=[_tensor(k, v) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def _mlp_onnx(path: Path, layers: list[tuple[Array, Array]], *, softmax: bool = False) -> Path:
    """Gemm (weights given as (out, in)) and Relu between them; optional trailing Softmax."""
    nodes, inits, current = [], {}, "x"
    for i, (w, b) in enumerate(layers):
        inits[f"w{i}"], inits[f"b{i}"] = np.asarray(w), np.asarray(b)
        nodes.append(helper.make_node("Gemm", [current, f"w{i}", f"b{i}"], [f"z{i}"], transB=1))
        current = f"z{i}"
        if i < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [current], [f"h{i}"]))
            current = f"h{i}"
    if softmax:
        nodes.append(helper.make_node("Softmax", [current], ["probabilities"], axis=-1))
        current = "probabilities"
    outputs = len(layers[-1][1])
    return _save(path, nodes, inits, [np.asarray(layers[0][0]).shape[1]], current, outputs)


def _diff_net(path: Path) -> Path:
    """z0 = relu(x0 - x1), z1 = relu(x1 - x0), so z0 - z1 = x0 - x1 exactly.

    Around (1, 0) the decision 0 is robust exactly for linf epsilon < 1/2 and
    l2 epsilon < 1/sqrt(2).
    """
    w = np.array([[1.0, -1.0], [-1.0, 1.0]])
    return _mlp_onnx(path, [(w, np.zeros(2)), (np.eye(2), np.zeros(2))], softmax=True)


def _sum_net(path: Path) -> Path:
    """z0 = relu(x0) + relu(x1), z1 = 1: class 0 iff x0 + x1 > 1 (for x >= 0)."""
    return _mlp_onnx(
        path, [(np.eye(2), np.zeros(2)), (np.array([[1.0, 1.0], [0.0, 0.0]]), [0.0, 1.0])]
    )


class _TorchMLP(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Linear(12, 10),
            torch.nn.ReLU(),
            torch.nn.Linear(10, 8),
            torch.nn.ReLU(),
            torch.nn.Linear(8, 3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # view(size(0), -1) exports shape arithmetic: Shape, Gather, Unsqueeze, Concat
        return torch.softmax(self.body(x.view(x.size(0), -1) / 255.0), dim=1)


class _TorchCNN(torch.nn.Module):
    """NHWC uint8-range input, permuted and scaled inside forward (the house convention)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 2, 3, padding=1, stride=2)
        self.norm = torch.nn.BatchNorm2d(2)
        self.fc = torch.nn.Linear(2 * 3 * 3, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.norm(self.conv(x.permute(0, 3, 1, 2) / 255.0 - 0.5)))
        return self.fc(h.flatten(1))


def _export(module: torch.nn.Module, example: torch.Tensor, path: Path) -> Path:
    module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            str(path),
            dynamo=False,
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}},
        )
    return path


@pytest.fixture(scope="module")
def torch_nets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("formal")
    torch.manual_seed(0)
    mlp = _TorchMLP()
    cnn = _TorchCNN()
    with torch.no_grad():  # non-trivial running statistics, so BatchNorm is not the identity
        cnn.norm.running_mean.copy_(torch.tensor([0.1, -0.2]))
        cnn.norm.running_var.copy_(torch.tensor([0.5, 2.0]))
    return {
        "mlp": _export(mlp, torch.rand(2, 2, 2, 3) * 255, folder / "mlp.onnx"),
        "cnn": _export(cnn, torch.rand(2, 6, 6, 3) * 255, folder / "cnn.onnx"),
    }


def _ops_onnx(path: Path) -> Path:
    """Most supported op types in one chain, built by hand."""
    rng = np.random.default_rng(3)
    inits = {
        "mean": rng.normal(size=(1, 3, 1, 1)),
        "std": rng.uniform(0.5, 2.0, size=(3, 1, 1)),
        "cw": rng.normal(size=(4, 3, 2, 2)),
        "cb": rng.normal(size=4),
        "bn_s": rng.uniform(0.5, 1.5, size=4),
        "bn_b": rng.normal(size=4),
        "bn_m": rng.normal(size=4),
        "bn_v": rng.uniform(0.5, 2.0, size=4),
        "mw": rng.normal(size=(36, 5)),
        "mb": rng.normal(size=5),
    }
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),  # (n, 3, 5, 5)
        helper.make_node("Sub", ["t", "mean"], ["s"]),
        helper.make_node("Div", ["s", "std"], ["d"]),
        helper.make_node(
            "Constant", [], ["two"], value=helper.make_tensor("v", TensorProto.FLOAT, [], [2.0])
        ),
        helper.make_node("Mul", ["two", "d"], ["m"]),
        helper.make_node("Conv", ["m", "cw", "cb"], ["c"], pads=[1, 0, 0, 1], strides=[2, 2]),
        helper.make_node(
            "BatchNormalization", ["c", "bn_s", "bn_b", "bn_m", "bn_v"], ["bn"], epsilon=1e-3
        ),
        helper.make_node("Relu", ["bn"], ["r"]),
        helper.make_node(
            "Constant",
            [],
            ["shape"],
            value=helper.make_tensor("s", TensorProto.INT64, [2], [-1, 36]),
        ),
        helper.make_node("Reshape", ["r", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "mw"], ["mm"]),
        helper.make_node("Add", ["mm", "mb"], ["a"]),
        helper.make_node("Identity", ["a"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["p"], axis=1),
    ]
    return _save(path, nodes, inits, [5, 5, 3], "p", 5)


def _conv1d_onnx(path: Path) -> Path:
    """1-D grouped convolution with auto_pad, Flatten, Gemm without transB, alpha and beta."""
    rng = np.random.default_rng(8)
    inits = {
        "cw": rng.normal(size=(4, 1, 3)),
        "cb": rng.normal(size=4),
        "gw": rng.normal(size=(12, 3)),
        "gb": rng.normal(size=(1, 3)),
    }
    nodes = [
        helper.make_node(
            "Conv", ["x", "cw", "cb"], ["c"], group=2, auto_pad="SAME_UPPER", strides=[2]
        ),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "gw", "gb"], ["logits"], alpha=0.5, beta=2.0),
    ]
    return _save(path, nodes, inits, [2, 5], "logits", 3)


def _onnxruntime_logits(path: Path, network: Network, x: Array) -> Array:
    """onnxruntime's value of the pre-softmax tensor (added as an extra graph output)."""
    model = onnx.load(str(path))
    if network.logits_name != model.graph.output[0].name:
        model.graph.output.append(
            helper.make_tensor_value_info(network.logits_name, TensorProto.FLOAT, None)
        )
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    outputs = [o.name for o in session.get_outputs()]
    found = session.run(None, {"x": x.astype(np.float32)})
    return np.asarray(found[outputs.index(network.logits_name)], dtype=np.float64)


# --- reading ONNX --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_forward_matches_onnxruntime_on_torch_exports(
    torch_nets: dict[str, Path], name: str
) -> None:
    network = load_network(torch_nets[name])
    x = np.random.default_rng(0).uniform(0, 255, (16, *network.input_shape))
    assert network.input_shape == ((2, 2, 3) if name == "mlp" else (6, 6, 3))
    np.testing.assert_allclose(
        network.forward(x), _onnxruntime_logits(torch_nets[name], network, x), atol=1e-4
    )
    assert network.dropped_softmax == (name == "mlp")


def test_forward_matches_onnxruntime_on_hand_built_ops(tmp_path: Path) -> None:
    path = _ops_onnx(tmp_path / "ops.onnx")
    network = load_network(path)
    x = np.random.default_rng(1).normal(size=(20, 5, 5, 3))
    assert network.logits_name == "logits"
    assert network.outputs == 5
    assert network.relus == 4 * 3 * 3
    np.testing.assert_allclose(network.forward(x), _onnxruntime_logits(path, network, x), atol=1e-4)
    # the batch-norm scale went into the convolution, Reshape + MatMul + Add into one affine
    assert [layer.kind for layer in network.layers] == [
        "permute",
        "scale",
        "conv",
        "relu",
        "affine",
    ]


def test_forward_matches_onnxruntime_on_a_1d_convolution(tmp_path: Path) -> None:
    path = _conv1d_onnx(tmp_path / "conv1d.onnx")
    network = load_network(path)
    x = np.random.default_rng(2).normal(size=(20, 2, 5))
    assert network.relus == 4 * 3
    np.testing.assert_allclose(network.forward(x), _onnxruntime_logits(path, network, x), atol=1e-4)
    [result] = verify_local_robustness(path, x[:1], network.forward(x[:1]).argmax(1), epsilon=0.05)
    assert result.status == "proven"


def _single(tmp_path: Path, op: str, **attrs: Any) -> Path:
    nodes = [helper.make_node(op, ["x"], ["y"], **attrs)]
    return _save(tmp_path / f"{op}.onnx", nodes, {}, [3], "y", 3)


def test_unsupported_op_is_named_with_the_supported_list(tmp_path: Path) -> None:
    with pytest.raises(
        FormalError, match=r"\(Sigmoid\) is not supported; supported op_types: Add, "
    ) as info:
        load_network(_single(tmp_path, "Sigmoid"))
    assert isinstance(info.value, UsageError)
    assert "Sigmoid.onnx" in str(info.value)


@pytest.mark.parametrize(
    ("nodes", "inits", "message"),
    [
        ([helper.make_node("Add", ["x", "x"], ["y"])], {}, "single chain"),
        ([helper.make_node("Div", ["c", "x"], ["y"])], {"c": np.ones(3)}, "divides by the tensor"),
        ([helper.make_node("Div", ["x", "c"], ["y"])], {"c": np.zeros(3)}, "divides by zero"),
        (
            [helper.make_node("Mul", ["x", "c"], ["y"])],
            {"c": np.ones((2, 3))},
            "does not broadcast per sample",
        ),
        (
            [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["x", "r"], ["y"])],
            {},
            "single chain",
        ),
    ],
)
def test_graphs_outside_the_subset_are_refused(
    tmp_path: Path, nodes: list[onnx.NodeProto], inits: dict[str, Array], message: str
) -> None:
    with pytest.raises(FormalError, match=message):
        load_network(_save(tmp_path / "bad.onnx", nodes, inits, [3], "y", 3))


def test_unreadable_files_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(FormalError, match="no such ONNX file"):
        load_network(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(FormalError, match="not a readable ONNX model"):
        load_network(tmp_path / "junk.onnx")


# --- layers and interval bounds ------------------------------------------------------------


def _random_networks() -> list[Network]:
    rng = np.random.default_rng(11)

    def affine(i: int, o: int, in_shape: tuple[int, ...] | None = None) -> Affine:
        return Affine(rng.normal(size=(o, i)), rng.normal(size=o), in_shape or (i,), (o,))

    def conv(
        c: int, m: int, hw: tuple[int, ...], k: int, stride: int, pad: int, dil: int, group: int
    ) -> Conv:
        size = [(s + 2 * pad - (k - 1) * dil - 1) // stride + 1 for s in hw]
        return Conv(
            rng.normal(size=(m, c // group, 1 if len(hw) == 1 else k, k)),
            rng.normal(size=m),
            (1 if len(hw) == 1 else stride, stride),
            (0 if len(hw) == 1 else pad, pad, 0 if len(hw) == 1 else pad, pad),
            (1, dil),
            group,
            (c, *hw),
            (m, *size),
        )

    mlp = [
        affine(5, 7),
        Relu((7,)),
        affine(7, 6),
        Scale(rng.normal(size=(6,)), rng.normal(size=(6,)), (6,)),
    ]
    mlp += [Relu((6,)), affine(6, 3)]
    c1 = conv(3, 4, (6, 6), 3, 2, 1, 1, 1)
    c2 = conv(4, 4, (3, 3), 2, 1, 1, 1, 2)
    cnn: list[Layer] = [
        Scale(rng.normal(size=(3, 1, 1)), rng.normal(size=(3, 1, 1)), (3, 6, 6)),
        c1,
        Relu(c1.out_shape),
        c2,
    ]
    cnn += [
        Relu(c2.out_shape),
        Permute((1, 2, 0), c2.out_shape),
        Reshape((4, 4, 4), (64,)),
        affine(64, 4),
    ]
    c3 = conv(2, 3, (9,), 3, 2, 0, 2, 1)
    conv1d: list[Layer] = [c3, Relu(c3.out_shape), Reshape(c3.out_shape, (9,)), affine(9, 3)]
    return [
        Network((5,), 3, tuple(mlp), "mlp"),
        Network((3, 6, 6), 4, tuple(cnn), "cnn"),
        Network((2, 9), 3, tuple(conv1d), "conv1d"),
    ]


@pytest.mark.parametrize("network", _random_networks(), ids=lambda n: n.source)
def test_interval_bounds_contain_every_sampled_output(network: Network) -> None:
    rng = np.random.default_rng(5)
    boxes = 12
    centre = rng.normal(size=(boxes, *network.input_shape))
    radius = rng.uniform(0, 0.5, size=centre.shape) * (rng.random(centre.shape) < 0.8)
    lo, hi = interval_bounds(network, centre - radius, centre + radius)
    decisions = rng.integers(0, network.outputs, boxes)
    offsets = rng.normal(size=network.outputs)
    margins = margin_bounds(network, centre - radius, centre + radius, decisions, offsets)
    # the margin bound is never looser than subtracting the logits' intervals
    naive = (lo[np.arange(boxes), decisions] + offsets[decisions])[:, None] - (hi + offsets)
    assert np.all(margins >= naive - 1e-9)
    for b in range(boxes):
        u = rng.random((600, *network.input_shape))
        corners = (rng.random((200, *network.input_shape)) < 0.5).astype(float)
        x = centre[b] - radius[b] + 2 * radius[b] * np.concatenate([u, corners])
        z = network.forward(x)
        assert np.all(z >= lo[b] - 1e-9)
        assert np.all(z <= hi[b] + 1e-9)
        margin = (z[:, decisions[b]] + offsets[decisions[b]])[:, None] - (z + offsets)
        others = np.arange(network.outputs) != decisions[b]  # +inf marks j = c
        assert np.all(margin[:, others] >= margins[b, others] - 1e-9)
    assert np.all(hi - lo >= 0)


@pytest.mark.parametrize("network", _random_networks(), ids=lambda n: n.source)
def test_layer_transposes_and_fusion_are_exact(network: Network) -> None:
    rng = np.random.default_rng(2)
    for layer in network.layers:
        if isinstance(layer, Relu):
            continue
        x = rng.normal(size=(3, *layer.in_shape))
        g = rng.normal(size=(3, *layer.out_shape))
        assert np.sum(layer.linear(x) * g) == pytest.approx(np.sum(x * layer.vjp(g)), rel=1e-9)
    fused = Network(network.input_shape, network.outputs, fuse(network.layers), "fused")
    assert len(fused.layers) < len(network.layers)
    x = rng.normal(size=(10, *network.input_shape))
    np.testing.assert_allclose(fused.forward(x), network.forward(x), rtol=1e-10, atol=1e-10)
    # gradients of the piecewise-linear network match central differences
    v = rng.normal(size=(10, network.outputs))
    grad = gradients(network, x, v)
    step = 1e-6 * rng.normal(size=x.shape)
    change = np.sum((network.forward(x + step) - network.forward(x - step)) * v, axis=1)
    np.testing.assert_allclose(
        change, 2 * np.sum((grad * step).reshape(10, -1), axis=1), rtol=1e-4, atol=1e-9
    )


def test_interval_bounds_refuse_bad_boxes() -> None:
    network = _random_networks()[0]
    with pytest.raises(FormalError, match=r"expected \(n, 5\)"):
        interval_bounds(network, np.zeros((2, 4)), np.zeros((2, 4)))
    with pytest.raises(FormalError, match="lower > upper"):
        interval_bounds(network, np.ones((1, 5)), np.zeros((1, 5)))


# --- verification: the hand-made networks with known radii -----------------------------------

X0 = np.array([[1.0, 0.0]])


def test_radius_below_is_proven_by_both_methods_above_refuted_by_marabou(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = _diff_net(tmp_path / "diff.onnx")
    for method in ("bound_propagation", "complete"):
        [result] = verify_local_robustness(path, X0, np.array([0]), epsilon=0.49, method=method)
        assert result.status == "proven", result.detail
    [ibp] = verify_local_robustness(
        path, X0, np.array([0]), epsilon=0.49, method="bound_propagation"
    )
    assert ibp.method == "ibp"
    assert ibp.margin == pytest.approx(1 - 2 * 0.49)
    [exact] = verify_local_robustness(path, X0, np.array([0]), epsilon=0.49, method="complete")
    assert exact.method == "marabou"
    assert "the ONNX file, read by maraboupy up to 'z1'" in exact.detail
    assert "unsat for classes [1]" in exact.detail

    [refuted] = verify_local_robustness(path, X0, np.array([0]), epsilon=0.6, method="complete")
    assert refuted.status == "counterexample", refuted.detail
    assert refuted.method == "marabou"
    point = refuted.counterexample
    assert point is not None
    assert refuted.decided == 1
    assert point[0] - point[1] <= 0  # class 1 wins (or ties and wins argmax) there
    assert np.all(np.abs(point - X0[0]) <= 0.6 + 1e-9)
    net = load_network(path)
    assert int(np.argmax(net.forward(point[None])[0])) == 1
    assert capfd.readouterr().out == ""  # Marabou kept quiet


def test_a_tie_at_the_radius_is_never_proven(tmp_path: Path) -> None:
    path = _diff_net(tmp_path / "diff.onnx")
    for method in ("bound_propagation", "complete"):
        [result] = verify_local_robustness(path, X0, np.array([0]), epsilon=0.5, method=method)
        assert result.status != "proven"


def test_offsets_move_the_decision_boundary(tmp_path: Path) -> None:
    path = _diff_net(tmp_path / "diff.onnx")
    offsets = np.array([0.0, 0.5])  # class 1 now wins once x0 - x1 < 0.5: radius 0.25
    for method in ("bound_propagation", "complete"):
        [plain] = verify_local_robustness(path, X0, np.array([0]), epsilon=0.3, method=method)
        assert plain.status == "proven"
        [safe] = verify_local_robustness(
            path, X0, np.array([0]), epsilon=0.2, offsets=offsets, method=method
        )
        assert safe.status == "proven", safe.detail
    [broken] = verify_local_robustness(
        path, X0, np.array([0]), epsilon=0.3, offsets=offsets, method="complete"
    )
    assert broken.status == "counterexample"
    assert broken.counterexample is not None
    z = load_network(path).forward(broken.counterexample[None])[0]
    assert np.argmax(z) == 0  # without the offsets the decision would not change
    assert np.argmax(z + offsets) == broken.decided == 1


def test_mask_restricts_the_region(tmp_path: Path) -> None:
    path = _sum_net(tmp_path / "sum.onnx")
    x = np.array([[0.65, 0.65]])  # class 0 (x0 + x1 = 1.3 > 1)
    for method in ("bound_propagation", "complete"):
        [both] = verify_local_robustness(path, x, np.array([0]), epsilon=0.2, method=method)
        assert both.status == "counterexample"
        [one] = verify_local_robustness(
            path, x, np.array([0]), epsilon=0.2, method=method, mask=np.array([True, False])
        )
        assert one.status == "proven", one.detail
    [found] = verify_local_robustness(
        path, x, np.array([0]), epsilon=0.4, method="complete", mask=np.array([False, True])
    )
    assert found.status == "counterexample"
    assert found.counterexample is not None
    assert found.counterexample[0] == 0.65  # the fixed element stays put


def test_value_range_clips_the_region(tmp_path: Path) -> None:
    path = _sum_net(tmp_path / "sum.onnx")
    x = np.array([[0.65, 0.65]])
    for method in ("bound_propagation", "complete"):
        [clipped] = verify_local_robustness(
            path, x, np.array([0]), epsilon=0.2, value_range=(0.55, 1.0), method=method
        )
        assert clipped.status == "proven", clipped.detail
    [found] = verify_local_robustness(
        path, x, np.array([0]), epsilon=0.3, value_range=(0.4, 1.0), method="complete"
    )
    assert found.status == "counterexample"
    assert found.counterexample is not None
    assert np.all(found.counterexample >= 0.4)
    assert np.all(found.counterexample <= 1.0)
    assert found.counterexample.sum() <= 1.0


def test_l2_uses_the_box_soundly_and_reports_points_outside_the_ball(tmp_path: Path) -> None:
    path = _diff_net(tmp_path / "diff.onnx")
    [small] = verify_local_robustness(
        path, X0, np.array([0]), epsilon=0.3, norm="l2", method="bound_propagation"
    )
    assert small.status == "proven"
    # 0.6 < 1/sqrt(2): the ball is robust but its box [0.4, 1.6] x [-0.6, 0.6] is not
    [ibp] = verify_local_robustness(
        path, X0, np.array([0]), epsilon=0.6, norm="l2", method="bound_propagation"
    )
    assert ibp.status == "unknown"
    assert "interval bounds cannot decide; margin lower bound -0.2" in ibp.detail
    [box] = verify_local_robustness(
        path, X0, np.array([0]), epsilon=0.6, norm="l2", method="complete"
    )
    assert box.status == "unknown"
    assert "outside the L2 ball" in box.detail
    assert "Marabou cannot encode an L2 region" in box.detail
    # 0.8 > 1/sqrt(2): a point in the ball changes the decision
    [large] = verify_local_robustness(path, X0, np.array([0]), epsilon=0.8, norm="l2")
    assert large.status == "counterexample"
    assert large.counterexample is not None
    assert np.linalg.norm(large.counterexample - X0[0]) <= 0.8 + 1e-9


# --- verification: the solver's answers ---------------------------------------------------


def _fake_solver(
    monkeypatch: pytest.MonkeyPatch, answer: Callable[[int], tuple[str, dict[int, float], Any]]
) -> list[Any]:
    """Marabou's first call (the encoding check at the sample) is real, later ones fake."""
    real = marabou_module._solve
    calls: list[Any] = []

    def fake(core: Any, query: Any, options: Any) -> tuple[str, dict[int, float], Any]:
        calls.append(options)
        return real(core, query, options) if len(calls) == 1 else answer(len(calls))

    monkeypatch.setattr(marabou_module, "_solve", fake)
    return calls


def test_a_timeout_is_reported_never_proven(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _diff_net(tmp_path / "diff.onnx")
    calls = _fake_solver(monkeypatch, lambda _: ("TIMEOUT", {}, None))
    [result] = verify_local_robustness(
        path, X0, np.array([0]), epsilon=0.3, method="complete", timeout_s=0.2
    )
    assert result.status == "timeout"
    assert "timeout (1 s) for classes [1]" in result.detail
    assert calls[-1]._timeoutInSeconds == 1
    assert calls[-1]._verbosity == 0


@pytest.mark.parametrize(
    ("answer", "status", "text"),
    [
        (("UNKNOWN", {}, None), "unknown", "Marabou answered 'UNKNOWN'"),
        (("ERROR", {}, None), "unknown", "Marabou answered 'ERROR'"),
    ],
)
def test_other_answers_are_unknown(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    answer: tuple[str, dict[int, float], Any],
    status: str,
    text: str,
) -> None:
    path = _diff_net(tmp_path / "diff.onnx")
    _fake_solver(monkeypatch, lambda _: answer)
    [result] = verify_local_robustness(path, X0, np.array([0]), epsilon=0.3, method="complete")
    assert result.status == status
    assert text in result.detail


def test_a_solver_failure_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _diff_net(tmp_path / "diff.onnx")

    def boom(_: int) -> tuple[str, dict[int, float], Any]:
        raise RuntimeError("engine crashed")

    _fake_solver(monkeypatch, boom)
    [result] = verify_local_robustness(path, X0, np.array([0]), epsilon=0.3, method="complete")
    assert result.status == "error"
    assert "engine crashed" in result.detail


def test_a_sat_point_that_does_not_change_the_decision_is_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _diff_net(tmp_path / "diff.onnx")
    # "sat" at the sample itself (decision 0), then "unsat" when asked for a clear margin
    answers = {2: ("sat", {0: 1.0, 1: 0.0}, None), 3: ("unsat", {}, None)}
    _fake_solver(monkeypatch, lambda n: answers[n])
    [result] = verify_local_robustness(path, X0, np.array([0]), epsilon=0.3, method="complete")
    assert result.status == "unknown"
    assert "reaches a tie with class 0 but no point where class 1 leads" in result.detail


def test_a_wrong_reading_by_maraboupy_falls_back_to_the_amlas_encoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _diff_net(tmp_path / "diff.onnx")
    real = marabou_module._read_onnx

    def swapped(*args: Any) -> Any:
        encoding = real(*args)
        return type(encoding)(
            encoding.network, encoding.inputs, encoding.outputs[::-1], encoding.how
        )

    monkeypatch.setattr(marabou_module, "_read_onnx", swapped)
    [result] = verify_local_robustness(path, X0, np.array([0]), epsilon=0.49, method="complete")
    assert result.status == "proven"
    assert "the layers amlas read" in result.detail


def test_missing_maraboupy_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _diff_net(tmp_path / "diff.onnx")
    monkeypatch.setitem(sys.modules, "maraboupy", None)
    with pytest.raises(FormalError, match=r"pip install 'amlas\[formal\]'"):
        verify_local_robustness(path, X0, np.array([0]), epsilon=0.3, method="complete")
    [result] = verify_local_robustness(
        path, X0, np.array([0]), epsilon=0.3, method="bound_propagation"
    )
    assert result.status == "proven"


# --- verification: torch networks ------------------------------------------------------------


def test_auto_agrees_with_complete_on_a_cnn_and_counterexamples_are_real(
    torch_nets: dict[str, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    path = torch_nets["cnn"]
    network = load_network(path)
    x = np.random.default_rng(4).integers(0, 256, (6, *network.input_shape)).astype(np.uint8)
    c = np.argmax(network.forward(x), axis=1)
    ticks: list[int] = []
    auto = verify_local_robustness(
        path, x, c, epsilon=30.0, value_range=(0, 255), progress=ticks.append
    )
    complete = verify_local_robustness(
        path, x, c, epsilon=30.0, value_range=(0, 255), method="complete"
    )
    assert ticks == [1] * len(x)
    assert [r.index for r in auto] == list(range(len(x)))
    for a, b in zip(auto, complete, strict=True):
        assert {a.status, b.status} <= {"proven", "counterexample"}
        assert a.status == b.status
    assert "layers amlas read" in complete[0].detail  # maraboupy cannot parse Div
    assert {r.status for r in complete} == {"proven", "counterexample"}
    assert {r.method for r in auto} == {"ibp", "marabou"}  # Marabou settles what IBP cannot
    for r in auto + complete:
        if r.status == "counterexample":
            assert r.counterexample is not None
            assert np.all(np.abs(r.counterexample - x[r.index]) <= 30.0 + 1e-9)
            assert np.all((r.counterexample >= 0) & (r.counterexample <= 255))
            assert network.forward(r.counterexample[None]).argmax() == r.decided != c[r.index]
    assert capfd.readouterr().out == ""


def test_bound_propagation_on_an_mlp_is_sound_but_incomplete(torch_nets: dict[str, Path]) -> None:
    path = torch_nets["mlp"]
    network = load_network(path)
    x = np.random.default_rng(6).uniform(0, 255, (8, *network.input_shape))
    c = np.argmax(network.forward(x), axis=1)
    seen: set[tuple[str, str]] = set()
    for epsilon in (80.0, 200.0):
        ibp = verify_local_robustness(path, x, c, epsilon=epsilon, method="bound_propagation")
        exact = verify_local_robustness(path, x, c, epsilon=epsilon, method="complete")
        auto = verify_local_robustness(path, x, c, epsilon=epsilon)
        for a, b, both in zip(ibp, exact, auto, strict=True):
            seen.add((a.status, b.status))
            assert a.status in ("proven", "unknown", "counterexample")
            assert b.status in ("proven", "counterexample")
            if a.status != "unknown":
                assert a.status == b.status
            assert both.status == b.status
    # IBP proves some, leaves some to Marabou, which proves some and refutes others
    assert {("proven", "proven"), ("unknown", "proven"), ("unknown", "counterexample")} <= seen


# --- arguments and the log ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"norm": "l1"}, r"norm='l1' is not one of linf, l2"),
        ({"method": "complet"}, r"did you mean 'complete'\?"),
        ({"epsilon": 0.0}, r"epsilon=0.0 must be a finite number > 0"),
        ({"epsilon": float("nan")}, r"epsilon=nan"),
        ({"timeout_s": -1}, r"timeout_s=-1"),
        ({"value_range": (0.5, 1.0)}, r"sample 0 has values in \[0, 1\], outside value_range"),
        ({"value_range": (1.0, 0.0)}, r"low < high"),
        ({"mask": np.ones(3, dtype=bool)}, r"mask of shape \(3,\) does not fit"),
        ({"mask": np.ones(2)}, r"expected a bool array"),
        ({"offsets": np.zeros(3)}, r"offsets of shape \(3,\) must be 2 finite numbers"),
        ({"decisions": np.array([2])}, r"decisions\[0\]=2 is not a class index 0..1"),
        ({"decisions": np.array([0, 1])}, r"decisions have shape \(2,\)"),
        ({"inputs": np.zeros((1, 3))}, r"inputs have shape \(1, 3\); diff.onnx expects \(n, 2\)"),
        ({"inputs": np.array([["a", "b"]])}, r"inputs have dtype"),
    ],
)
def test_bad_arguments_say_what_was_expected(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = _diff_net(tmp_path / "diff.onnx")
    arguments: dict[str, Any] = {"inputs": X0, "decisions": np.array([0]), "epsilon": 0.1} | change
    with pytest.raises(FormalError, match=message):
        verify_local_robustness(
            path, method=arguments.pop("method", "bound_propagation"), **arguments
        )


def test_describe_encoding_states_the_property_as_queried(torch_nets: dict[str, Path]) -> None:
    network = load_network(torch_nets["cnn"])
    mask = np.zeros(network.input_shape, dtype=bool)
    mask[:3] = True
    described = describe_encoding(
        network,
        epsilon=2.0,
        norm="linf",
        value_range=(0, 255),
        mask=mask,
        offsets=None,
        method="auto",
        timeout_s=2.5,
    )
    assert described["variables"] == {
        "input_shape": [6, 6, 3],
        "elements": 108,
        "varied": 54,
        "outputs": 4,
    }
    assert (
        described["queries"]["negated_property"]
        == "exists x in box(x0): z_j(x) + o_j >= z_c(x) + o_c"
    )
    assert described["queries"]["marabou_timeout_s"] == 3
    assert "0.0 <= x_i <= 255.0" in described["region"]["formula"]
    assert described["offsets"] == [0.0, 0.0, 0.0, 0.0]
    tools = {t["name"]: t["version"] for t in described["tools"]}
    assert tools == {
        "interval bound propagation (amlas)": amlas.__version__,
        "Marabou": importlib.metadata.version("maraboupy"),
    }
    assert described["network"]["relus"] == 2 * 3 * 3
    assert [layer["kind"] for layer in described["network"]["layers"]] == [
        "permute",
        "scale",
        "conv",
        "relu",
        "affine",
    ]
    only_ibp = describe_encoding(network, epsilon=2.0, method="bound_propagation")
    assert "queries" not in only_ibp
    assert [t["name"] for t in only_ibp["tools"]] == ["interval bound propagation (amlas)"]
    json.dumps(described)  # JSON-ready


def test_results_serialise_and_the_api_is_stable(tmp_path: Path) -> None:
    path = _diff_net(tmp_path / "diff.onnx")
    [result] = verify_local_robustness(
        path, X0, np.array([0]), epsilon=0.6, method="bound_propagation"
    )
    assert isinstance(result, ProofResult)
    as_dict = result.to_dict()
    assert as_dict["status"] == "counterexample"
    assert isinstance(as_dict["counterexample"], list)
    assert (
        verify_local_robustness(path, np.zeros((0, 2)), np.zeros(0, dtype=int), epsilon=0.1) == []
    )
    assert set(amlas.checks.formal.__all__) == {
        "SUPPORTED_OPS",
        "FormalError",
        "Network",
        "ProofResult",
        "describe_encoding",
        "interval_bounds",
        "load_network",
        "margin_bounds",
        "verify_local_robustness",
    }
    assert math.isinf(margin_bounds(load_network(path), X0, X0, np.array([0]))[0, 0])
