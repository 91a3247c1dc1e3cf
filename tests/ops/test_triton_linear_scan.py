"""The Triton linear scan against the float64 sequential loop, real and complex.

Runs in Triton's CPU interpreter without a GPU (``tests/conftest.py``), so shapes are
small; lengths are not multiples of the kernels' chunk, every output buffer starts as
NaN (``POISON_OUTPUTS``), and gradients are compared for every input, including the
broadcast ones. The ``gpu`` test repeats the check at a real size on a CUDA device.
"""

from __future__ import annotations

import os

import pytest
import torch

from tests.ops.loops import linear_scan_loop

pytest.importorskip("triton")

from tsssm.ops import linear_scan
from tsssm.ops.triton import linear_scan as tls

ON_GPU = torch.cuda.is_available()
INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"
DEVICE = "cuda" if ON_GPU else "cpu"
pytestmark = pytest.mark.skipif(
    not (ON_GPU or INTERPRET), reason="needs a GPU or TRITON_INTERPRET=1 (see conftest)"
)

TOL = {
    torch.float32: (6e-4, 2e-3),
    torch.complex64: (6e-4, 2e-3),
    torch.bfloat16: (3e-2, 5e-2),
    torch.float16: (1e-2, 2e-2),
    torch.float64: (1e-10, 1e-10),
    torch.complex128: (1e-10, 1e-10),
}


@pytest.fixture(autouse=True)
def poisoned_outputs(monkeypatch):
    monkeypatch.setattr(tls, "POISON_OUTPUTS", True)


def rand(shape, dtype, g, scale=1.0):
    if dtype.is_complex:
        real = torch.randn(*shape, 2, generator=g, dtype=torch.float64) * scale
        return torch.view_as_complex(real).to(dtype).to(DEVICE)
    return (torch.randn(*shape, generator=g) * scale).to(dtype).to(DEVICE)


def decays(shape, dtype, g):
    """Coefficients with modulus below 1 (a stable recurrence)."""
    a = rand(shape, dtype, g)
    return (a / (a.abs() + 1)).detach()


