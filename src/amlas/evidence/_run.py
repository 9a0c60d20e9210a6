"""``amlas run``: evaluate what the project's requirements call for and record evidence.

Stage 3 runs every machine-checkable data rule [L] on the datasets it names and checks the
independence of [N], [O] and [P] (producing [S]); stage 4 judges every data-related [H]
requirement on the internal test data [O] (producing [X]); stage 5 judges them on the
verification data [P] (producing [Z]).

Roles keep AMLAS R15: the developer role never reads sealed data (the checks that need it
are listed as not run, with why), and stage 5 belongs to the verifier role, which decrypts
[P] in memory and logs every unseal and use. All records of one invocation go into the
evidence store as one run, committed only at the end: an interrupted run changes nothing.
"""

from __future__ import annotations

import contextlib
import itertools
import platform
import secrets
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, Literal, Protocol

import numpy as np

from amlas.adapters import Model, load_model, torch_module
from amlas.checks import (
    CheckOutcome,
    Dataset,
    Predictions,
    RequirementResult,
    check_independence,
    evaluate_requirement,
    load_dataset,
    predict,
    run_data_rule,
)
from amlas.checks._metrics import BOOTSTRAP_METRICS, PROPORTIONS
from amlas.checks._verify import (
    fault_result,
    formal_result,
    formal_unavailable,
    perturbed_decisions,
    robustness_unavailable,
)
from amlas.diagnostics import Diagnostics
from amlas.errors import UsageError
from amlas.evidence._custody import Unsealed, check_verifier_key, open_sealed, record_use
from amlas.evidence._detail import seal_record_detail
from amlas.evidence._inputs import canonical_hash, file_hash, model_code_file
from amlas.evidence._record import EvidenceRecord
from amlas.evidence._signature import sign_record
from amlas.evidence._store import StoreError, open_store
from amlas.hashing import sha256_file
from amlas.project import Project, check_project
from amlas.project.artefacts import MLSafetyRequirement
from amlas.sealing import AccessLog, SealError, VerifierKey, public_key_of

__all__ = ["Reporter", "RunReport", "SummaryRow", "run_project", "verify_custody"]

Role = Literal["developer", "verifier"]
Stage = Literal[3, 4, 5, 6]
DEFAULT_STAGES: dict[str, tuple[Stage, ...]] = {"developer": (3, 4), "verifier": (3, 5)}


class Reporter(Protocol):
    """Progress for long work: ``task`` starts a bar and returns its advance callback."""

    def task(self, description: str, total: int | None) -> Callable[[int], None]: ...


class _Silent:
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


# -- helpers -----------------------------------------------------------------------------


