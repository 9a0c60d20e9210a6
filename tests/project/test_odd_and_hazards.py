"""Fixed ODD conditions, hazard classification (ISO 26262's S/E/C and ASIL, or a domain's
own scheme), the manifest's optional criticality, and the hashes of projects that use none
of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from amlas import check_project
from amlas.evidence import canonical_hash
from amlas.project import Manifest, build_trace
from amlas.project.artefacts import (
    ASIL_TABLE,
    DomainClassification,
    Hazard,
    Iso26262Classification,
    determine_asil,
)
from factory import documents, write_project

# ISO 26262-3:2018, Table 4, as the standard prints it: one row per severity and exposure,
# the ASIL for C1, C2 and C3.
TABLE_4 = """
S1 E1 QM QM QM
S1 E2 QM QM QM
S1 E3 QM QM A
S1 E4 QM A  B
S2 E1 QM QM QM
S2 E2 QM QM A
S2 E3 QM A  B
S2 E4 A  B  C
S3 E1 QM QM A
S3 E2 QM A  B
S3 E3 A  B  C
S3 E4 B  C  D
"""


def test_the_asil_of_every_class_combination_is_table_4s() -> None:
    printed = {}
    for line in TABLE_4.strip().splitlines():
        s, e, *asils = line.split()
        for c, asil in zip(("C1", "C2", "C3"), asils, strict=True):
            printed[(s, e, c)] = asil
    assert len(printed) == 36
    checked = 0
    for s in ("S0", "S1", "S2", "S3"):
        for e in ("E0", "E1", "E2", "E3", "E4"):
            for c in ("C0", "C1", "C2", "C3"):
                expected = printed.get((s, e, c), "QM")  # any class 0: no ASIL, QM
                assert determine_asil(s, e, c) == expected, (s, e, c)
                checked += 1
    assert checked == 80
    # the well-known reading of the table: S + E + C of 10 is D, 9 C, 8 B, 7 A, else QM
    for (s, e), row in ASIL_TABLE.items():
        for c, asil in enumerate(row, start=1):
            total = int(s[1]) + int(e[1]) + c
            assert asil == {10: "D", 9: "C", 8: "B", 7: "A"}.get(total, "QM")


def test_a_classification_determines_its_asil_and_severity_stays_valid() -> None:
    hazard = Hazard.model_validate(
        {
            "id": "HAZ-1",
            "description": "pedestrian struck",
            "severity": "catastrophic",
            "classification": {
                "scheme": "iso26262",
                "severity": "S3",
                "exposure": "E4",
                "controllability": "C2",
            },
        }
    )
    assert isinstance(hazard.classification, Iso26262Classification)
    assert hazard.classification.determined_asil == "C"
    own = Hazard.model_validate(
        {
            "id": "HAZ-2",
            "description": "wrong dose",
            "classification": {
                "scheme": "Trust risk matrix v3",
                "fields": {"likelihood": "remote", "consequence": "major"},
                "result": "medium risk",
            },
        }
    )
    assert isinstance(own.classification, DomainClassification)
    assert own.severity is None
    old = Hazard.model_validate({"id": "HAZ-3", "description": "x", "severity": "minor"})
    assert old.model_dump() == {"id": "HAZ-3", "description": "x", "severity": "minor"}


def _check(tmp_path: Path, change: Any) -> Any:
    docs = documents()
    change(docs)
    return check_project(write_project(tmp_path / "p", docs))


def test_a_stated_asil_that_agrees_with_the_table_is_clean(tmp_path: Path) -> None:
    def classify(docs: dict[str, Any]) -> None:
        docs["A"]["hazards"][0]["classification"] = {
            "scheme": "iso26262",
            "severity": "S2",
            "exposure": "E0",
            "controllability": "C3",
            "asil": "QM",
        }

    result = _check(tmp_path, classify)
    assert not [d for d in result.diagnostics if d.code.startswith(("Q017", "S"))]


CONDITIONS = [
    {
        "id": "ODD-C1",
        "name": "Site",
        "condition": "the press hall only",
        "assured_by": "design",
        "rationale": "the press is bolted to the floor of the hall",
    },
    {
        "id": "ODD-C2",
        "name": "Ambient temperature",
        "condition": "5-35 degC",
        "assured_by": "monitor",
        "rationale": "the controller's thermometer stops the press outside the range",
        "monitored_by": ["EB-1", "BAR-1"],
    },
    {
        "id": "ODD-C3",
        "name": "Operators",
        "condition": "trained operators only",
        "assured_by": "assumption",
        "rationale": "the site's training records; not enforced by the system",
    },
]


def test_fixed_conditions_check_clean_and_show_in_the_trace_matrix(tmp_path: Path) -> None:
    result = _check(tmp_path, lambda docs: docs["B"].update(conditions=CONDITIONS))
    assert not result.diagnostics.has_errors, [d.format() for d in result.diagnostics]
    matrix = build_trace(result.project)
    assert [(c.condition, c.assured_by, c.monitored_by) for c in matrix.conditions] == [
        ("ODD-C1", "design", ()),
        ("ODD-C2", "monitor", ("EB-1", "BAR-1")),
        ("ODD-C3", "assumption", ()),
    ]
    assert matrix.gap_count == 0
    assert matrix.to_dict()["odd_conditions"][1]["monitored_by"] == ("EB-1", "BAR-1")
    definitions = {d.id: d.kind for d in result.project.definitions()}
    assert definitions["ODD-C2"] == "odd_condition"


def test_a_monitored_condition_without_its_monitor_is_a_trace_gap(tmp_path: Path) -> None:
    unmonitored = [{**CONDITIONS[1], "monitored_by": []}]
    result = _check(tmp_path, lambda docs: docs["B"].update(conditions=unmonitored))
    assert "D027" in result.diagnostics.codes()
    matrix = build_trace(result.project)
    assert matrix.conditions[0].gaps == ("ODD-C2 is assured by a monitor but names none",)
    assert matrix.gap_count == 1


def test_a_project_without_conditions_keeps_its_trace_output(tmp_path: Path) -> None:
    result = _check(tmp_path, lambda docs: None)
    assert set(build_trace(result.project).to_dict()) == {"rows", "gaps", "missing_artefacts"}


# -- criticality -------------------------------------------------------------------------------


def test_criticality_defaults_to_high_and_says_so() -> None:
    stated = Manifest.model_validate(
        {"amlas": 1, "name": "x", "component": "c", "criticality": "low"}
    )
    assert (stated.effective_criticality, stated.criticality_defaulted) == ("low", False)
    assert stated.criticality_text == "'low'"
    unstated = Manifest.model_validate({"amlas": 1, "name": "x", "component": "c"})
    assert (unstated.effective_criticality, unstated.criticality_defaulted) == ("high", True)
    assert unstated.criticality_text == "'high' (the default: amlas.yaml states no criticality)"
    assert "criticality" not in unstated.model_dump()


@pytest.mark.parametrize(
    ("criticality", "message"),
    [
        (None, "criticality is 'high' (the default: amlas.yaml states no criticality) but"),
        ("high", "criticality is 'high' but no verifier"),
        ("very_high", "criticality is 'very_high' but no verifier"),
        ("medium", None),
    ],
)
def test_the_independent_verifier_rule_reads_the_effective_criticality(
    tmp_path: Path, criticality: str | None, message: str | None
) -> None:
    def change(docs: dict[str, Any]) -> None:
        docs["AA"]["verifiers"][0]["independent"] = False
        if criticality is not None:
            docs["manifest"]["criticality"] = criticality

    found = [d.message for d in _check(tmp_path, change).diagnostics if d.code == "M012"]
    if message is None:
        assert found == []
    else:
        assert len(found) == 1, found
        assert message in found[0], found


# -- unset new fields leave existing hashes alone ----------------------------------------------


def test_unset_new_fields_leave_every_hash_unchanged(tmp_path: Path) -> None:
    """The dumps (and so the input hashes evidence cites) of a project that uses none of
    the new fields are those written before they existed: pinned here."""
    project = _check(tmp_path, lambda docs: None).project
    environment = project.environment
    assert environment is not None
    assert "conditions" not in environment.model_dump()
    size = environment.dimensions[0].model_dump()
    assert "bandings" not in size
    assert set(size["bands"][0]) == {"name", "min", "max", "description"}
    requirement = project.ml_requirements.requirements[0]  # type: ignore[union-attr]
    assert set(requirement.applies_to.model_dump()) == {"where", "per"}
    rule = project.data_requirements.requirements[1].rule  # type: ignore[union-attr]
    assert "banding" not in rule.model_dump(by_alias=True)
    assert "classification" not in project.system_requirements.hazards[0].model_dump()  # type: ignore[union-attr]
    assert canonical_hash(environment) == PINNED["environment"]
    assert canonical_hash(requirement) == PINNED["MLR-1"]
    assert canonical_hash(project.data_requirements.requirements[1]) == PINNED["DR-2"]  # type: ignore[union-attr]
    assert canonical_hash(project.system_requirements) == PINNED["A"]


PINNED = {  # computed on main before these fields existed
    "environment": "fe32e95c5ca502c19654ccf893e78574302a2a5f2630b9a369bc8a131fbb7107",
    "MLR-1": "ec25dd1fb86687a5625cc5129b337ba9a53ae2fb113dad29e247399576629b7d",
    "DR-2": "a2c43598e1c135e349be9efd4caaa8928054d40d14a9a5e1e3438c180609562e",
    "A": "f7d3eddf006f11d7f47acb15fb3d3a19fa66a4e5c43cc84e5ee475ca95a696a2",
}


# -- the worked examples of docs/artefacts.md -------------------------------------------------


def test_every_worked_example_loads_and_names_what_b_declares() -> None:
    import yaml

    from amlas.project._worked import WORKED_EXAMPLES
    from amlas.project.artefacts import (
        DataRequirement,
        MLSafetyRequirement,
        OperatingEnvironment,
        SystemSafetyRequirements,
    )

    loaded = {key: yaml.safe_load(text) for key, (_, text) in WORKED_EXAMPLES.items()}
    manifest = Manifest.model_validate(loaded["manifest"])
    assert manifest.criticality_defaulted
    hazards = SystemSafetyRequirements.model_validate(loaded["A"]).hazards
    assert isinstance(hazards[0].classification, Iso26262Classification)
    assert hazards[0].classification.asil == hazards[0].classification.determined_asil
    environment = OperatingEnvironment.model_validate(loaded["B"])
    distance = environment.dimension("distance")
    assert distance is not None
    assert distance.kind == "numeric"
    for item in loaded["H"]["requirements"]:
        applies_to = MLSafetyRequirement.model_validate(item).applies_to
        for dim_id, bands in applies_to.where.items():
            dimension = environment.dimension(dim_id)
            assert dimension is not None
            assert set(bands) <= set(dimension.slice_values(applies_to.banding_of(dim_id)))
    for item in loaded["L"]["requirements"]:
        rule = DataRequirement.model_validate(item).rule
        named = rule.banding if isinstance(rule.banding, dict) else {"distance": rule.banding}  # type: ignore[union-attr]
        for dim_id, banding in named.items():
            assert banding in distance.bandings, (dim_id, banding)  # type: ignore[union-attr]


def test_the_json_schemas_take_the_worked_examples_and_refuse_a_bad_asil() -> None:
    import jsonschema
    import yaml

    from amlas.project import schema_documents
    from amlas.project._worked import WORKED_EXAMPLES

    documents = schema_documents()
    for key, schema_name in (("A", "A"), ("B", "B"), ("manifest", "manifest")):
        schema = yaml.safe_load(documents[f"{schema_name}.schema.json"])
        jsonschema.validate(yaml.safe_load(WORKED_EXAMPLES[key][1]), schema)
    schema = yaml.safe_load(documents["A.schema.json"])
    bad = yaml.safe_load(WORKED_EXAMPLES["A"][1])
    bad["hazards"][0]["classification"]["exposure"] = "E5"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    own = yaml.safe_load(WORKED_EXAMPLES["A"][1])
    own["hazards"][1]["classification"]["scheme"] = "iso26262"  # ISO's name, not ISO's fields
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(own, schema)
