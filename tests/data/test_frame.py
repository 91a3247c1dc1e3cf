"""The data layer: every input form in and out, and every bad input named at fit."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from tsssm.data import to_long, to_pandas, to_panel
from tsssm.exceptions import DataError, DataTypeError
from tsssm.forecasters import Naive, SeasonalNaive


def hourly(n=48, tz=None, name="load"):
    idx = pd.date_range("2024-03-30", periods=n, freq="h", tz=tz)
    return pd.Series(np.arange(n, dtype=float), index=idx, name=name)


def as_long(wide: pd.DataFrame) -> pd.DataFrame:
    out = wide.rename_axis("ds").reset_index().melt("ds", var_name="unique_id", value_name="y")
    return out[["unique_id", "ds", "y"]]


def unchanged(before, after):
    if isinstance(before, pd.Series):
        pd.testing.assert_series_equal(before, after)
    else:
        pd.testing.assert_frame_equal(before, after)


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize(
    "index",
    [
        pd.date_range("2024-03-30", periods=30, freq="h"),
        pd.date_range("2024-03-30", periods=30, freq="h", tz="Europe/Berlin"),  # DST change
        pd.date_range("2024-01-01", periods=30, freq="D"),
        pd.bdate_range("2024-01-01", periods=30),
        pd.date_range("2020-01-31", periods=30, freq="ME"),
        pd.period_range("2020-01", periods=30, freq="M"),
        pd.RangeIndex(0, 30),
        pd.Index(np.arange(10, 160, 5)),
    ],
    ids=["hourly", "hourly-tz", "daily", "bday", "month-end", "period", "range", "int-step"],
)
def test_series_forecast_continues_the_index(index):
    y = pd.Series(np.arange(len(index), dtype=float), index=index, name="v")
    pred = Naive().fit(y).predict(3)
    assert isinstance(pred, pd.Series) and pred.name == "v"
    # The forecast index is exactly the three points after the last observation.
    full = pd.Series(np.arange(len(index) + 3, dtype=float),
                     index=_extend(index, 3))
    assert list(pred.index) == list(full.index[-3:])
    np.testing.assert_array_equal(pred.to_numpy(), [len(index) - 1.0] * 3)


def _extend(index, k):
    if isinstance(index, pd.DatetimeIndex):
        return pd.date_range(index[0], periods=len(index) + k, freq=index.freq or
                             pd.infer_freq(index), tz=index.tz)
    if isinstance(index, pd.PeriodIndex):
        return pd.period_range(index[0], periods=len(index) + k, freq=index.freq)
    step = int(index[1] - index[0])
    return pd.RangeIndex(index[0], index[0] + (len(index) + k) * step, step)


def test_wide_in_wide_out_and_long_in_long_out():
    y = hourly()
    wide = pd.DataFrame({"a": y.to_numpy(), "b": 2 * y.to_numpy()}, index=y.index)
    pred = Naive().fit(wide).predict(2)
    assert list(pred.columns) == ["a", "b"]
    assert pred.index[0] == y.index[-1] + pd.Timedelta("1h")
    long = as_long(wide)
    out = Naive().fit(long).predict(2)
    assert list(out.columns) == ["unique_id", "ds", "yhat"]
    assert out["unique_id"].tolist() == ["a", "a", "b", "b"]
    np.testing.assert_allclose(out["yhat"], [47, 47, 94, 94])


def test_long_ids_keep_order_of_first_appearance_and_dtype():
    y = hourly(10)
    long = pd.concat([
        pd.DataFrame({"unique_id": 7, "ds": y.index, "y": y.to_numpy()}),
        pd.DataFrame({"unique_id": 3, "ds": y.index, "y": y.to_numpy()}),
    ])
    out = Naive().fit(long).predict(1)
    assert out["unique_id"].tolist() == [7, 3]
    assert out["unique_id"].dtype == long["unique_id"].dtype


def test_custom_long_column_names():
    y = hourly(10)
    long = pd.DataFrame({"sensor": "s1", "time": y.index, "temp": y.to_numpy()})
    out = Naive().fit(long, id_col="sensor", time_col="time", target_col="temp").predict(1)
    assert list(out.columns) == ["sensor", "time", "yhat"]


def test_unsorted_input_is_sorted_on_a_copy():
    y = hourly(30)
    shuffled = y.sample(frac=1.0, random_state=0)
    before = shuffled.copy(deep=True)
    pred = Naive().fit(shuffled).predict(1)
    unchanged(before, shuffled)
    assert pred.iloc[0] == 29.0


def test_wide_columns_may_start_later():
    y = hourly(10)
    wide = pd.DataFrame({"a": y.to_numpy(), "b": y.to_numpy()}, index=y.index)
    wide.iloc[:3, 1] = np.nan
    panel = to_panel(wide)
    assert panel.lengths.tolist() == [10, 7]
    assert panel.starts[1] == y.index[3]
    back = to_pandas(panel)
    pd.testing.assert_frame_equal(back, wide, check_freq=False)


def test_to_long_roundtrip():
    y = hourly(5)
    wide = pd.DataFrame({"a": y.to_numpy(), "b": -y.to_numpy()}, index=y.index)
    long = to_long(to_panel(wide))
    assert long.shape == (10, 3)
    np.testing.assert_array_equal(long["y"].to_numpy()[5:], -y.to_numpy())


# ------------------------------------------------------------------ bad inputs
BAD = []


def _bad(name):
    def deco(fn):
        BAD.append(pytest.param(fn, id=name))
        return fn
    return deco


@_bad("empty")
def _empty():
    return pd.Series([], dtype=float, index=pd.DatetimeIndex([])), DataError, "empty"


@_bad("not-pandas")
def _list():
    return [1.0, 2.0, 3.0], DataTypeError, "pandas Series"


@_bad("non-numeric-series")
def _strings():
    y = hourly(5).astype(str)
    return y, DataTypeError, "numeric"


@_bad("non-numeric-wide-column")
def _wide_strings():
    y = hourly(5)
    return pd.DataFrame({"a": y, "b": list("vwxyz")}, index=y.index), DataTypeError, "'b'"


@_bad("nan")
def _nan():
    y = hourly(10)
    y.iloc[4] = np.nan
    return y, DataError, "'load' contains 1 missing"


@_bad("inf")
def _inf():
    y = hourly(10)
    y.iloc[4] = np.inf
    return y, DataError, "infinite"


@_bad("nan-in-long-series")
def _nan_long():
    y = hourly(10)
    wide = pd.DataFrame({"a": y.to_numpy(), "b": y.to_numpy()}, index=y.index)
    long = as_long(wide)
    long.loc[long.index[15], "y"] = np.nan
    return long, DataError, "'b'"


@_bad("duplicates")
def _dups():
    y = hourly(10)
    return pd.concat([y, y.iloc[[3]]]), DataError, "duplicate timestamps"


@_bad("duplicates-long")
def _dups_long():
    long = as_long(pd.DataFrame({"a": hourly(6).to_numpy()}, index=hourly(6).index))
    return pd.concat([long, long.iloc[[2]]]), DataError, "'a' has duplicate"


@_bad("no-freq")
def _nofreq():
    idx = pd.DatetimeIndex(["2024-01-01", "2024-01-02", "2024-01-04", "2024-01-09"])
    return pd.Series([1.0, 2, 3, 4], index=idx), DataError, "freq="


@_bad("too-short-to-infer")
def _short():
    return pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2024-01-01", "2024-01-02"])), \
        DataError, "freq="


@_bad("gaps-in-one-long-series")
def _gap():
    y = hourly(10)
    long = as_long(pd.DataFrame({"a": y.to_numpy(), "b": y.to_numpy()}, index=y.index))
    long = long.drop(index=long.index[14])
    return long, DataError, "'b' is not regular"


@_bad("string-timestamps")
def _string_ds():
    long = pd.DataFrame({"unique_id": "a", "ds": ["2024-01-01", "2024-01-02", "2024-01-03"],
                         "y": [1.0, 2, 3]})
    return long, DataTypeError, "pd.to_datetime"


@_bad("mixed-time-zones")
def _mixed_tz():
    ds = [pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-02", tz="Asia/Tokyo"),
          pd.Timestamp("2024-01-03", tz="UTC")]
    long = pd.DataFrame({"unique_id": "a", "ds": pd.Series(ds, dtype=object), "y": [1.0, 2, 3]})
    return long, DataTypeError, "time zone"


@_bad("long-missing-target")
def _no_target():
    return pd.DataFrame({"unique_id": ["a"], "ds": [pd.Timestamp("2024-01-01")],
                         "value": [1.0]}), DataError, "target_col="


@_bad("duplicate-wide-columns")
def _dup_cols():
    y = hourly(5)
    frame = pd.DataFrame(np.ones((5, 2)), index=y.index, columns=["a", "a"])
    return frame, DataError, "duplicate column"


@pytest.mark.parametrize("make", BAD)
def test_bad_input_named_at_fit_and_input_unchanged(make):
    y, err, text = make()
    before = copy.deepcopy(y)
    with pytest.raises(err, match=text) as info:
        Naive().fit(y)
    assert isinstance(info.value, (ValueError, TypeError))
    if isinstance(y, (pd.Series, pd.DataFrame)):
        unchanged(before, y)


def test_user_freq_rescues_short_series():
    y = pd.Series([1.0, 2.0], index=pd.DatetimeIndex(["2024-01-01", "2024-01-02"]))
    pred = Naive().fit(y, freq="D").predict(1)
    assert pred.index[0] == pd.Timestamp("2024-01-03")


def test_series_shorter_than_the_model_needs():
    y = hourly(30)
    long = as_long(pd.DataFrame({"a": y.to_numpy(), "b": y.to_numpy()}, index=y.index))
    long = long[(long.unique_id == "a") | (long.ds < y.index[5])]
    with pytest.raises(DataError, match=r"\['b'\] are too short .*need at least 25"):
        SeasonalNaive(season_length=24).fit(long)


@pytest.mark.parametrize("h", [0, -1, 1.5, "3", True])
def test_bad_horizon(h):
    model = Naive().fit(hourly(10))
    with pytest.raises((ValueError, TypeError), match="'h'"):
        model.predict(h)


def test_exogenous_rejected_by_models_without_support():
    y = hourly(10)
    X = pd.DataFrame({"temp": np.ones(10)}, index=y.index)
    with pytest.raises(TypeError, match="does not use exogenous"):
        Naive().fit(y, X)


def test_exogenous_panel_alignment_and_future_rows():
    from tsssm.data import future_exog

    y = hourly(10)
    X = pd.DataFrame({"temp": np.arange(20.0)}, index=hourly(20).index)
    panel = to_panel(y, X.iloc[:10])
    assert panel.exog_names == ("temp",)
    np.testing.assert_array_equal(panel.X[:, 0], np.arange(10.0))
    fut = future_exog(panel, 3, X)
    np.testing.assert_array_equal(fut[0, :, 0], [10.0, 11.0, 12.0])
    with pytest.raises(DataError, match="no rows"):
        future_exog(panel, 3, X.iloc[:11])
    with pytest.raises(DataError, match="lacks the exogenous column"):
        future_exog(panel, 3, X.rename(columns={"temp": "wind"}))
    with pytest.raises(DataError, match="pass X="):
        future_exog(panel, 3, None)
    with pytest.raises(DataError, match="cover every timestamp"):
        to_panel(y, X.iloc[2:12])


def test_exogenous_long_future_rows():
    from tsssm.data import future_exog

    y = hourly(6)
    long = as_long(pd.DataFrame({"a": y.to_numpy()}, index=y.index))
    long["temp"] = 1.0
    panel = to_panel(long)
    fut = pd.DataFrame({"unique_id": "a", "ds": hourly(8).index[6:], "temp": [5.0, 6.0]})
    np.testing.assert_array_equal(future_exog(panel, 2, fut)[0, :, 0], [5.0, 6.0])
    with pytest.raises(DataError, match="lacks future rows for series 'a'"):
        future_exog(panel, 3, fut)


def test_update_continues_and_checks_the_start():
    y = hourly(30)
    model = Naive().fit(y.iloc[:20])
    model.update(y.iloc[20:25])
    assert model.predict(1).iloc[0] == 24.0
    with pytest.raises(DataError, match="must start at"):
        model.update(y.iloc[26:28])
    with pytest.raises(DataError, match="form given to fit"):
        model.update(y.iloc[25:27].to_frame())


def test_update_rejects_unknown_series():
    y = hourly(10)
    long = as_long(pd.DataFrame({"a": y.to_numpy()}, index=y.index))
    model = Naive().fit(long)
    new = pd.DataFrame({"unique_id": ["zz"], "ds": [y.index[-1] + pd.Timedelta("1h")],
                        "y": [1.0]})
    with pytest.raises(DataError, match="'zz', which was not seen"):
        model.update(new)


def test_failed_fit_leaves_estimator_unfitted():
    from sklearn.exceptions import NotFittedError

    model = Naive().fit(hourly(10))
    y = hourly(10)
    y.iloc[3] = np.nan
    with pytest.raises(DataError):
        model.fit(y)
    # Validation happens before the old fit is cleared, so the old fit survives
    # a rejected input; a failure inside the model clears it (below).
    assert model.predict(1).iloc[0] == 9.0

    class Broken(Naive):
        def _fit(self, panel):
            self.partial_ = 1
            raise RuntimeError("boom")

    broken = Broken()
    with pytest.raises(RuntimeError):
        broken.fit(hourly(10))
    assert not hasattr(broken, "partial_")
    with pytest.raises(NotFittedError):
        broken.predict(1)


def test_skip_mode_leaves_out_malformed_series_with_reasons():
    y = hourly(12)
    frames = [pd.DataFrame({"unique_id": f"s{k}", "ds": y.index, "y": y.to_numpy()})
              for k in range(4)]
    frames[1].loc[3, "y"] = np.nan                 # a missing value
    frames[2] = frames[2].drop(index=[5])          # a gap
    frames[3] = frames[3].iloc[::2]                # another frequency
    long = pd.concat(frames, ignore_index=True)
    with pytest.raises(DataError):
        to_panel(long)
    panel = to_panel(long, on_invalid="skip")
    assert panel.ids.tolist() == ["s0"]
    assert set(panel.skipped) == {"s1", "s2", "s3"}
    assert "missing value" in panel.skipped["s1"]
    assert "not regular" in panel.skipped["s2"]
    assert "mixed frequencies" in panel.skipped["s3"]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_any_datetime_unit(unit):
    idx = pd.date_range("2024-01-01", periods=30, freq="h", unit=unit, tz="Europe/Berlin")
    long = pd.DataFrame({"unique_id": "a", "ds": idx, "y": np.arange(30.0)})
    assert to_panel(long).axis.freq == pd.offsets.Hour()
    with pytest.raises(DataError, match="not regular"):
        to_panel(long.drop(index=[5]), freq="h")
