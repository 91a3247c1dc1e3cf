"""First-order linear recurrence ``h_t = a_t h_{t-1} + b_t`` in Triton, real or complex.

Used by S5 and by S4D's recurrent view. The wrapper broadcasts ``a``, ``b`` and ``h0``
to one shape, flattens every axis but the last into rows and hands (M, L) tensors to an
autograd.Function; PyTorch's own broadcasting and dtype casts around it reduce the
gradients back to each input's shape and dtype.

How the kernels work
--------------------
One program owns ``BLOCK_M`` rows and walks along L in chunks of ``BLOCK_L`` steps. Each
chunk is solved with ``tl.associative_scan`` on the pairs (a_t, b_t) (composition of
affine maps), then the carried state times the chunk's cumulative product is added. A
complex recurrence is scanned as four real tensors (real and imaginary parts of a and
b), read from the interleaved ``torch.view_as_real`` layout. ``reverse=True`` maps the
loop index i to the time step t = L - 1 - i, so both directions share one kernel.

Backward: with ``g_t = dLoss/dh_t``, the adjoint runs the other way,
``g_t = dh_t + conj(a_{t+1}) g_{t+1}``; then ``db_t = g_t``,
``da_t = g_t conj(h_{t-1})`` (``h_{-1} = h0``) and ``dh0 = conj(a_0) g_0`` (PyTorch's
convention for complex gradients). The forward output h is saved for it.
"""

from __future__ import annotations

import math
import os

import torch
import triton
import triton.language as tl

__all__ = ["linear_scan_triton"]

# Debug switch: fill output buffers with NaN first (see tests), like selective_scan.
POISON_OUTPUTS = os.environ.get("TSSSM_TRITON_POISON", "0") == "1"


@triton.jit
def _affine(a_l, b_l, a_r, b_r):
    # h -> a_l h + b_l, then h -> a_r h + b_r
    return a_l * a_r, b_l * a_r + b_r


@triton.jit
def _affine_complex(ar_l, ai_l, br_l, bi_l, ar_r, ai_r, br_r, bi_r):
    # The same composition with complex a and b given as (real, imaginary) parts.
    ar = ar_l * ar_r - ai_l * ai_r
    ai = ar_l * ai_r + ai_l * ar_r
    br = ar_r * br_l - ai_r * bi_l + br_r
    bi = ar_r * bi_l + ai_r * br_l + bi_r
    return ar, ai, br, bi


@triton.jit
def _last_col(x, is_last):
    return tl.sum(tl.where(is_last, x, 0.0), axis=1)


@triton.jit
def _linear_scan_fwd_kernel(
    # pointers (complex tensors as their float view; imaginary part at +1)
    a_ptr,
    b_ptr,
    h0_ptr,
    h_ptr,
    # sizes
    M,
    L,
    # strides, in elements of the float view
    s_am,
    s_al,
    s_bm,
    s_bl,
    s_hm,
    s_hl,
    s_h0,
    # meta-parameters
    IS_COMPLEX: tl.constexpr,
    HAS_H0: tl.constexpr,
    REVERSE: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_L: tl.constexpr,
):
    cdt = tl.float64 if h_ptr.dtype.element_ty == tl.float64 else tl.float32
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    mask_m = rows < M
    r64 = rows.to(tl.int64)
    offs = tl.arange(0, BLOCK_L)
    is_last = (offs == BLOCK_L - 1)[None, :]
    a_row = a_ptr + r64[:, None] * s_am
    b_row = b_ptr + r64[:, None] * s_bm
    h_row = h_ptr + r64[:, None] * s_hm

    if HAS_H0:
        cr = tl.load(h0_ptr + r64 * s_h0, mask=mask_m, other=0.0).to(cdt)
        if IS_COMPLEX:
            ci = tl.load(h0_ptr + r64 * s_h0 + 1, mask=mask_m, other=0.0).to(cdt)
    else:
        cr = tl.zeros((BLOCK_M,), dtype=cdt)
        if IS_COMPLEX:
            ci = tl.zeros((BLOCK_M,), dtype=cdt)

    for c in range(0, tl.cdiv(L, BLOCK_L)):
        i = c * BLOCK_L + offs
        if REVERSE:
            t = L - 1 - i
        else:
            t = i
        m = mask_m[:, None] & (i < L)[None, :]
        # Steps past the end get a = 1, b = 0: the state passes through, so the last
        # column holds the state after the chunk's last real step.
        ar = tl.load(a_row + t[None, :] * s_al, mask=m, other=1.0).to(cdt)
        br = tl.load(b_row + t[None, :] * s_bl, mask=m, other=0.0).to(cdt)
        if IS_COMPLEX:
            ai = tl.load(a_row + t[None, :] * s_al + 1, mask=m, other=0.0).to(cdt)
            bi = tl.load(b_row + t[None, :] * s_bl + 1, mask=m, other=0.0).to(cdt)
            Ar, Ai, Hr, Hi = tl.associative_scan((ar, ai, br, bi), 1, _affine_complex)
            Hr = Hr + Ar * cr[:, None] - Ai * ci[:, None]
            Hi = Hi + Ar * ci[:, None] + Ai * cr[:, None]
            tl.store(h_row + t[None, :] * s_hl + 1, Hi.to(h_ptr.dtype.element_ty), mask=m)
            ci = _last_col(Hi, is_last)
        else:
            Ar, Hr = tl.associative_scan((ar, br), 1, _affine)
            Hr = Hr + Ar * cr[:, None]
        tl.store(h_row + t[None, :] * s_hl, Hr.to(h_ptr.dtype.element_ty), mask=m)
        cr = _last_col(Hr, is_last)


