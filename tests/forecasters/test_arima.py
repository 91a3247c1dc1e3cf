"""ARIMA against direct statsmodels SARIMAX fits and simulated processes."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from statsmodels.tsa.statespace.sarimax import SARIMAX

from tsssm.exceptions import DataError, FitFailedError
from tsssm.forecasters._blas import single_blas_thread
from tsssm.forecasters.arima import ARIMA
from tsssm.forecasters.naive import Naive


def simulate_ar2(n: int, phi1: float, phi2: float, seed: int) -> np.ndarray:
    """A stationary AR(2) by the plain recursion (burn-in dropped)."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(n + 200)
    y = np.zeros(n + 200)
    for t in range(2, n + 200):
        y[t] = phi1 * y[t - 1] + phi2 * y[t - 2] + e[t]
    return y[200:]


def daily(values: np.ndarray, start: str = "2020-01-01", name: str = "y") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="D"),
                     name=name)


def sm_fit(y, **kw):
    """The reference: statsmodels directly (on one BLAS thread, only for speed)."""
    with warnings.catch_warnings(), single_blas_thread():
        warnings.simplefilter("ignore")
        return SARIMAX(y, **kw).fit(disp=False, maxiter=50)


def test_recovers_ar2_coefficients():
    y = simulate_ar2(1000, 0.6, -0.3, seed=1)
    est = ARIMA(order=(2, 0, 0)).fit(daily(y))
    params = np.asarray(est.models_[0][1].params)  # ar.L1, ar.L2, sigma2
    np.testing.assert_allclose(params[:2], [0.6, -0.3], atol=0.07)
    assert abs(params[2] - 1.0) < 0.12


def test_matches_direct_sarimax_forecast_and_intervals():
    y = simulate_ar2(200, 0.5, 0.2, seed=2) + 3.0
    est = ARIMA(order=(2, 0, 1), trend="c").fit(daily(y))
    ref = sm_fit(y, order=(2, 0, 1), trend="c")
    fc = ref.get_forecast(12)
    np.testing.assert_allclose(est.predict(12).to_numpy(), fc.predicted_mean,
                               rtol=0, atol=1e-8)
    q = est.predict_quantiles(12, quantiles=(0.05, 0.5, 0.975))
    expected = fc.predicted_mean[:, None] + fc.se_mean[:, None] * norm.ppf([0.05, 0.5, 0.975])
    np.testing.assert_allclose(q.to_numpy(), expected, atol=1e-8)
    ci = est.predict_interval(12, coverage=0.8)
    np.testing.assert_allclose(ci.to_numpy(), fc.conf_int(alpha=0.2), atol=1e-8)


def test_seasonal_arima_on_seasonal_series():
    rng = np.random.default_rng(3)
    season = np.array([0.0, 4.0, 7.0, 3.0, -2.0, -6.0, -4.0])
    y = np.tile(season, 30) + rng.normal(scale=0.3, size=210)
    est = ARIMA(order=(0, 0, 0), seasonal_order=(0, 1, 1, 7)).fit(daily(y))
    ref = sm_fit(y, order=(0, 0, 0), seasonal_order=(0, 1, 1, 7))
    pred = est.predict(14).to_numpy()
    np.testing.assert_allclose(pred, ref.forecast(14), atol=1e-8)
    # the forecast repeats the season: within noise of the true pattern
    np.testing.assert_allclose(pred, np.tile(season, 2), atol=0.4)


def test_exogenous_regression_and_missing_future_X():
    rng = np.random.default_rng(4)
    n = 200
    x = rng.normal(size=n + 5)
    y = 2.0 * x + simulate_ar2(n + 5, 0.5, 0.0, seed=5)
    idx = pd.date_range("2020-01-01", periods=n + 5, freq="D")
    X = pd.DataFrame({"x": x}, index=idx)
    est = ARIMA(order=(1, 0, 0)).fit(pd.Series(y[:n], index=idx[:n]), X=X.iloc[:n])
    params = np.asarray(est.models_[0][1].params)  # x, ar.L1, sigma2
    assert abs(params[0] - 2.0) < 0.15
    pred = est.predict(5, X=X.iloc[n:])
    ref = sm_fit(y[:n], exog=x[:n, None], order=(1, 0, 0))
    np.testing.assert_allclose(pred.to_numpy(), ref.forecast(5, exog=x[n:, None]), atol=1e-8)
    with pytest.raises(DataError, match="future values"):
        est.predict(5)
    with pytest.raises(DataError, match="X has no rows"):
        est.predict(5, X=X.iloc[n:n + 2])


