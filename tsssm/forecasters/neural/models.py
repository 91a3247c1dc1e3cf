"""The four neural forecasters: one estimator, four sequence backbones.

Each class only names its backbone (see :mod:`tsssm.nn`); the estimator, the network
around the backbone and the training are shared (:mod:`tsssm.forecasters.neural.base`).
The class docstrings are built from one template so that the shared parameters are
described once and every class still documents itself fully.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tsssm.forecasters.neural.base import NeuralForecaster

__all__ = ["HybridForecaster", "MambaForecaster", "S4Forecaster", "S5Forecaster"]

_DOC = """{summary}

{backbone}

A global model: every series (column of a wide frame, ``unique_id`` of a long frame)
is a sequence read by the same network. Each forecast reads the last ``lookback``
observations, normalised by their own mean and scale (RevIN), together with
calendar features generated from the frequency (hour of day, day of week, month...
as sin/cos pairs), the exogenous columns of ``X`` and, optionally, static features or
a learned embedding of the series; all ``horizon`` steps are predicted at once (direct
multi-horizon). A quantile head whose outputs cannot cross gives the intervals.

Parameters
----------
horizon : int, default=24
    Steps predicted at once. ``predict(h)`` with ``h <= horizon`` returns the first
    ``h``; with ``h > horizon`` it feeds its own point forecasts back as observations
    (recursive forecasting; intervals beyond ``horizon`` then ignore the uncertainty
    of the fed-back values and are too narrow).
lookback : int, default=168
    Past observations each forecast reads (a week of hourly data). Every series needs
    at least ``lookback + horizon + val_size`` observations.
d_model : int, default=64
    Width of the backbone.
n_layers : int, default=2
    Number of backbone layers.
d_state : int, default={d_state}
    State size of each state-space layer{d_state_note}.
dropout : float, default=0.1
    Dropout inside the backbone during training.
loss : {{"mse", "mae", "huber", "quantile"}}, default="mse"
    Training loss of the point forecast. With a point loss the quantile head is
    trained beside the point head (the pinball loss is added to the point loss);
    with ``"quantile"`` only the quantile head is trained and the point forecast is
    its median.
quantiles : sequence of float or None, default=None
    Quantile levels the quantile head learns; None means 0.01, 0.025, 0.05, 0.1, 0.2,
    0.25, ..., 0.75, 0.8, 0.9, 0.95, 0.975, 0.99. ``predict_quantiles`` and
    ``predict_interval`` interpolate linearly between them and refuse levels outside
    their range.
patch_len : int or None, default=None
    Group the lookback window into patches of this many steps, so the backbone reads
    ``(lookback - patch_len) // patch_stride + 1`` tokens instead of ``lookback``
    (cheaper for long lookbacks). None reads every step.
patch_stride : int or None, default=None
    Step between patches (at most ``patch_len``); None means ``patch_len``.
channel_mixing : bool, default=False
    False: each series is its own one-channel sequence and the weights are shared.
    True: all series are channels of one sequence, so the network can use one series
    to forecast another; the series must cover the same time points.
calendar : bool, default=True
    Generate calendar covariates from the time index (none for an integer index).
static_features : pandas.DataFrame or None, default=None
    Features that describe each series, indexed by series id (one numeric column per
    feature; standardised inside). Not with ``channel_mixing=True``.
id_embedding : int, default=0
    Width of a learned embedding of each series' id, given to the network with its
    input; 0 disables it. Not with ``channel_mixing=True``.
linear_skip : {{"ridge", "learned"}}, bool or None, default="ridge"
    Add a linear map from the (instance-normalised) window to the horizon, shared by
    all series: a strong linear forecast that the backbone corrects. ``"ridge"`` (True
    means the same): solved in closed form by ridge least squares on the training
    windows before training (the ridge strength chosen on the validation windows), then
    kept fixed while the backbone and heads learn the residual; the point head starts
    at zero and the quantile head at the fit's residual quantiles, so the untrained
    network is that linear forecaster, and it is kept when no epoch beats it on
    validation (see ``history_``). ``"learned"``: starts at
    zero and is trained by the optimiser with everything else. False or None: no skip.
