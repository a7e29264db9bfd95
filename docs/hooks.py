"""MkDocs hook: the docstrings' Sphinx roles, shown as plain code on the API pages.

neurorec's numpy-style docstrings cross-reference with Sphinx roles (``:class:`~neurorec.models.ESN```);
mkdocstrings renders them as the role's name followed by the code. This strips the role, and a
leading ``~`` keeps only the last component, as Sphinx shows it. Build time only; nothing is loaded
by the pages.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:py:)?(?:mod|func|class|meth|data|attr|exc|obj|const|math):<code>(~?)([^<]*)</code>")


def _plain(match: re.Match) -> str:
    tilde, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"


def on_page_content(html: str, **kwargs) -> str:
    return _ROLE.sub(_plain, html)
