"""Plots of forecasts, backtests and metrics, returned as matplotlib Figures.

Every function builds its figure with :class:`matplotlib.figure.Figure` rather than
``pyplot``, so nothing is shown, no global figure state is kept, and the functions
work under any backend (Agg on servers and in CI). Notebooks display the returned
Figure; scripts call ``fig.savefig(path)``. Pass ``ax=`` to draw into an existing
axes instead (the Figure that holds it is returned).

Series may be given in any of tsssm's forms (a Series, a wide frame, or a long frame
with ``unique_id`` and ``ds``); ``unique_id=`` picks one series (the first by
default). PeriodIndex times are drawn at their start timestamps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from tsssm._validation import check_int, shorten
from tsssm.exceptions import DataError, DataTypeError, ParameterError

__all__ = ["plot_backtest", "plot_forecast", "plot_metrics"]

_ID, _TIME = "unique_id", "ds"


# ------------------------------------------------------------------ helpers
def _new_axes(ax: Any, figsize: tuple[float, float]) -> tuple[Figure, Any]:
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots()


def _times(values: Any) -> Any:
    """Time values matplotlib can draw (Periods become their start timestamps)."""
    idx = pd.Index(values)
    if isinstance(idx, pd.PeriodIndex):
        return idx.to_timestamp()
    return idx


def _ids_of(obj: pd.Series | pd.DataFrame, id_col: str) -> list[Any]:
    if isinstance(obj, pd.Series):
        return [obj.name]
    if id_col in obj.columns:
        return list(pd.unique(obj[id_col]))
    return list(obj.columns)


def _one_series(obj: Any, unique_id: Any, value_cols: Sequence[str] | None, what: str,
                id_col: str = _ID, time_col: str = _TIME) -> pd.DataFrame:
    """One series of ``obj`` as a frame indexed by time.

    ``value_cols`` None: a Series or wide frame gives its (chosen) column as ``"value"``
    and a long frame its ``"y"``/``"yhat"`` column. Otherwise those columns are kept.
    """
    if isinstance(obj, pd.Series):
        return obj.to_frame("value" if value_cols is None else value_cols[0])
    if not isinstance(obj, pd.DataFrame):
        raise DataTypeError(f"{what} must be a pandas Series or DataFrame. Got "
                            f"{type(obj).__name__}.")
    if id_col in obj.columns and time_col in obj.columns:  # long
        ids = list(pd.unique(obj[id_col]))
        uid = ids[0] if unique_id is None else unique_id
        if uid not in ids:
            raise DataError(f"{what} has no series {uid!r}; it has {shorten(ids)}.")
        rows = obj[obj[id_col] == uid].set_index(time_col)
        if value_cols is None:
            col = next((c for c in ("yhat", "y") if c in rows.columns), None)
            if col is None:
                raise DataError(f"{what} is a long frame without a 'y' or 'yhat' column.")
            return rows[[col]].rename(columns={col: "value"})
        return rows[list(value_cols)]
    if value_cols is not None and all(c in obj.columns for c in value_cols):
        return obj[list(value_cols)]  # time-indexed interval/quantile frame of one series
    cols = list(obj.columns)
    uid = cols[0] if unique_id is None else unique_id
    if uid not in cols:
        raise DataError(f"{what} has no series {uid!r}; it has {shorten(cols)}.")
    return obj[[uid]].rename(columns={uid: "value"})


def _band_columns(frame: pd.DataFrame) -> tuple[str, str] | None:
    """The outermost (lower, upper) columns of an interval or quantile frame."""
    if "lower" in frame.columns and "upper" in frame.columns:
        return "lower", "upper"
    qs = sorted((float(c[1:]), c) for c in frame.columns
                if isinstance(c, str) and c.startswith("q") and _is_float(c[1:]))
    if len(qs) >= 2:
        return qs[0][1], qs[-1][1]
    return None


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ----------------------------------------------------------------- forecasts
def plot_forecast(
    y: pd.Series | pd.DataFrame,
    forecast: pd.Series | pd.DataFrame,
    intervals: pd.DataFrame | None = None,
    history: int | None = None,
    unique_id: Any = None,
    ax: Any = None,
    title: str | None = None,
) -> Figure:
    """Draw a forecast, with an optional prediction band, after its history.

    Parameters
    ----------
    y : pandas.Series or pandas.DataFrame
        The observed data in any tsssm form (Series, wide or long frame).
    forecast : pandas.Series or pandas.DataFrame
        The output of ``predict`` for that data (the same form).
    intervals : pandas.DataFrame or None, default=None
        The output of ``predict_interval`` (``lower``/``upper``) or
        ``predict_quantiles`` (the outermost levels are shaded).
    history : int or None, default=None
        Number of last observations drawn; None draws them all.
    unique_id : object, default=None
        Which series of a wide or long input to draw; None takes the first.
    ax : matplotlib.axes.Axes or None, default=None
        Axes to draw into; None creates a new Figure.
    title : str or None, default=None
        Axes title; None uses the series name.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from tsssm.forecasters import Naive
    >>> y = pd.Series(range(10), dtype=float,
    ...               index=pd.date_range("2024-01-01", periods=10, freq="D"))
    >>> model = Naive().fit(y)
    >>> fig = plot_forecast(y, model.predict(3), model.predict_interval(3))
    >>> type(fig).__name__
    'Figure'
    """
    history = check_int(history, "history", owner="plot_forecast", min_value=1,
                        allow_none=True)
    ids = _ids_of(y, _ID)
    uid = ids[0] if unique_id is None else unique_id
    past = _one_series(y, uid, None, "y")["value"]
    if history is not None:
        past = past.iloc[-history:]
    future = _one_series(forecast, uid, None, "forecast")["value"]
    fig, ax = _new_axes(ax, (9, 3.5))
    ax.plot(_times(past.index), past.to_numpy(), color="black", lw=1.2, label="observed")
    ax.plot(_times(future.index), future.to_numpy(), color="C0", lw=1.5, label="forecast")
    if intervals is not None:
        frame = _one_series(intervals, uid, _band_columns(_interval_columns(intervals)),
                            "intervals")
        lo, hi = frame.columns
        ax.fill_between(_times(frame.index), frame[lo].to_numpy(), frame[hi].to_numpy(),
                        color="C0", alpha=0.2, lw=0, label=f"{lo} - {hi}")
    ax.set_title(title if title is not None else str(uid))
    ax.legend(loc="best", fontsize="small")
    return fig


def _interval_columns(intervals: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(intervals, pd.DataFrame) or _band_columns(intervals) is None:
        raise DataError(
            "intervals must be the output of predict_interval (columns 'lower', 'upper') "
            "or of predict_quantiles (at least two 'q...' columns)."
        )
    return intervals


# ----------------------------------------------------------------- backtests
def plot_backtest(
    result: Any,
    unique_id: Any = None,
    models: Sequence[str] | None = None,
    history: int | None = None,
    ax: Any = None,
) -> Figure:
    """Draw every window's forecasts of each model over the actuals of one series.

    Parameters
    ----------
    result : BacktestResult
        The output of :func:`tsssm.backtest`.
    unique_id : object, default=None
        The series to draw; None takes the first.
    models : sequence of str or None, default=None
        Models to draw; None draws them all.
    history : int or None, default=None
        Observations drawn before the first window's forecasts; None draws
        ``2 * horizon`` of them (at least 24 where the data has them).
    ax : matplotlib.axes.Axes or None, default=None
        Axes to draw into; None creates a new Figure.

    Returns
    -------
    matplotlib.figure.Figure
        Actuals in black, each model in its own colour (one line per window), the
        cutoffs as dotted lines, and ``lower``/``upper`` bands where the backtest
        forecast intervals.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> import tsssm
    >>> y = pd.Series(np.tile([1.0, 2.0, 3.0, 4.0], 10), name="demand",
    ...               index=pd.date_range("2024-01-01", periods=40, freq="D"))
    >>> res = tsssm.backtest([tsssm.Naive(), tsssm.SeasonalNaive(4)], y, horizon=4,
    ...                      n_windows=3, progress=False)
    >>> fig = plot_backtest(res)
    >>> fig.axes[0].get_title()
    'Backtest of demand (horizon 4)'
    """
    history = check_int(history, "history", owner="plot_backtest", min_value=0,
                        allow_none=True)
    fc = result.forecasts
    names = list(result.models) if models is None else list(models)
    unknown = [m for m in names if m not in result.models]
    if unknown:
        raise ParameterError(
            f"Unknown model(s) {unknown} for plot_backtest; the backtest has {result.models}."
        )
    ids = list(pd.unique(result.actuals[_ID]))
    uid = ids[0] if unique_id is None else unique_id
    if uid not in ids:
        raise DataError(f"The backtest has no series {uid!r}; it has {shorten(ids)}.")
    actual = result.actuals[result.actuals[_ID] == uid].set_index(_TIME)["y"]
    mine = fc[fc[_ID] == uid]
    fig, ax = _new_axes(ax, (10, 4))
    if len(mine):
        first = mine[_TIME].min()
        keep = history if history is not None else max(2 * result.horizon, 24)
        pos = int(actual.index.searchsorted(first))
        actual = actual.iloc[max(0, pos - keep):]
    ax.plot(_times(actual.index), actual.to_numpy(), color="black", lw=1.2, label="actual")
    for cut in pd.unique(mine["cutoff"]):
        ax.axvline(_times([cut])[0], color="grey", lw=0.6, ls=":")
    for k, name in enumerate(names):
        rows = mine[mine["model"] == name]
        color = f"C{k % 10}"
        for j, (_, win) in enumerate(rows.groupby("cutoff", sort=True)):
            t = _times(win[_TIME])
            ax.plot(t, win["yhat"].to_numpy(), color=color, lw=1.3,
                    label=name if j == 0 else None)
            if "lower" in win.columns and "upper" in win.columns:
                ax.fill_between(t, win["lower"].to_numpy(), win["upper"].to_numpy(),
                                color=color, alpha=0.15, lw=0)
    ax.set_title(f"Backtest of {uid} (horizon {result.horizon})")
    ax.legend(loc="best", fontsize="small")
    return fig


# ------------------------------------------------------------------- metrics
def plot_metrics(
    result: Any,
    metric: str | None = None,
    ax: Any = None,
) -> Figure:
    """Bar chart comparing the models on one metric (lower is better for all but coverage).

    Parameters
    ----------
    result : BacktestResult or pandas.DataFrame
        A backtest result, or a metrics frame indexed by model (``result.metrics``).
    metric : str or None, default=None
        Column to draw; None takes the first. With a BacktestResult the bars carry
        the standard deviation over series and windows as error bars.
    ax : matplotlib.axes.Axes or None, default=None
        Axes to draw into; None creates a new Figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> import tsssm
    >>> y = pd.Series(np.tile([1.0, 2.0, 3.0, 4.0], 10),
    ...               index=pd.date_range("2024-01-01", periods=40, freq="D"))
    >>> res = tsssm.backtest([tsssm.Naive(), tsssm.SeasonalNaive(4)], y, horizon=4,
    ...                      n_windows=3, metrics=("mae",), progress=False)
    >>> fig = plot_metrics(res, "mae")
    >>> [float(bar.get_height()) for bar in fig.axes[0].patches]  # one bar per model
    [1.5, 0.0]
    """
    per_window = None
    if isinstance(result, pd.DataFrame):
        table = result
    elif hasattr(result, "metrics"):
        table, per_window = result.metrics, result.per_window
    else:
        raise DataTypeError(
            "plot_metrics takes a BacktestResult or a metrics DataFrame indexed by model. "
            f"Got {type(result).__name__}."
        )
    if table.shape[1] == 0:
        raise DataError("There are no metrics to plot (the backtest computed none).")
    metric = table.columns[0] if metric is None else metric
    if metric not in table.columns:
        raise ParameterError(
            f"Unknown metric {metric!r} for plot_metrics; the table has {list(table.columns)}."
        )
    values = table[metric].to_numpy(dtype=np.float64)
    err = None
    if per_window is not None and len(per_window):
        spread = per_window.groupby("model")[metric].std()
        err = spread.reindex(table.index).to_numpy(dtype=np.float64)
    fig, ax = _new_axes(ax, (max(4.0, 1.1 * len(table) + 2), 3.5))
    labels = [str(m) for m in table.index]
    shown = np.where(np.isfinite(values), values, 0.0)  # inf/NaN bars are labelled instead
    bars = ax.bar(labels, shown, yerr=None if err is None else np.nan_to_num(err),
                  color=[f"C{k % 10}" for k in range(len(labels))], capsize=3)
    tops = shown + (0.0 if err is None else np.nan_to_num(err))  # above the error bar
    for bar, v, top in zip(bars, values, tops):
        ax.annotate(f"{v:.3g}", (bar.get_x() + bar.get_width() / 2, top),
                    ha="center", va="bottom", fontsize="small", xytext=(0, 2),
                    textcoords="offset points")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} by model")
    ax.tick_params(axis="x", labelrotation=30 if len(labels) > 4 else 0)
    return fig
