"""Normalisation layers over the channel axis, and the ``norm=`` option that picks one."""

from __future__ import annotations

import torch
from torch import nn

from tsssm._validation import check_int, check_option, check_real

__all__ = ["NORMS", "RMSNorm", "make_norm"]

#: Names accepted by the ``norm`` parameter of blocks and backbones.
NORMS = ("rmsnorm", "layernorm")


class RMSNorm(nn.Module):
    """Root-mean-square normalisation over the last axis, with a learned gain.

    ``y = x / sqrt(mean(x**2, -1) + eps) * weight``. Unlike LayerNorm it does not
    subtract the mean, which is cheaper and works as well in pre-norm residual stacks.

    Parameters
    ----------
    d_model : int
        Size of the last axis.
    eps : float, default=1e-6
        Added to the mean square so that an all-zero input stays finite.
    device, dtype : optional
        Where and in what floating type the gain is created.

    Shapes
    ------
    x : (..., d_model) -> (..., d_model)

    Examples
    --------
    >>> import torch
    >>> from tsssm.nn import RMSNorm
    >>> norm = RMSNorm(d_model=2)
    >>> norm(torch.tensor([[3.0, 4.0]]))  # root mean square of (3, 4) is sqrt(12.5)
    tensor([[0.8485, 1.1314]], grad_fn=<MulBackward0>)
    """

    def __init__(
        self,
        d_model: int,
        eps: float = 1e-6,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.d_model = check_int(d_model, "d_model", owner="RMSNorm", min_value=1)
        self.eps = check_real(eps, "eps", owner="RMSNorm", min_value=0.0, min_inclusive=False)
        self.weight = nn.Parameter(torch.ones(d_model, device=device, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Half-precision inputs are normalised in float32; float64 stays float64.
        work = torch.promote_types(x.dtype, torch.float32)
        xw = x.to(work)
        y = xw * torch.rsqrt(xw.pow(2).mean(-1, keepdim=True) + self.eps)
        return (y * self.weight.to(work)).to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.d_model}, eps={self.eps}"


def make_norm(
    norm: str,
    d_model: int,
    *,
    owner: str | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """Return the normalisation layer named by ``norm`` ("rmsnorm" or "layernorm").

    Parameters
    ----------
    norm : {"rmsnorm", "layernorm"}
        Which normalisation.
    d_model : int
        Size of the normalised last axis.
    owner : str or None, default=None
        Class whose parameter ``norm`` is, named in the error message.
    device, dtype : optional
        Where and in what floating type the parameters are created.

    Returns
    -------
    torch.nn.Module
        :class:`RMSNorm` or :class:`torch.nn.LayerNorm`, mapping (..., d_model) to
        (..., d_model).

    Examples
    --------
    >>> from tsssm.nn import make_norm
    >>> make_norm("rmsnorm", 8)
    RMSNorm(8, eps=1e-06)
    >>> make_norm("layernorm", 8)
    LayerNorm((8,), ...)
    """
    check_option(norm, "norm", NORMS, owner=owner)
    if norm == "rmsnorm":
        return RMSNorm(d_model, device=device, dtype=dtype)
    return nn.LayerNorm(d_model, device=device, dtype=dtype)
