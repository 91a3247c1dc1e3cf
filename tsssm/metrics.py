"""Forecast accuracy metrics: point errors, scaled errors, quantile and interval scores.

Every metric takes array-likes (lists, numpy arrays, pandas Series or DataFrames),
checks that the arrays it compares have the same shape and hold only finite numbers,
and returns one ``float`` computed over all elements. To follow the M4 convention
(a metric per series and forecast window, then the average), call a metric once per
series and window and average the results; :func:`tsssm.backtest` does this.

The registry :data:`METRICS` maps a name to a :class:`Metric`, which records what
inputs the metric needs (the training series for the scaled errors, quantile
forecasts, or interval bounds) so callers can compute any metric through one call.

References
----------
.. [1] Makridakis, S., Spiliotis, E. and Assimakopoulos, V. (2020). "The M4
   Competition: 100,000 time series and 61 forecasting methods". International
   Journal of Forecasting 36(1), 54-74.
.. [2] Hyndman, R. J. and Koehler, A. B. (2006). "Another look at measures of forecast
   accuracy". International Journal of Forecasting 22(4), 679-688.
.. [3] Makridakis, S., Spiliotis, E. and Assimakopoulos, V. (2022). "M5 accuracy
   competition: Results, findings, and conclusions". International Journal of
   Forecasting 38(4), 1346-1364.
.. [4] Gneiting, T. and Raftery, A. E. (2007). "Strictly Proper Scoring Rules,
   Prediction, and Estimation". Journal of the American Statistical Association
   102(477), 359-378.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tsssm._validation import check_int, check_real
from tsssm.exceptions import DataError, DataTypeError, ParameterError, ParameterTypeError

__all__ = [
    "METRICS",
    "Metric",
    "bias",
    "coverage",
    "crps",
    "get_metric",
    "interval_width",
    "mae",
    "mape",
    "mase",
    "mse",
    "pinball_loss",
    "rmse",
    "rmsse",
    "smape",
]


# --------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------


def _as_float_array(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a float64 array holding at least one finite value and no others."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataTypeError(
            f"'{name}' must be array-like of real numbers. Got {type(x).__name__} that "
            f"cannot be converted to floats ({exc})."
        ) from exc
    if arr.size == 0:
        raise DataError(f"'{name}' is empty. Pass at least one value.")
    finite = np.isfinite(arr)
    if not finite.all():
        raise DataError(
            f"'{name}' holds {int(arr.size - finite.sum())} NaN or infinite value(s) (first "
            f"at position {_first_position(~finite)}). Metrics need finite values: drop or "
            "fill the missing ones first."
        )
    return arr


def _first_position(mask: np.ndarray) -> int | tuple[int, ...]:
    """Position of the first True in ``mask``: an int for 0-D/1-D, else an index tuple."""
    flat = int(np.flatnonzero(mask)[0])
    if mask.ndim <= 1:
        return flat
    return tuple(int(i) for i in np.unravel_index(flat, mask.shape))


def _check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise DataError(
            f"'{name_a}' and '{name_b}' must have the same shape. Got {a.shape} and {b.shape}."
        )


def _point_inputs(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    yt = _as_float_array(y_true, "y_true")
    yp = _as_float_array(y_pred, "y_pred")
    _check_same_shape(yt, yp, "y_true", "y_pred")
    return yt, yp


def _train_input(y_train: Any, season_length: Any, owner: str) -> tuple[np.ndarray, int]:
    m = check_int(season_length, "season_length", owner=owner, min_value=1)
    if y_train is None:
        raise ParameterError(
            f"{owner} needs the training series: pass y_train=<the values the model was "
            "fitted on>."
        )
    train = _as_float_array(y_train, "y_train")
    if train.ndim != 1:
        raise DataError(
            f"'y_train' must be one-dimensional (one series). Got shape {train.shape}. "
            "For several series, call the metric once per series."
        )
    if train.size <= m:  # type: ignore[operator]
        raise DataError(
            f"'y_train' must be longer than season_length={m} to compute the seasonal "
            f"naive scale. Got {train.size} value(s)."
        )
    return train, m  # type: ignore[return-value]


def _scaled_ratio(numerator: float, scale: float) -> float:
    """``numerator / scale`` with the zero-scale rule shared by MASE and RMSSE.

    A constant (or exactly seasonal) training series has a zero naive error; its
    scaled error is ``inf`` if the forecast made any error and ``nan`` if it made none
    (0/0 has no meaningful value, and 0 would reward a degenerate case).
    """
    if scale > 0.0:
        return float(numerator / scale)
    return float("inf") if numerator > 0.0 else float("nan")


def _quantile_levels(quantiles: Any, n_levels: int | None) -> np.ndarray:
    """Return quantile levels as a 1-D float array, each strictly inside (0, 1).

    The order is kept (not sorted) because it must match the last axis of
    ``y_quantiles``.
    """
    if isinstance(quantiles, numbers.Real) and not isinstance(quantiles, bool):
        quantiles = [quantiles]
    if isinstance(quantiles, (str, bytes)) or not np.iterable(quantiles):
        raise ParameterTypeError(
            "The 'quantiles' parameter must be a float or a sequence of floats in (0, 1). "
            f"Got {quantiles!r}."
        )
    levels = [
        check_real(q, "quantiles", min_value=0.0, max_value=1.0, min_inclusive=False,
                   max_inclusive=False)
        for q in quantiles
    ]
    if not levels:
        raise ParameterError("The 'quantiles' parameter must not be empty.")
    if n_levels is not None and len(levels) != n_levels:
        raise DataError(
            f"The last axis of 'y_quantiles' has {n_levels} forecast(s) but 'quantiles' "
            f"has {len(levels)} level(s). Pass one level per column of 'y_quantiles'."
        )
    return np.asarray(levels, dtype=np.float64)


def _quantile_inputs(
    y_true: Any, y_quantiles: Any, quantiles: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``y_true`` (S + (1,)), ``y_quantiles`` (S + (Q,)) and the levels (Q,)."""
    yt = _as_float_array(y_true, "y_true")
    yq = _as_float_array(y_quantiles, "y_quantiles")
    if yq.shape == yt.shape:
        # One quantile level: y_quantiles may omit the trailing axis of length 1.
        yq = yq[..., np.newaxis]
    if yq.shape[:-1] != yt.shape:
        raise DataError(
            f"'y_quantiles' must have the shape of 'y_true' plus a last axis with one "
            f"entry per quantile level: {yt.shape} + (Q,). Got {yq.shape}."
        )
    levels = _quantile_levels(quantiles, yq.shape[-1])
    return yt[..., np.newaxis], yq, levels


