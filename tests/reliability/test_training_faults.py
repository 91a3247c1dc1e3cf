"""Faults during training leave no half-fitted estimator, and no finished epoch is lost.

Three faults are injected from a Lightning callback passed through ``trainer_kwargs``,
in the second epoch: a NaN in a batch, an exploding loss (targets scaled past float32)
and a ``KeyboardInterrupt`` (Ctrl+C). Each hits three moments: a first ``fit``, a refit
of a fitted estimator and a ``fine_tune``. Afterwards a fit leaves the estimator
unfitted (it never keeps the new, half-trained weights) and a fine-tune restores the
weights and forecasts it had before, bit for bit. Checkpoints written by a
``ModelCheckpoint`` callback survive the interrupt and hold the last finished epoch.
"""

from __future__ import annotations

import copy
import signal

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from sklearn.exceptions import NotFittedError

from tsssm import backtest
from tsssm.exceptions import TrainingDivergedError
from tsssm.forecasters.neural import MambaForecaster, S4Forecaster

H = 6
TINY = dict(horizon=H, lookback=24, d_model=8, n_layers=1, d_state=4, dropout=0.0,
            max_epochs=3, batch_size=16, lr=1e-2, random_state=0, verbose=False,
            val_size=0, early_stopping_patience=None)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    # two test workers share two cores: torch's own threads would only compete
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def y() -> pd.DataFrame:
    idx = pd.date_range("2024-01-01", periods=24 * 5, freq="h")
    t = np.arange(len(idx))
    rng = np.random.default_rng(0)
    return pd.DataFrame({f"s{k}": 5 * (k + 1) + np.sin(2 * np.pi * t / 24 + k)
                         + rng.normal(0, 0.1, len(t)) for k in range(2)}, index=idx)


class Fault(pl.Callback):
    """Inject ``kind`` at the start of every training batch of epoch >= ``epoch``."""

    def __init__(self, kind: str, epoch: int = 1) -> None:
        self.kind, self.epoch, self.enabled = kind, epoch, False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if not self.enabled or trainer.current_epoch < self.epoch:
            return
        if self.kind == "nan":
            batch["past_y"][0, -1, 0] = float("nan")
        elif self.kind == "explode":
            batch["future_y"].mul_(1e30)  # squared errors overflow float32: inf loss
        else:
            raise KeyboardInterrupt


EXPECTED = {"nan": TrainingDivergedError, "explode": TrainingDivergedError,
            "interrupt": KeyboardInterrupt}


def _fitted_attrs(model) -> list[str]:
    return [k for k in vars(model) if k.endswith("_") and not k.startswith("_")]


