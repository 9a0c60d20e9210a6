"""The calibrated runtime monitor: one verdict per input, and the model it guards.

A :class:`Monitor` flags an input for three reasons, each reported separately:

``outside_odd``
    a value of the operating domain [B] is missing or outside its range or categories
    (:mod:`._odd`);
``ood``
    the input is unlike the development data [N]: its score (:mod:`._ood`) is above the
    conformal threshold set on [O], or the input holds NaN or infinite values, or values
    outside the ``value_range`` of [D];
``low_confidence``
    the model's highest class probability is below ``low_confidence_threshold`` (only
    when probabilities are given and a threshold is configured; ``None`` otherwise).

:meth:`Monitor.assess` works on a whole batch in numpy; :meth:`Monitor.check` turns that
into one :class:`Verdict` per sample. :class:`MonitoredModel` wraps an
:class:`amlas.adapters.Model` in process: the decision, the class probabilities and the
verdict for every input.

The monitor is saved as one JSON file (``amlas.monitor/1``): its settings, the ODD
dimensions it checks, the fitted score, the threshold and its calibration figures, and the
SHA-256 of what it was calibrated on, so that a changed dataset, ODD or component
description shows it is stale. Writes are atomic (:mod:`amlas.fileio`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from amlas.adapters import Model
from amlas.checks import predict
from amlas.errors import ProblemError
from amlas.fileio import atomic_write_text
from amlas.hashing import sha256_bytes
from amlas.monitor._odd import Dimension, Metadata, MonitorInputError, odd_membership
from amlas.monitor._ood import MahalanobisScore
from amlas.project.artefacts import CategoricalDimension, NumericDimension

__all__ = [
    "MONITOR_SCHEMA",
    "Assessment",
    "Calibration",
    "Monitor",
    "MonitorFileError",
    "MonitorSettings",
    "MonitoredModel",
    "MonitoredPrediction",
    "Verdict",
]

MONITOR_SCHEMA = "amlas.monitor/1"
FLAGS = ("outside_odd", "ood", "low_confidence")


class MonitorFileError(ProblemError):
    """A monitor file cannot be read: missing, not JSON, or not an ``amlas.monitor/1``."""

    code = "R050"


# -- the file format ---------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class MonitorSettings(_Strict):
    """What the monitor was calibrated with (the [DD] ``monitor`` block)."""

    ood_method: Literal["mahalanobis"] = "mahalanobis"
    target_false_alarm_rate: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.01
    max_components: Annotated[int, Field(ge=1, le=512)] = 32
    low_confidence_threshold: Annotated[float, Field(gt=0.0, le=1.0)] | None = None
    confidence: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.95


class Calibration(_Strict):
    """How the threshold was set on [O], and the false-alarm rate it gave there."""

    samples: int = Field(ge=1, description="[O] samples inside the ODD the threshold was set on.")
    excluded_outside_odd: int = Field(ge=0, description="[O] samples left out: outside the ODD.")
    rank: int = Field(
        ge=1, description="ceil((n + 1)(1 - a)): the threshold is this order statistic."
    )
    false_alarms: int = Field(ge=0, description="[O] samples scoring above the threshold.")
    rate: float = Field(ge=0.0, le=1.0, description="false_alarms / samples.")
    upper: float = Field(
        ge=0.0, le=1.0, description="Exact (Clopper-Pearson) one-sided upper bound of the rate."
    )
    confidence: float = Field(gt=0.0, lt=1.0, description="Confidence level of ``upper``.")
    fit_samples: int = Field(
        ge=2, description="[N] samples inside the ODD the score was fitted on."
    )
    excluded_fit: int = Field(ge=0, description="[N] samples left out: outside the ODD.")


class _Score(_Strict):
    mean: list[float]
    scale: list[float]
    components: list[list[float]]
    variances: list[float]
    residual_variance: float = Field(ge=0.0)
    shrinkage: float = Field(ge=0.0, le=1.0)
    threshold: float


class _Input(_Strict):
    kind: Literal["tabular", "image", "time_series", "text", "other"]
    shape: list[Annotated[int, Field(ge=1)]] = Field(min_length=1)
    features: list[str] = Field(default_factory=list)
    value_range: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None


_Dimensions = TypeAdapter(
    list[Annotated[NumericDimension | CategoricalDimension, Field(discriminator="kind")]]
)


class _File(_Strict):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    schema_: Literal["amlas.monitor/1"] = Field("amlas.monitor/1", alias="schema")
    settings: MonitorSettings
    input: _Input
    odd: list[dict[str, Any]]
    score: _Score
    calibration: Calibration
    calibrated_on: dict[str, str]


# -- verdicts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The monitor's verdict on one input."""

    outside_odd: bool
    ood: bool
    low_confidence: bool | None
    """None when no probabilities were given or no threshold is configured."""
    ood_score: float | None
    """The out-of-distribution score; None for an input that is not finite."""
    ood_threshold: float
    confidence: float | None
    """The highest class probability, when probabilities were given."""
    reasons: tuple[str, ...]
    """One line per reason the input is flagged (empty when it is not)."""

    @property
    def flags(self) -> tuple[str, ...]:
        """The names of the raised flags, in the order of ``FLAGS``."""
        raised = (self.outside_odd, self.ood, bool(self.low_confidence))
        return tuple(name for name, on in zip(FLAGS, raised, strict=True) if on)

    @property
    def flagged(self) -> bool:
        return bool(self.flags)

    def as_json(self) -> dict[str, Any]:
        return {
            "flagged": self.flagged,
            "flags": list(self.flags),
            "outside_odd": self.outside_odd,
            "ood": self.ood,
            "low_confidence": self.low_confidence,
            "ood_score": self.ood_score,
            "ood_threshold": self.ood_threshold,
            "confidence": self.confidence,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class Assessment:
    """The monitor's verdicts on a batch, as arrays (one entry per sample)."""

    outside_odd: NDArray[np.bool_]
    ood: NDArray[np.bool_]
    ood_score: NDArray[np.float64]
    """NaN for inputs that are not finite."""
    ood_threshold: float
    low_confidence: NDArray[np.bool_] | None
    confidence: NDArray[np.float64] | None
    reasons: list[tuple[str, ...]]

    def __len__(self) -> int:
        return len(self.ood)

    @property
    def input_flagged(self) -> NDArray[np.bool_]:
        """Flagged on the input alone (outside the ODD or out of distribution)."""
        flagged: NDArray[np.bool_] = self.outside_odd | self.ood
        return flagged

    @property
    def flagged(self) -> NDArray[np.bool_]:
        """Flagged for any reason."""
        if self.low_confidence is None:
            return self.input_flagged
        flagged: NDArray[np.bool_] = self.input_flagged | self.low_confidence
        return flagged

    def verdicts(self) -> list[Verdict]:
        out = []
        for i in range(len(self)):
            score = float(self.ood_score[i])
            out.append(
                Verdict(
                    outside_odd=bool(self.outside_odd[i]),
                    ood=bool(self.ood[i]),
                    low_confidence=(
                        None if self.low_confidence is None else bool(self.low_confidence[i])
                    ),
                    ood_score=score if np.isfinite(score) else None,
                    ood_threshold=self.ood_threshold,
                    confidence=(
                        None
                        if self.confidence is None or not np.isfinite(self.confidence[i])
                        else float(self.confidence[i])
                    ),
                    reasons=self.reasons[i],
                )
            )
        return out


# -- the monitor -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Monitor:
    """A calibrated runtime monitor (see the module doc). Build it with
    :func:`amlas.monitor.calibrate` or read it with :meth:`load`."""

    settings: MonitorSettings
    input_kind: str
    input_shape: tuple[int, ...]
    """Shape of one input, e.g. ``(30,)`` or ``(16, 16, 3)``."""
    features: tuple[str, ...]
    """Feature names of a tabular input, in model order (empty otherwise)."""
    value_range: tuple[float, float] | None
    dimensions: tuple[Dimension, ...]
    score: MahalanobisScore
    threshold: float
    calibration: Calibration
    calibrated_on: dict[str, str] = field(default_factory=dict)
    """Input name -> SHA-256 at calibration: ``dataset:N``, ``dataset:O``,
    ``environment`` ([B]), ``component`` ([D])."""

    # -- checking ------------------------------------------------------------------------

    def as_matrix(self, inputs: Any) -> NDArray[np.float64]:
        """``inputs`` as an ``(n, d)`` float matrix; :class:`MonitorInputError` when they
        are not numbers of shape ``(n, *input_shape)``."""
        expected = "(n, " + ", ".join(str(s) for s in self.input_shape) + ")"
        try:
            with np.errstate(all="ignore"):
                x = np.asarray(inputs, dtype=np.float64)
        except (ValueError, TypeError) as exc:
            raise MonitorInputError(
                f"inputs cannot be read as numbers of shape {expected}: {exc}"
            ) from None
        if x.ndim < 1 or tuple(x.shape[1:]) != self.input_shape:
            raise MonitorInputError(
                f"inputs have shape {tuple(x.shape)}; expected {expected} "
                f"({self.input_kind} inputs)"
            )
        return x.reshape(len(x), -1)

    def assess(
        self,
        inputs: Any,
        metadata: Metadata | None = None,
        *,
        probabilities: NDArray[np.float64] | None = None,
    ) -> Assessment:
        """The verdicts on a batch: ``inputs`` of shape ``(n, *input_shape)``, ``metadata``
        carrying the ODD values (see :func:`amlas.monitor.odd_membership`), and the model's
        ``probabilities`` ``(n, classes)`` for the low-confidence flag."""
        x = self.as_matrix(inputs)
        n = len(x)
        features = (
            {name: x[:, j] for j, name in enumerate(self.features)}
            if self.input_kind == "tabular" and self.features
            else None
        )
        odd = odd_membership(self.dimensions, metadata, n, features=features)
        finite: NDArray[np.bool_] = np.asarray(np.isfinite(x).all(axis=1), dtype=bool)
        in_range: NDArray[np.bool_] = np.ones(n, dtype=bool)
        if self.value_range is not None:
            low, high = self.value_range
            with np.errstate(invalid="ignore"):
                in_range = np.asarray(((x >= low) & (x <= high)).all(axis=1), dtype=bool)
        scores = np.full(n, np.nan, dtype=np.float64)
        if finite.any():
            scores[finite] = self.score.score(x[finite])
        with np.errstate(invalid="ignore"):
            ood = ~finite | ~in_range | ~(scores <= self.threshold)
        reasons = list(odd.reasons)
        for i in np.flatnonzero(ood):
            if not finite[i]:
                why = "out of distribution: the input holds NaN or infinite values"
            elif not in_range[i]:
                low, high = self.value_range or (0.0, 0.0)
                why = f"out of distribution: input values outside [{low:g}, {high:g}]"
            else:
                why = (
                    f"out of distribution: score {scores[i]:.4g} above the threshold "
                    f"{self.threshold:.4g}"
                )
            reasons[i] = (*reasons[i], why)
        low_confidence = confidence = None
        threshold = self.settings.low_confidence_threshold
        if probabilities is not None:
            p = np.asarray(probabilities, dtype=np.float64)
            if p.ndim != 2 or len(p) != n:
                raise MonitorInputError(
                    f"probabilities have shape {p.shape}; expected ({n}, classes)"
                )
            with np.errstate(invalid="ignore"):
                confidence = np.where(np.isfinite(p).all(axis=1), p.max(axis=1), np.nan)
            if threshold is not None:
                low_confidence = ~(confidence >= threshold)
                for i in np.flatnonzero(low_confidence):
                    reasons[i] = (
                        *reasons[i],
                        f"low confidence: top class probability {confidence[i]:.3g} "
                        f"below {threshold:g}",
                    )
        return Assessment(
            ~odd.inside,
            ood,
            scores,
            self.threshold,
            low_confidence,
            confidence,
            reasons,
        )

    def check(
        self,
        inputs: Any,
        metadata: Metadata | None = None,
        *,
        probabilities: NDArray[np.float64] | None = None,
    ) -> list[Verdict]:
        """One :class:`Verdict` per input (see :meth:`assess`)."""
        return self.assess(inputs, metadata, probabilities=probabilities).verdicts()

    # -- the file ------------------------------------------------------------------------

    def to_json(self) -> str:
        """The ``amlas.monitor/1`` document: keys sorted, numbers as Python writes them,
        number lists on one line each so the file stays small and diffs by parameter."""
        document = _File(
            settings=self.settings,
            input=_Input(
                kind=self.input_kind,
                shape=list(self.input_shape),
                features=list(self.features),
                value_range=list(self.value_range) if self.value_range else None,
            ),
            odd=[d.model_dump(mode="json", by_alias=True) for d in self.dimensions],
            score=_Score(
                mean=self.score.mean.tolist(),
                scale=self.score.scale.tolist(),
                components=self.score.components.tolist(),
                variances=self.score.variances.tolist(),
                residual_variance=self.score.residual_variance,
                shrinkage=self.score.shrinkage,
                threshold=self.threshold,
            ),
            calibration=self.calibration,
            calibrated_on=dict(self.calibrated_on),
        )
        return _dump(document.model_dump(mode="json", by_alias=True)) + "\n"

    @property
    def sha256(self) -> str:
        """SHA-256 of :meth:`to_json`: the file's hash when saved with :meth:`save`."""
        return sha256_bytes(self.to_json().encode("utf-8"))

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_json` to ``path`` atomically."""
        atomic_write_text(path, self.to_json())

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str = "monitor") -> Monitor:
        """Parse an ``amlas.monitor/1`` document; :class:`MonitorFileError` naming the
        field and the value when it is not one."""
        try:
            raw = json.loads(text, parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MonitorFileError(f"{source}: not a JSON monitor file ({exc})") from None
        if not isinstance(raw, dict) or raw.get("schema") != MONITOR_SCHEMA:
            found = raw.get("schema") if isinstance(raw, dict) else type(raw).__name__
            raise MonitorFileError(
                f"{source}: schema is {found!r}; expected {MONITOR_SCHEMA!r} (a file written "
                "by 'amlas monitor calibrate')"
            )
        prefix: tuple[str, ...] = ()
        try:
            document = _File.model_validate(raw)
            prefix = ("odd",)
            dimensions = _Dimensions.validate_python(document.odd)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in (*prefix, *error["loc"]))
            raise MonitorFileError(
                f"{source}: {where}: {error['msg']} (found {_short(error.get('input'))})"
            ) from None
        return cls._from_document(document, tuple(dimensions), source)

    @classmethod
    def _from_document(
        cls, document: _File, dimensions: tuple[Dimension, ...], source: str
    ) -> Monitor:
        s = document.score
        d = len(s.mean)
        k = len(s.variances)
        shape = tuple(document.input.shape)
        problems = []
        if int(np.prod(shape)) != d:
            problems.append(f"input.shape {list(shape)} has {int(np.prod(shape))} values, mean {d}")
        if len(s.scale) != d:
            problems.append(f"score.scale has {len(s.scale)} values; expected {d}")
        if len(s.components) != k or any(len(row) != d for row in s.components):
            problems.append(f"score.components is not {k} rows of {d}")
        if any(v <= 0 for v in s.variances) or any(v <= 0 for v in s.scale):
            problems.append("score.variances and score.scale must be positive")
        if k < d and s.residual_variance <= 0:
            problems.append("score.residual_variance must be positive when components < inputs")
        if document.input.kind == "tabular" and len(document.input.features) != d:
            problems.append(f"input.features names {len(document.input.features)} of {d}")
        if problems:
            raise MonitorFileError(f"{source}: inconsistent monitor: {'; '.join(problems)}")
        score = MahalanobisScore(
            np.array(s.mean, dtype=np.float64),
            np.array(s.scale, dtype=np.float64),
            np.array(s.components, dtype=np.float64).reshape(k, d),
            np.array(s.variances, dtype=np.float64),
            float(s.residual_variance),
            float(s.shrinkage),
        )
        value_range = document.input.value_range
        return cls(
            settings=document.settings,
            input_kind=document.input.kind,
            input_shape=shape,
            features=tuple(document.input.features),
            value_range=(value_range[0], value_range[1]) if value_range else None,
            dimensions=dimensions,
            score=score,
            threshold=s.threshold,
            calibration=document.calibration,
            calibrated_on=dict(document.calibrated_on),
        )

    @classmethod
    def load(cls, path: str | Path) -> Monitor:
        """Read the monitor saved at ``path``."""
        try:
            text = Path(path).read_bytes()
        except FileNotFoundError:
            raise MonitorFileError(
                f"{path}: no monitor file; write it with 'amlas monitor calibrate'"
            ) from None
        except OSError as exc:
            raise MonitorFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        return cls.from_json(text, source=str(path))


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _dump(value: Any, indent: int = 0) -> str:
    """JSON with sorted keys and two-space indents, lists of scalars on one line."""
    pad = "  " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{pad}{json.dumps(str(k))}: {_dump(v, indent + 1)}" for k, v in sorted(value.items())
        ]
        return "{\n" + ",\n".join(items) + "\n" + "  " * indent + "}"
    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return "[" + ", ".join(json.dumps(v, allow_nan=False) for v in value) + "]"
        items = [f"{pad}{_dump(v, indent + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + "\n" + "  " * indent + "]"
    return json.dumps(value, allow_nan=False, ensure_ascii=False)


# -- the monitored model -----------------------------------------------------------------------


@dataclass(frozen=True)
class MonitoredPrediction:
    """The model's answer on one input, and the monitor's verdict on it."""

    decision: str
    probabilities: dict[str, float] | None
    verdict: Verdict

    def as_json(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "probabilities": self.probabilities,
            **self.verdict.as_json(),
        }


class MonitoredModel:
    """An :class:`amlas.adapters.Model` and its :class:`Monitor`, in process.

    With ``positive`` and ``threshold`` (binary classifiers, [V] ``decision_threshold``)
    the positive class is decided when its probability reaches the threshold; otherwise
    the most probable class wins, as in ``amlas run``.
    """

    def __init__(
        self,
        model: Model,
        monitor: Monitor,
        *,
        positive: str | None = None,
        threshold: float | None = None,
        model_sha256: str | None = None,
    ) -> None:
        self.model = model
        self.monitor = monitor
        self.positive = positive
        self.threshold = threshold
        self.model_sha256 = model_sha256

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.model.classes)

    def assess(
        self, inputs: Any, metadata: Metadata | None = None
    ) -> tuple[NDArray[np.str_], NDArray[np.float64] | None, Assessment]:
        """Decisions, probabilities (None for a model without them) and verdicts."""
        x = self.monitor.as_matrix(inputs)
        batch = x.reshape(len(x), *self.monitor.input_shape)
        if not np.isfinite(batch).all():
            bad = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
            raise MonitorInputError(
                f"inputs[{bad}] holds NaN or infinite values; the model needs finite numbers"
            )
        predictions = predict(self.model, batch, positive=self.positive, threshold=self.threshold)
        assessment = self.monitor.assess(batch, metadata, probabilities=predictions.proba)
        return predictions.labels, predictions.proba, assessment

    def predict(self, inputs: Any, metadata: Metadata | None = None) -> list[MonitoredPrediction]:
        """One :class:`MonitoredPrediction` per input."""
        labels, proba, assessment = self.assess(inputs, metadata)
        out = []
        for i, verdict in enumerate(assessment.verdicts()):
            probabilities = (
                None
                if proba is None
                else {c: float(proba[i, j]) for j, c in enumerate(self.classes)}
            )
            out.append(MonitoredPrediction(str(labels[i]), probabilities, verdict))
        return out
