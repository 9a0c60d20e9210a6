"""Issue 12: `amlas case --out` and `amlas report -o` never replace what amlas did not
write: the project, its data, a report, a user's notes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from amlas.errors import UsageError
from cli_helpers import run
from runnable import runnable

MARKER = ".amlas-output"
SIGNATURE = '<meta name="generator" content="amlas">'


pytestmark = pytest.mark.usefixtures("fresh_model")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return runnable(tmp_path / "mini")


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and its hash, but the hash cache that building a case refreshes."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".amlas" not in p.relative_to(folder).parts
    }


@pytest.mark.parametrize(
    "out",
    [
        "mini",
        ".",
        "mini/data",
        "mini/1-scoping",
        "mini/evidence",
        "mini/evidence/cases",
        "mini/model",
    ],
)
def test_case_never_replaces_the_project(
    root: Path, out: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # the defect: `amlas case DIR --out DIR` exited 0 and the whole project was gone
    before = snapshot(root.parent)
    code, _, err = run(capsys, "case", str(root), "--no-svg", "--out", str(root.parent / out))
    assert code == 2, err
    assert f"{root.parent / out}: F010 error:" in err
    assert "nothing was written" in err
    assert snapshot(root.parent) == before


def test_case_refuses_a_folder_of_someone_elses_files(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "left-over.txt").write_text("not amlas's")
    code, _, err = run(capsys, "case", str(root), "--out", str(out), "--no-svg")
    assert code == 2
    assert f"{out}: F011 error: holds files amlas did not write (left-over.txt)" in err
    assert snapshot(out) == {"left-over.txt": hashlib.sha256(b"not amlas's").hexdigest()}


def test_case_refuses_a_file_added_to_its_own_folder(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "case", str(root), "--no-svg")
    assert code == 0, err
    target = root / "safety-case"
    (target / "gsn" / "review-notes.md").write_text("my review")
    before = snapshot(target)
    code, _, err = run(capsys, "case", str(root), "--no-svg")
    assert code == 2
    assert "F011" in err
    assert "gsn/review-notes.md" in err
    assert snapshot(target) == before


def test_case_marks_its_folder_and_replaces_only_its_own_files(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()  # empty: fine
    code, _, err = run(capsys, "case", str(root), "--out", str(out))
    assert code == 0, err
    marker = json.loads((out / MARKER).read_text())
    assert marker["command"] == "amlas case"
    assert marker["version"]
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert sorted(marker["files"]) == [n for n in written if n != MARKER]
    assert "svg/case.svg" in marker["files"]
    code, _, err = run(capsys, "case", str(root), "--out", str(out), "--no-svg")
    assert code == 0, err
    assert not (out / "svg").exists()  # amlas's own earlier files go
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_a_report_in_the_case_folder_survives_the_next_case(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the defect: `amlas case` after `amlas report` deleted safety-case/report.html
    code, _, err = run(capsys, "report", str(root))
    assert code == 0, err
    report = root / "safety-case" / "report.html"
    report.write_text(report.read_text().replace("</title>", "</title><!-- STALE -->"))
    code, _, err = run(capsys, "case", str(root), "--no-svg")
    assert code == 0, err
    text = report.read_text()
    assert SIGNATURE in text
    assert "STALE" not in text  # rebuilt with the case, never left describing an older one
    marker = json.loads((root / "safety-case" / MARKER).read_text())
    assert marker["files"]["report.html"] == "amlas report"
    assert marker["files"]["case.json"] == "amlas case"
    # and again: still there, still registered, the case still replaceable
    code, _, err = run(capsys, "case", str(root), "--no-svg")
    assert code == 0, err
    assert SIGNATURE in report.read_text()


def test_a_report_written_after_the_case_registers_itself(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "case", str(root), "--no-svg")[0] == 0
    target = root / "safety-case" / "views" / "for-assessor.html"
    code, _, err = run(capsys, "report", str(root), "-o", str(target))
    assert code == 0, err
    marker = json.loads((root / "safety-case" / MARKER).read_text())
    assert marker["files"]["views/for-assessor.html"] == "amlas report"
    assert not (target.parent / MARKER).exists()
    code, _, err = run(capsys, "case", str(root), "--no-svg")
    assert code == 0, err
    assert SIGNATURE in target.read_text()


def test_a_printed_report_is_reprinted_or_removed_with_a_warning(
    root: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    printed: list[str] = []

    def fake_pdf(html: str, out: Path) -> None:
        printed.append(html)
        out.write_bytes(b"%PDF-1.7 printed")

    monkeypatch.setattr("amlas.cli._main.render_pdf", fake_pdf)
    pdf = root / "safety-case" / "report.pdf"
    code, _, err = run(capsys, "report", str(root), "--pdf", str(pdf))
    assert code == 0, err
    assert json.loads((root / "safety-case" / MARKER).read_text())["files"]["report.pdf"] == (
        "amlas report --pdf"
    )
    pdf.write_bytes(b"%PDF-1.7 old")
    code, _, err = run(capsys, "case", str(root), "--no-svg")
    assert code == 0, err
    assert pdf.read_bytes() == b"%PDF-1.7 printed"  # reprinted with the new case

    def no_pdf(html: str, out: Path) -> None:
        raise UsageError("PDF export needs Playwright")

    monkeypatch.setattr("amlas.cli._main.render_pdf", no_pdf)
    code, _, err = run(capsys, "case", str(root), "--no-svg")
    assert code == 0, err
    assert f"removed {pdf}, a print of the previous case: PDF export needs Playwright" in err
    assert not pdf.exists()
    assert "report.pdf" not in json.loads((root / "safety-case" / MARKER).read_text())["files"]


@pytest.mark.parametrize(
    "output", ["amlas.yaml", "data/dev.csv", "3-data/P-verification-data.yaml"]
)
def test_report_never_overwrites_a_project_file(
    root: Path, output: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(root)
    code, _, err = run(capsys, "report", str(root), "-o", str(root / output))
    assert code == 2
    assert f"{root / output}: F010 error:" in err
    assert snapshot(root) == before


def test_report_overwrites_only_its_own_file(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.html").write_text("<html>the team's page</html>")
    code, _, err = run(capsys, "report", str(root), "-o", str(docs / "index.html"))
    assert code == 2
    assert "F011" in err
    assert (docs / "index.html").read_text() == "<html>the team's page</html>"
    # a report of its own, in the user's folder: written twice, no marker dropped there
    for _ in range(2):
        code, _, err = run(capsys, "report", str(root), "-o", str(docs / "case.html"))
        assert code == 0, err
    assert sorted(p.name for p in docs.iterdir()) == ["case.html", "index.html"]


def test_a_case_folder_of_the_release_before_the_marker_is_still_replaced(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "case", str(root))[0] == 0
    assert run(capsys, "report", str(root))[0] == 0
    target = root / "safety-case"
    (target / MARKER).unlink()  # as amlas 0.1.0 left it
    code, _, err = run(capsys, "case", str(root), "--no-svg")
    assert code == 0, err
    marker = json.loads((target / MARKER).read_text())
    assert marker["files"]["report.html"] == "amlas report"
    # but not once something else is in it
    (target / MARKER).unlink()
    (target / "notes.txt").write_text("mine")
    code, _, err = run(capsys, "case", str(root), "--no-svg")
    assert code == 2
    assert "F011" in err
    assert (target / "notes.txt").read_text() == "mine"


def test_report_pdf_never_overwrites_a_pdf_amlas_did_not_write(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review finding: every PDF starts with %PDF-, so that is no mark of ours; only the
    output marker says a PDF is amlas's to replace."""

    def fake_pdf(html: str, out: Path) -> None:
        out.write_bytes(b"%PDF-1.7 printed")

    monkeypatch.setattr("amlas.cli._main.render_pdf", fake_pdf)
    thesis = tmp_path / "mine" / "thesis.pdf"
    thesis.parent.mkdir()
    thesis.write_bytes(b"%PDF-1.5 a year of work")
    code, _, err = run(capsys, "report", str(root), "--pdf", str(thesis))
    assert code == 2, err
    assert "F011" in err
    assert thesis.read_bytes() == b"%PDF-1.5 a year of work"


def test_opened_sealed_detail_is_never_written_into_the_project(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Review finding: `amlas case DIR --key-file K` wrote the opened [P] detail into
    DIR/safety-case/, which the development team reads."""
    key = tmp_path / "keys" / "verifier.key"
    assert run(capsys, "keygen", str(key))[0] == 0
    for argv in (
        ("case", str(root), "--no-svg", "--key-file", str(key)),
        ("report", str(root), "--key-file", str(key)),
        (
            "report",
            str(root),
            "-o",
            str(tmp_path / "r.html"),
            "--pdf",
            str(root / "r.pdf"),
            "--key-file",
            str(key),
        ),
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2, err
        assert "inside the project" in err
    assert not (root / "safety-case").exists()
    assert not (tmp_path / "r.html").exists()
    code, _, err = run(
        capsys, "case", str(root), "--no-svg", "--out", str(tmp_path / "c"), "--key-file", str(key)
    )
    assert code == 0, err