def check(shape_a, shape_b, shape_h0, dtype, reverse, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = decays(shape_a, dtype, g).requires_grad_()
    b = rand(shape_b, dtype, g).requires_grad_()
    h0 = rand(shape_h0, dtype, g).requires_grad_() if shape_h0 is not None else None
    h = tls.linear_scan_triton(a, b, h0, reverse)
    ref = linear_scan_loop(a, b, h0, reverse)
    assert h.dtype == dtype and h.shape == ref.shape
    rtol, atol = TOL[dtype]

    def close(x, y, name):
        scale = max(y.abs().max().item(), 1.0)
        torch.testing.assert_close(
            x.detach().to(y.dtype).cpu(),
            y.detach().cpu(),
            rtol=rtol,
            atol=atol * scale,
            msg=lambda m: f"{name}: {m}",
        )

    close(h, ref, "h")
    gh = rand(h.shape, ref.dtype, g)
    if ref.is_complex():  # a real loss of complex outputs
        loss = (h.to(ref.dtype) * gh.conj()).real.sum()
        ref_loss = (ref * gh.conj()).real.sum()
    else:
        loss = (h.to(ref.dtype) * gh).sum()
        ref_loss = (ref * gh).sum()
    inputs = [x for x in (a, b, h0) if x is not None]
    for name, x, gx, rx in zip(
        ("da", "db", "dh0"),
        inputs,
        torch.autograd.grad(loss, inputs),
        torch.autograd.grad(ref_loss, inputs),
    ):
        assert gx.shape == x.shape and gx.dtype == x.dtype, name
        close(gx, rx, name)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize(
    "dtype", [torch.float32, torch.complex64, torch.bfloat16, torch.float64, torch.complex128]
)
def test_matches_loop(dtype, reverse):
    # L = 131: a partial last block of the 128- (real) or 64-step (complex) chunks.
    check((3, 5, 131), (3, 5, 131), (3, 5), dtype, reverse)


@pytest.mark.parametrize("reverse", [False, True])
def test_without_initial_state_and_half_precision(reverse):
    check((2, 37), (2, 37), None, torch.float16, reverse, seed=1)


def test_broadcast_inputs_and_mixed_dtypes():
    # a broadcasts over the batch and along time, h0 over the batch; real b with
    # complex a gives a complex result and a real gradient for b.
    g = torch.Generator().manual_seed(2)
    a = decays((4, 1), torch.complex64, g).requires_grad_()
    b = rand((2, 4, 9), torch.float32, g).requires_grad_()
    h0 = rand((4,), torch.complex64, g).requires_grad_()
    h = tls.linear_scan_triton(a, b, h0, False)
    ref = linear_scan_loop(a, b, h0, False)
    assert h.dtype == torch.complex64 and h.shape == (2, 4, 9)
    torch.testing.assert_close(h.to(ref.dtype).cpu(), ref.cpu(), rtol=6e-4, atol=2e-3)
    gh = rand(h.shape, torch.complex128, g)
    grads = torch.autograd.grad((h.to(ref.dtype) * gh.conj()).real.sum(), (a, b, h0))
    ref_grads = torch.autograd.grad((ref * gh.conj()).real.sum(), (a, b, h0))
    for x, gx, rx in zip((a, b, h0), grads, ref_grads):
        assert gx.shape == x.shape and gx.dtype == x.dtype
        torch.testing.assert_close(gx.to(rx.dtype).cpu(), rx.cpu(), rtol=6e-4, atol=2e-3)


def test_strided_inputs():
    g = torch.Generator().manual_seed(3)
    wide = decays((3, 21), torch.float32, g)
    a = wide[:, ::2].requires_grad_()  # every other step
    b = rand((11, 3), torch.float32, g).t().requires_grad_()  # transposed storage
    h = tls.linear_scan_triton(a, b, None, True)
    ref = linear_scan_loop(a, b, None, True)
    torch.testing.assert_close(h.double().cpu(), ref.cpu(), rtol=6e-4, atol=2e-3)
    ga, gb = torch.autograd.grad(h.sum(), (a, b))
    ra, rb = torch.autograd.grad(ref.sum(), (a, b))
    torch.testing.assert_close(ga.double().cpu(), ra.double().cpu(), rtol=6e-4, atol=2e-3)
    torch.testing.assert_close(gb.double().cpu(), rb.double().cpu(), rtol=6e-4, atol=2e-3)


def test_length_one_and_zero():
    check((2, 1), (2, 1), (2,), torch.float32, False)
    a = torch.zeros(3, 0, device=DEVICE, requires_grad=True)
    h0 = torch.ones(3, device=DEVICE, requires_grad=True)
    h = tls.linear_scan_triton(a, a, h0, False)
    assert h.shape == (3, 0)
    (gh0,) = torch.autograd.grad(h.sum(), (h0,), allow_unused=True)
    assert gh0 is None or not gh0.any()


def test_public_dispatch_runs_the_kernel():
    g = torch.Generator().manual_seed(4)
    a, b = decays((2, 7), torch.float32, g), rand((2, 7), torch.float32, g)
    torch.testing.assert_close(
        linear_scan(a, b, backend="triton").double().cpu(),
        linear_scan_loop(a, b).cpu(),
        rtol=6e-4,
        atol=2e-3,
    )


@pytest.mark.skipif(ON_GPU, reason="checks the CPU error")
def test_cpu_tensors_need_the_interpreter(monkeypatch):
    monkeypatch.setattr(tls, "_interpreting", lambda: False)
    with pytest.raises(RuntimeError, match="needs CUDA tensors"):
        tls.linear_scan_triton(torch.zeros(2, 3), torch.zeros(2, 3))


@pytest.mark.gpu
@pytest.mark.skipif(not ON_GPU, reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.float32, torch.complex64, torch.bfloat16])
@pytest.mark.parametrize("reverse", [False, True])
def test_real_size(dtype, reverse):
    check((64, 128, 2000), (64, 128, 2000), (64, 128), dtype, reverse, seed=5)


def test_s4d_kernel_triton_backend_matches_torch():
    """s4d_kernel(backend="triton") (the fused Vandermonde kernel) equals the reference."""
    from tsssm.ops import s4d_kernel

    g = torch.Generator().manual_seed(5)
    dim, N, L = 3, 4, 37
    log_dt = torch.empty(dim).uniform_(-4, -1, generator=g)
    A_re = -torch.rand(dim, N, generator=g) - 0.1
    A_im = torch.randn(dim, N, generator=g) * 3
    C = torch.randn(dim, N, 2, generator=g)
    ref = s4d_kernel(log_dt.double(), A_re.double(), A_im.double(), C.double(), L,
                     backend="torch")
    out = s4d_kernel(log_dt, A_re, A_im, C, L, backend="triton")
    torch.testing.assert_close(out.double(), ref, rtol=6e-4, atol=2e-3)
