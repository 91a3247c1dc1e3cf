"""Sliding-window datasets for training sequence models on many series at once.

A neural forecaster learns from pairs (lookback window, the horizon that follows). For
a panel of series stored flat (see :class:`~tsssm.data.Panel`) this module finds every
valid window position (:func:`window_origins`) and serves windows as tensors
(:class:`WindowDataset`). Batches are gathered with one fancy-indexing call per tensor
(:meth:`WindowDataset.__getitems__`), so the data loader costs little next to the model
even on a GPU.

Terms: the *origin* of a window is the position, inside its series, of the first
forecast step; the window reads ``values[origin - lookback : origin]`` as its past and
``values[origin : origin + horizon]`` as its target.
"""

from __future__ import annotations

import numpy as np
import torch

from tsssm._validation import check_int
from tsssm.exceptions import DataError

__all__ = ["WindowDataset", "collate_windows", "window_origins"]


def window_origins(
    lengths: np.ndarray,
    lookback: int,
    horizon: int,
    *,
    first_target: np.ndarray | int | None = None,
    end: np.ndarray | int | None = None,
    stride: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Every window position of every series, as (series, origin) pairs.

    Parameters
    ----------
    lengths : numpy.ndarray of shape (S,)
        Number of observations of each series.
    lookback : int
        Past values each window reads (>= 1).
    horizon : int
        Future values each window predicts (>= 1).
    first_target : int or array of shape (S,) or None, default=None
        Smallest allowed origin per series (the targets start there or later). None
        means ``lookback``, the first position with a full past.
    end : int or array of shape (S,) or None, default=None
        Targets must end at or before this position (exclusive) per series; negative
        values count from the end of each series like Python slices. None means the
        series length.
    stride : int, default=1
        Step between the origins of consecutive windows of a series. Origins are
        placed from the last window backwards, so the most recent data is always used.

    Returns
    -------
    series : numpy.ndarray of shape (W,)
        Series position of each window.
    origin : numpy.ndarray of shape (W,)
        Origin of each window inside its series, ascending within each series.

    Examples
    --------
    >>> s, o = window_origins(np.array([6, 4]), lookback=2, horizon=2)
    >>> s.tolist(), o.tolist()
    ([0, 0, 0, 1], [2, 3, 4, 2])
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    lookback = check_int(lookback, "lookback", min_value=1)
    horizon = check_int(horizon, "horizon", min_value=1)
    stride = check_int(stride, "stride", min_value=1)
    S = len(lengths)
    lo = np.full(S, lookback, dtype=np.int64) if first_target is None else np.maximum(
        np.broadcast_to(np.asarray(first_target, dtype=np.int64), (S,)), lookback
    )
    if end is None:
        stop = lengths.copy()
    else:
        stop = np.broadcast_to(np.asarray(end, dtype=np.int64), (S,)).copy()
        stop = np.where(stop < 0, lengths + stop, np.minimum(stop, lengths))
    last = stop - horizon  # the largest allowed origin of each series
    counts = np.where(last >= lo, (last - lo) // stride + 1, 0)
    series = np.repeat(np.arange(S, dtype=np.int64), counts)
    # Within each series the k-th window (k = 0..count-1) has origin last - (count-1-k)*stride.
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]) if S else np.zeros(0, np.int64)
    k = np.arange(len(series), dtype=np.int64) - np.repeat(first, counts)
    origin = np.repeat(last, counts) - (np.repeat(counts, counts) - 1 - k) * stride
    return series, origin


