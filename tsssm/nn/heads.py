"""Direct multi-horizon output heads: point forecasts and non-crossing quantiles."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tsssm._validation import check_int, check_option, check_quantiles
from tsssm.exceptions import DataError

__all__ = ["HEAD_POOLING", "LinearHead", "QuantileHead"]

#: Ways a head reduces the backbone's sequence output (B, L, d_model) to one vector.
HEAD_POOLING = ("last", "flatten")


class _DirectHead(nn.Module):
    """Shared part of the heads: pool the sequence, then one linear map to all outputs."""

    def __init__(
        self,
        d_model: int,
        horizon: int,
        n_values: int,
        n_targets: int | None,
        pooling: str,
        lookback: int | None,
        owner: str,
        device: torch.device | str | None,
        dtype: torch.dtype | None,
    ) -> None:
        super().__init__()
        self.d_model = check_int(d_model, "d_model", owner=owner, min_value=1)
        self.horizon = check_int(horizon, "horizon", owner=owner, min_value=1)
        self.n_targets = check_int(n_targets, "n_targets", owner=owner, min_value=1,
                                   allow_none=True)
        self.pooling = check_option(pooling, "pooling", HEAD_POOLING, owner=owner)
        if pooling == "flatten":
            self.lookback = check_int(lookback, "lookback", owner=owner, min_value=1)
            in_features = self.lookback * d_model
        else:
            self.lookback = check_int(lookback, "lookback", owner=owner, min_value=1,
                                      allow_none=True)
            in_features = d_model
        self._owner = owner
        out = self.horizon * (self.n_targets or 1) * n_values
        self.proj = nn.Linear(in_features, out, device=device, dtype=dtype)

    def _project(self, h: torch.Tensor) -> torch.Tensor:
        """(B, L, d_model) -> (B, H, n_targets or 1, n_values)."""
        if h.ndim != 3 or h.shape[-1] != self.d_model:
            raise DataError(
                f"{self._owner} expects backbone output of shape (batch, length, "
                f"{self.d_model}). Got shape {tuple(h.shape)}."
            )
        if self.pooling == "last":
            pooled = h[:, -1]  # (B, d_model)
        else:
            if h.shape[1] != self.lookback:
                raise DataError(
                    f"{self._owner} with pooling='flatten' was built for length "
                    f"lookback={self.lookback}. Got length {h.shape[1]}."
                )
            pooled = h.reshape(h.shape[0], -1)  # (B, L * d_model)
        return self.proj(pooled).reshape(h.shape[0], self.horizon, self.n_targets or 1, -1)

    def extra_repr(self) -> str:
        return (
            f"d_model={self.d_model}, horizon={self.horizon}, n_targets={self.n_targets}, "
            f"pooling={self.pooling!r}, lookback={self.lookback}"
        )


class LinearHead(_DirectHead):
    """Direct multi-horizon linear head: all H future values from one linear map.

    Parameters
    ----------
    d_model : int
        Channels of the backbone output.
    horizon : int
        Number of future steps H produced at once.
    n_targets : int or None, default=None
        Number of forecast channels C. ``None`` gives one series without a channel axis.
    pooling : {"last", "flatten"}, default="last"
        ``"last"`` reads the final state ``h[:, -1]`` (which, for a causal backbone, has
        seen the whole window); ``"flatten"`` reads every position, concatenated, and
        needs ``lookback``.
    lookback : int or None, default=None
        Input length L; required by ``pooling="flatten"``.
    device, dtype : optional
        Where and in what floating type the weights are created.

    Shapes
    ------
    h : (B, L, d_model) -> (B, H) when ``n_targets`` is None, else (B, H, C).

    Examples
    --------
    >>> import torch
    >>> from tsssm.nn import LinearHead
    >>> h = torch.randn(4, 16, 8)  # (B, L, d_model), a backbone's output
    >>> LinearHead(d_model=8, horizon=3)(h).shape  # (B, H)
    torch.Size([4, 3])
    >>> LinearHead(d_model=8, horizon=3, n_targets=2)(h).shape  # (B, H, C)
    torch.Size([4, 3, 2])
    >>> LinearHead(d_model=8, horizon=3, pooling="flatten", lookback=16)(h).shape
    torch.Size([4, 3])
    """

    def __init__(
        self,
        d_model: int,
        horizon: int,
        n_targets: int | None = None,
        pooling: str = "last",
        lookback: int | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(d_model, horizon, 1, n_targets, pooling, lookback, "LinearHead",
                         device, dtype)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        out = self._project(h)[..., 0]  # (B, H, C)
        return out[..., 0] if self.n_targets is None else out


class QuantileHead(_DirectHead):
    """Direct multi-horizon head for quantile forecasts that never cross.

    The head predicts the quantile nearest to the median freely and builds the others
    outwards from it by adding (above) or subtracting (below) cumulative sums of
    softplus increments, so ``q[..., j] <= q[..., j + 1]`` holds for every input. The
    median estimate does not depend on the spread outputs, so a point forecast read
    from it is not pulled by the tails.

    Parameters
    ----------
    d_model : int
        Channels of the backbone output.
    horizon : int
        Number of future steps H produced at once.
    quantiles : sequence of float, default=(0.1, 0.5, 0.9)
        Quantile levels in (0, 1); they are sorted and de-duplicated, and the output's
        last axis follows that sorted order (see ``self.quantiles``).
    n_targets : int or None, default=None
        Number of forecast channels C. ``None`` gives one series without a channel axis.
    pooling : {"last", "flatten"}, default="last"
        As in :class:`LinearHead`.
    lookback : int or None, default=None
        Input length L; required by ``pooling="flatten"``.
    device, dtype : optional
        Where and in what floating type the weights are created.

    Shapes
    ------
    h : (B, L, d_model) -> (B, H, Q) when ``n_targets`` is None, else (B, H, C, Q).

    Examples
    --------
    >>> import torch
    >>> from tsssm.nn import QuantileHead
    >>> head = QuantileHead(d_model=8, horizon=3, quantiles=(0.9, 0.1, 0.5))
    >>> head.quantiles
    (0.1, 0.5, 0.9)
    >>> q = head(torch.randn(4, 16, 8))  # (B, L, d_model) -> (B, H, Q)
    >>> q.shape
    torch.Size([4, 3, 3])
    >>> bool((q.diff(dim=-1) >= 0).all())  # the quantiles never cross
    True
    """

    def __init__(
        self,
        d_model: int,
        horizon: int,
        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
        n_targets: int | None = None,
        pooling: str = "last",
        lookback: int | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        levels = check_quantiles(quantiles)
        super().__init__(d_model, horizon, len(levels), n_targets, pooling, lookback,
                         "QuantileHead", device, dtype)
        self.quantiles = levels
        # Index of the level closest to 0.5: the anchor the others grow away from.
        self.centre = min(range(len(levels)), key=lambda j: abs(levels[j] - 0.5))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        raw = self._project(h)  # (B, H, C, Q)
        m = self.centre
        anchor = raw[..., m : m + 1]  # (B, H, C, 1)
        above = anchor + torch.cumsum(F.softplus(raw[..., m + 1 :]), dim=-1)
        # Below the anchor, accumulate from the anchor outwards, then restore the order.
        gaps_below = torch.flip(F.softplus(raw[..., :m]), dims=(-1,))
        below = torch.flip(anchor - torch.cumsum(gaps_below, dim=-1), dims=(-1,))
        out = torch.cat([below, anchor, above], dim=-1)  # (B, H, C, Q)
        return out[:, :, 0] if self.n_targets is None else out

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, quantiles={self.quantiles}"
