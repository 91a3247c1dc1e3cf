"""Small parameter checks shared by every estimator and function.

Estimators call these at the start of ``fit`` (never in ``__init__``: ``clone`` and
``set_params`` bypass it). Messages follow one pattern::

    The 'd_state' parameter of MambaForecaster must be an int >= 1. Got 0.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from tsssm.exceptions import ParameterError, ParameterTypeError

__all__ = [
    "check_bool",
    "check_coverage",
    "check_horizon",
    "check_int",
    "check_option",
    "check_quantiles",
    "check_real",
    "shorten",
]


def _owner(owner: str | None) -> str:
    return f" of {owner}" if owner else ""


def check_int(
    value: Any,
    name: str,
    *,
    owner: str | None = None,
    min_value: int | None = None,
    max_value: int | None = None,
    allow_none: bool = False,
) -> int | None:
    """Return ``value`` as an ``int`` or raise a message naming the parameter.

    Booleans are rejected (``True`` is an ``int`` in Python but never meant as one).
    """
    if value is None and allow_none:
        return None
    bound = _bound_text(min_value, max_value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterTypeError(
            f"The '{name}' parameter{_owner(owner)} must be an int{bound}"
            f"{' or None' if allow_none else ''}. Got {value!r} ({type(value).__name__})."
        )
    value = int(value)
    if (min_value is not None and value < min_value) or (
        max_value is not None and value > max_value
    ):
        raise ParameterError(
            f"The '{name}' parameter{_owner(owner)} must be an int{bound}. Got {value}."
        )
    return value


def check_real(
    value: Any,
    name: str,
    *,
    owner: str | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
    allow_none: bool = False,
) -> float | None:
    """Return ``value`` as a finite ``float`` inside the given bounds."""
    if value is None and allow_none:
        return None
    lo = "[" if min_inclusive else "("
    hi = "]" if max_inclusive else ")"
    interval = ""
    if min_value is not None or max_value is not None:
        interval = (
            f" in {lo}{'-inf' if min_value is None else min_value}, "
            f"{'inf' if max_value is None else max_value}{hi}"
        )
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterTypeError(
            f"The '{name}' parameter{_owner(owner)} must be a real number{interval}. "
            f"Got {value!r} ({type(value).__name__})."
        )
    value = float(value)
    bad = not np.isfinite(value)
    if min_value is not None:
        bad |= value < min_value if min_inclusive else value <= min_value
    if max_value is not None:
        bad |= value > max_value if max_inclusive else value >= max_value
    if bad:
        raise ParameterError(
            f"The '{name}' parameter{_owner(owner)} must be a real number{interval}. "
            f"Got {value}."
        )
    return value


def check_bool(value: Any, name: str, *, owner: str | None = None) -> bool:
    """Return ``value`` if it is a bool (numpy bools included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterTypeError(
            f"The '{name}' parameter{_owner(owner)} must be a bool. Got {value!r}."
        )
    return bool(value)


def check_option(
    value: Any, name: str, options: Iterable[Any], *, owner: str | None = None
) -> Any:
    """Return ``value`` if it is one of ``options``."""
    options = tuple(options)
    if value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise ParameterError(
            f"The '{name}' parameter{_owner(owner)} must be one of {listed}. Got {value!r}."
        )
    return value


def check_horizon(h: Any, name: str = "h") -> int:
    """Return the forecast horizon as an int >= 1."""
    return check_int(h, name, min_value=1)  # type: ignore[return-value]


def check_quantiles(quantiles: Any, name: str = "quantiles") -> tuple[float, ...]:
    """Return quantile levels as a sorted tuple of unique floats strictly inside (0, 1)."""
    if isinstance(quantiles, numbers.Real):
        quantiles = (quantiles,)
    if not isinstance(quantiles, (Sequence, np.ndarray)) or isinstance(quantiles, str):
        raise ParameterTypeError(
            f"The '{name}' parameter must be a sequence of floats in (0, 1). Got {quantiles!r}."
        )
    if len(quantiles) == 0:
        raise ParameterError(f"The '{name}' parameter must not be empty.")
    out = []
    for q in quantiles:
        out.append(
            check_real(q, name, min_value=0.0, max_value=1.0, min_inclusive=False,
                       max_inclusive=False)
        )
    return tuple(sorted(set(out)))  # type: ignore[arg-type]


def check_coverage(coverage: Any, name: str = "coverage") -> float:
    """Return an interval coverage strictly inside (0, 1)."""
    return check_real(  # type: ignore[return-value]
        coverage, name, min_value=0.0, max_value=1.0, min_inclusive=False, max_inclusive=False
    )


def shorten(names: Sequence[Any], limit: int = 5) -> str:
    """Format a list of names for an error message, eliding after ``limit`` entries."""
    names = list(names)
    shown = ", ".join(repr(n) for n in names[:limit])
    return f"[{shown}{', ...' if len(names) > limit else ''}]"


def _bound_text(min_value: int | None, max_value: int | None) -> str:
    if min_value is not None and max_value is not None:
        return f" in [{min_value}, {max_value}]"
    if min_value is not None:
        return f" >= {min_value}"
    if max_value is not None:
        return f" <= {max_value}"
    return ""
