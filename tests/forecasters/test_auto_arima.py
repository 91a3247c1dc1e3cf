"""AutoARIMA: sensible orders on processes with a known answer, then ARIMA behaviour."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsssm.exceptions import FitFailedError
from tsssm.forecasters.arima import ARIMA
from tsssm.forecasters.auto_arima import AutoARIMA
from tsssm.forecasters.naive import Naive


def ar1(n: int, phi: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(n + 100)
    y = np.zeros(n + 100)
    for t in range(1, n + 100):
        y[t] = phi * y[t - 1] + e[t]
    return y[100:]


def daily(values: np.ndarray) -> pd.Series:
    return pd.Series(values, index=pd.date_range("2020-01-01", periods=len(values), freq="D"))


def test_finds_an_ar_term_on_ar1_and_matches_arima_with_that_order():
    y = daily(ar1(200, 0.7, seed=0))
    est = AutoARIMA().fit(y)
    order, seasonal_order, trend = est.orders_["y"]
    assert order[0] >= 1 and order[1] == 0  # stationary AR: an AR term, no difference
    assert seasonal_order == (0, 0, 0, 0)
    # the refit is exactly ARIMA with the chosen order
    ref = ARIMA(order=order, seasonal_order=seasonal_order, trend=trend).fit(y)
    pd.testing.assert_series_equal(est.predict(8), ref.predict(8))
    pd.testing.assert_frame_equal(est.predict_quantiles(8), ref.predict_quantiles(8))


def test_white_noise_gets_a_low_order():
    # five independent white-noise series: no differencing, and mostly no ARMA terms
    # (an information criterion still picks a spurious term now and then)
    rng = np.random.default_rng(1)
    wide = pd.DataFrame(rng.standard_normal((200, 5)), columns=list("abcde"),
                        index=pd.date_range("2020-01-01", periods=200, freq="D"))
    orders = AutoARIMA().fit(wide).orders_
    assert all(o[0][1] == 0 and o[1] == (0, 0, 0, 0) for o in orders.values())
    assert sum(o[0] == (0, 0, 0) for o in orders.values()) >= 3


def test_random_walk_is_differenced():
    y = daily(np.cumsum(np.random.default_rng(2).standard_normal(200)))
    order, _, _ = AutoARIMA().fit(y).orders_["y"]
    assert order[1] == 1


def test_seasonal_series_with_season_length():
    rng = np.random.default_rng(3)
    season = np.array([0.0, 5.0, 8.0, 4.0, -3.0, -7.0, -5.0])
    y = daily(np.tile(season, 16) + rng.normal(scale=0.5, size=112))
    est = AutoARIMA(season_length=7, max_p=1, max_q=1).fit(y)
    _, seasonal_order, _ = est.orders_["y"]
    assert seasonal_order[3] == 7 and any(seasonal_order[:3])
    np.testing.assert_allclose(est.predict(7).to_numpy(), season, atol=1.0)


def test_update_keeps_the_order_and_params():
    y = ar1(180, 0.6, seed=4)
    est = AutoARIMA(max_p=2, max_q=1).fit(daily(y[:150]))
    orders = dict(est.orders_)
    state = est.models_[0][1]
    params = np.asarray(state.results.params).copy()
    est.update(daily(y)[150:])
    new = est.models_[0][1]
    assert (new.order, new.seasonal_order, new.trend) == orders["y"]
    np.testing.assert_array_equal(np.asarray(new.results.params), params)
    # The update filtered the 30 new points from the old end state: the forecast equals
    # the fixed-parameter filter over all 180 points.
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    order, seasonal_order, trend = orders["y"]
    full = SARIMAX(y, order=order, seasonal_order=seasonal_order, trend=trend).filter(params)
    np.testing.assert_allclose(est.predict(5).to_numpy(), full.forecast(5), rtol=1e-8)


def test_failed_search_falls_back(monkeypatch):
    import tsssm.forecasters.auto_arima as mod

    def broken(*args, **kwargs):
        raise ValueError("no suitable ARIMA model found")

    monkeypatch.setattr(mod, "select_arima_order", broken)
    y = daily(ar1(60, 0.5, seed=5))
    with pytest.raises(FitFailedError, match=r"'y'.*no suitable"):
        AutoARIMA().fit(y)
    with pytest.warns(RuntimeWarning, match="Naive"):
        est = AutoARIMA(fallback=Naive()).fit(y)
    assert est.orders_ == {"y": None}
    np.testing.assert_allclose(est.predict(2).to_numpy(), y.iloc[-1])


def test_series_too_short_for_the_seasonal_test_get_a_non_seasonal_search():
    rng = np.random.default_rng(6)
    y = daily(np.tile([0.0, 4.0, -1.0, 2.0], 3) + rng.normal(scale=0.3, size=12))
    est = AutoARIMA(season_length=4).fit(y)  # 12 < 3 * 4 + 3
    assert est.orders_["y"][1] == (0, 0, 0, 0)
    assert np.isfinite(est.predict(4).to_numpy()).all()


def test_order_search_keeps_no_per_step_covariances(monkeypatch):
    """The search runs statsmodels in low-memory mode: each candidate's fit keeps no
    state covariance per time step (GBs for long seasonal series), yet the final model
    is a full SARIMAX fit whose forecasts match ARIMA with the chosen order."""
    import pmdarima

    fits = []
    real_fit = pmdarima.arima.ARIMA.fit

    def spy_fit(self, y, X=None, **fit_args):
        out = real_fit(self, y, X=X, **fit_args)
        fits.append(self.arima_res_)
        return out

    monkeypatch.setattr(pmdarima.arima.ARIMA, "fit", spy_fit)
    y = daily(ar1(150, 0.6, seed=9))
    est = AutoARIMA(max_p=2, max_q=1).fit(y)
    assert fits and all(r.filter_results.memory_no_predicted for r in fits)
    order, seasonal, trend = est.orders_["y"]
    ref = ARIMA(order=order, seasonal_order=seasonal, trend=trend).fit(y)
    np.testing.assert_allclose(est.predict(5).to_numpy(), ref.predict(5).to_numpy(),
                               rtol=1e-6)
