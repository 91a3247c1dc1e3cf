"""The part every backbone shares: input projection, residual layers, final norm."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from tsssm._validation import check_int, check_real
from tsssm.exceptions import DataError
from tsssm.nn.norm import make_norm

__all__ = ["Backbone"]


class Backbone(nn.Module):
    """Base class of the sequence backbones: ``norm_f(layers(in_proj(x)))``.

    Subclasses build ``self.layers``, a list of :class:`~tsssm.nn.blocks.ResidualBlock`,
    by passing them to ``__init__``; everything else (shape checks, the forward pass,
    state allocation and stepping) is shared.

    Shapes
    ------
    forward : x (B, L, d_input) -> (B, L, d_model)
    step : x_t (B, d_input) -> (B, d_model); the state is a list with one entry per
        residual block, to be treated as opaque.
    forward_with_state : x (B, L, d_input) -> ((B, L, d_model), state after x), so that
        streaming can start from a context window read in one parallel pass.

    Examples
    --------
    Every backbone (here :class:`~tsssm.nn.S4Backbone`) reads a whole window in one
    parallel pass and can then continue step by step from the state it ends in:

    >>> import torch
    >>> from tsssm.nn import Backbone, S4Backbone
    >>> net = S4Backbone(d_input=1, d_model=8, n_layers=1, d_state=4).eval()
    >>> isinstance(net, Backbone)
    True
    >>> x = torch.randn(2, 6, 1)  # (B, L, d_input)
    >>> y, state = net.forward_with_state(x[:, :5])
    >>> y_t, state = net.step(x[:, 5], state)
    >>> torch.allclose(y_t, net(x)[:, 5], atol=1e-4)
    True
    """

    def __init__(
        self,
        d_input: int,
        d_model: int,
        n_layers: int,
        dropout: float,
        norm: str,
        *,
        owner: str,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.d_input = check_int(d_input, "d_input", owner=owner, min_value=1)
        self.d_model = check_int(d_model, "d_model", owner=owner, min_value=1)
        self.n_layers = check_int(n_layers, "n_layers", owner=owner, min_value=1)
        self.dropout = check_real(dropout, "dropout", owner=owner, min_value=0.0,
                                  max_value=1.0, max_inclusive=False)
        self.norm = norm
        self._owner = owner
        self.in_proj = nn.Linear(d_input, d_model, device=device, dtype=dtype)
        self.layers = nn.ModuleList()
        self.norm_f = make_norm(norm, d_model, owner=owner, device=device, dtype=dtype)

    def _check_input(self, x: torch.Tensor, ndim: int, what: str) -> None:
        if x.ndim != ndim or x.shape[-1] != self.d_input:
            raise DataError(
                f"{self._owner} expects {what} with last axis d_input={self.d_input}. "
                f"Got shape {tuple(x.shape)}."
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the backbone over whole sequences x (B, L, d_input) -> (B, L, d_model)."""
        self._check_input(x, 3, "x of shape (batch, length, d_input)")
        h = self.in_proj(x)  # (B, L, d_model)
        for layer in self.layers:
            h = layer(h)
        return self.norm_f(h)

    def allocate_state(self, batch_size: int) -> list[Any]:
        """The state before the first :meth:`step`: one entry per residual block."""
        batch_size = check_int(batch_size, "batch_size", owner=self._owner, min_value=1)
        return [layer.allocate_state(batch_size) for layer in self.layers]

    def step(self, x_t: torch.Tensor, state: list[Any]) -> tuple[torch.Tensor, list[Any]]:
        """Advance by one time step: x_t (B, d_input) -> (y_t (B, d_model), new state).

        Stepping through a sequence from :meth:`allocate_state` gives the outputs of
        :meth:`forward` on that sequence, one position at a time.
        """
        self._check_input(x_t, 2, "x_t of shape (batch, d_input)")
        if len(state) != len(self.layers):
            raise DataError(
                f"{self._owner}.step got a state with {len(state)} entries; expected "
                f"{len(self.layers)} (one per block). Use allocate_state() to make one."
            )
        h = self.in_proj(x_t)  # (B, d_model)
        new_state = []
        for layer, s in zip(self.layers, state, strict=True):
            h, s = layer.step(h, s)
            new_state.append(s)
        return self.norm_f(h), new_state

    def forward_with_state(self, x: torch.Tensor) -> tuple[torch.Tensor, list[Any]]:
        """``forward(x)`` and the state that stepping through x would end in.

        Use it to prime streaming from a context window in one parallel pass: the
        :meth:`step` calls that follow continue exactly where x ends.
        """
        return self._forward_with_state(x, {})

    def _forward_with_state(
        self, x: torch.Tensor, kwargs: dict[type, dict[str, Any]]
    ) -> tuple[torch.Tensor, list[Any]]:
        """Shared body; ``kwargs`` maps a mixer type to extra arguments for its blocks."""
        self._check_input(x, 3, "x of shape (batch, length, d_input)")
        h = self.in_proj(x)  # (B, L, d_model)
        state = []
        for layer in self.layers:
            h, s = layer.forward_with_state(h, **kwargs.get(type(layer.mixer), {}))
            state.append(s)
        return self.norm_f(h), state

    def extra_repr(self) -> str:
        return (
            f"d_input={self.d_input}, d_model={self.d_model}, n_layers={self.n_layers}, "
            f"dropout={self.dropout}, norm={self.norm!r}"
        )
