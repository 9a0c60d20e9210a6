"""``amlas bundle`` and ``amlas verify-bundle``: the assessor's bundle (docs/signoff.md)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from amlas.bundle import BUNDLE_MARK, verify_bundle, write_bundle
from amlas.case import judge_approvals
from amlas.cli._common import EXIT_ERRORS, EXIT_OK, fail, print_diagnostic_lines, print_diagnostics
from amlas.cli._output import echo
from amlas.cli._paths import layout_cache, project_paths, refused
from amlas.cli._signoff import (
    EXPECT_SIGNER,
    SIGNING_KEY_FILE,
    built_case,
    expected_env,
    load_key_outside,
    pinned_signers,
)
from amlas.fileio import OutputRefused, check_output_file, register_output_file

__all__ = ["bundle", "verify_bundle_command"]

BUNDLE_COMMAND = "amlas bundle"


@click.command("bundle")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The archive to write (a zip file), e.g. safety-case-bundle.zip.",
)
@SIGNING_KEY_FILE
@click.option("--no-svg", is_flag=True, help="Leave out the Graphviz diagrams.")
def bundle(directory: Path, output: Path, key_file: Path, no_svg: bool) -> None:
    """Write the assessor's bundle of DIRECTORY: one archive an assessor verifies offline.

    It holds every artefact, the review records and what they examined, the sign-offs,
    the current evidence records, the access logs of sealed data (never the data, never a
    key), the hashes of the data and model files, the case in every format and the
    report, and a manifest of SHA-256 hashes signed with your key.
    """
    key = load_key_outside(key_file, directory)
    whole = built_case(directory)
    if whole.case.diagnostics.has_errors:
        print_diagnostics(whole.case.diagnostics, str(directory))
        fail("the project has errors: fix them before bundling its case", EXIT_ERRORS)
    try:
        check_output_file(
            output,
            command=BUNDLE_COMMAND,
            signature=BUNDLE_MARK.strip(),
            project=directory,
            protected=project_paths(directory, None),
        )
    except OutputRefused as error:
        refused(error)
    register_output_file(output, command=BUNDLE_COMMAND, version=_version())
    written = write_bundle(
        whole,
        key,
        output,
        approvals=judge_approvals(whole),
        svg=not no_svg,
        layout_cache=layout_cache(directory, None),
    )
    echo(
        f"bundle written to {written.path} ({written.size // 1024} KiB: {written.files} files "
        f"and a signed manifest, {written.records} evidence records, case "
        f"{written.case_digest[:16]}...), signed by {written.signer}"
    )
    echo(f"verify it anywhere with: amlas verify-bundle {written.path}")


def _version() -> str:
    from amlas._version import __version__

    return __version__


@click.command("verify-bundle")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--expect-key",
    "expect",
    multiple=True,
    metavar="ed25519:...",
    envvar="AMLAS_EXPECTED_BUNDLE_KEY",
    help="A public key you accept as the bundler's, as you received it from them; "
    "repeatable. Without it any key the bundled amlas.yaml declares is accepted, and the "
    "verdict names it.",
)
@EXPECT_SIGNER
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
def verify_bundle_command(
    file: Path, expect: tuple[str, ...], signers: tuple[str, ...], fmt: str
) -> None:
    """Verify the assessor's bundle FILE offline: no project, model, data or network.

    Checks every file's hash and every signature, the access log's chain, rebuilds the
    case from the bundled artefacts and records and requires it to equal the bundled
    case. Prints a verdict; exit 0 verified, 1 not (each problem coded, naming the file).
    """
    if os.path.isdir(file):
        fail(f"{file} is a folder; give the bundle's archive file")
    expected_env("AMLAS_EXPECTED_BUNDLE_KEY")
    verdict = verify_bundle(
        file, expect_keys=[k.strip() for k in expect], expect_signers=pinned_signers(signers)
    )
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "archive": verdict.archive,
                    "verified": verdict.verified,
                    "lines": verdict.lines,
                    "diagnostics": [d.to_dict() for d in verdict.diagnostics.sorted()],
                    "manifest": {k: v for k, v in (verdict.manifest or {}).items() if k != "files"},
                    "approvals": {c: a.to_dict() for c, a in verdict.approvals.items()},
                },
                indent=1,
            )
        )
    else:
        print_diagnostic_lines(verdict.diagnostics.sorted())
        click.echo(verdict.text(), nl=False)
    sys.exit(EXIT_OK if verdict.verified else EXIT_ERRORS)