@pytest.mark.parametrize("kind", ["nan", "explode", "interrupt"])
@pytest.mark.parametrize("moment", ["fit", "refit", "fine_tune"])
def test_fault_leaves_unfitted_or_previous_state(y, kind, moment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be left behind in the working directory
    fault = Fault(kind)
    model = S4Forecaster(**TINY, trainer_kwargs={"callbacks": [fault]})
    before = weights = None
    if moment != "fit":
        model.fit(y)  # the fault is off: a clean, full fit
        before = model.predict(H)
        weights = copy.deepcopy(model.network_.state_dict())
    sigint = signal.getsignal(signal.SIGINT)
    fault.enabled = True
    with pytest.raises(EXPECTED[kind]):
        if moment == "fine_tune":
            model.fine_tune(y, epochs=3)
        else:
            model.fit(y)
    # Lightning answers Ctrl+C with sys.exit(1); the estimator hands back the interrupt
    # and Python's Ctrl+C handler is in place again.
    assert signal.getsignal(signal.SIGINT) is sigint
    assert list(tmp_path.iterdir()) == []
    if moment == "fine_tune":
        for k, v in model.network_.state_dict().items():
            assert torch.equal(v, weights[k]), k
        pd.testing.assert_frame_equal(model.predict(H), before, check_exact=True)
    else:
        assert _fitted_attrs(model) == []
        with pytest.raises(NotFittedError):
            model.predict(H)
    # the same estimator recovers: with the fault off, fit gives the clean model again
    fault.enabled = False
    again = model.fit(y).predict(H)
    if before is not None:
        pd.testing.assert_frame_equal(again, before, check_exact=True)


def test_backtest_reports_a_diverged_window_and_stops_on_ctrl_c(y):
    # backtest clones the estimator (deep copies of the callbacks), so the switch lives
    # in this closure, shared by every copy: the second fit, window 1, gets the fault.
    state = {"fits": 0, "kind": "nan"}

    class FaultInSecondFit(pl.Callback):
        def on_fit_start(self, trainer, pl_module):
            state["fits"] += 1

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            if state["fits"] == 2:
                if state["kind"] == "interrupt":
                    raise KeyboardInterrupt
                batch["past_y"][0, -1, 0] = float("nan")

    model = S4Forecaster(**{**TINY, "max_epochs": 1},
                         trainer_kwargs={"callbacks": [FaultInSecondFit()]})
    res = backtest({"s4": model}, y, horizon=H, n_windows=3, metrics=("mae",),
                   progress=False)
    # window 1 diverged and is reported; windows 0 and 2 are scored for both series
    assert res.errors[["window", "stage", "error"]].values.tolist() == [
        [1, "fit", "TrainingDivergedError"]]
    assert sorted(res.per_window["window"].unique()) == [0, 2]
    assert res.counts.loc["s4"].tolist() == [4, 2]

    # Ctrl+C is not a model failure: it stops the backtest instead of being reported
    state.update(fits=0, kind="interrupt")
    with pytest.raises(KeyboardInterrupt):
        backtest({"s4": model}, y, horizon=H, n_windows=3, metrics=("mae",),
                 progress=False)
    assert state["fits"] == 2  # nothing ran after the interrupt


def test_checkpoints_survive_an_interrupt_and_hold_the_finished_epoch(y, tmp_path):
    """ModelCheckpoint through trainer_kwargs: what finished before Ctrl+C is on disk."""
    fault = Fault("interrupt", epoch=2)
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_last=True, save_top_k=-1,
                           every_n_epochs=1, filename="epoch{epoch}",
                           auto_insert_metric_name=False)
    model = MambaForecaster(**TINY, trainer_kwargs={"callbacks": [ckpt, fault]})
    fault.enabled = True
    with pytest.raises(KeyboardInterrupt):
        model.fit(y)
    assert _fitted_attrs(model) == []
    names = sorted(p.name for p in tmp_path.glob("*.ckpt"))
    assert names == ["epoch0.ckpt", "epoch1.ckpt", "last.ckpt"]
    # plain tensors and numbers only: the checkpoint loads without unpickling code
    last = torch.load(tmp_path / "last.ckpt", weights_only=True)
    assert last["epoch"] == 1 and last["global_step"] > 0

    # An uninterrupted run with the same seed writes the same epoch-1 weights, and its
    # last checkpoint holds the weights the estimator ends with (no validation: the
    # last epoch's weights are kept).
    clean_dir = tmp_path / "clean"
    clean_ckpt = ModelCheckpoint(dirpath=clean_dir, save_last=True, save_top_k=-1,
                                 every_n_epochs=1, filename="epoch{epoch}",
                                 auto_insert_metric_name=False)
    clean = MambaForecaster(**TINY, trainer_kwargs={"callbacks": [clean_ckpt]}).fit(y)
    pairs = [(torch.load(tmp_path / "epoch1.ckpt", weights_only=True),
              torch.load(clean_dir / "epoch1.ckpt", weights_only=True)["state_dict"]),
             (torch.load(clean_dir / "last.ckpt", weights_only=True),
              {f"network.{k}": v for k, v in clean.network_.state_dict().items()})]
    for ckpt_blob, want in pairs:
        got = ckpt_blob["state_dict"]
        assert set(got) == set(want)
        for k, v in want.items():
            assert torch.equal(got[k], v), k


class EpochCounter(pl.Callback):
    def __init__(self) -> None:
        self.epochs: list[int] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.epochs.append(trainer.current_epoch)


def test_an_interrupted_fit_resumes_from_its_checkpoint(y, tmp_path):
    """fit(ckpt_path=...) continues after the last finished epoch, optimiser state and all."""
    params = {**TINY, "max_epochs": 4}
    fault = Fault("interrupt", epoch=2)
    ckpt = ModelCheckpoint(dirpath=tmp_path, save_last=True)
    model = MambaForecaster(**params, trainer_kwargs={"callbacks": [ckpt, fault]})
    fault.enabled = True
    with pytest.raises(KeyboardInterrupt):
        model.fit(y)
    assert torch.load(tmp_path / "last.ckpt", weights_only=True)["epoch"] == 1

    counter = EpochCounter()
    resumed = MambaForecaster(**params, trainer_kwargs={"callbacks": [counter]})
    resumed.fit(y, ckpt_path=str(tmp_path / "last.ckpt"))
    assert counter.epochs == [2, 3]  # only the epochs the interruption cut off
    assert resumed.history_["epochs"] == 4
    assert np.isfinite(resumed.predict(H).to_numpy()).all()


def test_resume_rejects_missing_or_unsafe_checkpoints(y, tmp_path):
    import pickle

    from tsssm.exceptions import DataError

    with pytest.raises(DataError, match="not an existing checkpoint"):
        MambaForecaster(**TINY).fit(y, ckpt_path=str(tmp_path / "nope.ckpt"))
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(pickle.dumps({"state_dict": Payload()}))
    with pytest.raises(DataError, match="was not loaded"):
        MambaForecaster(**TINY).fit(y, ckpt_path=str(bad))
    assert not marker.exists()