def _interval_inputs(lower: Any, upper: Any) -> tuple[np.ndarray, np.ndarray]:
    lo = _as_float_array(lower, "lower")
    hi = _as_float_array(upper, "upper")
    _check_same_shape(lo, hi, "lower", "upper")
    crossed = lo > hi
    if crossed.any():
        first = int(np.flatnonzero(crossed)[0])
        raise DataError(
            f"'lower' must not exceed 'upper'. Got {int(crossed.sum())} crossed bound(s) "
            f"(first at position {_first_position(crossed)}: lower={lo.flat[first]}, "
            f"upper={hi.flat[first]}). Check the order of the arguments."
        )
    return lo, hi


# --------------------------------------------------------------------------------------
# Point forecasts
# --------------------------------------------------------------------------------------


def mae(y_true: Any, y_pred: Any) -> float:
    r"""Mean absolute error.

    .. math:: \mathrm{MAE} = \frac{1}{n} \sum_{t=1}^{n} |y_t - \hat y_t|

    Parameters
    ----------
    y_true : array-like of shape (...)
        Observed values.
    y_pred : array-like of shape (...)
        Point forecasts, same shape as ``y_true``.

    Returns
    -------
    float
        The mean over all elements.

    Raises
    ------
    DataError
        If the shapes differ, an input is empty, or holds NaN or infinite values.

    Examples
    --------
    >>> from tsssm.metrics import mae
    >>> mae([1.0, 2.0, 3.0], [2.0, 2.0, 5.0])
    1.0
    """
    yt, yp = _point_inputs(y_true, y_pred)
    return float(np.mean(np.abs(yt - yp)))