def _versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("amlas", "numpy", "scipy", *extra):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    return out


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _json(value: Any) -> Any:
    """Plain JSON values: numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


@contextlib.contextmanager
def _timed() -> Iterator[dict[str, Any]]:
    meta: dict[str, Any] = {"started": _now()}
    start = time.perf_counter()
    yield meta
    meta["finished"] = _now()
    meta["duration_s"] = round(time.perf_counter() - start, 6)


# -- the run -------------------------------------------------------------------------------


class _Runner:
    def __init__(
        self,
        project: Project,
        report: RunReport,
        *,
        key: VerifierKey | None,
        reporter: Reporter,
        batch_size: int,
        only: Collection[str] | None = None,
    ) -> None:
        self.project = project
        self.only = only
        self.report = report
        self.key = key
        self.reporter = reporter
        self.batch_size = batch_size
        self.datasets: dict[str, Dataset] = {}
        self.unsealed: dict[str, Unsealed] = {}
        self.records: list[EvidenceRecord] = []
        self._model: Model | None = None
        self._predictions: dict[str, Predictions] = {}

    # -- access ----------------------------------------------------------------------------

    def wanted(self, key: str) -> bool:
        """Whether the check recording ``key`` runs (``only`` filters before any work)."""
        return self.only is None or key in self.only

    def readable(self, letter: str) -> str | None:
        """None when the role may read dataset ``letter``; otherwise why not."""
        document = self.project.datasets().get(letter)
        if document is None:
            return f"the project declares no [{letter}]"
        if document.sealed is not None and self.report.role != "verifier":
            return f"[{letter}] is sealed: only the verifier role reads it (R15)"
        return None

    def dataset(self, letter: str) -> Dataset:
        if letter not in self.datasets:
            document = self.project.datasets()[letter]
            data = None
            if document.sealed is not None:
                if self.key is None:
                    raise UsageError(
                        f"[{letter}] is sealed: give the verifier key with --key-file or "
                        "AMLAS_VERIFIER_KEY_FILE"
                    )
                unsealed = open_sealed(
                    self.project,
                    letter,
                    self.key,
                    purpose=f"amlas run, stages {self.report.stages}, run {self.report.run_id}",
                )
                self.unsealed[letter] = unsealed
                data = unsealed.data
            self.datasets[letter] = load_dataset(self.project, letter, data=data)
        return self.datasets[letter]

    def keep(self, record: EvidenceRecord) -> None:
        """Add ``record`` to the run; every record goes through here, so that one computed
        from sealed data keeps its per-sample detail (sample ids, values, counterexamples)
        only sealed for the verifier key (R15), before anything (a stage-6 chain citing it,
        the store, the summary) sees it."""
        sealed = [x for x, d in self.project.datasets().items() if d.sealed is not None]
        ids: set[str] = set()
        for letter in sealed:
            dataset = self.datasets.get(letter)
            if dataset is not None and f"dataset:{letter}" in record.inputs:
                ids.update(str(x) for x in dataset.ids.tolist())
                if dataset.groups is not None:
                    ids.update(str(x) for x in dataset.groups.tolist())
        self.records.append(seal_record_detail(record, sealed=sealed, key=self.key, sample_ids=ids))

    def inputs_for(self, letter: str) -> dict[str, str]:
        dataset = self.datasets[letter]
        out = {f"dataset:{letter}": dataset.sha256}
        if letter in self.unsealed:
            out[f"access_log:{letter}"] = self.unsealed[letter].entry.hash
        return out

    # -- model -----------------------------------------------------------------------------

    @property
    def model_reference(self) -> Any:
        from amlas.project.artefacts import ModelReference

        return self.project.get("V", ModelReference)

    def model(self) -> Model:
        if self._model is None:
            ref = self.model_reference
            if ref is None:
                raise UsageError("stages 4 and 5 need the model reference [V]")
            path = self.project.root / ref.location if ref.location else None
            model = load_model(
                path,
                ref.format,
                callable=ref.callable,
                class_order=ref.class_order,
                search_path=self.project.root,
                outputs=ref.outputs,
                timeout_s=ref.timeout_s,
            )
            component = self.project.component
            declared = component.class_names() if component else []
            if declared and set(model.classes) != set(declared):
                raise UsageError(
                    f"the model's classes {list(model.classes)} are not the classes of [D] "
                    f"{declared}; set 'class_order' in [V] to the [D] names in the order of "
                    "the model's outputs"
                )
            self._model = model
        return self._model

    def model_inputs(self) -> dict[str, str]:
        """The hash of the model file and, for a python callable, of its module's source:
        the code that computes the predictions is part of the model."""
        ref = self.model_reference
        out = {"model": str(self.project.content_hash(self.project.root / ref.location))}
        code = model_code_file(self.project)
        if code is not None:
            out["model_code"] = sha256_file(code)
        return out

    def positive_class(self) -> tuple[str | None, str]:
        """The class a decision threshold applies to, and where that choice came from."""
        component = self.project.component
        classes = list(self.model().classes)
        if len(classes) != 2:
            return None, "not a binary classifier: the most probable class is predicted"
        if component is not None:
            related = [c.name for c in component.classes if c.safety_related]
            if len(related) == 1 and related[0] in classes:
                return related[0], "the one safety-related class of [D]"
        return classes[1], "the second class of [V] class_order (no single safety-related class)"

    def predictions(self, letter: str) -> Predictions:
        if letter not in self._predictions:
            dataset = self.dataset(letter)
            ref = self.model_reference
            positive, _ = self.positive_class()
            threshold = ref.decision_threshold if positive is not None else None
            advance = self.reporter.task(f"predict [{letter}]", len(dataset))
            self._predictions[letter] = predict(
                self.model(),
                dataset.inputs,
                positive=positive,
                threshold=threshold,
                batch_size=self.batch_size,
                progress=advance,
            )
        return self._predictions[letter]

    # -- stage 3 ----------------------------------------------------------------------------

    def stage3(self) -> None:
        data = self.project.data_requirements
        if data is None:
            self.report.not_run.append(("stage 3", "the project has no data requirements [L]"))
            return
        for requirement in data.requirements:
            if requirement.rule is None:
                self.report.not_run.append(
                    (f"{requirement.id}", "no machine-checkable rule: judged by review in [Q]")
                )
                continue
            for letter in requirement.datasets:
                if not self.wanted(f"stage3/{requirement.id}/{letter}"):
                    continue
                why = self.readable(letter)
                if why is not None:
                    self.report.not_run.append((f"{requirement.id} on [{letter}]", why))
                    continue
                dataset = self.dataset(letter)
                with _timed() as meta:
                    outcome = run_data_rule(self.project, requirement, dataset)
                inputs = self.inputs_for(letter)
                inputs[f"requirement:{requirement.id}"] = canonical_hash(requirement)
                if requirement.rule.check in (
                    "within_odd",
                    "min_samples_per_cell",
                    "slice_balance",
                ):
                    inputs["environment"] = canonical_hash(self.project.environment)
                audit = getattr(requirement.rule, "audit_file", None)
                # label_error_rate: the audit is data the verdict rests on (the hash of what
                # the check read; the project check refuses a missing audit file)
                audited = audit and (
                    outcome.resolved.get("audit_sha256") or file_hash(self.project.root, audit)
                )
                if audited:
                    inputs[f"file:{audit}"] = audited
                self.add_outcome(3, f"stage3/{requirement.id}/{letter}", outcome, inputs, meta)
        letters = [x for x in ("N", "O", "P") if x in self.project.datasets()]
        for a, b in itertools.combinations(letters, 2):
            if not self.wanted(f"stage3/independence/{a}-{b}"):
                continue
            why = self.readable(a) or self.readable(b)
            if why is not None:
                self.report.not_run.append((f"independence of [{a}] and [{b}]", why))
                continue
            first, second = self.dataset(a), self.dataset(b)
            advance = self.reporter.task(f"independence [{a}]-[{b}]", None)
            with _timed() as meta:
                outcome = check_independence(first, second, data.independence)
            advance(1)
            inputs = {**self.inputs_for(a), **self.inputs_for(b)}
            inputs[f"samples:{a}"] = first.samples_digest
            inputs[f"samples:{b}"] = second.samples_digest
            self.add_outcome(3, f"stage3/independence/{a}-{b}", outcome, inputs, meta)

    def add_outcome(
        self,
        stage: Stage,
        key: str,
        outcome: CheckOutcome,
        inputs: dict[str, str],
        meta: dict[str, Any],
    ) -> None:
        record = EvidenceRecord(
            key=key,
            check=outcome.check,
            stage=stage,
            role=self.report.role,
            subject=outcome.subject,
            dataset=outcome.dataset,
            parameters=_json(outcome.parameters),
            resolved=_json(outcome.resolved),
            inputs=inputs,
            results=_json(outcome.results),
            verdict=outcome.verdict,
            summary=outcome.summary,
            versions=_versions(),
            metadata=meta,
        )
        self.keep(record)
        self.report.rows.append(
            SummaryRow(
                stage,
                outcome.subject,
                outcome.dataset,
                "-",
                None,
                None,
                "-",
                outcome.verdict,
                outcome.summary,
            )
        )

    # -- stages 4 and 5 ---------------------------------------------------------------------

    def evaluate(self, stage: Stage, letter: str) -> None:
        ml = self.project.ml_requirements
        if ml is None:
            self.report.not_run.append((f"stage {stage}", "the project has no [H]"))
            return
        why = self.readable(letter)
        if why is not None:
            self.report.not_run.append((f"stage {stage}", why))
            return
        for requirement in ml.requirements:
            if requirement.kind == "other" or requirement.metric is None:
                reason = (
                    requirement.data_related_reason.strip()
                    if not requirement.data_related
                    else "no metric to evaluate"
                )
                self.report.not_run.append((requirement.id, f"not evaluated on data: {reason}"))
                continue
            self.requirement(stage, letter, requirement)

    def not_evaluable(self, requirement: MLSafetyRequirement, dataset: Dataset) -> str | None:
        metric = requirement.metric or ""
        if metric not in PROPORTIONS | BOOTSTRAP_METRICS | {"fault_tolerance_rate"}:
            return f"the metric {metric!r} cannot yet be computed by amlas run"
        reason = robustness_unavailable(requirement, self.model(), bool(dataset.features))
        if reason is not None:
            return reason
        threshold = requirement.threshold
        if metric in PROPORTIONS and threshold is not None and not 0.0 <= threshold <= 1.0:
            return f"threshold {threshold:g} lies outside [0, 1], the range of a proportion"
        if metric == "expected_calibration_error" and not self.model().has_proba:
            return "calibration needs a model that outputs probabilities"
        return None

    @property
    def value_range(self) -> tuple[float, float] | None:
        component = self.project.component
        bounds = component.inputs.value_range if component is not None else None
        return (float(bounds[0]), float(bounds[1])) if bounds else None

    def test_inputs(self, letter: str, requirement: MLSafetyRequirement) -> dict[str, str]:
        inputs = self.inputs_for(letter)
        inputs.update(self.model_inputs())
        inputs[f"requirement:{requirement.id}"] = canonical_hash(requirement)
        inputs["environment"] = canonical_hash(self.project.environment)
        return inputs

    def formal(self, stage: Stage, letter: str, requirement: MLSafetyRequirement) -> None:
        """The formal leg (G5.4): the requirement's property on samples of ``letter``."""
        from amlas.checks.formal import FormalError

        key = f"stage{stage}/{requirement.id}/formal"
        reason = formal_unavailable(requirement, self.model())
        if reason is not None:
            self.report.not_run.append((f"{requirement.id} formal on [{letter}]", reason))
            return
        prop = requirement.property
        assert prop is not None
        dataset = self.dataset(letter)
        mask = None
        if prop.features and dataset.features:
            mask = np.isin(np.asarray(dataset.features), prop.features)
        classes = self.project.component.class_names() if self.project.component else []
        with _timed() as meta:
            predictions = self.predictions(letter)
            advance = self.reporter.task(
                f"prove {requirement.id} [{letter}]", min(prop.samples, len(dataset))
            )
            try:
                result = formal_result(
                    requirement,
                    dataset,
                    predictions,
                    self.model(),
                    classes=classes,
                    features_mask=mask,
                    value_range=self.value_range,
                    progress=advance,
                )
            except FormalError as exc:
                self.report.not_run.append((f"{requirement.id} formal on [{letter}]", str(exc)))
                return
        self.add_result(stage, key, result, self.test_inputs(letter, requirement), meta)

    def requirement(self, stage: Stage, letter: str, requirement: MLSafetyRequirement) -> None:
        if requirement.property is not None and self.wanted(
            f"stage{stage}/{requirement.id}/formal"
        ):
            self.formal(stage, letter, requirement)
        if requirement.metric == "verified_robustness":
            return  # the formal record is the evidence
        key = f"stage{stage}/{requirement.id}/{letter}"
        if not self.wanted(key):
            return
        dataset = self.dataset(letter)
        reason = self.not_evaluable(requirement, dataset)
        if reason is not None:
            self.report.not_run.append((f"{requirement.id} on [{letter}]", reason))
            return
        classes = self.project.component.class_names() if self.project.component else []
        with _timed() as meta:
            predictions = self.predictions(letter)
            if requirement.metric == "fault_tolerance_rate":
                faults = requirement.faults
                assert faults is not None
                advance = self.reporter.task(
                    f"fault campaigns {requirement.id} [{letter}]", faults.campaigns
                )
                result = fault_result(
                    requirement,
                    dataset,
                    predictions,
                    torch_module(self.model()),  # type: ignore[arg-type]
                    classes=classes,
                    batch_size=self.batch_size,
                    progress=advance,
                )
            else:
                perturbed, described = self.perturbed(requirement, dataset, predictions)
                result = evaluate_requirement(
                    requirement,
                    dataset,
                    predictions,
                    classes=classes,
                    perturbed=perturbed,
                    perturbation=described,
                )
        _, source = self.positive_class()
        result.resolved["positive_class_source"] = source
        self.add_result(stage, key, result, self.test_inputs(letter, requirement), meta)

    def perturbed(
        self, requirement: MLSafetyRequirement, dataset: Dataset, predictions: Predictions
    ) -> tuple[Any, dict[str, Any] | None]:
        if requirement.metric not in ("robust_accuracy", "prediction_stability"):
            return None, None
        perturbation = requirement.perturbation
        assert perturbation is not None
        model = self.model()
        # how many copies (directions) a perturbation makes is its module's business: the
        # bar counts predicted samples without a total
        advance = self.reporter.task(f"perturb {requirement.id} [{dataset.letter}]", None)

        def decide(inputs: Any) -> Any:
            fresh = predict(
                model,
                inputs,
                positive=predictions.positive,
                threshold=predictions.threshold,
                batch_size=self.batch_size,
                progress=advance,
            )
            return fresh.labels

        return perturbed_decisions(
            requirement,
            dataset,
            predictions,
            model,
            decide=decide,
            value_range=self.value_range,
            batch_size=self.batch_size,
            progress=advance,
        )

    def add_result(
        self,
        stage: Stage,
        key: str,
        result: RequirementResult,
        inputs: dict[str, str],
        meta: dict[str, Any],
    ) -> None:
        requirement = result.requirement
        if result.problems:
            result.resolved["problems"] = result.problems
        ref = self.model_reference
        extra: tuple[str, ...] = ()
        if ref and ref.format in ("skops", "sklearn_joblib"):
            extra = ("scikit-learn", "skops")
        if ref and ref.format == "onnx":
            extra = ("onnxruntime",)
        if ref and ref.format == "torch":
            extra = ("torch",)
        if result.check.startswith("formal."):
            extra = (*extra, "maraboupy", "onnx", "onnxruntime")
        elif requirement.perturbation is not None and requirement.perturbation.kind in (
            "fgsm",
            "pgd",
        ):
            extra = (*extra, "adversarial-robustness-toolbox")
        record = EvidenceRecord(
            key=key,
            check=result.check,
            stage=stage,
            role=self.report.role,
            subject=requirement.id,
            dataset=result.dataset,
            parameters=_json(
                requirement.model_dump(
                    mode="json", by_alias=True, exclude_none=True, exclude_defaults=True
                )
            ),
            resolved=_json(result.resolved),
            inputs=inputs,
            results=_json([s.as_json() for s in result.slices]),
            verdict=result.verdict,
            summary=result.summary,
            versions=_versions(extra),
            metadata=meta,
        )
        self.keep(record)
        threshold = f"{'>=' if result.slices[0].comparison == 'at_least' else '<='} " + (
            f"{requirement.threshold:g}"
        )
        for s in result.slices:
            self.report.rows.append(
                SummaryRow(
                    stage,
                    requirement.id,
                    result.dataset,
                    s.slice,
                    s.estimate,
                    s.bound if np.isfinite(s.bound) else None,
                    threshold,
                    s.verdict if not result.problems else "inconclusive",
                    s.reason if not result.problems else "; ".join(result.problems),
                )
            )


