"""MkDocs hook: the Sphinx roles of the package's docstrings (``:meth:`handle```,
``:class:`~kyc_webhooks.Outcome```) shown as plain code on the API reference page. mkdocstrings'
``sphinx`` docstring style reads the sections (``:param:``, ``:returns:``), not the roles, which
reached the page as ``:meth:<code>handle</code>`` (review R61)."""

from __future__ import annotations

import re
from typing import Any

#: A role as Markdown rendered it: the role's name, then its target in ``<code>``.
ROLE = re.compile(r":(?:py:)?(?:meth|func|class|attr|data|exc|mod|obj|const):<code>([^<]*)</code>")


def _target(text: str) -> str:
    # ``~a.b.C`` shows ``C``, as Sphinx does; a leading ``.`` or ``!`` is Sphinx syntax too.
    text = text.lstrip(".!")
    return text.rsplit(".", 1)[-1] if text.startswith("~") else text


def on_page_content(html: str, **kwargs: Any) -> str:
    return ROLE.sub(lambda match: f"<code>{_target(match.group(1)).lstrip('~')}</code>", html)
