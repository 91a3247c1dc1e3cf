"""Rolling-origin backtests: fit, forecast and score many models over many windows.

A backtest cuts every series at a sequence of *cutoffs* (the last observation a
model may see), asks each model for ``horizon`` steps after each cutoff and scores
them against what really happened. Three ideas shape this module:

* **Windows are placed per series, relative to its end** (statsforecast's
  convention): window ``w`` of series ``i`` ends its training data at position
  ``n_i - horizon - (n_windows - 1 - w) * step``, so the last window's forecasts end
  exactly at the last observation. ``start=`` instead fixes the first cutoff (a time
  point or a position) and adds windows every ``step`` until the data runs out.
* **No future value reaches a model.** A model is fitted on ``panel.head(n)`` (the
  observations up to the cutoff) and only ever updated with the observations
  between two consecutive cutoffs; the future is touched only to score the
  forecasts (and, for exogenous variables, to read their assumed-known future values).
* **Models are driven through their public API** (``fit``/``predict``/``update`` on a
  long DataFrame, see :func:`tsssm.data.to_long`), so anything that follows the tsssm
  estimator contract can be backtested, and the caller's estimators are cloned,
  never modified.

Metrics follow the M4 convention: each metric is computed per series and window,
then averaged over all of them (see :mod:`tsssm.metrics`).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from tqdm import tqdm

from tsssm._validation import (
    check_bool,
    check_coverage,
    check_horizon,
    check_int,
    check_option,
    check_quantiles,
    shorten,
)
from tsssm.data import Panel, to_long, to_panel
from tsssm.exceptions import DataError, ParameterError, ParameterTypeError
from tsssm.forecasters.base import quantile_column
from tsssm.metrics import Metric, get_metric

__all__ = ["BacktestResult", "backtest"]

# Column names of the long frames handed to the models. They are the defaults of
# fit/predict and of the neural forecasters' fine_tune(y, X, epochs), which take no
# column-name arguments.
_ID, _TIME, _TARGET = "unique_id", "ds", "y"

_FORECAST_COLS = ["model", "cutoff", _ID, _TIME, "y", "yhat"]
_ERROR_COLS = ["model", "window", "cutoff", _ID, "stage", "error", "message"]


# --------------------------------------------------------------------------- result
@dataclass(repr=False)
class BacktestResult:
    """What a backtest produced: forecasts, per-window scores and their averages.

    Attributes
    ----------
    forecasts : pandas.DataFrame
        Long frame, one row per model, window, series and forecast step, with columns
        ``model, cutoff, unique_id, ds, y, yhat`` (``y`` the observed value), plus
        ``"q0.1", ...`` when quantiles were asked for and ``lower, upper`` when a
        coverage was. The id and time columns are always called ``unique_id`` and
        ``ds``, whatever the input's column names.
    per_window : pandas.DataFrame
        One row per model, series and window: ``model, unique_id, window, cutoff`` and
        one column per metric. ``window`` counts from 0 for each series' first window.
    metrics : pandas.DataFrame
        Indexed by model name (in the order given), one column per metric: the mean of
        ``per_window`` over every series and window the model forecast (the M4
        convention). NaN values (a scaled error of 0/0) are skipped; ``inf`` stays.
    errors : pandas.DataFrame
        One row per failure recorded under ``errors="report"``: ``model, window,
        cutoff, unique_id, stage, error, message``. ``unique_id`` is None where a
        whole window failed (``stage`` "fit", "update", "fine_tune" or "predict"),
        and ``cutoff`` is None where the window's series have different cutoffs.
        Series of a long ``y`` that failed the data checks (missing or infinite
        values, duplicate or irregular timestamps) are left out of the backtest and
        listed once per model with ``stage`` "data" and ``window`` None.
    counts : pandas.DataFrame
        Indexed by model: ``scored`` (series-windows with metrics) and ``failed``
        (series-windows lost to errors).
    actuals : pandas.DataFrame
        The whole input as a long frame ``unique_id, ds, y`` (what plots draw).
    horizon : int
        Forecast horizon.
    season_length : int
        Season length used by the scaled errors.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> import tsssm
    >>> y = pd.Series(np.tile([1.0, 2.0, 3.0, 4.0], 10),
    ...               index=pd.date_range("2024-01-01", periods=40, freq="D"))
    >>> res = tsssm.backtest([tsssm.Naive(), tsssm.SeasonalNaive(4)], y, horizon=4,
    ...                      n_windows=3, metrics=("mae",), progress=False)
    >>> res.metrics["mae"].to_dict()
    {'Naive': 1.5, 'SeasonalNaive': 0.0}
    >>> res.forecasts.columns.tolist(), len(res.forecasts)  # 2 models x 3 windows x 4 steps
    (['model', 'cutoff', 'unique_id', 'ds', 'y', 'yhat'], 24)
    """

    forecasts: pd.DataFrame
    per_window: pd.DataFrame
    metrics: pd.DataFrame
    errors: pd.DataFrame
    counts: pd.DataFrame
    actuals: pd.DataFrame
    horizon: int
    season_length: int = 1
    models: list[str] = field(default_factory=list)

    def plot(self, unique_id: Any = None, models: Sequence[str] | None = None,
             history: int | None = None, ax: Any = None) -> Any:
        """Draw each model's forecasts, window by window, over the actuals of one series.

        See :func:`tsssm.plotting.plot_backtest` for the parameters.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from tsssm.plotting import plot_backtest

        return plot_backtest(self, unique_id=unique_id, models=models, history=history, ax=ax)

    def plot_metrics(self, metric: str | None = None, ax: Any = None) -> Any:
        """Bar chart of one metric across models (see :func:`tsssm.plotting.plot_metrics`).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from tsssm.plotting import plot_metrics

        return plot_metrics(self, metric=metric, ax=ax)

    def __repr__(self) -> str:
        n_series = self.per_window[_ID].nunique() if len(self.per_window) else 0
        n_windows = self.per_window["window"].nunique() if len(self.per_window) else 0
        head = (
            f"BacktestResult(models={self.models}, series={n_series}, "
            f"windows={n_windows}, horizon={self.horizon}, failures={len(self.errors)})"
        )
        if self.metrics.shape[1] == 0:
            return head
        with pd.option_context("display.width", 100, "display.max_columns", 20):
            return f"{head}\n{self.metrics.to_string(float_format=lambda v: f'{v:.4g}')}"


# ---------------------------------------------------------------------- windows
@dataclass(frozen=True)
class _Window:
    """One forecast origin: which series take part and how much each may see.

    ``n_train[k]`` is the number of observations of series ``active[k]`` up to and
    including its cutoff, i.e. the position of its first forecast step.
    """

    index: int
    active: np.ndarray  # (S_w,) positions of the series in the panel
    n_train: np.ndarray  # (S_w,)


def _end_windows(panel: Panel, horizon: int, n_windows: int, step: int,
                 min_train: int) -> list[_Window]:
    """Windows placed from each series' end (statsforecast's convention)."""
    lengths = panel.lengths
    need = horizon + (n_windows - 1) * step + min_train
    short = panel.ids[lengths < need]
    if len(short):
        raise DataError(
            f"Series {shorten(short)} are too short for horizon={horizon} and "
            f"n_windows={n_windows} (need at least {need} observations). Drop them or "
            "reduce n_windows."
        )
    active = np.arange(panel.n_series)
    return [
        _Window(w, active, lengths - horizon - (n_windows - 1 - w) * step)
        for w in range(n_windows)
    ]


def _start_positions(panel: Panel, start: Any) -> np.ndarray:
    """Position of the first cutoff in every series (-1 where it precedes the series)."""
    if isinstance(start, (int, np.integer)) and not isinstance(start, bool):
        start = check_int(start, "start", owner="backtest", min_value=0)
        return np.full(panel.n_series, start, dtype=np.int64)
    kind = panel.axis.kind
    try:
        if kind == "period":
            point = pd.Period(start, freq=panel.axis.freq)
        elif kind == "datetime":
            point = pd.Timestamp(start)
            if panel.axis.tz is not None and point.tz is None:
                point = point.tz_localize(panel.axis.tz)
            elif panel.axis.tz is None and point.tz is not None:
                raise TypeError("the data's timestamps have no time zone")
        else:
            raise TypeError("an integer-indexed series takes an int position")
    except (TypeError, ValueError) as err:
        raise ParameterTypeError(
            f"The 'start' parameter of backtest must be an int position or a time point "
            f"matching the data's {kind} index. Got {start!r} ({err})."
        ) from None
    # The cutoff is the last observation at or before ``start``.
    return np.array([
        int(panel.time_index(i).searchsorted(point, side="right")) - 1
        for i in range(panel.n_series)
    ], dtype=np.int64)


def _start_windows(panel: Panel, horizon: int, n_windows: int | None, step: int,
                   start: Any, min_train: int) -> list[_Window]:
    """Windows from a fixed first cutoff, every ``step``, while a full horizon fits."""
    first = _start_positions(panel, start) + 1  # training length of the first window
    lengths = panel.lengths
    short = panel.ids[first < min_train]
    if len(short):
        raise DataError(
            f"Series {shorten(short)} have fewer than {min_train} observations up to "
            f"start={start!r}, the least the first window needs. Drop them or choose a "
            "later start."
        )
    count = np.where(lengths - first >= horizon, (lengths - first - horizon) // step + 1, 0)
    none = panel.ids[count == 0]
    if len(none):
        raise DataError(
            f"Series {shorten(none)} end less than horizon={horizon} steps after "
            f"start={start!r}, so they have no complete window. Drop them or choose an "
            "earlier start."
        )
    if n_windows is not None:
        count = np.minimum(count, n_windows)
    windows = []
    for w in range(int(count.max())):
        active = np.flatnonzero(count > w)
        windows.append(_Window(w, active, first[active] + w * step))
    return windows


# ----------------------------------------------------------------- data slices
def _slice(panel: Panel, active: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> Panel:
    """Observations ``lo[k]:hi[k]`` of series ``active[k]`` (all counts >= 1)."""
    return panel.select(active).head(hi).tail(hi - lo)


def _long(panel: Panel, with_target: bool = True) -> pd.DataFrame:
    frame = to_long(panel, id_col=_ID, time_col=_TIME, target_col=_TARGET)
    return frame if with_target else frame.drop(columns=_TARGET)


# ---------------------------------------------------------------- one model run
@dataclass(frozen=True)
class _Config:
    """Everything a worker needs besides the model and the windows (picklable)."""

    horizon: int
    window: str
    train_size: int | None
    metrics: tuple[Metric, ...]
    season_length: int
    quantiles: tuple[float, ...] | None
    coverage: float | None
    raise_errors: bool


@dataclass
class _Chunk:
    """The output of one task: forecasts, scores and failures of some windows."""

    name: str
    n_windows: int = 0
    forecasts: list[pd.DataFrame] = field(default_factory=list)
    scores: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    failed: int = 0  # series-windows lost

    def fail(self, panel: Panel, window: _Window, stage: str, err: Exception,
             uid: Any = None) -> None:
        cut = None
        if uid is None:
            cuts = {_cutoff(panel, i, n) for i, n in zip(window.active, window.n_train)}
            cut = cuts.pop() if len(cuts) == 1 else None
            self.failed += len(window.active)
        else:
            k = int(np.flatnonzero(panel.ids[window.active] == uid)[0])
            cut = _cutoff(panel, window.active[k], window.n_train[k])
            self.failed += 1
        self.errors.append({
            "model": self.name, "window": window.index, "cutoff": cut, _ID: uid,
            "stage": stage, "error": type(err).__name__, "message": str(err),
        })


def _cutoff(panel: Panel, i: int, n_train: int) -> Any:
    return panel.axis.shift(panel.starts[i], int(n_train) - 1)


def _train_bounds(window: _Window, cfg: _Config) -> np.ndarray:
    """First training position of each active series (0 for expanding windows)."""
    if cfg.window == "sliding":
        return window.n_train - cfg.train_size
    return np.zeros_like(window.n_train)


def _fit_fresh(est: Any, panel: Panel, window: _Window, cfg: _Config) -> Any:
    model = clone(est)
    train = _long(_slice(panel, window.active, _train_bounds(window, cfg), window.n_train))
    model.fit(train, freq=panel.axis.freq)
    return model


def _predict_blocks(model: Any, panel: Panel, seen: dict[int, int],
                    cfg: _Config) -> dict[str, dict]:
    """The model's forecasts from its current state, split by series (see _blocks)."""
    h = cfg.horizon
    Xf = None
    if panel.exog_names:
        held = np.array(sorted(seen))
        ends = np.array([seen[i] for i in held])
        Xf = _long(_slice(panel, held, ends, ends + h), with_target=False)
    preds = {"yhat": model.predict(h, X=Xf)}
    if cfg.quantiles is not None:
        preds["q"] = model.predict_quantiles(h, quantiles=cfg.quantiles, X=Xf)
    if cfg.coverage is not None:
        preds["iv"] = model.predict_interval(h, coverage=cfg.coverage, X=Xf)
    return {key: _blocks(frame, h) for key, frame in preds.items()}


