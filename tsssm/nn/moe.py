"""Mixture-of-experts feed-forward layer with top-k routing."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tsssm._validation import check_int
from tsssm.exceptions import ParameterError
from tsssm.nn.blocks import MLP, _PositionWise

__all__ = ["MoE"]


class MoE(_PositionWise):
    """Sparse mixture of feed-forward experts; each token uses its ``top_k`` best experts.

    A linear router scores every expert for every token; the token is sent to the
    ``top_k`` highest-scoring experts and their outputs are averaged with the softmax of
    those ``top_k`` scores. Capacity grows with ``n_experts`` while the compute per token
    stays that of ``top_k`` MLPs.

    Parameters
    ----------
    d_model : int
        Input and output channels.
    d_hidden : int
        Hidden width of each expert MLP.
    n_experts : int, default=4
        Number of experts (>= 2).
    top_k : int, default=2
        Experts used per token, in ``[1, n_experts]``.
    device, dtype : optional
        Where and in what floating type the weights are created.

    Attributes
    ----------
    aux_loss : torch.Tensor
        Load-balancing loss of the last forward call (Switch Transformer form,
        ``n_experts * sum_i f_i * P_i`` with f_i the fraction of routing slots sent to
        expert i and P_i its mean router probability; 1.0 when the load is uniform).
        Training code may add it, scaled by a small factor, to the loss.

    Shapes
    ------
    x : (..., d_model) -> (..., d_model)

    Examples
    --------
    >>> import torch
    >>> from tsssm.nn import MoE
    >>> moe = MoE(d_model=8, d_hidden=16, n_experts=4, top_k=2)
    >>> moe(torch.randn(2, 5, 8)).shape  # (B, L, d_model)
    torch.Size([2, 5, 8])
    >>> moe.aux_loss.ndim  # a scalar, to add to the training loss
    0
    """

    def __init__(
        self,
        d_model: int,
        d_hidden: int,
        n_experts: int = 4,
        top_k: int = 2,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.d_model = check_int(d_model, "d_model", owner="MoE", min_value=1)
        self.n_experts = check_int(n_experts, "n_experts", owner="MoE", min_value=2)
        self.top_k = check_int(top_k, "top_k", owner="MoE", min_value=1)
        if top_k > n_experts:
            raise ParameterError(
                f"The 'top_k' parameter of MoE must be <= n_experts={n_experts}. Got {top_k}."
            )
        kw = {"device": device, "dtype": dtype}
        self.router = nn.Linear(d_model, n_experts, bias=False, **kw)
        self.experts = nn.ModuleList(MLP(d_model, d_hidden, **kw) for _ in range(n_experts))
        self.aux_loss = torch.zeros((), **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        tokens = x.reshape(-1, self.d_model)  # (T, D)
        logits = self.router(tokens)  # (T, E)
        top_logits, top_idx = logits.topk(self.top_k, dim=-1)  # (T, k)
        gates = torch.softmax(top_logits, dim=-1)  # (T, k)
        out = torch.zeros_like(tokens)
        for e, expert in enumerate(self.experts):
            # Tokens that picked expert e, and in which of their k slots.
            token_ids, slot = torch.where(top_idx == e)
            if token_ids.numel() == 0:
                continue
            y = expert(tokens[token_ids]) * gates[token_ids, slot, None]  # (n_e, D)
            out = out.index_add(0, token_ids, y)
        self.aux_loss = self._balance_loss(logits, top_idx)
        return out.reshape(shape)

    def _balance_loss(self, logits: torch.Tensor, top_idx: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(logits, dim=-1).mean(0)  # (E,) mean router probability
        counts = F.one_hot(top_idx, self.n_experts).sum(dim=(0, 1)).to(probs.dtype)  # (E,)
        frac = counts / top_idx.numel()
        return self.n_experts * (frac * probs).sum()

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, n_experts={self.n_experts}, top_k={self.top_k}"
