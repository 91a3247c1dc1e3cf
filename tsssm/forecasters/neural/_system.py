"""Training as a system wrapped around the network (Lightning's style guide).

:class:`ForecastSystem` takes the network, the loss and the optimiser settings; it holds
``training_step``, ``validation_step`` and ``configure_optimizers`` in that order and
nothing else of substance. The estimator builds the ``Trainer`` inside ``fit``.
:class:`KeepBestWeights` keeps an in-memory copy of the weights of the best validation
epoch, so nothing is written to disk.
"""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F

from tsssm.exceptions import TrainingDivergedError
from tsssm.forecasters.neural._network import ForecastNetwork
from tsssm.nn.params import param_groups

__all__ = ["LOSSES", "ForecastSystem", "KeepBestWeights", "pinball_loss", "warmup_cosine"]

#: Training losses: point losses (a quantile head is trained beside them) and "quantile".
LOSSES = ("mse", "mae", "huber", "quantile")


def pinball_loss(q: torch.Tensor, target: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Mean pinball loss of quantiles q (..., Q) at ``levels`` (Q,) for target (...)."""
    diff = target[..., None] - q  # (..., Q)
    return torch.maximum(levels * diff, (levels - 1) * diff).mean()


class ForecastSystem(pl.LightningModule):
    """Loss and optimisation around a :class:`ForecastNetwork`.

    Parameters
    ----------
    network : ForecastNetwork
        The model; its forward takes a window batch and returns (point, quantiles).
    loss : {"mse", "mae", "huber", "quantile"}, default="mse"
        Point losses train the point head and, beside it, the quantile head with the
        pinball loss (their sum is minimised); "quantile" trains the quantile head only.
    lr : float, default=1e-3
        Peak learning rate: reached after a linear warm-up, then decayed along a cosine.
    weight_decay : float, default=1e-4
        AdamW weight decay (state-space parameters exempt, see
        :func:`tsssm.nn.params.param_groups`).
    max_epochs : int, default=20
        Epochs planned, for the error message of a diverged run.
    warmup : float, default=0.1
        Fraction of the steps spent warming the learning rate up.
    """

    def __init__(self, network: ForecastNetwork, loss: str = "mse", lr: float = 1e-3,
                 weight_decay: float = 1e-4, max_epochs: int = 20,
                 warmup: float = 0.1) -> None:
        super().__init__()
        self.network = network
        self.loss = loss
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.warmup = warmup
        self.register_buffer("levels", torch.tensor(network.quantiles), persistent=False)

    def _loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        point, q = self.network(batch)
        target = batch["future_y"]  # (B, H, C)
        loss = pinball_loss(q, target, self.levels.to(q.dtype))
        if self.loss == "mse":
            loss = loss + F.mse_loss(point, target)
        elif self.loss == "mae":
            loss = loss + F.l1_loss(point, target)
        elif self.loss == "huber":
            loss = loss + F.huber_loss(point, target)
        aux = getattr(self.network.backbone, "aux_loss", None)  # mixture-of-experts balance
        if isinstance(aux, torch.Tensor):
            loss = loss + aux
        return loss

    def _check_finite(self, loss: torch.Tensor, stage: str) -> None:
        if not torch.isfinite(loss.detach()).item():
            raise TrainingDivergedError(
                f"The {stage} loss became {loss.item()} in epoch {self.current_epoch + 1} of "
                f"{self.max_epochs}. Lower lr, check the data for extreme values, or keep "
                "gradient clipping on (gradient_clip_val)."
            )

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._loss(batch)
        self._check_finite(loss, "training")
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True,
                 batch_size=batch["past_y"].shape[0])
        return loss

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        loss = self._loss(batch)
        self._check_finite(loss, "validation")
        self.log("val_loss", loss, on_step=False, on_epoch=True, prog_bar=True,
                 sync_dist=True, batch_size=batch["past_y"].shape[0])

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(param_groups(self.network, self.weight_decay),
                                      lr=self.lr)
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, warmup_cosine(total, self.warmup))
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def warmup_cosine(total: int, warmup: float, floor: float = 0.01):
    """Learning-rate factor per step: linear warm-up, then cosine decay to ``floor``.

    Written out rather than ``OneCycleLR``, which divides by zero when a short run has
    fewer warm-up steps than one.
    """
    n_warm = max(1, round(warmup * total))

    def factor(step: int) -> float:
        if step < n_warm:
            return (step + 1) / n_warm
        progress = min(1.0, (step - n_warm) / max(1, total - n_warm))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


class KeepBestWeights(pl.Callback):
    """Keep a CPU copy of the weights of the epoch with the lowest validation loss.

    Without validation (no ``val_loss`` logged) the weights of the last epoch are kept.
    After training, :attr:`best_state` holds the weights to restore, :attr:`best_epoch`
    their 1-based epoch and :attr:`val_history` the validation loss of every epoch.
    With ``include_start``, the validation loop Lightning runs before training (its
    sanity check, over every batch: ``num_sanity_val_steps=-1``) scores the starting
    weights as epoch 0, first in :attr:`val_history`; they are kept if no epoch beats
    them.
    """

    def __init__(self, monitor: str = "val_loss", include_start: bool = False) -> None:
        self.monitor = monitor
        self.include_start = include_start
        self.best_score: float | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_epoch: int | None = None
        self.val_history: list[float] = []

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        score = trainer.callback_metrics.get(self.monitor)
        if score is None or (trainer.sanity_checking and not self.include_start):
            return
        score = float(score)
        self.val_history.append(score)
        if self.best_score is None or score < self.best_score:
            self.best_score = score
            self._keep(pl_module, -1 if trainer.sanity_checking else trainer.current_epoch)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.val_history:  # no validation: the latest weights are the result
            self._keep(pl_module, trainer.current_epoch)

    # Saved into (and restored from) Lightning checkpoints, so a resumed fit keeps the
    # best epoch found before the interruption.
    def state_dict(self) -> dict[str, Any]:
        return {"best_score": self.best_score, "best_state": self.best_state,
                "best_epoch": self.best_epoch, "val_history": list(self.val_history)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best_score = state_dict["best_score"]
        self.best_state = state_dict["best_state"]
        self.best_epoch = state_dict["best_epoch"]
        self.val_history = list(state_dict["val_history"])

    def _keep(self, pl_module: pl.LightningModule, epoch: int) -> None:
        self.best_epoch = epoch + 1
        self.best_state = {k: v.detach().to("cpu", copy=True)
                           for k, v in pl_module.network.state_dict().items()}
