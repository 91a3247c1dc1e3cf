"""Mamba-1 selective scan: the public entry point, its PyTorch reference and its step.

The reference is written for speed on a CPU: it never loops over every time step in
Python and never holds a ``(batch, dim, L, N)`` tensor for the whole sequence. The
sequence is cut into chunks of ``T`` steps; inside a chunk the scan runs as the blocked
two-level scan of :mod:`tsssm.ops._blocked` on ``(batch, dim, T, N)`` workspace buffers,
and the state is carried from chunk to chunk. Gradients come from an explicit backward
pass (an adjoint scan run backwards, chunk by chunk, recomputing each chunk's states from
the saved chunk-start state), so forward plus backward keeps only ``O(batch * dim * N)``
per chunk besides the inputs and outputs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tsssm._validation import check_bool, check_int
from tsssm.exceptions import ParameterError
from tsssm.ops._blocked import blocked_scan_, shift_
from tsssm.ops._checks import check_shape, check_tensor, compute_dtype
from tsssm.ops._dispatch import load_kernel_module, resolve_backend

__all__ = ["selective_scan", "selective_scan_ref", "selective_scan_step"]

# Steps per inner block of the blocked scan, and the workspace size a chunk aims for (in
# elements of one (batch, dim, T, N) buffer). Tuned on a 2-core AMD EPYC with
# benchmarks/cpu_scan.py: smaller blocks mean more Python iterations, bigger chunks fall
# out of cache and cost page faults.
_BLOCK = 16
_CHUNK_ELEMENTS = 1 << 18
_MAX_BLOCKS_PER_CHUNK = 32


def _plan(batch: int, dim: int, L: int, N: int, chunk_size: int | None) -> tuple[int, int]:
    """Return (block, chunk): steps per inner block and steps per chunk (a multiple)."""
    block = max(1, min(_BLOCK, L))
    if chunk_size is not None:
        block = min(block, chunk_size)
        n_blocks = max(1, chunk_size // block)
    else:
        n_blocks = _CHUNK_ELEMENTS // max(1, batch * dim * N * block)
        n_blocks = min(max(1, n_blocks), _MAX_BLOCKS_PER_CHUNK)
    n_blocks = min(n_blocks, math.ceil(L / block))
    return block, n_blocks * block


def _check_args(
    func: str,
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None,
    z: torch.Tensor | None,
    delta_bias: torch.Tensor | None,
    initial_state: torch.Tensor | None,
) -> tuple[int, int, int, int]:
    """Check types and shapes of the selective scan inputs; return (batch, dim, L, N)."""
    for name, t in (("u", u), ("delta", delta), ("A", A), ("B", B), ("C", C)):
        check_tensor(t, name, func)
    for name, t in (("D", D), ("z", z), ("delta_bias", delta_bias)):
        check_tensor(t, name, func, allow_none=True)
    check_tensor(initial_state, "initial_state", func, allow_none=True)
    if u.ndim != 3:
        raise ParameterError(f"{func}: u must have shape (batch, dim, L); got {tuple(u.shape)}.")
    batch, dim, L = u.shape
    if A.ndim != 2 or A.shape[0] != dim:
        raise ParameterError(
            f"{func}: A must have shape (dim, N) with dim = {dim}; got {tuple(A.shape)}."
        )
    N = A.shape[1]
    check_shape(delta, "delta", func, "(batch, dim, L)", (batch, dim, L))
    check_shape(B, "B", func, "(batch, N, L)", (batch, N, L))
    check_shape(C, "C", func, "(batch, N, L)", (batch, N, L))
    check_shape(D, "D", func, "(dim,)", (dim,))
    check_shape(z, "z", func, "(batch, dim, L)", (batch, dim, L))
    check_shape(delta_bias, "delta_bias", func, "(dim,)", (dim,))
    check_shape(initial_state, "initial_state", func, "(batch, dim, N)", (batch, dim, N))
    return batch, dim, L, N


def _blocked(t: torch.Tensor, s: int, nb: int, block: int) -> torch.Tensor:
    """Steps ``s .. s + nb * block`` of ``t`` (batch, dim, L) as (block, nb, batch, dim, 1)."""
    batch, dim = t.shape[:2]
    chunk = t[:, :, s : s + nb * block].view(batch, dim, nb, block)
    return chunk.permute(3, 2, 0, 1).unsqueeze(-1)


def _blocked_du(u: torch.Tensor, delta: torch.Tensor, s: int, nb: int, block: int):
    """``delta * u`` for one chunk, in the layout of :func:`_blocked`.

    Computed chunk by chunk so that no (batch, dim, L) temporary is held.
    """
    e = s + nb * block
    return _blocked(delta[:, :, s:e] * u[:, :, s:e], 0, nb, block)


def _blocked_bn(t: torch.Tensor, s: int, nb: int, block: int) -> torch.Tensor:
    """Steps of ``t`` (batch, L, N) as (block, nb, batch, 1, N)."""
    batch, _, N = t.shape
    chunk = t[:, s : s + nb * block].view(batch, nb, block, N)
    return chunk.permute(2, 1, 0, 3).unsqueeze(3)


def _unblock(r: torch.Tensor) -> torch.Tensor:
    """Inverse of the blocked layout for (block, nb, batch, X) -> (batch, X, nb, block)."""
    return r.permute(2, 3, 1, 0)


class _SelectiveScanFn(torch.autograd.Function):
    """h_t = exp(delta_t A) h_{t-1} + delta_t u_t B_t;  y_t = <C_t, h_t>  (chunked).

    Inputs are already in the compute dtype: u, delta (batch, dim, Lp); A (dim, N);
    Bt, Ct (batch, Lp, N) contiguous; h0 (batch, dim, N) or None. ``Lp`` is a multiple
    of ``block``; padded steps carry delta = 0, so they leave the state unchanged.

    Each chunk of ``nb * block`` steps lives in (block, nb, batch, dim, N) workspace
    buffers, the layout :func:`blocked_scan_` wants (time ``i * block + j`` at ``[j, i]``).
    """

    @staticmethod
    def forward(ctx, u, delta, A, Bt, Ct, h0, block, chunk):  # type: ignore[override]
        batch, dim, Lp = u.shape
        N = A.shape[1]
        nb_max = chunk // block
        y = torch.empty_like(u)
        # Chunk-start states are what the backward pass restarts from; inference skips them.
        keep_states = any(ctx.needs_input_grad)
        shape = (block, nb_max, batch, dim, N)
        a, x, w = (torch.empty(shape, dtype=u.dtype, device=u.device) for _ in range(3))
        h = h0
        starts = []
        for s in range(0, Lp, chunk):
            nb = min(chunk, Lp - s) // block
            if keep_states:
                starts.append(h)
            ac, xc, wc = a[:, :nb], x[:, :nb], w[:, :nb]
            torch.mul(_blocked(delta, s, nb, block), A, out=ac)
            ac.exp_()  # decays exp(delta A)
            torch.mul(_blocked_du(u, delta, s, nb, block), _blocked_bn(Bt, s, nb, block), out=xc)
            h = blocked_scan_(xc, ac, wc, h).clone()
            torch.mul(xc, _blocked_bn(Ct, s, nb, block), out=wc)
            y[:, :, s : s + nb * block].view(batch, dim, nb, block).copy_(
                _unblock(wc.sum(-1))
            )
        if h is None:  # only when Lp == 0, which the callers rule out
            h = torch.zeros(batch, dim, N, dtype=u.dtype, device=u.device)
        ctx.save_for_backward(u, delta, A, Bt, Ct)
        ctx.starts = starts
        ctx.has_h0 = h0 is not None
        ctx.block, ctx.chunk = block, chunk
        ctx.set_materialize_grads(False)
        return y, h

    @staticmethod
    def backward(ctx, gy, glast):  # type: ignore[override]
        u, delta, A, Bt, Ct = ctx.saved_tensors
        block, chunk = ctx.block, ctx.chunk
        batch, dim, Lp = u.shape
        N = A.shape[1]
        if gy is None:
            gy = torch.zeros_like(u)
        g_du = torch.empty_like(u)
        g_delta = torch.empty_like(u)
        gA = torch.zeros_like(A)
        gBt = torch.empty_like(Bt)
        gCt = torch.empty_like(Ct)
        shape = (block, chunk // block, batch, dim, N)
        a, x, w, lam, t2 = (torch.empty(shape, dtype=u.dtype, device=u.device)
                            for _ in range(5))
        mu = glast  # gradient w.r.t. the state at the end of the current chunk
        starts = list(range(0, Lp, chunk))
        for c in range(len(starts) - 1, -1, -1):
            s = starts[c]
            nb = min(chunk, Lp - s) // block
            h_in = ctx.starts[c]
            ac, xc, wc, lc, tc = (buf[:, :nb] for buf in (a, x, w, lam, t2))
            d_b = _blocked(delta, s, nb, block)  # (block, nb, batch, dim, 1)
            du_b = _blocked_du(u, delta, s, nb, block)
            gy_b = _blocked(gy, s, nb, block)
            B_b = _blocked_bn(Bt, s, nb, block)  # (block, nb, batch, 1, N)
            # Recompute this chunk's decays and states H_t.
            torch.mul(d_b, A, out=ac)
            ac.exp_()
            torch.mul(du_b, B_b, out=xc)
            blocked_scan_(xc, ac, wc, h_in)
            # Adjoint: lam_t = gy_t C_t + a_{t+1} lam_{t+1}, lam_{T-1} = gy C + mu.
            torch.mul(gy_b, _blocked_bn(Ct, s, nb, block), out=lc)
            shift_(tc, ac, 1.0, forward=False)
            blocked_scan_(lc, tc, wc, mu, reverse=True)
            mu = ac[0, 0] * lc[0, 0]  # gradient w.r.t. h_in
            # y_t = <C_t, H_t>: dC[b, t, n] = sum_d gy[b, d, t] H[b, d, t, n].
            torch.mul(xc, gy_b, out=wc)
            gCt[:, s : s + nb * block].view(batch, nb, block, N).copy_(
                wc.sum(3).permute(2, 1, 0, 3)
            )
            # x_t = (delta u)_t B_t.
            torch.mul(lc, B_b, out=wc)
            g_du[:, :, s : s + nb * block].view(batch, dim, nb, block).copy_(
                _unblock(wc.sum(-1))
            )
            torch.mul(lc, du_b, out=wc)
            gBt[:, s : s + nb * block].view(batch, nb, block, N).copy_(
                wc.sum(3).permute(2, 1, 0, 3)
            )
            # a_t = exp(delta_t A): q_t = lam_t * H_{t-1} * a_t is d loss / d (delta_t A).
            shift_(wc, xc, 0.0 if h_in is None else h_in, forward=True)
            wc.mul_(lc).mul_(ac)
            torch.mul(wc, A, out=tc)
            g_delta[:, :, s : s + nb * block].view(batch, dim, nb, block).copy_(
                _unblock(tc.sum(-1))
            )
            torch.mul(wc, d_b, out=tc)
            gA += tc.sum((0, 1, 2))
        g_delta.addcmul_(g_du, u)
        g_u = g_du.mul_(delta)
        g_h0 = mu if ctx.has_h0 else None
        return g_u, g_delta, gA, gBt, gCt, g_h0, None, None


def selective_scan_ref(
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
    initial_state: torch.Tensor | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Mamba-1 selective scan in pure PyTorch (the reference for the Triton kernel).

    With ``delta' = softplus(delta + delta_bias)`` if ``delta_softplus`` else
    ``delta + delta_bias``, the state ``h_t`` of shape (batch, dim, N) follows::

        h_t = exp(delta'_t * A) * h_{t-1} + delta'_t * B_t * u_t      (h_{-1} = initial_state or 0)
        y_t = <C_t, h_t> + D * u_t
        out = y * silu(z)   (if z is given)

    It computes in float32 (float64 stays float64) and casts ``out`` back to ``u``'s
    dtype. It is chunked so that long sequences run fast on a CPU with bounded memory;
    gradients flow to every tensor input.

    Parameters
    ----------
    u : Tensor, shape (batch, dim, L)
        The input sequence.
    delta : Tensor, shape (batch, dim, L)
        The step sizes (before ``delta_bias`` and ``softplus``).
    A : Tensor, shape (dim, N)
        The real diagonal state matrix; negative entries make a stable system.
    B, C : Tensor, shape (batch, N, L)
        The input-dependent input and output projections.
    D : Tensor, shape (dim,), default=None
        The skip connection; none if None.
    z : Tensor, shape (batch, dim, L), default=None
        The gate; the output is multiplied by ``silu(z)`` when given.
    delta_bias : Tensor, shape (dim,), default=None
        Added to ``delta`` (before softplus).
    delta_softplus : bool, default=False
        Apply ``softplus`` to ``delta + delta_bias``.
    return_last_state : bool, default=False
        Also return the state after the last step.
    initial_state : Tensor, shape (batch, dim, N), default=None
        The state before the first step; zeros if None.

    Returns
    -------
    out : Tensor, shape (batch, dim, L)
        In ``u``'s dtype.
    last_state : Tensor, shape (batch, dim, N)
        Only with ``return_last_state``; float32, or float64 for float64 inputs.

    See Also
    --------
    selective_scan : the same computation with backend dispatch (Triton on CUDA).
    selective_scan_step : one step of the recurrence, for streaming.

    Examples
    --------
    >>> import torch
    >>> from tsssm.ops import selective_scan_ref
    >>> u = torch.ones(1, 2, 3); delta = torch.full((1, 2, 3), 0.5)
    >>> A = -torch.ones(2, 1); B = torch.ones(1, 1, 3); C = torch.ones(1, 1, 3)
    >>> selective_scan_ref(u, delta, A, B, C)[0, 0]
    tensor([0.5000, 0.8033, 0.9872])
    """
    return _selective_scan_impl(
        "selective_scan_ref", u, delta, A, B, C, D, z, delta_bias, delta_softplus,
        return_last_state, initial_state, None,
    )


