"""First-order linear recurrences ``h_t = a_t * h_{t-1} + b_t`` along the last axis.

This is the scan under S5 and under S4D's recurrent view (complex diagonal states). The
PyTorch reference is the two-level blocked scan of :mod:`tsssm.ops._blocked`: with
blocks of about ``sqrt(L / 2)`` steps it takes ``O(sqrt(L))`` Python iterations, each
vectorised over everything else, and it only multiplies coefficients (no division by
cumulative products), so it is as stable as the sequential loop. The backward pass is
the adjoint scan run in the other direction.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tsssm._validation import check_bool
from tsssm.exceptions import ParameterError
from tsssm.ops._blocked import blocked_scan_, shift_
from tsssm.ops._checks import check_tensor, fmt_shape
from tsssm.ops._dispatch import load_kernel_module, resolve_backend

__all__ = ["linear_scan", "linear_scan_ref", "linear_scan_step"]


def _block_size(L: int) -> int:
    # A block of k steps costs about 2k + L/k Python iterations: k = sqrt(L/2) is best.
    return max(1, round(math.sqrt(L / 2)))


def _promoted(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> torch.dtype:
    """The promoted dtype of the inputs (the dtype of the result)."""
    dtype = torch.promote_types(a.dtype, b.dtype)
    return dtype if h0 is None else torch.promote_types(dtype, h0.dtype)


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """``dtype`` with half precisions raised to 32 bits."""
    if dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    if dtype == torch.complex32:
        return torch.complex64
    return dtype


def _to_blocked(x: torch.Tensor, shape: tuple[int, ...], block: int, fill: float) -> torch.Tensor:
    """Copy ``x`` broadcast to ``shape`` (..., L) into a new (block, n_blocks, M) tensor.

    Time ``t = i * block + j`` of flattened row ``m`` goes to ``[j, i, m]``, the layout of
    :func:`blocked_scan_`; steps past ``L`` are set to ``fill``.
    """
    L = shape[-1]
    M = math.prod(shape[:-1])
    n_blocks = math.ceil(L / block)
    src = x.expand(shape).reshape(M, L)
    if n_blocks * block > L:
        src = F.pad(src, (0, n_blocks * block - L), value=fill)
    out = torch.empty((block, n_blocks, M), dtype=x.dtype, device=x.device)
    out.permute(2, 1, 0).copy_(src.view(M, n_blocks, block))
    return out


def _from_blocked(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Inverse of :func:`_to_blocked`: (block, n_blocks, M) -> contiguous ``shape``."""
    block, n_blocks, M = x.shape
    flat = x.permute(2, 1, 0).reshape(M, n_blocks * block)
    return flat[:, : shape[-1]].reshape(shape).contiguous()


def _reduce_grad(g: torch.Tensor, meta: tuple[torch.Size, torch.dtype]) -> torch.Tensor:
    """Sum a gradient over broadcast dimensions; drop the imaginary part for real inputs."""
    shape, dtype = meta
    if g.is_complex() and not dtype.is_complex:
        g = g.real
    return g.sum_to_size(shape).to(dtype)