def mse(y_true: Any, y_pred: Any) -> float:
    r"""Mean squared error.

    .. math:: \mathrm{MSE} = \frac{1}{n} \sum_{t=1}^{n} (y_t - \hat y_t)^2

    Parameters
    ----------
    y_true : array-like of shape (...)
        Observed values.
    y_pred : array-like of shape (...)
        Point forecasts, same shape as ``y_true``.

    Returns
    -------
    float
        The mean over all elements.

    Raises
    ------
    DataError
        If the shapes differ, an input is empty, or holds NaN or infinite values.

    Examples
    --------
    >>> from tsssm.metrics import mse
    >>> mse([1.0, 2.0, 3.0], [2.0, 2.0, 5.0])
    1.6666666666666667
    """
    yt, yp = _point_inputs(y_true, y_pred)
    return float(np.mean((yt - yp) ** 2))


def rmse(y_true: Any, y_pred: Any) -> float:
    r"""Root mean squared error, :math:`\sqrt{\mathrm{MSE}}`.

    Parameters
    ----------
    y_true : array-like of shape (...)
        Observed values.
    y_pred : array-like of shape (...)
        Point forecasts, same shape as ``y_true``.

    Returns
    -------
    float
        The square root of the mean squared error over all elements.

    Raises
    ------
    DataError
        If the shapes differ, an input is empty, or holds NaN or infinite values.

    Examples
    --------
    >>> from tsssm.metrics import rmse
    >>> rmse([1.0, 2.0, 3.0], [1.0, 2.0, 6.0])
    1.7320508075688772
    """
    return float(np.sqrt(mse(y_true, y_pred)))


def bias(y_true: Any, y_pred: Any) -> float:
    r"""Mean error of the forecast: positive when it over-forecasts.

    .. math:: \mathrm{bias} = \frac{1}{n} \sum_{t=1}^{n} (\hat y_t - y_t)

    Parameters
    ----------
    y_true : array-like of shape (...)
        Observed values.
    y_pred : array-like of shape (...)
        Point forecasts, same shape as ``y_true``.

    Returns
    -------
    float
        The mean signed error (forecast minus observation) over all elements.

    Raises
    ------
    DataError
        If the shapes differ, an input is empty, or holds NaN or infinite values.

    Examples
    --------
    >>> from tsssm.metrics import bias
    >>> bias([1.0, 2.0, 3.0], [2.0, 2.0, 5.0])
    1.0
    """
    yt, yp = _point_inputs(y_true, y_pred)
    return float(np.mean(yp - yt))


def mape(y_true: Any, y_pred: Any) -> float:
    r"""Mean absolute percentage error, in percent.

    .. math:: \mathrm{MAPE} = \frac{100}{n} \sum_{t=1}^{n} \frac{|y_t - \hat y_t|}{|y_t|}

    A term with :math:`y_t = 0` is ``inf`` when :math:`\hat y_t \ne 0`, so the MAPE of
    a series with a zero observation is ``inf`` unless the forecast hits that zero
    exactly (that term then counts as 0, a perfect forecast). Prefer :func:`smape` or
    :func:`mase` for series that can be zero.

    Parameters
    ----------
    y_true : array-like of shape (...)
        Observed values.
    y_pred : array-like of shape (...)
        Point forecasts, same shape as ``y_true``.

    Returns
    -------
    float
        The MAPE in percent (``inf`` as described above).

    Raises
    ------
    DataError
        If the shapes differ, an input is empty, or holds NaN or infinite values.

    See Also
    --------
    smape : symmetric version bounded by 200.

    Examples
    --------
    >>> from tsssm.metrics import mape
    >>> mape([1.0, 2.0, 4.0], [2.0, 2.0, 5.0])
    41.66666666666667
    >>> mape([0.0, 2.0], [1.0, 2.0])
    inf
    """
    yt, yp = _point_inputs(y_true, y_pred)
    err = np.abs(yt - yp)
    denom = np.abs(yt)
    # Divide only where the observation is non-zero; elsewhere the term is 0 for an
    # exact forecast and inf otherwise, without numpy's division warnings.
    terms = np.where(err > 0.0, np.inf, 0.0)
    np.divide(err, denom, out=terms, where=denom > 0.0)
    return float(100.0 * np.mean(terms))


