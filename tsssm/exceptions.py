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
    """The data passed to ``fit``, ``predict`` or ``update`` cannot be used as given.

    Examples
    --------
    >>> from tsssm.exceptions import DataError
    >>> issubclass(DataError, ValueError)
    True
    >>> try:
    ...     raise DataError("Series ['a'] is too short for horizon=24.")
    ... except ValueError as err:
    ...     print(type(err).__name__, err)
    DataError Series ['a'] is too short for horizon=24.
    """


class DataTypeError(TypeError):
    """The data passed has the wrong type (for example a list instead of a DataFrame).

    Examples
    --------
    >>> from tsssm.exceptions import DataTypeError
    >>> issubclass(DataTypeError, TypeError)
    True
    >>> try:
    ...     raise DataTypeError("y must be a pandas Series or DataFrame. Got list.")
    ... except TypeError as err:
    ...     print(type(err).__name__)
    DataTypeError
    """


class ParameterError(ValueError):
    """An estimator or function parameter has an invalid value.

    Examples
    --------
    >>> from tsssm.exceptions import ParameterError
    >>> from tsssm.forecasters.arima import check_order
    >>> issubclass(ParameterError, ValueError)
    True
    >>> try:
    ...     check_order((1, -1, 0))
    ... except ValueError as err:
    ...     print(type(err).__name__)
    ParameterError
    """


class ParameterTypeError(TypeError):
    """An estimator or function parameter has the wrong type.

    Examples
    --------
    >>> from tsssm.exceptions import ParameterTypeError
    >>> from tsssm.forecasters.arima import check_order
    >>> issubclass(ParameterTypeError, TypeError)
    True
    >>> try:
    ...     check_order((1, 0))
    ... except TypeError as err:
    ...     print(type(err).__name__)
    ParameterTypeError
    """


class FitFailedError(ValueError):
    """A model could not be fitted to one of the series (the message names it).

    Examples
    --------
    >>> from tsssm.exceptions import FitFailedError
    >>> issubclass(FitFailedError, ValueError)
    True
    >>> try:
    ...     raise FitFailedError("ARIMA could not be fitted to series 'a'.")
    ... except ValueError as err:
    ...     print(type(err).__name__)
    FitFailedError
    """


class TrainingDivergedError(FloatingPointError):
    """Training produced a NaN or infinite loss (the message names the epoch).

    Examples
    --------
    A ``FloatingPointError`` (an ``ArithmeticError``), not a ``ValueError``: the input was
    accepted, the optimisation failed.

    >>> from tsssm.exceptions import TrainingDivergedError
    >>> issubclass(TrainingDivergedError, FloatingPointError)
    True
    >>> try:
    ...     raise TrainingDivergedError("The training loss is NaN at epoch 3.")
    ... except ArithmeticError as err:
    ...     print(type(err).__name__)
    TrainingDivergedError
    """
