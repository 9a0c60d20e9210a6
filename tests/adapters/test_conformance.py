"""Every built-in model format and dataset reader passes amlas.testing's conformance checks
(the same checks a third-party plug-in runs on itself)."""

from __future__ import annotations

import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from amlas.adapters import (
    ModelError,
    ModelOptions,
    ReaderOptions,
    dataset_reader,
    dataset_readers,
    load_model,
    model_format,
    model_formats,
    pack_folder,
)
from amlas.plugins import registry
from amlas.testing import FakeModel, FakeModelFormat, check_model_adapter, check_reader

Built = tuple[Path | None, ModelOptions]


def _x() -> NDArray[np.float64]:
    return np.random.default_rng(7).normal(0, 1, (12, 3))


def _fitted() -> object:
    from sklearn.linear_model import LogisticRegression

    x = _x()
    y = np.array(["neg", "pos"] * 6)
    return LogisticRegression(random_state=0).fit(x, y)


def _joblib(tmp: Path) -> Built:
    import joblib

    joblib.dump(_fitted(), tmp / "model.joblib")
    return tmp / "model.joblib", ModelOptions()


def _skops(tmp: Path) -> Built:
    import skops.io as sio

    sio.dump(_fitted(), tmp / "model.skops")
    return tmp / "model.skops", ModelOptions(class_order=("pos", "neg"))


def _onnx(tmp: Path) -> Built:
    import onnx
    from onnx import TensorProto, helper

    weights = np.array([[0.5, -0.5], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["X", "W"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "linear",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2])],
        initializer=[helper.make_tensor("W", TensorProto.FLOAT, weights.shape, weights.ravel())],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, tmp / "model.onnx")
    return tmp / "model.onnx", ModelOptions(class_order=("neg", "pos"))


def _torch(tmp: Path) -> Built:
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.export.export(
            net, (torch.zeros(2, 3),), dynamic_shapes={"input": {0: torch.export.Dim("n", min=1)}}
        )
    torch.export.save(program, tmp / "net.pt2")
    return tmp / "net.pt2", ModelOptions(class_order=("neg", "pos"))


def _python_callable(tmp: Path) -> Built:
    (tmp / "conformance_model.py").write_text(
        textwrap.dedent(
            """
            import numpy as np

            def load():
                return lambda x: np.tile([0.25, 0.75], (len(x), 1))
            """
        ),
        "utf-8",
    )
    options = ModelOptions(
        callable="conformance_model:load", class_order=("neg", "pos"), search_path=tmp
    )
    return None, options


def _python_detector(tmp: Path) -> Built:
    (tmp / "conformance_model.py").write_text(
        textwrap.dedent(
            """
            import numpy as np

            class Corners:
                classes = ("thing",)

                def detect(self, x):
                    n = len(x)
                    boxes = np.tile([1.0, 2.0, 5.0, 9.0], (n, 1)) + np.arange(n)[:, None]
                    return np.arange(n), np.zeros(n, int), boxes, np.full(n, 0.5)

            def load(path):
                return Corners()
            """
        ),
        "utf-8",
    )
    (tmp / "weights.bin").write_bytes(b"weights")
    options = ModelOptions(callable="conformance_model:load", search_path=tmp)
    return tmp / "weights.bin", options


MODEL_BUILDERS: dict[str, Callable[[Path], Built]] = {
    "onnx": _onnx,
    "python_callable": _python_callable,
    "python_detector": _python_detector,
    "sklearn_joblib": _joblib,
    "skops": _skops,
    "torch": _torch,
}


@pytest.fixture
def clean_modules() -> Iterator[None]:
    yield
    sys.modules.pop("conformance_model", None)


def test_every_built_in_model_format_is_covered() -> None:
    assert set(MODEL_BUILDERS) == set(model_formats())


@pytest.mark.usefixtures("clean_modules")
@pytest.mark.parametrize("name", sorted(MODEL_BUILDERS))
def test_built_in_model_formats_conform(name: str, tmp_path: Path) -> None:
    path, options = MODEL_BUILDERS[name](tmp_path)
    plugin = model_format(name)
    assert plugin.name == name
    check_model_adapter(plugin, path, options, _x())


def test_model_formats_name_the_distributions_records_cite() -> None:
    cited = {name: model_format(name).distributions for name in model_formats()}
    assert cited["onnx"] == ("onnxruntime",)
    assert cited["torch"] == ("torch",)
    assert set(cited["skops"]) == set(cited["sklearn_joblib"]) == {"scikit-learn", "skops"}
    assert [n for n in model_formats() if model_format(n).differentiable] == ["torch"]


