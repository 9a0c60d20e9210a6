"""Conformance checks for model formats and dataset readers, and a fake model.

A plug-in author calls these from their own tests, in the spirit of scikit-learn's
``check_estimator``::

    from amlas.adapters import ModelOptions
    from amlas.testing import check_model_adapter

    def test_my_format(tmp_path):
        path = write_a_small_model(tmp_path)
        check_model_adapter(MY_FORMAT, path, ModelOptions(class_order=("a", "b")), x)

Every check raises :class:`AssertionError` saying what the plug-in did wrong.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from amlas.adapters import (
    ChunkedReader,
    DatasetError,
    DatasetReader,
    Model,
    ModelError,
    ModelFormat,
    ModelOptions,
    ReaderOptions,
    Table,
    detect_batched,
)
from amlas.hashing import sha256_bytes, sha256_file, sha256_tree

__all__ = ["FakeModel", "FakeModelFormat", "check_model_adapter", "check_reader"]


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


class FakeModel:
    """A model with fixed outputs and a fixed latency: every sample gets ``proba``.

    ``latency_s`` is spent (through ``sleep``, injectable) on every call, to exercise time
    limits and progress reporting without a real model.
    """

    has_proba = True

    def __init__(
        self,
        classes: Sequence[str],
        proba: ArrayLike | None = None,
        *,
        latency_s: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.classes = tuple(str(c) for c in classes)
        k = len(self.classes)
        row = np.full(k, 1.0 / k) if proba is None else np.asarray(proba, dtype=np.float64)
        if row.shape != (k,):
            raise ValueError(f"proba={row.tolist()!r}; expected {k} values, one per class")
        self.proba = row
        self.latency_s = latency_s
        self._sleep = sleep
        self.calls = 0

    def predict_proba(self, x: NDArray[np.generic]) -> NDArray[np.float64]:
        self.calls += 1
        if self.latency_s:
            self._sleep(self.latency_s)
        return np.tile(self.proba, (len(x), 1))

    def predict(self, x: NDArray[np.generic]) -> NDArray[np.str_]:
        proba = self.predict_proba(x)
        names: NDArray[np.str_] = np.asarray(self.classes, dtype=np.str_)[np.argmax(proba, 1)]
        return names


class FakeModelFormat:
    """A model format that loads a :class:`FakeModel` (register it under a name of your
    choice: ``registry("amlas.models").register("fake", FakeModelFormat(...))``).

    The classes are [V]'s ``class_order`` when given, else ``classes``; ``path`` must
    exist when given (as for a real file format).
    """

    differentiable = False
    distributions: tuple[str, ...] = ()

    def __init__(
        self,
        classes: Sequence[str] = ("negative", "positive"),
        proba: ArrayLike | None = None,
        *,
        name: str = "fake",
        latency_s: float = 0.0,
    ) -> None:
        self.name = name
        self.classes = tuple(classes)
        self.proba = proba
        self.latency_s = latency_s

    def load(self, path: Path | None, options: ModelOptions) -> Model:
        if path is not None and not path.exists():
            raise ModelError(f"{path}: model file not found")
        classes = options.class_order or self.classes
        return FakeModel(classes, self.proba, latency_s=self.latency_s)


# -- model formats --------------------------------------------------------------------


def check_model_adapter(
    format: ModelFormat,
    path: Path | None,
    options: ModelOptions,
    x: NDArray[np.generic],
) -> Model:
    """Check that ``format`` loads ``path`` into a model that keeps the :class:`Model`
    contract on the batch ``x`` (at least two samples); returns the loaded model.

    Checked: the plug-in's attributes (``name``, ``differentiable``, ``distributions``);
    the loaded model's classes (unique text, ``class_order`` when given); probabilities
    of shape ``(n, k)``, float64, each row a distribution; labels of shape ``(n,)`` among
    the classes; the same answer for a sample alone as inside the batch; a missing file
    refused with :class:`ModelError`; a differentiable format's model offering
    ``logits_module``.
    """
    _expect(isinstance(format, ModelFormat), f"{format!r} lacks name, load or flags")
    _expect(isinstance(format.name, str) and bool(format.name), "name is not a non-empty str")
    _expect(isinstance(format.differentiable, bool), "differentiable is not a bool")
    _expect(
        isinstance(format.distributions, tuple)
        and all(isinstance(d, str) and d for d in format.distributions),
        f"distributions={format.distributions!r}; expected a tuple of package names",
    )
    _expect(len(x) >= 2, "give check_model_adapter a batch of at least two samples")
    model = format.load(path, options)
    _expect(isinstance(model, Model), f"load returned {type(model).__name__}, not a Model")
    classes = model.classes
    _expect(
        isinstance(classes, tuple) and len(classes) >= 1 and len(set(classes)) == len(classes),
        f"classes={classes!r}; expected a tuple of unique names",
    )
    _expect(all(isinstance(c, str) for c in classes), "classes are not all str")
    if options.class_order:
        _expect(classes == options.class_order, f"classes {classes} ignore class_order")
    n = len(x)
    if model.has_proba:
        proba = model.predict_proba(x)
        _expect(proba.dtype == np.float64, f"predict_proba gave {proba.dtype}, not float64")
        _expect(proba.shape == (n, len(classes)), f"predict_proba gave shape {proba.shape}")
        _expect(bool(np.all(proba >= -1e-6) and np.all(proba <= 1 + 1e-6)), "not in [0, 1]")
        _expect(bool(np.allclose(proba.sum(axis=1), 1.0, atol=1e-4)), "rows do not sum to 1")
        alone = model.predict_proba(x[:1])
        _expect(bool(np.allclose(alone, proba[:1], atol=1e-5)), "a sample alone differs")
    if callable(getattr(model, "detect", None)):
        _check_detector(model, x)
    else:
        labels = model.predict(x)
        _expect(labels.shape == (n,), f"predict gave shape {labels.shape}, expected ({n},)")
        _expect(set(labels.tolist()) <= set(classes), f"predict gave labels outside {classes}")
    if path is not None and options.callable is None:
        missing = path.with_name(f"no-such-{path.name}")
        try:
            format.load(missing, options)
        except ModelError:
            pass
        else:
            raise AssertionError(f"loading a missing file {missing} raised no ModelError")
    if format.differentiable:
        _expect(callable(getattr(model, "logits_module", None)), "no logits_module")
    return model


def _check_detector(model: Model, x: NDArray[np.generic]) -> None:
    """A detector's boxes (``python_detector``): its output passes the format's contract
    (:func:`amlas.adapters.detect_batched` refuses any other), and the first image's
    detections are the same alone as inside the batch."""
    found = detect_batched(model, x)
    _expect(len(found.image) == len(found.score), "detect gave arrays of unequal length")
    alone = detect_batched(model, x[:1])
    first = found.image == 0
    _expect(
        np.array_equal(alone.xyxy, found.xyxy[first])
        and np.array_equal(alone.score, found.score[first]),
        "a sample alone gives other detections than inside the batch",
    )


# -- dataset readers ------------------------------------------------------------------


def _same_table(one: Table, two: Table) -> bool:
    if list(one.columns) != list(two.columns) or list(one.arrays) != list(two.arrays):
        return False
    pairs = [(one.columns[n], two.columns[n]) for n in one.columns]
    pairs += [(one.arrays[n], two.arrays[n]) for n in one.arrays]
    return all(
        a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f") for a, b in pairs
    )


def _check_pieces(
    reader: ChunkedReader, path: Path, options: ReaderOptions, whole: Table, data: bytes | None
) -> None:
    """``iter_read`` in pieces of 2 rows (from ``data`` through a file handle when given)
    gives the whole read's rows, in order, every piece but the last of 2 rows."""
    handle = io.BytesIO(data) if data is not None else None
    pieces = list(reader.iter_read(path, options, rows=2, sha256=whole.sha256, handle=handle))
    where = "from a handle" if data is not None else "from the path"
    sizes = [len(piece) for piece in pieces]
    _expect(
        sum(sizes) == len(whole) and all(size == 2 for size in sizes[:-1]),
        f"iter_read(rows=2) {where} gives pieces of {sizes} rows; expected pieces of 2 "
        f"adding up to {len(whole)}",
    )
    if not pieces:
        return
    joined = Table(
        columns={n: np.concatenate([p.columns[n] for p in pieces]) for n in pieces[0].columns},
        sha256=whole.sha256,
        source=whole.source,
        arrays={n: np.concatenate([p.arrays[n] for p in pieces]) for n in pieces[0].arrays},
    )
    _expect(_same_table(whole, joined), f"iter_read {where} gives other rows than read")
    _expect(
        all(p.sha256 == whole.sha256 for p in pieces), "iter_read's pieces lack the given sha256"
    )


