from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from amlas.render._gsn2x_rules import Gsn2xFinding, validate_gsn2x, validate_gsn2x_files


def load(files: dict[str, str]) -> dict[str, Any]:
    return {name: yaml.safe_load(textwrap.dedent(text)) for name, text in files.items()}


def check(files: dict[str, str], **options: bool) -> list[Gsn2xFinding]:
    return validate_gsn2x(load(files), **options)


def one(text: str) -> dict[str, str]:
    return {"case.gsn.yaml": text}


SOLVED = "G1: {supportedBy: Sn1}\nSn1: {}\n"  # a minimal valid argument to hang things on

# (code the document is about, files, the exact set of codes it must produce)
BAD: list[Any] = [
    pytest.param("V01", one("G1: {supportedBy: X1}\nX1: {}"), {"V01"}, id="V01-unknown-prefix"),
    pytest.param("V01", one("G1: {supportedBy: Sn1}\nSn1: some text"), {"V01"}, id="V01-scalar"),
    pytest.param("V01", one("G1: {supportedBy: Sn1}\nSn1: [a]"), {"V01"}, id="V01-list"),
    pytest.param("V01", one(SOLVED + "1: {}"), {"V01"}, id="V01-int-id"),
    pytest.param("V01", one(SOLVED + "A1: {nodeType: Gaol}"), {"V01", "C01"}, id="V01-nodetype"),
    pytest.param("V01", one("G1: {supportedBy: 7}"), {"V01", "V02"}, id="V01-supportedBy-int"),
    pytest.param(
        "V01", one(SOLVED.replace("{}", "{undeveloped: yes please}")), {"V01"}, id="V01-bool"
    ),
    pytest.param("V01", {"x.gsn.yaml": "[G1, G2]"}, {"V01"}, id="V01-document-list"),
    pytest.param("V01", one("module: {brief: b}\n" + SOLVED), {"V01"}, id="V01-module-no-name"),
    pytest.param("V02", one("G1: {}"), {"V02"}, id="V02"),
    pytest.param(
        "V03", one("G1: {supportedBy: Sn1, undeveloped: true}\nSn1: {}"), {"V03"}, id="V03"
    ),
    pytest.param(
        "V04", one("G1: {supportedBy: [Sn1, C1]}\nSn1: {}\nC1: {}"), {"V04"}, id="V04-ctx"
    ),
    pytest.param("V04", one(SOLVED + "Sn1: {inContextOf: C1}\nC1: {}"), {"V04"}, id="V04-source"),
    pytest.param(
        "V04",
        one("G1: {inContextOf: G2, supportedBy: G2}\nG2: {undeveloped: true}"),
        {"V04"},
        id="V04-goal-as-context",
    ),
    pytest.param("V05", one("G1: {supportedBy: [Sn1, Sn1]}\nSn1: {}"), {"V05"}, id="V05"),
    pytest.param(
        "V06",
        one("G0: {supportedBy: G1}\nG1: {supportedBy: [G1, Sn1]}\nSn1: {}"),
        {"V06"},
        id="V06",
    ),
    pytest.param(
        "V07",
        {
            "top.gsn.yaml": "G1: {undeveloped: true}",
            "sup.gsn.yaml": "module: {name: sup, extends: [{module: top, develops: "
            "{G1: [C1]}}]}\nC1: {}",
        },
        {"V07"},
        id="V07-wrong-type",
    ),
    pytest.param("V07", one("module: {name: m, extends: top}\n" + SOLVED), {"V07"}, id="V07-shape"),
    pytest.param(
        "V08",
        one("G1: {supportedBy: Sn1}\nSn1: {nodeType: Goal, undeveloped: true}"),
        {"V08"},
        id="V08",
    ),
    pytest.param(
        "V09", one("G1: {supportedBy: Sn1, acp: {ACP1: Sn2}}\nSn1: {}"), {"V09"}, id="V09"
    ),
    pytest.param("V10", one("G1: {supportedBy: Sn1, defeated: true}\nSn1: {}"), {"V10"}, id="V10"),
    pytest.param(
        "V12",
        one("G1: {supportedBy: [Sn1, Sn2]}\nSn1: {}\nSn2: {challenges: Sn1}"),
        {"V12"},
        id="V12",
    ),
    pytest.param(
        "V13", one("G1: {supportedBy: Sn1, defeatedRelation: Sn2}\nSn1: {}"), {"V13"}, id="V13"
    ),
    pytest.param(
        "C01", one("G1: {undeveloped: true}\nG2: {undeveloped: true}"), {"C01"}, id="C01-two"
    ),
    pytest.param(
        "C01", one("G1: {supportedBy: G2}\nG2: {supportedBy: G1}"), {"C01"}, id="C01-none"
    ),
    pytest.param("C02", one("Sn1: {}"), {"C02"}, id="C02"),
    pytest.param("C03", one("G1: {supportedBy: Sn9}"), {"C03"}, id="C03"),
    pytest.param(
        "C03", one("G1: {supportedBy: Sn1, inContextOf: C9}\nSn1: {}"), {"C03"}, id="C03-ctx"
    ),
    pytest.param(
        "C04",
        one("G1: {supportedBy: G2}\nG2: {supportedBy: G3}\nG3: {supportedBy: G2}"),
        {"C04"},
        id="C04",
    ),
    pytest.param(
        "C06",
        {
            "a.gsn.yaml": "module: {name: m}\nG1: {supportedBy: Sn1}",
            "b.gsn.yaml": "module: {name: m}\nSn1: {}",
        },
        {"C06"},
        id="C06",
    ),
    pytest.param("C07", {"a.gsn.yaml": SOLVED, "b.gsn.yaml": "Sn1: {}"}, {"C07"}, id="C07"),
    pytest.param(
        "C08",
        one(SOLVED + "G2: {supportedBy: G3}\nG3: {supportedBy: G2}"),
        {"C08"},
        id="C08-unreachable-cycle",
    ),
    pytest.param(
        "C08",
        one(SOLVED + "G2: {supportedBy: G3}\nG3: {supportedBy: G2}\nCSn1: {challenges: G2}"),
        {"C08"},
        id="C08-challenger",
    ),
    pytest.param(
        "C09",
        {
            "top.gsn.yaml": "G1: {undeveloped: true}",
            "sup.gsn.yaml": "module: {name: sup, extends: [{module: nope, develops: "
            "{G1: [Sn1]}}]}\nSn1: {}",
        },
        {"C09"},
        id="C09",
    ),
    pytest.param(
        "C10",
        {
            "top.gsn.yaml": SOLVED,
            "sup.gsn.yaml": "module: {name: sup, extends: [{module: top, develops: "
            "{G1: [Sn2]}}]}\nSn2: {}",
        },
        {"C10"},
        id="C10-developed",
    ),
    pytest.param(
        "C10",
        {
            "top.gsn.yaml": SOLVED,
            "sup.gsn.yaml": "module: {name: sup, extends: [{module: top, develops: "
            "{G7: [Sn2]}}]}\nSn2: {}",
        },
        {"C10"},
        id="C10-missing",
    ),
    pytest.param("C11", one('G1: {supportedBy: "Sn1, Sn2"}'), {"C03", "C11"}, id="C11"),
    pytest.param("C12", one(SOLVED + "CSn1: {challenges: G1 -> Sn9}"), {"C12"}, id="C12"),
    pytest.param("C13", one(SOLVED + "CSn1: {challenges: CSn1}"), {"C13"}, id="C13"),
    pytest.param("C14", one(SOLVED + "CSn1: {challenges: G9}"), {"C14"}, id="C14"),
    pytest.param("C15", one(SOLVED + "CSn1: {challenges: G1 -> G1}"), {"C15"}, id="C15"),
    pytest.param(
        "C16",
        one("G1: {supportedBy: [Sn1, Sn2]}\nSn1: {}\nSn2: {}\nCSn1: {challenges: Sn1 -> Sn2}"),
        {"C16"},
        id="C16",
    ),
]
WARNINGS = {"V02", "V05", "V08", "V11", "C11"}


