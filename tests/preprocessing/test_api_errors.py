"""scikit-learn conventions (clone, params, not-fitted) and the errors users see."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from tsssm.exceptions import DataError, DataTypeError, ParameterError, ParameterTypeError
from tsssm.forecasters.naive import Naive, SeasonalNaive
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
    TransformedForecaster,
)

from ._data import INDEXES, make, positive_panel

ALL = [
    FillGaps(freq="h"), Imputer("seasonal", limit=3, season_length=24), Scaler("robust"),
    LogTransform("log1p"), BoxCox(method="guerrero", season_length=12), Differencer((24, 1)),
    OutlierClipper("hampel", threshold=2.5, window=5), CalendarFeatures(fourier={24: 2}),
    LagFeatures(columns=["t"], lags=(1, 2), windows=(3,)),
]


@pytest.mark.parametrize("est", ALL, ids=lambda e: type(e).__name__)
def test_clone_get_params_and_not_fitted(est):
    c = clone(est)
    assert c.get_params() == est.get_params() and c is not est
    assert repr(c) == repr(est)  # the repr shows the parameters
    with pytest.raises(NotFittedError):
        c.transform(pd.Series([1.0], index=pd.RangeIndex(1)))


def test_parameters_are_checked_at_fit_not_in_init():
    y = pd.Series([1.0, 2.0, 3.0], index=pd.RangeIndex(3))
    bad = Scaler(method="zscore")  # stored unchanged
    assert bad.method == "zscore"
    with pytest.raises(ParameterError, match="'method' parameter of Scaler must be one of"):
        bad.fit(y)
    with pytest.raises(ParameterError, match=r"must be an int >= 1\. Got 0"):
        Differencer(lags=(1, 0)).fit(y)
    with pytest.raises(ParameterTypeError, match="'lags' parameter of Differencer"):
        Differencer(lags="1").fit(y)
    with pytest.raises(ParameterTypeError, match="'season_length' parameter of Imputer"):
        Imputer("seasonal").fit(y)
    with pytest.raises(ParameterError, match="odd int"):
        OutlierClipper("hampel", window=4).fit(y)
    with pytest.raises(ParameterError, match="low < high"):
        BoxCox(bounds=(2.0, -1.0)).fit(y)


def test_boxcox_and_log_name_the_series_with_non_positive_values():
    values = positive_panel(20, 3)
    values[7, 1] = -2.0
    y = make(values, INDEXES["bday"](20), "long", ids=("ok", "bad", "fine"))
    with pytest.raises(DataError, match=r"Series 'bad' has 1 non-positive value\(s\).*-2"):
        BoxCox().fit(y)
    with pytest.raises(DataError, match=r"Series 'bad' has 1 value\(s\) <= 0"):
        LogTransform().fit(y)
    # new data is checked at transform too
    t = LogTransform().fit(y[y.unique_id != "bad"])
    with pytest.raises(DataError, match="Series 'bad'"):
        t.transform(y)


def test_unseen_series_and_wrong_layout_are_refused():
    y = make(positive_panel(20), INDEXES["int"](20), "wide")
    sc = Scaler().fit(y)
    other = y.rename(columns={"b": "new"})
    with pytest.raises(DataError, match=r"Series \['new'\] was not seen when this Scaler"):
        sc.transform(other)
    with pytest.raises(DataTypeError, match="fitted on a wide DataFrame"):
        sc.transform(y["a"])
    with pytest.raises(DataTypeError, match="must be a pandas Series"):
        Scaler().fit(np.ones(3))
    strings = pd.Series([1.0, 2.0], index=["2024-01-01", "2024-01-02"])
    with pytest.raises(DataTypeError, match="DatetimeIndex, PeriodIndex or integer index"):
        Scaler().fit(strings)


def test_irregular_data_is_refused_where_steps_are_counted():
    idx = pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-05",
                          "2024-01-06", "2024-01-07"])
    y = pd.Series(np.arange(6.0), index=idx, name="s")
    with pytest.raises(DataError, match=r"Series 's' is not regular.*FillGaps"):
        Differencer(1).fit(y)


# --------------------------------------------------------------------- pipeline
def test_pipeline_params_nested_set_and_clone():
    pipe = TransformedForecaster([Scaler(), ("diff", Differencer(24)), Scaler("minmax")],
                                 SeasonalNaive(24))
    params = pipe.get_params()
    assert params["scaler__method"] == "standard"
    assert params["diff__lags"] == 24
    assert params["scaler_2__method"] == "minmax"
    assert params["forecaster__season_length"] == 24
    pipe.set_params(diff__lags=(24, 1), forecaster__season_length=12, scaler_2=Scaler("meanabs"))
    assert pipe.transformers[1][1].lags == (24, 1)
    assert pipe.forecaster.season_length == 12
    assert pipe.transformers[2].method == "meanabs"
    c = clone(pipe)
    assert c.transformers[1][1] is not pipe.transformers[1][1]
    assert c.get_params(deep=False).keys() == {"transformers", "forecaster"}
    with pytest.raises(ParameterError, match="Invalid parameter 'nope'"):
        pipe.set_params(nope=1)


def test_pipeline_fit_leaves_its_parameters_unfitted_and_checks_steps():
    y = make(positive_panel(30), INDEXES["hourly_tz"](30), "series")
    scaler = Scaler()
    pipe = TransformedForecaster([scaler], Naive()).fit(y)
    assert not hasattr(scaler, "states_")  # fit works on clones
    assert hasattr(pipe.transformers_[0][1], "states_")
    with pytest.raises(NotFittedError):
        TransformedForecaster([scaler], Naive()).predict(3)
    with pytest.raises(ParameterTypeError, match="Step 'naive' of TransformedForecaster"):
        TransformedForecaster([Naive()], Naive()).fit(y)
    with pytest.raises(ParameterError, match="must be unique"):
        TransformedForecaster([("a", Scaler()), ("a", Scaler())], Naive()).fit(y)
    with pytest.raises(ParameterError, match="'method' parameter of Scaler"):
        TransformedForecaster([Scaler("bad")], Naive()).fit(y)


def test_pipeline_names_series_left_without_data():
    idx = INDEXES["int"](12)
    y = pd.concat([make(positive_panel(12, 1), idx, "long", ids=("long_enough",)),
                   make(positive_panel(2, 1), idx[:2], "long", ids=("short",))],
                  ignore_index=True)
    pipe = TransformedForecaster([LagFeatures(lags=3)], Naive())
    with pytest.raises(DataError, match=r"Series \['short'\] have no time point"):
        pipe.fit(y.assign(temp=1.0))