def check_reader(
    reader: DatasetReader,
    path: Path,
    options: ReaderOptions | None = None,
    *,
    data: bytes | None = None,
) -> Table:
    """Check that ``reader`` reads ``path`` into a :class:`Table` that keeps the reader
    contract; returns the table.

    Checked: the plug-in's attributes (``name``; ``suffixes`` lower-case, each starting
    with '.'; ``distributions``); every column 1-D and one per sample, as float64, int64
    or text; ``arrays`` with samples on axis 0; ``sha256`` the file's (the folder tree's)
    SHA-256 and ``source`` the path; reading twice gives the same table; reading from
    bytes (the file's own, or ``data`` for a folder format) gives the same columns with
    the bytes' SHA-256; a :class:`~amlas.adapters.ChunkedReader`'s ``iter_read`` gives
    the same rows in pieces (from the path, and from the bytes through a file handle);
    a missing path refused with :class:`DatasetError`.
    """
    options = options or ReaderOptions()
    _expect(isinstance(reader, DatasetReader), f"{reader!r} lacks name, read or suffixes")
    _expect(isinstance(reader.name, str) and bool(reader.name), "name is not a non-empty str")
    _expect(
        isinstance(reader.suffixes, tuple)
        and all(
            isinstance(s, str) and s.startswith(".") and s == s.lower() for s in reader.suffixes
        ),
        f"suffixes={reader.suffixes!r}; expected lower-case suffixes such as ('.csv',)",
    )
    _expect(isinstance(reader.distributions, tuple), "distributions is not a tuple")
    table = reader.read(path, options)
    _expect(isinstance(table, Table), f"read returned {type(table).__name__}, not a Table")
    n = len(table)
    for name, column in table.columns.items():
        _expect(column.ndim == 1 and len(column) == n, f"column {name!r} is not one per sample")
        kind = column.dtype.kind
        ok = column.dtype in (np.float64, np.int64) or kind == "U"
        _expect(ok, f"column {name!r} is {column.dtype}; expected float64, int64 or text")
    for name, array in table.arrays.items():
        _expect(array.ndim >= 2 and len(array) == n, f"array {name!r} has no sample axis")
    expected = sha256_tree(path) if path.is_dir() else sha256_file(path)
    _expect(table.sha256 == expected, f"sha256 {table.sha256} is not the file's {expected}")
    _expect(table.source == str(path), f"source={table.source!r}; expected {str(path)!r}")
    _expect(_same_table(table, reader.read(path, options)), "a second read differs")
    content = data if data is not None else (None if path.is_dir() else path.read_bytes())
    if content is not None:
        from_bytes = reader.read(path, options, content)
        _expect(_same_table(table, from_bytes), "reading the same bytes gives another table")
        _expect(from_bytes.sha256 == sha256_bytes(content), "sha256 is not the bytes' own")
    if isinstance(reader, ChunkedReader):
        _check_pieces(reader, path, options, table, None)
        if content is not None:
            _check_pieces(reader, path, options, table, content)
    missing = path.with_name(f"no-such-{path.name}")
    try:
        reader.read(missing, options)
    except DatasetError:
        pass
    else:
        raise AssertionError(f"reading a missing path {missing} raised no DatasetError")
    return table
