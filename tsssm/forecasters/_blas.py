"""Run statsmodels on a single BLAS thread.

statsmodels' Kalman filters and smoothers make many BLAS calls on tiny matrices (a
few states). A multi-threaded BLAS wakes its worker threads for each of them; on a
small or busy machine that made one SARIMAX fit 50 times slower (5 s instead of
0.1 s on 2 cores). Classical models parallelise over series instead (``n_jobs``), so
each fit runs with one BLAS thread.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager

__all__ = ["one_blas_thread", "single_blas_thread"]

_controller = None


def single_blas_thread() -> AbstractContextManager:
    """A context manager limiting BLAS libraries (OpenBLAS, MKL, ...) to one thread.

    The libraries are discovered once per process (about 10 ms); entering the context
    afterwards costs tens of microseconds.
    """
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def one_blas_thread(func: Callable) -> Callable:
    """Decorator: run ``func`` inside :func:`single_blas_thread`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with single_blas_thread():
            return func(*args, **kwargs)

    return wrapper
