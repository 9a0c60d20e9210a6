"""Issue 12: the sealed verification data [P] must not leak through what is computed from it.

Both bundled examples go through the demo's AMLAS job (``make demo``'s ``demo_example``:
seal [P], run as the development team, as the verifier with the key, stage 6, then the
case and the report), and every file and every line of output the development team can
read is searched for every sample id of [P] and every distinctive [P] value: none may
appear. The case and report the verifier builds with the key do show the [P] samples.
"""

from __future__ import annotations

import csv
import re
import shutil
import sys
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from amlas import check_project
from amlas.case import build_case
from amlas.render import _html
from amlas.sealing import load_key
from cli_helpers import run_quietly
from conftest import EXAMPLE, REPO
from overclaim import overclaims
from report_fragments import expanded

CHESS = REPO / "examples" / "chess-robot-grasp"
EXAMPLES = {"breast-cancer-triage": EXAMPLE, "chess-robot-grasp": CHESS}


@dataclass
class Built:
    """What the demo job left: developer-readable text by name, the verifier's with the key."""

    p_ids: set[str]
    p_values: set[str]
    readable: dict[str, str] = field(default_factory=dict)
    with_key: dict[str, str] = field(default_factory=dict)
    wrong_key: tuple[int, str] = (0, "")
    root: Path | None = None
    """The project the demo job ran on."""
    key: Path | None = None
    """The verifier key it was sealed for."""


_amlas = run_quietly


def _p_columns(root: Path) -> dict[str, list[str]]:
    """Every column of the example's plaintext [P], as text (images left out)."""
    if root == CHESS:
        with np.load(root / "data" / "verification.npz", allow_pickle=False) as archive:
            return {n: [str(v) for v in archive[n].tolist()] for n in archive.files if n != "image"}
    with (root / "data" / "verification.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {name: [row[name] for row in rows] for name in rows[0]}


def _other_text(root: Path) -> str:
    """The text of everything in the example but [P]: a value found there is not distinctive."""
    parts = []
    for path in root.rglob("*"):
        if path.is_file() and "verification" not in path.name:
            if path.suffix == ".npz":
                with np.load(path, allow_pickle=False) as archive:
                    parts += [str(archive[n].tolist()) for n in archive.files if n != "image"]
            else:
                parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def _distinctive(root: Path, ids: set[str]) -> set[str]:
    """[P] values long enough not to turn up by chance, and found nowhere else in the example."""
    elsewhere = _other_text(root)
    values = set()
    for name, column in _p_columns(root).items():
        if name in ("sample_id", "label", "diagnosis"):
            continue
        values |= {v for v in column if len(v) >= 6 and v not in ids and v not in elsewhere}
    return values


_TIMINGS = re.compile(r'"(duration_s|seconds)": ?[-+.0-9eE]+')
"""Wall-clock timings (0.006335 s): noise that may equal a [P] value by chance."""


def _mentions(text: str, value: str) -> bool:
    """Whether ``value`` stands in ``text`` as a whole number or word (0.0197 is not in
    0.01975, nor HAND-F6-03 in HAND-F6-031)."""
    start = text.find(value)
    while start >= 0:
        before = text[start - 1] if start else " "
        end = start + len(value)
        after = text[end] if end < len(text) else " "
        if not (before.isalnum() or before in ".-_") and not (after.isalnum() or after in "_"):
            return True
        start = text.find(value, start + 1)
    return False


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p): _readable(p)
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def _readable(path: Path) -> str:
    """A file as a reader finds its text: a report with its fragments inflated, the
    diagrams' layout cache (zlib) inflated, anything else as UTF-8."""
    data = path.read_bytes()
    if path.name == "layouts.z":
        data = zlib.decompress(data)
    text = data.decode("utf-8", "replace")
    if path.suffix == ".html" and "x-amlas-pack" in text:
        text = expanded(text)
    return text


def _placeholder_svgs(case: object, views: list[object], **_: object) -> list[str]:
    return ['<svg xmlns="http://www.w3.org/2000/svg"></svg>' for _ in views]


