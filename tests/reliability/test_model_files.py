"""Loading a saved model never runs code from the files, and rejects what is not a model.

A saved neural model is a directory of JSON and a ``torch.load(weights_only=True)``
weights file. These tests plant pickle payloads whose unpickling would create a marker
file (the control test shows that plain ``pickle`` does run them) and damaged or
crafted ``model.json`` files, and check that ``load`` raises a clear
:class:`~tsssm.exceptions.DataError` and that the marker never appears.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tsssm.exceptions import DataError
from tsssm.forecasters.neural import S4Forecaster

TINY = dict(horizon=6, lookback=12, d_model=8, n_layers=1, d_state=4, dropout=0.0,
            max_epochs=1, batch_size=32, random_state=0, verbose=False, val_size=0)


class Payload:
    """Unpickling this object creates the file ``marker`` (a stand-in for any code)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    idx = pd.date_range("2024-01-01", periods=72, freq="h")
    y = pd.Series(10 + np.sin(np.arange(72) * 2 * np.pi / 24), index=idx, name="load")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model = S4Forecaster(**TINY).fit(y)
    finally:
        torch.set_num_threads(before)
    path = tmp_path_factory.mktemp("model") / "s4"
    model.save(path)
    return path


@pytest.fixture
def copy(saved, tmp_path) -> Path:
    """A fresh copy of the saved model to damage."""
    return Path(shutil.copytree(saved, tmp_path / "copy"))


def _weights(path: Path) -> Path:
    return path / json.loads((path / "model.json").read_text())["weights"]


def test_control_plain_pickle_runs_the_payload(tmp_path):
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(Payload(marker)))  # unsafe on purpose: the control
    assert marker.exists()


def test_saved_model_loads_and_predicts_identically(saved):
    a = S4Forecaster.load(saved)
    b = S4Forecaster.load(saved)
    pd.testing.assert_series_equal(a.predict(6), b.predict(6))


@pytest.mark.parametrize("how", ["raw_pickle", "torch_save", "nested_in_state_dict"])
def test_pickle_payload_in_the_weights_is_rejected_without_running(copy, tmp_path, how):
    marker = tmp_path / "pwned"
    target = _weights(copy)
    if how == "raw_pickle":
        target.write_bytes(pickle.dumps(Payload(marker), protocol=2))
    elif how == "torch_save":
        torch.save({"network": Payload(marker), "context": {}}, target)
    else:  # a real state dict with one entry replaced by the payload
        blob = torch.load(target, weights_only=True)
        first = next(iter(blob["network"]))
        blob["network"][first] = Payload(marker)
        torch.save(blob, target)
    with pytest.raises(DataError, match="Cannot read the weights"):
        S4Forecaster.load(copy)
    assert not marker.exists()


@pytest.mark.parametrize("damage", [
    "empty_json", "json_list", "no_weights_key", "no_params", "unknown_param",
    "bad_param_value", "no_fitted", "weights_outside_dir", "weights_absolute",
    "truncated_weights", "wrong_tensor_shape", "missing_context",
])
def test_damaged_or_crafted_model_files_raise_data_error(copy, tmp_path, damage):
    meta_file = copy / "model.json"
    meta = json.loads(meta_file.read_text())
    weights = _weights(copy)
    outside = tmp_path / "elsewhere.pt"
    shutil.copy(weights, outside)
    if damage == "empty_json":
        meta_file.write_text("")
    elif damage == "json_list":
        meta_file.write_text("[1, 2]")
    elif damage == "no_weights_key":
        del meta["weights"]
    elif damage == "no_params":
        del meta["params"]
    elif damage == "unknown_param":
        meta["params"]["exec"] = "import os"
    elif damage == "bad_param_value":
        meta["params"]["d_model"] = -3
    elif damage == "no_fitted":
        del meta["fitted"]
    elif damage == "weights_outside_dir":  # a path out of the model directory
        meta["weights"] = "../elsewhere.pt"
    elif damage == "weights_absolute":
        meta["weights"] = str(outside)
    elif damage == "truncated_weights":
        weights.write_bytes(weights.read_bytes()[:200])
    elif damage == "wrong_tensor_shape":
        blob = torch.load(weights, weights_only=True)
        first = next(iter(blob["network"]))
        blob["network"][first] = torch.zeros(1, 2, 3, 4)
        torch.save(blob, weights)
    elif damage == "missing_context":
        blob = torch.load(weights, weights_only=True)
        del blob["context"]
        torch.save(blob, weights)
    if damage not in ("empty_json", "json_list"):
        meta_file.write_text(json.dumps(meta))
    with pytest.raises(DataError) as info:
        S4Forecaster.load(copy)
    message = str(info.value)
    assert "model" in message or "weights" in message, message


def test_a_directory_of_other_files_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"no model\.json"):
        S4Forecaster.load(tmp_path)
    with pytest.raises(DataError, match=r"no model\.json"):
        S4Forecaster.load(tmp_path / "notes.txt")
    with pytest.raises(DataError, match=r"no model\.json"):
        S4Forecaster.load(tmp_path / "does-not-exist")
