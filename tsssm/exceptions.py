"""Exceptions raised by tsssm.

Every error tsssm raises on bad input subclasses ``ValueError`` or ``TypeError`` so
callers can catch the builtin types, and carries a message that says what was wrong,
what was received and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "DataError",
    "DataTypeError",
    "FitFailedError",
    "ParameterError",
    "ParameterTypeError",
    "TrainingDivergedError",
]


class DataError(ValueError):
    """The data passed to ``fit``, ``predict`` or ``update`` cannot be used as given."""


class DataTypeError(TypeError):
    """The data passed has the wrong type (for example a list instead of a DataFrame)."""


class ParameterError(ValueError):
    """An estimator or function parameter has an invalid value."""


class ParameterTypeError(TypeError):
    """An estimator or function parameter has the wrong type."""


class FitFailedError(ValueError):
    """A model could not be fitted to one of the series (the message names it)."""


class TrainingDivergedError(FloatingPointError):
    """Training produced a NaN or infinite loss (the message names the epoch)."""
