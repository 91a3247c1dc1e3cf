"""Metrics against hand computations written out on tiny examples."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest

import tsssm.metrics as tm
from tsssm.exceptions import DataError, DataTypeError, ParameterError, ParameterTypeError

Y = [1.0, 2.0, 3.0]
YHAT = [2.0, 2.0, 5.0]
# errors y - yhat = [-1, 0, -2]; |e| = [1, 0, 2]; e^2 = [1, 0, 4]


def test_mae_mse_rmse_bias_by_hand():
    assert tm.mae(Y, YHAT) == pytest.approx((1 + 0 + 2) / 3)  # 1.0
    assert tm.mse(Y, YHAT) == pytest.approx((1 + 0 + 4) / 3)  # 5/3
    assert tm.rmse(Y, YHAT) == pytest.approx(math.sqrt(5 / 3))
    # forecast minus observation: [1, 0, 2] -> over-forecast by 1 on average
    assert tm.bias(Y, YHAT) == pytest.approx(1.0)
    assert tm.bias(YHAT, Y) == pytest.approx(-1.0)


def test_mape_by_hand_and_zero_actuals():
    # |e|/|y| = [1/1, 0/2, 2/3] -> 100 * (1 + 0 + 2/3) / 3
    assert tm.mape(Y, YHAT) == pytest.approx(100 * (1 + 2 / 3) / 3)
    # a zero observation with a non-zero forecast makes the MAPE infinite ...
    with np.errstate(all="raise"):  # ... without numpy division warnings
        assert tm.mape([0.0, 1.0], [0.5, 1.0]) == math.inf
        # an exact forecast of a zero observation counts as a zero term: |1-2|/1 / 2
        assert tm.mape([0.0, 1.0], [0.0, 2.0]) == pytest.approx(50.0)


def test_smape_m4_definition_by_hand():
    # terms |y-yhat| / (|y|+|yhat|) = [1/3, 0/4, 2/8]; sMAPE = 200/3 * (1/3 + 1/4)
    assert tm.smape(Y, YHAT) == pytest.approx(200 / 3 * (1 / 3 + 1 / 4))
    # 0/0 is defined as 0; sign differences hit the upper bound 200 per term
    with np.errstate(all="raise"):
        assert tm.smape([0.0, 0.0], [0.0, 0.0]) == 0.0
        assert tm.smape([0.0, 1.0], [0.0, -1.0]) == pytest.approx(200 / 2 * (0 + 2 / 2))


def test_mase_by_hand():
    y_train = [1.0, 3.0, 2.0, 5.0, 4.0]
    # naive (m=1) in-sample errors: |3-1|, |2-3|, |5-2|, |4-5| = 2, 1, 3, 1 -> scale 7/4
    # forecast MAE: 1.0 (see Y, YHAT above)
    assert tm.mase(Y, YHAT, y_train=y_train) == pytest.approx(1.0 / (7 / 4))
    # m=2: |2-1|, |5-3|, |4-2| = 1, 2, 2 -> scale 5/3
    assert tm.mase(Y, YHAT, y_train=y_train, season_length=2) == pytest.approx(1.0 / (5 / 3))


def test_rmsse_by_hand():
    y_train = [1.0, 3.0, 2.0, 5.0, 4.0]
    # naive squared errors 4, 1, 9, 1 -> scale 15/4; forecast MSE 5/3
    assert tm.rmsse(Y, YHAT, y_train=y_train) == pytest.approx(math.sqrt((5 / 3) / (15 / 4)))
    # m=2 squared errors 1, 4, 4 -> scale 3
    assert tm.rmsse(Y, YHAT, y_train=y_train, season_length=2) == pytest.approx(
        math.sqrt((5 / 3) / 3)
    )


@pytest.mark.parametrize("fn", [tm.mase, tm.rmsse])
def test_scaled_errors_zero_scale(fn):
    constant = [2.0, 2.0, 2.0, 2.0]
    with np.errstate(all="raise"):
        assert fn([2.0, 3.0], [2.0, 2.0], y_train=constant) == math.inf
        assert math.isnan(fn([2.0, 3.0], [2.0, 3.0], y_train=constant))
        # exactly 2-periodic training series: zero seasonal-naive scale for m=2 only
        periodic = [1.0, 5.0, 1.0, 5.0, 1.0]
        assert fn([1.0], [2.0], y_train=periodic, season_length=2) == math.inf
        assert np.isfinite(fn([1.0], [2.0], y_train=periodic, season_length=1))


@pytest.mark.parametrize("fn", [tm.mase, tm.rmsse])
def test_scaled_errors_reject_bad_training_series(fn):
    with pytest.raises(DataError, match="longer than season_length=3"):
        fn([1.0], [1.0], y_train=[1.0, 2.0, 3.0], season_length=3)
    with pytest.raises(DataError, match=r"one-dimensional.*\(2, 2\)"):
        fn([1.0], [1.0], y_train=[[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ParameterError, match="season_length"):
        fn([1.0], [1.0], y_train=[1.0, 2.0], season_length=0)
    with pytest.raises(ParameterError, match="y_train"):
        fn([1.0], [1.0], y_train=None)
    with pytest.raises(DataError, match="y_train"):
        fn([1.0], [1.0], y_train=[1.0, np.nan, 3.0])


def test_pinball_by_hand_and_median_is_half_mae():
    # level 0.9, y = [1, 3], q = [2, 2]: (0.9-1)*(1-2) = 0.1 and 0.9*(3-2) = 0.9
    assert tm.pinball_loss([1.0, 3.0], [2.0, 2.0], 0.9) == pytest.approx(0.5)
    # several levels on the last axis, order kept: level 0.9 first, 0.1 second
    # y=1: q0.9=1 -> 0; q0.1=0 -> 0.1*1; y=3: q0.9=4 -> 0.1*1; q0.1=2 -> 0.1*1
    yq = [[1.0, 0.0], [4.0, 2.0]]
    assert tm.pinball_loss([1.0, 3.0], yq, [0.9, 0.1]) == pytest.approx(0.3 / 4)
    assert tm.pinball_loss(Y, YHAT, 0.5) == pytest.approx(tm.mae(Y, YHAT) / 2)
    assert tm.pinball_loss(Y, np.array(YHAT)[:, None], [0.5]) == pytest.approx(0.5)


def test_crps_approximation():
    y = np.array([1.0, 2.0, 3.0])
    levels = np.arange(1, 10) / 10
    perfect = np.repeat(y[:, None], len(levels), axis=1)
    assert tm.crps(y, perfect, levels) == 0.0
    # one level 0.5 -> the MAE of the median
    assert tm.crps(Y, YHAT, 0.5) == pytest.approx(tm.mae(Y, YHAT))
    # a point mass at c scored against y has CRPS |y - c|; with evenly spread levels the
    # approximation is 2 * mean_k L_k = 2 * |y-c| * mean(levels) = |y - c| here (y > c)
    assert tm.crps([3.0], [[1.0] * 9], levels) == pytest.approx(2 * 2 * levels.mean())


def test_crps_close_to_normal_closed_form():
    # CRPS of N(0, 1) at y=0 is 2*phi(0) - 1/sqrt(pi) = (sqrt(2) - 1) / sqrt(pi)
    from statistics import NormalDist

    levels = (np.arange(1, 200) / 200).tolist()
    q = [NormalDist().inv_cdf(p) for p in levels]
    exact = (math.sqrt(2) - 1) / math.sqrt(math.pi)
    assert tm.crps([0.0], [q], levels) == pytest.approx(exact, rel=0.02)


def test_coverage_and_width_by_hand():
    y = [1.0, 2.0, 3.0, 4.0]
    lower = [0.0, 2.0, 3.5, 0.0]  # inside, on the lower bound, below, above
    upper = [2.0, 3.0, 4.0, 1.0]
    assert tm.coverage(y, lower, upper) == pytest.approx(2 / 4)
    assert tm.coverage([3.0], [1.0], [3.0]) == 1.0  # upper bound included
    # widths 2, 1, 0.5, 1 -> mean 4.5 / 4
    assert tm.interval_width(lower, upper) == pytest.approx(4.5 / 4)
    with pytest.raises(DataError, match=r"must not exceed 'upper'.*position 1"):
        tm.interval_width([0.0, 2.0], [1.0, 1.0])


POINT = [tm.mae, tm.mse, tm.rmse, tm.bias, tm.mape, tm.smape]


@pytest.mark.parametrize("fn", POINT)
def test_point_metrics_shape_and_nan_errors(fn):
    with pytest.raises(DataError, match=r"same shape.*\(3,\) and \(2,\)"):
        fn([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(DataError, match=r"'y_pred' holds 1 NaN.*position 1"):
        fn([1.0, 2.0, 3.0], [1.0, np.nan, 3.0])
    with pytest.raises(DataError, match=r"'y_true' holds 1 NaN.*position \(1, 0\)"):
        fn([[1.0], [np.inf]], [[1.0], [2.0]])
    with pytest.raises(DataError, match="empty"):
        fn([], [])
    with pytest.raises(DataTypeError, match="y_true"):
        fn(["a", "b"], [1.0, 2.0])


def test_probabilistic_metrics_shape_and_nan_errors():
    with pytest.raises(DataError, match=r"\(2,\) \+ \(Q,\). Got \(3, 2\)"):
        tm.pinball_loss([1.0, 2.0], np.zeros((3, 2)), [0.1, 0.9])
    with pytest.raises(DataError, match=r"2 forecast.*3 level"):
        tm.crps([1.0, 2.0], np.zeros((2, 2)), [0.1, 0.5, 0.9])
    with pytest.raises(ParameterError, match="quantiles"):
        tm.pinball_loss([1.0], [1.0], 1.0)
    with pytest.raises(ParameterTypeError, match="quantiles"):
        tm.pinball_loss([1.0], [1.0], "0.5")
    with pytest.raises(DataError, match="y_quantiles"):
        tm.crps([1.0], [[np.nan, 1.0]], [0.1, 0.9])
    with pytest.raises(DataError, match="same shape"):
        tm.coverage([1.0, 2.0], [0.0], [3.0])
    with pytest.raises(DataError, match="'lower' holds"):
        tm.coverage([1.0], [np.nan], [3.0])


def test_accepts_pandas_and_computes_over_all_elements():
    s_true = pd.Series(Y, index=pd.date_range("2020", periods=3, freq="D"))
    assert tm.mae(s_true, pd.Series(YHAT)) == pytest.approx(1.0)
    # 2-D: every element counts equally
    y2 = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert tm.mae(y2, y2 + np.array([[1.0, 0.0], [0.0, 3.0]])) == pytest.approx(1.0)
    frame = pd.DataFrame({"q0.1": [0.0, 2.0], "q0.9": [1.0, 4.0]})
    assert tm.pinball_loss([1.0, 3.0], frame, [0.1, 0.9]) == pytest.approx(0.3 / 4)


def test_registry_and_uniform_call():
    assert set(tm.METRICS) == {
        "mae", "mse", "rmse", "bias", "mape", "smape", "mase", "rmsse",
        "pinball", "crps", "coverage", "interval_width",
    }
    assert {n for n, m in tm.METRICS.items() if m.needs_train} == {"mase", "rmsse"}
    assert {n for n, m in tm.METRICS.items() if m.needs_quantiles} == {"pinball", "crps"}
    assert {n for n, m in tm.METRICS.items() if m.needs_interval} == {
        "coverage", "interval_width"
    }
    y_train = [1.0, 3.0, 2.0, 5.0, 4.0]
    everything = dict(
        y_train=y_train, season_length=2, y_quantiles=np.array(YHAT)[:, None],
        quantiles=[0.5], lower=[0.0, 0.0, 0.0], upper=[1.5, 2.5, 2.5],
    )
    got = {name: m(Y, YHAT, **everything) for name, m in tm.METRICS.items()}
    assert got["mae"] == pytest.approx(1.0)
    assert got["mase"] == pytest.approx(1.0 / (5 / 3))  # season_length forwarded
    assert got["crps"] == pytest.approx(1.0)
    assert got["coverage"] == pytest.approx(2 / 3)
    assert got["interval_width"] == pytest.approx(6.5 / 3)
    assert tm.get_metric("MASE") is tm.METRICS["mase"]
    assert tm.get_metric(tm.METRICS["crps"]) is tm.METRICS["crps"]
    with pytest.raises(ParameterError, match=r"Unknown metric 'foo'\. Valid names: bias, "):
        tm.get_metric("foo")
    with pytest.raises(ParameterTypeError):
        tm.get_metric(3)
    with pytest.raises(ParameterError, match="'mase' needs 'y_train'"):
        tm.get_metric("mase")(Y, YHAT)
    with pytest.raises(ParameterError, match="'crps' needs 'y_quantiles', 'quantiles'"):
        tm.get_metric("crps")(Y)


def test_doctests():
    result = doctest.testmod(tm, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10
    assert result.failed == 0
