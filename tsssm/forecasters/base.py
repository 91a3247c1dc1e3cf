"""The estimator contract shared by every tsssm forecaster.

:class:`BaseForecaster` owns everything that is the same for all models: data
conversion and validation, the fitted-state rules of scikit-learn, output in the
user's form, quantiles and intervals. Subclasses implement the model-specific hooks on
plain arrays (a :class:`~tsssm.data.Panel`):

``_check_params()``
    validate hyperparameters (called first in ``fit``);
``_min_length()``
    the fewest observations a series needs;
``_fit(panel)``
    fit on all series;
``_predict(h, X_future) -> (S, h)``
    point forecasts;
``_predict_quantiles(h, quantiles, X_future) -> (S, h, Q)``
    quantile forecasts;
``_update(new, panel)``
    absorb new observations (``panel`` is the extended data).

:class:`LocalForecaster` specialises this for classical models that fit one model per
series (run in parallel with joblib), with the per-series maths in module-level
functions as statsforecast does.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from tsssm._validation import check_coverage, check_horizon, check_int, check_quantiles
from tsssm.data import Panel, future_exog, make_output, to_panel, to_update_panel
from tsssm.exceptions import FitFailedError, ParameterTypeError

__all__ = ["BaseForecaster", "LocalForecaster", "quantile_column"]


def quantile_column(q: float) -> str:
    """Column name of quantile ``q`` in outputs: ``0.1 -> "q0.1"``.

    Examples
    --------
    >>> from tsssm.forecasters.base import quantile_column
    >>> quantile_column(0.1), quantile_column(0.5)
    ('q0.1', 'q0.5')
    """
    return f"q{float(q):g}"


class BaseForecaster(BaseEstimator):
    """Base class of tsssm forecasters (see module docstring for the hooks).

    Examples
    --------
    Every forecaster (here :class:`~tsssm.forecasters.Naive`) has the same public API:

    >>> import pandas as pd
    >>> from tsssm.forecasters import BaseForecaster, Naive
    >>> y = pd.Series([1.0, 2.0, 4.0], index=pd.date_range("2024-01-01", periods=3, freq="D"))
    >>> model = Naive().fit(y)
    >>> isinstance(model, BaseForecaster)
    True
    >>> model.predict(2).tolist()
    [4.0, 4.0]
    >>> list(model.predict_quantiles(2, quantiles=(0.1, 0.9)).columns)
    ['q0.1', 'q0.9']
    >>> new = pd.Series([5.0], index=pd.date_range("2024-01-04", periods=1, freq="D"))
    >>> model.update(new).predict(1).tolist()
    [5.0]
    """

    #: whether ``fit`` accepts NaN in the target (the docstring must say so)
    _handles_missing: bool = False
    #: whether the model uses exogenous variables
    _supports_exog: bool = False

    # ------------------------------------------------------------------- hooks
    def _check_params(self) -> None:
        """Validate hyperparameters; raise ParameterError/ParameterTypeError."""

    def _min_length(self) -> int:
        return 1

    def _fit(self, panel: Panel) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict(self, h: int, X: np.ndarray | None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _predict_quantiles(self, h: int, quantiles: tuple[float, ...],
                           X: np.ndarray | None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _update(self, new: Panel, panel: Panel) -> None:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------- public API
    def fit(self, y: pd.Series | pd.DataFrame, X: pd.DataFrame | None = None, *,
            freq: Any = None, id_col: str = "unique_id", time_col: str = "ds",
            target_col: str = "y") -> BaseForecaster:
        """Fit the forecaster to one or many series.

        Parameters
        ----------
        y : pandas.Series or pandas.DataFrame
            A Series with a DatetimeIndex, PeriodIndex or integer index; a wide DataFrame
            (time index, one column per series); or a long DataFrame with columns
            ``id_col``, ``time_col``, ``target_col`` (+ exogenous columns).
        X : pandas.DataFrame or None, default=None
            Exogenous variables aligned with ``y`` (see :func:`tsssm.data.to_panel`).
        freq : str, pandas.DateOffset, int or None, default=None
            Frequency of the time index; inferred when None.
        id_col, time_col, target_col : str, default="unique_id", "ds", "y"
            Column names of a long DataFrame.

        Returns
        -------
        self
            The fitted estimator.
        """
        self._check_params()
        owner = type(self).__name__
        panel = to_panel(y, X, freq=freq, allow_nan=self._handles_missing, id_col=id_col,
                         time_col=time_col, target_col=target_col, owner=owner)
        if panel.exog_names and not self._supports_exog:
            raise ParameterTypeError(
                f"{owner} does not use exogenous variables, but X (or extra columns of a "
                f"long y: {list(panel.exog_names)[:5]}) was given. Drop them."
            )
        self._check_lengths(panel)
        self._clear_fitted()
        try:
            self._fit(panel)
            self.data_ = panel
            self.n_series_ = panel.n_series
        except BaseException:
            self._clear_fitted()  # never leave a half-fitted estimator behind
            raise
        return self

    def predict(self, h: int, X: pd.DataFrame | None = None) -> pd.Series | pd.DataFrame:
        """Forecast ``h`` steps after the end of each series.

        Parameters
        ----------
        h : int
            Forecast horizon (>= 1).
        X : pandas.DataFrame or None, default=None
            Future values of the exogenous variables, in the form given to ``fit``.

        Returns
        -------
        pandas.Series or pandas.DataFrame
            The same form as ``y`` at fit: a Series for a Series, a wide frame for a wide
            frame, a long frame with columns ``unique_id, ds, yhat`` for a long frame.
        """
        check_is_fitted(self)
        h = check_horizon(h)
        Xf = future_exog(self.data_, h, X)
        mean = np.asarray(self._predict(h, Xf), dtype=np.float64)
        self._check_finite(mean, "point forecasts")
        return make_output(self.data_, h, {"yhat": mean})

    def predict_quantiles(self, h: int, quantiles: Any = (0.1, 0.5, 0.9),
                          X: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast quantiles of the predictive distribution.

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
            One column per level named ``"q0.1"``, ``"q0.5"``, ...; indexed by time for a
            Series input, long (``unique_id``, ``ds``, ...) otherwise.
        """
        check_is_fitted(self)
        h = check_horizon(h)
        qs = check_quantiles(quantiles)
        Xf = future_exog(self.data_, h, X)
        values = np.asarray(self._predict_quantiles(h, qs, Xf), dtype=np.float64)
        self._check_finite(values, "quantile forecasts")
        values = np.sort(values, axis=-1)  # guard against crossing from numerical noise
        cols = {quantile_column(q): values[:, :, k] for k, q in enumerate(qs)}
        return make_output(self.data_, h, cols, point=False)

    def predict_interval(self, h: int, coverage: float = 0.9,
                         X: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast a central prediction interval.

        Parameters
        ----------
        h : int
            Forecast horizon (>= 1).
        coverage : float, default=0.9
            Nominal coverage in (0, 1); the bounds are the ``(1 - coverage) / 2`` and
            ``(1 + coverage) / 2`` quantiles.
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
        Xf = future_exog(self.data_, h, X)
        qs = ((1 - c) / 2, (1 + c) / 2)
        values = np.asarray(self._predict_quantiles(h, qs, Xf), dtype=np.float64)
        self._check_finite(values, "interval bounds")
        values = np.sort(values, axis=-1)
        return make_output(self.data_, h, {"lower": values[:, :, 0],
                                           "upper": values[:, :, 1]}, point=False)

    def update(self, y_new: pd.Series | pd.DataFrame,
               X: pd.DataFrame | None = None) -> BaseForecaster:
        """Absorb new observations without refitting the parameters.

        Parameters
        ----------
        y_new : pandas.Series or pandas.DataFrame
            New observations in the form given to ``fit``; each series must start right
            after the end of the data seen so far.
        X : pandas.DataFrame or None, default=None
            Exogenous values for the new observations.

        Returns
        -------
        self
        """
        check_is_fitted(self)
        new = to_update_panel(self.data_, y_new, X, allow_nan=self._handles_missing,
                              owner=type(self).__name__)
        panel = self.data_.append(new)
        self._update(new, panel)
        self.data_ = panel
        return self

    # ----------------------------------------------------------------- helpers
    def _check_lengths(self, panel: Panel) -> None:
        need = self._min_length()
        short = panel.ids[panel.lengths < need]
        if len(short):
            from tsssm._validation import shorten
            from tsssm.exceptions import DataError

            raise DataError(
                f"Series {shorten(short)} are too short for {type(self).__name__} (need at "
                f"least {need} observations). Drop them or change the model's settings."
            )

    def _clear_fitted(self) -> None:
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, name)

    def _check_finite(self, values: np.ndarray, what: str) -> None:
        if not np.isfinite(values).all():
            rows = np.flatnonzero(~np.isfinite(values.reshape(values.shape[0], -1)).all(1))
            from tsssm._validation import shorten

            raise FitFailedError(
                f"{type(self).__name__} produced non-finite {what} for series "
                f"{shorten(self.data_.ids[rows])}."
            )

    def __sklearn_tags__(self):  # scikit-learn >= 1.6: forecasters are not regressors
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        return tags