max_epochs : int, default=20
    Upper limit of training epochs (one epoch visits every training window once).
batch_size : int, default=64
    Windows per training step.
lr : float, default=1e-3
    Peak learning rate of AdamW: reached by a linear warm-up over the first 10% of the
    planned steps, then decayed along a cosine to 1% of it.
weight_decay : float, default=1e-4
    AdamW weight decay (state-space parameters, biases and norms are exempt).
early_stopping_patience : int or None, default=5
    Stop after this many epochs without a lower validation loss; None trains all
    ``max_epochs``. The weights of the best validation epoch are restored either way.
val_size : int or None, default=None
    Final steps of every series held out for validation (the windows whose horizon
    lies inside them, ``val_size - horizon + 1`` per series). None takes about 20% of
    the windows of the shortest series, at least ``horizon`` steps; 0 trains on all
    data without validation (no early stopping, the last epoch's weights are kept).
gradient_clip_val : float or None, default=1.0
    Clip the gradient norm to this value; None disables clipping.
random_state : int or None, default=None
    Seed of the weight initialisation, the dropout and the order of the training
    windows, so that CPU runs repeat exactly; the global torch random state is left
    as it was. None draws from the global generator.
accelerator : str or lightning Accelerator, default="auto"
    Passed to ``lightning.pytorch.Trainer`` ("cpu", "gpu", "auto", ...). Predictions
    always run on the CPU.
devices : int, list or str, default=1
    Passed to the Trainer. With several devices also pass
    ``trainer_kwargs={{"strategy": "ddp"}}`` and run from a script.
precision : str or int, default="32-true"
    Passed to the Trainer, for example ``"bf16-mixed"`` on a recent GPU.
backend : {{"auto", "torch", "triton"}}, default="auto"
    Scan implementation of the backbone: Triton kernels on CUDA tensors, PyTorch
    otherwise{backend_note}.
backbone_kwargs : dict or None, default=None
    Further arguments of the backbone ({backbone_args}).
trainer_kwargs : dict or None, default=None
    Further arguments of ``lightning.pytorch.Trainer`` (loggers, callbacks,
    ``strategy``, ``limit_train_batches`` ...). By default no logger runs and nothing
    is written to the working directory.
verbose : bool, default=True
    Show Lightning's progress bar and model summary; False silences Lightning.

Attributes
----------
network_ : torch.nn.Module
    The trained network (on the CPU, in evaluation mode).
history_ : dict
    ``epochs`` run, ``best_epoch`` (1-based) whose weights were kept, ``val_loss``
    per epoch and the ``val_size`` used. With ``linear_skip="ridge"`` and validation
    data, the untrained network (the ridge forecaster) is scored first as epoch 0:
    ``val_loss[0]`` is its score, and ``best_epoch == 0`` means no trained epoch beat
    it; ``linear_skip`` holds the chosen ridge and its validation errors.
scale_ : numpy.ndarray of shape (n_series,)
    Scale each series was divided by (its standard deviation at fit).
data_ : tsssm.data.Panel
    The data seen so far (fit, then update).
n_series_ : int
    Number of series.

Notes
-----
Training: windows of every series (stride 1), shuffled; the last ``val_size`` steps of
each series give the validation windows; early stopping on the validation loss and
the best epoch's weights restored from an in-memory copy; gradient clipping; a NaN or
infinite loss raises :class:`~tsssm.exceptions.TrainingDivergedError` naming the epoch
and leaves the estimator unfitted.

``update(y_new)`` does not retrain. It re-encodes the new last ``lookback``
observations with the backbone's recurrent view (``step``, one token at a time, no
gradients) and keeps the result, so ``predict`` after ``update`` equals predicting from
the extended series with the same weights. Each update costs one recurrent pass over
the window (``lookback`` steps, or the number of patches): because RevIN normalises by
statistics of the whole window, which change with every new observation, an exact
forecast cannot reuse the previous state in O(1).

