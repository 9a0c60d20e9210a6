"""Sign-offs (``amlas sign``): people and keys declared in amlas.yaml, statements signed
over the case digest, verified by ``amlas check`` and counted by ``amlas gate``.

Every refusal the issue names is here: a statement replayed onto a changed case (stale,
and what changed), an edited statement, an undeclared key, a key used outside its role;
and the gate: missing, stale and rejected approvals keep it shut."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from amlas.case import build_case, changes_between, judge_signoffs, sign_case
from amlas.errors import ProblemError
from amlas.project import check_project
from amlas.sealing import (
    SealError,
    SigningKey,
    canonical_statement,
    generate_key,
    generate_signing_key,
    load_signing_key,
    public_key_of,
)
from cli_helpers import run
from factory import documents, write_project

ALLOW = ("--allow-undeveloped", "*", "--allow-inconclusive", "*")
"""The mini project has no evidence: the gate's own test here is the approvals."""


def _person(pid: str, roles: list[str], key: SigningKey | None, **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": pid,
        "name": f"Person {pid}",
        "organisation": "Assessors Ltd",
        "roles": roles,
        "independence": kw.pop("independence", "independent_organisation"),
    }
    if key is not None:
        out["key"] = key.public_key
    return out | kw


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, SigningKey]:
    folder = tmp_path / "keys"
    return {
        name: generate_signing_key(folder / f"{name}.pem")
        for name in ("assessor", "verifier", "stranger", "both")
    }


def _project(
    tmp_path: Path,
    keys: dict[str, SigningKey],
    *,
    approvals: list[dict[str, Any]] | None = None,
    people: list[dict[str, Any]] | None = None,
) -> Path:
    docs = documents()
    docs["manifest"]["people"] = (
        people
        if people is not None
        else [
            _person("ASSESSOR-1", ["safety-assessor"], keys["assessor"]),
            _person(
                "VERIFIER-1",
                ["independent-verifier"],
                keys["verifier"],
                independence="independent_team",
            ),
        ]
    )
    docs["manifest"]["case"] = {
        "approvals": approvals
        if approvals is not None
        else [{"require": ["safety-assessor", "independent-verifier"]}]
    }
    return write_project(tmp_path / "p", docs)


def _sign(root: Path, key: SigningKey, decision: str = "approve", **kw: Any) -> Path:
    project = check_project(root).project
    target, judged = sign_case(project, build_case(project), key, decision=decision, **kw)
    assert judged.status == "current"
    return target


def _judge(root: Path) -> Any:
    project = check_project(root).project
    return judge_signoffs(project, build_case(project))


def _codes(capsys: pytest.CaptureFixture[str], root: Path) -> list[str]:
    _code, out, _ = run(capsys, "check", "--format", "json", str(root))
    return [d["code"] for d in json.loads(out)["diagnostics"] if d["code"].startswith("A")]


def _key_file(tmp_path: Path, keys: dict[str, SigningKey], name: str) -> str:
    return str(tmp_path / "keys" / f"{name}.pem")


# -- signing and the gate -------------------------------------------------------------------


