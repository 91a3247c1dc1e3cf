"""Backtests: window bookkeeping, the no-leak guarantee, M4 averaging and failures.

The spy forecasters below forecast the last time point they have seen, so every
forecast row carries, in ``yhat``, proof of how far into the data its model looked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsssm.backtesting import BacktestResult, backtest
from tsssm.data import to_panel
from tsssm.exceptions import DataError, FitFailedError, ParameterError, ParameterTypeError
from tsssm.forecasters import BaseForecaster, Naive, SeasonalNaive


class Spy(BaseForecaster):
    """Forecasts, for every step, the last time point it saw (in fit or update).

    ``log`` (class level, so it outlives sklearn's clones; in-process runs only)
    records ``(event, unique_id, first_time_of_the_data_seen, last_time)``.
    ``fail_at``: raise in fit/update when a series' data ends at that time point.
    """

    log: list = []  # noqa: RUF012 - a deliberate shared record

    def __init__(self, fail_at=None, fail_stage="fit"):
        self.fail_at = fail_at
        self.fail_stage = fail_stage

    def _record(self, event, panel, first=None):
        for i, uid in enumerate(panel.ids):
            start = panel.starts[i] if first is None else first[i]
            Spy.log.append((event, uid, start, panel.last_time(i)))
            if self.fail_stage == event and panel.last_time(i) == self.fail_at:
                raise FitFailedError(f"spy fails at {self.fail_at}")

    def _fit(self, panel):
        self._record("fit", panel)
        self.seen_ = np.array([panel.last_time(i) for i in range(panel.n_series)], float)

    def _update(self, new, panel):
        pos = {uid: i for i, uid in enumerate(panel.ids)}
        first = [None] * panel.n_series
        for k, uid in enumerate(new.ids):
            first[pos[uid]] = new.starts[k]
        # log only the series that received data
        sub = panel.select([pos[u] for u in new.ids])
        self._record("update", sub, [first[pos[u]] for u in new.ids])
        self.seen_ = np.array([panel.last_time(i) for i in range(panel.n_series)], float)

    def _predict(self, h, X):
        if self.fail_stage == "predict" and self.fail_at in self.seen_:
            raise FitFailedError(f"spy fails to predict at {self.fail_at}")
        return np.repeat(self.seen_[:, None], h, axis=1)

    def _predict_quantiles(self, h, quantiles, X):
        mean = self._predict(h, X)
        return mean[:, :, None] + np.asarray(quantiles)[None, None, :] - 0.5


class FineTuneSpy(Spy):
    """A Spy with a warm-start ``fine_tune`` like the neural forecasters'."""

    def fine_tune(self, y, X=None, epochs=None):
        panel = to_panel(y, freq=self.data_.axis.freq)
        self._record("fine_tune", panel)
        self.data_ = panel
        self.seen_ = np.array([panel.last_time(i) for i in range(panel.n_series)], float)
        return self


class ExogSpy(BaseForecaster):
    """Forecasts the first exogenous variable's future values (checks they travel)."""

    _supports_exog = True

    def _fit(self, panel):
        self.k_ = panel.X.shape[1]

    def _update(self, new, panel):
        pass

    def _predict(self, h, X):
        return X[:, :, 0]


def _long(lengths, start=0):
    """Long frame of integer-indexed series; series 'a' has lengths[0] points, ..."""
    rows = []
    for k, n in enumerate(lengths):
        t = np.arange(start, start + n)
        rows.append(pd.DataFrame({"unique_id": "abcdef"[k], "ds": t,
                                  "y": np.sin(t / 3.0) + k + 5.0}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(autouse=True)
def _clear_log():
    Spy.log.clear()
    yield
    Spy.log.clear()


def _run(models, y, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("metrics", ("mae",))
    return backtest(models, y, **kw)


# ------------------------------------------------------------------- bookkeeping
def test_end_relative_cutoffs_per_series():
    y = _long([30, 25])
    res = _run([Spy()], y, horizon=3, n_windows=4, step=2)
    # n_train = n - 3 - (3 - w) * 2 -> cutoff position n_train - 1
    expect = {"a": [20, 22, 24, 26], "b": [15, 17, 19, 21]}
    for uid, cuts in expect.items():
        pw = res.per_window[res.per_window.unique_id == uid]
        assert pw.window.tolist() == [0, 1, 2, 3]
        assert pw.cutoff.tolist() == cuts
        fc = res.forecasts[res.forecasts.unique_id == uid]
        assert fc.ds.tolist() == [c + s for c in cuts for s in (1, 2, 3)]
        truth = y[y.unique_id == uid].set_index("ds").y
        np.testing.assert_array_equal(fc.y.to_numpy(), truth.loc[fc.ds].to_numpy())
    assert res.forecasts.ds.max() == 29  # the last window ends at the last observation
    assert list(res.forecasts.columns) == ["model", "cutoff", "unique_id", "ds", "y", "yhat"]


def test_step_defaults_to_horizon_and_n_windows_to_one():
    y = _long([20])
    assert _run([Spy()], y, horizon=4).per_window.cutoff.tolist() == [15]
    assert _run([Spy()], y, horizon=4, n_windows=3).per_window.cutoff.tolist() == [7, 11, 15]


def test_start_position_and_timestamp_give_windows_until_the_data_runs_out():
    y = _long([20, 16])
    res = _run([Spy()], y, horizon=3, start=9, step=2)
    # a: cutoffs 9, 11, ..., up to 16 (16 + 3 = 19 is the last position)
    assert res.per_window.query("unique_id == 'a'").cutoff.tolist() == [9, 11, 13, 15]
    assert res.per_window.query("unique_id == 'b'").cutoff.tolist() == [9, 11]
    capped = _run([Spy()], y, horizon=3, start=9, step=2, n_windows=3)
    assert capped.per_window.query("unique_id == 'a'").cutoff.tolist() == [9, 11, 13]

    idx = pd.date_range("2024-01-01", periods=20, freq="h")
    s = pd.Series(np.arange(20.0), index=idx, name="load")
    res = _run([Naive()], s, horizon=2, start="2024-01-01 12:30", step=3)
    # the cutoff is the last observation at or before start: 12:00, then every 3 h
    assert res.per_window.cutoff.tolist() == [idx[12], idx[15]]
    assert res.forecasts.unique_id.unique().tolist() == ["load"]


def test_too_short_series_are_named():
    y = _long([30, 10, 12])
    with pytest.raises(DataError, match=r"Series \['b', 'c'\] are too short for "
                       r"horizon=4 and n_windows=3 \(need at least 14 obs"):
        _run([Naive()], y, horizon=4, n_windows=3, step=4, metrics=())
    with pytest.raises(DataError, match=r"need at least 16 obs"):  # sliding: train_size=4
        _run([Naive()], y, horizon=4, n_windows=3, window="sliding", train_size=4,
             metrics=())
    with pytest.raises(DataError, match=r"Series \['b'\] end less than horizon=4"):
        _run([Naive()], _long([30, 10]), horizon=4, start=7)
    with pytest.raises(DataError, match="fewer than 4 observations up to start=1"):
        _run([SeasonalNaive(season_length=3)], _long([30]), horizon=2, start=1)


# ------------------------------------------------------------------- no leakage
@pytest.mark.parametrize("refit", [True, False, 2])
@pytest.mark.parametrize("window", ["expanding", "sliding"])
@pytest.mark.parametrize("spy", [Spy, FineTuneSpy])
def test_no_future_value_reaches_a_model(refit, window, spy):
    y = _long([40, 33])
    kw = {"train_size": 8} if window == "sliding" else {}
    res = _run([spy()], y, horizon=3, n_windows=5, step=2, refit=refit, window=window, **kw)
    assert len(res.forecasts) == 2 * 5 * 3 and res.errors.empty
    # yhat is the last time point the model saw: exactly the cutoff, never later
    np.testing.assert_array_equal(res.forecasts.yhat.to_numpy(),
                                  res.forecasts.cutoff.to_numpy(dtype=float))
    cut = dict(zip(zip(res.per_window.unique_id, res.per_window.window),
                   res.per_window.cutoff))
    assert max(last for _, _, _, last in Spy.log) <= max(cut.values())
    for event, uid, first, last in Spy.log:
        assert last in [c for (u, _), c in cut.items() if u == uid], (event, uid, last)
        if window == "sliding" and event in ("fit", "fine_tune"):
            assert last - first + 1 == 8  # trained on the last train_size points only


def test_no_leak_with_start_and_parallel_workers():
    y = _long([30, 22])
    for refit in (True, False):
        res = _run([Spy(), Spy()], y, horizon=2, start=10, step=3, refit=refit, n_jobs=2)
        np.testing.assert_array_equal(res.forecasts.yhat.to_numpy(),
                                      res.forecasts.cutoff.to_numpy(dtype=float))
        serial = _run([Spy(), Spy()], y, horizon=2, start=10, step=3, refit=refit)
        pd.testing.assert_frame_equal(res.forecasts, serial.forecasts)
        pd.testing.assert_frame_equal(res.per_window, serial.per_window)


def test_refit_modes_call_fit_update_and_fine_tune():
    y = _long([30])
    def events(spy, refit):
        Spy.log.clear()
        _run([spy()], y, horizon=2, n_windows=5, refit=refit)
        return [(e, last) for e, _, _, last in Spy.log]

    cuts = [19, 21, 23, 25, 27]
    assert events(Spy, True) == [("fit", c) for c in cuts]
    assert events(Spy, False) == [("fit", 19)] + [("update", c) for c in cuts[1:]]
    assert events(Spy, 2) == [("fit", 19), ("update", 21), ("fit", 23), ("update", 25),
                              ("fit", 27)]
    assert events(FineTuneSpy, 2) == [("fit", 19), ("update", 21), ("fine_tune", 23),
                                      ("update", 25), ("fine_tune", 27)]
    # refit=True fits fresh clones: fine_tune is never used there
    assert events(FineTuneSpy, True) == [("fit", c) for c in cuts]
    # update receives exactly the observations between consecutive cutoffs
    Spy.log.clear()
    _run([Spy()], y, horizon=2, n_windows=3, step=3, refit=False)
    assert [(e, f, last) for e, _, f, last in Spy.log] == [
        ("fit", 0, 21), ("update", 22, 24), ("update", 25, 27)]


def test_exogenous_future_values_reach_predict():
    y = _long([25, 21])
    y["x"] = 10.0 * y.ds + (y.unique_id == "b")
    for refit in (True, False):
        res = _run([ExogSpy()], y, horizon=3, n_windows=3, refit=refit)
        fc = res.forecasts
        np.testing.assert_allclose(fc.yhat, 10.0 * fc.ds + (fc.unique_id == "b"))


# ---------------------------------------------------------------------- metrics
def test_metrics_are_averaged_per_series_and_window_by_hand():
    a = [1.0, 3.0, 2.0, 5.0, 4.0, 6.0, 8.0, 7.0]
    b = [10.0, 10.0, 12.0, 12.0, 11.0, 13.0, 9.0, 9.0]
    y = pd.DataFrame({"a": a, "b": b}, index=pd.period_range("2020-01", periods=8, freq="M"))
    res = _run([Naive()], y, horizon=2, n_windows=2, metrics=("mae", "mase"))
    # a, w0: train 1 3 2 5 -> naive 5; actual 4 6 -> MAE 1; scale mean(2,1,3)=2 -> 0.5
    # a, w1: train ...4 6 -> naive 6; actual 8 7 -> MAE 1.5; scale 9/5 -> 0.8333
    # b, w0: naive 12; actual 11 13 -> MAE 1; scale mean(0,2,0)=2/3 -> 1.5
    # b, w1: naive 13; actual 9 9 -> MAE 4; scale mean(0,2,0,1,2)=1 -> 4
    pw = res.per_window
    np.testing.assert_allclose(pw.mae, [1.0, 1.5, 1.0, 4.0])
    np.testing.assert_allclose(pw.mase, [0.5, 1.5 / 1.8, 1.5, 4.0])
    assert res.metrics.loc["Naive", "mae"] == pytest.approx(7.5 / 4)
    assert res.metrics.loc["Naive", "mase"] == pytest.approx((0.5 + 1.5 / 1.8 + 5.5) / 4)
    # sliding windows scale MASE by their own (shorter) training data: a, w1 trains on
    # 2 5 4 6 -> scale mean(3,1,2)=2 -> 0.75
    sl = _run([Naive()], y, horizon=2, n_windows=2, window="sliding", train_size=4,
              metrics=("mase",))
    assert sl.per_window.mase.iloc[1] == pytest.approx(0.75)


def test_quantile_and_interval_columns_feed_their_metrics():
    y = _long([30])
    res = _run([Spy()], y, horizon=2, n_windows=2, quantiles=(0.9, 0.1), coverage=0.8,
               metrics=("pinball", "coverage", "interval_width"))
    fc = res.forecasts
    assert list(fc.columns[-4:]) == ["q0.1", "q0.9", "lower", "upper"]
    np.testing.assert_allclose(fc["q0.9"] - fc.yhat, 0.4)
    np.testing.assert_allclose(res.per_window.interval_width, 0.8)  # 0.9 - 0.1
    with pytest.raises(ParameterError, match="'pinball' scores quantile forecasts"):
        _run([Spy()], y, horizon=2, metrics=("pinball",))
    with pytest.raises(ParameterError, match="'coverage' scores prediction intervals"):
        _run([Spy()], y, horizon=2, metrics=("coverage",))


# ----------------------------------------------------------------------- errors
def test_errors_report_records_the_failed_window_and_goes_on():
    y = _long([30, 30])
    res = _run([Spy(fail_at=23), Naive()], y, horizon=2, n_windows=5, metrics=("mae",))
    err = res.errors
    assert len(err) == 1
    assert err.iloc[0][["model", "window", "cutoff", "stage", "error"]].tolist() == [
        "Spy", 2, 23, "fit", "FitFailedError"]
    assert err.iloc[0].unique_id is None and "spy fails at 23" in err.iloc[0].message
    assert res.counts.loc["Spy"].tolist() == [8, 2]
    assert res.counts.loc["Naive"].tolist() == [10, 0]
    ok = res.per_window[res.per_window.model == "Spy"]
    assert sorted(ok.window.unique()) == [0, 1, 3, 4]
    assert res.metrics.loc["Spy", "mae"] == pytest.approx(ok.mae.mean())
    with pytest.raises(FitFailedError, match="spy fails at 23"):
        _run([Spy(fail_at=23)], y, horizon=2, n_windows=5, errors="raise")


def test_a_failed_update_is_reported_and_the_chain_refits():
    y = _long([30])
    res = _run([Spy(fail_at=23, fail_stage="update")], y, horizon=2, n_windows=5,
               refit=False)
    assert res.errors[["window", "stage"]].values.tolist() == [[2, "update"]]
    assert [(e, last) for e, _, _, last in Spy.log] == [
        ("fit", 19), ("update", 21), ("update", 23), ("fit", 25), ("update", 27)]
    np.testing.assert_array_equal(res.forecasts.yhat, res.forecasts.cutoff.astype(float))
    failed_predict = _run([Spy(fail_at=25, fail_stage="predict")], y, horizon=2,
                          n_windows=3, refit=False)
    assert failed_predict.errors.stage.tolist() == ["predict"]
    assert failed_predict.per_window.window.tolist() == [0, 2]  # cutoffs 23, _, 27


# ------------------------------------------------------------------------ models
def test_model_names_inputs_untouched_and_validation():
    y = _long([20])
    y_before = y.copy()
    sn = SeasonalNaive(season_length=2)
    res = _run([Naive(), sn, Naive(), Naive()], y, horizon=2)
    assert res.metrics.index.tolist() == ["Naive", "SeasonalNaive", "Naive_2", "Naive_3"]
    assert res.models == res.metrics.index.tolist()
    pd.testing.assert_frame_equal(y, y_before)
    assert sn.get_params() == {"season_length": 2, "n_jobs": None}
    assert not hasattr(sn, "data_")  # the caller's estimator was never fitted
    res = _run({"mine": Naive(), "other": sn}, y, horizon=2)
    assert res.metrics.index.tolist() == ["mine", "other"]
    assert _run(Naive(), y, horizon=2).models == ["Naive"]
    assert "BacktestResult(models=['mine', 'other'], series=1, windows=1" in repr(res)
    assert isinstance(res, BacktestResult)

    with pytest.raises(ParameterTypeError, match="not a tsssm estimator"):
        _run([Naive(), "arima"], y, horizon=2)
    with pytest.raises(ParameterError, match="is empty"):
        _run([], y, horizon=2)
    with pytest.raises(ParameterTypeError, match="must be str names"):
        _run({1: Naive()}, y, horizon=2)
    # a bad hyperparameter raises at once, even with errors="report"
    with pytest.raises(ParameterError, match="'season_length' parameter of SeasonalNaive"):
        _run([SeasonalNaive(season_length=0)], y, horizon=2)


@pytest.mark.parametrize(("kw", "match"), [
    ({"window": "rolling"}, "'window' parameter of backtest must be one of"),
    ({"window": "sliding"}, "needs train_size="),
    ({"train_size": 5}, "only used with window='sliding'"),
    ({"refit": 0}, "'refit' parameter of backtest must be an int >= 1"),
    ({"horizon": 0}, "'horizon' parameter must be an int >= 1"),
    ({"errors": "ignore"}, "'errors' parameter of backtest must be one of"),
    ({"n_jobs": 0}, "'n_jobs' parameter of backtest must not be 0"),
    ({"metrics": ("mae", "nope")}, "Unknown metric 'nope'"),
    ({"start": "2020-01-01"}, "'start' parameter of backtest must be an int position"),
])
def test_bad_parameters_raise_clear_errors(kw, match):
    args = {"horizon": 2, **kw}
    with pytest.raises((ParameterError, ParameterTypeError), match=match):
        _run([Naive()], _long([20]), **args)


def test_progress_bar_goes_to_stderr_only_when_asked(capsys):
    y = _long([20])
    _run([Naive()], y, horizon=2, n_windows=2, progress=False)
    assert capsys.readouterr().err == ""
    _run([Naive()], y, horizon=2, n_windows=2, progress=True)
    out = capsys.readouterr()
    assert "backtest" in out.err and out.out == ""


def test_docstring_examples_run():
    import doctest

    import tsssm.backtesting
    import tsssm.plotting

    for module in (tsssm.backtesting, tsssm.plotting):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted >= 3 and result.failed == 0, module.__name__
