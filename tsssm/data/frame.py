"""pandas in and out: turn user data into a :class:`Panel` and forecasts back into pandas.

Three input forms are accepted (see DESIGN.md):

* a ``pd.Series`` indexed by a DatetimeIndex, PeriodIndex or integer index (one series);
* a wide ``pd.DataFrame``: a time index and one column per series;
* a long ``pd.DataFrame`` with columns ``unique_id``, ``ds``, ``y`` (names configurable)
  plus optional exogenous columns.

All checks happen here, at ``fit``, and raise :class:`~tsssm.exceptions.DataError` or
:class:`~tsssm.exceptions.DataTypeError` naming the series or column. The caller's
objects are never modified: every conversion works on copies.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from tsssm._validation import shorten
from tsssm.data.panel import FormSpec, Panel, TimeAxis
from tsssm.exceptions import DataError, DataTypeError

__all__ = [
    "detect_form",
    "future_exog",
    "make_output",
    "to_panel",
    "to_update_panel",
]

_PANDAS_TYPES = (pd.Series, pd.DataFrame)


# ---------------------------------------------------------------------------- forms
def detect_form(y: Any, id_col: str = "unique_id", time_col: str = "ds") -> str:
    """Return ``"series"``, ``"wide"`` or ``"long"`` for ``y``, or raise a TypeError.

    Examples
    --------
    >>> import pandas as pd
    >>> from tsssm.data import detect_form
    >>> y = pd.Series([1.0, 2.0, 3.0])
    >>> detect_form(y), detect_form(y.to_frame("a"))
    ('series', 'wide')
    >>> detect_form(pd.DataFrame({"unique_id": ["a"], "ds": [0], "y": [1.0]}))
    'long'
    """
    if isinstance(y, pd.Series):
        return "series"
    if isinstance(y, pd.DataFrame):
        if id_col in y.columns and time_col in y.columns:
            return "long"
        return "wide"
    raise DataTypeError(
        "y must be a pandas Series, a wide DataFrame (time index, one column per series) "
        f"or a long DataFrame with columns '{id_col}', '{time_col}' and a target. "
        f"Got {type(y).__name__}."
    )


# ---------------------------------------------------------------------- time index
def _time_values(index_like: Any, where: str) -> tuple[str, pd.Index]:
    """Classify a time index (or column) as datetime, period or int; return it as an Index."""
    idx = pd.Index(index_like)
    if isinstance(idx, pd.MultiIndex):
        raise DataTypeError(f"{where} must be a single time index, not a MultiIndex.")
    if isinstance(idx, pd.DatetimeIndex):
        return "datetime", idx
    if isinstance(idx, pd.PeriodIndex):
        return "period", idx
    if pd.api.types.is_integer_dtype(idx.dtype) and not pd.api.types.is_bool_dtype(idx.dtype):
        return "int", idx
    if pd.api.types.is_string_dtype(idx.dtype) or idx.dtype == object:
        sample = idx[:3].tolist()
        if any(isinstance(v, str) for v in sample):
            raise DataTypeError(
                f"{where} holds strings ({sample!r} ...), not timestamps: it must be a "
                "DatetimeIndex, PeriodIndex or integer index. Convert it with "
                "pd.to_datetime first."
            )
        if all(isinstance(v, pd.Timestamp) for v in sample):
            raise DataTypeError(
                f"{where} holds timestamps of mixed time zones (or mixed tz-aware and naive "
                "values). Convert them to one time zone with pd.to_datetime(..., utc=True)."
            )
    raise DataTypeError(
        f"{where} must be a DatetimeIndex, PeriodIndex or integer index; got dtype "
        f"{idx.dtype}."
    )


def parse_freq(freq: Any, kind: str) -> Any:
    """Return ``freq`` as a pandas offset (datetime, period) or a positive int (int)."""
    if kind == "int":
        if isinstance(freq, (int, np.integer)) and not isinstance(freq, bool) and freq > 0:
            return int(freq)
        raise DataError(f"freq for an integer index must be a positive int step. Got {freq!r}.")
    try:
        return pd.tseries.frequencies.to_offset(freq)
    except (ValueError, TypeError) as err:
        raise DataError(f"freq={freq!r} is not a pandas frequency alias: {err}") from None


def _infer_freq(idx: pd.Index, kind: str) -> Any | None:
    """The index's own frequency if it declares or implies one, else None."""
    if kind == "int":
        if len(idx) < 2:
            return None
        steps = np.diff(idx.to_numpy(dtype=np.int64))
        return int(steps[0]) if steps[0] > 0 and np.all(steps == steps[0]) else None
    if getattr(idx, "freq", None) is not None:
        return idx.freq
    if len(idx) < 3:
        return None
    try:
        with warnings.catch_warnings():
            # pandas 3 warns that infer_freq will return an offset instead of a string;
            # to_offset below accepts either, so both behaviours are handled.
            warnings.simplefilter("ignore")
            alias = pd.infer_freq(idx)
    except (TypeError, ValueError):
        return None
    return None if alias is None else pd.tseries.frequencies.to_offset(alias)


