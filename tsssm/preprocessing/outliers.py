"""Optional outlier treatment of the target: IQR clipping or a Hampel filter.

``method="iqr"`` clips each series to Tukey's fences ``[q1 - k IQR, q3 + k IQR]``
learnt at ``fit`` from the training data. ``method="hampel"`` replaces a point by the
median of a centred window when it is more than ``k`` robust standard deviations
(``1.4826 * MAD`` of the window) from that median (Hampel 1974; Pearson 2002).

Both report what they changed in ``report_`` and ``inverse_transform`` restores the
original values there, so forecasts (which have no such time points) pass unchanged.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from tsssm._validation import check_int, check_option, check_real
from tsssm.exceptions import DataError, ParameterError
from tsssm.preprocessing._frames import Block
from tsssm.preprocessing.base import BaseTransformer, History

__all__ = ["OutlierClipper", "hampel_filter", "iqr_bounds"]

#: MAD to standard deviation for normal data: 1 / Phi^-1(3/4)
_MAD_TO_SD = 1.482602218505602


def iqr_bounds(y: np.ndarray, k: float) -> tuple[float, float]:
    """Tukey's fences ``(q1 - k IQR, q3 + k IQR)`` of ``y`` (NaNs ignored).

    Returns
    -------
    low, high : float

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.preprocessing.outliers import iqr_bounds
    >>> iqr_bounds(np.array([1.0, 2.0, 3.0, 4.0, 5.0, np.nan]), k=1.5)  # q1=2, q3=4
    (-1.0, 7.0)
    """
    q1, q3 = np.nanquantile(y, [0.25, 0.75])
    return float(q1 - k * (q3 - q1)), float(q3 + k * (q3 - q1))


def hampel_filter(x: np.ndarray, window: int, k: float) -> np.ndarray:
    """Hampel filter: replace outliers by the median of a centred window.

    Parameters
    ----------
    x : numpy.ndarray of shape (n,)
        Values (NaN allowed; ignored in the window statistics and never replaced).
    window : int
        Odd window length; near the ends the window is truncated.
    k : float
        Threshold in robust standard deviations.

    Returns
    -------
    numpy.ndarray of shape (n,)
        A new array.

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.preprocessing.outliers import hampel_filter
    >>> x = np.array([1.0, 2.0, 1.0, 50.0, 2.0, 1.0, 2.0])
    >>> hampel_filter(x, window=5, k=3.0).tolist()  # 50 becomes its window's median
    [1.0, 2.0, 1.0, 2.0, 2.0, 1.0, 2.0]
    """
    half = window // 2
    padded = np.concatenate([np.full(half, np.nan), x, np.full(half, np.nan)])
    windows = sliding_window_view(padded, window)  # (n, window)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # windows holding only NaN
        med = np.nanmedian(windows, axis=1)
        mad = np.nanmedian(np.abs(windows - med[:, None]), axis=1)
    out = np.array(x, dtype=np.float64, copy=True)
    bad = np.abs(x - med) > k * _MAD_TO_SD * mad
    out[bad] = med[bad]
    return out


class OutlierClipper(BaseTransformer):
    """Clip (IQR) or replace (Hampel) outliers of each series, reporting what changed.

    Parameters
    ----------
    method : {"iqr", "hampel"}, default="iqr"
        ``"iqr"`` clips to Tukey's fences fitted on the training data; ``"hampel"``
        replaces points far from their window's median by that median.
    threshold : float or None, default=None
        ``k`` in the fences ``q1 - k IQR``, ``q3 + k IQR`` (None means 1.5), or the
        number of robust standard deviations of the Hampel filter (None means 3).
    window : int, default=7
        Odd window length of the Hampel filter (centred); unused by ``"iqr"``.

    Attributes
    ----------
    bounds_ : dict
        ``(low, high)`` per series id (``method="iqr"``).
    report_ : pandas.DataFrame
        Set by ``transform``: one row per changed point with ``unique_id``, ``ds``,
        ``value`` (original) and ``replaced_by``.

    Notes
    -----
    The Hampel filter uses the values after each point too; that is fine for
    cleaning the training target, and the transformer keeps the history seen at
    ``fit``/``update`` so the windows of new data reach back into it.

    Examples
    --------
    >>> import pandas as pd
    >>> y = pd.Series([1.0, 2.0, 1.0, 2.0, 50.0, 1.0, 2.0], index=pd.RangeIndex(7))
    >>> clip = OutlierClipper(method="hampel", window=5)
    >>> clip.fit_transform(y).tolist()
    [1.0, 2.0, 1.0, 2.0, 2.0, 1.0, 2.0]
    >>> clip.report_[["ds", "value", "replaced_by"]].to_dict("records")
    [{'ds': 4, 'value': 50.0, 'replaced_by': 2.0}]
    """

    def __init__(self, method: str = "iqr", threshold: float | None = None,
                 window: int = 7) -> None:
        self.method = method
        self.threshold = threshold
        self.window = window

    @property
    def _uses_positions(self) -> bool:  # only the Hampel filter looks at neighbours
        return self.method == "hampel"

    def _check_params(self) -> None:
        owner = type(self).__name__
        check_option(self.method, "method", ("iqr", "hampel"), owner=owner)
        check_real(self.threshold, "threshold", owner=owner, min_value=0.0,
                   min_inclusive=False, allow_none=True)
        window = check_int(self.window, "window", owner=owner, min_value=3)
        if window % 2 == 0:
            raise ParameterError(
                f"The 'window' parameter of {owner} must be an odd int >= 3 (a centred "
                f"window). Got {window}."
            )

    def _k(self) -> float:
        if self.threshold is not None:
            return float(self.threshold)
        return 1.5 if self.method == "iqr" else 3.0

    def _fit_series(self, block: Block):
        y = block.values[:, 0]
        if not np.isfinite(y).any():
            raise DataError(
                f"Series {block.uid!r} has no finite values; OutlierClipper cannot fit it."
            )
        if self.method == "iqr":
            return iqr_bounds(y, self._k())
        self._positions(block, block.index[0])
        return History(block.index[0], block.values[:, :1])

    def _clean(self, block: Block, state) -> np.ndarray:
        x = block.values[:, 0]
        if len(x) == 0:
            return x.copy()
        if self.method == "iqr":
            lo, hi = state
            return np.where(np.isnan(x), x, np.clip(x, lo, hi))
        pos = self._positions(block, state.origin)
        p0 = int(pos[0])
        half = self.window // 2
        n_ctx = min(half, p0) if 0 < p0 <= len(state) else 0
        full = np.concatenate([state.before(p0, n_ctx)[:, 0], x])
        return hampel_filter(full, self.window, self._k())[n_ctx:]

    def transform(self, y: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
        """Clip or replace the outliers of ``y``; sets ``report_``.

        Parameters
        ----------
        y : pandas.Series or pandas.DataFrame
            Data in the layout given to ``fit``.

        Returns
        -------
        pandas.Series or pandas.DataFrame
            A new object in the layout of ``y``.
        """
        sp = self._split(y, "target", "y")
        values, uids, times, before, after = [], [], [], [], []
        for b in sp.blocks:
            x = b.values[:, 0]
            cleaned = self._clean(b, self._state(b.uid))
            changed = ~np.isnan(x) & (cleaned != x)
            values.append(cleaned[:, None])
            uids.extend([b.uid] * int(changed.sum()))
            times.append(b.index[changed])
            before.append(x[changed])
            after.append(cleaned[changed])
        ds = times[0].append(times[1:]) if len(times) > 1 else \
            (times[0] if times else pd.Index([]))
        self.report_ = pd.DataFrame({
            "unique_id": pd.Series(uids, dtype=object),
            "ds": ds,
            "value": np.concatenate(before),
            "replaced_by": np.concatenate(after),
        })
        return sp.with_values(values)

    def _inverse_series(self, block: Block, state) -> np.ndarray:
        out = block.values.copy()
        report = getattr(self, "report_", None)
        if report is None or report.empty:
            return out
        mine = report[report["unique_id"] == block.uid] if self.layout_ != "series" \
            else report
        if mine.empty:
            return out
        at = pd.Index(mine["ds"])
        where = block.index.get_indexer(at)
        ok = where >= 0
        out[where[ok], 0] = mine["value"].to_numpy()[ok]
        return out

    def _update_series(self, block: Block, state):
        if self.method == "iqr" or len(block.index) == 0:
            return state
        new = History(state.origin, state.values)
        new.write(self._positions(block, state.origin), block.values[:, :1])
        return new

    @property
    def bounds_(self) -> dict:
        """``(low, high)`` per series id (``method="iqr"``)."""
        return dict(self.states_) if self.method == "iqr" else {}
