"""S4D's Vandermonde kernel in Triton, without the (dim, N, L) intermediate.

``K[d, l] = 2 Re(sum_n W[d, n] exp(l * log_dA[d, n]))``, the convolution kernel of
:func:`tsssm.ops.s4d_kernel` once the discretisation is done (``W = C * dB``). The
PyTorch path materialises ``exp(l * log_dA)`` as a (dim, N, L) complex tensor and
contracts it; these kernels compute each term where it is used:

- forward: one program per (channel block, step block) tile of K; a loop over the N
  modes adds ``exp(l ar) (wr cos(l ai) - wi sin(l ai))`` to the tile;
- backward: one program per (channel block, mode); a loop over step blocks accumulates
  the four sums over l that the gradients of ``W`` and ``log_dA`` need.

Complex inputs are read as (real, imaginary) float pairs. complex64 computes in
float32, complex128 in float64. Gradients follow PyTorch's convention for complex
tensors (``dL/dRe + i dL/dIm``).
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

__all__ = ["s4d_vandermonde_triton"]

POISON_OUTPUTS = os.environ.get("TSSSM_TRITON_POISON", "0") == "1"


@triton.jit
def _vandermonde_fwd_kernel(
    # pointers: log_dA and W as (dim, N, 2) floats; K (dim, L)
    a_ptr,
    w_ptr,
    k_ptr,
    # sizes
    dim,
    N,
    L,
    # meta-parameters
    BLOCK_D: tl.constexpr,
    BLOCK_L: tl.constexpr,
):
    cdt = k_ptr.dtype.element_ty
    offs_d = tl.program_id(0) * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_l = tl.program_id(1) * BLOCK_L + tl.arange(0, BLOCK_L)
    mask_d = offs_d < dim
    d64 = offs_d.to(tl.int64)
    steps = offs_l.to(cdt)[None, :]  # (1, BL)
    acc = tl.zeros((BLOCK_D, BLOCK_L), dtype=cdt)
    for n in range(0, N):
        base = (d64 * N + n) * 2
        ar = tl.load(a_ptr + base, mask=mask_d, other=0.0).to(cdt)[:, None]  # (BD, 1)
        ai = tl.load(a_ptr + base + 1, mask=mask_d, other=0.0).to(cdt)[:, None]
        wr = tl.load(w_ptr + base, mask=mask_d, other=0.0).to(cdt)[:, None]
        wi = tl.load(w_ptr + base + 1, mask=mask_d, other=0.0).to(cdt)[:, None]
        phase = steps * ai
        acc += tl.exp(steps * ar) * (wr * tl.cos(phase) - wi * tl.sin(phase))
    mask = mask_d[:, None] & (offs_l < L)[None, :]
    tl.store(k_ptr + d64[:, None] * L + offs_l[None, :], 2.0 * acc, mask=mask)


@triton.jit
def _vandermonde_bwd_kernel(
    # pointers: log_dA, W as (dim, N, 2) floats; gK (dim, L) with strides; outputs
    # dA, dW as (dim, N, 2) floats
    a_ptr,
    w_ptr,
    g_ptr,
    da_ptr,
    dw_ptr,
    # sizes
    dim,
    N,
    L,
    # strides of gK
    s_gd,
    s_gl,
    # meta-parameters
    BLOCK_D: tl.constexpr,
    BLOCK_L: tl.constexpr,
):
    cdt = da_ptr.dtype.element_ty
    offs_d = tl.program_id(0) * BLOCK_D + tl.arange(0, BLOCK_D)
    n = tl.program_id(1)
    mask_d = offs_d < dim
    d64 = offs_d.to(tl.int64)
    base = (d64 * N + n) * 2
    ar = tl.load(a_ptr + base, mask=mask_d, other=0.0).to(cdt)  # (BD,)
    ai = tl.load(a_ptr + base + 1, mask=mask_d, other=0.0).to(cdt)
    wr = tl.load(w_ptr + base, mask=mask_d, other=0.0).to(cdt)
    wi = tl.load(w_ptr + base + 1, mask=mask_d, other=0.0).to(cdt)
    # sums over l of g e cos, g e sin, g l e cos, g l e sin with e = exp(l ar)
    s_c = tl.zeros((BLOCK_D,), dtype=cdt)
    s_s = tl.zeros((BLOCK_D,), dtype=cdt)
    s_lc = tl.zeros((BLOCK_D,), dtype=cdt)
    s_ls = tl.zeros((BLOCK_D,), dtype=cdt)
    offs = tl.arange(0, BLOCK_L)
    for l0 in range(0, L, BLOCK_L):
        offs_l = l0 + offs
        mask = mask_d[:, None] & (offs_l < L)[None, :]
        g = tl.load(g_ptr + d64[:, None] * s_gd + offs_l[None, :] * s_gl, mask=mask, other=0.0)
        steps = offs_l.to(cdt)[None, :]
        phase = steps * ai[:, None]
        ge = g.to(cdt) * tl.exp(steps * ar[:, None])
        gc = ge * tl.cos(phase)
        gs = ge * tl.sin(phase)
        s_c += tl.sum(gc, axis=1)
        s_s += tl.sum(gs, axis=1)
        s_lc += tl.sum(gc * steps, axis=1)
        s_ls += tl.sum(gs * steps, axis=1)
    # K = 2 sum_l e (wr cos - wi sin): derivatives in wr, wi, ar and ai
    tl.store(dw_ptr + base, (2.0 * s_c).to(dw_ptr.dtype.element_ty), mask=mask_d)
    tl.store(dw_ptr + base + 1, (-2.0 * s_s).to(dw_ptr.dtype.element_ty), mask=mask_d)
    dar = 2.0 * (wr * s_lc - wi * s_ls)
    dai = -2.0 * (wr * s_ls + wi * s_lc)
    tl.store(da_ptr + base, dar.to(da_ptr.dtype.element_ty), mask=mask_d)
    tl.store(da_ptr + base + 1, dai.to(da_ptr.dtype.element_ty), mask=mask_d)


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def _alloc(shape, dtype, device) -> torch.Tensor:
    if POISON_OUTPUTS:
        return torch.full(shape, float("nan"), dtype=dtype, device=device)
    return torch.empty(shape, dtype=dtype, device=device)


class _VandermondeFn(torch.autograd.Function):
    @staticmethod
    def forward(ctx, log_dA, W, L):
        dim, N = log_dA.shape
        real = torch.float64 if log_dA.dtype == torch.complex128 else torch.float32
        K = _alloc((dim, L), real, log_dA.device)
        if K.numel() > 0:
            # Precise sin/cos are long (argument reduction): larger tiles than these
            # spill registers (checked in the sm_90 compiler's resource report).
            block_d, block_l = (16, 64) if real == torch.float32 else (16, 16)
            grid = (triton.cdiv(dim, block_d), triton.cdiv(L, block_l))
            _vandermonde_fwd_kernel[grid](
                torch.view_as_real(log_dA), torch.view_as_real(W), K, dim, N, L,
                BLOCK_D=block_d, BLOCK_L=block_l, num_warps=4,
            )  # fmt: skip
        ctx.save_for_backward(log_dA, W)
        ctx.L = L
        return K

    @staticmethod
    def backward(ctx, gK):
        log_dA, W = ctx.saved_tensors
        dim, N = log_dA.shape
        dA = _alloc((dim, N), log_dA.dtype, log_dA.device)
        dW = _alloc((dim, N), W.dtype, W.device)
        if dim * N > 0:
            block_d, block_l = (16, 64) if log_dA.dtype == torch.complex64 else (8, 32)
            _vandermonde_bwd_kernel[(triton.cdiv(dim, block_d), N)](
                torch.view_as_real(log_dA), torch.view_as_real(W), gK,
                torch.view_as_real(dA), torch.view_as_real(dW), dim, N, ctx.L,
                gK.stride(0), gK.stride(1), BLOCK_D=block_d, BLOCK_L=block_l, num_warps=4,
            )  # fmt: skip
        return dA, dW, None


def s4d_vandermonde_triton(log_dA: torch.Tensor, W: torch.Tensor, L: int) -> torch.Tensor:
    """``K[d, l] = 2 Re(sum_n W[d, n] exp(l * log_dA[d, n]))`` on the GPU through Triton.

    Parameters
    ----------
    log_dA : torch.Tensor
        (dim, N) complex64 or complex128: the log of the discrete decays (``dt * A`` for
        zero-order hold).
    W : torch.Tensor
        (dim, N), the dtype of ``log_dA``: ``C * dB``.
    L : int
        Kernel length.

    Returns
    -------
    torch.Tensor
        (dim, L), float32 (float64 for complex128 inputs). Differentiable in ``log_dA``
        and ``W``.

    Examples
    --------
    Called by :func:`tsssm.ops.s4d_kernel` for CUDA tensors; directly, on a GPU:

    >>> import torch
    >>> log_dA = torch.full((1, 1), -1.0 + 0j, device="cuda")  # doctest: +SKIP
    >>> W = torch.full((1, 1), 0.5 + 0j, device="cuda")  # doctest: +SKIP
    >>> s4d_vandermonde_triton(log_dA, W, 3)  # 2 * 0.5 * e^-l  # doctest: +SKIP
    tensor([[1.0000, 0.3679, 0.1353]], device='cuda:0')
    """
    if not log_dA.is_cuda and not _interpreting():
        raise RuntimeError(
            f"The Triton S4D kernel needs CUDA tensors; got tensors on '{log_dA.device}'. "
            "Move them to a GPU or use the PyTorch path."
        )
    log_dA = log_dA.contiguous()
    W = W.to(log_dA.dtype).contiguous()
    if _interpreting():
        return _apply_eager(log_dA, W, int(L))
    return _VandermondeFn.apply(log_dA, W, int(L))


@torch.compiler.disable
def _apply_eager(*args):
    # torch.compile cannot trace into Triton's interpreter.
    return _VandermondeFn.apply(*args)
