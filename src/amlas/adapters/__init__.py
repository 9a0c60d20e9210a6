"""Data and model adapters (a shared leaf): read datasets into :class:`Table` and load
models behind the :class:`Model` protocol. No knowledge of the project model; the checks
bind artefact fields to these calls."""

from amlas.adapters._model import Model
from amlas.adapters._models import (
    GuardedModel,
    ModelError,
    call_loader,
    import_callable,
    load_model,
    predict_batched,
)
from amlas.adapters._readers import DatasetError, pack_folder, read_table
from amlas.adapters._table import ColumnError, Table
from amlas.adapters._torch import TorchModel, torch_module

__all__ = [
    "ColumnError",
    "DatasetError",
    "GuardedModel",
    "Model",
    "ModelError",
    "Table",
    "TorchModel",
    "call_loader",
    "import_callable",
    "load_model",
    "pack_folder",
    "predict_batched",
    "read_table",
    "torch_module",
]
