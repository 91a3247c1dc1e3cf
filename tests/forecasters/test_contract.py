"""The estimator contract, held by every classical forecaster."""

from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from tsssm.exceptions import ParameterError, ParameterTypeError
from tsssm.forecasters.arima import ARIMA
from tsssm.forecasters.auto_arima import AutoARIMA
from tsssm.forecasters.ets import ETS
from tsssm.forecasters.naive import Drift, HistoricAverage, Naive, SeasonalNaive
from tsssm.forecasters.theta import Theta

# (estimator, a bad parameter setting, the parameter its error must name)
CASES = [
    (Naive(), {"n_jobs": "two"}, "n_jobs"),
    (SeasonalNaive(season_length=4), {"season_length": 0}, "season_length"),
    (Drift(), {"n_jobs": 1.5}, "n_jobs"),
    (HistoricAverage(), {"n_jobs": "all"}, "n_jobs"),
    (ARIMA(order=(1, 0, 0)), {"order": (1, -1, 0)}, "order"),
    (AutoARIMA(max_p=1, max_q=1), {"max_p": -1}, "max_p"),
    (ETS(trend="add"), {"error": "multiplicative"}, "error"),
    (Theta(season_length=4), {"theta": 0.5}, "theta"),
]
IDS = [type(c[0]).__name__ for c in CASES]
ESTIMATORS = [c[0] for c in CASES]


def series(n: int = 48, name: str = "sales") -> pd.Series:
    rng = np.random.default_rng(0)
    t = np.arange(n)
    values = 20 + 0.2 * t + 3 * np.sin(2 * np.pi * t / 4) + rng.normal(size=n)
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=n, freq="D",
                                                 name="date"), name=name)


def wide(n: int = 48) -> pd.DataFrame:
    return pd.DataFrame({"b": series(n).to_numpy(), "a": series(n).to_numpy()[::-1] + 5},
                        index=pd.date_range("2024-01-01", periods=n, freq="D"))


def long(n: int = 48) -> pd.DataFrame:
    """Two series of different lengths in long form, deliberately not sorted."""
    s1, s2 = series(n), series(n - 6) * 2
    frame = pd.concat([
        pd.DataFrame({"unique_id": "x", "ds": s1.index, "y": s1.to_numpy()}),
        pd.DataFrame({"unique_id": "w", "ds": s2.index, "y": s2.to_numpy()}),
    ], ignore_index=True)
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_clone_and_params_round_trip(est):
    params = est.get_params()
    twin = clone(est)
    assert twin is not est
    assert repr(twin.get_params()) == repr(params)
    assert twin.set_params(**params) is twin
    assert repr(twin.get_params()) == repr(params)
    assert repr(twin) == repr(est)