def _common_freq(indexes: list[tuple[Any, pd.Index]], kind: str,
                 problems: dict | None = None) -> Any | None:
    """The one frequency all series share; DataError naming the odd ones if they differ.

    With ``problems`` (skip mode), the most common frequency wins and the series with
    another one are recorded there instead of raising.
    """
    first = next((_infer_freq(idx, kind) for _, idx in indexes if len(idx) >= 3), None)
    if first is None:
        first = next((f for _, idx in indexes if (f := _infer_freq(idx, kind)) is not None),
                     None)
    if first is None or len(indexes) == 1:
        return first
    # Fast path for the common case: every series steps by one and the same duration.
    if kind in ("datetime", "int") and isinstance(first, (int, pd.offsets.Tick)):
        step = first if kind == "int" else pd.Timedelta(first).value
        if all(len(idx) < 2 or np.all(np.diff(_as_int64(idx, kind)) == step)
               for _, idx in indexes):
            return first
    freqs = [(uid, _infer_freq(idx, kind)) for uid, idx in indexes]
    groups: dict[str, list] = {}
    for uid, f in freqs:
        if f is not None:
            groups.setdefault(str(f) if isinstance(f, int) else f.freqstr, []).append(uid)
    ranked = sorted(groups.items(), key=lambda kv: -len(kv[1]))
    if len(groups) > 1:
        listed = "; ".join(f"'{k}' for {shorten(v)}" for k, v in ranked)
        message = (f"Series have mixed frequencies: {listed}. Give all series one frequency "
                   "(resample them) or fit them separately.")
        if problems is None:
            raise DataError(message)
        for _, uids in ranked[1:]:
            for uid in uids:
                problems[uid] = message
    winner = ranked[0][0]
    return next(f for _, f in freqs if f is not None and
                (str(f) if isinstance(f, int) else f.freqstr) == winner)


def _as_int64(idx: pd.Index, kind: str) -> np.ndarray:
    """Time points as int64: nanoseconds for datetimes (whatever the index's unit), period
    ordinals for periods, the values for integer indexes."""
    if kind == "datetime":
        return idx.as_unit("ns").asi8
    return idx.asi8 if kind == "period" else idx.to_numpy(dtype=np.int64)


class _Label(str):
    """A name for error messages that is not a series id (printed without quotes)."""


_SHARED_INDEX = _Label("the index of y")


def _what(uid: Any) -> str:
    return str(uid) if isinstance(uid, _Label) else f"series {uid!r}"


