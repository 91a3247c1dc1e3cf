"""The transformer contract shared by every tsssm preprocessing step.

:class:`BaseTransformer` follows scikit-learn's conventions (``__init__`` stores
parameters, checks happen in ``fit``, fitted state ends in ``_``, ``clone`` and
``get_params`` work) on the three data layouts of the forecasters: a Series, a wide
DataFrame and a long DataFrame. It cuts the data into series (see
:mod:`tsssm.preprocessing._frames`) and subclasses implement per-series hooks on
arrays:

``_fit_series(block) -> state``
    learn what the series needs (a scale, a lambda, its history);
``_transform_series(block, state) -> (n, C)``
    the transformed values, on the same time points;
``_inverse_series(block, state) -> (n, C)``
    the inverse; ``block`` may be a forecast (columns ``yhat``, ``q0.1``, ...);
``_update_series(block, state) -> state``
    absorb new observations (default: keep the state).

Transformers that insert or remove time points override ``transform`` and
``inverse_transform`` whole (:class:`~tsssm.preprocessing.FillGaps`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from tsssm._validation import shorten
from tsssm.exceptions import DataError
from tsssm.preprocessing._frames import Block, Split, split
from tsssm.preprocessing._time import infer_freq, parse_freq, positions

__all__ = ["BaseTransformer", "History"]


class History:
    """The values of one series on its regular grid, counted from its first time point.

    Position ``p`` is ``p`` steps of the transformer's frequency after ``origin``.
    Transformers that look back in time (differencing, lags, imputation across calls)
    keep one per series, so a later call can see the values before its own data.

    Parameters
    ----------
    origin : Timestamp, Period or int
        The time point at position 0.
    values : numpy.ndarray of shape (n, C)
        Values at positions ``0 .. n - 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from tsssm.preprocessing.base import History
    >>> hist = History(origin=0, values=np.array([[1.0], [2.0], [3.0]]))  # (n, C)
    >>> hist.before(3, 2).ravel().tolist()  # the two values before position 3
    [2.0, 3.0]
    >>> hist.write(np.array([4]), np.array([[5.0]]))  # grows, NaN at position 3
    >>> hist.at(np.array([3, 4])).ravel().tolist()
    [nan, 5.0]
    """

    def __init__(self, origin: Any, values: np.ndarray) -> None:
        self.origin = origin
        self.values = np.array(values, dtype=np.float64, copy=True)

    def __len__(self) -> int:
        return self.values.shape[0]

    def at(self, pos: np.ndarray) -> np.ndarray:
        """Values at positions ``pos``, shape (len(pos), C); NaN where unknown."""
        pos = np.asarray(pos, dtype=np.int64)
        out = np.full((len(pos), self.values.shape[1]), np.nan)
        known = (pos >= 0) & (pos < len(self))
        out[known] = self.values[pos[known]]
        return out

    def before(self, p0: int, length: int) -> np.ndarray:
        """The ``length`` values just before position ``p0``, shape (length, C)."""
        return self.at(np.arange(p0 - length, p0))

    def write(self, pos: np.ndarray, values: np.ndarray) -> None:
        """Store ``values`` (len(pos), C) at ``pos`` (>= 0), growing with NaN as needed."""
        pos = np.asarray(pos, dtype=np.int64)
        if len(pos) == 0:
            return
        end = int(pos.max()) + 1
        if end > len(self):
            grow = np.full((end - len(self), self.values.shape[1]), np.nan)
            self.values = np.concatenate([self.values, grow], axis=0)
        keep = pos >= 0
        self.values[pos[keep]] = values[keep]


class BaseTransformer(BaseEstimator):
    """Base class of tsssm preprocessing transformers (see the module docstring).

    Examples
    --------
    Every transformer (here :class:`~tsssm.preprocessing.Scaler`) fits a state per
    series, transforms, and maps forecasts back:

    >>> import pandas as pd
    >>> from tsssm.preprocessing import BaseTransformer, Scaler
    >>> y = pd.Series([1.0, 2.0, 3.0], index=pd.date_range("2024-01-01", periods=3))
    >>> scaler = Scaler(method="minmax").fit(y)
    >>> isinstance(scaler, BaseTransformer)
    True
    >>> scaler.transform(y).tolist()
    [0.0, 0.5, 1.0]
    >>> scaler.inverse_transform(scaler.transform(y)).tolist()
    [1.0, 2.0, 3.0]
    """

    #: whether each series gets its own fitted state (else transform accepts any series)
    _per_series: bool = True
    #: whether the transformer counts time in steps (needs a frequency)
    _uses_positions: bool = False

    # ------------------------------------------------------------------- hooks
    def _check_params(self) -> None:
        """Validate parameters; raise ParameterError/ParameterTypeError."""

    def _fit_series(self, block: Block) -> Any:
        return None

    def _transform_series(self, block: Block, state: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _inverse_series(self, block: Block, state: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _update_series(self, block: Block, state: Any) -> Any:
        return state

    # ------------------------------------------------------------- public API
    def fit(self, y: pd.Series | pd.DataFrame, *, freq: Any = None,
            id_col: str = "unique_id", time_col: str = "ds",
            target_col: str = "y") -> BaseTransformer:
        """Learn the per-series state from ``y``.

        Parameters
        ----------
        y : pandas.Series or pandas.DataFrame
            A Series with a DatetimeIndex, PeriodIndex or integer index; a wide
            DataFrame (time index, one column per series); or a long DataFrame with
            columns ``id_col``, ``time_col``, ``target_col`` (other columns pass through).
        freq : str, pandas.DateOffset, int or None, default=None
            Frequency of the time index, where the transformer counts steps; inferred
            from the most common step when None.
        id_col, time_col, target_col : str, default="unique_id", "ds", "y"
            Column names of a long DataFrame.

        Returns
        -------
        self
        """
        self._check_params()
        self._clear_fitted()
        sp = split(y, fitted_layout=None, id_col=id_col, time_col=time_col,
                   target_col=target_col)
        self.layout_ = sp.layout
        self.kind_ = sp.kind
        # forecasts of Series and wide data come back long with the default names
        long = sp.layout == "long"
        self.id_col_ = id_col if long else "unique_id"
        self.time_col_ = time_col if long else "ds"
        self.target_col_ = target_col
        if sp.layout == "series":
            self.series_name_ = sp.blocks[0].uid
        self.freq_ = self._resolve_freq(sp, freq)
        ids = np.empty(len(sp.blocks), dtype=object)
        ids[:] = sp.ids
        self.ids_ = ids
        self.n_series_ = len(ids)
        try:
            self.states_ = {b.uid: self._fit_series(b) for b in sp.blocks}
        except BaseException:
            self._clear_fitted()  # never leave a half-fitted transformer behind
            raise
        return self

    def transform(self, y: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
        """Transform ``y`` series by series; the result has the layout of ``y``.

        Parameters
        ----------
        y : pandas.Series or pandas.DataFrame
            Data in the layout given to ``fit`` (series seen at fit only, for
            transformers with a per-series state).

        Returns
        -------
        pandas.Series or pandas.DataFrame
            A new object; ``y`` is not modified.
        """
        sp = self._split(y, "target", "y")
        return sp.with_values([self._transform_series(b, self._state(b.uid)) for b in sp.blocks])

    def fit_transform(self, y: pd.Series | pd.DataFrame, **fit_params: Any
                      ) -> pd.Series | pd.DataFrame:
        """``fit(y, **fit_params)`` then ``transform(y)``."""
        return self.fit(y, **fit_params).transform(y)

    def inverse_transform(self, y: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
        """Map transformed values (or forecasts of them) back to the original scale.

        Parameters
        ----------
        y : pandas.Series or pandas.DataFrame
            Transformed data in the layout of ``fit``, or a forecast of it: the output
            of ``predict`` (same layout as ``y``), ``predict_quantiles`` or
            ``predict_interval`` (time-indexed after a Series fit, long otherwise).
            Every column holding values of the target is mapped: the target column,
            ``yhat``, ``q0.1``..., ``lower`` and ``upper``.

        Returns
        -------
        pandas.Series or pandas.DataFrame
            A new object in the layout of ``y``.
        """
        sp = self._split(y, "forecast", "y")
        return sp.with_values([self._inverse_series(b, self._state(b.uid)) for b in sp.blocks])

    def update(self, y_new: pd.Series | pd.DataFrame) -> BaseTransformer:
        """Absorb new observations that continue the data seen so far.

        Statistics fitted on the training data (scales, lambdas, bounds) stay fixed;
        transformers that look back in time extend the history they keep, so the next
        ``transform`` or ``inverse_transform`` continues from the new end.

        Parameters
        ----------
        y_new : pandas.Series or pandas.DataFrame
            New observations in the layout given to ``fit`` (untransformed).

        Returns
        -------
        self
        """
        sp = self._split(y_new, "target", "y_new")
        states = dict(self.states_)
        for b in sp.blocks:
            key = self._key(b.uid)
            states[key] = self._update_series(b, self._state(b.uid))
        self.states_ = states
        return self

    # ----------------------------------------------------------------- helpers
    def _split(self, y: Any, columns: str, what: str) -> Split:
        check_is_fitted(self)
        return split(
            y, fitted_layout=self.layout_, id_col=self.id_col_, time_col=self.time_col_,
            target_col=self.target_col_, columns=columns,
            series_uid=getattr(self, "series_name_", None), what=what,
        )

    def _key(self, uid: Any) -> Any:
        """The state key of series ``uid`` (any name maps to the one series of a Series fit)."""
        return self.series_name_ if self.layout_ == "series" else uid

    def _state(self, uid: Any) -> Any:
        key = self._key(uid)
        if key in self.states_:
            return self.states_[key]
        if not self._per_series:
            return None
        raise DataError(
            f"Series {shorten([uid])} was not seen when this {type(self).__name__} was fitted; "
            "it has no fitted state. Fit on data that includes every series to transform."
        )

    def _resolve_freq(self, sp: Split, freq: Any) -> Any:
        own = getattr(self, "freq", None)
        if own is not None:
            freq = own
        if freq is not None:
            return parse_freq(freq, sp.kind)
        if not self._uses_positions:
            return None
        return infer_freq([(b.uid, b.index) for b in sp.blocks if len(b.index)], sp.kind)

    def _positions(self, block: Block, origin: Any) -> np.ndarray:
        """Grid positions of ``block`` from ``origin``; raises unless they are contiguous."""
        pos = positions(block.index, origin, self.freq_, self.kind_, block.uid)
        if len(pos) > 1 and np.any(np.diff(pos) != 1):
            k = int(np.flatnonzero(np.diff(pos) != 1)[0])
            raise DataError(
                f"Series {block.uid!r} is not regular at frequency '{_freq_name(self.freq_)}': "
                f"{block.index[k]} is followed by {block.index[k + 1]}. "
                f"{type(self).__name__} needs regular data; insert the missing time points "
                "first with tsssm.preprocessing.FillGaps."
            )
        return pos

    def _clear_fitted(self) -> None:
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("__")]:
            delattr(self, name)


def _freq_name(freq: Any) -> str:
    return getattr(freq, "freqstr", str(freq))
