"""The ``onnx`` model format: an :class:`onnxruntime.InferenceSession` on the CPU.

The input is the model's first input (``X`` is cast to its element type, float32 for
``tensor(float)``); the probabilities are the float output of shape ``(n, k)``,
preferring one whose name starts with ``prob``, or a sequence of maps (sklearn-onnx's
ZipMap) turned into an ``(n, k)`` array in class order. A model with only a label output
has ``has_proba = False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from amlas.adapters._model import Model, ModelError, ModelOptions, require_file
from amlas.adapters._outputs import (
    argmax,
    call,
    check_proba,
    class_names,
    one_line,
    resolve_classes,
)
from amlas.errors import install_hint

__all__ = ["FORMAT", "OnnxFormat", "OnnxModel"]

_ONNX_HINT = install_hint("onnx")

_ONNX_DTYPES: dict[str, type[np.generic]] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(uint8)": np.uint8,
}


class OnnxModel:
    """An ONNX graph run by onnxruntime on the CPU (see the module doc)."""

    def __init__(self, path: Path, order: tuple[str, ...]) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise ModelError(
                f"{path}: running an ONNX model needs onnxruntime; {_ONNX_HINT}", code="R001"
            ) from None
        self._source = str(path)
        self.onnx_path = path
        """The graph's file, which the formal tools read when it is a plain network."""
        try:
            self._session = onnxruntime.InferenceSession(
                str(path), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime's own exception types (InvalidProtobuf, Fail)
            raise ModelError(f"{path}: cannot load as ONNX: {one_line(exc)}") from None
        first = self._session.get_inputs()[0]
        self._input = first.name
        self._input_dtype = _ONNX_DTYPES.get(first.type, np.float32)
        outputs = self._session.get_outputs()
        self._proba_output, self._zipmap = _choose_proba_output(outputs)
        self._label_output = next(
            (
                o.name
                for o in outputs
                if o.name != self._proba_output
                and o.type in ("tensor(int64)", "tensor(string)", "tensor(int32)")
            ),
            None,
        )
        self.has_proba: bool = self._proba_output is not None
        if not self.has_proba and self._label_output is None:
            found = ", ".join(f"{o.name}: {o.type} {o.shape}" for o in outputs)
            raise ModelError(
                f"{path}: no probability or label output among {found}; expected a float "
                "tensor of shape (n, classes), a ZipMap, or an int64/string label tensor"
            )
        # A ZipMap names its classes, so a class_order that disagrees is caught now, not
        # at the first prediction; other graphs are read only when class_order is absent.
        own = _onnx_class_labels(path) if self._zipmap or not order else None
        self.classes, self._permutation = resolve_classes(own, order, self._source)

    def _run(self, name: str, x: NDArray[np.generic]) -> Any:
        inputs = {self._input: np.asarray(x, dtype=self._input_dtype)}
        return call(self._source, "onnxruntime", lambda f: self._session.run([name], f)[0], inputs)

    def predict_proba(self, x: NDArray[np.generic]) -> NDArray[np.float64]:
        if self._proba_output is None:
            raise NotImplementedError(f"{self._source}: the model has no probability output")
        raw = self._run(self._proba_output, x)
        if self._zipmap:
            # columns are looked up by label, so they come out in ``classes`` order
            return check_proba(self._from_zipmap(raw), len(x), self.classes, self._source)
        out = check_proba(raw, len(x), self.classes, self._source)
        return out if self._permutation is None else out[:, self._permutation]

    def _from_zipmap(self, rows: list[dict[Any, float]]) -> NDArray[np.float64]:
        """ZipMap output (one ``{label: p}`` dict per sample) in ``classes`` order."""
        if not rows:
            return np.zeros((0, len(self.classes)))
        keys = {str(class_names([key])[0]): key for key in rows[0]}
        if set(keys) != set(self.classes):
            raise ModelError(
                f"{self._source}: the ZipMap output's labels {sorted(keys)} do not match "
                f"the classes {list(self.classes)}"
            )
        # onnxruntime hands ZipMap results over as Python dicts, so a Python loop is
        # unavoidable here; export without ZipMap (zipmap=False) for large data.
        wanted = [keys[c] for c in self.classes]
        return np.array([[row[key] for key in wanted] for row in rows], dtype=np.float64)

    def predict(self, x: NDArray[np.generic]) -> NDArray[np.str_]:
        if self.has_proba:
            return argmax(self.predict_proba(x), self.classes)
        assert self._label_output is not None  # checked in __init__
        labels = np.asarray(self._run(self._label_output, x)).reshape(-1)
        names = class_names(labels)
        if set(names.tolist()) <= set(self.classes):
            return names
        # integer labels that are not class names are read as indices into ``classes``
        if labels.dtype.kind in "iu" and labels.min() >= 0 and labels.max() < len(self.classes):
            picked: NDArray[np.str_] = np.asarray(self.classes, dtype=np.str_)[labels]
            return picked
        unknown = sorted(set(names.tolist()) - set(self.classes))
        raise ModelError(
            f"{self._source}: label output holds {unknown[:5]}; expected class names "
            f"{list(self.classes)} or their indices",
            code="R021",
        )


def _choose_proba_output(outputs: Sequence[Any]) -> tuple[str | None, bool]:
    """The probability output's name and whether it is a ZipMap (sequence of maps)."""
    tensors = [
        o
        for o in outputs
        if o.type in ("tensor(float)", "tensor(double)", "tensor(float16)")
        and (not isinstance(o.shape, list) or len(o.shape) == 2)
    ]
    tensors.sort(key=lambda o: not str(o.name).lower().startswith("prob"))
    if tensors:
        return str(tensors[0].name), False
    for o in outputs:
        if str(o.type).startswith("seq(map("):
            return str(o.name), True
    return None, False


def _onnx_class_labels(path: Path) -> tuple[str, ...] | None:
    """Class labels recorded in the graph (sklearn-onnx's ZipMap or classifier node)."""
    try:
        import onnx
    except ImportError:
        return None
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # onnxruntime loaded it; without labels the caller asks for class_order
        return None
    for node in graph.node:
        if node.op_type not in (
            "ZipMap",
            "LinearClassifier",
            "TreeEnsembleClassifier",
            "SVMClassifier",
        ):
            continue
        for attribute in node.attribute:
            if attribute.name == "classlabels_strings" and attribute.strings:
                return tuple(s.decode("utf-8") for s in attribute.strings)
            if attribute.name in ("classlabels_int64s", "classlabels_ints") and attribute.ints:
                return tuple(str(i) for i in attribute.ints)
    return None


class OnnxFormat:
    """``format: onnx``."""

    name = "onnx"
    differentiable = False
    distributions: tuple[str, ...] = ("onnxruntime",)

    def load(self, path: Path | None, options: ModelOptions) -> Model:
        return OnnxModel(require_file(path, self.name), options.class_order)


FORMAT = OnnxFormat()
