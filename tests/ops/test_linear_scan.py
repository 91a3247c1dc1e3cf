"""linear_scan / linear_scan_ref / linear_scan_step against the float64 loop."""

from __future__ import annotations

import pytest
import torch

from tsssm.exceptions import ParameterError
from tsssm.ops import linear_scan, linear_scan_ref, linear_scan_step

from .loops import linear_scan_loop

F64, C128 = torch.float64, torch.complex128


def rand(shape, dtype, g, scale=1.0):
    if dtype.is_complex:
        real = torch.randn(*shape, 2, generator=g, dtype=F64) * scale
        return torch.view_as_complex(real).to(dtype)
    return (torch.randn(*shape, generator=g, dtype=F64) * scale).to(dtype)


def decays(shape, dtype, g):
    """Coefficients with |a| < 1 (real in (-1, 1) or complex inside the unit disc)."""
    mag = torch.rand(*shape, generator=g, dtype=F64) * 0.98
    if dtype.is_complex:
        phase = torch.rand(*shape, generator=g, dtype=F64) * 6.28
        return torch.polar(mag, phase).to(dtype)
    sign = torch.where(torch.rand(*shape, generator=g, dtype=F64) < 0.2, -1.0, 1.0)
    return (mag * sign).to(dtype)


@pytest.mark.parametrize("L", [1, 2, 7, 130, 300])
@pytest.mark.parametrize("dtype", [F64, C128, torch.float32, torch.complex64])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
def test_matches_loop(L, dtype, reverse, with_h0):
    g = torch.Generator().manual_seed(L)
    a = decays((3, 4, L), dtype, g)
    b = rand((3, 4, L), dtype, g)
    h0 = rand((3, 4), dtype, g) if with_h0 else None
    out = linear_scan(a, b, h0, reverse=reverse, backend="torch")
    ref = linear_scan_loop(a, b, h0, reverse=reverse)
    assert out.dtype == dtype and out.shape == (3, 4, L)
    t = 1e-10 if dtype in (F64, C128) else 1e-5
    torch.testing.assert_close(out, ref.to(dtype), rtol=t, atol=t)


def test_broadcasting_shapes_and_mixed_dtypes():
    g = torch.Generator().manual_seed(0)
    a = decays((4, 1, 1), C128, g)  # one coefficient per row, constant in time
    b = rand((2, 4, 3, 50), F64, g)  # real inputs
    h0 = rand((4, 3), C128, g)  # broadcasts over the leading batch axis
    out = linear_scan_ref(a, b, h0)
    assert out.shape == (2, 4, 3, 50) and out.dtype == C128
    ref = linear_scan_loop(a.expand(2, 4, 3, 50), b, h0.expand(2, 4, 3))
    torch.testing.assert_close(out, ref)


def test_half_precision_round_trip():
    g = torch.Generator().manual_seed(0)
    a = decays((5, 64), F64, g).half()
    b = rand((5, 64), F64, g).half()
    out = linear_scan_ref(a, b)
    assert out.dtype == torch.float16
    torch.testing.assert_close(out.double(), linear_scan_loop(a, b), rtol=5e-3, atol=5e-3)


@pytest.mark.parametrize("dtype", [F64, C128])
@pytest.mark.parametrize("reverse", [False, True])
def test_gradcheck(dtype, reverse):
    g = torch.Generator().manual_seed(1)
    a = decays((2, 1, 13), dtype, g).requires_grad_()  # broadcast over axis 1
    b = rand((2, 3, 13), dtype, g).requires_grad_()
    h0 = rand((3,), dtype, g).requires_grad_()  # broadcast over axis 0
    assert torch.autograd.gradcheck(
        lambda a, b, h: linear_scan_ref(a, b, h, reverse=reverse), (a, b, h0)
    )


def test_gradcheck_real_coefficients_complex_inputs():
    g = torch.Generator().manual_seed(2)
    a = decays((3, 9), F64, g).requires_grad_()
    b = rand((3, 9), C128, g).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: linear_scan_ref(a, b), (a, b))


def test_long_sequence_with_vanishing_products_is_stable():
    # Cumulative products underflow to zero long before the end; a scan that divides
    # by them would produce inf/nan here.
    g = torch.Generator().manual_seed(3)
    a = torch.rand(2, 5000, generator=g) * 0.5  # products reach 1e-1500
    a[:, ::97] = 0.0
    b = torch.randn(2, 5000, generator=g)
    out = linear_scan_ref(a, b)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out.double(), linear_scan_loop(a, b), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reverse", [False, True])
def test_step_reproduces_the_scan(reverse):
    g = torch.Generator().manual_seed(4)
    a = decays((3, 20), C128, g)
    b = rand((3, 20), C128, g)
    h = rand((3,), C128, g)
    out = linear_scan_ref(a, b, h, reverse=reverse)
    order = range(19, -1, -1) if reverse else range(20)
    for t in order:
        h = linear_scan_step(h, a[:, t], b[:, t])
        torch.testing.assert_close(h, out[:, t])


def test_errors():
    with pytest.raises(ParameterError, match=r"a and b must broadcast.*\(3, 5\).*\(4, 5\)"):
        linear_scan(torch.zeros(3, 5), torch.zeros(4, 5))
    with pytest.raises(ParameterError, match=r"h0 must have shape \(\.\.\.\) = \(3,\)"):
        linear_scan(torch.zeros(3, 5), torch.zeros(3, 5), h0=torch.zeros(4))
    with pytest.raises(ParameterError, match="time axis"):
        linear_scan(torch.tensor(0.5), torch.tensor(1.0))
    with pytest.raises(ParameterError, match="backend"):
        linear_scan(torch.zeros(3), torch.zeros(3), backend="cpu")
    with pytest.raises(TypeError, match="b must be a floating-point or complex"):
        linear_scan(torch.zeros(3), torch.zeros(3, dtype=torch.int64))


def test_empty_sequence():
    out = linear_scan_ref(torch.zeros(2, 0), torch.zeros(2, 0))
    assert out.shape == (2, 0)
