"""Griffe extension: turn the reStructuredText bits of tsssm's numpydoc into Markdown.

tsssm's docstrings follow numpydoc, which is reStructuredText: Sphinx roles such as
``:class:`~tsssm.data.Panel``` and ``.. math::`` directives. mkdocstrings renders
docstrings as Markdown, where those would show up literally. This extension rewrites
them before the docstrings are parsed:

- ``:class:`~a.b.C``` (and ``:func:``, ``:meth:``, ``:attr:``, ``:data:``, ``:mod:``,
  ``:exc:``, ``:obj:``) becomes the code span ```C``` (without ``~``: ```a.b.C```).
  Plain code spans rather than cross-references, so that a target that is not on any
  page (a third-party class, say) cannot break the strict build;
- ``:math:`x``` becomes ``\\(x\\)`` and a ``.. math::`` directive a ``$$`` block, both
  rendered by pymdownx.arithmatex and MathJax.

Loaded from ``mkdocs.yml`` (``extensions: [docs/_ext/rst_roles.py]``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|exc|obj):`(~?)([^`]+)`")
_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_MATH_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<inline>.*)$")


def _role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2).strip()
    # ":class:`text <target>`" shows the text
    labelled = re.fullmatch(r"(.*?)\s*<(.+)>", target)
    if labelled:
        return f"`{labelled.group(1)}`"
    if short:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def _math_blocks(text: str) -> str:
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _MATH_DIRECTIVE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent = m.group("indent")
        body = [m.group("inline").strip()] if m.group("inline").strip() else []
        i += 1
        # the directive's content: the following lines indented deeper (blank lines too)
        while i < len(lines) and (not lines[i].strip()
                                  or len(lines[i]) - len(lines[i].lstrip()) > len(indent)):
            if lines[i].strip():
                body.append(lines[i].strip())
            i += 1
        out += ["", f"{indent}$$", *(f"{indent}{b}" for b in body), f"{indent}$$", ""]
    return "\n".join(out)


def convert(text: str) -> str:
    """Rewrite the reStructuredText roles and math of one docstring as Markdown."""
    text = _math_blocks(text)
    text = _MATH_ROLE.sub(lambda m: f"\\({m.group(1)}\\)", text)
    return _ROLE.sub(_role, text)


class RstRoles(griffe.Extension):
    """Apply :func:`convert` to every docstring griffe loads."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if getattr(obj, "is_alias", False) or obj.docstring is None:
            return
        obj.docstring.value = convert(obj.docstring.value)
