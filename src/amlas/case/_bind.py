"""What the patterns' placeholders, collections, conditions and choices read from a
project: the one place that knows which artefact field fills which ``{placeholder}``."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from amlas.project import Project
from amlas.project.artefacts import (
    ArtefactDocument,
    DataRequirements,
    ErroneousBehaviourLog,
    MLSafetyRequirement,
    ModelReference,
    OperationalScenarios,
    SystemDescription,
    VerificationLog,
)

__all__ = ["Binder", "Item", "fill", "first_sentence"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


def first_sentence(text: str, limit: int = 220) -> str:
    """The first sentence of ``text`` (whitespace collapsed), cut at ``limit`` characters."""
    flat = " ".join(text.split())
    match = re.search(r"(?<=[a-z0-9)\]])[.;:](\s|$)", flat)
    if match is None:
        sentence = flat
    else:  # keep a full stop; a clause cut at ';' or ':' ends without its mark
        end = match.start() + (1 if flat[match.start()] == "." else 0)
        sentence = flat[:end]
    if len(sentence) > limit:
        sentence = sentence[: limit - 1].rsplit(" ", 1)[0] + "…"
    return sentence


@dataclass(frozen=True)
class Item:
    """One item a multiplicity ranges over: its ID (the instance suffix) and its fields."""

    id: str
    value: BaseModel


def fill(template: str, variables: Mapping[str, str | None]) -> tuple[str, list[str]]:
    """Fill ``{name}`` placeholders; return the text and the names left unfilled."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        value = variables.get(match.group(1))
        if value is None or not str(value).strip():
            missing.append(match.group(1))
            return match.group(0)
        return str(value)

    text = _PLACEHOLDER.sub(substitute, " ".join(template.split()))
    return text, missing


def _ids(items: Any) -> str | None:
    ids = [item.id for item in items or ()]
    if not ids:
        return None
    return ", ".join(ids) if len(ids) <= 12 else ", ".join(ids[:12]) + f" and {len(ids) - 12} more"


def _format_property(requirement: MLSafetyRequirement) -> str | None:
    prop = requirement.property
    if prop is None:
        return None
    features = f" on {', '.join(prop.features)}" if prop.features else ""
    unit = f" {prop.unit}" if prop.unit else ""
    return (
        f"{prop.kind} within {prop.norm} radius {prop.epsilon:g}{unit}{features}, "
        f"around {prop.samples} verification samples ({prop.method}, "
        f"{prop.timeout_s:g} s per complete query): {prop.encoding}"
    )


