"""Failures in windows of consecutive frames, judged over independent sequences.

A perception requirement for video is often temporal: "in any 10 consecutive frames, at
most 2 detections of the pedestrian are missed". Frames of one sequence are strongly
correlated, and the windows of one sequence overlap, so neither frames nor windows are
independent trials. The unit of analysis here is the **sequence** (a drive, a clip):

- **Windows** are ``frames`` consecutive *samples* of a sequence in frame order: windows
  start at every sample from which ``frames`` samples remain. A window **fails** when more
  than ``max_failures`` of its samples fail.
- **Gaps** (consecutive samples of a sequence whose frame numbers differ by more than 1) do
  not break a window: splitting at a dropped frame would let failures on either side of it
  escape every window. A window over a gap therefore spans more time than ``frames``
  frames; the gaps and the windows over them are counted and reported so that a reviewer
  can judge whether that matters.
- A sequence **shorter** than ``frames`` is one window of its own length, held to the same
  ``max_failures``: any ``frames``-long stretch that contained it would fail when it has
  more than ``max_failures`` failures, and nothing more can be said from the data it holds.
- A sequence **passes** when none of its windows fails.

Per ODD slice, a window belongs to slice ``s`` only when every one of its samples has slice
code ``s``; windows that cross slices belong to none and are counted as excluded (for every
slice they touch), windows wholly outside the scope (negative codes) as outside. A sequence
is a trial of slice ``s`` when it has at least one window in ``s`` and succeeds there when
none of those windows fails.

**Judging.** The primary verdict is per sequence: the share of sequences that pass, with
the exact Clopper-Pearson bound over sequences taken as independent and Holm across slices
(:func:`decide_sequences`, i.e. :func:`~amlas.checks.decide_slices` on the counts). The
share of failing windows is stated beside it as an alternative, with a percentile bootstrap
bound that resamples whole sequences (:func:`cluster_bootstrap_window_rate`), never
treating overlapping windows as independent.

Everything is vectorised: one sort by (sequence, frame), cumulative sums of failures, and
each window's count as the difference of two cumulative sums; loops run over slices only.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from amlas.checks._intervals import (
    Comparison,
    Decision,
    Interval,
    decide_slices,
    percent,
)
from amlas.errors import ValueProblem

__all__ = [
    "CROSSING",
    "OUTSIDE_SCOPE",
    "SequenceWindows",
    "WindowRate",
    "cluster_bootstrap_window_rate",
    "decide_sequences",
    "window_failures",
]


OUTSIDE_SCOPE = -1
"""Slice code of a window whose samples are all out of scope (negative slice codes)."""
CROSSING = -2
"""Slice code of a window whose samples lie in more than one slice (or partly out of
scope): it belongs to no slice."""


@dataclass(frozen=True)
class SequenceWindows:
    """Windows of consecutive frames and their failures, per sequence and slice. Arrays
    indexed by slice have one entry per slice code ``0 .. slices - 1``."""

    frames: int
    """Window length k, in samples."""
    max_failures: int
    """m: a window fails with more than m failing samples."""
    sequence_ids: NDArray[Any]
    """The distinct sequence ids, sorted; window and sequence indices refer to them."""
    sequences: NDArray[np.int64]
    """Per slice: sequences with at least one window in the slice (the trials)."""
    passing: NDArray[np.int64]
    """Per slice: of those, sequences with no failing window in the slice (successes)."""
    windows: NDArray[np.int64]
    """Per slice: windows wholly in the slice."""
    windows_failing: NDArray[np.int64]
    windows_excluded: NDArray[np.int64]
    """Per slice: windows that touch the slice but cross into another (or out of scope);
    they are judged in no slice."""
    failing_ids: tuple[NDArray[Any], ...]
    """Per slice: ids of the sequences with a failing window in the slice, sorted."""
    sequence_failed: NDArray[np.bool_]
    """Per sequence (``sequence_ids`` order): whether any of its windows fails, whatever
    their slices."""
    crossing: int
    """Windows that cross slices, each counted once."""
    outside: int
    """Windows wholly out of scope."""
    short_sequences: int
    """Sequences shorter than ``frames``, each one window of its own length."""
    gaps: int
    """Consecutive samples of a sequence whose frame numbers differ by more than 1."""
    gap_sequences: NDArray[Any]
    """Ids of the sequences with at least one gap."""
    windows_over_gaps: int
    """Windows that span a gap (so cover more than ``frames`` frame numbers)."""
    window_sequence: NDArray[np.int64]
    """Per window: index of its sequence in ``sequence_ids``."""
    window_slice: NDArray[np.int64]
    """Per window: its slice code, :data:`OUTSIDE_SCOPE` or :data:`CROSSING`."""
    window_failed: NDArray[np.bool_]

    @property
    def slices(self) -> int:
        return len(self.sequences)

    def counts(self) -> list[tuple[int, int]]:
        """``(passing, sequences)`` per slice: the counts the per-sequence verdict uses."""
        return list(zip(self.passing.tolist(), self.sequences.tolist(), strict=True))


@dataclass(frozen=True)
class WindowRate:
    """The share of failing windows in one slice, with a cluster-bootstrap bound."""

    estimate: float | None
    """Failing windows over windows (None without windows)."""
    bound: float
    """The one-sided bound (upper for 'upper', lower for 'lower')."""
    interval: Interval
    sequences: int
    windows: int
    failing: int
    degenerate: bool
    """True when the bootstrap cannot bound the share (fewer than two sequences, or every
    sequence with the same share, e.g. no failing window at all): the bound is then the
    trivial end of [0, 1] on the claimed side, never the estimate."""
    reason: str
    seed: int
    resamples: int


# -- validation ---------------------------------------------------------------------------


def _integer(value: object, name: str, expected: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueProblem(
            f"{name}={value!r} cannot be used", code="R093", value=value, expected=expected
        )
    return int(value)


def _column(values: ArrayLike, name: str, n: int | None) -> NDArray[Any]:
    raw = np.asarray(values)
    if raw.ndim != 1:
        raise ValueProblem(
            f"{name} has shape {raw.shape}",
            code="R092",
            value=raw.shape,
            expected="a 1-D array with one entry per sample",
        )
    if n is not None and len(raw) != n:
        raise ValueProblem(
            f"{name} has {len(raw)} entries for {n} samples",
            code="R092",
            value=len(raw),
            expected=f"{n} entries, one per sample",
        )
    return raw


def _integral(raw: NDArray[Any], name: str) -> NDArray[np.int64]:
    """Whole numbers as int64 (integers, or floats with no fractional part)."""
    if raw.dtype.kind in "iu":
        return raw.astype(np.int64)
    if raw.dtype.kind == "f":
        bad = ~np.isfinite(raw) | (raw != np.round(raw))
        if not bad.any():
            return raw.astype(np.int64)
        first = int(np.flatnonzero(bad)[0])
        raise ValueProblem(
            f"{name}: {int(bad.sum())} value(s) are not whole numbers (the first, "
            f"{raw[first]!r}, at position {first})",
            code="R092",
            value=float(raw[first]),
            expected="whole numbers",
        )
    raise ValueProblem(
        f"{name} has dtype {raw.dtype}", code="R092", value=str(raw.dtype), expected="integers"
    )


def _failures(raw: NDArray[Any]) -> NDArray[np.bool_]:
    if raw.dtype == np.bool_:
        return raw
    if raw.dtype.kind in "iuf" and np.isin(raw, (0, 1)).all():
        return raw.astype(bool)
    raise ValueProblem(
        f"failure has dtype {raw.dtype} and values other than 0/1",
        code="R092",
        value=str(raw.dtype),
        expected="booleans (True where the sample fails), or 0/1",
    )


def _sequence_codes(raw: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.int64]]:
    if raw.dtype.kind == "f" and not np.isfinite(raw).all():
        raise ValueProblem(
            "sequence holds NaN or infinite ids",
            code="R092",
            expected="one id (a name or a whole number) per sample",
        )
    if raw.dtype.kind == "O":
        raw = raw.astype(str)
    try:
        ids, codes = np.unique(raw, return_inverse=True)
    except TypeError as error:  # pragma: no cover - defensive: unorderable ids
        raise ValueProblem(
            f"sequence ids cannot be ordered ({error})",
            code="R092",
            expected="one id (a name or a whole number) per sample",
        ) from None
    return ids, codes.reshape(-1).astype(np.int64)


# -- windows ------------------------------------------------------------------------------


def window_failures(
    sequence: ArrayLike,
    frame: ArrayLike,
    failure: ArrayLike,
    *,
    frames: int,
    max_failures: int,
    slice_codes: ArrayLike | None = None,
    slices: int | None = None,
) -> SequenceWindows:
    """Count failing windows of ``frames`` consecutive samples, per sequence and slice.

    ``sequence`` (ids), ``frame`` (whole frame numbers, unique within a sequence, gaps
    allowed) and ``failure`` (booleans) have one entry per sample, in any order.
    ``slice_codes`` gives each sample's slice (negative: out of scope); without it every
    sample is in slice 0. ``slices`` is the number of slices, so that empty slices are
    reported too (default: the largest code plus one). See the module for the rules.
    """
    k = _integer(frames, "frames", "a window length of 1 frame or more", 1)
    m = _integer(max_failures, "max_failures", f"0 <= max_failures < frames={k}", 0)
    if m >= k:
        raise ValueProblem(
            f"max_failures={m} with frames={k}: no window could ever fail",
            code="R093",
            value=m,
            expected=f"0 <= max_failures < frames={k}",
        )
    fail_raw = _column(failure, "failure", None)
    n = len(fail_raw)
    failed_sample = _failures(fail_raw)
    seq_raw = _column(sequence, "sequence", n)
    frame_no = _integral(_column(frame, "frame", n), "frame")
    if slice_codes is None:
        codes = np.zeros(n, dtype=np.int64)
    else:
        codes = _integral(_column(slice_codes, "slice_codes", n), "slice_codes")
    top = int(codes.max()) + 1 if n else 0
    count = max(top, 1) if slices is None else _integer(slices, "slices", "a count", 0)
    if top > count:
        raise ValueProblem(
            f"slice code {top - 1} with slices={count}",
            code="R092",
            value=top - 1,
            expected=f"codes below {count} (negative: out of scope)",
        )
    ids, seq_code = _sequence_codes(seq_raw)

    order = np.lexsort((frame_no, seq_code))
    sc, fr, fl = seq_code[order], frame_no[order], failed_sample[order]
    cd = np.where(codes[order] < 0, OUTSIDE_SCOPE, codes[order])
    same = sc[1:] == sc[:-1]  # sample j+1 continues the sequence of sample j
    repeated = same & (fr[1:] == fr[:-1])
    if repeated.any():
        first = int(np.flatnonzero(repeated)[0]) + 1
        raise ValueProblem(
            f"sequence {ids[sc[first]]!r} has frame {int(fr[first])} more than once "
            f"({int(repeated.sum())} repeated frame(s) in all)",
            code="R092",
            value=int(fr[first]),
            expected="each frame number at most once per sequence",
        )
    starts = np.flatnonzero(np.r_[True, ~same]) if n else np.zeros(0, dtype=np.int64)
    lengths = np.diff(np.r_[starts, n]).astype(np.int64)
    width = np.minimum(lengths, k)
    per_sequence = lengths - width + 1
    total = int(per_sequence.sum())
    window_sequence = np.repeat(np.arange(len(starts), dtype=np.int64), per_sequence)
    offset = np.arange(total) - np.repeat(np.cumsum(per_sequence) - per_sequence, per_sequence)
    begin = np.repeat(starts, per_sequence) + offset
    end = begin + np.repeat(width, per_sequence)  # exclusive

    def inside(marks: NDArray[np.bool_]) -> NDArray[np.int64]:
        """How many marks fall at positions begin+1 .. end-1 (between two samples of a
        window), from one cumulative sum."""
        cumulative = np.r_[0, np.cumsum(marks)]
        between: NDArray[np.int64] = cumulative[end] - cumulative[begin + 1]
        return between

    cumulative_failures = np.r_[0, np.cumsum(fl)]
    window_failed = (cumulative_failures[end] - cumulative_failures[begin]) > m
    # marks at position j describe the step from sample j-1 to j
    changes = np.zeros(n, dtype=bool)
    changes[1:] = cd[1:] != cd[:-1]
    gap_steps = np.zeros(n, dtype=bool)
    gap_steps[1:] = same & (fr[1:] - fr[:-1] > 1)
    uniform = inside(changes) == 0
    window_slice = np.where(uniform, cd[begin], CROSSING).astype(np.int64)

    in_slice = window_slice >= 0
    windows = np.bincount(window_slice[in_slice], minlength=count)
    windows_failing = np.bincount(window_slice[in_slice & window_failed], minlength=count)
    # one (sequence, slice) pair per sequence that is a trial of the slice
    key = window_sequence[in_slice] * count + window_slice[in_slice]
    pairs, pair_of = np.unique(key, return_inverse=True)
    pair_failed = (
        np.bincount(pair_of.reshape(-1), weights=window_failed[in_slice].astype(np.float64)) > 0
    )
    pair_sequence, pair_slice = pairs // max(count, 1), pairs % max(count, 1)
    sequences = np.bincount(pair_slice, minlength=count)
    passing = sequences - np.bincount(pair_slice[pair_failed], minlength=count)
    failing_ids = tuple(
        ids[np.sort(pair_sequence[pair_failed & (pair_slice == s)])] for s in range(count)
    )
    crossing = window_slice == CROSSING
    excluded = np.zeros(count, dtype=np.int64)
    for s in range(count):  # a crossing window is excluded from every slice it touches
        members = np.r_[0, np.cumsum(cd == s)]
        excluded[s] = int(np.count_nonzero(members[end[crossing]] - members[begin[crossing]]))
    sequence_failed = (
        np.bincount(window_sequence, weights=window_failed.astype(np.float64), minlength=len(ids))
        > 0
    )
    gap_sequence = np.unique(sc[gap_steps])
    return SequenceWindows(
        frames=k,
        max_failures=m,
        sequence_ids=ids,
        sequences=sequences.astype(np.int64),
        passing=passing.astype(np.int64),
        windows=windows.astype(np.int64),
        windows_failing=windows_failing.astype(np.int64),
        windows_excluded=excluded,
        failing_ids=failing_ids,
        sequence_failed=sequence_failed,
        crossing=int(crossing.sum()),
        outside=int(np.count_nonzero(window_slice == OUTSIDE_SCOPE)),
        short_sequences=int(np.count_nonzero(lengths < k)),
        gaps=int(gap_steps.sum()),
        gap_sequences=ids[gap_sequence],
        windows_over_gaps=int(np.count_nonzero(inside(gap_steps))),
        window_sequence=window_sequence,
        window_slice=window_slice,
        window_failed=window_failed,
    )


# -- judging ------------------------------------------------------------------------------


def decide_sequences(
    windows: SequenceWindows,
    *,
    threshold: float,
    comparison: Comparison = "at_least",
    confidence: float = 0.95,
) -> list[Decision]:
    """The primary verdict per slice: the share of sequences with no failing window
    (``successes`` = passing sequences, ``trials`` = sequences), on the exact
    Clopper-Pearson bound over sequences taken as independent, Holm across slices."""
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        ok = False
    else:
        ok = 0 <= float(threshold) <= 1
    if not ok:
        raise ValueProblem(
            f"threshold={threshold!r} is not a share of sequences",
            code="R093",
            value=threshold,
            expected="a share in [0, 1] of sequences that must pass",
        )
    if not isinstance(confidence, numbers.Real) or not 0 < float(confidence) < 1:
        raise ValueProblem(
            f"confidence={confidence!r} is not a level in (0, 1)",
            code="R093",
            value=confidence,
            expected="a level such as 0.95",
        )
    if comparison not in ("at_least", "at_most"):
        raise ValueProblem(
            f"comparison={comparison!r} is not a comparison",
            code="R093",
            value=comparison,
            expected="'at_least' or 'at_most'",
        )
    return decide_slices(
        windows.counts(), threshold=threshold, comparison=comparison, confidence=confidence
    )


def cluster_bootstrap_window_rate(
    windows: SequenceWindows,
    *,
    slice_code: int = 0,
    confidence: float = 0.95,
    sided: Literal["upper", "lower"] = "upper",
    seed: int = 0,
    resamples: int = 2000,
) -> WindowRate:
    """The share of failing windows in one slice with a one-sided percentile bootstrap
    bound that resamples whole sequences (a cluster bootstrap: a sequence's windows stay
    together, so their correlation is kept). Same seed, same bound.

    This is the alternative the evidence states beside the per-sequence verdict, not a
    verdict: a percentile bootstrap is only approximate, and it cannot bound a share it
    never sees vary (no failing window), which :attr:`WindowRate.degenerate` flags.
    """
    from scipy import stats

    if not isinstance(confidence, numbers.Real) or not 0 < float(confidence) < 1:
        raise ValueProblem(
            f"confidence={confidence!r} is not a level in (0, 1)",
            code="R093",
            value=confidence,
            expected="a level such as 0.95",
        )
    level = float(confidence)
    if sided not in ("upper", "lower"):
        raise ValueProblem(
            f"sided={sided!r} is not a side",
            code="R093",
            value=sided,
            expected="'upper' or 'lower'",
        )
    s = _integer(slice_code, "slice_code", f"a slice code below {windows.slices}", 0)
    if s >= windows.slices:
        raise ValueProblem(
            f"slice_code={s} with {windows.slices} slice(s)",
            code="R093",
            value=s,
            expected=f"a slice code below {windows.slices}",
        )
    draws = _integer(resamples, "resamples", "at least 100 resamples", 100)
    member = windows.window_slice == s
    own, per = np.unique(windows.window_sequence[member], return_inverse=True)
    per = per.reshape(-1)
    counts = np.bincount(per, minlength=len(own)).astype(np.float64)
    failing = np.bincount(
        per, weights=windows.window_failed[member].astype(np.float64), minlength=len(own)
    )
    total, bad = int(counts.sum()), int(failing.sum())
    estimate = bad / total if total else None
    shares = failing / np.maximum(counts, 1)
    trivial = 1.0 if sided == "upper" else 0.0
    side = "upper" if sided == "upper" else "lower"
    if len(own) < 2 or np.all(shares == shares[0]):
        why = (
            f"{len(own)} sequence(s)"
            if len(own) < 2
            else f"every one of the {len(own)} sequences has the same share {shares[0]:g}"
        )
        interval = (
            Interval(0.0, 1.0, level, "cluster-bootstrap", "upper")
            if side == "upper"
            else Interval(0.0, 1.0, level, "cluster-bootstrap", "lower")
        )
        return WindowRate(
            estimate,
            trivial,
            interval,
            len(own),
            total,
            bad,
            True,
            f"no bootstrap bound: {why}, so resampling sequences cannot show any spread",
            seed,
            draws,
        )

    def ratio(c: NDArray[np.float64], f: NDArray[np.float64], axis: int) -> NDArray[np.float64]:
        out: NDArray[np.float64] = f.sum(axis=axis) / c.sum(axis=axis)
        return out

    result = stats.bootstrap(
        (counts, failing),
        ratio,
        paired=True,
        vectorized=True,
        confidence_level=2 * level - 1,  # its two ends are the one-sided bounds at level
        n_resamples=draws,
        batch=max(1, 10_000_000 // len(own)),
        method="percentile",
        random_state=np.random.default_rng(seed),
    )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    bound = high if side == "upper" else low
    interval = (
        Interval(0.0, high, level, "cluster-bootstrap", "upper")
        if side == "upper"
        else Interval(low, 1.0, level, "cluster-bootstrap", "lower")
    )
    reason = (
        f"{percent(level)} percentile bootstrap {side} bound {bound:.4g} on the share of "
        f"failing windows ({bad} of {total}), resampling {len(own)} whole sequences "
        f"{draws} times (seed {seed})"
    )
    return WindowRate(estimate, bound, interval, len(own), total, bad, False, reason, seed, draws)
