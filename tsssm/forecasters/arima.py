"""Seasonal ARIMA with exogenous regressors, on statsmodels' SARIMAX.

The model (Box & Jenkins; Durbin & Koopman, *Time Series Analysis by State Space
Methods*, 2nd ed., section 3.4) is

.. math::

    \\phi_p(L) \\tilde\\phi_P(L^s) \\Delta^d \\Delta_s^D (y_t - x_t^\\top \\beta)
        = A(t) + \\theta_q(L) \\tilde\\theta_Q(L^s) \\varepsilon_t,
    \\qquad \\varepsilon_t \\sim N(0, \\sigma^2),

estimated by exact Gaussian maximum likelihood through the Kalman filter. Forecasts
and their variances come from the same filter, so predictive quantiles are analytic:
``mean + se * Phi^{-1}(tau)``. ``update`` appends observations to the fitted results
and re-runs the filter with the parameters held fixed.

statsmodels is imported inside the functions: it costs about two seconds, which
``import tsssm`` should not pay.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tsssm._validation import check_bool, check_int, check_option
from tsssm.exceptions import ParameterError, ParameterTypeError
from tsssm.forecasters._blas import one_blas_thread
from tsssm.forecasters._intervals import normal_quantiles
from tsssm.forecasters.base import LocalForecaster

__all__ = [
    "ARIMA",
    "check_order",
    "check_seasonal_order",
    "fit_sarimax",
    "sarimax_forecast",
    "sarimax_update",
]

#: trend options of SARIMAX: none, constant, linear time trend, both
TREND_OPTIONS = (None, "n", "c", "t", "ct")


# ------------------------------------------------------------ parameter checks
def _int_tuple(value: Any, name: str, size: int, labels: str, owner: str) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)) \
            or len(value) != size:
        raise ParameterTypeError(
            f"The '{name}' parameter of {owner} must be a tuple of {size} ints {labels}. "
            f"Got {value!r}."
        )
    out = []
    for v in value:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise ParameterTypeError(
                f"The '{name}' parameter of {owner} must be a tuple of {size} ints {labels}. "
                f"Got {value!r} (an element of type {type(v).__name__})."
            )
        if v < 0:
            raise ParameterError(
                f"The '{name}' parameter of {owner} must hold ints >= 0 {labels}. "
                f"Got {value!r}."
            )
        out.append(int(v))
    return tuple(out)


def check_order(order: Any, owner: str = "ARIMA") -> tuple[int, int, int]:
    """Return ``order`` as ``(p, d, q)`` ints >= 0 or raise naming the parameter.

    Examples
    --------
    >>> from tsssm.forecasters.arima import check_order
    >>> check_order([1, 0, 2])
    (1, 0, 2)
    >>> check_order((1, -1, 0))
    Traceback (most recent call last):
    ...
    tsssm.exceptions.ParameterError: The 'order' parameter of ARIMA must hold ints >= 0 ...
    """
    return _int_tuple(order, "order", 3, "(p, d, q)", owner)  # type: ignore[return-value]


def check_seasonal_order(seasonal_order: Any,
                         owner: str = "ARIMA") -> tuple[int, int, int, int]:
    """Return ``seasonal_order`` as ``(P, D, Q, s)``; ``s >= 2`` when any of P, D, Q > 0.

    Examples
    --------
    >>> from tsssm.forecasters.arima import check_seasonal_order
    >>> check_seasonal_order((0, 1, 1, 12))
    (0, 1, 1, 12)
    >>> check_seasonal_order((0, 0, 0, 12))  # no seasonal terms: statsmodels' form
    (0, 0, 0, 0)
    """
    P, D, Q, s = _int_tuple(seasonal_order, "seasonal_order", 4, "(P, D, Q, s)", owner)
    if (P or D or Q) and s < 2:
        raise ParameterError(
            f"The 'seasonal_order' parameter of {owner} has seasonal terms but period s={s}; "
            f"s must be >= 2 (for example (0, 1, 1, 12)). Got {seasonal_order!r}."
        )
    if not (P or D or Q):
        s = 0  # statsmodels wants (0, 0, 0, 0) for "no seasonal part"
    return P, D, Q, s


# ------------------------------------------------------------- module-level maths
@one_blas_thread
def fit_sarimax(y: np.ndarray, X: np.ndarray | None, order: tuple[int, int, int],
                seasonal_order: tuple[int, int, int, int], trend: str | None = None, *,
                enforce_stationarity: bool = True, enforce_invertibility: bool = True,
                maxiter: int = 50) -> Any:
    """Fit a SARIMAX model by maximum likelihood.

    Parameters
    ----------
    y : numpy.ndarray of shape (n,)
        The series; NaN marks a missing observation (skipped by the Kalman filter).
    X : numpy.ndarray of shape (n, K) or None
        Exogenous regressors.
    order : tuple (p, d, q)
        Non-seasonal orders.
    seasonal_order : tuple (P, D, Q, s)
        Seasonal orders and period.
    trend : {None, "n", "c", "t", "ct"}, default=None
        Deterministic trend ``A(t)``.
    enforce_stationarity, enforce_invertibility : bool, default=True
        Constrain the AR / MA polynomials during estimation.
    maxiter : int, default=50
        Iterations of the L-BFGS optimiser.

    Returns
    -------
    statsmodels.tsa.statespace.sarimax.SARIMAXResults

    Raises
    ------
    ValueError
        When the estimates or the log-likelihood are not finite (a failed fit that
        statsmodels did not report).

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.forecasters.arima import fit_sarimax
    >>> y = np.cumsum(np.random.default_rng(0).normal(size=60))  # a random walk
    >>> res = fit_sarimax(y, None, (0, 1, 1), (0, 0, 0, 0))
    >>> res.params.shape  # the MA(1) coefficient and the innovation variance
    (2,)
    """
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    model = SARIMAX(
        np.asarray(y, dtype=np.float64), exog=X, order=order, seasonal_order=seasonal_order,
        trend=trend, enforce_stationarity=enforce_stationarity,
        enforce_invertibility=enforce_invertibility,
    )
    res = model.fit(disp=False, maxiter=maxiter)
    if not np.all(np.isfinite(np.asarray(res.params))) or not np.isfinite(res.llf):
        raise ValueError(
            f"maximum likelihood gave non-finite estimates (params {np.asarray(res.params)}, "
            f"log-likelihood {res.llf})"
        )
    return res


@one_blas_thread
def sarimax_forecast(res: Any, h: int, X: np.ndarray | None,
                     quantiles: tuple[float, ...] | None
                     ) -> tuple[np.ndarray, np.ndarray | None]:
    """Point forecasts and Gaussian quantiles from fitted SARIMAX results.

    Parameters
    ----------
    res : SARIMAXResults
        Fitted (or appended) results.
    h : int
        Horizon.
    X : numpy.ndarray of shape (h, K) or None
        Future exogenous values.
    quantiles : tuple of float or None
        Levels in (0, 1); None skips the quantiles.

    Returns
    -------
    mean : numpy.ndarray of shape (h,)
    q : numpy.ndarray of shape (h, Q) or None

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.forecasters.arima import fit_sarimax, sarimax_forecast
    >>> y = np.cumsum(np.random.default_rng(0).normal(size=60))
    >>> res = fit_sarimax(y, None, (0, 1, 1), (0, 0, 0, 0))
    >>> mean, q = sarimax_forecast(res, 4, None, (0.1, 0.5, 0.9))
    >>> mean.shape, q.shape  # (h,), (h, Q)
    ((4,), (4, 3))
    >>> bool(np.allclose(q[:, 1], mean))  # Gaussian: the median is the mean
    True
    """
    fc = res.get_forecast(steps=h, exog=X)
    mean = np.asarray(fc.predicted_mean, dtype=np.float64)
    if quantiles is None:
        return mean, None
    return mean, normal_quantiles(mean, np.asarray(fc.se_mean, dtype=np.float64), quantiles)


@one_blas_thread
def sarimax_update(res: Any, y_new: np.ndarray, X_new: np.ndarray | None) -> Any:
    """Absorb observations by running the Kalman filter over the new points only.

    ``SARIMAXResults.extend`` starts from the filtered state at the end of ``res`` and
    keeps ``res.params``, so each update costs O(len(y_new)) instead of re-filtering the
    whole history as ``append`` does; forecasts equal those of
    ``SARIMAX(y_ext).filter(res.params)`` (the tests check this).

    Parameters
    ----------
    res : SARIMAXResults
        Fitted (or previously updated) results.
    y_new : numpy.ndarray of shape (m,)
        Observations following those of ``res``.
    X_new : numpy.ndarray of shape (m, K) or None
        Their exogenous values.

    Returns
    -------
    SARIMAXResults
        Results over the new observations only (``nobs`` is m), filtered from the
        state at the end of ``res`` with ``res.params``; they forecast from the last
        new observation on.

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.forecasters.arima import fit_sarimax, sarimax_update
    >>> y = np.cumsum(np.random.default_rng(0).normal(size=60))
    >>> res = fit_sarimax(y[:50], None, (0, 1, 1), (0, 0, 0, 0))
    >>> new = sarimax_update(res, y[50:], None)
    >>> new.nobs
    10
    >>> from statsmodels.tsa.statespace.sarimax import SARIMAX
    >>> full = SARIMAX(y, order=(0, 1, 1)).filter(res.params)  # re-filter everything
    >>> bool(np.allclose(new.forecast(3), full.forecast(3)))
    True
    """
    return res.extend(np.asarray(y_new, dtype=np.float64), exog=X_new)


# ------------------------------------------------------------------- estimator
class ARIMA(LocalForecaster):
    """Seasonal ARIMA with optional exogenous regressors (statsmodels SARIMAX).

    .. math::

        \\phi_p(L) \\tilde\\phi_P(L^s) \\Delta^d \\Delta_s^D (y_t - x_t^\\top \\beta)
            = A(t) + \\theta_q(L) \\tilde\\theta_Q(L^s) \\varepsilon_t

    One model is fitted per series by exact maximum likelihood (Kalman filter).
    Missing values (NaN) in ``y`` are allowed: the filter skips them. Intervals are
    analytic: the Kalman filter's forecast mean and standard error with normal
    quantiles. ``update`` appends new observations and re-runs the filter with the
    fitted parameters held fixed (no re-estimation).

    Parameters
    ----------
    order : tuple of 3 ints, default=(1, 0, 0)
        ``(p, d, q)``: AR order, differences, MA order.
    seasonal_order : tuple of 4 ints, default=(0, 0, 0, 0)
        ``(P, D, Q, s)``: seasonal AR order, seasonal differences, seasonal MA order and
        the period ``s`` (>= 2 when any seasonal term is used).
    trend : {None, "n", "c", "t", "ct"}, default=None
        Deterministic trend ``A(t)``: none, constant, linear time trend, or both. With
        ``d + D > 0`` a constant acts as a drift.
    enforce_stationarity : bool, default=True
        Constrain the AR polynomials to be stationary during estimation.
    enforce_invertibility : bool, default=True
        Constrain the MA polynomials to be invertible during estimation.
    maxiter : int, default=50
        Iterations of the L-BFGS optimiser.
    n_jobs : int or None, default=None
        joblib workers over series (None means 1).
    fallback : LocalForecaster or None, default=None
        Model used, with a warning naming the series, where SARIMAX fails to fit. None
        raises :class:`~tsssm.exceptions.FitFailedError` naming the series.

    Attributes
    ----------
    models_ : list of (estimator, SARIMAXResults)
        The fitted model of each series (a fallback's state where it was used).
    fallback_series_ : list
        Ids of the series that used the fallback.

    See Also
    --------
    AutoARIMA : chooses the orders per series.

    References
    ----------
    Box, G. E. P., Jenkins, G. M., Reinsel, G. C. & Ljung, G. M. (2015). *Time Series
    Analysis: Forecasting and Control*, 5th ed. Wiley.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> y = pd.Series(np.cumsum(rng.normal(size=100)),
    ...               index=pd.date_range("2024-01-01", periods=100, freq="D"))
    >>> fc = ARIMA(order=(0, 1, 1)).fit(y).predict(3)
    >>> fc.index[0]
    Timestamp('2024-04-10 00:00:00')
    """

    _handles_missing = True
    _supports_exog = True

    def __init__(self, order: tuple[int, int, int] = (1, 0, 0),
                 seasonal_order: tuple[int, int, int, int] = (0, 0, 0, 0),
                 trend: str | None = None, enforce_stationarity: bool = True,
                 enforce_invertibility: bool = True, maxiter: int = 50,
                 n_jobs: int | None = None, fallback: LocalForecaster | None = None):
        self.order = order
        self.seasonal_order = seasonal_order
        self.trend = trend
        self.enforce_stationarity = enforce_stationarity
        self.enforce_invertibility = enforce_invertibility
        self.maxiter = maxiter
        self.n_jobs = n_jobs
        self.fallback = fallback

    def _check_params(self) -> None:
        owner = type(self).__name__
        check_order(self.order, owner)
        check_seasonal_order(self.seasonal_order, owner)
        check_option(self.trend, "trend", TREND_OPTIONS, owner=owner)
        check_bool(self.enforce_stationarity, "enforce_stationarity", owner=owner)
        check_bool(self.enforce_invertibility, "enforce_invertibility", owner=owner)
        check_int(self.maxiter, "maxiter", owner=owner, min_value=1)
        check_int(self.n_jobs, "n_jobs", owner=owner, allow_none=True)

    def _min_length(self) -> int:
        p, d, q = check_order(self.order)
        P, D, Q, s = check_seasonal_order(self.seasonal_order)
        k_trend = {None: 0, "n": 0, "c": 1, "t": 1, "ct": 2}[self.trend]
        # the differences eat d + D*s points; then one more than the free parameters
        return max(3, d + D * s + p + q + P + Q + k_trend + 2)

    def _fit_one(self, y: np.ndarray, X: np.ndarray | None) -> Any:
        return fit_sarimax(
            y, X, check_order(self.order), check_seasonal_order(self.seasonal_order),
            self.trend, enforce_stationarity=bool(self.enforce_stationarity),
            enforce_invertibility=bool(self.enforce_invertibility), maxiter=int(self.maxiter),
        )

    def _forecast_one(self, state: Any, h: int, X: np.ndarray | None,
                      quantiles: tuple[float, ...] | None):
        return sarimax_forecast(state, h, X, quantiles)

    def _update_one(self, state: Any, y_new: np.ndarray, X_new: np.ndarray | None) -> Any:
        return sarimax_update(state, y_new, X_new)