class WindowDataset(torch.utils.data.Dataset):
    """Windows (past, future) over many multichannel series stored flat.

    Parameters
    ----------
    values : numpy.ndarray or torch.Tensor of shape (T, C)
        Target values of all series, one after another; C channels per time step
        (1 for a univariate series, several when series are modelled jointly).
    indptr : numpy.ndarray of shape (S + 1,)
        Offsets: series ``i`` is ``values[indptr[i]:indptr[i + 1]]``.
    series, origin : numpy.ndarray of shape (W,)
        The windows, as returned by :func:`window_origins`.
    lookback, horizon : int
        Window lengths (past and future).
    covariates : numpy.ndarray or torch.Tensor of shape (T, K) or None, default=None
        Covariates known in the past and the future (calendar features, user
        exogenous variables), aligned with ``values``.
    labels : numpy.ndarray of shape (S,) or None, default=None
        Integer label served as ``series`` for the windows of each series (for example
        its row in an embedding table); None serves the series position.
    dtype : torch.dtype, default=torch.float32
        Floating type of the served tensors.

    Notes
    -----
    An item (and, stacked along a new first axis, a batch) is a dict with

    ``past_y`` (L, C)
        the lookback window of the target;
    ``future_y`` (H, C)
        the target of the next H steps;
    ``past_cov`` (L, K), ``future_cov`` (H, K)
        covariates over the window and over the horizon (only when ``covariates`` is
        given);
    ``series`` ()
        the series label (int64; see ``labels``), for per-series embeddings and static
        features.

    Examples
    --------
    >>> y = np.arange(6.0)[:, None]
    >>> s, o = window_origins(np.array([6]), lookback=3, horizon=2)
    >>> ds = WindowDataset(y, np.array([0, 6]), s, o, lookback=3, horizon=2)
    >>> len(ds), ds[1]["past_y"].flatten().tolist(), ds[1]["future_y"].flatten().tolist()
    (2, [1.0, 2.0, 3.0], [4.0, 5.0])
    """

    def __init__(
        self,
        values: np.ndarray | torch.Tensor,
        indptr: np.ndarray,
        series: np.ndarray,
        origin: np.ndarray,
        lookback: int,
        horizon: int,
        covariates: np.ndarray | torch.Tensor | None = None,
        labels: np.ndarray | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.values = torch.as_tensor(values, dtype=dtype)
        if self.values.ndim != 2:
            raise DataError(
                f"WindowDataset expects values of shape (T, C). Got {tuple(self.values.shape)}."
            )
        self.covariates = None if covariates is None else torch.as_tensor(covariates,
                                                                         dtype=dtype)
        if self.covariates is not None and (
            self.covariates.ndim != 2 or self.covariates.shape[0] != self.values.shape[0]
        ):
            raise DataError(
                "WindowDataset expects covariates of shape (T, K) with the T of values "
                f"{tuple(self.values.shape)}. Got {tuple(self.covariates.shape)}."
            )
        self.lookback = check_int(lookback, "lookback", min_value=1)
        self.horizon = check_int(horizon, "horizon", min_value=1)
        indptr = np.asarray(indptr, dtype=np.int64)
        series = np.asarray(series, dtype=np.int64)
        origin = np.asarray(origin, dtype=np.int64)
        lengths = np.diff(indptr)
        if len(series) and (
            origin.min() < self.lookback
            or np.any(origin[:] + self.horizon > lengths[series])
        ):
            raise DataError("WindowDataset got windows that reach outside their series.")
        # Flat position of each window's first past value.
        self.starts = torch.as_tensor(indptr[series] + origin - self.lookback)
        labels = np.arange(len(lengths)) if labels is None else np.asarray(labels, np.int64)
        self.series = torch.as_tensor(labels[series])
        self._offsets = torch.arange(self.lookback + self.horizon)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        batch = self.__getitems__([i])
        return {k: v[0] for k, v in batch.items()}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        """A whole batch at once: each tensor gets a new first axis of len(indices)."""
        idx = torch.as_tensor(indices, dtype=torch.int64)
        rows = self.starts[idx, None] + self._offsets  # (B, L + H)
        L = self.lookback
        y = self.values[rows]  # (B, L + H, C)
        out = {"past_y": y[:, :L], "future_y": y[:, L:], "series": self.series[idx]}
        if self.covariates is not None:
            cov = self.covariates[rows]  # (B, L + H, K)
            out["past_cov"] = cov[:, :L]
            out["future_cov"] = cov[:, L:]
        return out


def collate_windows(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The ``collate_fn`` to use with :class:`WindowDataset`: batches come pre-stacked.

    ``torch.utils.data.DataLoader`` calls ``dataset.__getitems__(indices)`` when the
    dataset has it and passes the result to ``collate_fn``; the batch is already
    stacked, so it is returned unchanged.

    Examples
    --------
    >>> loader = torch.utils.data.DataLoader(
    ...     WindowDataset(np.arange(10.0)[:, None], np.array([0, 10]),
    ...                   *window_origins(np.array([10]), lookback=4, horizon=2),
    ...                   lookback=4, horizon=2),
    ...     batch_size=3, collate_fn=collate_windows)
    >>> batch = next(iter(loader))
    >>> batch["past_y"].shape, batch["future_y"].shape
    (torch.Size([3, 4, 1]), torch.Size([3, 2, 1]))
    """
    return batch
