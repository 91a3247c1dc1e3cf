"""Covariates of the neural forecasters: calendar features, exogenous and static scaling.

Future-known covariates are generated from the time index itself (calendar features
chosen by the frequency) and appended to the user's exogenous columns; both are known
for every past and future step. Static features describe a whole series. Everything
here turns pandas objects into float arrays once, so the network sees only tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tsssm._validation import shorten
from tsssm.data import Panel, TimeAxis
from tsssm.exceptions import DataError, ParameterTypeError

__all__ = [
    "CALENDAR_PERIODS",
    "calendar_features",
    "calendar_kinds",
    "static_table",
]

#: Period of each calendar feature (in its own unit); each becomes a sin/cos pair.
CALENDAR_PERIODS = {
    "minute_of_hour": 60.0,
    "hour_of_day": 24.0,
    "day_of_week": 7.0,
    "day_of_month": 31.0,
    "day_of_year": 366.0,
    "month_of_year": 12.0,
}

_HOUR = 3600.0
_DAY = 24 * _HOUR
#: Length of one cycle of each feature in seconds (a month of days and a year on average).
_CYCLE_SECONDS = {
    "minute_of_hour": _HOUR,
    "hour_of_day": _DAY,
    "day_of_week": 7 * _DAY,
    "day_of_month": 30.44 * _DAY,
    "day_of_year": 365.25 * _DAY,
    "month_of_year": 365.25 * _DAY,
}
#: A feature is generated only when the data cover at least this many of its cycles.
MIN_CYCLES = 2


def calendar_kinds(axis: TimeAxis, n_steps: int | None = None) -> tuple[str, ...]:
    """The calendar features worth generating at the frequency of ``axis``.

    Cycles longer than one step and shorter than a few years: a feature that is
    constant between steps (hour of day for daily data) carries nothing, and one that
    cycles within a step (minute of hour for hourly data) is aliased. With ``n_steps``
    (the length of the longest training series), a feature whose cycle the data do not
    cover at least :data:`MIN_CYCLES` times is left out too: with 16 months of hourly
    data the network would see each month of the year once or twice and could only
    memorise it, and forecasts for months seen once would rest on that memory.

    ===================  ======================================================
    step                 features
    ===================  ======================================================
    under an hour        minute of hour, hour of day, day of week
    hour up to a day     hour of day, day of week, month of year
    a day up to a week   day of week, day of month, day of year
    a week up to a month day of year (week of year, smoothly)
    a month or longer    month of year (below a year)
    integer index        none
    ===================  ======================================================
    """
    if axis.kind == "int":
        return ()
    step = _step_seconds(axis)
    if step < _HOUR:
        kinds: tuple[str, ...] = ("minute_of_hour", "hour_of_day", "day_of_week")
    elif step < _DAY:
        kinds = ("hour_of_day", "day_of_week", "month_of_year")
    elif step < 7 * _DAY:
        kinds = ("day_of_week", "day_of_month", "day_of_year")
    elif step < 28 * _DAY:
        kinds = ("day_of_year",)
    elif step < 360 * _DAY:
        kinds = ("month_of_year",)
    else:
        kinds = ()
    if n_steps is not None:
        span = n_steps * step
        kinds = tuple(k for k in kinds if span >= MIN_CYCLES * _CYCLE_SECONDS[k])
    return kinds


def _step_seconds(axis: TimeAxis) -> float:
    """Typical length of one step of ``axis`` in seconds (months count ~30.4 days)."""
    start = pd.Timestamp("2001-01-01") if axis.kind == "datetime" else pd.Period(
        "2001-01-01", freq=axis.freq
    )
    grid = TimeAxis(axis.kind, axis.freq).grid(start, 13)
    if axis.kind == "period":
        grid = grid.to_timestamp()
    # Differences as timedeltas: pandas 2 and 3 store datetimes at different resolutions.
    return float(np.median(np.diff(grid.to_numpy()) / np.timedelta64(1, "s")))


def calendar_features(index: pd.Index, kinds: tuple[str, ...]) -> np.ndarray:
    """sin/cos encodings of the calendar position of each time point.

    Parameters
    ----------
    index : pandas.DatetimeIndex or pandas.PeriodIndex
        Time points.
    kinds : tuple of str
        Keys of :data:`CALENDAR_PERIODS` (see :func:`calendar_kinds`).

    Returns
    -------
    numpy.ndarray of shape (n, 2 * len(kinds))
        ``sin(2 pi v / period), cos(2 pi v / period)`` for each kind, where ``v`` counts
        from 0 (hour 0..23, Monday = 0, January = 0, first day of month/year = 0).

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01 06:00", periods=1, freq="h")
    >>> calendar_features(idx, ("hour_of_day",)).round(6).tolist()
    [[1.0, 0.0]]
    """
    if not kinds:
        return np.zeros((len(index), 0))
    if isinstance(index, pd.PeriodIndex):
        index = index.to_timestamp()
    values = {
        "minute_of_hour": lambda: index.minute,
        "hour_of_day": lambda: index.hour,
        "day_of_week": lambda: index.day_of_week,
        "day_of_month": lambda: index.day - 1,
        "day_of_year": lambda: index.day_of_year - 1,
        "month_of_year": lambda: index.month - 1,
    }
    cols = []
    for kind in kinds:
        angle = 2 * np.pi * np.asarray(values[kind](), dtype=np.float64) / CALENDAR_PERIODS[kind]
        cols.extend([np.sin(angle), np.cos(angle)])
    return np.stack(cols, axis=1)


def panel_calendar(panel: Panel, kinds: tuple[str, ...]) -> np.ndarray:
    """Calendar features of every observation of ``panel``, shape (T, 2 * len(kinds))."""
    if not kinds:
        return np.zeros((len(panel.y), 0))
    return np.concatenate(
        [calendar_features(panel.time_index(i), kinds) for i in range(panel.n_series)], axis=0
    )


def static_table(static: Any, ids: np.ndarray, owner: str) -> tuple[np.ndarray, list[str]]:
    """Static features of the series ``ids`` as a float array, rows in ``ids`` order.

    Parameters
    ----------
    static : pandas.DataFrame
        Indexed by series id, one numeric column per feature.
    ids : numpy.ndarray of shape (S,)
        The fitted series.
    owner : str
        Class name for error messages.

    Returns
    -------
    table : numpy.ndarray of shape (S, K)
    names : list of str
    """
    if not isinstance(static, pd.DataFrame):
        raise ParameterTypeError(
            f"The 'static_features' parameter of {owner} must be a pandas DataFrame indexed "
            f"by series id (one numeric column per feature) or None. Got "
            f"{type(static).__name__}."
        )
    missing = [uid for uid in ids if uid not in static.index]
    if missing:
        raise DataError(
            f"static_features has no row for series {shorten(missing)}. Add one row per "
            "series, indexed by its id (the column name of a wide frame, the unique_id of "
            "a long frame)."
        )
    if static.index.has_duplicates:
        raise DataError("static_features has duplicate ids in its index.")
    rows = static.loc[list(ids)]
    cols = []
    for c in rows.columns:
        col = rows[c]
        if pd.api.types.is_bool_dtype(col.dtype) or not pd.api.types.is_numeric_dtype(col.dtype):
            raise DataError(
                f"Column {c!r} of static_features must be numeric; got dtype {col.dtype}. "
                "One-hot encode categories first (pandas.get_dummies)."
            )
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        if not np.isfinite(values).all():
            raise DataError(f"Column {c!r} of static_features contains NaN or infinite values.")
        cols.append(values)
    table = np.stack(cols, axis=1) if cols else np.zeros((len(ids), 0))
    return table, [str(c) for c in rows.columns]


def standardize_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and scales for standardising; constant columns get scale 1."""
    if values.shape[0] == 0:
        return np.zeros(values.shape[1]), np.ones(values.shape[1])
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    return mean, np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)
