"""Mamba-1 selective scan: the public entry point, its PyTorch reference and its step.

The reference is written for speed on a CPU: it never loops over every time step in
Python unless each step is a large vectorised op, and it never holds a
``(batch, dim, L, N)`` tensor for the whole sequence. The sequence is cut into chunks of
``T`` steps held time first in ``(T, batch, N, dim)`` workspace buffers; inside a chunk
the scan runs step by step on whole ``(batch, N, dim)`` slabs (or, for small slabs, as
the blocked two-level scan of :mod:`tsssm.ops._blocked`), the output's reduction over
``N`` is a batched matrix product, and the state is carried from chunk to chunk. The
decays ``exp(delta A)`` are evaluated as ``exp2(delta * (A log2 e))`` (no cumulative
sums or divisions, so decays down to ``exp(-2000)`` just underflow to zero). Gradients
come from an explicit backward pass (an adjoint scan run backwards, chunk by chunk,
recomputing each chunk's states from the saved chunk-start state), so forward plus
backward keeps only ``O(batch * dim * N)`` per chunk besides the inputs and outputs.
"""

from __future__ import annotations

import math
import threading

import torch
import torch.nn.functional as F

from tsssm._validation import check_bool, check_int
from tsssm.exceptions import ParameterError
from tsssm.ops._blocked import blocked_scan_
from tsssm.ops._checks import check_shape, check_tensor, compute_dtype
from tsssm.ops._dispatch import load_kernel_module, resolve_backend

__all__ = ["selective_scan", "selective_scan_ref", "selective_scan_step"]

# Planning. A chunk of T steps of the state is held in (T, batch, N, dim) workspace
# buffers; one step is a contiguous (batch, N, dim) "slab". Where a slab has at least
# _SEQUENTIAL_MIN_SLAB elements, every step of the scan is one in-place op on a whole slab
# (T Python iterations per chunk, one pass over the data); smaller slabs use the blocked
# two-level scan of tsssm.ops._blocked, which vectorises over _BLOCK-step blocks at the
# price of two more passes. Chunks aim at _CHUNK_ELEMENTS elements per buffer (at least
# _MIN_CHUNK_STEPS steps); segments of several chunks, about _SEGMENT_ELEMENTS elements of
# a (segment, batch, dim) buffer, are the unit of the cheap per-step work (transposes to
# time-first order, softplus, dt * u). Tuned on a 2-core AMD EPYC (1 MiB L2 per core)
# with benchmarks/cpu_scan.py; the timings move by less than the machine's noise within
# a factor of 2 of these sizes, except that with torch's two threads chunks of 2^19
# elements beat 2^18 (fewer, larger parallel ops per chunk: forward about 9% and forward
# plus backward 3-8% faster at (16, 64, 1024, 16)), and 2^20 lost again.
_BLOCK = 16
_CHUNK_ELEMENTS = 1 << 19
_MIN_CHUNK_STEPS = 16
_MAX_BLOCKS_PER_CHUNK = 32
_SEQUENTIAL_MIN_SLAB = 1 << 11
_SEGMENT_ELEMENTS = 1 << 18
# exp(x) = exp2(x * log2(e)): torch's float32 exp2 is about 3x faster than its exp on
# this CPU (AVX-512), and folding log2(e) into A costs one rounding of A.
_LOG2E = 1.4426950408889634