def test_the_gate_opens_only_with_every_required_approval(
    tmp_path: Path, keys: dict[str, SigningKey], capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path, keys)
    assert _codes(capsys, root) == []
    code, out, _ = run(capsys, "gate", str(root), *ALLOW)
    assert code == 1
    assert "2 required approval(s) are not given" in out
    assert "awaited       safety-assessor on G1.1" in out

    code, out, _ = run(
        capsys,
        "sign",
        str(root),
        "--key-file",
        _key_file(tmp_path, keys, "assessor"),
        "--decision",
        "approve-with-conditions",
        "--comment",
        "field monitoring reviewed monthly",
    )
    assert code == 0, out
    assert "by Person ASSESSOR-1 (ASSESSOR-1) as safety-assessor" in out
    written = sorted((root / "signoffs").glob("*.json"))
    assert len(written) == 1
    statement = json.loads(written[0].read_text())["statement"]
    assert statement["case"]["digest"] == build_case(root).digest()
    assert statement["decision"] == "approve-with-conditions"
    assert statement["scope"] == "G1.1"

    code, out, _ = run(capsys, "gate", str(root), *ALLOW)
    assert code == 1
    assert "approval: safety-assessor on G1.1: approved by Person ASSESSOR-1" in out
    assert "with conditions: field monitoring reviewed monthly" in out
    assert "awaited       independent-verifier on G1.1" in out

    code, out, _ = run(
        capsys,
        "sign",
        str(root),
        "--key-file",
        _key_file(tmp_path, keys, "verifier"),
        "--decision",
        "approve",
    )
    assert code == 0, out
    code, out, _ = run(capsys, "gate", str(root), *ALLOW)
    assert code == 0, out
    assert "gate open" in out
    assert _codes(capsys, root) == []


def test_a_signoff_replayed_onto_a_changed_case_is_stale_and_says_what_changed(
    tmp_path: Path, keys: dict[str, SigningKey], capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path, keys)
    _sign(root, keys["assessor"])
    _sign(root, keys["verifier"])
    assert run(capsys, "gate", str(root), *ALLOW)[0] == 0
    h = root / "2-requirements/H-ml-safety-requirements.yaml"
    before = h.read_text()
    h.write_text(before.replace("threshold: 0.9", "threshold: 0.8", 1))
    assert h.read_text() != before

    judged = _judge(root)
    assert {s.status for s in judged.signoffs} == {"stale"}
    assert judged.signoffs[0].changes[0] == "artefact [H] changed"
    assert [d.code for d in judged.diagnostics] == ["A005", "A005"]
    assert "artefact [H] changed" in judged.diagnostics.items[0].message
    assert _codes(capsys, root) == ["A005", "A005"]
    code, out, _ = run(capsys, "gate", str(root), *ALLOW)
    assert code == 1
    assert "stale         safety-assessor on G1.1" in out
    assert "the case changed since" in out

    h.write_text(before)  # the same case again: the statements count again
    assert {s.status for s in _judge(root).signoffs} == {"current"}
    assert run(capsys, "gate", str(root), *ALLOW)[0] == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("decision", "reject"),
        ("scope", "G2.1"),
        ("comment", "approved without conditions"),
        ("signed_at", "2020-01-01T00:00:00Z"),
        ("digest", "0" * 64),
    ],
)
def test_an_edited_statement_is_refused(
    tmp_path: Path,
    keys: dict[str, SigningKey],
    capsys: pytest.CaptureFixture[str],
    field: str,
    value: str,
) -> None:
    root = _project(tmp_path, keys)
    target = _sign(root, keys["assessor"], "approve-with-conditions", comment="c")
    document = json.loads(target.read_text())
    where = document["statement"]["case"] if field == "digest" else document["statement"]
    where[field] = value
    target.write_text(json.dumps(document))
    judged = _judge(root)
    assert judged.signoffs[0].status == "invalid"
    assert judged.required[0].status == "awaited"
    code, out, _ = run(capsys, "check", str(root))
    assert code == 1
    assert f"{target.relative_to(root).as_posix()}: A002 error" in out
    assert "edited after signing, or forged" in out


def test_a_statement_by_an_undeclared_key_is_refused(
    tmp_path: Path, keys: dict[str, SigningKey], capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path, keys)
    code, out, err = run(
        capsys, "sign", str(root), "--key-file", _key_file(tmp_path, keys, "stranger"),
        "--decision", "approve",
    )  # fmt: skip
    assert code == 2
    assert "A004 error" in out + err
    assert not (root / "signoffs").exists()
    # a statement signed while the key was declared, then the person removed
    target = _sign(root, keys["assessor"])
    manifest = root / "amlas.yaml"
    text = manifest.read_text()
    manifest.write_text(text.replace(keys["assessor"].public_key, keys["stranger"].public_key))
    judged = _judge(root)
    assert judged.signoffs[0].status == "invalid"
    assert judged.signoffs[0].code == "A004"
    code, out, _ = run(capsys, "check", str(root))
    assert code == 1
    assert f"{target.relative_to(root).as_posix()}: A004 error" in out
    assert "which no declared person holds" in out


