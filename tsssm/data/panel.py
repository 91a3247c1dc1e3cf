"""The internal panel form every model sees: many series as flat arrays plus pointers.

Like statsforecast's core, tsssm turns whatever the user passed (a Series, a wide or a
long DataFrame) into one flat representation before any model runs. Models receive
numpy arrays, never DataFrames; the pandas details (index kind, frequency, the form to
give back) live in :class:`TimeAxis` and :class:`FormSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FormSpec", "Panel", "TimeAxis"]


@dataclass(frozen=True)
class TimeAxis:
    """How time is indexed: a regular grid of datetimes, periods or integers.

    Parameters
    ----------
    kind : {"datetime", "period", "int"}
        The index type the user passed.
    freq : pandas.DateOffset or int
        The step between observations: an offset for datetimes and periods, a positive
        integer step for integer indexes.
    tz : str or tzinfo or None
        Time zone of datetime indexes.

    Examples
    --------
    >>> import pandas as pd
    >>> from tsssm.data import TimeAxis
    >>> daily = TimeAxis("datetime", pd.tseries.frequencies.to_offset("D"))
    >>> [str(t) for t in daily.grid("2024-01-01", 3)]
    ['2024-01-01 00:00:00', '2024-01-02 00:00:00', '2024-01-03 00:00:00']
    >>> str(daily.shift(pd.Timestamp("2024-01-01"), 7)), daily.freq_str
    ('2024-01-08 00:00:00', 'D')
    >>> list(TimeAxis("int", 2).grid(0, 3))
    [0, 2, 4]
    """

    kind: str
    freq: Any
    tz: Any = None

    def grid(self, start: Any, periods: int) -> pd.Index:
        """Return ``periods`` regular time points starting at ``start``."""
        if self.kind == "datetime":
            return pd.date_range(start=start, periods=periods, freq=self.freq, tz=self.tz)
        if self.kind == "period":
            return pd.period_range(start=start, periods=periods, freq=self.freq)
        step = int(self.freq)
        return pd.RangeIndex(int(start), int(start) + periods * step, step)

    def shift(self, point: Any, n: int) -> Any:
        """Return the time point ``n`` steps after ``point``."""
        if self.kind == "int":
            return int(point) + n * int(self.freq)
        return point + n * self.freq

    @property
    def freq_str(self) -> str:
        """The frequency as text: an offset alias (``'h'``, ``'ME'``) or an integer step."""
        if self.kind == "int":
            return str(int(self.freq))
        return self.freq.freqstr


@dataclass(frozen=True)
class FormSpec:
    """What the user passed, so outputs can mirror it.

    Parameters
    ----------
    form : {"series", "wide", "long"}
        The input form.
    name : object
        The Series name (``form="series"``).
    columns : pandas.Index or None
        The wide frame's columns (``form="wide"``).
    index_name : object
        The name of the time index (Series and wide forms).
    id_col, time_col, target_col : str
        Column names of the long form.
    id_dtype : object
        dtype of the long form's id column, restored on output.

    Examples
    --------
    >>> import pandas as pd
    >>> from tsssm.data import to_panel
    >>> spec = to_panel(pd.Series([1.0, 2.0, 3.0], name="load")).spec
    >>> spec.form, spec.name
    ('series', 'load')
    """

    form: str
    name: Any = None
    columns: pd.Index | None = None
    index_name: Any = None
    id_col: str = "unique_id"
    time_col: str = "ds"
    target_col: str = "y"
    id_dtype: Any = None


@dataclass(frozen=True, eq=False)
class Panel:
    """Many regular series stored as one flat array with pointers.

    Series ``i`` is ``y[indptr[i]:indptr[i + 1]]``, observed at the regular time points
    ``axis.grid(starts[i], length)``.

    Parameters
    ----------
    ids : numpy.ndarray of shape (S,)
        Series identifiers, in the order the user gave them.
    y : numpy.ndarray of shape (T,)
        All target values, float64, series after series.
    indptr : numpy.ndarray of shape (S + 1,)
        Offsets of each series in ``y``.
    starts : list of length S
        The first time point of each series (Timestamp, Period or int).
    axis : TimeAxis
        Index kind and frequency shared by all series.
    spec : FormSpec
        The user's input form.
    X : numpy.ndarray of shape (T, K) or None
        Exogenous variables aligned with ``y``.
    exog_names : tuple of str
        Names of the K exogenous columns.
    skipped : dict
        Series left out by ``to_panel(..., on_invalid="skip")``, id -> reason.

    Examples
    --------
    >>> import pandas as pd
    >>> from tsssm.data import to_panel
    >>> long = pd.DataFrame({"unique_id": ["a", "a", "a", "b", "b", "b", "b"],
    ...                      "ds": [0, 1, 2, 0, 1, 2, 3],
    ...                      "y": [1.0, 2.0, 3.0, 10.0, 20.0, 30.0, 40.0]})
    >>> panel = to_panel(long)
    >>> panel.ids.tolist(), panel.lengths.tolist(), panel.indptr.tolist()
    (['a', 'b'], [3, 4], [0, 3, 7])
    >>> panel.values(1).tolist(), panel.future_index(1, 2).tolist()
    ([10.0, 20.0, 30.0, 40.0], [4, 5])
    """

    ids: np.ndarray
    y: np.ndarray
    indptr: np.ndarray
    starts: list
    axis: TimeAxis
    spec: FormSpec
    X: np.ndarray | None = None
    exog_names: tuple = field(default_factory=tuple)
    skipped: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ access
    @property
    def n_series(self) -> int:
        """Number of series S."""
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        """Number of observations per series, shape (S,)."""
        return np.diff(self.indptr)

    def values(self, i: int) -> np.ndarray:
        """Target values of series ``i``, shape (n_i,) (a read-only view)."""
        v = self.y[self.indptr[i] : self.indptr[i + 1]]
        v.flags.writeable = False
        return v

    def exog(self, i: int) -> np.ndarray | None:
        """Exogenous rows of series ``i``, shape (n_i, K), or None."""
        if self.X is None:
            return None
        return self.X[self.indptr[i] : self.indptr[i + 1]]

    def time_index(self, i: int) -> pd.Index:
        """The time index of series ``i``."""
        return self.axis.grid(self.starts[i], int(self.lengths[i]))

    def last_time(self, i: int) -> Any:
        """The last time point of series ``i``."""
        return self.axis.shift(self.starts[i], int(self.lengths[i]) - 1)

    def future_index(self, i: int, h: int) -> pd.Index:
        """The ``h`` time points after the end of series ``i``."""
        return self.axis.grid(self.axis.shift(self.starts[i], int(self.lengths[i])), h)

    def __iter__(self):
        for i in range(self.n_series):
            yield self.ids[i], self.values(i), self.exog(i)

    # ------------------------------------------------------------ transforms
    def head(self, n: np.ndarray | int) -> Panel:
        """Keep the first ``n[i]`` observations of each series (a cutoff in time).

        Parameters
        ----------
        n : int or array of shape (S,)
            Number of observations kept per series; must be at least 1 and at most
            the series length.
        """
        n = np.broadcast_to(np.asarray(n, dtype=np.int64), (self.n_series,))
        if np.any(n < 1) or np.any(n > self.lengths):
            raise ValueError("head: n must be in [1, length] for every series.")
        take = np.concatenate(
            [np.arange(self.indptr[i], self.indptr[i] + n[i]) for i in range(self.n_series)]
        )
        return replace(
            self,
            y=self.y[take],
            indptr=np.concatenate([[0], np.cumsum(n)]),
            X=None if self.X is None else self.X[take],
        )

    def tail(self, n: np.ndarray | int) -> Panel:
        """Keep the last ``n[i]`` observations of each series (a sliding window)."""
        n = np.minimum(np.broadcast_to(np.asarray(n, dtype=np.int64), (self.n_series,)),
                       self.lengths)
        skip = self.lengths - n
        take = np.concatenate(
            [np.arange(self.indptr[i] + skip[i], self.indptr[i + 1]) for i in
             range(self.n_series)]
        )
        starts = [self.axis.shift(self.starts[i], int(skip[i])) for i in range(self.n_series)]
        return replace(
            self,
            y=self.y[take],
            indptr=np.concatenate([[0], np.cumsum(n)]),
            starts=starts,
            X=None if self.X is None else self.X[take],
        )

    def select(self, positions: np.ndarray | list[int]) -> Panel:
        """Keep the series at ``positions`` (in that order)."""
        positions = np.asarray(positions, dtype=np.int64)
        lengths = self.lengths[positions]
        take = np.concatenate(
            [np.arange(self.indptr[i], self.indptr[i + 1]) for i in positions]
        ) if len(positions) else np.zeros(0, dtype=np.int64)
        return replace(
            self,
            ids=self.ids[positions],
            y=self.y[take],
            indptr=np.concatenate([[0], np.cumsum(lengths)]),
            starts=[self.starts[i] for i in positions],
            X=None if self.X is None else self.X[take],
        )

    def append(self, new: Panel) -> Panel:
        """Return this panel with ``new`` observations appended to matching series.

        ``new`` must hold a subset of this panel's series, each starting right after
        the end of the known data (checked by :func:`tsssm.data.frame.to_update_panel`).
        """
        pos = {uid: k for k, uid in enumerate(new.ids)}
        ys, xs, lengths = [], [], []
        for i, uid in enumerate(self.ids):
            parts_y = [self.values(i)]
            parts_x = [self.exog(i)] if self.X is not None else None
            k = pos.get(uid)
            if k is not None:
                parts_y.append(new.values(k))
                if parts_x is not None:
                    parts_x.append(new.exog(k))
            ys.extend(parts_y)
            if parts_x is not None:
                xs.extend(parts_x)
            lengths.append(sum(len(p) for p in parts_y))
        return replace(
            self,
            y=np.concatenate(ys),
            indptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            X=None if self.X is None else np.concatenate(xs, axis=0),
        )
