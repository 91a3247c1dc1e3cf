"""Straightforward float64 sequential loops: the independent references for tsssm.ops.

Every function here is written the obvious way, one Python loop over time, in float64
(complex128 for complex inputs), with no chunking or parallel tricks, so that the fast
implementations in ``tsssm.ops`` (and the Triton kernels) can be held against them.
They are slow on purpose; keep test shapes small. All of them are differentiable with
autograd (plain torch ops), so they can also serve as gradient references.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "causal_conv_loop",
    "linear_scan_loop",
    "s4d_kernel_loop",
    "s4d_recurrence_loop",
    "selective_scan_loop",
]


def _f64(x: torch.Tensor | None) -> torch.Tensor | None:
    if x is None:
        return None
    return x.to(torch.complex128) if x.is_complex() else x.to(torch.float64)


def selective_scan_loop(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    initial_state: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mamba-1 selective scan, one step at a time, in float64.

    Shapes: u, delta, z (batch, dim, L); A (dim, N); B, C (batch, N, L);
    D, delta_bias (dim,); initial_state (batch, dim, N).

    Returns
    -------
    out : (batch, dim, L) float64
    last_state : (batch, dim, N) float64
    """
    u, delta, A, B, C = (_f64(t) for t in (u, delta, A, B, C))
    D, z, delta_bias, initial_state = (_f64(t) for t in (D, z, delta_bias, initial_state))
    batch, dim, L = u.shape
    N = A.shape[1]
    if delta_bias is not None:
        delta = delta + delta_bias[None, :, None]
    if delta_softplus:
        delta = F.softplus(delta)
    h = (
        torch.zeros(batch, dim, N, dtype=torch.float64, device=u.device)
        if initial_state is None
        else initial_state
    )
    ys = []
    for t in range(L):
        dt = delta[:, :, t]  # (batch, dim)
        dA = torch.exp(dt[:, :, None] * A[None])  # (batch, dim, N)
        dBu = dt[:, :, None] * B[:, None, :, t] * u[:, :, t, None]  # (batch, dim, N)
        h = dA * h + dBu
        y = (h * C[:, None, :, t]).sum(-1)  # (batch, dim)
        if D is not None:
            y = y + D[None, :] * u[:, :, t]
        if z is not None:
            y = y * F.silu(z[:, :, t])
        ys.append(y)
    return torch.stack(ys, dim=-1), h


def linear_scan_loop(
    a: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor | None = None,
    reverse: bool = False,
) -> torch.Tensor:
    """h_t = a_t * h_{t-1} + b_t along the last axis (or h_t = a_t * h_{t+1} + b_t reversed).

    ``a`` and ``b`` broadcast to one shape (..., L); ``h0`` has shape (...) or is None
    (zeros). Computed in float64 / complex128.
    """
    a, b, h0 = _f64(a), _f64(b), _f64(h0)
    a, b = torch.broadcast_tensors(a, b)
    dtype = torch.promote_types(a.dtype, b.dtype)
    if h0 is not None:
        dtype = torch.promote_types(dtype, h0.dtype)
    L = a.shape[-1]
    h = torch.zeros(a.shape[:-1], dtype=dtype, device=a.device) if h0 is None else h0.to(dtype)
    out = [None] * L
    steps = range(L - 1, -1, -1) if reverse else range(L)
    for t in steps:
        h = a[..., t] * h + b[..., t]
        out[t] = h
    return torch.stack(out, dim=-1)


def s4d_recurrence_loop(
    u: torch.Tensor,
    log_dt: torch.Tensor,
    A_re: torch.Tensor,
    A_im: torch.Tensor,
    C: torch.Tensor,
    method: str = "zoh",
) -> torch.Tensor:
    """Run the discretised diagonal S4D recurrence over u, one step at a time.

    The continuous system is x' = A x + B u, y = 2 Re(C x) with B = 1 and A = A_re + i A_im
    (only one half of each conjugate pair stored). ZOH: dA = exp(dt A),
    dB = (exp(dt A) - 1) / A; bilinear: dA = (1 + dt A / 2) / (1 - dt A / 2),
    dB = dt / (1 - dt A / 2).

    Shapes: u (batch, dim, L); log_dt (dim,); A_re, A_im (dim, N); C (dim, N) complex.
    Returns y (batch, dim, L) float64 (no D skip term).
    """
    u = u.to(torch.float64)
    dt = torch.exp(log_dt.to(torch.float64))[:, None]  # (dim, 1)
    A = torch.complex(A_re.to(torch.float64), A_im.to(torch.float64))  # (dim, N)
    C = C.to(torch.complex128)
    if method == "zoh":
        dA = torch.exp(dt * A)
        dB = (dA - 1) / A
    elif method == "bilinear":
        dA = (1 + dt * A / 2) / (1 - dt * A / 2)
        dB = dt / (1 - dt * A / 2)
    else:
        raise ValueError(method)
    batch, dim, L = u.shape
    x = torch.zeros(batch, dim, A.shape[1], dtype=torch.complex128, device=u.device)
    ys = []
    for t in range(L):
        x = dA * x + dB * u[:, :, t, None]
        ys.append(2 * (C * x).sum(-1).real)
    return torch.stack(ys, dim=-1)


def s4d_kernel_loop(
    log_dt: torch.Tensor,
    A_re: torch.Tensor,
    A_im: torch.Tensor,
    C: torch.Tensor,
    L: int,
    method: str = "zoh",
) -> torch.Tensor:
    """The S4D convolution kernel as the recurrence's impulse response, shape (dim, L)."""
    dim = log_dt.shape[0]
    impulse = torch.zeros(1, dim, L, dtype=torch.float64, device=log_dt.device)
    impulse[:, :, 0] = 1.0
    return s4d_recurrence_loop(impulse, log_dt, A_re, A_im, C, method)[0]


def causal_conv_loop(
    u: torch.Tensor, K: torch.Tensor, D: torch.Tensor | None = None
) -> torch.Tensor:
    """Direct O(L^2) causal convolution y[b, d, t] = sum_{s<=t} K[d, t-s] u[b, d, s] + D[d] u.

    Shapes: u (batch, dim, L); K (dim, L); D (dim,). Returns float64 (batch, dim, L).
    """
    u = u.to(torch.float64)
    K = K.to(torch.float64)
    L = u.shape[-1]
    y = torch.zeros_like(u)
    for t in range(L):
        for s in range(t + 1):
            y[:, :, t] += K[:, t - s] * u[:, :, s]
    if D is not None:
        y = y + D.to(torch.float64)[None, :, None] * u
    return y
