"""Property-based tests of the data layer (hypothesis).

Random valid inputs must round-trip (fit -> predict keeps ids, order, dtypes and
frequency); random invalid inputs must raise a tsssm error that names the offending
series or column, and must never modify the caller's object.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsssm.data import to_pandas, to_panel
from tsssm.exceptions import DataError, DataTypeError
from tsssm.forecasters import Naive

FREQS = ["h", "D", "B", "ME", "W-SUN", "15min"]
TZS = [None, "UTC", "America/New_York"]
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def panels(draw):
    """A valid panel in one of the three forms, with its ids and frequency."""
    freq = draw(st.sampled_from(FREQS))
    tz = draw(st.sampled_from(TZS)) if freq in ("h", "15min", "D") else None
    n_series = draw(st.integers(1, 4))
    form = "series" if n_series == 1 and draw(st.booleans()) else draw(
        st.sampled_from(["wide", "long"]))
    # A long table's time column carries no frequency: it is inferred from the dates, and
    # business days that never cross a weekend are daily data too. From 6 business days
    # on a weekend gap is always in (the explicit freq= path has its own test below).
    length = draw(st.integers(6 if freq == "B" else 3, 40))
    start = pd.Timestamp("2021-03-01") + pd.Timedelta(days=draw(st.integers(0, 400)))
    index = pd.date_range(start, periods=length, freq=freq, tz=tz)
    seed = draw(st.integers(0, 2**31 - 1))
    values = np.random.default_rng(seed).normal(size=(length, n_series)) * 10
    if draw(st.booleans()):
        ids = [f"s{k}" for k in draw(st.permutations(range(n_series)))]
    else:
        ids = list(draw(st.permutations(range(100, 100 + n_series))))
    if form == "series":
        return pd.Series(values[:, 0], index=index, name=ids[0]), ids, freq
    wide = pd.DataFrame(values, index=index, columns=ids)
    if form == "wide":
        return wide, ids, freq
    long = wide.rename_axis("ds").reset_index().melt("ds", var_name="unique_id",
                                                     value_name="y")
    long = long[["unique_id", "ds", "y"]]
    if draw(st.booleans()):  # shuffled rows must give the same answer
        long = long.sample(frac=1.0, random_state=seed % 1000)
    return long, ids, freq


@SETTINGS
@given(panels(), st.integers(1, 5))
def test_valid_inputs_round_trip(case, h):
    y, ids, freq = case
    before = copy.deepcopy(y)
    pred = Naive().fit(y).predict(h)
    # the caller's object is untouched
    if isinstance(y, pd.Series):
        pd.testing.assert_series_equal(before, y)
    else:
        pd.testing.assert_frame_equal(before, y)
    step = pd.tseries.frequencies.to_offset(freq)
    if isinstance(y, pd.Series):
        assert pred.name == y.name and len(pred) == h
        assert pred.index[0] == y.index[-1] + step
        assert pred.index.tz == y.index.tz
        assert pred.index.freq == step
    elif "unique_id" in y.columns:
        assert list(pd.unique(pred["unique_id"])) == list(pd.unique(y["unique_id"]))
        assert pred["unique_id"].dtype == y["unique_id"].dtype
        assert len(pred) == h * len(ids)
        assert pred["ds"].dt.tz == y["ds"].dt.tz
        last = y.groupby("unique_id", sort=False)["ds"].max()
        first_pred = pred.groupby("unique_id", sort=False)["ds"].min()
        assert (first_pred == last + step).all()
    else:
        assert list(pred.columns) == ids and pred.shape == (h, len(ids))
        assert pred.index[0] == y.index[-1] + step
    values = pred if isinstance(pred, pd.Series) else pred.select_dtypes("number")
    assert np.isfinite(values.to_numpy()).all()


def test_business_days_without_a_weekend_need_freq_in_long_form():
    # Wednesday to Friday: inferred as daily (the next step is Saturday), unless the
    # caller says freq="B" (the next step is Monday).
    y = pd.DataFrame({"unique_id": ["a"] * 3, "ds": pd.date_range("2021-03-03", periods=3),
                      "y": [1.0, 2.0, 3.0]})
    assert Naive().fit(y).predict(1)["ds"].iloc[0] == pd.Timestamp("2021-03-06")
    assert Naive().fit(y, freq="B").predict(1)["ds"].iloc[0] == pd.Timestamp("2021-03-08")


@SETTINGS
@given(panels())
def test_panel_back_to_pandas_is_the_input(case):
    y, _, _ = case
    back = to_pandas(to_panel(y))
    if isinstance(y, pd.Series):
        pd.testing.assert_series_equal(back, y, check_freq=False)
    elif "unique_id" in y.columns:
        ordered = y.sort_values(["unique_id", "ds"], key=lambda s: s.map(
            {k: i for i, k in enumerate(pd.unique(y["unique_id"]))}) if s.name == "unique_id"
            else s, kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(back, ordered, check_dtype=False)
    else:
        pd.testing.assert_frame_equal(back, y, check_freq=False)


CORRUPTIONS = ["nan", "inf", "duplicate", "mixed_freq", "object_dtype", "one_point",
               "mixed_tz", "string_ds", "empty"]


def _corrupt(long: pd.DataFrame, how: str, victim, rng) -> pd.DataFrame:
    rows = np.flatnonzero(long["unique_id"].to_numpy() == victim)
    k = rows[rng.integers(len(rows))]
    out = long.copy()
    if how == "nan":
        out.loc[out.index[k], "y"] = np.nan
    elif how == "inf":
        out.loc[out.index[k], "y"] = -np.inf if rng.random() < 0.5 else np.inf
    elif how == "duplicate":
        out = pd.concat([out, out.iloc[[k]]])
    elif how == "mixed_freq":  # the victim is sampled every other step
        keep = np.ones(len(out), bool)
        keep[rows[1::2]] = False
        out = out[keep]
    elif how == "object_dtype":
        out["y"] = out["y"].astype(object)
        out.loc[out.index[k], "y"] = "n/a"
    elif how == "one_point":
        out = out.drop(index=out.index[rows[1:]])
    elif how == "mixed_tz":
        ds = out["ds"].dt.tz_localize(None).astype(object)
        ds.iloc[k] = pd.Timestamp(ds.iloc[k]).tz_localize("Asia/Tokyo")
        out["ds"] = ds
    elif how == "string_ds":
        out["ds"] = out["ds"].dt.strftime("%Y-%m-%d %H:%M")
    elif how == "empty":
        out = out.iloc[:0]
    return out


@SETTINGS
@given(st.sampled_from(CORRUPTIONS), st.integers(2, 4), st.integers(6, 30),
       st.integers(0, 2**31 - 1))
def test_invalid_inputs_raise_named_tsssm_errors(how, n_series, length, seed):
    rng = np.random.default_rng(seed)
    index = pd.date_range("2022-01-01", periods=length, freq="h")
    ids = [f"series_{k}" for k in range(n_series)]
    wide = pd.DataFrame(rng.normal(size=(length, n_series)), index=index, columns=ids)
    long = wide.rename_axis("ds").reset_index().melt("ds", var_name="unique_id",
                                                     value_name="y")
    victim = ids[rng.integers(n_series)]
    bad = _corrupt(long[["unique_id", "ds", "y"]], how, victim, rng)
    before = copy.deepcopy(bad)
    with pytest.raises((DataError, DataTypeError)) as info:
        Naive().fit(bad)
    message = str(info.value)
    named = {
        "nan": victim, "inf": victim, "duplicate": victim, "mixed_freq": victim,
        "one_point": victim, "object_dtype": "'y'", "mixed_tz": "'ds'",
        "string_ds": "'ds'", "empty": "empty",
    }[how]
    assert named in message, message
    pd.testing.assert_frame_equal(before, bad)
