"""Building blocks shared by the backbones: the pre-norm residual block and the MLP.

Every sequence mixer in ``tsssm.nn`` follows one protocol, which the residual block and
the backbones rely on:

- ``forward(x)``: x (B, L, d_model) -> (B, L, d_model), causal along L;
- ``allocate_state(batch_size, **kw)``: the state before the first step (``None`` for a
  position-wise layer);
- ``step(x_t, state)``: x_t (B, d_model) -> (y_t (B, d_model), new_state), so that
  stepping through a sequence reproduces ``forward``;
- ``forward_with_state(x, **kw)``: ``forward`` plus the state that stepping through x from
  ``allocate_state`` would end in, computed in parallel (to prime streaming from a
  whole context window without a Python loop over it).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tsssm._validation import check_int, check_real
from tsssm.nn.norm import make_norm

__all__ = ["MLP", "GLUOutput", "ResidualBlock"]


class ResidualBlock(nn.Module):
    """Pre-norm residual block: ``x + dropout(mixer(norm(x)))``.

    Normalising the input of each sublayer (rather than its output) keeps the residual
    stream an identity path, which is what lets deep stacks train without warm-up.

    Parameters
    ----------
    mixer : torch.nn.Module
        A sequence mixer or position-wise layer following the protocol of this module.
    d_model : int
        Channels of the residual stream.
    norm : {"rmsnorm", "layernorm"}, default="rmsnorm"
        Normalisation applied before the mixer.
    dropout : float, default=0.0
        Dropout on the mixer output, in training mode only.
    device, dtype : optional
        Where and in what floating type the norm's parameters are created.

    Shapes
    ------
    forward : x (B, L, d_model) -> (B, L, d_model)
    step : x_t (B, d_model) -> (B, d_model)

    Examples
    --------
    >>> import torch
    >>> from tsssm.nn import MLP, ResidualBlock
    >>> block = ResidualBlock(MLP(d_model=8, d_hidden=16), d_model=8)
    >>> x = torch.randn(2, 5, 8)  # (B, L, d_model)
    >>> block(x).shape
    torch.Size([2, 5, 8])
    """

    def __init__(
        self,
        mixer: nn.Module,
        d_model: int,
        norm: str = "rmsnorm",
        dropout: float = 0.0,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        d_model = check_int(d_model, "d_model", owner="ResidualBlock", min_value=1)
        dropout = check_real(dropout, "dropout", owner="ResidualBlock", min_value=0.0,
                             max_value=1.0, max_inclusive=False)
        self.norm = make_norm(norm, d_model, owner="ResidualBlock", device=device, dtype=dtype)
        self.mixer = mixer
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.dropout(self.mixer(self.norm(x)))

    def allocate_state(self, batch_size: int, **kwargs: Any) -> Any:
        """The mixer's initial state (``None`` for a position-wise mixer)."""
        return self.mixer.allocate_state(batch_size, **kwargs)

    def step(self, x_t: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        y_t, state = self.mixer.step(self.norm(x_t), state)
        return x_t + self.dropout(y_t), state

    def forward_with_state(self, x: torch.Tensor, **kwargs: Any) -> tuple[torch.Tensor, Any]:
        """``forward(x)`` and the mixer's state after the last position of x."""
        y, state = self.mixer.forward_with_state(self.norm(x), **kwargs)
        return x + self.dropout(y), state


class _PositionWise(nn.Module):
    """Mixin for layers that act on each position alone: trivial state and step."""

    def allocate_state(self, batch_size: int, **kwargs: Any) -> None:
        return None

    def step(self, x_t: torch.Tensor, state: None) -> tuple[torch.Tensor, None]:
        return self(x_t[:, None])[:, 0], state  # (B, 1, D) -> (B, D)

    def forward_with_state(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self(x), None


class MLP(_PositionWise):
    """Position-wise feed-forward layer ``W2 gelu(W1 x)``.

    Parameters
    ----------
    d_model : int
        Input and output channels.
    d_hidden : int
        Hidden width.
    device, dtype : optional
        Where and in what floating type the weights are created.

    Shapes
    ------
    x : (..., d_model) -> (..., d_model)

    Examples
    --------
    >>> import torch
    >>> from tsssm.nn import MLP
    >>> mlp = MLP(d_model=8, d_hidden=16)
    >>> mlp(torch.randn(2, 5, 8)).shape  # (B, L, d_model)
    torch.Size([2, 5, 8])
    """

    def __init__(
        self,
        d_model: int,
        d_hidden: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_int(d_model, "d_model", owner="MLP", min_value=1)
        check_int(d_hidden, "d_hidden", owner="MLP", min_value=1)
        kw = {"device": device, "dtype": dtype}
        self.fc1 = nn.Linear(d_model, d_hidden, **kw)
        self.fc2 = nn.Linear(d_hidden, d_model, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class GLUOutput(nn.Module):
    """Output mixing of an SSM layer: ``GLU(W gelu(y))`` over the channel axis.

    The SSM itself mixes only along time, each channel on its own; this position-wise
    gated linear map is where channels talk to each other (S4D's minimal layer uses the
    same GELU, then a width-doubling linear map halved again by a GLU).

    Shapes
    ------
    y : (..., d_model) -> (..., d_model)

    Examples
    --------
    >>> import torch
    >>> from tsssm.nn import GLUOutput
    >>> mix = GLUOutput(d_model=8)
    >>> mix(torch.randn(2, 5, 8)).shape  # (B, L, d_model)
    torch.Size([2, 5, 8])
    """

    def __init__(
        self,
        d_model: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(d_model, 2 * d_model, device=device, dtype=dtype)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return F.glu(self.linear(F.gelu(y)), dim=-1)
