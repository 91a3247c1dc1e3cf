"""S4D: the diagonal state-space layer's convolution and recurrent views as plain functions.

One channel ``d`` of S4D is the continuous system ``x' = A x + B u``, ``y = 2 Re(C x)``
with a complex diagonal ``A`` of which only one half of each conjugate pair is stored
(hence the ``2 Re``), and ``B = 1`` folded into ``C`` (S4D trains ``C`` only; a layer
with its own ``B`` passes ``C * B``). Discretised with step ``dt = exp(log_dt[d])``:

- recurrent view: ``x_t = dA x_{t-1} + dB u_t``, ``y_t = 2 Re(<C, x_t>) + D u_t``
  (:func:`s4d_discretize`, :func:`s4d_step`, :func:`s4d_final_state`);
- convolution view: ``y = K * u + D u`` with the Vandermonde kernel
  ``K[d, l] = 2 Re(sum_n C[d, n] dB[d, n] dA[d, n]^l)`` (:func:`s4d_kernel`), applied by
  :func:`fft_conv` (FFT of length 2L, so nothing wraps around).

Shapes: ``log_dt`` (dim,); ``A_re``, ``A_im`` (dim, N) with ``A_re < 0`` for a stable
system; ``C`` (dim, N) complex, or (dim, N, 2) real holding (real, imaginary) parts as
``torch.view_as_real`` lays them out (how a layer stores complex parameters).
"""

from __future__ import annotations

import torch

from tsssm._validation import check_int, check_option
from tsssm.exceptions import ParameterError
from tsssm.ops._checks import check_shape, check_tensor, fmt_shape
from tsssm.ops._dispatch import load_kernel_module, resolve_backend

__all__ = ["fft_conv", "s4d_discretize", "s4d_final_state", "s4d_kernel", "s4d_step"]

_METHODS = ("zoh", "bilinear")


def _complex_dtype(*tensors: torch.Tensor | None) -> torch.dtype:
    """complex128 if any input is double precision, else complex64."""
    for t in tensors:
        if t is not None and t.dtype in (torch.float64, torch.complex128):
            return torch.complex128
    return torch.complex64


def _as_complex(C: torch.Tensor, func: str, dim: int, N: int) -> torch.Tensor:
    """Accept C as complex (dim, N) or real (dim, N, 2); return it complex."""
    check_tensor(C, "C", func, allow_complex=True)
    if C.is_complex():
        check_shape(C, "C", func, "(dim, N)", (dim, N))
        return C
    check_shape(C, "C", func, "(dim, N, 2) for a real tensor", (dim, N, 2))
    return torch.complex(C[..., 0], C[..., 1])


def _params(func: str, log_dt, A_re, A_im, method: str):
    """Check the continuous parameters; return (dt (dim, 1), A (dim, N) complex)."""
    for name, t in (("log_dt", log_dt), ("A_re", A_re), ("A_im", A_im)):
        check_tensor(t, name, func)
    check_option(method, "method", _METHODS, owner=func)
    if log_dt.ndim != 1 or A_re.ndim != 2:
        raise ParameterError(
            f"{func}: log_dt must have shape (dim,) and A_re (dim, N); got log_dt "
            f"{fmt_shape(log_dt.shape)} and A_re {fmt_shape(A_re.shape)}."
        )
    dim = log_dt.shape[0]
    check_shape(A_re, "A_re", func, "(dim, N)", (dim, A_re.shape[1]))
    check_shape(A_im, "A_im", func, "(dim, N)", tuple(A_re.shape))
    cdt = _complex_dtype(log_dt, A_re, A_im)
    rdt = torch.float64 if cdt == torch.complex128 else torch.float32
    dt = torch.exp(log_dt.to(rdt))[:, None]  # (dim, 1)
    A = torch.complex(A_re.to(rdt), A_im.to(rdt))  # (dim, N)
    return dt, A


def _discretize(dt: torch.Tensor, A: torch.Tensor, method: str):
    """Return (log dA, dA, dB), each (dim, N) complex."""
    dtA = dt * A
    if method == "zoh":
        log_dA = dtA
        dA = torch.exp(dtA)
        dB = (dA - 1) / A
    else:  # bilinear
        den = 1 - dtA / 2
        dA = (1 + dtA / 2) / den
        log_dA = torch.log(1 + dtA / 2) - torch.log(den)
        dB = dt / den
    return log_dA, dA, dB