def smape(y_true: Any, y_pred: Any) -> float:
    r"""Symmetric mean absolute percentage error as defined for the M4 competition [1]_.

    .. math::
        \mathrm{sMAPE} = \frac{200}{n} \sum_{t=1}^{n}
        \frac{|y_t - \hat y_t|}{|y_t| + |\hat y_t|}

    In percent, between 0 and 200. A term where both :math:`y_t` and
    :math:`\hat y_t` are 0 is defined as 0 (the forecast is exact).

    Parameters
    ----------
    y_true : array-like of shape (...)
        Observed values.
    y_pred : array-like of shape (...)
        Point forecasts, same shape as ``y_true``.

    Returns
    -------
    float
        The sMAPE in percent.

    Raises
    ------
    DataError
        If the shapes differ, an input is empty, or holds NaN or infinite values.

    References
    ----------
    .. [1] Makridakis, Spiliotis and Assimakopoulos (2020), "The M4 Competition:
       100,000 time series and 61 forecasting methods", IJF 36(1), 54-74.

    Examples
    --------
    >>> from tsssm.metrics import smape
    >>> round(smape([1.0, 0.0, 3.0], [3.0, 0.0, 3.0]), 6)  # 200/3 * (2/4 + 0 + 0)
    33.333333
    """
    yt, yp = _point_inputs(y_true, y_pred)
    err = np.abs(yt - yp)
    denom = np.abs(yt) + np.abs(yp)
    # denom == 0 only when y == yhat == 0, whose term is defined as 0.
    terms = np.zeros_like(err)
    np.divide(err, denom, out=terms, where=denom > 0.0)
    return float(200.0 * np.mean(terms))


def mase(y_true: Any, y_pred: Any, *, y_train: Any, season_length: int = 1) -> float:
    r"""Mean absolute scaled error (Hyndman and Koehler [1]_; M4 definition [2]_).

    The MAE of the forecast divided by the in-sample MAE of the seasonal naive
    forecast on the training series :math:`y_1, \dots, y_n` with season length
    :math:`m`:

    .. math::
        \mathrm{MASE} = \frac{\frac{1}{h} \sum_{t=1}^{h} |y_{n+t} - \hat y_{n+t}|}
        {\frac{1}{n-m} \sum_{t=m+1}^{n} |y_t - y_{t-m}|}

    A value below 1 means the forecast beat the in-sample seasonal naive forecast.
    When the denominator is 0 (a constant, or exactly ``m``-periodic, training series)
    the result is ``inf`` if the forecast made any error and ``nan`` if it made none.

    Parameters
    ----------
    y_true : array-like of shape (...)
        Observed values over the forecast horizon.
    y_pred : array-like of shape (...)
        Point forecasts, same shape as ``y_true``.
    y_train : array-like of shape (n,)
        The training series (one series) the scale is computed on; ``n`` must exceed
        ``season_length``.
    season_length : int, default=1
        Season length ``m`` of the naive forecast in the scale (1: the naive forecast).

    Returns
    -------
    float
        The MASE (``inf`` or ``nan`` for a zero scale, as described above).

    Raises
    ------
    DataError
        If shapes differ, ``y_train`` is not 1-D or too short, or an input holds NaN
        or infinite values.
    ParameterError
        If ``season_length`` < 1 or ``y_train`` is missing.

    References
    ----------
    .. [1] Hyndman and Koehler (2006), "Another look at measures of forecast
       accuracy", IJF 22(4), 679-688.
    .. [2] Makridakis, Spiliotis and Assimakopoulos (2020), "The M4 Competition:
       100,000 time series and 61 forecasting methods", IJF 36(1), 54-74.

    Examples
    --------
    >>> from tsssm.metrics import mase
    >>> # scale = mean(|3-1|, |2-3|, |4-2|) = 5/3; MAE = 1
    >>> mase([5.0, 6.0], [4.0, 7.0], y_train=[1.0, 3.0, 2.0, 4.0])
    0.6
    >>> # season_length=2: scale = mean(|2-1|, |4-3|) = 1
    >>> mase([5.0, 6.0], [4.0, 7.0], y_train=[1.0, 3.0, 2.0, 4.0], season_length=2)
    1.0
    """
    yt, yp = _point_inputs(y_true, y_pred)
    train, m = _train_input(y_train, season_length, "mase")
    scale = float(np.mean(np.abs(train[m:] - train[:-m])))
    return _scaled_ratio(float(np.mean(np.abs(yt - yp))), scale)