def _rolling_blocks(model: Any, panel: Panel, windows: list[_Window],
                    cfg: _Config) -> list[dict[str, dict]] | None:
    """refit=False fast path: the forecasts of all ``windows`` from one fitted model.

    An estimator with a ``_rolling_forecasts(panel, cutoffs, horizon, quantiles)``
    method (the neural forecasters) forecasts from every cutoff in one batched pass,
    with the numbers ``update`` + ``predict`` would give, and returns
    ``(point (W, S, h), quantiles (W, S, h, Q) or None)`` or None where it cannot
    (then the update/predict loop runs). Returns one ``blocks`` dict per window, as
    :func:`_predict_blocks` would build it.
    """
    rolling = getattr(model, "_rolling_forecasts", None)
    active = windows[0].active
    if rolling is None or cfg.coverage is not None or any(
            not np.array_equal(w.active, active) for w in windows):
        return None
    cutoffs = np.stack([w.n_train for w in windows])  # (W, S)
    out = rolling(panel.select(active), cutoffs, cfg.horizon, cfg.quantiles)
    if out is None:
        return None
    point, quant = out
    qcols = [quantile_column(q) for q in cfg.quantiles] if cfg.quantiles else []
    result = []
    for k, w in enumerate(windows):
        blocks: dict[str, dict] = {"yhat": {}, "q": {}}
        for j, i in enumerate(active):
            first = panel.axis.shift(panel.starts[i], int(w.n_train[j]))
            blocks["yhat"][panel.ids[i]] = (first, {"yhat": point[k, j]})
            if quant is not None:
                blocks["q"][panel.ids[i]] = (first, {c: quant[k, j, :, m]
                                                     for m, c in enumerate(qcols)})
        result.append(blocks)
    return result


