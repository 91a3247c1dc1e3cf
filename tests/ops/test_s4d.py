"""S4D kernel, FFT convolution and recurrent step against direct loops."""

from __future__ import annotations

import math

import pytest
import torch

from tsssm.exceptions import ParameterError
from tsssm.ops import fft_conv, s4d_discretize, s4d_final_state, s4d_kernel, s4d_step

from .loops import causal_conv_loop, s4d_kernel_loop, s4d_recurrence_loop

F64 = torch.float64


def s4d_params(dim, N, dtype=F64, seed=0):
    """S4D-Lin style parameters: A = -1/2 + i pi n, dt log-uniform in [1e-3, 1e-1]."""
    g = torch.Generator().manual_seed(seed)
    log_dt = math.log(1e-3) + torch.rand(dim, generator=g, dtype=F64) * math.log(100)
    A_re = -0.5 * torch.ones(dim, N, dtype=F64) - 0.3 * torch.rand(dim, N, generator=g,
                                                                   dtype=F64)
    A_im = math.pi * torch.arange(N, dtype=F64).repeat(dim, 1)
    C = torch.view_as_complex(torch.randn(dim, N, 2, generator=g, dtype=F64) * 0.5)
    cdt = torch.complex128 if dtype == F64 else torch.complex64
    return log_dt.to(dtype), A_re.to(dtype), A_im.to(dtype), C.to(cdt)


@pytest.mark.parametrize("method", ["zoh", "bilinear"])
@pytest.mark.parametrize(("dtype", "tol"), [(F64, 1e-10), (torch.float32, 1e-4)])
def test_kernel_is_the_impulse_response(method, dtype, tol):
    log_dt, A_re, A_im, C = s4d_params(3, 8, dtype)
    K = s4d_kernel(log_dt, A_re, A_im, C, 200, method=method)
    assert K.shape == (3, 200) and K.dtype == dtype
    ref = s4d_kernel_loop(log_dt, A_re, A_im, C, 200, method)
    torch.testing.assert_close(K.double(), ref, rtol=tol, atol=tol)


def test_kernel_takes_C_as_real_pairs():
    log_dt, A_re, A_im, C = s4d_params(2, 4)
    K1 = s4d_kernel(log_dt, A_re, A_im, C, 30)
    K2 = s4d_kernel(log_dt, A_re, A_im, torch.view_as_real(C), 30)
    torch.testing.assert_close(K1, K2)


@pytest.mark.parametrize("L_K", [1, 9, 40, 64])
def test_fft_conv_matches_direct_convolution(L_K):
    g = torch.Generator().manual_seed(L_K)
    u = torch.randn(2, 3, 40, generator=g, dtype=F64)
    K = torch.randn(3, L_K, generator=g, dtype=F64)
    D = torch.randn(3, generator=g, dtype=F64)
    y = fft_conv(u, K, D)
    K_used = torch.nn.functional.pad(K[:, :40], (0, max(0, 40 - L_K)))
    torch.testing.assert_close(y, causal_conv_loop(u, K_used, D), rtol=1e-10, atol=1e-10)
    y32 = fft_conv(u.float(), K.float())
    assert y32.dtype == torch.float32
    torch.testing.assert_close(y32.double(), causal_conv_loop(u, K_used), rtol=1e-4,
                               atol=1e-4)


@pytest.mark.parametrize("method", ["zoh", "bilinear"])
def test_convolution_view_equals_recurrent_view(method):
    log_dt, A_re, A_im, C = s4d_params(3, 6, seed=1)
    g = torch.Generator().manual_seed(5)
    u = torch.randn(2, 3, 64, generator=g, dtype=F64)
    D = torch.randn(3, generator=g, dtype=F64)
    y_conv = fft_conv(u, s4d_kernel(log_dt, A_re, A_im, C, 64, method), D)
    y_rec = s4d_recurrence_loop(u, log_dt, A_re, A_im, C, method) + D[:, None] * u
    torch.testing.assert_close(y_conv, y_rec, rtol=1e-9, atol=1e-9)
    # The step function, fed one observation at a time, gives the same outputs.
    dA, dB = s4d_discretize(log_dt, A_re, A_im, method)
    state = torch.zeros(2, 3, 6, dtype=dA.dtype)
    ys = []
    for t in range(64):
        y_t, state = s4d_step(state, u[:, :, t], dA, dB, C, D)
        ys.append(y_t)
    torch.testing.assert_close(torch.stack(ys, -1), y_rec, rtol=1e-9, atol=1e-9)
    # The one-shot final state equals the stepped one, also when split in two.
    torch.testing.assert_close(s4d_final_state(u, dA, dB), state)
    first = s4d_final_state(u[:, :, :25], dA, dB)
    torch.testing.assert_close(s4d_final_state(u[:, :, 25:], dA, dB, first), state)


def test_final_state_with_a_fully_decayed_mode_is_finite():
    dA = torch.tensor([[0.0 + 0.0j, 0.5 + 0.1j]], dtype=torch.complex64)
    dB = torch.ones(1, 2, dtype=torch.complex64)
    u = torch.ones(1, 1, 5)
    x = s4d_final_state(u, dA, dB, torch.ones(1, 1, 2, dtype=torch.complex64))
    assert torch.isfinite(torch.view_as_real(x)).all()
    assert x[0, 0, 0] == 1.0  # only the last input survives a zero dA


def test_gradcheck_kernel_and_conv():
    log_dt, A_re, A_im, C = s4d_params(2, 3, seed=2)
    Cr = torch.view_as_real(C).clone()
    leaves = [t.clone().requires_grad_() for t in (log_dt, A_re, A_im, Cr)]
    assert torch.autograd.gradcheck(lambda *p: s4d_kernel(*p, 12), leaves)
    assert torch.autograd.gradcheck(lambda *p: s4d_kernel(*p, 12, method="bilinear"), leaves)
    g = torch.Generator().manual_seed(0)
    u = torch.randn(2, 2, 10, generator=g, dtype=F64, requires_grad=True)
    K = torch.randn(2, 10, generator=g, dtype=F64, requires_grad=True)
    D = torch.randn(2, generator=g, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(fft_conv, (u, K, D))


def test_errors():
    log_dt, A_re, A_im, C = s4d_params(2, 3)
    with pytest.raises(ParameterError, match="method"):
        s4d_kernel(log_dt, A_re, A_im, C, 10, method="euler")
    with pytest.raises(ParameterError, match=r"A_im must have shape \(dim, N\) = \(2, 3\)"):
        s4d_kernel(log_dt, A_re, A_im[:, :2], C, 10)
    with pytest.raises(ParameterError, match=r"C must have shape \(dim, N\)"):
        s4d_kernel(log_dt, A_re, A_im, C[:1], 10)
    with pytest.raises(ParameterError, match="'L' parameter of s4d_kernel"):
        s4d_kernel(log_dt, A_re, A_im, C, 0)
    with pytest.raises(ParameterError, match=r"K must have shape \(dim, L_K\) with dim = 3"):
        fft_conv(torch.zeros(1, 3, 8), torch.zeros(2, 8))
    dA, dB = s4d_discretize(log_dt, A_re, A_im)
    with pytest.raises(ParameterError, match=r"state must have shape \(batch, dim, N\)"):
        s4d_step(torch.zeros(1, 2, 4, dtype=dA.dtype), torch.zeros(1, 2), dA, dB, C)
