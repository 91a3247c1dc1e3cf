"""The examples in tsssm's docstrings run, and say what they print.

Every module of the package is searched with :class:`doctest.DocTestFinder`; each
module's examples run in one test with ``ELLIPSIS`` and ``NORMALIZE_WHITESPACE``.
Examples that need a GPU or data that is not shipped carry ``# doctest: +SKIP``.

Also here: every public class and function has a docstring with an example, and
the estimators' text and HTML representations, which notebooks show.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import io
import pkgutil
import warnings
from html import escape

import pytest

import tsssm

MODULES = sorted(m.name for m in pkgutil.walk_packages(tsssm.__path__, "tsssm."))
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _is_private(name: str) -> bool:
    return any(part.startswith("_") for part in name.split("."))


def _import(name: str):
    if name.startswith("tsssm.ops.triton."):
        pytest.importorskip("triton")
    return importlib.import_module(name)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str):
    module = _import(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = io.StringIO()
    with warnings.catch_warnings():
        # examples fit tiny models on tiny data: statsmodels' convergence chatter
        warnings.simplefilter("ignore")
        for test in finder.find(module, name):
            runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()


def _public_objects() -> dict[str, object]:
    """Classes and functions named in the ``__all__`` of public modules, by home name.

    An object re-exported from a private module counts under the public module that
    exports it (``tsssm.ops.resolve_backend``); one defined in a public module counts
    there only.
    """
    found: dict[str, object] = {}
    for name in MODULES:
        if _is_private(name):
            continue
        try:
            module = _import(name)
        except pytest.skip.Exception:
            continue
        for attr in getattr(module, "__all__", ()):
            obj = getattr(module, attr, None)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            home = getattr(obj, "__module__", "") or ""
            if home == name or _is_private(home):
                found.setdefault(f"{name}.{attr}", obj)
    return found


def test_public_objects_have_examples():
    without = sorted(key for key, obj in _public_objects().items()
                     if ">>>" not in (obj.__doc__ or ""))
    assert not without, (
        f"Public classes/functions without an Examples section: {without}. Add a short "
        "example that runs as a doctest."
    )


def test_public_objects_have_docstrings():
    bare = sorted(key for key, obj in _public_objects().items() if not (obj.__doc__ or "").strip())
    assert not bare, f"Public classes/functions without a docstring: {bare}"


def test_estimator_reprs():
    """Estimators show their changed parameters as text and as scikit-learn's HTML."""
    classical = tsssm.ARIMA(order=(2, 0, 1), seasonal_order=(0, 1, 1, 24))
    neural = tsssm.MambaForecaster(horizon=12, d_model=16, verbose=False)
    assert repr(classical) == "ARIMA(order=(2, 0, 1), seasonal_order=(0, 1, 1, 24))"
    assert repr(neural) == "MambaForecaster(d_model=16, horizon=12, verbose=False)"
    for est, name, param in [(classical, "ARIMA", "seasonal_order"),
                             (neural, "MambaForecaster", "d_model")]:
        html = est._repr_html_()  # what a notebook displays
        assert html.lstrip().startswith("<style>")
        assert name in html and param in html
        # the fallback shown where the HTML cannot run (GitHub) is the text repr
        assert f"<pre>{escape(repr(est))}</pre>" in html
