"""Exponential smoothing state-space models (ETS), on statsmodels' ETSModel.

The innovations state-space form of Hyndman, Koehler, Ord & Snyder (*Forecasting with
Exponential Smoothing*, Springer 2008) for the additive-error, additive-trend,
additive-season model reads

.. math::

    y_t &= \\ell_{t-1} + \\phi b_{t-1} + s_{t-m} + \\varepsilon_t \\\\
    \\ell_t &= \\ell_{t-1} + \\phi b_{t-1} + \\alpha \\varepsilon_t \\\\
    b_t &= \\phi b_{t-1} + \\beta \\varepsilon_t \\\\
    s_t &= s_{t-m} + \\gamma \\varepsilon_t

with multiplicative variants of each component. Smoothing parameters and initial
states are estimated by maximum likelihood.

Intervals come from the model's own predictive distribution: analytic (normal, with the
exact forecast variance of Hyndman et al., 2008, chapter 6) for the linear models
``ANN, AAN, AAdN, ANA, AAA, AAdA``; simulated sample paths otherwise.

``update`` does not re-estimate anything: statsmodels' ETSResults has no ``append``,
so the smoother is re-run over the extended series with the fitted smoothing
parameters and initial states (``ETSModel.smooth(params)``). The innovation variance,
which statsmodels computes from the residuals rather than estimating it, then reflects
the extended residuals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tsssm._validation import check_bool, check_int, check_option
from tsssm.exceptions import ParameterError
from tsssm.forecasters._blas import one_blas_thread
from tsssm.forecasters._intervals import normal_quantiles
from tsssm.forecasters.base import LocalForecaster

__all__ = ["ETS", "ets_forecast", "ets_update", "fit_ets"]

#: number of simulated paths behind the intervals of non-linear (multiplicative) models
N_PATHS = 1000

#: statsmodels' short names of the models with an analytic forecast variance
_EXACT = ("ANN", "AAN", "AAdN", "ANA", "AAA", "AAdA")


# ------------------------------------------------------------- module-level maths
def _model(y: np.ndarray, spec: dict[str, Any]) -> Any:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    # A pandas endog with a RangeIndex: statsmodels' ETS prediction code reads
    # `.index` from its outputs and fails on plain arrays in some versions.
    endog = pd.Series(np.asarray(y, dtype=np.float64))
    return ETSModel(endog, **spec)


@one_blas_thread
def fit_ets(y: np.ndarray, spec: dict[str, Any]) -> Any:
    """Fit an ETS model by maximum likelihood.

    Parameters
    ----------
    y : numpy.ndarray of shape (n,)
        The series (finite; strictly positive for multiplicative components).
    spec : dict
        ``ETSModel`` keyword arguments: ``error``, ``trend``, ``damped_trend``,
        ``seasonal``, ``seasonal_periods``.

    Returns
    -------
    statsmodels.tsa.exponential_smoothing.ets.ETSResults

    Raises
    ------
    ValueError
        From statsmodels (e.g. non-positive data with a multiplicative component), or
        when the estimates are not finite.

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.forecasters.ets import fit_ets
    >>> y = 10.0 + np.random.default_rng(0).normal(size=40)
    >>> res = fit_ets(y, {"error": "add", "trend": None})  # simple exponential smoothing
    >>> bool(0.0 <= res.params[0] <= 1.0)  # the smoothing parameter alpha
    True
    """
    res = _model(y, spec).fit(disp=False)
    if not np.all(np.isfinite(np.asarray(res.params))) or not np.isfinite(res.mse):
        raise ValueError(f"ETS estimation gave non-finite estimates {np.asarray(res.params)}")
    return res


@one_blas_thread
def ets_forecast(res: Any, h: int, quantiles: tuple[float, ...] | None,
                 rng: np.random.Generator | None = None
                 ) -> tuple[np.ndarray, np.ndarray | None]:
    """Point forecasts and predictive quantiles of a fitted ETS model.

    Parameters
    ----------
    res : ETSResults
        Fitted (or re-smoothed) results.
    h : int
        Horizon.
    quantiles : tuple of float or None
        Levels in (0, 1); None skips the quantiles.
    rng : numpy.random.Generator or None
        Source of the simulated paths (models without an analytic variance).

    Returns
    -------
    mean : numpy.ndarray of shape (h,)
        The conditional mean forecast.
    q : numpy.ndarray of shape (h, Q) or None
        Normal quantiles with the exact forecast variance for linear models; empirical
        quantiles of ``N_PATHS`` simulated paths otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.forecasters.ets import ets_forecast, fit_ets
    >>> y = 10.0 + np.random.default_rng(0).normal(size=40)
    >>> res = fit_ets(y, {"error": "add", "trend": None})
    >>> mean, q = ets_forecast(res, 3, (0.1, 0.9))
    >>> mean.shape, q.shape  # (h,), (h, Q)
    ((3,), (3, 2))
    >>> bool((q[:, 0] < mean).all() and (mean < q[:, 1]).all())
    True
    """
    mean = np.asarray(res.forecast(h), dtype=np.float64)
    if quantiles is None:
        return mean, None
    n = int(res.model.nobs)
    if res.model.short_name in _EXACT:
        pred = res.get_prediction(start=n, end=n + h - 1)
        var = np.asarray(pred.forecast_variance, dtype=np.float64)
        return mean, normal_quantiles(mean, np.sqrt(var), quantiles)
    # positional: the random-state argument was renamed across statsmodels versions
    paths = np.asarray(res.simulate(h, "end", N_PATHS, None, rng), dtype=np.float64)
    return mean, np.quantile(paths.reshape(h, -1), quantiles, axis=1).T  # (h, Q)


@one_blas_thread
def ets_update(res: Any, y_new: np.ndarray) -> Any:
    """Re-run the smoother over the extended series with the fitted parameters.

    No parameter (smoothing or initial state) is re-estimated.

    Parameters
    ----------
    res : ETSResults
        Fitted (or previously updated) results.
    y_new : numpy.ndarray of shape (m,)
        Observations following those of ``res``.

    Returns
    -------
    ETSResults
        Results over the extended series, with ``res.params``.

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.forecasters.ets import ets_update, fit_ets
    >>> y = 10.0 + np.random.default_rng(0).normal(size=40)
    >>> res = fit_ets(y[:30], {"error": "add", "trend": None})
    >>> new = ets_update(res, y[30:])
    >>> new.nobs, bool(np.array_equal(new.params, res.params))
    (40, True)
    """
    y = np.concatenate([np.asarray(res.model.endog, dtype=np.float64).reshape(-1),
                        np.asarray(y_new, dtype=np.float64)])
    return _model(y, _spec_of(res.model)).smooth(np.asarray(res.params))


def _spec_of(model: Any) -> dict[str, Any]:
    return {
        "error": model.error,
        "trend": model.trend,
        "damped_trend": model.damped_trend,
        "seasonal": model.seasonal,
        "seasonal_periods": model.seasonal_periods if model.seasonal else None,
    }


# ------------------------------------------------------------------- estimator
class ETS(LocalForecaster):
    """Exponential smoothing in innovations state-space form (statsmodels ETSModel).

    For the additive model with damped trend and season of length ``m``:

    .. math::

        y_t &= \\ell_{t-1} + \\phi b_{t-1} + s_{t-m} + \\varepsilon_t \\\\
        \\ell_t &= \\ell_{t-1} + \\phi b_{t-1} + \\alpha \\varepsilon_t, \\quad
        b_t = \\phi b_{t-1} + \\beta \\varepsilon_t, \\quad
        s_t = s_{t-m} + \\gamma \\varepsilon_t

    Multiplicative error, trend or season replace the sums by products. Smoothing
    parameters and initial states are estimated per series by maximum likelihood.

    Intervals: analytic normal quantiles with the exact forecast variance for the
    linear models (additive error, no multiplicative trend or season); for the others,
    quantiles of 1000 simulated sample paths drawn with ``random_state``.

    ``update`` re-runs the smoother over the extended series with the fitted smoothing
    parameters and initial states (statsmodels' ETSResults has no ``append``); nothing
    is re-estimated, except that the innovation variance (a residual mean square in
    statsmodels, not an optimised parameter) is recomputed on the extended residuals.

    Parameters
    ----------
    error : {"add", "mul"}, default="add"
        Error type.
    trend : {None, "add", "mul"}, default=None
        Trend component.
    damped_trend : bool, default=False
        Damp the trend (needs ``trend``).
    seasonal : {None, "add", "mul"}, default=None
        Seasonal component (needs ``season_length >= 2``).
    season_length : int, default=1
        Seasonal period ``m``.
    random_state : int or None, default=None
        Seed of the simulated paths behind the intervals of non-linear models; None
        draws fresh randomness at each call.
    n_jobs : int or None, default=None
        joblib workers over series (None means 1).
    fallback : LocalForecaster or None, default=None
        Model used, with a warning naming the series, where ETS fails to fit (for
        example a multiplicative model on a series with zeros). None raises
        :class:`~tsssm.exceptions.FitFailedError` naming the series.

    Attributes
    ----------
    models_ : list of (estimator, ETSResults)
        The fitted model of each series.
    fallback_series_ : list
        Ids of the series that used the fallback.

    References
    ----------
    Hyndman, R. J., Koehler, A. B., Ord, J. K. & Snyder, R. D. (2008). *Forecasting with
    Exponential Smoothing: The State Space Approach*. Springer.

    Examples
    --------
    >>> import pandas as pd
    >>> y = pd.Series([10.0, 12.0, 11.0, 13.0, 12.0, 14.0, 13.0, 15.0, 14.0, 16.0])
    >>> fc = ETS(trend="add").fit(y).predict(2)
    >>> bool(fc.iloc[1] > fc.iloc[0])
    True
    """

    def __init__(self, error: str = "add", trend: str | None = None,
                 damped_trend: bool = False, seasonal: str | None = None,
                 season_length: int = 1, random_state: int | None = None,
                 n_jobs: int | None = None, fallback: LocalForecaster | None = None):
        self.error = error
        self.trend = trend
        self.damped_trend = damped_trend
        self.seasonal = seasonal
        self.season_length = season_length
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.fallback = fallback

    def _check_params(self) -> None:
        owner = type(self).__name__
        check_option(self.error, "error", ("add", "mul"), owner=owner)
        check_option(self.trend, "trend", (None, "add", "mul"), owner=owner)
        check_bool(self.damped_trend, "damped_trend", owner=owner)
        check_option(self.seasonal, "seasonal", (None, "add", "mul"), owner=owner)
        m = check_int(self.season_length, "season_length", owner=owner, min_value=1)
        if self.damped_trend and self.trend is None:
            raise ParameterError(
                f"The 'damped_trend' parameter of {owner} is True but trend=None: there is "
                "no trend to damp. Set trend='add' (or 'mul') or damped_trend=False."
            )
        if self.seasonal is not None and m < 2:
            raise ParameterError(
                f"The 'season_length' parameter of {owner} must be >= 2 when "
                f"seasonal={self.seasonal!r}. Got {m}."
            )
        check_int(self.random_state, "random_state", owner=owner, min_value=0,
                  allow_none=True)
        check_int(self.n_jobs, "n_jobs", owner=owner, allow_none=True)

    def _spec(self) -> dict[str, Any]:
        return {
            "error": self.error,
            "trend": self.trend,
            "damped_trend": bool(self.damped_trend),
            "seasonal": self.seasonal,
            "seasonal_periods": int(self.season_length) if self.seasonal else None,
        }

    def _min_length(self) -> int:
        # statsmodels' initial seasonal heuristic needs two full seasons
        if self.seasonal is not None:
            return 2 * int(self.season_length)
        return 4 if self.trend is not None else 3

    def _fit_one(self, y: np.ndarray, X: np.ndarray | None) -> Any:
        return fit_ets(y, self._spec())

    def _forecast_one(self, state: Any, h: int, X: np.ndarray | None,
                      quantiles: tuple[float, ...] | None):
        rng = np.random.default_rng(self.random_state)
        return ets_forecast(state, h, quantiles, rng)

    def _update_one(self, state: Any, y_new: np.ndarray, X_new: np.ndarray | None) -> Any:
        return ets_update(state, y_new)
