"""Each vendor package's ``__all__`` names its models too (review 16, finding 4): for a ``py.typed``
package ``__all__`` is the public interface, and pyright (Pylance) flagged every documented
``from kyc_webhooks.idenfy import IdentificationEvent`` as reportPrivateImportUsage.

The names are not written a second time: the package extends ``__all__`` with ``models.__all__``
(the one list) under ``TYPE_CHECKING``, a form pyright reads, and at run time ``__all__``
resolves on first use, like the models (``import kyc_webhooks.idenfy`` still loads no model).
pyright itself runs only where it is installed; the facts it reads are checked here directly."""

from __future__ import annotations

import ast
import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import kyc_webhooks

PACKAGES = ("complycube", "idenfy", "identomat", "yoti")
SOURCE = Path(kyc_webhooks.__file__).parent


def _is_type_checking(test: ast.expr) -> bool:
    return isinstance(test, ast.Name) and test.id == "TYPE_CHECKING"


@pytest.mark.parametrize("package", PACKAGES)
def test_the_package_all_lists_the_models_all_in_a_form_pyright_reads(package: str) -> None:
    tree = ast.parse((SOURCE / package / "__init__.py").read_text(encoding="utf-8"))
    own = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["__all__"]
    ]
    assert len(own) == 1  # one literal list of the package's own names
    assert isinstance(own[0].value, ast.List)
    assert all(isinstance(e, ast.Constant) for e in own[0].value.elts)
    blocks = [n for n in tree.body if isinstance(n, ast.If) and _is_type_checking(n.test)]
    assert len(blocks) == 1
    statements = blocks[0].body
    # ``from . import models`` and ``__all__ += models.__all__``: pyright's supported form.
    assert any(
        isinstance(s, ast.ImportFrom)
        and s.level == 1
        and s.module is None
        and [a.name for a in s.names] == ["models"]
        and s.names[0].asname is None
        for s in statements
    )
    assert any(
        isinstance(s, ast.AugAssign)
        and isinstance(s.op, ast.Add)
        and isinstance(s.target, ast.Name)
        and s.target.id == "__all__"
        and ast.unparse(s.value) == "models.__all__"
        for s in statements
    )


@pytest.mark.parametrize("package", PACKAGES)
def test_at_run_time_all_is_the_own_names_then_the_models(package: str) -> None:
    module = importlib.import_module(f"kyc_webhooks.{package}")
    models = importlib.import_module(f"kyc_webhooks.{package}.models")
    names = module.__all__
    assert names[len(names) - len(models.__all__) :] == models.__all__
    assert len(set(names)) == len(names)
    assert "parse_unauthenticated" in names[: len(names) - len(models.__all__)]
    for name in names:
        assert getattr(module, name) is not None, name
    namespace: dict[str, object] = {}
    exec(f"from kyc_webhooks.{package} import *", namespace)  # noqa: S102 -- a fixed statement
    assert set(names) <= set(namespace)


def test_importing_a_vendor_package_or_its_all_stays_lazy() -> None:
    code = (
        "import sys, kyc_webhooks as kw\n"
        "import kyc_webhooks.idenfy, kyc_webhooks.complycube, kyc_webhooks.yoti\n"
        "import kyc_webhooks.identomat\n"
        "kw.Idenfy, kw.ComplyCube, kw.Yoti, kw.Identomat, kw.idenfy.parse_unauthenticated\n"
        "loaded = [m for m in sys.modules if m.startswith('kyc_webhooks.') and "
        "m.endswith('.models') and m != 'kyc_webhooks.models']\n"
        "assert not loaded, loaded\n"
        "assert 'IdentificationEvent' in kw.idenfy.__all__\n"
        "assert 'kyc_webhooks.idenfy.models' in sys.modules\n"
        "assert 'kyc_webhooks.yoti.models' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def _pyright() -> str | None:
    local = Path(sys.executable).parent / "pyright"
    return str(local) if local.exists() else shutil.which("pyright")


USER = """\
import kyc_webhooks as kw
from kyc_webhooks.idenfy import IdentificationEvent, OverallStatus
from kyc_webhooks.complycube import CheckOutcome, CheckStatusEvent
from kyc_webhooks.yoti import CheckCompletionEvent, SessionCompletionEvent
from kyc_webhooks.identomat import OneTimePasswordRequestEvent, SessionChangeEvent

def on_identomat(event: kw.identomat.SessionChangeEvent) -> None: ...

print(IdentificationEvent, OverallStatus, CheckOutcome, CheckStatusEvent, CheckCompletionEvent)
print(SessionCompletionEvent, OneTimePasswordRequestEvent, SessionChangeEvent, kw.testing)
print(kw.idenfy.IdentificatonEvent)
"""


def test_pyright_accepts_the_documented_imports(tmp_path: Path) -> None:
    pyright = _pyright()
    if pyright is None:
        pytest.skip("pyright is not installed")
    source = tmp_path / "user.py"
    source.write_text(USER, encoding="utf-8")
    result = subprocess.run(
        [pyright, "--outputjson", "--pythonpath", sys.executable, str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    found = json.loads(result.stdout)["generalDiagnostics"]
    errors = [(d["range"]["start"]["line"] + 1, d.get("rule")) for d in found]
    # Only the typo of the last line: every documented import is public.
    assert errors == [(11, "reportAttributeAccessIssue")], found