def _stage4_gate(project: Project, evidence: Any) -> str | None:
    """AMLAS R14 (J4.1): a model goes to verification only once internal testing on [O]
    shows every requirement met. Not a blocker here (the verifier may have reasons), but
    said out loud."""
    ml = project.ml_requirements
    if ml is None:
        return None
    open_items = []
    for requirement in ml.requirements:
        if requirement.kind == "other" or requirement.metric is None:
            continue
        leg = "formal" if requirement.metric == "verified_robustness" else "O"
        record = evidence.latest(f"stage4/{requirement.id}/{leg}")
        if record is None:
            open_items.append(f"{requirement.id} (no stage-4 evidence)")
        elif record.verdict != "pass":
            open_items.append(f"{requirement.id} ({record.verdict})")
    if not open_items:
        return None
    return (
        "R14: internal testing on [O] does not show every requirement met before "
        f"verification: {', '.join(open_items)}; record the decision to proceed in [U]/[AA]"
    )


def verify_custody(project: Project, evidence: Any) -> list[str]:
    """Evidence computed from sealed data cites the access-log entry that unsealed it;
    every such entry must still be in the log (cutting the log's tail keeps the chain
    consistent, so this is how truncation shows)."""
    problems = []
    logs: dict[str, set[str]] = {}
    for letter, document in project.datasets().items():
        if document.sealed is not None:
            log = AccessLog(project.root / document.sealed.access_log)
            try:
                logs[letter] = {entry.hash for entry in log.entries()}
            except SealError as exc:
                problems.append(f"{document.sealed.access_log}: {exc}")
    try:
        current = evidence.list()
    except StoreError:
        current = []  # damaged refs: the store's own verify() lists them
    for key, digest in current:
        try:
            record = evidence.get(digest)
        except StoreError:
            continue  # a missing or changed record: the store's own verify() lists it
        for name, value in record.inputs.items():
            if not name.startswith("access_log:"):
                continue
            letter = name.split(":", 1)[1]
            if letter in logs and value not in logs[letter]:
                problems.append(
                    f"{key}: cites access-log entry {value[:12]}... for [{letter}], which the "
                    "log no longer holds (entries removed from its end?)"
                )
    return problems


