"""Shared data and trained models for the neural forecaster tests.

Training dominates the cost of these tests, so each forecaster class is trained once
per test session (``trained``) on a small generated panel with a strong daily cycle,
with a tiny network and few epochs; tests that need other settings train even smaller
models for one or two epochs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tsssm.forecasters.neural import (
    HybridForecaster,
    MambaForecaster,
    S4Forecaster,
    S5Forecaster,
)

CLASSES = [S4Forecaster, S5Forecaster, MambaForecaster, HybridForecaster]
SEASON = 24
HORIZON = 24
#: Held-back steps at the end of the generated data (three forecast origins).
HOLDOUT = 3 * HORIZON

#: A tiny network that trains in seconds on two CPU cores.
TINY = dict(horizon=HORIZON, lookback=48, d_model=16, n_layers=2, d_state=8, dropout=0.0,
            max_epochs=4, batch_size=64, lr=1e-2, random_state=0, verbose=False)


def seasonal_frame(n_series: int = 3, n: int = 24 * 28, noise: float = 0.3,
                   seed: int = 0) -> pd.DataFrame:
    """Wide hourly frame: level + daily sine of different phase and amplitude + noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    idx = pd.date_range("2024-01-01", periods=n, freq="h", name="time")
    cols = {}
    for k in range(n_series):
        amp = 2.0 + k
        season = amp * np.sin(2 * np.pi * t / SEASON + 0.7 * k)
        cols[f"s{k}"] = 10.0 * (k + 1) + season + rng.normal(0, noise * amp, n)
    return pd.DataFrame(cols, index=idx)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Train on one thread: the suite runs two workers on two cores, and torch's
    OpenMP threads competing for busy cores made a fit ten times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def seasonal() -> pd.DataFrame:
    return seasonal_frame()


_TRAINED: dict[type, object] = {}


@pytest.fixture(scope="session")
def trained(seasonal):
    """``trained(cls)``: an instance of ``cls`` fitted once on the data minus HOLDOUT."""

    def get(cls):
        if cls not in _TRAINED:
            _TRAINED[cls] = cls(**TINY).fit(seasonal.iloc[:-HOLDOUT])
        return _TRAINED[cls]

    return get
