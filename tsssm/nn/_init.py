"""Initialisation helpers shared by the SSM layers (private)."""

from __future__ import annotations

import math

import torch

from tsssm._validation import check_real
from tsssm.exceptions import ParameterError


def check_dt_range(dt_min: float, dt_max: float, owner: str) -> tuple[float, float]:
    """Validate the range a log-uniform step initialisation draws from."""
    dt_min = check_real(dt_min, "dt_min", owner=owner, min_value=0.0, min_inclusive=False)
    dt_max = check_real(dt_max, "dt_max", owner=owner, min_value=0.0, min_inclusive=False)
    if dt_max < dt_min:
        raise ParameterError(
            f"The 'dt_max' parameter of {owner} must be >= dt_min={dt_min}. Got {dt_max}."
        )
    return dt_min, dt_max


def log_uniform(
    shape: tuple[int, ...],
    low: float,
    high: float,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Logarithms of values drawn log-uniformly from [low, high]: uniform in log space.

    Uses torch's global generator, like ``torch.nn.init``; callers that need
    reproducibility seed it (or fork it) themselves.
    """
    u = torch.rand(shape, device=device, dtype=dtype)
    return u * (math.log(high) - math.log(low)) + math.log(low)


def complex_dtype(dtype: torch.dtype) -> torch.dtype:
    """The complex type whose parts have floating type ``dtype``."""
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def real_dtype(dtype: torch.dtype | None) -> torch.dtype:
    """``dtype``, or torch's default floating type when None."""
    return torch.get_default_dtype() if dtype is None else dtype


def complex_expm1(z: torch.Tensor) -> torch.Tensor:
    """``exp(z) - 1`` for complex z, accurate when |z| is small.

    Built from real functions, ``expm1(x) cos(y) - 2 sin(y/2)^2 + i exp(x) sin(y)``, so it
    does not rely on a complex ``expm1`` kernel being available on every device.
    """
    x, y = z.real, z.imag
    re = torch.expm1(x) * torch.cos(y) - 2 * torch.sin(y / 2) ** 2
    return torch.complex(re, torch.exp(x) * torch.sin(y))
