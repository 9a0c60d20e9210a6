"""The assessor's bundle: written from a project with sealed [P], verifier-signed evidence
and sign-offs, verified offline (the project deleted), and refused, naming the file, after
every kind of tampering the issue lists."""

from __future__ import annotations

import io
import json
import shutil
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from amlas.bundle import ArchiveLimits, verify_bundle
from amlas.evidence import seal_dataset
from amlas.project import check_project
from amlas.sealing import (
    SigningKey,
    generate_key,
    generate_signing_key,
    load_signing_key,
)
from amlas.verify import run_project
from cli_helpers import run, run_quietly
from factory import documents
from runnable import runnable

pytestmark = pytest.mark.usefixtures("fresh_model")


@dataclass
class Made:
    bundle: Path
    root: Path
    keys: dict[str, SigningKey]
    folder: Path


def _people(keys: dict[str, SigningKey]) -> list[dict[str, Any]]:
    return [
        {
            "id": "ASSESSOR-1",
            "name": "Dr Assessor",
            "organisation": "Assessors Ltd",
            "roles": ["safety-assessor"],
            "independence": "independent_organisation",
            "key": keys["assessor"].public_key,
        },
        {
            "id": "VERIFIER-1",
            "name": "Ms Verifier",
            "roles": ["independent-verifier"],
            "independence": "independent_team",
            "key": keys["verifier"].public_key,
        },
    ]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    import os
    import sys

    for name in ("AMLAS_VERIFIER_KEY_FILE", "AMLAS_VERIFIER_KEY", "MINI_MODEL_MISS"):
        os.environ.pop(name, None)
    sys.modules.pop("mini_model", None)
    folder = tmp_path_factory.mktemp("bundle")
    keys = {
        n: generate_signing_key(folder / "keys" / f"{n}.pem")
        for n in ("assessor", "verifier", "stranger")
    }
    docs = documents()
    docs["manifest"]["people"] = _people(keys)
    docs["manifest"]["case"] = {"approvals": [{"require": ["safety-assessor"]}]}
    root = runnable(folder / "project", docs)
    verifier_key = generate_key(folder / "keys" / "verifier.key")
    seal_dataset(check_project(root).project, "P", verifier_key)
    run_project(root, role="developer")
    run_project(root, role="verifier", key=verifier_key, stages=(3, 5))
    for who in ("assessor", "verifier"):
        code, text = run_quietly(
            "sign", str(root), "--key-file", str(folder / "keys" / f"{who}.pem"),
            "--decision", "approve", "--comment", f"by the {who}",
        )  # fmt: skip
        assert code == 0, text
    code, text = run_quietly("check", str(root))
    assert code == 0, text
    bundle = folder / "bundle.zip"
    code, text = run_quietly(
        "bundle", str(root), "-o", str(bundle), "--key-file",
        str(folder / "keys" / "assessor.pem"), "--no-svg",
    )  # fmt: skip
    assert code == 0, text
    sys.modules.pop("mini_model", None)
    return Made(bundle, root, keys, folder)