def _build(name: str, tmp: Path) -> Built:
    """The demo job on a copy of example ``name`` (chess with the quick settings the other
    chess tests use, so the suite stays fast)."""
    source = EXAMPLES[name]
    if source == CHESS:
        from test_chess_robot import _quick_copy

        project = _quick_copy(tmp)
    else:
        project = tmp / name
        shutil.copytree(source, project, ignore=shutil.ignore_patterns("evidence", ".amlas"))
    key = tmp / "verifier.key"
    ids = set(_p_columns(source)["sample_id"])
    built = Built(p_ids=ids, p_values=_distinctive(source, ids), root=project, key=key)
    steps = [
        ("keygen", str(key)),
        ("seal", str(project), "--key-file", str(key)),
    ]
    for argv in steps:
        code, text = _amlas(*argv)
        assert code == 0, text
    before = _tree(project)
    outputs: dict[str, str] = {}
    job: list[tuple[str, ...]] = [
        ("run", str(project), "--role", "developer"),
        # one verifier run (stages 3 and 5) with JSON output: the demo's two, in one
        ("run", str(project), "--role", "verifier", "--key-file", str(key), "--format", "json"),
        ("run", str(project), "--stage", "6"),
        ("evidence", str(project)),
        # as make demo does: the whole evidence store verifies, signatures included
        ("evidence", str(project), "--verify"),
        ("check", str(project)),
        ("case", str(project), "--no-svg", "--out", str(tmp / "case"), "--format", "json"),
        ("case", str(project), "--no-svg", "--out", str(tmp / "case")),
        ("report", str(project), "-o", str(tmp / "report.html")),
        ("gate", str(project)),
        # the assessor's bundle: given to people outside the team, it names no [P] sample
        ("keygen", "--signing", str(tmp / "assessor.pem"), "--person", "ASSESSOR-1",
         "--project", str(project)),
        ("sign", str(project), "--key-file", str(tmp / "assessor.pem"), "--decision", "reject"),
        ("bundle", str(project), "-o", str(tmp / "bundle.zip"), "--key-file",
         str(tmp / "assessor.pem"), "--no-svg"),
        ("verify-bundle", str(tmp / "bundle.zip")),
    ]  # fmt: skip
    for index, argv in enumerate(job):
        code, text = _amlas(*argv)
        assert code <= 1, (argv, text)
        if argv[0] in ("check", "keygen", "sign", "bundle", "verify-bundle") or "--verify" in argv:
            assert code == 0, (argv, text)
        outputs[f"stdout {index}: amlas {' '.join(argv[:1])}"] = text
    built.readable.update(outputs)
    built.readable.update({p: t for p, t in _tree(project).items() if before.get(p) != t})
    built.readable.update(_tree(tmp / "case"))
    built.readable[str(tmp / "report.html")] = _readable(tmp / "report.html")
    with zipfile.ZipFile(tmp / "bundle.zip") as bundle:
        for name in bundle.namelist():
            text = bundle.read(name).decode("utf-8", "replace")
            if name.startswith("project/") and before.get(str(project / name[8:])) == text:
                continue  # the team's own file, unchanged (its text is theirs)
            built.readable[f"bundle.zip!/{name}"] = text
    # the verifier (or the assessor) builds with the key
    verifier = tmp / "verifier"
    for argv in (
        ("case", str(project), "--no-svg", "--out", str(verifier / "case"), "--key-file",
         str(key), "--format", "json"),
        ("report", str(project), "-o", str(verifier / "report.html"), "--key-file", str(key)),
    ):  # fmt: skip
        code, text = _amlas(*argv)
        assert code == 0, text
        built.with_key[f"amlas {argv[0]} --key-file"] = text
    built.with_key.update(_tree(verifier))
    other = tmp / "other.key"
    _amlas("keygen", str(other))
    built.wrong_key = _amlas(
        "report", str(project), "-o", str(tmp / "wrong.html"), "--key-file", str(other)
    )
    assert not (tmp / "wrong.html").exists()
    return built


def _forget_example_modules() -> None:
    """Each example's loader is ``model...``: no other example's ``model`` may answer."""
    for top in ("model", "system", "scenes"):
        for module in [m for m in sys.modules if m == top or m.startswith(top + ".")]:
            del sys.modules[module]


@pytest.fixture(scope="module", params=sorted(EXAMPLES))
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    # Graphviz may be missing here: the diagrams are not what this test is about
    patch = pytest.MonkeyPatch()
    patch.setattr(_html, "render_svgs", _placeholder_svgs)
    for name in ("AMLAS_VERIFIER_KEY_FILE", "AMLAS_VERIFIER_KEY"):
        patch.delenv(name, raising=False)
    _forget_example_modules()
    try:
        yield _build(request.param, tmp_path_factory.mktemp(request.param))
    finally:
        patch.undo()
        _forget_example_modules()


@pytest.mark.slow
def test_the_demo_case_claims_no_set_its_members_do_not_bear(built: Built) -> None:
    """Issue 15: an over-claim check independent of the case builder, on every example
    after the demo job (tests/overclaim.py)."""
    assert built.root is not None
    case = build_case(built.root)
    assert overclaims(case, check_project(built.root).project) == []
    reviewed = [n for n in case.nodes.values() if n.reviews]
    assert reviewed, "every example rests some data requirement on a review record"


@pytest.mark.slow
def test_nothing_the_development_team_reads_names_a_p_sample(built: Built) -> None:
    assert len(built.p_ids) > 100
    assert built.p_values  # the search is only worth something with values to search for
    for name, text in built.readable.items():
        ids = sorted(i for i in built.p_ids if i in text)
        timeless = _TIMINGS.sub("", text)
        values = sorted(v for v in built.p_values if _mentions(timeless, v))
        assert not ids, (name, ids[:5])
        assert not values, (name, values[:5])
    case_md = next(t for n, t in built.readable.items() if n.endswith("case.md"))
    assert "sealed for the verifier" in case_md


@pytest.mark.slow
def test_the_verifier_with_the_key_sees_the_p_samples(built: Built) -> None:
    case_json = next(t for n, t in built.with_key.items() if n.endswith("case.json"))
    report = next(t for n, t in built.with_key.items() if n.endswith("report.html"))
    for name, text in (("case.json", case_json), ("report.html", report)):
        assert any(i in text for i in built.p_ids), name
    assert '"status": "opened"' in case_json
    assert "opened with the verifier key" in report


@pytest.mark.slow
def test_another_key_is_refused(built: Built) -> None:
    code, text = built.wrong_key
    assert code == 2
    assert "is sealed for verifier key" in text


@pytest.mark.slow
def test_the_case_digest_is_the_same_with_the_key(built: Built) -> None:
    """Sign-offs and bundles are made over Case.digest(): opening the sealed detail with
    the verifier key changes the records' bodies the case shows, never the digest."""
    assert built.root is not None
    assert built.key is not None
    without = build_case(built.root)
    opened = build_case(built.root, key=load_key(built.key))
    assert without.to_dict() != opened.to_dict()
    assert without.digest() == opened.digest()
