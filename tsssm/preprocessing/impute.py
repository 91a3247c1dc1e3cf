"""Fill missing target values series by series, with a limit on gap length.

A *gap* is a run of consecutive missing values. Gaps longer than ``limit`` are left
missing as a whole (or raise, with ``on_limit="raise"``) rather than filled partly as
``pandas.Series.ffill(limit=...)`` would: a long outage is better reported than
papered over with a flat line.

The data must lie on a regular grid (insert missing time points first with
:class:`~tsssm.preprocessing.FillGaps`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tsssm._validation import check_int, check_option
from tsssm.exceptions import DataError
from tsssm.preprocessing._frames import Block
from tsssm.preprocessing._time import grid_points, shift, time_coordinate
from tsssm.preprocessing.base import BaseTransformer, History

__all__ = ["Imputer", "impute", "nan_runs"]

_METHODS = ("ffill", "bfill", "linear", "time", "seasonal")


def nan_runs(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each run of NaN in ``x`` of shape (n,).

    Returns
    -------
    starts, ends : numpy.ndarray of int, shape (R,)
        One entry per run of consecutive NaNs, in order.

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.preprocessing.impute import nan_runs
    >>> starts, ends = nan_runs(np.array([1.0, np.nan, np.nan, 4.0, np.nan]))
    >>> starts.tolist(), ends.tolist()
    ([1, 4], [3, 5])
    """
    isnan = np.concatenate([[False], np.isnan(x), [False]])
    edges = np.flatnonzero(np.diff(isnan.astype(np.int8)))
    return edges[0::2], edges[1::2]


def impute(x: np.ndarray, method: str, *, coord: np.ndarray | None = None,
           season_length: int | None = None, allowed: np.ndarray | None = None) -> np.ndarray:
    """Fill the NaNs of one series.

    Parameters
    ----------
    x : numpy.ndarray of shape (n,)
        Values on a regular grid.
    method : {"ffill", "bfill", "linear", "time", "seasonal"}
        ``ffill``/``bfill``: the last/next observed value; ``linear``: straight line
        between the observed neighbours by position; ``time``: the same by elapsed
        time (differs from ``linear`` for business days, months, ...); ``seasonal``:
        the value one season earlier (itself filled if it was missing).
    coord : numpy.ndarray of shape (n,), optional
        Elapsed time of each point, for ``method="time"``.
    season_length : int, optional
        Season length for ``method="seasonal"``.
    allowed : numpy.ndarray of bool, shape (n,), optional
        Which missing points may be filled (gaps over the limit are excluded).

    Returns
    -------
    numpy.ndarray of shape (n,)
        A new array; NaN where no value could be derived (a gap at the start for
        ``ffill``, at the end for ``bfill``, at either end for interpolation, in the
        first season for ``seasonal``) or where not ``allowed``.

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.preprocessing.impute import impute
    >>> x = np.array([1.0, np.nan, 3.0, np.nan])
    >>> impute(x, "ffill").tolist()
    [1.0, 1.0, 3.0, 3.0]
    >>> impute(x, "linear").tolist()  # nothing to interpolate towards at the end
    [1.0, 2.0, 3.0, nan]
    """
    out = np.array(x, dtype=np.float64, copy=True)
    missing = np.isnan(out)
    if allowed is not None:
        missing &= allowed
    if not missing.any():
        return out
    observed = ~np.isnan(x)
    n = len(x)
    at = np.arange(n)
    if method == "ffill":
        last = np.maximum.accumulate(np.where(observed, at, -1))
        ok = missing & (last >= 0)
        out[ok] = x[last[ok]]
    elif method == "bfill":
        nxt = np.minimum.accumulate(np.where(observed, at, n)[::-1])[::-1]
        ok = missing & (nxt < n)
        out[ok] = x[nxt[ok]]
    elif method in ("linear", "time"):
        if observed.sum() >= 2:
            t = at.astype(np.float64) if method == "linear" else \
                (coord - coord[observed][0]).astype(np.float64)
            first, final = np.flatnonzero(observed)[[0, -1]]
            ok = missing & (at > first) & (at < final)  # inside the observed span only
            out[ok] = np.interp(t[ok], t[observed], x[observed])
    else:
        m = int(season_length)
        for t in np.flatnonzero(missing):  # ascending, so a filled value can be reused
            if t >= m:
                out[t] = out[t - m]
    return out


