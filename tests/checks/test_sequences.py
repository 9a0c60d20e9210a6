"""Windows of consecutive frames: counts against a frame-by-frame reference, the rules for
gaps, short sequences and slices, and the coverage of the per-sequence bound on sequences
whose frames are correlated (a Markov chain of failures)."""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pytest
from coverage import assert_covers, covers
from scipy import stats

from amlas.checks import clopper_pearson, decide_slices
from amlas.checks._sequences import (
    CROSSING,
    OUTSIDE_SCOPE,
    cluster_bootstrap_window_rate,
    decide_sequences,
    window_failures,
)
from amlas.errors import ValueProblem


def test_a_small_case_by_hand() -> None:
    # sequence "a": frames 0 1 2 3 5 (a gap before 5), failures at 1 and 2, the last frame
    # in slice 1; "b": three frames, one failure; "c": one frame (shorter than a window)
    sequence = ["a", "a", "a", "a", "a", "b", "b", "b", "c"]
    frame = [0, 1, 2, 3, 5, 0, 1, 2, 7]
    failure = [0, 1, 1, 0, 0, 1, 0, 0, 1]
    codes = [0, 0, 0, 0, 1, 0, 0, 0, 1]
    order = [8, 3, 0, 5, 1, 7, 2, 6, 4]  # the order of the samples does not matter
    w = window_failures(
        np.array(sequence)[order],
        np.array(frame)[order],
        np.array(failure, dtype=bool)[order],
        frames=3,
        max_failures=1,
        slice_codes=np.array(codes)[order],
    )
    # windows of a: [0 1 2] fails (2 > 1), [1 2 3] fails, [2 3 5] crosses slices, spans the
    # gap; b: [0 1 2] passes; c: its one frame is a window of length 1, passing (1 <= 1)
    assert w.sequence_ids.tolist() == ["a", "b", "c"]
    assert w.window_sequence.tolist() == [0, 0, 0, 1, 2]
    assert w.window_slice.tolist() == [0, 0, CROSSING, 0, 1]
    assert w.window_failed.tolist() == [True, True, False, False, False]
    assert w.sequences.tolist() == [2, 1]
    assert w.passing.tolist() == [1, 1]
    assert w.windows.tolist() == [3, 1]
    assert w.windows_failing.tolist() == [2, 0]
    assert w.windows_excluded.tolist() == [1, 1]
    assert [ids.tolist() for ids in w.failing_ids] == [["a"], []]
    assert w.sequence_failed.tolist() == [True, False, False]
    assert (w.crossing, w.outside, w.short_sequences) == (1, 0, 1)
    assert (w.gaps, w.gap_sequences.tolist(), w.windows_over_gaps) == (1, ["a"], 1)
    assert w.counts() == [(1, 2), (1, 1)]


def test_short_sequences_keep_the_same_number_of_failures() -> None:
    w = window_failures(
        [1, 1, 2, 2], [0, 1, 0, 1], [True, True, True, False], frames=5, max_failures=1
    )
    assert w.short_sequences == 2
    assert w.windows.tolist() == [2]  # one window each, of their own length 2
    assert w.sequence_failed.tolist() == [True, False]  # 2 > 1 failures; 1 is not


def test_out_of_scope_windows_and_empty_slices() -> None:
    w = window_failures(
        [0] * 4 + [1] * 4,
        list(range(4)) * 2,
        [False] * 8,
        frames=2,
        max_failures=0,
        slice_codes=[-1, -1, -1, 0, 2, 2, 2, 2],
        slices=4,
    )
    assert w.window_slice.tolist() == [OUTSIDE_SCOPE, OUTSIDE_SCOPE, CROSSING, 2, 2, 2]
    assert w.outside == 2
    assert w.windows_excluded.tolist() == [1, 0, 0, 0]  # the crossing window touches 0
    assert w.sequences.tolist() == [0, 0, 1, 0]  # slices 1 and 3 stay, empty
    decisions = decide_sequences(w, threshold=0.9)
    assert [d.verdict for d in decisions] == ["inconclusive"] * 4
    assert "empty slice" in decisions[0].reason


