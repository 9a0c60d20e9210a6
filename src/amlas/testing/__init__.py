"""Tools for testing plug-ins and pipelines against amlas: conformance suites and fakes.

The top layer (it may import every other package), shipped with the library so that a
plug-in author runs the same contract checks amlas runs on its built-ins, in the spirit of
scikit-learn's ``check_estimator`` and httpx's ``MockTransport``:

* :func:`check_store` (and :data:`STORE_CHECKS`, one check each): the evidence-store
  contract; :func:`memory_store_under_test` runs it on ``memory://``.
* :func:`check_model_adapter`: a model format (``amlas.models``) and the models it loads.
* :func:`check_reader`: a dataset reader (``amlas.readers``) and the tables it reads.
* :func:`check_metric`: a metric (``amlas.metrics``) judging a requirement on data.
* :func:`check_data_rule`: a data rule (``amlas.data_rules``) judging an [L] item.
* :func:`example_project`: a copy of a bundled example, valid and runnable, to test on.
* Fakes: the in-memory store (``open_store("memory://NAME", root=...)``,
  :func:`~amlas.evidence.forget_memory_store`), :class:`FakeModel` (fixed outputs, fixed
  latency) and :class:`FakeModelFormat`; :func:`make_record` and the fixed clock
  :func:`at` for records.
"""

from amlas.testing._adapters import FakeModel, FakeModelFormat, check_model_adapter, check_reader
from amlas.testing._data_rules import check_data_rule
from amlas.testing._metrics import check_metric
from amlas.testing._projects import example_project
from amlas.testing._records import T0, at, make_record
from amlas.testing._stores import (
    STORE_CHECKS,
    StoreUnderTest,
    check_store,
    memory_store_under_test,
    run_store_check,
)

__all__ = [
    "STORE_CHECKS",
    "T0",
    "FakeModel",
    "FakeModelFormat",
    "StoreUnderTest",
    "at",
    "check_data_rule",
    "check_metric",
    "check_model_adapter",
    "check_reader",
    "check_store",
    "example_project",
    "make_record",
    "memory_store_under_test",
    "run_store_check",
]
