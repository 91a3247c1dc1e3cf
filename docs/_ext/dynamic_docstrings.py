"""Griffe extension: docstrings that tsssm builds at import time.

The neural forecasters share one docstring template, filled in after each class is
defined (``S4Forecaster.__doc__ = _doc(...)`` in ``tsssm.forecasters.neural.models``).
Griffe reads source code without running it, so it sees these classes without a
docstring, and mkdocstrings would leave them out. For every tsssm class or function
that has no docstring in its source, this extension imports the object and takes the
docstring it has at run time.

Loaded from ``mkdocs.yml`` (``extensions: [docs/_ext/dynamic_docstrings.py]``), before
the extension that converts reStructuredText roles.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import griffe


def _runtime_doc(path: str) -> str | None:
    """The run-time docstring of the object at dotted ``path`` (None if unavailable)."""
    parts = path.split(".")
    # import the longest importable module prefix, then walk the attributes
    for cut in range(len(parts), 0, -1):
        module_name, rest = ".".join(parts[:cut]), parts[cut:]
        try:
            obj: Any = importlib.import_module(module_name)
        except ImportError:
            continue
        try:
            for name in rest:
                obj = getattr(obj, name)
        except AttributeError:
            return None
        return inspect.getdoc(obj)
    return None


class DynamicDocstrings(griffe.Extension):
    """Give tsssm objects without a static docstring their run-time one."""

    def on_instance(self, *, obj: Any, agent: Any, **kwargs: Any) -> None:
        if getattr(obj, "is_alias", False) or obj.docstring is not None:
            return
        if not obj.path.startswith("tsssm.") or obj.kind.value not in ("class", "function"):
            return
        doc = _runtime_doc(obj.path)
        if doc:
            obj.docstring = griffe.Docstring(
                doc, parent=obj, parser=getattr(agent, "docstring_parser", None),
                parser_options=getattr(agent, "docstring_options", None),
            )
