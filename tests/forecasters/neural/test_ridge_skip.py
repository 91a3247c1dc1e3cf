"""The ridge-initialised linear skip against an independent NumPy least-squares solve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tsssm.forecasters.neural import S4Forecaster
from tsssm.forecasters.neural._network import ForecastNetwork
from tsssm.forecasters.neural._ridge_skip import DEFAULT_RIDGE, RIDGES
from tsssm.nn import make_backbone

L, H = 24, 6
EPS = 1e-5  # RevIN's variance floor


def _series(n: int = 400, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 5 + 2 * np.sin(2 * np.pi * t / 12) + 0.02 * t + rng.normal(0, 0.4, n)
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=n, freq="h"))


def _design(values: np.ndarray, first_target: int, last_target: int):
    """Rows [z, 1], normalised targets and weights std^2 of every window in float64."""
    xs, ts, ws = [], [], []
    for o in range(first_target, last_target - H + 2):  # o: first target position
        past, fut = values[o - L:o], values[o:o + H]
        mean, std = past.mean(), np.sqrt(past.var() + EPS)
        xs.append(np.append((past - mean) / std, 1.0))
        ts.append((fut - mean) / std)
        ws.append(std ** 2)
    return np.array(xs), np.array(ts), np.array(ws)


def _solve(x, t, w, lam):
    gram = x.T @ (w[:, None] * x)
    pen = np.zeros_like(gram)
    pen[np.arange(L), np.arange(L)] = lam * gram.diagonal()[:L].mean()
    return np.linalg.solve(gram + pen, x.T @ (w[:, None] * t))


def _fit(y: pd.Series, val_size: int, **kw) -> S4Forecaster:
    return S4Forecaster(horizon=H, lookback=L, d_model=8, n_layers=1, d_state=4,
                        max_epochs=1, batch_size=64, val_size=val_size, calendar=False,
                        random_state=0, verbose=False, **kw).fit(y)


def test_skip_is_the_weighted_least_squares_map_and_stays_fixed():
    y = _series()
    model = _fit(y, val_size=0)
    values = y.to_numpy() / np.std(y.to_numpy())  # the estimator's per-series scaling
    x, t, w = _design(values, L, len(values) - 1)
    beta = _solve(x, t, w, DEFAULT_RIDGE)
    skip = model.network_.skip
    np.testing.assert_allclose(skip.weight.detach().numpy(), beta[:-1].T, rtol=1e-3,
                               atol=1e-4)
    np.testing.assert_allclose(skip.bias.detach().numpy(), beta[-1], rtol=1e-3, atol=1e-4)
    assert not skip.weight.requires_grad  # training left it where least squares put it
    assert model.history_["linear_skip"]["ridge"] == DEFAULT_RIDGE


def test_ridge_strength_is_chosen_by_validation_error():
    y = _series(seed=1)
    val_size = 60
    model = _fit(y, val_size=val_size)
    values = y.to_numpy() / np.std(y.to_numpy())
    n = len(values)
    x, t, w = _design(values, L, n - val_size - 1)  # targets end before validation
    xv, tv, wv = _design(values, n - val_size, n - 1)
    scores = {}
    for lam in RIDGES:
        beta = _solve(x, t, w, lam)
        scores[lam] = float((wv[:, None] * (xv @ beta - tv) ** 2).mean())
    report = model.history_["linear_skip"]
    got = {float(k): v for k, v in report["val_mse"].items()}
    np.testing.assert_allclose([got[k] for k in RIDGES], [scores[k] for k in RIDGES],
                               rtol=1e-3)
    assert report["ridge"] == min(scores, key=scores.get)


def test_untrained_network_is_the_linear_forecaster():
    """Heads start at zero, so before training the forecast is the skip's linear map."""
    torch.manual_seed(0)
    backbone = make_backbone("mamba", d_input=1 + 4, d_model=8, n_layers=1, d_state=4)
    network = ForecastNetwork(backbone, n_channels=1, lookback=L, horizon=H,
                              n_covariates=4)
    with torch.no_grad():
        network.skip.weight.normal_()
        network.skip.bias.normal_()
    past = torch.randn(3, L, 1) * 2 + 5
    batch = {"past_y": past, "past_cov": torch.randn(3, L, 4),
             "future_cov": torch.randn(3, H, 4), "series": torch.zeros(3, dtype=torch.long)}
    point, _ = network(batch)
    x = past[..., 0].double().numpy()
    mean, std = x.mean(1, keepdims=True), np.sqrt(x.var(1, keepdims=True) + EPS)
    expected = ((x - mean) / std) @ network.skip.weight.double().detach().numpy().T
    expected = (expected + network.skip.bias.double().detach().numpy()) * std + mean
    np.testing.assert_allclose(point[..., 0].detach().numpy(), expected, rtol=1e-4,
                               atol=1e-4)


@pytest.mark.parametrize("bad", ["lstsq", 3])
def test_unknown_skip_mode_is_rejected(bad):
    with pytest.raises((ValueError, TypeError), match="linear_skip"):
        _fit(_series(), val_size=0, linear_skip=bad)


def test_learned_skip_is_trained():
    model = _fit(_series(), val_size=0, linear_skip="learned")
    assert model.network_.skip.weight.requires_grad
    assert "linear_skip" not in model.history_
