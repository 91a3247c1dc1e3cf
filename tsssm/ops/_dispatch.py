"""The one place that decides whether an op runs its PyTorch reference or its Triton kernel.

Triton is imported lazily, here only, so ``import tsssm`` works without it (and without
a GPU). Kernel modules live in ``tsssm.ops.triton.<op>``.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import torch

from tsssm.exceptions import ParameterError

__all__ = ["BACKENDS", "load_kernel_module", "resolve_backend"]

#: The accepted values of every op's ``backend`` argument.
BACKENDS = ("auto", "torch", "triton")


def _interpret_mode() -> bool:
    # Triton's interpreter runs kernels on CPU tensors; tests use it to check kernels
    # on machines without a GPU.
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def _import_triton() -> Exception | None:
    """Import triton; return the error instead of raising it."""
    try:
        importlib.import_module("triton")
    except Exception as err:  # an ImportError, or a broken install raising anything
        return err
    return None


def load_kernel_module(op: str) -> ModuleType:
    """Import and return ``tsssm.ops.triton.<op>`` (raises whatever the import raises)."""
    return importlib.import_module(f"tsssm.ops.triton.{op}")


def resolve_backend(backend: str, *tensors: torch.Tensor | None, op: str | None = None) -> str:
    """Decide which implementation an op runs: ``"torch"`` or ``"triton"``.

    Parameters
    ----------
    backend : {"auto", "torch", "triton"}
        ``"auto"`` picks ``"triton"`` when every given tensor is on a CUDA device, the
        ``triton`` package imports, the op's kernel module imports and accepts every
        tensor's dtype (its ``SUPPORTED_DTYPES``, where it declares one); otherwise
        ``"torch"``. ``"torch"`` always runs the PyTorch reference. ``"triton"`` insists
        on the kernel and raises if it cannot run.
    *tensors : Tensor or None
        The op's tensor arguments (``None`` entries, unused optional inputs, are skipped).
    op : str, optional
        The kernel module to check, ``tsssm.ops.triton.<op>`` (for example
        ``"selective_scan"``). If None only the ``tsssm.ops.triton`` package is checked.

    Returns
    -------
    str
        ``"torch"`` or ``"triton"``.

    Raises
    ------
    ParameterError
        If ``backend`` is not one of ``"auto"``, ``"torch"``, ``"triton"``.
    RuntimeError
        If ``backend="triton"`` cannot run: triton is missing, the kernel module does not
        import, or a tensor is not on a CUDA device (CPU tensors are allowed only under
        ``TRITON_INTERPRET=1``).

    Examples
    --------
    >>> import torch
    >>> from tsssm.ops import resolve_backend
    >>> resolve_backend("auto", torch.zeros(3))
    'torch'
    """
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ParameterError(
            f"The 'backend' parameter must be one of 'auto', 'torch', 'triton'. Got {backend!r}."
        )
    if backend == "torch":
        return "torch"
    present = [t for t in tensors if t is not None]
    all_cuda = bool(present) and all(t.is_cuda for t in present)
    module = "tsssm.ops.triton" + (f".{op}" if op else "")
    if backend == "auto":
        if not all_cuda or _import_triton() is not None:
            return "torch"
        try:
            kernel = importlib.import_module(module)
        except Exception:
            # A kernel that does not import (not written yet, or an incompatible
            # Triton) must not break "auto": the reference computes the same thing.
            return "torch"
        supported = getattr(kernel, "SUPPORTED_DTYPES", None)
        if supported is not None and any(t.dtype not in supported for t in present):
            # e.g. float64 for a kernel that computes in float32: the reference keeps
            # the precision the caller asked for.
            return "torch"
        return "triton"
    # backend == "triton": explain exactly what stands in the way.
    err = _import_triton()
    if err is not None:
        raise RuntimeError(
            f"backend='triton' needs the 'triton' package, which failed to import "
            f"({type(err).__name__}: {err}). Install triton or use backend='torch'."
        )
    if not all_cuda and not _interpret_mode():
        devices = sorted({str(t.device) for t in present})
        raise RuntimeError(
            f"backend='triton' runs on CUDA tensors only; got tensors on {devices}. Move "
            "them to a GPU, use backend='torch', or set TRITON_INTERPRET=1 to run the "
            "kernel in Triton's (slow) interpreter."
        )
    try:
        importlib.import_module(module)
    except Exception as err:
        raise RuntimeError(
            f"backend='triton': the kernel module {module} failed to import "
            f"({type(err).__name__}: {err}). Use backend='torch'."
        ) from err
    return "triton"
