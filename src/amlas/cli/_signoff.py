"""``amlas sign``: a person's signed decision on the safety case (docs/signoff.md).

The statement is made over the case as built now (its digest, and so every record,
artefact and review it cites); ``amlas check`` verifies every statement, ``amlas gate``
counts the current approvals ``case.approvals`` requires.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from amlas.case import (
    DECISIONS,
    SystemCase,
    build_case,
    build_system_case,
    judge_approvals,
    sign_case,
    signoff_files,
)
from amlas.cli._common import EXIT_ERRORS, console, fail, print_diagnostics
from amlas.diagnostics import Diagnostics
from amlas.errors import ProblemError
from amlas.project import check_project, is_system_dir, load_system, relocated
from amlas.sealing import SigningKey, check_public_key, load_signing_key

__all__ = [
    "EXPECT_SIGNER",
    "SIGNERS_ENV",
    "SIGNING_KEY_FILE",
    "built_case",
    "expected_env",
    "load_key_outside",
    "pinned_signers",
    "sign",
    "signoff_diagnostics",
]


def load_key_outside(key_file: Path, directory: Path) -> SigningKey:
    """The signing key at ``key_file``, refused (R110) when it lies inside the project:
    a private key never enters the project."""
    root = Path(os.path.realpath(directory))
    if Path(os.path.realpath(key_file)).is_relative_to(root):
        raise ProblemError(
            f"{key_file} is inside the project {directory}: a private key never enters "
            "the project (anyone with the repository could sign as you)",
            code="R110",
            path=str(key_file),
            expected="a key file outside the project",
        )
    return load_signing_key(key_file)


def built_case(directory: Path) -> SystemCase:
    """The case of ``directory`` (a project, or a system and its ML components) as built
    without the verifier key, what sign-offs, bundles and diffs are made over, with the
    project(s) whose people and ``signoffs/`` count."""
    if is_system_dir(directory):
        return build_system_case(load_system(directory))
    project = check_project(directory).project
    return SystemCase(build_case(project), project=project)


SIGNERS_ENV = "AMLAS_EXPECTED_SIGNERS"


def expected_env(name: str) -> None:
    """Refuse (exit 2) an expected-key variable that is set but empty: it would pin
    nothing, which is what a CI variable that was never defined gives."""
    if name in os.environ and not os.environ[name].strip():
        fail(
            f"{name} is set but empty: it would pin nothing; set it to the key(s) you "
            "expect, or unset it"
        )


def pinned_signers(values: tuple[str, ...]) -> dict[str, str] | None:
    """``ID=ed25519:...`` pairs (``--expect-signer``, or ``AMLAS_EXPECTED_SIGNERS``
    separated by white space) as person ID -> public key; None when none is given."""
    expected_env(SIGNERS_ENV)
    if not values:
        return None
    out: dict[str, str] = {}
    for value in values:
        person, sep, key = value.partition("=")
        try:
            out[person.strip()] = check_public_key(key.strip())
        except ValueError as exc:
            fail(f"--expect-signer {value!r}: expected ID=ed25519:... ; the key {exc}")
        if not sep or not person.strip():
            fail(f"--expect-signer {value!r}: expected ID=ed25519:...")
    return out


EXPECT_SIGNER = click.option(
    "--expect-signer",
    "signers",
    multiple=True,
    metavar="ID=ed25519:...",
    envvar=SIGNERS_ENV,
    help="A person and the public key you received from them another way; repeatable (or "
    f"{SIGNERS_ENV}, separated by spaces). Given, only sign-offs by people pinned with "
    "the very key they signed with count: anyone who can edit amlas.yaml can declare a key "
    "of their own.",
)


def signoff_diagnostics(directory: Path) -> Diagnostics:
    """What ``amlas check`` adds for sign-offs (A001-A006), located in the project; none
    when the project declares no people, no approvals and holds no sign-off (the case is
    then not built)."""
    out = Diagnostics()
    system = load_system(directory, check=False) if is_system_dir(directory) else None
    if system is not None:
        projects = {"": system.project, **system.components}
        paths = {"": "", **system.paths}
    else:
        projects, paths = {"": check_project(directory).project}, {"": ""}
    if not any(
        p.manifest.people or p.manifest.case.approvals or signoff_files(p.root)
        for p in projects.values()
    ):
        return out
    built = (
        build_system_case(system)
        if system is not None
        else SystemCase(build_case(projects[""]), project=projects[""])
    )
    for component, judged in judge_approvals(built).items():
        prefix = paths.get(component, "")
        out.extend(relocated(d, prefix) if prefix else d for d in judged.diagnostics)
    return out


SIGNING_KEY_FILE = click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Your Ed25519 private key, outside the project ('amlas keygen --signing', "
    "'openssl genpkey -algorithm ed25519' or 'ssh-keygen -t ed25519'); you are declared "
    "under 'people:' in amlas.yaml with its public half.",
)


@click.command("sign")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@SIGNING_KEY_FILE
@click.option("--decision", type=click.Choice(DECISIONS), required=True)
@click.option(
    "--scope",
    metavar="NODE",
    default=None,
    help="The node you decide on (default: the case's top claim); an approval of a node "
    "covers every node below it.",
)
@click.option("--comment", default="", help="Why; for approve-with-conditions, the conditions.")
@click.option(
    "--role",
    default=None,
    help="The role you decide in, when you are declared with several.",
)
def sign(
    directory: Path,
    key_file: Path,
    decision: str,
    scope: str | None,
    comment: str,
    role: str | None,
) -> None:
    """Sign a decision on the safety case of DIRECTORY as it is built now.

    Writes a statement signed with your key into DIRECTORY/signoffs/: your decision, the
    node it is on, your comment, the time, and the digest of the case (so of every record,
    artefact and review it cites). Any later change to the case makes it stale. You must
    be declared under 'people:' in amlas.yaml with this key's public half.
    """
    key = load_key_outside(key_file, directory)
    built = built_case(directory)
    project = built.system.project if built.system is not None else built.project
    assert project is not None
    if built.case.diagnostics.has_errors:
        print_diagnostics(built.case.diagnostics, str(directory))
        fail("the project has errors: fix them before signing its case", EXIT_ERRORS)
    target, judged = sign_case(
        project,
        built.case,
        key,
        decision=decision,  # type: ignore[arg-type]
        scope=scope,
        comment=comment,
        role=role,
    )
    out = console(wide=True)
    out.print(
        f"signed: {judged.decision} of {judged.scope} ({judged.scope_status}) by "
        f"{judged.name} ({judged.signer}) as {judged.role}, over case {judged.digest[:12]}...",
        markup=False,
    )
    if judged.decision != "reject" and judged.scope_status != "supported":
        out.print(
            f"note: {judged.scope} is {judged.scope_status}; the statement records that you "
            "approved it as such",
            markup=False,
            style="yellow",
        )
    click.echo(f"written to {target}")
