"""Every rendering of a case whose evidence holds per-sample detail sealed for the verifier:
without the key no sample of [P] shows and the output says the detail is sealed; with the
key (the detail opened) the samples show and the output says so."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml
from case_factory import make_case
from test_report import placeholder_svgs

from amlas.case import Case
from amlas.evidence import open_evidence_detail
from amlas.evidence._detail import seal_record_detail
from amlas.render import render_case_json, render_case_junit, render_case_markdown
from amlas.render._gsn2x import render_gsn2x
from amlas.render._gsn2x_rules import validate_gsn2x
from amlas.render._html import render_report
from amlas.sealing import VerifierKey, generate_key
from report_fragments import expanded

P_SAMPLES = ("p-0007", "p-0019")
"""The failing [P] samples the factory's recall record names."""
NOTE = '<p class="sealed-note">'
"""The report's overview note (the page script words its per-record notes itself)."""


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> VerifierKey:
    return generate_key(tmp_path_factory.mktemp("keys") / "verifier.key")


def sealed_case(key: VerifierKey) -> Case:
    case = make_case()
    evidence = {
        digest: seal_record_detail(record, sealed=["P"], key=key)
        for digest, record in case.evidence.items()
    }
    return dataclasses.replace(case, evidence=evidence)


def outputs(case: Case) -> dict[str, str]:
    out = {
        "case.json": render_case_json(case),
        "case.md": render_case_markdown(case),
        "case.junit.xml": render_case_junit(case),
        # its fragments inflated: compressed text must not hide a leak from the check
        "report.html": expanded(render_report(case, svgs=placeholder_svgs())),
    }
    out.update({f"gsn/{name}": text for name, text in render_gsn2x(case).items()})
    return out


def test_the_factory_case_names_p_samples_before_sealing() -> None:
    # the check below is only worth something for the outputs that show the samples when
    # unsealed: the JSON case and the report (Markdown, JUnit and gsn2x name no sample)
    shown = {
        name
        for name, text in outputs(make_case()).items()
        if all(sample in text for sample in P_SAMPLES)
    }
    assert shown == {"case.json", "report.html"}


def test_without_the_key_no_output_names_a_p_sample(key: VerifierKey) -> None:
    case = sealed_case(key)
    assert any(r.sealed_detail is not None for r in case.evidence.values())
    rendered = outputs(case)
    for name, text in rendered.items():
        leaked = [s for s in P_SAMPLES if s in text]
        assert not leaked, (name, leaked)
    for name in ("case.md", "case.junit.xml", "gsn/stage5.gsn.yaml"):
        assert "sealed for the verifier" in rendered[name], name
    assert NOTE in rendered["report.html"]
    assert key.key_id in rendered["case.md"]
    summary = json.loads(rendered["case.json"])["sealed_detail"]
    assert {entry["status"] for entry in summary.values()} == {"sealed"}
    assert {entry["key"] for entry in summary.values()} == {"stage5/metric/MLR-1"}


def test_the_gsn2x_note_keeps_the_files_valid(key: VerifierKey) -> None:
    files = render_gsn2x(sealed_case(key))
    parsed = {name: yaml.safe_load(text) for name, text in files.items()}
    note = parsed["stage5.gsn.yaml"]["module"]["additionalInformation"]["sealed_detail"]
    assert "sealed for the verifier" in note
    plain = {name: yaml.safe_load(text) for name, text in render_gsn2x(make_case()).items()}
    assert {str(f) for f in validate_gsn2x(parsed)} == {str(f) for f in validate_gsn2x(plain)}


def test_with_the_key_every_output_can_show_them(key: VerifierKey) -> None:
    case = sealed_case(key)
    opened = dataclasses.replace(case, evidence=open_evidence_detail(case.evidence, key))
    rendered = outputs(opened)
    for name in ("case.json", "report.html"):
        assert all(sample in rendered[name] for sample in P_SAMPLES), name
    assert "opened with the verifier key" in rendered["case.md"]
    summary = json.loads(rendered["case.json"])["sealed_detail"]
    assert {entry["status"] for entry in summary.values()} == {"opened"}


def test_a_case_without_sealed_detail_says_nothing_about_it() -> None:
    rendered = outputs(make_case())
    assert NOTE not in rendered["report.html"]
    for name, text in rendered.items():
        if name != "report.html":  # its page script holds the words for sealed records
            assert "sealed for the verifier" not in text, name
    assert json.loads(rendered["case.json"])["sealed_detail"] == {}
