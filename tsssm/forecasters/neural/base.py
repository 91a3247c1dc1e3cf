"""The neural forecaster estimator: data preparation, training, prediction, updates.

:class:`NeuralForecaster` turns a :class:`~tsssm.data.Panel` into sliding windows,
builds a :class:`~tsssm.forecasters.neural._network.ForecastNetwork` around one of the
``tsssm.nn`` backbones, trains it with a Lightning ``Trainer`` built (and dropped)
inside ``fit``, and forecasts from the last ``lookback`` observations of each series.
The four public classes in :mod:`tsssm.forecasters.neural.models` only choose the
backbone.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import tempfile
import warnings
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.utils.validation import check_is_fitted

from tsssm._validation import (
    check_bool,
    check_int,
    check_option,
    check_quantiles,
    check_real,
    shorten,
)
from tsssm.data import Panel, to_panel
from tsssm.data.windows import WindowDataset, collate_windows, window_origins
from tsssm.exceptions import DataError, ParameterError, ParameterTypeError
from tsssm.forecasters.base import BaseForecaster
from tsssm.forecasters.neural._features import (
    calendar_features,
    calendar_kinds,
    panel_calendar,
    standardize_stats,
    static_table,
)
from tsssm.forecasters.neural._network import (
    DEFAULT_QUANTILES,
    SKIP_MODES,
    ForecastNetwork,
    interpolate_quantiles,
    skip_mode,
)
from tsssm.forecasters.neural._ridge_skip import fit_ridge_skip
from tsssm.forecasters.neural._system import LOSSES, ForecastSystem, KeepBestWeights

__all__ = ["NeuralForecaster", "make_backbone", "set_backend"]

#: Trainer arguments that are estimator parameters: trainer_kwargs must not repeat them.
_OWN_TRAINER_ARGS = ("max_epochs", "accelerator", "devices", "precision",
                     "gradient_clip_val", "default_root_dir")
_PRECISIONS = ("64-true", "32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true",
               "64", "32", "16", "bf16", 64, 32, 16)


def make_backbone(name: str, **kwargs: Any) -> torch.nn.Module:
    """Build a ``tsssm.nn`` backbone (imported here, so tests can substitute one).

    Parameters
    ----------
    name : {"s4", "s5", "mamba", "hybrid"}
        Which backbone.
    **kwargs
        Passed to :func:`tsssm.nn.make_backbone` (``d_input`` is required).

    Returns
    -------
    tsssm.nn.Backbone
        Maps x (B, L, d_input) to (B, L, d_model).

    Examples
    --------
    >>> import torch
    >>> from tsssm.forecasters.neural.base import make_backbone
    >>> net = make_backbone("s4", d_input=2, d_model=8, n_layers=1, d_state=4)
    >>> net(torch.randn(3, 10, 2)).shape
    torch.Size([3, 10, 8])
    """
    from tsssm.nn import make_backbone as _make

    return _make(name, **kwargs)


def set_backend(network: torch.nn.Module, backend: str) -> None:
    """Set the scan backend of every layer of ``network`` that has one.

    Training uses the estimator's ``backend``; the fitted network predicts on the CPU,
    where an explicit ``"triton"`` cannot run, so it is switched to ``"auto"`` after
    training (which picks Triton again wherever the tensors are on a GPU).

    Parameters
    ----------
    network : torch.nn.Module
        Changed in place: every submodule with a string attribute ``backend``.
    backend : {"auto", "torch", "triton"}
        The new backend.

    Examples
    --------
    >>> from tsssm.forecasters.neural.base import make_backbone, set_backend
    >>> net = make_backbone("mamba", d_input=1, d_model=8, n_layers=2, backend="triton")
    >>> set_backend(net, "torch")
    >>> sorted({m.backend for m in net.modules() if hasattr(m, "backend")})
    ['torch']
    """
    for module in network.modules():
        if isinstance(getattr(module, "backend", None), str):
            module.backend = backend


def _backbone_class(name: str) -> type | None:
    try:
        from tsssm.nn import BACKBONES
    except ImportError:  # pragma: no cover - nn not importable: make_backbone will say why
        return None
    return BACKBONES.get(name)


# ------------------------------------------------------------------- contexts
@contextlib.contextmanager
def _seeded(seed: int | None, use_cuda: bool) -> Iterator[None]:
    """Seed torch for the duration of the block and restore the global RNG afterwards.

    No global seeding leaks out of ``fit``: ``fork_rng`` saves and restores the CPU
    generator (and the CUDA ones when training may use them).
    """
    if seed is None:
        yield
        return
    devices = list(range(torch.cuda.device_count())) if use_cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def _predict_backend(network: torch.nn.Module) -> Iterator[None]:
    """Leave ``network`` with the backend used for predictions, even after a failure."""
    try:
        yield
    finally:
        set_backend(network, "auto")


@contextlib.contextmanager
def _lightning_output(verbose: bool) -> Iterator[None]:
    """Silence Lightning's info logs and advice warnings unless ``verbose``."""
    names = ("lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        # Windows are gathered in memory by one indexing call per batch: worker
        # processes would only add start-up cost, so this advice does not apply.
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        if not verbose:
            warnings.filterwarnings("ignore", module="lightning")
            warnings.filterwarnings("ignore", module="pytorch_lightning")
            for lg in loggers:
                lg.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


def _check_checkpoint(path: Any) -> None:
    """Reject a resume checkpoint that is missing or holds more than tensors and numbers."""
    import os

    if not isinstance(path, (str, os.PathLike)) or not os.path.isfile(path):
        raise DataError(f"ckpt_path={path!r} is not an existing checkpoint file.")
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise DataError(
            f"ckpt_path={str(path)!r} is not a Lightning checkpoint of plain tensors and "
            f"numbers ({type(err).__name__}); it was not loaded."
        ) from None


# ------------------------------------------------------------------ estimator
class NeuralForecaster(BaseForecaster):
    """Base class of the neural state-space forecasters (see the concrete classes).

    Subclasses set :attr:`_backbone` (a name for :func:`tsssm.nn.make_backbone`) and,
    optionally, :attr:`_backbone_defaults`; the parameters are documented on
    :class:`~tsssm.forecasters.neural.models.MambaForecaster` and its siblings.

    Examples
    --------
    >>> from tsssm.forecasters.neural import MambaForecaster
    >>> from tsssm.forecasters.neural.base import NeuralForecaster
    >>> model = MambaForecaster(horizon=12, d_model=16)
    >>> isinstance(model, NeuralForecaster)
    True
    >>> model.get_params()["d_model"], model.get_params()["lookback"]
    (16, 168)
    """

    _handles_missing = False
    _supports_exog = True
    #: name of the backbone in ``tsssm.nn.make_backbone``
    _backbone: str = ""
    #: backbone arguments this class sets unless ``backbone_kwargs`` overrides them
    _backbone_defaults: ClassVar[dict[str, Any]] = {}

    def __init__(
        self,
        horizon: int = 24,
        lookback: int = 168,
        d_model: int = 64,
        n_layers: int = 2,
        d_state: int = 16,
        dropout: float = 0.1,
        loss: str = "mse",
        quantiles: tuple[float, ...] | None = None,
        patch_len: int | None = None,
        patch_stride: int | None = None,
        channel_mixing: bool = False,
        calendar: bool = True,
        static_features: pd.DataFrame | None = None,
        id_embedding: int = 0,
        linear_skip: bool | str | None = "ridge",
        max_epochs: int = 20,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        early_stopping_patience: int | None = 5,
        val_size: int | None = None,
        gradient_clip_val: float | None = 1.0,
        random_state: int | None = None,
        accelerator: Any = "auto",
        devices: Any = 1,
        precision: Any = "32-true",
        backend: str = "auto",
        backbone_kwargs: dict[str, Any] | None = None,
        trainer_kwargs: dict[str, Any] | None = None,
        verbose: bool = True,
    ) -> None:
        self.horizon = horizon
        self.lookback = lookback
        self.d_model = d_model
        self.n_layers = n_layers
        self.d_state = d_state
        self.dropout = dropout
        self.loss = loss
        self.quantiles = quantiles
        self.patch_len = patch_len
        self.patch_stride = patch_stride
        self.channel_mixing = channel_mixing
        self.calendar = calendar
        self.static_features = static_features
        self.id_embedding = id_embedding
        self.linear_skip = linear_skip
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.early_stopping_patience = early_stopping_patience
        self.val_size = val_size
        self.gradient_clip_val = gradient_clip_val
        self.random_state = random_state
        self.accelerator = accelerator
        self.devices = devices
        self.precision = precision
        self.backend = backend
        self.backbone_kwargs = backbone_kwargs
        self.trainer_kwargs = trainer_kwargs
        self.verbose = verbose

    # ------------------------------------------------------------ parameters
    def _config(self) -> dict[str, Any]:
        """All parameters, checked and resolved (None replaced by its meaning)."""
        owner = type(self).__name__
        c: dict[str, Any] = {}
        c["horizon"] = H = check_int(self.horizon, "horizon", owner=owner, min_value=1)
        c["lookback"] = L = check_int(self.lookback, "lookback", owner=owner, min_value=1)
        c["d_model"] = check_int(self.d_model, "d_model", owner=owner, min_value=1)
        c["n_layers"] = check_int(self.n_layers, "n_layers", owner=owner, min_value=1)
        c["d_state"] = check_int(self.d_state, "d_state", owner=owner, min_value=1)
        c["dropout"] = check_real(self.dropout, "dropout", owner=owner, min_value=0.0,
                                  max_value=1.0, max_inclusive=False)
        c["loss"] = check_option(self.loss, "loss", LOSSES, owner=owner)
        if self.quantiles is None:
            c["quantiles"] = DEFAULT_QUANTILES
        else:
            try:
                c["quantiles"] = check_quantiles(self.quantiles)
            except (ParameterError, ParameterTypeError) as err:
                raise type(err)(
                    f"The 'quantiles' parameter of {owner} must be None or a sequence of "
                    f"levels in (0, 1). Got {self.quantiles!r}."
                ) from None
        if c["loss"] == "quantile" and not (c["quantiles"][0] <= 0.5 <= c["quantiles"][-1]):
            raise ParameterError(
                f"The 'quantiles' parameter of {owner} must span 0.5 with loss='quantile' "
                f"(the point forecast is the median). Got {c['quantiles']}."
            )
        c["patch_len"] = check_int(self.patch_len, "patch_len", owner=owner, min_value=1,
                                   max_value=L, allow_none=True)
        c["patch_stride"] = check_int(self.patch_stride, "patch_stride", owner=owner,
                                      min_value=1, max_value=c["patch_len"], allow_none=True)
        if c["patch_stride"] is not None and c["patch_len"] is None:
            raise ParameterError(
                f"The 'patch_stride' parameter of {owner} needs patch_len. Got "
                f"patch_stride={self.patch_stride} with patch_len=None."
            )
        c["channel_mixing"] = check_bool(self.channel_mixing, "channel_mixing", owner=owner)
        c["calendar"] = check_bool(self.calendar, "calendar", owner=owner)
        if self.static_features is not None and not isinstance(self.static_features,
                                                               pd.DataFrame):
            raise ParameterTypeError(
                f"The 'static_features' parameter of {owner} must be a pandas DataFrame "
                f"indexed by series id, or None. Got {type(self.static_features).__name__}."
            )
        c["id_embedding"] = check_int(self.id_embedding, "id_embedding", owner=owner,
                                      min_value=0)
        if c["channel_mixing"] and (self.static_features is not None or c["id_embedding"]):
            raise ParameterError(
                f"The 'static_features' and 'id_embedding' parameters of {owner} describe "
                "series modelled one at a time; with channel_mixing=True every series is a "
                "fixed channel already. Got channel_mixing=True with "
                f"static_features={'a DataFrame' if self.static_features is not None else None}"
                f", id_embedding={self.id_embedding}."
            )
        if isinstance(self.linear_skip, (bool, type(None))):
            c["linear_skip"] = skip_mode(self.linear_skip)
        else:
            c["linear_skip"] = check_option(self.linear_skip, "linear_skip", SKIP_MODES,
                                            owner=owner)
        c["max_epochs"] = check_int(self.max_epochs, "max_epochs", owner=owner, min_value=1)
        c["batch_size"] = check_int(self.batch_size, "batch_size", owner=owner, min_value=1)
        c["lr"] = check_real(self.lr, "lr", owner=owner, min_value=0.0, min_inclusive=False)
        c["weight_decay"] = check_real(self.weight_decay, "weight_decay", owner=owner,
                                       min_value=0.0)
        c["early_stopping_patience"] = check_int(
            self.early_stopping_patience, "early_stopping_patience", owner=owner, min_value=0,
            allow_none=True)
        c["val_size"] = check_int(self.val_size, "val_size", owner=owner, min_value=0,
                                  allow_none=True)
        if c["val_size"] is not None and 0 < c["val_size"] < H:
            raise ParameterError(
                f"The 'val_size' parameter of {owner} must be 0 (no validation), None "
                f"(automatic) or an int >= horizon={H}. Got {c['val_size']}."
            )
        c["gradient_clip_val"] = check_real(self.gradient_clip_val, "gradient_clip_val",
                                            owner=owner, min_value=0.0, min_inclusive=False,
                                            allow_none=True)
        c["random_state"] = check_int(self.random_state, "random_state", owner=owner,
                                      min_value=0, allow_none=True)
        if not isinstance(self.accelerator, str) and self.accelerator is not None and \
                not hasattr(self.accelerator, "setup_device"):
            raise ParameterTypeError(
                f"The 'accelerator' parameter of {owner} must be a string such as 'auto', "
                f"'cpu' or 'gpu', or a Lightning Accelerator. Got {self.accelerator!r}."
            )
        c["accelerator"] = "auto" if self.accelerator is None else self.accelerator
        if not (isinstance(self.devices, (str, list, tuple)) or (
                isinstance(self.devices, (int, np.integer))
                and not isinstance(self.devices, bool))):
            raise ParameterTypeError(
                f"The 'devices' parameter of {owner} must be an int, a list of device "
                f"indices or a string such as 'auto'. Got {self.devices!r}."
            )
        c["devices"] = self.devices
        c["precision"] = check_option(self.precision, "precision", _PRECISIONS, owner=owner)
        c["backend"] = check_option(self.backend, "backend", ("auto", "torch", "triton"),
                                    owner=owner)
        for name in ("backbone_kwargs", "trainer_kwargs"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, dict):
                raise ParameterTypeError(
                    f"The '{name}' parameter of {owner} must be a dict or None. Got "
                    f"{type(value).__name__}."
                )
        c["backbone_kwargs"] = {**self._backbone_defaults, **(self.backbone_kwargs or {})}
        for key in ("d_input", "d_model", "n_layers", "d_state", "dropout", "backend"):
            if key in (self.backbone_kwargs or {}):
                fix = ("it is derived from the data" if key == "d_input"
                       else f"set the estimator's '{key}' parameter instead")
                raise ParameterError(
                    f"The 'backbone_kwargs' parameter of {owner} must not contain {key!r}: "
                    f"{fix}."
                )
        c["trainer_kwargs"] = self._checked_trainer_kwargs(owner)
        c["verbose"] = check_bool(self.verbose, "verbose", owner=owner)
        return c

    def _checked_trainer_kwargs(self, owner: str) -> dict[str, Any]:
        kwargs = dict(self.trainer_kwargs or {})
        import lightning.pytorch as pl

        known = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
        for key in kwargs:
            if key in _OWN_TRAINER_ARGS:
                fix = ("fit trains in a temporary directory it removes afterwards"
                       if key == "default_root_dir"
                       else f"set the estimator's '{key}' parameter instead")
                raise ParameterError(
                    f"The 'trainer_kwargs' parameter of {owner} must not contain {key!r}: "
                    f"{fix}."
                )
            if key not in known:
                raise ParameterError(
                    f"The 'trainer_kwargs' parameter of {owner} has {key!r}, which "
                    "lightning.pytorch.Trainer does not take. Check the spelling."
                )
        return kwargs

    def _check_params(self) -> None:
        self._config()

    def _min_length(self) -> int:
        c = self._config()
        val = c["horizon"] if c["val_size"] is None else c["val_size"]
        return c["lookback"] + c["horizon"] + val

    def _auto_val_size(self, panel: Panel, c: dict[str, Any]) -> int:
        """val_size=None: about 20% of the windows of the shortest series, >= horizon."""
        if c["val_size"] is not None:
            return c["val_size"]
        shortest = int(panel.lengths.min())
        return max(c["horizon"], (shortest - c["lookback"]) // 5)

    # -------------------------------------------------------------- fit
    def _fit(self, panel: Panel) -> None:
        c = self._config()
        self._check_layout(panel, c)
        self.config_ = c
        self._prepare(panel, c)
        with _seeded(c["random_state"], self._may_use_cuda(c)):
            network = self._build_network(panel, c)
            self._train(network, panel, c, c["max_epochs"],
                        fit_skip=getattr(self, "_resume_from", None) is None)
        self.network_ = network
        self.context_ = self._context(panel, recurrent=False)

    def fit(self, y: pd.Series | pd.DataFrame, X: pd.DataFrame | None = None, *,
            freq: Any = None, id_col: str = "unique_id", time_col: str = "ds",
            target_col: str = "y", ckpt_path: str | None = None) -> NeuralForecaster:
        """Train the network on one or many series (one global model).

        Parameters
        ----------
        y, X, freq, id_col, time_col, target_col
            As in :meth:`tsssm.forecasters.base.BaseForecaster.fit`.
        ckpt_path : str or None, default=None
            Resume an interrupted fit from a Lightning checkpoint, written by a
            ``ModelCheckpoint`` callback passed in ``trainer_kwargs`` (for example its
            ``last.ckpt``). Use the same data and parameters (``max_epochs`` included,
            since the learning-rate schedule spans it); training continues at the
            epoch after the checkpoint with its optimiser state. The file must hold
            plain tensors and numbers only (it is opened with
            ``torch.load(weights_only=True)`` first, so no code in it can run).

        Returns
        -------
        self
        """
        if ckpt_path is not None:
            _check_checkpoint(ckpt_path)
        self._resume_from = ckpt_path
        try:
            return super().fit(y, X, freq=freq, id_col=id_col, time_col=time_col,
                               target_col=target_col)
        finally:
            del self._resume_from

    def _may_use_cuda(self, c: dict[str, Any]) -> bool:
        acc = c["accelerator"]
        return torch.cuda.is_available() and (not isinstance(acc, str) or acc in (
            "auto", "gpu", "cuda"))

    def _check_layout(self, panel: Panel, c: dict[str, Any]) -> None:
        if not c["channel_mixing"]:
            return
        lengths = panel.lengths
        if np.any(lengths != lengths[0]) or any(s != panel.starts[0] for s in panel.starts):
            late = [uid for uid, s, n in zip(panel.ids, panel.starts, lengths)
                    if s != panel.starts[0] or n != lengths[0]]
            raise DataError(
                f"channel_mixing=True models all series as channels of one sequence, so "
                f"they must cover the same time points; series {shorten(late)} start or end "
                f"elsewhere than {panel.ids[0]!r}. Align them (drop the early rows) or use "
                "channel_mixing=False."
            )

    def _prepare(self, panel: Panel, c: dict[str, Any]) -> None:
        """Fitted scaling: per-series scale, exogenous statistics, calendar, statics."""
        owner = type(self).__name__
        self.scale_ = np.array([_series_scale(panel.values(i)) for i in range(panel.n_series)])
        self.calendar_kinds_ = calendar_kinds(panel.axis, int(panel.lengths.max())) \
            if c["calendar"] else ()
        if panel.X is not None:
            self.x_mean_, self.x_std_ = standardize_stats(panel.X)
        else:
            self.x_mean_ = self.x_std_ = np.zeros(0)
        self.x_shared_ = bool(
            c["channel_mixing"] and panel.X is not None
            and all(np.array_equal(panel.exog(i), panel.exog(0))
                    for i in range(panel.n_series))
        )
        self.table_ids_ = panel.ids.copy()  # rows of the id embedding / static table
        self.table_scale_ = self.scale_.copy()
        self.series_rows_ = np.arange(panel.n_series)
        self.static_names_: list[str] = []
        self.static_values_ = None
        if self.static_features is not None:
            table, names = static_table(self.static_features, panel.ids, owner)
            mean, std = standardize_stats(table)
            self.static_values_ = (table - mean) / std
            self.static_names_ = names

    def _n_covariates(self, panel: Panel) -> int:
        k = len(panel.exog_names)
        if self.config_["channel_mixing"] and not self.x_shared_:
            k *= panel.n_series
        return 2 * len(self.calendar_kinds_) + k

    def _build_network(self, panel: Panel, c: dict[str, Any]) -> ForecastNetwork:
        C = panel.n_series if c["channel_mixing"] else 1
        n_cov = self._n_covariates(panel)
        n_static = 0 if self.static_values_ is None else self.static_values_.shape[1]
        d_input = ForecastNetwork.input_size(C, n_cov, n_static, c["id_embedding"],
                                             c["patch_len"])
        kwargs = dict(d_input=d_input, d_model=c["d_model"], n_layers=c["n_layers"],
                      d_state=c["d_state"], dropout=c["dropout"], **c["backbone_kwargs"])
        cls = _backbone_class(self._backbone)
        if cls is not None and "backend" in inspect.signature(cls.__init__).parameters:
            kwargs["backend"] = c["backend"]
        try:
            backbone = make_backbone(self._backbone, **kwargs)
        except TypeError as err:
            raise ParameterError(
                f"The 'backbone_kwargs' parameter of {type(self).__name__} has an argument "
                f"the {self._backbone!r} backbone does not take: {err}."
            ) from None
        static = None if self.static_values_ is None else torch.as_tensor(
            self.static_values_, dtype=torch.float32)
        return ForecastNetwork(
            backbone, n_channels=C, lookback=c["lookback"], horizon=c["horizon"],
            n_covariates=n_cov, static=static, n_series=len(self.table_ids_),
            id_embedding=c["id_embedding"], patch_len=c["patch_len"],
            patch_stride=c["patch_stride"], quantiles=c["quantiles"],
            point_head=c["loss"] != "quantile", linear_skip=c["linear_skip"],
        )

    # --------------------------------------------------------- data arrays
    def _unit_arrays(self, panel: Panel) -> tuple[np.ndarray, np.ndarray, np.ndarray | None,
                                                  np.ndarray]:
        """The network's view of ``panel``: scaled values (T, C), unit pointers, covariates.

        A *unit* is one sequence the network reads: a series (channel_mixing=False) or
        all series side by side (channel_mixing=True). ``panel`` holds the series of
        ``data_`` (same order), so ``scale_`` and ``series_rows_`` apply row by row.
        Returns values (T_u, C), indptr (U + 1,), covariates (T_u, K) or None and the
        table row of each unit (U,).
        """
        scale = self.scale_
        if self.config_["channel_mixing"]:
            n = int(panel.lengths[0])
            values = np.stack([panel.values(i) / scale[i] for i in range(panel.n_series)],
                              axis=1)  # (n, S)
            indptr = np.array([0, n])
            cal = calendar_features(panel.time_index(0), self.calendar_kinds_)
            parts = [cal]
            if panel.X is not None:
                xs = [(panel.exog(i) - self.x_mean_) / self.x_std_
                      for i in range(panel.n_series)]
                parts.extend(xs[:1] if self.x_shared_ else xs)
            rows = np.zeros(1, dtype=np.int64)
        else:
            values = (panel.y / np.repeat(scale, panel.lengths))[:, None]  # (T, 1)
            indptr = panel.indptr
            parts = [panel_calendar(panel, self.calendar_kinds_)]
            if panel.X is not None:
                parts.append((panel.X - self.x_mean_) / self.x_std_)
            rows = self.series_rows_
        cov = np.concatenate(parts, axis=1)
        return values, indptr, (cov if cov.shape[1] else None), rows

    def _future_covariates(self, h: int, X: np.ndarray | None) -> np.ndarray | None:
        """Covariates of the ``h`` steps after each unit's end, shape (U, h, K) or None."""
        panel = self.data_
        mixing = self.config_["channel_mixing"]
        units = [0] if mixing else range(panel.n_series)
        out = []
        for u in units:
            parts = [calendar_features(panel.future_index(u, h), self.calendar_kinds_)]
            if X is not None:
                xs = (X - self.x_mean_) / self.x_std_  # (S, h, K)
                if mixing:
                    parts.extend([xs[0]] if self.x_shared_ else list(xs))
                else:
                    parts.append(xs[u])
            out.append(np.concatenate(parts, axis=1))
        cov = np.stack(out)
        return cov if cov.shape[2] else None

    def _windows(self, panel: Panel) -> tuple[torch.Tensor, torch.Tensor | None,
                                              torch.Tensor]:
        """The last ``lookback`` steps of every unit: y (U, L, C), covariates, rows."""
        L = self.config_["lookback"]
        values, indptr, cov, rows = self._unit_arrays(panel.tail(L))
        U = len(indptr) - 1
        y = torch.as_tensor(values.reshape(U, L, -1), dtype=torch.float32)
        c = None if cov is None else torch.as_tensor(cov.reshape(U, L, -1),
                                                      dtype=torch.float32)
        return y, c, torch.as_tensor(rows, dtype=torch.int64)

    def _context(self, panel: Panel, recurrent: bool,
                 units: np.ndarray | None = None) -> dict[str, torch.Tensor]:
        """Encode the last window of each unit (or of ``units`` only)."""
        y, cov, rows = self._windows(panel)
        if units is not None:
            y, rows = y[units], rows[units]
            cov = None if cov is None else cov[units]
        self.network_.eval()
        with torch.no_grad():
            return self.network_.context(y, cov, rows, recurrent=recurrent)

    # ----------------------------------------------------------- training
    def _train(self, network: ForecastNetwork, panel: Panel, c: dict[str, Any],
               epochs: int, fit_skip: bool = False) -> None:
        """Train ``network`` in place on ``panel`` and restore its best weights.

        ``fit_skip``: first solve a ``linear_skip="ridge"`` skip on the training windows
        (a new fit; fine-tuning keeps the fitted map).
        """
        import lightning.pytorch as pl
        from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

        L, H = c["lookback"], c["horizon"]
        val_size = self._auto_val_size(panel, c)
        values, indptr, cov, rows = self._unit_arrays(panel)
        lengths = np.diff(indptr)
        s_tr, o_tr = window_origins(lengths, L, H, end=lengths - val_size)
        if len(s_tr) == 0:
            raise DataError(
                f"No training windows: every series needs lookback + horizon + val_size = "
                f"{L} + {H} + {val_size} observations. Reduce lookback or val_size."
            )
        unit_rows = rows  # the network's table row of each unit
        train = WindowDataset(values, indptr, s_tr, o_tr, L, H, cov, labels=unit_rows)
        generator = None
        if c["random_state"] is not None:
            generator = torch.Generator().manual_seed(c["random_state"])
        loaders = {"train_dataloaders": torch.utils.data.DataLoader(
            train, batch_size=c["batch_size"], shuffle=True, generator=generator,
            collate_fn=collate_windows)}
        if val_size:
            s_va, o_va = window_origins(lengths, L, H, first_target=lengths - val_size)
            val = WindowDataset(values, indptr, s_va, o_va, L, H, cov, labels=unit_rows)
            loaders["val_dataloaders"] = torch.utils.data.DataLoader(
                val, batch_size=max(c["batch_size"], 256), shuffle=False,
                collate_fn=collate_windows)
        skip_report = None
        if fit_skip and network.skip_mode == "ridge":
            skip_report = fit_ridge_skip(network, train, val if val_size else None)
        set_backend(network, c["backend"])
        # A ridge start is a complete forecaster: score it before training (epoch 0)
        # and keep it if no epoch beats it on validation.
        score_start = skip_report is not None and bool(val_size)
        keep = KeepBestWeights(include_start=score_start)
        callbacks: list[Any] = [keep]
        if val_size and c["early_stopping_patience"] is not None:
            callbacks.append(EarlyStopping("val_loss", patience=c["early_stopping_patience"],
                                           mode="min", check_finite=False))
        user = dict(c["trainer_kwargs"])
        extra = user.pop("callbacks", None) or []
        callbacks.extend(extra if isinstance(extra, (list, tuple)) else [extra])
        system = ForecastSystem(network, c["loss"], c["lr"], c["weight_decay"], epochs)
        with tempfile.TemporaryDirectory(prefix="tsssm-") as tmp, \
                _lightning_output(c["verbose"]), _predict_backend(network):
            kwargs = dict(
                max_epochs=epochs, accelerator=c["accelerator"], devices=c["devices"],
                precision=c["precision"], gradient_clip_val=c["gradient_clip_val"],
                callbacks=callbacks, logger=False, default_root_dir=tmp,
                enable_checkpointing=any(isinstance(cb, ModelCheckpoint) for cb in callbacks),
                enable_progress_bar=c["verbose"], enable_model_summary=c["verbose"],
                num_sanity_val_steps=-1 if score_start else 0,
            )
            kwargs.update(user)
            trainer = pl.Trainer(**kwargs)
            try:
                trainer.fit(system, ckpt_path=getattr(self, "_resume_from", None), **loaders)
            except SystemExit:
                # Lightning answers Ctrl+C with its own shutdown, then sys.exit(1): give
                # the caller (a notebook, a backtest) the KeyboardInterrupt it made.
                if trainer.interrupted:
                    raise KeyboardInterrupt from None
                raise
            epochs_run = int(trainer.current_epoch)
            del trainer  # only fit builds a Trainer, and none outlives it
        if keep.best_state is None:
            raise DataError("Training ran no epoch (check trainer_kwargs such as max_steps).")
        network.load_state_dict(keep.best_state)
        network.cpu().eval()
        self.history_ = {"epochs": epochs_run, "best_epoch": keep.best_epoch,
                         "val_loss": list(keep.val_history), "val_size": val_size}
        if skip_report is not None:
            self.history_["linear_skip"] = skip_report

    # ----------------------------------------------------------- prediction
    def _forecast(self, h: int, X: np.ndarray | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Point (U, h, C) and learned quantiles (U, h, C, Q) in scaled units.

        Up to ``horizon`` steps come from the cached context of the last window; beyond,
        the point forecasts are fed back as observations (recursive forecasting).
        """
        c = self.config_
        L, H = c["lookback"], c["horizon"]
        fut = self._future_covariates(h, X)
        fut_t = None if fut is None else torch.as_tensor(fut, dtype=torch.float32)
        net = self.network_.eval()
        with torch.no_grad():
            point, q = net.decode(self.context_, fut_t, min(h, H))
            points, quants = [net.point_from(point, q)], [q]
            done = min(h, H)
            if done < h:
                y, cov, rows = self._windows(self.data_)
                cov_all = None if cov is None else torch.cat([cov, fut_t], dim=1)
                while done < h:
                    y = torch.cat([y, points[-1]], dim=1)[:, -L:]  # feed forecasts back
                    k = min(H, h - done)
                    past_cov = None if cov_all is None else cov_all[:, done:done + L]
                    next_cov = None if cov_all is None else cov_all[:, done + L:done + L + k]
                    ctx = net.context(y, past_cov, rows)
                    point, q = net.decode(ctx, next_cov, k)
                    points.append(net.point_from(point, q))
                    quants.append(q)
                    done += k
        return torch.cat(points, dim=1), torch.cat(quants, dim=1)

    def _per_series(self, values: torch.Tensor) -> np.ndarray:
        """(U, h, C, ...) in scaled units -> (S, h, ...) in the data's units."""
        arr = values.double().numpy()
        if self.config_["channel_mixing"]:
            arr = np.moveaxis(arr[0], 1, 0)  # (S, h, ...)
        else:
            arr = arr[:, :, 0]
        scale = self.scale_.reshape((-1,) + (1,) * (arr.ndim - 1))
        return arr * scale

    def _predict(self, h: int, X: np.ndarray | None) -> np.ndarray:
        point, _ = self._forecast(h, X)
        return self._per_series(point)

    def _predict_quantiles(self, h: int, quantiles: tuple[float, ...],
                           X: np.ndarray | None) -> np.ndarray:
        levels = self.network_.quantiles
        outside = [q for q in quantiles if q < levels[0] - 1e-12 or q > levels[-1] + 1e-12]
        if outside:
            raise ParameterError(
                f"{type(self).__name__} learned the quantiles {levels[0]:g} to {levels[-1]:g}"
                f" and cannot give {outside}. Fit with quantiles= covering them (for a "
                f"coverage c interval, (1 - c) / 2 and (1 + c) / 2), or ask for a narrower "
                "interval."
            )
        _, q = self._forecast(h, X)
        return self._per_series(interpolate_quantiles(q, levels, quantiles))

    # --------------------------------------------------------------- update
    def _update(self, new: Panel, panel: Panel) -> None:
        """Re-encode the new last window of each updated unit with the recurrent view."""
        if self.config_["channel_mixing"]:
            self._check_layout(panel, self.config_)
            units = np.array([0])
        else:
            pos = {uid: i for i, uid in enumerate(panel.ids)}
            units = np.array(sorted(pos[uid] for uid in new.ids))
        fresh = self._context(panel, recurrent=True, units=units)
        context = {k: v.clone() for k, v in self.context_.items()}
        for k, v in fresh.items():
            context[k][torch.as_tensor(units)] = v
        self.context_ = context

    def _rolling_forecasts(self, panel: Panel, cutoffs: np.ndarray, horizon: int,
                           quantiles: tuple[float, ...] | None = None
                           ) -> tuple[np.ndarray, np.ndarray | None] | None:
        """Forecasts from many cutoffs at once: backtest's fast path for refit=False.

        Equal (up to rounding) to ``update`` to each cutoff then ``predict``, computed
        in large batches by the network's parallel forward; None where that path does
        not apply. See :func:`tsssm.forecasters.neural._rolling.rolling_forecasts`.
        """
        from tsssm.forecasters.neural._rolling import rolling_forecasts

        check_is_fitted(self)
        return rolling_forecasts(self, panel, cutoffs, horizon, quantiles)

    # ------------------------------------------------------------ fine-tune
    def fine_tune(self, y: pd.Series | pd.DataFrame, X: pd.DataFrame | None = None,
                  epochs: int | None = None) -> NeuralForecaster:
        """Continue training from the current weights on new data (a warm-started refit).

        The optimiser and learning-rate schedule start afresh; scaling statistics of
        known series are kept, so the weights keep their meaning. Early stopping and
        the best-weight restore work as in :meth:`fit`. The data replace the data seen
        so far: forecasts start after the end of ``y``.

        Parameters
        ----------
        y : pandas.Series or pandas.DataFrame
            Training data in the form accepted by :meth:`fit`. With ``id_embedding``,
            ``static_features`` or ``channel_mixing`` every series must have been seen
            at fit; otherwise new series are welcome (the model is global).
        X : pandas.DataFrame or None, default=None
            Exogenous variables, with the columns seen at fit.
        epochs : int or None, default=None
            Epochs to train; None means ``max_epochs``.

        Returns
        -------
        self

        Raises
        ------
        TrainingDivergedError
            When the loss becomes NaN or infinite; the weights from before the call are
            restored.
        """
        check_is_fitted(self)
        owner = type(self).__name__
        c = self.config_
        epochs = check_int(epochs, "epochs", owner=f"{owner}.fine_tune", min_value=1,
                           allow_none=True) or c["max_epochs"]
        spec = self.data_.spec
        panel = to_panel(y, X, freq=None if self.data_.axis.kind == "period"
                         else self.data_.axis.freq, id_col=spec.id_col,
                         time_col=spec.time_col, target_col=spec.target_col, owner=owner)
        if tuple(panel.exog_names) != tuple(self.data_.exog_names):
            raise DataError(
                f"fine_tune needs the exogenous columns seen at fit "
                f"{list(self.data_.exog_names)}; got {list(panel.exog_names)}."
            )
        self._check_lengths(panel)
        known = {uid: k for k, uid in enumerate(self.table_ids_)}
        unknown = [uid for uid in panel.ids if uid not in known]
        needs_known = c["channel_mixing"] or c["id_embedding"] or self.static_values_ is not None
        if unknown and needs_known:
            raise DataError(
                f"fine_tune got series {shorten(unknown)} that were not seen at fit; with "
                "id_embedding, static_features or channel_mixing the model only knows the "
                "fitted series. Fit a new model instead."
            )
        if c["channel_mixing"]:
            self._check_layout(panel, c)
            if list(panel.ids) != list(self.table_ids_):
                raise DataError(
                    f"fine_tune with channel_mixing=True needs the fitted series "
                    f"{shorten(self.table_ids_)} in the same order; got {shorten(panel.ids)}."
                )
        old_scale = dict(zip(self.data_.ids, self.scale_))
        fitted_scale = dict(zip(self.table_ids_, self.table_scale_))
        saved = {k: v.clone() for k, v in self.network_.state_dict().items()}
        state = (self.data_, self.scale_, self.series_rows_, self.context_,
                 getattr(self, "history_", None))
        try:
            self.scale_ = np.array([
                old_scale.get(uid, fitted_scale.get(uid, _series_scale(panel.values(i))))
                for i, uid in enumerate(panel.ids)])
            self.series_rows_ = np.array([known.get(uid, 0) for uid in panel.ids])
            with _seeded(c["random_state"], self._may_use_cuda(c)):
                self._train(self.network_, panel, c, epochs)
            self.data_ = panel
            self.n_series_ = panel.n_series
            self.context_ = self._context(panel, recurrent=False)
        except BaseException:
            self.network_.load_state_dict(saved)
            self.data_, self.scale_, self.series_rows_, self.context_, history = state
            if history is not None:
                self.history_ = history
            raise
        return self

    # ------------------------------------------------------------- save/load
    def save(self, path: str) -> None:
        """Save the fitted model into the directory ``path`` (created if needed).

        Writes ``model.json`` (parameters, data metadata and the last ``lookback``
        observations of each series) and the weights, each to a temporary file renamed
        into place. Nothing is pickled; :meth:`load` rebuilds an estimator that predicts
        identically. ``trainer_kwargs`` (loggers, callbacks) are not saved.
        """
        from tsssm.forecasters.neural._io import save_model

        check_is_fitted(self)
        save_model(self, path)

    @classmethod
    def load(cls, path: str) -> NeuralForecaster:
        """Load a model written by :meth:`save`.

        Parameters
        ----------
        path : str or os.PathLike
            The directory given to :meth:`save`.

        Returns
        -------
        NeuralForecaster
            A fitted estimator of the saved class.

        Raises
        ------
        DataError
            If ``path`` does not hold a tsssm neural model, or holds one of another
            class than ``cls``.
        """
        from tsssm.forecasters.neural._io import load_model

        return load_model(cls, path)


def _series_scale(values: np.ndarray) -> float:
    """Scale a series is divided by before training: its standard deviation.

    Falls back to its mean absolute value, then 1, for constant series, so every
    series reaches the network in units of order one and weighs alike in the loss.
    """
    std = float(np.std(values))
    if std > 1e-12 * max(1.0, float(np.abs(values).max())):
        return std
    level = float(np.abs(values).mean())
    return level if level > 0 else 1.0
