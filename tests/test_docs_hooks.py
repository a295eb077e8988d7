"""The MkDocs hooks of docs/_hooks that are not tested with what they generate elsewhere."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _hook(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "_hooks" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sphinx_roles_become_plain_code() -> None:
    # Review R61: the API reference showed ":meth:<code>handle</code>" 139 times.
    hook = _hook("sphinx_roles")
    html = (
        "<p>See :meth:<code>handle</code>, :class:<code>~kyc_webhooks.Outcome</code>, "
        ":py:func:<code>kyc_webhooks.testing.sign</code> and :exc:<code>~errors.StoreError</code>"
        "; a <code>:meth:</code> literal stays.</p>"
    )
    assert hook.on_page_content(html) == (
        "<p>See <code>handle</code>, <code>Outcome</code>, <code>kyc_webhooks.testing.sign</code>"
        " and <code>StoreError</code>; a <code>:meth:</code> literal stays.</p>"
    )
