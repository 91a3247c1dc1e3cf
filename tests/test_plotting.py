"""Plots return matplotlib Figures (Agg, nothing shown) that draw what they were given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from tsssm.backtesting import backtest
from tsssm.exceptions import DataError, ParameterError
from tsssm.forecasters import Naive, SeasonalNaive
from tsssm.plotting import plot_backtest, plot_forecast, plot_metrics


def _series(n=48):
    idx = pd.period_range("2020-01", periods=n, freq="M")
    return pd.Series(10 + np.sin(np.arange(n) * np.pi / 6), index=idx, name="sales")


def _y_lines(fig):
    return [line.get_ydata() for line in fig.axes[0].get_lines()]


def test_plot_forecast_series_with_intervals_and_history(tmp_path):
    y = _series()
    model = SeasonalNaive(season_length=12).fit(y)
    fc, iv = model.predict(6), model.predict_interval(6, coverage=0.8)
    fig = plot_forecast(y, fc, iv, history=12)
    assert isinstance(fig, Figure)
    observed, forecast = _y_lines(fig)
    np.testing.assert_allclose(observed, y.to_numpy()[-12:])
    np.testing.assert_allclose(forecast, fc.to_numpy())
    assert len(fig.axes[0].collections) == 1  # the band
    fig.savefig(tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 1000
    # quantile frames shade their outermost levels
    fig = plot_forecast(y, fc, model.predict_quantiles(6, (0.1, 0.5, 0.9)))
    assert len(fig.axes[0].collections) == 1


def test_plot_forecast_picks_a_series_of_a_long_frame():
    a, b = _series(), _series() * 2
    long = pd.concat([
        pd.DataFrame({"unique_id": "a", "ds": a.index, "y": a.to_numpy()}),
        pd.DataFrame({"unique_id": "b", "ds": b.index, "y": b.to_numpy()}),
    ])
    model = Naive().fit(long)
    fig = plot_forecast(long, model.predict(3), model.predict_interval(3), unique_id="b")
    observed, forecast = _y_lines(fig)
    np.testing.assert_allclose(observed, b.to_numpy())
    np.testing.assert_allclose(forecast, [b.iloc[-1]] * 3)
    assert fig.axes[0].get_title() == "b"
    with pytest.raises(DataError, match="has no series 'c'"):
        plot_forecast(long, model.predict(3), unique_id="c")
    wide = pd.DataFrame({"a": a, "b": b})
    fig = plot_forecast(wide, Naive().fit(wide).predict(2))  # first column by default
    np.testing.assert_allclose(_y_lines(fig)[1], [a.iloc[-1]] * 2)


def test_plot_backtest_and_metrics():
    y = _series(60)
    res = backtest([Naive(), SeasonalNaive(season_length=12)], y, horizon=6, n_windows=3,
                   coverage=0.8, progress=False)
    fig = res.plot()
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    # 1 actual line + 2 models x 3 windows of forecasts + 3 cutoff lines
    assert len(ax.get_lines()) == 1 + 6 + 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "actual", "Naive", "SeasonalNaive"]
    np.testing.assert_allclose(ax.get_lines()[-1].get_ydata(),
                               res.forecasts.yhat.to_numpy()[-6:])
    fig = plot_backtest(res, models=["Naive"], history=0)
    assert len(fig.axes[0].get_lines()) == 1 + 3 + 3
    with pytest.raises(ParameterError, match="Unknown model"):
        plot_backtest(res, models=["ARIMA"])

    fig = plot_metrics(res, metric="mae")
    heights = [p.get_height() for p in fig.axes[0].patches]
    np.testing.assert_allclose(heights, res.metrics["mae"].to_numpy())
    assert isinstance(res.plot_metrics(), Figure)
    assert isinstance(plot_metrics(res.metrics, metric="rmse"), Figure)
    with pytest.raises(ParameterError, match="Unknown metric 'crps'"):
        plot_metrics(res, metric="crps")
