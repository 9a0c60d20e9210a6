"""Cross-artefact rules from AMLAS (``shared/AMLAS.md`` §4) that can be checked statically.

Importing this package registers every rule; :func:`run_rules` applies them in order.
"""

from amlas.project.rules import data, ids, model, odd, people, requirements, reviews, trace
from amlas.project.rules._registry import RULES, Rule, rule, run_rules

__all__ = [
    "RULES",
    "Rule",
    "data",
    "ids",
    "model",
    "odd",
    "people",
    "requirements",
    "reviews",
    "rule",
    "run_rules",
    "trace",
]
