"""Per-series scaling of the target: ``z = (y - loc) / scale``.

Each series gets its own ``loc`` and ``scale``, learnt at ``fit`` from the training
data only and kept fixed by ``transform``, ``update`` and ``inverse_transform``.
Because ``scale > 0`` the map is increasing, so quantile and interval forecasts made on
the scaled data map back exactly: ``inverse(q_tau(z)) = q_tau(y)``.
"""

from __future__ import annotations

import numpy as np

from tsssm._validation import check_option
from tsssm.exceptions import DataError
from tsssm.preprocessing._frames import Block
from tsssm.preprocessing.base import BaseTransformer

__all__ = ["Scaler", "scale_statistics"]

_METHODS = ("standard", "robust", "minmax", "meanabs")


def scale_statistics(y: np.ndarray, method: str) -> tuple[float, float]:
    """Location and scale of one series (NaNs ignored).

    Parameters
    ----------
    y : numpy.ndarray of shape (n,)
        Observations with at least one finite value.
    method : {"standard", "robust", "minmax", "meanabs"}
        ``standard``: mean and standard deviation (ddof=0);
        ``robust``: median and interquartile range (75th minus 25th percentile);
        ``minmax``: minimum and range (``z`` in [0, 1] on the training data);
        ``meanabs``: 0 and the mean absolute value (scale only, as in DeepAR).

    Returns
    -------
    loc, scale : float
        ``scale`` is replaced by 1 where it is zero (a constant series), so the scaled
        series is ``y - loc`` rather than a division by zero.

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.preprocessing.scalers import scale_statistics
    >>> y = np.array([1.0, 2.0, 3.0, np.nan])
    >>> scale_statistics(y, "minmax")
    (1.0, 2.0)
    >>> scale_statistics(np.array([5.0, 5.0]), "standard")  # constant: scale 1, not 0
    (5.0, 1.0)
    """
    y = y[~np.isnan(y)]
    if method == "standard":
        loc, scale = float(np.mean(y)), float(np.std(y))
    elif method == "robust":
        q25, q50, q75 = np.quantile(y, [0.25, 0.5, 0.75])
        loc, scale = float(q50), float(q75 - q25)
    elif method == "minmax":
        lo, hi = float(np.min(y)), float(np.max(y))
        loc, scale = lo, hi - lo
    else:
        loc, scale = 0.0, float(np.mean(np.abs(y)))
    # a scale at rounding level of the data (np.std of a constant series is not exactly 0)
    if not scale > 64 * np.finfo(np.float64).eps * max(1.0, abs(loc)):
        scale = 1.0
    return loc, scale


class Scaler(BaseTransformer):
    """Scale each series by statistics of its own training data.

    ``z = (y - loc) / scale`` with per-series ``loc`` and ``scale`` from
    :func:`scale_statistics`. Missing values are ignored when fitting and stay
    missing.

    Parameters
    ----------
    method : {"standard", "robust", "minmax", "meanabs"}, default="standard"
        Which statistics: mean/std, median/IQR, min/range or 0/mean absolute value.

    Attributes
    ----------
    loc_ : dict
        Location per series id.
    scale_ : dict
        Scale per series id (> 0).
    layout_ : str
        ``"series"``, ``"wide"`` or ``"long"``: the layout seen at fit.

    See Also
    --------
    tsssm.preprocessing.TransformedForecaster : fit a forecaster on scaled data.

    Examples
    --------
    >>> import pandas as pd
    >>> y = pd.Series([1.0, 2.0, 3.0], index=pd.date_range("2024-01-01", periods=3))
    >>> z = Scaler(method="minmax").fit_transform(y)
    >>> z.tolist()
    [0.0, 0.5, 1.0]
    >>> Scaler(method="minmax").fit(y).inverse_transform(z).tolist()
    [1.0, 2.0, 3.0]
    """

    def __init__(self, method: str = "standard") -> None:
        self.method = method

    def _check_params(self) -> None:
        check_option(self.method, "method", _METHODS, owner=type(self).__name__)

    def _fit_series(self, block: Block) -> tuple[float, float]:
        y = block.values[:, 0]
        if not np.isfinite(y).any():
            raise DataError(
                f"Series {block.uid!r} has no finite values; {type(self).__name__} cannot "
                "learn its scale. Drop it or impute it first."
            )
        return scale_statistics(y, self.method)

    def _transform_series(self, block: Block, state: tuple[float, float]) -> np.ndarray:
        loc, scale = state
        return (block.values - loc) / scale

    def _inverse_series(self, block: Block, state: tuple[float, float]) -> np.ndarray:
        loc, scale = state
        return block.values * scale + loc

    @property
    def loc_(self) -> dict:
        """Location per series id."""
        return {k: v[0] for k, v in self.states_.items()}

    @property
    def scale_(self) -> dict:
        """Scale per series id."""
        return {k: v[1] for k, v in self.states_.items()}