def _selective_scan_impl(
    func: str,
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None,
    z: torch.Tensor | None,
    delta_bias: torch.Tensor | None,
    delta_softplus: bool,
    return_last_state: bool,
    initial_state: torch.Tensor | None,
    chunk_size: int | None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Check, upcast, run the chunked scan, apply D and the gate (``chunk_size`` tunes)."""
    batch, dim, L, N = _check_args(func, u, delta, A, B, C, D, z, delta_bias, initial_state)
    delta_softplus = check_bool(delta_softplus, "delta_softplus", owner=func)
    return_last_state = check_bool(return_last_state, "return_last_state", owner=func)
    check_int(chunk_size, "chunk_size", owner=func, min_value=1, allow_none=True)
    cd = compute_dtype(u, delta, A, B, C, D, z, delta_bias, initial_state)
    u_ = u.to(cd)
    dlt = delta.to(cd)
    if delta_bias is not None:
        dlt = dlt + delta_bias.to(cd)[:, None]
    if delta_softplus:
        dlt = F.softplus(dlt)
    if L == 0:
        y = torch.zeros_like(u_)
        last = (
            torch.zeros(batch, dim, N, dtype=cd, device=u.device)
            if initial_state is None
            else initial_state.to(cd)
        )
    else:
        block, chunk = _plan(batch, dim, L, N, chunk_size)
        Bt = B.to(cd).transpose(1, 2)  # (batch, L, N)
        Ct = C.to(cd).transpose(1, 2)  # (batch, L, N)
        u_p, dlt_p = u_, dlt
        pad = -L % block
        if pad:
            # Padded steps have delta = 0: decay 1 and no input, so the state passes
            # through unchanged and the last state stays exact.
            u_p, dlt_p = F.pad(u_, (0, pad)), F.pad(dlt, (0, pad))
            Bt, Ct = F.pad(Bt, (0, 0, 0, pad)), F.pad(Ct, (0, 0, 0, pad))
        h0 = None if initial_state is None else initial_state.to(cd).contiguous()
        y, last = _SelectiveScanFn.apply(
            u_p.contiguous(), dlt_p.contiguous(), A.to(cd).contiguous(),
            Bt.contiguous(), Ct.contiguous(), h0, block, chunk,
        )
        if pad:
            y = y[:, :, :L]
    if D is not None:
        y = y + D.to(cd)[:, None] * u_
    if z is not None:
        y = y * F.silu(z.to(cd))
    out = y.to(u.dtype)
    return (out, last) if return_last_state else out


def selective_scan(
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
    backend: str = "auto",
    initial_state: torch.Tensor | None = None,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Mamba-1 selective scan, dispatched to the Triton kernel or the PyTorch reference.

    With ``delta' = softplus(delta + delta_bias)`` if ``delta_softplus`` else
    ``delta + delta_bias``, the state ``h_t`` of shape (batch, dim, N) follows::

        h_t = exp(delta'_t * A) * h_{t-1} + delta'_t * B_t * u_t      (h_{-1} = initial_state or 0)
        y_t = <C_t, h_t> + D * u_t
        out = y * silu(z)   (if z is given)

    Parameters
    ----------
    u : Tensor, shape (batch, dim, L)
        The input sequence.
    delta : Tensor, shape (batch, dim, L)
        The step sizes (before ``delta_bias`` and ``softplus``).
    A : Tensor, shape (dim, N)
        The real diagonal state matrix; negative entries make a stable system.
    B, C : Tensor, shape (batch, N, L)
        The input-dependent input and output projections.
    D : Tensor, shape (dim,), default=None
        The skip connection; none if None.
    z : Tensor, shape (batch, dim, L), default=None
        The gate; the output is multiplied by ``silu(z)`` when given.
    delta_bias : Tensor, shape (dim,), default=None
        Added to ``delta`` (before softplus).
    delta_softplus : bool, default=False
        Apply ``softplus`` to ``delta + delta_bias``.
    return_last_state : bool, default=False
        Also return the state after the last step.
    backend : {"auto", "torch", "triton"}, default="auto"
        ``"auto"`` runs the Triton kernel when every tensor is on a CUDA device and
        Triton imports, else the PyTorch reference; see :func:`resolve_backend`.
    initial_state : Tensor, shape (batch, dim, N), default=None
        The state before the first step; zeros if None. Only the PyTorch reference takes
        it (``"auto"`` then runs the reference; ``"triton"`` raises ``RuntimeError``).

    Returns
    -------
    out : Tensor, shape (batch, dim, L)
        In ``u``'s dtype.
    last_state : Tensor, shape (batch, dim, N)
        Only with ``return_last_state``; float32, or float64 for float64 inputs.

    Raises
    ------
    ParameterError
        If a shape does not match (the message names the expected and received shapes)
        or ``backend`` is unknown.
    RuntimeError
        If ``backend="triton"`` cannot run.

    See Also
    --------
    selective_scan_ref : the PyTorch reference.
    selective_scan_step : one step of the recurrence, for streaming.

    Examples
    --------
    >>> import torch
    >>> from tsssm.ops import selective_scan
    >>> batch, dim, L, N = 2, 4, 10, 3
    >>> u, delta = torch.randn(batch, dim, L), torch.rand(batch, dim, L)
    >>> A = -torch.rand(dim, N)
    >>> B, C = torch.randn(batch, N, L), torch.randn(batch, N, L)
    >>> out, last = selective_scan(u, delta, A, B, C, return_last_state=True)
    >>> out.shape, last.shape
    (torch.Size([2, 4, 10]), torch.Size([2, 4, 3]))
    """
    _check_args("selective_scan", u, delta, A, B, C, D, z, delta_bias, initial_state)
    if initial_state is not None and backend == "triton":
        raise RuntimeError(
            "selective_scan: the Triton kernel does not take initial_state. Use "
            "backend='torch' (or 'auto', which then runs the PyTorch reference)."
        )
    chosen = resolve_backend(
        backend, u, delta, A, B, C, D, z, delta_bias, op="selective_scan"
    )
    if chosen == "triton" and initial_state is None:
        kernel = load_kernel_module("selective_scan").selective_scan_triton
        return kernel(
            u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state
        )
    return _selective_scan_impl(
        "selective_scan", u, delta, A, B, C, D, z, delta_bias, delta_softplus,
        return_last_state, initial_state, None,
    )


def selective_scan_step(
    state: torch.Tensor,
    u_t: torch.Tensor,
    delta_t: torch.Tensor,
    A: torch.Tensor,
    B_t: torch.Tensor,
    C_t: torch.Tensor,
    D: torch.Tensor | None = None,
    z_t: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the selective scan's recurrent view (constant cost per observation).

    Feeding a sequence through this function step by step from a zero state gives the
    same outputs and final state as :func:`selective_scan` on the whole sequence.

    Parameters
    ----------
    state : Tensor, shape (batch, dim, N)
        The state ``h_{t-1}``.
    u_t, delta_t : Tensor, shape (batch, dim)
        The input and step size at time t.
    A : Tensor, shape (dim, N)
        The real diagonal state matrix.
    B_t, C_t : Tensor, shape (batch, N)
        The input and output projections at time t.
    D : Tensor, shape (dim,), default=None
        The skip connection.
    z_t : Tensor, shape (batch, dim), default=None
        The gate at time t.
    delta_bias : Tensor, shape (dim,), default=None
        Added to ``delta_t`` (before softplus).
    delta_softplus : bool, default=False
        Apply ``softplus`` to ``delta_t + delta_bias``.

    Returns
    -------
    y_t : Tensor, shape (batch, dim)
        In ``u_t``'s dtype.
    new_state : Tensor, shape (batch, dim, N)
        ``h_t``, float32 or float64 (like the scan's last state).

    Examples
    --------
    >>> import torch
    >>> from tsssm.ops import selective_scan_step
    >>> state = torch.zeros(1, 2, 1)
    >>> y, state = selective_scan_step(state, torch.ones(1, 2), torch.full((1, 2), 0.5),
    ...                                -torch.ones(2, 1), torch.ones(1, 1), torch.ones(1, 1))
    >>> y
    tensor([[0.5000, 0.5000]])
    """
    func = "selective_scan_step"
    for name, t in (("state", state), ("u_t", u_t), ("delta_t", delta_t), ("A", A),
                    ("B_t", B_t), ("C_t", C_t)):
        check_tensor(t, name, func)
    for name, t in (("D", D), ("z_t", z_t), ("delta_bias", delta_bias)):
        check_tensor(t, name, func, allow_none=True)
    if u_t.ndim != 2 or A.ndim != 2:
        raise ParameterError(
            f"{func}: u_t must have shape (batch, dim) and A (dim, N); got u_t "
            f"{tuple(u_t.shape)} and A {tuple(A.shape)}."
        )
    batch, dim = u_t.shape
    N = A.shape[1]
    check_shape(A, "A", func, "(dim, N)", (dim, N))
    check_shape(state, "state", func, "(batch, dim, N)", (batch, dim, N))
    check_shape(delta_t, "delta_t", func, "(batch, dim)", (batch, dim))
    check_shape(B_t, "B_t", func, "(batch, N)", (batch, N))
    check_shape(C_t, "C_t", func, "(batch, N)", (batch, N))
    check_shape(D, "D", func, "(dim,)", (dim,))
    check_shape(z_t, "z_t", func, "(batch, dim)", (batch, dim))
    check_shape(delta_bias, "delta_bias", func, "(dim,)", (dim,))
    cd = compute_dtype(state, u_t, delta_t, A, B_t, C_t, D, z_t, delta_bias)
    u_ = u_t.to(cd)
    dlt = delta_t.to(cd)
    if delta_bias is not None:
        dlt = dlt + delta_bias.to(cd)
    if delta_softplus:
        dlt = F.softplus(dlt)
    dA = torch.exp(dlt[:, :, None] * A.to(cd))  # (batch, dim, N)
    new_state = dA * state.to(cd) + (dlt * u_)[:, :, None] * B_t.to(cd)[:, None, :]
    y = (new_state * C_t.to(cd)[:, None, :]).sum(-1)  # (batch, dim)
    if D is not None:
        y = y + D.to(cd) * u_
    if z_t is not None:
        y = y * F.silu(z_t.to(cd))
    return y.to(u_t.dtype), new_state
