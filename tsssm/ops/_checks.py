"""Argument checks shared by the ops: tensor types, dtypes and shapes, with clear messages."""

from __future__ import annotations

import torch

from tsssm.exceptions import ParameterError, ParameterTypeError

__all__ = ["check_shape", "check_tensor", "compute_dtype", "fmt_shape"]


def fmt_shape(shape: tuple[int, ...] | torch.Size) -> str:
    """Format a shape as ``(2, 16, 100)`` (a 1-tuple as ``(5,)``)."""
    return str(tuple(shape))


def check_tensor(
    x: object, name: str, func: str, *, allow_none: bool = False, allow_complex: bool = False
) -> torch.Tensor | None:
    """Return ``x`` if it is a floating (or, if allowed, complex) tensor; raise otherwise."""
    if x is None and allow_none:
        return None
    if not isinstance(x, torch.Tensor):
        raise ParameterTypeError(
            f"{func}: {name} must be a torch.Tensor; got {type(x).__name__}. "
            "Convert it with torch.as_tensor."
        )
    ok = x.is_floating_point() or (allow_complex and x.is_complex())
    if not ok:
        kinds = "a floating-point or complex" if allow_complex else "a real floating-point"
        raise ParameterTypeError(
            f"{func}: {name} must be {kinds} tensor; got dtype {x.dtype}. "
            f"Convert it, e.g. {name}.float()."
        )
    return x


def check_shape(
    x: torch.Tensor | None, name: str, func: str, dims: str, expected: tuple[int, ...]
) -> None:
    """Raise if ``x`` (when given) does not have shape ``expected`` (named by ``dims``)."""
    if x is not None and tuple(x.shape) != tuple(expected):
        raise ParameterError(
            f"{func}: {name} must have shape {dims} = {fmt_shape(expected)}; "
            f"got {fmt_shape(x.shape)}."
        )


def compute_dtype(*tensors: torch.Tensor | None) -> torch.dtype:
    """float64 if any real input is float64, else float32 (half precisions upcast)."""
    for t in tensors:
        if t is not None and t.dtype == torch.float64:
            return torch.float64
    return torch.float32