def _reference(
    sequence: list[int], frame: list[int], failure: list[bool], codes: list[int], k: int, m: int
) -> dict[str, object]:
    """Frame by frame, window by window: the rules of the module, written plainly."""
    rows: dict[int, list[tuple[int, bool, int]]] = defaultdict(list)
    for s, f, x, c in zip(sequence, frame, failure, codes, strict=True):
        rows[s].append((f, x, c if c >= 0 else -1))
    slices = max(max(codes) + 1, 1)
    trials: list[set[int]] = [set() for _ in range(slices)]
    failing: list[set[int]] = [set() for _ in range(slices)]
    windows, wfail, excluded = [0] * slices, [0] * slices, [0] * slices
    gaps = over_gaps = 0
    for s in sorted(rows):
        samples = sorted(rows[s])
        frames_ = [f for f, _, _ in samples]
        gaps += sum(b - a > 1 for a, b in itertools.pairwise(frames_))
        width = min(k, len(samples))
        for start in range(len(samples) - width + 1):
            window = samples[start : start + width]
            failed = sum(x for _, x, _ in window) > m
            over_gaps += any(b[0] - a[0] > 1 for a, b in itertools.pairwise(window))
            present = {c for _, _, c in window}
            if len(present) == 1:
                (c,) = present
                if c >= 0:
                    windows[c] += 1
                    trials[c].add(s)
                    if failed:
                        wfail[c] += 1
                        failing[c].add(s)
            else:
                for c in present - {-1}:
                    excluded[c] += 1
    return {
        "sequences": [len(t) for t in trials],
        "passing": [len(t) - len(f) for t, f in zip(trials, failing, strict=True)],
        "windows": windows,
        "windows_failing": wfail,
        "windows_excluded": excluded,
        "failing_ids": [sorted(f) for f in failing],
        "gaps": gaps,
        "windows_over_gaps": over_gaps,
    }


def test_counts_match_a_window_by_window_reference() -> None:
    rng = np.random.default_rng(2024)
    seen: dict[str, int] = defaultdict(int)
    for _ in range(150):
        n_seq = int(rng.integers(1, 8))
        lengths = rng.integers(1, 15, size=n_seq)
        sequence = np.repeat(rng.choice(1000, size=n_seq, replace=False), lengths)
        # increasing frame numbers with occasional gaps
        steps = rng.choice([1, 1, 1, 1, 2, 5], size=len(sequence))
        frame = np.concatenate([np.cumsum(steps[: int(n)]) for n in lengths])
        failure = rng.random(len(sequence)) < rng.uniform(0.05, 0.6)
        # slice codes in runs (a new code at about one sample in four), some out of scope
        starts = np.where(rng.random(len(sequence)) < 0.25, np.arange(len(sequence)), 0)
        codes = rng.integers(-1, 3, size=len(sequence))[np.maximum.accumulate(starts)]
        k = int(rng.integers(1, 6))
        m = int(rng.integers(0, k))
        order = rng.permutation(len(sequence))
        w = window_failures(
            sequence[order],
            frame[order],
            failure[order],
            frames=k,
            max_failures=m,
            slice_codes=codes[order],
            slices=max(int(codes.max()) + 1, 1),
        )
        expected = _reference(
            sequence.tolist(), frame.tolist(), failure.tolist(), codes.tolist(), k, m
        )
        for field in ("sequences", "passing", "windows", "windows_failing", "windows_excluded"):
            assert getattr(w, field).tolist() == expected[field], field
        assert [ids.tolist() for ids in w.failing_ids] == expected["failing_ids"]
        assert (w.gaps, w.windows_over_gaps) == (expected["gaps"], expected["windows_over_gaps"])
        for name in ("windows_excluded", "windows_failing", "passing"):
            seen[name] += int(getattr(w, name).sum())
        seen["outside"] += w.outside
        seen["short"] += w.short_sequences
        seen["over gaps"] += w.windows_over_gaps
    # every rule was exercised
    assert min(seen.values()) > 0, dict(seen)
    assert len(seen) == 6


# -- coverage on correlated frames ----------------------------------------------------------


