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

__all__ = ["blocked_scan_"]


def blocked_scan_(
    x: torch.Tensor,
    a: torch.Tensor,
    work: torch.Tensor,
    h0: torch.Tensor | None = None,
    reverse: bool = False,
) -> torch.Tensor:
    """Scan ``x`` in place along dimension ``-2`` of a ``(..., n_blocks, block, F)`` view.

    Forward (``reverse=False``): ``h_t = a_t * h_{t-1} + x_t`` with ``h_{-1} = h0``.
    Reverse (``reverse=True``): ``h_t = a_t * h_{t+1} + x_t`` with ``h_T = h0``.
    Time ``t = i * block + j`` lives at ``[..., i, j, :]``.

    Parameters
    ----------
    x : Tensor, shape (..., n_blocks, block, F)
        The inputs ``x_t``; overwritten with the states ``h_t``.
    a : Tensor, shape (..., n_blocks, block, F)
        The coefficients ``a_t``; read only.
    work : Tensor, shape (..., n_blocks, block, F)
        Scratch space, overwritten.
    h0 : Tensor, shape (..., F), optional
        The state before the first step (after the last one when reversed); zero if None.
    reverse : bool, default=False
        Scan from the end.

    Returns
    -------
    Tensor, shape (..., F)
        The state after the last step taken: ``h_{T-1}`` forward, ``h_0`` reversed.
        It is a view into ``x``.
    """
    n_blocks, block = x.shape[-3], x.shape[-2]
    if reverse:
        inner = range(block - 2, -1, -1)
        prev, first, last = 1, block - 1, 0
        outer = range(n_blocks - 1, -1, -1)
    else:
        inner = range(1, block)
        prev, first, last = -1, 0, block - 1
        outer = range(n_blocks)
    # Level 1: scan inside every block at once; work holds the running product of a.
    work.select(-2, first).copy_(a.select(-2, first))
    for j in inner:
        x.select(-2, j).addcmul_(a.select(-2, j), x.select(-2, j + prev))
        torch.mul(a.select(-2, j), work.select(-2, j + prev), out=work.select(-2, j))
    # Level 2: carry the state from block to block.
    carry = h0
    for i in outer:
        xi = x.select(-3, i)  # (..., block, F)
        if carry is not None:
            xi.addcmul_(work.select(-3, i), carry.unsqueeze(-2))
        carry = xi.select(-2, last)
    return carry  # type: ignore[return-value]
