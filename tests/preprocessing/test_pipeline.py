"""TransformedForecaster: hand-computed forecasts, update, features, and a leak-free backtest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from tsssm.backtesting import backtest
from tsssm.forecasters.arima import ARIMA
from tsssm.forecasters.naive import Naive, SeasonalNaive
from tsssm.preprocessing import (
    CalendarFeatures,
    Differencer,
    FillGaps,
    Imputer,
    LagFeatures,
    LogTransform,
    Scaler,
    TransformedForecaster,
)

from ._data import INDEXES, LAYOUTS, assert_same, make, positive_panel, snapshot


@pytest.mark.parametrize("layout", LAYOUTS)
def test_differenced_naive_forecast_by_hand(layout):
    # y = ..., 4, 7: last difference 3, so a naive forecast of the differences
    # integrates to 10, 13, 16 (the scaler cancels out: it is affine)
    values = np.array([[0.0, 1.0, 2.0, 4.0, 7.0], [0.0, 10.0, 20.0, 40.0, 70.0]]).T
    idx = INDEXES["bday"](5)  # Monday to Friday: only the declared freq says "B"
    y = make(values, idx, layout)
    before = snapshot(y)
    # a long frame has no declared frequency: Monday to Friday would read as daily
    freq = {"freq": "B"} if layout == "long" else {}
    model = TransformedForecaster([Scaler("robust"), Differencer(1)], Naive()).fit(y, **freq)
    fc = model.predict(3)
    assert_same(y, before, rtol=0, atol=0)
    future = pd.bdate_range(idx[-1], periods=4)[1:]
    expected = make(np.array([[10.0, 100.0], [13.0, 130.0], [16.0, 160.0]]), future, layout)
    if layout == "long":
        expected = expected.rename(columns={"y": "yhat"})
    assert_same(fc, expected)


def _manual(y, steps, forecaster, h, method, **kw):
    """The pipeline by hand: transform, drop the missing start, fit, predict, invert."""
    z = y
    for t in steps:
        z = t.fit_transform(z)
    z = z.iloc[int(np.argmax(z.notna().to_numpy())):]
    out = getattr(forecaster.fit(z), method)(h, **kw)
    for t in reversed(steps):
        out = t.inverse_transform(out)
    return out


@pytest.mark.parametrize("method,kw", [("predict", {}), ("predict_quantiles",
                                                        {"quantiles": (0.1, 0.5, 0.9)}),
                                       ("predict_interval", {"coverage": 0.8})])
def test_pipeline_outputs_equal_the_composition_by_hand(method, kw):
    y = make(positive_panel(60), INDEXES["hourly_tz"](60), "series")
    model = TransformedForecaster([LogTransform(), Scaler(), Differencer(7)],
                                  SeasonalNaive(7)).fit(y)
    got = getattr(model, method)(9, **kw)
    expected = _manual(y, [LogTransform(), Scaler(), Differencer(7)], SeasonalNaive(7), 9,
                       method, **kw)
    assert_same(got, expected)
    if method != "predict":  # quantiles stay ordered through every inverse
        assert (np.diff(got.to_numpy(), axis=1) >= 0).all()


def test_log_pipeline_maps_quantiles_to_quantiles_exactly():
    y = make(positive_panel(30), INDEXES["month_end"](30), "long")
    model = TransformedForecaster([LogTransform()], Naive()).fit(y)
    inner = Naive().fit(y.assign(y=np.log(y["y"])))
    q = model.predict_quantiles(4, quantiles=(0.05, 0.5, 0.95))
    q_log = inner.predict_quantiles(4, quantiles=(0.05, 0.5, 0.95))
    for col in ("q0.05", "q0.5", "q0.95"):
        np.testing.assert_allclose(q[col], np.exp(q_log[col]), rtol=1e-12)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_update_with_fixed_statistics_equals_a_refit_for_affine_invariant_models(layout):
    # Naive on differences is invariant to the (fixed) affine scale, so updating must
    # give the forecast of a fresh fit on all the data.
    idx = INDEXES["hourly_tz"](48)
    y = make(positive_panel(48), idx, layout)
    part = y[y["ds"] < idx[40]] if layout == "long" else y.iloc[:40]
    new = y[y["ds"] >= idx[40]] if layout == "long" else y.iloc[40:]
    steps = [Scaler("minmax"), Differencer((1,))]
    model = TransformedForecaster(steps, Naive()).fit(part)
    scale_before = model.transformers_[0][1].scale_
    model.update(new)
    assert model.transformers_[0][1].scale_ == scale_before
    refit = TransformedForecaster(steps, Naive()).fit(y)
    assert_same(model.predict(5), refit.predict(5))


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.ConvergenceWarning")
def test_calendar_and_lag_features_reach_the_forecaster_at_fit_and_predict():
    idx = pd.date_range("2024-01-01", periods=72, freq="h")
    rng = np.random.default_rng(4)
    temp = pd.DataFrame({"temp": rng.normal(size=80)},
                        index=pd.date_range(idx[0], periods=80, freq="h"))
    y = pd.Series(10 + np.sin(np.arange(72) * 2 * np.pi / 24) + 0.5 * temp["temp"].shift(1)
                  .fillna(0).to_numpy()[:72] + rng.normal(0, 0.1, 72), index=idx, name="y")
    steps = [CalendarFeatures(features=[], fourier={24: 1}), LagFeatures(["temp"], lags=1)]
    model = TransformedForecaster(steps, ARIMA(order=(1, 0, 0), trend="c"))
    model.fit(y, X=temp.iloc[:72])
    fc = model.predict(8, X=temp.iloc[72:])
    # by hand: the same features, computed on the whole covariate frame, first row dropped
    feats = steps[1].fit_transform(steps[0].fit_transform(temp))
    inner = ARIMA(order=(1, 0, 0), trend="c").fit(y.iloc[1:], X=feats.iloc[1:72])
    np.testing.assert_allclose(fc, inner.predict(8, X=feats.iloc[72:]), rtol=1e-6)
    # the forecaster saw the lagged covariate and the Fourier pair
    assert model.forecaster_.data_.exog_names == ("temp", "sin24_1", "cos24_1", "temp_lag1")


def test_gappy_long_data_through_fillgaps_and_imputer():
    y = make(positive_panel(30), INDEXES["bday"](30), "long")
    gappy = y.drop(index=[3, 4, 40]).reset_index(drop=True)
    model = TransformedForecaster([FillGaps(), Imputer("linear"), Differencer(5)],
                                  SeasonalNaive(5)).fit(gappy)
    fc = model.predict(5)
    assert fc["ds"].tolist()[:5] == list(pd.bdate_range(y["ds"].iloc[29], periods=6)[1:])
    assert np.isfinite(fc["yhat"]).all()
    report = model.transformers_[0][1].report_.set_index("unique_id")["n_inserted"]
    assert report.to_dict() == {"a": 2, "b": 1}


# ------------------------------------------------------------------ backtest leak
FITTED: list[pd.DataFrame] = []


class SpyScaler(Scaler):
    """A scaler that records the data each of its clones is fitted on."""

    def fit(self, y, **kwargs):
        FITTED.append(y.copy())
        return super().fit(y, **kwargs)


def test_backtest_refits_the_scaler_on_each_windows_training_part_only():
    FITTED.clear()
    y = make(positive_panel(50), INDEXES["hourly_tz"](50), "long")
    pipe = TransformedForecaster([SpyScaler("minmax"), Differencer(1)], Naive())
    res = backtest([pipe], y, horizon=4, n_windows=3, step=4, refit=True, n_jobs=1,
                   progress=False)
    cutoffs = sorted(res.forecasts["cutoff"].unique())
    assert len(cutoffs) == 3 and len(FITTED) == 3
    seen = sorted(FITTED, key=lambda f: f["ds"].max())
    for cutoff, fitted in zip(cutoffs, seen):
        assert fitted["ds"].max() == cutoff  # nothing after the cutoff
        train = y[y["ds"] <= cutoff]
        for uid, part in fitted.groupby("unique_id"):
            np.testing.assert_array_equal(part["y"], train.loc[train.unique_id == uid, "y"])
        # and the window's forecasts are those of the pipeline fitted on that part alone
        expected = clone(pipe).fit(train).predict(4)
        got = res.forecasts[res.forecasts["cutoff"] == cutoff]
        np.testing.assert_allclose(got["yhat"], expected["yhat"], rtol=1e-12)