@triton.jit
def _linear_scan_bwd_kernel(
    # pointers (complex tensors as their float view)
    a_ptr,
    h_ptr,
    h0_ptr,
    g_ptr,
    da_ptr,
    db_ptr,
    dh0_ptr,
    # sizes
    M,
    L,
    # strides of a, h, h0, g (dLoss/dh); da, db are contiguous (M, L[, 2]), dh0 (M[, 2])
    s_am,
    s_al,
    s_hm,
    s_hl,
    s_h0,
    s_gm,
    s_gl,
    # meta-parameters
    IS_COMPLEX: tl.constexpr,
    HAS_H0: tl.constexpr,
    REVERSE: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_L: tl.constexpr,
):
    cdt = tl.float64 if da_ptr.dtype.element_ty == tl.float64 else tl.float32
    CW: tl.constexpr = 2 if IS_COMPLEX else 1  # floats per element in da, db, dh0
    rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    mask_m = rows < M
    r64 = rows.to(tl.int64)
    offs = tl.arange(0, BLOCK_L)
    is_first = (offs == 0)[None, :]
    zero_l = tl.zeros((BLOCK_L,), dtype=tl.int32)
    a_row = a_ptr + r64[:, None] * s_am
    h_row = h_ptr + r64[:, None] * s_hm
    g_row = g_ptr + r64[:, None] * s_gm
    d_row = r64[:, None] * (L * CW)

    if HAS_H0:
        h0r = tl.load(h0_ptr + r64 * s_h0, mask=mask_m, other=0.0).to(cdt)
        if IS_COMPLEX:
            h0i = tl.load(h0_ptr + r64 * s_h0 + 1, mask=mask_m, other=0.0).to(cdt)
    # (gr, gi): g at the first step of the chunk handled last, i.e. the next one in time
    gr = tl.zeros((BLOCK_M,), dtype=cdt)
    gi = tl.zeros((BLOCK_M,), dtype=cdt)
    n_chunks = tl.cdiv(L, BLOCK_L)
    for cc in range(0, n_chunks):
        c = n_chunks - 1 - cc
        i = c * BLOCK_L + offs
        if REVERSE:
            t = L - 1 - i
            t_next = t - 1
            t_prev = t + 1
        else:
            t = i
            t_next = t + 1
            t_prev = t - 1
        m = mask_m[:, None] & (i < L)[None, :]
        m_next = mask_m[:, None] & (i + 1 < L)[None, :]
        m_prev = mask_m[:, None] & (i >= 1)[None, :] & (i < L)[None, :]
        at_start = is_first & ((zero_l + c) == 0)[None, :]  # the very first step
        # alpha_i = conj(a at the next step); 0 past the end, which also stops the carry
        alr = tl.load(a_row + t_next[None, :] * s_al, mask=m_next, other=0.0).to(cdt)
        dhr = tl.load(g_row + t[None, :] * s_gl, mask=m, other=0.0).to(cdt)
        hpr = tl.load(h_row + t_prev[None, :] * s_hl, mask=m_prev, other=0.0).to(cdt)
        if HAS_H0:
            hpr = tl.where(at_start, h0r[:, None], hpr)
        if IS_COMPLEX:
            ali = -tl.load(a_row + t_next[None, :] * s_al + 1, mask=m_next, other=0.0).to(cdt)
            dhi = tl.load(g_row + t[None, :] * s_gl + 1, mask=m, other=0.0).to(cdt)
            hpi = tl.load(h_row + t_prev[None, :] * s_hl + 1, mask=m_prev, other=0.0).to(cdt)
            if HAS_H0:
                hpi = tl.where(at_start, h0i[:, None], hpi)
            Pr, Pi, Rr, Ri = tl.associative_scan(
                (alr, ali, dhr, dhi), 1, _affine_complex, reverse=True
            )
            Gr = Rr + Pr * gr[:, None] - Pi * gi[:, None]
            Gi = Ri + Pr * gi[:, None] + Pi * gr[:, None]
            # da = g * conj(h_prev)
            dar = Gr * hpr + Gi * hpi
            dai = Gi * hpr - Gr * hpi
            off = d_row + t[None, :] * 2
            tl.store(db_ptr + off, Gr.to(db_ptr.dtype.element_ty), mask=m)
            tl.store(db_ptr + off + 1, Gi.to(db_ptr.dtype.element_ty), mask=m)
            tl.store(da_ptr + off, dar.to(da_ptr.dtype.element_ty), mask=m)
            tl.store(da_ptr + off + 1, dai.to(da_ptr.dtype.element_ty), mask=m)
            gi = tl.sum(tl.where(is_first, Gi, 0.0), axis=1)
        else:
            Pr, Rr = tl.associative_scan((alr, dhr), 1, _affine, reverse=True)
            Gr = Rr + Pr * gr[:, None]
            off = d_row + t[None, :]
            tl.store(db_ptr + off, Gr.to(db_ptr.dtype.element_ty), mask=m)
            tl.store(da_ptr + off, (Gr * hpr).to(da_ptr.dtype.element_ty), mask=m)
        gr = tl.sum(tl.where(is_first, Gr, 0.0), axis=1)

    if HAS_H0:
        # dh0 = conj(a at the first step) * g at the first step
        if REVERSE:
            t0 = L - 1
        else:
            t0 = 0
        a0r = tl.load(a_ptr + r64 * s_am + t0 * s_al, mask=mask_m, other=0.0).to(cdt)
        if IS_COMPLEX:
            a0i = tl.load(a_ptr + r64 * s_am + t0 * s_al + 1, mask=mask_m, other=0.0).to(cdt)
            d0r = a0r * gr + a0i * gi
            d0i = a0r * gi - a0i * gr
            tl.store(dh0_ptr + r64 * 2, d0r.to(dh0_ptr.dtype.element_ty), mask=mask_m)
            tl.store(dh0_ptr + r64 * 2 + 1, d0i.to(dh0_ptr.dtype.element_ty), mask=mask_m)
        else:
            tl.store(dh0_ptr + r64, (a0r * gr).to(dh0_ptr.dtype.element_ty), mask=mask_m)


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def _alloc(shape, dtype, device) -> torch.Tensor:
    if POISON_OUTPUTS:
        return torch.full(shape, float("nan"), dtype=dtype, device=device)
    return torch.empty(shape, dtype=dtype, device=device)