@pytest.mark.parametrize(("code", "files", "codes"), BAD)
def test_each_bad_document_produces_exactly_its_code(
    code: str, files: dict[str, str], codes: set[str]
) -> None:
    findings = check(files)
    assert {f.code for f in findings} == codes, [str(f) for f in findings]
    about = [f for f in findings if f.code == code]
    assert about
    if code != "C01":  # C01: a warning for several top elements, an error for none
        expected = "warning" if code in WARNINGS else "error"
        assert {f.severity for f in about} == {expected}


def test_c01_severity() -> None:
    (several,) = check(one("G1: {undeveloped: true}\nG2: {undeveloped: true}"))
    (none,) = check(one("G1: {supportedBy: G2}\nG2: {supportedBy: G1}"))
    assert (several.severity, none.severity) == ("warning", "error")
    assert several.element is None
    assert "G1, G2" in several.message


def test_v08_only_with_extended_check() -> None:
    files = one("G1: {supportedBy: Sn1}\nSn1: {nodeType: Goal, undeveloped: true}")
    assert [f.code for f in check(files, extended=True)] == ["V08"]
    assert check(files, extended=False) == []


def test_v11_only_when_asked() -> None:
    files = one(SOLVED + "CSn1: {challenges: Sn1}")
    assert check(files) == []
    (finding,) = check(files, warn_dialectic=True)
    assert (finding.code, finding.severity) == ("V11", "warning")
    assert "CSn1" in finding.message


