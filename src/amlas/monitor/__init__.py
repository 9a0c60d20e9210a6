"""The runtime monitor shipped with the model (AMLAS stage 6, G6.8).

It flags, per input, what [DD] calls erroneous inputs and outputs:

- *outside the ODD*: a value of an operating-domain dimension of [B] is missing or out of
  its range or categories (:mod:`._odd`);
- *out of distribution*: the input is unlike the development data [N], by a shrinkage
  Mahalanobis score whose threshold is set by split conformal calibration on [O] so that
  the false-alarm rate on in-distribution inputs is at most the target (:mod:`._ood`);
- *low confidence*: the model's top class probability is below a threshold.

:func:`calibrate` builds the :class:`Monitor` from a project (:func:`fit_monitor` from
arrays); it saves to and loads from one JSON file. :class:`MonitoredModel` runs a model
and its monitor together, in process. The field log (:mod:`._fieldlog`) is the
append-only JSONL record of flagged inputs, operating periods, incidents, reviews and
labelled field samples that ``amlas monitor ingest`` turns into evidence.

Exceptions (all :class:`amlas.errors.UsageError`)::

    UsageError
    ├── MonitorInputError   inputs or metadata of the wrong type or shape
    ├── MonitorFileError    a monitor file that is missing or not amlas.monitor/1
    ├── CalibrationError    data the monitor cannot be fitted or calibrated on
    └── FieldLogError       malformed field-log lines, each as file:line
"""

from amlas.monitor._calibrate import (
    calibrate,
    field_log_path,
    fit_monitor,
    load_monitor,
    load_monitored_model,
    monitor_config,
    monitor_path,
    stale_reasons,
)
from amlas.monitor._fieldlog import (
    FieldLogError,
    FieldLogRecords,
    FlagEntry,
    IncidentEntry,
    LabelEntry,
    PeriodEntry,
    ReviewEntry,
    append_field_log,
    read_field_log,
)
from amlas.monitor._monitor import (
    MONITOR_SCHEMA,
    Assessment,
    Calibration,
    Monitor,
    MonitoredModel,
    MonitoredPrediction,
    MonitorFileError,
    MonitorSettings,
    Verdict,
)
from amlas.monitor._odd import MonitorInputError, OddResult, check_metadata, odd_membership
from amlas.monitor._ood import (
    CalibrationError,
    MahalanobisScore,
    conformal_threshold,
    fit_mahalanobis,
)

__all__ = [
    "MONITOR_SCHEMA",
    "Assessment",
    "Calibration",
    "CalibrationError",
    "FieldLogError",
    "FieldLogRecords",
    "FlagEntry",
    "IncidentEntry",
    "LabelEntry",
    "MahalanobisScore",
    "Monitor",
    "MonitorFileError",
    "MonitorInputError",
    "MonitorSettings",
    "MonitoredModel",
    "MonitoredPrediction",
    "OddResult",
    "PeriodEntry",
    "ReviewEntry",
    "Verdict",
    "append_field_log",
    "calibrate",
    "check_metadata",
    "conformal_threshold",
    "field_log_path",
    "fit_mahalanobis",
    "fit_monitor",
    "load_monitor",
    "load_monitored_model",
    "monitor_config",
    "monitor_path",
    "odd_membership",
    "read_field_log",
    "stale_reasons",
]