class Binder:
    """Reads the project for the instantiation."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.settings = project.manifest.case
        self.variables = self._project_variables()
        # (name, id of the item's value) -> (the value, its variables): a requirement is
        # bound in a dozen nodes; its fields are read once (the value is kept: ids stay unique)
        self._bound: dict[tuple[str, str, int], tuple[object, dict[str, str | None]]] = {}

    def doc(self, letter: str) -> ArtefactDocument | None:
        return self.project.artefacts.get(letter)

    def has(self, letter: str) -> bool:
        return letter in self.project.artefacts

    # -- placeholders -------------------------------------------------------------------------

    def _project_variables(self) -> dict[str, str | None]:
        p = self.project
        out: dict[str, str | None] = {"component": p.manifest.component}
        env = p.environment
        if env is not None:
            dims = ", ".join(d.name for d in env.dimensions)
            out["environment.name"] = "its defined operating environment [B]"
            out["environment.summary"] = (
                f"{first_sentence(env.description)} ODD dimensions: {dims}."
                if dims
                else first_sentence(env.description)
            )
        system = p.get("C", SystemDescription)
        if system is not None:
            out["system.summary"] = f"{system.system}. {first_sentence(system.description)}"
        component = p.component
        if component is not None:
            out["component_description.summary"] = (
                f"{component.name} ({component.task.replace('_', ' ')}). "
                f"{first_sentence(component.description)}"
            )
            out["constraints"] = (
                first_sentence(component.platform, 300) if component.platform else None
            )
        if p.allocated is not None:
            out["allocated.ids"] = _ids(p.allocated.requirements)
        if p.ml_requirements is not None:
            out["ml_requirements.ids"] = _ids(p.ml_requirements.requirements)
        if p.data_requirements is not None:
            out["data_requirements.ids"] = _ids(p.data_requirements.requirements)
        datasets = p.datasets()
        parts = []
        for letter, document in datasets.items():
            size = (
                f"{document.samples} samples" if document.samples is not None else "size undeclared"
            )
            sealed = ", sealed" if document.sealed is not None else ""
            out[f"datasets.{letter}"] = f"{first_sentence(document.description)} ({size}{sealed})"
            parts.append(f"[{letter}] {size}")
        if parts:
            out["datasets.summary"] = "; ".join(parts)
        model = p.get("V", ModelReference)
        if model is not None:
            out["model.summary"] = f"{model.name} ({model.format}, {model.location})"
        scenarios = p.get("EE", OperationalScenarios)
        if scenarios is not None:
            out["scenarios.ids"] = _ids(scenarios.scenarios)
            out["simulator"] = scenarios.simulator or None
        log = p.get("DD", ErroneousBehaviourLog)
        if log is not None:
            out["erroneous.ids"] = _ids(log.behaviours)
        return out

    def variables_for(self, binding: Mapping[str, Item]) -> dict[str, str | None]:
        out = dict(self.variables)
        for name, item in binding.items():
            key = (name, item.id, id(item.value))
            known = self._bound.get(key)
            if known is None or known[0] is not item.value:
                known = (item.value, self._item_variables(name, item))
                self._bound[key] = known
            out.update(known[1])
        return out

    @staticmethod
    def _item_variables(name: str, item: Item) -> dict[str, str | None]:
        out: dict[str, str | None] = {f"{name}.id": item.id}
        for field, value in item.value:
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                out[f"{name}.{field}"] = " ".join(str(value).split())
        if isinstance(item.value, MLSafetyRequirement):
            out[f"{name}.property"] = _format_property(item.value)
            out[f"{name}.kind"] = item.value.kind
        return out

    # -- collections, conditions, choices ---------------------------------------------------------

    def collection(self, name: str) -> list[Item]:
        ml = self.project.ml_requirements
        requirements = ml.requirements if ml is not None else []
        kinds = {
            "performance_requirements": ("performance",),
            "robustness_requirements": ("robustness",),
            "other_requirements": ("other",),
            "ml_requirements": ("performance", "robustness", "other"),
        }
        if name in kinds:
            return [Item(r.id, r) for r in requirements if r.kind in kinds[name]]
        if name == "evaluated_requirements":
            return [Item(r.id, r) for r in requirements if r.judged_on_data()]
        if name == "tested_requirements":
            return [
                Item(r.id, r)
                for r in requirements
                if r.judged_on_data() and r.metric != "verified_robustness"
            ]
        if name == "formal_requirements":
            return [
                Item(r.id, r)
                for r in requirements
                if r.property is not None and r.verified_by is None
            ]
        if name in ("assured_conditions", "assumed_conditions"):
            environment = self.project.environment
            assumed = name == "assumed_conditions"
            return [
                Item(c.id, c)
                for c in (environment.conditions if environment is not None else [])
                if (c.assured_by == "assumption") == assumed
            ]
        raise KeyError(name)

    def condition(self, name: str) -> bool:
        if name == "simulation":
            scenarios = self.project.get("EE", OperationalScenarios)
            return scenarios is not None and scenarios.simulation
        if name in ("monitor", "field_log"):
            log = self.project.get("DD", ErroneousBehaviourLog)
            return log is not None and getattr(log, name) is not None
        if name == "barriers":
            system = self.project.get("C", SystemDescription)
            return system is not None and bool(system.barriers)
        raise KeyError(name)

    def activities(self, requirement: str, method: str | None = None) -> list[Any]:
        log = self.project.get("AA", VerificationLog)
        if log is None:
            return []
        return [
            a
            for a in log.activities
            if requirement in a.requirements and (method is None or a.method == method)
        ]

    def chosen(self, chooser: str, binding: Mapping[str, Item]) -> set[str]:
        if chooser == "verification_methods":
            requirement = binding.get("requirement")
            if requirement is None:
                return set()
            return {a.method for a in self.activities(requirement.id)}
        raise KeyError(chooser)

    def data_requirements(self, category: str) -> list[Any]:
        data = self.project.get("L", DataRequirements)
        if data is None:
            return []
        return [r for r in data.requirements if r.category == category]

    def category_gap(self, category: str) -> str | None:
        data = self.project.get("L", DataRequirements)
        if data is None:
            return None
        for gap in data.gaps:
            if gap.category == category:
                return str(gap.justification)
        return None

    # -- recorded text ----------------------------------------------------------------------------

    def recorded(self, table: Mapping[str, Any], node_id: str, pattern_id: str) -> Any:
        """The entry of a ``case:`` table for a node: exact instance ID, then pattern ID,
        then the first glob that matches the instance ID."""
        for key in (node_id, pattern_id):
            if key in table:
                return table[key]
        for key, value in table.items():
            if any(ch in key for ch in "*?[") and fnmatch.fnmatchcase(node_id, key):
                return value
        return None

    def field_values(self, letter: str, path: str) -> list[tuple[str, Any]]:
        """Values at a dotted ``path`` ('a.b', 'list[].field') in artefact ``letter``, each
        with a readable location; empty when the artefact is missing."""
        document = self.doc(letter)
        if document is None:
            return []
        found: list[tuple[str, Any]] = [(f"[{letter}]", document)]
        for part in path.split("."):
            each = part.endswith("[]")
            name = part.removesuffix("[]")
            next_found: list[tuple[str, Any]] = []
            for where, value in found:
                child = getattr(value, name, None) if value is not None else None
                if each:
                    for i, element in enumerate(child or []):
                        label = getattr(element, "id", None) or str(i)
                        next_found.append((f"{where} {name}[{label}]", element))
                else:
                    next_found.append((f"{where} {name}", child))
            found = next_found
        return found


def is_filled(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple | dict):
        return bool(value)
    return True