def s4d_discretize(
    log_dt: torch.Tensor, A_re: torch.Tensor, A_im: torch.Tensor, method: str = "zoh"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Discretise S4D's diagonal system for the recurrent view.

    Parameters
    ----------
    log_dt : Tensor, shape (dim,)
        Log step size per channel.
    A_re, A_im : Tensor, shape (dim, N)
        Real (negative for stability) and imaginary parts of the diagonal ``A``.
    method : {"zoh", "bilinear"}, default="zoh"
        Zero-order hold: ``dA = exp(dt A)``, ``dB = (exp(dt A) - 1) / A``. Bilinear:
        ``dA = (1 + dt A / 2) / (1 - dt A / 2)``, ``dB = dt / (1 - dt A / 2)``.

    Returns
    -------
    dA, dB : Tensor, shape (dim, N), complex
        complex64, or complex128 for float64 inputs. Differentiable.

    Examples
    --------
    >>> import torch
    >>> from tsssm.ops import s4d_discretize
    >>> dA, dB = s4d_discretize(torch.zeros(1), -torch.ones(1, 1), torch.zeros(1, 1))
    >>> dA.real, dB.real   # exp(-1) and (1 - exp(-1))
    (tensor([[0.3679]]), tensor([[0.6321]]))
    """
    dt, A = _params("s4d_discretize", log_dt, A_re, A_im, method)
    _, dA, dB = _discretize(dt, A, method)
    return dA, dB


def s4d_kernel(
    log_dt: torch.Tensor,
    A_re: torch.Tensor,
    A_im: torch.Tensor,
    C: torch.Tensor,
    L: int,
    method: str = "zoh",
    backend: str = "auto",
) -> torch.Tensor:
    """S4D's convolution kernel ``K[d, l] = 2 Re(sum_n C[d, n] dB[d, n] dA[d, n]^l)``.

    The powers come from ``exp(l * log dA)``, a Vandermonde product, so the kernel is one
    ``(dim, N, L)`` complex tensor and an einsum (memory ``O(dim * N * L)``). Convolving
    ``u`` with it (:func:`fft_conv`) equals running the recurrence of :func:`s4d_step`
    from a zero state.

    Parameters
    ----------
    log_dt : Tensor, shape (dim,)
        Log step size per channel.
    A_re, A_im : Tensor, shape (dim, N)
        Real (negative for stability) and imaginary parts of the diagonal ``A``.
    C : Tensor, shape (dim, N) complex, or (dim, N, 2) real
        The output projection (with ``B`` folded in).
    L : int
        Kernel length (the sequence length it will be applied to).
    method : {"zoh", "bilinear"}, default="zoh"
        Discretisation, as in :func:`s4d_discretize`.
    backend : {"auto", "torch", "triton"}, default="auto"
        ``"triton"`` sums the Vandermonde product in a fused kernel that never holds
        the ``(dim, N, L)`` table; ``"auto"`` picks it for CUDA tensors (see
        :func:`~tsssm.ops.resolve_backend`).

    Returns
    -------
    Tensor, shape (dim, L)
        Real: float32, or float64 for double-precision inputs. Differentiable in
        ``log_dt``, ``A_re``, ``A_im`` and ``C``.

    Examples
    --------
    >>> import torch
    >>> from tsssm.ops import s4d_kernel
    >>> K = s4d_kernel(torch.zeros(1), -torch.ones(1, 1), torch.zeros(1, 1),
    ...                torch.full((1, 1), 0.5 + 0j), L=3)
    >>> K   # 2 * 0.5 * (1 - e^-1) * e^-l
    tensor([[0.6321, 0.2325, 0.0855]])
    """
    func = "s4d_kernel"
    L = check_int(L, "L", owner=func, min_value=1)  # type: ignore[assignment]
    dt, A = _params(func, log_dt, A_re, A_im, method)
    dim, N = A.shape
    Cc = _as_complex(C, func, dim, N).to(A.dtype)
    log_dA, _, dB = _discretize(dt, A, method)
    if resolve_backend(backend, log_dt, A_re, A_im, C, op="s4d") == "triton":
        kernel = load_kernel_module("s4d").s4d_vandermonde_triton
        return kernel(log_dA, Cc * dB, L)
    steps = torch.arange(L, device=A.device, dtype=dt.dtype)  # (L,)
    V = torch.exp(log_dA[:, :, None] * steps)  # (dim, N, L) powers dA^l
    K = torch.einsum("dn,dnl->dl", Cc * dB, V)  # (dim, L)
    return 2 * K.real


def s4d_step(
    state: torch.Tensor,
    u_t: torch.Tensor,
    dA: torch.Tensor,
    dB: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of S4D's recurrent view: ``x = dA x + dB u_t``, ``y_t = 2 Re(<C, x>) + D u_t``.

    Parameters
    ----------
    state : Tensor, shape (batch, dim, N), complex
        The state ``x_{t-1}``; start from zeros (``torch.zeros(..., dtype=dA.dtype)``).
    u_t : Tensor, shape (batch, dim)
        The real input at time t.
    dA, dB : Tensor, shape (dim, N), complex
        From :func:`s4d_discretize`.
    C : Tensor, shape (dim, N) complex, or (dim, N, 2) real
        The output projection, as given to :func:`s4d_kernel`.
    D : Tensor, shape (dim,), default=None
        The skip connection.

    Returns
    -------
    y_t : Tensor, shape (batch, dim)
        Real, in ``u_t``'s dtype.
    new_state : Tensor, shape (batch, dim, N), complex

    Examples
    --------
    >>> import torch
    >>> from tsssm.ops import s4d_discretize, s4d_step
    >>> dA, dB = s4d_discretize(torch.zeros(1), -torch.ones(1, 1), torch.zeros(1, 1))
    >>> state = torch.zeros(1, 1, 1, dtype=dA.dtype)
    >>> y, state = s4d_step(state, torch.ones(1, 1), dA, dB, torch.full((1, 1), 0.5 + 0j))
    >>> y
    tensor([[0.6321]])
    """
    func = "s4d_step"
    check_tensor(state, "state", func, allow_complex=True)
    check_tensor(u_t, "u_t", func)
    check_tensor(dA, "dA", func, allow_complex=True)
    check_tensor(dB, "dB", func, allow_complex=True)
    check_tensor(D, "D", func, allow_none=True)
    if dA.ndim != 2 or u_t.ndim != 2:
        raise ParameterError(
            f"{func}: dA must have shape (dim, N) and u_t (batch, dim); got dA "
            f"{fmt_shape(dA.shape)} and u_t {fmt_shape(u_t.shape)}."
        )
    dim, N = dA.shape
    batch = u_t.shape[0]
    check_shape(u_t, "u_t", func, "(batch, dim)", (batch, dim))
    check_shape(dB, "dB", func, "(dim, N)", (dim, N))
    check_shape(state, "state", func, "(batch, dim, N)", (batch, dim, N))
    check_shape(D, "D", func, "(dim,)", (dim,))
    Cc = _as_complex(C, func, dim, N)
    new_state = dA * state + dB * u_t[:, :, None]  # (batch, dim, N)
    y = 2 * (Cc * new_state).sum(-1).real  # (batch, dim)
    if D is not None:
        y = y + D * u_t
    return y.to(u_t.dtype), new_state


def s4d_final_state(
    u: torch.Tensor,
    dA: torch.Tensor,
    dB: torch.Tensor,
    state: torch.Tensor | None = None,
) -> torch.Tensor:
    """The S4D state after reading a whole sequence, in one shot (no loop over time).

    ``x_{L-1} = dA^L state + sum_s dA^(L-1-s) dB u_s``, the state :func:`s4d_step` would
    reach after ``L`` steps. Use it to warm up the recurrent view on a context window
    (for example before streaming forecasts) at the cost of one ``(dim, N, L)`` power
    table and an einsum.

    Parameters
    ----------
    u : Tensor, shape (batch, dim, L)
        The real input sequence.
    dA, dB : Tensor, shape (dim, N), complex
        From :func:`s4d_discretize`.
    state : Tensor, shape (batch, dim, N), complex, default=None
        The state before the first step; zeros if None.

    Returns
    -------
    Tensor, shape (batch, dim, N), complex

    Examples
    --------
    >>> import torch
    >>> from tsssm.ops import s4d_discretize, s4d_final_state
    >>> dA, dB = s4d_discretize(torch.zeros(1), -torch.ones(1, 1), torch.zeros(1, 1))
    >>> s4d_final_state(torch.ones(1, 1, 2), dA, dB).real   # dB (1 + e^-1)
    tensor([[[0.8647]]])
    """
    func = "s4d_final_state"
    check_tensor(u, "u", func)
    check_tensor(dA, "dA", func, allow_complex=True)
    check_tensor(dB, "dB", func, allow_complex=True)
    check_tensor(state, "state", func, allow_none=True, allow_complex=True)
    if u.ndim != 3 or dA.ndim != 2:
        raise ParameterError(
            f"{func}: u must have shape (batch, dim, L) and dA (dim, N); got u "
            f"{fmt_shape(u.shape)} and dA {fmt_shape(dA.shape)}."
        )
    batch, dim, L = u.shape
    N = dA.shape[1]
    check_shape(dA, "dA", func, "(dim, N)", (dim, N))
    check_shape(dB, "dB", func, "(dim, N)", (dim, N))
    check_shape(state, "state", func, "(batch, dim, N)", (batch, dim, N))
    tiny = torch.finfo(dA.real.dtype).tiny
    # exp(k log dA) = dA^k for integer k on any branch of the log; clamping |dA| keeps a
    # fully decayed mode (dA == 0) at 0 instead of 0 * log(0) = nan.
    log_dA = torch.complex(torch.log(dA.abs().clamp_min(tiny)), torch.angle(dA))
    powers = torch.arange(L - 1, -1, -1, device=u.device, dtype=dA.real.dtype)  # L-1-s
    W = torch.exp(log_dA[:, :, None] * powers)  # (dim, N, L)
    x = torch.einsum("bdl,dnl->bdn", u.to(W.dtype), W) * dB  # (batch, dim, N)
    if state is not None:
        x = x + torch.exp(log_dA * L) * state
    return x


def fft_conv(u: torch.Tensor, K: torch.Tensor, D: torch.Tensor | None = None) -> torch.Tensor:
    """Causal convolution ``y[b, d, t] = sum_{s<=t} K[d, t-s] u[b, d, s] + D[d] u[b, d, t]``.

    Computed with real FFTs of length ``2L`` so that the circular convolution never
    wraps around (FFT-based, ``O(L log L)`` per channel).

    Parameters
    ----------
    u : Tensor, shape (batch, dim, L)
        The input.
    K : Tensor, shape (dim, L_K)
        The kernel; taps beyond ``L`` are ignored, a shorter kernel is zero-padded.
    D : Tensor, shape (dim,), default=None
        The skip connection.

    Returns
    -------
    Tensor, shape (batch, dim, L)
        In ``u``'s dtype (computed in float32, or float64 for double inputs).

    Examples
    --------
    >>> import torch
    >>> from tsssm.ops import fft_conv
    >>> fft_conv(torch.tensor([[[1.0, 2.0, 3.0]]]), torch.tensor([[1.0, 1.0]])).round(decimals=4)
    tensor([[[1., 3., 5.]]])
    """
    func = "fft_conv"
    check_tensor(u, "u", func)
    check_tensor(K, "K", func)
    check_tensor(D, "D", func, allow_none=True)
    if u.ndim != 3:
        raise ParameterError(
            f"{func}: u must have shape (batch, dim, L); got {fmt_shape(u.shape)}."
        )
    _, dim, L = u.shape
    if K.ndim != 2 or K.shape[0] != dim:
        raise ParameterError(
            f"{func}: K must have shape (dim, L_K) with dim = {dim}; got {fmt_shape(K.shape)}."
        )
    check_shape(D, "D", func, "(dim,)", (dim,))
    cd = torch.float64 if torch.float64 in (u.dtype, K.dtype) else torch.float32
    if L == 0:
        return torch.zeros_like(u)
    n = 2 * L
    u_ = u.to(cd)
    Kf = torch.fft.rfft(K[:, :L].to(cd), n=n)  # (dim, L + 1)
    uf = torch.fft.rfft(u_, n=n)  # (batch, dim, L + 1)
    y = torch.fft.irfft(uf * Kf, n=n)[..., :L]  # (batch, dim, L)
    if D is not None:
        y = y + D.to(cd)[:, None] * u_
    return y.to(u.dtype)