def test_the_verifier_evidence_key_never_signs_an_approval(
    tmp_path: Path, keys: dict[str, SigningKey], capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path, keys)
    verifier_key = generate_key(tmp_path / "keys" / "verifier.key")
    manifest = root / "amlas.yaml"
    manifest.write_text(manifest.read_text() + f"verifier_key: {public_key_of(verifier_key)}\n")
    code, out, err = run(
        capsys, "sign", str(root), "--key-file", str(tmp_path / "keys" / "verifier.key"),
        "--decision", "approve",
    )  # fmt: skip
    assert code == 2
    assert "A003 error" in out + err
    assert "evidence-signing key" in out + err
    loaded = load_signing_key(tmp_path / "keys" / "verifier.key")
    assert loaded.kind == "verifier"
    assert loaded.public_key == public_key_of(verifier_key)
    # a statement made by hand with it (a copy of a real one, re-signed): refused
    real = _sign(root, keys["assessor"])
    document = json.loads(real.read_text())
    document["statement"]["public_key"] = loaded.public_key
    document["signature"] = loaded.sign(canonical_statement(document["statement"]))
    real.write_text(json.dumps(document))
    judged = _judge(root)
    assert judged.signoffs[0].code == "A003"
    assert "A003" in _codes(capsys, root)


def test_a_key_used_outside_its_role_is_refused(
    tmp_path: Path, keys: dict[str, SigningKey], capsys: pytest.CaptureFixture[str]
) -> None:
    people = [
        _person("ASSESSOR-1", ["safety-assessor", "independent-verifier"], keys["assessor"]),
        _person("VERIFIER-1", ["independent-verifier"], keys["verifier"]),
    ]
    root = _project(tmp_path, keys, people=people)
    with pytest.raises(ProblemError, match="say which this decision is made in") as info:
        _sign(root, keys["assessor"])
    assert info.value.diagnostics[0].code == "A003"
    code, out, err = run(
        capsys, "sign", str(root), "--key-file", _key_file(tmp_path, keys, "verifier"),
        "--decision", "approve", "--role", "safety-assessor",
    )  # fmt: skip
    assert code == 2
    assert "A003 error" in out + err
    assert "not 'safety-assessor'" in out + err
    # signed in a role the person held then, no longer declared
    _sign(root, keys["assessor"], role="independent-verifier")
    manifest = root / "amlas.yaml"
    text = manifest.read_text()
    manifest.write_text(
        text.replace("- safety-assessor\n  - independent-verifier", "- safety-assessor", 1)
    )
    assert check_project(root).project.manifest.people[0].roles == ["safety-assessor"]
    judged = _judge(root)
    assert judged.signoffs[0].code == "A003"
    assert "a role ASSESSOR-1 is not declared with" in judged.signoffs[0].reason
    # signing as another person with one's own key
    manifest.write_text(text)
    target = _sign(root, keys["verifier"])
    document = json.loads(target.read_text())
    document["statement"]["signer"]["id"] = "ASSESSOR-1"
    document["signature"] = keys["verifier"].sign(canonical_statement(document["statement"]))
    target.write_text(json.dumps(document))
    judged = _judge(root)
    assert [s.code for s in judged.signoffs if s.status == "invalid"] == ["A003"]
    assert "signed as ASSESSOR-1 with the key of VERIFIER-1" in judged.signoffs[-1].reason