``fine_tune(y, X, epochs)`` continues training from the current weights (used by
:func:`tsssm.backtest` with ``refit=k``). ``save(path)`` / ``load(path)`` write and read
a directory without pickle.

See Also
--------
{see_also}

Examples
--------
>>> import numpy as np, pandas as pd
>>> from tsssm.forecasters.neural import {name}
>>> t = np.arange(24 * 10)
>>> y = pd.Series(np.sin(2 * np.pi * t / 24) + 0.1 * np.cos(t / 50.0),
...               index=pd.date_range("2024-01-01", periods=len(t), freq="h"))
>>> model = {name}(horizon=24, lookback=48, d_model=16, n_layers=1, d_state=8,
...                max_epochs=1, random_state=0, verbose=False)
>>> forecast = model.fit(y).predict(24)
>>> forecast.shape
(24,)
"""

_ALL = ("S4Forecaster", "S5Forecaster", "MambaForecaster", "HybridForecaster")


def _doc(name: str, summary: str, backbone: str, d_state: int = 16, d_state_note: str = "",
         backend_note: str = "", backbone_args: str = "") -> str:
    see = "\n".join(f"{other} : the same forecaster with another backbone."
                    for other in _ALL if other != name)
    return _DOC.format(summary=summary, backbone=backbone, d_state=d_state,
                       d_state_note=d_state_note, backend_note=backend_note,
                       backbone_args=backbone_args, see_also=see, name=name)


class S4Forecaster(NeuralForecaster):
    _backbone = "s4"


class S5Forecaster(NeuralForecaster):
    _backbone = "s5"


class MambaForecaster(NeuralForecaster):
    _backbone = "mamba"


class HybridForecaster(NeuralForecaster):
    # Attention on every second layer: with the default two layers, one Mamba layer
    # then one attention layer (the backbone's own default, one in four, would give
    # none at this depth).
    _backbone_defaults: ClassVar[dict[str, Any]] = {"attn_every": 2}
    _backbone = "hybrid"


S4Forecaster.__doc__ = _doc(
    "S4Forecaster",
    "Forecaster built on S4 (diagonal S4D) state-space layers.",
    "The backbone (:class:`tsssm.nn.S4Backbone`) is a stack of S4D layers: linear "
    "time-invariant state-space systems with diagonal complex state matrices, trained as "
    "long FFT convolutions and stepped as recurrences (Gu et al., 2022).",
    d_state_note=" (even: N/2 complex modes per channel)",
    backend_note="; S4 trains with FFT convolutions, so this has no effect here",
    backbone_args="init, dt_min, dt_max, norm",
)
S5Forecaster.__doc__ = _doc(
    "S5Forecaster",
    "Forecaster built on S5 state-space layers.",
    "The backbone (:class:`tsssm.nn.S5Backbone`) is a stack of S5 layers: one "
    "multi-input multi-output diagonal state-space system per layer, trained with a "
    "parallel scan (Smith et al., 2023).",
    d_state_note=" (even)",
    backbone_args="blocks, discretization, dt_min, dt_max, norm",
)
MambaForecaster.__doc__ = _doc(
    "MambaForecaster",
    "Forecaster built on Mamba (selective state-space) blocks.",
    "The backbone (:class:`tsssm.nn.MambaBackbone`) is a stack of Mamba blocks: gated "
    "state-space layers whose step, input and output maps depend on the input, trained "
    "with a selective scan (Gu and Dao, 2023).",
    backbone_args="d_conv, expand, dt_rank, norm",
)
HybridForecaster.__doc__ = _doc(
    "HybridForecaster",
    "Forecaster built on a Jamba-style hybrid of Mamba and attention layers.",
    "The backbone (:class:`tsssm.nn.HybridBackbone`) interleaves Mamba blocks with causal "
    "self-attention (one layer in ``attn_every``, here 2 unless ``backbone_kwargs`` "
    "says otherwise), each followed by an MLP or a mixture of experts (Lieber et al., "
    "2024).",
    backbone_args="attn_every (default 2 here), n_heads, mlp_ratio, n_experts, top_k, "
                  "moe_every, d_conv, expand, norm",
)
