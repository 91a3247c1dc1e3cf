"""Exogenous features: calendar terms from the time index, and leak-free covariate lags.

Feature transformers add columns to a covariate frame ``X`` (and
``inverse_transform`` removes them again). ``X`` comes in the layouts the forecasters
accept for exogenous variables:

* a time-indexed DataFrame, shared by every series of a Series or wide ``y`` (it may
  have no columns at all: calendar features only need its index);
* a long DataFrame with ``id_col``, ``time_col`` and covariate columns;
* a Series (one covariate), returned as a DataFrame with the features added.

Calendar features depend on the time point only, so they are known for any future
horizon. Lags and rolling statistics of covariates use strictly earlier values
(shifted by at least one step), so a feature at time ``t`` never contains the
covariate at ``t`` or later.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from tsssm._validation import check_int, shorten
from tsssm.exceptions import DataError, DataTypeError, ParameterError, ParameterTypeError
from tsssm.preprocessing._time import as_time_index, infer_freq, parse_freq, positions
from tsssm.preprocessing.base import History

__all__ = ["BaseFeatures", "CalendarFeatures", "LagFeatures"]

_CALENDAR = {
    "minute": lambda t: t.minute,
    "hour": lambda t: t.hour,
    "dayofweek": lambda t: t.day_of_week,
    "day": lambda t: t.day,
    "dayofyear": lambda t: t.day_of_year,
    "week": lambda t: t.isocalendar().week.to_numpy(),
    "month": lambda t: t.month,
    "quarter": lambda t: t.quarter,
    "year": lambda t: t.year,
    "is_weekend": lambda t: t.day_of_week >= 5,
    "is_month_start": lambda t: t.is_month_start,
    "is_month_end": lambda t: t.is_month_end,
}
_STATS = {
    "mean": np.mean,
    "std": np.std,
    "min": np.min,
    "max": np.max,
    "median": np.median,
    "sum": np.sum,
}


class BaseFeatures(BaseEstimator):
    """Base class of feature transformers: read ``X``, add columns, drop them again.

    Subclasses implement ``_check_params()``, ``_fit_groups(groups)`` and
    ``_features(group) -> dict of name -> array`` for one series' rows sorted by time,
    and may implement ``_update_groups(groups)``.

    Examples
    --------
    Every feature transformer (here :class:`~tsssm.preprocessing.LagFeatures`) adds its
    columns and removes them again:

    >>> import pandas as pd
    >>> from tsssm.preprocessing import BaseFeatures, LagFeatures
    >>> X = pd.DataFrame({"temp": [1.0, 2.0, 4.0, 8.0]}, index=pd.RangeIndex(4))
    >>> lf = LagFeatures(lags=[1]).fit(X)
    >>> isinstance(lf, BaseFeatures), lf.get_feature_names_out()
    (True, ['temp_lag1'])
    >>> Xt = lf.transform(X)
    >>> Xt["temp_lag1"].tolist()
    [nan, 1.0, 2.0, 4.0]
    >>> list(lf.inverse_transform(Xt).columns)
    ['temp']
    """

    def _needs_freq(self) -> bool:
        """Whether fit needs the frequency (the features count steps)."""
        return False

    def _check_params(self) -> None:
        """Validate parameters."""

    def _fit_groups(self, groups: list[dict]) -> None:
        """Learn from the groups (each: uid, index, frame rows)."""

    def _update_groups(self, groups: list[dict]) -> None:
        """Absorb new rows."""

    def _features(self, group: dict) -> dict[str, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------- public API
    def fit(self, X: pd.Series | pd.DataFrame, *, freq: Any = None,
            id_col: str = "unique_id", time_col: str = "ds", **ignored: Any) -> BaseFeatures:
        """Learn what the features need (the frequency, the covariates' history).

        Parameters
        ----------
        X : pandas.Series or pandas.DataFrame
            Covariates: a time-indexed DataFrame (possibly without columns), a
            Series, or a long DataFrame with ``id_col`` and ``time_col``.
        freq : str, pandas.DateOffset, int or None, default=None
            Frequency of the time index; inferred when None (and needed).
        id_col, time_col : str, default="unique_id", "ds"
            Column names of a long DataFrame.
        **ignored
            ``target_col`` and other keyword arguments of target transformers, accepted
            so that a pipeline can pass the same arguments to every step.

        Returns
        -------
        self
        """
        unknown = set(ignored) - {"target_col"}
        if unknown:
            raise ParameterTypeError(
                f"{type(self).__name__}.fit got unexpected keyword argument(s) "
                f"{sorted(unknown)}."
            )
        self._check_params()
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, name)
        self.id_col_, self.time_col_ = id_col, time_col
        layout, kind, frame, groups = self._read(X, fitted=False)
        self.layout_, self.kind_ = layout, kind
        self.input_columns_ = list(frame.columns)
        if layout == "series":
            self.series_name_ = X.name
        if freq is not None:
            self.freq_ = parse_freq(freq, kind)
        elif self._needs_freq():
            self.freq_ = infer_freq([(g["uid"], g["index"]) for g in groups if len(g["index"])],
                                    kind)
        else:
            self.freq_ = None
        self._fit_groups(groups)
        return self

    def transform(self, X: pd.Series | pd.DataFrame) -> pd.DataFrame:
        """Return ``X`` with the feature columns added (a new DataFrame).

        Parameters
        ----------
        X : pandas.Series or pandas.DataFrame
            Covariates in the layout given to ``fit``, for the training period or
            any later one (a forecast horizon).

        Returns
        -------
        pandas.DataFrame
            ``X`` (a Series becomes a one-column DataFrame) followed by the features.
        """
        check_is_fitted(self)
        _, _, frame, groups = self._read(X, fitted=True)
        columns: dict[str, np.ndarray] = {}
        for g in groups:
            feats = self._features(g)
            for name, values in feats.items():
                if name not in columns:
                    columns[name] = np.full(len(frame), np.nan)
                columns[name][g["rows"]] = values
        clash = [c for c in columns if c in frame.columns]
        if clash:
            raise DataError(
                f"X already has column(s) {shorten(clash)} that {type(self).__name__} "
                "would add. Rename them or drop them first."
            )
        out = frame.copy()
        for name, values in columns.items():
            out[name] = values
        self.feature_names_ = list(columns)
        return out

    def fit_transform(self, X: pd.Series | pd.DataFrame, **fit_params: Any) -> pd.DataFrame:
        """``fit(X, **fit_params)`` then ``transform(X)``."""
        return self.fit(X, **fit_params).transform(X)

    def inverse_transform(self, X: pd.DataFrame) -> pd.Series | pd.DataFrame:
        """Remove the feature columns (a Series fitted on comes back as a Series).

        Parameters
        ----------
        X : pandas.DataFrame
            Output of ``transform``.

        Returns
        -------
        pandas.Series or pandas.DataFrame
        """
        check_is_fitted(self)
        if isinstance(X, pd.Series):
            return X.copy()
        names = set(self.get_feature_names_out())
        out = X[[c for c in X.columns if c not in names]].copy()
        if self.layout_ == "series" and list(out.columns) == [self._series_column()]:
            return out.iloc[:, 0].rename(self.series_name_)
        return out

    def update(self, X_new: pd.Series | pd.DataFrame) -> BaseFeatures:
        """Absorb covariate values that continue those seen so far.

        Parameters
        ----------
        X_new : pandas.Series or pandas.DataFrame
            New rows in the layout given to ``fit``.

        Returns
        -------
        self
        """
        check_is_fitted(self)
        _, _, _, groups = self._read(X_new, fitted=True)
        self._update_groups(groups)
        return self

    def get_feature_names_out(self) -> list[str]:
        """Names of the columns ``transform`` adds."""
        check_is_fitted(self)
        return list(self._feature_names())

    # ----------------------------------------------------------------- helpers
    def _feature_names(self) -> list[str]:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _series_column(self) -> Any:
        return self.series_name_ if self.series_name_ is not None else 0

    def _read(self, X: Any, fitted: bool) -> tuple[str, str, pd.DataFrame, list[dict]]:
        """Layout, index kind, X as a DataFrame, and one group per series.

        Each group is a dict with ``uid``, ``index`` (sorted time points), ``rows``
        (their positions in the frame) and ``frame`` (those rows, sorted by time).
        """
        id_col = self.id_col_ if fitted else getattr(self, "id_col_", "unique_id")
        time_col = self.time_col_ if fitted else getattr(self, "time_col_", "ds")
        if isinstance(X, pd.Series):
            layout = "series"
            frame = X.to_frame(name=X.name if X.name is not None else 0)
        elif isinstance(X, pd.DataFrame):
            layout = "long" if id_col in X.columns and time_col in X.columns else "indexed"
            frame = X
        else:
            raise DataTypeError(
                f"X must be a pandas DataFrame (time-indexed or long with columns "
                f"'{id_col}', '{time_col}') or a Series. Got {type(X).__name__}."
            )
        if fitted and (layout == "long") != (self.layout_ == "long"):
            raise DataError(
                f"{type(self).__name__} was fitted on {self.layout_} X; got {layout} X. "
                "Pass covariates in the same layout."
            )
        if layout == "long":
            kind, ds = as_time_index(frame[time_col], f"Column {time_col!r} of X")
            codes, uniques = pd.factorize(frame[id_col], sort=False)
            by_series = np.argsort(codes, kind="stable")
            bounds = np.concatenate([[0], np.cumsum(np.bincount(codes,
                                                                minlength=len(uniques)))])
            parts = [(uid, by_series[bounds[i]:bounds[i + 1]]) for i, uid in enumerate(uniques)]
        else:
            kind, ds = as_time_index(frame.index, "The index of X")
            parts = [(None, np.arange(len(frame)))]
        groups = []
        for uid, rows in parts:
            index = ds[rows]
            if index.has_duplicates:
                raise DataError(
                    f"X has duplicate time points for series {uid!r}: "
                    f"{index[index.duplicated()][:3].tolist()}."
                )
            if not index.is_monotonic_increasing:
                order = np.asarray(index.argsort(kind="stable"))
                index, rows = index[order], rows[order]
            groups.append({"uid": uid, "index": index, "rows": rows, "frame": frame.iloc[rows]})
        return layout, kind, frame, groups


# --------------------------------------------------------------- calendar
def _check_periods(fourier: Any, owner: str) -> list[tuple[float, int]]:
    if fourier is None:
        return []
    items = list(fourier.items()) if isinstance(fourier, Mapping) else fourier
    bad = ParameterTypeError(
        f"The 'fourier' parameter of {owner} must be a dict {{period: order}} or a "
        f"sequence of (period, order) pairs, e.g. {{24: 3, 168: 2}}. Got {fourier!r}."
    )
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise bad
    out = []
    for item in items:
        if not (isinstance(item, Sequence) and len(item) == 2):
            raise bad
        period, order = item
        if isinstance(period, bool) or not isinstance(period, numbers.Real) or period <= 1:
            raise ParameterError(
                f"Fourier periods of {owner} must be numbers > 1 (in steps). Got {period!r}."
            )
        order = check_int(order, "fourier order", owner=owner, min_value=1)
        if 2 * order > period:
            raise ParameterError(
                f"Fourier order {order} of {owner} is too high for period {period}: terms "
                f"above period / 2 alias lower ones. Use an order <= {int(period // 2)}."
            )
        out.append((float(period), order))
    return out


class CalendarFeatures(BaseFeatures):
    """Calendar features of the time index: hour, day of week, month, holidays, Fourier.

    Parameters
    ----------
    features : sequence of str or None, default=None
        Any of ``"minute"``, ``"hour"``, ``"dayofweek"`` (Monday=0), ``"day"``,
        ``"dayofyear"``, ``"week"`` (ISO), ``"month"``, ``"quarter"``, ``"year"``,
        ``"is_weekend"``, ``"is_month_start"``, ``"is_month_end"``; each becomes one
        float column of that name. None picks by frequency: hour and day of week below
        a day; day of week and month for daily and business-day data; month for weekly
        and monthly data; quarter for quarterly data; nothing otherwise.
    holidays : sequence of dates, or dict of name -> sequence of dates, default=None
        Dates (strings, ``datetime.date``, Timestamps) flagged 1.0 in a column
        ``"holiday"`` (or one column per dict key), for every time point on those
        calendar dates in the index's own time zone.
    fourier : dict of period -> order, or sequence of (period, order), default=None
        Fourier terms ``sin(2 pi k t / P)``, ``cos(2 pi k t / P)`` for ``k = 1..order``,
        with ``t`` counted in steps of the frequency from the first time point seen at
        ``fit`` and ``P`` in steps (``{24: 3}`` for a daily cycle of hourly data).
        Columns ``"sin24_1"``, ``"cos24_1"``, ...

    Attributes
    ----------
    feature_names_ : list of str
        Set by ``transform``: the columns added.
    freq_ : pandas.DateOffset, int or None
        The frequency (given or inferred when needed).

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame(index=pd.date_range("2024-12-24", periods=3, freq="D"))
    >>> cal = CalendarFeatures(features=["dayofweek"], holidays=["2024-12-25"])
    >>> cal.fit_transform(X).values.tolist()
    [[1.0, 0.0], [2.0, 1.0], [3.0, 0.0]]
    """

    def __init__(self, features: Sequence[str] | None = None, holidays: Any = None,
                 fourier: Any = None) -> None:
        self.features = features
        self.holidays = holidays
        self.fourier = fourier

    def _needs_freq(self) -> bool:
        return self.features is None or bool(self.fourier)

    def _check_params(self) -> None:
        owner = type(self).__name__
        if self.features is not None:
            if isinstance(self.features, str) or not isinstance(self.features, Sequence):
                raise ParameterTypeError(
                    f"The 'features' parameter of {owner} must be a list of feature names or "
                    f"None. Got {self.features!r}."
                )
            unknown = [f for f in self.features if f not in _CALENDAR]
            if unknown:
                raise ParameterError(
                    f"Unknown calendar feature(s) {unknown} for {owner}; choose from "
                    f"{list(_CALENDAR)}."
                )
        self._holiday_sets()
        _check_periods(self.fourier, owner)

    def _holiday_sets(self) -> dict[str, set]:
        if self.holidays is None:
            return {}
        named = self.holidays if isinstance(self.holidays, Mapping) \
            else {"holiday": self.holidays}
        out = {}
        for name, dates in named.items():
            if isinstance(dates, str) or not isinstance(dates, (Sequence, pd.Index, np.ndarray)):
                raise ParameterTypeError(
                    f"The 'holidays' parameter of {type(self).__name__} must be a sequence of "
                    f"dates or a dict of name -> dates. Got {dates!r} for {name!r}."
                )
            try:
                days = pd.to_datetime(list(dates))
            except (ValueError, TypeError) as err:
                raise ParameterError(
                    f"The 'holidays' parameter of {type(self).__name__} holds a value that is "
                    f"not a date ({err})."
                ) from None
            if days.tz is not None:
                days = days.tz_localize(None)
            out[str(name)] = set(pd.DatetimeIndex(days).normalize().as_unit("ns").asi8.tolist())
        return out

    def _fit_groups(self, groups: list[dict]) -> None:
        if self.kind_ == "int" and (self._calendar_names() or self.holidays is not None):
            raise DataTypeError(
                "Calendar features and holidays need a DatetimeIndex or PeriodIndex; X has "
                "an integer index. Use fourier= only, or convert the index with "
                "pd.to_datetime."
            )
        starts = [g["index"][0] for g in groups if len(g["index"])]
        self.origin_ = min(starts) if starts else None

    def _calendar_names(self) -> list[str]:
        if self.features is not None:
            return list(self.features)
        freq = self.freq_
        if self.kind_ == "int" or freq is None:
            return []
        probe = pd.Timestamp("2024-01-01")
        step = (probe + freq) - probe
        if step < pd.Timedelta(days=1):
            return ["hour", "dayofweek"]
        if step <= pd.Timedelta(days=3):  # daily and business-day data
            return ["dayofweek", "month"]
        if step <= pd.Timedelta(days=31):
            return ["month"]
        if step <= pd.Timedelta(days=92):
            return ["quarter"]
        return []

    def _feature_names(self) -> list[str]:
        names = self._calendar_names() + list(self._holiday_sets())
        for period, order in _check_periods(self.fourier, type(self).__name__):
            for k in range(1, order + 1):
                names += [f"sin{period:g}_{k}", f"cos{period:g}_{k}"]
        return names

    def _features(self, group: dict) -> dict[str, np.ndarray]:
        index = group["index"]
        out = {}
        times = index.to_timestamp() if self.kind_ == "period" else index
        for name in self._calendar_names():
            out[name] = np.asarray(_CALENDAR[name](times), dtype=np.float64)
        if self.kind_ != "int":
            local = times.tz_localize(None) if getattr(times, "tz", None) is not None else times
            days = pd.DatetimeIndex(local.normalize()).as_unit("ns").asi8
            for name, dates in self._holiday_sets().items():
                out[name] = np.isin(days, list(dates)).astype(np.float64)
        periods = _check_periods(self.fourier, type(self).__name__)
        if periods:
            t = positions(index, self.origin_, self.freq_, self.kind_, group["uid"])
            for period, order in periods:
                phase = 2.0 * np.pi * np.mod(t, period) / period  # reduce t first: exact
                for k in range(1, order + 1):
                    out[f"sin{period:g}_{k}"] = np.sin(k * phase)
                    out[f"cos{period:g}_{k}"] = np.cos(k * phase)
        return out


# ------------------------------------------------------------------- lags
class LagFeatures(BaseFeatures):
    """Lags and rolling statistics of covariates, using only earlier values.

    For each selected column ``c``: ``c_lag{k}`` is the value ``k`` steps earlier
    (``k >= 1``), and ``c_roll{w}_{stat}`` the statistic of the ``w`` values from
    ``w`` steps to one step earlier. A feature is missing where those values are
    unknown (the start of the data); a :class:`TransformedForecaster` drops such
    leading rows before fitting.

    Steps are counted on the regular grid at the frequency, not in rows, so the data
    must be regular (insert missing time points with ``FillGaps`` first). The
    transformer keeps the covariates seen at ``fit`` and ``update``, so features of a
    later period (a forecast horizon) reach back into them.

    Parameters
    ----------
    columns : sequence of str or None, default=None
        Covariates to lag; None means every numeric column except the id and time
        columns.
    lags : int or sequence of int, default=(1,)
        Lags in steps (each >= 1).
    windows : int or sequence of int, default=()
        Rolling window lengths in steps (each >= 1).
    stats : sequence of str, default=("mean",)
        Rolling statistics: any of ``"mean"``, ``"std"`` (ddof=0), ``"min"``,
        ``"max"``, ``"median"``, ``"sum"``.

    Attributes
    ----------
    columns_ : list
        The covariates lagged.
    feature_names_ : list of str
        Set by ``transform``: the columns added.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"temp": [1.0, 2.0, 4.0, 8.0]}, index=pd.RangeIndex(4))
    >>> lf = LagFeatures(lags=[1], windows=[2])
    >>> lf.fit_transform(X)[["temp_lag1", "temp_roll2_mean"]].values.tolist()
    [[nan, nan], [1.0, nan], [2.0, 1.5], [4.0, 3.0]]
    """

    def __init__(self, columns: Sequence[str] | None = None, lags: Any = (1,),
                 windows: Any = (), stats: Sequence[str] = ("mean",)) -> None:
        self.columns = columns
        self.lags = lags
        self.windows = windows
        self.stats = stats

    def _needs_freq(self) -> bool:
        return True

    def _ints(self, value: Any, name: str) -> tuple[int, ...]:
        owner = type(self).__name__
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = (value,)
        if not isinstance(value, Sequence) or isinstance(value, str):
            raise ParameterTypeError(
                f"The '{name}' parameter of {owner} must be an int >= 1 or a sequence of "
                f"them. Got {value!r}."
            )
        return tuple(check_int(v, name, owner=owner, min_value=1) for v in value)

    def _check_params(self) -> None:
        owner = type(self).__name__
        lags, windows = self._ints(self.lags, "lags"), self._ints(self.windows, "windows")
        if not lags and not windows:
            raise ParameterError(f"{owner} needs at least one lag or window.")
        if isinstance(self.stats, str) or not isinstance(self.stats, Sequence):
            raise ParameterTypeError(
                f"The 'stats' parameter of {owner} must be a list of names. Got {self.stats!r}."
            )
        unknown = [s for s in self.stats if s not in _STATS]
        if unknown:
            raise ParameterError(
                f"Unknown rolling statistic(s) {unknown} for {owner}; choose from "
                f"{list(_STATS)}."
            )
        if self.columns is not None and (isinstance(self.columns, str)
                                         or not isinstance(self.columns, Sequence)):
            raise ParameterTypeError(
                f"The 'columns' parameter of {owner} must be a list of column names or "
                f"None. Got {self.columns!r}."
            )

    def _span(self) -> int:
        return max(self._ints(self.lags, "lags") + self._ints(self.windows, "windows"))

    def _fit_groups(self, groups: list[dict]) -> None:
        frame = groups[0]["frame"] if groups else pd.DataFrame()
        keys = {self.id_col_, self.time_col_}
        if self.columns is None:
            cols = [c for c in frame.columns if c not in keys
                    and pd.api.types.is_numeric_dtype(frame[c].dtype)
                    and not pd.api.types.is_bool_dtype(frame[c].dtype)]
            if not cols:
                raise DataError("X has no numeric covariate column for LagFeatures to lag.")
        else:
            cols = list(self.columns)
            missing = [c for c in cols if c not in frame.columns]
            if missing:
                raise DataError(f"X lacks the column(s) {missing} given in columns=.")
        self.columns_ = cols
        self.history_ = {}
        self._update_groups(groups)

    def _values(self, group: dict) -> np.ndarray:
        frame = group["frame"]
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            raise DataError(f"X lacks the covariate column(s) {missing} seen at fit.")
        cols = []
        for c in self.columns_:
            col = frame[c]
            if pd.api.types.is_bool_dtype(col.dtype) or not pd.api.types.is_numeric_dtype(
                    col.dtype):
                raise DataTypeError(f"Covariate {c!r} must be numeric; got dtype {col.dtype}.")
            cols.append(col.to_numpy(dtype=np.float64, na_value=np.nan, copy=True))
        return np.stack(cols, axis=1)

    def _positions(self, group: dict, origin: Any) -> np.ndarray:
        pos = positions(group["index"], origin, self.freq_, self.kind_, group["uid"])
        if len(pos) > 1 and np.any(np.diff(pos) != 1):
            k = int(np.flatnonzero(np.diff(pos) != 1)[0])
            who = "X" if group["uid"] is None else f"series {group['uid']!r} of X"
            raise DataError(
                f"{who} is not regular: {group['index'][k]} is followed by "
                f"{group['index'][k + 1]}. LagFeatures counts steps; insert the missing time "
                "points first (FillGaps)."
            )
        return pos

    def _update_groups(self, groups: list[dict]) -> None:
        history = dict(self.history_)
        for g in groups:
            if len(g["index"]) == 0:
                continue
            hist = history.get(g["uid"])
            if hist is None:
                hist = History(g["index"][0], np.zeros((0, len(self.columns_))))
            else:
                hist = History(hist.origin, hist.values)
            hist.write(self._positions(g, hist.origin), self._values(g))
            history[g["uid"]] = hist
        self.history_ = history

    def _feature_names(self) -> list[str]:
        names = []
        for c in self.columns_:
            names += [f"{c}_lag{k}" for k in self._ints(self.lags, "lags")]
            for w in self._ints(self.windows, "windows"):
                names += [f"{c}_roll{w}_{s}" for s in self.stats]
        return names

    def _features(self, group: dict) -> dict[str, np.ndarray]:
        n = len(group["index"])
        names = self._feature_names()
        if n == 0:
            return {name: np.zeros(0) for name in names}
        hist = self.history_.get(group["uid"])
        if hist is None:
            raise DataError(
                f"Series {group['uid']!r} was not seen when LagFeatures was fitted; it has no "
                "covariate history."
            )
        x = self._values(group)
        pos = self._positions(group, hist.origin)
        span = self._span()
        # the covariates from `span` steps before the first row: the past, where known
        ext = np.concatenate([hist.before(int(pos[0]), span), x], axis=0)  # (span + n, K)
        out = {}
        for j, c in enumerate(self.columns_):
            col = ext[:, j]
            for k in self._ints(self.lags, "lags"):
                out[f"{c}_lag{k}"] = col[span - k: span - k + n]
            for w in self._ints(self.windows, "windows"):
                # row i sees the w values ending one step before it: ext[span+i-w : span+i]
                win = sliding_window_view(col[span - w: span + n - 1], w)  # (n, w)
                for s in self.stats:
                    out[f"{c}_roll{w}_{s}"] = _STATS[s](win, axis=1)
        return out
