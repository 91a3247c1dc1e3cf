"""The Theta method, on statsmodels' ThetaModel.

Assimakopoulos & Nikolopoulos (2000) combine a linear trend with simple exponential
smoothing (SES); Hyndman & Billah (2003) showed the standard method is SES with drift.
With ``theta`` the weight parameter (2 for the classic method), on the seasonally
adjusted series ``x_t``:

.. math::

    \\hat x_{n+k} = \\tilde x_{n+1} + \\frac{\\theta - 1}{\\theta} b_0
        \\left[k - 1 + \\frac{1}{\\alpha} - \\frac{(1 - \\alpha)^n}{\\alpha}\\right]

where ``b_0`` is the OLS slope of ``x`` on time and ``\\tilde x_{n+1}`` the SES forecast
with smoothing parameter ``alpha``. The forecast is then re-seasonalised with the
classical-decomposition indices, if the series was found seasonal (a test on the
autocorrelation at lag ``m``, as in R's ``forecast::thetaf``). The ``k``-step variance is
``sigma^2 (1 + (k - 1)(1 + (alpha - 1)^2))`` (the IMA(1,1) form).

``update``: statsmodels has no append for Theta results, so tsssm keeps ``b0``,
``alpha``, ``sigma^2``, the seasonal indices and the decomposition type fixed, runs the
SES recursion ``l_t = l_{t-1} + alpha (x_t - l_{t-1})`` over the new (seasonally
adjusted) observations, and rebuilds a statsmodels ``ThetaModelResults`` at the new end
of the series. Forecasts and intervals always come from that statsmodels object.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tsssm._validation import check_bool, check_int, check_option, check_real
from tsssm.forecasters._blas import one_blas_thread
from tsssm.forecasters._intervals import normal_quantiles, sd_from_interval
from tsssm.forecasters.base import LocalForecaster

__all__ = ["Theta", "ThetaState", "fit_theta", "theta_forecast", "theta_update"]

#: tail probability of the interval read back from statsmodels (any value gives the
#: same implied standard deviation)
_ALPHA = 0.05


@dataclass(frozen=True)
class ThetaState:
    """What a fitted Theta model is, per series.

    Attributes
    ----------
    results : ThetaModelResults
        statsmodels' results at the current end of the series.
    y : numpy.ndarray of shape (n,)
        All observations seen so far.
    b0, alpha, sigma2 : float
        Trend slope, SES smoothing parameter, innovation variance (fixed after fit).
    level : float
        The SES level at the end of the series (its one-step forecast).
    seasonal : numpy.ndarray of shape (m,) or (0,)
        Seasonal indices for positions ``t % m``; empty when not deseasonalised.
    method : {"add", "mul"}
        How the seasonal indices apply.
    period : int
        Season length ``m``.
    deseasonalize : bool
        Whether the statsmodels model was asked to deseasonalise.
    use_mle : bool
        Whether the parameters came from maximum likelihood.

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.forecasters.theta import fit_theta
    >>> state = fit_theta(np.arange(1.0, 21.0))  # a straight line, slope 1
    >>> type(state).__name__, state.y.shape, state.period
    ('ThetaState', (20,), 1)
    >>> round(state.b0, 6)
    1.0
    """

    results: Any
    y: np.ndarray
    b0: float
    alpha: float
    sigma2: float
    level: float
    seasonal: np.ndarray
    method: str
    period: int
    deseasonalize: bool
    use_mle: bool


# ------------------------------------------------------------- module-level maths
@one_blas_thread
def fit_theta(y: np.ndarray, *, period: int = 1, deseasonalize: bool = True,
              method: str = "auto", use_test: bool = True, use_mle: bool = False
              ) -> ThetaState:
    """Fit the Theta method with statsmodels' ThetaModel.

    Seasonal adjustment is only attempted when ``period >= 2`` and the series holds at
    least two full seasons (the classical decomposition needs them); otherwise the
    series is used as is.

    Parameters
    ----------
    y : numpy.ndarray of shape (n,)
        The series.
    period : int, default=1
        Season length ``m``.
    deseasonalize : bool, default=True
        Allow seasonal adjustment.
    method : {"auto", "additive", "multiplicative"}, default="auto"
        Decomposition type; "auto" is multiplicative for positive series unless an
        index comes out non-positive.
    use_test : bool, default=True
        Adjust only if the lag-``m`` autocorrelation test finds seasonality.
    use_mle : bool, default=False
        Estimate ``b0, alpha`` by maximum likelihood (an ARIMA(0,1,1) with drift)
        instead of OLS plus SES.

    Returns
    -------
    ThetaState

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.forecasters.theta import fit_theta
    >>> y = 10.0 + np.arange(24.0) + np.tile([1.0, -1.0, 2.0, -2.0], 6)
    >>> state = fit_theta(y, period=4, method="additive", use_test=False)
    >>> state.seasonal.shape  # one index per position in the season
    (4,)
    """
    from statsmodels.tsa.forecasting.theta import ThetaModel

    y = np.asarray(y, dtype=np.float64)
    deseason = bool(deseasonalize and period >= 2 and len(y) >= 2 * period)
    model = ThetaModel(y, period=period if deseason else 1, deseasonalize=deseason,
                       use_test=use_test, method=method)
    res = model.fit(use_mle=use_mle)
    b0, alpha = (float(v) for v in np.asarray(res.params))
    sigma2 = float(res.sigma2)  # computes statsmodels' lazy ARIMA(0,1,1) variance now
    level = float(np.asarray(res.forecast_components(1)["ses"])[0])
    if not np.all(np.isfinite([b0, alpha, sigma2, level])):
        raise ValueError(f"Theta estimation gave non-finite b0={b0}, alpha={alpha}, "
                         f"sigma2={sigma2}")
    return ThetaState(
        results=res, y=y, b0=b0, alpha=alpha, sigma2=sigma2, level=level,
        seasonal=_seasonal_indices(res, len(y)) if deseason else np.empty(0),
        method="mul" if model.method.startswith("mul") else "add",
        period=period if deseason else 1, deseasonalize=deseason, use_mle=use_mle,
    )


def _seasonal_indices(res: Any, n: int) -> np.ndarray:
    """The seasonal indices statsmodels applied, read from its forecast components.

    ``forecast_components(m)["seasonal"]`` holds the index of positions ``n, ..., n+m-1``;
    rolling it by ``n % m`` gives the index of positions ``0, ..., m-1``. An all-neutral
    result (1 for multiplicative, 0 for additive) means no adjustment was made.
    """
    m = int(res.model.period)
    comp = np.asarray(res.forecast_components(m)["seasonal"], dtype=np.float64)
    idx = np.roll(comp, n % m)
    neutral = 1.0 if res.model.method.startswith("mul") else 0.0
    return np.empty(0) if np.all(idx == neutral) else idx


def ses_levels(x: np.ndarray, level: float, alpha: float) -> float:
    """Run ``l_t = l_{t-1} + alpha (x_t - l_{t-1})`` over ``x`` from ``level``."""
    for v in np.asarray(x, dtype=np.float64):
        level = level + alpha * (v - level)
    return float(level)


@one_blas_thread
def theta_forecast(state: ThetaState, h: int, theta: float,
                   quantiles: tuple[float, ...] | None
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """Point forecasts and normal quantiles from the statsmodels results.

    The quantiles use the standard deviation implied by statsmodels'
    ``prediction_intervals`` (``(upper - lower) / (2 z)``).

    Returns
    -------
    mean : numpy.ndarray of shape (h,)
    q : numpy.ndarray of shape (h, Q) or None

    Parameters
    ----------
    state : ThetaState
        From :func:`fit_theta` or :func:`theta_update`.
    h : int
        Horizon.
    theta : float
        Weight of the SES line against the trend line (2 is the classical Theta method).
    quantiles : tuple of float or None
        Levels in (0, 1); None skips the quantiles.

    Returns
    -------
    mean : numpy.ndarray of shape (h,)
    q : numpy.ndarray of shape (h, Q) or None

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.forecasters.theta import fit_theta, theta_forecast
    >>> state = fit_theta(10.0 + np.random.default_rng(0).normal(size=30))
    >>> mean, q = theta_forecast(state, 3, 2.0, (0.1, 0.5, 0.9))
    >>> mean.shape, q.shape  # (h,), (h, Q)
    ((3,), (3, 3))
    >>> bool((q[:, 0] < q[:, 2]).all())
    True
    """
    res = state.results
    mean = np.asarray(res.forecast(h, theta=theta), dtype=np.float64)
    if quantiles is None:
        return mean, None
    pi = res.prediction_intervals(h, theta=theta, alpha=_ALPHA)
    sd = sd_from_interval(np.asarray(pi["lower"]), np.asarray(pi["upper"]), _ALPHA)
    return mean, normal_quantiles(mean, sd, quantiles)


@one_blas_thread
def theta_update(state: ThetaState, y_new: np.ndarray) -> ThetaState:
    """Absorb new observations with every parameter fixed (see module docstring).

    Parameters
    ----------
    state : ThetaState
        From :func:`fit_theta` or an earlier update.
    y_new : numpy.ndarray of shape (m,)
        Observations following those of ``state``.

    Returns
    -------
    ThetaState
        A new state ending at the last new observation; ``b0``, ``alpha`` and
        ``sigma2`` are those of ``state``.

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.forecasters.theta import fit_theta, theta_update
    >>> y = 10.0 + np.random.default_rng(0).normal(size=30)
    >>> state = fit_theta(y[:25])
    >>> new = theta_update(state, y[25:])
    >>> new.y.shape, new.alpha == state.alpha, new.b0 == state.b0
    ((30,), True, True)
    """
    from statsmodels.tsa.forecasting.theta import ThetaModel, ThetaModelResults

    y_new = np.asarray(y_new, dtype=np.float64)
    n = len(state.y)
    x = y_new
    if len(state.seasonal):  # seasonally adjust the new points with the fitted indices
        s = state.seasonal[(n + np.arange(len(y_new))) % state.period]
        x = y_new / s if state.method == "mul" else y_new - s
    level = ses_levels(x, state.level, state.alpha)
    y = np.concatenate([state.y, y_new])
    method = "multiplicative" if state.method == "mul" else "additive"
    # a model over the extended data that is never fitted: it only carries the data,
    # period and decomposition type that ThetaModelResults reads when forecasting
    model = ThetaModel(y, period=state.period, deseasonalize=state.deseasonalize,
                       use_test=False, method=method)
    results = ThetaModelResults(state.b0, state.alpha, state.sigma2, level,
                                state.seasonal, state.use_mle, model)
    return replace(state, results=results, y=y, level=level)


# ------------------------------------------------------------------- estimator
class Theta(LocalForecaster):
    """The Theta method (statsmodels ThetaModel): SES with drift on adjusted data.

    .. math::

        \\hat x_{n+k} = \\tilde x_{n+1} + \\frac{\\theta - 1}{\\theta} b_0
            \\left[k - 1 + \\frac{1}{\\alpha} - \\frac{(1 - \\alpha)^n}{\\alpha}\\right]

    on the seasonally adjusted series ``x``, then re-seasonalised. The series is
    adjusted (classical decomposition) only when ``season_length >= 2``,
    ``deseasonalize=True``, it holds two full seasons, and (with ``use_test``) the
    lag-``m`` autocorrelation test finds seasonality.

    Intervals: normal, with statsmodels' IMA(1,1) variance
    ``sigma^2 (1 + (k - 1)(1 + (alpha - 1)^2))``, the standard deviation read from
    ``ThetaModelResults.prediction_intervals``.

    ``update`` keeps ``b0``, ``alpha``, ``sigma^2`` and the seasonal indices fixed and
    runs the SES recursion over the new observations; it does not re-estimate or
    re-decompose (statsmodels offers no append for Theta).

    Parameters
    ----------
    season_length : int, default=1
        Seasonal period ``m``.
    deseasonalize : bool, default=True
        Allow seasonal adjustment.
    method : {"auto", "additive", "multiplicative"}, default="auto"
        Decomposition type; "auto" is multiplicative for strictly positive series,
        falling back to additive when an index comes out non-positive.
    theta : float, default=2.0
        Weight of the trend line (>= 1); 2 is the classic Theta method, 1 plain SES.
    use_test : bool, default=True
        Adjust only where the seasonality test (10% level) rejects no seasonality.
    use_mle : bool, default=False
        Estimate ``b0`` and ``alpha`` by maximum likelihood instead of OLS + SES.
    n_jobs : int or None, default=None
        joblib workers over series (None means 1).
    fallback : LocalForecaster or None, default=None
        Model used, with a warning naming the series, where Theta fails to fit. None
        raises :class:`~tsssm.exceptions.FitFailedError` naming the series.

    Attributes
    ----------
    models_ : list of (estimator, ThetaState)
        The fitted model of each series.
    fallback_series_ : list
        Ids of the series that used the fallback.

    References
    ----------
    Assimakopoulos, V. & Nikolopoulos, K. (2000). The theta model: a decomposition
    approach to forecasting. *International Journal of Forecasting*, 16(4), 521-530.
    Hyndman, R. J. & Billah, B. (2003). Unmasking the Theta method. *International
    Journal of Forecasting*, 19(2), 287-290.

    Examples
    --------
    >>> import pandas as pd
    >>> y = pd.Series([10.0, 11.0, 12.5, 12.0, 13.5, 14.0, 15.5, 15.0, 16.5, 17.0])
    >>> fc = Theta().fit(y).predict(3)
    >>> bool(fc.iloc[2] > fc.iloc[0] > 16.0)
    True
    """

    def __init__(self, season_length: int = 1, deseasonalize: bool = True,
                 method: str = "auto", theta: float = 2.0, use_test: bool = True,
                 use_mle: bool = False, n_jobs: int | None = None,
                 fallback: LocalForecaster | None = None):
        self.season_length = season_length
        self.deseasonalize = deseasonalize
        self.method = method
        self.theta = theta
        self.use_test = use_test
        self.use_mle = use_mle
        self.n_jobs = n_jobs
        self.fallback = fallback

    def _check_params(self) -> None:
        owner = type(self).__name__
        check_int(self.season_length, "season_length", owner=owner, min_value=1)
        check_bool(self.deseasonalize, "deseasonalize", owner=owner)
        check_option(self.method, "method", ("auto", "additive", "multiplicative"),
                     owner=owner)
        check_real(self.theta, "theta", owner=owner, min_value=1.0)
        check_bool(self.use_test, "use_test", owner=owner)
        check_bool(self.use_mle, "use_mle", owner=owner)
        check_int(self.n_jobs, "n_jobs", owner=owner, allow_none=True)

    def _min_length(self) -> int:
        return 4  # a slope, a smoothing parameter and a variance need a few points

    def _fit_one(self, y: np.ndarray, X: np.ndarray | None) -> ThetaState:
        return fit_theta(y, period=int(self.season_length),
                         deseasonalize=bool(self.deseasonalize), method=self.method,
                         use_test=bool(self.use_test), use_mle=bool(self.use_mle))

    def _forecast_one(self, state: ThetaState, h: int, X: np.ndarray | None,
                      quantiles: tuple[float, ...] | None):
        return theta_forecast(state, h, float(self.theta), quantiles)

    def _update_one(self, state: ThetaState, y_new: np.ndarray,
                    X_new: np.ndarray | None) -> ThetaState:
        return theta_update(state, y_new)