def test_a_later_rejection_replaces_an_approval_and_shuts_the_gate(
    tmp_path: Path, keys: dict[str, SigningKey], capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path, keys)
    _sign(root, keys["assessor"], now="2026-12-01T10:00:00Z")
    _sign(root, keys["verifier"], now="2026-12-01T10:00:00Z")
    _sign(
        root,
        keys["assessor"],
        "reject",
        comment="hazard log incomplete",
        now="2026-12-02T09:00:00Z",
    )
    judged = _judge(root)
    assert sorted(s.status for s in judged.signoffs) == ["current", "current", "superseded"]
    assessor = next(r for r in judged.required if r.role == "safety-assessor")
    assert assessor.status == "rejected"
    assert "hazard log incomplete" in assessor.reason
    code, out, _ = run(capsys, "gate", str(root), *ALLOW)
    assert code == 1
    assert "rejected      safety-assessor on G1.1" in out


def test_approvals_by_scope_independence_and_distinct_people(
    tmp_path: Path, keys: dict[str, SigningKey]
) -> None:
    people = [
        _person("BOTH-1", ["safety-assessor", "independent-verifier"], keys["both"]),
        _person("VERIFIER-1", ["independent-verifier"], keys["verifier"], independence="same_team"),
    ]
    approvals = [
        {"scope": "G2.1", "require": ["safety-assessor", "independent-verifier"]},
        {"scope": "G1.1", "require": ["independent-verifier"], "independence": "independent_team"},
    ]
    root = _project(tmp_path, keys, people=people, approvals=approvals)
    _sign(root, keys["both"], role="safety-assessor")  # on G1.1: covers G2.1 below it
    _sign(root, keys["both"], role="independent-verifier", scope="G2.1")
    required = {(r.scope, r.role): r for r in _judge(root).required}
    assert required[("G2.1", "safety-assessor")].status == "approved"
    # one person counts for one role of a rule
    assert required[("G2.1", "independent-verifier")].status == "awaited"
    # an approval of a node below the required scope does not cover it
    assert required[("G1.1", "independent-verifier")].status == "awaited"
    _sign(root, keys["verifier"])  # on G1.1, but only same_team
    required = {(r.scope, r.role): r for r in _judge(root).required}
    assert required[("G2.1", "independent-verifier")].status == "approved"
    assert required[("G2.1", "independent-verifier")].by.signer == "VERIFIER-1"
    low = required[("G1.1", "independent-verifier")]
    assert low.status == "awaited"
    assert "VERIFIER-1 signed, declared same_team" in low.reason


def test_an_unreadable_statement_is_located(
    tmp_path: Path, keys: dict[str, SigningKey], capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path, keys)
    (root / "signoffs").mkdir()
    (root / "signoffs" / "broken.json").write_text('{"schema": "amlas.signoff/1"')
    (root / "signoffs" / "extra.json").write_text(
        json.dumps({"schema": "amlas.signoff/1", "statement": {}, "signature": "", "x": 1})
    )
    code, out, _ = run(capsys, "check", str(root))
    assert code == 1
    assert "signoffs/broken.json: A001 error" in out
    assert "signoffs/extra.json: A001 error" in out


# -- the declarations -------------------------------------------------------------------------


def test_people_and_approvals_are_checked(
    tmp_path: Path, keys: dict[str, SigningKey], capsys: pytest.CaptureFixture[str]
) -> None:
    verifier_key = generate_key(tmp_path / "keys" / "verifier.key")
    people = [
        _person("ASSESSOR-1", ["safety-assessor"], keys["assessor"]),
        _person("ASSESSOR-1", ["safety-assessor"], keys["both"]),
        _person("COPY-1", ["safety-assessor"], keys["assessor"]),
        _person("NOKEY-1", ["safety-assessor"], None),
        {**_person("VERIFY-1", ["safety-assessor"], None), "key": public_key_of(verifier_key)},
    ]
    approvals = [{"require": ["safety-asessor", "safety-assessor", "safety-assessor"]}]
    root = _project(tmp_path, keys, people=people, approvals=approvals)
    manifest = root / "amlas.yaml"
    manifest.write_text(manifest.read_text() + f"verifier_key: {public_key_of(verifier_key)}\n")
    code, out, _ = run(capsys, "check", str(root))
    assert code == 1
    assert "A007 error: people[1] repeats the ID 'ASSESSOR-1'" in out
    assert "A007 error: COPY-1 declares the key of ASSESSOR-1" in out
    assert "A007 error: VERIFY-1's key is the verifier_key" in out
    assert "A008 info: NOKEY-1 (Person NOKEY-1) has no key" in out
    assert "A006 error: case.approvals[0] requires a 'safety-asessor'" in out
    assert "(did you mean 'safety-assessor'?)" in out
    assert "A006 error: case.approvals[0] names a role twice" in out


