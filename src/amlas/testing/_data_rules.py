"""The conformance suite of a data-rule plug-in (``amlas.data_rules``)."""

from __future__ import annotations

from pydantic import BaseModel

from amlas.checks import CheckOutcome, Dataset
from amlas.checks.data_rules import DataRule
from amlas.project import Project
from amlas.project.artefacts import CATEGORIES, DataRequirement

__all__ = ["check_data_rule"]

_VERDICTS = frozenset({"pass", "fail", "inconclusive"})


def _expect(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(what)


def check_data_rule(
    rule: DataRule, project: Project, requirement: DataRequirement, dataset: Dataset
) -> CheckOutcome:
    """Check that ``rule`` keeps the :class:`~amlas.checks.data_rules.DataRule` contract
    when it judges [L] item ``requirement`` (whose ``rule`` names it) on ``dataset``;
    returns the outcome.

    Checked: the plug-in's attributes (a name, an AMLAS data-requirement category, a
    pydantic ``parameters`` model that accepts the item's rule as written, a bool
    ``reads_environment``, distributions as package names); the outcome names the check
    ``data.<name>``, the item and the dataset, has a verdict of pass/fail/inconclusive and
    a summary, keeps the parameters as written, and comes out the same twice (no hidden
    randomness).
    """
    _expect(isinstance(rule, DataRule), f"{rule!r} lacks what a data rule needs")
    _expect(isinstance(rule.name, str) and bool(rule.name), "name is not a non-empty str")
    _expect(rule.category in CATEGORIES, f"category={rule.category!r}; expected {CATEGORIES}")
    _expect(
        isinstance(rule.parameters, type) and issubclass(rule.parameters, BaseModel),
        f"parameters={rule.parameters!r}; expected a pydantic model class",
    )
    _expect(isinstance(rule.reads_environment, bool), "reads_environment is not a bool")
    _expect(
        isinstance(rule.distributions, tuple)
        and all(isinstance(d, str) and d for d in rule.distributions),
        f"distributions={rule.distributions!r}; expected a tuple of package names",
    )
    written = requirement.rule
    _expect(written is not None, f"{requirement.id} has no rule to judge")
    assert written is not None
    _expect(written.check == rule.name, f"{requirement.id}'s rule names {written.check!r}")
    parameters = written.model_dump(mode="json", by_alias=True)
    typed = rule.parameters.model_validate(parameters)
    outcome = rule.run(project, requirement.id, typed, dataset, dict(parameters))
    again = rule.run(project, requirement.id, typed, dataset, dict(parameters))
    _expect(isinstance(outcome, CheckOutcome), f"run gave {type(outcome).__name__}")
    _expect(outcome.check == f"data.{rule.name}", f"check={outcome.check!r}")
    _expect(outcome.subject == requirement.id, f"subject={outcome.subject!r}")
    _expect(outcome.dataset == dataset.letter, f"dataset={outcome.dataset!r}")
    _expect(outcome.verdict in _VERDICTS, f"verdict={outcome.verdict!r}")
    _expect(bool(outcome.summary.strip()), "the summary is empty")
    _expect(outcome.parameters == parameters, "the parameters are not the rule as written")
    same = (again.verdict, again.summary, again.results, again.resolved)
    _expect(
        same == (outcome.verdict, outcome.summary, outcome.results, outcome.resolved),
        "a second run gave another answer",
    )
    return outcome
