"""Trained forecasters: accuracy, output forms, quantiles, update, recursion, clone."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from tsssm.forecasters import SeasonalNaive
from tsssm.forecasters.neural import S4Forecaster
from tsssm.metrics import mase

from .conftest import CLASSES, HOLDOUT, HORIZON, SEASON, TINY


def _origins(frame: pd.DataFrame):
    """Three forecast origins in the held-back tail: (history, next HORIZON steps)."""
    n = len(frame) - HOLDOUT
    for k in range(HOLDOUT // HORIZON):
        end = n + k * HORIZON
        yield frame.iloc[:end], frame.iloc[end:end + HORIZON]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_beats_seasonal_naive_and_intervals_cover(cls, trained, seasonal):
    model = copy.deepcopy(trained(cls))
    scores, naive_scores, inside = [], [], []
    for k, (history, future) in enumerate(_origins(seasonal)):
        if k:  # move the model to this origin without retraining
            model.update(history.iloc[-HORIZON:])
        point = model.predict(HORIZON)
        naive = SeasonalNaive(SEASON).fit(history).predict(HORIZON)
        band = model.predict_interval(HORIZON, coverage=0.8)
        assert list(point.columns) == list(seasonal.columns)
        pd.testing.assert_index_equal(point.index, future.index)
        assert np.isfinite(point.to_numpy()).all()
        for i, col in enumerate(seasonal.columns):
            train = history[col].to_numpy()
            scores.append(mase(future[col], point[col], y_train=train, season_length=SEASON))
            naive_scores.append(mase(future[col], naive[col], y_train=train,
                                     season_length=SEASON))
            rows = band.iloc[i * HORIZON:(i + 1) * HORIZON]
            assert (rows["unique_id"] == col).all()
            y = future[col].to_numpy()
            inside.extend((rows["lower"].to_numpy() <= y) & (y <= rows["upper"].to_numpy()))
    assert np.mean(scores) < 0.95 * np.mean(naive_scores), (scores, naive_scores)
    assert 0.6 <= np.mean(inside) <= 0.95


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_quantiles_are_ordered_and_bracket_the_point(cls, trained):
    model = trained(cls)
    levels = (0.025, 0.1, 0.3, 0.5, 0.7, 0.9, 0.975)
    q = model.predict_quantiles(HORIZON, quantiles=levels)
    values = q[[f"q{lv:g}" for lv in levels]].to_numpy()
    assert np.isfinite(values).all()
    assert np.all(np.diff(values, axis=1) >= 0)
    # The raw network output, before the base class sorts, must not cross either.
    raw = model._predict_quantiles(HORIZON, levels, None)
    assert np.all(np.diff(raw, axis=-1) >= -1e-9)
    point = model.predict(HORIZON).to_numpy().T.reshape(-1)
    assert np.all((values[:, 0] <= point) & (point <= values[:, -1]))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_update_then_predict_equals_predicting_from_the_extended_series(cls, trained,
                                                                         seasonal):
    model = copy.deepcopy(trained(cls))
    n = len(seasonal) - HOLDOUT
    new = seasonal.iloc[n:n + 30]
    model.update(new)
    got = model.predict(HORIZON)
    # Reference: the same weights, the extended data encoded with the parallel forward.
    ref = copy.deepcopy(trained(cls))
    ref.data_ = model.data_
    ref.context_ = ref._context(model.data_, recurrent=False)
    pd.testing.assert_frame_equal(got, ref.predict(HORIZON), rtol=1e-4, atol=1e-4)
    assert got.index[0] == new.index[-1] + pd.Timedelta(hours=1)
    # And the encoding really came from the recurrent view (no parallel re-run).
    ctx = model._context(model.data_, recurrent=True)
    torch.testing.assert_close(model.context_["ctx"], ctx["ctx"])


def test_update_of_some_series_only_moves_those(trained, seasonal):
    model = copy.deepcopy(trained(S4Forecaster))
    n = len(seasonal) - HOLDOUT
    before = model.predict_quantiles(HORIZON)
    long_new = seasonal[["s1"]].iloc[n:n + 5].reset_index().rename(
        columns={"time": "ds", "s1": "y"}).assign(unique_id="s1")
    # The model was fitted on a wide frame: update takes the same form.
    model.update(seasonal[["s1"]].iloc[n:n + 5])
    after = model.predict_quantiles(HORIZON)
    same = before["unique_id"] != "s1"
    pd.testing.assert_frame_equal(before[same], after[same])
    assert after.loc[~same, "ds"].iloc[0] == long_new["ds"].iloc[-1] + pd.Timedelta(hours=1)


def test_recursive_forecast_beyond_the_horizon(trained):
    model = trained(S4Forecaster)
    short = model.predict(HORIZON)
    long = model.predict(2 * HORIZON + 5)
    assert len(long) == 2 * HORIZON + 5 and np.isfinite(long.to_numpy()).all()
    pd.testing.assert_frame_equal(long.iloc[:HORIZON], short, rtol=1e-5, atol=1e-5)
    assert long.index.freq == short.index.freq and long.index[0] == short.index[0]
    q = model.predict_quantiles(2 * HORIZON + 5, quantiles=(0.1, 0.9))
    assert len(q) == 3 * (2 * HORIZON + 5)
    assert np.all(q["q0.1"] <= q["q0.9"])
    head = model.predict(7)
    pd.testing.assert_frame_equal(head, short.iloc[:7], rtol=1e-5, atol=1e-5)


def test_clone_and_params(trained):
    model = trained(S4Forecaster)
    fresh = clone(model)
    assert fresh.get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        fresh.predict(3)
    assert "lookback=48" in repr(model)  # sklearn shows the non-default parameters


def test_same_random_state_same_model_and_global_rng_untouched(seasonal):
    data = seasonal.iloc[:24 * 8, :1]
    kwargs = {**TINY, "max_epochs": 1, "d_model": 8, "n_layers": 1, "val_size": 0}
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = S4Forecaster(**kwargs).fit(data).predict(HORIZON)
    assert torch.equal(torch.get_rng_state(), state)
    b = S4Forecaster(**kwargs).fit(data).predict(HORIZON)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    c = S4Forecaster(**{**kwargs, "random_state": 1}).fit(data).predict(HORIZON)
    assert not np.allclose(a.to_numpy(), c.to_numpy())


def test_series_and_long_inputs_give_their_forms_back(seasonal):
    kwargs = {**TINY, "max_epochs": 1, "d_model": 8, "n_layers": 1, "val_size": 0}
    y = seasonal["s0"].iloc[:24 * 8].rename("load")
    out = S4Forecaster(**kwargs).fit(y).predict(5)
    assert isinstance(out, pd.Series) and out.name == "load" and len(out) == 5
    assert out.index[0] == y.index[-1] + pd.Timedelta(hours=1)
    q = S4Forecaster(**kwargs).fit(y).predict_quantiles(5, quantiles=(0.2, 0.8))
    assert list(q.columns) == ["q0.2", "q0.8"] and q.index.equals(out.index)

    long = seasonal.iloc[:24 * 8].reset_index().melt(id_vars="time", var_name="unique_id",
                                                    value_name="y")
    long = long.rename(columns={"time": "ds"})
    model = S4Forecaster(**kwargs).fit(long)
    pred = model.predict(4)
    assert list(pred.columns) == ["unique_id", "ds", "yhat"]
    assert pred["unique_id"].tolist() == [c for c in seasonal.columns for _ in range(4)]
    assert np.isfinite(pred["yhat"]).all()
    # update with long-form rows of one series, as backtest() sends them
    end = long["ds"].max()
    new = pd.DataFrame({"unique_id": "s2", "ds": [end + pd.Timedelta(hours=1)], "y": [1.0]})
    model.update(new)
    assert model.predict(1).set_index("unique_id").loc["s2", "ds"] == \
        end + pd.Timedelta(hours=2)


def test_predict_before_fit_raises():
    with pytest.raises(NotFittedError):
        S4Forecaster().predict(3)