def _float_view(x: torch.Tensor) -> torch.Tensor:
    return torch.view_as_real(x) if x.is_complex() else x


def _wide(dtype: torch.dtype) -> bool:
    return dtype.is_complex or dtype == torch.float64


def _launch_config(M: int, L: int, wide: bool) -> tuple[int, int, int]:
    """(BLOCK_M, BLOCK_L, num_warps) for one program.

    A tile of 2048 elements (1024 when ``wide``: complex or float64, which scan four
    values or 8-byte values per element) keeps the scan's operands in registers
    without spilling at 4 warps.
    """
    elements = 1024 if wide else 2048
    block_l = min(64 if wide else 128, max(triton.next_power_of_2(L), 2))
    block_m = max(1, min(elements // block_l, triton.next_power_of_2(M)))
    return block_m, block_l, 4


class _LinearScanFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, h0, reverse):
        M, L = b.shape
        out = _alloc((M, L), b.dtype, b.device)
        cplx = b.is_complex()
        block_m, block_l, warps = _launch_config(M, L, _wide(b.dtype))
        av, bv, ov = _float_view(a), _float_view(b), _float_view(out)
        h0v = _float_view(h0) if h0 is not None else None
        if out.numel() > 0:
            _linear_scan_fwd_kernel[(triton.cdiv(M, block_m),)](
                av,
                bv,
                h0v if h0v is not None else bv,
                ov,
                M,
                L,
                av.stride(0),
                av.stride(1),
                bv.stride(0),
                bv.stride(1),
                ov.stride(0),
                ov.stride(1),
                h0v.stride(0) if h0v is not None else 0,
                IS_COMPLEX=cplx,
                HAS_H0=h0 is not None,
                REVERSE=bool(reverse),
                BLOCK_M=block_m,
                BLOCK_L=block_l,
                num_warps=warps,
            )
        ctx.save_for_backward(a, out, h0)
        ctx.reverse = bool(reverse)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out, h0 = ctx.saved_tensors
        M, L = out.shape
        cplx = out.is_complex()
        da = _alloc((M, L), a.dtype, a.device)
        db = _alloc((M, L), out.dtype, out.device)
        dh0 = _alloc((M,), h0.dtype, h0.device) if h0 is not None else None
        if out.numel() > 0:
            block_m, block_l, warps = _launch_config(M, L, _wide(out.dtype))
            av, hv, gv = _float_view(a), _float_view(out), _float_view(g)
            h0v = _float_view(h0) if h0 is not None else None
            _linear_scan_bwd_kernel[(triton.cdiv(M, block_m),)](
                av,
                hv,
                h0v if h0v is not None else hv,
                gv,
                _float_view(da),
                _float_view(db),
                _float_view(dh0) if dh0 is not None else hv,
                M,
                L,
                av.stride(0),
                av.stride(1),
                hv.stride(0),
                hv.stride(1),
                h0v.stride(0) if h0v is not None else 0,
                gv.stride(0),
                gv.stride(1),
                IS_COMPLEX=cplx,
                HAS_H0=h0 is not None,
                REVERSE=ctx.reverse,
                BLOCK_M=block_m,
                BLOCK_L=block_l,
                num_warps=warps,
            )
        elif dh0 is not None:
            dh0 = torch.zeros_like(h0)  # no steps: the output does not depend on h0
        return da, db, dh0, None


@torch.compiler.disable
def _apply_eager(*args):
    return _LinearScanFn.apply(*args)


def _result_dtype(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> torch.dtype:
    dtype = torch.promote_types(a.dtype, b.dtype)
    return dtype if h0 is None else torch.promote_types(dtype, h0.dtype)


def linear_scan_triton(
    a: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor | None = None,
    reverse: bool = False,
) -> torch.Tensor:
    """``h_t = a_t h_{t-1} + b_t`` along the last axis on the GPU through Triton.

    Called by :func:`tsssm.ops.linear_scan`, which checks the shapes. Differentiable in
    ``a``, ``b`` and ``h0``.

    Parameters
    ----------
    a, b : torch.Tensor
        Broadcastable to one shape (..., L); real (float16, bfloat16, float32, float64)
        or complex (complex64, complex128).
    h0 : torch.Tensor or None, default=None
        The state before the first step, broadcastable to (...); zeros if None.
    reverse : bool, default=False
        Scan from the end: ``h_t = a_t h_{t+1} + b_t``.

    Returns
    -------
    torch.Tensor
        (..., L), in the promoted dtype of the inputs. Half-precision inputs are
        computed in float32; float64 and complex128 in float64.

    Examples
    --------
    On a CUDA GPU (skipped where there is none), against the float64 reference:

    >>> import torch
    >>> from tsssm.ops import linear_scan_ref
    >>> from tsssm.ops.triton.linear_scan import linear_scan_triton
    >>> a = torch.rand(2, 3, 100, device="cuda")  # doctest: +SKIP
    >>> b = torch.randn(2, 3, 100, device="cuda")  # doctest: +SKIP
    >>> h = linear_scan_triton(a, b)  # doctest: +SKIP
    >>> h.shape  # doctest: +SKIP
    torch.Size([2, 3, 100])
    >>> ref = linear_scan_ref(a.double(), b.double()).float()  # doctest: +SKIP
    >>> torch.allclose(h, ref, atol=1e-5)  # doctest: +SKIP
    True
    """
    if not b.is_cuda and not _interpreting():
        raise RuntimeError(
            f"The Triton linear scan needs CUDA tensors; got tensors on '{b.device}'. "
            "Move them to a GPU or use backend='torch'."
        )
    dtype = _result_dtype(a, b, h0)
    shape = torch.broadcast_shapes(a.shape, b.shape)
    if h0 is not None:
        shape = torch.broadcast_shapes(shape, (*h0.shape, shape[-1]))
    M, L = math.prod(shape[:-1]), shape[-1]
    # Differentiable PyTorch ops do the broadcasting and casting, so autograd reduces
    # the gradients back to each input's own shape and dtype.
    a2 = a.to(dtype).expand(shape).reshape(M, L)
    b2 = b.to(dtype).expand(shape).reshape(M, L)
    h02 = h0.to(dtype).expand(shape[:-1]).reshape(M) if h0 is not None else None
    if a2.stride(-1) != 1 and not a2.is_complex():
        a2 = a2.contiguous()
    if a2.is_complex():
        # view_as_real needs the complex tensors laid out with unit element stride
        a2, b2 = a2.contiguous(), b2.contiguous()
        h02 = h02.contiguous() if h02 is not None else None
    if _interpreting():
        # torch.compile cannot trace into Triton's interpreter: run it eagerly there.
        out = _apply_eager(a2, b2, h02, reverse)
    else:
        out = _LinearScanFn.apply(a2, b2, h02, reverse)
    return out.reshape(shape)
