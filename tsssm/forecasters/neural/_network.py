"""The forecasting network: lookback window in, direct multi-horizon forecast out.

One architecture serves all four neural forecasters; only the sequence backbone (S4,
S5, Mamba, hybrid) differs::

    past y (B, L, C) --RevIN--> z
    tokens [z, past covariates, static, id embedding] (B, L, F)
        --patching (optional)--> (B, P, F * patch_len)
        --backbone--> output at the last position, ctx (B, d_model)
    forecast (normalised) = point head(ctx) (B, H, C)   [quantile head: (B, H, C, Q)]
                          + linear skip(z) (L -> H)
                          + shift(ctx, future covariates) (B, H, C)
    forecast = forecast (normalised) * window scale + window mean

The network predicts in RevIN-normalised units and maps back with the window's own
mean and scale. The skip and the future-covariate term are location shifts added to
the point forecast and equally to every quantile, so quantiles stay ordered (the
quantile head itself never crosses).

The backbone's output at the last position is all the heads read, so the recurrent
view of the backbone (``allocate_state`` / ``step``) yields the same forecast as its
parallel ``forward``: :meth:`ForecastNetwork.context` offers both.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tsssm.nn.heads import LinearHead, QuantileHead
from tsssm.nn.revin import RevIN

__all__ = ["DEFAULT_QUANTILES", "SKIP_MODES", "ForecastNetwork", "n_patches", "skip_mode"]

#: Quantile levels learned by default: enough for 50/80/90/95/98% intervals.
DEFAULT_QUANTILES = (0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8,
                     0.9, 0.95, 0.975, 0.99)


#: How the linear skip starts and learns (see ``ForecastNetwork``).
SKIP_MODES = ("ridge", "learned")


def skip_mode(linear_skip: bool | str | None) -> str | None:
    """Canonical skip mode: True means "ridge", False/None no skip."""
    if linear_skip is True:
        return "ridge"
    if linear_skip is False or linear_skip is None:
        return None
    return linear_skip


def n_patches(lookback: int, patch_len: int | None, patch_stride: int | None) -> int:
    """Length P of the backbone's input sequence (L without patching)."""
    if patch_len is None:
        return lookback
    return (lookback - patch_len) // (patch_stride or patch_len) + 1