def _try_rolling(model: Any, panel: Panel, windows: list[_Window], pos: int,
                 cfg: _Config) -> dict[int, dict]:
    """Precomputed forecasts of ``windows[pos:]`` by window position ({} if none).

    A failure of the fast path is a bug, but not a reason to lose the backtest: it is
    reported as a warning (raised under errors="raise") and the update/predict loop
    runs instead.
    """
    try:
        blocks = _rolling_blocks(model, panel, windows[pos:], cfg)
    except Exception as err:
        if cfg.raise_errors:
            raise
        warnings.warn(f"Batched rolling forecasts failed ({type(err).__name__}: {err}); "
                      "falling back to update and predict per window.", RuntimeWarning,
                      stacklevel=2)
        return {}
    return {} if blocks is None else dict(enumerate(blocks, start=pos))


def _forecast_window(model: Any, panel: Panel, window: _Window, seen: dict[int, int],
                     cfg: _Config, chunk: _Chunk, blocks: dict | None = None) -> None:
    """Predict ``horizon`` steps after each series' cutoff, score and store them.

    ``seen`` maps every series the model holds to the number of observations it has
    seen (the model forecasts all of them; only the window's active series are kept).
    ``blocks``: this window's forecasts computed beforehand (:func:`_rolling_blocks`)
    instead of asking the model.
    """
    h = cfg.horizon
    if blocks is None:
        try:
            blocks = _predict_blocks(model, panel, seen, cfg)
        except Exception as err:
            if cfg.raise_errors:
                raise
            chunk.fail(panel, window, "predict", err)
            return

    qcols = [quantile_column(q) for q in cfg.quantiles] if cfg.quantiles else []
    train_lo = _train_bounds(window, cfg)
    cols: dict[str, list] = {}  # the window's forecast columns, series after series
    times, cuts, uids = [], [], []
    for k, i in enumerate(window.active):
        uid, n = panel.ids[i], int(window.n_train[k])
        first = panel.axis.shift(panel.starts[i], n)  # the first forecast step
        try:
            out = {"yhat": _take(blocks["yhat"], uid, "yhat", first, h)}
            for c in qcols:
                out[c] = _take(blocks["q"], uid, c, first, h)
            if cfg.coverage is not None:
                out["lower"] = _take(blocks["iv"], uid, "lower", first, h)
                out["upper"] = _take(blocks["iv"], uid, "upper", first, h)
            y_all = panel.values(i)
            out = {"y": y_all[n : n + h], **out}
            scores = _score(cfg, out, qcols, y_all[int(train_lo[k]) : n])
        except Exception as err:
            if cfg.raise_errors:
                raise
            chunk.fail(panel, window, "score", err, uid=uid)
            continue
        cut = _cutoff(panel, i, n)
        chunk.scores.append({"model": chunk.name, _ID: uid, "window": window.index,
                             "cutoff": cut, **scores})
        times.append(panel.axis.grid(first, h))
        cuts.append(cut)
        uids.append(uid)
        for c, v in out.items():
            cols.setdefault(c, []).append(v)
    if not uids:
        return
    repeat = np.full(len(uids), h)
    ids = np.empty(len(uids), dtype=object)
    ids[:] = uids
    cut_arr = np.empty(len(cuts), dtype=object)
    cut_arr[:] = cuts
    frame = {"model": chunk.name,
             "cutoff": pd.Series(cut_arr.repeat(repeat)).infer_objects(),
             _ID: pd.Series(ids.repeat(repeat), dtype=object),
             _TIME: pd.Series(times[0].append(times[1:]) if len(times) > 1 else times[0])}
    frame.update({c: np.concatenate(v) for c, v in cols.items()})
    frame["window"] = window.index
    chunk.forecasts.append(pd.DataFrame(frame))


