"""Corrupted wide frames, Series and exogenous variables raise named tsssm errors.

Complements ``test_data_properties.py`` (long frames): hypothesis draws a valid wide
frame or Series, a frequency and a victim column, applies one corruption, and checks
that ``fit`` (or ``predict`` for future exogenous values) raises a DataError or
DataTypeError whose message names the victim, and that the caller's objects are
unchanged.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsssm.exceptions import DataError, DataTypeError
from tsssm.forecasters import ARIMA, Naive

FREQS = ["h", "D", "W-SUN", "ME", "15min"]
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

Y_CORRUPTIONS = ["nan", "inf", "all_nan", "object", "bool", "duplicate_column",
                 "duplicate_time", "string_index", "unsorted_duplicate", "multiindex"]


def _frame(rng, n_series: int, length: int, freq: str) -> pd.DataFrame:
    index = pd.date_range("2021-01-01", periods=length, freq=freq)
    ids = [f"col_{k}" for k in range(n_series)]
    return pd.DataFrame(rng.normal(10, 2, size=(length, n_series)), index=index,
                        columns=ids)


def _corrupt_y(y: pd.DataFrame, how: str, victim: str, rng) -> tuple[pd.DataFrame, str]:
    """The corrupted copy and the text its error must contain."""
    out = y.copy()
    k = int(rng.integers(1, len(out)))  # not the first row: leading NaNs are allowed
    col = out.columns.get_loc(victim)
    if how == "nan":
        out.iloc[k, col] = np.nan
    elif how == "inf":
        out.iloc[k, col] = np.inf * rng.choice([-1, 1])
    elif how == "all_nan":
        out[victim] = np.nan
    elif how == "object":
        out[victim] = out[victim].astype(object)
        out.iloc[k, col] = "12,5"
    elif how == "bool":
        out[victim] = out[victim] > 10
    elif how == "duplicate_column":
        out = out.rename(columns={c: victim for c in out.columns[:2]})
        return out, repr(victim)
    elif how == "duplicate_time":
        out = pd.concat([out, out.iloc[[k]]])
        return out, str(out.index[k].date())
    elif how == "unsorted_duplicate":  # shuffled rows with one repeated timestamp
        out = pd.concat([out, out.iloc[[k]]]).sample(frac=1.0, random_state=k)
        return out, "duplicate timestamps"
    elif how == "string_index":
        out.index = out.index.strftime("%d/%m/%Y %H:%M")
        return out, "strings"
    elif how == "multiindex":
        out.index = pd.MultiIndex.from_arrays([out.index, np.arange(len(out))])
        return out, "index of y"
    return out, repr(victim)


@SETTINGS
@given(st.sampled_from(Y_CORRUPTIONS), st.sampled_from(FREQS), st.integers(2, 4),
       st.integers(6, 30), st.booleans(), st.integers(0, 2**31 - 1))
def test_corrupted_wide_frame_or_series_raises_naming_it(how, freq, n_series, length,
                                                         as_series, seed):
    rng = np.random.default_rng(seed)
    wide = _frame(rng, n_series, length, freq)
    victim = str(rng.choice(wide.columns))
    bad, named = _corrupt_y(wide, how, victim, rng)
    if as_series and how != "duplicate_column":
        bad = bad[victim] if bad.columns.is_unique else bad.iloc[:, 0]
        bad.name = victim
    before = copy.deepcopy(bad)
    with pytest.raises((DataError, DataTypeError)) as info:
        Naive().fit(bad)
    assert named in str(info.value), str(info.value)
    if isinstance(bad, pd.Series):
        pd.testing.assert_series_equal(bad, before)
    else:
        pd.testing.assert_frame_equal(bad, before)


X_CORRUPTIONS = ["nan", "inf", "text", "missing_rows", "shifted", "duplicate_time",
                 "not_a_frame"]


def _corrupt_x(X: pd.DataFrame, how: str, rng) -> tuple[object, str]:
    out = X.copy()
    k = int(rng.integers(len(out)))
    if how == "nan":
        out.iloc[k, 0] = np.nan
    elif how == "inf":
        out.iloc[k, 0] = -np.inf
    elif how == "text":
        out["temp"] = out["temp"].map(lambda v: f"{v:.1f} C")
    elif how == "missing_rows":
        out = out.drop(index=out.index[k])
        return out, "X has no rows"
    elif how == "shifted":  # off by half a step: no timestamp matches
        out.index = out.index + (out.index[1] - out.index[0]) / 2
        return out, "X has no rows"
    elif how == "duplicate_time":
        out = pd.concat([out, out.iloc[[k]]])
        return out, "duplicate"
    elif how == "not_a_frame":
        return out.to_numpy(), "X must be a pandas DataFrame"
    return out, "'temp'"


@SETTINGS
@given(st.sampled_from(X_CORRUPTIONS), st.sampled_from(["fit", "predict"]),
       st.sampled_from(["h", "D"]), st.integers(12, 30), st.integers(0, 2**31 - 1))
def test_corrupted_exogenous_variables_raise_naming_them(how, stage, freq, length, seed):
    rng = np.random.default_rng(seed)
    index = pd.date_range("2021-01-01", periods=length + 3, freq=freq)
    X_all = pd.DataFrame({"temp": rng.normal(20, 5, len(index))}, index=index)
    y = pd.Series(0.5 * X_all["temp"].to_numpy()[:length] + rng.normal(size=length),
                  index=index[:length], name="load")
    model = ARIMA(order=(1, 0, 0))
    if stage == "fit":
        bad, named = _corrupt_x(X_all.iloc[:length], how, rng)
        before = copy.deepcopy(bad)
        with pytest.raises((DataError, DataTypeError)) as info:
            model.fit(y, X=bad)
    else:
        model.fit(y, X=X_all.iloc[:length])
        bad, named = _corrupt_x(X_all.iloc[length:], how, rng)
        before = copy.deepcopy(bad)
        with pytest.raises((DataError, DataTypeError)) as info:
            model.predict(3, X=bad)
        # a rejected future X leaves the fitted model usable
        assert len(model.predict(3, X=X_all.iloc[length:])) == 3
    assert named in str(info.value), str(info.value)
    if isinstance(bad, pd.DataFrame):
        pd.testing.assert_frame_equal(bad, before)
    else:
        np.testing.assert_array_equal(bad, before)