def rmsse(y_true: Any, y_pred: Any, *, y_train: Any, season_length: int = 1) -> float:
    r"""Root mean squared scaled error, the M5 competition's accuracy measure [1]_.

    .. math::
        \mathrm{RMSSE} = \sqrt{\frac{\frac{1}{h} \sum_{t=1}^{h} (y_{n+t} - \hat y_{n+t})^2}
        {\frac{1}{n-m} \sum_{t=m+1}^{n} (y_t - y_{t-m})^2}}

    M5 used :math:`m = 1`; ``season_length`` generalises the scale to the seasonal
    naive forecast like :func:`mase`. When the denominator is 0 the result is ``inf``
    if the forecast made any error and ``nan`` if it made none.

    Parameters
    ----------
    y_true : array-like of shape (...)
        Observed values over the forecast horizon.
    y_pred : array-like of shape (...)
        Point forecasts, same shape as ``y_true``.
    y_train : array-like of shape (n,)
        The training series (one series); ``n`` must exceed ``season_length``.
    season_length : int, default=1
        Season length ``m`` of the naive forecast in the scale.

    Returns
    -------
    float
        The RMSSE (``inf`` or ``nan`` for a zero scale, as described above).

    Raises
    ------
    DataError
        If shapes differ, ``y_train`` is not 1-D or too short, or an input holds NaN
        or infinite values.
    ParameterError
        If ``season_length`` < 1 or ``y_train`` is missing.

    References
    ----------
    .. [1] Makridakis, Spiliotis and Assimakopoulos (2022), "M5 accuracy competition:
       Results, findings, and conclusions", IJF 38(4), 1346-1364.

    Examples
    --------
    >>> from tsssm.metrics import rmsse
    >>> # scale = mean(2**2, 1**2, 2**2) = 3; MSE = mean(1, 4) = 2.5
    >>> round(rmsse([5.0, 6.0], [4.0, 8.0], y_train=[1.0, 3.0, 2.0, 4.0]), 6)
    0.912871
    """
    yt, yp = _point_inputs(y_true, y_pred)
    train, m = _train_input(y_train, season_length, "rmsse")
    scale = float(np.mean((train[m:] - train[:-m]) ** 2))
    return float(np.sqrt(_scaled_ratio(float(np.mean((yt - yp) ** 2)), scale)))


# --------------------------------------------------------------------------------------
# Probabilistic forecasts
# --------------------------------------------------------------------------------------


