"""Theta against direct statsmodels ThetaModel fits and a hand-run SES recursion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from statsmodels.tsa.forecasting.theta import ThetaModel
from statsmodels.tsa.seasonal import seasonal_decompose

from tsssm.exceptions import FitFailedError
from tsssm.forecasters._blas import single_blas_thread
from tsssm.forecasters.naive import Naive
from tsssm.forecasters.theta import Theta


def monthly(values: np.ndarray, name: str = "y") -> pd.Series:
    return pd.Series(values, index=pd.date_range("2010-01-01", periods=len(values),
                                                 freq="MS"), name=name)


def seasonal_series(seed: int, n: int = 120) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 + 0.3 * t + 10 * np.sin(2 * np.pi * t / 12) + np.cumsum(
        rng.normal(scale=0.7, size=n))


@pytest.mark.parametrize("kw, sm_kw, fit_kw", [
    ({"season_length": 12}, {"period": 12}, {}),
    ({"season_length": 12, "method": "additive", "theta": 3.0},
     {"period": 12, "method": "additive"}, {}),
    ({"season_length": 1}, {"deseasonalize": False}, {}),
    ({"season_length": 12, "use_mle": True}, {"period": 12}, {"use_mle": True}),
])
def test_point_forecasts_and_intervals_match_statsmodels(kw, sm_kw, fit_kw):
    y = seasonal_series(0)
    est = Theta(**kw).fit(monthly(y))
    theta = kw.get("theta", 2.0)
    with single_blas_thread():  # the reference, on one BLAS thread only for speed
        ref = ThetaModel(y, **sm_kw).fit(**fit_kw)
        pis = {c: ref.prediction_intervals(18, theta=theta, alpha=1 - c) for c in (0.8, 0.95)}
    np.testing.assert_allclose(est.predict(18).to_numpy(),
                               np.asarray(ref.forecast(18, theta=theta)), rtol=1e-12)
    for coverage, pi in pis.items():
        ci = est.predict_interval(18, coverage=coverage)
        np.testing.assert_allclose(ci["lower"], pi["lower"], rtol=1e-10)
        np.testing.assert_allclose(ci["upper"], pi["upper"], rtol=1e-10)


def test_intervals_widen_contain_the_forecast_and_are_monotone():
    est = Theta(season_length=12).fit(monthly(seasonal_series(1)))
    qs = (0.02, 0.1, 0.5, 0.9, 0.98)
    q = est.predict_quantiles(24, quantiles=qs).to_numpy()
    mean = est.predict(24).to_numpy()
    assert np.all(np.diff(q, axis=1) > 0)
    width = q[:, -1] - q[:, 0]
    assert np.all(np.diff(width) > 0)
    np.testing.assert_allclose(q[:, 2], mean, rtol=1e-12)  # the median is the mean
    # the implied sd is statsmodels' IMA(1,1) form sigma^2 (1 + (k - 1)(1 + (alpha - 1)^2))
    state = est.models_[0][1]
    k = np.arange(24)
    sd = np.sqrt(state.sigma2 * (1 + k * (1 + (state.alpha - 1) ** 2)))
    np.testing.assert_allclose(width, sd * (norm.ppf(0.98) - norm.ppf(0.02)), rtol=1e-10)


def test_update_runs_ses_with_fixed_parameters():
    y = seasonal_series(2, n=150)
    n0, m = 120, 12
    est = Theta(season_length=m, method="multiplicative").fit(monthly(y[:n0]))
    state0 = est.models_[0][1]
    est.update(monthly(y)[n0:])
    state = est.models_[0][1]
    assert (state.b0, state.alpha, state.sigma2) == (state0.b0, state0.alpha, state0.sigma2)

    # by hand: classical multiplicative indices of the first 120 points, SES from x[0]
    s = seasonal_decompose(y[:n0], model="multiplicative", period=m).seasonal[:m]
    x = y / s[np.arange(len(y)) % m]
    level = x[0]
    for v in x:
        level += state0.alpha * (v - level)
    k = np.arange(1, 13)
    n, a = len(y), state0.alpha
    trend = 0.5 * state0.b0 * (k - 1 + 1 / a - (1 - a) ** n / a)
    expected = (level + trend) * s[(n + k - 1) % m]
    np.testing.assert_allclose(est.predict(12).to_numpy(), expected, rtol=1e-9)


def test_short_series_skip_the_seasonal_adjustment():
    y = seasonal_series(3, n=20)  # fewer than two seasons of 12
    est = Theta(season_length=12).fit(monthly(y))
    with single_blas_thread():
        ref = ThetaModel(y, deseasonalize=False).fit()
    np.testing.assert_allclose(est.predict(6).to_numpy(), np.asarray(ref.forecast(6)),
                               rtol=1e-12)


def test_failed_fit_raises_or_falls_back(monkeypatch):
    import tsssm.forecasters.theta as theta_mod

    frame = pd.DataFrame({"a": seasonal_series(4, 40), "b": seasonal_series(5, 40)},
                         index=pd.date_range("2010-01-01", periods=40, freq="MS"))
    real = theta_mod.fit_theta

    def failing_on_b(y, **kw):  # statsmodels raising on one series
        if np.allclose(y, frame["b"].to_numpy()):
            raise np.linalg.LinAlgError("SVD did not converge")
        return real(y, **kw)

    monkeypatch.setattr(theta_mod, "fit_theta", failing_on_b)
    with pytest.raises(FitFailedError, match=r"'b'.*SVD"):
        Theta().fit(frame)
    with pytest.warns(RuntimeWarning, match=r"\['b'\]"):
        est = Theta(fallback=Naive()).fit(frame)
    pred = est.predict(3)
    assert np.isfinite(pred.to_numpy()).all()
    np.testing.assert_allclose(pred["b"], frame["b"].iloc[-1])