def run_project(
    root: str,
    *,
    role: Role = "developer",
    stages: tuple[int, ...] | None = None,
    key: VerifierKey | None = None,
    store: str | None = None,
    reporter: Reporter | None = None,
    batch_size: int = 65536,
    only: Collection[str] | None = None,
) -> RunReport:
    """Run the checks of ``stages`` for ``role`` on the project at ``root``.

    ``only`` (record keys, e.g. from :func:`~amlas.evidence._impact.analyse_impact`) runs
    just the checks of ``stages`` whose key it holds: a check left out is not computed and
    its data is not read (sealed data stays sealed when none of its checks runs). Stage 6
    runs as a whole when ``only`` holds any ``stage6/`` key (its hazard records rest on
    the scenario runs of the same run). A filtered run that records nothing commits no run.

    Returns the report; when the project has errors, the report carries the diagnostics
    and nothing runs. Raises :class:`~amlas.errors.UsageError` for a role that may not run
    a stage, a missing key, or data and models that cannot be read.
    """
    if isinstance(only, str):
        raise UsageError(f"only={only!r} must be a collection of record keys, not one key")
    chosen: tuple[int, ...] = tuple(sorted(set(stages or DEFAULT_STAGES[role])))
    for stage in chosen:
        if stage not in (3, 4, 5, 6):
            raise UsageError(f"--stage {stage}: amlas run covers stages 3, 4, 5 and 6")
    if 5 in chosen and role != "verifier":
        raise UsageError(
            "stage 5 evaluates on the verification data [P], which only the verifier role "
            "reads (R15): run it with --role verifier"
        )
    loaded = check_project(root)
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)
    project = loaded.project
    uri = store or project.manifest.evidence
    report = RunReport(run_id, uri, role, chosen)
    if loaded.diagnostics.has_errors:
        report.diagnostics = loaded.diagnostics
        return report
    if role == "verifier" and key is None:
        raise UsageError(
            "the verifier role needs its key: --key-file PATH, AMLAS_VERIFIER_KEY_FILE or "
            "AMLAS_VERIFIER_KEY"
        )
    # opened first: a mistyped store fails now, not after the work and the unseal it wastes
    with open_store(uri, root=project.root) as evidence:
        gate = _stage4_gate(project, evidence) if 5 in chosen else None
    if role == "verifier":
        assert key is not None
        # refuses a key the project does not declare, before any data is read
        check_verifier_key(project, key)
    runner = _Runner(
        project,
        report,
        key=key,
        reporter=reporter or _Silent(),
        batch_size=batch_size,
        only=only,
    )
    verification = project.datasets().get("P")
    if verification is not None and verification.sealed is None:
        report.warnings.append(
            "[P] is not sealed: the development team can read it (R15); seal it with 'amlas seal'"
        )
    if gate:
        report.warnings.append(gate)
    if key is not None and role == "verifier" and project.manifest.verifier_key is None:
        report.warnings.append(
            "amlas.yaml declares no verifier_key, so the safety case cannot accept these "
            f"signed results; after review, add the line 'verifier_key: {public_key_of(key)}' "
            "('amlas seal' writes it when it seals [P])"
        )
    if 3 in chosen:
        runner.stage3()
    if 4 in chosen:
        runner.evaluate(4, "O")
    if 5 in chosen:
        runner.evaluate(5, "P")
    stage6_keys = ("stage6/scenario/", "stage6/hazard/")  # operation, monitor: monitor ingest
    if 6 in chosen and (only is None or any(k.startswith(stage6_keys) for k in only)):
        from amlas.evidence._stage6 import run_stage6

        with open_store(uri, root=project.root) as evidence:
            run_stage6(runner, evidence)
    if only is not None and not runner.records and not runner.unsealed:
        return report  # nothing was wanted: no empty run in the store
    # The use is logged before the records are stored, so that each record can sign the
    # log's head after it: a log cut back past this run's 'use' no longer holds that head.
    # A run that fails to commit after this still counts as a use of the data.
    heads: dict[str, str] = {}
    for letter, unsealed in runner.unsealed.items():
        entry, warning = record_use(
            project,
            letter,
            unsealed,
            key,  # type: ignore[arg-type]
            purpose=f"amlas run {run_id}",
            details={
                "run_id": run_id,
                "stages": list(chosen),
                "records": [r.digest for r in runner.records if r.dataset and letter in r.dataset],
            },
        )
        heads[letter] = entry.hash
        if warning is not None:
            report.warnings.append(warning)
    records = runner.records
    if role == "verifier":
        assert key is not None
        records = [sign_record(record, key, access_log=heads) for record in records]
    with (
        open_store(uri, root=project.root) as evidence,
        evidence.begin(run_id, role=role, stages=list(chosen)) as run,
    ):
        for record in records:
            report.records.append((run.put(record), record))
    return report