def test_an_approval_scope_that_is_no_node_is_reported(
    tmp_path: Path, keys: dict[str, SigningKey], capsys: pytest.CaptureFixture[str]
) -> None:
    root = _project(tmp_path, keys, approvals=[{"scope": "G9.9", "require": ["safety-assessor"]}])
    code, out, _ = run(capsys, "check", str(root))
    assert code == 1
    assert "A006 error: case.approvals[0] requires approvals of 'G9.9', which is no node" in out
    code, out, _ = run(capsys, "gate", str(root), *ALLOW)
    assert code == 1


def test_keygen_declares_the_public_key_for_a_person(
    tmp_path: Path, keys: dict[str, SigningKey], capsys: pytest.CaptureFixture[str]
) -> None:
    people = [_person("ASSESSOR-1", ["safety-assessor"], None)]
    root = _project(tmp_path, keys, people=people, approvals=[])
    inside = root / "my.pem"
    code, out, err = run(
        capsys, "keygen", "--signing", str(inside), "--person", "ASSESSOR-1", "--project", str(root)
    )
    assert code == 2
    assert not inside.exists()
    assert "inside the project" in out + err
    code, out, err = run(
        capsys, "keygen", "--signing", str(tmp_path / "k.pem"), "--person", "NOBODY",
        "--project", str(root),
    )  # fmt: skip
    assert code == 2
    assert not (tmp_path / "k.pem").exists()
    assert "declares no person 'NOBODY'" in out + err
    code, out, _ = run(
        capsys, "keygen", "--signing", str(tmp_path / "k.pem"), "--person", "ASSESSOR-1",
        "--project", str(root),
    )  # fmt: skip
    assert code == 0, out
    key = load_signing_key(tmp_path / "k.pem")
    assert check_project(root).project.manifest.people[0].key == key.public_key
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    code, out, err = run(
        capsys, "keygen", "--signing", str(tmp_path / "k2.pem"), "--person", "ASSESSOR-1",
        "--project", str(root),
    )  # fmt: skip
    assert code == 2
    assert not (tmp_path / "k2.pem").exists()
    assert "already declares the key" in out + err
    assert _codes(capsys, root) == []


def test_signing_keys_in_the_usual_formats(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    ssh = tmp_path / "id_ed25519"
    ssh.write_bytes(private.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()))
    pem = tmp_path / "key.pem"
    pem.write_bytes(private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    assert load_signing_key(ssh).public_key == load_signing_key(pem).public_key
    assert "PRIVATE" not in repr(load_signing_key(pem))
    locked = tmp_path / "locked.pem"
    locked.write_bytes(
        private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"pw"))
    )
    with pytest.raises(SealError, match="encrypted with a passphrase"):
        load_signing_key(locked)
    rsa = tmp_path / "rsa.pem"
    rsa.write_bytes(
        generate_private_key(65537, 2048).private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
    )
    with pytest.raises(SealError, match="not Ed25519"):
        load_signing_key(rsa)
    junk = tmp_path / "junk"
    junk.write_text("hello")
    with pytest.raises(SealError, match="not a key file"):
        load_signing_key(junk)
    with pytest.raises(SealError, match="already exists"):
        generate_signing_key(pem)