def test_finding_format_and_fields() -> None:
    (finding,) = check(one("G1: {supportedBy: Sn9}"))
    assert (finding.module, finding.element) == ("case", "G1")
    assert "Sn9" in finding.message
    assert str(finding) == f"Error: (case) (C03): {finding.message}"
    (warning,) = check(one("G1: {}"))
    assert str(warning).startswith("Warning: (case) (V02): ")


def test_prefix_order_counter_types_are_not_contexts() -> None:
    # CG1 and CSn1 must be typed CounterGoal / CounterSolution, not Context: as contexts they
    # could not be supportedBy targets (V04) nor carry `challenges` (V12).
    files = one(SOLVED + "CG1: {challenges: Sn1, supportedBy: CSn1}\nCSn1: {}")
    assert check(files) == []


def test_counter_elements_in_support_relations() -> None:
    # Goals may be supported by CounterGoals/CounterSolutions; a CounterGoal only by those.
    valid = one("G1: {supportedBy: [Sn1, CG1]}\nSn1: {}\nCG1: {supportedBy: CSn1}\nCSn1: {}")
    assert check(valid) == []
    invalid = one("G1: {supportedBy: CG1}\nCG1: {supportedBy: Sn1}\nSn1: {}")
    assert [(f.code, f.element) for f in check(invalid)] == [("V04", "CG1")]


def test_each_cycle_reported_once() -> None:
    files = one(
        "G1: {supportedBy: [G2, G4]}\n"
        "G2: {supportedBy: S2}\nS2: {supportedBy: G3}\nG3: {supportedBy: G2}\n"
        "G4: {supportedBy: G5}\nG5: {supportedBy: G4}\n"
    )
    cycles = [f for f in check(files) if f.code == "C04"]
    assert [f.element for f in cycles] == ["G2", "G4"]
    assert "G2 -> S2 -> G3 -> G2" in cycles[0].message


def test_relation_targets_in_another_module_are_typed_after_loading() -> None:
    files = {"a.gsn.yaml": "G1: {supportedBy: C1}", "b.gsn.yaml": "C1: {}"}
    (finding,) = check(files)
    assert (finding.code, finding.module, finding.element) == ("V04", "a", "G1")


