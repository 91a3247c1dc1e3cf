"""save/load: exact round trips without pickle, atomic writes, clear rejections."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from tsssm.exceptions import DataError
from tsssm.forecasters.neural import NeuralForecaster, S4Forecaster, S5Forecaster

from .conftest import CLASSES, HORIZON, TINY

QUICK = {**TINY, "max_epochs": 1, "d_model": 8, "n_layers": 1}


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_round_trip_predicts_identically(cls, trained, seasonal, tmp_path):
    model = copy.deepcopy(trained(cls))
    model.update(seasonal.iloc[-72:-60])  # a recurrent-view context must survive too
    model.save(tmp_path / "m")
    loaded = cls.load(tmp_path / "m")
    assert type(loaded) is cls and loaded.get_params() == {**model.get_params(),
                                                           "trainer_kwargs": None}
    pd.testing.assert_frame_equal(loaded.predict(HORIZON), model.predict(HORIZON),
                                  check_exact=True)
    pd.testing.assert_frame_equal(loaded.predict_quantiles(HORIZON),
                                  model.predict_quantiles(HORIZON), check_exact=True)
    pd.testing.assert_frame_equal(loaded.predict(HORIZON + 5), model.predict(HORIZON + 5),
                                  check_exact=True)
    # Both go on identically after the same new data.
    new = seasonal.iloc[-60:-50]
    pd.testing.assert_frame_equal(loaded.update(new).predict(HORIZON),
                                  model.update(new).predict(HORIZON), rtol=1e-6)
    # The base class dispatches to the saved class.
    assert type(NeuralForecaster.load(tmp_path / "m")) is cls


def test_round_trip_of_series_with_exogenous_static_and_int_ids(seasonal, tmp_path):
    rng = np.random.default_rng(0)
    wide = seasonal.iloc[:24 * 8].copy()
    wide.columns = [10, 20, 30]
    X = pd.DataFrame({"temp": rng.normal(size=len(wide) + HORIZON)},
                     index=pd.date_range(wide.index[0], periods=len(wide) + HORIZON,
                                         freq="h"))
    static = pd.DataFrame({"size": [1.0, 2.0, 5.0]}, index=[10, 20, 30])
    model = S5Forecaster(**QUICK, static_features=static, id_embedding=2,
                         quantiles=(0.1, 0.5, 0.9)).fit(wide, X=X.iloc[:len(wide)])
    model.save(tmp_path)
    loaded = S5Forecaster.load(tmp_path)
    future = X.iloc[len(wide):]
    pd.testing.assert_frame_equal(loaded.predict(HORIZON, X=future),
                                  model.predict(HORIZON, X=future), check_exact=True)
    pd.testing.assert_frame_equal(loaded.static_features, static, check_dtype=False)
    assert list(loaded.predict(2, X=future).columns) == [10, 20, 30]


def test_series_with_period_index_round_trips(tmp_path):
    idx = pd.period_range("2000-01", periods=120, freq="M")
    t = np.arange(120)
    y = pd.Series(np.sin(2 * np.pi * t / 12) + 0.01 * t, index=idx, name="sales")
    model = S4Forecaster(**{**QUICK, "horizon": 6, "lookback": 24}).fit(y)
    model.save(tmp_path / "p")
    loaded = S4Forecaster.load(tmp_path / "p")
    pd.testing.assert_series_equal(loaded.predict(6), model.predict(6), check_exact=True)


def test_overwriting_keeps_one_weights_file(trained, tmp_path):
    model = trained(S4Forecaster)
    model.save(tmp_path)
    model.save(tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2 and files[0] == "model.json" and files[1].startswith("weights-")
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["weights"] == files[1] and meta["format"] == "tsssm.neural"


def test_load_rejects_what_is_not_a_tsssm_model(trained, tmp_path):
    with pytest.raises(DataError, match=r"no model\.json"):
        S4Forecaster.load(tmp_path)
    (tmp_path / "model.json").write_text('{"format": "something else"}')
    with pytest.raises(DataError, match="not a tsssm neural model"):
        S4Forecaster.load(tmp_path)
    (tmp_path / "model.json").write_text("not json at all")
    with pytest.raises(DataError, match="not a tsssm model file"):
        S4Forecaster.load(tmp_path)
    trained(S4Forecaster).save(tmp_path / "s4")
    with pytest.raises(DataError, match="holds a S4Forecaster, not a S5Forecaster"):
        S5Forecaster.load(tmp_path / "s4")
    weights = next((tmp_path / "s4").glob("weights-*.pt"))
    weights.write_bytes(b"garbage")
    with pytest.raises(DataError, match="Cannot read the weights"):
        S4Forecaster.load(tmp_path / "s4")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="is a file"):
        trained(S4Forecaster).save(tmp_path / "file")
