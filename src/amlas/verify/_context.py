"""What the checks of one run share: the data read once, the model loaded once, and the
records and summary rows the run has made so far.

Reading is where R15 is kept: a sealed dataset is opened only with the verifier key, each
unseal is logged (:func:`amlas.evidence.open_sealed`), and a record computed from sealed
data keeps its per-sample detail only sealed for that key (:meth:`RunContext.keep`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from amlas.adapters import Model, load_model
from amlas.checks import (
    Dataset,
    Predictions,
    RequirementResult,
    detector_predictions,
    file_predictions,
    load_dataset,
    predict,
    read_outputs_table,
)
from amlas.diagnostics import Diagnostics
from amlas.errors import ProblemError
from amlas.evidence import (
    MODEL_SETTINGS,
    EvidenceRecord,
    Unsealed,
    canonical_hash,
    model_code_file,
    model_settings,
    open_companion,
    open_sealed,
    seal_record_detail,
)
from amlas.hashing import sha256_file
from amlas.project import Project
from amlas.project.artefacts import ModelReference
from amlas.sealing import SealError, VerifierKey
from amlas.verify._planned import Plan, PlannedCheck

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "Reporter",
    "RunContext",
    "RunReport",
    "Streamed",
    "SummaryRow",
    "load_project_model",
    "model_inputs_of",
]

Role = Literal["developer", "verifier"]


class Reporter(Protocol):
    """Progress for long work: ``task`` starts a bar and returns its advance callback."""

    def task(self, description: str, total: int | None) -> Callable[[int], None]: ...


class Silent:
    """A reporter that shows nothing."""

    def task(self, description: str, total: int | None) -> Callable[[int], None]:
        return lambda _done: None


@dataclass(frozen=True)
class SummaryRow:
    """One line of the summary table."""

    stage: int
    subject: str
    dataset: str
    slice: str
    estimate: float | None
    bound: float | None
    threshold: str
    verdict: str
    detail: str = ""


@dataclass
class RunReport:
    """What a run did: its records (once committed), summary rows, what did not run and why."""

    run_id: str
    store: str
    role: Role
    stages: tuple[int, ...]
    rows: list[SummaryRow] = field(default_factory=list)
    records: list[tuple[str, EvidenceRecord]] = field(default_factory=list)
    """(digest, record) for every record written."""
    not_run: list[tuple[str, str]] = field(default_factory=list)
    """(what, why) for checks the role or the project could not run."""
    warnings: list[str] = field(default_factory=list)
    diagnostics: Diagnostics | None = None

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "fail": 0, "inconclusive": 0}
        for _, record in self.records:
            out[record.verdict] += 1
        return out

    def exit_code(self, *, strict: bool = False) -> int:
        counts = self.counts()
        if counts["fail"] or (strict and counts["inconclusive"]):
            return 1
        return 0


DEFAULT_CHUNK_ROWS = 1 << 20
"""About a million rows: with 30 features, a 240 MB float64 feature matrix per chunk."""


@dataclass
class Streamed:
    """What a chunked read of one dataset gave (:mod:`amlas.verify._stream`): a result
    per planned check (or why it could not run), the data's SHA-256 and the sample ids
    the results name."""

    sha256: str
    results: dict[str, RequirementResult | str] = field(default_factory=dict)
    """Planned key -> the result, or why the metric cannot judge it on this data."""
    listed: set[str] = field(default_factory=set)
    samples: int = 0
    chunks: int = 0


def model_inputs_of(project: Project) -> dict[str, str]:
    """The inputs a record cites for the model: the hash of the model file, its settings
    in [V] and, for a python callable, its module's source (the code that computes the
    predictions is part of the model)."""
    ref = project.get("V", ModelReference)
    assert ref is not None
    settings = model_settings(project)
    assert settings is not None
    if ref.location is None:  # predictions only: the model that made them, by hash
        return {"model": str(ref.produced_by), MODEL_SETTINGS: settings}
    out = {"model": str(project.content_hash(project.root / ref.location))}
    out[MODEL_SETTINGS] = settings  # a new decision threshold changes every verdict
    code = model_code_file(project)
    if code is not None:
        out["model_code"] = sha256_file(code)
    return out


def load_project_model(project: Project) -> Model:
    """The model [V] names, loaded (a run loads it once; a worker of the Dask engine once
    per project it is given), its classes checked against [D]."""
    ref = project.get("V", ModelReference)
    if ref is None:
        raise ProblemError("stages 4 and 5 need the model reference [V]", code="R020", path="[V]")
    if ref.format is None:
        raise ProblemError(
            "this check runs the model, and [V] gives only predictions made "
            "elsewhere; add the model's 'location' and 'format'",
            code="R020",
            path="[V]",
        )
    path = project.root / ref.location if ref.location else None
    model = load_model(
        path,
        ref.format,
        callable=ref.callable,
        class_order=ref.class_order,
        search_path=project.root,
        outputs=ref.outputs,
        timeout_s=ref.timeout_s,
    )
    component = project.component
    declared = component.class_names() if component else []
    if declared and set(model.classes) != set(declared):
        raise ProblemError(
            f"the model's classes {list(model.classes)} are not the classes of [D] {declared}",
            code="M010",
            path="[V]",
            value=list(model.classes),
            expected="'class_order' in [V]: the [D] names in the order of the model's outputs",
        )
    return model


class RunContext:
    """The shared state of one run of ``plan`` (see the module docs)."""

    def __init__(
        self,
        plan: Plan,
        report: RunReport,
        *,
        key: VerifierKey | None,
        reporter: Reporter,
        batch_size: int,
        chunk_rows: int | None = None,
        engine: Any = None,
    ) -> None:
        self.plan = plan
        self.project: Project = plan.project
        self.report = report
        self.key = key
        self.reporter = reporter
        self.batch_size = batch_size
        self.chunk_rows = chunk_rows or DEFAULT_CHUNK_ROWS
        """Rows per chunk of a dataset read in chunks (rounded to whole batches)."""
        self.chunk_rows_given = chunk_rows is not None
        """Whether the run or the manifest chose :attr:`chunk_rows` (else the default,
        which the Dask engine may cut smaller to keep its workers busy)."""
        self.datasets: dict[str, Dataset] = {}
        self.engine_spec = engine
        """Where chunks are worked on (an ``EngineSpec``; None: in this process)."""
        self.engine: Any = None
        """The engine, once a dataset is read in chunks (``verify._stream``)."""
        self.streamed: dict[str, Streamed | None] = {}
        """Per dataset read in chunks, what it gave; None where it is read whole."""
        self.stage3: dict[str, Any] = {}
        """Per dataset read in chunks for stage 3, what it gave (``verify._stage3``);
        None where it is read whole."""
        self.stage3_reasons: dict[str, str | None] = {}
        """Per dataset stage 3 reads, why it is read whole (None: in chunks)."""
        self.unsealed: dict[str, Unsealed] = {}
        self.records: list[EvidenceRecord] = []
        self._model: Model | None = None
        self._predictions: dict[str, Predictions] = {}
        self._objects_raw: dict[str, bytes] = {}
        """The decrypted ground-truth objects of sealed datasets (COCO categories)."""

    @property
    def role(self) -> Role:
        return self.report.role

    def not_run(self, what: str, why: str) -> None:
        self.report.not_run.append((what, why))

    # -- data ------------------------------------------------------------------------------

    def unseal(self, letter: str, *, chunked: bool = False) -> Unsealed:
        """Open the sealed dataset ``letter`` with the verifier key, logging the unseal
        (whole in memory, or to be read chunk by chunk)."""
        if self.key is None:
            raise ProblemError(
                f"[{letter}] is sealed: give the verifier key with --key-file or "
                "AMLAS_VERIFIER_KEY_FILE",
                code="R060",
                path=f"[{letter}]",
            )
        unsealed = open_sealed(
            self.project,
            letter,
            self.key,
            purpose=f"amlas run, stages {self.report.stages}, run {self.report.run_id}",
            chunked=chunked,
        )
        self.unsealed[letter] = unsealed
        return unsealed

    def dataset(self, letter: str) -> Dataset:
        if letter not in self.datasets:
            document = self.project.datasets()[letter]
            data = None
            if document.sealed is not None:
                data = self.unseal(letter).data
            objects = None
            if document.sealed is not None and document.objects is not None:
                spec = document.objects
                raw = self._companion(letter, spec.location, "ground-truth objects")
                self._objects_raw[letter] = raw
                objects = read_outputs_table(self.project.root, spec, data=raw)
            self.datasets[letter] = load_dataset(self.project, letter, data=data, objects=objects)
        return self.datasets[letter]

    def _companion(self, letter: str, location: str, what: str) -> bytes:
        """A file sealed with [``letter``] (its objects, the predictions on it), unsealed
        in memory with the verifier key and logged."""
        if self.key is None:
            raise ProblemError(
                f"the {what} of [{letter}] are sealed: give the verifier key with --key-file",
                code="R060",
                path=f"[{letter}]",
            )
        try:
            return open_companion(
                self.project,
                letter,
                location,
                self.key,
                what=what,
                purpose=f"amlas run, stages {self.report.stages}, run {self.report.run_id}",
            )
        except SealError as exc:
            raise ProblemError(str(exc), code="R060", path=f"[{letter}]") from None

    def data_inputs(self, letter: str) -> dict[str, str]:
        """The hash of the data read for ``letter`` and, for sealed data, the access-log
        entry of its unseal."""
        streamed = self.streamed.get(letter) or self.stage3.get(letter)
        digest = streamed.sha256 if streamed is not None else self.datasets[letter].sha256
        out = {f"dataset:{letter}": digest}
        if letter in self.unsealed:
            out[f"access_log:{letter}"] = self.unsealed[letter].entry.hash
        return out

    def keep(
        self, record: EvidenceRecord, *, sample_ids: frozenset[str] | None = None
    ) -> EvidenceRecord:
        """Add ``record`` to the run. Every record goes through here, so that one computed
        from sealed data keeps its per-sample detail (sample ids, values, counterexamples)
        only sealed for the verifier key (R15), before anything (a stage-6 chain citing it,
        the store, the summary) sees it.

        ``sample_ids`` are the ids the record can name, where the check knows them (a
        tallied proportion: the same whether its dataset was read whole or in chunks);
        otherwise every id of the sealed datasets it cites is looked for (the safety
        net)."""
        sealed = [x for x, d in self.project.datasets().items() if d.sealed is not None]
        if sample_ids is not None:
            kept = seal_record_detail(record, sealed=sealed, key=self.key, sample_ids=sample_ids)
            self.records.append(kept)
            return kept
        ids: set[str] = set()
        for letter in sealed:
            if f"dataset:{letter}" not in record.inputs:
                continue
            dataset = self.datasets.get(letter)
            if dataset is not None:
                ids.update(str(x) for x in dataset.ids.tolist())
                if dataset.groups is not None:
                    ids.update(str(x) for x in dataset.groups.tolist())
            streamed = self.streamed.get(letter)
            if streamed is not None:  # never whole in memory: the ids its results name
                ids.update(streamed.listed)
        kept = seal_record_detail(record, sealed=sealed, key=self.key, sample_ids=ids)
        self.records.append(kept)
        return kept

    # -- model -----------------------------------------------------------------------------

    @property
    def model_reference(self) -> ModelReference | None:
        return self.project.get("V", ModelReference)

    def model(self) -> Model:
        if self._model is None:
            self._model = load_project_model(self.project)
        return self._model

    def model_inputs(self) -> dict[str, str]:
        """The inputs a record cites for the model (:func:`model_inputs_of`)."""
        return model_inputs_of(self.project)

    def test_inputs(self, planned: PlannedCheck, requirement: BaseModel) -> dict[str, str]:
        """The inputs of a stage-4/5 record: the data, the model, the requirement, [B]."""
        (letter,) = planned.datasets
        inputs = self.data_inputs(letter)
        inputs.update(self.model_inputs())
        inputs.update(self.output_inputs(letter))
        inputs[f"requirement:{planned.subject}"] = canonical_hash(requirement)
        inputs["environment"] = canonical_hash(self.project.environment)
        return inputs

    def output_inputs(self, letter: str) -> dict[str, str]:
        """The hashes of the ground-truth objects and of the predictions file of
        ``letter``, where the project declares them."""
        out: dict[str, str] = {}
        dataset = self.datasets.get(letter)
        if dataset is not None and dataset.truth is not None:
            out[f"objects:{letter}"] = dataset.truth.sha256
        predictions = self._predictions.get(letter)
        if predictions is not None and predictions.sha256 is not None:
            out[f"predictions:{letter}"] = predictions.sha256
        return out

    def classes(self) -> list[str]:
        component = self.project.component
        return component.class_names() if component else []

    def positive_class(self) -> tuple[str | None, str]:
        """The class a decision threshold applies to, and where that choice came from."""
        component = self.project.component
        ref = self.model_reference
        if ref is not None and not ref.loadable:
            classes = self.classes()
        else:
            classes = list(self.model().classes)
        if len(classes) != 2:
            return None, "not a binary classifier: the most probable class is predicted"
        if component is not None:
            related = [c.name for c in component.classes if c.safety_related]
            if len(related) == 1 and related[0] in classes:
                return related[0], "the one safety-related class of [D]"
        return classes[1], "the second class of [V] class_order (no single safety-related class)"

    def predictions(self, letter: str) -> Predictions:
        """The model's outputs on ``letter``: read from the predictions file [V] declares
        for it (made outside amlas), else computed by running the model once."""
        if letter not in self._predictions:
            dataset = self.dataset(letter)
            ref = self.model_reference
            assert ref is not None
            positive, _ = self.positive_class()
            threshold = ref.decision_threshold if positive is not None else None
            spec = ref.predictions_for(letter)
            if spec is not None:
                component = self.project.component
                table = None
                if dataset.document.sealed is not None:  # the verifier's, sealed with [X]
                    raw = self._companion(letter, spec.location, "predictions")
                    table = read_outputs_table(
                        self.project.root,
                        spec,
                        data=raw,
                        truth=dataset.document.objects,
                        truth_data=self._objects_raw.get(letter),
                    )
                self._predictions[letter] = file_predictions(
                    self.project.root,
                    spec,
                    dataset,
                    task=component.task if component is not None else "other",
                    classes=self.classes(),
                    positive=positive,
                    threshold=threshold,
                    table=table,
                )
                return self._predictions[letter]
            advance = self.reporter.task(f"predict [{letter}]", len(dataset))
            component = self.project.component
            if component is not None and component.task == "object_detection":
                self._predictions[letter] = detector_predictions(
                    self.model(),
                    dataset,
                    batch_size=min(self.batch_size, 256),
                    progress=advance,
                )
                return self._predictions[letter]
            self._predictions[letter] = predict(
                self.model(),
                dataset.inputs,
                positive=positive,
                threshold=threshold,
                batch_size=self.batch_size,
                progress=advance,
            )
        return self._predictions[letter]

    @property
    def value_range(self) -> tuple[float, float] | None:
        component = self.project.component
        bounds = component.inputs.value_range if component is not None else None
        return (float(bounds[0]), float(bounds[1])) if bounds else None
