"""Triton kernels for the scans in :mod:`tsssm.ops`.

Importing this package imports nothing heavy; the kernels live in the submodules, which
import :mod:`triton` and are loaded lazily by the dispatch in :mod:`tsssm.ops`:

- :mod:`tsssm.ops.triton.selective_scan`: :func:`selective_scan_triton` (Mamba-1 scan,
  forward and backward);
- :mod:`tsssm.ops.triton.linear_scan`: :func:`linear_scan_triton` (first-order linear
  recurrence, real or complex, forward and backward);
- :mod:`tsssm.ops.triton.s4d`: :func:`s4d_vandermonde_triton` (S4D's convolution kernel
  without the (dim, N, L) intermediate, forward and backward).

Both take CUDA tensors. On a machine without a GPU they run under Triton's interpreter
(``TRITON_INTERPRET=1`` set before :mod:`triton` is imported), which is how the test
suite checks them on CPU.
"""
