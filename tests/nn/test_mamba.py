import math

import pytest
import torch
import torch.nn.functional as F

from tsssm.exceptions import ParameterError
from tsssm.nn import MambaBlock

from ._util import TOL, assert_all_grads, run_steps


def _naive_mamba(block, x):
    """The Mamba block written from its definition: explicit conv taps and a time loop."""
    x = x.double()
    W = {n: p.double() for n, p in block.named_parameters()}
    B_, L, _ = x.shape
    E, N, R, K = block.d_inner, block.d_state, block.dt_rank, block.d_conv
    xz = x @ W["in_proj.weight"].T  # (B, L, 2E)
    u, z = xz[..., :E], xz[..., E:]
    conv = torch.zeros(B_, L, E, dtype=torch.float64)
    for t in range(L):
        acc = W["conv1d.bias"].clone().expand(B_, E)
        for k in range(K):  # tap k sees the input k steps back (zero before the start)
            if t - k >= 0:
                acc = acc + W["conv1d.weight"][:, 0, K - 1 - k] * u[:, t - k]
        conv[:, t] = acc
    u = conv * torch.sigmoid(conv)  # SiLU
    A = -torch.exp(W["A_log"])  # (E, N)
    h = torch.zeros(B_, E, N, dtype=torch.float64)
    ys = []
    for t in range(L):
        proj = u[:, t] @ W["x_proj.weight"].T
        dt_in, Bt, Ct = proj[:, :R], proj[:, R : R + N], proj[:, R + N :]
        delta = torch.log1p(torch.exp(dt_in @ W["dt_proj.weight"].T + W["dt_proj.bias"]))
        dBu = delta[:, :, None] * Bt[:, None] * u[:, t, :, None]  # (B, E, N)
        h = torch.exp(delta[:, :, None] * A) * h + dBu
        y = (h * Ct[:, None]).sum(-1) + W["D"] * u[:, t]
        ys.append(y * z[:, t] * torch.sigmoid(z[:, t]))
    return torch.stack(ys, dim=1) @ W["out_proj.weight"].T


@pytest.mark.parametrize("d_conv", [1, 4])
def test_forward_matches_naive_definition(d_conv):
    torch.manual_seed(0)
    block = MambaBlock(6, d_state=5, d_conv=d_conv, expand=2, dtype=torch.float64)
    x = torch.randn(2, 13, 6, dtype=torch.float64)
    want = _naive_mamba(block, x)
    torch.testing.assert_close(block(x), want, **TOL[torch.float64])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_step_reproduces_forward(dtype):
    torch.manual_seed(0)
    block = MambaBlock(8, d_state=4, dt_rank=3, backend="torch", dtype=dtype)
    x = torch.randn(3, 40, 8, dtype=dtype)
    with torch.no_grad():
        torch.testing.assert_close(run_steps(block, x), block(x), **TOL[dtype])
    conv_state, ssm_state = block.allocate_state(3)
    assert conv_state.shape == (3, 16, 4) and ssm_state.shape == (3, 16, 4)


def test_initialisation():
    torch.manual_seed(0)
    block = MambaBlock(32, d_state=6, expand=2, dt_min=1e-3, dt_max=1e-1)
    assert block.dt_rank == math.ceil(32 / 16)
    dt = F.softplus(block.dt_proj.bias.double())
    assert dt.min() >= 1e-3 * (1 - 1e-4) and dt.max() <= 1e-1 * (1 + 1e-4)
    mid = math.log(1e-2)
    assert 0.3 < (dt.log() < mid).double().mean() < 0.7  # log-uniform around the middle
    torch.testing.assert_close(-torch.exp(block.A_log),
                               -torch.arange(1.0, 7.0).repeat(64, 1))
    torch.testing.assert_close(block.D, torch.ones(64))


def test_gradients_large_inputs_and_errors():
    torch.manual_seed(0)
    block = MambaBlock(8, d_state=4)
    y = block(torch.randn(2, 20, 8) * 1e3)
    assert torch.isfinite(y).all()
    y.pow(2).mean().backward()
    assert_all_grads(block)
    with pytest.raises(ParameterError, match="backend"):
        MambaBlock(8, backend="cuda")