def test_update_keeps_params_and_equals_fixed_param_filter():
    y = simulate_ar2(230, 0.6, -0.2, seed=6)
    rng = np.random.default_rng(7)
    x = rng.normal(size=230)
    idx = pd.date_range("2020-01-01", periods=230, freq="D")
    X = pd.DataFrame({"x": x}, index=idx)
    est = ARIMA(order=(1, 1, 1), trend="t").fit(pd.Series(y[:200], index=idx[:200]),
                                                  X=X.iloc[:200])
    before = np.asarray(est.models_[0][1].params).copy()
    est.update(pd.Series(y[200:220], index=idx[200:220]), X=X.iloc[200:220])
    after = np.asarray(est.models_[0][1].params)
    np.testing.assert_array_equal(before, after)
    ref = SARIMAX(y[:220], exog=x[:220, None], order=(1, 1, 1), trend="t").filter(before)
    fc = ref.get_forecast(10, exog=x[220:, None])
    np.testing.assert_allclose(est.predict(10, X=X.iloc[220:]).to_numpy(),
                               fc.predicted_mean, atol=1e-8)
    lo = est.predict_quantiles(10, quantiles=(0.1,), X=X.iloc[220:]).to_numpy()[:, 0]
    np.testing.assert_allclose(lo, fc.predicted_mean + norm.ppf(0.1) * fc.se_mean, atol=1e-8)


def test_missing_values_go_through_the_kalman_filter():
    y = simulate_ar2(200, 0.7, 0.0, seed=8)
    y[[20, 21, 90, 150]] = np.nan
    est = ARIMA(order=(1, 0, 0)).fit(daily(y))
    ref = sm_fit(y, order=(1, 0, 0))
    np.testing.assert_allclose(est.predict(4).to_numpy(), ref.forecast(4), atol=1e-8)


def test_many_series_n_jobs_2_equals_n_jobs_1():
    wide = pd.DataFrame(
        {f"s{k}": simulate_ar2(120, 0.5, 0.1 * k, seed=10 + k) for k in range(4)},
        index=pd.date_range("2020-01-01", periods=120, freq="h"),
    )
    one = ARIMA(order=(1, 0, 1), n_jobs=1).fit(wide)
    two = ARIMA(order=(1, 0, 1), n_jobs=2).fit(wide)
    pd.testing.assert_frame_equal(one.predict(6), two.predict(6))
    pd.testing.assert_frame_equal(one.predict_quantiles(6), two.predict_quantiles(6))
    # each column is its own model
    ref = sm_fit(wide["s2"].to_numpy(), order=(1, 0, 1))
    np.testing.assert_allclose(one.predict(6)["s2"].to_numpy(), ref.forecast(6), atol=1e-8)


def degenerate_frame() -> pd.DataFrame:
    """Series 'bad' overflows the likelihood: statsmodels' fit really fails on it."""
    rng = np.random.default_rng(11)
    return pd.DataFrame(
        {"good": simulate_ar2(60, 0.5, 0.0, seed=12), "bad": np.full(60, 1e300)
         + rng.normal(size=60)},
        index=pd.date_range("2020-01-01", periods=60, freq="D"),
    )


def test_failed_fit_raises_naming_the_series():
    with pytest.raises(FitFailedError, match="'bad'"):
        ARIMA(order=(1, 1, 1)).fit(degenerate_frame())


def test_failed_fit_uses_fallback_with_warning():
    frame = degenerate_frame()
    with pytest.warns(RuntimeWarning, match=r"\['bad'\].*Naive"):
        est = ARIMA(order=(1, 1, 1), fallback=Naive()).fit(frame)
    assert est.fallback_series_ == ["bad"]
    pred = est.predict(3)
    assert np.isfinite(pred.to_numpy()).all()
    np.testing.assert_allclose(pred["bad"].to_numpy(), frame["bad"].iloc[-1])
    assert np.isfinite(est.predict_quantiles(3).iloc[:, 2:].to_numpy()).all()


def test_nan_forecast_raises_instead_of_being_returned(monkeypatch):
    est = ARIMA(order=(1, 0, 0)).fit(daily(simulate_ar2(80, 0.5, 0.0, seed=13)))
    import tsssm.forecasters.arima as arima_mod

    def nan_forecast(res, h, X, quantiles):
        return np.full(h, np.nan), None

    monkeypatch.setattr(arima_mod, "sarimax_forecast", nan_forecast)
    with pytest.raises(FitFailedError, match="non-finite"):
        est.predict(3)


def test_too_short_series_is_a_data_error():
    with pytest.raises(DataError, match="too short"):
        ARIMA(order=(0, 1, 1), seasonal_order=(0, 1, 1, 12)).fit(daily(np.arange(10.0)))