def pinball_loss(y_true: Any, y_quantiles: Any, quantiles: Any) -> float:
    r"""Pinball (quantile) loss, averaged over all elements and quantile levels.

    For a level :math:`\tau` and a quantile forecast :math:`q`:

    .. math::
        L_\tau(y, q) = \max\bigl(\tau (y - q), (\tau - 1)(y - q)\bigr)

    Parameters
    ----------
    y_true : array-like of shape (...)
        Observed values.
    y_quantiles : array-like of shape (..., Q)
        Quantile forecasts, the last axis running over the levels in ``quantiles``
        (for example the ``"q0.1", "q0.5", "q0.9"`` columns of ``predict_quantiles``).
        With a single level, the shape of ``y_true`` is also accepted.
    quantiles : float or sequence of float
        The ``Q`` levels, each in (0, 1), in the order of the last axis of
        ``y_quantiles``.

    Returns
    -------
    float
        The mean pinball loss over all elements and levels.

    Raises
    ------
    DataError
        If the shapes do not match, or an input holds NaN or infinite values.
    ParameterError
        If a level is outside (0, 1) or ``quantiles`` is empty.

    See Also
    --------
    crps : twice the mean pinball loss, an approximation of the CRPS.

    Notes
    -----
    At :math:`\tau = 0.5` the loss is half the absolute error, so
    ``pinball_loss(y, yhat, 0.5) == mae(y, yhat) / 2``.

    Examples
    --------
    >>> from tsssm.metrics import pinball_loss
    >>> # y=1 under q=2 at level 0.9: 0.1 * 1; y=3 over q=2 at level 0.9: 0.9 * 1
    >>> round(pinball_loss([1.0, 3.0], [2.0, 2.0], 0.9), 12)
    0.5
    >>> # terms: 0.1*(1-0), 0.9*0, 0.1*(3-2), (1-0.9)*(4-3) -> mean 0.3 / 4
    >>> round(pinball_loss([1.0, 3.0], [[0.0, 1.0], [2.0, 4.0]], [0.1, 0.9]), 12)
    0.075
    """
    yt, yq, levels = _quantile_inputs(y_true, y_quantiles, quantiles)
    diff = yt - yq  # (..., Q): positive where the observation lies above the forecast
    loss = np.maximum(levels * diff, (levels - 1.0) * diff)
    return float(np.mean(loss))


def crps(y_true: Any, y_quantiles: Any, quantiles: Any) -> float:
    r"""Continuous ranked probability score, approximated from quantile forecasts.

    The CRPS of a predictive distribution :math:`F` equals twice its pinball loss
    integrated over all levels (Gneiting and Raftery [1]_, Laio and Tamea [2]_):

    .. math::
        \mathrm{CRPS}(F, y) = \int_0^1 2 L_\tau\bigl(y, F^{-1}(\tau)\bigr)\, d\tau
        \approx \frac{2}{Q} \sum_{k=1}^{Q} L_{\tau_k}(y, q_{\tau_k})

    This function computes the right-hand side: twice the mean :func:`pinball_loss`
    over the given levels. It is an approximation: it is close to the true CRPS only
    when the levels are many and evenly spread over (0, 1) (for example
    0.05, 0.10, ..., 0.95), and it ignores the tails beyond the outermost levels.
    With the single level 0.5 it reduces to the MAE of the median.

    Parameters
    ----------
    y_true : array-like of shape (...)
        Observed values.
    y_quantiles : array-like of shape (..., Q)
        Quantile forecasts, the last axis running over the levels in ``quantiles``.
    quantiles : float or sequence of float
        The ``Q`` levels, each in (0, 1), in the order of the last axis.

    Returns
    -------
    float
        The approximate CRPS, averaged over all elements; in the units of ``y``.

    Raises
    ------
    DataError
        If the shapes do not match, or an input holds NaN or infinite values.
    ParameterError
        If a level is outside (0, 1) or ``quantiles`` is empty.

    References
    ----------
    .. [1] Gneiting and Raftery (2007), "Strictly Proper Scoring Rules, Prediction,
       and Estimation", JASA 102(477), 359-378.
    .. [2] Laio and Tamea (2007), "Verification tools for probabilistic forecasts of
       continuous hydrological variables", HESS 11, 1267-1277.

    Examples
    --------
    >>> from tsssm.metrics import crps
    >>> round(crps([1.0, 3.0], [[0.0, 1.0], [2.0, 4.0]], [0.1, 0.9]), 12)
    0.15
    >>> crps([1.0, 3.0], [[1.0, 1.0], [3.0, 3.0]], [0.1, 0.9])  # perfect forecast
    0.0
    """
    return 2.0 * pinball_loss(y_true, y_quantiles, quantiles)