def _check_grid(idx: pd.Index, axis: TimeAxis, uid: Any) -> None:
    """Raise if ``idx`` is not exactly the regular grid of ``axis`` from its first point."""
    if len(idx) < 2:
        return
    got = _as_int64(idx, axis.kind)
    if axis.kind == "int" or (axis.kind == "datetime" and
                              isinstance(axis.freq, pd.offsets.Tick)):
        # Fixed-size steps: comparing differences avoids building the grid.
        step = int(axis.freq) if axis.kind == "int" else pd.Timedelta(axis.freq).value
        if np.all(np.diff(got) == step):
            return
    expected = axis.grid(idx[0], len(idx))
    want = _as_int64(expected, axis.kind)
    if not np.array_equal(want, got):
        bad = int(np.argmax(want != got))
        raise DataError(
            f"{_what(uid).capitalize()} is not regular at frequency '{axis.freq_str}': expected "
            f"{expected[bad]} at position {bad}, got {idx[bad]}. Fill the gaps (for example "
            "with tsssm.preprocessing.FillGaps) or pass the right freq=."
        )


def _resolve_axis(indexes: list[tuple[Any, pd.Index]], kind: str, freq: Any,
                  problems: dict | None = None) -> TimeAxis:
    """Find one frequency for all series (user's ``freq`` first) and check every grid.

    With ``problems`` (skip mode), series off the grid are recorded there, not raised.
    """
    tz = None
    if kind == "datetime":
        tzs = {str(idx.tz) for _, idx in indexes}
        if len(tzs) > 1:
            raise DataError(f"Series have different time zones {sorted(tzs)}; use one.")
        tz = indexes[0][1].tz
    if freq is not None:
        if kind == "period":
            off = parse_freq(freq, kind)
            own = indexes[0][1].freq
            if own is not None and own != off:
                raise DataError(
                    f"freq={freq!r} does not match the PeriodIndex frequency '{own.freqstr}'."
                )
        axis = TimeAxis(kind, parse_freq(freq, kind), tz)
    else:
        found = _common_freq(indexes, kind, problems)
        if found is None:
            if kind == "int":
                found = 1  # integer positions of one-point series: a unit step
            else:
                raise DataError(
                    f"Could not infer the frequency of {_what(indexes[0][0])} (too few "
                    "points, or irregular timestamps: gaps must be filled first, for example "
                    "with tsssm.preprocessing.FillGaps). Pass freq= (for example freq='h' "
                    "or freq='ME')."
                )
        axis = TimeAxis(kind, found, tz)
    for uid, idx in indexes:
        if problems is not None and uid in problems:
            continue
        _guarded(problems, uid, _check_grid, idx, axis, uid)
    return axis


def _guarded(problems: dict | None, uid: Any, check, *args) -> None:
    """Run a per-series check; in skip mode record its DataError instead of raising."""
    if problems is None:
        check(*args)
        return
    try:
        check(*args)
    except DataError as err:
        problems.setdefault(uid, str(err))


# ------------------------------------------------------------------- value checks
def _check_target(values: np.ndarray, uid: Any, allow_nan: bool, owner: str) -> None:
    if np.isinf(values).any():
        raise DataError(
            f"Series {uid!r} contains infinite values; {owner} needs finite targets."
        )
    if not allow_nan and np.isnan(values).any():
        n = int(np.isnan(values).sum())
        raise DataError(
            f"Series {uid!r} contains {n} missing value(s) (NaN); {owner} does not handle "
            "missing values. Impute them first (for example with tsssm.preprocessing.Imputer)."
        )


def _numeric(col: pd.Series, what: str) -> np.ndarray:
    if pd.api.types.is_bool_dtype(col.dtype) or not pd.api.types.is_numeric_dtype(col.dtype):
        raise DataTypeError(
            f"{what} must be numeric; got dtype {col.dtype}. Convert it with pd.to_numeric."
        )
    return col.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)


def _check_duplicates(idx: pd.Index, uid: Any) -> None:
    if idx.has_duplicates:
        dups = idx[idx.duplicated()].unique()[:3].tolist()
        raise DataError(
            f"Series {uid!r} has duplicate timestamps {dups}. Aggregate or drop them first."
        )