def _markov(rows: int, length: int, a: float, b: float, rng: np.random.Generator) -> np.ndarray:
    """Failures as a two-state Markov chain per row: P(fail | ok before) = a, P(fail | fail
    before) = b, started in its stationary distribution."""
    out = np.empty((rows, length), dtype=bool)
    out[:, 0] = rng.random(rows) < a / (1 - b + a)
    for j in range(1, length):
        out[:, j] = rng.random(rows) < np.where(out[:, j - 1], b, a)
    return out


def _pass_probability(length: int, k: int, m: int, a: float, b: float) -> float:
    """Exact probability that a chain of ``length`` frames has no window of ``k`` with more
    than ``m`` failures (short chains: one window of their length), by dynamic programming
    over the last k frames."""
    start = a / (1 - b + a)
    alive: dict[tuple[int, ...], float] = {(): 1.0}
    for _ in range(length):
        grown: dict[tuple[int, ...], float] = defaultdict(float)
        for history, p in alive.items():
            fail = start if not history else (b if history[-1] else a)
            for bit, q in ((1, fail), (0, 1 - fail)):
                window = (*history, bit)[-k:]
                if len(window) == k and sum(window) > m:
                    continue
                grown[window] += p * q
        alive = grown
    return sum(p for h, p in alive.items() if sum(h) <= m)


DATASETS = 4000