def test_findings_are_sorted() -> None:
    findings = check(
        {"b.gsn.yaml": "G1: {supportedBy: [Sn1, Sn1, X1]}\nX1: {}", "a.gsn.yaml": "Sn1: {}\nG2: {}"}
    )
    keys = [(f.module, f.code, f.element or "") for f in findings]
    assert keys == sorted(keys)
    assert {f.module for f in findings} == {"a", "b"}


@pytest.mark.parametrize(
    "doc",
    [
        None,
        "text",
        42,
        {"module": "m"},
        {"module": {"name": 3, "uses": "x"}},
        {"G1": None, "Sn1": {"acp": "x"}, None: {}},
        {"G1": {"supportedBy": [1, None], "challenges": ["a"], "defeatedRelation": {}}},
        {"CSn1": {"challenges": "->"}, "G1": {"acp": {"A": [1]}, "classes": "x"}},
        {"module": {"name": "m", "extends": [{"module": "m", "develops": {"G1": 5}}, "x"]}},
    ],
)
def test_malformed_input_gives_findings_not_exceptions(doc: Any) -> None:
    findings = validate_gsn2x({"odd.gsn.yaml": doc})
    assert all(isinstance(f, Gsn2xFinding) for f in findings)
    if doc is not None:  # an empty file is an empty module
        assert findings


INDEX = """\
module: {name: index, brief: Top of the case, uses: [stage1.gsn.yaml, stage2.gsn.yaml]}
G1:
  text: The ML component is acceptably safe
  supportedBy: [S1]
  inContextOf: C1
  acp: {ACP-top: S1}
C1: {text: Operating domain}
S1: {text: Argue over the stages, supportedBy: [G2, G3, G4]}
G4: {text: Supplier part, undeveloped: true}
"""
STAGE1 = """\
module: {name: stage1, brief: Requirements}
G2: {text: Requirements are right, supportedBy: Sn1, defeated: true}
Sn1: {text: Review record, url: evidence/review.json}
"""
STAGE2 = """\
module:
  name: stage2
  brief: Verification
  extends: [{module: index, develops: {G4: [Sn3]}}]
G3: {text: Model is verified, supportedBy: [Sn2], defeatedRelation: Sn2}
Sn2: {text: Test results}
Sn3: {text: Supplier evidence}
CSn1: {text: Review missed a case, challenges: G2}
CSn2: {text: Tests leaked into training, challenges: G3 -> Sn2}
"""
CASE = {"index.gsn.yaml": INDEX, "stage1.gsn.yaml": STAGE1, "stage2.gsn.yaml": STAGE2}


def test_valid_multi_module_case_has_no_findings() -> None:
    assert check(CASE) == []
    assert check(CASE, extended=False) == []


def test_multi_module_case_is_checked_across_modules() -> None:
    # Without stage2, S1's G3 is unresolved and nothing challenges the defeated G2.
    findings = check({k: v for k, v in CASE.items() if k != "stage2.gsn.yaml"})
    assert {(f.code, f.module, f.element) for f in findings} == {
        ("C03", "index", "S1"),
        ("V10", "stage1", "G2"),
    }


SECTION_4_8 = """\
module:
  name: AMLAS-Stage5
  brief: ML model verification argument (instantiated)

G5.1:
  text: ML safety requirement MLSR-03 (recall >= 0.97 on pedestrians, fog ODD slice) is satisfied
  supportedBy: [G5.2, S5.1]
  acp: {ACP-stat: S5.1}

G5.2:
  text: Verification of the model is independent of its development
  supportedBy: [Sn5.1]

Sn5.1:
  text: Verification log and sealed-data manifest
  url: evidence/verification_log.json
  sha256: "3f1c…"          # additional layer, shown with -l sha256
  evaluated: 2026-07-03T09:41Z

S5.1:
  text: Argument over test-based verification
  inContextOf: [C5.1, J5.1]
  supportedBy: [G5.3, G5.6]

C5.1:
  text: Verification data set VD-2 (n = 4,812 images, ODD slices listed)

J5.1:
  text: Test-based verification chosen; formal verification infeasible at this model size

G5.3:
  text: Lower 95 % Clopper-Pearson bound of recall on VD-2 exceeds 0.97
  supportedBy: [Sn5.2]

Sn5.2:
  text: Verification test results (bound 0.974)
  classes: [fresh, pass]

G5.6:
  text: Test platform is sufficiently representative of the operational platform
  undeveloped: true

CSn5.9:
  text: Near-duplicate check found 3 VD-2 images similar to training images
  challenges: G5.2
"""


