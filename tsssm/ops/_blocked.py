"""The in-place blocked scan shared by ``linear_scan`` and ``selective_scan_ref``.

The recurrence ``h_t = a_t * h_{t-1} + x_t`` is evaluated as a two-level blocked scan.
The time axis of length ``T`` is viewed as ``n_blocks`` blocks of ``block`` steps:

1. a loop over the ``block`` positions inside a block scans *every block at once*
   (vectorised over the blocks), starting each block from zero, while keeping the
   running product of the ``a`` inside the block;
2. a loop over the blocks adds each block's incoming state times that running product.

That is ``block + n_blocks`` Python iterations for ``block * n_blocks`` time steps, each
iteration touching ``n_blocks`` (or ``block``) steps at once, and about three passes
over the data in total. It only multiplies the coefficients together, never divides by
a cumulative product and never exponentiates a cumulative sum, so it is as stable as
the sequential loop: decays like ``exp(-2000)`` just underflow to zero.

Everything here works in place on caller-owned buffers: fresh allocations of
megabyte-sized tensors cost page faults on the CPU that dominate elementwise work, so
the callers reuse a few workspace buffers per chunk and wrap the whole thing in an
``autograd.Function`` with an explicit backward (itself a scan in the other direction).
"""

from __future__ import annotations

import torch

__all__ = ["blocked_scan_", "shift_"]


def blocked_scan_(
    x: torch.Tensor,
    a: torch.Tensor,
    work: torch.Tensor,
    h0: torch.Tensor | None = None,
    reverse: bool = False,
) -> torch.Tensor:
    """Scan ``x`` in place; time ``t = i * block + j`` lives at ``x[j, i]``.

    Forward (``reverse=False``): ``h_t = a_t * h_{t-1} + x_t`` with ``h_{-1} = h0``.
    Reverse (``reverse=True``): ``h_t = a_t * h_{t+1} + x_t`` with ``h_T = h0``.

    The position inside a block is the *outer* axis so that every step of the first
    level reads and writes one contiguous slab; the second level touches ``block``
    contiguous runs of the trailing size per block.

    Parameters
    ----------
    x : Tensor, shape (block, n_blocks, *F)
        The inputs ``x_t``; overwritten with the states ``h_t``.
    a : Tensor, shape (block, n_blocks, *F)
        The coefficients ``a_t``; read only.
    work : Tensor, shape (block, n_blocks, *F)
        Scratch space, overwritten.
    h0 : Tensor, shape broadcastable to F, optional
        The state before the first step (after the last one when reversed); zero if None.
    reverse : bool, default=False
        Scan from the end.

    Returns
    -------
    Tensor, shape F
        The state after the last step taken: ``h_{T-1}`` forward, ``h_0`` reversed.
        It is a view into ``x``.
    """
    block, n_blocks = x.shape[0], x.shape[1]
    if reverse:
        inner, prev, first, last = range(block - 2, -1, -1), 1, block - 1, 0
        outer = range(n_blocks - 1, -1, -1)
    else:
        inner, prev, first, last = range(1, block), -1, 0, block - 1
        outer = range(n_blocks)
    if n_blocks == 1:
        # One block: fold h0 into the first step; no running product is needed.
        if h0 is not None:
            x[first].addcmul_(a[first], h0)
        for j in inner:
            x[j].addcmul_(a[j], x[j + prev])
        return x[last, 0]
    # Level 1: scan inside every block at once; work holds the running product of a.
    work[first].copy_(a[first])
    for j in inner:
        x[j].addcmul_(a[j], x[j + prev])
        torch.mul(a[j], work[j + prev], out=work[j])
    # Level 2: carry the state from block to block.
    carry = h0
    for i in outer:
        if carry is not None:
            x[:, i].addcmul_(work[:, i], carry)
        carry = x[last, i]
    return carry  # type: ignore[return-value]


def shift_(dst: torch.Tensor, src: torch.Tensor, edge, forward: bool) -> torch.Tensor:
    """Write ``src`` moved by one time step into ``dst`` (both in the blocked layout).

    ``forward=True``: ``dst_t = src_{t-1}`` and ``dst_0 = edge``;
    ``forward=False``: ``dst_t = src_{t+1}`` and ``dst_{T-1} = edge``.
    ``edge`` is a scalar or a tensor broadcastable to the trailing shape.
    """
    if forward:
        dst[1:] = src[:-1]
        dst[0, 1:] = src[-1, :-1]
        dst[0, 0] = edge
    else:
        dst[:-1] = src[1:]
        dst[-1, :-1] = src[0, 1:]
        dst[-1, -1] = edge
    return dst
