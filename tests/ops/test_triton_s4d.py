"""The Triton S4D Vandermonde kernel against the float64 recurrence's impulse response.

``s4d_kernel_loop`` (tests/ops/loops.py) runs the discretised recurrence step by step;
its impulse response is the convolution kernel. Runs in Triton's CPU interpreter
without a GPU (tests/conftest.py); outputs start as NaN (``POISON_OUTPUTS``).
"""

from __future__ import annotations

import os

import pytest
import torch

from tests.ops.loops import s4d_kernel_loop

pytest.importorskip("triton")

from tsssm.ops.triton import s4d as ts

ON_GPU = torch.cuda.is_available()
INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"
DEVICE = "cuda" if ON_GPU else "cpu"
pytestmark = pytest.mark.skipif(
    not (ON_GPU or INTERPRET), reason="needs a GPU or TRITON_INTERPRET=1 (see conftest)"
)


@pytest.fixture(autouse=True)
def poisoned_outputs(monkeypatch):
    monkeypatch.setattr(ts, "POISON_OUTPUTS", True)


def zoh_kernel(log_dt, A_re, A_im, C, L):
    """K through the Triton kernel, with the ZOH discretisation in PyTorch around it."""
    dt = torch.exp(log_dt)[:, None]
    A = torch.complex(A_re, A_im)
    log_dA = dt * A
    W = C * (torch.exp(log_dA) - 1) / A  # C dB
    return ts.s4d_vandermonde_triton(log_dA, W, L)


@pytest.mark.parametrize("dim, N, L", [(5, 3, 150), (17, 2, 70)])
def test_matches_recurrence_impulse_response(dim, N, L):
    # 17 channels and 150 steps: partial channel and step blocks of the tiles.
    g = torch.Generator().manual_seed(dim)
    log_dt = (torch.rand(dim, generator=g) * 2 - 4).to(DEVICE).requires_grad_()
    A_re = (-torch.rand(dim, N, generator=g) - 0.1).to(DEVICE).requires_grad_()
    A_im = (torch.rand(dim, N, generator=g) * 10).to(DEVICE).requires_grad_()
    C = torch.view_as_complex(torch.randn(dim, N, 2, generator=g)).to(DEVICE).requires_grad_()
    K = zoh_kernel(log_dt, A_re, A_im, C, L)
    ref = s4d_kernel_loop(log_dt, A_re, A_im, C, L)
    assert K.dtype == torch.float32 and K.shape == (dim, L)
    scale = ref.abs().max().item()
    torch.testing.assert_close(K.double(), ref, rtol=6e-4, atol=2e-3 * scale)
    gK = torch.randn(dim, L, generator=g, dtype=torch.float64).to(DEVICE)
    params = (log_dt, A_re, A_im, C)
    grads = torch.autograd.grad((K.double() * gK).sum(), params)
    ref_grads = torch.autograd.grad((ref * gK).sum(), params)
    for name, gx, rx in zip(("log_dt", "A_re", "A_im", "C"), grads, ref_grads):
        torch.testing.assert_close(
            gx.to(rx.dtype),
            rx,
            rtol=6e-4,
            atol=2e-3 * rx.abs().max().item(),
            msg=lambda m, name=name: f"d{name}: {m}",
        )


def test_double_precision():
    g = torch.Generator().manual_seed(1)
    log_dA = torch.complex(
        -torch.rand(3, 2, generator=g, dtype=torch.float64) * 0.1,
        torch.rand(3, 2, generator=g, dtype=torch.float64),
    ).to(DEVICE)
    W = torch.view_as_complex(torch.randn(3, 2, 2, generator=g, dtype=torch.float64)).to(DEVICE)
    K = ts.s4d_vandermonde_triton(log_dA, W, 9)
    steps = torch.arange(9, dtype=torch.float64, device=DEVICE)
    ref = 2 * torch.einsum("dn,dnl->dl", W, torch.exp(log_dA[..., None] * steps)).real
    assert K.dtype == torch.float64
    torch.testing.assert_close(K, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.skipif(ON_GPU, reason="checks the CPU error")
def test_cpu_tensors_need_the_interpreter(monkeypatch):
    monkeypatch.setattr(ts, "_interpreting", lambda: False)
    z = torch.zeros(2, 2, dtype=torch.complex64)
    with pytest.raises(RuntimeError, match="needs CUDA tensors"):
        ts.s4d_vandermonde_triton(z, z, 4)