class _LinearScanFn(torch.autograd.Function):
    """Blocked scan with an adjoint-scan backward; inputs already in the compute dtype."""

    @staticmethod
    def forward(ctx, a, b, h0, reverse, shape):  # type: ignore[override]
        block = _block_size(shape[-1])
        # Padded steps (a = 1, b = 0) sit after the sequence; they leave a reversed scan's
        # incoming state unchanged and never touch a forward scan's outputs.
        a_b = _to_blocked(a, shape, block, 1.0)  # (block, n_blocks, M)
        x = _to_blocked(b, shape, block, 0.0)
        work = torch.empty_like(x)
        h0_f = None if h0 is None else h0.expand(shape[:-1]).reshape(-1)  # (M,)
        blocked_scan_(x, a_b, work, h0_f, reverse=reverse)
        ctx.save_for_backward(a_b, x, h0_f)
        ctx.reverse, ctx.shape = reverse, shape
        ctx.metas = [None if t is None else (t.shape, t.dtype) for t in (a, b, h0)]
        return _from_blocked(x, shape)

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        a_b, h, h0_f = ctx.saved_tensors
        reverse, shape = ctx.reverse, ctx.shape
        block = a_b.shape[0]
        lam = _to_blocked(g.to(h.dtype), shape, block, 0.0)
        # The adjoint runs the other way with the neighbouring (conjugated) coefficient:
        # forward scan -> lam_t = g_t + conj(a_{t+1}) lam_{t+1}; reverse -> conj(a_{t-1}).
        coef = shift_(torch.empty_like(a_b), a_b, 1.0, forward=reverse)
        if coef.is_complex():
            coef = coef.conj_physical_()
        blocked_scan_(lam, coef, torch.empty_like(lam), None, reverse=not reverse)
        # d h_t / d a_t = h_{t-1} (h_{t+1} reversed), the initial state at the edge. In the
        # reversed case the padded steps past L hold h0 already, so the shift finds it.
        edge = 0.0 if h0_f is None else h0_f
        prev = shift_(torch.empty_like(h), h, edge, forward=not reverse)
        ga = lam * (prev.conj() if prev.is_complex() else prev)
        g_a = _reduce_grad(_from_blocked(ga, shape), ctx.metas[0])
        g_b = _reduce_grad(_from_blocked(lam, shape), ctx.metas[1])
        g_h0 = None
        if h0_f is not None:
            # h0 enters at step 0 (forward) or step L - 1 (reverse) through a_t there.
            t = shape[-1] - 1 if reverse else 0
            a_e, lam_e = a_b[t % block, t // block], lam[t % block, t // block]
            a_e = a_e.conj() if a_e.is_complex() else a_e
            g_h0 = _reduce_grad((a_e * lam_e).reshape(shape[:-1]), ctx.metas[2])
        return g_a, g_b, g_h0, None, None


def _check(func: str, a, b, h0) -> tuple[int, ...]:
    """Check the linear scan inputs; return the broadcast shape (..., L)."""
    check_tensor(a, "a", func, allow_complex=True)
    check_tensor(b, "b", func, allow_complex=True)
    check_tensor(h0, "h0", func, allow_none=True, allow_complex=True)
    try:
        shape = tuple(torch.broadcast_shapes(a.shape, b.shape))
    except RuntimeError:
        raise ParameterError(
            f"{func}: a and b must broadcast to one shape (..., L); got a "
            f"{fmt_shape(a.shape)} and b {fmt_shape(b.shape)}."
        ) from None
    if len(shape) == 0:
        raise ParameterError(
            f"{func}: a and b need a time axis (the last one); got scalars. Pass tensors "
            "of shape (..., L)."
        )
    if h0 is not None:
        try:
            ok = tuple(torch.broadcast_shapes(h0.shape, shape[:-1])) == shape[:-1]
        except RuntimeError:
            ok = False
        if not ok:
            raise ParameterError(
                f"{func}: h0 must have shape (...) = {fmt_shape(shape[:-1])} (the shape of "
                f"a and b without the time axis); got {fmt_shape(h0.shape)}."
            )
    return shape


def linear_scan_ref(
    a: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor | None = None,
    reverse: bool = False,
) -> torch.Tensor:
    """Linear recurrence ``h_t = a_t * h_{t-1} + b_t`` along the last axis, in PyTorch.

    Parameters
    ----------
    a : Tensor, shape broadcastable with ``b`` to (..., L)
        The coefficients; real or complex.
    b : Tensor, shape broadcastable with ``a`` to (..., L)
        The inputs; real or complex.
    h0 : Tensor, shape (...), default=None
        The state before the first step (after the last when ``reverse``); zeros if None.
        It may broadcast to (...).
    reverse : bool, default=False
        Scan from the end: ``h_t = a_t * h_{t+1} + b_t``.

    Returns
    -------
    Tensor, shape (..., L)
        All the states, in the promoted dtype of the inputs (float16 and bfloat16 inputs
        are computed in float32 and cast back).

    See Also
    --------
    linear_scan : the same with backend dispatch (Triton on CUDA).
    linear_scan_step : one step.

    Examples
    --------
    >>> import torch
    >>> from tsssm.ops import linear_scan_ref
    >>> linear_scan_ref(torch.full((4,), 0.5), torch.ones(4))
    tensor([1.0000, 1.5000, 1.7500, 1.8750])
    >>> linear_scan_ref(torch.full((4,), 0.5), torch.ones(4), reverse=True)
    tensor([1.8750, 1.7500, 1.5000, 1.0000])
    """
    func = "linear_scan_ref"
    shape = _check(func, a, b, h0)
    reverse = check_bool(reverse, "reverse", owner=func)
    return _linear_scan_impl(a, b, h0, reverse, shape)


def _linear_scan_impl(a, b, h0, reverse: bool, shape: tuple[int, ...]) -> torch.Tensor:
    out_dtype = _promoted(a, b, h0)
    cd = _compute_dtype(out_dtype)
    if shape[-1] == 0:
        return torch.zeros(shape, dtype=out_dtype, device=b.device)
    h0_ = None if h0 is None else h0.to(cd)
    out = _LinearScanFn.apply(a.to(cd), b.to(cd), h0_, reverse, shape)
    return out.to(out_dtype)


def linear_scan(
    a: torch.Tensor,
    b: torch.Tensor,
    h0: torch.Tensor | None = None,
    reverse: bool = False,
    backend: str = "auto",
) -> torch.Tensor:
    """Linear recurrence ``h_t = a_t * h_{t-1} + b_t`` along the last axis.

    Used by S5 and by S4D's recurrent view. Real and complex inputs; gradients flow to
    ``a``, ``b`` and ``h0``.

    Parameters
    ----------
    a : Tensor, shape broadcastable with ``b`` to (..., L)
        The coefficients; real or complex.
    b : Tensor, shape broadcastable with ``a`` to (..., L)
        The inputs; real or complex.
    h0 : Tensor, shape (...), default=None
        The state before the first step (after the last when ``reverse``); zeros if None.
        It may broadcast to (...).
    reverse : bool, default=False
        Scan from the end: ``h_t = a_t * h_{t+1} + b_t``.
    backend : {"auto", "torch", "triton"}, default="auto"
        ``"auto"`` runs the Triton kernel when every tensor is on a CUDA device and
        Triton imports, else the PyTorch reference; see :func:`resolve_backend`.

    Returns
    -------
    Tensor, shape (..., L)
        All the states, in the promoted dtype of the inputs.

    Raises
    ------
    ParameterError
        If ``a``, ``b`` and ``h0`` do not broadcast as described, or ``backend`` is
        unknown.
    RuntimeError
        If ``backend="triton"`` cannot run.

    See Also
    --------
    linear_scan_ref : the PyTorch reference.
    linear_scan_step : one step, for streaming.

    Examples
    --------
    >>> import torch
    >>> from tsssm.ops import linear_scan
    >>> a = torch.tensor([0.5, 0.5, 0.5]); b = torch.tensor([1.0, 0.0, 0.0])
    >>> linear_scan(a, b, h0=torch.tensor(2.0))
    tensor([2.0000, 1.0000, 0.5000])
    """
    func = "linear_scan"
    shape = _check(func, a, b, h0)
    reverse = check_bool(reverse, "reverse", owner=func)
    if resolve_backend(backend, a, b, h0, op="linear_scan") == "triton":
        return load_kernel_module("linear_scan").linear_scan_triton(a, b, h0, reverse)
    return _linear_scan_impl(a, b, h0, reverse, shape)


def linear_scan_step(h: torch.Tensor, a_t: torch.Tensor, b_t: torch.Tensor) -> torch.Tensor:
    """One step of the linear recurrence: return ``a_t * h + b_t``.

    Parameters
    ----------
    h : Tensor, shape (...)
        The previous state.
    a_t, b_t : Tensor, shapes broadcastable with ``h``
        The coefficient and input at this step.

    Returns
    -------
    Tensor
        The new state.

    Examples
    --------
    >>> import torch
    >>> from tsssm.ops import linear_scan_step
    >>> linear_scan_step(torch.tensor(2.0), torch.tensor(0.5), torch.tensor(1.0))
    tensor(2.)
    """
    func = "linear_scan_step"
    for name, t in (("h", h), ("a_t", a_t), ("b_t", b_t)):
        check_tensor(t, name, func, allow_complex=True)
    return a_t * h + b_t
