"""The naive family: Naive, SeasonalNaive, Drift and HistoricAverage.

Point forecasts follow Hyndman & Athanasopoulos, *Forecasting: Principles and
Practice* (3rd ed.), section 5.2. Intervals are empirical: for each step ``k`` of the
horizon, the quantiles of the method's own in-sample ``k``-step-ahead errors are added
to the point forecast. Where a series is too short to give enough ``k``-step errors,
the quantiles of the longest step that has enough are widened by ``sqrt(k / k')``, the
growth of a random walk's spread.
"""

from __future__ import annotations

import numpy as np

from tsssm._validation import check_int
from tsssm.forecasters.base import LocalForecaster

__all__ = ["Drift", "HistoricAverage", "Naive", "SeasonalNaive"]

#: fewest k-step errors from which empirical quantiles are taken directly
_MIN_ERRORS = 10


# ------------------------------------------------------------ module-level maths
def naive_forecast(y: np.ndarray, h: int) -> np.ndarray:
    """Repeat the last value: ``yhat[n+k] = y[n]``."""
    return np.full(h, y[-1], dtype=np.float64)


def seasonal_naive_forecast(y: np.ndarray, h: int, m: int) -> np.ndarray:
    """Repeat the last season: ``yhat[n+k] = y[n + k - m * ceil(k / m)]``."""
    k = np.arange(1, h + 1)
    return y[len(y) - m + (k - 1) % m].astype(np.float64)


def drift_forecast(y: np.ndarray, h: int) -> np.ndarray:
    """Extend the line through the first and last values: ``y[n] + k (y[n] - y[1]) / (n - 1)``."""
    slope = (y[-1] - y[0]) / (len(y) - 1)
    return y[-1] + slope * np.arange(1, h + 1)


def historic_average_forecast(y: np.ndarray, h: int) -> np.ndarray:
    """The mean of all observations."""
    return np.full(h, float(np.mean(y)))


def empirical_quantiles(errors: list[np.ndarray], quantiles: tuple[float, ...]) -> np.ndarray:
    """Quantiles of k-step errors for k = 1..h, widening where too few errors exist.

    Parameters
    ----------
    errors : list of h arrays
        ``errors[k - 1]`` holds the in-sample ``k``-step-ahead errors.
    quantiles : tuple of float
        Levels in (0, 1).

    Returns
    -------
    numpy.ndarray of shape (h, Q)
    """
    h, qs = len(errors), np.asarray(quantiles)
    out = np.empty((h, len(qs)))
    last_ok = None
    for k in range(1, h + 1):
        e = errors[k - 1]
        if len(e) >= _MIN_ERRORS or (last_ok is None and len(e) > 0):
            out[k - 1] = np.quantile(e, qs)
            last_ok = k
        elif last_ok is not None:
            out[k - 1] = out[last_ok - 1] * np.sqrt(k / last_ok)
        else:
            raise ValueError("too few observations for empirical intervals")
    return out


def _lag_errors(y: np.ndarray, lag: int) -> np.ndarray:
    return y[lag:] - y[:-lag] if lag < len(y) else np.zeros(0)


# ------------------------------------------------------------------- estimators
class _NaiveFamily(LocalForecaster):
    """Shared state handling: the state is the series itself."""

    def _fit_one(self, y, X):
        return np.asarray(y, dtype=np.float64)

    def _update_one(self, state, y_new, X_new):
        return np.concatenate([state, np.asarray(y_new, dtype=np.float64)])

    def _forecast_one(self, state, h, X, quantiles):
        mean = self._point(state, h)
        if quantiles is None:
            return mean, None
        errs = [self._errors(state, k) for k in range(1, h + 1)]
        return mean, mean[:, None] + empirical_quantiles(errs, quantiles)


