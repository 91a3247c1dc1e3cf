import math

import pytest
import torch

from tsssm.exceptions import DataError, ParameterError
from tsssm.nn import MLP, CausalSelfAttention, MoE

from ._util import TOL, assert_all_grads, run_steps


def _naive_attention(attn, x):
    """Causal attention written out with explicit loops over heads and positions."""
    B, L, D = x.shape
    nh, hd = attn.n_heads, attn.head_dim
    qkv = x @ attn.qkv.weight.T
    q, k, v = qkv[..., :D], qkv[..., D : 2 * D], qkv[..., 2 * D :]
    out = torch.zeros(B, L, D, dtype=x.dtype)
    for h in range(nh):
        sl = slice(h * hd, (h + 1) * hd)
        for t in range(L):
            scores = (k[:, : t + 1, sl] @ q[:, t, sl, None])[..., 0] / math.sqrt(hd)  # (B, t+1)
            w = torch.softmax(scores, dim=-1)
            out[:, t, sl] = (w[:, :, None] * v[:, : t + 1, sl]).sum(1)
    return out @ attn.out_proj.weight.T


def test_attention_matches_naive_loop():
    torch.manual_seed(0)
    attn = CausalSelfAttention(12, n_heads=3, dtype=torch.float64)
    x = torch.randn(2, 9, 12, dtype=torch.float64)
    torch.testing.assert_close(attn(x), _naive_attention(attn, x), **TOL[torch.float64])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("max_len", [None, 16])
def test_attention_step_reproduces_forward(dtype, max_len):
    torch.manual_seed(0)
    attn = CausalSelfAttention(8, n_heads=2, dropout=0.3, dtype=dtype).eval()
    x = torch.randn(3, 11, 8, dtype=dtype)
    with torch.no_grad():
        torch.testing.assert_close(run_steps(attn, x, max_len=max_len), attn(x), **TOL[dtype])


def test_attention_cache_overflow_and_bad_heads():
    attn = CausalSelfAttention(8, n_heads=2)
    state = attn.allocate_state(1, max_len=2)
    with torch.no_grad():
        for _ in range(2):
            _, state = attn.step(torch.randn(1, 8), state)
        with pytest.raises(DataError, match="max_len=2"):
            attn.step(torch.randn(1, 8), state)
    with pytest.raises(ParameterError, match="must divide d_model=8"):
        CausalSelfAttention(8, n_heads=3)


def _naive_moe(moe, x):
    """Route every token on its own: softmax over its top-k router logits."""
    out = torch.zeros_like(x)
    for i, tok in enumerate(x):
        logits = moe.router.weight @ tok
        top = torch.topk(logits, moe.top_k).indices
        gates = torch.softmax(logits[top], dim=0)
        for g, e in zip(gates, top.tolist(), strict=True):
            out[i] += g * moe.experts[e](tok[None])[0]
    return out


@pytest.mark.parametrize("top_k", [1, 2, 4])
def test_moe_matches_per_token_loop(top_k):
    torch.manual_seed(0)
    moe = MoE(6, 10, n_experts=4, top_k=top_k, dtype=torch.float64)
    x = torch.randn(2, 7, 6, dtype=torch.float64)
    want = _naive_moe(moe, x.reshape(-1, 6)).reshape(2, 7, 6)
    torch.testing.assert_close(moe(x), want, **TOL[torch.float64])
    torch.testing.assert_close(run_steps(moe, x), want, **TOL[torch.float64])


def test_moe_aux_loss_by_hand_and_gradients():
    torch.manual_seed(0)
    moe = MoE(4, 8, n_experts=3, top_k=2, dtype=torch.float64)
    x = torch.randn(40, 4, dtype=torch.float64)
    y = moe(x)
    probs = torch.softmax(x @ moe.router.weight.T, dim=-1)
    top = probs.topk(2, dim=-1).indices
    frac = torch.stack([(top == e).sum() for e in range(3)]).double() / top.numel()
    torch.testing.assert_close(moe.aux_loss, 3 * (frac * probs.mean(0)).sum())
    (y.pow(2).sum() + moe.aux_loss).backward()
    assert_all_grads(moe)
    with pytest.raises(ParameterError, match="top_k"):
        MoE(4, 8, n_experts=3, top_k=4)


def test_mlp_step_is_positionwise():
    torch.manual_seed(0)
    mlp = MLP(4, 8, dtype=torch.float64)
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    torch.testing.assert_close(run_steps(mlp, x), mlp(x))
