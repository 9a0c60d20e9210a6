"""The out-of-distribution score and its conformal threshold."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amlas.monitor import CalibrationError, conformal_threshold, fit_mahalanobis
from amlas.monitor._ood import conformal_rank

sys.path.insert(0, str(Path(__file__).parent))

from monitor_factory import inputs, metadata, synthetic_monitor


def test_held_out_false_alarm_rate_is_within_the_calibrated_bound() -> None:
    monitor = synthetic_monitor(seed=1, alpha=0.05)
    held_out = inputs(np.random.default_rng(99), 20_000)
    rate = float(monitor.assess(held_out, metadata(len(held_out))).ood.mean())
    assert monitor.calibration.rank == 950  # ceil(1000 * 0.95)
    assert monitor.calibration.false_alarms == 49
    assert rate <= monitor.calibration.upper
    assert 0.03 < rate < 0.065  # near the target: neither broken nor trivially conservative


def test_conformal_guarantee_holds_on_average_over_calibration_draws() -> None:
    # 19 calibration scores at a = 0.1: rank 18, P(flag) = 2/20 = 0.1 exactly for
    # continuous exchangeable scores; 400 draws x 500 fresh scores each
    rng = np.random.default_rng(7)
    rates = []
    for _ in range(400):
        threshold, rank = conformal_threshold(rng.random(19), 0.1)
        assert rank == 18
        rates.append(float((rng.random(500) > threshold).mean()))
    assert abs(float(np.mean(rates)) - 0.1) < 0.01


@settings(max_examples=60, deadline=None)
@given(
    scores=st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=300),
    alpha=st.floats(0.001, 0.999),
)
def test_threshold_flags_at_most_the_conformal_share_of_calibration(
    scores: list[float], alpha: float
) -> None:
    n = len(scores)
    rank = conformal_rank(n, alpha)
    if rank > n:
        with pytest.raises(CalibrationError, match="calibration samples"):
            conformal_threshold(np.array(scores), alpha)
        return
    threshold, got = conformal_threshold(np.array(scores), alpha)
    assert got == rank == math.ceil((n + 1) * (1 - alpha) - 1e-9)
    assert (np.array(scores) > threshold).sum() <= n - rank < (n + 1) * alpha
    assert threshold in scores


def test_too_few_calibration_samples_say_how_many_are_needed() -> None:
    with pytest.raises(CalibrationError, match=r"at least 99 calibration samples.*it has 50"):
        conformal_threshold(np.arange(50.0), 0.01)


def test_floating_point_does_not_push_the_rank_up() -> None:
    assert conformal_rank(9, 0.7) == 3  # 10 * 0.3 is 3.0000000000000004 in floating point
    assert conformal_rank(114, 0.05) == 110


def test_shifted_and_noisy_inputs_are_mostly_flagged() -> None:
    monitor = synthetic_monitor(seed=2)
    rng = np.random.default_rng(3)
    clean = inputs(rng, 2000)
    # along the direction [N] varies least: far outside, though each coordinate is modest
    weakest = monitor.score.components[-1]  # all 6 kept, by decreasing variance
    shifted = clean + 6.0 * weakest * monitor.score.scale
    noisy = clean + rng.normal(0.0, 6.0, clean.shape)
    for name, batch in (("shifted", shifted), ("noisy", noisy)):
        flagged = monitor.assess(batch, metadata(len(batch))).ood.mean()
        assert flagged > 0.9, name
    assert monitor.assess(clean, metadata(len(clean))).ood.mean() < 0.07


def test_pooled_trailing_directions_still_flag_a_new_direction() -> None:
    rng = np.random.default_rng(4)
    base = rng.normal(size=(500, 3)) @ rng.normal(size=(3, 40))  # rank 3 in 40 dimensions
    x = base + rng.normal(0.0, 0.01, base.shape)
    score = fit_mahalanobis(x, max_components=3)
    assert score.components.shape == (3, 40)
    assert score.residual_variance > 0
    inside = score.score(base[:50] + rng.normal(0.0, 0.01, (50, 40)))
    off = score.score(base[:50] + 0.5 * np.eye(40)[7])  # a step off the data's subspace
    assert off.min() > inside.max()


def test_fit_refuses_constant_and_non_finite_data() -> None:
    with pytest.raises(CalibrationError, match="do not vary"):
        fit_mahalanobis(np.ones((10, 3)))
    bad = np.random.default_rng(0).normal(size=(10, 3))
    bad[2, 1] = np.nan
    with pytest.raises(CalibrationError, match="NaN"):
        fit_mahalanobis(bad)
    with pytest.raises(CalibrationError, match="need >= 2"):
        fit_mahalanobis(np.ones((1, 3)))


def test_the_fit_is_deterministic_and_sign_stable() -> None:
    x = inputs(np.random.default_rng(5), 300)
    a, b = fit_mahalanobis(x).rounded(), fit_mahalanobis(x.copy()).rounded()
    assert np.array_equal(a.components, b.components)
    assert 0.0 <= a.shrinkage <= 1.0
