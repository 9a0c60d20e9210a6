"""An over-claim check independent of the case builder: every supported claim over a set
is re-checked against its members, from the project's artefacts and the records and
reviews the case cites (issue 15).

It shares no code with ``amlas.case``: it reads the artefacts and the evidence records
directly, so a bug in the builder's set semantics cannot hide here.
"""

from __future__ import annotations

from collections.abc import Iterable

from amlas.case import Case
from amlas.evidence import EvidenceRecord, ProjectInputs
from amlas.project import Project, load_system
from amlas.project.artefacts import (
    AllocatedRequirements,
    OperationalScenarios,
    ReviewRecords,
    SystemDescription,
    ValidationResults,
)

__all__ = ["overclaims"]


def _passed(case: Case, node_ids: Iterable[str]) -> dict[str, EvidenceRecord]:
    """Records cited by the nodes, by key, that passed and are not stale."""
    out: dict[str, EvidenceRecord] = {}
    for node_id in node_ids:
        node = case.nodes.get(node_id)
        if node is None:
            continue
        for digest in node.evidence:
            record = case.evidence.get(digest)
            if record is not None and record.verdict == "pass" and digest not in case.stale_inputs:
                out[record.key] = record
    return out


def _reviewed(project: Project, item_id: str, purpose: str = "verification") -> bool:
    """Whether the latest review of ``item_id`` holds: pinned, unchanged, not rejected,
    no finding open (every review of that date)."""
    document = project.get("RV", ReviewRecords)
    reviews = [
        r
        for r in (document.reviews if document else [])
        if r.purpose == purpose and any(x.item == item_id for x in r.items)
    ]
    if not reviews:
        return False
    latest = max(r.date for r in reviews)
    inputs = ProjectInputs(project)
    for review in (r for r in reviews if r.date == latest):
        if review.decision == "rejected" or any(f.disposition == "open" for f in review.findings):
            return False
        for item in review.items:
            if item.sha256 != inputs.review_pin(item.item, review.purpose):
                return False
        for doc in review.documents:
            if doc.sha256 != inputs.current(f"file:{doc.file}"):
                return False
    return True


def _supported(case: Case, node_id: str) -> bool:
    node = case.nodes.get(node_id)
    return node is not None and node.status == "supported"


def overclaims(case: Case, project: Project) -> list[str]:
    """Every supported set claim with a member that is not supported, as text (empty:
    the case claims nothing its members do not bear)."""
    problems: list[str] = []
    data = project.data_requirements
    goals = {"relevance": "G3.4", "completeness": "G3.5", "accuracy": "G3.6", "balance": "G3.7"}
    solutions = {"G3.4": "Sn3.2", "G3.5": "Sn3.3", "G3.6": "Sn3.4", "G3.7": "Sn3.5"}
    for requirement in data.requirements if data is not None else []:
        goal = goals[requirement.category]
        if not _supported(case, goal):
            continue
        if requirement.rule is None:
            if not _reviewed(project, requirement.id):
                problems.append(
                    f"{goal} supported but {requirement.id} has no rule and no holding review"
                )
            continue
        passed = _passed(case, [solutions[goal]])
        for letter in requirement.datasets:
            if f"stage3/{requirement.id}/{letter}" not in passed:
                problems.append(
                    f"{goal} supported without a passing stage3/{requirement.id}/{letter}"
                )
    ml = project.ml_requirements
    if _supported(case, "G2.2"):
        for requirement in ml.requirements if ml is not None else []:
            if not _supported(case, f"G5.1.{requirement.id}"):
                problems.append(f"G2.2 supported but G5.1.{requirement.id} is not")
            passed = _passed(case, [f"Sn5.2.{requirement.id}", f"Sn5.3.{requirement.id}"])
            keys = {
                f"stage5/{requirement.id}/P",
                f"stage5/{requirement.id}/formal",
                f"external/{requirement.id}",
            }
            if not keys & set(passed) and not (
                requirement.verified_by in ("review", "analysis")
                and _reviewed(project, requirement.id)
            ):
                problems.append(
                    f"G2.2 supported without a passing stage-5 record of {requirement.id}"
                )
            if f"Sn5.4.{requirement.id}" not in case.nodes:
                continue  # no test leg: nothing on [P] is argued for it
            on_p = _passed(case, [f"Sn5.4.{requirement.id}"])
            for dr in data.requirements if data is not None else []:
                if dr.rule is not None and "P" in dr.datasets and f"stage3/{dr.id}/P" not in on_p:
                    problems.append(f"G5.9.{requirement.id} supported without stage3/{dr.id}/P")
    if _supported(case, "G2.3"):
        results = project.get("J", ValidationResults)
        for requirement in ml.requirements if ml is not None else []:
            dated = [
                (r.date, r.outcome in ("accepted", "accepted_with_changes"))
                for r in (results.records if results is not None else [])
                if requirement.id in r.requirements
            ]
            reviews = project.get("RV", ReviewRecords)
            for review in reviews.reviews if reviews is not None else []:
                if review.purpose == "validation" and any(
                    x.item == requirement.id for x in review.items
                ):
                    dated.append((review.date, _reviewed(project, requirement.id, "validation")))
            if not dated:
                problems.append(f"G2.3 supported but {requirement.id} was never validated")
                continue
            latest = max(d for d, _ in dated)
            if not all(ok for d, ok in dated if d == latest):
                problems.append(
                    f"G2.3 supported but the latest validation of {requirement.id} is not positive"
                )
    scenarios = project.get("EE", OperationalScenarios)
    if _supported(case, "G6.4") and scenarios is not None:
        passed = _passed(case, ["Sn6.2"])
        for scenario in scenarios.scenarios:
            if f"stage6/scenario/{scenario.id}" not in passed:
                problems.append(f"G6.4 supported without a passing record of {scenario.id}")
    system = project.system_requirements
    if _supported(case, "G6.X") and system is not None:
        passed = _passed(case, ["Sn6.X"])
        for hazard in _hazards_of(project):
            if f"stage6/hazard/{hazard}" not in passed:
                problems.append(f"G6.X supported without a passing record of {hazard}")
    return problems


def _hazards_of(project: Project) -> list[str]:
    """The hazards whose chain the component must show: every hazard of [A] for a single
    project; in a system, those its [E] traces to, those its own barrier raises, and
    those no component's [E] traces to."""
    system = project.system_requirements
    hazards = [h.id for h in system.hazards] if system is not None else []
    if project.system_root is None:
        return hazards

    def traced(p: Project) -> set[str]:
        allocated = p.get("E", AllocatedRequirements)
        return {h for a in (allocated.requirements if allocated else []) for h in a.hazards}

    components = load_system(project.system_root, check=False).components
    anyone = set().union(*(traced(p) for p in components.values()))
    own = traced(project)
    description = project.get("C", SystemDescription)
    for barrier in description.barriers if description is not None else []:
        if barrier.component == project.component_id:
            own |= {w.hazard for w in barrier.worsens}
    return [h for h in hazards if h in own or h not in anyone]