def test_fake_model_conforms_and_keeps_its_latency() -> None:
    slept: list[float] = []
    model = FakeModel(("a", "b"), [0.2, 0.8], latency_s=0.5, sleep=slept.append)
    assert model.predict(np.zeros((3, 1))).tolist() == ["b", "b", "b"]
    assert slept == [0.5]
    check_model_adapter(FakeModelFormat(("a", "b")), None, ModelOptions(), np.zeros((4, 2)))


def test_a_format_registered_in_process_is_loaded_by_load_model(tmp_path: Path) -> None:
    models = registry("amlas.models")
    models.register("fake-fixed", FakeModelFormat(("x", "y"), [1.0, 0.0], name="fake-fixed"))
    try:
        model = load_model(None, "fake-fixed", class_order=["y", "x"])
        assert model.classes == ("y", "x")
        assert model.predict_proba(np.zeros((2, 1))).tolist() == [[1.0, 0.0], [1.0, 0.0]]
    finally:
        models.unregister("fake-fixed")
    with pytest.raises(ModelError, match="unknown model format 'fake-fixed'"):
        load_model(None, "fake-fixed")


def test_a_broken_adapter_fails_the_check() -> None:
    class Wrong(FakeModelFormat):
        def load(self, path: Path | None, options: ModelOptions) -> FakeModel:
            model = FakeModel(("a", "b"), [0.6, 0.6])  # rows sum to 1.2
            return model

    with pytest.raises(AssertionError, match="sum to 1"):
        check_model_adapter(Wrong(), None, ModelOptions(), np.zeros((3, 1)))


# -- readers ------------------------------------------------------------------------------


def _columns() -> dict[str, list[object]]:
    return {"id": ["a-1", "a-2", "a-3"], "size": [1.5, 2.0, None], "label": ["x", "y", "x"]}


def _csv(tmp: Path) -> tuple[Path, ReaderOptions, bytes | None]:
    path = tmp / "data.csv"
    path.write_text("id,size,label\na-1,1.5,x\na-2,2.0,y\na-3,,x\n", "utf-8")
    return path, ReaderOptions(), None


def _parquet(tmp: Path) -> tuple[Path, ReaderOptions, bytes | None]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp / "data.parquet"
    pq.write_table(pa.table(_columns()), path)
    return path, ReaderOptions(), None


def _npz(tmp: Path) -> tuple[Path, ReaderOptions, bytes | None]:
    path = tmp / "data.npz"
    np.savez(path, label=np.array(["x", "y", "x"]), image=np.zeros((3, 2, 2, 1), np.uint8))
    return path, ReaderOptions(), None


def _image_folder(tmp: Path) -> tuple[Path, ReaderOptions, bytes | None]:
    from PIL import Image

    folder = tmp / "images"
    folder.mkdir()
    for i in range(3):
        Image.new("L", (4, 3), color=i * 60).save(folder / f"{i}.png")
    (folder / "meta.csv").write_text("file,label\n0.png,x\n1.png,y\n2.png,x\n", "utf-8")
    options = ReaderOptions(metadata_table=folder / "meta.csv")
    return folder, options, pack_folder(folder)


READER_BUILDERS = {"csv": _csv, "image_folder": _image_folder, "npz": _npz, "parquet": _parquet}


def test_every_built_in_reader_is_covered() -> None:
    assert set(READER_BUILDERS) == set(dataset_readers())


@pytest.mark.parametrize("name", sorted(READER_BUILDERS))
def test_built_in_readers_conform(name: str, tmp_path: Path) -> None:
    path, options, data = READER_BUILDERS[name](tmp_path)
    reader = dataset_reader(name)
    assert reader.name == name
    table = check_reader(reader, path, options, data=data)
    assert len(table) == 3


def test_check_reader_finds_pieces_that_differ_from_the_whole(tmp_path: Path) -> None:
    """A reader whose ``iter_read`` loses a row is caught by the conformance check."""
    from amlas.adapters import chunk_reader

    path, options, data = _csv(tmp_path)
    csv_reader = chunk_reader("csv")
    assert csv_reader is not None

    class Lossy:
        name, suffixes, distributions = "lossy", (".csv",), ()

        def read(self, *args: Any, **kwargs: Any) -> Any:
            return csv_reader.read(*args, **kwargs)

        def iter_read(self, *args: Any, **kwargs: Any) -> Any:
            pieces = list(csv_reader.iter_read(*args, **kwargs))
            return pieces[:-1]

    with pytest.raises(AssertionError, match=r"iter_read\(rows=2\) from the path gives"):
        check_reader(Lossy(), path, options, data=data)  # type: ignore[arg-type]
