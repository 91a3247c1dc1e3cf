"""ETS against direct statsmodels ETSModel fits and the textbook variance formulas."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from tsssm.exceptions import FitFailedError, ParameterError
from tsssm.forecasters._blas import single_blas_thread
from tsssm.forecasters.ets import ETS
from tsssm.forecasters.naive import SeasonalNaive

N = 120


def monthly(values: np.ndarray, name: str = "y") -> pd.Series:
    return pd.Series(values, index=pd.date_range("2010-01-01", periods=len(values),
                                                 freq="MS"), name=name)


def level_series(seed: int = 0, n: int = N) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 50 + np.cumsum(rng.normal(scale=0.5, size=n)) + rng.normal(size=n)


def seasonal_series(seed: int = 1, n: int = N) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 + 0.3 * t + 8 * np.sin(2 * np.pi * t / 12) + rng.normal(size=n)


def wandering_seasonal_series(seed: int, n: int = N) -> np.ndarray:
    """A random-walk level plus a season: the level is uncertain, so intervals widen."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 + np.cumsum(rng.normal(size=n)) + 8 * np.sin(2 * np.pi * t / 12) \
        + rng.normal(scale=0.5, size=n)


def sm_fit(y, **kw):
    """The reference: statsmodels directly (one BLAS thread only for speed)."""
    with warnings.catch_warnings(), single_blas_thread():
        warnings.simplefilter("ignore")
        return ETSModel(pd.Series(y), **kw).fit(disp=False)


@pytest.mark.parametrize("kw, sm_kw, make", [
    ({}, {}, level_series),
    ({"trend": "add", "damped_trend": True}, {"trend": "add", "damped_trend": True},
     level_series),
    ({"trend": "add", "seasonal": "add", "season_length": 12},
     {"trend": "add", "seasonal": "add", "seasonal_periods": 12}, seasonal_series),
    ({"error": "mul", "trend": "add", "seasonal": "mul", "season_length": 12},
     {"error": "mul", "trend": "add", "seasonal": "mul", "seasonal_periods": 12},
     seasonal_series),
])
def test_point_forecasts_match_statsmodels(kw, sm_kw, make):
    y = make()
    est = ETS(**kw).fit(monthly(y))
    ref = sm_fit(y, **sm_kw)
    np.testing.assert_allclose(est.predict(18).to_numpy(), np.asarray(ref.forecast(18)),
                               rtol=1e-10, atol=1e-8)


def test_ann_intervals_follow_the_closed_form_variance():
    # ANN: v_h = sigma^2 (1 + (h - 1) alpha^2)  (Hyndman et al. 2008, Table 6.1)
    y = level_series(2)
    est = ETS().fit(monthly(y))
    res = est.models_[0][1]
    alpha, sigma2 = float(np.asarray(res.params)[0]), float(res.mse)
    h = np.arange(1, 13)
    sd = np.sqrt(sigma2 * (1 + (h - 1) * alpha**2))
    mean = est.predict(12).to_numpy()
    q = est.predict_quantiles(12, quantiles=(0.05, 0.5, 0.8)).to_numpy()
    np.testing.assert_allclose(q, mean[:, None] + sd[:, None] * norm.ppf([0.05, 0.5, 0.8]),
                               rtol=1e-9)


def test_aan_intervals_follow_the_closed_form_variance():
    # AAN: v_h = sigma^2 [1 + (h-1){alpha^2 + alpha beta h + beta^2 h (2h - 1) / 6}]
    y = level_series(3) + 0.4 * np.arange(N)
    est = ETS(trend="add").fit(monthly(y))
    res = est.models_[0][1]
    alpha, beta = (float(v) for v in np.asarray(res.params)[:2])
    h = np.arange(1, 13)
    var = res.mse * (1 + (h - 1) * (alpha**2 + alpha * beta * h
                                    + beta**2 * h * (2 * h - 1) / 6))
    ci = est.predict_interval(12, coverage=0.9).to_numpy()
    mean = est.predict(12).to_numpy()
    np.testing.assert_allclose(ci[:, 1] - mean, norm.ppf(0.95) * np.sqrt(var), rtol=1e-9)


@pytest.mark.parametrize("kw", [
    {"trend": "add", "seasonal": "add", "season_length": 12},  # analytic
    {"error": "mul", "seasonal": "mul", "season_length": 12, "random_state": 0},  # simulated
])
def test_intervals_widen_contain_the_forecast_and_are_monotone(kw):
    est = ETS(**kw).fit(monthly(wandering_seasonal_series(4)))
    qs = (0.05, 0.25, 0.5, 0.75, 0.95)
    q = est.predict_quantiles(24, quantiles=qs).to_numpy()
    mean = est.predict(24).to_numpy()
    assert np.all(np.diff(q, axis=1) > 0)  # monotone in the level
    width = q[:, -1] - q[:, 0]
    assert np.all(np.diff(width[::12]) > 0) and width[-1] > 1.5 * width[0]  # wider far out
    assert np.all((q[:, 0] < mean) & (mean < q[:, -1]))


def test_simulated_intervals_are_reproducible_with_random_state():
    y = monthly(seasonal_series(5))
    kw = {"error": "mul", "trend": "add", "random_state": 3}
    a = ETS(**kw).fit(y).predict_quantiles(6).to_numpy()
    b = ETS(**kw).fit(y).predict_quantiles(6).to_numpy()
    np.testing.assert_array_equal(a, b)


def test_update_smooths_with_fixed_params():
    y = seasonal_series(6, n=150)
    est = ETS(trend="add", seasonal="add", season_length=12).fit(monthly(y[:120]))
    params = np.asarray(est.models_[0][1].params).copy()
    est.update(monthly(y)[120:])
    np.testing.assert_array_equal(np.asarray(est.models_[0][1].params), params)
    ref = ETSModel(pd.Series(y), trend="add", seasonal="add",
                   seasonal_periods=12).smooth(params)
    np.testing.assert_allclose(est.predict(12).to_numpy(), np.asarray(ref.forecast(12)),
                               rtol=1e-10)
    # and it differs from a refit (the update really kept the old parameters)
    refit = sm_fit(y, trend="add", seasonal="add", seasonal_periods=12)
    assert not np.allclose(np.asarray(refit.params), params)


def bad_frame() -> pd.DataFrame:
    """'neg' has negative values: a multiplicative-error ETS cannot be fitted to it."""
    return pd.DataFrame({"pos": seasonal_series(7, n=48), "neg": level_series(8, n=48) - 60},
                        index=pd.date_range("2010-01-01", periods=48, freq="MS"))


def test_failed_fit_raises_naming_the_series():
    with pytest.raises(FitFailedError, match="'neg'"):
        ETS(error="mul").fit(bad_frame())


def test_failed_fit_falls_back_with_warning():
    frame = bad_frame()
    with pytest.warns(RuntimeWarning, match=r"\['neg'\].*SeasonalNaive"):
        est = ETS(error="mul", fallback=SeasonalNaive(season_length=12)).fit(frame)
    pred = est.predict(12)
    np.testing.assert_allclose(pred["neg"].to_numpy(), frame["neg"].to_numpy()[-12:])
    assert np.isfinite(est.predict_interval(12).iloc[:, 2:].to_numpy()).all()


def test_parameter_combinations_are_checked():
    y = monthly(level_series())
    with pytest.raises(ParameterError, match="damped_trend"):
        ETS(damped_trend=True).fit(y)
    with pytest.raises(ParameterError, match="season_length"):
        ETS(seasonal="add").fit(y)