# ------------------------------------------------------------------ to_panel
def to_panel(
    y: Any,
    X: Any = None,
    *,
    freq: Any = None,
    allow_nan: bool = False,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    owner: str = "this estimator",
    on_invalid: str = "raise",
) -> Panel:
    """Validate user data and convert it to a :class:`Panel`.

    Parameters
    ----------
    y : pandas.Series or pandas.DataFrame
        One series, a wide frame or a long frame (see module docstring).
    X : pandas.DataFrame or None, default=None
        Exogenous variables: indexed like ``y`` for Series and wide inputs (shared by all
        columns); for long inputs a long frame with ``id_col``, ``time_col`` and the
        variables (they may also be extra columns of ``y`` itself).
    freq : str, pandas.DateOffset, int or None, default=None
        Frequency of the time index; inferred when None.
    allow_nan : bool, default=False
        Whether the caller handles missing targets.
    id_col, time_col, target_col : str
        Column names of the long form.
    owner : str
        Name used in error messages (the estimator's class name).
    on_invalid : {"raise", "skip"}, default="raise"
        What to do with a long frame's series that fail a per-series check (missing or
        infinite values, duplicate or irregular timestamps, an odd frequency): raise, or
        leave them out and list them with their reasons in ``Panel.skipped``.

    Returns
    -------
    Panel

    Examples
    --------
    >>> import pandas as pd
    >>> from tsssm.data import to_panel
    >>> wide = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]},
    ...                     index=pd.date_range("2024-01-01", periods=3, freq="D"))
    >>> panel = to_panel(wide)
    >>> panel.n_series, panel.ids.tolist(), panel.indptr.tolist(), panel.axis.freq_str
    (2, ['a', 'b'], [0, 3, 6], 'D')
    >>> panel.values(1).tolist()
    [4.0, 5.0, 6.0]
    """
    form = detect_form(y, id_col, time_col)
    if len(y) == 0 or (form == "wide" and y.shape[1] == 0):
        raise DataError("y is empty: it has no observations.")
    if form == "long":
        return _long_to_panel(y, X, freq, allow_nan, id_col, time_col, target_col, owner,
                              on_invalid)
    return _indexed_to_panel(y, X, form, freq, allow_nan, owner)


def _indexed_to_panel(y, X, form, freq, allow_nan, owner) -> Panel:
    kind, idx = _time_values(y.index, "The index of y")
    order = np.argsort(np.asarray(idx), kind="stable") if not idx.is_monotonic_increasing \
        else None
    if order is not None:  # sort a copy, never the caller's object
        y = y.iloc[order]
        idx = idx[order]
    if form == "series":
        frame = y.to_frame(name=y.name if y.name is not None else 0)
        spec = FormSpec("series", name=y.name, index_name=y.index.name)
    else:
        if y.columns.has_duplicates:
            raise DataError(
                f"y has duplicate column names {shorten(y.columns[y.columns.duplicated()])}; "
                "each column is one series and needs a unique name."
            )
        frame = y
        spec = FormSpec("wide", columns=y.columns.copy(), index_name=y.index.name)
    _check_duplicates(idx, "y" if form == "series" else "(the shared index of y)")

    ids, blocks, series_idx = [], [], []
    for k, col in enumerate(frame.columns):
        uid = col if form == "wide" else (y.name if y.name is not None else "y")
        what = f"Series {uid!r}" if form == "series" else f"Column {col!r} of y"
        vals = _numeric(frame.iloc[:, k], what)
        if form == "wide":
            # A wide frame's series may start later than others: drop its leading NaNs.
            ok = np.flatnonzero(~np.isnan(vals))
            if len(ok) == 0:
                raise DataError(f"Column {col!r} of y has no observed values.")
            vals = vals[ok[0]:]
            sidx = idx[ok[0]:]
        else:
            sidx = idx
        ids.append(uid)
        blocks.append(vals)
        series_idx.append((uid, sidx))
    # The shared index must be regular: checked once, and named as such in errors.
    axis = _resolve_axis([(_SHARED_INDEX, idx)], kind, freq)
    for (uid, _), vals in zip(series_idx, blocks):
        _check_target(vals, uid, allow_nan, owner)

    Xarr, names = None, ()
    if X is not None:
        Xframe = _exog_frame(X, "X")
        Xframe = _align_exog(Xframe, idx, "the index of y", "X must cover every timestamp of y.")
        names = tuple(str(c) for c in Xframe.columns)
        full = _exog_values(Xframe)
        Xarr = np.concatenate(
            [full[len(idx) - len(v):] for v in blocks], axis=0
        )
    lengths = [len(v) for v in blocks]
    ids_arr = np.empty(len(ids), dtype=object)
    ids_arr[:] = ids
    return Panel(
        ids=ids_arr,
        y=np.concatenate(blocks),
        indptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        starts=[s[0] for _, s in series_idx],
        axis=axis,
        spec=spec,
        X=Xarr,
        exog_names=names,
    )


