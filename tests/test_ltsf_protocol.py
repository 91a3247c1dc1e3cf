"""The long-horizon benchmark's protocol pieces (benchmarks/ltsf.py) and the batched
rolling forecasts of the neural forecasters, on tiny CPU models."""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import tsssm
from tsssm.data import to_panel
from tsssm.forecasters.neural import MambaForecaster, S4Forecaster

ROOT = Path(__file__).resolve().parents[1]


def _load_ltsf():
    spec = importlib.util.spec_from_file_location("ltsf_bench", ROOT / "benchmarks" / "ltsf.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["ltsf_bench"] = mod
    spec.loader.exec_module(mod)
    return mod


ltsf = _load_ltsf()


def _wide(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    data = {f"s{k}": np.sin(2 * np.pi * t / 12 + k) * (k + 1) + 0.3 * rng.standard_normal(n)
            + 0.02 * k * t for k in range(3)}
    return pd.DataFrame(data, index=pd.date_range("2024-01-01", periods=n, freq="h"))


def _tiny(cls, **kw):
    base = dict(horizon=4, lookback=16, d_model=8, n_layers=1, d_state=4, max_epochs=1,
                batch_size=32, val_size=0, random_state=0, accelerator="cpu",
                verbose=False)
    base.update(kw)
    return cls(**base)


# ------------------------------------------------------------- batched rolling path
@pytest.mark.parametrize("cls, kw", [
    (MambaForecaster, {}),
    (S4Forecaster, {"channel_mixing": True, "patch_len": 4}),
])
def test_rolling_forecasts_match_update_then_predict(cls, kw):
    """Every origin's batched forecast equals update() to that origin, then predict()."""
    torch.set_num_threads(1)
    y = _wide()
    n0 = 90
    est = _tiny(cls, **kw).fit(y.iloc[:n0])
    cutoffs = np.arange(n0, len(y) - 4 + 1)  # every stride-1 origin to the end
    panel = to_panel(y)
    got, gq = est._rolling_forecasts(panel, np.repeat(cutoffs[:, None], 3, axis=1), 4,
                                     quantiles=(0.1, 0.5, 0.9))
    assert got.shape == (len(cutoffs), 3, 4) and gq.shape == (len(cutoffs), 3, 4, 3)
    seq = copy.deepcopy(est)
    for w, n in enumerate(cutoffs):
        if n > n0:
            seq.update(y.iloc[n - 1:n])  # one new hour through the recurrent view
        ref = seq.predict(4)  # (4, 3) wide frame
        np.testing.assert_allclose(got[w], ref.to_numpy().T, rtol=1e-4, atol=1e-4)
        refq = seq.predict_quantiles(4, quantiles=(0.1, 0.5, 0.9))
        np.testing.assert_allclose(gq[w, :, :, 0], refq["q0.1"].to_numpy().reshape(3, 4),
                                   rtol=1e-4, atol=1e-4)


def test_rolling_forecasts_decline_what_they_cannot_do():
    y = _wide()
    est = _tiny(MambaForecaster).fit(y.iloc[:90])
    panel = to_panel(y)
    ok = np.full((2, 3), 90)
    assert est._rolling_forecasts(panel, ok, 5) is None  # beyond the model's horizon
    assert est._rolling_forecasts(panel, np.full((2, 3), 10), 4) is None  # short context
    assert est._rolling_forecasts(panel.select([0, 1]), ok[:, :2], 4) is None  # series
    assert est._rolling_forecasts(panel, ok, 4, quantiles=(0.001,)) is None


def test_backtest_prefers_batched_path_with_same_numbers():
    """backtest(refit=False) through the hook equals the update/predict loop."""

    class Sequential(MambaForecaster):
        _rolling_forecasts = None  # no fast path: backtest updates window by window

    y = _wide()
    kw = dict(horizon=4, n_windows=12, step=1, refit=False, metrics=("mse", "mae"),
              progress=False)
    fast = tsssm.backtest({"m": _tiny(MambaForecaster)}, y, **kw)
    slow = tsssm.backtest({"m": _tiny(Sequential)}, y, **kw)
    assert len(fast.forecasts) == 12 * 3 * 4 and fast.errors.empty
    np.testing.assert_allclose(fast.forecasts["yhat"], slow.forecasts["yhat"], atol=1e-4)
    pd.testing.assert_frame_equal(fast.forecasts.drop(columns="yhat"),
                                  slow.forecasts.drop(columns="yhat"))


# --------------------------------------------------------------- protocol pieces
def test_scaling_uses_training_rows_only():
    df = _wide(200)
    scaled, mean, std = ltsf.scale_train_only(df, train_rows=100)
    np.testing.assert_allclose(mean, df.iloc[:100].mean().to_numpy())
    np.testing.assert_allclose(std, df.iloc[:100].std(ddof=0).to_numpy())
    np.testing.assert_allclose(scaled.iloc[:100].mean().to_numpy(), 0, atol=1e-12)
    # The later rows are scaled with the training statistics, not their own.
    assert abs(scaled.iloc[100:].mean().to_numpy()).max() > 0.1


def test_window_counts_and_borders():
    b = ltsf.borders(steps_per_hour=1)
    assert (b.train_end, b.val_end, b.test_end) == (8640, 11520, 14400)
    assert ltsf.n_test_windows(b, 96) == 2785 and ltsf.n_test_windows(b, 720) == 2161


def test_dlinear_least_squares_matches_numpy_reference():
    """The DLinear-style baseline: moving-average split, one linear map per component,
    shared over channels, solved by least squares; checked against a direct solve."""
    rng = np.random.default_rng(1)
    T, C, L, H, k = 300, 2, 24, 6, 5
    y = np.cumsum(rng.standard_normal((T, C)), axis=0)
    model = ltsf.DLinearLS(lookback=L, horizon=H, kernel=k, ridge=0.0).fit(y)
    # reference: build the design matrix by hand with a float64 loop
    rows, targets = [], []
    for c in range(C):
        for t in range(L, T - H + 1):
            x = y[t - L:t, c]
            pad = np.concatenate([[x[0]] * ((k - 1) // 2), x, [x[-1]] * (k // 2)])
            trend = np.array([pad[i:i + k].mean() for i in range(L)])
            rows.append(np.concatenate([x - trend, trend, [1.0]]))
            targets.append(y[t:t + H, c])
    X, Y = np.array(rows), np.array(targets)
    coef = np.linalg.lstsq(X, Y, rcond=None)[0]
    t = 150
    x = y[t - L:t, 0]
    pad = np.concatenate([[x[0]] * ((k - 1) // 2), x, [x[-1]] * (k // 2)])
    trend = np.array([pad[i:i + k].mean() for i in range(L)])
    expected = np.concatenate([x - trend, trend, [1.0]]) @ coef
    got = model.predict_windows(y, np.array([t]))  # (1, C, H)
    np.testing.assert_allclose(got[0, 0], expected, rtol=1e-6, atol=1e-8)


def test_rlinear_least_squares_minimises_error_in_data_units():
    """RLinear-style anchor: its std^2-weighted normalised solve is the plain least-squares
    fit of m + s * ([z, 1] @ W) to the data, solved here directly in data units."""
    rng = np.random.default_rng(2)
    T, C, L, H = 260, 2, 16, 5
    y = np.cumsum(rng.standard_normal((T, C)), axis=0) * np.array([1.0, 7.0])
    model = ltsf.RLinearLS(lookback=L, horizon=H, ridge=0.0).fit(y)
    rows, targets = [], []
    for c in range(C):
        for t in range(L, T - H + 1):
            x = y[t - L:t, c]
            m, s = x.mean(), np.sqrt(x.var() + 1e-5)
            rows.append(s * np.append((x - m) / s, 1.0))
            targets.append(y[t:t + H, c] - m)
    coef = np.linalg.lstsq(np.array(rows), np.array(targets), rcond=None)[0]
    # (centred windows make the z columns collinear: compare fits, not coefficients)
    t = 100
    x = y[t - L:t, 1]
    m, s = x.mean(), np.sqrt(x.var() + 1e-5)
    expected = m + s * (np.append((x - m) / s, 1.0) @ coef)
    np.testing.assert_allclose(model.predict_windows(y, np.array([t]))[0, 1], expected,
                               rtol=1e-6, atol=1e-6)


def test_summary_mean_std():
    s = ltsf.mean_std([0.5, 0.7, 0.6])
    assert s["mean"] == pytest.approx(0.6) and s["std"] == pytest.approx(np.std([.5, .7, .6]))
