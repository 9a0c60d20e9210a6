"""Data rules as plug-ins: the machine-checkable rules of the data requirements [L].

A data rule is an object in the entry-point group ``amlas.data_rules`` (see
:mod:`amlas.plugins`) with the :class:`DataRule` protocol, registered under the name an
[L] item writes as ``rule: {check: NAME, ...}``. The built-ins below are registered
through amlas's own ``pyproject.toml``, exactly as a third party registers one::

    [project.entry-points."amlas.data_rules"]
    feature_range = "my_package.rules:FEATURE_RANGE"

``parameters`` is the pydantic model of the rule's keys (``check`` included): the project
check validates an [L] rule against it, every problem located in the file. ``category``
is the AMLAS data-requirement category the rule verifies (relevance, completeness,
accuracy, balance: rule D-codes compare it with the item's); ``reads_environment`` says
whether the verdict depends on [B] (then the record cites it and goes stale with it).
``run`` judges one dataset and returns a :class:`~amlas.checks.CheckOutcome`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from amlas.checks import _data
from amlas.checks._data import CheckOutcome
from amlas.checks._datasets import Dataset
from amlas.plugins import registry, wrong_kind
from amlas.project import Project
from amlas.project.artefacts import DataRequirement
from amlas.project.artefacts.data import (
    ClassBalance,
    Duplicates,
    ExternalRule,
    LabelErrorRate,
    MinSamplesPerCell,
    SchemaConformance,
    SliceBalance,
    WithinOdd,
)

__all__ = ["GROUP", "DataRule", "get_data_rule", "run_data_rule"]

GROUP = "amlas.data_rules"


@runtime_checkable
class DataRule(Protocol):
    """A data-rule plug-in (see the module docs)."""

    name: str
    category: str
    parameters: type[BaseModel]
    reads_environment: bool
    distributions: tuple[str, ...]

    def run(
        self,
        project: Project,
        subject: str,
        rule: Any,
        dataset: Dataset,
        parameters: dict[str, Any],
    ) -> CheckOutcome:
        """Judge ``rule`` (an instance of ``parameters``) of [L] item ``subject`` on
        ``dataset``; ``parameters`` is the rule as written, for the record."""
        ...


@dataclass(frozen=True)
class _Builtin:
    name: str
    category: str
    parameters: type[BaseModel]
    reads_environment: bool
    job: Any
    uses_project: bool = True
    uses_rule: bool = True
    distributions: tuple[str, ...] = ()

    def run(
        self,
        project: Project,
        subject: str,
        rule: Any,
        dataset: Dataset,
        parameters: dict[str, Any],
    ) -> CheckOutcome:
        args: list[Any] = [project] if self.uses_project else []
        args.append(subject)
        if self.uses_rule:
            args.append(rule)
        outcome: CheckOutcome = self.job(*args, dataset, parameters)
        return outcome


WITHIN_ODD = _Builtin("within_odd", "relevance", WithinOdd, True, _data._within_odd)
SCHEMA_CONFORMANCE = _Builtin(
    "schema_conformance", "relevance", SchemaConformance, False, _data._schema, uses_rule=False
)
MIN_SAMPLES_PER_CELL = _Builtin(
    "min_samples_per_cell", "completeness", MinSamplesPerCell, True, _data._cells
)
CLASS_BALANCE = _Builtin(
    "class_balance", "balance", ClassBalance, False, _data._class_balance, uses_project=False
)
SLICE_BALANCE = _Builtin("slice_balance", "balance", SliceBalance, True, _data._slice_balance)
LABEL_ERROR_RATE = _Builtin(
    "label_error_rate", "accuracy", LabelErrorRate, False, _data._label_errors
)
DUPLICATES = _Builtin(
    "duplicates", "balance", Duplicates, False, _data._duplicates, uses_project=False
)


def get_data_rule(name: str) -> DataRule:
    """The data-rule plug-in registered as ``name`` (:class:`~amlas.plugins.PluginError`
    with a suggestion for an unknown one, or S009 when the object registered is no
    data rule)."""
    found = registry(GROUP).get(name)
    if not isinstance(found, DataRule):
        raise wrong_kind(
            GROUP,
            name,
            found,
            "name, category, parameters, reads_environment, distributions and run "
            "(amlas.checks.data_rules.DataRule)",
        )
    return found


def run_data_rule(project: Project, requirement: DataRequirement, dataset: Dataset) -> CheckOutcome:
    """Run ``requirement.rule`` on ``dataset`` through its plug-in (``amlas.data_rules``)."""
    rule = requirement.rule
    assert rule is not None
    plugin = get_data_rule(rule.check)
    parameters = rule.model_dump(mode="json", by_alias=True)
    typed: object = rule
    if isinstance(rule, ExternalRule):  # checked against the plug-in's model at load time
        typed = plugin.parameters.model_validate(parameters)
    name = f"data.{plugin.name}"
    where = f"{requirement.id} on [{dataset.letter}]"
    if len(dataset) == 0:
        return CheckOutcome(
            requirement.id, name, dataset.letter, "inconclusive",
            f"{where}: the dataset is empty; nothing can be claimed", parameters,
        )  # fmt: skip
    return plugin.run(project, requirement.id, typed, dataset, parameters)