def _blocks(frame: pd.Series | pd.DataFrame, h: int) -> dict[Any, tuple[Any, dict]]:
    """Split a long prediction frame into ``{id: (first time, {column: (h,) array})}``."""
    if isinstance(frame, pd.Series) or _ID not in frame.columns:
        raise DataError(
            "The model returned forecasts that are not a long DataFrame with a "
            f"'{_ID}' column although it was fitted on one. It does not follow the tsssm "
            "estimator contract (predict must mirror the form of y)."
        )
    ids = frame[_ID].to_numpy()
    times = frame[_TIME]
    values = {c: frame[c].to_numpy(dtype=np.float64) for c in frame.columns
              if c not in (_ID, _TIME)}
    return {ids[s]: (times.iloc[s], {c: v[s : s + h] for c, v in values.items()})
            for s in range(0, len(frame), h)}


def _take(blocks: dict, uid: Any, col: str, first: Any, h: int) -> np.ndarray:
    """Column ``col`` of series ``uid``'s forecasts, checked to start at ``first``."""
    block = blocks.get(uid)
    if block is None:
        raise DataError(f"The model returned no forecasts for series {uid!r}.")
    start, values = block
    if start != first:
        raise DataError(
            f"The model's forecasts for series {uid!r} start at {start}, not at {first}, "
            "the step after the cutoff."
        )
    if len(values[col]) != h:
        raise DataError(f"The model returned {len(values[col])} steps for series {uid!r}, "
                        f"not {h}.")
    return values[col]


