"""Record keys: the one place they are built and read.

A key names the check a record is evidence of; the newest record under a key is current,
and the safety case cites records by key (pattern templates such as
``stage5/{requirement.id}/P`` expand to the same strings). The scheme::

    stage3/<DR-id>/<X>              data rule DR-id of [L] on dataset X (AMLAS stage 3, [S])
    stage3/independence/<A>-<B>     independence of datasets A and B (R9)
    stage<4|5>/<MLR-id>/<X>         [H] requirement MLR-id judged on X: [O] at stage 4 ([X]),
                                    [P] at stage 5 ([Z])
    stage<4|5>/<MLR-id>/formal      the formal leg of MLR-id (a property proven per sample)
    stage<4|5>/predictions/<X>      predictions made elsewhere on X checked against the model
    stage6/scenario/<SC-id>         the runs of operational scenario SC-id of [EE]
    stage6/hazard/<HAZ-id>          the hazard-rate chain of hazard HAZ-id of [A]
    stage6/operation                operational achievement from the field log ([DD])
    stage6/monitor                  the runtime monitor's false alarms and detections
    external/<MLR-id>               imported evidence (``amlas evidence import``) for an [H]
                                    requirement amlas run does not judge on data (kind
                                    'other', no metric, e.g. 'data_related: false'); it
                                    stands in for stage5/<MLR-id>/P in the case
    external/node/<NODE-id>         an imported document attached to a node of the case
                                    (a goal or solution, instance or pattern ID: G6.3)

An import for a requirement amlas run does judge on data uses that requirement's own key
(``stage5/<MLR-id>/P`` for [P], ``stage4/<MLR-id>/O`` for [O]).

Everything that writes, plans or cites a key calls these functions; nothing formats one
by hand.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DATASET_LETTERS",
    "EXTERNAL",
    "MONITOR",
    "OPERATION",
    "agreement_key",
    "data_rule_key",
    "external_key",
    "external_node_key",
    "formal_key",
    "hazard_key",
    "independence_key",
    "is_external",
    "key_letters",
    "key_stage",
    "requirement_key",
    "scenario_key",
]

DATASET_LETTERS: Final = ("N", "O", "P")
"""The datasets of the AMLAS data stage: development [N], internal test [O], verification [P]."""

OPERATION: Final = "stage6/operation"
MONITOR: Final = "stage6/monitor"
EXTERNAL: Final = "external/"
"""The prefix of the keys of imported evidence that no amlas check produces."""


def data_rule_key(rule: str, letter: str) -> str:
    return f"stage3/{rule}/{letter}"


def independence_key(first: str, second: str) -> str:
    return f"stage3/independence/{first}-{second}"


def requirement_key(stage: int, requirement: str, letter: str) -> str:
    return f"stage{stage}/{requirement}/{letter}"


def agreement_key(stage: int, letter: str) -> str:
    return f"stage{stage}/predictions/{letter}"


def formal_key(stage: int, requirement: str) -> str:
    return f"stage{stage}/{requirement}/formal"


def scenario_key(scenario: str) -> str:
    return f"stage6/scenario/{scenario}"


def hazard_key(hazard: str) -> str:
    return f"stage6/hazard/{hazard}"


def external_key(requirement: str) -> str:
    return f"{EXTERNAL}{requirement}"


def external_node_key(node: str) -> str:
    return f"{EXTERNAL}node/{node}"


def is_external(key: str) -> bool:
    """Whether ``key`` is one only ``amlas evidence import`` writes."""
    return key.startswith(EXTERNAL)


def key_stage(key: str) -> int | None:
    """The stage a key names (``stage5/MLR-1/P`` -> 5), or None for a key of no stage."""
    head = key.split("/", 1)[0]
    if head.startswith("stage") and head[5:].isdigit():
        return int(head[5:])
    return None


def key_letters(key: str) -> list[str]:
    """The dataset letters a key names last (``stage3/independence/N-P`` -> N, P)."""
    last = key.rsplit("/", 1)[-1]
    return [x for x in last.split("-") if x in DATASET_LETTERS]
