"""Calendar features, their choice by frequency, and static feature tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsssm.data import TimeAxis
from tsssm.exceptions import DataError
from tsssm.forecasters.neural._features import (
    calendar_features,
    calendar_kinds,
    standardize_stats,
    static_table,
)


def axis(freq):
    return TimeAxis("datetime", pd.tseries.frequencies.to_offset(freq))


@pytest.mark.parametrize(("freq", "expected"), [
    ("15min", ("minute_of_hour", "hour_of_day", "day_of_week")),
    ("h", ("hour_of_day", "day_of_week", "month_of_year")),
    ("6h", ("hour_of_day", "day_of_week", "month_of_year")),
    ("D", ("day_of_week", "day_of_month", "day_of_year")),
    ("B", ("day_of_week", "day_of_month", "day_of_year")),
    ("W-SUN", ("day_of_year",)),
    ("MS", ("month_of_year",)),
    ("QE", ("month_of_year",)),
    ("YE", ()),
])
def test_calendar_kinds_follow_the_frequency(freq, expected):
    assert calendar_kinds(axis(freq)) == expected


@pytest.mark.parametrize(("freq", "n_steps", "expected"), [
    ("h", 24 * 7 * 2, ("hour_of_day", "day_of_week")),  # two weeks: both cycles twice
    ("h", 24 * 7 * 2 - 1, ("hour_of_day",)),  # a step short of two weeks
    ("h", 24 * 30 * 16, ("hour_of_day", "day_of_week")),  # ETTh1's 16 training months
    ("h", 24 * 731, ("hour_of_day", "day_of_week", "month_of_year")),  # two years
    ("h", 47, ()),
    ("D", 61, ("day_of_week", "day_of_month")),
    ("MS", 23, ()),
    ("MS", 24, ("month_of_year",)),
])
def test_calendar_kinds_need_two_cycles_of_data(freq, n_steps, expected):
    """A feature whose cycle the data cover less than twice could only be memorised."""
    assert calendar_kinds(axis(freq), n_steps) == expected


def test_calendar_kinds_of_periods_and_integers():
    monthly = pd.period_range("2020-01", periods=3, freq="M")
    assert calendar_kinds(TimeAxis("period", monthly.freq)) == ("month_of_year",)
    assert calendar_kinds(TimeAxis("int", 1)) == ()


def test_calendar_features_hand_values():
    # 2024-01-03 is a Wednesday (day_of_week 2); 18:00 is three quarters of the day.
    idx = pd.DatetimeIndex(["2024-01-03 18:00", "2024-03-01 00:00"])
    f = calendar_features(idx, ("hour_of_day", "day_of_week", "month_of_year"))
    expected = np.array([
        [np.sin(2 * np.pi * 18 / 24), np.cos(2 * np.pi * 18 / 24),
         np.sin(2 * np.pi * 2 / 7), np.cos(2 * np.pi * 2 / 7), 0.0, 1.0],
        [0.0, 1.0, np.sin(2 * np.pi * 4 / 7), np.cos(2 * np.pi * 4 / 7),
         np.sin(2 * np.pi * 2 / 12), np.cos(2 * np.pi * 2 / 12)],
    ])
    np.testing.assert_allclose(f, expected, atol=1e-12)


def test_calendar_features_of_periods_equal_those_of_timestamps():
    periods = pd.period_range("2023-11", periods=4, freq="M")
    np.testing.assert_allclose(calendar_features(periods, ("month_of_year",)),
                               calendar_features(periods.to_timestamp(), ("month_of_year",)))
    assert calendar_features(periods, ()).shape == (4, 0)


def test_static_table_orders_rows_by_id_and_checks_values():
    static = pd.DataFrame({"size": [3.0, 1.0, 2.0], "big": [1, 0, 0]},
                          index=["c", "a", "b"])
    table, names = static_table(static, np.array(["a", "b", "c"], dtype=object), "X")
    np.testing.assert_array_equal(table, [[1, 0], [2, 0], [3, 1]])
    assert names == ["size", "big"]
    with pytest.raises(DataError, match="no row for series \\['d'\\]"):
        static_table(static, np.array(["a", "d"], dtype=object), "X")
    with pytest.raises(DataError, match="numeric"):
        static_table(static.assign(kind=["x", "y", "z"]), np.array(["a"], dtype=object), "X")


def test_standardize_stats_leaves_constant_columns_unscaled():
    mean, std = standardize_stats(np.array([[1.0, 5.0], [3.0, 5.0]]))
    np.testing.assert_allclose(mean, [2.0, 5.0])
    np.testing.assert_allclose(std, [1.0, 1.0])
