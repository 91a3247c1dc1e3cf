"""Automatic (seasonal) ARIMA order selection.

The search is pmdarima's ``auto_arima``, the Python port of R's ``forecast::auto.arima``
(Hyndman & Khandakar, 2008): the number of differences ``d`` from repeated unit-root
tests (KPSS by default), the seasonal differences ``D`` from a seasonal test (OCSB by
default), then a stepwise walk over ``(p, q, P, Q)`` and the constant that moves to a
neighbouring model while the information criterion (AICc by default) improves.

The chosen order is then refitted with statsmodels' SARIMAX through the same code as
:class:`~tsssm.forecasters.arima.ARIMA`, so forecasts, intervals and ``update`` behave
exactly as an ARIMA with that order would.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tsssm._validation import check_int, check_option
from tsssm.data import Panel
from tsssm.forecasters._blas import one_blas_thread
from tsssm.forecasters.arima import fit_sarimax, sarimax_forecast, sarimax_update
from tsssm.forecasters.base import LocalForecaster

__all__ = ["AutoARIMA", "min_seasonal_length", "select_arima_order"]


def min_seasonal_length(m: int) -> int:
    """Fewest observations for a seasonal search with period ``m``: ``3 m + 3``.

    Examples
    --------
    >>> from tsssm.forecasters.auto_arima import min_seasonal_length
    >>> min_seasonal_length(12)  # three years of monthly data, plus three
    39
    """
    return 3 * m + 3


@dataclass(frozen=True)
class _SelectedARIMA:
    """Per-series state: the SARIMAX results and the orders the search chose."""

    results: Any
    order: tuple[int, int, int]
    seasonal_order: tuple[int, int, int, int]
    trend: str | None


@one_blas_thread
def select_arima_order(y: np.ndarray, X: np.ndarray | None = None, *, season_length: int = 1,
                       max_p: int = 3, max_d: int = 2, max_q: int = 3, max_P: int = 1,
                       max_D: int = 1, max_Q: int = 1, information_criterion: str = "aicc",
                       test: str = "kpss", seasonal_test: str = "ocsb", maxiter: int = 50
                       ) -> tuple[tuple[int, int, int], tuple[int, int, int, int], str | None]:
    """Choose ARIMA orders by the Hyndman-Khandakar stepwise search (pmdarima).

    Parameters
    ----------
    y : numpy.ndarray of shape (n,)
        The series (finite values).
    X : numpy.ndarray of shape (n, K) or None, default=None
        Exogenous regressors (a regression with ARIMA errors).
    season_length : int, default=1
        Seasonal period ``m``; 1 searches non-seasonal models only, and so does a
        series shorter than ``min_seasonal_length(m)`` (``3 m + 3``).
    max_p, max_d, max_q, max_P, max_D, max_Q : int
        Upper bounds of the orders searched.
    information_criterion : {"aicc", "aic", "bic"}, default="aicc"
        What the stepwise walk minimises.
    test : {"kpss", "adf", "pp"}, default="kpss"
        Unit-root test choosing ``d``.
    seasonal_test : {"ocsb", "ch"}, default="ocsb"
        Seasonal unit-root test choosing ``D``.
    maxiter : int, default=50
        Optimiser iterations per candidate model.

    Returns
    -------
    order : tuple (p, d, q)
    seasonal_order : tuple (P, D, Q, s)
    trend : {"c", None}
        ``"c"`` where the chosen model has a constant (a drift when differenced).

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.forecasters.auto_arima import select_arima_order
    >>> y = np.cumsum(np.random.default_rng(0).normal(size=40))  # a random walk
    >>> order, seasonal_order, trend = select_arima_order(y, max_p=1, max_q=1)
    >>> order[1]  # one difference makes it stationary
    1
    >>> seasonal_order  # season_length=1: non-seasonal
    (0, 0, 0, 0)
    """
    import pmdarima  # imported here: its import costs seconds that `import tsssm` avoids

    # pmdarima's seasonal-difference test (OCSB) fails on fewer than about three seasons;
    # like R's auto.arima, shorter series get a non-seasonal search
    seasonal = season_length > 1 and len(y) >= min_seasonal_length(season_length)
    model = pmdarima.auto_arima(
        np.asarray(y, dtype=np.float64), X=X,
        start_p=min(2, max_p), start_q=min(2, max_q), max_p=max_p, max_d=max_d,
        max_q=max_q, start_P=min(1, max_P), start_Q=min(1, max_Q), max_P=max_P,
        max_D=max_D, max_Q=max_Q, m=season_length if seasonal else 1, seasonal=seasonal,
        stepwise=True, information_criterion=information_criterion, test=test,
        seasonal_test=seasonal_test, maxiter=maxiter, n_jobs=1,
        suppress_warnings=True, error_action="ignore", trace=False,
        # The search needs each candidate's likelihood only. Without this, statsmodels
        # keeps every step's state covariances: 3.4 GB at 3,000 hourly points with
        # season 24 (0.29 GB with it, same order chosen) and an out-of-memory kill at
        # 11,520 (docs/benchmarks.md, ETTh1).
        low_memory=True,
    )
    order = tuple(int(v) for v in model.order)
    seasonal_order = tuple(int(v) for v in model.seasonal_order)
    if not any(seasonal_order[:3]):
        seasonal_order = (0, 0, 0, 0)
    trend = "c" if model.with_intercept else None  # pmdarima's own SARIMAX mapping
    return order, seasonal_order, trend  # type: ignore[return-value]


class AutoARIMA(LocalForecaster):
    """ARIMA with orders chosen per series by a stepwise search.

    For each series, pmdarima's ``auto_arima`` (Hyndman & Khandakar's stepwise
    algorithm: unit-root tests for ``d`` and ``D``, then a stepwise search over
    ``p, q, P, Q`` and the constant minimising ``information_criterion``) picks the
    orders; the chosen model is then refitted with statsmodels' SARIMAX exactly as
    :class:`ARIMA` does, so its intervals (analytic, Kalman filter) and ``update``
    (filter with fixed parameters, no re-estimation and no new order search) are
    those of an ARIMA with that order.

    The search is kept small for use in backtests: the defaults bound ``p, q <= 3``,
    ``P, Q <= 1``, ``d <= 2`` and ``D <= 1``.

    Parameters
    ----------
    season_length : int, default=1
        Seasonal period ``m`` (12 for monthly data, 24 for hourly with a daily cycle);
        1 searches non-seasonal models only. Series shorter than ``3 m + 3`` (too short
        for the seasonal-difference test) also get a non-seasonal search.
    max_p, max_q : int, default=3
        Largest non-seasonal AR and MA orders searched.
    max_d : int, default=2
        Largest number of differences.
    max_P, max_Q : int, default=1
        Largest seasonal AR and MA orders searched.
    max_D : int, default=1
        Largest number of seasonal differences.
    information_criterion : {"aicc", "aic", "bic"}, default="aicc"
        What the search minimises.
    test : {"kpss", "adf", "pp"}, default="kpss"
        Unit-root test choosing ``d``.
    seasonal_test : {"ocsb", "ch"}, default="ocsb"
        Seasonal test choosing ``D``.
    maxiter : int, default=50
        Optimiser iterations per fit.
    n_jobs : int or None, default=None
        joblib workers over series (None means 1).
    fallback : LocalForecaster or None, default=None
        Model used, with a warning naming the series, where the search or the fit
        fails. None raises :class:`~tsssm.exceptions.FitFailedError` naming the series.

    Attributes
    ----------
    models_ : list of (estimator, state)
        The fitted model of each series; the state holds the SARIMAX results
        (``.results``) and the chosen orders.
    orders_ : dict
        Series id -> ``(order, seasonal_order, trend)`` chosen; ``None`` for series that
        used the fallback.
    fallback_series_ : list
        Ids of the series that used the fallback.

    See Also
    --------
    ARIMA : fixed orders.

    References
    ----------
    Hyndman, R. J. & Khandakar, Y. (2008). Automatic time series forecasting: the
    forecast package for R. *Journal of Statistical Software*, 27(3), 1-22.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> e = rng.normal(size=200)
    >>> y = pd.Series(np.convolve(e, 0.8 ** np.arange(30))[:200])
    >>> est = AutoARIMA().fit(y)
    >>> est.orders_["y"][0][0] >= 1  # an AR term is found
    True
    """

    _handles_missing = False  # pmdarima's search needs finite values
    _supports_exog = True

    def __init__(self, season_length: int = 1, max_p: int = 3, max_d: int = 2,
                 max_q: int = 3, max_P: int = 1, max_D: int = 1, max_Q: int = 1,
                 information_criterion: str = "aicc", test: str = "kpss",
                 seasonal_test: str = "ocsb", maxiter: int = 50, n_jobs: int | None = None,
                 fallback: LocalForecaster | None = None):
        self.season_length = season_length
        self.max_p = max_p
        self.max_d = max_d
        self.max_q = max_q
        self.max_P = max_P
        self.max_D = max_D
        self.max_Q = max_Q
        self.information_criterion = information_criterion
        self.test = test
        self.seasonal_test = seasonal_test
        self.maxiter = maxiter
        self.n_jobs = n_jobs
        self.fallback = fallback

    def _check_params(self) -> None:
        owner = type(self).__name__
        check_int(self.season_length, "season_length", owner=owner, min_value=1)
        for name in ("max_p", "max_d", "max_q", "max_P", "max_D", "max_Q"):
            check_int(getattr(self, name), name, owner=owner, min_value=0)
        check_option(self.information_criterion, "information_criterion",
                     ("aicc", "aic", "bic"), owner=owner)
        check_option(self.test, "test", ("kpss", "adf", "pp"), owner=owner)
        check_option(self.seasonal_test, "seasonal_test", ("ocsb", "ch"), owner=owner)
        check_int(self.maxiter, "maxiter", owner=owner, min_value=1)
        check_int(self.n_jobs, "n_jobs", owner=owner, allow_none=True)

    def _min_length(self) -> int:
        # pmdarima's unit-root tests divide by zero below 6 points; keep a margin
        return 8

    def _search(self, y: np.ndarray, X: np.ndarray | None):
        return select_arima_order(
            y, X, season_length=int(self.season_length), max_p=int(self.max_p),
            max_d=int(self.max_d), max_q=int(self.max_q), max_P=int(self.max_P),
            max_D=int(self.max_D), max_Q=int(self.max_Q),
            information_criterion=self.information_criterion, test=self.test,
            seasonal_test=self.seasonal_test, maxiter=int(self.maxiter),
        )

    def _fit_one(self, y: np.ndarray, X: np.ndarray | None) -> Any:
        order, seasonal_order, trend = self._search(y, X)
        res = fit_sarimax(y, X, order, seasonal_order, trend, maxiter=int(self.maxiter))
        return _SelectedARIMA(res, order, seasonal_order, trend)

    def _fit(self, panel: Panel) -> None:
        super()._fit(panel)
        failed = set(self.fallback_series_)
        self.orders_ = {
            uid: (None if uid in failed else (state.order, state.seasonal_order, state.trend))
            for uid, (_, state) in zip(panel.ids, self.models_)
        }

    def _forecast_one(self, state: _SelectedARIMA, h: int, X: np.ndarray | None,
                      quantiles: tuple[float, ...] | None):
        return sarimax_forecast(state.results, h, X, quantiles)

    def _update_one(self, state: _SelectedARIMA, y_new: np.ndarray,
                    X_new: np.ndarray | None) -> _SelectedARIMA:
        return replace(state, results=sarimax_update(state.results, y_new, X_new))