def _score(cfg: _Config, out: dict[str, np.ndarray], qcols: list[str],
           train: np.ndarray) -> dict[str, float]:
    yq = np.stack([out[c] for c in qcols], axis=-1) if qcols else None
    return {
        m.name: m(out["y"], out["yhat"], y_train=train, season_length=cfg.season_length,
                  y_quantiles=yq, quantiles=cfg.quantiles, lower=out.get("lower"),
                  upper=out.get("upper"))
        for m in cfg.metrics
    }


def _run_window(name: str, est: Any, panel: Panel, window: _Window, cfg: _Config) -> _Chunk:
    """refit=True: a fresh clone fitted on this window's training data alone."""
    chunk = _Chunk(name, n_windows=1)
    try:
        model = _fit_fresh(est, panel, window, cfg)
    except Exception as err:
        if cfg.raise_errors:
            raise
        chunk.fail(panel, window, "fit", err)
        return chunk
    seen = {int(i): int(n) for i, n in zip(window.active, window.n_train)}
    _forecast_window(model, panel, window, seen, cfg, chunk)
    return chunk


def _run_chain(name: str, est: Any, panel: Panel, windows: list[_Window], cfg: _Config,
               refit_every: int | None) -> _Chunk:
    """refit=False or refit=k: fit once, then update between cutoffs (refit every k).

    After a failed fit, update or fine-tune the model state is not trusted: the next
    window starts again from a fresh clone fitted on its own training data.
    """
    chunk = _Chunk(name, n_windows=len(windows))
    model, seen = None, {}
    fast: dict[int, dict] = {}  # refit=False: precomputed forecasts by window position
    for pos, window in enumerate(windows):
        refit = refit_every is not None and window.index % refit_every == 0
        stage = "fit"
        try:
            if model is None:
                model = _fit_fresh(est, panel, window, cfg)
                if refit_every is None:
                    fast = _try_rolling(model, panel, windows, pos, cfg)
            elif pos in fast:
                stage = "batched"  # forecast already: replaces update + predict
            elif refit and hasattr(model, "fine_tune"):
                stage = "fine_tune"  # warm start from the current weights
                train = _slice(panel, window.active, _train_bounds(window, cfg),
                               window.n_train)
                model.fine_tune(_long(train), X=None, epochs=None)
            elif refit:
                model = _fit_fresh(est, panel, window, cfg)
            else:
                stage = "update"
                lo = np.array([seen[int(i)] for i in window.active])
                model.update(_long(_slice(panel, window.active, lo, window.n_train)))
        except Exception as err:
            if cfg.raise_errors:
                raise
            chunk.fail(panel, window, stage, err)
            model, seen, fast = None, {}, {}
            continue
        if stage != "update":
            # A (re)fit or fine-tune holds exactly this window's series.
            seen = {}
        seen.update({int(i): int(n) for i, n in zip(window.active, window.n_train)})
        _forecast_window(model, panel, window, seen, cfg, chunk, fast.pop(pos, None))
    return chunk


def _skipped_chunk(name: str, skipped: dict[Any, str]) -> _Chunk:
    """The error rows of the series the data checks left out (``errors="report"``)."""
    chunk = _Chunk(name)
    for uid, reason in skipped.items():
        chunk.errors.append({"model": name, "window": None, "cutoff": None, _ID: uid,
                             "stage": "data", "error": "DataError", "message": reason})
    return chunk