class LocalForecaster(BaseForecaster):
    """One model per series, fitted in parallel; the per-series maths in subclasses.

    Subclasses implement, on one series as numpy arrays:

    ``_fit_one(y, X) -> state``
        fit on ``y`` of shape (n,) with exogenous ``X`` of shape (n, K) or None;
    ``_forecast_one(state, h, X, quantiles) -> (mean, q)``
        ``mean`` of shape (h,), ``q`` of shape (h, Q) or None when ``quantiles`` is None;
    ``_update_one(state, y_new, X_new) -> state``
        absorb new observations without refitting parameters.

    Subclasses take these parameters (read here with ``getattr``):

    ``n_jobs`` : int or None, default=None
        Number of joblib workers over series (None means 1).
    ``fallback`` : LocalForecaster or None, default=None
        Model used, with a warning naming the series, where this one fails to fit.
        None raises :class:`~tsssm.exceptions.FitFailedError` naming the series.

    Warnings that statsmodels raises while fitting, forecasting or updating one series
    (convergence and estimation chatter) are silenced: failures surface as errors or
    as the fallback's warning instead.

    Examples
    --------
    A minimal subclass, forecasting the mean of everything seen:

    >>> import numpy as np, pandas as pd
    >>> from tsssm.forecasters import LocalForecaster
    >>> class Mean(LocalForecaster):
    ...     def __init__(self, n_jobs=None, fallback=None):
    ...         self.n_jobs = n_jobs
    ...         self.fallback = fallback
    ...     def _fit_one(self, y, X):
    ...         return y  # the state: all observations
    ...     def _forecast_one(self, state, h, X, quantiles):
    ...         return np.full(h, state.mean()), None
    ...     def _update_one(self, state, y_new, X_new):
    ...         return np.concatenate([state, y_new])
    >>> model = Mean().fit(pd.Series([1.0, 2.0, 6.0]))
    >>> model.predict(2).tolist()
    [3.0, 3.0]
    >>> model.update(pd.Series([7.0], index=[3])).predict(1).tolist()
    [4.0]
    """

    def _fit(self, panel: Panel) -> None:
        fallback = self._checked_fallback()
        if fallback is not None:
            fallback._check_params()
        jobs = Parallel(n_jobs=self._n_jobs())(
            delayed(_fit_series)(self, fallback, uid, y, X) for uid, y, X in panel
        )
        self.models_ = [m for m, _ in jobs]
        failed = [uid for (_, err), uid in zip(jobs, panel.ids) if err is not None]
        if failed:
            from tsssm._validation import shorten

            warnings.warn(
                f"{type(self).__name__} failed to fit series {shorten(failed)}; using the "
                f"fallback {type(fallback).__name__} for them.",
                RuntimeWarning,
                stacklevel=3,
            )
        self.fallback_series_ = failed

    def _predict(self, h: int, X: np.ndarray | None) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.stack([
                model._forecast_one(state, h, None if X is None else X[i], None)[0]
                for i, (model, state) in enumerate(self.models_)
            ])

    def _predict_quantiles(self, h: int, quantiles: tuple[float, ...],
                           X: np.ndarray | None) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.stack([
                model._forecast_one(state, h, None if X is None else X[i], quantiles)[1]
                for i, (model, state) in enumerate(self.models_)
            ])

    def _update(self, new: Panel, panel: Panel) -> None:
        pos = {uid: i for i, uid in enumerate(panel.ids)}
        models = list(self.models_)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for uid, y_new, X_new in new:
                i = pos[uid]
                model, state = models[i]
                models[i] = (model, model._update_one(state, np.asarray(y_new), X_new))
        self.models_ = models

    def _n_jobs(self) -> int | None:
        n_jobs = getattr(self, "n_jobs", None)
        return check_int(n_jobs, "n_jobs", owner=type(self).__name__, allow_none=True)

    def _checked_fallback(self) -> LocalForecaster | None:
        fallback = getattr(self, "fallback", None)
        if fallback is None:
            return None
        if not isinstance(fallback, LocalForecaster):
            raise ParameterTypeError(
                f"The 'fallback' parameter of {type(self).__name__} must be a classical "
                f"tsssm forecaster (e.g. tsssm.Naive()) or None. Got {fallback!r}."
            )
        return clone(fallback)

    # subclasses implement these three
    def _fit_one(self, y: np.ndarray, X: np.ndarray | None) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _forecast_one(self, state: Any, h: int, X: np.ndarray | None,
                      quantiles: tuple[float, ...] | None):  # pragma: no cover
        raise NotImplementedError

    def _update_one(self, state: Any, y_new: np.ndarray,
                    X_new: np.ndarray | None) -> Any:  # pragma: no cover
        raise NotImplementedError


def _fit_series(model: LocalForecaster, fallback: LocalForecaster | None, uid: Any,
                y: np.ndarray, X: np.ndarray | None):
    """Fit one series; returns ((model, state), error-or-None)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # statsmodels' convergence chatter
            state = model._fit_one(np.array(y), X)
        return (model, state), None
    except Exception as err:  # a statsmodels failure on this one series
        if fallback is None:
            raise FitFailedError(
                f"{type(model).__name__} failed to fit series {uid!r}: {err}. Set fallback= "
                "(for example fallback=tsssm.SeasonalNaive(...)) to use a simpler model for "
                "such series."
            ) from err
        if len(y) < fallback._min_length():
            raise FitFailedError(
                f"{type(model).__name__} failed to fit series {uid!r} ({err}) and the "
                f"fallback {type(fallback).__name__} needs {fallback._min_length()} points."
            ) from err
        return (fallback, fallback._fit_one(np.array(y), X)), err