def _long_to_panel(y, X, freq, allow_nan, id_col, time_col, target_col, owner,
                   on_invalid="raise") -> Panel:
    missing = [c for c in (id_col, time_col, target_col) if c not in y.columns]
    if missing:
        raise DataError(
            f"The long DataFrame y lacks column(s) {missing}; it has {list(y.columns)[:10]}. "
            "Pass id_col=, time_col=, target_col= if your columns are named differently."
        )
    if y[id_col].isna().any():
        raise DataError(f"Column {id_col!r} of y contains missing ids.")
    kind, ds = _time_values(y[time_col], f"Column {time_col!r} of y")
    if ds.hasnans:
        raise DataError(f"Column {time_col!r} of y contains missing timestamps.")
    vals_all = _numeric(y[target_col], f"Column {target_col!r} of y")
    codes, uniques = pd.factorize(y[id_col], sort=False)  # ids in order of first appearance
    keys = ds.asi8 if kind in ("datetime", "period") else ds.to_numpy(dtype=np.int64)
    order = np.lexsort((keys, codes))  # sort a copy by (series, time)
    codes, ds, vals_all = codes[order], ds[order], vals_all[order]
    counts = np.bincount(codes, minlength=len(uniques))
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    exog_cols = [c for c in y.columns if c not in (id_col, time_col, target_col)]
    Xarr, names = None, ()
    if exog_cols and X is not None:
        raise DataError(
            f"Exogenous variables were given twice: as extra columns of y {exog_cols[:5]} "
            "and as X. Pass them one way."
        )
    if exog_cols:
        names = tuple(str(c) for c in exog_cols)
        Xarr = _exog_values(y[exog_cols])[order]
    elif X is not None:
        Xlong = _exog_frame(X, "X")
        for c in (id_col, time_col):
            if c not in Xlong.columns:
                raise DataError(f"The long exogenous frame X lacks column {c!r}.")
        names = tuple(str(c) for c in Xlong.columns if c not in (id_col, time_col))
        keyed = Xlong.set_index([id_col, time_col])
        wanted = pd.MultiIndex.from_arrays([uniques.take(codes), ds])
        missing_rows = ~wanted.isin(keyed.index)
        if missing_rows.any():
            first = wanted[missing_rows][0]
            raise DataError(
                f"X has no row for series {first[0]!r} at {first[1]} "
                f"({int(missing_rows.sum())} rows missing)."
            )
        Xarr = _exog_values(keyed.loc[wanted, list(names)])

    problems = {} if on_invalid == "skip" else None
    per_series, starts = [], []
    ids_arr = np.empty(len(uniques), dtype=object)
    ids_arr[:] = list(uniques)
    for i, uid in enumerate(ids_arr):
        sidx = ds[indptr[i] : indptr[i + 1]]
        _guarded(problems, uid, _check_duplicates, sidx, uid)
        if problems is None or uid not in problems:
            per_series.append((uid, sidx))
        starts.append(sidx[0])
    if not per_series:
        raise DataError(f"No valid series left: {next(iter(problems.values()))}")
    axis = _resolve_axis(per_series, kind, freq, problems)
    for i, uid in enumerate(ids_arr):
        _guarded(problems, uid, _check_target, vals_all[indptr[i] : indptr[i + 1]], uid,
                 allow_nan, owner)
    spec = FormSpec(
        "long", id_col=id_col, time_col=time_col, target_col=target_col,
        id_dtype=y[id_col].dtype,
    )
    panel = Panel(ids_arr, vals_all, indptr, starts, axis, spec, Xarr, names)
    if problems:
        keep = [i for i, uid in enumerate(ids_arr) if uid not in problems]
        if not keep:
            raise DataError(f"No valid series left: {next(iter(problems.values()))}")
        panel = replace(panel.select(keep), skipped=dict(problems))
    return panel