class Imputer(BaseTransformer):
    """Fill missing values of each series by forward/backward fill, interpolation or season.

    Parameters
    ----------
    method : {"ffill", "bfill", "linear", "time", "seasonal"}, default="ffill"
        See :func:`impute`.
    limit : int or None, default=None
        Longest gap (run of consecutive missing values) to fill; longer gaps are
        handled by ``on_limit``. None fills gaps of any length.
    season_length : int or None, default=None
        Season length in steps; required by ``method="seasonal"``.
    on_limit : {"leave", "raise"}, default="leave"
        What to do with a gap longer than ``limit``: leave it missing, or raise a
        :class:`~tsssm.exceptions.DataError` naming the series and the gap.

    Attributes
    ----------
    report_ : pandas.DataFrame
        Set by ``transform``: one row per series with ``unique_id``, ``n_missing``,
        ``n_imputed`` and ``n_left`` (still missing after imputation).
    imputed_ : dict
        Set by ``transform``: the time points filled, per series id.
        ``inverse_transform`` puts the missing values back there (and leaves any other
        time point, e.g. of a forecast, unchanged).

    Notes
    -----
    The transformer remembers each series' data seen at ``fit`` and ``update``, so
    new observations that continue a series are filled using the values before them
    (a forward fill across the boundary, an interpolation between the last old and the
    first new observation).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> y = pd.Series([1.0, np.nan, 3.0, np.nan, np.nan, 6.0], index=pd.RangeIndex(6))
    >>> Imputer(method="linear", limit=1).fit_transform(y).tolist()
    [1.0, 2.0, 3.0, nan, nan, 6.0]
    """

    _uses_positions = True

    def __init__(self, method: str = "ffill", limit: int | None = None,
                 season_length: int | None = None, on_limit: str = "leave") -> None:
        self.method = method
        self.limit = limit
        self.season_length = season_length
        self.on_limit = on_limit

    def _check_params(self) -> None:
        owner = type(self).__name__
        check_option(self.method, "method", _METHODS, owner=owner)
        check_int(self.limit, "limit", owner=owner, min_value=1, allow_none=True)
        check_int(self.season_length, "season_length", owner=owner, min_value=1,
                  allow_none=self.method != "seasonal")
        check_option(self.on_limit, "on_limit", ("leave", "raise"), owner=owner)

    def _fit_series(self, block: Block) -> History:
        if len(block.index):
            self._positions(block, block.index[0])  # regular data only
        return History(block.index[0] if len(block.index) else None, block.values[:, :1])

    def _impute_block(self, block: Block, hist: History) -> tuple[np.ndarray, np.ndarray]:
        """Imputed values of ``block`` and the mask of points filled."""
        x = block.values[:, 0]
        if len(x) == 0 or not np.isnan(x).any():
            return block.values.copy(), np.zeros(len(x), dtype=bool)
        pos = self._positions(block, hist.origin)
        p0 = int(pos[0])
        # values just before the block, when it continues the data seen so far
        n_ctx = p0 if 0 < p0 <= len(hist) else 0
        full = np.concatenate([hist.before(p0, n_ctx)[:, 0], x])
        allowed = np.ones(len(full), dtype=bool)
        if self.limit is not None:
            starts, ends = nan_runs(full)
            for s, e in zip(starts, ends):
                if e - s <= self.limit or e <= n_ctx:
                    continue  # short enough, or entirely in the past
                if self.on_limit == "raise":
                    first = shift(hist.origin, p0 - n_ctx + int(s), self.freq_, self.kind_)
                    raise DataError(
                        f"Series {block.uid!r} has a gap of {e - s} missing values from "
                        f"{first}, longer than limit={self.limit}. Raise the limit, or set "
                        "on_limit='leave' to keep such gaps missing."
                    )
                allowed[s:e] = False
        coord = None
        if self.method == "time":
            times = grid_points(shift(hist.origin, p0 - n_ctx, self.freq_, self.kind_),
                                len(full), self.freq_, self.kind_)
            coord = time_coordinate(times, self.kind_)
        filled = impute(full, self.method, coord=coord, season_length=self.season_length,
                        allowed=allowed)[n_ctx:]
        done = np.isnan(x) & ~np.isnan(filled)
        return filled[:, None], done

    def transform(self, y: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
        """Fill missing values of ``y`` (see the class docstring); sets ``report_``.

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
        values, imputed, rows = [], {}, []
        for b in sp.blocks:
            v, done = self._impute_block(b, self._state(b.uid))
            values.append(v)
            imputed[self._key(b.uid)] = b.index[done]
            n_missing = int(np.isnan(b.values[:, 0]).sum())
            rows.append((b.uid, n_missing, int(done.sum()), n_missing - int(done.sum())))
        self.imputed_ = imputed
        self.report_ = pd.DataFrame(rows, columns=["unique_id", "n_missing", "n_imputed",
                                                   "n_left"])
        return sp.with_values(values)

    def _inverse_series(self, block: Block, state: History) -> np.ndarray:
        out = block.values.copy()
        filled = getattr(self, "imputed_", {}).get(self._key(block.uid))
        if filled is not None and len(filled):
            out[block.index.isin(filled)] = np.nan
        return out

    def _update_series(self, block: Block, hist: History) -> History:
        if len(block.index) == 0:
            return hist
        new = History(hist.origin, hist.values)
        new.write(self._positions(block, hist.origin), block.values[:, :1])
        return new
