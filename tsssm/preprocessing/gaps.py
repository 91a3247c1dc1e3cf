"""Insert missing time points so every series lies on a regular grid.

:func:`tsssm.data.to_panel` rejects irregular series; :class:`FillGaps` works on the
raw pandas objects before that check and turns a series with holes in its index into
a regular one with missing values there (which an
:class:`~tsssm.preprocessing.Imputer` can then fill).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tsssm.preprocessing._frames import Block
from tsssm.preprocessing._time import positions, regular_grid
from tsssm.preprocessing.base import BaseTransformer

__all__ = ["FillGaps"]


class FillGaps(BaseTransformer):
    """Insert the missing time points of each series at its frequency.

    Between each series' first and last observation, every time point of the regular
    grid at ``freq`` that is absent is inserted with a missing target (and, for long
    data, missing values in the other columns). Time zones, business days, month ends
    and period indexes follow pandas' calendar: an hourly series in a time zone with
    daylight saving time gets its hours in absolute time, a business-day series no
    weekends.

    Parameters
    ----------
    freq : str, pandas.DateOffset, int or None, default=None
        The frequency to fill to (``"h"``, ``"B"``, ``"ME"``, ``pd.offsets.Week(...)``,
        or a step for integer indexes). None takes ``freq`` given to ``fit``, else
        infers it from the most common step between observations (a one-day step with
        no weekend observation is read as business days; 28-31-day steps on month
        ends as month ends; and so on).

    Attributes
    ----------
    freq_ : pandas.DateOffset or int
        The frequency used.
    report_ : pandas.DataFrame
        Set by ``transform``: one row per series with ``unique_id``, ``n_inserted``,
        ``first_inserted`` and ``last_inserted`` (missing when nothing was inserted).
    inserted_ : dict
        Set by ``transform``: the inserted time points per series id.
        ``inverse_transform`` removes them again (and leaves other data unchanged).

    Notes
    -----
    Output rows are sorted by time (and, for long data, grouped by series in order of
    first appearance). Time points off the grid (for example 10:30 in hourly data
    anchored at full hours) raise a :class:`~tsssm.exceptions.DataError`; resample
    such data first.

    Examples
    --------
    >>> import pandas as pd
    >>> idx = pd.to_datetime(["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 04:00"])
    >>> y = pd.Series([1.0, 2.0, 5.0], index=idx)
    >>> fg = FillGaps()
    >>> len(fg.fit_transform(y))
    5
    >>> int(fg.report_["n_inserted"].iloc[0])
    2
    """

    _per_series = False
    _uses_positions = True

    def __init__(self, freq: Any = None) -> None:
        self.freq = freq

    def _regular(self, block: Block) -> tuple[pd.Index, np.ndarray]:
        """The full grid of ``block`` and, per grid point, the block row there (or -1)."""
        if len(block.index) == 0:
            return block.index, np.zeros(0, dtype=np.int64)
        pos = positions(block.index, block.index[0], self.freq_, self.kind_, block.uid)
        grid = regular_grid(block.index[0], block.index[-1], self.freq_, self.kind_)
        source = np.full(len(grid), -1, dtype=np.int64)
        source[pos] = np.arange(len(pos))
        return grid, source

    def transform(self, y: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
        """Insert the missing time points of ``y``; sets ``report_`` and ``inserted_``.

        Parameters
        ----------
        y : pandas.Series or pandas.DataFrame
            A Series, a wide or a long DataFrame, possibly irregular.

        Returns
        -------
        pandas.Series or pandas.DataFrame
            A new object in the layout of ``y``, regular at ``freq_``.
        """
        sp = self._split(y, "target", "y")
        new, inserted, rows = [], {}, []
        for b in sp.blocks:
            grid, source = self._regular(b)
            values = np.full((len(grid), b.values.shape[1]), np.nan)
            here = source >= 0
            values[here] = b.values[source[here]]
            new.append((grid, values, np.where(here, b.rows[np.maximum(source, 0)], -1)))
            added = grid[~here]
            inserted[self._key(b.uid)] = added
            rows.append((b.uid, len(added), added[0] if len(added) else None,
                         added[-1] if len(added) else None))
        self.inserted_ = inserted
        self.report_ = pd.DataFrame(rows, columns=["unique_id", "n_inserted",
                                                   "first_inserted", "last_inserted"])
        if not any(len(v) for v in inserted.values()):
            return sp.with_values([b.values for b in sp.blocks])
        return sp.with_index(new)

    def inverse_transform(self, y: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
        """Remove the time points the last ``transform`` inserted.

        Parameters
        ----------
        y : pandas.Series or pandas.DataFrame
            Output of ``transform`` (or of a later step), or a forecast; time points
            that were not inserted are kept unchanged.

        Returns
        -------
        pandas.Series or pandas.DataFrame
            A new object in the layout of ``y``.
        """
        sp = self._split(y, "forecast", "y")
        inserted = getattr(self, "inserted_", {})
        new, dropped = [], False
        for b in sp.blocks:
            gone = inserted.get(self._key(b.uid))
            keep = ~b.index.isin(gone) if gone is not None and len(gone) else \
                np.ones(len(b.index), dtype=bool)
            dropped |= not keep.all()
            new.append((b.index[keep], b.values[keep], b.rows[keep]))
        if not dropped:
            return sp.with_values([b.values for b in sp.blocks])
        return sp.with_index(new)