# ------------------------------------------------------------------- exogenous
def _exog_frame(X: Any, what: str) -> pd.DataFrame:
    if isinstance(X, pd.Series):
        return X.to_frame()
    if not isinstance(X, pd.DataFrame):
        raise DataTypeError(f"{what} must be a pandas DataFrame or None. Got {type(X).__name__}.")
    return X


def _exog_values(frame: pd.DataFrame) -> np.ndarray:
    cols = []
    for c in frame.columns:
        col = _numeric(frame[c], f"Exogenous column {c!r}")
        if not np.isfinite(col).all():
            raise DataError(f"Exogenous column {c!r} contains NaN or infinite values.")
        cols.append(col)
    return np.stack(cols, axis=1) if cols else np.zeros((len(frame), 0))


def _align_exog(Xframe: pd.DataFrame, idx: pd.Index, what: str, fix: str) -> pd.DataFrame:
    _, xidx = _time_values(Xframe.index, "The index of X")
    if xidx.has_duplicates:
        raise DataError("The index of X has duplicate timestamps.")
    missing = idx.difference(xidx)
    if len(missing):
        raise DataError(
            f"X has no rows for {len(missing)} time point(s) of {what}, first {missing[0]}. "
            f"{fix}"
        )
    return Xframe.loc[idx]


def future_exog(panel: Panel, h: int, X: Any) -> np.ndarray | None:
    """Exogenous values for the ``h`` steps after each series' end, shape (S, h, K).

    Raises a DataError when the model was fitted with exogenous variables and ``X``
    lacks future rows or columns, or when ``X`` is given to a model fitted without.

    Examples
    --------
    >>> import pandas as pd
    >>> from tsssm.data import future_exog, to_panel
    >>> days = pd.date_range("2024-01-01", periods=5, freq="D")
    >>> X = pd.DataFrame({"temp": [10.0, 11.0, 12.0, 13.0, 14.0]}, index=days)
    >>> panel = to_panel(pd.Series([1.0, 2.0, 3.0], index=days[:3]), X.iloc[:3])
    >>> future_exog(panel, 2, X)[0, :, 0].tolist()  # series 0, the 2 steps after its end
    [13.0, 14.0]
    """
    if not panel.exog_names:
        if X is not None:
            raise DataError("X was given to predict, but the model was fitted without X.")
        return None
    if X is None:
        raise DataError(
            f"The model was fitted with exogenous variables {list(panel.exog_names)[:5]}; "
            f"predict needs their future values for the next {h} steps: pass X=."
        )
    Xframe = _exog_frame(X, "X")
    spec = panel.spec
    keys = [c for c in Xframe.columns if c not in (spec.id_col, spec.time_col)] \
        if spec.form == "long" else list(Xframe.columns)
    names = [str(c) for c in keys]
    lacking = [n for n in panel.exog_names if n not in names]
    if lacking:
        raise DataError(f"X lacks the exogenous column(s) {lacking} seen at fit.")
    rename = dict(zip(keys, names))
    Xframe = Xframe.rename(columns=rename)
    out = np.empty((panel.n_series, h, len(panel.exog_names)))
    if spec.form == "long":
        keyed = Xframe.set_index([spec.id_col, spec.time_col])
        for i, uid in enumerate(panel.ids):
            fut = panel.future_index(i, h)
            wanted = pd.MultiIndex.from_arrays([[uid] * h, fut])
            missing = ~wanted.isin(keyed.index)
            if missing.any():
                raise DataError(
                    f"X lacks future rows for series {uid!r}: first missing {fut[missing][0]} "
                    f"(needs the {h} steps after {panel.last_time(i)})."
                )
            out[i] = _exog_values(keyed.loc[wanted, list(panel.exog_names)])
        return out
    for i in range(panel.n_series):
        fut = panel.future_index(i, h)
        aligned = _align_exog(
            Xframe, fut, f"the {h} steps to forecast",
            f"Pass X with the {h} rows after the end of y, from {fut[0]} to {fut[-1]}.",
        )
        out[i] = _exog_values(aligned[list(panel.exog_names)])
    return out


