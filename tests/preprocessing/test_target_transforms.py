"""Scalers, log, Box-Cox and differencing against hand computations and float64 loops."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tsssm.exceptions import DataError
from tsssm.preprocessing import BoxCox, Differencer, LogTransform, Scaler
from tsssm.preprocessing.transforms import guerrero_lambda, inv_boxcox

from ._data import INDEXES, make

# ------------------------------------------------------------------- scalers
Y5 = [1.0, 2.0, 4.0, 7.0, 11.0]
# mean 5, population variance (16 + 9 + 1 + 4 + 36) / 5 = 66/5; median 4;
# quartiles at sorted positions 1 and 3 (linear rule): 2 and 7 -> IQR 5;
# min 1, range 10; mean |y| = 25 / 5 = 5
BY_HAND = {
    "standard": (5.0, math.sqrt(66 / 5)),
    "robust": (4.0, 5.0),
    "minmax": (1.0, 10.0),
    "meanabs": (0.0, 5.0),
}


@pytest.mark.parametrize("method", list(BY_HAND))
def test_scaler_statistics_and_values_by_hand(method):
    loc, scale = BY_HAND[method]
    y = pd.Series(Y5, index=pd.RangeIndex(5), name="s")
    sc = Scaler(method).fit(y)
    assert sc.loc_["s"] == pytest.approx(loc)
    assert sc.scale_["s"] == pytest.approx(scale)
    np.testing.assert_allclose(sc.transform(y).to_numpy(), (np.array(Y5) - loc) / scale)


def test_scaler_is_per_series_and_inverts_quantile_and_interval_frames():
    idx = INDEXES["bday"](5)
    y = make(np.column_stack([Y5, np.array(Y5) * 3 + 1]), idx, "long")
    sc = Scaler("standard").fit(y)
    # series b = 3 a + 1: loc 16, scale 3 sqrt(66/5)
    assert sc.loc_["b"] == pytest.approx(16.0)
    assert sc.scale_["b"] == pytest.approx(3 * math.sqrt(66 / 5))
    fut = pd.bdate_range(idx[-1], periods=3)[1:]
    q = pd.DataFrame({"unique_id": ["a", "a", "b", "b"], "ds": fut.append(fut),
                      "q0.1": [-1.0, 0.0, -1.0, 0.0], "q0.9": [1.0, 2.0, 1.0, 2.0]})
    back = sc.inverse_transform(q)
    s_a, s_b = math.sqrt(66 / 5), 3 * math.sqrt(66 / 5)
    np.testing.assert_allclose(back["q0.1"], [5 - s_a, 5, 16 - s_b, 16])
    np.testing.assert_allclose(back["q0.9"], [5 + s_a, 5 + 2 * s_a, 16 + s_b, 16 + 2 * s_b])
    iv = q.rename(columns={"q0.1": "lower", "q0.9": "upper"})
    np.testing.assert_allclose(sc.inverse_transform(iv)["upper"], back["q0.9"])
    # a Series fit maps the time-indexed frame predict_quantiles returns for it
    s = Scaler("minmax").fit(pd.Series(Y5, index=idx))
    frame = pd.DataFrame({"q0.5": [0.5], "yhat": [1.0]}, index=fut[:1])
    np.testing.assert_allclose(s.inverse_transform(frame).to_numpy(), [[6.0, 11.0]])


def test_scaler_constant_series_gets_unit_scale():
    y = pd.Series([0.1] * 6, index=pd.RangeIndex(6))  # np.std is ~1e-17, not 0
    sc = Scaler().fit(y)
    assert sc.scale_[y.name if y.name is not None else "y"] == 1.0
    np.testing.assert_allclose(sc.transform(y), 0.0, atol=1e-15)


def test_scaler_statistics_come_from_fit_data_only():
    idx = pd.RangeIndex(8)
    y = pd.Series([1.0, 2, 3, 4, 100, 200, 300, 400], index=idx)
    sc = Scaler("minmax").fit(y.iloc[:4])
    np.testing.assert_allclose(sc.transform(y.iloc[4:]), (y.iloc[4:] - 1) / 3)
    sc.update(y.iloc[4:])  # statistics stay fixed
    assert sc.scale_["y"] == 3.0


# ----------------------------------------------------------------- log / Box-Cox
def test_log_and_log1p_values():
    y = pd.Series([0.5, 1.0, 8.0], index=pd.RangeIndex(3))
    np.testing.assert_allclose(LogTransform().fit_transform(y), np.log([0.5, 1, 8]))
    np.testing.assert_allclose(LogTransform("log1p").fit_transform(y), np.log1p([0.5, 1, 8]))


def test_boxcox_fixed_lambda_matches_scipy():
    y = pd.Series([0.5, 1.0, 3.0, 8.0], index=pd.RangeIndex(4))
    for lmbda in (-0.7, 0.0, 0.3, 1.5):
        got = BoxCox(lmbda=lmbda).fit_transform(y).to_numpy()
        np.testing.assert_allclose(got, stats.boxcox(y.to_numpy(), lmbda=lmbda), rtol=1e-12)


def test_boxcox_mle_lambda_matches_scipy_inside_bounds():
    rng = np.random.default_rng(3)
    y = pd.DataFrame({"a": rng.lognormal(1.0, 0.4, 200), "b": rng.gamma(4.0, 2.0, 200)},
                     index=pd.date_range("2024-01-01", periods=200, freq="D"))
    bc = BoxCox().fit(y)
    for col in y:
        expected = stats.boxcox_normmax(y[col].to_numpy(), method="mle")
        assert -1 < expected < 2  # so the bounded search must find the same optimum
        assert bc.lambdas_[col] == pytest.approx(expected, abs=1e-4)


def test_guerrero_finds_log_for_multiplicative_and_identity_for_additive_spread():
    pattern = np.array([-1.0, 0.5, 1.5, -1.0])
    levels = np.array([10.0, 20.0, 40.0, 80.0, 160.0])
    multiplicative = (levels[:, None] * (1 + 0.1 * pattern)).ravel()  # sd / mean constant
    additive = (levels[:, None] + pattern).ravel()  # sd constant
    assert guerrero_lambda(multiplicative, 4, (-1.0, 2.0)) == pytest.approx(0.0, abs=1e-3)
    assert guerrero_lambda(additive, 4, (-1.0, 2.0)) == pytest.approx(1.0, abs=1e-3)
    y = pd.Series(multiplicative, index=pd.RangeIndex(20), name="m")
    assert BoxCox(method="guerrero", season_length=4).fit(y).lambdas_["m"] == \
        pytest.approx(0.0, abs=1e-3)


def test_inv_boxcox_beyond_the_range_keeps_quantile_order():
    z = np.array([-5.0, -2.0, 0.0, 1.0])
    out = inv_boxcox(z, 0.5)  # 0.5 z + 1 <= 0 for z <= -2: the inverse's lower limit 0
    np.testing.assert_allclose(out, [0.0, 0.0, 1.0, 2.25])
    out = inv_boxcox(np.array([0.0, 1.0, 2.0, 5.0]), -0.5)  # z >= 2: upper limit inf
    assert out[0] == 1.0 and out[1] == pytest.approx(4.0) and np.isinf(out[2:]).all()


# ------------------------------------------------------------------ differencing
def _diff_loop(y, lags):
    """Sequential float64 reference of repeated differencing (NaN where undefined)."""
    x = [float(v) for v in y]
    for m in lags:
        x = [math.nan if t < m else x[t] - x[t - m] for t in range(len(x))]
    return np.array(x)


def _undiff_loop(history, z_future, lags):
    """Invert forecasts of the differenced series with a plain loop over time."""
    stages = [list(map(float, history))]
    for m in lags:
        prev = stages[-1]
        stages.append([math.nan if t < m else prev[t] - prev[t - m] for t in range(len(prev))])
    level = list(z_future)
    for k in range(len(lags) - 1, -1, -1):  # undo the last difference first
        below = stages[k]
        out = list(below)
        for v in level:
            out.append(v + out[len(out) - lags[k]])
        level = out[len(below):]
    return np.array(level)


@pytest.mark.parametrize("lags", [(1,), (3,), (7, 1), (1, 1), (4, 2, 1)])
def test_differencer_matches_loops_on_data_and_quantile_forecasts(lags):
    rng = np.random.default_rng(5)
    idx = INDEXES["hourly_tz"](50)
    values = np.column_stack([rng.normal(size=50).cumsum(), rng.normal(size=50).cumsum()])
    y = make(values, idx, "long")
    d = Differencer(lags).fit(y)
    z = d.transform(y)
    for k, uid in enumerate(["a", "b"]):
        np.testing.assert_allclose(z.loc[z.unique_id == uid, "y"], _diff_loop(values[:, k], lags),
                                   rtol=1e-12, atol=1e-12)
    fut = pd.date_range(idx[-1], periods=10, freq="h")[1:]
    zq = rng.normal(size=(2, 9, 3))
    frame = pd.DataFrame({"unique_id": np.repeat(["a", "b"], 9), "ds": fut.append(fut),
                          "q0.1": zq[:, :, 0].ravel(), "q0.5": zq[:, :, 1].ravel(),
                          "yhat": zq[:, :, 2].ravel()})
    back = d.inverse_transform(frame)
    for k in range(2):
        rows = slice(9 * k, 9 * (k + 1))
        for j, col in enumerate(["q0.1", "q0.5", "yhat"]):
            np.testing.assert_allclose(back[col].to_numpy()[rows],
                                       _undiff_loop(values[:, k], zq[k, :, j], lags),
                                       rtol=1e-10, atol=1e-9)


def test_differencer_transform_of_new_data_and_inverse_after_update():
    full = pd.Series(np.cumsum(np.arange(1.0, 31.0)) ** 0.5, index=INDEXES["bday"](30))
    d = Differencer((5, 1)).fit(full.iloc[:20])
    # new data continuing the series is differenced with the values before it: no NaN
    z_new = d.transform(full.iloc[20:])
    np.testing.assert_allclose(z_new, _diff_loop(full.to_numpy(), (5, 1))[20:], rtol=1e-12)
    d.update(full.iloc[20:25])
    np.testing.assert_allclose(d.inverse_transform(z_new.iloc[5:]), full.iloc[25:],
                               rtol=1e-12)


def test_differencer_refuses_a_forecast_that_does_not_follow_the_data():
    y = pd.Series(np.arange(20.0), index=pd.date_range("2024-01-01", periods=20, freq="D"))
    d = Differencer(1).fit(y)
    later = pd.Series([1.0], index=pd.date_range("2024-02-15", periods=1, freq="D"))
    with pytest.raises(DataError, match="ends at 2024-01-20"):
        d.inverse_transform(later)


def test_differencer_needs_more_observations_than_its_lags():
    y = make(np.ones((6, 2)), INDEXES["int"](6), "wide")
    with pytest.raises(DataError, match=r"Series 'a' has 6 observation\(s\).*more than 7"):
        Differencer((6, 1)).fit(y)
