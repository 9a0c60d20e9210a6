"""``amlas predictions import``: the verifier's predictions on sealed data, made by the
team's own pipeline, sealed into the project like the data itself.

Thin: the file is read and checked against the sealed dataset (every row must fit it,
as :func:`amlas.checks.file_predictions` requires), then sealed beside the location [V]
declares for it (:func:`amlas.evidence.seal_companion`) and logged in the dataset's
access log. The plaintext never enters the project.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from amlas.checks import file_predictions, load_dataset, read_outputs_table
from amlas.cli._common import refuse_system
from amlas.errors import UsageError
from amlas.evidence import companion_sealed, open_companion, open_sealed, seal_companion
from amlas.project import check_project
from amlas.project.artefacts import ModelReference
from amlas.sealing import resolve_key

__all__ = ["predictions"]


@click.group()
def predictions() -> None:
    """Predictions made outside amlas (the team's own pipeline)."""


@predictions.command("import")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option(
    "--dataset",
    type=click.Choice(["P", "O", "N"]),
    default="P",
    show_default=True,
    help="The sealed dataset the predictions were made on.",
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The verifier key (else AMLAS_VERIFIER_KEY_FILE or AMLAS_VERIFIER_KEY).",
)
def import_predictions(directory: Path, file: Path, dataset: str, key_file: Path | None) -> None:
    """Seal FILE, the model's predictions on the sealed DATASET of DIRECTORY, as the
    predictions [V] declares for it (its columns and format), after checking every row
    against the data. The developer role never reads them; a new import makes the records
    computed from the old ones stale."""
    refuse_system(directory, "amlas predictions import")
    key = resolve_key(key_file, os.environ)
    if key is None:
        raise UsageError("no verifier key: give --key-file (the predictions are sealed with it)")
    loaded = check_project(directory)
    if loaded.diagnostics.has_errors:
        raise UsageError(
            f"{directory} has errors ('amlas check {directory}' lists them): fix them first"
        )
    project = loaded.project
    model = project.get("V", ModelReference)
    spec = model.predictions_for(dataset) if model is not None else None
    if spec is None:
        raise UsageError(
            f"[V] declares no predictions for [{dataset}]: add 'predictions: {{{dataset}: "
            "{location: ..., format: ..., ...}}' to [V] (the columns of FILE), then import"
        )
    document = project.datasets().get(dataset)
    if document is None or document.sealed is None:
        raise UsageError(
            f"[{dataset}] is not sealed: seal it first ('amlas seal --dataset {dataset}'); "
            "predictions on plaintext data are a project file like any other"
        )
    # every row must fit the data before anything is written
    unsealed = open_sealed(
        project, dataset, key, purpose=f"check the predictions of {file.name} before import"
    )
    objects, raw = None, None
    if document.objects is not None:
        raw = open_companion(
            project,
            dataset,
            document.objects.location,
            key,
            what="ground-truth objects",
            purpose=f"check the predictions of {file.name} before import",
        )
        objects = read_outputs_table(project.root, document.objects, data=raw)
    data = load_dataset(project, dataset, data=unsealed.data, objects=objects)
    table = read_outputs_table(
        file.parent,
        spec.model_copy(update={"location": file.name}),
        truth=document.objects,
        truth_data=raw,
    )
    component = project.component
    file_predictions(
        project.root,
        spec,
        data,
        task=component.task if component is not None else "other",
        classes=component.class_names() if component is not None else [],
        positive=None,
        threshold=None,
        table=table,
    )
    header = seal_companion(project, dataset, spec.location, key, what="predictions", source=file)
    click.echo(
        f"sealed the predictions on [{dataset}] into {companion_sealed(spec.location)} "
        f"(sha256 {header.plaintext_sha256[:12]}..., {len(table)} rows)"
    )
    if file.resolve().is_relative_to(project.root.resolve()):
        # a plaintext copy inside the project would reach the development team
        file.unlink()
        click.echo(f"removed the plaintext {file} from the project")