def coverage(y_true: Any, lower: Any, upper: Any) -> float:
    r"""Share of observations inside their prediction interval (bounds included).

    .. math:: \frac{1}{n} \sum_{t=1}^{n} \mathbb{1}[l_t \le y_t \le u_t]

    Compare it with the nominal coverage of the interval (0.9 for a 90% interval).

    Parameters
    ----------
    y_true : array-like of shape (...)
        Observed values.
    lower, upper : array-like of shape (...)
        Interval bounds, same shape as ``y_true``, with ``lower <= upper``.

    Returns
    -------
    float
        A fraction in [0, 1] (not a percentage).

    Raises
    ------
    DataError
        If shapes differ, ``lower > upper`` anywhere, or an input holds NaN or
        infinite values.

    Examples
    --------
    >>> from tsssm.metrics import coverage
    >>> coverage([1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 3.5, 0.0], [2.0, 3.0, 4.0, 1.0])
    0.5
    """
    yt = _as_float_array(y_true, "y_true")
    lo, hi = _interval_inputs(lower, upper)
    _check_same_shape(yt, lo, "y_true", "lower")
    return float(np.mean((yt >= lo) & (yt <= hi)))


def interval_width(lower: Any, upper: Any) -> float:
    r"""Mean width of prediction intervals, :math:`\frac{1}{n} \sum_t (u_t - l_t)`.

    Parameters
    ----------
    lower, upper : array-like of shape (...)
        Interval bounds of the same shape, with ``lower <= upper``.

    Returns
    -------
    float
        The mean width, in the units of the series.

    Raises
    ------
    DataError
        If shapes differ, ``lower > upper`` anywhere, or an input holds NaN or
        infinite values.

    Examples
    --------
    >>> from tsssm.metrics import interval_width
    >>> interval_width([0.0, 1.0], [2.0, 4.0])
    2.5
    """
    lo, hi = _interval_inputs(lower, upper)
    return float(np.mean(hi - lo))


# --------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------


def _interval_width_of(y_true: Any, lower: Any, upper: Any) -> float:
    """:func:`interval_width` with the ``(y_true, lower, upper)`` signature of interval
    metrics; ``y_true`` is ignored (the width does not depend on the observations)."""
    return interval_width(lower, upper)


