"""Forecasts from many origins of one panel at once (rolling-origin evaluation).

A backtest with ``refit=False`` fits once, then alternates ``update`` and ``predict``
through thousands of origins; for a neural forecaster each step re-encodes one window
per series with the recurrent view. :func:`rolling_forecasts` gives the same numbers
(up to floating-point rounding, since the parallel and recurrent views of a
state-space layer agree) by gathering every origin's lookback window into large
batches and running the network's parallel forward once per batch, on the GPU when
the model was trained for one.

The estimator offers this as ``NeuralForecaster._rolling_forecasts``, which
:func:`tsssm.backtest` prefers, when present, for ``refit=False``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from tsssm.data import Panel
from tsssm.forecasters.neural._network import interpolate_quantiles

if TYPE_CHECKING:  # pragma: no cover
    from tsssm.forecasters.neural.base import NeuralForecaster

__all__ = ["rolling_forecasts"]


def _network_device(est: NeuralForecaster) -> torch.device:
    """Where to run the batched pass: the GPU when the model may train on one."""
    if est._may_use_cuda(est.config_):
        return torch.device("cuda")
    return torch.device("cpu")


def rolling_forecasts(
    est: NeuralForecaster,
    panel: Panel,
    cutoffs: np.ndarray,
    horizon: int,
    quantiles: tuple[float, ...] | None = None,
    batch_size: int = 4096,
    device: torch.device | str | None = None,
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Forecast ``horizon`` steps after each of many cutoffs of every series.

    Forecast ``w`` of series ``s`` is what ``predict(horizon)`` returns after the model
    has seen the first ``cutoffs[w, s]`` observations of series ``s`` of ``panel``
    (by ``fit`` and ``update``); the fitted weights and scaling are not changed.

    Parameters
    ----------
    est : NeuralForecaster
        A fitted neural forecaster.
    panel : Panel
        The data the cutoffs index, holding exactly the fitted series (any order) and
        their exogenous columns, which cover the forecast steps of every cutoff.
    cutoffs : numpy.ndarray of shape (W, S)
        Observations seen before each forecast, per window and series of ``panel``;
        each at least ``lookback`` and at most the series length minus ``horizon``.
    horizon : int
        Steps forecast from each cutoff; at most the model's ``horizon`` (longer
        forecasts feed forecasts back and are left to the sequential path).
    quantiles : tuple of float or None, default=None
        Levels of quantile forecasts to return as well.
    batch_size : int, default=4096
        Windows encoded per forward pass.
    device : torch.device or str or None, default=None
        Where to run the network; None: the GPU when the estimator's ``accelerator``
        allows one and CUDA is available, else the CPU.

    Returns
    -------
    (point, quantile) or None
        ``point`` of shape (W, S, horizon) and ``quantile`` of shape
        (W, S, horizon, len(quantiles)) or None, in the data's units. None when this
        batched path does not apply (horizon beyond the model's, other series than
        the fitted ones, unequal cutoffs with ``channel_mixing``, quantiles outside the
        learned range, a cutoff without a full lookback window): the caller then
        falls back to ``update`` and ``predict``.
    """
    c = est.config_
    L, H = c["lookback"], c["horizon"]
    cutoffs = np.asarray(cutoffs, dtype=np.int64)
    if horizon > H or cutoffs.ndim != 2 or cutoffs.shape[1] != panel.n_series:
        return None
    fitted = {uid: k for k, uid in enumerate(est.data_.ids)}
    if sorted(fitted, key=str) != sorted(panel.ids, key=str) or \
            len(panel.ids) != len(fitted):
        return None
    if np.any(cutoffs < L) or np.any(cutoffs + horizon > panel.lengths[None, :]):
        return None
    if tuple(panel.exog_names) != tuple(est.data_.exog_names):
        return None
    net = est.network_
    levels = net.quantiles
    if quantiles is not None and any(q < levels[0] - 1e-12 or q > levels[-1] + 1e-12
                                     for q in quantiles):
        return None
    mixing = c["channel_mixing"]
    if mixing and np.any(cutoffs != cutoffs[:, :1]):
        return None

    # The panel in the fitted series order, so scale_ and series_rows_ apply row-wise.
    order = np.array([int(np.flatnonzero(panel.ids == uid)[0]) for uid in est.data_.ids])
    panel = panel.select(order)
    cutoffs = cutoffs[:, order]  # (W, S) in fitted order
    values, indptr, cov, rows = est._unit_arrays(panel)  # (T, C), (U + 1,), (T, K), (U,)
    W, S = cutoffs.shape
    if mixing:
        ends = cutoffs[:, 0]  # (W,): one unit per window
        unit = np.zeros(W, dtype=np.int64)
    else:
        ends = (cutoffs + indptr[None, :-1]).reshape(-1)  # (W * S,) flat positions
        unit = np.tile(np.arange(S, dtype=np.int64), W)

    device = _network_device(est) if device is None else torch.device(device)
    values_t = torch.as_tensor(values, dtype=torch.float32, device=device)  # (T, C)
    cov_t = None if cov is None else torch.as_tensor(cov, dtype=torch.float32,
                                                     device=device)  # (T, K)
    rows_t = torch.as_tensor(rows, dtype=torch.int64, device=device)
    past = torch.arange(-L, 0, device=device)  # (L,)
    ahead = torch.arange(horizon, device=device)  # (h,)
    points, quants = [], []
    net.to(device).eval()
    try:
        with torch.no_grad():
            for lo in range(0, len(ends), batch_size):
                e = torch.as_tensor(ends[lo:lo + batch_size], device=device)  # (B,)
                u = torch.as_tensor(unit[lo:lo + batch_size], device=device)
                idx = e[:, None] + past  # (B, L)
                y = values_t[idx]  # (B, L, C)
                past_cov = None if cov_t is None else cov_t[idx]  # (B, L, K)
                fut_cov = None if cov_t is None else cov_t[e[:, None] + ahead]  # (B, h, K)
                ctx = net.context(y, past_cov, rows_t[u])
                point, q = net.decode(ctx, fut_cov, horizon)
                points.append(net.point_from(point, q).cpu())  # (B, h, C)
                if quantiles is not None:
                    quants.append(interpolate_quantiles(q, levels, quantiles).cpu())
    finally:
        net.cpu().eval()  # the fitted model predicts on the CPU (see set_backend)

    scale = est.scale_  # (S,)
    point = _per_window(torch.cat(points), W, S, mixing) * scale[None, :, None]
    quant = None
    if quantiles is not None:
        quant = _per_window(torch.cat(quants), W, S, mixing) * scale[None, :, None, None]
    back = np.argsort(order)  # fitted order -> the caller's order
    return point[:, back], None if quant is None else quant[:, back]


def _per_window(values: torch.Tensor, W: int, S: int, mixing: bool) -> np.ndarray:
    """(units, h, C, ...) -> (W, S, h, ...) as float64."""
    arr = values.double().numpy()
    if mixing:
        return np.moveaxis(arr, 2, 1)  # (W, h, S, ...) -> (W, S, h, ...)
    return arr[:, :, 0].reshape((W, S, *arr.shape[1:2], *arr.shape[3:]))