# ------------------------------------------------------------------- updates
def to_update_panel(panel: Panel, y_new: Any, X_new: Any = None, *, allow_nan: bool = False,
                    owner: str = "this estimator") -> Panel:
    """Convert new observations to a Panel and check they continue ``panel``.

    Every series in ``y_new`` must be known and start exactly one step after its end.

    Examples
    --------
    >>> import pandas as pd
    >>> from tsssm.data import to_panel, to_update_panel
    >>> y = pd.Series([1.0, 2.0, 3.0], index=pd.date_range("2024-01-01", periods=3, freq="D"))
    >>> panel = to_panel(y)
    >>> new = to_update_panel(panel, pd.Series([4.0], index=[pd.Timestamp("2024-01-04")]))
    >>> str(new.starts[0]), new.y.tolist()
    ('2024-01-04 00:00:00', [4.0])
    >>> to_update_panel(panel, pd.Series([4.0], index=[pd.Timestamp("2024-01-05")]))
    Traceback (most recent call last):
    ...
    tsssm.exceptions.DataError: New data for series 'y' must start at 2024-01-04 00:00:00, ...
    """
    spec = panel.spec
    form = detect_form(y_new, spec.id_col, spec.time_col)
    if form != spec.form:
        raise DataError(f"update expects y in the form given to fit ({spec.form}); got {form}.")
    new = to_panel(
        y_new, X_new, freq=panel.axis.freq if panel.axis.kind != "period" else None,
        allow_nan=allow_nan,
        id_col=spec.id_col, time_col=spec.time_col, target_col=spec.target_col, owner=owner,
    ) if len(y_new) >= 1 else None
    if new is None:
        raise DataError("update got no new observations.")
    known = {uid: i for i, uid in enumerate(panel.ids)}
    for k, uid in enumerate(new.ids):
        if uid not in known:
            raise DataError(f"update got series {uid!r}, which was not seen at fit.")
        i = known[uid]
        expected = panel.axis.shift(panel.last_time(i), 1)
        if new.starts[k] != expected:
            raise DataError(
                f"New data for series {uid!r} must start at {expected}, right after the data "
                f"seen so far; it starts at {new.starts[k]}."
            )
        _check_target(new.values(k), uid, allow_nan, owner)
    if tuple(new.exog_names) != tuple(panel.exog_names):
        raise DataError(
            f"update needs the same exogenous columns as fit {list(panel.exog_names)}; "
            f"got {list(new.exog_names)}."
        )
    return new


