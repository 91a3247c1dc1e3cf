"""Calendar features by hand, and covariate lags against pandas shift/rolling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsssm.exceptions import DataError, DataTypeError, ParameterError
from tsssm.preprocessing import CalendarFeatures, LagFeatures


def test_calendar_fields_and_holidays_by_hand():
    # Tue 24 Dec 2024 22:00 .. Wed 25 Dec 01:00, in New York
    X = pd.DataFrame({"temp": [1.0, 2, 3, 4]},
                     index=pd.date_range("2024-12-24 22:00", periods=4, freq="h",
                                         tz="America/New_York"))
    cal = CalendarFeatures(features=["hour", "dayofweek", "month", "is_weekend"],
                           holidays={"xmas": ["2024-12-25"], "eve": ["2024-12-24"]})
    out = cal.fit_transform(X)
    assert list(out.columns) == ["temp", "hour", "dayofweek", "month", "is_weekend", "xmas",
                                 "eve"]
    np.testing.assert_array_equal(out["hour"], [22, 23, 0, 1])
    np.testing.assert_array_equal(out["dayofweek"], [1, 1, 2, 2])
    np.testing.assert_array_equal(out["month"], [12, 12, 12, 12])
    np.testing.assert_array_equal(out["is_weekend"], [0, 0, 0, 0])
    # holidays follow the local calendar date, not UTC (22:00 EST is 03:00 UTC next day)
    np.testing.assert_array_equal(out["xmas"], [0, 0, 1, 1])
    np.testing.assert_array_equal(out["eve"], [1, 1, 0, 0])


def test_fourier_terms_count_steps_from_the_first_time_point_seen_at_fit():
    idx = pd.bdate_range("2024-01-01", periods=12)
    cal = CalendarFeatures(features=[], fourier={5: 2})
    out = cal.fit_transform(pd.DataFrame(index=idx))
    t = np.arange(12)  # business-day steps, weekends not counted
    np.testing.assert_allclose(out["sin5_1"], np.sin(2 * np.pi * t / 5), atol=1e-12)
    np.testing.assert_allclose(out["cos5_2"], np.cos(4 * np.pi * t / 5), atol=1e-12)
    # a later period (a forecast horizon) continues the phase
    future = pd.DataFrame(index=pd.bdate_range(idx[-1], periods=4)[1:])
    np.testing.assert_allclose(cal.transform(future)["sin5_1"],
                               np.sin(2 * np.pi * np.arange(12, 15) / 5), atol=1e-12)


def test_calendar_default_features_follow_the_frequency_and_period_index():
    hourly = pd.DataFrame(index=pd.date_range("2024-01-01", periods=3, freq="h"))
    assert CalendarFeatures().fit(hourly).get_feature_names_out() == ["hour", "dayofweek"]
    monthly = pd.Series([1.0, 2, 3], index=pd.period_range("2023-11", periods=3, freq="M"),
                        name="x")
    out = CalendarFeatures().fit_transform(monthly)
    assert list(out.columns) == ["x", "month"]
    np.testing.assert_array_equal(out["month"], [11, 12, 1])


def test_calendar_errors():
    with pytest.raises(DataTypeError, match="integer index"):
        CalendarFeatures(features=["hour"]).fit(pd.DataFrame(index=pd.RangeIndex(4)))
    with pytest.raises(ParameterError, match="Unknown calendar feature"):
        CalendarFeatures(features=["weekday"]).fit(pd.DataFrame(index=pd.RangeIndex(4)))
    with pytest.raises(ParameterError, match="too high for period 4"):
        CalendarFeatures(fourier={4: 3}).fit(pd.DataFrame(index=pd.RangeIndex(4)))
    X = pd.DataFrame({"hour": [1.0]}, index=pd.date_range("2024-01-01", periods=1))
    with pytest.raises(DataError, match=r"already has column\(s\) \['hour'\]"):
        CalendarFeatures(features=["hour"]).fit_transform(X)


def _long_covariates():
    rng = np.random.default_rng(2)
    frames = []
    for uid, n in (("a", 15), ("b", 11)):
        frames.append(pd.DataFrame({
            "unique_id": uid, "ds": pd.date_range("2024-01-01", periods=n, freq="D"),
            "temp": rng.normal(size=n), "wind": rng.gamma(2.0, size=n),
        }))
    return pd.concat(frames, ignore_index=True)


def test_lags_and_rolling_stats_match_pandas_shift_and_rolling():
    X = _long_covariates()
    lf = LagFeatures(lags=(1, 3), windows=(2, 4), stats=("mean", "std", "max"))
    out = lf.fit_transform(X)
    g = X.groupby("unique_id", sort=False)
    for c in ("temp", "wind"):
        for k in (1, 3):
            np.testing.assert_allclose(out[f"{c}_lag{k}"], g[c].shift(k))
        for w in (2, 4):
            # the statistic of the w values ending one step earlier
            past = g[c].shift(1)
            for stat in ("mean", "std", "max"):
                roll = past.groupby(X["unique_id"]).rolling(w)
                ref = getattr(roll, stat)(**({"ddof": 0} if stat == "std" else {}))
                np.testing.assert_allclose(out[f"{c}_roll{w}_{stat}"],
                                           ref.reset_index(level=0, drop=True).sort_index())


def test_lag_features_never_see_the_present_or_future():
    X = _long_covariates()
    lf = LagFeatures(lags=(1, 2), windows=(3,), stats=("mean", "min")).fit(X)
    base = lf.transform(X)
    names = lf.get_feature_names_out()
    for t in (0, 5, 9):
        changed = X.copy()
        changed.loc[t:, ["temp", "wind"]] += 100.0  # covariates from row t of series a on
        out = lf.transform(changed)
        upto = X.index[(X.unique_id == "a") & (X.index <= t)]
        pd.testing.assert_frame_equal(out.loc[upto, names], base.loc[upto, names])
        assert not out.loc[t + 1, names].equals(base.loc[t + 1, names])


def test_lag_features_of_a_forecast_horizon_reach_back_into_the_fitted_history():
    X = pd.DataFrame({"temp": np.arange(10.0)},
                     index=pd.date_range("2024-01-01", periods=10, freq="h", tz="UTC"))
    lf = LagFeatures(lags=(1, 2), windows=(3,)).fit(X.iloc[:8])
    future = lf.transform(X.iloc[8:])
    np.testing.assert_array_equal(future["temp_lag1"], [7.0, 8.0])
    np.testing.assert_array_equal(future["temp_lag2"], [6.0, 7.0])
    np.testing.assert_array_equal(future["temp_roll3_mean"], [6.0, 7.0])


def test_lag_features_need_regular_data():
    X = pd.DataFrame({"temp": [1.0, 2, 3]},
                     index=pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-04"]))
    with pytest.raises(DataError, match=r"not regular.*FillGaps"):
        LagFeatures().fit(X, freq="D")
