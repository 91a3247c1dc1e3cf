"""The naive family against hand computations and empirical interval coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsssm.forecasters.naive import Drift, HistoricAverage, Naive, SeasonalNaive


def daily(values, name="y") -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float),
                     index=pd.date_range("2024-01-01", periods=len(values), freq="D"),
                     name=name)


def test_seasonal_naive_is_exact_on_a_pure_seasonal_series():
    season = np.array([3.25, -1.5, 7.0, 0.125, 2.0])
    y = daily(np.tile(season, 9))
    pred = SeasonalNaive(season_length=5).fit(y).predict(13)
    np.testing.assert_array_equal(pred.to_numpy(), np.tile(season, 3)[:13])


def test_seasonal_naive_repeats_the_last_season_not_an_average():
    y = daily([1, 2, 3, 10, 20, 30, 100, 200])  # last full season of 3: 30, 100, 200
    pred = SeasonalNaive(season_length=3).fit(y).predict(4)
    np.testing.assert_array_equal(pred.to_numpy(), [30.0, 100.0, 200.0, 30.0])


def test_naive_drift_and_historic_average_by_hand():
    vals = [4.0, 1.0, 6.0, 9.0, 5.0]
    y = daily(vals)
    np.testing.assert_array_equal(Naive().fit(y).predict(3).to_numpy(), [5.0] * 3)
    # drift: 5 + k * (5 - 4) / 4
    np.testing.assert_allclose(Drift().fit(y).predict(3).to_numpy(), [5.25, 5.5, 5.75])
    np.testing.assert_allclose(HistoricAverage().fit(y).predict(2).to_numpy(), [5.0, 5.0])


def test_naive_uses_each_series_of_a_wide_frame():
    wide = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [9.0, 7.0, 5.0]},
                        index=pd.date_range("2024-01-01", periods=3, freq="h"))
    pred = Drift().fit(wide).predict(2)
    np.testing.assert_allclose(pred.to_numpy(), [[4.0, 3.0], [5.0, 1.0]])


def test_naive_interval_quantiles_are_those_of_the_lag_errors():
    # k-step errors of Naive are y_t - y_{t-k}; its quantile forecast adds their quantiles
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.normal(size=300))
    q = Naive().fit(daily(y)).predict_quantiles(3, quantiles=(0.1, 0.9)).to_numpy()
    for k in (1, 2, 3):
        e = y[k:] - y[:-k]
        np.testing.assert_allclose(q[k - 1], y[-1] + np.quantile(e, [0.1, 0.9]))


@pytest.mark.parametrize("cls, make", [
    (Naive, lambda rng, n: np.cumsum(rng.normal(size=n))),
    (Drift, lambda rng, n: np.cumsum(0.3 + rng.normal(size=n))),
    (HistoricAverage, lambda rng, n: 5 + rng.normal(size=n)),
    (lambda: SeasonalNaive(season_length=4),
     lambda rng, n: np.tile([0.0, 3.0, -2.0, 1.0], n // 4) + rng.normal(size=n)),
])
def test_empirical_interval_coverage_is_near_nominal(cls, make):
    # 300 independent series, one origin each: the 80% interval should cover ~80% of
    # the next 4 values (binomial sd about 2.3% at h=1)
    rng = np.random.default_rng(42)
    n, h, S = 200, 4, 300
    paths = np.stack([make(rng, n + h) for _ in range(S)], axis=1)  # (n + h, S)
    idx = pd.date_range("2024-01-01", periods=n + h, freq="D")
    wide = pd.DataFrame(paths[:n], index=idx[:n], columns=[f"s{i}" for i in range(S)])
    ci = cls().fit(wide).predict_interval(h, coverage=0.8)
    lower = ci["lower"].to_numpy().reshape(S, h).T
    upper = ci["upper"].to_numpy().reshape(S, h).T
    truth = paths[n:]
    covered = ((truth >= lower) & (truth <= upper)).mean(axis=1)  # per step
    assert np.all((covered > 0.72) & (covered < 0.88)), covered


def test_quantiles_are_monotone_in_the_level():
    rng = np.random.default_rng(3)
    y = daily(np.cumsum(rng.normal(size=60)))
    levels = (0.05, 0.2, 0.5, 0.8, 0.95)
    for est in (Naive(), Drift(), HistoricAverage(), SeasonalNaive(season_length=7)):
        q = est.fit(y).predict_quantiles(10, quantiles=levels).to_numpy()
        assert np.all(np.diff(q, axis=1) >= 0), type(est).__name__
        assert np.all(q[:, -1] > q[:, 0]), type(est).__name__


def test_short_series_intervals_widen_like_a_random_walk():
    # 12 points give fewer than 10 errors at steps >= 3: those quantiles are scaled by
    # sqrt(k / k') from the last step with enough errors (see naive.py)
    y = daily(np.cumsum(np.random.default_rng(5).normal(size=12)))
    q = Naive().fit(y).predict_quantiles(5, quantiles=(0.1, 0.9)).to_numpy()
    width = q[:, 1] - q[:, 0]
    np.testing.assert_allclose(width[2:] / width[1], np.sqrt(np.arange(3, 6) / 2))