def _plan(batch: int, dim: int, L: int, N: int, chunk_size: int | None) -> tuple[int, int]:
    """Return (block, chunk): steps per inner block and steps per chunk (a multiple).

    ``block == chunk`` means the sequential scan (no blocking) inside each chunk.
    """
    slab = max(1, batch * dim * N)
    if slab >= _SEQUENTIAL_MIN_SLAB:
        if chunk_size is not None:
            chunk = chunk_size
        else:
            chunk = max(_MIN_CHUNK_STEPS, _CHUNK_ELEMENTS // slab)
        chunk = max(1, min(chunk, L))
        return chunk, chunk
    block = max(1, min(_BLOCK, L))
    if chunk_size is not None:
        block = min(block, chunk_size)
        n_blocks = max(1, chunk_size // block)
    else:
        n_blocks = _CHUNK_ELEMENTS // (slab * block)
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


def _row(n: int) -> int:
    """Row length of a staging buffer for ``n`` steps: ``n`` rounded up to 16, plus 4.

    Rows a power-of-two number of bytes apart fall into the same few L1 cache sets, so
    reading down a column (a transpose) evicts its own lines: with rows of 256 floats a
    (16, 64, 256) transpose took 145 us, with rows of 260 floats 85 us (two threads).
    """
    return (n + 15) // 16 * 16 + 4


def _natural(buf: torch.Tensor, batch: int, X: int, n: int) -> torch.Tensor:
    """A (batch, X, n) view of flat staging buffer ``buf`` with rows of ``_row(n)``."""
    r = _row(n)
    return buf[: batch * X * r].view(batch, X, r)[:, :, :n]


def _transpose(dst: torch.Tensor, src: torch.Tensor) -> None:
    """Copy ``src`` (batch, X, n), rows padded by :func:`_natural`, into ``dst`` (n, batch, X).

    torch's strided copy reads down the columns, split over the threads; with padded rows
    it beats torch's tiled 2-D transpose, which runs on one thread (one thread: 166
    against 157 us for (16, 64, 256); two threads: 85 against 152 us).
    """
    dst.copy_(src.permute(2, 0, 1))


def _time_major(dst: torch.Tensor, src: torch.Tensor, s: int, e: int,
                stage: torch.Tensor) -> torch.Tensor:
    """Copy steps ``s:e`` of ``src`` (batch, X, L) into ``dst`` (S, batch, X), time first.

    The steps are first copied as they lie into ``stage`` (rows of contiguous steps,
    padded by :func:`_natural`), then transposed by :func:`_transpose`: about 3x faster
    than a strided gather from the big tensor, whose rows are a power of two apart.
    Rows of ``dst`` past ``e - s`` (the padding of a last, short chunk) are zeroed.
    """
    n = e - s
    batch, X = src.shape[:2]
    st = _natural(stage, batch, X, n)
    st.copy_(src[:, :, s:e])
    _transpose(dst[:n], st)
    if n < dst.shape[0]:
        dst[n:].zero_()
    return dst


def _store(dst: torch.Tensor, src: torch.Tensor, s: int, e: int, stage: torch.Tensor,
           u: torch.Tensor | None = None, D: torch.Tensor | None = None) -> None:
    """Write ``src`` (S, batch, X), time first, into steps ``s:e`` of ``dst`` (batch, X, L).

    The inverse of :func:`_time_major`: a tiled 2-D transpose into ``stage`` (or straight
    into ``dst`` when it is the whole contiguous sequence), then a copy of contiguous rows
    of steps. With ``D`` (X,) it writes ``src + D u`` instead, the ``D u`` term riding on
    that copy.
    """
    n = e - s
    batch, X = dst.shape[:2]
    whole = n == dst.shape[2] and dst.is_contiguous()
    st = dst if whole else stage[: batch * X * n].view(batch, X, n)
    st.view(batch * X, n).copy_(src[:n].view(n, batch * X).t())
    if D is not None:
        torch.addcmul(st, u[:, :, s:e], D[:, None], out=dst[:, :, s:e])
    elif not whole:
        dst[:, :, s:e].copy_(st)


class _Workspace:
    """The buffers of one scan, all time first, allocated once and reused.

    ``big`` buffers hold one chunk of the state: (T, batch, N, dim). ``small`` buffers
    hold one segment of ``S`` steps (a multiple of ``T``) of a (batch, X, L) input or
    output: (S, batch, X). The per-segment work (transposes, softplus, ``dt * u``) then
    runs as a few large ops instead of many small per-chunk ones. Fresh megabyte-sized
    allocations cost page faults that dominate elementwise work on the CPU, hence the
    reuse. :meth:`steps` gives a big buffer's per-step views for the sequential scan.
    """

    def __init__(self, T, S, batch, dim, N, like, big, small, natural=("stage",)):
        self.T, self.S = T, S
        opts = {"dtype": like.dtype, "device": like.device}
        for name in big:
            setattr(self, name, torch.empty((T, batch, N, dim), **opts))
        for name, width in small.items():
            setattr(self, name, torch.empty((S, batch, width), **opts))
        for name in natural:  # flat, for (batch, X, steps) views with padded rows
            setattr(self, name, torch.empty(_row(S) * batch * max(dim, N), **opts))
        self._steps: dict[str, tuple[torch.Tensor, ...]] = {}
        self._views: dict[tuple[int, int, int], tuple[torch.Tensor, ...]] = {}
        self.nbytes = sum(t.numel() * t.element_size() for t in vars(self).values()
                          if isinstance(t, torch.Tensor))
        self.key = None

    def steps(self, name: str) -> tuple[torch.Tensor, ...]:
        """The per-step views of big buffer ``name`` (made once, on first use)."""
        if name not in self._steps:
            self._steps[name] = getattr(self, name).unbind(0)
        return self._steps[name]

    def dt_du_natural(self, u, delta, bias, softplus, s, e):
        """The forward pass's ``dt`` and ``du = dt * u`` for steps s:e, time first.

        Both are computed in the inputs' own (batch, dim, L) layout, reading steps s:e
        in place (the add, softplus and product are the staging copy), then transposed
        once each into ``dt`` and ``du``; padded rows (past ``e - s``) are zeroed. Uses
        ``stage`` and ``nat`` as scratch.
        """
        m = e - s
        batch, dim = u.shape[:2]
        n1 = _natural(self.stage, batch, dim, m)
        n2 = _natural(self.nat, batch, dim, m)
        d = delta[:, :, s:e]
        if bias is not None:
            torch.add(d, bias[:, None], out=n1)
            d = n1
        if softplus:
            torch._C._nn.softplus(d, 1, 20, out=n1)
        elif d is not n1:
            n1.copy_(d)
        torch.mul(n1, u[:, :, s:e], out=n2)
        for name, src in (("dt", n1), ("du", n2)):
            dst = getattr(self, name)
            _transpose(dst[:m], src)
            if m < self.S:
                dst[m:].zero_()

    def chunk_views(self, c: int, n: int) -> tuple[torch.Tensor, ...]:
        """The forward pass's views for the chunk of ``n`` steps at offset ``c``.

        (dt, du, B, C, y, a, x, x) shaped for the decay and input products and the
        output's batched matrix product; made once per (chunk, x buffer) and cached, as
        the workspace itself is reused from call to call.
        """
        key = (c, n, self.x.data_ptr())
        v = self._views.get(key)
        if v is None:
            batch, N, dim = self.x.shape[1:]
            R = n * batch
            x = self.x[:n]
            v = (self.dt[c : c + n, :, None, :], self.du[c : c + n, :, None, :],
                 self.B[c : c + n, :, :, None], self.C[c : c + n].view(R, 1, N),
                 self.y[c : c + n].view(R, 1, dim), self.a[:n], x, x.view(R, N, dim))
            self._views[key] = v
        return v

    def swap(self, one: str, other: str) -> None:
        """Exchange big buffers ``one`` and ``other`` (and their step views)."""
        a, b = getattr(self, one), getattr(self, other)
        setattr(self, one, b)
        setattr(self, other, a)
        sa, sb = self._steps.pop(one, None), self._steps.pop(other, None)
        if sb is not None:
            self._steps[one] = sb
        if sa is not None:
            self._steps[other] = sa

    def load(self, name: str, src: torch.Tensor, s: int, e: int) -> torch.Tensor:
        """Steps ``s:e`` of ``src`` (batch, X, L) into buffer ``name``, time first."""
        return _time_major(getattr(self, name), src, s, e, self.stage)

    def store(self, dst: torch.Tensor, name: str, s: int, e: int,
              u: torch.Tensor | None = None, D: torch.Tensor | None = None) -> None:
        """Buffer ``name`` (time first) into steps ``s:e`` of ``dst`` (batch, X, L), plus
        ``D u`` when ``D`` is given (see :func:`_store`)."""
        _store(dst, getattr(self, name), s, e, self.stage, u, D)

    def dt_du(self, u, delta, bias, softplus, s, e):
        """Fill ``dt`` = [softplus](delta + bias), ``u`` and ``du`` = dt * u for steps s:e.

        With softplus, ``pre`` keeps delta + bias for the backward pass. Padded rows
        (past ``e - s``) are zero: decay 1 and no input, so the state passes unchanged.
        """
        m = e - s
        if softplus:
            pre = self.load("pre", delta, s, e)[:m]
            if bias is not None:
                pre.add_(bias)
            torch._C._nn.softplus(pre, 1, 20, out=self.dt[:m])
            if m < self.S:
                self.dt[m:].zero_()
        else:
            self.load("dt", delta, s, e)
            if bias is not None:
                self.dt[:m].add_(bias)
        self.load("u", u, s, e)
        torch.mul(self.dt, self.u, out=self.du)


_CACHE = threading.local()
_CACHE_BYTES = 64 << 20


def _workspace(T, S, batch, dim, N, like, big, small, natural=("stage",)) -> _Workspace:
    """A :class:`_Workspace` for these sizes, taken from this thread's cache if there.

    Fresh megabyte-sized buffers cost a page fault per 4 KiB page on first touch, which
    on the CPU takes about as long as the elementwise work on them; reusing the buffers
    from call to call avoids that. A workspace is taken out of the cache while in use
    and handed back by :func:`_release`, so no two scans ever share one.
    """
    key = (T, S, batch, dim, N, like.dtype, like.device, tuple(big), tuple(small.items()),
           natural)
    cache = getattr(_CACHE, "ws", None)
    ws = None if cache is None else cache.pop(key, None)
    if ws is None:
        ws = _Workspace(T, S, batch, dim, N, like, big, small, natural)
    ws.key = key
    return ws


def _release(ws: _Workspace) -> None:
    """Hand ``ws`` back to this thread's cache (at most ``_CACHE_BYTES`` in all, the
    most recently used kept)."""
    cache = getattr(_CACHE, "ws", None)
    if cache is None:
        cache = _CACHE.ws = {}
    cache[ws.key] = ws
    total = sum(w.nbytes for w in cache.values())
    while cache and total > _CACHE_BYTES:
        total -= cache.pop(next(iter(cache))).nbytes


def _scan_chunk(ws, n, block, h):
    """Forward scan of the first ``n`` steps of ``ws.x`` in place: x_t += a_t * x_{t-1}.

    Returns the state after step ``n - 1`` (a view into ``ws.x``).
    """
    if block == ws.T or n <= block:  # sequential: one op per step on a whole slab
        xs, as_ = ws.steps("x"), ws.steps("a")
        if h is not None:
            xs[0].addcmul_(as_[0], h)
        for j in range(1, n):
            xs[j].addcmul_(as_[j], xs[j - 1])
        return xs[n - 1]
    F_ = ws.x.shape[1:]

    def blk(t):
        return t[:n].view(n // block, block, *F_).transpose(0, 1)

    return blocked_scan_(blk(ws.x), blk(ws.a), blk(ws.w), h)


def _adjoint_chunk(ws, n, block, mu):
    """Reverse scan of ``ws.lam`` in place: lam_t += a_{t+1} lam_{t+1}; lam_{n-1} += mu."""
    if block == ws.T or n <= block:
        ls, as_ = ws.steps("lam"), ws.steps("a")
        if mu is not None:
            ls[n - 1].add_(mu)
        for j in range(n - 2, -1, -1):
            ls[j].addcmul_(as_[j + 1], ls[j + 1])
        return
    coef = ws.t  # coef_t = a_{t+1}; 1 at the chunk's end, where mu comes in
    coef[: n - 1].copy_(ws.a[1:n])
    coef[n - 1].fill_(1.0)
    F_ = ws.a.shape[1:]

    def blk(t):
        return t[:n].view(n // block, block, *F_).transpose(0, 1)

    blocked_scan_(blk(ws.lam), blk(coef), blk(ws.w), mu, reverse=True)


def _segments(L: int, S: int, T: int, block: int):
    """Yield (s0, e0, chunks): segment bounds and its chunks (c, n) as offsets in the
    segment and steps scanned (padded up to a multiple of ``block`` when blocked)."""
    for s0 in range(0, L, S):
        e0 = min(L, s0 + S)
        chunks = []
        for c in range(0, e0 - s0, T):
            m = min(T, e0 - s0 - c)
            chunks.append((c, m if block == T else math.ceil(m / block) * block))
        yield s0, e0, chunks


def _segment_steps(T: int, batch: int, dim: int, L: int) -> int:
    """Steps per segment: a multiple of ``T`` with about _SEGMENT_ELEMENTS per buffer."""
    G = max(1, _SEGMENT_ELEMENTS // max(1, T * batch * dim))
    return T * min(G, math.ceil(L / T))


class _SelectiveScanFn(torch.autograd.Function):
    """h_t = exp(dt_t A) h_{t-1} + dt_t u_t B_t;  y_t = <C_t, h_t> + D u_t  (chunked).

    ``dt = softplus(delta + delta_bias)`` (or without softplus / bias). Inputs are in
    the compute dtype with their original shapes: u, delta (batch, dim, L); A (dim, N);
    B, C (batch, N, L); D, delta_bias (dim,) or None; h0 (batch, dim, N) or None.

    Each chunk of ``T`` steps is worked on in time-first (T, batch, N, dim) buffers: one
    step of the state is a contiguous (batch, N, dim) slab, and the reductions over N
    (the output) and over dim (the gradients of B and C) are batched matrix products
    over the T * batch leading rows. The decays are ``exp2(dt * (A * log2(e)))``.
    """

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, bias, h0, softplus, block, T):  # type: ignore[override]
        batch, dim, L = u.shape
        N = A.shape[1]
        S = _segment_steps(T, batch, dim, L)
        ws = _workspace(T, S, batch, dim, N, u, ("a", "x", "x2", "w"),
                        {"dt": dim, "du": dim, "B": N, "C": N, "y": dim}, ("stage", "nat"))
        A2 = (A.t() * _LOG2E).contiguous()  # (N, dim)
        keep_states = any(ctx.needs_input_grad)
        y = torch.empty_like(u)
        h = None if h0 is None else h0.transpose(1, 2).contiguous()  # (batch, N, dim)
        starts = []
        for s0, e0, chunks in _segments(L, S, T, block):
            ws.dt_du_natural(u, delta, bias, softplus, s0, e0)
            ws.load("B", B, s0, e0)
            ws.load("C", C, s0, e0)
            for c, n in chunks:
                if keep_states:
                    starts.append(h if not starts else h.clone())
                dt, du, Bc, Cr, yr, a, x, xr = ws.chunk_views(c, n)
                torch.mul(dt, A2, out=a)
                torch.exp2(a, out=a)  # the decays exp(dt A)
                torch.mul(du, Bc, out=x)
                h = _scan_chunk(ws, n, block, h)
                torch.bmm(Cr, xr, out=yr)
                # The state h is a view into x: the next chunk scans into the other one.
                ws.swap("x", "x2")
            ws.store(y, "y", s0, e0, u, D)
        _release(ws)
        ctx.save_for_backward(u, delta, A, B, C, D, bias)
        ctx.starts = starts
        ctx.has_h0 = h0 is not None
        ctx.softplus, ctx.block, ctx.T = softplus, block, T
        ctx.set_materialize_grads(False)
        return y, h.transpose(1, 2).clone(memory_format=torch.contiguous_format)

    @staticmethod
    def backward(ctx, gy, glast):  # type: ignore[override]
        u, delta, A, B, C, D, bias = ctx.saved_tensors
        block, T, softplus = ctx.block, ctx.T, ctx.softplus
        batch, dim, L = u.shape
        N = A.shape[1]
        S = _segment_steps(T, batch, dim, L)
        if gy is None:
            gy = torch.zeros_like(u)
        ws = _workspace(T, S, batch, dim, N, u, ("a", "x", "lam", "w", "t"),
                        {"pre": dim, "dt": dim, "u": dim, "du": dim, "B": N, "C": N,
                         "gy": dim, "gdu": dim, "gdt": dim, "gB": N, "gC": N})
        A2 = (A.t() * _LOG2E).contiguous()  # (N, dim)
        At = A.t()
        g_u = torch.empty_like(u)
        g_delta = torch.empty_like(u)
        gB = torch.empty_like(B)
        gC = torch.empty_like(C)
        gA = torch.zeros(N, dim, dtype=A.dtype, device=A.device)
        gD = None if D is None else torch.zeros_like(D)
        mu = None if glast is None else glast.transpose(1, 2).contiguous()  # (batch, N, dim)
        segments = list(_segments(L, S, T, block))
        k = len(ctx.starts)
        for s0, e0, chunks in reversed(segments):
            m0 = e0 - s0
            ws.dt_du(u, delta, bias, softplus, s0, e0)
            ws.load("B", B, s0, e0)
            ws.load("C", C, s0, e0)
            ws.load("gy", gy, s0, e0)
            for c, n in reversed(chunks):
                k -= 1
                h_in = ctx.starts[k]
                R = n * batch
                a, x, lam, w, t = ws.a[:n], ws.x[:n], ws.lam[:n], ws.w[:n], ws.t[:n]
                dt, du = ws.dt[c : c + n], ws.du[c : c + n]
                Bc, Cc, gyc = ws.B[c : c + n], ws.C[c : c + n], ws.gy[c : c + n]
                # Recompute this chunk's decays and states H_t.
                torch.mul(dt[:, :, None, :], A2, out=a)
                torch.exp2(a, out=a)
                torch.mul(du[:, :, None, :], Bc[:, :, :, None], out=x)
                _scan_chunk(ws, n, block, h_in)
                # Adjoint: lam_t = gy_t C_t + a_{t+1} lam_{t+1}; the last step gets mu.
                torch.mul(gyc[:, :, None, :], Cc[:, :, :, None], out=lam)
                _adjoint_chunk(ws, n, block, mu)
                mu = ws.a[0] * ws.lam[0]  # gradient w.r.t. h_in
                # y_t = <C_t, H_t>: dC[b, n, t] = sum_d gy[b, d, t] H_t[b, n, d]. (A row
                # vector times the transposed state: MKL is ~7x slower on H @ gy.)
                torch.bmm(gyc.view(R, 1, dim), x.view(R, N, dim).transpose(1, 2),
                          out=ws.gC[c : c + n].view(R, 1, N))
                # x_t = (dt u)_t B_t.
                torch.bmm(Bc.view(R, 1, N), lam.view(R, N, dim),
                          out=ws.gdu[c : c + n].view(R, 1, dim))
                torch.bmm(du.view(R, 1, dim), lam.view(R, N, dim).transpose(1, 2),
                          out=ws.gB[c : c + n].view(R, 1, N))
                # a_t = exp(dt_t A): q_t = lam_t a_t H_{t-1} is d loss / d (dt_t A).
                torch.mul(lam, a, out=w)
                w[1:].mul_(x[:-1])
                if h_in is None:
                    w[0].zero_()
                else:
                    w[0].mul_(h_in)
                torch.mul(w, dt[:, :, None, :], out=t)
                gA += t.view(R, N * dim).sum(0).view(N, dim)
                w.mul_(At)
                torch.sum(w, 2, out=ws.gdt[c : c + n])
            # dt also enters through dt * u; then the output's D u term and softplus.
            gdt, gdu = ws.gdt[:m0], ws.gdu[:m0]
            gdt.addcmul_(gdu, ws.u[:m0])
            gdu.mul_(ws.dt[:m0])
            if D is not None:
                gdu.addcmul_(ws.gy[:m0], D)
                gD += (ws.gy[:m0] * ws.u[:m0]).sum((0, 1))
            ws.store(g_u, "gdu", s0, e0)
            if softplus:
                gdt.mul_(torch.sigmoid(ws.pre[:m0]))
            ws.store(g_delta, "gdt", s0, e0)
            ws.store(gB, "gB", s0, e0)
            ws.store(gC, "gC", s0, e0)
        _release(ws)
        g_bias = None if bias is None else g_delta.sum((0, 2))
        g_h0 = mu.transpose(1, 2) if ctx.has_h0 else None
        return g_u, g_delta, gA.t(), gB, gC, gD, g_bias, g_h0, None, None, None


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
    """Check, upcast, run the chunked scan and apply the gate (``chunk_size`` tunes)."""
    batch, dim, L, N = _check_args(func, u, delta, A, B, C, D, z, delta_bias, initial_state)
    delta_softplus = check_bool(delta_softplus, "delta_softplus", owner=func)
    return_last_state = check_bool(return_last_state, "return_last_state", owner=func)
    check_int(chunk_size, "chunk_size", owner=func, min_value=1, allow_none=True)
    cd = compute_dtype(u, delta, A, B, C, D, z, delta_bias, initial_state)
    u_ = u.to(cd)
    if L == 0:
        y = torch.zeros_like(u_)
        last = (
            torch.zeros(batch, dim, N, dtype=cd, device=u.device)
            if initial_state is None
            else initial_state.to(cd)
        )
    else:
        block, chunk = _plan(batch, dim, L, N, chunk_size)
        y, last = _SelectiveScanFn.apply(
            u_, delta.to(cd), A.to(cd), B.to(cd), C.to(cd),
            None if D is None else D.to(cd),
            None if delta_bias is None else delta_bias.to(cd),
            None if initial_state is None else initial_state.to(cd),
            delta_softplus, block, chunk,
        )
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