def test_clone_copies_a_fallback_estimator():
    est = ARIMA(fallback=SeasonalNaive(season_length=7))
    twin = clone(est)
    assert twin.fallback is not est.fallback
    assert twin.get_params()["fallback__season_length"] == 7
    twin.set_params(fallback__season_length=3)
    assert est.fallback.season_length == 7


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_methods_before_fit_raise_not_fitted(est):
    est = clone(est)
    for call in (lambda: est.predict(2), lambda: est.predict_quantiles(2),
                 lambda: est.predict_interval(2), lambda: est.update(series())):
        with pytest.raises(NotFittedError):
            call()


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_series_in_series_out(est):
    y = series()
    y_copy = copy.deepcopy(y)
    est = clone(est).fit(y)
    pred = est.predict(5)
    assert isinstance(pred, pd.Series) and pred.name == "sales"
    expected = pd.date_range("2024-02-18", periods=5, freq="D", name="date")
    pd.testing.assert_index_equal(pred.index, expected)
    assert pred.index.freq == y.index.freq
    assert np.isfinite(pred.to_numpy()).all()

    q = est.predict_quantiles(5)
    assert list(q.columns) == ["q0.1", "q0.5", "q0.9"]
    pd.testing.assert_index_equal(q.index, expected)
    assert np.all(q["q0.1"] <= q["q0.5"]) and np.all(q["q0.5"] <= q["q0.9"])
    ci = est.predict_interval(5, coverage=0.8)
    assert list(ci.columns) == ["lower", "upper"]
    assert np.all(ci["lower"] < ci["upper"])

    new = pd.Series([21.0, 22.0], index=pd.date_range("2024-02-18", periods=2, freq="D"),
                    name="sales")
    new_copy = copy.deepcopy(new)
    est.update(new)
    pd.testing.assert_index_equal(est.predict(1).index,
                                  pd.DatetimeIndex(["2024-02-20"], freq="D", name="date"))
    pd.testing.assert_series_equal(y, y_copy)  # the caller's data is untouched
    pd.testing.assert_series_equal(new, new_copy)


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_wide_in_wide_out(est):
    y = wide()
    y_copy = copy.deepcopy(y)
    est = clone(est).fit(y)
    pred = est.predict(3)
    assert isinstance(pred, pd.DataFrame)
    pd.testing.assert_index_equal(pred.columns, y.columns)
    pd.testing.assert_index_equal(pred.index, pd.date_range("2024-02-18", periods=3,
                                                            freq="D"))
    q = est.predict_quantiles(3)
    assert list(q.columns) == ["unique_id", "ds", "q0.1", "q0.5", "q0.9"]
    assert list(q["unique_id"].unique()) == ["b", "a"]
    pd.testing.assert_frame_equal(y, y_copy)


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_long_in_long_out(est):
    y = long()
    y_copy = copy.deepcopy(y)
    est = clone(est).fit(y)
    pred = est.predict(3)
    assert list(pred.columns) == ["unique_id", "ds", "yhat"]
    order = list(y["unique_id"].unique())  # series come out in first-appearance order
    assert list(pred["unique_id"]) == [order[0]] * 3 + [order[1]] * 3
    ends = {"x": pd.Timestamp("2024-02-17"), "w": pd.Timestamp("2024-02-11")}
    for uid, end in ends.items():
        got = pred.loc[pred["unique_id"] == uid, "ds"].tolist()
        assert got == list(pd.date_range(end + pd.Timedelta(days=1), periods=3, freq="D"))
    ci = est.predict_interval(3)
    assert list(ci.columns) == ["unique_id", "ds", "lower", "upper"]
    pd.testing.assert_frame_equal(y, y_copy)


@pytest.mark.parametrize("est, bad, name", CASES, ids=IDS)
def test_invalid_parameters_raise_at_fit_naming_the_parameter(est, bad, name):
    est = clone(est).set_params(**bad)  # accepted here: __init__ and set_params only store
    with pytest.raises((ParameterError, ParameterTypeError), match=re.escape(f"'{name}'")):
        est.fit(series())


@pytest.mark.parametrize("est", ESTIMATORS, ids=IDS)
def test_invalid_horizons_raise(est):
    est = clone(est).fit(series())
    with pytest.raises(ParameterError, match="'h'"):
        est.predict(0)
    with pytest.raises(ParameterTypeError, match="'h'"):
        est.predict(1.5)
    with pytest.raises(ParameterError):
        est.predict_quantiles(2, quantiles=(0.0, 0.5))
    with pytest.raises(ParameterError):
        est.predict_interval(2, coverage=1.0)


@pytest.mark.parametrize("cls", [ARIMA, AutoARIMA, ETS, Theta])
def test_fallback_must_be_a_classical_forecaster(cls):
    with pytest.raises(ParameterTypeError, match="'fallback'"):
        cls(fallback="naive").fit(series())


@pytest.mark.parametrize("cls", [ARIMA, ETS, Theta])
def test_invalid_n_jobs_is_named(cls):
    with pytest.raises(ParameterTypeError, match="'n_jobs'"):
        cls(n_jobs="4").fit(series())