@pytest.mark.parametrize(
    ("a", "b", "length", "k", "m", "n_seq"),
    [(0.04, 0.7, 20, 5, 1, 30), (0.02, 0.5, 16, 4, 0, 50), (0.1, 0.3, 3, 5, 1, 25)],
)
def test_simulated_coverage_of_the_per_sequence_bound(
    a: float, b: float, length: int, k: int, m: int, n_seq: int
) -> None:
    truth = _pass_probability(length, k, m, a, b)
    rng = np.random.default_rng(int(a * 1000) + length)
    failure = _markov(DATASETS * n_seq, length, a, b, rng)
    w = window_failures(
        np.repeat(np.arange(DATASETS * n_seq), length),
        np.tile(np.arange(length), DATASETS * n_seq),
        failure.reshape(-1),
        frames=k,
        max_failures=m,
    )
    passing = (~w.sequence_failed).reshape(DATASETS, n_seq).sum(axis=1)
    # the share of passing sequences estimates the exact probability...
    assert passing.mean() / n_seq == pytest.approx(
        truth, abs=4 * np.sqrt(truth / (DATASETS * n_seq))
    )
    # ...and its one-sided exact lower bound covers it at the nominal level
    values, times = np.unique(passing, return_counts=True)
    lower = np.array([clopper_pearson(int(s), n_seq, sided="lower").lower for s in values])
    assert_covers(int(times[lower <= truth].sum()), DATASETS, 0.95, f"a={a}, b={b}")
    # the verdict is decide_slices on the same counts
    (d,) = decide_sequences(w, threshold=0.5)
    (same,) = decide_slices([(int(w.passing[0]), int(w.sequences[0]))], threshold=0.5)
    assert d == same
    if length >= k:
        # overlapping windows taken as independent trials: the bound on the share of
        # passing windows is far too narrow and misses the truth far too often
        window_truth = _pass_probability(k, k, m, a, b)
        per_set = (DATASETS * n_seq * (length - k + 1)) // DATASETS
        ok = per_set - np.bincount(w.window_sequence[w.window_failed] // n_seq, minlength=DATASETS)
        values, times = np.unique(ok, return_counts=True)
        naive = np.array([clopper_pearson(int(s), per_set, sided="lower").lower for s in values])
        assert not covers(int(times[naive <= window_truth].sum()), DATASETS, 0.95)


def test_cluster_bootstrap_of_the_window_share() -> None:
    rng = np.random.default_rng(99)
    n_seq, length = 40, 30
    failure = _markov(n_seq, length, 0.03, 0.8, rng)
    w = window_failures(
        np.repeat(np.arange(n_seq), length),
        np.tile(np.arange(length), n_seq),
        failure.reshape(-1),
        frames=5,
        max_failures=1,
    )
    rate = cluster_bootstrap_window_rate(w, seed=4, resamples=1000)
    assert rate == cluster_bootstrap_window_rate(w, seed=4, resamples=1000)  # seeded
    assert not rate.degenerate
    assert rate.windows == n_seq * (length - 4)
    assert rate.failing == int(w.windows_failing[0])
    assert rate.estimate == pytest.approx(rate.failing / rate.windows)
    assert rate.estimate is not None
    assert rate.bound > rate.estimate
    assert "resampling 40 whole sequences" in rate.reason
    # failures cluster in sequences, so resampling sequences gives a wider bound than
    # windows taken as independent
    independent = clopper_pearson(rate.failing, rate.windows, sided="upper").upper
    assert rate.bound > independent
    lower = cluster_bootstrap_window_rate(w, seed=4, resamples=1000, sided="lower")
    assert lower.bound < rate.estimate
    # by hand: the same percentile bootstrap of the ratio of sums over sequences
    per_seq = np.bincount(w.window_sequence, weights=w.window_failed.astype(float))
    windows = np.bincount(w.window_sequence).astype(float)
    result = stats.bootstrap(
        (windows, per_seq),
        lambda c, f, axis: f.sum(axis=axis) / c.sum(axis=axis),
        paired=True,
        vectorized=True,
        confidence_level=0.9,
        n_resamples=1000,
        method="percentile",
        random_state=np.random.default_rng(4),
    )
    assert rate.bound == pytest.approx(result.confidence_interval.high)


def test_cluster_bootstrap_says_when_it_cannot_bound() -> None:
    clean = window_failures(
        np.repeat([1, 2, 3], 6),
        np.tile(np.arange(6), 3),
        np.zeros(18, bool),
        frames=3,
        max_failures=0,
    )
    rate = cluster_bootstrap_window_rate(clean)
    assert rate.degenerate
    assert rate.estimate == 0.0
    assert rate.bound == 1.0  # never the estimate: no failure seen is not a bound of 0
    assert "same share" in rate.reason
    single = window_failures([1, 1, 1], [0, 1, 2], [True, False, False], frames=2, max_failures=0)
    assert cluster_bootstrap_window_rate(single).degenerate


# -- bad input ------------------------------------------------------------------------------

OK = {"sequence": [1, 1, 2], "frame": [0, 1, 0], "failure": [True, False, False]}


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"frames": 0}, "R093", "frames=0"),
        ({"max_failures": -1}, "R093", "max_failures=-1"),
        ({"max_failures": 3}, "R093", "no window could ever fail"),
        ({"frames": 2.5}, "R093", "frames=2.5"),
        ({"frame": [0, 0, 0]}, "R092", "frame 0 more than once"),
        ({"frame": [0, 1.5, 0]}, "R092", "not whole numbers"),
        ({"frame": [0, 1]}, "R092", "2 entries for 3 samples"),
        ({"frame": ["x", "y", "z"]}, "R092", "frame has dtype"),
        ({"failure": [0, 2, 1]}, "R092", "values other than 0/1"),
        ({"failure": [[True, False, True]]}, "R092", "shape (1, 3)"),
        ({"sequence": [1.0, float("nan"), 2.0]}, "R092", "NaN"),
        ({"slice_codes": [0, 1, 5], "slices": 2}, "R092", "slice code 5 with slices=2"),
        ({"slice_codes": [0, 0.5, 1]}, "R092", "slice_codes"),
    ],
)
def test_bad_input_is_a_coded_problem(change: dict[str, object], code: str, words: str) -> None:
    arguments: dict[str, object] = {**OK, "frames": 2, "max_failures": 1, **change}
    with pytest.raises(ValueProblem) as raised:
        window_failures(**arguments)  # type: ignore[arg-type]
    assert raised.value.diagnostic.code == code
    assert words in str(raised.value)


def test_bad_bootstrap_settings_are_coded_problems() -> None:
    w = window_failures(**OK, frames=2, max_failures=0)  # type: ignore[arg-type]
    for kwargs, words in (
        ({"slice_code": 1}, "slice_code=1"),
        ({"confidence": 1.5}, "confidence=1.5"),
        ({"sided": "both"}, "sided='both'"),
        ({"resamples": 10}, "resamples=10"),
    ):
        with pytest.raises(ValueProblem) as raised:
            cluster_bootstrap_window_rate(w, **kwargs)
        assert raised.value.diagnostic.code == "R093"
        assert words in str(raised.value)
    with pytest.raises(ValueProblem, match="threshold"):
        decide_sequences(w, threshold=1.5)
