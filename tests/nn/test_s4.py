import math

import pytest
import torch

from tsssm.exceptions import ParameterError
from tsssm.nn import S4DKernel, S4DLayer

from ._util import TOL, assert_all_grads, run_steps


def _impulse_response(kernel, L):
    """Kernel as the impulse response of the ZOH recurrence, stepped in complex128."""
    A = torch.complex(-torch.exp(kernel.log_A_real.double()), kernel.A_imag.double())
    dt = torch.exp(kernel.log_dt.double())[:, None]
    C = torch.view_as_complex(kernel.C.double().contiguous())
    dA = torch.exp(dt * A)
    dB = (dA - 1) / A
    x = dB.clone()  # state after the unit impulse at t = 0
    out = []
    for _ in range(L):
        out.append(2 * (C * x).sum(-1).real)
        x = dA * x
    return torch.stack(out, dim=-1)


def _direct_conv(u, K):
    """y[b, h, t] = sum_{s <= t} K[h, t - s] u[b, h, s], as a double loop."""
    L = u.shape[-1]
    y = torch.zeros_like(u)
    for t in range(L):
        for s in range(t + 1):
            y[:, :, t] += K[:, t - s] * u[:, :, s]
    return y


@pytest.mark.parametrize("init", ["lin", "inv"])
def test_kernel_is_the_recurrence_impulse_response(init):
    torch.manual_seed(0)
    kernel = S4DKernel(5, d_state=8, init=init, dtype=torch.float64)
    torch.testing.assert_close(kernel(40), _impulse_response(kernel, 40), **TOL[torch.float64])


def test_initialisation_follows_s4d():
    torch.manual_seed(0)
    N = 8
    lin = S4DKernel(300, d_state=N, init="lin", dtype=torch.float64)
    inv = S4DKernel(3, d_state=N, init="inv", dtype=torch.float64)
    n = torch.arange(N // 2, dtype=torch.float64)
    torch.testing.assert_close(lin.A_imag[0], math.pi * n)
    torch.testing.assert_close(inv.A_imag[1], N / math.pi * (N / (2 * n + 1) - 1))
    torch.testing.assert_close(-torch.exp(lin.log_A_real), torch.full((300, 4), -0.5,
                                                                       dtype=torch.float64))
    dt = torch.exp(lin.log_dt)
    assert dt.min() >= 1e-3 and dt.max() <= 1e-1
    # log-uniform: the log-steps spread over the whole interval, about half below its middle
    mid = (math.log(1e-3) + math.log(1e-1)) / 2
    assert 0.35 < (lin.log_dt < mid).double().mean() < 0.65
    with pytest.raises(ParameterError, match="'init'"):
        S4DKernel(3, init="legs")
    with pytest.raises(ParameterError, match="dt_max"):
        S4DKernel(3, dt_min=0.1, dt_max=0.01)


def test_conv_view_equals_direct_convolution_and_recurrent_view():
    """forward (FFT conv) = direct causal convolution = step-by-step recurrence."""
    torch.manual_seed(0)
    layer = S4DLayer(4, d_state=6, dtype=torch.float64)
    x = torch.randn(2, 25, 4, dtype=torch.float64)
    u = x.transpose(1, 2)
    y_direct = _direct_conv(u, layer.kernel(25)) + layer.D[:, None] * u
    want = layer.output(y_direct.transpose(1, 2))
    torch.testing.assert_close(layer(x), want, **TOL[torch.float64])
    torch.testing.assert_close(run_steps(layer, x), want, **TOL[torch.float64])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("init", ["lin", "inv"])
def test_step_reproduces_forward_long_sequence(dtype, init):
    torch.manual_seed(0)
    layer = S4DLayer(6, d_state=16, init=init, dtype=dtype)
    x = torch.randn(2, 200, 6, dtype=dtype)
    with torch.no_grad():
        y = layer(x)
        tol = TOL[dtype] if dtype == torch.float64 else {"rtol": 1e-3, "atol": 1e-4}
        torch.testing.assert_close(run_steps(layer, x), y, **tol)
    assert y.shape == (2, 200, 6) and y.dtype == dtype


def test_gradients_and_large_inputs():
    torch.manual_seed(0)
    layer = S4DLayer(4, d_state=8)
    x = torch.randn(2, 30, 4) * 1e4
    y = layer(x)
    assert torch.isfinite(y).all()
    y.pow(2).mean().backward()
    assert_all_grads(layer)
