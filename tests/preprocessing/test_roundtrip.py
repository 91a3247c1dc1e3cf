"""Every transformer round-trips on every layout and index kind, and never mutates input.

``inverse_transform(transform(y))`` must give back ``y`` (values, index, names, row
order) up to float rounding, on a Series, a wide and a long frame, on tz-aware hourly
data across a daylight-saving switch, business days, month ends, periods and integer
steps. Each case also checks that the transform did change the data, so an identity
transform could not pass.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tsssm.preprocessing import (
    BoxCox,
    CalendarFeatures,
    Differencer,
    FillGaps,
    Imputer,
    LagFeatures,
    LogTransform,
    OutlierClipper,
    Scaler,
)

from ._data import INDEXES, LAYOUTS, assert_same, make, positive_panel, snapshot

N = 40


def _plain(layout, kind):
    return make(positive_panel(N), INDEXES[kind](N), layout)


def _with_nans(layout, kind):
    values = positive_panel(N)
    values[[5, 6, 20], 0] = np.nan
    values[[11, 30, 31, 32], 1] = np.nan
    return make(values, INDEXES[kind](N), layout)


def _with_spikes(layout, kind):
    values = positive_panel(N)
    values[[9, 25], 0] *= 6.0
    values[17, 1] *= -3.0
    return make(values, INDEXES[kind](N), layout)


def _with_gaps(layout, kind):
    """Time points removed: shared ones for Series/wide, different per series for long."""
    full = make(positive_panel(N), INDEXES[kind](N), layout)
    if layout == "long":
        drop = np.r_[4, 5, 17, N + 9, N + 10, N + 11, N + 30]
        return full.drop(index=drop).reset_index(drop=True)
    return full.drop(index=full.index[[4, 5, 17, 30]])


# name -> (transformer factory, data builder)
TARGET_CASES = {
    "scaler-standard": (lambda: Scaler("standard"), _plain),
    "scaler-robust": (lambda: Scaler("robust"), _plain),
    "scaler-minmax": (lambda: Scaler("minmax"), _plain),
    "scaler-meanabs": (lambda: Scaler("meanabs"), _plain),
    "scaler-with-nan": (lambda: Scaler(), _with_nans),
    "log": (lambda: LogTransform(), _plain),
    "log1p": (lambda: LogTransform("log1p"), _plain),
    "boxcox-mle": (lambda: BoxCox(), _plain),
    "boxcox-guerrero": (lambda: BoxCox(method="guerrero", season_length=7), _plain),
    "diff-1": (lambda: Differencer(1), _plain),
    "diff-7-1": (lambda: Differencer((7, 1)), _plain),
    "diff-with-nan": (lambda: Differencer(2), _with_nans),
    "impute-ffill": (lambda: Imputer("ffill"), _with_nans),
    "impute-bfill-limit": (lambda: Imputer("bfill", limit=2), _with_nans),
    "impute-linear": (lambda: Imputer("linear"), _with_nans),
    "impute-time": (lambda: Imputer("time"), _with_nans),
    "impute-seasonal": (lambda: Imputer("seasonal", season_length=7), _with_nans),
    "clip-iqr": (lambda: OutlierClipper("iqr"), _with_spikes),
    "clip-hampel": (lambda: OutlierClipper("hampel"), _with_spikes),
    "fillgaps": (lambda: FillGaps(), _with_gaps),
}


@pytest.mark.parametrize("kind", list(INDEXES))
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", list(TARGET_CASES))
def test_target_transformer_round_trips(case, layout, kind):
    factory, build = TARGET_CASES[case]
    y = build(layout, kind)
    before = snapshot(y)
    t = factory()
    z = t.fit_transform(y)
    assert_same(y, before, rtol=0, atol=0)  # fit/transform left the input alone
    assert type(z) is type(y)
    changed = len(z) != len(y) or not np.allclose(
        np.asarray(z.select_dtypes("number") if isinstance(z, pd.DataFrame) else z, float),
        np.asarray(y.select_dtypes("number") if isinstance(y, pd.DataFrame) else y, float),
        equal_nan=True,
    )
    assert changed, "the transform did nothing, so the round trip proves nothing"
    z_before = snapshot(z)
    back = t.inverse_transform(z)
    assert_same(z, z_before, rtol=0, atol=0)
    assert_same(back, y)


def test_round_trip_keeps_unsorted_long_row_order():
    y = make(positive_panel(N), INDEXES["bday"](N), "long")
    shuffled = y.sample(frac=1.0, random_state=0)
    for t in (Scaler(), Differencer((5, 1)), BoxCox(), Imputer("linear")):
        z = t.fit_transform(shuffled)
        assert (z.index == shuffled.index).all()
        assert_same(t.inverse_transform(z), shuffled)


def _covariates(layout, kind):
    index = INDEXES[kind](N)
    rng = np.random.default_rng(1)
    if layout == "series":
        return pd.Series(rng.normal(size=N), index=index, name="temp")
    if layout == "wide":
        return pd.DataFrame({"temp": rng.normal(size=N), "wind": rng.normal(size=N)},
                            index=index)
    frame = make(positive_panel(N), index, "long")
    return frame.rename(columns={"y": "temp"}).assign(wind=rng.normal(size=len(frame)))


FEATURE_CASES = {
    "calendar": lambda kind: CalendarFeatures(
        features=None if kind == "int" else ["hour", "dayofweek", "month"],
        holidays=None if kind == "int" else ["2024-01-01", "2000-03-31"],
        fourier={7: 2},
    ),
    "lags": lambda kind: LagFeatures(lags=(1, 3), windows=(4,), stats=("mean", "max")),
}


@pytest.mark.parametrize("kind", list(INDEXES))
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("case", list(FEATURE_CASES))
def test_feature_transformer_round_trips(case, layout, kind):
    X = _covariates(layout, kind)
    before = snapshot(X)
    t = FEATURE_CASES[case](kind)
    Z = t.fit_transform(X)
    assert_same(X, before, rtol=0, atol=0)
    added = t.get_feature_names_out()
    assert added and all(c in Z.columns for c in added)
    back = t.inverse_transform(Z)
    assert_same(back, X, rtol=0, atol=0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=12, max_size=40),
    lags=st.lists(st.integers(1, 4), min_size=1, max_size=2),
    method=st.sampled_from(["standard", "robust", "minmax", "meanabs"]),
)
def test_scaler_then_differencer_round_trip_property(values, lags, method):
    y = pd.Series(values, index=pd.date_range("2024-01-01", periods=len(values), freq="D"))
    scaler, diff = Scaler(method), Differencer(tuple(lags))
    z = diff.fit_transform(scaler.fit_transform(y))
    back = scaler.inverse_transform(diff.inverse_transform(z))
    scale = max(1.0, float(np.max(np.abs(values))))
    np.testing.assert_allclose(back.to_numpy(), y.to_numpy(), rtol=0, atol=1e-9 * scale)
