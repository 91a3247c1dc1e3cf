"""Target transforms with exact inverses: log, Box-Cox and (seasonal) differencing.

Log and Box-Cox are increasing maps, so quantile and interval forecasts made on the
transformed scale map back to quantiles of the original scale exactly. Point forecasts
map back to the *median* of the original scale when the transformed-scale forecast is
a median or a mean of a symmetric distribution; no bias adjustment towards the mean is
made (Hyndman & Athanasopoulos, FPP3, section 5.6).

Differencing is linear: point forecasts (means) integrate back exactly. Quantiles are
integrated column by column, ``q_tau(y_{n+k}) ~ y_n + sum_{j<=k} q_tau(z_{n+j})``,
which is exact only when the forecast errors of the differenced series are perfectly
dependent across steps; for Gaussian errors with any other dependence it gives
intervals at least as wide as the exact ones (the sum of standard deviations bounds
the standard deviation of the sum), so they are conservative.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import optimize, stats

from tsssm._validation import check_int, check_option, check_real
from tsssm.exceptions import DataError, ParameterError, ParameterTypeError
from tsssm.preprocessing._frames import Block
from tsssm.preprocessing._time import shift
from tsssm.preprocessing.base import BaseTransformer, History

__all__ = [
    "BoxCox",
    "Differencer",
    "LogTransform",
    "boxcox",
    "guerrero_lambda",
    "inv_boxcox",
]


# ------------------------------------------------------------------- log
class LogTransform(BaseTransformer):
    """Natural logarithm of the target: ``log(y)`` or ``log(1 + y)``.

    Parameters
    ----------
    method : {"log", "log1p"}, default="log"
        ``"log"`` needs ``y > 0``; ``"log1p"`` needs ``y > -1`` and keeps zeros at zero
        (counts, sales). Inverses: ``exp`` and ``expm1``.

    Examples
    --------
    >>> import pandas as pd
    >>> y = pd.Series([0.0, 9.0], index=pd.RangeIndex(2))
    >>> t = LogTransform(method="log1p").fit(y)
    >>> t.inverse_transform(t.transform(y)).round(12).tolist()
    [0.0, 9.0]
    """

    _per_series = False

    def __init__(self, method: str = "log") -> None:
        self.method = method

    def _check_params(self) -> None:
        check_option(self.method, "method", ("log", "log1p"), owner=type(self).__name__)

    def _fit_series(self, block: Block) -> None:
        self._check_domain(block)

    def _check_domain(self, block: Block) -> None:
        y = block.values[:, 0]
        low = 0.0 if self.method == "log" else -1.0
        bad = ~np.isnan(y) & (y <= low)
        if bad.any():
            need = "strictly positive values" if self.method == "log" else "values > -1"
            raise DataError(
                f"Series {block.uid!r} has {int(bad.sum())} value(s) <= {low:g} (the "
                f"smallest is {np.nanmin(y):g}); LogTransform(method={self.method!r}) needs "
                f"{need}. Use method='log1p' for data with zeros, or shift the series."
            )

    def _transform_series(self, block: Block, state: None) -> np.ndarray:
        self._check_domain(block)
        return np.log(block.values) if self.method == "log" else np.log1p(block.values)

    def _inverse_series(self, block: Block, state: None) -> np.ndarray:
        return np.exp(block.values) if self.method == "log" else np.expm1(block.values)


# --------------------------------------------------------------- Box-Cox
def boxcox(y: np.ndarray, lmbda: float) -> np.ndarray:
    """Box-Cox transform ``(y**lmbda - 1) / lmbda`` (``log(y)`` at ``lmbda = 0``), ``y > 0``.

    Parameters
    ----------
    y : numpy.ndarray
        Positive values, any shape.
    lmbda : float
        The Box-Cox parameter.

    Returns
    -------
    numpy.ndarray
        Same shape as ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.preprocessing.transforms import boxcox
    >>> boxcox(np.array([1.0, 4.0]), 0.5).tolist()  # (sqrt(y) - 1) / 0.5
    [0.0, 2.0]
    >>> boxcox(np.array([1.0, np.e]), 0.0).tolist()  # log
    [0.0, 1.0]
    """
    if lmbda == 0.0:
        return np.log(y)
    return np.expm1(lmbda * np.log(y)) / lmbda


def inv_boxcox(z: np.ndarray, lmbda: float) -> np.ndarray:
    """Inverse Box-Cox transform ``(lmbda z + 1) ** (1 / lmbda)``.

    Outside the transform's range (``lmbda z + 1 <= 0``, reachable by far quantiles)
    the result is the limit of the increasing inverse there: 0 for ``lmbda > 0`` and
    ``inf`` for ``lmbda < 0``, so quantile order is kept.

    Parameters
    ----------
    z : numpy.ndarray
        Transformed values, any shape.
    lmbda : float
        The Box-Cox parameter.

    Returns
    -------
    numpy.ndarray
        Same shape as ``z``.

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.preprocessing.transforms import boxcox, inv_boxcox
    >>> y = np.array([0.5, 1.0, 7.0])
    >>> np.allclose(inv_boxcox(boxcox(y, 0.3), 0.3), y)
    True
    >>> inv_boxcox(np.array([-3.0]), 0.5).tolist()  # below -1/lmbda: the limit 0
    [0.0]
    """
    if lmbda == 0.0:
        return np.exp(z)
    base = lmbda * z + 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.exp(np.log1p(lmbda * z) / lmbda)
    edge = base <= 0
    out[edge] = 0.0 if lmbda > 0 else np.inf
    return out


def guerrero_lambda(y: np.ndarray, season_length: int, bounds: tuple[float, float]) -> float:
    """Guerrero's (1993) Box-Cox lambda: make spread independent of level.

    The series is cut into consecutive non-overlapping blocks of ``season_length``
    observations (an incomplete first block is dropped); for each block ``i`` take its
    mean ``m_i`` and standard deviation ``s_i``; lambda minimises the coefficient of
    variation of ``s_i / m_i ** (1 - lambda)`` over ``bounds``.

    Parameters
    ----------
    y : numpy.ndarray of shape (n,)
        Positive observations without NaN.
    season_length : int
        Block length (>= 2).
    bounds : (float, float)
        Search interval for lambda.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.preprocessing.transforms import guerrero_lambda
    >>> level = np.repeat([1.0, 2.0, 4.0, 8.0], 4)
    >>> y = level * np.tile([0.9, 1.1, 0.8, 1.2], 4)  # spread proportional to level
    >>> lmbda = guerrero_lambda(y, season_length=4, bounds=(-1.0, 2.0))
    >>> abs(lmbda) < 1e-3  # lambda = 0: the log transform
    True
    """
    n_blocks = len(y) // season_length
    if n_blocks < 2:
        raise ValueError("fewer than two blocks")
    blocks = y[len(y) - n_blocks * season_length:].reshape(n_blocks, season_length)
    mean = blocks.mean(axis=1)
    sd = blocks.std(axis=1, ddof=1)

    def cv(lmbda: float) -> float:
        ratio = sd / mean ** (1.0 - lmbda)
        return float(np.std(ratio, ddof=1) / np.mean(ratio))

    res = optimize.minimize_scalar(cv, bounds=bounds, method="bounded")
    return float(res.x)


class BoxCox(BaseTransformer):
    """Box-Cox transform with a lambda per series.

    ``z = (y**lambda - 1) / lambda`` (``log y`` at ``lambda = 0``), for ``y > 0``.

    Parameters
    ----------
    method : {"guerrero", "mle"}, default="mle"
        How lambda is chosen per series when ``lmbda`` is None: ``"mle"`` maximises the
        normal log-likelihood (:func:`scipy.stats.boxcox_normmax`); ``"guerrero"``
        makes the spread of blocks of ``season_length`` observations independent of
        their level (:func:`guerrero_lambda`), the usual choice for forecasting.
    season_length : int or None, default=None
        Block length of Guerrero's method (None means 2); unused by ``"mle"``.
    bounds : (float, float), default=(-1.0, 2.0)
        Search interval for lambda.
    lmbda : float or None, default=None
        A fixed lambda for every series instead of estimating one.

    Attributes
    ----------
    lambdas_ : dict
        Lambda per series id.

    Examples
    --------
    >>> import pandas as pd
    >>> y = pd.Series([1.0, 4.0, 9.0], index=pd.RangeIndex(3))
    >>> BoxCox(lmbda=0.5).fit_transform(y).round(12).tolist()
    [0.0, 2.0, 4.0]
    """

    def __init__(self, method: str = "mle", season_length: int | None = None,
                 bounds: tuple[float, float] = (-1.0, 2.0), lmbda: float | None = None
                 ) -> None:
        self.method = method
        self.season_length = season_length
        self.bounds = bounds
        self.lmbda = lmbda

    def _check_params(self) -> None:
        owner = type(self).__name__
        check_option(self.method, "method", ("guerrero", "mle"), owner=owner)
        check_int(self.season_length, "season_length", owner=owner, min_value=2,
                  allow_none=True)
        check_real(self.lmbda, "lmbda", owner=owner, allow_none=True)
        b = self.bounds
        if not (isinstance(b, Sequence) and len(b) == 2
                and all(isinstance(v, numbers.Real) for v in b)):
            raise ParameterTypeError(
                f"The 'bounds' parameter of {owner} must be a pair of floats (low, high). "
                f"Got {b!r}."
            )
        if not (np.isfinite(b).all() and b[0] < b[1]):
            raise ParameterError(
                f"The 'bounds' parameter of {owner} must be finite with low < high. Got {b!r}."
            )

    def _check_positive(self, block: Block) -> None:
        y = block.values[:, 0]
        bad = ~np.isnan(y) & (y <= 0)
        if bad.any():
            raise DataError(
                f"Series {block.uid!r} has {int(bad.sum())} non-positive value(s) (the "
                f"smallest is {np.nanmin(y):g}); BoxCox needs strictly positive values. "
                "Shift the series, or use LogTransform(method='log1p') for data with zeros."
            )

    def _fit_series(self, block: Block) -> float:
        self._check_positive(block)
        if self.lmbda is not None:
            return float(self.lmbda)
        y = block.values[:, 0]
        y = y[~np.isnan(y)]
        lo, hi = float(self.bounds[0]), float(self.bounds[1])
        try:
            if self.method == "guerrero":
                return guerrero_lambda(y, self.season_length or 2, (lo, hi))
            if len(y) < 2 or np.ptp(y) == 0:
                raise ValueError("needs at least two distinct values")
            return float(stats.boxcox_normmax(
                y, method="mle",
                optimizer=lambda f: optimize.minimize_scalar(f, bounds=(lo, hi),
                                                             method="bounded"),
            ))
        except (ValueError, FloatingPointError) as err:
            raise DataError(
                f"BoxCox could not estimate lambda for series {block.uid!r} ({len(y)} "
                f"observations): {err}. Pass lmbda= or use a longer series."
            ) from None

    def _transform_series(self, block: Block, lmbda: float) -> np.ndarray:
        self._check_positive(block)
        return boxcox(block.values, lmbda)

    def _inverse_series(self, block: Block, lmbda: float) -> np.ndarray:
        return inv_boxcox(block.values, lmbda)

    @property
    def lambdas_(self) -> dict:
        """Lambda per series id."""
        return dict(self.states_)


# ----------------------------------------------------------- differencing
def _check_lags(lags: Any, owner: str) -> tuple[int, ...]:
    if isinstance(lags, numbers.Integral) and not isinstance(lags, bool):
        lags = (lags,)
    if not isinstance(lags, Sequence) or isinstance(lags, str) or len(lags) == 0:
        raise ParameterTypeError(
            f"The 'lags' parameter of {owner} must be an int >= 1 or a non-empty sequence "
            f"of them (e.g. (24, 1) for a seasonal then a first difference). Got {lags!r}."
        )
    return tuple(check_int(m, "lags", owner=owner, min_value=1) for m in lags)


def difference(x: np.ndarray, before: np.ndarray, lag: int) -> np.ndarray:
    """``z[t] = x[t] - x[t - lag]``, with ``before`` the ``lag`` values preceding ``x``.

    Parameters
    ----------
    x : numpy.ndarray of shape (n, C)
    before : numpy.ndarray of shape (lag, C)
        NaN where unknown (the result is then NaN there).
    lag : int

    Returns
    -------
    numpy.ndarray of shape (n, C)
    """
    ext = np.concatenate([before, x], axis=0)
    return x - ext[: len(x)]


def undifference(z: np.ndarray, before: np.ndarray, known: np.ndarray, lag: int) -> np.ndarray:
    """Invert :func:`difference`: ``x[t] = z[t] + x[t - lag]``.

    Where ``z[t]`` is NaN (the first ``lag`` points of differenced training data, or a
    missing value) the recursion restarts from ``known[t]``, the value seen at fit.

    Parameters
    ----------
    z : numpy.ndarray of shape (n, C)
        Differenced values (or forecasts of them).
    before : numpy.ndarray of shape (lag, C)
        The ``lag`` undifferenced values preceding ``z`` (NaN where unknown).
    known : numpy.ndarray of shape (n, C)
        Undifferenced values known at the positions of ``z`` (NaN where unknown).
    lag : int

    Returns
    -------
    numpy.ndarray of shape (n, C)
    """
    n, c = z.shape
    rows = -(-n // lag)  # ceil(n / lag): one row per season, one column per phase
    pad = rows * lag - n
    Z = np.concatenate([z, np.zeros((pad, c))]).reshape(rows, lag, c)
    K = np.concatenate([known, np.zeros((pad, c))]).reshape(rows, lag, c)
    reset = np.isnan(Z)
    # A segmented cumulative sum along the season axis: x = (sum of z since the last
    # restart) + (value at the restart minus that running sum there), vectorised over
    # phases and columns instead of a Python loop over time.
    C = np.cumsum(np.where(reset, 0.0, Z), axis=0)
    r = np.arange(rows)[:, None, None]
    last = np.maximum.accumulate(np.where(reset, r, -1), axis=0)
    restart = K - C  # at a restart row: x = K, so the offset to add to C is K - C
    take = np.take_along_axis(restart, np.maximum(last, 0), axis=0)
    offset = np.where(last >= 0, take, before[None, :, :])
    return (C + offset).reshape(rows * lag, c)[:n]


class Differencer(BaseTransformer):
    """Difference each series, seasonally or not, with an exact inverse for forecasts.

    ``lags=(m,)`` gives ``z[t] = y[t] - y[t - m]``; several lags are applied in order,
    e.g. ``lags=(24, 1)`` takes a seasonal difference of hourly data, then a first
    difference. The first ``sum(lags)`` values of the training data have no
    predecessor and become NaN (a :class:`TransformedForecaster` drops them before
    fitting its forecaster).

    The transformer keeps each series' history (the data seen at ``fit`` and ``update``)
    so that ``transform`` of new data continuing a series uses the last observed values,
    and ``inverse_transform`` of a forecast starting right after the last observation
    integrates from them. Point forecasts invert exactly; quantiles and interval bounds
    are integrated column by column, which is conservative (see the module docstring).

    Parameters
    ----------
    lags : int or sequence of int, default=1
        Differencing lags, applied in order.

    Attributes
    ----------
    freq_ : pandas.DateOffset or int
        The frequency used to count steps (given or inferred).

    Examples
    --------
    >>> import pandas as pd
    >>> y = pd.Series([1.0, 3.0, 6.0, 10.0], index=pd.RangeIndex(4))
    >>> d = Differencer(lags=1).fit(y)
    >>> d.transform(y).tolist()
    [nan, 2.0, 3.0, 4.0]
    >>> fc = pd.Series([5.0, 6.0], index=pd.RangeIndex(4, 6))
    >>> d.inverse_transform(fc).tolist()
    [15.0, 21.0]
    """

    _uses_positions = True

    def __init__(self, lags: int | Sequence[int] = 1) -> None:
        self.lags = lags

    def _check_params(self) -> None:
        _check_lags(self.lags, type(self).__name__)

    def _lags(self) -> tuple[int, ...]:
        return _check_lags(self.lags, type(self).__name__)

    def _fit_series(self, block: Block) -> list[History]:
        lags = self._lags()
        observed = np.flatnonzero(~np.isnan(block.values[:, 0]))
        if len(observed) <= sum(lags):
            raise DataError(
                f"Series {block.uid!r} has {len(observed)} observation(s); "
                f"Differencer(lags={self.lags!r}) needs more than {sum(lags)} to leave "
                "any differenced value."
            )
        origin = block.index[0]
        self._positions(block, origin)  # regular data only
        histories, x = [], block.values
        for m in lags:  # each stage keeps its own input: the inverse needs it
            histories.append(History(origin, x))
            x = difference(x, np.full((m, x.shape[1]), np.nan), m)
        return histories

    def _stage_inputs(self, block: Block, histories: list[History]) -> tuple[np.ndarray, list]:
        pos = self._positions(block, histories[0].origin)
        p0 = int(pos[0]) if len(pos) else 0
        inputs, x = [], block.values
        for m, hist in zip(self._lags(), histories):
            inputs.append(x)
            x = difference(x, hist.before(p0, m), m)
        return pos, [*inputs, x]

    def _transform_series(self, block: Block, histories: list[History]) -> np.ndarray:
        if len(block.index) == 0:
            return block.values
        return self._stage_inputs(block, histories)[1][-1]

    def _inverse_series(self, block: Block, histories: list[History]) -> np.ndarray:
        if len(block.index) == 0:
            return block.values
        pos = self._positions(block, histories[0].origin)
        p0 = int(pos[0])
        if p0 > len(histories[0]):
            end = shift(histories[0].origin, len(histories[0]) - 1, self.freq_, self.kind_)
            raise DataError(
                f"Differencer cannot invert series {block.uid!r} from {block.index[0]}: the "
                f"data seen so far ends at {end}, so the values just before "
                f"{block.index[0]} are unknown. Call update() with the observations in "
                "between first."
            )
        x = block.values
        for m, hist in zip(reversed(self._lags()), reversed(histories)):
            known = np.repeat(hist.at(pos)[:, :1], x.shape[1], axis=1)
            before = np.repeat(hist.before(p0, m)[:, :1], x.shape[1], axis=1)
            x = undifference(x, before, known, m)
        return x

    def _update_series(self, block: Block, histories: list[History]) -> list[History]:
        if len(block.index) == 0:
            return histories
        pos, inputs = self._stage_inputs(block, histories)
        out = []
        for hist, x in zip(histories, inputs):
            new = History(hist.origin, hist.values)
            new.write(pos, x)
            out.append(new)
        return out

