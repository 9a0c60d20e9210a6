"""PyTorch models behind the :class:`~amlas.adapters.Model` protocol (the ``torch`` extra).

Two ways to declare a torch model in [V]:

``format: torch`` with ``callable: module:function``
    The function (imported with the project root first on ``sys.path``, like a
    ``python_callable``) builds the network and loads its weights, typically from the
    file at ``location`` with ``torch.load(path, weights_only=True)``, and returns the
    :class:`torch.nn.Module`. The architecture stays reviewable code in the project, and
    the weights file plus that code are the model's hashed inputs.
``format: torch`` without ``callable``
    ``location`` is a program saved with :func:`torch.export.save` (``.pt2``), loaded with
    :func:`torch.export.load` and run as its ``.module()``. Export it with a dynamic batch
    dimension (``dynamic_shapes``), or it runs on one batch size only.

The module is called on the dataset's input array as float32, unchanged in layout (an
image folder gives ``(n, h, w, c)`` with values 0..255): the module does its own scaling
and permutation. ``outputs`` in [V] says whether it returns logits (the default; a
softmax gives the probabilities) or probabilities. Inference runs in eval mode under
:func:`torch.inference_mode` on the CPU.

Beyond the protocol, a :class:`TorchModel` hands the checks what gradient attacks, fault
injection and formal verification need: :meth:`TorchModel.logits_module` (a module whose
output is logits, ``log p`` for a probability model), and :meth:`TorchModel.export_onnx`
(the same network as ONNX, for Marabou and interval bound propagation).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from amlas.adapters._callable import call_loader
from amlas.adapters._model import ModelError, ModelOptions
from amlas.errors import install_hint

if TYPE_CHECKING:
    import torch

__all__ = ["FORMAT", "TorchFormat", "TorchModel", "load_torch_model", "torch_module"]

TORCH_HINT = install_hint("torch")
Outputs = Literal["logits", "probabilities"]


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ModelError(f"a torch model needs PyTorch; {TORCH_HINT}", code="R001") from None
    return torch


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


class TorchModel:
    """A :class:`torch.nn.Module` classifier (see the module doc)."""

    has_proba = True

    def __init__(
        self, module: torch.nn.Module, classes: tuple[str, ...], outputs: Outputs, source: str
    ) -> None:
        # a torch.export program runs as traced and refuses .eval(); any other module is
        # put in eval mode (dropout off, batch-norm running statistics)
        with contextlib.suppress(NotImplementedError):
            module.eval()
        self.module = module
        self.classes = classes
        self.outputs: Outputs = outputs
        self.source = source

    def _forward(self, x: NDArray[np.generic]) -> NDArray[np.float64]:
        torch = _torch()
        batch = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        try:
            with torch.inference_mode():
                out = self.module(batch)
        except Exception as exc:  # the module's own error, e.g. a shape mismatch
            raise ModelError(
                f"{self.source}: the torch module failed on input of shape "
                f"{tuple(batch.shape)}: {_one_line(exc)}",
                code="R023",
            ) from exc
        if not isinstance(out, torch.Tensor):
            raise ModelError(
                f"{self.source}: the module returned {type(out).__name__}; expected one tensor "
                f"of shape (n, {len(self.classes)})",
                code="R021",
            )
        values = out.detach().to(torch.float64).numpy()
        if values.shape != (len(x), len(self.classes)):
            raise ModelError(
                f"{self.source}: the module returned shape {values.shape}; expected "
                f"({len(x)}, {len(self.classes)}) for {len(x)} samples and classes "
                f"{list(self.classes)}",
                code="R021",
            )
        return np.asarray(values, dtype=np.float64)

    def logits(self, x: NDArray[np.generic]) -> NDArray[np.float64]:
        """Logits per class (``log p`` for a module that returns probabilities)."""
        out = self._forward(x)
        if self.outputs == "probabilities":
            with np.errstate(divide="ignore"):
                return np.asarray(np.log(out), dtype=np.float64)
        return out

    def predict_proba(self, x: NDArray[np.generic]) -> NDArray[np.float64]:
        out = self._forward(x)
        if self.outputs == "probabilities":
            return out
        shifted = out - np.max(out, axis=1, keepdims=True)
        with np.errstate(invalid="ignore", over="ignore"):
            exp = np.exp(shifted)
            proba: NDArray[np.float64] = exp / exp.sum(axis=1, keepdims=True)
        return proba

    def predict(self, x: NDArray[np.generic]) -> NDArray[np.str_]:
        proba = np.nan_to_num(self.predict_proba(x), nan=-1.0)
        names: NDArray[np.str_] = np.asarray(self.classes, dtype=np.str_)[np.argmax(proba, 1)]
        return names

    def logits_module(self) -> torch.nn.Module:
        """A module returning logits: the module itself, or ``log`` of its probabilities."""
        if self.outputs == "logits":
            return self.module
        _torch()
        import torch

        class _Log(torch.nn.Module):
            def __init__(self, inner: torch.nn.Module) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return torch.log(self.inner(x).clamp_min(1e-30))

        wrapped = _Log(self.module)
        wrapped.training = False
        return wrapped

    def export_onnx(self, path: Path, sample: NDArray[np.generic]) -> Path:
        """Write the logits network to ``path`` as ONNX (batch dimension dynamic).

        ``sample`` is one batch of real inputs (its shape fixes the per-sample shape).
        Uses the TorchScript-based exporter, which gives plain Gemm/Conv/Relu graphs that
        Marabou reads; torch 2.13 deprecates it (the warning is silenced here), so the
        torch.export-based exporter is the fallback when it fails.
        """
        torch = _torch()
        example = torch.from_numpy(np.ascontiguousarray(sample[:1], dtype=np.float32))
        module = self.logits_module()
        errors = []
        for dynamo in (False, True):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    torch.onnx.export(
                        module,
                        (example,),
                        str(path),
                        dynamo=dynamo,
                        input_names=["x"],
                        output_names=["logits"],
                        dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}} if not dynamo else None,
                        dynamic_shapes=(
                            {"x": {0: torch.export.Dim("n", min=1)}} if dynamo else None
                        ),
                        verbose=False,
                    )
                return path
            except Exception as exc:  # the exporters raise many types
                errors.append(f"{'torch.export' if dynamo else 'TorchScript'}: {_one_line(exc)}")
        raise ModelError(f"{self.source}: cannot export to ONNX ({'; '.join(errors)})")


def torch_module(model: object) -> TorchModel | None:
    """The model as a :class:`TorchModel` when it is one (gradient and fault checks need
    it), else None; a :class:`~amlas.adapters._models.GuardedModel` is looked through."""
    inner = getattr(model, "inner", model)
    return inner if isinstance(inner, TorchModel) else None


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """torch logs a failed load with its own traceback text before raising; the error we
    raise in its place says what is wrong, so the log line only confuses."""
    logger = logging.getLogger(name)
    before = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = before


def load_torch_model(
    path: Path | None,
    *,
    callable: str | None,
    class_order: tuple[str, ...],
    outputs: Outputs,
    search_path: Path | None,
) -> TorchModel:
    """Load a torch model as [V] declares it (see the module doc)."""
    torch = _torch()
    if not class_order:
        raise ModelError(
            "a torch model does not name its classes; set class_order in [V] to the class "
            "names in the order of the module's outputs"
        )
    if callable is not None:
        source = f"torch callable {callable!r}"
        module = call_loader(callable, search_path, source)
    else:
        if path is None or not path.is_file():
            raise ModelError(
                f"{path}: torch program file not found; expected a torch.export program "
                "(.pt2), or set 'callable: module:function' returning the torch.nn.Module"
            )
        source = str(path)
        if not zipfile.is_zipfile(path):  # a .pt2 program is a zip archive
            raise ModelError(
                f"{path}: not a torch.export program (.pt2 is a zip archive; this file is "
                "not one); for a state_dict or a pickled module, set 'callable: "
                "module:function' in [V] that builds the network and loads it"
            )
        try:
            with warnings.catch_warnings(), _quiet_logger("torch.export"):
                warnings.simplefilter("ignore")
                module = torch.export.load(str(path)).module()
        except Exception as exc:
            raise ModelError(
                f"{path}: cannot load as a torch.export program (.pt2): {_one_line(exc)}; "
                "for a state_dict or a pickled module, set 'callable: module:function' that "
                "builds the network and loads it"
            ) from None
    if not isinstance(module, torch.nn.Module):
        raise ModelError(
            f"{source}: returned a {type(module).__name__}; expected a torch.nn.Module"
        )
    return TorchModel(module, class_order, outputs, source)


class TorchFormat:
    """``format: torch`` (see the module doc): differentiable, for the gradient checks."""

    name = "torch"
    differentiable = True
    distributions: tuple[str, ...] = ("torch",)

    def load(self, path: Path | None, options: ModelOptions) -> TorchModel:
        return load_torch_model(
            path,
            callable=options.callable,
            class_order=options.class_order,
            outputs=options.outputs,
            search_path=options.search_path,
        )


FORMAT = TorchFormat()