# -------------------------------------------------------------------- outputs
def make_output(panel: Panel, h: int, columns: dict[str, np.ndarray],
                point: bool = True) -> pd.Series | pd.DataFrame:
    """Turn per-series forecasts into the user's form.

    Parameters
    ----------
    panel : Panel
        The fitted data (ids, ends and form).
    h : int
        Forecast horizon.
    columns : dict of str to numpy.ndarray of shape (S, h)
        Output columns, e.g. ``{"yhat": ...}`` or ``{"q0.1": ..., "q0.9": ...}``.
    point : bool, default=True
        True for point forecasts, which mirror the input form exactly (Series in, Series
        out; wide in, wide out). Quantile and interval frames are indexed by time for a
        Series input and long otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tsssm.data import make_output, to_panel
    >>> wide = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]},
    ...                     index=pd.date_range("2024-01-01", periods=3, freq="D"))
    >>> panel = to_panel(wide)
    >>> make_output(panel, 2, {"yhat": np.array([[3.0, 3.0], [6.0, 6.0]])})  # (S, h)
                  a    b
    2024-01-04  3.0  6.0
    2024-01-05  3.0  6.0
    >>> bands = make_output(panel, 2, {"lower": np.zeros((2, 2)), "upper": np.ones((2, 2))},
    ...                     point=False)
    >>> bands.columns.tolist(), len(bands)
    (['unique_id', 'ds', 'lower', 'upper'], 4)
    """
    spec = panel.spec
    if spec.form == "series" or (spec.form == "wide" and point):
        index = panel.future_index(0, h)
        index.name = spec.index_name
        if spec.form == "series":
            if point:
                return pd.Series(columns["yhat"][0], index=index, name=spec.name)
            return pd.DataFrame({k: v[0] for k, v in columns.items()}, index=index)
        if any(panel.last_time(i) != panel.last_time(0) for i in range(panel.n_series)):
            raise DataError("Wide output needs all series to end at the same time point.")
        data = columns["yhat"].T  # (h, S)
        return pd.DataFrame(data, index=index, columns=spec.columns.copy())
    id_col = spec.id_col if spec.form == "long" else "unique_id"
    time_col = spec.time_col if spec.form == "long" else "ds"
    ids = np.repeat(panel.ids, h)
    times = [panel.future_index(i, h) for i in range(panel.n_series)]
    ds = times[0].append(times[1:]) if len(times) > 1 else times[0]
    frame = {id_col: pd.Series(ids, dtype=object), time_col: pd.Series(ds)}
    for k, v in columns.items():
        frame[k] = np.asarray(v, dtype=np.float64).reshape(-1)
    out = pd.DataFrame(frame)
    if spec.id_dtype is not None:
        try:
            out[id_col] = out[id_col].astype(spec.id_dtype)
        except (TypeError, ValueError):
            pass  # ids that cannot take the original dtype stay as objects
    return out


# ----------------------------------------------------------- panel -> pandas
def to_long(panel: Panel, *, id_col: str = "unique_id", time_col: str = "ds",
            target_col: str = "y") -> pd.DataFrame:
    """Return the panel as a long DataFrame: ``id_col, time_col, target_col`` + exogenous.

    Used where code must hand data back to an estimator's public ``fit`` (backtests,
    pipelines) in one uniform form.
    """
    times = [panel.time_index(i) for i in range(panel.n_series)]
    ds = times[0].append(times[1:]) if len(times) > 1 else times[0]
    frame = {
        id_col: pd.Series(np.repeat(panel.ids, panel.lengths), dtype=object),
        time_col: pd.Series(ds),
        target_col: panel.y.copy(),
    }
    for k, name in enumerate(panel.exog_names):
        frame[name] = panel.X[:, k].copy()
    return pd.DataFrame(frame)


def to_pandas(panel: Panel) -> pd.Series | pd.DataFrame:
    """Return the panel in the form the user gave (Series, wide or long DataFrame).

    Exogenous variables are dropped for Series and wide forms (they travel separately
    as ``X`` there) and kept as extra columns of the long form.
    """
    spec = panel.spec
    if spec.form == "long":
        out = to_long(panel, id_col=spec.id_col, time_col=spec.time_col,
                      target_col=spec.target_col)
        if spec.id_dtype is not None:
            try:
                out[spec.id_col] = out[spec.id_col].astype(spec.id_dtype)
            except (TypeError, ValueError):
                pass
        return out
    if spec.form == "series":
        idx = panel.time_index(0)
        idx.name = spec.index_name
        return pd.Series(panel.values(0).copy(), index=idx, name=spec.name)
    series = {
        col: pd.Series(panel.values(i).copy(), index=panel.time_index(i))
        for i, col in enumerate(spec.columns)
    }
    out = pd.DataFrame(series)
    out.index.name = spec.index_name
    return out
