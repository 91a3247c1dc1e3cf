"""Time arithmetic for preprocessing: index kinds, frequency inference, grid positions.

The data layer's :func:`~tsssm.data.to_panel` rejects irregular series, so the
preprocessing transformers (:class:`~tsssm.preprocessing.FillGaps` first of all) need
their own, more forgiving, reading of time: a frequency inferred from the most common
step, and the position of any time point on a series' regular grid.

Positions are counted in steps of the frequency from an origin (the first time point
a transformer saw for a series). They let a transformer look up "the value ``m`` steps
earlier" across calls: in the data it fitted on, in new data, or in a forecast frame.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

# The data layer classifies time indexes and parses frequencies for every entry point.
from tsssm.data.frame import _time_values as as_time_index
from tsssm.data.frame import parse_freq
from tsssm.exceptions import DataError

__all__ = [
    "as_time_index",
    "grid_points",
    "infer_freq",
    "parse_freq",
    "positions",
    "regular_grid",
    "shift",
    "sort_keys",
    "time_coordinate",
]

_DAY = pd.Timedelta(days=1)


def _declared_freq(idx: pd.Index) -> Any | None:
    """The frequency an index declares or that pandas can infer exactly, else None."""
    own = getattr(idx, "freq", None)
    if own is not None:
        return own
    if len(idx) < 3 or not isinstance(idx, pd.DatetimeIndex):
        return None
    with warnings.catch_warnings():
        # pandas 3 warns that infer_freq will return an offset instead of a string;
        # to_offset below accepts both.
        warnings.simplefilter("ignore")
        try:
            alias = pd.infer_freq(idx)
        except (TypeError, ValueError):
            return None
    return None if alias is None else pd.tseries.frequencies.to_offset(alias)


def infer_freq(indexes: list[tuple[Any, pd.Index]], kind: str) -> Any:
    """Infer one frequency for several sorted time indexes, tolerating gaps.

    An index that declares its frequency (or is exactly regular) decides. Otherwise the
    most common step over all series is taken and read as a calendar frequency where
    it looks like one: a one-day step with no weekend point is business days, steps of
    28-31 days on month ends are month ends, and so on.

    Parameters
    ----------
    indexes : list of (id, pandas.Index)
        Each series' sorted time points.
    kind : {"datetime", "period", "int"}

    Returns
    -------
    pandas.DateOffset or int
    """
    for _, idx in indexes:
        found = _declared_freq(idx)
        if found is not None:
            return found
    if kind == "int":
        steps = Counter()
        for _, idx in indexes:
            steps.update(np.diff(idx.to_numpy(dtype=np.int64)).tolist())
        if not steps:
            return 1  # one-point integer series: unit steps
        step = max(steps, key=lambda s: (steps[s], -s))
        if step <= 0:
            raise DataError("Could not infer the step of the integer index; pass freq=.")
        return int(step)
    steps = Counter()
    for _, idx in indexes:
        if len(idx) >= 2:
            steps.update(np.diff(idx.as_unit("ns").asi8).tolist())
    if not steps:
        uid = indexes[0][0]
        raise DataError(
            f"Could not infer the frequency of series {uid!r} (too few points). "
            "Pass freq= (for example freq='h' or freq='ME')."
        )
    # ties go to the smaller step, so a gap never wins against the regular step
    step = pd.Timedelta(max(steps, key=lambda s: (steps[s], -s)), unit="ns")
    return _calendar_offset(step, [idx for _, idx in indexes])


def _calendar_offset(step: pd.Timedelta, indexes: list[pd.DatetimeIndex]) -> Any:
    """Read the most common step as a calendar frequency where the points say so."""
    all_points = indexes[0].append(indexes[1:]) if len(indexes) > 1 else indexes[0]

    def all_on(attribute: str) -> bool:
        return bool(np.all(getattr(all_points, attribute)))

    days = step / _DAY
    if step == _DAY:
        weekend = np.asarray(all_points.day_of_week >= 5)
        return pd.offsets.BusinessDay() if not weekend.any() else pd.offsets.Day()
    if 28 <= days <= 31:
        if all_on("is_month_end"):
            return pd.offsets.MonthEnd()
        if all_on("is_month_start"):
            return pd.offsets.MonthBegin()
    if 89 <= days <= 92:
        if all_on("is_quarter_end"):
            return pd.offsets.QuarterEnd(startingMonth=12)
        if all_on("is_quarter_start"):
            return pd.offsets.QuarterBegin(startingMonth=1)
    if 365 <= days <= 366:
        if all_on("is_year_end"):
            return pd.offsets.YearEnd()
        if all_on("is_year_start"):
            return pd.offsets.YearBegin()
    if step == 7 * _DAY:
        return pd.offsets.Week(weekday=int(all_points[0].day_of_week))
    if days >= 28:
        raise DataError(
            f"The most common step is {step}, which is not a calendar frequency tsssm can "
            "recognise from the timestamps. Pass freq= (for example freq='MS')."
        )
    return pd.tseries.frequencies.to_offset(step)


def regular_grid(start: Any, end: Any, freq: Any, kind: str) -> pd.Index:
    """All grid points from ``start`` to ``end`` (inclusive) at ``freq``."""
    if kind == "int":
        step = int(freq)
        return pd.RangeIndex(int(start), int(end) + step, step)
    if kind == "period":
        return pd.period_range(start=start, end=end, freq=freq)
    return pd.date_range(start=start, end=end, freq=freq)


def grid_points(start: Any, periods: int, freq: Any, kind: str) -> pd.Index:
    """``periods`` grid points from ``start`` at ``freq``."""
    if kind == "int":
        step = int(freq)
        return pd.RangeIndex(int(start), int(start) + periods * step, step)
    if kind == "period":
        return pd.period_range(start=start, periods=periods, freq=freq)
    return pd.date_range(start=start, periods=periods, freq=freq)


def time_coordinate(index: pd.Index, kind: str) -> np.ndarray:
    """Time of each point as int64: nanoseconds since the epoch, or the integer index.

    Subtract a reference point before converting to float: nanoseconds since 1970 do
    not fit a float's 53-bit mantissa exactly.
    """
    if kind == "int":
        return index.to_numpy(dtype=np.int64)
    if kind == "period":
        index = index.to_timestamp()
    return index.as_unit("ns").asi8.astype(np.int64)


def sort_keys(index: pd.Index, kind: str) -> np.ndarray:
    """int64 keys that sort like the time points (time zones and units handled)."""
    if kind == "int":
        return index.to_numpy(dtype=np.int64)
    if kind == "period":
        return index.asi8
    return index.as_unit("ns").asi8


def shift(point: Any, n: int, freq: Any, kind: str) -> Any:
    """The time point ``n`` steps of ``freq`` after ``point`` (before it for ``n < 0``)."""
    if kind == "int":
        return int(point) + n * int(freq)
    return point + n * freq


def positions(index: pd.Index, origin: Any, freq: Any, kind: str, uid: Any = None) -> np.ndarray:
    """Grid positions of ``index`` counted in steps of ``freq`` from ``origin``.

    Parameters
    ----------
    index : pandas.Index
        Time points, in any order.
    origin : Timestamp, Period or int
        Position 0.
    freq : pandas.DateOffset or int
    kind : {"datetime", "period", "int"}
    uid : object, optional
        Series name for error messages.

    Returns
    -------
    numpy.ndarray of int64, shape (len(index),)
        Negative for points before ``origin``.

    Raises
    ------
    DataError
        If a point does not lie on the grid through ``origin``.
    """
    if len(index) == 0:
        return np.zeros(0, dtype=np.int64)
    if kind == "int":
        step = int(freq)
        delta = index.to_numpy(dtype=np.int64) - int(origin)
        if np.any(delta % step):
            bad = index[np.flatnonzero(delta % step)[0]]
            raise DataError(_off_grid(uid, bad, origin, step))
        return delta // step
    lo = min(index.min(), origin)
    hi = max(index.max(), origin)
    grid = regular_grid(lo, hi, freq, kind)
    if kind == "datetime":
        index = index.as_unit(grid.unit)
        origin = pd.Timestamp(origin).as_unit(grid.unit)
    at = grid.get_indexer(index)
    zero = grid.get_indexer([origin])[0]
    if zero < 0 or np.any(at < 0):
        bad = origin if zero < 0 else index[np.flatnonzero(at < 0)[0]]
        raise DataError(_off_grid(uid, bad, origin, freq))
    return (at - zero).astype(np.int64)


def _off_grid(uid: Any, bad: Any, origin: Any, freq: Any) -> str:
    name = getattr(freq, "freqstr", freq)
    who = f"series {uid!r}" if uid is not None else "the data"
    return (
        f"Time point {bad} of {who} is not on the regular grid of frequency '{name}' "
        f"through {origin}. Pass the right freq= or resample the data to a regular grid."
    )
