"""PyTorch models behind the Model protocol (src/amlas/adapters/_torch.py)."""

from __future__ import annotations

import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from torch import nn

from amlas.adapters import Model, ModelError, TorchModel, load_model, torch_module

CLASSES = ("hand", "piece", "empty")


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 3)).eval()


def _inputs(n: int = 7) -> np.ndarray:
    return np.random.default_rng(1).uniform(0, 255, (n, 2, 2, 3)).astype(np.uint8)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project folder with model/net.py building the net and loading its state_dict."""
    (tmp_path / "model").mkdir()
    torch.save(_net().state_dict(), tmp_path / "model" / "weights.pt")
    (tmp_path / "model" / "__init__.py").write_text("")
    (tmp_path / "model" / "net.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path
            import torch
            from torch import nn

            def load():
                net = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 3))
                state = torch.load(Path(__file__).with_name("weights.pt"), weights_only=True)
                net.load_state_dict(state)
                return net

            def not_a_module():
                return 42
            """
        )
    )
    yield tmp_path
    for name in [m for m in sys.modules if m == "model" or m.startswith("model.")]:
        del sys.modules[name]


def test_callable_returns_the_module_and_softmax_gives_probabilities(project: Path) -> None:
    model = load_model(
        project / "model" / "weights.pt",
        "torch",
        callable="model.net:load",
        class_order=CLASSES,
        search_path=project,
    )
    assert isinstance(model, Model)
    assert model.classes == CLASSES
    assert model.has_proba
    x = _inputs()
    expected = _net()(torch.from_numpy(x.astype(np.float32))).detach().double().numpy()
    wrapped = torch_module(model)
    assert wrapped is not None
    np.testing.assert_allclose(wrapped.logits(x), expected, rtol=1e-6)
    proba = model.predict_proba(x)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba, torch.softmax(torch.from_numpy(expected), 1).numpy())
    assert list(model.predict(x)) == [CLASSES[i] for i in expected.argmax(axis=1)]


def test_torch_export_program(tmp_path: Path) -> None:
    net = _net(3)
    example = torch.zeros(2, 2, 2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(
            net, (example,), dynamic_shapes={"input": {0: torch.export.Dim("n", min=1)}}
        )
    torch.export.save(program, tmp_path / "net.pt2")
    model = load_model(tmp_path / "net.pt2", "torch", class_order=CLASSES)
    x = _inputs(5)
    expected = net(torch.from_numpy(x.astype(np.float32))).argmax(1).numpy()
    assert list(model.predict(x)) == [CLASSES[i] for i in expected]


def test_probability_outputs_are_used_as_given(tmp_path: Path) -> None:
    net = nn.Sequential(_net(), nn.Softmax(dim=1))
    model = TorchModel(net, CLASSES, "probabilities", "test")
    x = _inputs()
    proba = model.predict_proba(x)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    # logits of a probability model are log p: softmax of them gives p back
    np.testing.assert_allclose(torch.softmax(torch.from_numpy(model.logits(x)), 1), proba)
    out = model.logits_module()(torch.from_numpy(x.astype(np.float32)))
    np.testing.assert_allclose(out.detach().double().numpy(), model.logits(x), rtol=1e-5)


def test_onnx_export_matches_the_module(tmp_path: Path) -> None:
    model = TorchModel(_net(5), CLASSES, "logits", "test")
    x = _inputs(9)
    path = model.export_onnx(tmp_path / "net.onnx", x)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"x": x.astype(np.float32)})
    np.testing.assert_allclose(out, model.logits(x), rtol=1e-5, atol=1e-5)


def test_errors_are_model_errors_with_the_cause(project: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="set class_order"):
        load_model(None, "torch", callable="model.net:load", search_path=project)
    with pytest.raises(ModelError, match=r"returned a int; expected a torch.nn.Module"):
        load_model(
            None,
            "torch",
            callable="model.net:not_a_module",
            class_order=CLASSES,
            search_path=project,
        )
    with pytest.raises(ModelError, match=r"has no attribute 'missing'"):
        load_model(
            None, "torch", callable="model.net:missing", class_order=CLASSES, search_path=project
        )
    with pytest.raises(ModelError, match=r"torch program file not found"):
        load_model(tmp_path / "none.pt2", "torch", class_order=CLASSES)
    (tmp_path / "bad.pt2").write_bytes(b"not a program")
    with pytest.raises(ModelError, match=r"not a torch.export program \(.pt2 is a zip archive"):
        load_model(tmp_path / "bad.pt2", "torch", class_order=CLASSES)
    model = TorchModel(_net(), CLASSES, "logits", "net")
    with pytest.raises(ModelError, match=r"net: the torch module failed on input of shape"):
        model.predict_proba(np.zeros((2, 5), dtype=np.float32))
    two = TorchModel(nn.Sequential(nn.Flatten(), nn.Linear(12, 2)), CLASSES, "logits", "two")
    with pytest.raises(ModelError, match=r"returned shape \(2, 2\); expected \(2, 3\)"):
        two.predict_proba(_inputs(2))
