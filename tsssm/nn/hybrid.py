"""A Jamba-style hybrid backbone: Mamba layers with an occasional attention layer."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from tsssm._validation import check_int
from tsssm.nn.attention import CausalSelfAttention
from tsssm.nn.base import Backbone
from tsssm.nn.blocks import MLP, ResidualBlock
from tsssm.nn.mamba import MambaBlock
from tsssm.nn.moe import MoE

__all__ = ["HybridBackbone"]


class HybridBackbone(Backbone):
    """Mamba and causal self-attention layers interleaved, each followed by an MLP.

    Layer i (0-based) mixes along time with causal self-attention when
    ``i % attn_every == attn_every // 2`` and with a :class:`MambaBlock` otherwise, so
    one layer in ``attn_every`` attends (Jamba places it mid-block the same way); with
    fewer than ``attn_every // 2 + 1`` layers there is no attention layer. Every mixer is
    followed by a feed-forward sublayer, a mixture of experts on the layers with
    ``(i + 1) % moe_every == 0`` when ``n_experts >= 2`` and a dense MLP otherwise. The
    Mamba layers give position information, so attention uses no positional encoding.

    Parameters
    ----------
    d_input : int
        Input channels.
    d_model : int, default=64
        Width of the residual stream.
    n_layers : int, default=4
        Number of layers (each a mixer sublayer plus a feed-forward sublayer).
    d_state : int, default=16
        State size N of the Mamba layers.
    dropout : float, default=0.0
        Dropout on every sublayer output and on the attention weights.
    norm : {"rmsnorm", "layernorm"}, default="rmsnorm"
        Normalisation before each sublayer and at the end.
    attn_every : int, default=4
        One attention layer per this many layers (1: attention everywhere).
    n_heads : int, default=4
        Attention heads; must divide d_model.
    mlp_ratio : int, default=2
        Hidden width of the MLPs and experts, in multiples of d_model.
    n_experts : int, default=0
        Experts per mixture-of-experts layer; 0 (or 1) uses dense MLPs only.
    top_k : int, default=2
        Experts used per token.
    moe_every : int, default=2
        One mixture-of-experts layer per this many layers.
    d_conv, expand : int, default=4, 2
        Mamba convolution width and inner expansion.
    backend : {"auto", "torch", "triton"}, default="auto"
        Scan backend of the Mamba layers.
    device, dtype : optional
        Where and in what floating type the parameters are created.

    Attributes
    ----------
    layer_kinds : list of str
        Kind of each residual block in ``layers``: "mamba", "attention", "mlp" or "moe".

    Shapes
    ------
    forward : x (B, L, d_input) -> (B, L, d_model)
    step : x_t (B, d_input) -> (B, d_model), with a key/value cache per attention layer

    Examples
    --------
    >>> import torch
    >>> from tsssm.nn import HybridBackbone
    >>> net = HybridBackbone(d_input=3, d_model=8, n_layers=2, d_state=4, attn_every=2,
    ...                      n_heads=2, n_experts=2, backend="torch")
    >>> net.layer_kinds
    ['mamba', 'mlp', 'attention', 'moe']
    >>> net(torch.randn(2, 10, 3)).shape  # (B, L, d_input) -> (B, L, d_model)
    torch.Size([2, 10, 8])
    """

    def __init__(
        self,
        d_input: int,
        d_model: int = 64,
        n_layers: int = 4,
        d_state: int = 16,
        dropout: float = 0.0,
        norm: str = "rmsnorm",
        attn_every: int = 4,
        n_heads: int = 4,
        mlp_ratio: int = 2,
        n_experts: int = 0,
        top_k: int = 2,
        moe_every: int = 2,
        d_conv: int = 4,
        expand: int = 2,
        backend: str = "auto",
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        owner = "HybridBackbone"
        super().__init__(d_input, d_model, n_layers, dropout, norm, owner=owner,
                         device=device, dtype=dtype)
        self.attn_every = check_int(attn_every, "attn_every", owner=owner, min_value=1)
        self.mlp_ratio = check_int(mlp_ratio, "mlp_ratio", owner=owner, min_value=1)
        self.n_experts = check_int(n_experts, "n_experts", owner=owner, min_value=0)
        self.moe_every = check_int(moe_every, "moe_every", owner=owner, min_value=1)
        kw = {"device": device, "dtype": dtype}
        d_hidden = self.mlp_ratio * d_model
        self.layer_kinds: list[str] = []

        def block(mixer: nn.Module, kind: str) -> ResidualBlock:
            self.layer_kinds.append(kind)
            return ResidualBlock(mixer, d_model, norm, dropout, **kw)

        for i in range(self.n_layers):
            if i % self.attn_every == self.attn_every // 2:
                mixer = CausalSelfAttention(d_model, n_heads, dropout, **kw)
                self.layers.append(block(mixer, "attention"))
            else:
                mixer = MambaBlock(d_model, d_state, d_conv, expand, backend=backend, **kw)
                self.layers.append(block(mixer, "mamba"))
            if self.n_experts >= 2 and (i + 1) % self.moe_every == 0:
                self.layers.append(block(MoE(d_model, d_hidden, self.n_experts, top_k, **kw),
                                         "moe"))
            else:
                self.layers.append(block(MLP(d_model, d_hidden, **kw), "mlp"))

    @property
    def aux_loss(self) -> torch.Tensor:
        """Sum of the load-balancing losses of the MoE layers in the last forward call.

        Zero when there is no MoE layer.
        """
        total = torch.zeros((), device=self.in_proj.weight.device,
                            dtype=self.in_proj.weight.dtype)
        for layer in self.layers:
            if isinstance(layer.mixer, MoE):
                total = total + layer.mixer.aux_loss
        return total

    def allocate_state(self, batch_size: int, max_len: int | None = None) -> list[Any]:
        """The state before the first step.

        Parameters
        ----------
        batch_size : int
            Batch size of the steps that follow.
        max_len : int or None, default=None
            Length for which the attention layers' key/value caches are allocated once
            (written in place: decode under ``torch.no_grad``); None grows them as
            needed. See :meth:`CausalSelfAttention.allocate_state`.
        """
        batch_size = check_int(batch_size, "batch_size", owner=self._owner, min_value=1)
        return [
            layer.allocate_state(batch_size, max_len=max_len)
            if isinstance(layer.mixer, CausalSelfAttention)
            else layer.allocate_state(batch_size)
            for layer in self.layers
        ]

    def forward_with_state(
        self, x: torch.Tensor, max_len: int | None = None
    ) -> tuple[torch.Tensor, list[Any]]:
        """``forward(x)`` and the state after x, key/value caches included.

        ``max_len`` is as in :meth:`allocate_state` (>= the length of x when given).
        """
        return self._forward_with_state(x, {CausalSelfAttention: {"max_len": max_len}})

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, attn_every={self.attn_every}, "
            f"n_experts={self.n_experts}, moe_every={self.moe_every}"
        )