@dataclass(frozen=True)
class Metric:
    """A named metric and the inputs it needs, so callers can compute any metric alike.

    Calling a ``Metric`` forwards only the arguments its function takes, so a backtest
    can pass everything it has to every metric.

    Parameters
    ----------
    name : str
        Registry name (the column name in backtest results).
    fn : callable
        The metric function.
    needs_train : bool, default=False
        Whether ``fn`` takes ``y_train`` and ``season_length`` (the scaled errors).
    needs_quantiles : bool, default=False
        Whether ``fn`` scores quantile forecasts ``(y_true, y_quantiles, quantiles)``
        instead of point forecasts.
    needs_interval : bool, default=False
        Whether ``fn`` scores interval bounds as ``fn(y_true, lower, upper)`` instead of
        point forecasts.

    Examples
    --------
    >>> from tsssm.metrics import get_metric
    >>> m = get_metric("mase")
    >>> m.needs_train
    True
    >>> m([5.0, 6.0], [4.0, 7.0], y_train=[1.0, 3.0, 2.0, 4.0], season_length=1)
    0.6
    >>> get_metric("mae")([1.0, 2.0], [1.0, 4.0], y_train=[0.0, 1.0])  # y_train unused
    1.0
    """

    name: str
    fn: Callable[..., float]
    needs_train: bool = False
    needs_quantiles: bool = False
    needs_interval: bool = False

    def __call__(
        self,
        y_true: Any,
        y_pred: Any = None,
        *,
        y_train: Any = None,
        season_length: int = 1,
        y_quantiles: Any = None,
        quantiles: Any = None,
        lower: Any = None,
        upper: Any = None,
    ) -> float:
        """Compute the metric from whichever of the arguments it needs.

        Parameters
        ----------
        y_true : array-like
            Observed values.
        y_pred : array-like, optional
            Point forecasts (point metrics and scaled errors).
        y_train : array-like, optional
            The training series (metrics with ``needs_train``).
        season_length : int, default=1
            Season length for the scale of the scaled errors.
        y_quantiles, quantiles : optional
            Quantile forecasts (..., Q) and their levels (metrics with
            ``needs_quantiles``).
        lower, upper : array-like, optional
            Interval bounds (metrics with ``needs_interval``).

        Returns
        -------
        float
            The metric value.

        Raises
        ------
        ParameterError
            If an argument the metric needs is ``None``.
        """
        if self.needs_quantiles:
            self._require(y_quantiles=y_quantiles, quantiles=quantiles)
            return self.fn(y_true, y_quantiles, quantiles)
        if self.needs_interval:
            self._require(lower=lower, upper=upper)
            return self.fn(y_true, lower, upper)
        self._require(y_pred=y_pred)
        if self.needs_train:
            self._require(y_train=y_train)
            return self.fn(y_true, y_pred, y_train=y_train, season_length=season_length)
        return self.fn(y_true, y_pred)

    def _require(self, **arguments: Any) -> None:
        missing = [name for name, value in arguments.items() if value is None]
        if missing:
            raise ParameterError(
                f"The metric '{self.name}' needs {', '.join(repr(m) for m in missing)}. "
                "Got None. Pass them when calling the metric."
            )


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("mae", mae),
        Metric("mse", mse),
        Metric("rmse", rmse),
        Metric("bias", bias),
        Metric("mape", mape),
        Metric("smape", smape),
        Metric("mase", mase, needs_train=True),
        Metric("rmsse", rmsse, needs_train=True),
        Metric("pinball", pinball_loss, needs_quantiles=True),
        Metric("crps", crps, needs_quantiles=True),
        Metric("coverage", coverage, needs_interval=True),
        Metric("interval_width", _interval_width_of, needs_interval=True),
    )
}
"""Registry of the built-in metrics by name (``"pinball"`` is :func:`pinball_loss`)."""


def get_metric(name: str | Metric) -> Metric:
    """Return the registered :class:`Metric` called ``name``.

    Parameters
    ----------
    name : str or Metric
        A key of :data:`METRICS` (case-insensitive), or a ``Metric``, returned as is.

    Returns
    -------
    Metric

    Raises
    ------
    ParameterError
        If no metric has that name; the message lists the valid names.
    ParameterTypeError
        If ``name`` is neither a string nor a ``Metric``.

    Examples
    --------
    >>> from tsssm.metrics import get_metric
    >>> get_metric("sMAPE").name
    'smape'
    """
    if isinstance(name, Metric):
        return name
    if not isinstance(name, str):
        raise ParameterTypeError(
            f"A metric must be given by name (str) or as a Metric. Got {name!r} "
            f"({type(name).__name__})."
        )
    key = name.lower()
    if key not in METRICS:
        raise ParameterError(
            f"Unknown metric {name!r}. Valid names: {', '.join(sorted(METRICS))}."
        )
    return METRICS[key]
