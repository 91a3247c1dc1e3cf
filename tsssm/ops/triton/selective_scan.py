"""Mamba-1 selective scan in Triton: forward and backward kernels and their autograd.Function.

The recurrence, per batch ``b``, channel ``d`` and state ``n``::

    dt_t = softplus(delta_t + delta_bias)          (or delta_t + delta_bias)
    h_t  = exp(dt_t A[d, n]) h_{t-1} + dt_t B_t[n] u_t
    y_t  = sum_n C_t[n] h_t[n] + D[d] u_t
    out  = y * silu(z)                              (when z is given)

How the kernels work
--------------------
One program owns ``BLOCK_D`` channels of one batch row. Each channel is split over ``G``
"rows" (one row per thread), and each row keeps ``NG = N / G`` states in registers, so a
thread walks along time sequentially, one step after another, with no cross-thread scan:
per state and step it does one ``exp2``, three multiply-adds and one term of ``y``. Only
``y`` needs a reduction across the ``G`` threads of a channel (a few warp shuffles per
chunk). Time advances in chunks of ``T`` steps: the per-channel inputs of a chunk are
loaded as coalesced (BLOCK_D, T) tiles, and the steps inside a chunk are unrolled, so the
exponentials and loads of all ``T`` steps are independent of the state and can overlap.

The (batch, dim, L, N) state never reaches device memory. The forward writes only the
state at the start of every ``seg_len`` steps (when a backward will follow). The backward
walks the segments from last to first: it recomputes the segment's chunk-start states
(kept in a small per-program scratch buffer that stays in L2), then walks the chunks in
reverse, recomputing each chunk's states in registers and running the adjoint recurrence
``q_t = C_t dy_t + exp(dt_{t+1} A) q_{t+1}`` backwards. ``dB`` and ``dC`` are sums over
channels: each program reduces its channels and adds the (N,) result of every step to a
float32 buffer with atomic adds.

B and C are read step by step as (N,) vectors, so the wrapper first packs them, in one
launch of ``_pack_time_major_kernel``, into zero-padded time-major rows (batch, Lp, N):
float32, or their own 16-bit dtype where a thread keeps eight or more states.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import triton
import triton.language as tl
from triton.language.extra import libdevice

__all__ = ["SUPPORTED_DTYPES", "SelectiveScanConfig", "selective_scan_triton"]

#: dtypes ``backend="auto"`` sends here (A, D and delta_bias are float32); float64
#: stays on the PyTorch path, since this kernel computes in float32.
SUPPORTED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)

# Debug switch: fill every output buffer with NaN before the kernels run, so a test can
# prove each element was written. Set TSSSM_TRITON_POISON=1 or flip this attribute.
POISON_OUTPUTS = os.environ.get("TSSSM_TRITON_POISON", "0") == "1"


@dataclass(frozen=True)
class SelectiveScanConfig:
    """Launch settings of the selective-scan kernels.

    Parameters
    ----------
    block_d : int
        Channels per program in the forward (power of two).
    group : int
        Threads per channel in the forward (power of two, at most the padded N); each
        keeps ``N / group`` states.
    num_warps : int
        Warps per forward program; ``block_d * group`` should be ``32 * num_warps`` (one
        channel row per thread) or a multiple of it (several channels per thread).
    bwd_block_d, bwd_group, bwd_num_warps : int
        The same for the backward kernel.
    seg_len : int
        Steps between the states the forward saves for the backward (a power of two,
        at least 4, the steps of one chunk). Larger segments save less memory but need a larger
        scratch buffer in the backward.
    splits, bwd_splits : int
        Time splits that run in parallel in the forward and the backward; 0 picks them
        from the shapes and the number of multiprocessors. Each split but one costs an
        extra pass over its steps, so splitting pays only when batch * channels is too
        small to fill the GPU.
    fwd_variant : str or None
        Load pipeline of the forward kernel, a key of ``FWD_VARIANTS`` or ``"auto"``;
        ``None`` uses the module-level ``FWD_VARIANT`` (``"auto"`` unless
        ``TSSSM_SS_FWD_VARIANT`` says otherwise). ``"auto"`` picks ``"v5"`` when
        batch * dim is at most ``V5_MAX_CHANNELS`` and ``"v4"`` above.

    Examples
    --------
    >>> from tsssm.ops.triton.selective_scan import SelectiveScanConfig
    >>> cfg = SelectiveScanConfig(block_d=16, group=2, num_warps=1)  # 16 * 2 = 32 * 1
    >>> cfg.seg_len, cfg.splits  # the defaults of the rest
    (64, 0)
    """

    block_d: int = 8
    group: int = 4
    num_warps: int = 1
    bwd_block_d: int = 8
    bwd_group: int = 4
    bwd_num_warps: int = 1
    seg_len: int = 64
    splits: int = 0
    bwd_splits: int = 0
    fwd_variant: str | None = None


# Warps a multiprocessor holds at once, limited by registers (65536 per SM): the
# forward uses ~120 registers a thread, the backward ~170 with four states per thread
# (~240, 8 warps, with the eight it now takes at N >= 16; the sweep that chose eight
# ran with this estimate, so it is kept).
_FWD_WARPS_PER_SM = 16
_BWD_WARPS_PER_SM = 12
# Both kernels unroll chunks of this many steps (the per-step tensors are named values).
_CHUNK = 4

#: Load pipelines of the forward kernel (benchmarks/KERNEL_NOTES.md, v4 and v5):
#: ZPF loads z with u and delta instead of in its own chunk, XDEPTH / BCDEPTH are how
#: many chunks ahead u, delta (and z) / B and C are loaded, L2PF > 0 prefetches the
#: u/delta/z lines that many chunks ahead into L2 (GPU only; ignored by the interpreter),
#: XF32 converts the prefetched u/delta/z tiles to float32 as soon as they are loaded,
#: MAXNREG (optional) caps the registers per thread (ptxas; ignored by the interpreter):
#: v6 / v6d are v5z / v5 carried as float32 under a 96-register cap (21 one-warp programs
#: per SM instead of 16) for the many-channel shapes (KERNEL_NOTES.md, v6). UNROLL
#: (optional) unrolls the chunk loop that many times (v4u / v5u; KERNEL_NOTES.md, v7).
FWD_VARIANTS = {
    "v4": dict(ZPF=False, XDEPTH=1, BCDEPTH=1, L2PF=0, XF32=False),
    "v5z": dict(ZPF=True, XDEPTH=1, BCDEPTH=1, L2PF=0, XF32=False),
    "v5": dict(ZPF=True, XDEPTH=2, BCDEPTH=1, L2PF=0, XF32=True),
    "v5bc": dict(ZPF=True, XDEPTH=2, BCDEPTH=2, L2PF=0, XF32=True),
    "v5l2": dict(ZPF=True, XDEPTH=2, BCDEPTH=1, L2PF=8, XF32=True),
    "v6": dict(ZPF=True, XDEPTH=1, BCDEPTH=1, L2PF=0, XF32=True, MAXNREG=96),
    "v6d": dict(ZPF=True, XDEPTH=2, BCDEPTH=1, L2PF=0, XF32=True, MAXNREG=96),
    "v4u": dict(ZPF=False, XDEPTH=1, BCDEPTH=1, L2PF=0, XF32=False, UNROLL=2),
    "v5u": dict(ZPF=True, XDEPTH=2, BCDEPTH=1, L2PF=0, XF32=True, UNROLL=2),
}
#: The forward variant used when the config does not name one.
FWD_VARIANT = os.environ.get("TSSSM_SS_FWD_VARIANT", "auto")
#: "auto" uses v5 up to this many channels (batch * dim) and v4 above. On the H100
#: (benchmarks/KERNEL_NOTES.md, v5) the deeper pipeline was 3-9% faster in bf16 where
#: the programs fill the GPU about once (12,288-16,384 channels) and 3-8% slower at
#: 65,536 channels, where its extra registers cost more occupancy than latency it hides.
V5_MAX_CHANNELS = 32768
#: Up to this many channels the forward's programs of four states per thread do not fill
#: the GPU and are split along time; there, and from MANY_CHANNELS on, the forward takes
#: eight states per thread at N = 16 for 16-bit inputs.
FEW_CHANNELS = 4096
MANY_CHANNELS = 65536


def _resolve_variant(variant: str, batch: int, dim: int) -> str:
    if variant == "auto":
        return "v5" if batch * dim <= V5_MAX_CHANNELS else "v4"
    if variant not in FWD_VARIANTS:
        raise ValueError(
            f"unknown forward variant {variant!r}; expected 'auto' or one of "
            f"{sorted(FWD_VARIANTS)}"
        )
    return variant


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


@triton.jit
def _softplus(x, FAST: tl.constexpr):
    # log(1 + exp(x)) without overflow for large x; FAST uses the hardware exp2/log2
    # (about 2 ulp), which Triton's interpreter lacks.
    e = tl.exp(-tl.abs(x))
    if FAST:
        lg = libdevice.fast_logf(1.0 + e)
    else:
        lg = tl.log(1.0 + e)
    return tl.maximum(x, 0.0) + lg


@triton.jit
def _to_rows(x, BLOCK_D: tl.constexpr, G: tl.constexpr, T: tl.constexpr):
    # (BLOCK_D, T) per-channel tile -> (BLOCK_D * G, T): row r holds channel r // G.
    return tl.reshape(tl.broadcast_to(x[:, None, :], (BLOCK_D, G, T)), (BLOCK_D * G, T))


@triton.jit
def _from_rows(x, BLOCK_D: tl.constexpr, G: tl.constexpr, T: tl.constexpr):
    # (BLOCK_D * G, T) per-row partial sums -> (BLOCK_D, T) per-channel sums.
    return tl.sum(tl.reshape(x, (BLOCK_D, G, T)), axis=1)


@triton.jit
def _col(x, sel):
    # Column k of a (R, T) tile whose T axis lies in one thread: ``sel`` is
    # (arange(T) == k), and adding -0.0 is exact, so the compiler folds this to a move.
    return tl.sum(tl.where(sel[None, :], x, -0.0), axis=1)


@triton.jit
def _dt_tile(
    delta_ptrs, mask, bias, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr, FAST: tl.constexpr
):
    raw = tl.load(delta_ptrs, mask=mask, other=0.0).to(tl.float32)
    return _dt_act(raw, mask, bias, HAS_BIAS, SOFTPLUS, FAST)


@triton.jit
def _dt_act(raw, mask, bias, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr, FAST: tl.constexpr):
    # Returns (dt, pre-activation) for a (BLOCK_D, T) tile of delta; dt = 0 outside the
    # mask, so padded steps have decay 1 and input 0 and leave the state unchanged.
    if HAS_BIAS:
        raw = raw + bias[:, None]
    if SOFTPLUS:
        dt = _softplus(raw, FAST)
    else:
        dt = raw
    return tl.where(mask, dt, 0.0), raw


@triton.jit
def _load_tile(row, s_l, t, mask_d, L, XF32: tl.constexpr):
    # The (BLOCK_D, T) tile of u, delta or z at steps t (zero past L), float32 if XF32.
    x = tl.load(row + t[None, :] * s_l, mask=mask_d[:, None] & (t < L)[None, :], other=0.0)
    if XF32:
        x = x.to(tl.float32)
    return x


@triton.jit
def _load4(ptrs, STRIDE: tl.constexpr):
    # B or C of the four steps of a chunk, from the padded (Lp, BLOCK_N) rows.
    return (
        tl.load(ptrs),
        tl.load(ptrs + STRIDE),
        tl.load(ptrs + 2 * STRIDE),
        tl.load(ptrs + 3 * STRIDE),
    )


@triton.jit
def _prefetch_l2(ptrs, mask):
    # Ask L2 for the lines holding ``ptrs`` (PTX prefetch.global.L2, no register result
    # to wait for); masked-off lanes issue nothing. GPU only: the interpreter cannot run
    # inline assembly, so the wrapper never enables this there.
    tl.inline_asm_elementwise(
        "{ .reg .pred p; setp.ne.b32 p, $2, 0; @p prefetch.global.L2 [$1]; mov.u32 $0, 0; }",
        "=r,l,r",
        [ptrs, mask.to(tl.int32)],
        dtype=tl.int32,
        is_pure=False,
        pack=1,
    )


@triton.jit
def _step(h, A2, dt_r, dtu_r, sel, B_k):
    # h_k = exp(dt_k A) h_{k-1} + dt_k u_k B_k for this thread's states.
    decay = tl.exp2(_col(dt_r, sel)[:, None] * A2)
    return decay * h + _col(dtu_r, sel)[:, None] * B_k.to(tl.float32)


@triton.jit
def _put_y(y_r, h, C_k, sel):
    # y_r with column k (``sel``) set to this thread's part of y_k = sum_n C_k[n] h_k[n]
    return tl.where(sel[None, :], tl.sum(h * C_k.to(tl.float32), axis=1)[:, None], y_r)


@triton.jit
def _selective_scan_fwd_kernel(
    # pointers
    u_ptr,
    delta_ptr,
    A_ptr,
    B_ptr,
    C_ptr,
    D_ptr,
    z_ptr,
    bias_ptr,
    out_ptr,
    states_ptr,
    last_ptr,
    hend_ptr,
    dtsum_ptr,
    # sizes
    dim,
    L,
    N,
    n_dblocks,
    n_segs,
    n_splits,
    split_chunks,
    # strides
    s_ub,
    s_ud,
    s_ul,
    s_db,
    s_dd,
    s_dl,
    s_ad,
    s_an,
    s_pb,
    s_zb,
    s_zd,
    s_zl,
    s_ob,
    s_od,
    s_ol,
    # meta-parameters
    HAS_D: tl.constexpr,
    HAS_Z: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    SOFTPLUS: tl.constexpr,
    SAVE_STATES: tl.constexpr,
    SAVE_LAST: tl.constexpr,
    PREP: tl.constexpr,
    FAST: tl.constexpr,
    BLOCK_D: tl.constexpr,
    G: tl.constexpr,
    NG: tl.constexpr,
    BLOCK_N: tl.constexpr,
    T: tl.constexpr,
    SEG_CHUNKS: tl.constexpr,
    ZPF: tl.constexpr = False,
    XDEPTH: tl.constexpr = 1,
    BCDEPTH: tl.constexpr = 1,
    L2PF: tl.constexpr = 0,
    XF32: tl.constexpr = False,
    UNROLL: tl.constexpr = 1,
):
    """Forward over one (batch row, channel block, time split).

    With ``n_splits > 1`` the sequence is cut into splits of ``split_chunks`` chunks
    that run in parallel. A first launch with ``PREP`` runs every split but the last
    from a zero state and writes its end state (``hend``) and its sum of dt
    (``dtsum``); the main launch then starts split s from the state obtained by
    chaining the earlier splits: h <- exp(A sum(dt_j)) h + hend_j, for j < s.

    Load pipeline (see ``FWD_VARIANTS``): u and delta (and z with ``ZPF``) are loaded
    ``XDEPTH`` chunks ahead of their use, B and C ``BCDEPTH`` chunks ahead, and with
    ``L2PF > 0`` the u/delta/z lines ``L2PF`` chunks ahead are prefetched into L2;
    ``XF32`` converts the prefetched tiles to float32 as soon as they are loaded.
    ``XDEPTH = BCDEPTH = 1``, no ``ZPF`` and no ``L2PF`` is v4 (z loaded in its own chunk).
    ``UNROLL`` unrolls the chunk loop (the compiler adds the remainder iterations).
    """
    tl.static_assert(T == 4, "the kernels unroll chunks of exactly 4 steps")
    tl.static_assert((XDEPTH - 1) * (XDEPTH - 2) == 0, "u/delta/z prefetch depth is 1 or 2")
    tl.static_assert((BCDEPTH - 1) * (BCDEPTH - 2) == 0, "B/C prefetch depth is 1 or 2")
    BR: tl.constexpr = BLOCK_D * G
    pid = tl.program_id(0)
    # Channel blocks vary fastest, so the programs of one batch row and split run
    # together and share their B and C through L2.
    pid_d = pid % n_dblocks
    rest = pid // n_dblocks
    if PREP:
        n_run = n_splits - 1
    else:
        n_run = n_splits
    pid_s = rest % n_run
    pid_b = (rest // n_run).to(tl.int64)
    n_chunks = tl.cdiv(L, T)
    c_lo = pid_s * split_chunks
    c_hi = tl.minimum(c_lo + split_chunks, n_chunks)

    # per-channel index space (BLOCK_D, T)
    offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    mask_d = offs_d < dim
    d64 = offs_d.to(tl.int64)
    offs_t = tl.arange(0, T)
    # per-row index space (BR, NG): row r is channel r // G, states (r % G) * NG + j
    rows = tl.arange(0, BR)
    r_ch = (pid_d * BLOCK_D + rows // G).to(tl.int64)
    n_idx = (rows % G)[:, None] * NG + tl.arange(0, NG)[None, :]  # (BR, NG)
    mask_r = r_ch < dim
    mask_rn = mask_r[:, None] & (n_idx < N)
    zero_rn = tl.zeros((BR, NG), dtype=tl.int32)  # makes scalar tests tensors of this shape

    # Padded states get A = 0 and B = 0, so they stay 0 and add nothing to y.
    A2 = tl.load(A_ptr + r_ch[:, None] * s_ad + n_idx * s_an, mask=mask_rn, other=0.0)
    A2 = A2.to(tl.float32) * 1.4426950408889634  # (BR, NG): exp(dt A) = exp2(dt A2)
    if HAS_D:
        Dv = tl.load(D_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    else:
        bias = None

    u_row = u_ptr + pid_b * s_ub + d64[:, None] * s_ud  # (BD, 1)
    dt_row = delta_ptr + pid_b * s_db + d64[:, None] * s_dd
    z_row = z_ptr + pid_b * s_zb + d64[:, None] * s_zd
    o_row = out_ptr + pid_b * s_ob + d64[:, None] * s_od
    # B and C: zero-padded time-major copies (batch, Lp, BLOCK_N), so loads need no mask
    # and step k of a chunk sits at a constant offset k * BLOCK_N.
    b_row = B_ptr + pid_b * s_pb + n_idx  # (BR, NG)
    c_row = C_ptr + pid_b * s_pb + n_idx
    # states: contiguous (batch, dim, n_segs, N); hend (batch, dim, n_splits, N) and
    # dtsum (batch, dim, n_splits), float32
    st_row = states_ptr + (pid_b * dim + r_ch[:, None]) * n_segs * N + n_idx
    he_row = hend_ptr + (pid_b * dim + r_ch[:, None]) * n_splits * N + n_idx
    ds_row = dtsum_ptr + (pid_b * dim + r_ch) * n_splits  # (BR,)

    h = tl.zeros((BR, NG), dtype=tl.float32)
    if not PREP:
        for j in range(0, pid_s):
            dsum = tl.load(ds_row + j, mask=mask_r, other=0.0)
            h = tl.exp2(dsum[:, None] * A2) * h + tl.load(he_row + j * N, mask=mask_rn, other=0.0)
    dts = tl.zeros((BLOCK_D,), dtype=tl.float32)

    # Software pipelining: the inputs of chunk c + 1 (the delta and u tiles, and the four
    # steps of B and C) are loaded while chunk c computes (v4); the v5 variants load
    # further ahead (the *_n2 values hold chunk c + 2). Loads of B and C that run past
    # the end stay inside the padded buffers (the wrapper adds BCDEPTH chunks).
    # ZPF (set by the wrapper only with z and not in PREP): z travels with u and delta
    # (v5); otherwise it is loaded in its own chunk.
    # v5 and v6 carry their prefetched tiles as float32 (XF32: Triton 3.6 otherwise lays
    # the 16-bit tiles out so that softplus and the gate run replicated per row)
    t = c_lo * T + offs_t
    u_nx = _load_tile(u_row, s_ul, t, mask_d, L, XF32)
    dl_nx = _load_tile(dt_row, s_dl, t, mask_d, L, XF32)
    if ZPF:
        z_nx = _load_tile(z_row, s_zl, t, mask_d, L, XF32)
    if XDEPTH == 2:
        u_n2 = _load_tile(u_row, s_ul, t + T, mask_d, L, XF32)
        dl_n2 = _load_tile(dt_row, s_dl, t + T, mask_d, L, XF32)
        if ZPF:
            z_n2 = _load_tile(z_row, s_zl, t + T, mask_d, L, XF32)
    bc = c_lo * T * BLOCK_N
    B0n, B1n, B2n, B3n = _load4(b_row + bc, BLOCK_N)
    if not PREP:
        C0n, C1n, C2n, C3n = _load4(c_row + bc, BLOCK_N)
    if BCDEPTH == 2:
        B0m, B1m, B2m, B3m = _load4(b_row + bc + T * BLOCK_N, BLOCK_N)
        if not PREP:
            C0m, C1m, C2m, C3m = _load4(c_row + bc + T * BLOCK_N, BLOCK_N)
    for c in tl.range(c_lo, c_hi, loop_unroll_factor=UNROLL):
        if SAVE_STATES:
            at_seg = (zero_rn + c % SEG_CHUNKS) == 0
            tl.store(st_row + (c // SEG_CHUNKS) * N, h, mask=mask_rn & at_seg)
        t = c * T + offs_t
        m_dl = mask_d[:, None] & (t < L)[None, :]  # (BD, T)
        u = u_nx.to(tl.float32)
        raw = dl_nx.to(tl.float32)
        if ZPF:
            # the gate of this chunk, computed early, away from the y reduction's tail
            zt = z_nx.to(tl.float32)
            gate = zt * tl.sigmoid(zt)
        B0, B1, B2, B3 = B0n, B1n, B2n, B3n
        t_nx = t + XDEPTH * T
        u_ld = _load_tile(u_row, s_ul, t_nx, mask_d, L, XF32)
        dl_ld = _load_tile(dt_row, s_dl, t_nx, mask_d, L, XF32)
        if ZPF:
            z_ld = _load_tile(z_row, s_zl, t_nx, mask_d, L, XF32)
        if XDEPTH == 2:
            u_nx = u_n2
            dl_nx = dl_n2
            u_n2 = u_ld
            dl_n2 = dl_ld
            if ZPF:
                z_nx = z_n2
                z_n2 = z_ld
        else:
            u_nx = u_ld
            dl_nx = dl_ld
            if ZPF:
                z_nx = z_ld
        if L2PF > 0:
            t_pf = t + L2PF * T
            m_pf = mask_d[:, None] & (t_pf < L)[None, :]
            _prefetch_l2(u_row + t_pf[None, :] * s_ul, m_pf)
            _prefetch_l2(dt_row + t_pf[None, :] * s_dl, m_pf)
            if ZPF:
                _prefetch_l2(z_row + t_pf[None, :] * s_zl, m_pf)
        if BCDEPTH == 2:
            B0n, B1n, B2n, B3n = B0m, B1m, B2m, B3m
            bc = (c + 2) * T * BLOCK_N
            B0m, B1m, B2m, B3m = _load4(b_row + bc, BLOCK_N)
        else:
            bc = (c + 1) * T * BLOCK_N
            B0n, B1n, B2n, B3n = _load4(b_row + bc, BLOCK_N)
        if not PREP:
            C0, C1, C2, C3 = C0n, C1n, C2n, C3n
            if BCDEPTH == 2:
                C0n, C1n, C2n, C3n = C0m, C1m, C2m, C3m
                C0m, C1m, C2m, C3m = _load4(c_row + bc, BLOCK_N)
            else:
                C0n, C1n, C2n, C3n = _load4(c_row + bc, BLOCK_N)
            if HAS_Z and not ZPF:
                zt = tl.load(z_row + t[None, :] * s_zl, mask=m_dl, other=0.0)
        dt, raw = _dt_act(raw, m_dl, bias, HAS_BIAS, SOFTPLUS, FAST)
        dt_r = _to_rows(dt, BLOCK_D, G, T)  # (BR, T)
        dtu_r = _to_rows(dt * u, BLOCK_D, G, T)
        if PREP:
            dts += tl.sum(dt, axis=1)
            h = _step(h, A2, dt_r, dtu_r, offs_t == 0, B0)
            h = _step(h, A2, dt_r, dtu_r, offs_t == 1, B1)
            h = _step(h, A2, dt_r, dtu_r, offs_t == 2, B2)
            h = _step(h, A2, dt_r, dtu_r, offs_t == 3, B3)
        else:
            h = _step(h, A2, dt_r, dtu_r, offs_t == 0, B0)
            y_r = _put_y(0.0, h, C0, offs_t == 0)
            h = _step(h, A2, dt_r, dtu_r, offs_t == 1, B1)
            y_r = _put_y(y_r, h, C1, offs_t == 1)
            h = _step(h, A2, dt_r, dtu_r, offs_t == 2, B2)
            y_r = _put_y(y_r, h, C2, offs_t == 2)
            h = _step(h, A2, dt_r, dtu_r, offs_t == 3, B3)
            y_r = _put_y(y_r, h, C3, offs_t == 3)
            y = _from_rows(y_r, BLOCK_D, G, T)  # (BD, T)
            if HAS_D:
                y = y + Dv[:, None] * u
            if HAS_Z:
                if ZPF:
                    y = y * gate
                else:
                    zt = zt.to(tl.float32)
                    y = y * zt * tl.sigmoid(zt)
            tl.store(o_row + t[None, :] * s_ol, y.to(out_ptr.dtype.element_ty), mask=m_dl)

    if PREP:
        tl.store(he_row + pid_s * N, h, mask=mask_rn)
        tl.store(dtsum_ptr + (pid_b * dim + d64) * n_splits + pid_s, dts, mask=mask_d)
    if SAVE_LAST:
        last_ok = (zero_rn + pid_s) == n_splits - 1
        tl.store(last_ptr + (pid_b * dim + r_ch[:, None]) * N + n_idx, h, mask=mask_rn & last_ok)


@triton.jit
def _replay_step(h, A2, dt_r, dtu_r, sel, b_ptrs):
    # One step of the recurrence for the backward; returns (h_k, exp(dt_k A), B_k).
    B_k = tl.load(b_ptrs).to(tl.float32)
    decay = tl.exp2(_col(dt_r, sel)[:, None] * A2)
    h = decay * h + _col(dtu_r, sel)[:, None] * B_k
    return h, decay, B_k


@triton.jit
def _adjoint_step(
    w,
    h_k,
    decay,
    B_k,
    C_k,
    A,
    dt_r,
    dtu_r,
    dy_r,
    sel,
    qB_r,
    qAh_r,
    dA_acc,
    dB_ptrs,
    dC_ptrs,
    BLOCK_D: tl.constexpr,
    G: tl.constexpr,
    NG: tl.constexpr,
    P: tl.constexpr,
):
    # One step of the adjoint recurrence at step k, given w = exp(dt_{k+1} A) q_{k+1}.
    dt_k = _col(dt_r, sel)[:, None]
    dtu_k = _col(dtu_r, sel)[:, None]
    dy_k = _col(dy_r, sel)[:, None]
    q = C_k * dy_k + w  # dLoss/dh_k, (BR, NG)
    qB_r = tl.where(sel[None, :], tl.sum(q * B_k, axis=1)[:, None], qB_r)
    # exp(dt_k A) h_{k-1} = h_k - x_k: no shifted state needed
    qhx = q * (h_k - dtu_k * B_k)
    qAh_r = tl.where(sel[None, :], tl.sum(qhx * A, axis=1)[:, None], qAh_r)
    dA_acc += qhx * dt_k
    # dB, dC sum over channels. Each warp sums its own channels with shuffles and adds
    # its (G, NG) partial atomically: no shared memory, no barrier between the warps.
    dB_k = tl.sum(tl.reshape(q * dtu_k, (P, BLOCK_D // P, G, NG)), axis=1)  # (P, G, NG)
    dC_k = tl.sum(tl.reshape(h_k * dy_k, (P, BLOCK_D // P, G, NG)), axis=1)
    tl.atomic_add(dB_ptrs, dB_k, sem="relaxed")
    tl.atomic_add(dC_ptrs, dC_k, sem="relaxed")
    return decay * q, qB_r, qAh_r, dA_acc


@triton.jit
def _selective_scan_bwd_kernel(
    # pointers: inputs
    u_ptr,
    delta_ptr,
    A_ptr,
    B_ptr,
    C_ptr,
    D_ptr,
    z_ptr,
    bias_ptr,
    dout_ptr,
    states_ptr,
    dlast_ptr,
    scratch_ptr,
    wout_ptr,
    dtsum_ptr,
    # pointers: gradients. du, ddelta, dz are contiguous (batch, dim, L); dA, dD, dbias
    # and dB, dC (contiguous (batch, L, N)) are zeroed float32 accumulators.
    du_ptr,
    ddelta_ptr,
    dz_ptr,
    dA_ptr,
    dB_ptr,
    dC_ptr,
    dD_ptr,
    dbias_ptr,
    # sizes
    dim,
    L,
    N,
    n_dblocks,
    n_segs,
    n_splits,
    split_segs,
    # strides
    s_ub,
    s_ud,
    s_ul,
    s_db,
    s_dd,
    s_dl,
    s_ad,
    s_an,
    s_pb,
    s_zb,
    s_zd,
    s_zl,
    s_gb,
    s_gd,
    s_gl,
    s_lb,
    s_ld,
    s_ln,
    # meta-parameters
    HAS_D: tl.constexpr,
    HAS_Z: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    SOFTPLUS: tl.constexpr,
    HAS_DLAST: tl.constexpr,
    FAST: tl.constexpr,
    BLOCK_D: tl.constexpr,
    G: tl.constexpr,
    NG: tl.constexpr,
    BLOCK_N: tl.constexpr,
    T: tl.constexpr,
    SEG_CHUNKS: tl.constexpr,
):
    """Backward over one (batch row, channel block, time split).

    With ``n_splits > 1``, split s starts (at its end) from the adjoint that the later
    splits send into it, chained from what :func:`_selective_scan_bwd_prep_kernel`
    wrote: w <- exp(A sum(dt_j)) w + wout_j for j = n_splits - 1, ..., s + 1.
    """
    tl.static_assert(T == 4, "the kernels unroll chunks of exactly 4 steps")
    BR: tl.constexpr = BLOCK_D * G
    pid = tl.program_id(0)
    pid_d = pid % n_dblocks
    rest = pid // n_dblocks
    pid_s = rest % n_splits
    pid_b = (rest // n_splits).to(tl.int64)

    offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    mask_d = offs_d < dim
    d64 = offs_d.to(tl.int64)
    offs_t = tl.arange(0, T)
    rows = tl.arange(0, BR)
    r_ch = (pid_d * BLOCK_D + rows // G).to(tl.int64)
    n_idx = (rows % G)[:, None] * NG + tl.arange(0, NG)[None, :]  # (BR, NG)
    mask_r = r_ch < dim
    mask_rn = mask_r[:, None] & (n_idx < N)
    # (P, G, NG) index of the per-step, per-warp dB/dC partial sums (P warps of channels)
    P: tl.constexpr = min(BLOCK_D, max(1, BR // 32))
    n_grp = (
        tl.zeros((P, 1, 1), dtype=tl.int32)
        + (tl.arange(0, G)[:, None] * NG + tl.arange(0, NG)[None, :])[None, :, :]
    )

    A = tl.load(A_ptr + r_ch[:, None] * s_ad + n_idx * s_an, mask=mask_rn, other=0.0)
    A = A.to(tl.float32)  # (BR, NG)
    A2 = A * 1.4426950408889634
    if HAS_D:
        Dv = tl.load(D_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    else:
        bias = None

    u_row = u_ptr + pid_b * s_ub + d64[:, None] * s_ud
    dt_row = delta_ptr + pid_b * s_db + d64[:, None] * s_dd
    z_row = z_ptr + pid_b * s_zb + d64[:, None] * s_zd
    g_row = dout_ptr + pid_b * s_gb + d64[:, None] * s_gd
    gi_row = (pid_b * dim + d64[:, None]) * L  # contiguous (batch, dim, L) gradients
    # B, C and the dB, dC accumulators: zero-padded (batch, Lp, BLOCK_N) buffers
    b_row = B_ptr + pid_b * s_pb + n_idx
    c_row = C_ptr + pid_b * s_pb + n_idx
    dbc_row = pid_b * s_pb + n_grp
    st_row = states_ptr + (pid_b * dim + r_ch[:, None]) * n_segs * N + n_idx
    # scratch: one (SEG_CHUNKS, BR, NG) float32 block per program
    sc_row = scratch_ptr + pid.to(tl.int64) * (SEG_CHUNKS * BR * NG) + rows[:, None] * NG
    sc_row = sc_row + tl.arange(0, NG)[None, :]

    # w: gradient reaching the state at the end of the current chunk from later steps.
    if HAS_DLAST:
        w = tl.load(
            dlast_ptr + pid_b * s_lb + r_ch[:, None] * s_ld + n_idx * s_ln,
            mask=mask_rn,
            other=0.0,
        ).to(tl.float32)
    else:
        w = tl.zeros((BR, NG), dtype=tl.float32)
    # the adjoint arriving from the later splits
    wo_row = wout_ptr + (pid_b * dim + r_ch[:, None]) * n_splits * N + n_idx
    ds_row = dtsum_ptr + (pid_b * dim + r_ch) * n_splits
    for jj in range(0, n_splits - 1 - pid_s):
        j = n_splits - 1 - jj
        dsum = tl.load(ds_row + j, mask=mask_r, other=0.0)
        w = tl.exp2(dsum[:, None] * A2) * w + tl.load(wo_row + j * N, mask=mask_rn, other=0.0)
    dA_acc = tl.zeros((BR, NG), dtype=tl.float32)
    dD_acc = tl.zeros((BLOCK_D,), dtype=tl.float32)
    dbias_acc = tl.zeros((BLOCK_D,), dtype=tl.float32)
    n_chunks = tl.cdiv(L, T)
    seg_lo = pid_s * split_segs
    seg_hi = tl.minimum(seg_lo + split_segs, n_segs)

    for si in range(seg_lo, seg_hi):
        seg = seg_hi - 1 - (si - seg_lo)
        c_lo = seg * SEG_CHUNKS
        c_hi = tl.minimum(c_lo + SEG_CHUNKS, n_chunks)
        # Phase 1: replay the segment forward from its saved start state, keeping each
        # chunk's start state in scratch (the last chunk's own steps are not needed).
        h = tl.load(st_row + seg * N, mask=mask_rn, other=0.0)
        for c in range(c_lo, c_hi - 1):
            tl.store(sc_row + (c - c_lo) * (BR * NG), h)
            t = c * T + offs_t
            m_dl = mask_d[:, None] & (t < L)[None, :]
            u = tl.load(u_row + t[None, :] * s_ul, mask=m_dl, other=0.0).to(tl.float32)
            dt, raw = _dt_tile(dt_row + t[None, :] * s_dl, m_dl, bias, HAS_BIAS, SOFTPLUS, FAST)
            dt_r = _to_rows(dt, BLOCK_D, G, T)
            dtu_r = _to_rows(dt * u, BLOCK_D, G, T)
            for k in tl.static_range(T):
                B_k = tl.load(b_row + (c * T + k) * BLOCK_N)
                h = _step(h, A2, dt_r, dtu_r, offs_t == k, B_k)
        tl.store(sc_row + (c_hi - 1 - c_lo) * (BR * NG), h)

        # Phase 2: chunks of the segment from last to first.
        for ci in range(0, c_hi - c_lo):
            c = c_hi - 1 - ci
            h = tl.load(sc_row + (c - c_lo) * (BR * NG))
            t = c * T + offs_t
            m_dl = mask_d[:, None] & (t < L)[None, :]
            u = tl.load(u_row + t[None, :] * s_ul, mask=m_dl, other=0.0).to(tl.float32)
            dt, raw = _dt_tile(dt_row + t[None, :] * s_dl, m_dl, bias, HAS_BIAS, SOFTPLUS, FAST)
            dtu = dt * u
            dt_r = _to_rows(dt, BLOCK_D, G, T)
            dtu_r = _to_rows(dtu, BLOCK_D, G, T)
            dout = tl.load(g_row + t[None, :] * s_gl, mask=m_dl, other=0.0).to(tl.float32)

            # Recompute the chunk's four states, kept as separate (BR, NG) tensors so
            # they stay in registers with the layout of h.
            bc_off = c * T * BLOCK_N
            h0, e0, B0 = _replay_step(h, A2, dt_r, dtu_r, offs_t == 0, b_row + bc_off)
            h1, e1, B1 = _replay_step(h0, A2, dt_r, dtu_r, offs_t == 1, b_row + bc_off + BLOCK_N)
            h2, e2, B2 = _replay_step(
                h1, A2, dt_r, dtu_r, offs_t == 2, b_row + bc_off + 2 * BLOCK_N
            )
            h3, e3, B3 = _replay_step(
                h2, A2, dt_r, dtu_r, offs_t == 3, b_row + bc_off + 3 * BLOCK_N
            )
            C0 = tl.load(c_row + bc_off)
            C1 = tl.load(c_row + bc_off + BLOCK_N)
            C2 = tl.load(c_row + bc_off + 2 * BLOCK_N)
            C3 = tl.load(c_row + bc_off + 3 * BLOCK_N)
            C0, C1, C2, C3 = (
                C0.to(tl.float32),
                C1.to(tl.float32),
                C2.to(tl.float32),
                C3.to(tl.float32),
            )

            if HAS_Z:
                y_r = _put_y(0.0, h0, C0, offs_t == 0)
                y_r = _put_y(y_r, h1, C1, offs_t == 1)
                y_r = _put_y(y_r, h2, C2, offs_t == 2)
                y_r = _put_y(y_r, h3, C3, offs_t == 3)
                y = _from_rows(y_r, BLOCK_D, G, T)
                if HAS_D:
                    y = y + Dv[:, None] * u
                zt = tl.load(z_row + t[None, :] * s_zl, mask=m_dl, other=0.0).to(tl.float32)
                sz = tl.sigmoid(zt)
                dy = dout * zt * sz  # (BD, T)
                dz = dout * y * sz * (1.0 + zt * (1.0 - sz))
                tl.store(dz_ptr + gi_row + t[None, :], dz.to(dz_ptr.dtype.element_ty), mask=m_dl)
            else:
                dy = dout
            dy_r = _to_rows(dy, BLOCK_D, G, T)

            # Adjoint, from the chunk's last step to its first; w carries
            # exp(dt_{k+1} A) q_{k+1} into step k.
            qB_r = tl.zeros((BR, T), dtype=tl.float32)
            qAh_r = tl.zeros((BR, T), dtype=tl.float32)
            w, qB_r, qAh_r, dA_acc = _adjoint_step(
                w,
                h3,
                e3,
                B3,
                C3,
                A,
                dt_r,
                dtu_r,
                dy_r,
                offs_t == 3,
                qB_r,
                qAh_r,
                dA_acc,
                dB_ptr + dbc_row + bc_off + 3 * BLOCK_N,
                dC_ptr + dbc_row + bc_off + 3 * BLOCK_N,
                BLOCK_D,
                G,
                NG,
                P,
            )
            w, qB_r, qAh_r, dA_acc = _adjoint_step(
                w,
                h2,
                e2,
                B2,
                C2,
                A,
                dt_r,
                dtu_r,
                dy_r,
                offs_t == 2,
                qB_r,
                qAh_r,
                dA_acc,
                dB_ptr + dbc_row + bc_off + 2 * BLOCK_N,
                dC_ptr + dbc_row + bc_off + 2 * BLOCK_N,
                BLOCK_D,
                G,
                NG,
                P,
            )
            w, qB_r, qAh_r, dA_acc = _adjoint_step(
                w,
                h1,
                e1,
                B1,
                C1,
                A,
                dt_r,
                dtu_r,
                dy_r,
                offs_t == 1,
                qB_r,
                qAh_r,
                dA_acc,
                dB_ptr + dbc_row + bc_off + 1 * BLOCK_N,
                dC_ptr + dbc_row + bc_off + 1 * BLOCK_N,
                BLOCK_D,
                G,
                NG,
                P,
            )
            w, qB_r, qAh_r, dA_acc = _adjoint_step(
                w,
                h0,
                e0,
                B0,
                C0,
                A,
                dt_r,
                dtu_r,
                dy_r,
                offs_t == 0,
                qB_r,
                qAh_r,
                dA_acc,
                dB_ptr + dbc_row + bc_off + 0 * BLOCK_N,
                dC_ptr + dbc_row + bc_off + 0 * BLOCK_N,
                BLOCK_D,
                G,
                NG,
                P,
            )

            qB = _from_rows(qB_r, BLOCK_D, G, T)  # (BD, T)
            du = dt * qB
            if HAS_D:
                du = du + Dv[:, None] * dy
                dD_acc += tl.sum(tl.where(m_dl, dy * u, 0.0), axis=1)
            tl.store(du_ptr + gi_row + t[None, :], du.to(du_ptr.dtype.element_ty), mask=m_dl)
            ddt = u * qB + _from_rows(qAh_r, BLOCK_D, G, T)
            if SOFTPLUS:
                ddt = ddt * tl.sigmoid(raw)
            ddt = tl.where(m_dl, ddt, 0.0)
            if HAS_BIAS:
                dbias_acc += tl.sum(ddt, axis=1)
            tl.store(
                ddelta_ptr + gi_row + t[None, :], ddt.to(ddelta_ptr.dtype.element_ty), mask=m_dl
            )

    tl.atomic_add(dA_ptr + r_ch[:, None] * N + n_idx, dA_acc, mask=mask_rn, sem="relaxed")
    if HAS_D:
        tl.atomic_add(dD_ptr + offs_d, dD_acc, mask=mask_d, sem="relaxed")
    if HAS_BIAS:
        tl.atomic_add(dbias_ptr + offs_d, dbias_acc, mask=mask_d, sem="relaxed")


@triton.jit
def _selective_scan_bwd_prep_kernel(
    # pointers
    delta_ptr,
    A_ptr,
    C_ptr,
    z_ptr,
    bias_ptr,
    dout_ptr,
    wout_ptr,
    dtsum_ptr,
    # sizes
    dim,
    L,
    N,
    n_dblocks,
    n_splits,
    split_chunks,
    # strides
    s_db,
    s_dd,
    s_dl,
    s_ad,
    s_an,
    s_pb,
    s_zb,
    s_zd,
    s_zl,
    s_gb,
    s_gd,
    s_gl,
    # meta-parameters
    HAS_Z: tl.constexpr,
    HAS_BIAS: tl.constexpr,
    SOFTPLUS: tl.constexpr,
    FAST: tl.constexpr,
    BLOCK_D: tl.constexpr,
    G: tl.constexpr,
    NG: tl.constexpr,
    BLOCK_N: tl.constexpr,
    T: tl.constexpr,
):
    """For every time split but the first, run the adjoint backwards over the split from
    zero and write what reaches the state before the split (``wout``) and the split's
    sum of dt (``dtsum``). The adjoint q_t = C_t dy_t + exp(dt_{t+1} A) q_{t+1} needs no
    forward state, and dy = dout * silu(z) needs no output, so this is one cheap pass.
    """
    BR: tl.constexpr = BLOCK_D * G
    pid = tl.program_id(0)
    pid_d = pid % n_dblocks
    rest = pid // n_dblocks
    pid_s = rest % (n_splits - 1) + 1
    pid_b = (rest // (n_splits - 1)).to(tl.int64)
    n_chunks = tl.cdiv(L, T)
    c_lo = pid_s * split_chunks
    c_hi = tl.minimum(c_lo + split_chunks, n_chunks)

    offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    mask_d = offs_d < dim
    d64 = offs_d.to(tl.int64)
    offs_t = tl.arange(0, T)
    rows = tl.arange(0, BR)
    r_ch = (pid_d * BLOCK_D + rows // G).to(tl.int64)
    n_idx = (rows % G)[:, None] * NG + tl.arange(0, NG)[None, :]
    mask_rn = (r_ch < dim)[:, None] & (n_idx < N)
    A2 = tl.load(A_ptr + r_ch[:, None] * s_ad + n_idx * s_an, mask=mask_rn, other=0.0)
    A2 = A2.to(tl.float32) * 1.4426950408889634
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0).to(tl.float32)
    else:
        bias = None
    dt_row = delta_ptr + pid_b * s_db + d64[:, None] * s_dd
    z_row = z_ptr + pid_b * s_zb + d64[:, None] * s_zd
    g_row = dout_ptr + pid_b * s_gb + d64[:, None] * s_gd
    c_row = C_ptr + pid_b * s_pb + n_idx

    w = tl.zeros((BR, NG), dtype=tl.float32)
    dts = tl.zeros((BLOCK_D,), dtype=tl.float32)
    for cc in range(c_lo, c_hi):
        c = c_hi - 1 - (cc - c_lo)
        t = c * T + offs_t
        m_dl = mask_d[:, None] & (t < L)[None, :]
        dt, _ = _dt_tile(dt_row + t[None, :] * s_dl, m_dl, bias, HAS_BIAS, SOFTPLUS, FAST)
        dts += tl.sum(dt, axis=1)
        dy = tl.load(g_row + t[None, :] * s_gl, mask=m_dl, other=0.0).to(tl.float32)
        if HAS_Z:
            zt = tl.load(z_row + t[None, :] * s_zl, mask=m_dl, other=0.0).to(tl.float32)
            dy = dy * zt * tl.sigmoid(zt)
        dt_r = _to_rows(dt, BLOCK_D, G, T)
        dy_r = _to_rows(dy, BLOCK_D, G, T)
        for kk in tl.static_range(T):
            k = T - 1 - kk
            sel = offs_t == k
            C_k = tl.load(c_row + (c * T + k) * BLOCK_N).to(tl.float32)
            q = C_k * _col(dy_r, sel)[:, None] + w
            w = tl.exp2(_col(dt_r, sel)[:, None] * A2) * q

    tl.store(
        wout_ptr + ((pid_b * dim + r_ch[:, None]) * n_splits + pid_s) * N + n_idx, w, mask=mask_rn
    )
    tl.store(dtsum_ptr + (pid_b * dim + d64) * n_splits + pid_s, dts, mask=mask_d)


def _default_config(
    batch: int, dim: int, L: int, N: int, dtype: torch.dtype = torch.float32
) -> SelectiveScanConfig:
    """Pick launch settings from the problem size (see benchmarks/KERNEL_NOTES.md).

    One warp per program in both kernels: every reduction and layout change then stays
    inside a warp (no barriers between warps), and the backward's per-warp dB/dC sums go
    straight to the atomic adds. On an H100 this beat four-warp programs at every
    benchmarked shape.
    """
    block_n = max(triton.next_power_of_2(N), 2)
    channels = batch * dim
    # Forward: four states per thread make B_k and C_k one 16-byte load each; from
    # N = 64 on, sixteen states per thread (a channel over N / 16 threads): at
    # (64, 256, 336, 64) on the H100 that was 6-16% faster than four states on 16
    # threads (benchmarks/KERNEL_NOTES.md, v5), fewer shuffles per output. 16-bit inputs
    # at N = 16 take eight states per thread (one 16-byte load of B_k, now that B and C
    # stay 16-bit) where the channels are few (the programs are time-split anyway: at
    # (2, 768, 16384, 16) 3-5% faster) or very many (v9, 16-bit B and C: 8-9% faster
    # than two channels per thread at (512, 128, 512, 16) and (4096, 64, 96, 16)). In
    # between, eight states per thread would leave the GPU half empty and split time.
    if block_n >= 64:
        group = block_n // 16
    elif block_n == 16 and dtype.itemsize < 4 and not FEW_CHANNELS < channels < MANY_CHANNELS:
        group = 2
    else:
        group = block_n // min(block_n, 4)
    # Backward: eight states per thread from N = 16 on (fewer dB/dC shuffle steps per
    # element). In the H100 launch-config sweep that was 6-34% faster than four at
    # (512, 128, 512, 16), (2, 768, 16384, 16), (4096, 64, 96, 16), (16, 1024, 1024, 16)
    # and (64, 256, 336, 64), and 5-7% slower only at (8, 1536, 2048, 16), where four
    # states per thread fill the GPU in almost exactly one wave.
    bwd_group = block_n // min(block_n, 8 if block_n >= 16 else 4)
    bwd_num_warps = max(1, bwd_group // 32)
    return SelectiveScanConfig(
        block_d=max(1, 32 // group),
        group=group,
        num_warps=1,
        bwd_block_d=max(1, 32 * bwd_num_warps // bwd_group),
        bwd_group=bwd_group,
        bwd_num_warps=bwd_num_warps,
        seg_len=64,
    )


def _num_sms(device: torch.device) -> int:
    if device.type != "cuda":
        return 1
    return torch.cuda.get_device_properties(device).multi_processor_count


def _plan_splits(requested: int, programs: int, n_segs: int, capacity: int) -> tuple[int, int]:
    """(number of time splits, segments per split) for a launch of ``programs`` programs.

    ``capacity`` is how many programs the GPU holds at once. Every split but the last
    costs a preparatory pass over its steps, so the sequence is split only when the
    programs would fill less than half the GPU; then into enough splits for about three
    full waves, which also keeps the last, partial wave short.
    """
    if requested > 0:
        want = requested
    elif 2 * programs >= capacity:
        want = 1
    else:
        want = -(-3 * capacity // max(programs, 1))
    want = max(1, min(want, n_segs))
    split_segs = -(-n_segs // want)
    return -(-n_segs // split_segs), split_segs


def _alloc(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    if POISON_OUTPUTS:
        return torch.full(shape, float("nan"), dtype=dtype, device=device)
    return torch.empty(shape, dtype=dtype, device=device)


def _check_device(t: torch.Tensor) -> None:
    if not t.is_cuda and not _interpreting():
        raise RuntimeError(
            "The Triton selective scan needs CUDA tensors; got tensors on "
            f"'{t.device}'. Move them to a GPU or use backend='torch'."
        )


def _strides3(t: torch.Tensor | None) -> tuple[int, int, int]:
    return (0, 0, 0) if t is None else tuple(t.stride())


@triton.jit
def _pack_tile(x_ptr, dst, pid_b, offs_n, offs_l, N, L, Lp, s_xb, s_xn, s_xl):
    # (BLOCK_N, BLOCK_L) tile of x[b, :, l] -> dst (BLOCK_L, BLOCK_N) in dst's dtype:
    # zeros past N and L, nothing past Lp
    x = tl.load(
        x_ptr + pid_b * s_xb + offs_n[:, None] * s_xn + offs_l[None, :] * s_xl,
        mask=(offs_n < N)[:, None] & (offs_l < L)[None, :],
        other=0.0,
    )
    tl.store(dst, tl.trans(x.to(dst.dtype.element_ty)), mask=(offs_l < Lp)[:, None])


@triton.jit
def _pack_time_major_kernel(
    B_ptr, C_ptr, out_ptr, batch, N, L, Lp,
    s_bb, s_bn, s_bl, s_cb, s_cn, s_cl,
    BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr,
):  # fmt: skip
    """B and C (batch, N, L), any strides and dtype, into out[0] and out[1]: contiguous,
    zero-padded (batch, Lp, BLOCK_N) in out's dtype. One launch for both, every byte
    written once (the torch transpose/convert/pad route took three kernels per tensor)."""
    n_lblocks = tl.cdiv(Lp, BLOCK_L)
    pid_l = tl.program_id(0) % n_lblocks
    pid_b = (tl.program_id(0) // n_lblocks).to(tl.int64)
    offs_l = pid_l * BLOCK_L + tl.arange(0, BLOCK_L)
    offs_n = tl.arange(0, BLOCK_N)
    dst = out_ptr + pid_b * Lp * BLOCK_N + offs_l[:, None] * BLOCK_N + offs_n[None, :]
    if tl.program_id(1) == 0:
        _pack_tile(B_ptr, dst, pid_b, offs_n, offs_l, N, L, Lp, s_bb, s_bn, s_bl)
    else:
        dst += batch * Lp * BLOCK_N
        _pack_tile(C_ptr, dst, pid_b, offs_n, offs_l, N, L, Lp, s_cb, s_cn, s_cl)


def _pack_time_major(
    B: torch.Tensor, C: torch.Tensor, Lp: int, block_n: int, dtype: torch.dtype
) -> torch.Tensor:
    """B and C (batch, N, L) as one (2, batch, Lp, block_n) ``dtype`` tensor of
    contiguous, zero-padded rows: ``[0]`` is B, ``[1]`` is C.

    Each step's N values are then one aligned vector, and the padding (zeros, which
    leave the state unchanged since dt = 0 there) lets the kernels load without masks.
    """
    batch, N, L = B.shape
    out = _alloc((2, batch, Lp, block_n), dtype, B.device)
    if out.numel() > 0:
        block_l = max(16, min(128, 4096 // block_n))
        _pack_time_major_kernel[(triton.cdiv(Lp, block_l) * batch, 2)](
            B, C, out, batch, N, L, Lp, *B.stride(), *C.stride(),
            BLOCK_N=block_n, BLOCK_L=block_l, num_warps=4,
        )  # fmt: skip
    return out


class _SelectiveScanFn(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx,
        u,
        delta,
        A,
        B,
        C,
        D,
        z,
        delta_bias,
        delta_softplus,
        return_last_state,
        config,
    ):
        batch, dim, L = u.shape
        N = A.shape[1]
        # the kernels read D and delta_bias with unit stride (they are tiny)
        D = D.contiguous() if D is not None else None
        delta_bias = delta_bias.contiguous() if delta_bias is not None else None
        if config is None:
            config = _default_config(batch, dim, L, N, u.dtype)
        block_n = max(triton.next_power_of_2(N), 2)
        seg_len = config.seg_len
        n_segs = max(triton.cdiv(L, seg_len), 1)
        n_dblocks = triton.cdiv(dim, config.block_d)
        need_grad = any(ctx.needs_input_grad[:8])
        device = u.device
        f32 = torch.float32
        variant = _resolve_variant(config.fwd_variant or FWD_VARIANT, batch, dim)
        pipe = dict(FWD_VARIANTS[variant])
        pipe["ZPF"] = pipe["ZPF"] and z is not None
        maxnreg = pipe.pop("MAXNREG", 0)
        # every constexpr is passed, defaults too: torch.compile's kernel wrapper
        # (Inductor) rejects launches that leave one out
        pipe.setdefault("UNROLL", 1)
        if _interpreting():
            pipe["L2PF"] = 0  # inline assembly does not run in the interpreter
        # spare chunks at the end: the forward loads B and C up to BCDEPTH chunks ahead
        Lp = (triton.cdiv(L, _CHUNK) + pipe["BCDEPTH"]) * _CHUNK
        # 16-bit B and C stay 16-bit where a thread keeps eight or more states: each B_k
        # is then one 16-byte load, and the bf16 forward, bound by the L1 traffic of
        # these per-lane loads, was 7-8% faster at (512, 128, 512, 16) and
        # (2, 768, 16384, 16); with four states the 8-byte loads and conversions cost
        # more than the halved bytes save (2% slower at (8, 1536, 2048, 16);
        # benchmarks/KERNEL_NOTES.md, v9).
        keep16 = B.dtype == C.dtype and B.dtype.itemsize == 2 and block_n >= 8 * config.group
        BC = _pack_time_major(B, C, Lp, block_n, B.dtype if keep16 else f32)
        Bt, Ct = BC[0], BC[1]
        n_splits, split_segs = _plan_splits(
            config.splits,
            batch * n_dblocks,
            n_segs,
            _FWD_WARPS_PER_SM * _num_sms(device) // config.num_warps,
        )

        out = _alloc((batch, dim, L), u.dtype, device)
        states = (
            torch.empty((batch, dim, n_segs, N), dtype=f32, device=device) if need_grad else out
        )
        last = _alloc((batch, dim, N), f32, device) if return_last_state else out
        hend = (
            torch.empty((batch, dim, n_splits, N), dtype=f32, device=device)
            if n_splits > 1
            else out
        )
        dtsum = (
            torch.empty((batch, dim, n_splits), dtype=f32, device=device) if n_splits > 1 else out
        )
        if out.numel() > 0:
            seg_chunks = seg_len // _CHUNK
            args = (
                u,
                delta,
                A,
                Bt,
                Ct,
                D if D is not None else A,
                z if z is not None else u,
                delta_bias if delta_bias is not None else A,
                out,
                states,
                last,
                hend,
                dtsum,
                dim,
                L,
                N,
                n_dblocks,
                n_segs,
                n_splits,
                split_segs * seg_chunks,
                *u.stride(),
                *delta.stride(),
                *A.stride(),
                Bt.stride(0),
                *_strides3(z),
                *out.stride(),
            )
            meta = dict(
                HAS_D=D is not None,
                HAS_Z=z is not None,
                HAS_BIAS=delta_bias is not None,
                SOFTPLUS=bool(delta_softplus),
                FAST=not _interpreting(),
                BLOCK_D=config.block_d,
                G=config.group,
                NG=block_n // config.group,
                BLOCK_N=block_n,
                T=_CHUNK,
                SEG_CHUNKS=seg_chunks,
                num_warps=config.num_warps,
            )
            if maxnreg and not _interpreting():
                meta["maxnreg"] = maxnreg  # a ptxas register cap (GPU compile option)
            if n_splits > 1:
                _selective_scan_fwd_kernel[(batch * (n_splits - 1) * n_dblocks,)](
                    *args,
                    SAVE_STATES=False,
                    SAVE_LAST=False,
                    PREP=True,
                    **meta,
                    **{**pipe, "ZPF": False},  # the prep pass reads no z
                )
            _selective_scan_fwd_kernel[(batch * n_splits * n_dblocks,)](
                *args,
                SAVE_STATES=need_grad,
                SAVE_LAST=bool(return_last_state),
                PREP=False,
                **meta,
                **pipe,
            )
        elif return_last_state:
            last.zero_()
        if need_grad and L == 0:
            states.zero_()

        ctx.save_for_backward(
            u, delta, A, B, C, BC, D, z, delta_bias, states if need_grad else None
        )
        ctx.delta_softplus = bool(delta_softplus)
        ctx.config = config
        ctx.n_segs = n_segs
        if return_last_state:
            return out, last
        return out

    @staticmethod
    def backward(ctx, dout, dlast=None):
        u, delta, A, B, C, BC, D, z, delta_bias, states = ctx.saved_tensors
        config = ctx.config
        batch, dim, L = u.shape
        N = A.shape[1]
        block_n = max(triton.next_power_of_2(N), 2)
        f32 = torch.float32
        if block_n < 64 and BC.dtype != f32:
            # The backward at N = 16 was 4-11% slower with 16-bit B and C rows (more
            # layout shuffles), at N = 64 28% faster (benchmarks/KERNEL_NOTES.md, v9).
            # The pack kernel builds float32 rows from B and C in one launch (15 us at
            # (512, 128, 512, 16) bf16 in the forward); torch's converting copy of the
            # 16-bit rows took 27 us.
            BC = _pack_time_major(B, C, BC.shape[2], block_n, f32)
        Bt, Ct = BC[0], BC[1]
        n_dblocks = triton.cdiv(dim, config.bwd_block_d)
        seg_chunks = config.seg_len // _CHUNK
        n_segs = ctx.n_segs
        device = u.device

        du = _alloc((batch, dim, L), u.dtype, device)
        ddelta = _alloc((batch, dim, L), delta.dtype, device)
        dz = _alloc((batch, dim, L), z.dtype, device) if z is not None else du
        dA = torch.zeros((dim, N), dtype=f32, device=device)
        dB, dC = torch.zeros((2, *Bt.shape), dtype=f32, device=device)  # padded like Bt
        dD = torch.zeros((dim,), dtype=f32, device=device) if D is not None else dA
        dbias = torch.zeros((dim,), dtype=f32, device=device) if delta_bias is not None else dA
        if dout is None:
            dout = torch.zeros((batch, dim, L), dtype=u.dtype, device=device)

        if u.numel() > 0:
            n_splits, split_segs = _plan_splits(
                config.bwd_splits,
                batch * n_dblocks,
                n_segs,
                _BWD_WARPS_PER_SM * _num_sms(device) // config.bwd_num_warps,
            )
            n_prog = batch * n_dblocks * n_splits
            rows = config.bwd_block_d * config.bwd_group
            scratch = torch.empty(
                (n_prog, seg_chunks, rows, block_n // config.bwd_group), dtype=f32, device=device
            )
            wout = (
                torch.empty((batch, dim, n_splits, N), dtype=f32, device=device)
                if n_splits > 1
                else dA
            )
            dtsum = (
                torch.empty((batch, dim, n_splits), dtype=f32, device=device)
                if n_splits > 1
                else dA
            )
            meta = dict(
                HAS_Z=z is not None,
                HAS_BIAS=delta_bias is not None,
                SOFTPLUS=ctx.delta_softplus,
                FAST=not _interpreting(),
                BLOCK_D=config.bwd_block_d,
                G=config.bwd_group,
                NG=block_n // config.bwd_group,
                BLOCK_N=block_n,
                T=_CHUNK,
                num_warps=config.bwd_num_warps,
            )
            if n_splits > 1:
                _selective_scan_bwd_prep_kernel[(batch * (n_splits - 1) * n_dblocks,)](
                    delta,
                    A,
                    Ct,
                    z if z is not None else u,
                    delta_bias if delta_bias is not None else A,
                    dout,
                    wout,
                    dtsum,
                    dim,
                    L,
                    N,
                    n_dblocks,
                    n_splits,
                    split_segs * seg_chunks,
                    *delta.stride(),
                    *A.stride(),
                    Ct.stride(0),
                    *_strides3(z),
                    *dout.stride(),
                    **meta,
                )
            _selective_scan_bwd_kernel[(n_prog,)](
                u,
                delta,
                A,
                Bt,
                Ct,
                D if D is not None else A,
                z if z is not None else u,
                delta_bias if delta_bias is not None else A,
                dout,
                states,
                dlast if dlast is not None else A,
                scratch,
                wout,
                dtsum,
                du,
                ddelta,
                dz,
                dA,
                dB,
                dC,
                dD,
                dbias,
                dim,
                L,
                N,
                n_dblocks,
                n_segs,
                n_splits,
                split_segs,
                *u.stride(),
                *delta.stride(),
                *A.stride(),
                Bt.stride(0),
                *_strides3(z),
                *dout.stride(),
                *_strides3(dlast),
                HAS_D=D is not None,
                HAS_DLAST=dlast is not None,
                SEG_CHUNKS=seg_chunks,
                **meta,
            )
        return (
            du,
            ddelta,
            dA.to(A.dtype),
            dB[:, :L, :N].transpose(1, 2).to(B.dtype),
            dC[:, :L, :N].transpose(1, 2).to(C.dtype),
            dD.to(D.dtype) if D is not None else None,
            dz if z is not None else None,
            dbias.to(delta_bias.dtype) if delta_bias is not None else None,
            None,
            None,
            None,
        )


@torch.compiler.disable
def _apply_eager(*args):
    return _SelectiveScanFn.apply(*args)


def selective_scan_triton(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
    *,
    config: SelectiveScanConfig | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Mamba-1 selective scan on the GPU through Triton, differentiable in every input.

    Shapes are checked by :func:`tsssm.ops.selective_scan`, which calls this; any strides
    are accepted.

    Parameters
    ----------
    u, delta : torch.Tensor
        (batch, dim, L), float32, float16 or bfloat16.
    A : torch.Tensor
        (dim, N) float32, real; N up to 256.
    B, C : torch.Tensor
        (batch, N, L), the dtype of ``u``.
    D, delta_bias : torch.Tensor or None, default=None
        (dim,) float32.
    z : torch.Tensor or None, default=None
        (batch, dim, L) gate; the output is multiplied by ``silu(z)``.
    delta_softplus : bool, default=False
        Apply softplus to ``delta + delta_bias``.
    return_last_state : bool, default=False
        Also return the state after the last step (differentiable too).
    config : SelectiveScanConfig or None, default=None
        Launch settings; ``None`` picks them from the shapes.

    Returns
    -------
    out : torch.Tensor
        (batch, dim, L) in the dtype of ``u``.
    last_state : torch.Tensor
        (batch, dim, N) float32; only when ``return_last_state``.

    Examples
    --------
    On a CUDA GPU (skipped where there is none), against the reference:

    >>> import torch
    >>> from tsssm.ops import selective_scan_ref
    >>> from tsssm.ops.triton.selective_scan import selective_scan_triton
    >>> batch, dim, N, L = 2, 4, 8, 64
    >>> u = torch.randn(batch, dim, L, device="cuda")  # doctest: +SKIP
    >>> delta = torch.rand(batch, dim, L, device="cuda")  # doctest: +SKIP
    >>> A = -torch.rand(dim, N, device="cuda")  # doctest: +SKIP
    >>> B = torch.randn(batch, N, L, device="cuda")  # doctest: +SKIP
    >>> C = torch.randn(batch, N, L, device="cuda")  # doctest: +SKIP
    >>> out, last = selective_scan_triton(u, delta, A, B, C,
    ...                                   return_last_state=True)  # doctest: +SKIP
    >>> out.shape, last.shape  # doctest: +SKIP
    (torch.Size([2, 4, 64]), torch.Size([2, 4, 8]))
    >>> ref = selective_scan_ref(u, delta, A, B, C)  # doctest: +SKIP
    >>> torch.allclose(out, ref, atol=1e-4)  # doctest: +SKIP
    True
    """
    _check_device(u)
    args = (u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state, config)
    if _interpreting():
        # torch.compile cannot trace into Triton's interpreter: run it eagerly there.
        return _apply_eager(*args)
    return _SelectiveScanFn.apply(*args)