def _members(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _rezip(
    members: dict[str, bytes], target: Path, *, extra: list[zipfile.ZipInfo] | None = None
) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for info in extra or []:
            archive.writestr(info, b"x")
    return target


def _resign(members: dict[str, bytes], key: SigningKey, *, rehash: bool = True) -> None:
    """What someone who can re-sign would do: fix the manifest's hashes, sign with ``key``."""
    import hashlib

    manifest = json.loads(members["MANIFEST.json"])
    if rehash:
        manifest["files"] = {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in members.items()
            if name not in ("MANIFEST.json", "MANIFEST.sig")
        }
    manifest["bundled_by"]["public_key"] = key.public_key
    text = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    members["MANIFEST.json"] = text
    members["MANIFEST.sig"] = json.dumps(
        {
            "schema": "amlas.bundle-signature/1",
            "public_key": key.public_key,
            "signature": key.sign(text),
        }
    ).encode()


def _codes(verdict: Any) -> list[tuple[str, str]]:
    return [(d.code, d.location.path.split("!/", 1)[-1]) for d in verdict.diagnostics]


# -- the bundle as made ---------------------------------------------------------------------------


def test_the_bundle_holds_what_an_assessor_needs_and_never_p_or_a_key(made: Made) -> None:
    names = set(_members(made.bundle))
    assert {
        "AMLAS-BUNDLE",
        "MANIFEST.json",
        "MANIFEST.sig",
        "stated-inputs.json",
        "report.html",
    } <= names
    assert {"case/case.json", "case/case.md", "case/case.junit.xml", "project/amlas.yaml"} <= names
    assert "project/5-verification/P-access-log.jsonl" in names
    assert any(n.startswith("project/signoffs/") for n in names)
    assert any(n.startswith("project/evidence/objects/") for n in names)
    assert any(n.startswith("project/2-requirements/H-") for n in names)
    # never the data (sealed or not), the model, or any key
    assert not [n for n in names if n.endswith((".sealed", ".csv", ".npz", ".pem", ".key"))]
    assert "project/mini_model.py" not in names
    with zipfile.ZipFile(made.bundle) as archive:
        first = archive.infolist()[0]
        assert first.filename == "AMLAS-BUNDLE"
    assert b"amlas-bundle/1" in made.bundle.read_bytes()[:4096]
    stated = json.loads(_members(made.bundle)["stated-inputs.json"])[""]
    assert {"dataset:N", "dataset:O", "dataset:P", "model"} <= set(stated)
    report = _members(made.bundle)["report.html"].decode()
    assert "Dr Assessor" in report


def test_the_bundle_verifies_where_the_project_is_gone(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "elsewhere" / "bundle.zip"
    copy.parent.mkdir()
    shutil.copy(made.bundle, copy)
    moved = tmp_path / "gone"
    shutil.move(str(made.root), moved)  # the project directory is not where it was
    try:
        code, out, _ = run(capsys, "verify-bundle", str(copy))
    finally:
        shutil.move(str(moved), made.root)
    assert code == 0, out
    assert out.startswith(f"VERIFIED: {copy}")
    assert "rebuilt from the bundled artefacts and records: identical to the bundled case" in out
    assert "access log of sealed [P]" in out
    assert "hash chain intact" in out
    assert "sign-off: approve of G1.1 by Dr Assessor (ASSESSOR-1, safety-assessor" in out
    assert "approval required: safety-assessor on G1.1: approved" in out
    assert "taken as the bundle states them" in out
    code, out, _ = run(capsys, "verify-bundle", str(copy), "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert payload["verified"] is True
    (required,) = payload["approvals"][""]["required"]
    assert (required["role"], required["status"]) == ("safety-assessor", "approved")
    # pinned to the bundler's key: verified; to another: refused
    code, out, _ = run(
        capsys, "verify-bundle", str(copy), "--expect-key", made.keys["assessor"].public_key
    )
    assert code == 0, out
    assert "as you expected" in out
    code, out, _ = run(
        capsys, "verify-bundle", str(copy), "--expect-key", made.keys["verifier"].public_key
    )
    assert code == 1
    assert "B005 error" in out


# -- tampering ------------------------------------------------------------------------------------


def _member_of(names: list[str], prefix: str, suffix: str = "") -> str:
    return next(n for n in names if n.startswith(prefix) and n.endswith(suffix))


KINDS: dict[str, Callable[[list[str]], str]] = {
    "manifest of the project": lambda n: "project/amlas.yaml",
    "artefact": lambda n: _member_of(n, "project/2-requirements/H-"),
    "review records": lambda n: _member_of(n, "project/reviews/"),
    "evidence record": lambda n: _member_of(n, "project/evidence/objects/"),
    "evidence refs": lambda n: "project/evidence/refs.json",
    "evidence run": lambda n: _member_of(n, "project/evidence/runs/"),
    "access log": lambda n: "project/5-verification/P-access-log.jsonl",
    "sign-off": lambda n: _member_of(n, "project/signoffs/"),
    "stated inputs": lambda n: "stated-inputs.json",
    "case json": lambda n: "case/case.json",
    "case markdown": lambda n: "case/case.md",
    "case junit": lambda n: "case/case.junit.xml",
    "gsn2x": lambda n: _member_of(n, "case/gsn/"),
    "report": lambda n: "report.html",
    "mark": lambda n: "AMLAS-BUNDLE",
    "signed manifest": lambda n: "MANIFEST.json",
    "manifest signature": lambda n: "MANIFEST.sig",
}


def _flip(data: bytes) -> bytes:
    """One byte changed, in the middle (a letter to another letter keeps it text)."""
    middle = len(data) // 2
    for i in list(range(middle, len(data))) + list(range(middle)):
        if chr(data[i]).isalpha():
            replacement = b"x" if data[i : i + 1] != b"x" else b"y"
            return data[:i] + replacement + data[i + 1 :]
    return data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_changed_byte_in_any_file_is_named(made: Made, tmp_path: Path, kind: str) -> None:
    members = _members(made.bundle)
    name = KINDS[kind](list(members))
    members[name] = _flip(members[name])
    verdict = verify_bundle(_rezip(members, tmp_path / "t.zip"))
    assert not verdict.verified
    if name in ("MANIFEST.json", "MANIFEST.sig"):
        # the signature is over the manifest's bytes: which of the two changed cannot be
        # told, unless the signature names another key
        (found,) = _codes(verdict)
        assert found[0] == "B005"
        assert found[1] in ("MANIFEST.json", "MANIFEST.sig")
        return
    expected = "B004" if name == "AMLAS-BUNDLE" else "B006"
    assert (expected, name) in _codes(verdict), _codes(verdict)


def test_a_flipped_byte_in_the_archive_itself_is_refused(made: Made, tmp_path: Path) -> None:
    raw = bytearray(made.bundle.read_bytes())
    with zipfile.ZipFile(made.bundle) as archive:
        info = archive.getinfo("case/case.json")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    raw[start + info.compress_size // 2] ^= 0xFF
    target = tmp_path / "flipped.zip"
    target.write_bytes(bytes(raw))
    verdict = verify_bundle(target)
    assert not verdict.verified
    assert _codes(verdict)[0] in {("B006", "case/case.json"), ("B001", "case/case.json")}


def test_a_file_added_or_removed_is_named(made: Made, tmp_path: Path) -> None:
    members = _members(made.bundle)
    members["project/extra.yaml"] = b"a: 1\n"
    verdict = verify_bundle(_rezip(members, tmp_path / "added.zip"))
    assert ("B007", "project/extra.yaml") in _codes(verdict)
    members = _members(made.bundle)
    del members["case/case.md"]
    verdict = verify_bundle(_rezip(members, tmp_path / "removed.zip"))
    assert ("B007", "case/case.md") in _codes(verdict)


def test_a_manifest_re_signed_with_an_unknown_key_is_refused(made: Made, tmp_path: Path) -> None:
    members = _members(made.bundle)
    h = _member_of(list(members), "project/2-requirements/H-")
    members[h] = members[h].replace(b"threshold: 0.9", b"threshold: 0.5", 1)
    _resign(members, made.keys["stranger"])
    verdict = verify_bundle(_rezip(members, tmp_path / "resigned.zip"))
    assert not verdict.verified
    assert ("B005", "MANIFEST.sig") in _codes(verdict)
    assert (
        "which no person the bundled amlas.yaml declares holds"
        in verdict.diagnostics.items[0].message
    )


def test_a_declared_insider_who_changes_the_case_is_caught_by_the_rebuild(
    made: Made, tmp_path: Path
) -> None:
    """Someone with a declared key edits an artefact and re-signs: the signatures hold, but
    the case no longer follows from the bundle."""
    members = _members(made.bundle)
    h = _member_of(list(members), "project/2-requirements/H-")
    assert b"threshold: 0.9" in members[h]
    members[h] = members[h].replace(b"threshold: 0.9", b"threshold: 0.5", 1)
    _resign(members, made.keys["verifier"])
    verdict = verify_bundle(_rezip(members, tmp_path / "insider.zip"))
    assert not verdict.verified
    codes = _codes(verdict)
    assert ("B010", "case/case.json") in codes
    message = next(d.message for d in verdict.diagnostics if d.code == "B010")
    assert "artefact [H] changed" in message


def test_an_outsider_who_declares_their_own_key_is_caught_only_by_a_pinned_key(
    made: Made, tmp_path: Path
) -> None:
    """The trust root, stated honestly: a bundle rebuilt with a key its own amlas.yaml
    declares verifies unless the assessor pins the keys they received another way."""
    members = _members(made.bundle)
    manifest = members["project/amlas.yaml"].decode()
    members["project/amlas.yaml"] = manifest.replace(
        made.keys["assessor"].public_key, made.keys["stranger"].public_key
    ).encode()
    _resign(members, made.keys["stranger"])
    forged = _rezip(members, tmp_path / "forged.zip")
    verdict = verify_bundle(forged)
    assert "not pinned" in "\n".join(verdict.lines)
    pinned = verify_bundle(forged, expect_keys=[made.keys["assessor"].public_key])
    assert not pinned.verified
    assert ("B005", "MANIFEST.sig") in _codes(pinned)


def test_a_bundle_signed_with_the_verifier_evidence_key_is_refused(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verifier = load_signing_key(made.folder / "keys" / "verifier.key")
    code, out, err = run(
        capsys, "bundle", str(made.root), "-o", str(tmp_path / "b.zip"), "--key-file",
        str(made.folder / "keys" / "verifier.key"), "--no-svg",
    )  # fmt: skip
    assert code == 2
    assert "A003 error" in out + err
    assert not (tmp_path / "b.zip").exists()
    members = _members(made.bundle)
    _resign(members, verifier, rehash=False)
    verdict = verify_bundle(_rezip(members, tmp_path / "v.zip"))
    assert ("A003", "MANIFEST.sig") in _codes(verdict)


def test_a_bundle_by_an_undeclared_key_is_not_written(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "bundle", str(made.root), "-o", str(tmp_path / "b.zip"), "--key-file",
        str(made.folder / "keys" / "stranger.pem"), "--no-svg",
    )  # fmt: skip
    assert code == 2
    assert "A004 error" in out + err
    assert not (tmp_path / "b.zip").exists()


def test_an_edited_signoff_resigned_into_the_bundle_is_refused(made: Made, tmp_path: Path) -> None:
    members = _members(made.bundle)
    name = _member_of(list(members), "project/signoffs/")
    document = json.loads(members[name])
    document["statement"]["decision"] = "reject"
    members[name] = json.dumps(document).encode()
    _resign(members, made.keys["assessor"])
    verdict = verify_bundle(_rezip(members, tmp_path / "signoff.zip"))
    assert ("A002", name) in _codes(verdict)


def test_a_truncated_archive_is_refused(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = made.bundle.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 100):
        target = tmp_path / f"cut{cut}.zip"
        target.write_bytes(data[:cut])
        verdict = verify_bundle(target)
        assert not verdict.verified
        assert verdict.diagnostics.items[0].code == "B001"
    code, out, _ = run(capsys, "verify-bundle", str(tmp_path / "cut100.zip"))
    assert code == 1
    assert f"{tmp_path / 'cut100.zip'}: B001 error: not a zip archive, or cut short" in out
    code, out, _ = run(capsys, "verify-bundle", str(tmp_path / "missing.zip"))
    assert code == 1
    assert "B001 error" in out


@pytest.mark.parametrize(
    "name", ["../evil.yaml", "/etc/evil", "project/../../evil", "C:/evil", "project\\evil", "a//b"]
)
def test_a_path_traversal_entry_is_refused(made: Made, tmp_path: Path, name: str) -> None:
    members = _members(made.bundle)
    target = _rezip(members, tmp_path / "t.zip", extra=[zipfile.ZipInfo(name)])
    verdict = verify_bundle(target)
    assert not verdict.verified
    assert _codes(verdict) == [("B002", name)]
    assert not (tmp_path / "evil.yaml").exists()


def test_a_link_or_a_repeated_entry_is_refused(made: Made, tmp_path: Path) -> None:
    members = _members(made.bundle)
    link = zipfile.ZipInfo("project/link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    verdict = verify_bundle(_rezip(members, tmp_path / "link.zip", extra=[link]))
    assert _codes(verdict) == [("B002", "project/link")]
    twice = tmp_path / "twice.zip"
    with pytest.warns(UserWarning, match="Duplicate name"):
        _rezip(members, twice, extra=[zipfile.ZipInfo("report.html")])
    verdict = verify_bundle(twice)
    assert _codes(verdict) == [("B002", "report.html")]


def test_an_archive_bomb_is_refused(made: Made, tmp_path: Path) -> None:
    members = _members(made.bundle)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        with archive.open("zeros.bin", "w", force_zip64=True) as handle:
            block = b"\0" * (1 << 20)
            for _ in range(64):  # 64 MiB of zeros, about 64 KiB compressed
                handle.write(block)
    verdict = verify_bundle(bomb)
    assert _codes(verdict) == [("B003", "zeros.bin")]
    assert "an archive bomb" in verdict.diagnostics.items[0].message
    too_many = verify_bundle(made.bundle, limits=ArchiveLimits(entries=10))
    assert _codes(too_many) == [("B003", str(made.bundle))]
    too_large = verify_bundle(made.bundle, limits=ArchiveLimits(total_bytes=1000))
    assert [c for c, _ in _codes(too_large)] == ["B003"]


def test_an_entry_that_inflates_beyond_its_header_is_refused(made: Made, tmp_path: Path) -> None:
    """A header that states a small size for a large entry (a classic bomb trick)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("AMLAS-BUNDLE", b"amlas-bundle/1\n")
        archive.writestr("big.bin", b"a" * 100_000)
    raw = bytearray(buffer.getvalue())
    # rewrite the uncompressed size of big.bin in its central directory entry to 10
    central = raw.rfind(b"PK\x01\x02")
    assert raw[central + 46 : central + 46 + 7] == b"big.bin"
    raw[central + 24 : central + 28] = (10).to_bytes(4, "little")
    target = tmp_path / "lying.zip"
    target.write_bytes(bytes(raw))
    verdict = verify_bundle(target)
    assert not verdict.verified
    assert verdict.diagnostics.items[0].code in {"B003", "B006", "B001"}
    assert "big.bin" in verdict.diagnostics.items[0].location.path


# -- the review's findings: hostile bundles give coded diagnostics, never a traceback ------


def _signed_members(made: Made, change: Callable[[dict[str, bytes]], None]) -> dict[str, bytes]:
    members = _members(made.bundle)
    change(members)
    _resign(members, made.keys["assessor"])
    return members


@pytest.mark.parametrize(
    ("case_json", "code"),
    [
        (b'{"nodes": [1, 2], "evidence": {}}', "B010"),
        (b'{"nodes": [{"status": "supported"}]}', "B010"),
        (b'{"evidence": {"d": "not a record"}, "artefacts": [{}]}', "B010"),
        (b"[" * 100_000 + b"]" * 100_000, "B010"),
    ],
)
def test_a_malformed_case_json_signed_by_an_insider_is_coded(
    made: Made, tmp_path: Path, case_json: bytes, code: str
) -> None:
    def change(members: dict[str, bytes]) -> None:
        members["case/case.json"] = case_json

    verdict = verify_bundle(_rezip(_signed_members(made, change), tmp_path / "c.zip"))
    assert not verdict.verified
    assert (code, "case/case.json") in _codes(verdict)


@pytest.mark.parametrize(
    "manifest", [b"[]", b'"text"', b"[" * 100_000 + b"]" * 100_000, b'{"schema": 1}']
)
def test_a_malformed_manifest_is_coded_before_any_signature(
    made: Made, tmp_path: Path, manifest: bytes
) -> None:
    members = _members(made.bundle)
    members["MANIFEST.json"] = manifest
    verdict = verify_bundle(_rezip(members, tmp_path / "m.zip"))
    assert not verdict.verified
    assert _codes(verdict) == [("B004", "MANIFEST.json")]


def test_a_file_and_a_folder_of_one_name_is_refused(made: Made, tmp_path: Path) -> None:
    members = _members(made.bundle)
    members["zz"] = b"a file"
    members["zz/y"] = b"in a folder of the same name"
    verdict = verify_bundle(_rezip(members, tmp_path / "zz.zip"))
    assert _codes(verdict) == [("B002", "zz/y")]


def test_a_deeply_nested_signoff_is_coded(made: Made, tmp_path: Path) -> None:
    def change(members: dict[str, bytes]) -> None:
        members["project/signoffs/deep.json"] = b"[" * 100_000 + b"]" * 100_000

    verdict = verify_bundle(_rezip(_signed_members(made, change), tmp_path / "d.zip"))
    assert ("A001", "project/signoffs/deep.json") in _codes(verdict)


def test_the_verdict_says_what_is_not_rendered_again(made: Made) -> None:
    verdict = verify_bundle(made.bundle)
    assert verdict.verified
    assert any(
        "report.html, case/gsn/ and case/svg/ are bound by the signed manifest's hashes only"
        in line
        for line in verdict.lines
    )


def test_pinned_signers_in_a_bundle(made: Made, tmp_path: Path) -> None:
    """An insider declares their own key for the assessor, signs as them and bundles: the
    bundle verifies (the declared keys are all it has), and the forged approval counts for
    nothing once the assessor's key is pinned."""
    from amlas.sealing import canonical_statement

    members = _members(made.bundle)
    text = members["project/amlas.yaml"].decode()
    members["project/amlas.yaml"] = text.replace(
        made.keys["assessor"].public_key, made.keys["stranger"].public_key
    ).encode()
    name = next(
        n for n in members if n.startswith("project/signoffs/") and b"ASSESSOR-1" in members[n]
    )
    document = json.loads(members[name])
    document["statement"]["public_key"] = made.keys["stranger"].public_key
    document["signature"] = made.keys["stranger"].sign(canonical_statement(document["statement"]))
    members[name] = json.dumps(document).encode()
    _resign(members, made.keys["verifier"])
    forged = _rezip(members, tmp_path / "forged.zip")
    approved = "approval required: safety-assessor on G1.1: approved"
    unpinned = verify_bundle(forged)
    assert unpinned.verified
    assert any(approved in line for line in unpinned.lines)
    pinned = verify_bundle(forged, expect_signers={"ASSESSOR-1": made.keys["assessor"].public_key})
    assert not pinned.verified
    assert ("A004", name) in _codes(pinned)
    assert not any(approved in line for line in pinned.lines)


def test_an_empty_expected_bundle_key_is_refused(
    made: Made, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMLAS_EXPECTED_BUNDLE_KEY", "")
    code, out, err = run(capsys, "verify-bundle", str(made.bundle))
    assert code == 2
    assert "AMLAS_EXPECTED_BUNDLE_KEY is set but empty" in out + err
