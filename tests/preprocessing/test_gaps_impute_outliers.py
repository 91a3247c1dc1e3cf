"""FillGaps, Imputer and OutlierClipper on series with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsssm.exceptions import DataError
from tsssm.preprocessing import FillGaps, Imputer, OutlierClipper

NAN = np.nan


# ---------------------------------------------------------------------- FillGaps
def test_fillgaps_hourly_across_daylight_saving_counts_absolute_hours():
    # 2024-03-31 in Berlin: 02:00 does not exist, 01:00+01:00 -> 03:00+02:00 is one hour
    idx = pd.to_datetime([
        "2024-03-31 00:00+01:00", "2024-03-31 01:00+01:00", "2024-03-31 03:00+02:00",
        "2024-03-31 05:00+02:00",
    ], utc=True).tz_convert("Europe/Berlin")
    y = pd.Series([1.0, 2.0, 3.0, 5.0], index=idx, name="load")
    fg = FillGaps()
    out = fg.fit_transform(y)
    assert fg.freq_ == pd.offsets.Hour()
    assert len(out) == 5  # only 04:00 was missing
    expected = pd.Timestamp("2024-03-31 04:00", tz="Europe/Berlin")
    assert fg.report_.to_dict("records") == [{
        "unique_id": "load", "n_inserted": 1, "first_inserted": expected,
        "last_inserted": expected,
    }]
    assert np.isnan(out[expected]) and str(out.index.tz) == "Europe/Berlin"


def test_fillgaps_business_days_insert_weekdays_only():
    # Thu 4 Jan, Fri 5 Jan, (Mon 8 missing), Tue 9, Wed 10 (no exact freq to infer)
    idx = pd.to_datetime(["2024-01-04", "2024-01-05", "2024-01-09", "2024-01-10"])
    y = pd.DataFrame({"a": [1.0, 2, 3, 4]}, index=idx)
    fg = FillGaps()
    out = fg.fit_transform(y)
    assert fg.freq_ == pd.offsets.BusinessDay()
    assert list(out.index) == list(pd.to_datetime(
        ["2024-01-04", "2024-01-05", "2024-01-08", "2024-01-09", "2024-01-10"]))
    assert fg.inserted_["a"].tolist() == [pd.Timestamp("2024-01-08")]
    # the same data read as calendar days gets the weekend too
    daily = FillGaps(freq="D").fit(y)
    assert len(daily.transform(y)) == 7


def test_fillgaps_month_ends_and_given_freq_at_fit():
    idx = pd.to_datetime(["2024-01-31", "2024-03-31", "2024-04-30"])
    y = pd.Series([1.0, 3.0, 4.0], index=idx)
    out = FillGaps().fit_transform(y)
    assert out.index[1] == pd.Timestamp("2024-02-29") and np.isnan(out.iloc[1])
    # freq passed to fit (as a pipeline does) when the parameter is None
    fg = FillGaps().fit(y, freq="ME")
    assert fg.freq_ == pd.offsets.MonthEnd()


def test_fillgaps_long_fills_other_columns_with_missing_and_keeps_ids():
    y = pd.DataFrame({
        "unique_id": ["s2", "s1", "s1", "s2"],
        "ds": [3, 0, 4, 0],
        "y": [4.0, 1.0, 2.0, 3.0],
        "price": [40, 10, 20, 30],
    })
    fg = FillGaps(freq=1)
    out = fg.fit_transform(y)
    assert out["unique_id"].tolist() == ["s2"] * 4 + ["s1"] * 5
    assert out["ds"].tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 4]
    np.testing.assert_array_equal(out["y"], [3, NAN, NAN, 4, 1, NAN, NAN, NAN, 2])
    np.testing.assert_array_equal(out["price"], [30, NAN, NAN, 40, 10, NAN, NAN, NAN, 20])
    assert fg.report_.set_index("unique_id")["n_inserted"].to_dict() == {"s2": 2, "s1": 3}


def test_fillgaps_rejects_points_off_the_grid_and_duplicates():
    idx = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 02:30"])
    with pytest.raises(DataError, match=r"02:30.*not on the regular grid of frequency 'h'"):
        FillGaps(freq="h").fit_transform(pd.Series([1.0, 2, 3], index=idx, name="x"))
    dup = pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02"])
    with pytest.raises(DataError, match="Series 'x' has duplicate timestamps"):
        FillGaps().fit(pd.Series([1.0, 2, 3], index=dup, name="x"))


# ----------------------------------------------------------------------- Imputer
X10 = [1.0, NAN, NAN, 4.0, NAN, 6.0, NAN, NAN, NAN, 10.0]
IMPUTED = {
    ("ffill", None): [1, 1, 1, 4, 4, 6, 6, 6, 6, 10],
    ("ffill", 2): [1, 1, 1, 4, 4, 6, NAN, NAN, NAN, 10],  # the 3-gap stays whole
    ("bfill", None): [1, 4, 4, 4, 6, 6, 10, 10, 10, 10],
    ("linear", None): [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    ("linear", 1): [1, NAN, NAN, 4, 5, 6, NAN, NAN, NAN, 10],
}


@pytest.mark.parametrize(("method", "limit"), list(IMPUTED))
def test_imputer_by_hand(method, limit):
    y = pd.Series(X10, index=pd.RangeIndex(10), name="s")
    imp = Imputer(method, limit=limit)
    out = imp.fit_transform(y)
    np.testing.assert_array_equal(out.to_numpy(), IMPUTED[method, limit])
    n_left = int(np.isnan(IMPUTED[method, limit]).sum())
    assert imp.report_.to_dict("records") == [
        {"unique_id": "s", "n_missing": 6, "n_imputed": 6 - n_left, "n_left": n_left}]


def test_imputer_raises_on_a_gap_over_the_limit_naming_the_series():
    y = pd.DataFrame({"ok": [1.0] * 10, "gappy": X10}, index=pd.RangeIndex(10))
    with pytest.raises(DataError, match="Series 'gappy' has a gap of 3 missing values from 6"):
        Imputer("ffill", limit=2, on_limit="raise").fit_transform(y)


def test_imputer_time_interpolation_weighs_by_elapsed_time():
    # Fri 5 Jan, Mon 8 Jan, Tue 9 Jan: Monday is 3 of the 4 days from Friday to Tuesday
    y = pd.Series([0.0, NAN, 4.0], index=pd.bdate_range("2024-01-05", periods=3))
    assert Imputer("time").fit_transform(y).iloc[1] == pytest.approx(3.0)
    assert Imputer("linear").fit_transform(y).iloc[1] == pytest.approx(2.0)


def test_imputer_seasonal_uses_the_value_one_season_back():
    y = pd.Series([1.0, 2, 3, NAN, 5, NAN, NAN, NAN, 9, NAN], index=pd.RangeIndex(10))
    out = Imputer("seasonal", season_length=3).fit_transform(y)
    # t=3 <- t=0; t=5 <- t=2; t=6 <- filled t=3; t=7 <- t=4; t=9 <- filled t=6
    np.testing.assert_array_equal(out, [1, 2, 3, 1, 5, 3, 1, 5, 9, 1])


def test_imputer_continues_from_the_data_seen_at_fit():
    y = pd.Series([1.0, 2, 3, 4, 5, NAN, NAN, 8], index=pd.RangeIndex(8))
    new = y.iloc[5:]
    np.testing.assert_array_equal(Imputer("ffill").fit(y.iloc[:5]).transform(new), [5, 5, 8])
    np.testing.assert_array_equal(Imputer("linear").fit(y.iloc[:5]).transform(new), [6, 7, 8])


# ---------------------------------------------------------------- OutlierClipper
def test_iqr_clipping_to_tukey_fences_by_hand():
    # 1..8 and 100: quartiles (linear rule) 3 and 7, IQR 4, fences [-3, 13]
    y = pd.Series([1.0, 2, 3, 4, 5, 6, 7, 8, 100], index=pd.RangeIndex(9), name="s")
    clip = OutlierClipper("iqr")
    out = clip.fit_transform(y)
    assert clip.bounds_["s"] == (-3.0, 13.0)
    np.testing.assert_array_equal(out, [1, 2, 3, 4, 5, 6, 7, 8, 13])
    assert clip.report_.to_dict("records") == [
        {"unique_id": "s", "ds": 8, "value": 100.0, "replaced_by": 13.0}]
    # the fences come from the training data: later data is clipped by them
    later = pd.Series([-10.0, 10.0], index=pd.RangeIndex(9, 11), name="s")
    np.testing.assert_array_equal(clip.transform(later), [-3.0, 10.0])


def test_hampel_replaces_spikes_by_the_window_median():
    base = np.tile([10.0, 11.0, 12.0], 6)
    y = base.copy()
    y[[4, 13]] = [40.0, -20.0]
    clip = OutlierClipper("hampel", window=5)
    out = clip.fit_transform(pd.Series(y, index=pd.RangeIndex(18)))
    # window 2..6 = [12, 10, 40, 12, 10]: median 12, MAD 2, 40 is 28 > 3 * 1.4826 * 2 away;
    # window 11..15 = [12, 10, -20, 12, 10]: median 10. Ordinary points stay (MAD >= 1).
    expected = y.copy()
    expected[[4, 13]] = [12.0, 10.0]
    np.testing.assert_array_equal(out, expected)
    assert clip.report_["ds"].tolist() == [4, 13]
