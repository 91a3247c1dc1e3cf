"""Fuzzing the scans: random shapes, dtypes and memory layouts against float64 loops.

Hypothesis draws the sizes (down to batch 1, one channel, N = 1 and L = 1), the dtype,
every optional input, and a memory layout for each tensor: contiguous, transposed
storage, every other element of a larger buffer, or an odd storage offset. The output,
the last state and the gradients of every input must match the float64 sequential
loops of ``tests/ops/loops.py``.

The PyTorch path (``backend="torch"``) and the Triton kernels (``backend="triton"``)
are held to the same properties: the kernels run on the GPU when there is one, else in
Triton's CPU interpreter, which ``tests/conftest.py`` selects on CPU-only machines.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tsssm.ops import linear_scan, selective_scan

_LOOPS = Path(__file__).resolve().parents[1] / "ops" / "loops.py"
_spec = importlib.util.spec_from_file_location("_ops_loops", _LOOPS)
loops = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(loops)

F64 = torch.float64
LAYOUTS = ("contiguous", "transposed", "strided", "offset")
TORCH_SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
# The interpreter is slow (about 1 s per selective-scan example with its backward).
TRITON_SETTINGS = settings(max_examples=20, deadline=None, derandomize=True,
                           suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------ layouts
def relayout(x: torch.Tensor, how: str) -> torch.Tensor:
    """The same values as ``x`` in another memory layout (a leaf tensor, no grad)."""
    x = x.detach()
    if how == "transposed" and x.dim() >= 2:
        return x.transpose(-1, -2).contiguous().transpose(-1, -2)
    if how == "strided":
        big = torch.zeros(*x.shape[:-1], 2 * x.shape[-1] + 1, dtype=x.dtype)
        big[..., 1::2] = x
        return big[..., 1::2]
    if how == "offset":
        flat = torch.zeros(x.numel() + 3, dtype=x.dtype)
        flat[3:] = x.reshape(-1)
        return flat[3:].view(x.shape)
    return x.clone()


def _draw_tensor(draw, g, shape, dtype, kind="normal", scale=1.0):
    """Random values of ``kind`` times ``scale`` in float64, cast, laid out as drawn."""
    if kind == "uniform":
        base = torch.rand(*shape, generator=g, dtype=F64)
    elif kind == "negexp":  # a stable state matrix: -exp(N(0, 1))
        base = -torch.exp(torch.randn(*shape, generator=g, dtype=F64))
    else:
        base = torch.randn(*shape, generator=g, dtype=F64)
    return relayout((base * scale).to(dtype), draw(st.sampled_from(LAYOUTS)))


def _leaf(x):
    return None if x is None else x.requires_grad_(x.is_floating_point() or x.is_complex())


def _tol(dtype, scale, grad=False):
    """Tolerances for a result of magnitude ``scale`` computed in ``dtype``."""
    if dtype in (torch.float64, torch.complex128):
        return {"rtol": 1e-8, "atol": 1e-8 * scale}
    return {"rtol": 2e-3 if grad else 5e-4, "atol": (2e-3 if grad else 5e-4) * scale}


def _close(got, want, dtype, grad=False, what=""):
    scale = max(1.0, float(want.detach().abs().max())) if want.numel() else 1.0
    torch.testing.assert_close(got.to(want.dtype), want, **_tol(dtype, scale, grad),
                               msg=lambda m: f"{what}: {m}")


# ----------------------------------------------------------- selective scan
@st.composite
def selective_cases(draw, max_L=24, dtypes=(torch.float32, torch.float64)):
    batch, dim = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    L, N = draw(st.integers(1, max_L)), draw(st.integers(1, 4))
    dtype = draw(st.sampled_from(dtypes))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    softplus = draw(st.booleans())
    delta_scale = draw(st.sampled_from([0.1, 1.0, 5.0]))  # up to near-total decay
    x = {
        "u": _draw_tensor(draw, g, (batch, dim, L), dtype),
        # softplus takes any real delta; without it delta must be a positive step
        "delta": _draw_tensor(draw, g, (batch, dim, L), dtype,
                              "normal" if softplus else "uniform", delta_scale),
        "A": _draw_tensor(draw, g, (dim, N), dtype, "negexp"),
        "B": _draw_tensor(draw, g, (batch, N, L), dtype),
        "C": _draw_tensor(draw, g, (batch, N, L), dtype),
        "D": _draw_tensor(draw, g, (dim,), dtype) if draw(st.booleans()) else None,
        "z": _draw_tensor(draw, g, (batch, dim, L), dtype) if draw(st.booleans()) else None,
        "delta_bias": (_draw_tensor(draw, g, (dim,), dtype, scale=0.5)
                       if draw(st.booleans()) else None),
    }
    return x, softplus, draw(st.booleans()), dtype


def _check_selective(case, backend):
    x, softplus, last, dtype = case
    x = {k: _leaf(v) for k, v in x.items()}
    layouts = {k: (None if v is None else (tuple(v.stride()), v.storage_offset()))
               for k, v in x.items()}
    got = selective_scan(**x, delta_softplus=softplus, return_last_state=last,
                         backend=backend)
    out, state = got if last else (got, None)
    assert out.shape == x["u"].shape and out.dtype == dtype

    ref_in = {k: None if v is None else v.detach().to(F64).requires_grad_() for k, v
              in x.items()}
    want, want_state = loops.selective_scan_loop(**ref_in, delta_softplus=softplus)
    _close(out, want, dtype, what="out")
    if last:
        _close(state, want_state, dtype, what="last state")

    # gradients of every input against the loop's, for one random cotangent
    g = torch.Generator().manual_seed(7)
    cot = torch.randn(out.shape, generator=g, dtype=F64)
    loss = (out.to(F64) * cot).sum()
    ref_loss = (want * cot).sum()
    if last:
        cot_s = torch.randn(state.shape, generator=g, dtype=F64)
        loss = loss + (state.to(F64) * cot_s).sum()
        ref_loss = ref_loss + (want_state * cot_s).sum()
    names = [k for k, v in x.items() if v is not None]
    grads = torch.autograd.grad(loss, [x[k] for k in names], allow_unused=True)
    ref_grads = torch.autograd.grad(ref_loss, [ref_in[k] for k in names])
    for k, gr, rg in zip(names, grads, ref_grads):
        assert gr is not None, f"no gradient for {k}"
        assert gr.shape == x[k].shape and gr.dtype == x[k].dtype, k
        _close(gr, rg, dtype, grad=True, what=f"grad {k}")
    # the caller's tensors keep their layout (nothing made contiguous in place)
    assert layouts == {k: (None if v is None else (tuple(v.stride()), v.storage_offset()))
                       for k, v in x.items()}


# --------------------------------------------------------------- linear scan
@st.composite
def linear_cases(draw, max_L=40):
    lead = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=2)))
    L = draw(st.integers(1, max_L))
    dtype_a = draw(st.sampled_from([torch.float32, torch.float64, torch.complex64,
                                    torch.complex128]))
    # b is complex when a is (S5), or may be complex for real a (S4D's recurrent view)
    dtype_b = dtype_a if dtype_a.is_complex or not draw(st.booleans()) else (
        torch.complex64 if dtype_a == torch.float32 else torch.complex128)
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    shape = (*lead, L)
    # a may broadcast over the leading axes (one coefficient per step for all rows)
    a_shape = (*([1] * len(lead)), L) if lead and draw(st.booleans()) else shape
    mag = torch.rand(a_shape, generator=g, dtype=F64) * 0.99
    if dtype_a.is_complex:
        a = torch.polar(mag, torch.rand(a_shape, generator=g, dtype=F64) * 6.3)
    else:
        a = mag * torch.where(torch.rand(a_shape, generator=g, dtype=F64) < 0.2, -1.0, 1.0)
    if dtype_b.is_complex:
        b = torch.view_as_complex(torch.randn(*shape, 2, generator=g, dtype=F64))
    else:
        b = torch.randn(shape, generator=g, dtype=F64)
    h0 = None
    if draw(st.booleans()):
        h0 = torch.randn(lead, generator=g, dtype=F64).to(dtype_b)
    a = relayout(a.to(dtype_a), draw(st.sampled_from(LAYOUTS)))
    b = relayout(b.to(dtype_b), draw(st.sampled_from(LAYOUTS)))
    if h0 is not None and h0.dim():
        h0 = relayout(h0, draw(st.sampled_from(LAYOUTS)))
    return a, b, h0, draw(st.booleans())


def _check_linear(case, backend):
    a, b, h0, reverse = (_leaf(t) if isinstance(t, torch.Tensor) else t for t in case)
    out = linear_scan(a, b, h0=h0, reverse=reverse, backend=backend)
    dtype = torch.promote_types(a.dtype, b.dtype)
    assert out.shape == torch.broadcast_shapes(a.shape, b.shape) and out.dtype == dtype

    ref_in = [t.detach().to(torch.complex128 if t.is_complex() else F64).requires_grad_()
              for t in (a, b)]
    ref_h0 = None if h0 is None else h0.detach().to(ref_in[1].dtype).requires_grad_()
    want = loops.linear_scan_loop(*ref_in, h0=ref_h0, reverse=reverse)
    _close(out, want, dtype, what="out")

    g = torch.Generator().manual_seed(3)
    cot = torch.randn(want.shape, generator=g, dtype=F64).to(want.dtype)
    # real part of <cot, out>: a real loss for complex outputs too
    loss = (out.to(want.dtype) * cot.conj()).real.sum()
    ref_loss = (want * cot.conj()).real.sum()
    leaves = [a, b] + ([h0] if h0 is not None else [])
    ref_leaves = ref_in + ([ref_h0] if h0 is not None else [])
    grads = torch.autograd.grad(loss, leaves)
    ref_grads = torch.autograd.grad(ref_loss, ref_leaves)
    for name, t, gr, rg in zip(("a", "b", "h0"), leaves, grads, ref_grads):
        assert gr.shape == t.shape and gr.dtype == t.dtype, name
        _close(gr, rg, dtype, grad=True, what=f"grad {name}")


# -------------------------------------------------------------- torch path
@TORCH_SETTINGS
@given(selective_cases())
def test_selective_scan_torch_matches_loop(case):
    _check_selective(case, "torch")


@TORCH_SETTINGS
@given(linear_cases(max_L=300))
def test_linear_scan_torch_matches_loop(case):
    _check_linear(case, "torch")


def test_degenerate_sizes_torch():
    """batch = dim = N = L = 1, the case hypothesis shrinks towards, pinned explicitly."""
    x = {"u": torch.tensor([[[2.0]]]), "delta": torch.tensor([[[0.5]]]),
         "A": torch.tensor([[-1.0]]), "B": torch.tensor([[[3.0]]]),
         "C": torch.tensor([[[4.0]]])}
    out, last = selective_scan(**x, return_last_state=True, backend="torch")
    # h = exp(0.5 * -1) * 0 + 0.5 * 3 * 2 = 3; y = 4 * 3
    assert out.item() == pytest.approx(12.0) and last.item() == pytest.approx(3.0)
    assert linear_scan(torch.tensor([0.5]), torch.tensor([1.0]), h0=torch.tensor(4.0),
                       backend="torch").item() == pytest.approx(3.0)


# ------------------------------------------------------------- triton path
_TRITON = importlib.util.find_spec("triton") is not None
# The kernels run on a GPU, or in the interpreter when TRITON_INTERPRET=1 was set before
# Triton was imported (tests/conftest.py does so on CPU-only machines).
_RUNNABLE = torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1"


def _on_device(case):
    """Move a case to the GPU when there is one (the interpreter takes CPU tensors)."""
    if not torch.cuda.is_available():
        return case
    return tuple({k: None if v is None else v.cuda() for k, v in c.items()}
                 if isinstance(c, dict) else c.cuda() if isinstance(c, torch.Tensor) else c
                 for c in case)


@pytest.mark.skipif(not _TRITON, reason="triton is not installed")
@pytest.mark.skipif(not _RUNNABLE, reason="no GPU and TRITON_INTERPRET is not 1")
class TestTriton:
    """The same properties as the torch path, through ``backend="triton"``."""

    # float32 only: the kernel computes in float32 and takes float32/16-bit inputs
    # (float64 inputs come back at float32 precision, with a float32 last state).
    @TRITON_SETTINGS
    @given(selective_cases(max_L=12, dtypes=(torch.float32,)))
    @example(({"u": torch.ones(1, 1, 1), "delta": torch.ones(1, 1, 1) * 0.3,
               "A": -torch.ones(1, 1), "B": torch.ones(1, 1, 1), "C": torch.ones(1, 1, 1),
               "D": None, "z": None, "delta_bias": None}, False, True, torch.float32))
    # found by this test: 1-D inputs (D, delta_bias) with a stride other than 1
    @example(({"u": torch.ones(1, 2, 1), "delta": torch.full((1, 2, 1), 0.1),
               "A": -torch.ones(2, 1), "B": torch.ones(1, 1, 1), "C": torch.ones(1, 1, 1),
               "D": relayout(torch.tensor([-0.7, -0.4]), "strided"), "z": None,
               "delta_bias": relayout(torch.tensor([0.3, -0.2]), "strided")},
              True, False, torch.float32))
    def test_selective_scan_triton_matches_loop(self, case):
        _check_selective(_on_device(case), "triton")

    @TRITON_SETTINGS
    @given(linear_cases(max_L=40))
    def test_linear_scan_triton_matches_loop(self, case):
        _check_linear(_on_device(case), "triton")