# ------------------------------------------------------------------ validation
def _name_models(models: Any) -> dict[str, Any]:
    """``{name: estimator}`` from a list (class names made unique) or a dict."""
    if isinstance(models, Mapping):
        items = list(models.items())
        for name, _ in items:
            if not isinstance(name, str):
                raise ParameterTypeError(
                    f"The keys of the 'models' dict of backtest must be str names. Got "
                    f"{name!r} ({type(name).__name__})."
                )
    else:
        if hasattr(models, "fit"):
            models = [models]  # one estimator on its own
        if not isinstance(models, Iterable) or isinstance(models, (str, bytes)):
            raise ParameterTypeError(
                "The 'models' parameter of backtest must be a list of estimators or a dict "
                f"name -> estimator. Got {type(models).__name__}."
            )
        items, used = [], {}
        for est in models:
            base = type(est).__name__
            used[base] = used.get(base, 0) + 1
            items.append((base if used[base] == 1 else f"{base}_{used[base]}", est))
    if not items:
        raise ParameterError("The 'models' parameter of backtest is empty. Pass at least one.")
    for name, est in items:
        if not all(callable(getattr(est, a, None)) for a in ("fit", "predict", "get_params")):
            raise ParameterTypeError(
                f"Model {name!r} passed to backtest is not a tsssm estimator (it needs fit, "
                f"predict and get_params). Got {type(est).__name__}."
            )
    return dict(items)


def _check_model_params(models: dict[str, Any]) -> int:
    """Validate hyperparameters up front; return the longest minimum training length.

    A bad hyperparameter would fail every window, so it raises at once whatever
    ``errors`` says.
    """
    need = 1
    for est in models.values():
        probe = clone(est)
        if hasattr(probe, "_check_params"):
            probe._check_params()
        if hasattr(probe, "_min_length"):
            need = max(need, int(probe._min_length()))
    return need


def _check_metrics(metrics: Any, quantiles: Any, coverage: Any) -> tuple[Metric, ...]:
    if isinstance(metrics, (str, Metric)):
        metrics = (metrics,)
    if metrics is None:
        metrics = ()
    out = tuple(get_metric(m) for m in metrics)
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise ParameterError(f"The 'metrics' parameter of backtest repeats names: {names}.")
    for m in out:
        if getattr(m, "needs_quantiles", False) and quantiles is None:
            raise ParameterError(
                f"The metric '{m.name}' scores quantile forecasts: pass quantiles= to "
                "backtest (for example quantiles=(0.1, 0.5, 0.9))."
            )
        if getattr(m, "needs_interval", False) and coverage is None:
            raise ParameterError(
                f"The metric '{m.name}' scores prediction intervals: pass coverage= to "
                "backtest (for example coverage=0.8)."
            )
    return out


def _check_refit(refit: Any) -> int | None:
    """``refit`` as "refit every k windows" (None: never after the first)."""
    if isinstance(refit, (bool, np.bool_)):
        return 1 if refit else None
    return check_int(refit, "refit", owner="backtest", min_value=1)


