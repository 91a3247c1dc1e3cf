"""Training behaviour: parameters, divergence, silence, covariates, layouts, fine-tuning."""

from __future__ import annotations

import copy

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from tsssm.exceptions import DataError, ParameterError, TrainingDivergedError
from tsssm.forecasters import SeasonalNaive
from tsssm.forecasters.neural import (
    HybridForecaster,
    MambaForecaster,
    S4Forecaster,
    S5Forecaster,
)
from tsssm.metrics import mae

from .conftest import HORIZON, TINY

#: One quick epoch of a very small model, for tests about plumbing rather than accuracy.
QUICK = {**TINY, "max_epochs": 1, "d_model": 8, "n_layers": 1}


@pytest.fixture(scope="module")
def short(seasonal):
    return seasonal.iloc[:24 * 8]


# ------------------------------------------------------------------ parameters
@pytest.mark.parametrize(("name", "value"), [
    ("horizon", 0), ("lookback", 0), ("d_model", 0), ("n_layers", 0), ("d_state", 0),
    ("dropout", 1.5), ("loss", "rmse"), ("quantiles", (0.5, 1.2)), ("patch_len", 1000),
    ("patch_stride", 0), ("id_embedding", -1), ("max_epochs", 0), ("batch_size", 0),
    ("lr", 0.0), ("weight_decay", -1.0), ("early_stopping_patience", -1), ("val_size", 3),
    ("gradient_clip_val", 0.0), ("random_state", -1), ("precision", "8-bit"),
    ("backend", "cuda"), ("trainer_kwargs", {"max_epochs": 3}),
    ("trainer_kwargs", {"max_epoch": 3}), ("backbone_kwargs", {"d_model": 3}),
])
def test_bad_parameters_raise_parameter_error_naming_them(name, value, short):
    model = S4Forecaster(**{**QUICK, name: value})
    with pytest.raises(ParameterError, match=f"'{name}'"):
        model.fit(short)
    assert not hasattr(model, "network_")


def test_parameter_combinations_are_checked(short):
    with pytest.raises(ParameterError, match=r"'quantiles'.*span 0\.5"):
        S4Forecaster(**QUICK, loss="quantile", quantiles=(0.6, 0.9)).fit(short)
    with pytest.raises(ParameterError, match="'static_features' and 'id_embedding'"):
        S4Forecaster(**QUICK, channel_mixing=True, id_embedding=4).fit(short)
    with pytest.raises(ParameterError, match="'patch_stride'"):
        S4Forecaster(**QUICK, patch_stride=2).fit(short)
    with pytest.raises(ParameterError, match="'backbone_kwargs'"):
        S4Forecaster(**QUICK, backbone_kwargs={"no_such_arg": 1}).fit(short)
    with pytest.raises(TypeError, match="'trainer_kwargs'"):
        S4Forecaster(**QUICK, trainer_kwargs=[1]).fit(short)


def test_too_short_series_are_named(short):
    with pytest.raises(DataError, match=r"\['s0', 's1', 's2'\].*need at least 240"):
        S4Forecaster(**{**QUICK, "lookback": 192}).fit(short)


