"""Loading models behind the Model protocol (src/amlas/adapters/_models.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import onnx
import pytest
import skops.io as sio
from numpy.typing import NDArray
from onnx import TensorProto, helper
from sklearn.linear_model import LogisticRegression

from amlas.adapters import Model, ModelError, load_model, predict_batched, read_table
from amlas.errors import UsageError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "breast-cancer-triage"


@pytest.fixture(scope="module")
def data() -> tuple[NDArray[np.float64], NDArray[np.str_]]:
    """Two separable-ish blobs, fixed seed."""
    rng = np.random.default_rng(7)
    x = np.vstack([rng.normal(-1, 1, (60, 3)), rng.normal(1, 1, (60, 3))])
    y = np.array(["neg"] * 60 + ["pos"] * 60)
    return x, y


@pytest.fixture(scope="module")
def classifier(data: tuple[NDArray[np.float64], NDArray[np.str_]]) -> LogisticRegression:
    x, y = data
    return LogisticRegression(random_state=0).fit(x, y)


@pytest.fixture
def joblib_file(tmp_path: Path, classifier: LogisticRegression) -> Path:
    path = tmp_path / "model.joblib"
    joblib.dump(classifier, path)
    return path


@pytest.fixture
def skops_file(tmp_path: Path, classifier: LogisticRegression) -> Path:
    path = tmp_path / "model.skops"
    sio.dump(classifier, path)
    return path


def _linear_onnx(path: Path, weights: NDArray[np.float64], bias: NDArray[np.float64]) -> Path:
    """softmax(X @ W + b) as an ONNX graph with one float input and one output."""
    n_features, n_classes = weights.shape
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["X", "W"], ["logits0"]),
            helper.make_node("Add", ["logits0", "B"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "linear",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", n_features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", n_classes])],
        initializer=[
            helper.make_tensor(
                "W", TensorProto.FLOAT, weights.shape, weights.astype(np.float32).ravel()
            ),
            helper.make_tensor("B", TensorProto.FLOAT, bias.shape, bias.astype(np.float32)),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def _onnx_for(classifier: LogisticRegression, path: Path) -> Path:
    """The binary logistic regression as a 2-class softmax: logits (0, w.x + b)."""
    w = classifier.coef_[0]
    weights = np.stack([np.zeros_like(w), w], axis=1)
    bias = np.array([0.0, classifier.intercept_[0]])
    return _linear_onnx(path, weights, bias)


def _contract(model: Model, x: NDArray[np.float64], classes: tuple[str, ...]) -> None:
    """What every adapter promises (the Model protocol)."""
    assert isinstance(model, Model)
    assert model.classes == classes
    proba = model.predict_proba(x)
    assert proba.dtype == np.float64
    assert proba.shape == (len(x), len(classes))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    labels = model.predict(x)
    assert labels.dtype.kind == "U"
    assert set(labels.tolist()) <= set(classes)


# --- sklearn, skops, onnx --------------------------------------------------------------


def test_joblib_model(
    joblib_file: Path,
    classifier: LogisticRegression,
    data: tuple[NDArray[np.float64], NDArray[np.str_]],
) -> None:
    x, _ = data
    model = load_model(joblib_file, "sklearn_joblib")
    _contract(model, x, ("neg", "pos"))
    assert model.has_proba
    np.testing.assert_array_equal(model.predict_proba(x), classifier.predict_proba(x))
    assert model.predict(x).tolist() == classifier.predict(x).tolist()


def test_skops_model(
    skops_file: Path,
    classifier: LogisticRegression,
    data: tuple[NDArray[np.float64], NDArray[np.str_]],
) -> None:
    x, _ = data
    model = load_model(skops_file, "skops", class_order=["neg", "pos"])
    _contract(model, x, ("neg", "pos"))
    np.testing.assert_array_equal(model.predict_proba(x), classifier.predict_proba(x))


def test_class_order_reorders_probability_columns(
    joblib_file: Path,
    classifier: LogisticRegression,
    data: tuple[NDArray[np.float64], NDArray[np.str_]],
) -> None:
    x, _ = data
    model = load_model(joblib_file, "sklearn_joblib", class_order=["pos", "neg"])
    _contract(model, x, ("pos", "neg"))
    np.testing.assert_array_equal(model.predict_proba(x), classifier.predict_proba(x)[:, ::-1])
    assert model.predict(x).tolist() == classifier.predict(x).tolist()


def test_integer_classes_read_as_text(
    tmp_path: Path, data: tuple[NDArray[np.float64], NDArray[np.str_]]
) -> None:
    x, y = data
    fitted = LogisticRegression().fit(x, (y == "pos").astype(float))  # classes_ [0.0, 1.0]
    joblib.dump(fitted, tmp_path / "m.joblib")
    model = load_model(tmp_path / "m.joblib", "sklearn_joblib")
    assert model.classes == ("0", "1")
    assert set(model.predict(x).tolist()) == {"0", "1"}


def test_onnx_agrees_with_sklearn(
    tmp_path: Path,
    classifier: LogisticRegression,
    data: tuple[NDArray[np.float64], NDArray[np.str_]],
) -> None:
    x, _ = data
    path = _onnx_for(classifier, tmp_path / "model.onnx")
    model = load_model(path, "onnx", class_order=["neg", "pos"])
    _contract(model, x, ("neg", "pos"))
    np.testing.assert_allclose(model.predict_proba(x), classifier.predict_proba(x), atol=1e-5)
    assert model.predict(x).tolist() == classifier.predict(x).tolist()


def test_onnx_without_class_order_is_refused(
    tmp_path: Path, classifier: LogisticRegression
) -> None:
    path = _onnx_for(classifier, tmp_path / "model.onnx")
    with pytest.raises(ModelError, match="does not name its classes; set class_order"):
        load_model(path, "onnx")


def test_onnx_output_width_must_match_classes(
    tmp_path: Path,
    classifier: LogisticRegression,
    data: tuple[NDArray[np.float64], NDArray[np.str_]],
) -> None:
    x, _ = data
    path = _onnx_for(classifier, tmp_path / "model.onnx")
    model = load_model(path, "onnx", class_order=["a", "b", "c"])
    with pytest.raises(ModelError, match=r"returned shape \(120, 2\); expected \(120, 3\)"):
        model.predict_proba(x)


def _zipmap_onnx(path: Path, classifier: LogisticRegression, *, proba: bool = True) -> Path:
    """The classifier as sklearn-onnx exports it: an int64 label output and a ZipMap of
    ``{class: probability}`` per sample (or the label output only)."""
    w = classifier.coef_[0]
    weights = np.stack([np.zeros_like(w), w], axis=1).astype(np.float32)
    bias = np.array([0.0, classifier.intercept_[0]], dtype=np.float32)
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["logits0"]),
        helper.make_node("Add", ["logits0", "B"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    outputs = [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])]
    if proba:
        nodes.append(
            helper.make_node(
                "ZipMap",
                ["probabilities"],
                ["output_probability"],
                domain="ai.onnx.ml",
                classlabels_strings=[str(c) for c in classifier.classes_],
            )
        )
        outputs.append(
            helper.make_value_info(
                "output_probability",
                helper.make_sequence_type_proto(
                    helper.make_map_type_proto(
                        TensorProto.STRING, helper.make_tensor_type_proto(TensorProto.FLOAT, [])
                    )
                ),
            )
        )
    graph = helper.make_graph(
        nodes,
        "zipmap",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", weights.shape[0]])],
        outputs,
        initializer=[
            helper.make_tensor("W", TensorProto.FLOAT, weights.shape, weights.ravel()),
            helper.make_tensor("B", TensorProto.FLOAT, bias.shape, bias),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 1)]
    )
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def test_onnx_zipmap_reads_classes_from_the_graph(
    tmp_path: Path,
    classifier: LogisticRegression,
    data: tuple[NDArray[np.float64], NDArray[np.str_]],
) -> None:
    x, _ = data
    path = _zipmap_onnx(tmp_path / "zipmap.onnx", classifier)
    model = load_model(path, "onnx")
    _contract(model, x, ("neg", "pos"))
    np.testing.assert_allclose(model.predict_proba(x), classifier.predict_proba(x), atol=1e-5)
    reordered = load_model(path, "onnx", class_order=["pos", "neg"])
    np.testing.assert_allclose(
        reordered.predict_proba(x), classifier.predict_proba(x)[:, ::-1], atol=1e-5
    )
    with pytest.raises(ModelError, match=r"class_order \['a', 'b'\] does not match"):
        load_model(path, "onnx", class_order=["a", "b"])


def test_onnx_label_output_only(
    tmp_path: Path,
    classifier: LogisticRegression,
    data: tuple[NDArray[np.float64], NDArray[np.str_]],
) -> None:
    x, _ = data
    path = _zipmap_onnx(tmp_path / "labels.onnx", classifier, proba=False)
    model = load_model(path, "onnx", class_order=["neg", "pos"])
    assert not model.has_proba
    with pytest.raises(NotImplementedError):
        model.predict_proba(x)
    # integer labels that are not class names index into class_order
    assert model.predict(x).tolist() == classifier.predict(x).tolist()


def test_example_model_loads_and_classifies() -> None:
    table = read_table(EXAMPLE / "data" / "verification.csv", "csv")
    features = table.names[2:]
    assert len(features) == 30
    x = table.numeric(features)
    model = load_model(
        EXAMPLE / "model" / "model.skops", "skops", class_order=["benign", "malignant"]
    )
    proba = model.predict_proba(x)
    assert proba.shape == (114, 2)
    predicted = np.array(model.classes)[proba.argmax(axis=1)]
    accuracy = float(np.mean(predicted == table.text("diagnosis")))
    assert accuracy > 0.9


# --- python_callable -------------------------------------------------------------------


@pytest.fixture
def project_root(tmp_path: Path, joblib_file: Path) -> Iterator[Path]:
    """A project folder holding a module ``amlas_test_loader_<n>`` (unique per test)."""
    name = f"amlas_test_loader_{abs(hash(str(tmp_path)))}"
    (tmp_path / f"{name}.py").write_text(
        "import joblib\n"
        "import numpy as np\n"
        "\n"
        f"def estimator():\n    return joblib.load({str(joblib_file)!r})\n"
        "\n"
        "def function():\n"
        "    def proba(x):\n"
        "        p = 1 / (1 + np.exp(-np.asarray(x).sum(axis=1)))\n"
        "        return np.stack([1 - p, p], axis=1)\n"
        "    return proba\n"
        "\n"
        "def labels_only():\n"
        "    class M:\n"
        "        def predict(self, x):\n"
        "            return np.where(np.asarray(x)[:, 0] > 0, 'pos', 'neg')\n"
        "    return M()\n"
        "\n"
        "def broken():\n    raise RuntimeError('weights missing\\nsecond line')\n"
        "\n"
        "def nothing():\n    return 42\n"
        "\n"
        "not_callable = 3\n"
    )
    yield tmp_path
    sys.modules.pop(name, None)


def _spec(root: Path, function: str) -> str:
    return f"amlas_test_loader_{abs(hash(str(root)))}:{function}"


def test_callable_returning_an_estimator(
    project_root: Path,
    classifier: LogisticRegression,
    data: tuple[NDArray[np.float64], NDArray[np.str_]],
) -> None:
    x, _ = data
    before = list(sys.path)
    model = load_model(
        None, "python_callable", callable=_spec(project_root, "estimator"), search_path=project_root
    )
    assert sys.path == before
    _contract(model, x, ("neg", "pos"))
    np.testing.assert_array_equal(model.predict_proba(x), classifier.predict_proba(x))


def test_callable_returning_a_function(
    project_root: Path, data: tuple[NDArray[np.float64], NDArray[np.str_]]
) -> None:
    x, _ = data
    spec = _spec(project_root, "function")
    model = load_model(
        None, "python_callable", callable=spec, class_order=["neg", "pos"], search_path=project_root
    )
    _contract(model, x, ("neg", "pos"))
    expected = np.where(x.sum(axis=1) > 0, "pos", "neg")
    assert model.predict(x).tolist() == expected.tolist()


def test_callable_with_labels_only(
    project_root: Path, data: tuple[NDArray[np.float64], NDArray[np.str_]]
) -> None:
    x, _ = data
    spec = _spec(project_root, "labels_only")
    model = load_model(
        None, "python_callable", callable=spec, class_order=["neg", "pos"], search_path=project_root
    )
    assert not model.has_proba
    with pytest.raises(NotImplementedError):
        model.predict_proba(x)
    assert model.predict(x[:2]).tolist() == ["neg", "neg"]
    with pytest.raises(ModelError, match="no probabilities"):
        predict_batched(model, x)
    assert len(predict_batched(model, x, proba=False, batch_size=7)) == len(x)


@pytest.mark.parametrize(
    ("function", "class_order", "message"),
    [
        ("broken", ["neg", "pos"], r":broken'.*raised RuntimeError: weights missing$"),
        ("nothing", ["neg", "pos"], r"returned a int; expected an object with predict_proba"),
        ("not_callable", [], r"'not_callable' is a int; expected a function"),
        ("missing", [], r"has no attribute 'missing'"),
        ("function", [], r"does not name its classes; set class_order"),
    ],
)
def test_bad_callable(
    project_root: Path, function: str, class_order: list[str], message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        load_model(
            None,
            "python_callable",
            callable=_spec(project_root, function),
            class_order=class_order,
            search_path=project_root,
        )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (None, r"callable=None; expected 'module:function'"),
        ("no_colon", r"callable='no_colon'; expected 'module:function'"),
        ("a:b:c", r"expected 'module:function'"),
        (
            "amlas_no_such_module_xyz:f",
            r"cannot import module 'amlas_no_such_module_xyz': "
            r"ModuleNotFoundError: No module named",
        ),
    ],
)
def test_bad_callable_spec(tmp_path: Path, spec: str | None, message: str) -> None:
    before = list(sys.path)
    with pytest.raises(ModelError, match=message):
        load_model(None, "python_callable", callable=spec, search_path=tmp_path)
    assert sys.path == before


# --- errors ----------------------------------------------------------------------------


def test_class_order_mismatch(joblib_file: Path) -> None:
    with pytest.raises(
        ModelError,
        match=r"class_order \['neg', 'positive'\] does not match the model's classes "
        r"\['neg', 'pos'\]",
    ):
        load_model(joblib_file, "sklearn_joblib", class_order=["neg", "positive"])
    with pytest.raises(ModelError, match="does not match"):
        load_model(joblib_file, "sklearn_joblib", class_order=["neg", "pos", "other"])


def test_duplicate_class_order(joblib_file: Path) -> None:
    with pytest.raises(ModelError, match="names a class twice"):
        load_model(joblib_file, "sklearn_joblib", class_order=["neg", "neg"])


@pytest.mark.parametrize("format", ["sklearn_joblib", "skops", "onnx"])
def test_missing_file(tmp_path: Path, format: str) -> None:
    path = tmp_path / "gone.bin"
    with pytest.raises(ModelError, match=r"gone\.bin: model file not found"):
        load_model(path, format)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("format", "message"),
    [
        ("sklearn_joblib", "cannot load with joblib"),
        ("skops", "not a skops file"),
        ("onnx", "cannot load as ONNX"),
    ],
)
def test_corrupt_file(tmp_path: Path, format: str, message: str) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"this is not a model")
    with pytest.raises(ModelError, match=message) as caught:
        load_model(path, format)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)


def test_skops_with_untrusted_types_is_refused(tmp_path: Path) -> None:
    import operator

    from sklearn.preprocessing import FunctionTransformer

    path = tmp_path / "m.skops"
    sio.dump(FunctionTransformer(operator.neg), path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted
    with pytest.raises(
        ModelError, match=r"holds types skops does not trust by default: _operator\.neg"
    ):
        load_model(path, "skops")


def test_model_errors_wrap_prediction_failures(
    joblib_file: Path, data: tuple[NDArray[np.float64], NDArray[np.str_]]
) -> None:
    x, _ = data
    model = load_model(joblib_file, "sklearn_joblib")
    with pytest.raises(ModelError, match=r"predict_proba failed: ValueError: X has 2 features"):
        model.predict_proba(x[:, :2])


def test_missing_extras_give_install_hints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, classifier: LogisticRegression
) -> None:
    path = tmp_path / "m.bin"
    path.write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "joblib", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ModelError, match=r"pip install 'amlas\[sklearn\]'"):
        load_model(path, "sklearn_joblib")
    with pytest.raises(ModelError, match=r"pip install 'amlas\[sklearn\]'"):
        load_model(path, "skops")
    with pytest.raises(ModelError, match=r"pip install 'amlas\[onnx\]'"):
        load_model(path, "onnx")


def test_model_error_is_a_usage_error() -> None:
    assert issubclass(ModelError, UsageError)


# --- predict_batched -------------------------------------------------------------------


def test_predict_batched_equals_unbatched(
    joblib_file: Path, data: tuple[NDArray[np.float64], NDArray[np.str_]]
) -> None:
    x, _ = data
    model = load_model(joblib_file, "sklearn_joblib")
    done: list[int] = []
    batched = predict_batched(model, x, batch_size=50, progress=done.append)
    np.testing.assert_array_equal(batched, model.predict_proba(x))
    assert done == [50, 50, 20]
    labels = predict_batched(model, x, batch_size=33, proba=False)
    assert labels.tolist() == model.predict(x).tolist()
    assert predict_batched(model, x[:0]).shape == (0, 2)
    with pytest.raises(UsageError, match="batch_size=0"):
        predict_batched(model, x, batch_size=0)


def test_same_module_name_in_two_projects_loads_each_projects_own_model(
    tmp_path: Path,
) -> None:
    """A model module imported for one project never answers for another."""
    answers = {}
    for name, proba in (("first", "[[0.9, 0.1]]"), ("second", "[[0.2, 0.8]]")):
        root = tmp_path / name
        root.mkdir()
        (root / "shared_model_name.py").write_text(
            "import numpy as np\n"
            "class M:\n"
            "    classes_ = ['a', 'b']\n"
            f"    def predict_proba(self, x): return np.array({proba} * len(x))\n"
            "def load(): return M()\n",
            encoding="utf-8",
        )
        model = load_model(
            None, "python_callable", callable="shared_model_name:load", search_path=root
        )
        answers[name] = model.predict(np.zeros((1, 1))).tolist()
    assert answers == {"first": ["a"], "second": ["b"]}
    sys.modules.pop("shared_model_name", None)


class _Half:
    classes = ("a", "b")
    has_proba = True

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.tile([0.5, 0.5], (len(x), 1))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.array(["a"] * len(x))


def test_a_guarded_model_copies_and_pickles_like_the_model_it_wraps() -> None:
    import copy
    import pickle

    from amlas.adapters import GuardedModel

    guarded = GuardedModel(_Half(), timeout_s=5)
    for clone in (copy.deepcopy(guarded), pickle.loads(pickle.dumps(guarded))):
        assert clone.predict(np.zeros((2, 1))).tolist() == ["a", "a"]


def test_the_time_limit_leaves_the_callers_alarm_and_handler_alone() -> None:
    import signal
    import time

    from amlas.adapters import GuardedModel

    fired: list[int] = []

    def handler(signum: int, frame: object) -> None:
        fired.append(signum)

    before = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        GuardedModel(_Half(), timeout_s=5).predict_proba(np.zeros((3, 1)))
        assert signal.getsignal(signal.SIGALRM) is handler
        deadline = time.monotonic() + 5
        while not fired and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fired == [signal.SIGALRM]
        GuardedModel(_Half(), timeout_s=5).predict_proba(np.zeros((3, 1)))
        assert signal.getitimer(signal.ITIMER_REAL)[0] == 0.0  # none left armed
        assert signal.getsignal(signal.SIGALRM) is handler
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
