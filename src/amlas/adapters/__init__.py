"""Data and model adapters (a shared leaf): read datasets into :class:`Table` and load
models behind the :class:`Model` protocol. Model formats and dataset readers are
plug-ins (entry-point groups ``amlas.models`` and ``amlas.readers``). No knowledge of
the project model; the checks bind artefact fields to these calls."""

from amlas.adapters._callable import call_loader, import_callable
from amlas.adapters._coco import coco_categories, read_coco
from amlas.adapters._detector import Detections, detect_batched
from amlas.adapters._model import Model, ModelError, ModelFormat, ModelOptions
from amlas.adapters._models import (
    GuardedModel,
    load_model,
    model_format,
    model_formats,
    predict_batched,
)
from amlas.adapters._reader import (
    ChunkedReader,
    ChunkTypeError,
    DatasetError,
    DatasetReader,
    ReaderOptions,
)
from amlas.adapters._readers import (
    ArrowReader,
    CsvLines,
    FolderArchive,
    archive_tree_sha256,
    chunk_reader,
    csv_sample_rows,
    dataset_reader,
    dataset_readers,
    pack_folder,
    read_table,
    reader_for,
)
from amlas.adapters._spill import Repeat, RepeatedValues, fnv1a_text
from amlas.adapters._table import ColumnError, SampleContent, Table, arrow_text
from amlas.adapters._torch import TorchModel, torch_module

__all__ = [
    "ArrowReader",
    "ChunkTypeError",
    "ChunkedReader",
    "ColumnError",
    "CsvLines",
    "DatasetError",
    "DatasetReader",
    "Detections",
    "FolderArchive",
    "GuardedModel",
    "Model",
    "ModelError",
    "ModelFormat",
    "ModelOptions",
    "ReaderOptions",
    "Repeat",
    "RepeatedValues",
    "SampleContent",
    "Table",
    "TorchModel",
    "archive_tree_sha256",
    "arrow_text",
    "call_loader",
    "chunk_reader",
    "coco_categories",
    "csv_sample_rows",
    "dataset_reader",
    "dataset_readers",
    "detect_batched",
    "fnv1a_text",
    "import_callable",
    "load_model",
    "model_format",
    "model_formats",
    "pack_folder",
    "predict_batched",
    "read_coco",
    "read_table",
    "reader_for",
    "torch_module",
]