# ------------------------------------------------------------------ divergence
class InjectNaN(pl.Callback):
    """Put a NaN into the training batch from a given (0-based) epoch on."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.enabled = True

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if self.enabled and trainer.current_epoch >= self.epoch:
            batch["past_y"][0, 0, 0] = float("nan")


def test_nan_in_a_training_batch_raises_naming_the_epoch(short):
    model = S4Forecaster(**{**QUICK, "max_epochs": 3, "early_stopping_patience": None},
                         trainer_kwargs={"callbacks": [InjectNaN(epoch=1)]})
    with pytest.raises(TrainingDivergedError, match="epoch 2 of 3"):
        model.fit(short)
    assert not [k for k in vars(model) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        model.predict(3)


def test_exploding_loss_raises(short):
    model = S4Forecaster(**{**QUICK, "max_epochs": 2, "lr": 1e30, "gradient_clip_val": None})
    with pytest.raises(TrainingDivergedError, match="epoch 1 of 2"):
        model.fit(short)
    assert not hasattr(model, "network_")


def test_failed_fine_tune_restores_the_weights(short, seasonal):
    hook = InjectNaN(epoch=0)
    hook.enabled = False
    model = S4Forecaster(**QUICK, trainer_kwargs={"callbacks": [hook]}).fit(short)
    before = model.predict(HORIZON)
    weights = copy.deepcopy(model.network_.state_dict())
    hook.enabled = True
    with pytest.raises(TrainingDivergedError):
        model.fine_tune(seasonal.iloc[:24 * 9], epochs=1)
    for k, v in model.network_.state_dict().items():
        assert torch.equal(v, weights[k])
    pd.testing.assert_frame_equal(model.predict(HORIZON), before)


# ---------------------------------------------------------- silence, files, kwargs
def test_quiet_run_prints_nothing_and_leaves_no_files(short, tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    S5Forecaster(**QUICK).fit(short).predict(3)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert list(tmp_path.iterdir()) == []


def test_trainer_kwargs_reach_the_trainer(short):
    seen = {}

    class Spy(pl.Callback):
        def on_fit_start(self, trainer, pl_module):
            seen["limit"] = trainer.limit_train_batches
            seen["clip"] = trainer.gradient_clip_val

    S4Forecaster(**{**QUICK, "gradient_clip_val": 0.5},
                 trainer_kwargs={"callbacks": Spy(), "limit_train_batches": 2}).fit(short)
    assert seen == {"limit": 2, "clip": 0.5}


@pytest.mark.parametrize("skip", ["ridge", "learned"])
def test_early_stopping_and_best_weights(short, skip):
    model = S4Forecaster(**{**QUICK, "max_epochs": 30, "lr": 3e-2, "linear_skip": skip,
                            "early_stopping_patience": 1}).fit(short)
    h = model.history_
    # A ridge start is scored before training as epoch 0, first in val_loss.
    start = 1 if skip == "ridge" else 0
    assert h["epochs"] + start == len(h["val_loss"]) and h["epochs"] < 30  # stopped early
    assert h["val_loss"][h["best_epoch"] - 1 + start] == min(h["val_loss"])
    assert h["val_size"] == max(HORIZON, (24 * 8 - 48) // 5)


def test_ridge_start_is_kept_when_no_epoch_beats_it(short):
    """A learning rate that wrecks the network: validation keeps the untrained start."""
    model = S4Forecaster(**{**QUICK, "max_epochs": 2, "lr": 5.0,
                            "gradient_clip_val": None}).fit(short)
    h = model.history_
    assert h["best_epoch"] == 0 and h["val_loss"][0] == min(h["val_loss"])
    # the kept weights are the start: the point head is still zero
    assert float(model.network_.point_head.proj.weight.detach().abs().sum()) == 0.0


# --------------------------------------------------------------- covariates
def test_known_future_exogenous_variable_is_used(seasonal):
    rng = np.random.default_rng(5)
    idx = pd.date_range("2024-01-01", periods=24 * 12 + HORIZON, freq="h")
    x = pd.DataFrame({"price": rng.normal(size=len(idx))}, index=idx)
    y = pd.Series(3.0 * x["price"].to_numpy() + 0.1 * rng.normal(size=len(idx)), index=idx,
                  name="demand")
    train, test = y.iloc[:-HORIZON], y.iloc[-HORIZON:]
    model = S4Forecaster(**{**TINY, "lr": 2e-2, "max_epochs": 6}).fit(train, X=x.iloc[:-HORIZON])
    with pytest.raises(DataError, match="X="):
        model.predict(HORIZON)
    pred = model.predict(HORIZON, X=x.iloc[-HORIZON:])
    naive = SeasonalNaive(24).fit(train).predict(HORIZON)
    assert mae(test, pred) < 0.5 * mae(test, naive)


def test_static_features_and_id_embedding(short):
    static = pd.DataFrame({"size": [1.0, 2.0, 3.0], "indoor": [0, 1, 0]},
                          index=["s0", "s1", "s2"])
    model = MambaForecaster(**QUICK, static_features=static, id_embedding=3).fit(short)
    assert model.network_.static.shape == (3, 2)
    assert np.isfinite(model.predict(HORIZON).to_numpy()).all()
    with pytest.raises(DataError, match=r"no row for series \['s2'\]"):
        MambaForecaster(**QUICK, static_features=static.iloc[:2]).fit(short)


# ------------------------------------------------------------------ layouts
def test_channel_mixing_models_all_columns_jointly(short):
    model = S5Forecaster(**QUICK, channel_mixing=True).fit(short)
    assert model.network_.n_channels == 3
    pred = model.predict(HORIZON + 3)  # includes one recursive step
    assert list(pred.columns) == list(short.columns) and np.isfinite(pred.to_numpy()).all()
    q = model.predict_quantiles(HORIZON, quantiles=(0.1, 0.9))
    assert np.all(q["q0.1"] <= q["q0.9"])
    ref = copy.deepcopy(model)
    model.update(short.iloc[:0].reindex(pd.date_range(short.index[-1], periods=4,
                                                      freq="h")[1:]).fillna(1.0))
    ref.data_ = model.data_
    ref.context_ = ref._context(model.data_, recurrent=False)
    pd.testing.assert_frame_equal(model.predict(HORIZON), ref.predict(HORIZON),
                                  rtol=1e-4, atol=1e-4)
    ragged = short.copy()
    ragged.iloc[:5, 1] = np.nan  # s1 starts later
    with pytest.raises(DataError, match=r"\['s1'\] start or end"):
        S5Forecaster(**QUICK, channel_mixing=True).fit(ragged)


def test_patching_and_quantile_loss(short):
    model = HybridForecaster(**QUICK, patch_len=8, patch_stride=4, loss="quantile",
                             quantiles=(0.1, 0.5, 0.9)).fit(short)
    assert model.network_.point_head is None
    point = model.predict(HORIZON)
    median = model.predict_quantiles(HORIZON, quantiles=(0.5,))
    np.testing.assert_allclose(point.to_numpy().T.reshape(-1), median["q0.5"], rtol=1e-6)
    with pytest.raises(ParameterError, match=r"learned the quantiles 0\.1 to 0\.9"):
        model.predict_interval(HORIZON, coverage=0.95)


@pytest.mark.parametrize("loss", ["mae", "huber"])
def test_point_losses_train(loss, short):
    model = S4Forecaster(**{**QUICK, "loss": loss}).fit(short)
    assert np.isfinite(model.predict(HORIZON).to_numpy()).all()


# ----------------------------------------------------------------- fine-tune
def test_fine_tune_continues_from_the_weights_on_new_data(short, seasonal):
    model = S4Forecaster(**QUICK).fit(short)
    before = {k: v.clone() for k, v in model.network_.state_dict().items()}
    longer = seasonal.iloc[:24 * 10]
    model.fine_tune(longer, epochs=1)
    assert model.predict(2).index[0] == longer.index[-1] + pd.Timedelta(hours=1)
    changed = [k for k, v in model.network_.state_dict().items()
               if not torch.equal(v, before[k])]
    assert changed
    np.testing.assert_allclose(model.scale_, short.std(ddof=0).to_numpy())  # kept from fit
    with pytest.raises(ParameterError, match="'epochs'"):
        model.fine_tune(longer, epochs=0)


def test_backtest_runs_update_and_fine_tune_chains(seasonal):
    from tsssm.backtesting import backtest

    data = seasonal.iloc[:24 * 10, :2]
    models = {"update": S4Forecaster(**QUICK), "finetune": S4Forecaster(**QUICK)}
    for name, refit in (("update", False), ("finetune", 2)):
        res = backtest({name: models[name]}, data, horizon=HORIZON, n_windows=3,
                       step=HORIZON, refit=refit, season_length=24, errors="raise",
                       progress=False)
        assert len(res.forecasts) == 3 * 2 * HORIZON
        assert np.isfinite(res.forecasts["yhat"]).all()


def test_backend_is_used_for_training_and_predictions_run_anywhere(short, monkeypatch):
    # An explicit Triton backend cannot run on CPU tensors: the ops say why. (The test
    # suite turns on Triton's slow CPU interpreter for the kernel tests; not here.)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    with pytest.raises(RuntimeError, match="CUDA"):
        S5Forecaster(**QUICK, backend="triton", accelerator="cpu").fit(short)
    # After training the layers predict with "auto", so a model trained with an
    # explicit backend (Triton on a GPU) still predicts on the CPU.
    model = MambaForecaster(**QUICK, backend="torch").fit(short)
    backends = {m.backend for m in model.network_.modules() if hasattr(m, "backend")}
    assert backends == {"auto"}
