"""Split the user's pandas objects into per-series blocks and put them back together.

Transformers work series by series on plain arrays. This module turns each accepted
layout into a list of :class:`Block` (one series: its sorted time points and a float
matrix of value columns) and rebuilds an object of the same layout afterwards:

``"series"``
    a ``pd.Series`` (one series, one value column);
``"frame"``
    a time-indexed ``pd.DataFrame`` holding several value columns of *one* series, as
    ``predict_quantiles`` returns for a Series input (columns ``q0.1``, ...);
``"wide"``
    a time-indexed ``pd.DataFrame`` with one column per series. Read as data, the
    leading NaNs of a column mean the series starts later (as in
    :func:`tsssm.data.to_panel`); read for an inverse they are kept, because there
    they may stand for values the inverse restores (a differenced series' start);
``"long"``
    a ``pd.DataFrame`` with an id column, a time column and value columns (the
    target, ``yhat``, ``q0.1``..., ``lower``/``upper``); other columns pass through.

Nothing here modifies the caller's object: rebuilding always makes a new one, and
rows keep their original order unless the transformer inserts or removes rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tsssm._validation import shorten

# One set of checks for every pandas entry point: the data layer's.
from tsssm.data.frame import _check_duplicates, _numeric
from tsssm.exceptions import DataError, DataTypeError
from tsssm.preprocessing._time import as_time_index

__all__ = ["Block", "Split", "forecast_value_columns", "split"]

_QUANTILE = re.compile(r"^q(0(\.\d+)?|1|\.\d+|\d+(\.\d+)?e-?\d+)$")
#: value columns of forecast outputs, besides the target itself
FORECAST_COLUMNS = ("yhat", "lower", "upper")


def forecast_value_columns(columns: pd.Index, target_col: str) -> list:
    """Columns of a frame that hold values of the target: target, yhat, q*, lower, upper."""
    out = []
    for c in columns:
        if c == target_col or c in FORECAST_COLUMNS or (
            isinstance(c, str) and _QUANTILE.match(c)
        ):
            out.append(c)
    return out


@dataclass
class Block:
    """One series: sorted time points and their values.

    Parameters
    ----------
    uid : object
        Series identifier.
    index : pandas.Index
        Sorted, unique time points, shape (n,).
    values : numpy.ndarray of shape (n, C)
        Float64 value columns (a private copy).
    rows : numpy.ndarray of shape (n,)
        Positions of these rows in the original object (for writing values back).
    """

    uid: Any
    index: pd.Index
    values: np.ndarray
    rows: np.ndarray


@dataclass
class Split:
    """A pandas object cut into blocks, with what is needed to rebuild it."""

    layout: str
    obj: Any
    kind: str
    blocks: list[Block]
    columns: list = field(default_factory=list)
    id_col: str = "unique_id"
    time_col: str = "ds"

    @property
    def ids(self) -> list:
        """Series identifiers in order of appearance."""
        return [b.uid for b in self.blocks]

    # -------------------------------------------------------- same time points
    def with_values(self, new: list[np.ndarray]) -> Any:
        """Return a copy of the object with each block's values replaced.

        Parameters
        ----------
        new : list of numpy.ndarray of shape (n_b, C)
            New values per block, in the block's (sorted) time order.
        """
        obj = self.obj
        if self.layout == "series":
            out = np.full(len(obj), np.nan)
            for b, v in zip(self.blocks, new):
                out[b.rows] = v[:, 0]
            return pd.Series(out, index=obj.index.copy(), name=obj.name)
        if self.layout == "wide":
            data = {}
            for k, (b, v) in enumerate(zip(self.blocks, new)):
                col = np.full(len(obj), np.nan)
                col[b.rows] = v[:, 0]
                data[k] = col
            out = pd.DataFrame(data, index=obj.index.copy())
            out.columns = obj.columns.copy()
            return out
        out = obj.copy()
        for j, c in enumerate(self.columns):
            col = _numeric(obj[c], f"Column {c!r}")
            for b, v in zip(self.blocks, new):
                col[b.rows] = v[:, j]
            out[c] = col
        return out

    # ------------------------------------------------------- new time points
    def with_index(self, new: list[tuple[pd.Index, np.ndarray, np.ndarray]]) -> Any:
        """Rebuild the object on new time points per block (rows inserted or removed).

        Parameters
        ----------
        new : list of (index, values, source)
            For each block: its new sorted time points, their values (n', C), and for
            each new row the position of the original row it copies the other columns
            from, or -1 for an inserted row (other columns become missing).

        Returns
        -------
        pandas object
            Sorted by time (and by series, in order of first appearance, for long data).
        """
        obj = self.obj
        if self.layout in ("series", "frame"):
            index, values, _ = new[0]
            index = index.copy()
            index.name = obj.index.name
            if self.layout == "series":
                return pd.Series(values[:, 0], index=index, name=obj.name)
            out = pd.DataFrame(values, index=index, columns=self.columns)
            rest = [c for c in obj.columns if c not in self.columns]
            if rest:
                out = out.join(obj[rest])
            return out[list(obj.columns)]
        if self.layout == "wide":
            union = new[0][0]
            for index, _, _ in new[1:]:
                union = union.union(index)
            union = union.copy()
            union.name = obj.index.name
            data = {}
            for k, (index, values, _) in enumerate(new):
                col = pd.Series(values[:, 0], index=index).reindex(union)
                data[k] = col.to_numpy(dtype=np.float64, copy=True)
            out = pd.DataFrame(data, index=union)
            out.columns = obj.columns.copy()
            return out
        others = [c for c in obj.columns if c not in (self.id_col, self.time_col)]
        parts = []
        for b, (index, values, source) in zip(self.blocks, new):
            # an inserted row copies the series' first row (its id), then loses the rest
            part = obj.iloc[np.where(source >= 0, source, b.rows[0])].reset_index(drop=True)
            inserted = source < 0
            if inserted.any() and others:
                part = part.astype({c: _nullable(part[c].dtype) for c in others})
                part.loc[inserted, others] = np.nan
            part[self.time_col] = index
            for j, c in enumerate(self.columns):
                part[c] = values[:, j]
            parts.append(part)
        out = pd.concat(parts, ignore_index=True) if parts else obj.iloc[:0].copy()
        return out[list(obj.columns)]


def _nullable(dtype: Any) -> Any:
    """A dtype that can hold a missing value (integers and booleans become float/object)."""
    if pd.api.types.is_bool_dtype(dtype):
        return object
    if pd.api.types.is_integer_dtype(dtype):
        return np.float64
    return dtype


def _sorted_block(uid: Any, index: pd.Index, values: np.ndarray, rows: np.ndarray) -> Block:
    _check_duplicates(index, uid)
    if not index.is_monotonic_increasing:
        order = np.asarray(index.argsort(kind="stable"))
        index, values, rows = index[order], values[order], rows[order]
    return Block(uid, index, values, rows)


def split(
    obj: Any,
    *,
    fitted_layout: str | None,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    columns: str = "target",
    series_uid: Any = None,
    what: str = "y",
) -> Split:
    """Cut ``obj`` into per-series blocks.

    Parameters
    ----------
    obj : pandas.Series or pandas.DataFrame
        The data.
    fitted_layout : {"series", "wide", "long"} or None
        The layout seen at fit; None while fitting. It decides how a time-indexed
        DataFrame is read: as several columns of one series after a Series fit
        (``"frame"``), as one series per column otherwise (``"wide"``).
    id_col, time_col, target_col : str
        Column names of the long layout.
    columns : {"target", "forecast"}
        Which value columns of a long (or ``"frame"``) object to read: the target only,
        or every column holding values of the target (``yhat``, ``q*``, ``lower``,
        ``upper`` and the target).
    series_uid : object
        The id of the single series after a Series fit (names the ``"frame"`` block).
    what : str
        Name of the argument in error messages.

    Returns
    -------
    Split
    """
    if isinstance(obj, pd.Series):
        kind, idx = as_time_index(obj.index, f"The index of {what}")
        uid = obj.name if obj.name is not None else "y"
        if fitted_layout not in (None, "series"):
            raise DataTypeError(
                f"This transformer was fitted on a {fitted_layout} DataFrame; {what} must "
                f"have the same layout, not a Series."
            )
        vals = _numeric(obj, f"Series {what}")[:, None]
        block = _sorted_block(uid, idx, vals, np.arange(len(obj)))
        return Split("series", obj, kind, [block], [obj.name])
    if not isinstance(obj, pd.DataFrame):
        raise DataTypeError(
            f"{what} must be a pandas Series, a wide DataFrame (time index, one column per "
            f"series) or a long DataFrame with columns '{id_col}', '{time_col}'. "
            f"Got {type(obj).__name__}."
        )
    if id_col in obj.columns and time_col in obj.columns:
        return _split_long(obj, id_col, time_col, target_col, columns, what)
    if fitted_layout == "long":
        raise DataError(
            f"{what} lacks the columns '{id_col}' and '{time_col}' of the long data this "
            f"transformer was fitted on; it has {list(obj.columns)[:10]}."
        )
    kind, idx = as_time_index(obj.index, f"The index of {what}")
    if fitted_layout == "series":
        cols = forecast_value_columns(obj.columns, target_col)
        if not cols:
            raise DataError(
                f"{what} has none of the value columns this transformer can map back "
                f"({target_col!r}, 'yhat', 'q0.1'..., 'lower', 'upper'); it has "
                f"{list(obj.columns)[:10]}."
            )
        vals = np.stack([_numeric(obj[c], f"Column {c!r} of {what}") for c in cols], axis=1)
        block = _sorted_block(series_uid, idx, vals, np.arange(len(obj)))
        return Split("frame", obj, kind, [block], cols)
    if obj.columns.has_duplicates:
        raise DataError(
            f"{what} has duplicate column names {shorten(obj.columns[obj.columns.duplicated()])};"
            " each column is one series and needs a unique name."
        )
    _check_duplicates(idx, f"(the shared index of {what})")
    if idx.is_monotonic_increasing:  # slices keep the index's declared frequency
        order, sidx = np.arange(len(idx)), idx
    else:
        order = np.asarray(idx.argsort(kind="stable"))
        sidx = idx[order]
    blocks = []
    for k, col in enumerate(obj.columns):
        vals = _numeric(obj.iloc[:, k], f"Column {col!r} of {what}")[order]
        # Leading NaNs of a column mean its series starts later; a transformed column
        # keeps them, because there they can stand for values an inverse restores (the
        # first values of a differenced series).
        observed = np.flatnonzero(~np.isnan(vals))
        first = 0 if columns != "target" else observed[0] if len(observed) else len(vals)
        blocks.append(Block(col, sidx[first:], vals[first:, None], order[first:]))
    return Split("wide", obj, kind, blocks, list(obj.columns))


def _split_long(obj, id_col, time_col, target_col, columns, what) -> Split:
    if columns == "target":
        if target_col not in obj.columns:
            raise DataError(
                f"The long DataFrame {what} lacks the target column {target_col!r}; it has "
                f"{list(obj.columns)[:10]}. Pass target_col= at fit if it is named differently."
            )
        cols = [target_col]
    else:
        cols = forecast_value_columns(obj.columns, target_col)
        if not cols:
            raise DataError(
                f"{what} has none of the value columns this transformer can map back "
                f"({target_col!r}, 'yhat', 'q0.1'..., 'lower', 'upper'); it has "
                f"{list(obj.columns)[:10]}."
            )
    if obj[id_col].isna().any():
        raise DataError(f"Column {id_col!r} of {what} contains missing ids.")
    kind, ds = as_time_index(obj[time_col], f"Column {time_col!r} of {what}")
    if ds.hasnans:
        raise DataError(f"Column {time_col!r} of {what} contains missing time points.")
    vals = np.stack([_numeric(obj[c], f"Column {c!r} of {what}") for c in cols], axis=1)
    codes, uniques = pd.factorize(obj[id_col], sort=False)
    blocks = []
    by_series = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(uniques)))])
    for i, uid in enumerate(uniques):
        rows = by_series[bounds[i]:bounds[i + 1]]
        blocks.append(_sorted_block(uid, ds[rows], vals[rows], rows))
    return Split("long", obj, kind, blocks, cols, id_col, time_col)
