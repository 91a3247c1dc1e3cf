"""Small panels in the three layouts, on the indexes preprocessing must handle."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: index builders: name -> (periods -> index)
INDEXES = {
    "hourly_tz": lambda n: pd.date_range("2024-03-29", periods=n, freq="h",
                                         tz="Europe/Berlin"),  # crosses the DST switch
    "bday": lambda n: pd.bdate_range("2024-01-01", periods=n),
    "month_end": lambda n: pd.date_range("2000-01-31", periods=n, freq="ME"),
    "period": lambda n: pd.period_range("2020-01", periods=n, freq="M"),
    "int": lambda n: pd.RangeIndex(0, 2 * n, 2),
}
LAYOUTS = ("series", "wide", "long")


def positive_panel(n: int = 60, n_series: int = 2, seed: int = 0) -> np.ndarray:
    """Positive, trending, seasonal values of shape (n, n_series)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    level = 20.0 + 5.0 * np.arange(n_series)[None, :]
    return level + 0.1 * t + 3 * np.sin(2 * np.pi * t / 7) + rng.gamma(2.0, 0.5, (n, n_series))


def make(values: np.ndarray, index: pd.Index, layout: str, ids=("a", "b"),
         exog: np.ndarray | None = None) -> pd.Series | pd.DataFrame:
    """``values`` (n, S) on ``index`` as a Series (first column), wide or long frame."""
    if layout == "series":
        return pd.Series(values[:, 0], index=index, name=ids[0])
    if layout == "wide":
        return pd.DataFrame(values, index=index, columns=list(ids[: values.shape[1]]))
    S = values.shape[1]
    frame = pd.DataFrame({
        "unique_id": np.repeat(np.asarray(ids[:S], dtype=object), len(index)),
        "ds": index.append([index] * (S - 1)) if S > 1 else index,
        "y": values.T.reshape(-1),
    })
    if exog is not None:
        frame["x"] = np.tile(exog, S)
    return frame


def assert_same(got, expected, rtol: float = 1e-9, atol: float = 1e-9) -> None:
    """Equality of two pandas objects up to float tolerance (index, names, dtypes)."""
    if isinstance(expected, pd.Series):
        pd.testing.assert_series_equal(got, expected, rtol=rtol, atol=atol)
    else:
        pd.testing.assert_frame_equal(got, expected, rtol=rtol, atol=atol)


def snapshot(obj):
    """A deep copy to compare against after a call (inputs must never change)."""
    return obj.copy(deep=True)
