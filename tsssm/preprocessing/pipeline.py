"""A forecaster that preprocesses its data: transformers in front, inverses behind.

:class:`TransformedForecaster` chains preprocessing steps and a forecaster behind the
forecaster API. Target transformers (scalers, log, Box-Cox, differencing, imputation,
gap filling, outlier treatment) act on ``y``; feature transformers (calendar terms,
covariate lags) act on ``X``. Forecasts come back through the target transformers'
inverses, in reverse order.

Everything is fitted in ``fit`` on the data given there and nowhere else, so a
backtest that clones the pipeline per window refits every transformer on that
window's training part only: nothing from after the cutoff reaches a scaler.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from tsssm._validation import check_coverage, check_horizon, check_quantiles, shorten
from tsssm.data import detect_form, to_panel, to_update_panel
from tsssm.exceptions import DataError, ParameterError, ParameterTypeError
from tsssm.forecasters.base import BaseForecaster
from tsssm.preprocessing._frames import split
from tsssm.preprocessing._time import as_time_index, infer_freq, sort_keys
from tsssm.preprocessing.base import BaseTransformer
from tsssm.preprocessing.features import BaseFeatures
from tsssm.preprocessing.transforms import Differencer

__all__ = ["TransformedForecaster"]

_RESERVED = ("transformers", "forecaster")


class TransformedForecaster(BaseForecaster):
    """Fit a forecaster on transformed data and map its forecasts back.

    ``fit(y, X)`` fits each transformer in order on the output of the previous ones
    (target transformers on ``y``, feature transformers on ``X``), drops leading rows
    the transformers left missing (the first values of a differenced series, the
    first rows of lagged covariates), and fits the forecaster. ``predict``,
    ``predict_quantiles`` and ``predict_interval`` build the future features, ask the
    forecaster and apply the target transformers' ``inverse_transform`` in reverse
    order. ``update`` transforms the new data with the fitted transformers (their
    statistics stay fixed; their histories move on) and updates the forecaster.

    Parameters
    ----------
    transformers : list of transformers or of (name, transformer) pairs
        Preprocessing steps, applied in order. Target transformers
        (:class:`~tsssm.preprocessing.base.BaseTransformer`) act on ``y``; feature
        transformers (:class:`~tsssm.preprocessing.features.BaseFeatures`) act on
        ``X`` (or, when no ``X`` is given, on an empty frame indexed like ``y``, so
        calendar features need no ``X``). Unnamed steps are named after their class
        in lower case (``"scaler"``, ``"scaler_2"``, ...).
    forecaster : tsssm forecaster
        The model fitted on the transformed data.

    Attributes
    ----------
    transformers_ : list of (name, transformer)
        Fitted clones of the steps.
    forecaster_ : tsssm forecaster
        Fitted clone of the forecaster.
    data_ : tsssm.data.Panel
        The transformed training data the forecaster saw (ends, frequency, layout).

    Notes
    -----
    Quantiles and intervals are mapped back step by step. Increasing transforms
    (scalers, log, Box-Cox) map quantiles to quantiles exactly. A
    :class:`~tsssm.preprocessing.Differencer` integrates each quantile column
    separately: exact for the median of symmetric forecasts and for point forecasts,
    conservative (too wide rather than too narrow, for Gaussian errors) for other
    levels; see :mod:`tsssm.preprocessing.transforms`. Back-transformed point
    forecasts of log and Box-Cox are medians, not means.

    Gap filling inside the pipeline applies to ``y`` only: exogenous columns of the
    inserted rows are missing, so give complete covariates (or none) with gappy data.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from tsssm.forecasters.naive import Naive
    >>> from tsssm.preprocessing import LogTransform, Scaler
    >>> y = pd.Series(np.exp(np.arange(1.0, 6.0)), index=pd.RangeIndex(5))
    >>> model = TransformedForecaster([LogTransform(), Scaler()], Naive()).fit(y)
    >>> np.log(model.predict(2)).round(6).tolist()
    [5.0, 5.0]
    """

    def __init__(self, transformers: Sequence[Any], forecaster: Any) -> None:
        self.transformers = transformers
        self.forecaster = forecaster

    # ------------------------------------------------------------ parameters
    def _named_steps(self) -> list[tuple[str, Any]]:
        """``(name, transformer)`` for every step, checking names and types."""
        owner = type(self).__name__
        steps = self.transformers
        if isinstance(steps, (str, bytes)) or not isinstance(steps, Sequence):
            raise ParameterTypeError(
                f"The 'transformers' parameter of {owner} must be a list of transformers "
                f"or of (name, transformer) pairs. Got {type(steps).__name__}."
            )
        out, used = [], {}
        for step in steps:
            if isinstance(step, tuple) and len(step) == 2 and isinstance(step[0], str):
                name, t = step
            else:
                t = step
                base = type(t).__name__.lower()
                used[base] = used.get(base, 0) + 1
                name = base if used[base] == 1 else f"{base}_{used[base]}"
            if not isinstance(t, (BaseTransformer, BaseFeatures)):
                raise ParameterTypeError(
                    f"Step {name!r} of {owner} is not a tsssm.preprocessing transformer. "
                    f"Got {type(t).__name__}."
                )
            if "__" in name or name in _RESERVED:
                raise ParameterError(
                    f"Step name {name!r} of {owner} must not contain '__' nor be one of "
                    f"{list(_RESERVED)}."
                )
            out.append((name, t))
        names = [n for n, _ in out]
        if len(set(names)) != len(names):
            raise ParameterError(f"Step names of {owner} must be unique. Got {names}.")
        return out

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters, with ``<step>__<param>`` and ``forecaster__<param>`` when deep."""
        out = {"transformers": self.transformers, "forecaster": self.forecaster}
        if not deep:
            return out
        for name, t in self._named_steps():
            out[name] = t
            out.update({f"{name}__{k}": v for k, v in t.get_params(deep=True).items()})
        if hasattr(self.forecaster, "get_params"):
            out.update({f"forecaster__{k}": v
                        for k, v in self.forecaster.get_params(deep=True).items()})
        return out

    def set_params(self, **params: Any) -> TransformedForecaster:
        """Set parameters: ``transformers``, ``forecaster``, a step by name, or nested."""
        if "transformers" in params:
            self.transformers = params.pop("transformers")
        if "forecaster" in params:
            self.forecaster = params.pop("forecaster")
        names = [n for n, _ in self._named_steps()]
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            head, sep, rest = key.partition("__")
            if not sep and head in names:
                self._replace_step(head, value)
            elif sep and (head in names or head == "forecaster"):
                nested.setdefault(head, {})[rest] = value
            else:
                raise ParameterError(
                    f"Invalid parameter {key!r} for {type(self).__name__}. Valid: "
                    f"'transformers', 'forecaster', the step names {names}, and nested "
                    "'<step>__<param>' or 'forecaster__<param>'."
                )
        steps = dict(self._named_steps())
        for head, sub in nested.items():
            (self.forecaster if head == "forecaster" else steps[head]).set_params(**sub)
        return self

    def _replace_step(self, name: str, new: Any) -> None:
        steps = list(self.transformers)
        for k, (n, _) in enumerate(self._named_steps()):
            if n == name:
                named = isinstance(steps[k], tuple)
                steps[k] = (name, new) if named else new
        self.transformers = type(self.transformers)(steps) \
            if isinstance(self.transformers, (list, tuple)) else steps

    def _check_params(self) -> None:
        if not all(callable(getattr(self.forecaster, a, None))
                   for a in ("fit", "predict", "get_params")):
            raise ParameterTypeError(
                f"The 'forecaster' parameter of {type(self).__name__} must be a tsssm "
                f"forecaster (with fit, predict, get_params). Got {self.forecaster!r}."
            )
        for _, t in self._named_steps():
            t._check_params()
        if hasattr(self.forecaster, "_check_params"):
            self.forecaster._check_params()

    def _min_length(self) -> int:
        """The forecaster's minimum plus the leading rows the transformers leave missing."""
        inner = self.forecaster._min_length() if hasattr(self.forecaster, "_min_length") else 1
        lost_y = lost_x = 0
        for _, t in self._named_steps():
            if isinstance(t, Differencer):
                lost_y += sum(t._lags())
            elif isinstance(t, BaseFeatures) and hasattr(t, "_span"):
                lost_x = max(lost_x, t._span())
        return inner + max(lost_y, lost_x)

    # ------------------------------------------------------------------ fit
    def fit(self, y: pd.Series | pd.DataFrame, X: pd.DataFrame | None = None, *,
            freq: Any = None, id_col: str = "unique_id", time_col: str = "ds",
            target_col: str = "y") -> TransformedForecaster:
        """Fit the transformers in order, then the forecaster on their output.

        Parameters
        ----------
        y : pandas.Series or pandas.DataFrame
            A Series, a wide DataFrame or a long DataFrame (extra columns of a long
            frame are exogenous variables, as for every tsssm forecaster).
        X : pandas.DataFrame or None, default=None
            Exogenous variables (see :meth:`tsssm.forecasters.base.BaseForecaster.fit`).
        freq : str, pandas.DateOffset, int or None, default=None
            Frequency, passed to every step and to the forecaster.
        id_col, time_col, target_col : str, default="unique_id", "ds", "y"
            Column names of a long DataFrame.

        Returns
        -------
        self
        """
        self._check_params()
        self._clear_fitted()
        keys = {"id_col": id_col, "time_col": time_col, "target_col": target_col}
        form = detect_form(y, id_col, time_col)
        steps = [(name, clone(t)) for name, t in self._named_steps()]
        forecaster = clone(self.forecaster)
        y, X = _split_exog(y, X, form, keys)
        if freq is None:  # one frequency for every step and the forecaster
            freq = _infer_freq(y, keys)
        for _, t in steps:
            if isinstance(t, BaseFeatures):
                base = X if X is not None else _empty_frame(y, form, keys)
                X = t.fit_transform(base, freq=freq, **keys)
            else:
                y = t.fit_transform(y, freq=freq, **keys)
        y, X = _trim_leading(y, X, form, keys)
        forecaster.fit(y, X, freq=freq, **keys)
        self.transformers_ = steps
        self.forecaster_ = forecaster
        self.form_ = form
        self.keys_ = keys
        self.freq_ = freq
        self.data_ = to_panel(y, None, freq=freq, allow_nan=True, owner=type(self).__name__,
                              **keys)
        self.n_series_ = self.data_.n_series
        return self

    # -------------------------------------------------------------- predict
    def predict(self, h: int, X: pd.DataFrame | None = None) -> pd.Series | pd.DataFrame:
        """Point forecasts on the original scale (see :meth:`BaseForecaster.predict`).

        Parameters
        ----------
        h : int
            Forecast horizon (>= 1).
        X : pandas.DataFrame or None, default=None
            Future exogenous values (untransformed); feature steps add their columns.

        Returns
        -------
        pandas.Series or pandas.DataFrame
            The layout of ``y`` at fit.
        """
        check_is_fitted(self)
        h = check_horizon(h)
        return self._inverse(self.forecaster_.predict(h, X=self._future_X(h, X)))

    def predict_quantiles(self, h: int, quantiles: Any = (0.1, 0.5, 0.9),
                          X: pd.DataFrame | None = None) -> pd.DataFrame:
        """Quantile forecasts mapped back step by step (see the class Notes).

        Parameters
        ----------
        h : int
            Forecast horizon (>= 1).
        quantiles : sequence of float, default=(0.1, 0.5, 0.9)
            Levels strictly inside (0, 1).
        X : pandas.DataFrame or None, default=None
            Future exogenous values.

        Returns
        -------
        pandas.DataFrame
            Columns ``"q0.1"``, ...; indexed by time for a Series input, long otherwise.
        """
        check_is_fitted(self)
        h = check_horizon(h)
        qs = check_quantiles(quantiles)
        out = self.forecaster_.predict_quantiles(h, quantiles=qs, X=self._future_X(h, X))
        return self._inverse(out)

    def predict_interval(self, h: int, coverage: float = 0.9,
                         X: pd.DataFrame | None = None) -> pd.DataFrame:
        """A central prediction interval mapped back step by step (see the class Notes).

        Parameters
        ----------
        h : int
            Forecast horizon (>= 1).
        coverage : float, default=0.9
            Nominal coverage in (0, 1).
        X : pandas.DataFrame or None, default=None
            Future exogenous values.

        Returns
        -------
        pandas.DataFrame
            Columns ``lower`` and ``upper``, in the layout of :meth:`predict_quantiles`.
        """
        check_is_fitted(self)
        h = check_horizon(h)
        c = check_coverage(coverage)
        out = self.forecaster_.predict_interval(h, coverage=c, X=self._future_X(h, X))
        return self._inverse(out)

    # --------------------------------------------------------------- update
    def update(self, y_new: pd.Series | pd.DataFrame,
               X: pd.DataFrame | None = None) -> TransformedForecaster:
        """Transform new observations with the fitted steps and update the forecaster.

        Scales, lambdas and bounds stay as fitted; steps that look back in time
        (differencing, imputation, covariate lags) continue from the data seen so far.

        Parameters
        ----------
        y_new : pandas.Series or pandas.DataFrame
            New observations in the form given to ``fit``, continuing each series.
        X : pandas.DataFrame or None, default=None
            Exogenous values for the new observations.

        Returns
        -------
        self
        """
        check_is_fitted(self)
        keys = self.keys_
        y, X = _split_exog(y_new, X, self.form_, keys)
        for _, t in self.transformers_:
            if isinstance(t, BaseFeatures):
                base = X if X is not None else _empty_frame(y, self.form_, keys)
                X = t.transform(base)
                t.update(base)
            else:
                z = t.transform(y)
                t.update(y)
                y = z
        self.forecaster_.update(y, X)
        self.data_ = self.data_.append(
            to_update_panel(self.data_, y, None, allow_nan=True, owner=type(self).__name__)
        )
        return self

    # ---------------------------------------------------------------- helpers
    def _inverse(self, out: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
        for _, t in reversed(self.transformers_):
            if isinstance(t, BaseTransformer):
                out = t.inverse_transform(out)
        return out

    def _future_X(self, h: int, X: Any) -> Any:
        """Future covariates with the feature steps' columns added."""
        features = [t for _, t in self.transformers_ if isinstance(t, BaseFeatures)]
        if not features:
            return X
        base = X if X is not None else self._future_frame(h)
        for t in features:
            base = t.transform(base)
        return base

    def _future_frame(self, h: int) -> pd.DataFrame:
        """An empty covariate frame over the ``h`` steps after each series' end."""
        panel = self.data_
        times = [panel.future_index(i, h) for i in range(panel.n_series)]
        if self.form_ != "long":
            index = times[0]
            for t in times[1:]:
                index = index.union(t)
            return pd.DataFrame(index=index)
        ds = times[0].append(times[1:]) if len(times) > 1 else times[0]
        return pd.DataFrame({
            self.keys_["id_col"]: pd.Series(np.repeat(panel.ids, h), dtype=object),
            self.keys_["time_col"]: pd.Series(ds),
        })


# ------------------------------------------------------------------ helpers
def _split_exog(y: Any, X: Any, form: str, keys: dict) -> tuple[Any, Any]:
    """Move the exogenous columns of a long ``y`` into a long ``X``."""
    if form != "long":
        return y, X
    id_col, time_col, target_col = keys["id_col"], keys["time_col"], keys["target_col"]
    extra = [c for c in y.columns if c not in (id_col, time_col, target_col)]
    if not extra:
        return y, X
    if X is not None:
        raise DataError(
            f"Exogenous variables were given twice: as extra columns of y {extra[:5]} and as "
            "X. Pass them one way."
        )
    return y[[id_col, time_col, target_col]], y[[id_col, time_col, *extra]]


def _infer_freq(y: Any, keys: dict) -> Any:
    """The frequency of ``y`` (gaps tolerated), or None where it cannot be told."""
    try:
        sp = split(y, fitted_layout=None, **keys)
        return infer_freq([(b.uid, b.index) for b in sp.blocks if len(b.index)], sp.kind)
    except DataError:
        return None  # too few points: let each step and the forecaster say so


def _empty_frame(y: Any, form: str, keys: dict) -> pd.DataFrame:
    """A covariate frame with no columns, on the time points of ``y``."""
    if form == "long":
        return y[[keys["id_col"], keys["time_col"]]].copy()
    return pd.DataFrame(index=y.index.copy())


def _complete_rows(X: pd.DataFrame, skip: tuple) -> np.ndarray:
    cols = [c for c in X.columns if c not in skip]
    if not cols:
        return np.ones(len(X), dtype=bool)
    return ~X[cols].isna().to_numpy().any(axis=1)


def _trim_leading(y: Any, X: Any, form: str, keys: dict) -> tuple[Any, Any]:
    """Drop each series' leading time points where the target or a covariate is missing.

    Differencing leaves the first values of each series missing and covariate lags the
    first rows of ``X``; the forecaster gets the data from the first complete row on.
    Missing values further in stay (the forecaster reports them).
    """
    if form == "long":
        return _trim_long(y, X, keys), X
    y = y.sort_index() if not y.index.is_monotonic_increasing else y
    ok = np.ones(len(y), dtype=bool)
    if X is not None:
        ok &= _complete_rows(X.reindex(y.index), ())
    if form == "series":
        ok &= ~np.isnan(y.to_numpy(dtype=np.float64, na_value=np.nan))
    if not ok.any():
        raise DataError(
            "No time point of y is left with a complete target and covariates after the "
            "transformers (differencing and lags drop the first points). Use more data."
        )
    return y.iloc[int(np.argmax(ok)):], X


def _trim_long(y: pd.DataFrame, X: Any, keys: dict) -> pd.DataFrame:
    id_col, time_col, target_col = keys["id_col"], keys["time_col"], keys["target_col"]
    ok = ~np.isnan(y[target_col].to_numpy(dtype=np.float64, na_value=np.nan))
    if X is not None:
        bad = X.loc[~_complete_rows(X, (id_col, time_col)), [id_col, time_col]]
        if len(bad):
            bad_keys = pd.MultiIndex.from_frame(bad)
            ok &= ~pd.MultiIndex.from_frame(y[[id_col, time_col]]).isin(bad_keys)
    codes, uniques = pd.factorize(y[id_col], sort=False)
    kind, ds = as_time_index(y[time_col], f"Column {time_col!r} of y")
    order = np.lexsort((sort_keys(ds, kind), codes))
    # a series keeps its rows from its first complete one on: a running "any" per series
    started = pd.Series(ok[order]).groupby(codes[order]).cummax().to_numpy(dtype=bool)
    keep = np.empty(len(y), dtype=bool)
    keep[order] = started
    empty = [uid for k, uid in enumerate(uniques) if not keep[codes == k].any()]
    if empty:
        raise DataError(
            f"Series {shorten(empty)} have no time point with a complete target and "
            "covariates after the transformers (differencing and lags drop the first "
            "points). Drop them or use longer series."
        )
    return y[keep] if not keep.all() else y