class Naive(_NaiveFamily):
    """Naive forecast: every future value equals the last observation.

    .. math:: \\hat y_{n+k} = y_n

    Intervals: empirical quantiles of the in-sample ``k``-step errors
    ``y_t - y_{t-k}`` (see module docstring).

    Parameters
    ----------
    n_jobs : int or None, default=None
        joblib workers over series.

    Examples
    --------
    >>> import pandas as pd
    >>> y = pd.Series([1.0, 2.0, 4.0], index=pd.date_range("2024-01-01", periods=3, freq="D"))
    >>> Naive().fit(y).predict(2).tolist()
    [4.0, 4.0]
    """

    def __init__(self, n_jobs: int | None = None):
        self.n_jobs = n_jobs

    def _min_length(self) -> int:
        return 2

    def _point(self, y, h):
        return naive_forecast(y, h)

    def _errors(self, y, k):
        return _lag_errors(y, k)


class SeasonalNaive(_NaiveFamily):
    """Seasonal naive forecast: repeat the last observed season.

    .. math:: \\hat y_{n+k} = y_{n + k - m \\lceil k/m \\rceil}

    Intervals: empirical quantiles of the in-sample errors
    ``y_t - y_{t - m \\lceil k/m \\rceil}``.

    Parameters
    ----------
    season_length : int, default=1
        The season length ``m`` (24 for hourly data with a daily cycle).
    n_jobs : int or None, default=None
        joblib workers over series.

    Examples
    --------
    >>> import pandas as pd
    >>> y = pd.Series([1.0, 2.0, 3.0, 1.0, 2.0, 3.0])
    >>> SeasonalNaive(season_length=3).fit(y).predict(4).tolist()
    [1.0, 2.0, 3.0, 1.0]
    """

    def __init__(self, season_length: int = 1, n_jobs: int | None = None):
        self.season_length = season_length
        self.n_jobs = n_jobs

    def _check_params(self) -> None:
        check_int(self.season_length, "season_length", owner="SeasonalNaive", min_value=1)

    def _min_length(self) -> int:
        return int(self.season_length) + 1

    def _point(self, y, h):
        return seasonal_naive_forecast(y, h, int(self.season_length))

    def _errors(self, y, k):
        m = int(self.season_length)
        return _lag_errors(y, m * int(np.ceil(k / m)))


class Drift(_NaiveFamily):
    """Drift forecast: the line through the first and last observations.

    .. math:: \\hat y_{n+k} = y_n + k \\frac{y_n - y_1}{n - 1}

    Intervals: empirical quantiles of the in-sample errors
    ``y_t - (y_{t-k} + k b)`` with ``b`` the fitted slope.

    Parameters
    ----------
    n_jobs : int or None, default=None
        joblib workers over series.

    Examples
    --------
    >>> import pandas as pd
    >>> Drift().fit(pd.Series([1.0, 2.0, 3.0])).predict(2).tolist()
    [4.0, 5.0]
    """

    def __init__(self, n_jobs: int | None = None):
        self.n_jobs = n_jobs

    def _min_length(self) -> int:
        return 3

    def _point(self, y, h):
        return drift_forecast(y, h)

    def _errors(self, y, k):
        slope = (y[-1] - y[0]) / (len(y) - 1)
        return _lag_errors(y, k) - k * slope


class HistoricAverage(_NaiveFamily):
    """Historic average: every future value equals the mean of the history.

    .. math:: \\hat y_{n+k} = \\frac{1}{n} \\sum_{t=1}^{n} y_t

    Intervals: empirical quantiles of the in-sample deviations ``y_t - \\bar y``
    (the same for every step).

    Parameters
    ----------
    n_jobs : int or None, default=None
        joblib workers over series.

    Examples
    --------
    >>> import pandas as pd
    >>> HistoricAverage().fit(pd.Series([1.0, 2.0, 6.0])).predict(1).tolist()
    [3.0]
    """

    def __init__(self, n_jobs: int | None = None):
        self.n_jobs = n_jobs

    def _min_length(self) -> int:
        return 2

    def _point(self, y, h):
        return historic_average_forecast(y, h)

    def _errors(self, y, k):
        return y - np.mean(y)
