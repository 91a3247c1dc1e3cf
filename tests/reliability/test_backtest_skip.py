"""A malformed series among many is reported and skipped by ``backtest``, not fatal.

With ``errors="report"`` the data checks run per series (``to_panel(on_invalid="skip")``):
the bad series is left out and listed in ``result.errors`` (stage "data") for every
model, and every other series gets exactly the forecasts and scores it gets in a
backtest without the bad one (nothing lost, nothing shifted). ``errors="raise"`` raises
a DataError naming it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tsssm import backtest
from tsssm.exceptions import DataError
from tsssm.forecasters import Naive, SeasonalNaive

IDS = [f"s{k:02d}" for k in range(12)]


def _long(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    ds = pd.date_range("2023-01-02", periods=n, freq="D")
    return pd.concat([
        pd.DataFrame({"unique_id": uid, "ds": ds,
                      "y": 50 + 10 * np.sin(np.arange(n) * 2 * np.pi / 7)
                      + rng.normal(size=n)})
        for uid in IDS
    ], ignore_index=True)


def _corrupt(frame: pd.DataFrame, how: str, victim: str) -> pd.DataFrame:
    rows = np.flatnonzero(frame["unique_id"].to_numpy() == victim)
    out = frame.copy()
    if how == "nan":
        out.loc[rows[10], "y"] = np.nan
    elif how == "inf":
        out.loc[rows[-3], "y"] = np.inf
    elif how == "duplicate":
        out = pd.concat([out, out.loc[[rows[4]]]], ignore_index=True)
    elif how == "gap":  # one timestamp missing: off the daily grid
        out = out.drop(index=rows[20])
    elif how == "other_freq":  # the victim is sampled every other day
        out = out.drop(index=rows[1::2])
    return out


HOW = ["nan", "inf", "duplicate", "gap", "other_freq"]
REASON = {"nan": "missing value", "inf": "infinite", "duplicate": "duplicate timestamps",
          "gap": "not regular", "other_freq": "mixed frequencies"}


@pytest.mark.parametrize("how", HOW)
def test_one_malformed_series_is_reported_and_skipped(how):
    good = _long()
    victim = IDS[5]
    bad = _corrupt(good, how, victim)
    models = {"naive": Naive(), "snaive": SeasonalNaive(season_length=7)}
    kwargs = dict(horizon=3, n_windows=2, metrics=("mae", "mase"), season_length=7,
                  progress=False)
    res = backtest(models, bad, **kwargs)

    errs = res.errors
    assert list(errs["model"]) == ["naive", "snaive"]
    assert (errs["unique_id"] == victim).all() and (errs["stage"] == "data").all()
    assert errs["window"].isna().all() and errs["error"].eq("DataError").all()
    assert all(REASON[how] in m and repr(victim) in m for m in errs["message"]), errs

    # The other 11 series: exactly what a backtest without the victim gives.
    ref = backtest(models, good[good["unique_id"] != victim], **kwargs)
    assert len(ref.errors) == 0
    pd.testing.assert_frame_equal(res.forecasts, ref.forecasts)
    pd.testing.assert_frame_equal(res.metrics, ref.metrics)
    assert set(res.forecasts["unique_id"]) == set(IDS) - {victim}
    assert res.counts["scored"].tolist() == [11 * 2, 11 * 2]

    with pytest.raises(DataError, match=repr(victim)):
        backtest(models, bad, errors="raise", **kwargs)


def test_every_series_malformed_still_raises():
    frame = _long()
    frame.loc[frame["ds"] == frame["ds"].iloc[7], "y"] = np.nan
    with pytest.raises(DataError, match="No valid series left"):
        backtest(Naive(), frame, horizon=3, n_windows=1, progress=False)