def test_changes_between_fingerprints_name_causes_first() -> None:
    before = {
        "nodes": {"G1.1": "supported a", "Sn1": "supported b", "G2": "supported c"},
        "evidence": {"stage5/MLR-1/P": "1111"},
        "artefacts": {"H": "aaaa", "L": "bbbb"},
        "reviews": {},
    }
    after = {
        "nodes": {"G1.1": "stale a2", "Sn1": "stale b2", "G3": "supported d", "G2": "supported e"},
        "evidence": {"stage5/MLR-1/P": "2222"},
        "artefacts": {"H": "aaaa", "L": "cccc"},
        "reviews": {"RV-1": "supported f"},
    }
    assert changes_between(before, after) == [
        "artefact [L] changed",
        "record stage5/MLR-1/P changed",
        "review RV-1 newly cited",
        "1 node(s) added: G3",
        "2 node(s) supported -> stale: G1.1, Sn1",
        "1 node(s) reworded or re-argued: G2",
    ]
    assert changes_between(before, before) == ["the case's trace or module structure"]
    assert changes_between(before, after, limit=2)[-1] == "and 4 more change(s)"


def test_the_report_shows_who_approved_what_and_what_is_awaited(
    tmp_path: Path, keys: dict[str, SigningKey], capsys: pytest.CaptureFixture[str]
) -> None:
    from amlas.case import SystemCase, judge_approvals
    from amlas.render import render_report

    root = _project(tmp_path, keys)
    _sign(root, keys["assessor"], "approve-with-conditions", comment="monthly field review")
    project = check_project(root).project
    case = build_case(project)
    html = render_report(
        case, svgs={}, approvals=judge_approvals(SystemCase(case, project=project))
    )
    section = html[html.index('<section id="approvals">') : html.index('<section id="diagrams">')]
    assert case.digest()[:16] in section
    assert "Person ASSESSOR-1 (ASSESSOR-1)" in section
    assert "monthly field review" in section
    assert '<span class="badge approval-approved">approved</span>' in section
    assert '<span class="badge approval-awaited">awaited</span>' in section
    assert "no current approval of G1.1 in the role independent-verifier" in section
    assert '<section id="approvals">' not in render_report(case, svgs={})
    # the command line writes it too
    code, out, _ = run(capsys, "report", str(root), "-o", str(tmp_path / "r.html"))
    assert code == 0, out
    assert "Person ASSESSOR-1 (ASSESSOR-1)" in (tmp_path / "r.html").read_text()


# -- the review's findings: each way an approval could count when it should not -----------


def test_a_current_rejection_below_the_scope_or_in_another_role_refuses(
    tmp_path: Path, keys: dict[str, SigningKey], capsys: pytest.CaptureFixture[str]
) -> None:
    people = [
        _person("BOTH-1", ["safety-assessor", "independent-verifier"], keys["both"]),
        _person("VERIFIER-1", ["independent-verifier"], keys["verifier"]),
        _person("ASSESSOR-1", ["safety-assessor"], keys["assessor"]),
    ]
    root = _project(tmp_path, keys, people=people)
    _sign(root, keys["assessor"], now="2026-12-01T10:00:00Z")  # G1.1
    _sign(root, keys["verifier"], now="2026-12-01T10:00:00Z")
    assert {r.status for r in _judge(root).required} == {"approved"}
    # a rejection of a node below the top claim, over the same case, by an assessor
    _sign(root, keys["assessor"], "reject", scope="G2.1", comment="G2.1 not argued")
    assessor = next(r for r in _judge(root).required if r.role == "safety-assessor")
    assert assessor.status == "rejected"
    assert "(on G2.1)" in assessor.reason
    assert run(capsys, "gate", str(root), *ALLOW)[0] == 1
    # someone who approves in one role and rejects in another: the rejection stands
    root2 = _project(tmp_path / "two", keys, people=people)
    _sign(root2, keys["both"], role="safety-assessor")
    _sign(root2, keys["both"], "reject", role="independent-verifier", comment="no")
    _sign(root2, keys["verifier"])
    verifier = next(r for r in _judge(root2).required if r.role == "independent-verifier")
    assert verifier.status == "rejected"