class _FutureCovariates(nn.Module):
    """Per-step location shift from covariates known in the future.

    ``shift[k] = W_o gelu(W_c ctx + W_f cov[k] + e_k)``: the context says what the series
    is doing, the covariates where the step lies in the calendar (or the user's known
    future inputs), and a learned step embedding ``e_k`` which step it is.
    """

    def __init__(self, d_model: int, n_covariates: int, horizon: int, n_channels: int):
        super().__init__()
        self.ctx = nn.Linear(d_model, d_model)
        self.cov = nn.Linear(n_covariates, d_model, bias=False)
        self.step_embedding = nn.Parameter(torch.zeros(horizon, d_model))
        self.out = nn.Linear(d_model, n_channels)

    def forward(self, ctx: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
        h = cov.shape[1]
        hidden = self.ctx(ctx)[:, None] + self.cov(cov) + self.step_embedding[:h]  # (B, h, D)
        return self.out(F.gelu(hidden))  # (B, h, C)


class ForecastNetwork(nn.Module):
    """Direct multi-horizon forecaster around a sequence backbone.

    Parameters
    ----------
    backbone : torch.nn.Module
        Maps (B, P, d_input) to (B, P, d_model), with ``allocate_state``/``step`` for
        the recurrent view and attributes ``d_input`` and ``d_model``; build it with
        ``d_input=ForecastNetwork.input_size(...)``.
    n_channels : int
        Target channels C per sequence (1 when each series is its own sequence).
    lookback : int
        Past values L read by each forecast.
    horizon : int
        Steps H forecast at once.
    n_covariates : int, default=0
        Future-known covariates K per step (calendar + exogenous), already scaled.
    static : torch.Tensor of shape (S, K_s) or None, default=None
        Static features of the S series (already scaled); rows are looked up by the
        ``series`` position of each window.
    n_series : int, default=1
        Number of series S (rows of the id embedding).
    id_embedding : int, default=0
        Width of a learned per-series embedding appended to every step's input; 0
        disables it.
    patch_len, patch_stride : int or None, default=None
        Group the window into patches of ``patch_len`` steps, ``patch_stride`` apart
        (default: ``patch_len``, no overlap), aligned so the last patch ends at the last
        observation; the backbone then reads P = (L - patch_len) // stride + 1 tokens.
    quantiles : tuple of float, default=DEFAULT_QUANTILES
        Levels of the quantile head.
    point_head : bool, default=True
        Also learn a separate point forecast (for the point losses).
    linear_skip : {"ridge", "learned"}, bool or None, default="ridge"
        Add a linear map from the normalised window to the horizon (shared by channels):
        a strong linear baseline the backbone only needs to correct. ``"ridge"`` (or
        True): the estimator solves it by weighted ridge least squares before training
        (``fit_ridge_skip``) and it stays
        fixed; the point head and the future-covariate term start at zero, so the
        untrained network *is* that linear forecaster. ``"learned"``: starts at zero and
        is trained with the rest. False or None: no skip.

    Shapes
    ------
    forward : batch dict (see :class:`~tsssm.data.windows.WindowDataset`) ->
        point (B, H, C) or None, quantiles (B, H, C, Q), in the units of ``past_y``.
    """

    def __init__(
        self,
        backbone: nn.Module,
        *,
        n_channels: int,
        lookback: int,
        horizon: int,
        n_covariates: int = 0,
        static: torch.Tensor | None = None,
        n_series: int = 1,
        id_embedding: int = 0,
        patch_len: int | None = None,
        patch_stride: int | None = None,
        quantiles: tuple[float, ...] = DEFAULT_QUANTILES,
        point_head: bool = True,
        linear_skip: bool | str | None = "ridge",
    ) -> None:
        super().__init__()
        self.n_channels = C = n_channels
        self.lookback = lookback
        self.horizon = horizon
        self.n_covariates = n_covariates
        self.patch_len = patch_len
        self.patch_stride = (patch_stride or patch_len) if patch_len else None
        self.backbone = backbone
        d_model = backbone.d_model
        self.revin = RevIN(C, affine=False)  # affine=False: a negative learned scale
        # would flip the order of the quantiles when denormalising.
        self.register_buffer("static", None if static is None else static.float())
        self.id_embedding = nn.Embedding(n_series, id_embedding) if id_embedding else None
        self.quantile_head = QuantileHead(d_model, horizon, quantiles, n_targets=C)
        self.quantiles = self.quantile_head.quantiles
        self.point_head = LinearHead(d_model, horizon, n_targets=C) if point_head else None
        self.skip_mode = skip_mode(linear_skip)
        if self.skip_mode not in (None, *SKIP_MODES):
            raise ValueError(f"linear_skip must be one of {SKIP_MODES}, True, False or None. "
                             f"Got {linear_skip!r}.")
        self.skip = nn.Linear(lookback, horizon) if self.skip_mode else None
        if self.skip is not None:
            # Start the skip at "repeat the window mean" (zero in normalised units) so the
            # first epochs are not spent undoing a random linear map; "ridge" overwrites
            # it with the least-squares map before training.
            nn.init.zeros_(self.skip.weight)
            nn.init.zeros_(self.skip.bias)
        self.future = _FutureCovariates(d_model, n_covariates, horizon, C) \
            if n_covariates else None
        if self.skip_mode == "ridge":
            # The fitted linear map stays fixed, and the other point terms start at zero:
            # training begins at the linear forecaster and the backbone learns what it
            # misses, instead of SGD noise pulling the linear part off its optimum.
            self.skip.requires_grad_(False)
            if self.point_head is not None:
                nn.init.zeros_(self.point_head.proj.weight)
                nn.init.zeros_(self.point_head.proj.bias)
            if self.future is not None:
                nn.init.zeros_(self.future.out.weight)
                nn.init.zeros_(self.future.out.bias)
        expected = self.input_size(C, n_covariates, 0 if static is None else static.shape[1],
                                   id_embedding, patch_len)
        if backbone.d_input != expected:
            raise ValueError(
                f"The backbone was built for d_input={backbone.d_input}; this network feeds "
                f"it {expected} features per token."
            )

    @staticmethod
    def input_size(n_channels: int, n_covariates: int, n_static: int, id_embedding: int,
                   patch_len: int | None) -> int:
        """Features per backbone token: (C + K + K_s + E) per step, times patch_len."""
        per_step = n_channels + n_covariates + n_static + id_embedding
        return per_step * (patch_len or 1)

    # ---------------------------------------------------------------- encoder
    def _tokens(self, past_y: torch.Tensor, past_cov: torch.Tensor | None,
                series: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                               torch.Tensor]:
        """Normalise the window and build the backbone's input tokens.

        Returns tokens (B, P, d_input), the normalised window z (B, L, C) and the
        window's mean and scale, each (B, 1, C).
        """
        z = self.revin.normalize(past_y)  # (B, L, C)
        mean, std = self.revin.mean, self.revin.stdev
        B, L, _ = z.shape
        parts = [z]
        if self.n_covariates:
            parts.append(past_cov.to(z.dtype))
        if self.static is not None:
            parts.append(self.static[series][:, None].to(z.dtype).expand(B, L, -1))
        if self.id_embedding is not None:
            parts.append(self.id_embedding(series)[:, None].to(z.dtype).expand(B, L, -1))
        u = torch.cat(parts, dim=-1) if len(parts) > 1 else z  # (B, L, F)
        if self.patch_len is not None:
            P = n_patches(L, self.patch_len, self.patch_stride)
            # Patch starts aligned to the end of the window: the newest step is never dropped.
            starts = L - self.patch_len - self.patch_stride * torch.arange(
                P - 1, -1, -1, device=u.device)
            rows = starts[:, None] + torch.arange(self.patch_len, device=u.device)  # (P, p)
            u = u[:, rows].reshape(B, P, -1)  # (B, P, patch_len * F)
        return u, z, mean, std

    def context(self, past_y: torch.Tensor, past_cov: torch.Tensor | None,
                series: torch.Tensor, recurrent: bool = False) -> dict[str, torch.Tensor]:
        """Everything the heads need from a window: its encoding and statistics.

        Parameters
        ----------
        past_y : torch.Tensor of shape (B, L, C)
        past_cov : torch.Tensor of shape (B, L, K) or None
        series : torch.Tensor of shape (B,), int64
        recurrent : bool, default=False
            Step the backbone through the tokens one at a time (its recurrent view)
            instead of running its parallel forward; the result is the same up to
            floating-point rounding.

        Returns
        -------
        dict with ``ctx`` (B, d_model), ``z`` (B, L, C), ``mean`` and ``std`` (B, 1, C).
        """
        u, z, mean, std = self._tokens(past_y, past_cov, series)
        if recurrent:
            state = self.backbone.allocate_state(u.shape[0])
            for t in range(u.shape[1]):
                out, state = self.backbone.step(u[:, t], state)  # (B, d_model)
            ctx = out
        else:
            ctx = self.backbone(u)[:, -1]  # (B, d_model)
        return {"ctx": ctx, "z": z, "mean": mean, "std": std}

    # ---------------------------------------------------------------- decoder
    def decode(self, context: dict[str, torch.Tensor], future_cov: torch.Tensor | None,
               h: int | None = None) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Forecast the first ``h`` (default H) steps from a :meth:`context`.

        Returns point (B, h, C) or None, and quantiles (B, h, C, Q), denormalised.
        """
        h = self.horizon if h is None else h
        ctx, z = context["ctx"], context["z"]
        mean, std = context["mean"], context["std"]  # (B, 1, C)
        seq = ctx[:, None]  # (B, 1, d_model): the heads pool the last position
        shift = torch.zeros(ctx.shape[0], h, self.n_channels, device=ctx.device,
                            dtype=ctx.dtype)
        if self.skip is not None:
            shift = shift + self.skip(z.transpose(1, 2)).transpose(1, 2)[:, :h]  # (B, h, C)
        if self.future is not None:
            shift = shift + self.future(ctx, future_cov[:, :h].to(ctx.dtype))
        q = self.quantile_head(seq)[:, :h] + shift[..., None]  # (B, h, C, Q)
        q = q * std[..., None] + mean[..., None]
        point = None
        if self.point_head is not None:
            point = (self.point_head(seq)[:, :h] + shift) * std + mean  # (B, h, C)
        return point, q

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor | None,
                                                                torch.Tensor]:
        context = self.context(batch["past_y"], batch.get("past_cov"), batch["series"])
        return self.decode(context, batch.get("future_cov"))

    def point_from(self, point: torch.Tensor | None, q: torch.Tensor) -> torch.Tensor:
        """The point forecast: the point head's, else the median read off the quantiles."""
        if point is not None:
            return point
        return interpolate_quantiles(q, self.quantiles, (0.5,))[..., 0]


def interpolate_quantiles(q: torch.Tensor, levels: tuple[float, ...],
                          wanted: tuple[float, ...]) -> torch.Tensor:
    """Quantiles at ``wanted`` levels, linearly interpolated between learned ``levels``.

    ``q`` has the learned levels on its last axis; every wanted level must lie within
    ``[levels[0], levels[-1]]``. Returns ``q`` with a last axis of ``len(wanted)``.
    """
    lv = torch.tensor(levels, dtype=q.dtype, device=q.device)
    out = []
    for w in wanted:
        j = int(torch.searchsorted(lv, torch.tensor(w, dtype=q.dtype)).item())
        if j < len(levels) and math.isclose(levels[j], w, rel_tol=0, abs_tol=1e-12):
            out.append(q[..., j])
            continue
        lo, hi = max(j - 1, 0), min(j, len(levels) - 1)
        weight = 0.0 if hi == lo else (w - levels[lo]) / (levels[hi] - levels[lo])
        out.append(q[..., lo] * (1 - weight) + q[..., hi] * weight)
    return torch.stack(out, dim=-1)