# ---------------------------------------------------------------------- backtest
def backtest(
    models: Any,
    y: pd.Series | pd.DataFrame,
    horizon: int,
    n_windows: int | None = None,
    step: int | None = None,
    start: Any = None,
    window: str = "expanding",
    train_size: int | None = None,
    refit: bool | int = True,
    metrics: Sequence[str | Metric] = ("mae", "rmse", "smape", "mase"),
    season_length: int = 1,
    n_jobs: int | None = 1,
    errors: str = "report",
    X: pd.DataFrame | None = None,
    freq: Any = None,
    quantiles: Sequence[float] | None = None,
    coverage: float | None = None,
    progress: bool = True,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
) -> BacktestResult:
    """Evaluate forecasters on rolling forecast origins (time-series cross-validation).

    Parameters
    ----------
    models : list of estimators or dict of str to estimator
        The forecasters. A list names them after their class, made unique
        (``"ARIMA"``, ``"ARIMA_2"``, ...); a dict gives the names. They are cloned
        (``sklearn.base.clone``) and never modified. Hyperparameters are checked at once.
    y : pandas.Series or pandas.DataFrame
        One series, a wide frame or a long frame (see :func:`tsssm.data.to_panel`).
        Missing targets are not accepted (impute them first).
    horizon : int
        Steps forecast after each cutoff (>= 1).
    n_windows : int or None, default=None
        Number of forecast windows. Without ``start``, windows are placed from each
        series' end: window ``w`` (0-based) of a series of length ``n`` trains on its
        first ``n - horizon - (n_windows - 1 - w) * step`` observations, so the last
        window ends at the last observation (None means 1). With ``start``, None takes
        every window that fits and an int caps their number (the earliest are kept).
    step : int or None, default=None
        Steps between consecutive cutoffs; None means ``horizon`` (windows that tile
        the end of the series without overlapping).
    start : int, str, pandas.Timestamp, pandas.Period or None, default=None
        The first cutoff (last training observation): an int is a 0-based position
        within each series (also for integer-indexed data), anything else a time
        point, the cutoff then being each series' last observation at or before it.
        Windows follow every ``step`` while a full horizon of data remains, so
        series of different lengths may have different numbers of windows.
    window : {"expanding", "sliding"}, default="expanding"
        "expanding" trains on everything up to the cutoff; "sliding" on the last
        ``train_size`` observations.
    train_size : int or None, default=None
        Training length of sliding windows (required for them, not allowed otherwise).
    refit : bool or int, default=True
        True fits a fresh clone in every window (windows run in parallel). False fits
        once, on the first window's training data, then calls ``update`` with the
        observations between consecutive cutoffs; with sliding windows the model keeps
        everything it was updated with (no re-windowing). An int ``k`` refits every
        ``k`` windows and updates in between; there, a model with a
        ``fine_tune(y, X=None, epochs=None)`` method (the neural forecasters) is
        fine-tuned from its current weights instead of refitted from scratch.
    metrics : sequence of str or Metric, default=("mae", "rmse", "smape", "mase")
        Names from :data:`tsssm.metrics.METRICS`. Scaled errors (mase, rmsse) use the
        window's own training data; quantile metrics (pinball, crps) need
        ``quantiles``; interval metrics (coverage, interval_width) need ``coverage``.
    season_length : int, default=1
        Season length of the scaled errors' naive scale.
    n_jobs : int or None, default=1
        joblib workers. With ``refit=True`` every (model, window) pair is a task;
        otherwise each model's windows form one sequential chain and models run in
        parallel. None means 1, -1 all cores.
    errors : {"report", "raise"}, default="report"
        "report" records a model's failure in a window in ``result.errors`` and goes
        on (metrics then average the windows that succeeded); it also leaves out the
        series of a long ``y`` that fail the data checks and lists them there (stage
        "data"), so one malformed series among thousands is not fatal. "raise"
        re-raises, and raises on the first malformed series.
    X : pandas.DataFrame or None, default=None
        Exogenous variables, as for ``fit``. Their values after each cutoff are
        treated as known in advance and passed to ``predict``.
    freq : str, pandas.DateOffset, int or None, default=None
        Frequency of the time index; inferred when None.
    quantiles : sequence of float or None, default=None
        Levels to forecast with ``predict_quantiles`` (adds ``"q0.1"``... columns).
    coverage : float or None, default=None
        Nominal coverage of ``predict_interval`` (adds ``lower`` and ``upper``).
    progress : bool, default=True
        Show a progress bar on stderr.
    id_col, time_col, target_col : str, default="unique_id", "ds", "y"
        Column names of a long ``y``.

    Returns
    -------
    BacktestResult
        Forecasts, per-window scores, their averages per model and any failures.

    Raises
    ------
    DataError
        If a series is too short for the windows asked for (the message names it).
    ParameterError, ParameterTypeError
        If a parameter (of backtest or of a model) is invalid.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from tsssm.forecasters import Naive, SeasonalNaive
    >>> y = pd.Series(np.tile([1.0, 2.0, 3.0, 4.0], 6),
    ...               index=pd.date_range("2024-01-01", periods=24, freq="D"))
    >>> res = backtest([Naive(), SeasonalNaive(season_length=4)], y, horizon=4,
    ...                n_windows=3, metrics=("mae",), progress=False)
    >>> res.metrics["mae"].round(3).tolist()
    [1.5, 0.0]
    """
    named = _name_models(models)
    horizon = check_horizon(horizon, "horizon")
    step = horizon if step is None else check_int(step, "step", owner="backtest", min_value=1)
    n_windows = check_int(n_windows, "n_windows", owner="backtest", min_value=1,
                          allow_none=True)
    if n_windows is None and start is None:
        n_windows = 1
    window = check_option(window, "window", ("expanding", "sliding"), owner="backtest")
    if window == "sliding":
        if train_size is None:
            raise ParameterError(
                "window='sliding' needs train_size=, the number of observations each "
                "window trains on."
            )
        train_size = check_int(train_size, "train_size", owner="backtest", min_value=1)
    elif train_size is not None:
        raise ParameterError(
            f"train_size={train_size!r} is only used with window='sliding'; expanding "
            "windows train on all data up to the cutoff. Drop train_size or set "
            "window='sliding'."
        )
    refit_every = _check_refit(refit)
    season_length = check_int(season_length, "season_length", owner="backtest", min_value=1)
    n_jobs = 1 if n_jobs is None else check_int(n_jobs, "n_jobs", owner="backtest")
    if n_jobs == 0:
        raise ParameterError("The 'n_jobs' parameter of backtest must not be 0. Got 0.")
    errors = check_option(errors, "errors", ("report", "raise"), owner="backtest")
    quantiles = None if quantiles is None else check_quantiles(quantiles)
    coverage = None if coverage is None else check_coverage(coverage)
    progress = check_bool(progress, "progress", owner="backtest")
    metric_objs = _check_metrics(metrics, quantiles, coverage)

    min_train = _check_model_params(named)
    if window == "sliding":
        min_train = max(min_train, train_size)
    if any(m.needs_train for m in metric_objs):
        min_train = max(min_train, season_length + 1)  # the naive scale needs a lag

    panel = to_panel(y, X, freq=freq, id_col=id_col, time_col=time_col,
                     target_col=target_col, owner="backtest",
                     on_invalid="skip" if errors == "report" else "raise")
    clash = [c for c in panel.exog_names if c in (_ID, _TIME, _TARGET)]
    if clash:
        raise DataError(
            f"Exogenous column(s) {clash} clash with the names backtest uses for ids, "
            "times and targets. Rename them."
        )
    if start is None:
        windows = _end_windows(panel, horizon, n_windows, step, min_train)
    else:
        windows = _start_windows(panel, horizon, n_windows, step, start, min_train)

    cfg = _Config(horizon, window, train_size, metric_objs, season_length, quantiles,
                  coverage, errors == "raise")
    if refit_every == 1:
        tasks = [delayed(_run_window)(name, est, panel, w, cfg)
                 for name, est in named.items() for w in windows]
    else:
        tasks = [delayed(_run_chain)(name, est, panel, windows, cfg, refit_every)
                 for name, est in named.items()]
    chunks = [_skipped_chunk(name, panel.skipped) for name in named] if panel.skipped else []
    total = len(named) * len(windows)
    with tqdm(total=total, desc="backtest", unit="window", file=sys.stderr,
              disable=not progress, leave=False) as bar:
        for chunk in Parallel(n_jobs=n_jobs, return_as="generator")(tasks):
            chunks.append(chunk)
            bar.update(chunk.n_windows)
    return _assemble(chunks, list(named), panel, cfg, quantiles, coverage)


