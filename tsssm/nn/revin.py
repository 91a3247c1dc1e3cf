"""Reversible instance normalisation (RevIN, Kim et al., ICLR 2022)."""

from __future__ import annotations

import torch
from torch import nn

from tsssm._validation import check_bool, check_int, check_real
from tsssm.exceptions import DataError

__all__ = ["RevIN"]


class RevIN(nn.Module):
    """Normalise each input window by its own mean and scale, and undo it on the output.

    Every series in a batch is standardised over its time axis before the network sees
    it (removing level and scale that differ between windows, the source of much
    distribution shift in forecasting), and the forecast is mapped back with the same
    statistics. With ``affine=True`` a learned per-channel scale and shift are applied
    after standardising and removed before de-standardising.

    Parameters
    ----------
    num_features : int
        Number of channels C.
    affine : bool, default=True
        Learn a per-channel scale (initialised to 1) and shift (initialised to 0).
    eps : float, default=1e-5
        Added to the variance, so a constant window maps to zeros instead of NaN; also
        the smallest magnitude the affine scale is divided by in :meth:`denormalize`.
    device, dtype : optional
        Where and in what floating type the affine parameters are created.

    Shapes
    ------
    normalize : x (B, L, C) -> (B, L, C); stores mean and scale of shape (B, 1, C).
    denormalize : y (B, H, C) or (B, H, C, Q) -> same shape. When C == 1, y may also be
        (B, H) or (B, H, Q) (point or quantile forecasts of one series).

    Notes
    -----
    The statistics are detached from the graph, as in the reference implementation of
    RevIN: they are treated as constants of each window, so gradients do not flow
    through the mean and variance. Call :meth:`normalize` and :meth:`denormalize` on the
    same batch; the statistics of the last :meth:`normalize` call are used.

    Examples
    --------
    >>> import torch
    >>> revin = RevIN(2)
    >>> x = torch.randn(4, 24, 2) * 10 + 3
    >>> z = revin.normalize(x)
    >>> torch.allclose(revin.denormalize(z), x, atol=1e-4)
    True
    """

    def __init__(
        self,
        num_features: int,
        affine: bool = True,
        eps: float = 1e-5,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.num_features = check_int(num_features, "num_features", owner="RevIN", min_value=1)
        self.affine = check_bool(affine, "affine", owner="RevIN")
        self.eps = check_real(eps, "eps", owner="RevIN", min_value=0.0, min_inclusive=False)
        if self.affine:
            kw = {"device": device, "dtype": dtype}
            self.affine_weight = nn.Parameter(torch.ones(num_features, **kw))
            self.affine_bias = nn.Parameter(torch.zeros(num_features, **kw))
        self.mean: torch.Tensor | None = None
        self.stdev: torch.Tensor | None = None

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Standardise ``x`` (B, L, C) over time and remember the statistics."""
        if x.ndim != 3 or x.shape[-1] != self.num_features:
            raise DataError(
                f"RevIN.normalize expects a tensor of shape (batch, length, "
                f"{self.num_features}). Got shape {tuple(x.shape)}."
            )
        self.mean = x.mean(dim=1, keepdim=True).detach()  # (B, 1, C)
        var = x.var(dim=1, keepdim=True, unbiased=False)
        self.stdev = torch.sqrt(var + self.eps).detach()  # (B, 1, C)
        z = (x - self.mean) / self.stdev
        if self.affine:
            z = z * self.affine_weight + self.affine_bias
        return z

    def denormalize(self, y: torch.Tensor) -> torch.Tensor:
        """Map a forecast made in normalised units back to the scale of the input."""
        if self.mean is None or self.stdev is None:
            raise RuntimeError("RevIN.denormalize was called before normalize.")
        C = self.num_features
        B = self.mean.shape[0]
        if C == 1 and y.ndim >= 2 and y.shape[0] == B:
            # One channel: broadcast (B,) statistics over every other axis of y.
            view = (B,) + (1,) * (y.ndim - 1)
            mean, stdev = self.mean.reshape(view), self.stdev.reshape(view)
            weight_view = (1,) * y.ndim
        elif y.ndim >= 3 and y.shape[0] == B and y.shape[2] == C:
            view = (B, 1, C) + (1,) * (y.ndim - 3)  # trailing axes, e.g. quantiles
            mean, stdev = self.mean.reshape(view), self.stdev.reshape(view)
            weight_view = (1, 1, C) + (1,) * (y.ndim - 3)
        else:
            one = f" or ({B}, H) or ({B}, H, Q)" if C == 1 else ""
            raise DataError(
                f"RevIN.denormalize expects a forecast of shape ({B}, H, {C}) or "
                f"({B}, H, {C}, Q){one}, matching the last normalize call. "
                f"Got shape {tuple(y.shape)}."
            )
        if self.affine:
            w = self.affine_weight.reshape(weight_view)
            # Dividing by a scale that training drove to ~0 would blow up the output.
            w = torch.where(w.abs() < self.eps, torch.full_like(w, self.eps).copysign(w), w)
            y = (y - self.affine_bias.reshape(weight_view)) / w
        return y * stdev + mean

    def extra_repr(self) -> str:
        return f"{self.num_features}, affine={self.affine}, eps={self.eps}"
