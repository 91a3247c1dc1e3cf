"""Gaussian predictive quantiles shared by the statsmodels-based forecasters.

ARIMA, ETS (additive-error forms) and Theta all describe the ``k``-step predictive
distribution as a normal with a mean and a standard deviation; these helpers turn
that pair (or a central interval statsmodels returns) into any requested quantile
levels.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

__all__ = ["normal_quantiles", "sd_from_interval"]


def normal_quantiles(mean: np.ndarray, sd: np.ndarray,
                     quantiles: tuple[float, ...]) -> np.ndarray:
    """Quantiles of independent normals ``N(mean[k], sd[k]**2)``.

    .. math:: q_k(\\tau) = \\mu_k + \\sigma_k \\Phi^{-1}(\\tau)

    Parameters
    ----------
    mean : numpy.ndarray of shape (h,)
        Predictive means.
    sd : numpy.ndarray of shape (h,)
        Predictive standard deviations (>= 0).
    quantiles : tuple of float
        Levels strictly inside (0, 1).

    Returns
    -------
    numpy.ndarray of shape (h, Q)
    """
    mean = np.asarray(mean, dtype=np.float64).reshape(-1)
    sd = np.asarray(sd, dtype=np.float64).reshape(-1)
    z = norm.ppf(np.asarray(quantiles, dtype=np.float64))  # (Q,)
    return mean[:, None] + sd[:, None] * z[None, :]


def sd_from_interval(lower: np.ndarray, upper: np.ndarray, alpha: float) -> np.ndarray:
    """The normal standard deviation implied by a central ``1 - alpha`` interval.

    A symmetric normal interval is ``mean +- sd * z`` with ``z = Phi^{-1}(1 - alpha/2)``,
    so ``sd = (upper - lower) / (2 z)``.

    Parameters
    ----------
    lower, upper : numpy.ndarray of shape (h,)
        Interval bounds.
    alpha : float
        Tail probability outside the interval, in (0, 1).

    Returns
    -------
    numpy.ndarray of shape (h,)
    """
    z = norm.ppf(1.0 - alpha / 2.0)
    width = np.asarray(upper, dtype=np.float64) - np.asarray(lower, dtype=np.float64)
    return width.reshape(-1) / (2.0 * z)