def _assemble(chunks: list[_Chunk], names: list[str], panel: Panel, cfg: _Config,
              quantiles: tuple[float, ...] | None, coverage: float | None) -> BacktestResult:
    """Gather the workers' chunks into the result frames, in a deterministic order.

    joblib may finish tasks in any order: rows are sorted by model (as given), series
    (as in the input), window, then forecast step.
    """
    extra = [quantile_column(q) for q in quantiles] if quantiles else []
    if coverage is not None:
        extra += ["lower", "upper"]
    frames = [f for c in chunks for f in c.forecasts]
    forecasts = (pd.concat(frames, ignore_index=True) if frames
                 else pd.DataFrame(columns=[*_FORECAST_COLS, "window", *extra]))
    metric_names = [m.name for m in cfg.metrics]
    per_window = pd.DataFrame([s for c in chunks for s in c.scores],
                              columns=["model", _ID, "window", "cutoff", *metric_names])
    errors = pd.DataFrame([e for c in chunks for e in c.errors], columns=_ERROR_COLS)

    model_rank = {n: k for k, n in enumerate(names)}
    series_rank = {uid: k for k, uid in enumerate(panel.ids)}

    def ordered(frame: pd.DataFrame, series: bool) -> pd.DataFrame:
        rank = pd.DataFrame({
            "m": frame["model"].map(model_rank).to_numpy(),
            "s": frame[_ID].map(series_rank).fillna(-1).to_numpy() if series else 0,
            "w": frame["window"].to_numpy(),
            "row": np.arange(len(frame)),  # keeps the steps of a window in time order
        })
        return frame.iloc[rank.sort_values(["m", "s", "w", "row"]).index].reset_index(
            drop=True)

    forecasts = ordered(forecasts, True).drop(columns="window")
    per_window = ordered(per_window, True)
    errors = ordered(errors, False)

    metrics = (per_window.groupby("model", sort=False)[metric_names].mean()
               if metric_names else pd.DataFrame(index=pd.Index([], name="model")))
    metrics = metrics.reindex(pd.Index(names, name="model"))
    scored = per_window["model"].value_counts()
    failed = dict.fromkeys(names, 0)
    for c in chunks:
        failed[c.name] += c.failed
    counts = pd.DataFrame({
        "scored": [int(scored.get(n, 0)) for n in names],
        "failed": [failed[n] for n in names],
    }, index=pd.Index(names, name="model"))
    actuals = _long(panel)[[_ID, _TIME, _TARGET]]
    return BacktestResult(forecasts=forecasts, per_window=per_window, metrics=metrics,
                          errors=errors, counts=counts, actuals=actuals,
                          horizon=cfg.horizon, season_length=cfg.season_length,
                          models=names)