def test_approvers_keys_can_be_pinned(
    tmp_path: Path, keys: dict[str, SigningKey], capsys: pytest.CaptureFixture[str]
) -> None:
    """An insider swaps the assessor's declared key for their own and signs as them: only
    a pinned key tells."""
    root = _project(tmp_path, keys)
    _sign(root, keys["verifier"])
    manifest = root / "amlas.yaml"
    manifest.write_text(
        manifest.read_text().replace(keys["assessor"].public_key, keys["stranger"].public_key)
    )
    _sign(root, keys["stranger"])  # signs as ASSESSOR-1 with the insider's key
    code, out, _ = run(capsys, "gate", str(root), *ALLOW)
    assert code == 0, out  # without pins the declared keys are all there is
    assert "approvers' keys: as amlas.yaml declares them, not pinned" in out
    pins = (
        "--expect-signer", f"ASSESSOR-1={keys['assessor'].public_key}",
        "--expect-signer", f"VERIFIER-1={keys['verifier'].public_key}",
    )  # fmt: skip
    code, out, _ = run(capsys, "gate", str(root), *ALLOW, *pins)
    assert code == 1
    assert "awaited       safety-assessor on G1.1" in out
    pinned = {"VERIFIER-1": keys["verifier"].public_key}
    project = check_project(root).project
    judged = judge_signoffs(project, build_case(project), pinned=pinned)
    assert sorted(s.status for s in judged.signoffs) == ["current", "unpinned"]
    code, out, err = run(capsys, "gate", str(root), *ALLOW, "--expect-signer", "nonsense")
    assert code == 2
    assert "expected ID=ed25519:..." in out + err


@pytest.mark.parametrize("variable", ["AMLAS_EXPECTED_VERIFIER_KEY", "AMLAS_EXPECTED_SIGNERS"])
def test_an_empty_expected_key_variable_is_refused_not_ignored(
    tmp_path: Path,
    keys: dict[str, SigningKey],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    root = _project(tmp_path, keys, approvals=[])
    monkeypatch.setenv(variable, "")
    code, out, err = run(capsys, "gate", str(root), *ALLOW)
    assert code == 2
    assert f"{variable} is set but empty" in out + err


def test_a_public_key_has_one_spelling(
    tmp_path: Path, keys: dict[str, SigningKey], capsys: pytest.CaptureFixture[str]
) -> None:
    """The last base64 character carries 2 unused bits: four spellings of one key would
    let one key be declared as two people."""
    key = keys["assessor"].public_key
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = last.index(key[-2])
    other = key[:-2] + last[index ^ 1] + "="
    assert other != key
    people = [
        _person("ASSESSOR-1", ["safety-assessor"], keys["assessor"]),
        {**_person("SHADOW-1", ["independent-verifier"], None), "key": other},
    ]
    root = _project(tmp_path, keys, people=people)
    code, out, _ = run(capsys, "check", str(root))
    assert code == 1
    assert "is not written in its canonical form" in out


def test_independence_raised_after_signing_upgrades_nothing(
    tmp_path: Path, keys: dict[str, SigningKey]
) -> None:
    people = [
        _person("VERIFIER-1", ["independent-verifier"], keys["verifier"], independence="same_team"),
        _person("ASSESSOR-1", ["safety-assessor"], keys["assessor"]),
    ]
    approvals = [{"require": ["independent-verifier"], "independence": "independent_team"}]
    root = _project(tmp_path, keys, people=people, approvals=approvals)
    _sign(root, keys["verifier"])
    manifest = root / "amlas.yaml"
    manifest.write_text(manifest.read_text().replace("same_team", "independent_organisation"))
    (required,) = _judge(root).required
    assert required.status == "awaited"
    assert "declared same_team" in required.reason
