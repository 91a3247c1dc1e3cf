"""Scans as plain functions on tensors: the ``ops`` layer of tsssm.

Every op has a pure-PyTorch reference (fast on a CPU, no Python loop over time steps)
and, for CUDA tensors, a Triton kernel under ``tsssm.ops.triton``; the public function
picks one through :func:`resolve_backend` (``backend="auto" / "torch" / "triton"``).
Triton is imported lazily, so this package imports without it.

- :func:`selective_scan` (Mamba-1), :func:`selective_scan_ref`, :func:`selective_scan_step`
- :func:`linear_scan` (S5, S4D recurrent view), :func:`linear_scan_ref`,
  :func:`linear_scan_step`
- S4D: :func:`s4d_kernel`, :func:`fft_conv`, :func:`s4d_discretize`, :func:`s4d_step`,
  :func:`s4d_final_state`
"""

from tsssm.ops._dispatch import resolve_backend
from tsssm.ops.linear_scan import linear_scan, linear_scan_ref, linear_scan_step
from tsssm.ops.s4d import fft_conv, s4d_discretize, s4d_final_state, s4d_kernel, s4d_step
from tsssm.ops.selective_scan import selective_scan, selective_scan_ref, selective_scan_step

__all__ = [
    "fft_conv",
    "linear_scan",
    "linear_scan_ref",
    "linear_scan_step",
    "resolve_backend",
    "s4d_discretize",
    "s4d_final_state",
    "s4d_kernel",
    "s4d_step",
    "selective_scan",
    "selective_scan_ref",
    "selective_scan_step",
]
