"""MkDocs hook: make the links inside notebooks work on the site as they do on GitHub.

Notebooks live in ``notebooks/`` and link the way GitHub resolves links from there:
``02_backtest_vs_arima.ipynb`` for another notebook, ``../docs/user-guide/data.md`` for
a page of the documentation. On the site, the notebooks are pages under
``notebooks/`` (``docs/notebooks`` is a link to ``../notebooks``), and mkdocs-jupyter
copies their HTML without rewriting links. This hook rewrites every relative link to a
``.ipynb`` or ``.md`` file into the URL of that page, and logs a warning (an error under
``mkdocs build --strict``) for a link to a page that does not exist.

Loaded from ``mkdocs.yml`` (``hooks: [docs/_ext/notebook_links.py]``).
"""

from __future__ import annotations

import logging
import posixpath
import re
from typing import Any

from mkdocs.utils import get_relative_url

log = logging.getLogger("mkdocs.hooks.notebook_links")

_HREF = re.compile(r'href="(?P<target>[^":#?]+\.(?:ipynb|md))(?P<anchor>#[^"]*)?"')


def _docs_path(page_src: str, target: str) -> str | None:
    """The path in docs/ of ``target``, linked from the notebook ``page_src``."""
    # resolve as GitHub does, from the notebook's place in the repository
    repo_path = posixpath.normpath(posixpath.join(posixpath.dirname(page_src), target))
    if repo_path.startswith("docs/"):
        return repo_path[len("docs/"):]
    if repo_path.startswith("notebooks/"):
        return repo_path
    return None


def on_page_content(html: str, page: Any, config: Any, files: Any, **kwargs: Any) -> str:
    src = page.file.src_uri
    if not src.endswith(".ipynb"):
        return html

    def replace(match: re.Match[str]) -> str:
        target, anchor = match.group("target"), match.group("anchor") or ""
        path = _docs_path(src, target)
        file = files.get_file_from_path(path) if path else None
        if file is None:
            log.warning("Notebook %s links to %r, which is not a page of the site.",
                        src, target)
            return match.group(0)
        return f'href="{get_relative_url(file.url, page.url)}{anchor}"'

    return _HREF.sub(replace, html)
