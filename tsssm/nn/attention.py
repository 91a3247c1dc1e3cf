"""Causal multi-head self-attention with a key/value cache for step-by-step decoding."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tsssm._validation import check_bool, check_int, check_real
from tsssm.exceptions import DataError, ParameterError

__all__ = ["CausalSelfAttention"]


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t attends to positions <= t.

    No positional encoding is added: in a hybrid stack the Mamba layers before an
    attention layer already carry order information (Jamba works without one too).

    Parameters
    ----------
    d_model : int
        Channels of the input and output.
    n_heads : int, default=4
        Number of heads; must divide ``d_model``.
    dropout : float, default=0.0
        Dropout on the attention weights, in training mode only.
    bias : bool, default=False
        Whether the projections carry biases.
    device, dtype : optional
        Where and in what floating type the weights are created.

    Shapes
    ------
    forward : x (B, L, d_model) -> (B, L, d_model)
    step : x_t (B, d_model) -> (B, d_model), with a cache of keys and values

    Examples
    --------
    >>> import torch
    >>> from tsssm.nn import CausalSelfAttention
    >>> attn = CausalSelfAttention(d_model=8, n_heads=2)
    >>> x = torch.randn(3, 5, 8)  # (B, L, d_model)
    >>> attn(x).shape
    torch.Size([3, 5, 8])

    Position t does not see later positions: changing the last step leaves the
    earlier outputs as they were.

    >>> x2 = x.clone()
    >>> x2[:, -1] += 1.0
    >>> torch.allclose(attn(x)[:, :-1], attn(x2)[:, :-1])
    True
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int = 4,
        dropout: float = 0.0,
        bias: bool = False,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        owner = "CausalSelfAttention"
        self.d_model = check_int(d_model, "d_model", owner=owner, min_value=1)
        self.n_heads = check_int(n_heads, "n_heads", owner=owner, min_value=1)
        if d_model % n_heads:
            raise ParameterError(
                f"The 'n_heads' parameter of {owner} must divide d_model={d_model}. "
                f"Got {n_heads}."
            )
        self.dropout = check_real(dropout, "dropout", owner=owner, min_value=0.0,
                                  max_value=1.0, max_inclusive=False)
        bias = check_bool(bias, "bias", owner=owner)
        self.head_dim = d_model // n_heads
        kw = {"device": device, "dtype": dtype}
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=bias, **kw)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias, **kw)

    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, L, d_model) -> q, k, v each (B, n_heads, L, head_dim)."""
        B, L, _ = x.shape
        qkv = self.qkv(x).reshape(B, L, 3, self.n_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, nh, L, hd)
        return q, k, v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._attend(x)[0]

    def _attend(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Output (B, L, d_model), keys and values (B, n_heads, L, head_dim)."""
        B, L, _ = x.shape
        q, k, v = self._heads(x)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)  # (B, nh, L, hd)
        return self.out_proj(y.transpose(1, 2).reshape(B, L, self.d_model)), k, v

    def forward_with_state(
        self, x: torch.Tensor, max_len: int | None = None
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """``forward(x)`` and the key/value cache holding all L positions of x.

        ``max_len`` is as in :meth:`allocate_state` and must be >= L when given.
        """
        y, k, v = self._attend(x)
        L = x.shape[1]
        if max_len is None:
            return y, {"k": k, "v": v, "length": L, "max_len": None}
        if max_len < L:
            raise DataError(
                f"The key/value cache cannot hold a sequence of length {L} with "
                f"max_len={max_len}. Use a larger max_len, or max_len=None."
            )
        state = self.allocate_state(x.shape[0], max_len=max_len)
        state["k"][:, :, :L] = k
        state["v"][:, :, :L] = v
        state["length"] = L
        return y, state

    def allocate_state(self, batch_size: int, max_len: int | None = None) -> dict[str, Any]:
        """An empty key/value cache.

        Parameters
        ----------
        batch_size : int
            Batch size B of the steps that follow.
        max_len : int or None, default=None
            With an int, the cache is allocated once for that many steps and written in
            place (fast decoding under ``torch.no_grad``); with None it grows by
            concatenation, which allows any number of steps and backpropagation.

        Returns
        -------
        dict
            ``{"k": (B, n_heads, T, head_dim), "v": same, "length": int}``; treat it as
            opaque and pass it back to :meth:`step`.
        """
        batch_size = check_int(batch_size, "batch_size", owner="CausalSelfAttention",
                               min_value=1)
        max_len = check_int(max_len, "max_len", owner="CausalSelfAttention", min_value=1,
                            allow_none=True)
        w = self.qkv.weight
        size = 0 if max_len is None else max_len
        shape = (batch_size, self.n_heads, size, self.head_dim)
        return {
            "k": torch.zeros(shape, device=w.device, dtype=w.dtype),
            "v": torch.zeros(shape, device=w.device, dtype=w.dtype),
            "length": 0,
            "max_len": max_len,
        }

    def step(self, x_t: torch.Tensor, state: dict[str, Any]) -> tuple[torch.Tensor, dict]:
        B = x_t.shape[0]
        q, k, v = self._heads(x_t[:, None])  # each (B, nh, 1, hd)
        t = state["length"]
        if state["max_len"] is None:
            keys = torch.cat([state["k"], k], dim=2)  # (B, nh, t + 1, hd)
            values = torch.cat([state["v"], v], dim=2)
            state = {"k": keys, "v": values, "length": t + 1, "max_len": None}
        else:
            if t >= state["max_len"]:
                raise DataError(
                    f"The key/value cache is full after max_len={state['max_len']} steps. "
                    "Allocate the state with a larger max_len, or max_len=None."
                )
            state["k"][:, :, t : t + 1] = k
            state["v"][:, :, t : t + 1] = v
            state["length"] = t + 1
            keys, values = state["k"][:, :, : t + 1], state["v"][:, :, : t + 1]
        # One query against every cached position: no mask is needed.
        y = F.scaled_dot_product_attention(q, keys, values)  # (B, nh, 1, hd)
        return self.out_proj(y.reshape(B, self.d_model)), state

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, n_heads={self.n_heads}, dropout={self.dropout}"
