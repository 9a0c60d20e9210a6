"""Synthetic monitors for the tests: correlated Gaussian inputs and a two-dimension ODD.

``inputs(rng, n)`` draws from one fixed distribution, so a monitor fitted and calibrated
on two draws sees a third, held-out draw as exchangeable in-distribution data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from amlas.monitor import Monitor, MonitorSettings, fit_monitor
from amlas.project.artefacts import CategoricalDimension, NumericDimension

D = 6
_MIX = np.random.default_rng(12345).normal(size=(D, D))
MEAN = np.linspace(-2.0, 3.0, D)


def inputs(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` in-distribution samples of shape ``(n, D)``."""
    return rng.normal(size=(n, D)) @ _MIX.T + MEAN


def dimensions() -> list[Any]:
    return [
        NumericDimension(
            id="size",
            name="Object size",
            kind="numeric",
            unit="mm",
            min=0.0,
            max=100.0,
            column="size_mm",
            bands=[
                {"name": "small", "min": 0, "max": 50},
                {"name": "large", "min": 60, "max": 100},
            ],
        ),
        CategoricalDimension(
            id="lighting",
            name="Lighting",
            kind="categorical",
            values=["day", "night"],
            column="lighting",
        ),
    ]


def metadata(n: int, size: float = 40.0, lighting: str = "day") -> dict[str, Any]:
    """ODD columns of ``n`` samples, all inside the ODD by default."""
    return {"size_mm": np.full(n, size), "lighting": np.array([lighting] * n)}


def synthetic_monitor(
    seed: int = 0,
    *,
    n_fit: int = 2000,
    n_cal: int = 999,
    alpha: float = 0.05,
    low_confidence: float | None = None,
    max_components: int = 32,
) -> Monitor:
    rng = np.random.default_rng(seed)
    settings = MonitorSettings(
        target_false_alarm_rate=alpha,
        low_confidence_threshold=low_confidence,
        max_components=max_components,
    )
    return fit_monitor(
        inputs(rng, n_fit),
        inputs(rng, n_cal),
        dimensions=dimensions(),
        settings=settings,
        calibrated_on={"dataset:N": "0" * 64},
    )