def test_gsn2x_md_section_4_8_example() -> None:
    files = {"stage5.gsn.yaml": SECTION_4_8}
    assert load(files)["stage5.gsn.yaml"]["Sn5.1"]["sha256"] == "3f1c…"
    # A valid fragment: one top goal, the ACP sits on a supportedBy relation, the
    # CounterSolution is not a root and is reachable through what it challenges.
    assert check(files) == []
    (finding,) = check(files, warn_dialectic=True)
    assert (finding.code, finding.module, finding.message) == (
        "V11",
        "AMLAS-Stage5",
        "Dialectic elements are used: CSn5.9.",
    )
    # Marking the challenged goal defeated is fine; marking an unchallenged one is V10.
    defeated = SECTION_4_8.replace(
        "  supportedBy: [Sn5.1]\n", "  supportedBy: [Sn5.1]\n  defeated: true\n"
    )
    assert check({"stage5.gsn.yaml": defeated}) == []
    wrong = SECTION_4_8.replace(
        "  supportedBy: [Sn5.2]\n", "  supportedBy: [Sn5.2]\n  defeated: true\n"
    )
    assert [(f.code, f.element) for f in check({"stage5.gsn.yaml": wrong})] == [("V10", "G5.3")]


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")


def test_files_follow_uses(tmp_path: Path) -> None:
    write(tmp_path, CASE)
    assert validate_gsn2x_files([tmp_path / "index.gsn.yaml"]) == []
    # A problem in a used file shows up under that file's module, so it was loaded.
    write(tmp_path, {"stage1.gsn.yaml": STAGE1.replace("supportedBy: Sn1, ", "")})
    findings = validate_gsn2x_files([tmp_path / "index.gsn.yaml"])
    assert ("stage1", "V02", "G2") in {(f.module, f.code, f.element) for f in findings}


def test_files_uses_is_relative_to_the_including_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "index.gsn.yaml": "module: {name: index, uses: [sub/a.gsn.yaml]}\n"
            "G1: {supportedBy: [Sn1, Sn2]}",
            "sub/a.gsn.yaml": "module: {name: a, uses: [b.gsn.yaml]}\nSn1: {}",
            "sub/b.gsn.yaml": "Sn2: {}",
        },
    )
    assert validate_gsn2x_files([tmp_path / "index.gsn.yaml"]) == []


def test_files_reject_circular_uses(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a.gsn.yaml": "module: {name: a, uses: [b.gsn.yaml]}\nG1: {supportedBy: Sn1}",
            "b.gsn.yaml": "module: {name: b, uses: [a.gsn.yaml]}\nSn1: {}",
        },
    )
    findings = validate_gsn2x_files([tmp_path / "a.gsn.yaml"])
    assert [(f.code, f.module) for f in findings] == [("L01", "b")]
    assert "a.gsn.yaml -> b.gsn.yaml -> a.gsn.yaml" in findings[0].message


def test_files_report_missing_and_broken_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "index.gsn.yaml": "module: {name: index, uses: [gone.gsn.yaml, bad.gsn.yaml]}\n"
            "G1: {undeveloped: true}",
            "bad.gsn.yaml": "G2: [unclosed\n",
        },
    )
    findings = validate_gsn2x_files([tmp_path / "index.gsn.yaml"])
    assert [(f.code, f.module) for f in findings] == [("L01", "index"), ("L01", "index")]
    assert any("gone.gsn.yaml" in f.message for f in findings)
    assert any("bad.gsn.yaml" in f.message for f in findings)
